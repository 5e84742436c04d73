//! Replaying perf.data: records sorted by time (perf's ordered events), the
//! machine state they build (threads, comms, per-process maps, DSOs), and
//! address resolution the way perf does it (`map_ip = ip - start + pgoff`
//! for file-backed maps, identity for the kernel and anonymous maps; symbols
//! from `symbols::symtab` loaded lazily per DSO, checked against the build
//! ids recorded in the file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use symbols::locate::{self, KernelSource, SymbolPaths};
use symbols::symtab::{self, Sym, SymTab};

use crate::attr::{types, Attr};
use crate::data::{misc, parse_other, parse_sample, rtype, OtherRecord, PerfData, Sample};
use crate::error::{Error, Result};

/// `PERF_CONTEXT_*` markers in call chains.
pub mod context {
    #![allow(missing_docs)]
    pub const HV: u64 = -32i64 as u64;
    pub const KERNEL: u64 = -128i64 as u64;
    pub const USER: u64 = -512i64 as u64;
    pub const GUEST: u64 = -2048i64 as u64;
    pub const GUEST_KERNEL: u64 = -2176i64 as u64;
    pub const GUEST_USER: u64 = -2560i64 as u64;
    pub const MAX: u64 = -4095i64 as u64;
}

/// The name perf gives an attr without EVENT_DESC.
pub fn default_event_name(a: &Attr) -> String {
    match (a.type_, a.config) {
        (types::SOFTWARE, 0) => "cpu-clock".into(),
        (types::SOFTWARE, 1) => "task-clock".into(),
        (types::SOFTWARE, 2) => "page-faults".into(),
        (types::SOFTWARE, 3) => "context-switches".into(),
        (types::SOFTWARE, 9) => "dummy".into(),
        (types::HARDWARE, 0) => "cycles".into(),
        (types::HARDWARE, 1) => "instructions".into(),
        (t, c) => format!("type{t}:{c:#x}"),
    }
}

/// Kind of a DSO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsoKind {
    /// `[kernel.kallsyms]` or a module.
    Kernel,
    /// A file-backed user mapping.
    File,
    /// Anonymous / JIT memory (`//anon`, `[heap]`, …).
    Anon,
    /// `[vdso]` and other pseudo files.
    Pseudo,
}

/// A shared object.
#[derive(Debug)]
pub struct Dso {
    /// Long name (path, `[kernel.kallsyms]`).
    pub long_name: String,
    /// Short name (basename) shown by `perf report`.
    pub short_name: String,
    /// Kind.
    pub kind: DsoKind,
    /// Build id recorded in perf.data, if any.
    pub build_id: Option<Vec<u8>>,
    /// The file on this host with the recorded build id (symfs, build-id
    /// cache, `/proc/PID/root/…` for containers), once symbols were loaded.
    pub host_path: Option<PathBuf>,
    pid: i32,
    symtab: Option<Option<SymTab>>,
}

/// Index into [`Machine::dsos`].
pub type DsoId = usize;

/// One mapping of a process.
#[derive(Debug, Clone, Copy)]
pub struct Map {
    /// Start address.
    pub start: u64,
    /// End (exclusive).
    pub end: u64,
    /// File offset of `start`.
    pub pgoff: u64,
    /// The DSO.
    pub dso: DsoId,
}

/// A resolved address.
#[derive(Debug, Clone)]
pub struct Location {
    /// The raw address.
    pub ip: u64,
    /// Map-relative address (`ip` when no map or identity map).
    pub addr: u64,
    /// Kernel address space.
    pub kernel: bool,
    /// The DSO, if a map covers `ip`.
    pub dso: Option<DsoId>,
    /// The symbol, if any.
    pub sym: Option<Sym>,
}

#[derive(Debug, Default)]
struct Process {
    maps: Vec<Map>,
}

