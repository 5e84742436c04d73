//! Dynamic events (kprobes, uprobes, eprobes, fprobes, synthetic events) as
//! listed by `dynamic_events`, `kprobe_events`, `uprobe_events` and
//! `synthetic_events`, and which of them are tracekit's.
//!
//! tracekit never truncates these shared files: it appends its own
//! definitions and deletes only its own with `-:GROUP/EVENT`.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::journal::Session;
use crate::root::Tracefs;

/// Default group prefix of tracekit's probes (`tracekit_<user>`).
pub const TRACEKIT_GROUP_PREFIX: &str = "tracekit";

/// Kind of dynamic event, from the definition's first letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ProbeKind {
    /// `p:` on a kernel symbol.
    Kprobe,
    /// `r:` on a kernel symbol.
    Kretprobe,
    /// `p:` on `PATH:OFFSET`.
    Uprobe,
    /// `r:` on `PATH:OFFSET`.
    Uretprobe,
    /// `e:` event probe.
    Eprobe,
    /// `f:` function entry/exit probe.
    Fprobe,
    /// `t:` tracepoint probe.
    Tprobe,
    /// `s:` synthetic event.
    Synthetic,
}

/// One dynamic event definition as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DynamicEvent {
    /// Kind.
    pub kind: ProbeKind,
    /// Group (system).
    pub group: String,
    /// Event name.
    pub name: String,
    /// The definition line as listed.
    pub definition: String,
}

impl DynamicEvent {
    /// Parses one listed line (`p:kprobes/x do_sys_open …`, `s:synthetic/x …`,
    /// or a `synthetic_events` line `name type field; …`).
    pub fn parse(line: &str) -> Option<DynamicEvent> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (head, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let Some((ty, ev)) = head.split_once(':') else {
            // synthetic_events lists "name type field; ...".
            return Some(DynamicEvent {
                kind: ProbeKind::Synthetic,
                group: "synthetic".into(),
                name: head.to_string(),
                definition: line.to_string(),
            });
        };
        let (group, name) = ev.split_once('/')?;
        let place = rest.split_whitespace().next().unwrap_or("");
        let user = place.starts_with('/') || place.contains(":0x");
        let kind = match ty.chars().next()? {
            'p' if user => ProbeKind::Uprobe,
            'p' => ProbeKind::Kprobe,
            'r' if user => ProbeKind::Uretprobe,
            'r' => ProbeKind::Kretprobe,
            'e' => ProbeKind::Eprobe,
            'f' => ProbeKind::Fprobe,
            't' => ProbeKind::Tprobe,
            's' => ProbeKind::Synthetic,
            _ => return None,
        };
        Some(DynamicEvent {
            kind,
            group: group.to_string(),
            name: name.to_string(),
            definition: line.to_string(),
        })
    }

    /// `GROUP/EVENT`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }

    /// The file that holds this kind of definition.
    pub fn control_file(&self) -> &'static str {
        match self.kind {
            ProbeKind::Kprobe | ProbeKind::Kretprobe => "kprobe_events",
            ProbeKind::Uprobe | ProbeKind::Uretprobe => "uprobe_events",
            ProbeKind::Synthetic => "synthetic_events",
            _ => "dynamic_events",
        }
    }

    /// The line that deletes it: `-:GROUP/EVENT`.
    pub fn delete_command(&self) -> String {
        format!("-:{}", self.id())
    }
}

/// All dynamic events: `dynamic_events` when present (it lists every kind),
/// plus `kprobe_events`, `uprobe_events` and `synthetic_events`, deduplicated.
pub fn list(tfs: &Tracefs) -> Result<Vec<DynamicEvent>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for f in [
        "dynamic_events",
        "kprobe_events",
        "uprobe_events",
        "synthetic_events",
    ] {
        let p = tfs.path(f);
        if !p.exists() {
            continue;
        }
        let text = match tfs.read(&p) {
            Ok(t) => t,
            Err(_) => continue,
        };
        for ev in text.lines().filter_map(DynamicEvent::parse) {
            if seen.insert(ev.id()) {
                out.push(ev);
            }
        }
    }
    Ok(out)
}

