//! Which objects a recording's samples hit, and putting them in the build-id
//! cache — perf 6.1's `build_id__mark_dso_hit` (a DSO is hit when a sample's
//! IP falls in one of its maps; call chains do not count) and
//! `perf_session__cache_build_ids`.
//!
//! [`Hits`] follows MMAP/MMAP2/FORK records per process the way perf's
//! machine does (a new mapping replaces what it overlaps; a forked process
//! inherits its parent's maps) and marks the object under each sample's IP.
//! [`Hits::with_hits`] is `perf buildid-list --with-hits`; [`cache`] fills
//! the cache for such a list, warning (never failing) like perf.

use std::collections::HashMap;

use symbols::buildid_cache::{Added, BuildIdCache, CacheError, KERNEL};
use symbols::locate::SymbolPaths;

use crate::data::{misc, parse_other, parse_sample, rtype, BuildIdEntry, OtherRecord, PerfData};

#[derive(Debug, Clone, Copy)]
struct Map {
    start: u64,
    end: u64,
    dso: usize,
}

/// Objects hit by samples, rebuilt from side-band records.
#[derive(Debug, Default)]
pub struct Hits {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    hit: Vec<bool>,
    mmap_build_ids: HashMap<usize, Vec<u8>>,
    procs: HashMap<i32, Vec<Map>>,
    kernel: Vec<Map>,
}

/// perf's object name for a mapping's file name.
fn dso_name(kernel: bool, filename: &str) -> &str {
    if kernel && filename.starts_with(KERNEL) {
        KERNEL
    } else {
        filename
    }
}

/// Inserts `m`, cutting what it overlaps (perf's `maps__fixup_overlappings`).
fn insert(v: &mut Vec<Map>, m: Map) {
    if v.last().is_none_or(|l| l.end <= m.start) {
        v.push(m);
        return;
    }
    let mut out = Vec::with_capacity(v.len() + 2);
    for e in v.drain(..) {
        if e.end <= m.start || e.start >= m.end {
            out.push(e);
            continue;
        }
        if e.start < m.start {
            out.push(Map { end: m.start, ..e });
        }
        if e.end > m.end {
            out.push(Map { start: m.end, ..e });
        }
    }
    out.push(m);
    out.sort_by_key(|e| e.start);
    *v = out;
}

fn find(v: &[Map], ip: u64) -> Option<usize> {
    let i = v.partition_point(|m| m.start <= ip).checked_sub(1)?;
    let m = v.get(i)?;
    (ip < m.end).then_some(m.dso)
}

impl Hits {
    /// No maps, no hits.
    pub fn new() -> Hits {
        Hits::default()
    }

    fn dso(&mut self, name: &str) -> usize {
        if let Some(i) = self.by_name.get(name) {
            return *i;
        }
        let i = self.names.len();
        self.names.push(name.to_string());
        self.hit.push(false);
        self.by_name.insert(name.to_string(), i);
        i
    }

    /// An MMAP/MMAP2 of `filename` at `[start, start+len)` in process `pid`
    /// (`kernel`: a kernel map — the kernel itself or a module).
    pub fn mmap(
        &mut self,
        kernel: bool,
        pid: i32,
        start: u64,
        len: u64,
        filename: &str,
        build_id: Option<&[u8]>,
    ) {
        let dso = self.dso(dso_name(kernel, filename));
        if let Some(b) = build_id.filter(|b| !b.is_empty()) {
            self.mmap_build_ids.entry(dso).or_insert_with(|| b.to_vec());
        }
        let m = Map {
            start,
            end: start.saturating_add(len),
            dso,
        };
        if kernel {
            insert(&mut self.kernel, m);
        } else {
            insert(self.procs.entry(pid).or_default(), m);
        }
    }

    /// A FORK: a new process (`pid != ppid`) starts with its parent's maps.
    pub fn fork(&mut self, pid: i32, ppid: i32) {
        if pid == ppid || self.procs.contains_key(&pid) {
            return;
        }
        if let Some(maps) = self.procs.get(&ppid).cloned() {
            self.procs.insert(pid, maps);
        }
    }

    /// A sample at `ip` in process `pid` with `cpumode` (`header.misc & 7`).
    pub fn sample(&mut self, cpumode: u16, pid: i32, ip: u64) {
        let dso = match cpumode {
            misc::KERNEL => match find(&self.kernel, ip) {
                Some(d) => Some(d),
                None => Some(self.dso(KERNEL)),
            },
            misc::USER => self.procs.get(&pid).and_then(|v| find(v, ip)),
            _ => None,
        };
        if let Some(h) = dso.and_then(|d| self.hit.get_mut(d)) {
            *h = true;
        }
    }

    /// Whether a sample hit the object perf names `name`.
    pub fn is_hit(&self, name: &str) -> bool {
        self.by_name
            .get(name)
            .and_then(|i| self.hit.get(*i))
            .copied()
            .unwrap_or(false)
    }