/// Threads, processes and DSOs as records have built them so far.
#[derive(Debug, Default)]
pub struct Machine {
    /// All DSOs.
    pub dsos: Vec<Dso>,
    dso_by_name: HashMap<String, DsoId>,
    comms: HashMap<i32, String>,
    tid_pid: HashMap<i32, i32>,
    procs: HashMap<i32, Process>,
    kernel_maps: Vec<Map>,
    kallsyms: Option<Option<SymTab>>,
    /// `_text`'s address at record time (the kernel MMAP's pgoff), for vmlinux.
    kernel_ref_reloc: Option<u64>,
    recorded_build_ids: HashMap<String, Vec<u8>>,
    os_release: Option<String>,
    /// Where symbol files are looked for (`--symfs`, `--kallsyms`, `-k`, the build-id cache).
    pub paths: SymbolPaths,
    /// One warning per object whose symbols could not be used (also logged).
    pub warnings: Vec<String>,
    srclines: Option<symbols::srcline::SourceLines>,
    srcline_cache: HashMap<(DsoId, u64), Option<symbols::srcline::SrcLoc>>,
}

fn short_name(long: &str) -> String {
    if long.starts_with('[') {
        return long.to_string();
    }
    Path::new(long)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| long.to_string())
}

/// perf's advice when an object's symbols are not on this host.
const FIX: &str =
    "give the recording host's files with --symfs DIR (and --kallsyms FILE for the kernel), \
     point --buildid-dir at a build-id cache filled by `perf record`/`tracekit perf record` there, \
     or run `tracekit perf archive` on the recording host and unpack it into the build-id cache";

impl Machine {
    /// A machine that knows the build ids recorded in `pd` and looks for
    /// symbol files as `paths` says.
    pub fn new(pd: &PerfData, paths: SymbolPaths) -> Machine {
        let mut m = Machine {
            paths,
            os_release: pd.string_feature(crate::data::Feature::OsRelease),
            ..Machine::default()
        };
        for b in pd.build_ids() {
            m.recorded_build_ids
                .insert(b.filename.clone(), b.build_id.clone());
        }
        m.comms.insert(0, "swapper".into());
        m.tid_pid.insert(0, 0);
        m
    }

    fn warn(&mut self, msg: String) {
        log::warn!("{msg}");
        self.warnings.push(msg);
    }

    fn dso(&mut self, name: &str, kind: DsoKind, pid: i32) -> DsoId {
        if let Some(id) = self.dso_by_name.get(name) {
            return *id;
        }
        let id = self.dsos.len();
        let build_id = self.recorded_build_ids.get(name).cloned();
        self.dsos.push(Dso {
            long_name: name.to_string(),
            short_name: short_name(name),
            kind,
            build_id,
            host_path: None,
            pid,
            symtab: None,
        });
        self.dso_by_name.insert(name.to_string(), id);
        id
    }

