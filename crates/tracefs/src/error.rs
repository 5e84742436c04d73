//! The crate's error type. Every variant carries what a user needs to act on
//! it: the tracefs file, the value written, the kernel's own `error_log`
//! message (with its caret), or the kernel configuration that provides a
//! missing feature.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// One entry of a tracefs `error_log` file.
///
/// ```text
/// [ 3704.338376] event filter parse error: error: Invalid value (did you forget quotes)?
///   Command: prev_comm != bash
///                          ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorLogEntry {
    /// The timestamp in brackets, as printed (`3704.338376`).
    pub timestamp: String,
    /// The location, e.g. `event filter parse error`, `trace_kprobe`.
    pub location: String,
    /// The message after `error: `.
    pub message: String,
    /// The command the kernel parsed (the text after `Command: `).
    pub command: String,
    /// Column of the caret inside `command` (0-based), when present.
    pub caret: Option<usize>,
}

impl ErrorLogEntry {
    /// Parses the whole text of an `error_log` file into entries (oldest first).
    /// Lines that do not fit the format are ignored.
    pub fn parse_log(text: &str) -> Vec<ErrorLogEntry> {
        let mut out: Vec<ErrorLogEntry> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix('[') {
                let Some((ts, rest)) = rest.split_once("] ") else {
                    continue;
                };
                let (location, message) = match rest.split_once(": error: ") {
                    Some((l, m)) => (l.to_string(), m.to_string()),
                    None => (String::new(), rest.to_string()),
                };
                out.push(ErrorLogEntry {
                    timestamp: ts.trim().to_string(),
                    location,
                    message,
                    command: String::new(),
                    caret: None,
                });
            } else if let Some(cmd) = line.strip_prefix("  Command: ") {
                if let Some(e) = out.last_mut() {
                    e.command = cmd.to_string();
                }
            } else if line.trim_end().ends_with('^') && line.trim() == "^" {
                if let Some(e) = out.last_mut() {
                    let col = line.len() - 1;
                    e.caret = col.checked_sub("  Command: ".len());
                }
            }
        }
        out
    }

    /// The entry rendered as the kernel printed it (message, command, caret).
    pub fn render(&self) -> String {
        let mut s = format!("{}: error: {}", self.location, self.message);
        if !self.command.is_empty() {
            s.push_str(&format!("\n  Command: {}", self.command));
            if let Some(c) = self.caret {
                s.push_str(&format!("\n{}^", " ".repeat("  Command: ".len() + c)));
            }
        }
        s
    }
}

/// Why a feature cannot be used on this kernel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unsupported {
    /// The feature, as the user knows it (`kprobes`, `function tracer`).
    pub feature: String,
    /// Why: the missing file, a blocking policy, an absent tracer.
    pub reason: String,
    /// The kernel configuration option that provides it, if any.
    pub kernel_config: Option<String>,
    /// What tracekit does instead, if anything.
    pub fallback: Option<String>,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not available: {}", self.feature, self.reason)?;
        if let Some(c) = &self.kernel_config {
            write!(f, " (enable {c} in the kernel configuration)")?;
        }
        if let Some(fb) = &self.fallback {
            write!(f, "; fallback: {fb}")?;
        }
        Ok(())
    }
}

