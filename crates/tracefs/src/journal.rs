//! The journal: a crash-safe record of every change tracekit makes outside
//! its own instances (with the previous value), and of every instance and
//! probe it creates. Each tracekit process writes its own append-only file
//! (`STATE_DIR/journal/<boot>-<pid>-<start>.jsonl`), flushed to disk before
//! the change is made. A file whose owner (pid + process start time + boot
//! id) is gone is *stale*: the next run reports it and `tracekit reset`
//! undoes exactly those changes, newest first.
//!
//! The state directory is `TRACEKIT_STATE_DIR`, else `/run/tracekit`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/run/tracekit";

/// Identity of the process that owns a journal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Process start time (clock ticks since boot, field 22 of /proc/PID/stat).
    pub start_time: u64,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// The command line, for messages.
    pub cmdline: String,
    /// The tracefs root the changes were made in.
    pub root: PathBuf,
    /// Wall-clock start, seconds since the epoch.
    pub started: u64,
}

impl Owner {
    /// The current process.
    pub fn current(root: &Path) -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
            boot_id: boot_id(),
            cmdline: std::env::args().collect::<Vec<_>>().join(" "),
            root: root.to_path_buf(),
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// Whether this owner is still running (same boot, same pid and start time).
    pub fn state(&self) -> OwnerState {
        if self.boot_id != boot_id() {
            return OwnerState::OtherBoot;
        }
        match process_start_time(self.pid) {
            Some(t) if t == self.start_time => OwnerState::Alive,
            _ => OwnerState::Gone,
        }
    }
}

/// Liveness of a journal's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OwnerState {
    /// The owning process is still running.
    Alive,
    /// The owner exited or was killed.
    Gone,
    /// The journal is from an earlier boot: tracefs has been reset since.
    OtherBoot,
}

/// Start time of a process in clock ticks since boot.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: split after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The kernel's boot id.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// First line of every file.
    Owner(Owner),
    /// A control file is about to be changed; `prev` is its normalised old value.
    Set {
        /// Sequence number (nanoseconds since the epoch, unique within a file).
        seq: u64,
        /// Path relative to the tracefs root.
        file: String,
        /// Normalised previous value.
        prev: String,
        /// The value written.
        new: String,
    },
    /// The change `seq` was applied; `readback` is the normalised new value.
    Applied {
        /// The `Set` this completes.
        seq: u64,
        /// Normalised value read back after the write.
        readback: String,
    },
    /// A trigger is about to be added to `file`.
    TriggerAdded {
        /// Sequence number.
        seq: u64,
        /// The `trigger` file, relative to the root.
        file: String,
        /// The trigger text as written.
        trigger: String,
    },
    /// An instance is about to be created.
    InstanceCreated {
        /// Sequence number.
        seq: u64,
        /// Instance name.
        name: String,
    },
    /// A dynamic event (probe) is about to be created.
    ProbeCreated {
        /// Sequence number.
        seq: u64,
        /// `kprobe_events`, `uprobe_events`, `dynamic_events` or `synthetic_events`.
        file: String,
        /// `GROUP/EVENT`.
        event: String,
        /// The definition as written.
        definition: String,
    },
    /// The earlier entry `seq` has been undone (or its object removed).
    Undone {
        /// The entry undone.
        seq: u64,
    },
    /// The owner finished and left its changes in place on purpose
    /// (`tracekit set`, `tracekit start`): `reset` restores them.
    Persist,
    /// Temporary files are about to be created: every file in `dir` whose
    /// name starts with `prefix` (unique to the owner) is the owner's, and
    /// `reset` removes them after a crash ([`remove_temp_files`]).
    TempFiles {
        /// Sequence number.
        seq: u64,
        /// Directory of the files.
        dir: PathBuf,
        /// Name prefix (`.trace.dat.tk1234-5f3a…`).
        prefix: String,
    },
}

/// The journal of the current process. Created lazily: nothing is written
/// until the first change.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    owner: Owner,
    file: Mutex<Option<File>>,
    path: PathBuf,
    last_seq: Mutex<u64>,
}

impl Journal {
    /// A journal for this process under `state_dir` for changes in `root`.
    pub fn new(state_dir: &Path, root: &Path) -> Journal {
        let owner = Owner::current(root);
        let dir = state_dir.join("journal");
        let boot: String = owner.boot_id.chars().take(8).collect();
        let path = dir.join(format!("{boot}-{}-{}.jsonl", owner.pid, owner.start_time));
        Journal {
            dir,
            owner,
            file: Mutex::new(None),
            path,
            last_seq: Mutex::new(0),
        }
    }

    /// The file this journal writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new sequence number: nanoseconds since the epoch, strictly increasing.
    pub fn next_seq(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut last = self.last_seq.lock().unwrap_or_else(|p| p.into_inner());
        *last = (*last + 1).max(now);
        *last
    }

