//! [`Tracefs`]: where tracefs lives, and the one place that opens, reads and
//! writes its files. Every change goes through here so that `--dry-run`
//! prints the equivalent shell command instead, `--explain` prints and
//! performs it, failed writes carry the kernel's `error_log` entry, and the
//! hazardous files are never opened in a harmful way.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{ErrorLogEntry, Result, Unsupported};
use crate::features::file_feature;
use crate::journal::Journal;
use crate::Error;

/// How changes are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Perform changes silently.
    #[default]
    Apply,
    /// Print the equivalent shell commands, change nothing.
    DryRun,
    /// Print the equivalent shell commands and perform them.
    Explain,
}

/// Whether a write replaces the file's content (`>`) or appends (`>>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `echo VALUE > FILE`: opened with `O_TRUNC`.
    Replace,
    /// `echo VALUE >> FILE`: opened with `O_APPEND`, never truncates.
    Append,
}

/// Files shared by every tracefs user whose truncation deletes everybody's
/// probes: never opened with `O_TRUNC`.
pub const SHARED_PROBE_FILES: &[&str] = &[
    "kprobe_events",
    "uprobe_events",
    "dynamic_events",
    "synthetic_events",
];

/// Receiver of the shell commands printed in `--dry-run`/`--explain` mode.
pub type EchoSink = Box<dyn FnMut(&str) + Send>;

struct Inner {
    root: PathBuf,
    mode: Mode,
    echo: Mutex<EchoSink>,
    journal: Option<Arc<Journal>>,
    euid_root: bool,
    changes: Mutex<u64>,
    pause_after_changes: Option<u64>,
}

/// A handle on a tracefs mount: the root directory plus how changes are made.
/// Cheap to clone.
#[derive(Clone)]
pub struct Tracefs {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracefs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracefs")
            .field("root", &self.inner.root)
            .field("mode", &self.inner.mode)
            .finish()
    }
}

/// Default locations, in the order they are tried.
pub const DEFAULT_ROOTS: &[&str] = &["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

fn looks_mounted(p: &Path) -> bool {
    p.join("tracing_on").exists() || p.join("trace").exists()
}

/// Mount points of tracefs from `/proc/self/mounts` (visible even when the
/// mount itself is not accessible to this user).
fn tracefs_mounts() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let _dev = it.next()?;
            let dir = it.next()?;
            let ty = it.next()?;
            (ty == "tracefs").then(|| PathBuf::from(dir.replace("\\040", " ")))
        })
        .collect()
}

/// Options for [`Tracefs::open`].
#[derive(Default)]
pub struct TracefsOptions {
    /// Use this root instead of searching (also taken from `TRACEFS`).
    pub root: Option<PathBuf>,
    /// How to carry out changes.
    pub mode: Mode,
    /// Where `--dry-run`/`--explain` commands go (default: stdout).
    pub echo: Option<EchoSink>,
    /// The journal recording changes made outside tracekit's own instances.
    pub journal: Option<Arc<Journal>>,
    /// Mount tracefs at `/sys/kernel/tracing` if it is not mounted (root only).
    pub mount_if_needed: bool,
    /// Test hook: after this many journaled changes, sleep (so a test can
    /// kill the process mid-change). `None` in normal use.
    pub pause_after_changes: Option<u64>,
}

