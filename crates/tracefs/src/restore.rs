//! Undoing journaled changes (`tracekit reset`), and the explicit
//! `reset --all` that puts a trace array back to the kernel's defaults.
//!
//! Journal undo order: instances are removed first (that disables whatever
//! was enabled in them), then settings and triggers newest first, then
//! probes (which fail with EBUSY while enabled anywhere). A setting whose
//! current value is no longer what tracekit wrote was changed by someone
//! else since: it is left alone and reported.

use crate::error::Result;
use crate::journal::{Entry, Owner, OwnerState, Session};
use crate::root::{Tracefs, TracefsOptions, WriteMode};
use crate::{values, Instance};

/// What a restore did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RestoreReport {
    /// Actions performed (`events/sched/sched_switch/enable: 1 -> 0`).
    pub restored: Vec<String>,
    /// Actions skipped, with the reason.
    pub skipped: Vec<String>,
    /// Actions that failed, with the error.
    pub failed: Vec<String>,
}

impl RestoreReport {
    /// Appends another report.
    pub fn merge(&mut self, other: RestoreReport) {
        self.restored.extend(other.restored);
        self.skipped.extend(other.skipped);
        self.failed.extend(other.failed);
    }
}

fn mark_undone(session: &Session, seq: u64, tfs: &Tracefs) {
    if tfs.applies() {
        let _ = crate::journal::mark_undone(&session.path, seq, false);
    }
}

/// A handle on the tracefs a session changed (its own root), in `mode`.
pub fn tracefs_for(owner: &Owner, current: &Tracefs) -> Result<Tracefs> {
    if owner.root == current.root() {
        return Ok(current.clone());
    }
    let mode = current.mode();
    Tracefs::open(TracefsOptions {
        root: Some(owner.root.clone()),
        mode,
        // The default sink: stdout, a closed pipe ignored.
        echo: None,
        journal: None,
        mount_if_needed: false,
        pause_after_changes: None,
    })
}

/// Undoes everything a session recorded and not yet undone. Returns what was
/// done; the journal file is removed when nothing is left.
pub fn restore_session(tfs: &Tracefs, session: &Session) -> RestoreReport {
    restore_sessions(tfs, std::slice::from_ref(session))
}

/// Undoes several sessions of the same tracefs together: instances of all of
/// them first, then settings and triggers newest first across sessions, then
/// probes (a probe enabled in another session's instance is only free once
/// that instance is gone).
pub fn restore_sessions(tfs: &Tracefs, sessions: &[Session]) -> RestoreReport {
    restore_sessions_where(tfs, sessions, |_| true)
}

/// Whether a journal entry concerns instance `name` (its creation or one of
/// its files).
pub fn concerns_instance(e: &Entry, name: &str) -> bool {
    let prefix = format!("instances/{name}/");
    match e {
        Entry::InstanceCreated { name: n, .. } => n == name,
        Entry::Set { file, .. } | Entry::TriggerAdded { file, .. } => file.starts_with(&prefix),
        _ => false,
    }
}

