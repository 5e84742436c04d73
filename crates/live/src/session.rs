//! A recording session (`tracekit record`): configure trace arrays (a
//! private instance by default), launch the command held before `exec`
//! until tracing is set up, record every CPU, stop, collect metadata and
//! write the trace.dat. Built as validate → prepare → run so that nothing
//! changes before every option was checked and every exit path stops
//! tracing; the caller's journal restores the rest.
//!
//! The output is written under a temporary name in its directory
//! (`.NAME.tkPID-RANDOM.tmp`, with the per-CPU files `.NAME.tkPID-RANDOM.*`)
//! and renamed onto `-o` at the very end: a failed or killed recording never
//! leaves a partial `-o`, and an existing `-o` survives it. The name prefix
//! is journaled before the first file is created, so `tracekit reset` removes
//! the files of a recording killed with SIGKILL.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracefs::journal::{Entry, Session};
use tracefs::restore::{classify, SessionKind};
use tracefs::{CpuStats, EventName, Instance, OwnedInstance, Tracefs};

use crate::error::{Error, Result};
use crate::recorder::{InPlace, Recorder, RecorderOptions};
use tracecmd::writer::{BufferInput, CpuWritten, Metadata, TraceDatWriter, WriterOptions};

/// Per-CPU buffer of tracekit's private recording instances, in KiB.
pub const DEFAULT_INSTANCE_BUFFER_KB: u64 = 4096;

/// An `-e` with its `-f` filter and `-R` triggers.
#[derive(Debug, Clone, Default)]
pub struct EventSpec {
    /// Selector (`sched`, `sched:sched_switch`, `all`).
    pub selector: String,
    /// Filter.
    pub filter: Option<String>,
    /// Triggers.
    pub triggers: Vec<String>,
}

/// One buffer to record: the main one (`name: None`) or `-B NAME`.
#[derive(Debug, Clone, Default)]
pub struct BufferSpec {
    /// Instance name for `-B`; None for the main buffer.
    pub name: Option<String>,
    /// Events.
    pub events: Vec<EventSpec>,
}

/// Everything `record` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RecordConfig {
    /// Buffers (the first is the main one).
    pub buffers: Vec<BufferSpec>,
    /// `-p`.
    pub tracer: Option<String>,
    /// `-l`.
    pub ftrace_filter: Vec<String>,
    /// `-n`.
    pub ftrace_notrace: Vec<String>,
    /// `-g`.
    pub graph_function: Vec<String>,
    /// `--max-graph-depth`.
    pub max_graph_depth: Option<u32>,
    /// `-O`.
    pub options: Vec<String>,
    /// `-T`: stack trace per event.
    pub stacktrace: bool,
    /// `-C`.
    pub clock: Option<String>,
    /// `-b` KiB per CPU.
    pub buffer_kb: Option<u64>,
    /// `--subbuf-size` KiB.
    pub subbuf_kb: Option<u64>,
    /// `-M`.
    pub cpumask: Option<String>,
    /// `-P`.
    pub pids: Vec<u32>,
    /// `-F`: only the command.
    pub only_command: bool,
    /// `-c`: and its children.
    pub children: bool,
    /// Record into the top-level buffer instead of a private instance.
    pub top_level: bool,
    /// Output file.
    pub output: PathBuf,
    /// `--date`.
    pub date: bool,
    /// `--proc-map`.
    pub proc_map: bool,
    /// Writer options.
    pub writer: WriterOptions,
    /// Recorder options.
    pub recorder: RecorderOptions,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// `--keep-command`: let the command run on when tracekit dies or the
    /// recording ends first (by default it is killed: it would run untraced).
    pub keep_command: bool,
    /// The directories the command is looked up in (the caller's `PATH`;
    /// `None`: [`DEFAULT_SEARCH_PATH`], as `execvp` without `PATH`).
    pub search_path: Option<std::ffi::OsString>,
}

/// Where `execvp` looks for a command when `PATH` is unset.
pub const DEFAULT_SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct RecordSummary {
    /// Per buffer and CPU: what was written.
    pub written: Vec<CpuWritten>,
    /// Per buffer (name) and CPU: final stats.
    pub stats: Vec<(String, CpuStats)>,
    /// Exit status of the command, if one ran.
    pub command_status: Option<std::process::ExitStatus>,
    /// Wall time recorded.
    pub elapsed: Duration,
    /// Per-CPU ring size (KiB) of the first buffer, as recorded with.
    pub buffer_kb: Option<u64>,
    /// The command was still running when the recording ended and was
    /// killed (not with `keep_command`).
    pub command_killed: bool,
}

impl RecordSummary {
    /// Events lost per (buffer, cpu).
    pub fn losses(&self) -> Vec<(String, u32, u64)> {
        self.stats
            .iter()
            .filter(|(_, s)| s.lost() > 0)
            .map(|(b, s)| (b.clone(), s.cpu, s.lost()))
            .collect()
    }
}

pub(crate) fn usage(e: impl std::fmt::Display) -> Error {
    Error::Usage(e.to_string())
}

