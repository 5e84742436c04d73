//! Event names as perf spells them (`cycles`, `task-clock`,
//! `L1-dcache-load-misses`, `sched:sched_switch`, `uprobe:/bin/bash:readline`,
//! `{cycles,instructions}` groups, `:u`/`:k` modifiers) → [`EventSpec`]s
//! holding the `perf_event_attr` to open. Tracepoint ids come from
//! `/sys/kernel/tracing/events/SYS/NAME/id` (never the debugfs path).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::attr::{flag, types, Attr};
use crate::error::{Error, Result};

/// One event to open.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// The name perf prints (`cycles`, `sched:sched_switch`, `cycles:u`).
    pub name: String,
    /// The attr (type, config, exclude bits); callers add sampling fields.
    pub attr: Attr,
    /// Index of the group leader in the parsed list (self when not grouped).
    pub leader: usize,
    /// Keeps the uprobe path alive while `attr.config1` points at it.
    pub uprobe_path: Option<std::sync::Arc<CString>>,
}

const SOFTWARE: &[(&str, u64)] = &[
    ("cpu-clock", 0),
    ("task-clock", 1),
    ("page-faults", 2),
    ("faults", 2),
    ("context-switches", 3),
    ("cs", 3),
    ("cpu-migrations", 4),
    ("migrations", 4),
    ("minor-faults", 5),
    ("major-faults", 6),
    ("alignment-faults", 7),
    ("emulation-faults", 8),
    ("dummy", 9),
];

const HARDWARE: &[(&str, u64)] = &[
    ("cpu-cycles", 0),
    ("cycles", 0),
    ("instructions", 1),
    ("cache-references", 2),
    ("cache-misses", 3),
    ("branch-instructions", 4),
    ("branches", 4),
    ("branch-misses", 5),
    ("bus-cycles", 6),
    ("stalled-cycles-frontend", 7),
    ("stalled-cycles-backend", 8),
    ("ref-cycles", 9),
];

const CACHES: &[(&str, u64)] = &[
    ("L1-dcache", 0),
    ("L1-icache", 1),
    ("LLC", 2),
    ("dTLB", 3),
    ("iTLB", 4),
    ("branch", 5),
    ("node", 6),
];

const CACHE_OPS: &[(&str, u64, u64)] = &[
    ("loads", 0, 0),
    ("load-misses", 0, 1),
    ("stores", 1, 0),
    ("store-misses", 1, 1),
    ("prefetches", 2, 0),
    ("prefetch-misses", 2, 1),
];

/// Where tracefs usually lives (events/…/id), for callers without `--tracefs`.
pub fn default_tracefs_root() -> PathBuf {
    for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(p).join("events").is_dir() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("/sys/kernel/tracing")
}

/// The tracefs id of `sys:name` under the tracefs root `tracefs`.
pub fn tracepoint_id(tracefs: &Path, sys: &str, name: &str) -> Result<u64> {
    let p = tracefs.join("events").join(sys).join(name).join("id");
    let s = std::fs::read_to_string(&p).map_err(|e| Error::BadEvent {
        name: format!("{sys}:{name}"),
        why: format!("{}: {e}", p.display()),
    })?;
    s.trim().parse().map_err(|_| Error::BadEvent {
        name: format!("{sys}:{name}"),
        why: format!("{} holds '{}'", p.display(), s.trim()),
    })
}

fn pmu_type(pmu: &str) -> Result<u32> {
    let p = format!("/sys/bus/event_source/devices/{pmu}/type");
    let s = std::fs::read_to_string(&p).map_err(|e| Error::BadEvent {
        name: pmu.into(),
        why: format!("{p}: {e}"),
    })?;
    s.trim().parse().map_err(|_| Error::BadEvent {
        name: pmu.into(),
        why: format!("{p}: bad value"),
    })
}

fn lookup(table: &[(&str, u64)], name: &str) -> Option<u64> {
    table.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

fn cache_config(name: &str) -> Option<u64> {
    for (c, id) in CACHES {
        if let Some(rest) = name.strip_prefix(c).and_then(|r| r.strip_prefix('-')) {
            for (op, o, r) in CACHE_OPS {
                if rest == *op {
                    return Some(id | (o << 8) | (r << 16));
                }
            }
        }
    }
    None
}

fn apply_modifiers(attr: &mut Attr, m: &str) {
    let (u, k, h) = (m.contains('u'), m.contains('k'), m.contains('h'));
    if u || k || h {
        if !u {
            attr.flags |= flag::EXCLUDE_USER;
        }
        if !k {
            attr.flags |= flag::EXCLUDE_KERNEL;
        }
        if !h {
            attr.flags |= flag::EXCLUDE_HV;
        }
    }
    let p = m.chars().filter(|c| *c == 'p').count().min(3) as u64;
    attr.flags |= p << 15;
}

fn is_modifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| "ukhpGHSD".contains(c))
}