/// [`restore_sessions`] for the pending entries `keep` selects (e.g. one
/// instance's, [`concerns_instance`]).
pub fn restore_sessions_where(
    tfs: &Tracefs,
    sessions: &[Session],
    keep: impl Fn(&Entry) -> bool,
) -> RestoreReport {
    let mut rep = RestoreReport::default();
    let mut items: Vec<(&Session, &Entry)> = sessions
        .iter()
        .flat_map(|s| s.pending().into_iter().map(move |e| (s, e)))
        .filter(|(_, e)| keep(e))
        .collect();
    items.sort_by_key(|(_, e)| std::cmp::Reverse(entry_seq(e)));
    // 1. Instances.
    for (session, e) in &items {
        if let Entry::InstanceCreated { seq, name } = e {
            let dir = tfs.path("instances").join(name);
            if !dir.exists() {
                rep.skipped.push(format!("instance {name}: already gone"));
                mark_undone(session, *seq, tfs);
                continue;
            }
            match tfs.rmdir(&dir) {
                Ok(()) => {
                    rep.restored.push(format!("removed instance {name}"));
                    mark_undone(session, *seq, tfs);
                }
                Err(e) => rep.failed.push(format!("instance {name}: {e}")),
            }
        }
    }
    // 2. Settings and triggers, newest first.
    for (session, e) in &items {
        match e {
            Entry::Set {
                seq,
                file,
                prev,
                new,
            } => restore_set(tfs, session, *seq, file, prev, new, &mut rep),
            Entry::TriggerAdded { seq, file, trigger } => {
                restore_trigger(tfs, session, *seq, file, trigger, &mut rep)
            }
            _ => {}
        }
    }
    // 3. Probes.
    for (session, e) in &items {
        if let Entry::ProbeCreated {
            seq, file, event, ..
        } = e
        {
            let (group, name) = event.split_once('/').unwrap_or(("", event));
            if !tfs.path(&format!("events/{group}/{name}")).exists() {
                rep.skipped.push(format!("probe {event}: already gone"));
                mark_undone(session, *seq, tfs);
                continue;
            }
            match delete_probe(tfs, file, event) {
                Ok(()) => {
                    rep.restored.push(format!("deleted probe {event}"));
                    mark_undone(session, *seq, tfs);
                }
                Err(e) => rep.failed.push(format!("probe {event}: {e}")),
            }
        }
    }
    // 4. Temporary files of a recording that did not end (kill -9).
    for (session, e) in &items {
        if let Entry::TempFiles { seq, dir, prefix } = e {
            let what = format!("temporary files {}*", dir.join(prefix).display());
            if !tfs.applies() {
                rep.restored.push(format!("removed {what}"));
                continue;
            }
            match crate::journal::remove_temp_files(dir, prefix) {
                Ok(0) => rep.skipped.push(format!("{what}: already gone")),
                Ok(n) => rep.restored.push(format!("removed {n} {what}")),
                Err(e) => {
                    rep.failed.push(format!("{what}: {e}"));
                    continue;
                }
            }
            mark_undone(session, *seq, tfs);
        }
    }
    if tfs.applies() {
        for s in sessions {
            if let Ok(now) = Session::load(&s.path) {
                if now.pending().is_empty() {
                    let _ = std::fs::remove_file(&s.path);
                }
            }
        }
    }
    rep
}

fn entry_seq(e: &Entry) -> u64 {
    match e {
        Entry::Set { seq, .. }
        | Entry::TriggerAdded { seq, .. }
        | Entry::InstanceCreated { seq, .. }
        | Entry::ProbeCreated { seq, .. }
        | Entry::TempFiles { seq, .. }
        | Entry::Applied { seq, .. }
        | Entry::Undone { seq } => *seq,
        _ => 0,
    }
}

/// Deletes a probe, retrying briefly on EBUSY (an instance that had it
/// enabled may still be going away).
fn delete_probe(tfs: &Tracefs, file: &str, event: &str) -> crate::Result<()> {
    let mut tries = 0;
    loop {
        match tfs.write(&tfs.path(file), &format!("-:{event}"), WriteMode::Append) {
            Err(crate::Error::Write { error, .. })
                if error.raw_os_error() == Some(libc::EBUSY) && tries < 10 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            r => return r,
        }
    }
}

fn restore_set(
    tfs: &Tracefs,
    session: &Session,
    seq: u64,
    file: &str,
    prev: &str,
    new: &str,
    rep: &mut RestoreReport,
) {
    let path = tfs.path(file);
    if file.starts_with("instances/") && !path.exists() {
        rep.skipped.push(format!("{file}: instance gone"));
        mark_undone(session, seq, tfs);
        return;
    }
    let current = match tfs.read(&path) {
        Ok(t) => values::normalize(file, &t),
        Err(e) => {
            rep.failed.push(format!("{file}: {e}"));
            return;
        }
    };
    if current == prev {
        rep.skipped.push(format!("{file}: already '{prev}'"));
        mark_undone(session, seq, tfs);
        return;
    }
    let expected = session
        .readback(seq)
        .map(str::to_string)
        .unwrap_or_else(|| values::normalize(file, new));
    let applied = session.readback(seq).is_some();
    if applied && current != expected {
        rep.skipped.push(format!(
            "{file}: now '{current}', not the '{expected}' tracekit set: changed by someone else since, left alone"
        ));
        return;
    }
    let value = values::restore_value(file, prev);
    match tfs.write(&path, &value, WriteMode::Replace) {
        Ok(()) => {
            rep.restored
                .push(format!("{file}: '{current}' -> '{prev}'"));
            mark_undone(session, seq, tfs);
        }
        Err(e) => rep.failed.push(format!("{file}: {e}")),
    }
}

