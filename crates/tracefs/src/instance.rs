//! [`Instance`]: one trace array — the top level or `instances/NAME` — with
//! typed access to its control files. Changes to a trace array tracekit did
//! not create are journaled with their previous value before they are made;
//! an [`OwnedInstance`] (created by tracekit) is removed when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result, Unsupported};
use crate::events::{self, EventName};
use crate::features;
use crate::journal::Entry;
use crate::root::{Tracefs, WriteMode};
use crate::values;
use crate::ErrorLogEntry;

/// A trace array: the top level (`name == None`) or `instances/NAME`.
#[derive(Debug, Clone)]
pub struct Instance {
    tfs: Tracefs,
    name: Option<String>,
    dir: PathBuf,
    /// Where reads go: `dir`, except for an instance not created yet in
    /// `--dry-run`, which reads the top level's files.
    read_dir: PathBuf,
    owned: bool,
}

/// Per-CPU ring-buffer statistics (`per_cpu/cpuN/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CpuStats {
    /// CPU number.
    pub cpu: u32,
    /// Events in the buffer.
    pub entries: u64,
    /// Events overwritten (lost in overwrite mode).
    pub overrun: u64,
    /// Events lost to commit overruns.
    pub commit_overrun: u64,
    /// Bytes in the buffer.
    pub bytes: u64,
    /// Events dropped (lost in no-overwrite mode).
    pub dropped_events: u64,
    /// Events read.
    pub read_events: u64,
}

impl CpuStats {
    /// Parses a `stats` file.
    pub fn parse(cpu: u32, text: &str) -> CpuStats {
        let mut s = CpuStats {
            cpu,
            ..Default::default()
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim().parse::<u64>().unwrap_or(0);
            match k.trim() {
                "entries" => s.entries = v,
                "overrun" => s.overrun = v,
                "commit overrun" => s.commit_overrun = v,
                "bytes" => s.bytes = v,
                "dropped events" => s.dropped_events = v,
                "read events" => s.read_events = v,
                _ => {}
            }
        }
        s
    }

    /// All events lost on this CPU.
    pub fn lost(&self) -> u64 {
        self.overrun + self.commit_overrun + self.dropped_events
    }
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// Checks an instance name: non-empty, no `/`, not `.`/`..`, printable.
pub fn validate_instance_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.+@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "instance name",
            value: name.to_string(),
            why: "use letters, digits and _ - . + @ (at most 64 characters)".into(),
        })
    }
}

impl Instance {
    /// The top-level trace array.
    pub fn top(tfs: &Tracefs) -> Instance {
        Instance {
            tfs: tfs.clone(),
            name: None,
            dir: tfs.root().to_path_buf(),
            read_dir: tfs.root().to_path_buf(),
            owned: false,
        }
    }

    /// An existing instance, or the top level for `None`.
    pub fn open(tfs: &Tracefs, name: Option<&str>) -> Result<Instance> {
        let Some(name) = name else {
            return Ok(Instance::top(tfs));
        };
        validate_instance_name(name)?;
        let dir = tfs.path("instances").join(name);
        if !dir.is_dir() {
            let existing = list_instances(tfs).unwrap_or_default();
            return Err(Error::Unknown {
                kind: "instance",
                name: name.to_string(),
                suggestions: events::suggest(name, existing.iter().map(String::as_str), 3),
            });
        }
        let owned = tfs
            .journal()
            .and_then(|j| j.session().ok().flatten())
            .map(|s| s.instances().iter().any(|n| n == name))
            .unwrap_or(false);
        Ok(Instance {
            tfs: tfs.clone(),
            name: Some(name.to_string()),
            read_dir: dir.clone(),
            dir,
            owned,
        })
    }

    /// Opens `name`, creating it (journaled, owned) if it does not exist.
    /// The second value says whether it was created.
    pub fn open_or_create(tfs: &Tracefs, name: &str) -> Result<(Instance, bool)> {
        validate_instance_name(name)?;
        if tfs.path("instances").join(name).is_dir() {
            return Ok((Instance::open(tfs, Some(name))?, false));
        }
        let owned = Instance::create(tfs, name)?;
        Ok((owned.keep(), true))
    }