/// A configured trace array.
pub(crate) struct Armed {
    pub(crate) spec: BufferSpec,
    pub(crate) inst: Instance,
    pub(crate) _owned: Option<OwnedInstance>,
    pub(crate) events: Vec<EventName>,
}

/// Validates and applies the configuration. Returns the trace arrays.
pub(crate) fn configure(tfs: &Tracefs, cfg: &RecordConfig) -> Result<Vec<Armed>> {
    configure_with(tfs, cfg, None)
}

/// `--dry-run` of a recording: the set-up, arming and tear-down commands
/// are printed by the dry-run `tfs` (nothing is written, no command runs, no
/// trace data is read); `say` gets what happens in between, as shell
/// comments, in order (`destination`: what happens to the data, e.g.
/// "read into x.dat").
pub fn dry_run(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    command: Option<&[String]>,
    destination: &str,
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    let command = command.filter(|c| !c.is_empty());
    validate(tfs, cfg, command)?;
    if command.is_some() && (cfg.only_command || cfg.children) {
        say("# the command is forked first and held; then, before the events: echo PID >> set_event_pid (of the trace array below)");
    }
    let armed = configure_with(tfs, cfg, None)?;
    for a in &armed {
        a.inst.set_tracing_on(true)?;
    }
    if let Some(argv) = command {
        say(&format!("# {} runs now", argv.join(" ")));
    }
    say(&format!(
        "# per_cpu/cpu*/trace_pipe_raw {destination} until the command ends"
    ));
    for a in &armed {
        a.inst.set_tracing_on(false)?;
    }
    Ok(())
}

/// The pids the trace arrays are filtered on: `-P`, plus the command with
/// `-F`/`-c`.
fn filter_pids(cfg: &RecordConfig, command_pid: Option<u32>) -> Vec<u32> {
    let mut pids = cfg.pids.clone();
    if let (Some(p), true) = (command_pid, cfg.only_command || cfg.children) {
        pids.push(p);
    }
    pids
}

/// What `set` and `record` write into one trace array, with trace-cmd's
/// flags: one implementation, one order (sizes and clock, options, function
/// filters and tracer, pid filters, then events with their filters and
/// triggers — the pid filter first, so a counted trigger is only used up by
/// the traced tasks).
#[derive(Debug, Default, Clone, Copy)]
pub struct Setup<'a> {
    /// `-b` KiB per CPU.
    pub buffer_kb: Option<u64>,
    /// `-C`.
    pub clock: Option<&'a str>,
    /// `-M`.
    pub cpumask: Option<&'a str>,
    /// `-O` (`NAME` or `noNAME`).
    pub options: &'a [String],
    /// `-T`: the `stacktrace` option.
    pub stacktrace: bool,
    /// Whether the function filters and the tracer below apply here.
    pub functions: bool,
    /// `-l`.
    pub ftrace_filter: &'a [String],
    /// `-n`.
    pub ftrace_notrace: &'a [String],
    /// `-g`.
    pub graph_function: &'a [String],
    /// `--max-graph-depth`.
    pub max_graph_depth: Option<u32>,
    /// `-p`.
    pub tracer: Option<&'a str>,
    /// `-c`: the `event-fork` option (children inherit the pid filter).
    pub event_fork: bool,
    /// `-P` (and the command's pid): `set_event_pid`, and `set_ftrace_pid`
    /// for the function tracers.
    pub pids: &'a [u32],
}

/// Resolved events with the filter and triggers that apply to them
/// (`enable: false` switches them off instead: `set -e '!EVENT'`).
#[derive(Debug, Clone)]
pub struct EventSetup {
    /// The events.
    pub events: Vec<EventName>,
    /// `-f`.
    pub filter: Option<String>,
    /// `-R`.
    pub triggers: Vec<String>,
    /// Enable (true) or disable (false).
    pub enable: bool,
}

/// Applies `s` and `events` to `inst` (journaled outside tracekit's own
/// instances); returns the events enabled.
pub fn apply_setup(
    inst: &Instance,
    s: &Setup<'_>,
    events: &[EventSetup],
) -> Result<Vec<EventName>> {
    if let Some(kb) = s.buffer_kb {
        inst.set_buffer_size_kb(kb)?;
    }
    if let Some(c) = s.clock {
        inst.set_clock(c)?;
    }
    if let Some(m) = s.cpumask {
        inst.set("tracing_cpumask", m)?;
    }
    for o in s.options {
        inst.set_option(o)?;
    }
    if s.stacktrace {
        inst.set_option("stacktrace")?;
    }
    if s.functions {
        if !s.ftrace_filter.is_empty() {
            for w in inst.filter_warnings(s.ftrace_filter) {
                log::warn!("{w}");
            }
            inst.set_list("set_ftrace_filter", s.ftrace_filter)?;
        }
        if !s.ftrace_notrace.is_empty() {
            inst.set_list("set_ftrace_notrace", s.ftrace_notrace)?;
        }
        if !s.graph_function.is_empty() {
            inst.set_list("set_graph_function", s.graph_function)?;
        }
        if let Some(d) = s.max_graph_depth {
            inst.set_max_graph_depth(d)?;
        }
        if let Some(t) = s.tracer {
            inst.set_tracer(t)?;
        }
    }
    if s.event_fork {
        inst.set_option("event-fork")?;
    }
    if !s.pids.is_empty() {
        inst.add_pids("set_event_pid", s.pids)?;
        let function_tracer = s.tracer.is_some_and(|t| t.starts_with("function"));
        if s.functions && function_tracer && inst.has("set_ftrace_pid") {
            inst.add_pids("set_ftrace_pid", s.pids)?;
        }
    }
    let mut all = Vec::new();
    for e in events {
        for ev in &e.events {
            if !e.enable {
                inst.enable_event(ev, false)?;
                continue;
            }
            if let Some(f) = &e.filter {
                inst.set_filter(ev, f)?;
            }
            for t in &e.triggers {
                inst.add_trigger(ev, t)?;
            }
            inst.enable_event(ev, true)?;
            all.push(ev.clone());
        }
    }
    Ok(all)
}

