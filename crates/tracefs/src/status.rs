//! A snapshot of the current ftrace state (what `trace-cmd stat` shows):
//! per trace array the tracer, enabled events, filters, triggers, pid and
//! function filters, buffer sizes, clock and non-default options; plus
//! instances, dynamic events and tracekit's own journaled sessions.

use serde::Serialize;

use crate::dynevents::{self, DynamicEvent};
use crate::error::Result;
use crate::instance::{list_instances, CpuStats, Instance};
use crate::journal::Session;
use crate::restore::{classify, SessionKind, DEFAULT_OPTIONS};
use crate::root::Tracefs;
use crate::values;

/// State of one trace array.
#[derive(Debug, Clone, Serialize)]
pub struct ArrayStatus {
    /// `None` for the top level.
    pub instance: Option<String>,
    /// Created by a tracekit session (journaled).
    pub tracekit_owned: bool,
    /// `current_tracer`.
    pub tracer: String,
    /// `tracing_on`.
    pub tracing_on: bool,
    /// Selected `trace_clock`.
    pub clock: String,
    /// `buffer_size_kb` per CPU (None when CPUs differ).
    pub buffer_size_kb: Option<u64>,
    /// `buffer_subbuf_size_kb` when the kernel has it.
    pub subbuf_size_kb: Option<u64>,
    /// `buffer_percent`.
    pub buffer_percent: Option<String>,
    /// `tracing_cpumask`.
    pub cpumask: Option<String>,
    /// Enabled events (`set_event`).
    pub events: Vec<String>,
    /// (event, filter) for every event with a filter.
    pub filters: Vec<(String, String)>,
    /// (event, trigger) for every active trigger.
    pub triggers: Vec<(String, String)>,
    /// `set_event_pid`.
    pub event_pids: Vec<String>,
    /// `set_event_notrace_pid`.
    pub event_notrace_pids: Vec<String>,
    /// `set_ftrace_filter` (None: absent or unreadable).
    pub ftrace_filter: Option<Vec<String>>,
    /// `set_ftrace_notrace`.
    pub ftrace_notrace: Option<Vec<String>>,
    /// `set_ftrace_pid`.
    pub ftrace_pid: Option<Vec<String>>,
    /// `set_graph_function`.
    pub graph_function: Option<Vec<String>>,
    /// `set_graph_notrace`.
    pub graph_notrace: Option<Vec<String>>,
    /// `max_graph_depth`.
    pub max_graph_depth: Option<String>,
    /// `tracing_thresh`.
    pub tracing_thresh: Option<String>,
    /// Options that differ from the kernel defaults.
    pub options_changed: Vec<(String, bool)>,
    /// Per-CPU ring-buffer statistics.
    pub cpu_stats: Vec<CpuStats>,
}

/// A dynamic event and whether it is tracekit's.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeStatus {
    /// The definition.
    pub probe: DynamicEvent,
    /// Created by tracekit.
    pub ours: bool,
}

/// A journaled tracekit session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionStatus {
    /// Owner pid.
    pub pid: u32,
    /// Owner command line.
    pub cmdline: String,
    /// Running, persistent, stale, other boot.
    pub kind: SessionKind,
    /// Number of changes not yet undone.
    pub pending: usize,
    /// Instances it created.
    pub instances: Vec<String>,
    /// Probes it created.
    pub probes: Vec<String>,
}

/// The whole snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// tracefs root.
    pub root: String,
    /// Top level first, then instances.
    pub arrays: Vec<ArrayStatus>,
    /// Dynamic events.
    pub probes: Vec<ProbeStatus>,
    /// tracekit sessions in the journal.
    pub sessions: Vec<SessionStatus>,
}

fn opt_list(inst: &Instance, rel: &str) -> Option<Vec<String>> {
    if !inst.has(rel) {
        return None;
    }
    inst.list(rel).ok()
}

fn opt_text(inst: &Instance, rel: &str) -> Option<String> {
    if !inst.has(rel) {
        return None;
    }
    inst.read(rel).ok().map(|s| s.trim().to_string())
}