fn restore_trigger(
    tfs: &Tracefs,
    session: &Session,
    seq: u64,
    file: &str,
    trigger: &str,
    rep: &mut RestoreReport,
) {
    let path = tfs.path(file);
    if !path.exists() {
        rep.skipped.push(format!("{file}: gone"));
        mark_undone(session, seq, tfs);
        return;
    }
    let active = tfs
        .read(&path)
        .map(|t| values::normalize("trigger", &t))
        .unwrap_or_default();
    let cmd = values::trigger_removal(trigger);
    let name = cmd.trim_start_matches('!');
    let base = name.split(':').next().unwrap_or(name);
    if !active.lines().any(|l| l.starts_with(base)) {
        rep.skipped
            .push(format!("{file}: trigger '{trigger}' no longer active"));
        mark_undone(session, seq, tfs);
        return;
    }
    match tfs.write(&path, &cmd, WriteMode::Append) {
        Ok(()) => {
            rep.restored
                .push(format!("{file}: removed trigger '{trigger}'"));
            mark_undone(session, seq, tfs);
        }
        Err(e) => rep.failed.push(format!("{file}: {e}")),
    }
}

/// What `reset` should do with a session found in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SessionKind {
    /// A running tracekit owns it: leave it (it restores itself on exit).
    Running,
    /// Left in place on purpose (`set`, `start`): reset restores it.
    Persistent,
    /// Its owner died without restoring (crash, SIGKILL): reset repairs it.
    Stale,
    /// From an earlier boot: nothing to restore, the file is discarded.
    OtherBoot,
}

/// Classifies a journal session.
pub fn classify(session: &Session) -> SessionKind {
    match session.owner.state() {
        OwnerState::OtherBoot => SessionKind::OtherBoot,
        OwnerState::Alive => SessionKind::Running,
        OwnerState::Gone if session.persistent() => SessionKind::Persistent,
        OwnerState::Gone => SessionKind::Stale,
    }
}

/// `reset --all` for one trace array: tracing on, nop tracer, every event
/// disabled with its filters and triggers removed, pid filters and function
/// filters cleared, graph depth and thresholds zero, the default clock
/// ([`boot_trace_clock`] at the top level, `local` in instances), default
/// options. Probes and instances are not touched here.
pub fn reset_to_defaults(inst: &Instance) -> RestoreReport {
    let mut rep = RestoreReport::default();
    let mut step = |what: String, r: Result<()>| match r {
        Ok(()) => rep.restored.push(what),
        Err(crate::Error::Unsupported(_)) => rep.skipped.push(format!("{what}: not available")),
        Err(e) => rep.failed.push(format!("{what}: {e}")),
    };
    let tfs = inst.tracefs();
    let w = |rel: &str, v: &str| tfs.write(&inst.path(rel), v, WriteMode::Replace);
    step("tracing_on=1".into(), w("tracing_on", "1"));
    if inst.current_tracer().map(|t| t != "nop").unwrap_or(false) {
        step("current_tracer=nop".into(), w("current_tracer", "nop"));
    }
    step("all events disabled".into(), w("events/enable", "0"));
    // Filters and triggers of every event.
    let mut filters = 0;
    let mut triggers = 0;
    if let Ok(systems) = std::fs::read_dir(inst.path("events")) {
        for sys in systems.flatten().filter(|e| e.path().is_dir()) {
            let sp = sys.path();
            if let Ok(t) = crate::root::read_text(&sp.join("filter")) {
                if !values::normalize("filter", &t).is_empty() {
                    let _ = tfs.write(&sp.join("filter"), "0", WriteMode::Replace);
                }
            }
            let Ok(evs) = std::fs::read_dir(&sp) else {
                continue;
            };
            for ev in evs.flatten().filter(|e| e.path().is_dir()) {
                let ep = ev.path();
                if let Ok(t) = crate::root::read_text(&ep.join("filter")) {
                    if !values::normalize("filter", &t).is_empty()
                        && tfs
                            .write(&ep.join("filter"), "0", WriteMode::Replace)
                            .is_ok()
                    {
                        filters += 1;
                    }
                }
                if let Ok(t) = crate::root::read_text(&ep.join("trigger")) {
                    for trig in values::normalize("trigger", &t).lines() {
                        if tfs
                            .write(
                                &ep.join("trigger"),
                                &values::trigger_removal(trig),
                                WriteMode::Append,
                            )
                            .is_ok()
                        {
                            triggers += 1;
                        }
                    }
                }
            }
        }
    }
    step(
        format!("{filters} event filters cleared, {triggers} triggers removed"),
        Ok(()),
    );
    for f in [
        "set_event_pid",
        "set_event_notrace_pid",
        "set_ftrace_filter",
        "set_ftrace_notrace",
        "set_ftrace_pid",
        "set_ftrace_notrace_pid",
        "set_graph_function",
        "set_graph_notrace",
    ] {
        if inst.has(f) {
            step(format!("{f} cleared"), w(f, ""));
        }
    }
    for (f, v) in [("max_graph_depth", "0"), ("tracing_thresh", "0")] {
        if inst.has(f) {
            step(format!("{f}={v}"), w(f, v));
        }
    }
    if inst.has("function_profile_enabled") {
        step(
            "function_profile_enabled=0".into(),
            w("function_profile_enabled", "0"),
        );
    }
    // Instances start with `local`; the top level with the boot default.
    let default_clock = if inst.name().is_some() {
        Some("local".to_string())
    } else {
        boot_trace_clock()
    };
    match (inst.trace_clock(), default_clock) {
        (Ok((cur, _)), Some(def)) if cur != def => {
            step(format!("trace_clock={def}"), w("trace_clock", &def));
        }
        (Ok((cur, _)), None) => step(
            format!("trace_clock: left '{cur}' (the boot default is unknown: no trace_clock= on the command line and the kernel log is not readable)"),
            Ok(()),
        ),
        _ => {}
    }
    for (opt, on) in DEFAULT_OPTIONS {
        let rel = format!("options/{opt}");
        if let Ok(cur) = inst.read(&rel) {
            let want = if *on { "1" } else { "0" };
            if cur.trim() != want {
                step(format!("options/{opt}={want}"), w(&rel, want));
            }
        }
    }
    rep
}