/// [`configure`] with the pid of the held command: its pid filter is in
/// place before any event or trigger is enabled, so tracekit's own system
/// calls (reading tracefs, starting the readers) never reach a counted
/// trigger (`stacktrace:2`) or the buffer.
pub(crate) fn configure_with(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    command_pid: Option<u32>,
) -> Result<Vec<Armed>> {
    let top = Instance::top(tfs);
    // Validate every name before changing anything.
    let mut resolved = Vec::new();
    for b in &cfg.buffers {
        let mut evs = Vec::new();
        for e in &b.events {
            evs.push((top.resolve_events(&e.selector)?, e.clone()));
        }
        resolved.push(evs);
    }
    if let Some(t) = &cfg.tracer {
        top.check_tracer(t)?;
    }
    if let Some(c) = &cfg.clock {
        top.check_clock(c)?;
    }
    for o in &cfg.options {
        top.check_option(o)?;
    }
    let pids = filter_pids(cfg, command_pid);
    let mut out = Vec::new();
    for (i, (b, evs)) in cfg.buffers.iter().zip(resolved).enumerate() {
        let (inst, owned) = match (&b.name, i == 0 && cfg.top_level) {
            (None, true) => (Instance::top(tfs), None),
            (None, false) => {
                let o = Instance::create_unique(tfs, "tk-record")?;
                (o.instance().clone(), Some(o))
            }
            (Some(n), _) => {
                let (inst, created) = Instance::open_or_create(tfs, n)?;
                // An instance we created is removed by the journal at the end.
                let _ = created;
                (inst, None)
            }
        };
        let set = |r: tracefs::Result<()>| r.map_err(Error::from);
        set(inst.set_tracing_on(false))?;
        if let Some(kb) = cfg.subbuf_kb {
            if inst.has("buffer_subbuf_size_kb") {
                set(inst.set("buffer_subbuf_size_kb", &kb.to_string()))?;
            } else {
                return Err(usage(
                    "--subbuf-size needs Linux 6.8+ (buffer_subbuf_size_kb)",
                ));
            }
        }
        // tracekit's own instances get a larger buffer than the kernel's
        // default (1.4 MiB/CPU): fewer lost events under load, and the memory
        // is freed with the instance. The top level keeps what it has.
        let kb = cfg
            .buffer_kb
            .or(owned.as_ref().map(|_| DEFAULT_INSTANCE_BUFFER_KB));
        let setup = Setup {
            buffer_kb: kb,
            clock: cfg.clock.as_deref(),
            cpumask: cfg.cpumask.as_deref(),
            options: &cfg.options,
            stacktrace: cfg.stacktrace,
            // Function filters and the tracer belong to the main buffer.
            functions: i == 0,
            ftrace_filter: &cfg.ftrace_filter,
            ftrace_notrace: &cfg.ftrace_notrace,
            graph_function: &cfg.graph_function,
            max_graph_depth: cfg.max_graph_depth,
            tracer: cfg.tracer.as_deref(),
            event_fork: cfg.children,
            pids: &pids,
        };
        let events: Vec<EventSetup> = evs
            .into_iter()
            .map(|(events, spec)| EventSetup {
                events,
                filter: spec.filter,
                triggers: spec.triggers,
                enable: true,
            })
            .collect();
        let all = apply_setup(&inst, &setup, &events)?;
        set(inst.clear_trace())?;
        out.push(Armed {
            spec: b.clone(),
            inst,
            _owned: owned,
            events: all,
        });
    }
    Ok(out)
}