/// State of one trace array.
pub fn array_status(inst: &Instance, owned: bool) -> Result<ArrayStatus> {
    let (clock, _) = inst.trace_clock()?;
    let mut filters = Vec::new();
    let mut triggers = Vec::new();
    if let Ok(systems) = std::fs::read_dir(inst.path("events")) {
        let mut systems: Vec<_> = systems.flatten().filter(|e| e.path().is_dir()).collect();
        systems.sort_by_key(|e| e.file_name());
        for sys in systems {
            let sname = sys.file_name().to_string_lossy().into_owned();
            let Ok(evs) = std::fs::read_dir(sys.path()) else {
                continue;
            };
            let mut evs: Vec<_> = evs.flatten().filter(|e| e.path().is_dir()).collect();
            evs.sort_by_key(|e| e.file_name());
            for ev in evs {
                let name = format!("{sname}:{}", ev.file_name().to_string_lossy());
                if let Ok(t) = crate::root::read_text(&ev.path().join("filter")) {
                    let f = values::normalize("filter", &t);
                    if !f.is_empty() {
                        filters.push((name.clone(), f));
                    }
                }
                if let Ok(t) = crate::root::read_text(&ev.path().join("trigger")) {
                    for trig in values::normalize("trigger", &t).lines() {
                        triggers.push((name.clone(), trig.to_string()));
                    }
                }
            }
        }
    }
    let options_changed = inst
        .options()
        .unwrap_or_default()
        .into_iter()
        .filter(|(n, on)| DEFAULT_OPTIONS.iter().any(|(dn, don)| dn == n && don != on))
        .collect();
    Ok(ArrayStatus {
        instance: inst.name().map(str::to_string),
        tracekit_owned: owned,
        tracer: inst.current_tracer()?,
        tracing_on: inst.tracing_on()?,
        clock,
        buffer_size_kb: inst.buffer_size_kb().ok().flatten(),
        subbuf_size_kb: inst.subbuf_size_kb().ok().flatten(),
        buffer_percent: opt_text(inst, "buffer_percent"),
        cpumask: opt_text(inst, "tracing_cpumask"),
        events: inst
            .enabled_events()
            .unwrap_or_default()
            .iter()
            .map(|e| e.to_string())
            .collect(),
        filters,
        triggers,
        event_pids: opt_list(inst, "set_event_pid").unwrap_or_default(),
        event_notrace_pids: opt_list(inst, "set_event_notrace_pid").unwrap_or_default(),
        ftrace_filter: opt_list(inst, "set_ftrace_filter"),
        ftrace_notrace: opt_list(inst, "set_ftrace_notrace"),
        ftrace_pid: opt_list(inst, "set_ftrace_pid"),
        graph_function: opt_list(inst, "set_graph_function"),
        graph_notrace: opt_list(inst, "set_graph_notrace"),
        max_graph_depth: opt_text(inst, "max_graph_depth"),
        tracing_thresh: opt_text(inst, "tracing_thresh"),
        options_changed,
        cpu_stats: inst.cpu_stats().unwrap_or_default(),
    })
}

/// Snapshot of everything; `only` restricts the arrays to one instance
/// (`Some(None)` = top level only).
pub fn status(tfs: &Tracefs, sessions: &[Session], only: Option<Option<&str>>) -> Result<Status> {
    let owned_names: Vec<String> = sessions.iter().flat_map(|s| s.instances()).collect();
    let mut arrays = Vec::new();
    let names: Vec<Option<String>> = match only {
        Some(n) => vec![n.map(str::to_string)],
        None => {
            let mut v = vec![None];
            v.extend(
                list_instances(tfs)
                    .unwrap_or_default()
                    .into_iter()
                    .map(Some),
            );
            v
        }
    };
    let listing_all = only.is_none();
    for n in names {
        let owned = n.as_ref().map(|n| owned_names.contains(n)).unwrap_or(false);
        let st = Instance::open(tfs, n.as_deref()).and_then(|inst| array_status(&inst, owned));
        match st {
            Ok(a) => arrays.push(a),
            // Another tracefs user removed it while we were listing.
            Err(_)
                if listing_all
                    && n.is_some()
                    && !tfs
                        .path("instances")
                        .join(n.as_deref().unwrap_or(""))
                        .exists() => {}
            Err(e) => return Err(e),
        }
    }
    let probes = dynevents::list(tfs)
        .unwrap_or_default()
        .into_iter()
        .map(|p| ProbeStatus {
            ours: dynevents::is_ours(&p, sessions),
            probe: p,
        })
        .collect();
    let sessions = sessions
        .iter()
        .map(|s| SessionStatus {
            pid: s.owner.pid,
            cmdline: s.owner.cmdline.clone(),
            kind: classify(s),
            pending: s.pending().len(),
            instances: s.instances(),
            probes: s.probes(),
        })
        .collect();
    Ok(Status {
        root: tfs.root().display().to_string(),
        arrays,
        probes,
        sessions,
    })
}