    /// Finds a user object's files (build id checked) and loads its symbols;
    /// warns once when nothing usable exists.
    fn locate_user(
        &mut self,
        name: &str,
        build_id: Option<&[u8]>,
        pid: i32,
    ) -> (Option<PathBuf>, Option<SymTab>) {
        let mut l = self.paths.locate(name, build_id);
        if !l.found() && self.paths.symfs.is_none() {
            // A process in a container: its root as the kernel sees it.
            let croot = format!("/proc/{pid}/root{name}");
            let c = self.paths.locate(&croot, build_id);
            if c.found() {
                l = c;
            }
        }
        let runtime = l.runtime.clone().or_else(|| l.symtab.clone());
        let tab = runtime
            .as_deref()
            .and_then(|r| symtab::load_elf_files(r, l.symtab.as_deref()).ok());
        if tab.is_none() {
            let id = build_id.map(locate::hex).unwrap_or_else(|| "(none)".into());
            let seen = if l.rejected.is_empty() {
                format!(
                    "no file with that build id was found (looked at {})",
                    self.paths.join_symfs(Path::new(name)).display()
                )
            } else {
                l.rejected
                    .iter()
                    .map(|r| {
                        format!(
                            "{} has {}",
                            r.path.display(),
                            r.build_id
                                .as_deref()
                                .map(locate::hex)
                                .unwrap_or_else(|| "no build id".into())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.warn(format!(
                "{name}: recorded with build id {id}, but {seen}; its addresses are shown unresolved. To name them, {FIX}"
            ));
        }
        (runtime, tab)
    }

    /// Loads the kernel's symbols from the source the paths name (once).
    fn load_kernel(&mut self) {
        if self.kallsyms.is_some() {
            return;
        }
        let recorded = self.recorded_build_ids.get("[kernel.kallsyms]").cloned();
        let src = self
            .paths
            .kernel(recorded.as_deref(), self.os_release.as_deref());
        let tab = match src {
            KernelSource::Kallsyms(p) => match std::fs::read_to_string(&p) {
                Ok(text) => {
                    let t = symtab::parse_kallsyms(&text);
                    if t.is_empty() {
                        self.warn(format!(
                            "{}: not a kallsyms file (no `ADDRESS TYPE NAME` lines of text symbols); kernel addresses are shown raw",
                            p.display()
                        ));
                        None
                    } else if t.symbols().iter().all(|s| s.start == 0) {
                        self.warn(format!(
                            "{}: every address is 0 (read with kptr_restrict set or without root); kernel addresses are shown raw",
                            p.display()
                        ));
                        None
                    } else {
                        Some(t)
                    }
                }
                Err(e) => {
                    self.warn(format!(
                        "{}: {e}; kernel addresses are shown raw",
                        p.display()
                    ));
                    None
                }
            },
            KernelSource::Vmlinux(p) => {
                let base = symtab::elf_symbol_address(&p, "_text").ok().flatten();
                let reloc = match (self.kernel_ref_reloc, base) {
                    (Some(rec), Some(b)) => rec.wrapping_sub(b),
                    _ => 0,
                };
                match symtab::load_vmlinux(&p, reloc) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        self.warn(format!("{e}; kernel addresses are shown raw"));
                        None
                    }
                }
            }
            KernelSource::None(why) => {
                self.warn(format!(
                    "[kernel.kallsyms]: {why}; kernel addresses are shown raw, as perf does. To name them, {FIX}"
                ));
                None
            }
        };
        self.kallsyms = Some(tab);
    }

    /// The comm of `tid` (`:tid` when unknown, as perf prints).
    pub fn comm(&self, tid: i32) -> String {
        self.comms
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!(":{tid}"))
    }

    fn process_of(&self, tid: i32, pid: i32) -> i32 {
        if pid > 0 {
            pid
        } else {
            self.tid_pid.get(&tid).copied().unwrap_or(pid)
        }
    }

    /// Applies a side-band record.
    pub fn apply(&mut self, rec: &OtherRecord) {
        match rec {
            OtherRecord::Comm { pid, tid, comm, .. } => {
                self.comms.insert(*tid, comm.clone());
                self.tid_pid.insert(*tid, *pid);
            }
            OtherRecord::Fork {
                pid,
                ppid,
                tid,
                ptid,
                ..
            } => {
                if let Some(c) = self.comms.get(ptid).cloned() {
                    self.comms.insert(*tid, c);
                }
                self.tid_pid.insert(*tid, *pid);
                if pid != ppid {
                    let maps = self
                        .procs
                        .get(ppid)
                        .map(|p| p.maps.clone())
                        .unwrap_or_default();
                    self.procs.insert(*pid, Process { maps });
                }
            }
            OtherRecord::Mmap {
                misc: m,
                pid,
                start,
                len,
                pgoff,
                filename,
                prot,
                ..
            } => {
                let cpumode = m & misc::CPUMODE_MASK;
                if m & misc::MMAP_DATA != 0 || (*prot & libc::PROT_EXEC as u32) == 0 {
                    return;
                }
                if cpumode == misc::KERNEL || *pid == -1 {
                    if let Some(ref_sym) = filename.strip_prefix("[kernel.kallsyms]") {
                        if ref_sym == "_text" || ref_sym == "_stext" {
                            self.kernel_ref_reloc = Some(*pgoff);
                        }
                    }
                    let name = if filename.starts_with("[kernel.kallsyms]") {
                        "[kernel.kallsyms]"
                    } else {
                        filename.as_str()
                    };
                    let d = self.dso(name, DsoKind::Kernel, -1);
                    let end = if *len == 0 || start.checked_add(*len).is_none() {
                        u64::MAX
                    } else {
                        start + len
                    };
                    insert_map(
                        &mut self.kernel_maps,
                        Map {
                            start: *start,
                            end,
                            pgoff: *start,
                            dso: d,
                        },
                    );
                    return;
                }
                let anon = filename == "//anon"
                    || filename.starts_with("/dev/zero")
                    || filename.starts_with("/anon_hugepage")
                    || filename.starts_with("/memfd:")
                    || filename == "[heap]"
                    || filename == "[stack]";
                let kind = if anon {
                    DsoKind::Anon
                } else if filename.starts_with('[') {
                    DsoKind::Pseudo
                } else {
                    DsoKind::File
                };
                let name = if anon {
                    format!("/tmp/perf-{pid}.map")
                } else {
                    filename.clone()
                };
                let d = self.dso(&name, kind, *pid);
                let pgoff = if anon { *start } else { *pgoff };
                let end = start.saturating_add(*len);
                let p = self.procs.entry(*pid).or_default();
                insert_map(
                    &mut p.maps,
                    Map {
                        start: *start,
                        end,
                        pgoff,
                        dso: d,
                    },
                );
            }
            _ => {}
        }
    }

    fn load_symtab(&mut self, d: DsoId) -> Option<&SymTab> {
        let kind = self.dsos.get(d)?.kind;
        if kind == DsoKind::Kernel {
            self.load_kernel();
            return self.kallsyms.as_ref().and_then(|t| t.as_ref());
        }
        if self.dsos.get(d)?.symtab.is_none() {
            let dso = self.dsos.get(d)?;
            let (name, id, pid) = (dso.long_name.clone(), dso.build_id.clone(), dso.pid);
            let (host, tab) = match kind {
                DsoKind::File => self.locate_user(&name, id.as_deref(), pid),
                DsoKind::Anon => (
                    None,
                    std::fs::read_to_string(&name)
                        .ok()
                        .map(|t| symtab::parse_perf_map(&t)),
                ),
                _ => (None, None),
            };
            let dso = self.dsos.get_mut(d)?;
            dso.host_path = host;
            dso.symtab = Some(tab);
        }
        self.dsos.get(d)?.symtab.as_ref().and_then(|t| t.as_ref())
    }

    /// Resolves `ip` for thread `tid` of `pid` in address space `kernel`.
    pub fn resolve(&mut self, pid: i32, tid: i32, ip: u64, kernel: bool) -> Location {
        let map = if kernel {
            find_map(&self.kernel_maps, ip)
        } else {
            let p = self.process_of(tid, pid);
            self.procs.get(&p).and_then(|pr| find_map(&pr.maps, ip))
        };
        let Some(map) = map else {
            return Location {
                ip,
                addr: ip,
                kernel,
                dso: None,
                sym: None,
            };
        };
        let addr = if kernel {
            ip
        } else {
            ip.wrapping_sub(map.start).wrapping_add(map.pgoff)
        };
        let mut sym = self
            .load_symtab(map.dso)
            .and_then(|t| t.find(addr))
            .cloned();
        let mut dso = map.dso;
        // kallsyms module symbols read "name\t[module]": perf shows them in a "[module]" DSO.
        if let Some(s) = sym.as_mut() {
            if let (n, Some(m)) = symtab::split_module(&s.name) {
                let (n, m) = (n.to_string(), format!("[{m}]"));
                s.name = n;
                dso = self.dso(&m, DsoKind::Kernel, -1);
            }
        }
        Location {
            ip,
            addr,
            kernel,
            dso: Some(dso),
            sym,
        }
    }

    /// Long name of a DSO.
    pub fn dso_long(&self, d: Option<DsoId>) -> &str {
        d.and_then(|d| self.dsos.get(d))
            .map(|d| d.long_name.as_str())
            .unwrap_or("[unknown]")
    }

    /// Short name of a DSO.
    pub fn dso_short(&self, d: Option<DsoId>) -> &str {
        d.and_then(|d| self.dsos.get(d))
            .map(|d| d.short_name.as_str())
            .unwrap_or("[unknown]")
    }

    /// DWARF source location of a map-relative address (cached).
    pub fn src_loc(&mut self, d: DsoId, addr: u64) -> Option<symbols::srcline::SrcLoc> {
        if let Some(v) = self.srcline_cache.get(&(d, addr)) {
            return v.clone();
        }
        self.load_symtab(d);
        let dso = self.dsos.get(d)?;
        let v = match (dso.kind, &dso.host_path) {
            (DsoKind::File, Some(p)) => {
                let sl = self
                    .srclines
                    .get_or_insert_with(symbols::srcline::SourceLines::new);
                sl.lookup(p, &[addr]).into_iter().next().flatten()
            }
            _ => None,
        };
        self.srcline_cache.insert((d, addr), v.clone());
        v
    }

    /// perf's `srcline` text: `file.c:123`, else `sym+OFF` (decimal), else `dso[ADDR]`.
    pub fn srcline(&mut self, loc: &Location) -> String {
        if let Some(d) = loc.dso {
            if let Some(s) = self.src_loc(d, loc.addr) {
                let base = s
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return format!("{base}:{}", s.line);
            }
        }
        match (&loc.sym, loc.dso) {
            (Some(s), _) => format!("{}+{}", s.name, loc.addr.wrapping_sub(s.start)),
            (None, Some(_)) => format!("{}[{:x}]", self.dso_short(loc.dso), loc.addr),
            (None, None) => "??:0".to_string(),
        }
    }

    /// Executable file mappings of `pid`'s process (for DWARF unwinding).
    pub fn exec_maps(&mut self, pid: i32, tid: i32) -> Vec<crate::unwind::MapInfo> {
        let p = self.process_of(tid, pid);
        let Some(pr) = self.procs.get(&p) else {
            return Vec::new();
        };
        let dsos: Vec<DsoId> = pr.maps.iter().map(|m| m.dso).collect();
        for d in dsos {
            self.load_symtab(d);
        }
        let Some(pr) = self.procs.get(&p) else {
            return Vec::new();
        };
        pr.maps
            .iter()
            .filter_map(|m| {
                let d = self.dsos.get(m.dso)?;
                (d.kind == DsoKind::File).then_some(())?;
                Some(crate::unwind::MapInfo {
                    start: m.start,
                    end: m.end,
                    pgoff: m.pgoff,
                    path: d.host_path.clone()?,
                })
            })
            .collect()
    }

    /// The symbol table of a DSO (loading it).
    pub fn symtab(&mut self, d: DsoId) -> Option<&SymTab> {
        self.load_symtab(d)
    }
}

fn insert_map(maps: &mut Vec<Map>, m: Map) {
    // Overlapped parts of older maps are cut away, as perf's maps__fixup_overlappings.
    let mut out = Vec::with_capacity(maps.len() + 2);
    for old in maps.drain(..) {
        if old.end <= m.start || old.start >= m.end {
            out.push(old);
            continue;
        }
        if old.start < m.start {
            out.push(Map {
                end: m.start,
                ..old
            });
        }
        if old.end > m.end {
            out.push(Map {
                start: m.end,
                pgoff: old.pgoff.wrapping_add(m.end - old.start),
                ..old
            });
        }
    }
    out.push(m);
    out.sort_by_key(|x| x.start);
    *maps = out;
}

fn find_map(maps: &[Map], ip: u64) -> Option<Map> {
    let i = maps.partition_point(|m| m.start <= ip);
    let m = maps.get(i.checked_sub(1)?)?;
    (ip < m.end).then_some(*m)
}

/// One entry of a resolved call chain.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Resolution.
    pub loc: Location,
}