/// Checks everything `record` was asked to do before anything changes (no
/// tracefs write, no file, no process): file version, sizes, instance and
/// event names, tracer, clock, options, the output's directory and the
/// command (found in `PATH`, executable).
pub fn validate(tfs: &Tracefs, cfg: &RecordConfig, command: Option<&[String]>) -> Result<()> {
    if cfg.writer.version != 6 && cfg.writer.version != 7 {
        return Err(usage(format!(
            "--file-version {}: tracekit writes versions 6 and 7",
            cfg.writer.version
        )));
    }
    if cfg.buffer_kb == Some(0) {
        return Err(usage("-b 0: the buffer needs at least 1 KiB per CPU"));
    }
    if cfg.recorder.max_bytes == Some(0) {
        return Err(usage("-m 0: keep at least 1 KiB per CPU"));
    }
    let top = Instance::top(tfs);
    if let Some(kb) = cfg.subbuf_kb {
        if kb == 0 {
            return Err(usage("--subbuf-size 0: a sub-buffer is at least 1 KiB"));
        }
        if !top.has("buffer_subbuf_size_kb") {
            return Err(usage(
                "--subbuf-size needs Linux 6.8+ (buffer_subbuf_size_kb)",
            ));
        }
    }
    if cfg.buffers.is_empty() {
        return Err(usage("nothing to record"));
    }
    for b in &cfg.buffers {
        if let Some(n) = &b.name {
            tracefs::validate_instance_name(n)?;
        }
        for e in &b.events {
            top.resolve_events(&e.selector)?;
        }
    }
    if let Some(t) = &cfg.tracer {
        top.check_tracer(t)?;
    }
    if let Some(c) = &cfg.clock {
        top.check_clock(c)?;
    }
    for o in &cfg.options {
        top.check_option(o)?;
    }
    check_output(&cfg.output)?;
    if let Some(prog) = command.and_then(|c| c.first()) {
        resolve_command(prog, cfg.search_path.as_deref())?;
    }
    Ok(())
}

/// The output's directory (`.` for a bare name) and file name.
fn split_output(output: &Path) -> (PathBuf, String) {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = output
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace.dat".into());
    (dir, base)
}

/// The output can be created: its directory exists and is writable, and it
/// is not a directory itself. Errors name the output.
pub fn check_output(output: &Path) -> Result<()> {
    let (dir, _) = split_output(output);
    let fail = |source: std::io::Error| Error::Io {
        path: output.to_path_buf(),
        source,
    };
    let in_dir = |e: std::io::Error| {
        fail(std::io::Error::new(
            e.kind(),
            format!("directory {}: {e}", dir.display()),
        ))
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(in_dir(std::io::Error::from(
                std::io::ErrorKind::NotADirectory,
            )))
        }
        Err(e) => return Err(in_dir(e)),
    }
    rustix::fs::access(
        &dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .map_err(|e| in_dir(e.into()))?;
    if output.is_dir() {
        return Err(fail(std::io::Error::from(std::io::ErrorKind::IsADirectory)));
    }
    Ok(())
}

/// Finds a command as `execvp` would (in `search_path`, the caller's `PATH`,
/// or a path with a `/`), so a missing or non-executable command is reported
/// before anything starts.
pub fn resolve_command(prog: &str, search_path: Option<&std::ffi::OsStr>) -> Result<PathBuf> {
    let runnable = |p: &Path| -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(p)?;
        // root passes access(X_OK) for any file: exec needs an x bit.
        if !m.is_file() || m.permissions().mode() & 0o111 == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        }
        rustix::fs::access(p, rustix::fs::Access::EXEC_OK).map_err(std::io::Error::from)
    };
    let cannot = |why: String| usage(format!("cannot run the command: {prog}: {why}"));
    if prog.is_empty() {
        return Err(cannot("empty command name".into()));
    }
    if prog.contains('/') {
        return runnable(Path::new(prog))
            .map(|()| PathBuf::from(prog))
            .map_err(|e| cannot(e.to_string()));
    }
    let path = search_path.unwrap_or(std::ffi::OsStr::new(DEFAULT_SEARCH_PATH));
    for d in std::env::split_paths(path) {
        let d = if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d
        };
        let c = d.join(prog);
        if runnable(&c).is_ok() {
            return Ok(c);
        }
    }
    Err(cannot("not found in PATH".into()))
}

/// Another tracekit session that puts events into a trace array a
/// recording would read (see [`buffer_users`]).
#[derive(Debug, Clone)]
pub struct BufferUser {
    /// Its pid.
    pub pid: u32,
    /// Its command line.
    pub cmdline: String,
    /// Running, left in place (`tracekit set`), or stale (killed).
    pub kind: SessionKind,
    /// The trace array: `None` for the top level.
    pub buffer: Option<String>,
    /// Some of its journaled files there (`events/sched/enable`, …).
    pub files: Vec<String>,
}