    /// Appends `entry` and flushes it to disk before returning.
    pub fn record(&self, entry: &Entry) -> Result<()> {
        let jerr = |why: String| Error::Journal {
            path: self.path.clone(),
            why,
        };
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            fs::create_dir_all(&self.dir).map_err(|e| jerr(format!("creating directory: {e}")))?;
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| jerr(format!("creating: {e}")))?;
            let line = serde_json::to_string(&Entry::Owner(self.owner.clone()))
                .map_err(|e| jerr(e.to_string()))?;
            writeln!(f, "{line}").map_err(|e| jerr(e.to_string()))?;
            *guard = Some(f);
        }
        let f = guard.as_mut().ok_or_else(|| jerr("not open".into()))?;
        let line = serde_json::to_string(entry).map_err(|e| jerr(e.to_string()))?;
        writeln!(f, "{line}").map_err(|e| jerr(e.to_string()))?;
        f.sync_data().map_err(|e| jerr(format!("fsync: {e}")))?;
        Ok(())
    }

    /// Whether anything has been recorded.
    pub fn is_empty(&self) -> bool {
        self.file.lock().map(|g| g.is_none()).unwrap_or(true)
    }

    /// Reads back this process's own session.
    pub fn session(&self) -> Result<Option<Session>> {
        if self.is_empty() {
            return Ok(None);
        }
        Session::load(&self.path).map(Some)
    }

    /// Deletes this journal's file (after everything was undone).
    pub fn discard(&self) -> Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        *guard = None;
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Journal {
                path: self.path.clone(),
                why: format!("removing: {e}"),
            }),
        }
    }
}

/// One journal file read back.
#[derive(Debug, Clone)]
pub struct Session {
    /// The file.
    pub path: PathBuf,
    /// Its owner.
    pub owner: Owner,
    /// Entries after the owner line.
    pub entries: Vec<Entry>,
    /// Lines that could not be parsed (e.g. torn by a crash mid-write).
    pub bad_lines: usize,
}