    /// Creates `instances/NAME` (journaled first, so a crash leaves a record
    /// that `tracekit reset` uses to remove it).
    pub fn create(tfs: &Tracefs, name: &str) -> Result<OwnedInstance> {
        validate_instance_name(name)?;
        let instances = tfs.path("instances");
        if !instances.is_dir() {
            return Err(Error::Unsupported(Box::new(Unsupported {
                feature: "instances".into(),
                reason: format!("{} does not exist", instances.display()),
                kernel_config: Some("Linux 3.10 or newer with CONFIG_TRACING".into()),
                fallback: Some("the top-level buffer, with every change journaled".into()),
            })));
        }
        let dir = instances.join(name);
        let mut seq = None;
        if let (Some(j), true) = (tfs.journal(), tfs.applies()) {
            let s = j.next_seq();
            j.record(&Entry::InstanceCreated {
                seq: s,
                name: name.to_string(),
            })?;
            seq = Some(s);
        }
        if let Err(e) = tfs.mkdir(&dir) {
            if let (Some(j), Some(s)) = (tfs.journal(), seq) {
                let _ = j.record(&Entry::Undone { seq: s });
            }
            return Err(e);
        }
        Ok(OwnedInstance {
            inner: Some(Instance {
                tfs: tfs.clone(),
                name: Some(name.to_string()),
                read_dir: if tfs.applies() {
                    dir.clone()
                } else {
                    tfs.root().to_path_buf()
                },
                dir,
                owned: true,
            }),
            seq,
        })
    }