/// The other tracekit sessions of the journal (`own`: this process's
/// journal file) that use a trace array `cfg` records into rather than a
/// private instance: a running session with pending changes there (a second
/// `record --top`), or at the top level, a finished or killed one that left
/// events, triggers or a tracer enabled (`tracekit set -e …`). Recording
/// alongside them mixes both sessions' events into each file.
pub fn buffer_users(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    sessions: &[Session],
    own: &Path,
) -> Vec<BufferUser> {
    let mut arrays: Vec<Option<&str>> = Vec::new();
    for (i, b) in cfg.buffers.iter().enumerate() {
        match &b.name {
            None if i == 0 && cfg.top_level => arrays.push(None),
            Some(n) => arrays.push(Some(n)),
            None => {}
        }
    }
    let mut out = Vec::new();
    for s in sessions.iter().filter(|s| s.path != own) {
        let kind = classify(s);
        if kind == SessionKind::OtherBoot {
            continue;
        }
        let running = kind == SessionKind::Running;
        for &array in &arrays {
            let inside = |file: &str| match array {
                None => !file.starts_with("instances/"),
                Some(n) => file
                    .strip_prefix("instances/")
                    .and_then(|r| r.strip_prefix(n))
                    .is_some_and(|r| r.starts_with('/')),
            };
            let mut files = Vec::new();
            for e in s.pending() {
                let hit = match e {
                    Entry::Set { seq, file, new, .. } if inside(file) => {
                        running
                            || (array.is_none()
                                && adds_events(tfs, file, s.readback(*seq).unwrap_or(new)))
                    }
                    Entry::TriggerAdded { file, .. } if inside(file) => {
                        running || (array.is_none() && tfs.path(file).exists())
                    }
                    Entry::InstanceCreated { name, .. } => running && array == Some(name),
                    _ => false,
                };
                if hit {
                    let f = match e {
                        Entry::Set { file, .. } | Entry::TriggerAdded { file, .. } => file.clone(),
                        Entry::InstanceCreated { name, .. } => format!("instances/{name}"),
                        _ => continue,
                    };
                    if !files.contains(&f) {
                        files.push(f);
                    }
                }
            }
            if !files.is_empty() {
                out.push(BufferUser {
                    pid: s.owner.pid,
                    cmdline: s.owner.cmdline.clone(),
                    kind,
                    buffer: array.map(str::to_string),
                    files,
                });
            }
        }
    }
    out
}

/// Whether a journaled top-level value left in place makes events: an
/// event enabled, `set_event` listing some, a tracer other than nop — and
/// the file still says so.
fn adds_events(tfs: &Tracefs, file: &str, value: &str) -> bool {
    let base = file.rsplit('/').next().unwrap_or(file);
    // A system's `enable` reads `X` when some of its events are enabled.
    let on = |v: &str| match base {
        "enable" => matches!(v.trim().trim_end_matches('*'), "1" | "X"),
        "set_event" => !tracefs::values::list_entries(v).is_empty(),
        "current_tracer" => !matches!(v.trim(), "" | "nop"),
        _ => false,
    };
    on(value)
        && tracefs::read_text(&tfs.path(file))
            .map(|now| on(&now))
            .unwrap_or(false)
}

pub use spawn::HeldChild;