/// Errors of the tracefs control plane.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// tracefs is not mounted and could not be mounted.
    #[error("tracefs is not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing: {hint}")]
    NotMounted {
        /// How to fix it.
        hint: String,
    },
    /// Writing a control file failed.
    #[error("{}", write_message(.path, .value, .error, .kernel))]
    Write {
        /// The file written.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The errno of the failed write.
        error: io::Error,
        /// The kernel's `error_log` entry for this command, when it wrote one.
        kernel: Option<Box<ErrorLogEntry>>,
    },
    /// Reading a control file failed.
    #[error("reading {}: {}", .path.display(), errno_text(.error))]
    Read {
        /// The file read.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// Another filesystem operation (mkdir, rmdir, open) failed.
    #[error("{op} {}: {}", .path.display(), errno_text(.error))]
    Io {
        /// What was attempted (`creating instance`, `removing instance`).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// The feature is missing from this kernel or blocked by a policy.
    #[error("{0}")]
    Unsupported(Box<Unsupported>),
    /// Access was refused and we are not root.
    #[error("permission denied on {}: run tracekit as root (or add your user to the group owning tracefs)", .path.display())]
    NotPermitted {
        /// The file that refused access.
        path: PathBuf,
    },
    /// A name (event, tracer, option, clock, instance) does not exist.
    #[error("{}", unknown_message(.kind, .name, .suggestions))]
    Unknown {
        /// What kind of name (`event`, `tracer`, `option`, `clock`, `instance`).
        kind: &'static str,
        /// The name given.
        name: String,
        /// Close existing names.
        suggestions: Vec<String>,
    },
    /// A value was rejected before it reached the kernel.
    #[error("invalid {what} '{value}': {why}")]
    Invalid {
        /// What was being set.
        what: &'static str,
        /// The value.
        value: String,
        /// Why it is invalid.
        why: String,
    },
    /// tracekit refused an operation that would harm other tracefs users.
    #[error("refused: {0}")]
    Refused(String),
    /// The state journal could not be read or written.
    #[error("journal {}: {why}", .path.display())]
    Journal {
        /// The journal file or directory.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

fn write_message(
    path: &std::path::Path,
    value: &str,
    source: &io::Error,
    kernel: &Option<Box<ErrorLogEntry>>,
) -> String {
    let shown = value.trim_end_matches('\n');
    let mut s = format!(
        "writing '{}' to {} failed: {}",
        shown,
        path.display(),
        errno_text(source)
    );
    if let Some(k) = kernel {
        s.push_str("\n  kernel: ");
        s.push_str(&k.render().replace('\n', "\n  "));
    } else if source.raw_os_error() == Some(libc::EBUSY) {
        s.push_str("\n  hint: the file is busy (an event or probe is still enabled somewhere, or another reader holds it)");
    }
    s
}

/// The errno text without Rust's "(os error N)" suffix.
pub(crate) fn errno_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn unknown_message(kind: &str, name: &str, suggestions: &[String]) -> String {
    let mut s = format!("unknown {kind} '{name}'");
    if !suggestions.is_empty() {
        s.push_str(&format!("; did you mean {}?", suggestions.join(", ")));
    }
    s
}

impl Error {
    /// A missing or blocked feature.
    pub fn unsupported(
        feature: impl Into<String>,
        reason: impl Into<String>,
        kernel_config: Option<&str>,
        fallback: Option<&str>,
    ) -> Error {
        Error::Unsupported(Box::new(Unsupported {
            feature: feature.into(),
            reason: reason.into(),
            kernel_config: kernel_config.map(str::to_string),
            fallback: fallback.map(str::to_string),
        }))
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_log_entries() {
        let log = "[ 3704.338376] event filter parse error: error: Invalid value (did you forget quotes)?\n  Command: prev_comm != bash\n                         ^\n[ 3705.000001] trace_uprobe: error: Invalid register name\n  Command: p:g/e /bin/true:0x10 %rax\n                                  ^\n";
        let e = ErrorLogEntry::parse_log(log);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].location, "event filter parse error");
        assert_eq!(e[0].message, "Invalid value (did you forget quotes)?");
        assert_eq!(e[0].command, "prev_comm != bash");
        assert_eq!(e[0].caret, Some(14));
        assert_eq!(e[1].caret, Some(23));
        assert!(e[0].render().ends_with("\n                         ^"));
    }

    #[test]
    fn write_error_quotes_kernel() {
        let err = Error::Write {
            path: "/t/events/sched/sched_switch/filter".into(),
            value: "prev_comm != bash".into(),
            error: io::Error::from_raw_os_error(libc::EINVAL),
            kernel: ErrorLogEntry::parse_log("[ 1.0] event filter parse error: error: Invalid value (did you forget quotes)?\n  Command: prev_comm != bash\n                         ^\n").pop().map(Box::new),
        };
        let s = err.to_string();
        assert!(s.starts_with("writing 'prev_comm != bash' to /t/events/sched/sched_switch/filter failed: Invalid argument\n  kernel: event filter parse error: error: Invalid value"), "{s}");
        assert!(s.contains("  Command: prev_comm != bash"), "{s}");
    }
}