/// A sample with everything a report or script needs.
#[derive(Debug, Clone)]
pub struct ResolvedSample {
    /// Attr index (event).
    pub event: usize,
    /// The decoded sample.
    pub sample: Sample,
    /// Comm of the thread at that time.
    pub comm: String,
    /// Where `ip` lands.
    pub loc: Location,
    /// Call chain, leaf first, markers removed.
    pub chain: Vec<Frame>,
}

/// Replays a perf.data file.
#[derive(Debug)]
pub struct Session {
    /// The file.
    pub data: PerfData,
    /// Machine state.
    pub machine: Machine,
    /// LOST records' total.
    pub lost: u64,
    unwinders: crate::unwind::Unwinders,
}

enum Item {
    Other(OtherRecord),
    Sample(usize, Sample),
}

impl Session {
    /// Opens `path`, looking for symbols on this host as perf does by
    /// default (no symfs, no build-id cache; `/proc/kallsyms` only when the
    /// running kernel is the recorded one).
    pub fn open(path: &Path) -> Result<Session> {
        Self::open_with(path, host_paths())
    }

    /// Opens `path` with explicit symbol sources (`--symfs`, `--kallsyms`, …).
    pub fn open_with(path: &Path, paths: SymbolPaths) -> Result<Session> {
        let data = PerfData::open(path)?;
        let machine = Machine::new(&data, paths);
        Ok(Session {
            data,
            machine,
            lost: 0,
            unwinders: Default::default(),
        })
    }