impl Tracefs {
    /// Finds tracefs: `options.root`, else the `TRACEFS` environment variable,
    /// else `/sys/kernel/tracing`, else `/sys/kernel/debug/tracing`, else mounts
    /// tracefs at `/sys/kernel/tracing` (root only, when `mount_if_needed`).
    pub fn open(options: TracefsOptions) -> Result<Tracefs> {
        let euid_root = rustix::process::geteuid().is_root();
        let mut echo: EchoSink = options.echo.unwrap_or_else(|| {
            Box::new(|s: &str| {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{s}");
            })
        });
        let explicit = options.root.clone();
        let root = if let Some(r) = explicit {
            if !r.is_dir() {
                return Err(Error::NotMounted {
                    hint: format!(
                        "{} (from TRACEFS or --tracefs) is not a directory",
                        r.display()
                    ),
                });
            }
            r
        } else if let Some(r) = DEFAULT_ROOTS
            .iter()
            .map(PathBuf::from)
            .find(|p| looks_mounted(p))
        {
            r
        } else if let Some(m) = tracefs_mounts()
            .into_iter()
            .find(|m| DEFAULT_ROOTS.iter().any(|d| Path::new(d) == m))
        {
            // Mounted, but not accessible to us.
            return Err(Error::NotPermitted { path: m });
        } else {
            let target = PathBuf::from(DEFAULT_ROOTS[0]);
            if !euid_root {
                return Err(Error::NotMounted {
                    hint: "run as root so tracekit can mount it, or mount it yourself: `sudo mount -t tracefs nodev /sys/kernel/tracing`".into(),
                });
            }
            if !options.mount_if_needed {
                return Err(Error::NotMounted {
                    hint: "mount it with `mount -t tracefs nodev /sys/kernel/tracing`".into(),
                });
            }
            if options.mode != Mode::Apply {
                echo(&format!("mount -t tracefs nodev {}", target.display()));
            }
            if options.mode == Mode::DryRun {
                // A dry run changes nothing: mount it where only this
                // process sees it (a private mount namespace), so the
                // commands can still be worked out from the kernel's files.
                private_mount_namespace().map_err(|e| Error::NotMounted {
                    hint: format!(
                        "dry run: the `mount` above was not run, and a private mount namespace to read tracefs in could not be made ({e})"
                    ),
                })?;
            }
            rustix::mount::mount("nodev", &target, "tracefs", rustix::mount::MountFlags::empty(), None::<&std::ffi::CStr>)
                .map_err(|e| Error::NotMounted {
                    hint: format!(
                        "`mount -t tracefs nodev {}` failed: {} (is CONFIG_TRACING enabled? is /sys read-only?)",
                        target.display(),
                        io::Error::from(e)
                    ),
                })?;
            log::info!("mounted tracefs at {}", target.display());
            target
        };
        Ok(Tracefs {
            inner: Arc::new(Inner {
                root,
                mode: options.mode,
                echo: Mutex::new(echo),
                journal: options.journal,
                euid_root,
                changes: Mutex::new(0),
                pause_after_changes: options.pause_after_changes,
            }),
        })
    }

    /// A handle on an explicit root (tests, copied trees), applying changes.
    pub fn at(root: impl Into<PathBuf>) -> Result<Tracefs> {
        Tracefs::open(TracefsOptions {
            root: Some(root.into()),
            ..Default::default()
        })
    }

    /// The tracefs root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// How changes are carried out.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// The journal, if changes are journaled.
    pub fn journal(&self) -> Option<&Arc<Journal>> {
        self.inner.journal.as_ref()
    }

    /// Whether the process runs as root.
    pub fn is_root(&self) -> bool {
        self.inner.euid_root
    }

