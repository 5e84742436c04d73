//! The capability probe behind `tracekit check`: for every feature of the
//! product, whether this kernel offers it, why not (missing file, EPERM from
//! a policy, absent from `available_tracers`, the config option), and the
//! fallback tracekit uses instead. Active checks run in a temporary private
//! instance and change nothing else; side-effect-heavy tracers (hwlat,
//! osnoise, timerlat, mmiotrace) are only looked up, never switched on.

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::features::{tracer_config, tracer_fallback, KNOWN_TRACERS};
use crate::instance::Instance;
use crate::root::{Mode, Tracefs};
use crate::Error;

/// Availability of one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Usable.
    Yes,
    /// Usable with limits (e.g. top level only).
    Partial,
    /// Not usable.
    No,
    /// Present but not tested (side effects, or --dry-run).
    Untested,
}

impl Availability {
    /// Short word for tables.
    pub fn word(self) -> &'static str {
        match self {
            Availability::Yes => "yes",
            Availability::Partial => "partial",
            Availability::No => "no",
            Availability::Untested => "untested",
        }
    }
}

/// One row of the capability report.
#[derive(Debug, Clone, Serialize)]
pub struct Capability {
    /// Group (`tracers`, `function tracing`, `events`, `probes`, `buffers`, `perf`, `system`).
    pub category: &'static str,
    /// Feature name (`function tracer`, `kprobes`).
    pub name: String,
    /// Whether it is available.
    pub available: Availability,
    /// The evidence or the reason.
    pub detail: String,
    /// The kernel config option that provides it.
    pub config: Option<String>,
    /// What tracekit uses when it is missing.
    pub fallback: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// `uname -r`.
    pub kernel: String,
    /// tracefs root.
    pub tracefs: String,
    /// Rows, in display order.
    pub features: Vec<Capability>,
}

impl Capabilities {
    /// Finds a row by name.
    pub fn get(&self, name: &str) -> Option<&Capability> {
        self.features.iter().find(|c| c.name == name)
    }

    /// Whether a feature is usable (yes or partial).
    pub fn has(&self, name: &str) -> bool {
        self.get(name)
            .map(|c| matches!(c.available, Availability::Yes | Availability::Partial))
            .unwrap_or(false)
    }
}

struct Rows(Vec<Capability>);

impl Rows {
    fn push(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        available: Availability,
        detail: impl Into<String>,
        config: Option<&str>,
        fallback: Option<&str>,
    ) {
        let available_ok = matches!(available, Availability::Yes);
        self.0.push(Capability {
            category,
            name: name.into(),
            available,
            detail: detail.into(),
            config: config.map(str::to_string),
            fallback: if available_ok {
                None
            } else {
                fallback.map(str::to_string)
            },
        });
    }
}

/// How a file can be opened for reading.
enum Access {
    Ok,
    Missing,
    Eperm,
    Other(String),
}

fn access(p: &Path) -> Access {
    if p.is_dir() {
        return if p.exists() {
            Access::Ok
        } else {
            Access::Missing
        };
    }
    match fs::File::open(p) {
        Ok(_) => Access::Ok,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Access::Missing,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
            Access::Eperm
        }
        Err(e) => Access::Other(e.to_string()),
    }
}

/// Kernel symbol names (for features tracefs cannot show without side effects).
fn kallsyms_has(names: &[&str]) -> Option<bool> {
    let text = fs::read_to_string("/proc/kallsyms").ok()?;
    Some(text.lines().any(|l| {
        l.split_whitespace()
            .nth(2)
            .map(|s| names.contains(&s))
            .unwrap_or(false)
    }))
}

fn file_row(
    rows: &mut Rows,
    tfs: &Tracefs,
    category: &'static str,
    name: &str,
    rel: &str,
    config: &str,
    fallback: &str,
) -> bool {
    let p = tfs.path(rel);
    match access(&p) {
        Access::Ok => {
            rows.push(
                category,
                name,
                Availability::Yes,
                format!("{rel} present"),
                Some(config),
                None,
            );
            true
        }
        Access::Missing => {
            rows.push(
                category,
                name,
                Availability::No,
                format!("{rel} does not exist: not built into this kernel"),
                Some(config),
                Some(fallback),
            );
            false
        }
        Access::Eperm => {
            rows.push(
                category,
                name,
                Availability::No,
                format!("{rel} exists but opening it fails with EPERM even as root: blocked by a kernel policy (lockdown/LSM)"),
                Some(config),
                Some(fallback),
            );
            false
        }
        Access::Other(e) => {
            rows.push(
                category,
                name,
                Availability::No,
                format!("{rel}: {e}"),
                Some(config),
                Some(fallback),
            );
            false
        }
    }
}