    /// Checks that every recorded object (kernel included) has a usable
    /// symbol source under the session's [`SymbolPaths`]; the error lists
    /// each one that has not.
    pub fn check_build_ids(&self) -> Result<()> {
        let p = &self.machine.paths;
        let release = self.data.string_feature(crate::data::Feature::OsRelease);
        let mut problems = Vec::new();
        for b in self.data.build_ids() {
            if b.filename == "[kernel.kallsyms]" {
                if let KernelSource::None(why) = p.kernel(Some(&b.build_id), release.as_deref()) {
                    problems.push(format!("[kernel.kallsyms]: {why}"));
                }
                continue;
            }
            if b.filename.starts_with('[') {
                continue;
            }
            if !p.locate(&b.filename, Some(&b.build_id)).found() {
                problems.push(format!("{}: no file with build id {}", b.filename, b.hex()));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::HostMismatch(problems.join("; ")))
        }
    }

    /// Replays all records in time order, calling `f` for every sample.
    pub fn for_each_sample(
        &mut self,
        mut f: impl FnMut(&mut Machine, ResolvedSample),
    ) -> Result<()> {
        let mut items: Vec<(u64, Item)> = Vec::new();
        for r in self.data.records() {
            let r = r?;
            let Some(ai) = self.data.attr_index(&r) else {
                continue;
            };
            let Some(attr) = self.data.attrs.get(ai).map(|a| a.attr) else {
                continue;
            };
            if r.type_ == rtype::SAMPLE {
                let s = parse_sample(&attr, &r)?;
                items.push((s.time, Item::Sample(ai, s)));
            } else if matches!(
                r.type_,
                rtype::MMAP | rtype::MMAP2 | rtype::COMM | rtype::FORK | rtype::EXIT | rtype::LOST
            ) {
                let (o, sid) = parse_other(&attr, &r)?;
                let t = match &o {
                    OtherRecord::Fork { time, .. } | OtherRecord::Exit { time, .. }
                        if sid.time == 0 =>
                    {
                        *time
                    }
                    _ => sid.time,
                };
                items.push((t, Item::Other(o)));
            }
        }
        items.sort_by_key(|(t, _)| *t);
        for (_, it) in items {
            match it {
                Item::Other(OtherRecord::Lost { lost }) => self.lost = self.lost.wrapping_add(lost),
                Item::Other(o) => self.machine.apply(&o),
                Item::Sample(ai, s) => {
                    let mut rs = resolve_sample(&mut self.machine, ai, s);
                    if !rs.sample.stack_user.is_empty() {
                        let mask = self
                            .data
                            .attrs
                            .get(ai)
                            .map(|a| a.attr.sample_regs_user)
                            .unwrap_or(0);
                        let maps = self.machine.exec_maps(rs.sample.pid, rs.sample.tid);
                        let frames = self.unwinders.unwind(
                            rs.sample.pid,
                            &maps,
                            &rs.sample.regs_user,
                            &rs.sample.stack_user,
                            mask,
                        );
                        for ip in frames {
                            let loc = self
                                .machine
                                .resolve(rs.sample.pid, rs.sample.tid, ip, false);
                            rs.chain.push(Frame { loc });
                        }
                    }
                    f(&mut self.machine, rs);
                }
            }
        }
        Ok(())
    }
}

/// This host's default symbol sources: the running kernel's build id, no
/// symfs, no build-id cache.
pub fn host_paths() -> SymbolPaths {
    SymbolPaths {
        host_kernel_build_id: symtab::kernel_build_id(),
        ..SymbolPaths::default()
    }
}

/// Resolves a sample's ip and call chain.
pub fn resolve_sample(m: &mut Machine, event: usize, s: Sample) -> ResolvedSample {
    let kernel_mode = matches!(s.cpumode(), misc::KERNEL | misc::GUEST_KERNEL);
    let loc = m.resolve(s.pid, s.tid, s.ip, kernel_mode);
    let mut chain = Vec::new();
    let mut kernel = kernel_mode;
    for &ip in &s.callchain {
        if ip >= context::MAX {
            kernel = matches!(ip, context::KERNEL | context::GUEST_KERNEL);
            continue;
        }
        chain.push(Frame {
            loc: m.resolve(s.pid, s.tid, ip, kernel),
        });
    }
    let comm = m.comm(s.tid);
    ResolvedSample {
        event,
        sample: s,
        comm,
        loc,
        chain,
    }
}