    /// `root/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.inner.root.join(rel)
    }

    /// Path relative to the root (for journal entries and messages).
    pub fn rel<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.inner.root).unwrap_or(path)
    }

    pub(crate) fn emit(&self, cmd: &str) {
        if self.inner.mode != Mode::Apply {
            if let Ok(mut e) = self.inner.echo.lock() {
                (e)(cmd);
            }
        }
    }

    /// Whether changes are really performed (false in `--dry-run`).
    pub fn applies(&self) -> bool {
        self.inner.mode != Mode::DryRun
    }

    /// Maps an I/O error on `path` into a typed error: a missing file is a
    /// missing kernel feature, EPERM as root is a kernel policy.
    pub fn classify(&self, path: &Path, e: io::Error, reading: bool) -> Error {
        let rel = self.rel(path).to_string_lossy().into_owned();
        match e.raw_os_error() {
            Some(libc::ENOENT) => match file_feature(&rel) {
                Some((feature, config)) => Error::Unsupported(Box::new(Unsupported {
                    feature: feature.to_string(),
                    reason: format!("{} does not exist", path.display()),
                    kernel_config: Some(config.to_string()),
                    fallback: None,
                })),
                None if reading => Error::Read {
                    path: path.to_path_buf(),
                    error: e,
                },
                None => Error::Io {
                    op: "opening",
                    path: path.to_path_buf(),
                    error: e,
                },
            },
            Some(libc::EPERM) | Some(libc::EACCES) => {
                if self.inner.euid_root {
                    let feature = file_feature(&rel)
                        .map(|(f, _)| f.to_string())
                        .unwrap_or_else(|| rel.clone());
                    Error::Unsupported(Box::new(Unsupported {
                        feature,
                        reason: format!(
                            "{} refuses access even to root ({}): blocked by a kernel policy (e.g. lockdown or an LSM), not a missing config option",
                            path.display(),
                            crate::error::errno_text(&e)
                        ),
                        kernel_config: None,
                        fallback: None,
                    }))
                } else {
                    Error::NotPermitted {
                        path: path.to_path_buf(),
                    }
                }
            }
            _ if reading => Error::Read {
                path: path.to_path_buf(),
                error: e,
            },
            _ => Error::Io {
                op: "opening",
                path: path.to_path_buf(),
                error: e,
            },
        }
    }

    fn check_hazards(&self, path: &Path, mode: Option<WriteMode>) -> Result<()> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "free_buffer" {
            return Err(Error::Refused(format!(
                "{} is never opened: closing it shrinks the ring buffer",
                path.display()
            )));
        }
        if mode == Some(WriteMode::Replace)
            && SHARED_PROBE_FILES.contains(&name)
            && self.rel(path).components().count() == 1
        {
            return Err(Error::Refused(format!(
                "{} is never truncated: that deletes every user's probes; append `-:GROUP/EVENT` to delete one",
                path.display()
            )));
        }
        Ok(())
    }

    /// Reads a whole control file.
    pub fn read(&self, path: &Path) -> Result<String> {
        self.check_hazards(path, None)?;
        read_file(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| self.classify(path, e, true))
    }

    /// Reads a control file relative to the root.
    pub fn read_rel(&self, rel: &str) -> Result<String> {
        self.read(&self.path(rel))
    }

    /// Writes `value` (a newline is appended, as `echo` does; an empty value
    /// writes nothing) to `path`. In dry-run mode only prints the command. On
    /// failure the kernel's `error_log` entry for this command is attached.
    pub fn write(&self, path: &Path, value: &str, mode: WriteMode) -> Result<()> {
        self.check_hazards(path, Some(mode))?;
        self.emit(&echo_command(value, path, mode));
        if !self.applies() {
            return Ok(());
        }
        let log_path = error_log_for(&self.inner.root, path);
        let before = if produces_error_log(path) {
            log_path
                .as_ref()
                .and_then(|p| read_text(p).ok())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut opts = OpenOptions::new();
        opts.write(true);
        match mode {
            WriteMode::Replace => opts.truncate(true),
            WriteMode::Append => opts.append(true),
        };
        let mut f = opts.open(path).map_err(|e| self.classify(path, e, false))?;
        if !value.is_empty() {
            let mut buf = value.as_bytes().to_vec();
            if !value.ends_with('\n') {
                buf.push(b'\n');
            }
            // One write(2) per command, as `echo` does: files parsed a token
            // at a time (set_ftrace_filter, set_graph_function, set_event)
            // consume one token per write and return a short count; the rest
            // is written again, like stdio's write loop.
            let mut done = 0;
            let res = loop {
                match f.write(buf.get(done..).unwrap_or(&[])) {
                    Ok(n) if done + n >= buf.len() => break Ok(()),
                    Ok(0) => {
                        break Err(io::Error::other(format!(
                            "short write: {done} of {} bytes",
                            buf.len()
                        )))
                    }
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            match res {
                Ok(()) => {}
                Err(e) => {
                    let kernel = log_path
                        .as_ref()
                        .and_then(|p| read_text(p).ok())
                        .and_then(|after| find_log_entry(&before, &after, value));
                    return Err(Error::Write {
                        path: path.to_path_buf(),
                        value: value.to_string(),
                        error: e,
                        kernel: kernel.map(Box::new),
                    });
                }
            }
        }
        if let Ok(mut n) = self.inner.changes.lock() {
            *n += 1;
        }
        Ok(())
    }

    /// Creates a directory (an instance).
    pub fn mkdir(&self, path: &Path) -> Result<()> {
        self.emit(&format!("mkdir {}", shell_quote_path(path)));
        if !self.applies() {
            return Ok(());
        }
        fs::create_dir(path).map_err(|e| match e.raw_os_error() {
            Some(libc::EEXIST) => Error::Io {
                op: "creating (already exists)",
                path: path.to_path_buf(),
                error: e,
            },
            _ => self.classify(path, e, false),
        })
    }

    /// Removes a directory (an instance).
    pub fn rmdir(&self, path: &Path) -> Result<()> {
        self.emit(&format!("rmdir {}", shell_quote_path(path)));
        if !self.applies() {
            return Ok(());
        }
        fs::remove_dir(path).map_err(|e| Error::Io {
            op: "removing",
            path: path.to_path_buf(),
            error: e,
        })
    }

    /// The test hook's pause point: sleeps once `changes_made` reaches
    /// [`TracefsOptions::pause_after_changes`].
    pub(crate) fn pause_point(&self) {
        if let Some(n) = self.inner.pause_after_changes {
            if self.changes_made() == n {
                eprintln!("tracekit: test pause after {n} changes");
                std::thread::sleep(std::time::Duration::from_secs(600));
            }
        }
    }

    /// Number of writes performed so far by this handle (for test pause points).
    pub fn changes_made(&self) -> u64 {
        self.inner.changes.lock().map(|n| *n).unwrap_or(0)
    }
}

/// Moves this process into its own mount namespace whose mounts do not
/// propagate back (`unshare -m --propagation private`).
fn private_mount_namespace() -> io::Result<()> {
    // SAFETY: only the mount namespace (and with it this thread's fs
    // struct, which the kernel requires to be unshared: EINVAL when other
    // threads share it) changes; no file descriptors are affected.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )?;
    Ok(())
}

/// Reads a whole tracefs file with large `read(2)` calls until EOF.
/// (`std::fs::read` starts with a 32-byte probe read, after which some
/// tracefs files, e.g. `events/header_page` on 6.18, report EOF.)
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = fs::File::open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// [`read_file`] as text (lossy UTF-8).
pub fn read_text(path: &Path) -> io::Result<String> {
    read_file(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Whether failed writes to this file leave an `error_log` entry worth
/// matching by its `Command:` line.
fn produces_error_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    matches!(
        name,
        "filter"
            | "trigger"
            | "kprobe_events"
            | "uprobe_events"
            | "dynamic_events"
            | "synthetic_events"
            | "set_event"
            | "hist"
    )
}

/// The `error_log` of the trace array that owns `path`: the instance's for
/// files under `instances/NAME/`, else the top level's.
fn error_log_for(root: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(root).ok()?;
    let mut comps = rel.components();
    if comps.next()?.as_os_str() == "instances" {
        let name = comps.next()?;
        return Some(root.join("instances").join(name).join("error_log"));
    }
    Some(root.join("error_log"))
}

/// Finds the `error_log` entry for `value`: the newest entry (preferably
/// one not present before the write) whose `Command:` matches.
pub(crate) fn find_log_entry(before: &str, after: &str, value: &str) -> Option<ErrorLogEntry> {
    let old = ErrorLogEntry::parse_log(before);
    let new = ErrorLogEntry::parse_log(after);
    let want = value.trim();
    let matches = |e: &ErrorLogEntry| {
        let c = e.command.trim();
        !c.is_empty() && (c == want || want.contains(c) || c.contains(want))
    };
    new.iter()
        .rev()
        .find(|e| matches(e) && !old.contains(e))
        .or_else(|| new.iter().rev().find(|e| matches(e)))
        .cloned()
}

/// Quotes a value for a POSIX shell (single quotes).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+./:=,@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn shell_quote_path(p: &Path) -> String {
    shell_quote(&p.to_string_lossy())
}

/// The shell command equivalent to a write: `echo 'VALUE' > FILE`.
pub fn echo_command(value: &str, path: &Path, mode: WriteMode) -> String {
    let redir = match mode {
        WriteMode::Replace => ">",
        WriteMode::Append => ">>",
    };
    let v = value.trim_end_matches('\n');
    if v.is_empty() {
        format!("echo {redir} {}", shell_quote_path(path))
    } else {
        format!("echo {} {redir} {}", shell_quote(v), shell_quote_path(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_commands_quote() {
        assert_eq!(
            echo_command(
                "sched:sched_switch",
                Path::new("/t/set_event"),
                WriteMode::Replace
            ),
            "echo sched:sched_switch > /t/set_event"
        );
        assert_eq!(
            echo_command("prev_comm == 'a b'", Path::new("/t/x"), WriteMode::Append),
            "echo 'prev_comm == '\\''a b'\\''' >> /t/x"
        );
        assert_eq!(
            echo_command("", Path::new("/t/trace"), WriteMode::Replace),
            "echo > /t/trace"
        );
    }

    #[test]
    fn error_log_location() {
        let r = Path::new("/t");
        assert_eq!(
            error_log_for(r, Path::new("/t/instances/a/events/x/filter")),
            Some(PathBuf::from("/t/instances/a/error_log"))
        );
        assert_eq!(
            error_log_for(r, Path::new("/t/kprobe_events")),
            Some(PathBuf::from("/t/error_log"))
        );
    }

    #[test]
    fn matches_new_entry_by_command() {
        let before = "[ 1.0] x: error: old\n  Command: a == 1\n  ^\n";
        let after = "[ 1.0] x: error: old\n  Command: a == 1\n  ^\n[ 2.0] x: error: new\n  Command: a == 1\n             ^\n[ 3.0] y: error: other\n  Command: zzz\n  ^\n";
        let e = find_log_entry(before, after, "a == 1\n").unwrap();
        assert_eq!(e.message, "new");
        assert!(find_log_entry("", after, "nothing").is_none());
    }

    #[test]
    fn refuses_hazards() {
        // A fake tree in a temporary directory (never the real tracefs).
        let dir = fake_tree(&[
            ("tracing_on", "1\n"),
            ("uprobe_events", "p:other/x /bin/true:0x10\n"),
            ("free_buffer", ""),
        ]);
        let t = Tracefs::at(dir.path()).unwrap();
        let e = t
            .write(&t.path("uprobe_events"), "", WriteMode::Replace)
            .unwrap_err();
        assert!(matches!(e, Error::Refused(_)), "{e}");
        assert!(t.read(&t.path("free_buffer")).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("uprobe_events")).unwrap(),
            "p:other/x /bin/true:0x10\n"
        );
        t.write(&t.path("uprobe_events"), "-:mine/y", WriteMode::Append)
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("uprobe_events")).unwrap(),
            "p:other/x /bin/true:0x10\n-:mine/y\n"
        );
    }

    /// A temporary directory holding the given files.
    fn fake_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }
}