/// Collects the metadata blocks for the file.
pub fn collect_metadata(
    tfs: &Tracefs,
    main: &Instance,
    events: &[EventName],
    proc_maps: Option<Vec<u8>>,
) -> Result<Metadata> {
    let read = |p: &Path| {
        tracefs::read_file(p).map_err(|source| Error::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let header_page = read(&main.path("events/header_page"))?;
    let header_event = read(&main.path("events/header_event"))?;
    let mut ftrace_formats = Vec::new();
    let fdir = tfs.path("events/ftrace");
    let mut names: Vec<_> = std::fs::read_dir(&fdir)
        .map_err(|source| Error::Io {
            path: fdir.clone(),
            source,
        })?
        .flatten()
        .filter(|e| e.path().join("format").exists())
        .map(|e| e.path())
        .collect();
    names.sort();
    for n in names {
        ftrace_formats.push(read(&n.join("format"))?);
    }
    let mut systems: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let mut evs: Vec<&EventName> = events.iter().filter(|e| e.system != "ftrace").collect();
    evs.sort();
    evs.dedup();
    for e in evs {
        let f = read(&tfs.path(&format!("{}/format", e.dir())))?;
        match systems.iter_mut().find(|(s, _)| *s == e.system) {
            Some((_, v)) => v.push(f),
            None => systems.push((e.system.clone(), vec![f])),
        }
    }
    let long_size = if String::from_utf8_lossy(&header_page).contains("commit;\toffset:8;\tsize:4;")
    {
        4
    } else {
        8
    };
    let sysf = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    Ok(Metadata {
        header_page,
        header_event,
        ftrace_formats,
        systems,
        kallsyms: std::fs::read("/proc/kallsyms").unwrap_or_default(),
        printk: tracefs::read_file(&tfs.path("printk_formats")).unwrap_or_default(),
        cmdlines: tracefs::read_file(&tfs.path("saved_cmdlines")).unwrap_or_default(),
        trace_clock: tracefs::read_text(&main.path("trace_clock")).unwrap_or_default(),
        uname: format!(
            "{} {} {} {}",
            sysf("ostype"),
            sysf("hostname"),
            sysf("osrelease"),
            std::env::consts::ARCH
        ),
        version: format!("tracekit {}", env!("CARGO_PKG_VERSION")),
        cpus: tracefs::raw::cpus(main)
            .map(|c| c.len() as u32)
            .unwrap_or(0),
        page_size: rustix::param::page_size() as u32,
        long_size,
        date: None,
        proc_maps,
    })
}

/// Progress callback: (elapsed, bytes recorded, lost events so far).
pub type Progress<'a> = &'a mut dyn FnMut(Duration, u64, u64);

/// Runs a whole recording. `stop` ends it early (SIGINT/SIGTERM); without a
/// command it runs until `stop` or the duration.
pub fn record(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    command: Option<&[String]>,
    stop: Arc<AtomicBool>,
    progress: Progress<'_>,
) -> Result<RecordSummary> {
    Recording::prepare(tfs, cfg, command)?.run(stop, progress)
}

/// A recording set up and not started: options validated, the command
/// forked and held before `exec`, the trace arrays configured (with the
/// command's pid filter). Dropping it kills the held command.
pub struct Recording<'a> {
    tfs: &'a Tracefs,
    cfg: &'a RecordConfig,
    armed: Vec<Armed>,
    child: Option<HeldChild>,
}

impl<'a> Recording<'a> {
    /// Validates ([`validate`]), forks the held command and configures the
    /// trace arrays. Nothing is changed when validation fails.
    pub fn prepare(
        tfs: &'a Tracefs,
        cfg: &'a RecordConfig,
        command: Option<&[String]>,
    ) -> Result<Recording<'a>> {
        let command = command.filter(|c| !c.is_empty());
        validate(tfs, cfg, command)?;
        let child = command
            .map(|argv| HeldChild::spawn_opts(argv, cfg.keep_command))
            .transpose()?;
        let armed = configure_with(tfs, cfg, child.as_ref().map(HeldChild::pid))?;
        Ok(Recording {
            tfs,
            cfg,
            armed,
            child,
        })
    }

    /// The held command's pid.
    pub fn command_pid(&self) -> Option<u32> {
        self.child.as_ref().map(HeldChild::pid)
    }

    /// Records until the command exits, `stop` is set or the duration
    /// passes, then writes the output. On success a command still running is
    /// killed unless `keep_command`; on failure it is always killed.
    pub fn run(mut self, stop: Arc<AtomicBool>, progress: Progress<'_>) -> Result<RecordSummary> {
        let res = run(
            self.tfs,
            self.cfg,
            &self.armed,
            self.child.as_mut(),
            stop,
            progress,
        );
        for a in &self.armed {
            let _ = a.inst.set_tracing_on(false);
        }
        let mut res = res;
        if let Some(c) = self.child.as_mut() {
            let running = c.try_wait().is_none();
            match &mut res {
                Err(_) => c.kill(),
                Ok(sum) if running && !self.cfg.keep_command => {
                    c.kill();
                    sum.command_killed = true;
                }
                Ok(_) => {}
            }
        }
        res
    }
}

/// The temporary files of one recording: every name starts with a prefix
/// unique to this process and call (`.NAME.tkPID-RANDOM`), journaled before
/// the first file exists; dropping it removes what is left and marks the
/// journal entry done.
struct TempFiles<'a> {
    tfs: &'a Tracefs,
    dir: PathBuf,
    prefix: String,
    seq: Option<u64>,
}

impl<'a> TempFiles<'a> {
    fn register(tfs: &'a Tracefs, dir: &Path, base: &str) -> Result<TempFiles<'a>> {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS per process; the counter keeps
        // two recordings of one process apart.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
        let prefix = format!(
            ".{base}.tk{}-{:012x}",
            std::process::id(),
            h.finish() & 0xffff_ffff_ffff
        );
        let mut seq = None;
        if let (Some(j), true) = (tfs.journal(), tfs.applies()) {
            let s = j.next_seq();
            j.record(&Entry::TempFiles {
                seq: s,
                dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
                prefix: prefix.clone(),
            })?;
            seq = Some(s);
        }
        Ok(TempFiles {
            tfs,
            dir: dir.to_path_buf(),
            prefix,
            seq,
        })
    }

    /// `DIR/PREFIX` + `suffix`.
    fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", self.prefix))
    }

    /// Whether `path` is one of these files.
    fn owns(&self, path: &Path) -> bool {
        path.file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(self.prefix.as_bytes()))
    }

    /// An I/O error on a temporary file, reported on the output instead
    /// (the temporary names mean nothing to the user).
    fn on_output(&self, e: Error, output: &Path) -> Error {
        match e {
            Error::Io { path, source } if self.owns(&path) => Error::Io {
                path: output.to_path_buf(),
                source,
            },
            Error::File(tracecmd::Error::Io { path, source }) if self.owns(&path) => {
                Error::File(tracecmd::Error::Io {
                    path: output.to_path_buf(),
                    source,
                })
            }
            e => e,
        }
    }
}

impl Drop for TempFiles<'_> {
    fn drop(&mut self) {
        let gone = tracefs::journal::remove_temp_files(&self.dir, &self.prefix).is_ok();
        if let (Some(seq), Some(j), true) = (self.seq, self.tfs.journal(), gone) {
            let _ = j.record(&Entry::Undone { seq });
        }
    }
}