/// The top-level trace clock the kernel booted with: `trace_clock=` on the
/// command line, else `global` when the kernel log says it switched to it
/// (an unstable sched clock: "Unstable clock detected, switching default
/// tracing clock to \"global\""), else `local` when the log is readable and
/// says nothing, else unknown.
pub fn boot_trace_clock() -> Option<String> {
    if let Ok(cmdline) = std::fs::read_to_string("/proc/cmdline") {
        if let Some(c) = cmdline
            .split_whitespace()
            .find_map(|w| w.strip_prefix("trace_clock="))
        {
            return Some(c.to_string());
        }
    }
    let log = kernel_log()?;
    Some(
        if log.contains("switching default tracing clock to \"global\"") {
            "global"
        } else {
            "local"
        }
        .to_string(),
    )
}

/// The kernel log as `/dev/kmsg` holds it (non-blocking, all records).
fn kernel_log() -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .ok()?;
    let mut out = String::new();
    let mut buf = vec![0u8; 8192];
    // One record per read; EAGAIN at the end. Bounded.
    for _ in 0..1_000_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue, // overwritten record
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Some(out)
}

/// Kernel defaults of the common `options/*` (those not listed are left).
pub const DEFAULT_OPTIONS: &[(&str, bool)] = &[
    ("print-parent", true),
    ("sym-offset", false),
    ("sym-addr", false),
    ("verbose", false),
    ("raw", false),
    ("hex", false),
    ("bin", false),
    ("block", false),
    ("fields", false),
    ("trace_printk", true),
    ("annotate", true),
    ("userstacktrace", false),
    ("sym-userobj", false),
    ("printk-msg-only", false),
    ("context-info", true),
    ("latency-format", false),
    ("record-cmd", true),
    ("record-tgid", false),
    ("overwrite", true),
    ("disable_on_free", false),
    ("irq-info", true),
    ("markers", true),
    ("event-fork", false),
    ("pause-on-trace", false),
    ("hash-ptr", true),
    ("function-trace", true),
    ("function-fork", false),
    ("display-graph", false),
    ("stacktrace", false),
    ("func_stack_trace", false),
    ("funcgraph-overrun", false),
    ("funcgraph-cpu", true),
    ("funcgraph-overhead", true),
    ("funcgraph-proc", false),
    ("funcgraph-duration", true),
    ("funcgraph-abstime", false),
    ("funcgraph-irqs", true),
    ("funcgraph-tail", false),
    ("sleep-time", true),
    ("graph-time", true),
];