    /// Creates an instance with a unique name `PREFIX-PID-N`.
    pub fn create_unique(tfs: &Tracefs, prefix: &str) -> Result<OwnedInstance> {
        loop {
            let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}-{}-{n}", std::process::id());
            if tfs.path("instances").join(&name).exists() {
                continue;
            }
            return Instance::create(tfs, &name);
        }
    }

    /// The instance name; `None` for the top level.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `top` or the instance name, for messages.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("top")
    }

    /// The trace array's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tracefs handle.
    pub fn tracefs(&self) -> &Tracefs {
        &self.tfs
    }

    /// Whether tracekit created this instance in this process (changes in it
    /// need no journal: removing it undoes them).
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// Path of a control file of this trace array.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Path relative to the tracefs root (journal form).
    pub fn root_rel(&self, rel: &str) -> String {
        match &self.name {
            Some(n) => format!("instances/{n}/{rel}"),
            None => rel.to_string(),
        }
    }

    /// Path a control file is read from (differs from [`Instance::path`]
    /// only for an instance not yet created in `--dry-run` mode).
    pub fn read_path(&self, rel: &str) -> PathBuf {
        self.read_dir.join(rel)
    }

    /// Whether a control file exists.
    pub fn has(&self, rel: &str) -> bool {
        self.read_path(rel).exists()
    }

    /// Reads a control file.
    pub fn read(&self, rel: &str) -> Result<String> {
        self.tfs.read(&self.read_path(rel))
    }

    /// Writes a control file (`>`), journaling the previous value first when
    /// this trace array is not tracekit's own.
    pub fn set(&self, rel: &str, value: &str) -> Result<()> {
        self.set_with(rel, value, WriteMode::Replace)
    }

    /// Appends to a control file (`>>`), journaled like [`Instance::set`].
    pub fn set_append(&self, rel: &str, value: &str) -> Result<()> {
        self.set_with(rel, value, WriteMode::Append)
    }

    fn set_with(&self, rel: &str, value: &str, mode: WriteMode) -> Result<()> {
        let path = self.path(rel);
        let journal = match self.tfs.journal() {
            Some(j) if !self.owned && self.tfs.applies() => j,
            _ => return self.tfs.write(&path, value, mode),
        };
        let file = self.root_rel(rel);
        let prev = values::normalize(&file, &self.read(rel)?);
        let seq = journal.next_seq();
        journal.record(&Entry::Set {
            seq,
            file: file.clone(),
            prev: prev.clone(),
            new: value.to_string(),
        })?;
        if let Err(e) = self.tfs.write(&path, value, mode) {
            self.after_failed_write(rel, &file, &prev, mode, seq, journal);
            return Err(e);
        }
        let readback = self
            .read(rel)
            .map(|t| values::normalize(&file, &t))
            .unwrap_or_default();
        journal.record(&Entry::Applied { seq, readback })?;
        self.tfs.pause_point();
        Ok(())
    }

    /// A write failed, but the kernel may have changed the file anyway (a
    /// filter left in its parse-error state, the first names of a function
    /// list applied): put the previous value back now; when that is not
    /// possible, leave the journal entry pending (with what the file holds)
    /// so `reset` restores it.
    fn after_failed_write(
        &self,
        rel: &str,
        file: &str,
        prev: &str,
        mode: WriteMode,
        seq: u64,
        journal: &crate::journal::Journal,
    ) {
        let now = |inst: &Self| inst.read(rel).map(|t| values::normalize(file, &t)).ok();
        let Some(current) = now(self) else { return };
        if current == prev {
            let _ = journal.record(&Entry::Undone { seq });
            return;
        }
        let _ = journal.record(&Entry::Applied {
            seq,
            readback: current.clone(),
        });
        // Appended lines (triggers, probes) are removed by their own syntax
        // at `reset`; a replaced value is written back here.
        let replaceable = mode == WriteMode::Replace && !rel.ends_with("trigger");
        if replaceable {
            let back = values::restore_value(file, prev);
            if self
                .tfs
                .write(&self.path(rel), &back, WriteMode::Replace)
                .is_ok()
                && now(self).as_deref() == Some(prev)
            {
                let _ = journal.record(&Entry::Undone { seq });
                return;
            }
        }
        log::warn!(
            "{file}: the kernel changed it to '{current}' although the write failed; `tracekit reset` puts back '{prev}'"
        );
    }

    // ----- tracers -------------------------------------------------------

    /// `available_tracers`.
    pub fn available_tracers(&self) -> Result<Vec<String>> {
        Ok(self
            .read("available_tracers")?
            .split_whitespace()
            .map(str::to_string)
            .collect())
    }

    /// `current_tracer`.
    pub fn current_tracer(&self) -> Result<String> {
        Ok(self.read("current_tracer")?.trim().to_string())
    }

    /// Sets `current_tracer` (clears the buffer). Unknown tracers are
    /// rejected with close names, or explained when the kernel lacks them.
    pub fn set_tracer(&self, tracer: &str) -> Result<()> {
        self.check_tracer(tracer)?;
        self.write_tracer(tracer)
    }

    /// Checks that `tracer` can be selected here, without changing anything.
    pub fn check_tracer(&self, tracer: &str) -> Result<()> {
        let avail = self.available_tracers()?;
        if !avail.iter().any(|t| t == tracer) {
            if features::KNOWN_TRACERS.contains(&tracer) {
                let where_ = if self.name.is_some() {
                    " in instances (this kernel may allow it only at the top level)"
                } else {
                    ""
                };
                return Err(Error::Unsupported(Box::new(Unsupported {
                    feature: format!("{tracer} tracer"),
                    reason: format!(
                        "not in {}{where_}",
                        self.path("available_tracers").display()
                    ),
                    kernel_config: Some(features::tracer_config(tracer).into()),
                    fallback: Some(features::tracer_fallback(tracer).into()),
                })));
            }
            return Err(Error::Unknown {
                kind: "tracer",
                name: tracer.to_string(),
                suggestions: events::suggest(tracer, avail.iter().map(String::as_str), 3),
            });
        }
        Ok(())
    }

    fn write_tracer(&self, tracer: &str) -> Result<()> {
        self.set("current_tracer", tracer).map_err(|e| match e {
            Error::Write { error: source, .. }
                if matches!(source.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) =>
            {
                Error::Unsupported(Box::new(Unsupported {
                    feature: format!("{tracer} tracer"),
                    reason: format!(
                        "writing it to {} is refused even for root (EPERM): blocked by a kernel policy such as lockdown",
                        self.path("current_tracer").display()
                    ),
                    kernel_config: None,
                    fallback: Some(features::tracer_fallback(tracer).into()),
                }))
            }
            e => e,
        })
    }

    // ----- on/off, clock, buffers -----------------------------------------

    /// `tracing_on`.
    pub fn tracing_on(&self) -> Result<bool> {
        Ok(self.read("tracing_on")?.trim() == "1")
    }

    /// Writes `tracing_on`.
    pub fn set_tracing_on(&self, on: bool) -> Result<()> {
        self.set("tracing_on", if on { "1" } else { "0" })
    }

    /// `trace_clock`: (selected, available).
    pub fn trace_clock(&self) -> Result<(String, Vec<String>)> {
        let t = self.read("trace_clock")?;
        Ok((
            values::selected(&t).unwrap_or_default(),
            values::choices(&t),
        ))
    }

    /// Selects a trace clock (clears the buffer).
    pub fn set_clock(&self, clock: &str) -> Result<()> {
        self.check_clock(clock)?;
        self.set("trace_clock", clock)
    }

    /// Checks that `clock` exists, without changing anything.
    pub fn check_clock(&self, clock: &str) -> Result<()> {
        let (_, avail) = self.trace_clock()?;
        if !avail.iter().any(|c| c == clock) {
            return Err(Error::Unknown {
                kind: "clock",
                name: clock.to_string(),
                suggestions: if avail.is_empty() {
                    vec![]
                } else {
                    let mut s = events::suggest(clock, avail.iter().map(String::as_str), 3);
                    if s.is_empty() {
                        s = avail.clone();
                    }
                    s
                },
            });
        }
        Ok(())
    }

    /// `buffer_size_kb` per CPU (the expanded size); None when CPUs differ.
    pub fn buffer_size_kb(&self) -> Result<Option<u64>> {
        Ok(values::buffer_kb(&self.read("buffer_size_kb")?))
    }

    /// Sets `buffer_size_kb` (per CPU).
    pub fn set_buffer_size_kb(&self, kb: u64) -> Result<()> {
        if kb == 0 {
            return Err(Error::Invalid {
                what: "buffer size",
                value: "0".into(),
                why: "must be at least 1 KiB per CPU".into(),
            });
        }
        self.set("buffer_size_kb", &kb.to_string())
    }

    /// `buffer_subbuf_size_kb` (6.8+), None when the kernel lacks it.
    pub fn subbuf_size_kb(&self) -> Result<Option<u64>> {
        if !self.has("buffer_subbuf_size_kb") {
            return Ok(None);
        }
        Ok(self.read("buffer_subbuf_size_kb")?.trim().parse().ok())
    }

    /// `options/*`: every option with its state, sorted by name.
    pub fn options(&self) -> Result<Vec<(String, bool)>> {
        let dir = self.read_path("options");
        let rd = std::fs::read_dir(&dir).map_err(|e| self.tfs.classify(&dir, e, true))?;
        let mut v = Vec::new();
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let on = crate::root::read_text(&ent.path())
                .map(|s| s.trim() == "1")
                .unwrap_or(false);
            v.push((name, on));
        }
        v.sort();
        Ok(v)
    }

    /// Sets an option: `NAME` enables, `noNAME` disables (trace-cmd `-O`).
    pub fn set_option(&self, option: &str) -> Result<()> {
        let (rel, on) = self.check_option(option)?;
        self.set(&rel, if on { "1" } else { "0" })
    }

    /// Resolves `NAME`/`noNAME` to its `options/NAME` file and state,
    /// without changing anything.
    pub fn check_option(&self, option: &str) -> Result<(String, bool)> {
        let (name, on) = match option.strip_prefix("no") {
            Some(rest) if !self.has(&format!("options/{option}")) => (rest, false),
            _ => (option, true),
        };
        let rel = format!("options/{name}");
        if !self.has(&rel) {
            let names: Vec<String> = self.options()?.into_iter().map(|(n, _)| n).collect();
            return Err(Error::Unknown {
                kind: "option",
                name: name.to_string(),
                suggestions: events::suggest(name, names.iter().map(String::as_str), 3),
            });
        }
        Ok((rel, on))
    }

    /// Per-CPU ring-buffer statistics.
    pub fn cpu_stats(&self) -> Result<Vec<CpuStats>> {
        let dir = self.read_path("per_cpu");
        let rd = std::fs::read_dir(&dir).map_err(|e| self.tfs.classify(&dir, e, true))?;
        let mut v = Vec::new();
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let Some(cpu) = name.strip_prefix("cpu").and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(t) = crate::root::read_text(&ent.path().join("stats")) {
                v.push(CpuStats::parse(cpu, &t));
            }
        }
        v.sort_by_key(|s| s.cpu);
        Ok(v)
    }

    /// Entries of this trace array's `error_log`.
    pub fn error_log(&self) -> Result<Vec<ErrorLogEntry>> {
        Ok(ErrorLogEntry::parse_log(&self.read("error_log")?))
    }

    /// Clears the trace buffer (`echo > trace`).
    pub fn clear_trace(&self) -> Result<()> {
        self.tfs.write(&self.path("trace"), "", WriteMode::Replace)
    }

    // ----- list files: pids and function filters ----------------------------

    /// Entries of a list file (`set_event_pid`, `set_ftrace_filter`, …).
    pub fn list(&self, rel: &str) -> Result<Vec<String>> {
        Ok(values::list_entries(&self.read(rel)?))
    }

    /// Replaces a list file's content with `items` (empty clears it).
    pub fn set_list(&self, rel: &str, items: &[String]) -> Result<()> {
        self.set(rel, &items.join(" "))
    }

    /// Adds PIDs to `set_event_pid` (or another pid list file).
    pub fn add_pids(&self, rel: &str, pids: &[u32]) -> Result<()> {
        let v: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        self.set_append(rel, &v.join(" "))
    }

    // ----- events ----------------------------------------------------------

    /// All events this trace array offers (`available_events`).
    pub fn available_events(&self) -> Result<Vec<EventName>> {
        // Instances have no available_events file: the list is the top's.
        let text = match self.read("available_events") {
            Ok(t) => t,
            Err(_) => self.tfs.read_rel("available_events")?,
        };
        Ok(events::parse_available(&text))
    }

    /// Resolves a selector (`sched`, `sched:*`, `sched_switch`, `all`) to
    /// events; an unknown name is an error with close names.
    pub fn resolve_events(&self, selector: &str) -> Result<Vec<EventName>> {
        let avail = self.available_events()?;
        let found = events::select(&avail, selector);
        if found.is_empty() {
            let mut names: Vec<String> = avail.iter().map(|e| e.to_string()).collect();
            let mut systems: Vec<String> = avail.iter().map(|e| e.system.clone()).collect();
            systems.dedup();
            names.extend(systems);
            let group = selector.split(':').next().unwrap_or("");
            let kind = match group {
                "kprobes" => Some("kprobe"),
                "uprobes" => Some("uprobe"),
                g if g.starts_with("tracekit_") => Some("probe"),
                _ => None,
            };
            if let Some(kind) = kind {
                if !avail.iter().any(|e| e.system == group) {
                    return Err(Error::Invalid {
                        what: "event",
                        value: selector.to_string(),
                        why: format!(
                            "no {kind} events yet in group '{group}': create one with `tracekit probe add`"
                        ),
                    });
                }
            }
            let suggestions = events::suggest(selector, names.iter().map(String::as_str), 3);
            return Err(Error::Unknown {
                kind: "event",
                name: selector.to_string(),
                suggestions,
            });
        }
        Ok(found)
    }

    /// Events currently enabled (`set_event`).
    pub fn enabled_events(&self) -> Result<Vec<EventName>> {
        Ok(self
            .read("set_event")?
            .lines()
            .filter_map(|l| EventName::parse(l.trim()))
            .collect())
    }

    /// Enables or disables one event (`events/S/E/enable`).
    pub fn enable_event(&self, ev: &EventName, on: bool) -> Result<()> {
        self.set(&format!("{}/enable", ev.dir()), if on { "1" } else { "0" })
    }

    /// Disables every event of this trace array (`events/enable`).
    pub fn disable_all_events(&self) -> Result<()> {
        self.set("events/enable", "0")
    }

    /// The event's filter (`events/S/E/filter`), empty when none.
    pub fn filter(&self, ev: &EventName) -> Result<String> {
        Ok(values::normalize(
            "filter",
            &self.read(&format!("{}/filter", ev.dir()))?,
        ))
    }

    /// Sets an event filter; `0` or empty clears it. The kernel's parse
    /// error (with caret) is reported on rejection.
    pub fn set_filter(&self, ev: &EventName, filter: &str) -> Result<()> {
        let f = if filter.trim().is_empty() {
            "0"
        } else {
            filter
        };
        self.set(&format!("{}/filter", ev.dir()), f)
    }

    /// Active triggers of an event.
    pub fn triggers(&self, ev: &EventName) -> Result<Vec<String>> {
        let t = self.read(&format!("{}/trigger", ev.dir()))?;
        Ok(t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect())
    }

    /// Adds a trigger (`traceoff`, `stacktrace:5 if …`, `hist:keys=…`),
    /// journaled so `reset` removes it with `!CMD`.
    pub fn add_trigger(&self, ev: &EventName, trigger: &str) -> Result<()> {
        let rel = format!("{}/trigger", ev.dir());
        if let (Some(j), false, true) = (self.tfs.journal(), self.owned, self.tfs.applies()) {
            let seq = j.next_seq();
            j.record(&Entry::TriggerAdded {
                seq,
                file: self.root_rel(&rel),
                trigger: trigger.to_string(),
            })?;
            if let Err(e) = self.tfs.write(&self.path(&rel), trigger, WriteMode::Append) {
                let _ = j.record(&Entry::Undone { seq });
                return Err(self.explain_trigger_error(trigger, e));
            }
            self.tfs.pause_point();
            return Ok(());
        }
        self.tfs
            .write(&self.path(&rel), trigger, WriteMode::Append)
            .map_err(|e| self.explain_trigger_error(trigger, e))
    }

    /// Removes a trigger (`!CMD[:COUNT]`).
    pub fn remove_trigger(&self, ev: &EventName, trigger: &str) -> Result<()> {
        let rel = format!("{}/trigger", ev.dir());
        self.tfs.write(
            &self.path(&rel),
            &values::trigger_removal(trigger),
            WriteMode::Append,
        )
    }

    fn explain_trigger_error(&self, trigger: &str, e: Error) -> Error {
        let cmd = trigger.split([':', ' ']).next().unwrap_or("");
        let Error::Write {
            error: source,
            kernel: None,
            ..
        } = &e
        else {
            return e;
        };
        if source.raw_os_error() != Some(libc::EINVAL) {
            return e;
        }
        let (feature, config, fallback) = match cmd {
            "hist" | "enable_hist" | "disable_hist" => (
                "hist triggers",
                "CONFIG_HIST_TRIGGERS",
                "record the events and aggregate them in user space (tracekit report --summary)",
            ),
            "snapshot" => (
                "snapshot trigger",
                "CONFIG_TRACER_SNAPSHOT",
                "traceoff trigger on a recording in overwrite mode",
            ),
            _ => return e,
        };
        // Only a missing feature if the kernel does not list the command.
        let listed = self
            .read("events/sched/sched_switch/trigger")
            .map(|t| {
                t.lines()
                    .take(3)
                    .any(|l| l.split_whitespace().any(|w| w == cmd))
            })
            .unwrap_or(true);
        if listed {
            return e;
        }
        Error::Unsupported(Box::new(Unsupported {
            feature: feature.into(),
            reason: format!("the kernel does not list '{cmd}' among its triggers"),
            kernel_config: Some(config.into()),
            fallback: Some(fallback.into()),
        }))
    }
}