/// Parses one event name (no groups); tracepoints are looked up under `tracefs`.
pub fn parse_one(spec: &str, tracefs: &Path) -> Result<EventSpec> {
    let bad = |why: &str| Error::BadEvent {
        name: spec.into(),
        why: why.into(),
    };
    let (base, modifier) = match spec.rsplit_once(':') {
        Some((b, m))
            if is_modifier(m)
                && (lookup(SOFTWARE, b).is_some()
                    || lookup(HARDWARE, b).is_some()
                    || cache_config(b).is_some()
                    || b.contains(':')) =>
        {
            (b, m)
        }
        _ => (spec, ""),
    };
    let mut uprobe_path = None;
    let mut attr = if let Some(c) = lookup(SOFTWARE, base) {
        Attr::new(types::SOFTWARE, c)
    } else if let Some(c) = lookup(HARDWARE, base) {
        Attr::new(types::HARDWARE, c)
    } else if let Some(c) = cache_config(base) {
        Attr::new(types::HW_CACHE, c)
    } else if let Some(rest) = base
        .strip_prefix("uprobe:")
        .or_else(|| base.strip_prefix("uretprobe:"))
    {
        let ret = base.starts_with("uretprobe:");
        let (path, sym) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected uprobe:PATH:SYMBOL or uprobe:PATH:0xOFFSET"))?;
        let off = if let Some(h) = sym.strip_prefix("0x") {
            u64::from_str_radix(h, 16).map_err(|_| bad("bad offset"))?
        } else {
            let elf =
                symbols::elf::ElfFile::open(Path::new(path)).map_err(|e| bad(&e.to_string()))?;
            let f = elf.function(sym).map_err(|e| bad(&e.to_string()))?;
            elf.file_offset(f.addr)
                .map_err(|e| bad(&e.to_string()))?
                .ok_or_else(|| bad("symbol is not in a loadable segment"))?
        };
        let ty = pmu_type("uprobe")?;
        let c = std::sync::Arc::new(CString::new(path).map_err(|_| bad("NUL in path"))?);
        let mut a = Attr::new(ty, u64::from(ret));
        a.config1 = c.as_ptr() as u64;
        a.config2 = off;
        uprobe_path = Some(c);
        a
    } else if let Some((sys, name)) = base.split_once(':') {
        Attr::new(types::TRACEPOINT, tracepoint_id(tracefs, sys, name)?)
    } else {
        return Err(bad(
            "not a known software, hardware, cache event or SYS:NAME tracepoint",
        ));
    };
    apply_modifiers(&mut attr, modifier);
    Ok(EventSpec {
        name: spec.to_string(),
        attr,
        leader: 0,
        uprobe_path,
    })
}

/// Parses a comma-separated list with `{a,b}` groups (repeat `-e` to add more).
pub fn parse_list(specs: &[String], tracefs: &Path) -> Result<Vec<EventSpec>> {
    let mut out: Vec<EventSpec> = Vec::new();
    for s in specs {
        let mut depth = 0usize;
        let mut cur = String::new();
        let mut group_start: Option<usize> = None;
        let flush =
            |cur: &mut String, out: &mut Vec<EventSpec>, group: Option<usize>| -> Result<()> {
                let t = cur.trim();
                if !t.is_empty() {
                    let mut e = parse_one(t, tracefs)?;
                    e.leader = group.unwrap_or(out.len());
                    out.push(e);
                }
                cur.clear();
                Ok(())
            };
        for ch in s.chars() {
            match ch {
                '{' => {
                    depth += 1;
                    group_start = Some(out.len());
                }
                '}' => {
                    flush(&mut cur, &mut out, group_start)?;
                    depth = depth.saturating_sub(1);
                    group_start = None;
                }
                ',' => flush(&mut cur, &mut out, group_start)?,
                c => cur.push(c),
            }
        }
        if depth != 0 {
            return Err(Error::BadEvent {
                name: s.clone(),
                why: "unbalanced '{'".into(),
            });
        }
        flush(&mut cur, &mut out, group_start)?;
    }
    Ok(out)
}

/// Parses `0,2-3` into CPU numbers.
pub fn parse_cpu_list(s: &str) -> Result<Vec<u32>> {
    let bad = || Error::BadArg {
        what: "CPU list",
        value: s.into(),
        why: "expected e.g. 0,2-3".into(),
    };
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let (a, b): (u32, u32) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if b < a || b - a > 65536 {
                return Err(bad());
            }
            v.extend(a..=b);
        } else {
            v.push(part.trim().parse().map_err(|_| bad())?);
        }
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let e = parse_one("cycles", Path::new("/sys/kernel/tracing")).unwrap();
        assert_eq!((e.attr.type_, e.attr.config), (types::HARDWARE, 0));
        let e = parse_one("cycles:u", Path::new("/sys/kernel/tracing")).unwrap();
        assert!(e.attr.has(flag::EXCLUDE_KERNEL) && !e.attr.has(flag::EXCLUDE_USER));
        let e = parse_one("L1-dcache-load-misses", Path::new("/sys/kernel/tracing")).unwrap();
        assert_eq!((e.attr.type_, e.attr.config), (types::HW_CACHE, 0x10000));
        let e = parse_one("LLC-stores", Path::new("/sys/kernel/tracing")).unwrap();
        assert_eq!(e.attr.config, 0x102);
        assert!(parse_one("nonsense", Path::new("/sys/kernel/tracing")).is_err());
    }

    #[test]
    fn groups() {
        let l = parse_list(
            &["task-clock,{cycles,instructions},cs".into()],
            Path::new("/sys/kernel/tracing"),
        )
        .unwrap();
        let leaders: Vec<usize> = l.iter().map(|e| e.leader).collect();
        assert_eq!(leaders, vec![0, 1, 1, 3]);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,2-3").unwrap(), vec![0, 2, 3]);
        assert!(parse_cpu_list("3-1").is_err());
    }
}