/// Runs every check. Active checks use a temporary instance (`tk-check-PID-N`)
/// that is removed before returning; in `--dry-run` mode they are skipped.
pub fn probe(tfs: &Tracefs) -> Capabilities {
    let mut rows = Rows(Vec::new());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let top = Instance::top(tfs);
    let active = tfs.mode() == Mode::Apply;

    // Instances (needed for the active checks).
    let tmp = if active && tfs.path("instances").is_dir() {
        Instance::create_unique(tfs, "tk-check").map_err(|e| e.to_string())
    } else if !tfs.path("instances").is_dir() {
        Err("instances/ does not exist".to_string())
    } else {
        Err("not tested in --dry-run mode".to_string())
    };
    match &tmp {
        Ok(_) => rows.push(
            "buffers",
            "instances",
            Availability::Yes,
            "created and removed a private instance",
            Some("CONFIG_TRACING"),
            None,
        ),
        Err(e) if !active => rows.push(
            "buffers",
            "instances",
            Availability::Untested,
            e.clone(),
            Some("CONFIG_TRACING"),
            None,
        ),
        Err(e) => rows.push(
            "buffers",
            "instances",
            Availability::No,
            e.clone(),
            Some("CONFIG_TRACING (Linux 3.10+)"),
            Some("the top-level buffer, every change journaled and restored"),
        ),
    }

    // Tracers.
    let top_tracers = top.available_tracers().unwrap_or_default();
    let inst_tracers = tmp
        .as_ref()
        .ok()
        .and_then(|i| i.available_tracers().ok())
        .unwrap_or_default();
    let ftrace_filter_blocked = matches!(access(&tfs.path("set_ftrace_filter")), Access::Eperm);
    for &t in KNOWN_TRACERS {
        let name = format!("{t} tracer");
        let cfg = tracer_config(t);
        let fb = tracer_fallback(t);
        if !top_tracers.iter().any(|x| x == t) {
            rows.push(
                "tracers",
                name,
                Availability::No,
                "not in available_tracers",
                Some(cfg),
                Some(fb),
            );
            continue;
        }
        let testable = matches!(
            t,
            "function"
                | "function_graph"
                | "irqsoff"
                | "preemptoff"
                | "preemptirqsoff"
                | "wakeup"
                | "wakeup_rt"
                | "wakeup_dl"
                | "blk"
                | "nop"
        );
        let in_inst = inst_tracers.iter().any(|x| x == t);
        let result = match (&tmp, testable, in_inst) {
            (Ok(inst), true, true) => {
                let r = inst.set_tracer(t);
                let _ = inst.set_tracer("nop");
                Some(r)
            }
            _ => None,
        };
        let function_based = matches!(t, "function" | "function_graph");
        match result {
            Some(Ok(())) => rows.push(
                "tracers",
                name,
                Availability::Yes,
                "works in instances and at the top level",
                Some(cfg),
                None,
            ),
            Some(Err(Error::Unsupported(u))) => {
                let top = if function_based && ftrace_filter_blocked {
                    "; at the top level too (set_ftrace_filter is EPERM)"
                } else {
                    ""
                };
                rows.push("tracers", name, Availability::No, format!("{}{top}", u.reason), Some(cfg), Some(fb))
            }
            Some(Err(e)) => rows.push("tracers", name, Availability::No, e.to_string(), Some(cfg), Some(fb)),
            None if function_based && ftrace_filter_blocked => rows.push(
                "tracers",
                name,
                Availability::No,
                "listed, but set_ftrace_filter is EPERM even for root: function tracing is blocked by a kernel policy",
                Some(cfg),
                Some(fb),
            ),
            None if testable && tmp.is_ok() => rows.push(
                "tracers",
                name,
                Availability::Yes,
                "top level only: this kernel does not offer it in instances (function_graph in instances needs Linux 6.12+); tracekit uses the top-level buffer, journaled",
                Some(cfg),
                None,
            ),
            None => rows.push(
                "tracers",
                name,
                Availability::Untested,
                if testable { "listed in available_tracers (not tested)" } else { "listed in available_tracers (not switched on: it has side effects)" },
                Some(cfg),
                None,
            ),
        }
    }

    // Function tracing extras.
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "function filters",
        "set_ftrace_filter",
        "CONFIG_DYNAMIC_FTRACE",
        "trace the syscall tracepoints that cover the function",
    );
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "function pid filter",
        "set_ftrace_pid",
        "CONFIG_FUNCTION_TRACER",
        "event pid filters (set_event_pid)",
    );
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "graph function filters",
        "set_graph_function",
        "CONFIG_FUNCTION_GRAPH_TRACER",
        "function tracer with set_ftrace_filter",
    );
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "max_graph_depth",
        "max_graph_depth",
        "CONFIG_FUNCTION_GRAPH_TRACER",
        "depth filtering in user space",
    );
    let graph_opts = top
        .options()
        .map(|o| {
            o.iter()
                .filter(|(n, _)| n.starts_with("funcgraph-"))
                .count()
        })
        .unwrap_or(0);
    rows.push(
        "function tracing",
        "graph options",
        if graph_opts > 0 {
            Availability::Yes
        } else {
            Availability::No
        },
        format!("{graph_opts} funcgraph-* options"),
        Some("CONFIG_FUNCTION_GRAPH_TRACER"),
        Some("default graph output"),
    );
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "function profiler",
        "function_profile_enabled",
        "CONFIG_FUNCTION_PROFILER",
        if tfs
            .read_rel("available_tracers")
            .is_ok_and(|t| t.split_whitespace().any(|x| x == "function_graph"))
        {
            "`tracekit profile` sums the function_graph tracer's call times instead"
        } else {
            "none (neither the profiler nor the function_graph tracer)"
        },
    );
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "stack tracer",
        "stack_trace",
        "CONFIG_STACK_TRACER",
        "stacktrace trigger or option on events",
    );
    file_row(
        &mut rows,
        tfs,
        "function tracing",
        "latency max (tracing_max_latency)",
        "tracing_max_latency",
        "CONFIG_TRACER_MAX_TRACE",
        "none yet (needs the kernel's latency tracers)",
    );

    // Events and triggers.
    let has_events = file_row(
        &mut rows,
        tfs,
        "events",
        "trace events",
        "events",
        "CONFIG_EVENT_TRACING",
        "none",
    );
    file_row(
        &mut rows,
        tfs,
        "events",
        "syscall tracepoints",
        "events/syscalls",
        "CONFIG_FTRACE_SYSCALLS",
        "raw_syscalls:sys_enter/sys_exit",
    );
    let trigger_text = top
        .read("events/sched/sched_switch/trigger")
        .unwrap_or_default();
    let header: Vec<&str> = trigger_text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .collect();
    for (trig, cfg, fb) in [
        (
            "traceon",
            "CONFIG_EVENT_TRACING",
            "tracekit stops the recording itself",
        ),
        (
            "traceoff",
            "CONFIG_EVENT_TRACING",
            "tracekit stops the recording itself",
        ),
        (
            "stacktrace",
            "CONFIG_STACKTRACE",
            "the stacktrace option (-T) on all events",
        ),
        (
            "enable_event",
            "CONFIG_EVENT_TRACING",
            "enable both events and filter in user space",
        ),
        (
            "disable_event",
            "CONFIG_EVENT_TRACING",
            "enable both events and filter in user space",
        ),
        (
            "snapshot",
            "CONFIG_TRACER_SNAPSHOT",
            "traceoff trigger on an overwrite-mode recording",
        ),
        (
            "hist",
            "CONFIG_HIST_TRIGGERS",
            "record the events and aggregate in user space (report --summary)",
        ),
    ] {
        let ok = header.contains(&trig);
        rows.push(
            "events",
            format!("{trig} trigger"),
            if ok {
                Availability::Yes
            } else {
                Availability::No
            },
            if ok {
                "listed in the trigger file".to_string()
            } else if has_events {
                "not listed in events/sched/sched_switch/trigger".to_string()
            } else {
                "no events".to_string()
            },
            Some(cfg),
            Some(fb),
        );
    }
    file_row(
        &mut rows,
        tfs,
        "events",
        "synthetic events",
        "synthetic_events",
        "CONFIG_SYNTH_EVENTS",
        "join the events in user space",
    );
    file_row(
        &mut rows,
        tfs,
        "events",
        "snapshot buffer",
        "snapshot",
        "CONFIG_TRACER_SNAPSHOT",
        "overwrite-mode recording",
    );
    file_row(
        &mut rows,
        tfs,
        "events",
        "error_log",
        "error_log",
        "Linux 5.4+",
        "errno only",
    );

    // Dynamic probes.
    file_row(
        &mut rows,
        tfs,
        "probes",
        "kprobes",
        "kprobe_events",
        "CONFIG_KPROBE_EVENTS",
        "tracepoints ranked by name (tracekit probe suggests them)",
    );
    file_row(
        &mut rows,
        tfs,
        "probes",
        "uprobes",
        "uprobe_events",
        "CONFIG_UPROBE_EVENTS",
        "perf uprobe PMU if present",
    );
    let dynev = matches!(access(&tfs.path("dynamic_events")), Access::Ok);
    for (name, syms, cfg, fb) in [
        (
            "eprobes",
            &[
                "__trace_eprobe_create",
                "trace_eprobe_create",
                "eprobe_register",
            ][..],
            "CONFIG_EPROBE_EVENTS",
            "filter the original event in user space",
        ),
        (
            "fprobes",
            &[
                "trace_fprobe_create",
                "__trace_fprobe_create",
                "trace_fprobe_create_cb",
            ][..],
            "CONFIG_FPROBE_EVENTS (Linux 6.4+)",
            "kprobes/kretprobes",
        ),
    ] {
        let (avail, detail) = match (dynev, kallsyms_has(syms)) {
            (false, _) => (
                Availability::No,
                "dynamic_events does not exist".to_string(),
            ),
            (true, Some(true)) => (
                Availability::Yes,
                "dynamic_events present and the kernel has the handler".to_string(),
            ),
            (true, Some(false)) => (
                Availability::No,
                "the kernel has no handler for it (checked /proc/kallsyms)".to_string(),
            ),
            (true, None) => (
                Availability::Untested,
                "/proc/kallsyms unreadable".to_string(),
            ),
        };
        rows.push("probes", name, avail, detail, Some(cfg), Some(fb));
    }
    let tprobe = kallsyms_has(&[
        "trace_fprobe_create",
        "__trace_fprobe_create",
        "trace_fprobe_create_cb",
    ])
    .unwrap_or(false);
    rows.push(
        "probes",
        "tracepoint probes",
        if dynev && tprobe {
            Availability::Yes
        } else {
            Availability::No
        },
        if dynev && tprobe {
            "t: probes via dynamic_events"
        } else {
            "needs fprobe events (Linux 6.4+)"
        },
        Some("CONFIG_FPROBE_EVENTS"),
        Some("the tracepoint itself"),
    );
    let btf = Path::new("/sys/kernel/btf/vmlinux");
    match access(btf) {
        Access::Ok => rows.push(
            "probes",
            "BTF",
            Availability::Yes,
            format!(
                "{} ({} bytes)",
                btf.display(),
                fs::metadata(btf).map(|m| m.len()).unwrap_or(0)
            ),
            Some("CONFIG_DEBUG_INFO_BTF"),
            None,
        ),
        _ => rows.push(
            "probes",
            "BTF",
            Availability::No,
            "/sys/kernel/btf/vmlinux missing",
            Some("CONFIG_DEBUG_INFO_BTF"),
            Some("raw registers (%di) and $argN"),
        ),
    }

    // Buffers.
    file_row(
        &mut rows,
        tfs,
        "buffers",
        "sub-buffer size",
        "buffer_subbuf_size_kb",
        "Linux 6.8+",
        "page-sized sub-buffers",
    );
    let mmap = match &tmp {
        Ok(inst) => mmap_check(&inst.path("per_cpu/cpu0/trace_pipe_raw")),
        Err(e) => (Availability::Untested, e.clone()),
    };
    rows.push(
        "buffers",
        "mmap of trace_pipe_raw",
        mmap.0,
        mmap.1,
        Some("Linux 6.10+"),
        Some("splice(2) of trace_pipe_raw"),
    );
    let (clock, clocks) = top.trace_clock().unwrap_or_default();
    rows.push(
        "buffers",
        "trace clocks",
        Availability::Yes,
        format!("{} (current: {clock})", clocks.join(" ")),
        None,
        None,
    );

    // perf_event PMUs.
    let pmus: Vec<String> = fs::read_dir("/sys/bus/event_source/devices")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let has = |n: &str| pmus.iter().any(|p| p == n);
    let hw = pmus.iter().any(|p| {
        p == "cpu" || p.starts_with("cpu_") || p.starts_with("armv8") || p.starts_with("arm_")
    });
    let paranoid = fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    rows.push(
        "perf",
        "perf_event_open",
        if pmus.is_empty() {
            Availability::No
        } else {
            Availability::Yes
        },
        format!("PMUs: {} (perf_event_paranoid={paranoid})", pmus.join(" ")),
        Some("CONFIG_PERF_EVENTS"),
        Some("tracefs only"),
    );
    rows.push(
        "perf",
        "hardware counters",
        if hw {
            Availability::Yes
        } else {
            Availability::No
        },
        if hw {
            "core PMU registered"
        } else {
            "no core PMU (virtual machine without PMU passthrough?)"
        },
        Some("a CPU PMU (cpu/cpu_core/armv8_pmuv3)"),
        Some("software events: cpu-clock, task-clock, page-faults, context-switches"),
    );
    rows.push(
        "perf",
        "software events",
        if has("software") {
            Availability::Yes
        } else {
            Availability::No
        },
        "software PMU",
        Some("CONFIG_PERF_EVENTS"),
        Some("none"),
    );
    rows.push(
        "perf",
        "tracepoint PMU",
        if has("tracepoint") {
            Availability::Yes
        } else {
            Availability::No
        },
        "tracepoint PMU",
        Some("CONFIG_PERF_EVENTS + CONFIG_EVENT_TRACING"),
        Some("tracefs events"),
    );
    rows.push(
        "perf",
        "uprobe PMU",
        if has("uprobe") {
            Availability::Yes
        } else {
            Availability::No
        },
        "uprobe PMU",
        Some("CONFIG_UPROBE_EVENTS"),
        Some("uprobe_events"),
    );
    rows.push(
        "perf",
        "kprobe PMU",
        if has("kprobe") {
            Availability::Yes
        } else {
            Availability::No
        },
        "kprobe PMU",
        Some("CONFIG_KPROBE_EVENTS"),
        Some("kprobe_events, else tracepoints"),
    );

    // System policy.
    if let Ok(l) = fs::read_to_string("/sys/kernel/security/lockdown") {
        let mode = crate::values::selected(&l).unwrap_or_default();
        rows.push(
            "system",
            "lockdown",
            if mode == "none" {
                Availability::Yes
            } else {
                Availability::Partial
            },
            format!("lockdown mode: {mode}"),
            None,
            None,
        );
    }

    const ORDER: &[&str] = &[
        "tracers",
        "function tracing",
        "events",
        "probes",
        "buffers",
        "perf",
        "system",
    ];
    rows.0.sort_by_key(|c| {
        ORDER
            .iter()
            .position(|o| *o == c.category)
            .unwrap_or(ORDER.len())
    });
    if let Ok(inst) = tmp {
        if let Err(e) = inst.destroy() {
            log::warn!("removing the check instance: {e}");
        }
    }
    Capabilities {
        kernel,
        tracefs: tfs.root().display().to_string(),
        features: rows.0,
    }
}

fn mmap_check(path: &Path) -> (Availability, String) {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return (Availability::No, format!("{}: {e}", path.display())),
    };
    let page = rustix::param::page_size();
    // SAFETY: a read-only shared mapping of the meta page of a private
    // instance's ring buffer; it is unmapped right away and never read
    // after that.
    let res = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            page,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            &file,
            0,
        )
    };
    match res {
        Ok(p) => {
            // SAFETY: `p` was returned by the mmap above with length `page`.
            let _ = unsafe { rustix::mm::munmap(p, page) };
            (
                Availability::Yes,
                "mapped the meta page of per_cpu/cpu0/trace_pipe_raw".into(),
            )
        }
        Err(e) => (
            Availability::No,
            format!("mmap failed: {} (Linux 6.10+ needed)", io::Error::from(e)),
        ),
    }
}