/// Whether a probe is tracekit's: created by a journaled tracekit session,
/// or in a `tracekit*` group.
pub fn is_ours(ev: &DynamicEvent, sessions: &[Session]) -> bool {
    ev.group.starts_with(TRACEKIT_GROUP_PREFIX)
        || sessions
            .iter()
            .any(|s| s.probes().iter().any(|p| *p == ev.id()))
}

/// Creates a dynamic event by appending `definition` (`p:GROUP/EVENT …`) to
/// `file` (`kprobe_events`, `uprobe_events` or `dynamic_events`); journaled
/// first, so `tracekit reset` deletes it even if this process dies. Never
/// truncates the file. Returns the created event as the kernel lists it.
pub fn create(tfs: &Tracefs, file: &str, definition: &str) -> Result<DynamicEvent> {
    let parsed = DynamicEvent::parse(definition).ok_or_else(|| crate::Error::Invalid {
        what: "probe definition",
        value: definition.to_string(),
        why: "expected TYPE:GROUP/EVENT PLACE [ARGS] (name the group and event explicitly)".into(),
    })?;
    if !crate::root::SHARED_PROBE_FILES.contains(&file) {
        return Err(crate::Error::Invalid {
            what: "probe file",
            value: file.to_string(),
            why: "use kprobe_events, uprobe_events, dynamic_events or synthetic_events".into(),
        });
    }
    let mut seq = None;
    if let (Some(j), true) = (tfs.journal(), tfs.applies()) {
        let s = j.next_seq();
        j.record(&crate::journal::Entry::ProbeCreated {
            seq: s,
            file: file.to_string(),
            event: parsed.id(),
            definition: definition.to_string(),
        })?;
        seq = Some(s);
    }
    if let Err(e) = tfs.write(&tfs.path(file), definition, crate::WriteMode::Append) {
        if let (Some(j), Some(s)) = (tfs.journal(), seq) {
            let _ = j.record(&crate::journal::Entry::Undone { seq: s });
        }
        return Err(e);
    }
    Ok(parsed)
}

/// Deletes one of tracekit's dynamic events (`-:GROUP/EVENT` appended).
/// Refuses events that are not tracekit's unless `force`.
pub fn destroy(tfs: &Tracefs, ev: &DynamicEvent, sessions: &[Session], force: bool) -> Result<()> {
    if !force && !is_ours(ev, sessions) {
        return Err(crate::Error::Refused(format!(
            "{} was not created by tracekit; it is left alone",
            ev.id()
        )));
    }
    tfs.write(
        &tfs.path(ev.control_file()),
        &ev.delete_command(),
        crate::WriteMode::Append,
    )?;
    if let (Some(j), true) = (tfs.journal(), tfs.applies()) {
        if let Ok(Some(s)) = j.session() {
            for e in s.pending() {
                if let crate::journal::Entry::ProbeCreated { seq, event, .. } = e {
                    if *event == ev.id() {
                        j.record(&crate::journal::Entry::Undone { seq: *seq })?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listed_definitions() {
        let k = DynamicEvent::parse("p:kprobes/myopen do_sys_openat2 dfd=%di:s32").unwrap();
        assert_eq!(k.kind, ProbeKind::Kprobe);
        assert_eq!(k.id(), "kprobes/myopen");
        assert_eq!(k.delete_command(), "-:kprobes/myopen");
        let u = DynamicEvent::parse("r:tcuprobes/libc_open_ret /usr/lib/x86_64-linux-gnu/libc.so.6:0x00000000000f7f30 ret=$retval:s32").unwrap();
        assert_eq!(u.kind, ProbeKind::Uretprobe);
        assert_eq!(u.control_file(), "uprobe_events");
        let s = DynamicEvent::parse("wakeup_lat pid_t pid; u64 lat").unwrap();
        assert_eq!(s.kind, ProbeKind::Synthetic);
        assert_eq!(s.name, "wakeup_lat");
        assert!(DynamicEvent::parse("").is_none());
        let e = DynamicEvent::parse("e:eprobes/x sched.sched_switch").unwrap();
        assert_eq!(e.kind, ProbeKind::Eprobe);
    }
}