    /// Objects with hits, in the order they were first mapped.
    pub fn hit_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .zip(&self.hit)
            .filter(|(_, h)| **h)
            .map(|(n, _)| n.as_str())
    }

    /// Follows every record of a perf.data file.
    pub fn from_data(pd: &PerfData) -> Hits {
        let mut h = Hits::new();
        let Some(a0) = pd.attrs.first().map(|a| a.attr) else {
            return h;
        };
        for r in pd.records() {
            let Ok(r) = r else { break };
            let attr = pd
                .attr_index(&r)
                .and_then(|i| pd.attrs.get(i))
                .map(|a| a.attr)
                .unwrap_or(a0);
            match r.type_ {
                rtype::SAMPLE => {
                    if let Ok(s) = parse_sample(&attr, &r) {
                        h.sample(s.cpumode(), s.pid, s.ip);
                    }
                }
                rtype::MMAP | rtype::MMAP2 | rtype::FORK => match parse_other(&attr, &r) {
                    Ok((
                        OtherRecord::Mmap {
                            misc: m,
                            pid,
                            start,
                            len,
                            build_id,
                            filename,
                            ..
                        },
                        _,
                    )) if m & misc::MMAP_DATA == 0 => {
                        let cpumode = m & misc::CPUMODE_MASK;
                        if cpumode == misc::KERNEL || cpumode == misc::USER {
                            h.mmap(
                                cpumode == misc::KERNEL,
                                pid,
                                start,
                                len,
                                &filename,
                                build_id.as_deref(),
                            );
                        }
                    }
                    Ok((OtherRecord::Fork { pid, ppid, .. }, _)) => h.fork(pid, ppid),
                    _ => {}
                },
                _ => {}
            }
        }
        h
    }

    /// `perf buildid-list --with-hits`: the recorded build ids (and those
    /// MMAP2 records carried) of the objects samples hit, in `table` order.
    pub fn with_hits(&self, table: &[BuildIdEntry]) -> Vec<BuildIdEntry> {
        let mut out: Vec<BuildIdEntry> = table
            .iter()
            .filter(|e| self.is_hit(&e.filename))
            .cloned()
            .collect();
        for (i, name) in self.names.iter().enumerate() {
            let (Some(true), Some(id)) = (self.hit.get(i), self.mmap_build_ids.get(&i)) else {
                continue;
            };
            if !out.iter().any(|e| &e.filename == name) {
                out.push(BuildIdEntry {
                    misc: if name == KERNEL {
                        misc::KERNEL
                    } else {
                        misc::USER
                    },
                    pid: -1,
                    build_id: id.clone(),
                    filename: name.clone(),
                });
            }
        }
        out
    }

    /// Hit objects without any build id (neither recorded nor in an MMAP2).
    pub fn hit_without_build_id(&self, table: &[BuildIdEntry]) -> Vec<String> {
        self.hit_names()
            .filter(|n| {
                !table.iter().any(|e| e.filename == *n)
                    && !self
                        .by_name
                        .get(*n)
                        .is_some_and(|i| self.mmap_build_ids.contains_key(i))
            })
            .map(str::to_string)
            .collect()
    }
}

/// Puts `entries` into the cache at `dir` from this host's files
/// (`perf_session__cache_build_ids`; `host` as
/// [`crate::session::host_paths`] gives it). Returns what could not be
/// cached (entries already cached are left as they are); an error when the
/// cache directory itself cannot be created.
pub fn cache(
    dir: &std::path::Path,
    entries: &[BuildIdEntry],
    host: &SymbolPaths,
) -> Result<Vec<(BuildIdEntry, CacheError)>, CacheError> {
    let c = BuildIdCache::new(dir);
    c.create()?;
    let mut failed = Vec::new();
    for e in entries {
        if e.build_id.is_empty() {
            continue;
        }
        match c.add(&e.filename, &e.build_id, host) {
            Ok(Added::New | Added::Present) => {}
            Err(err) => failed.push((e.clone(), err)),
        }
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_maps_and_forks() {
        let mut h = Hits::new();
        h.mmap(false, 10, 0x1000, 0x3000, "/a", None);
        // /b replaces the middle of /a.
        h.mmap(false, 10, 0x2000, 0x1000, "/b", Some(&[1, 2, 3]));
        h.fork(11, 10);
        h.sample(misc::USER, 11, 0x2800);
        assert!(h.is_hit("/b") && !h.is_hit("/a"));
        h.sample(misc::USER, 10, 0x3800);
        assert!(h.is_hit("/a"));
        // Unknown process, hypervisor mode: nothing.
        h.sample(misc::USER, 99, 0x1000);
        h.sample(misc::HYPERVISOR, 10, 0x1000);
        assert_eq!(h.hit_names().collect::<Vec<_>>(), ["/a", "/b"]);
        // The kernel: its map, or the kernel when no map covers the IP.
        h.mmap(
            true,
            -1,
            0xffff_0000,
            u64::MAX - 0xffff_0000,
            "[kernel.kallsyms]_text",
            None,
        );
        h.mmap(true, -1, 0x8000_0000, 0x1000, "/lib/modules/x.ko", None);
        h.sample(misc::KERNEL, 10, 0x8000_0010);
        assert!(h.is_hit("/lib/modules/x.ko") && !h.is_hit(KERNEL));
        h.sample(misc::KERNEL, 10, 0xffff_1000);
        assert!(h.is_hit(KERNEL));
        let table = vec![BuildIdEntry {
            misc: misc::USER,
            pid: -1,
            build_id: vec![9; 20],
            filename: "/a".into(),
        }];
        let w = h.with_hits(&table);
        let names: Vec<_> = w.iter().map(|e| e.filename.as_str()).collect();
        assert_eq!(names, ["/a", "/b"]);
        assert_eq!(w[1].build_id, [1, 2, 3]);
        assert_eq!(
            h.hit_without_build_id(&table),
            [KERNEL.to_string(), "/lib/modules/x.ko".into()]
        );
    }
}