fn run(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    armed: &[Armed],
    child: Option<&mut HeldChild>,
    stop: Arc<AtomicBool>,
    progress: Progress<'_>,
) -> Result<RecordSummary> {
    let (dir, base) = split_output(&cfg.output);
    let temps = TempFiles::register(tfs, &dir, &base)?;
    let out = temps.path(".tmp");
    let res = record_to(tfs, cfg, armed, child, stop, progress, &temps, &out).and_then(|sum| {
        std::fs::rename(&out, &cfg.output).map_err(|source| Error::Io {
            path: cfg.output.clone(),
            source,
        })?;
        Ok(sum)
    });
    res.map_err(|e| temps.on_output(e, &cfg.output))
}

/// Events whose formats the file needs: those `record` enabled, and those
/// enabled in the trace array by someone else (`tracekit set -B NAME -e …`
/// before `record -B NAME`), which are recorded too.
fn events_to_describe(tfs: &Tracefs, a: &Armed, into: &mut Vec<EventName>) {
    into.extend(a.events.iter().cloned());
    for e in a.inst.enabled_events().unwrap_or_default() {
        if !into.contains(&e) && tfs.path(&format!("{}/format", e.dir())).exists() {
            into.push(e);
        }
    }
}

/// The per-CPU ring size in KiB as the kernel uses it: `buffer_size_kb`
/// parsed (`7 (expanded: 1408)` is 1408), or the largest per-CPU size when
/// CPUs differ (`X`).
fn ring_kb(inst: &Instance) -> Option<u64> {
    if let Some(kb) = inst.buffer_size_kb().ok().flatten() {
        return Some(kb);
    }
    tracefs::raw::cpus(inst)
        .ok()?
        .into_iter()
        .filter_map(|c| {
            let t = tracefs::read_text(&inst.path(&format!("per_cpu/cpu{c}/buffer_size_kb")));
            tracefs::values::buffer_kb(&t.ok()?)
        })
        .max()
}