/// Names of existing instances.
pub fn list_instances(tfs: &Tracefs) -> Result<Vec<String>> {
    let dir = tfs.path("instances");
    let rd = std::fs::read_dir(&dir).map_err(|e| tfs.classify(&dir, e, true))?;
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    Ok(v)
}

/// An instance tracekit created; removed (`rmdir`) on drop unless kept.
#[derive(Debug)]
pub struct OwnedInstance {
    inner: Option<Instance>,
    seq: Option<u64>,
}

impl OwnedInstance {
    /// The instance.
    pub fn instance(&self) -> &Instance {
        self.inner
            .as_ref()
            .expect("OwnedInstance used after keep/destroy")
    }

    /// Keeps the instance after this guard goes away (`tracekit start`,
    /// `tracekit set -B`); it stays in the journal for `reset`.
    pub fn keep(mut self) -> Instance {
        self.inner
            .take()
            .expect("OwnedInstance used after keep/destroy")
    }

    /// Removes the instance now, reporting errors.
    pub fn destroy(mut self) -> Result<()> {
        self.remove()
    }

    fn remove(&mut self) -> Result<()> {
        let Some(inst) = self.inner.take() else {
            return Ok(());
        };
        // Disable events first so a probe enabled only here can be deleted.
        let tfs = inst.tfs.clone();
        // A reader that just closed its trace_pipe_raw (or a process that
        // still holds one of the instance's files) makes rmdir EBUSY for a
        // moment: try again for up to a second before leaving it to `reset`.
        let mut res = tfs.rmdir(&inst.dir);
        for _ in 0..50 {
            match &res {
                Err(Error::Io { error, .. }) if error.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    res = tfs.rmdir(&inst.dir);
                }
                _ => break,
            }
        }
        if res.is_ok() {
            if let (Some(j), Some(seq)) = (tfs.journal(), self.seq) {
                let _ = j.record(&Entry::Undone { seq });
            }
        }
        res
    }
}

impl std::ops::Deref for OwnedInstance {
    type Target = Instance;
    fn deref(&self) -> &Instance {
        self.instance()
    }
}

impl Drop for OwnedInstance {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            log::warn!("{e}");
        }
    }
}