impl Session {
    /// Parses a journal file.
    pub fn load(path: &Path) -> Result<Session> {
        let text = fs::read_to_string(path).map_err(|e| Error::Journal {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        Session::parse(path, &text)
    }

    /// Parses journal text.
    pub fn parse(path: &Path, text: &str) -> Result<Session> {
        let mut owner = None;
        let mut entries = Vec::new();
        let mut bad_lines = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Entry>(line) {
                Ok(Entry::Owner(o)) if owner.is_none() => owner = Some(o),
                Ok(e) => entries.push(e),
                Err(_) => bad_lines += 1,
            }
        }
        let owner = owner.ok_or_else(|| Error::Journal {
            path: path.to_path_buf(),
            why: "no owner line".into(),
        })?;
        Ok(Session {
            path: path.to_path_buf(),
            owner,
            entries,
            bad_lines,
        })
    }

    /// Whether the owner left its changes in place on purpose.
    pub fn persistent(&self) -> bool {
        self.entries.iter().any(|e| matches!(e, Entry::Persist))
    }

    /// Entries not yet undone (owner, `Applied`, `Undone` and `Persist`
    /// lines removed).
    pub fn pending(&self) -> Vec<&Entry> {
        let undone: std::collections::HashSet<u64> = self
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Undone { seq } => Some(*seq),
                _ => None,
            })
            .collect();
        self.entries
            .iter()
            .filter(|e| match e {
                Entry::Set { seq, .. }
                | Entry::TriggerAdded { seq, .. }
                | Entry::InstanceCreated { seq, .. }
                | Entry::ProbeCreated { seq, .. }
                | Entry::TempFiles { seq, .. } => !undone.contains(seq),
                _ => false,
            })
            .collect()
    }

    /// The normalised value read back after the `Set` with `seq`, if applied.
    pub fn readback(&self, seq: u64) -> Option<&str> {
        self.entries.iter().find_map(|e| match e {
            Entry::Applied { seq: s, readback } if *s == seq => Some(readback.as_str()),
            _ => None,
        })
    }

    /// Instances this session created and has not removed.
    pub fn instances(&self) -> Vec<String> {
        self.pending()
            .into_iter()
            .filter_map(|e| match e {
                Entry::InstanceCreated { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// Probes (`GROUP/EVENT`) this session created and has not removed.
    pub fn probes(&self) -> Vec<String> {
        self.pending()
            .into_iter()
            .filter_map(|e| match e {
                Entry::ProbeCreated { event, .. } => Some(event.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Removes the regular files in `dir` whose names start with `prefix` (the
/// temporary files of an [`Entry::TempFiles`]); returns how many. A prefix
/// shorter than 8 bytes or not starting with `.` matches nothing (a
/// damaged journal must not delete ordinary files).
pub fn remove_temp_files(dir: &Path, prefix: &str) -> std::io::Result<usize> {
    if prefix.len() < 8 || !prefix.starts_with('.') || prefix.contains('/') {
        return Ok(0);
    }
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    for ent in rd.flatten() {
        let name = ent.file_name();
        let is_file = ent.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && name.as_encoded_bytes().starts_with(prefix.as_bytes()) {
            match fs::remove_file(ent.path()) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// Appends `Undone { seq }` to another process's journal file (fsync'd);
/// with `remove_if_done`, deletes the file once nothing is pending.
pub fn mark_undone(path: &Path, seq: u64, remove_if_done: bool) -> std::io::Result<()> {
    let mut f = OpenOptions::new().append(true).open(path)?;
    let line = serde_json::to_string(&Entry::Undone { seq }).map_err(std::io::Error::other)?;
    writeln!(f, "{line}")?;
    f.sync_data()?;
    if remove_if_done {
        if let Ok(s) = Session::load(path) {
            if s.pending().is_empty() {
                let _ = fs::remove_file(path);
            }
        }
    }
    Ok(())
}

/// Every journal file under `state_dir`, oldest first.
pub fn scan(state_dir: &Path) -> Result<Vec<Session>> {
    let dir = state_dir.join("journal");
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Journal {
                path: dir,
                why: e.to_string(),
            })
        }
    };
    let mut out = Vec::new();
    for ent in rd.flatten() {
        let p = ent.path();
        if p.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        match Session::load(&p) {
            Ok(s) => out.push(s),
            Err(e) => log::warn!("{e}"),
        }
    }
    out.sort_by_key(|s| (s.owner.started, s.owner.pid));
    Ok(out)
}

/// An exclusive lock on the state directory (flock on `STATE_DIR/lock`),
/// held while a session is restored so that two `reset`s do not interleave.
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock, waiting for other holders.
    pub fn acquire(state_dir: &Path) -> Result<StateLock> {
        fs::create_dir_all(state_dir).map_err(|e| Error::Journal {
            path: state_dir.to_path_buf(),
            why: format!("creating: {e}"),
        })?;
        let path = state_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Journal {
                path: path.clone(),
                why: e.to_string(),
            })?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
            Error::Journal {
                path,
                why: format!("flock: {e}"),
            }
        })?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_identity_of_self_is_alive() {
        let o = Owner::current(Path::new("/t"));
        assert!(o.start_time > 0);
        assert_eq!(o.state(), OwnerState::Alive);
        let mut dead = o.clone();
        dead.start_time += 1;
        assert_eq!(dead.state(), OwnerState::Gone);
        let mut other = o;
        other.boot_id = "x".into();
        assert_eq!(other.state(), OwnerState::OtherBoot);
    }

    #[test]
    fn record_and_load_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path(), Path::new("/t"));
        assert!(j.is_empty());
        let s1 = j.next_seq();
        j.record(&Entry::Set {
            seq: s1,
            file: "tracing_on".into(),
            prev: "1".into(),
            new: "0".into(),
        })
        .unwrap();
        j.record(&Entry::Applied {
            seq: s1,
            readback: "0".into(),
        })
        .unwrap();
        let s2 = j.next_seq();
        assert!(s2 > s1);
        j.record(&Entry::InstanceCreated {
            seq: s2,
            name: "x".into(),
        })
        .unwrap();
        j.record(&Entry::Undone { seq: s2 }).unwrap();
        let s = j.session().unwrap().unwrap();
        assert_eq!(s.pending().len(), 1);
        assert_eq!(s.readback(s1), Some("0"));
        assert!(s.instances().is_empty());
        assert!(!s.persistent());
        // A torn last line does not lose the rest.
        let mut text = fs::read_to_string(j.path()).unwrap();
        text.push_str("{\"op\":\"set\",\"se");
        let s = Session::parse(j.path(), &text).unwrap();
        assert_eq!(s.bad_lines, 1);
        assert_eq!(scan(d.path()).unwrap().len(), 1);
        j.discard().unwrap();
        assert!(scan(d.path()).unwrap().is_empty());
    }

    #[test]
    fn temp_files_are_pending_until_undone_and_removed_by_prefix() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path(), Path::new("/t"));
        let seq = j.next_seq();
        let prefix = ".out.dat.tk1-abcdef".to_string();
        j.record(&Entry::TempFiles {
            seq,
            dir: d.path().to_path_buf(),
            prefix: prefix.clone(),
        })
        .unwrap();
        assert_eq!(j.session().unwrap().unwrap().pending().len(), 1);
        for f in [
            ".out.dat.tk1-abcdef.tmp",
            ".out.dat.tk1-abcdef.0.cpu0",
            "out.dat",
        ] {
            fs::write(d.path().join(f), b"x").unwrap();
        }
        assert_eq!(remove_temp_files(d.path(), &prefix).unwrap(), 2);
        assert!(d.path().join("out.dat").exists());
        // A damaged entry matches nothing.
        assert_eq!(remove_temp_files(d.path(), "out").unwrap(), 0);
        assert_eq!(remove_temp_files(d.path(), "").unwrap(), 0);
        j.record(&Entry::Undone { seq }).unwrap();
        assert!(j.session().unwrap().unwrap().pending().is_empty());
    }
}