/// Records into the temporary files and writes the trace.dat at `out`.
#[allow(clippy::too_many_arguments)]
fn record_to(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    armed: &[Armed],
    mut child: Option<&mut HeldChild>,
    stop: Arc<AtomicBool>,
    progress: Progress<'_>,
    temps: &TempFiles<'_>,
    out: &Path,
) -> Result<RecordSummary> {
    let mut all_events = Vec::new();
    for a in armed {
        events_to_describe(tfs, a, &mut all_events);
    }
    // v7 without compression: the first buffer's first CPU is recorded
    // straight into the output file, after one page for the headers, so
    // the writer copies only the other CPUs' data.
    let in_place = (TraceDatWriter::supports_in_place(cfg.writer)
        && cfg.recorder.max_bytes.is_none())
    .then(|| InPlace {
        path: out.to_path_buf(),
        offset: rustix::param::page_size() as u64,
    });
    if in_place.is_some() {
        std::fs::File::create(out).map_err(|source| Error::Io {
            path: out.to_path_buf(),
            source,
        })?;
    }
    let mut recorders = Vec::new();
    for (i, a) in armed.iter().enumerate() {
        let prefix = match &a.spec.name {
            Some(n) => format!("{}.{n}", temps.prefix),
            None => format!("{}.{i}", temps.prefix),
        };
        let ip = if i == 0 { in_place.clone() } else { None };
        recorders.push(Recorder::start_in_place(
            &a.inst,
            &temps.dir,
            &prefix,
            cfg.recorder,
            ip,
        )?);
    }
    let date_offset = if cfg.date {
        Some(date_offset_hex(tfs, &armed[0].inst))
    } else {
        None
    };
    for a in armed {
        a.inst.set_tracing_on(true)?;
    }
    let start = Instant::now();
    if let Some(c) = child.as_deref_mut() {
        c.release()?;
    }
    let mut status = None;
    let mut last = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some(c) = child.as_deref_mut() {
            if let Some(s) = c.try_wait() {
                status = Some(s);
                break;
            }
        }
        if let Some(d) = cfg.duration {
            if start.elapsed() >= d {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        if last.elapsed() >= Duration::from_millis(250) {
            last = Instant::now();
            let lost: u64 = armed
                .iter()
                .flat_map(|a| a.inst.cpu_stats().unwrap_or_default())
                .map(|s| s.lost())
                .sum();
            let bytes: u64 = recorders.iter().map(|r| r.bytes_written()).sum();
            progress(start.elapsed(), bytes, lost);
        }
    }
    for a in armed {
        a.inst.set_tracing_on(false)?;
    }
    let elapsed = start.elapsed();
    let mut stats = Vec::new();
    let mut inputs = Vec::new();
    let buffer_kb = armed.first().and_then(|a| ring_kb(&a.inst));
    for (a, r) in armed.iter().zip(recorders) {
        let cpus = r.stop()?;
        let cs = a.inst.cpu_stats().unwrap_or_default();
        let stat_text = |cpu: u32| {
            tracefs::read_text(&a.inst.path(&format!("per_cpu/cpu{cpu}/stats"))).unwrap_or_default()
        };
        let name = a.spec.name.clone().unwrap_or_default();
        for s in cs {
            stats.push((name.clone(), s));
        }
        let subbuf = tracefs::raw::subbuf_size(&a.inst) as u32;
        let clock = a
            .inst
            .trace_clock()
            .map(|(c, _)| c)
            .unwrap_or_else(|_| "local".into());
        let in_place = cpus
            .iter()
            .find_map(|c| c.offset.map(|off| (c.cpu, off, c.bytes)));
        inputs.push(BufferInput {
            name,
            clock,
            subbuf_size: subbuf,
            cpus: cpus
                .into_iter()
                .map(|c| (c.cpu, c.path, stat_text(c.cpu)))
                .collect(),
            in_place,
        });
        // Events enabled in the trace array while recording.
        events_to_describe(tfs, a, &mut all_events);
    }
    let proc_maps = if cfg.proc_map {
        child
            .as_deref()
            .and_then(|c| std::fs::read(format!("/proc/{}/maps", c.pid())).ok())
    } else {
        None
    };
    let mut meta = collect_metadata(tfs, &armed[0].inst, &all_events, proc_maps)?;
    meta.date = date_offset;
    let recorded_in_place = inputs.iter().any(|b| b.in_place.is_some());
    let writer = if recorded_in_place {
        TraceDatWriter::over(out, cfg.writer)?
    } else {
        TraceDatWriter::create(out, cfg.writer)?
    };
    let written = writer.write(&meta, &inputs);
    for b in &inputs {
        for (cpu, p, _) in &b.cpus {
            // Not the output itself (the CPU recorded in place).
            if b.in_place.is_some_and(|(c, _, _)| c == *cpu) {
                continue;
            }
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(RecordSummary {
        written: written?,
        stats,
        command_status: status,
        elapsed,
        buffer_kb,
        command_killed: false,
    })
}

/// Adds the command's pid to the pid filters when `-F`/`-c` ask for it.
pub(crate) fn arm_pid_filters(cfg: &RecordConfig, armed: &[Armed], pid: u32) -> Result<()> {
    if !(cfg.only_command || cfg.children) {
        return Ok(());
    }
    let function = cfg
        .tracer
        .as_deref()
        .map(|t| t.starts_with("function"))
        .unwrap_or(false);
    for a in armed {
        a.inst.add_pids("set_event_pid", &[pid])?;
        if function && a.inst.has("set_ftrace_pid") {
            a.inst.add_pids("set_ftrace_pid", &[pid])?;
        }
    }
    Ok(())
}

/// The DATE option: wall clock minus trace clock, in µs, hex (`0x…`).
fn date_offset_hex(tfs: &Tracefs, inst: &Instance) -> String {
    let _ = tfs;
    // Write a marker and read the trace clock "now ts" from stats of cpu0.
    let now_wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0);
    let now_trace_us = tracefs::read_text(&inst.path("per_cpu/cpu0/stats"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("now ts:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| {
            let (s, us) = v.split_once('.')?;
            Some(s.trim().parse::<i128>().ok()? * 1_000_000 + us.parse::<i128>().ok()?)
        })
        .unwrap_or(0);
    format!("0x{:x}", (now_wall - now_trace_us).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_as_execvp_finds_them() {
        assert!(resolve_command("sh", None).is_ok_and(|p| p.is_absolute()));
        assert!(resolve_command("/bin/sh", None).is_ok());
        let e = resolve_command("tk-no-such-command", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not found in PATH"), "{e}");
        let d = scratch("cmd");
        let plain = d.join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        let e = resolve_command(&plain.display().to_string(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot run the command: "), "{e}");
        assert!(resolve_command(&d.display().to_string(), None).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// An empty scratch directory (removed by the caller).
    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tk-session-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn output_checks_name_the_output() {
        let d = scratch("out");
        assert!(check_output(&d.join("x.dat")).is_ok());
        let missing = d.join("no/x.dat");
        let e = check_output(&missing).unwrap_err().to_string();
        assert!(e.starts_with(&missing.display().to_string()), "{e}");
        assert!(e.contains("No such file"), "{e}");
        assert!(check_output(&d).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn temporary_names_are_unique_and_removed() {
        // Any directory does as a journal-less tracefs handle here.
        let d = scratch("tmp");
        let tfs = Tracefs::at(&d).unwrap();
        let a = TempFiles::register(&tfs, &d, "x.dat").unwrap();
        let b = TempFiles::register(&tfs, &d, "x.dat").unwrap();
        assert_ne!(a.prefix, b.prefix);
        assert!(a
            .prefix
            .starts_with(&format!(".x.dat.tk{}-", std::process::id())));
        std::fs::write(a.path(".0.cpu0"), b"x").unwrap();
        std::fs::write(d.join("x.dat"), b"x").unwrap();
        assert!(a.owns(&a.path(".0.cpu0")) && !b.owns(&a.path(".0.cpu0")));
        drop(a);
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["x.dat"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
