//! Errors of the perf crate.

use std::path::PathBuf;

/// Errors from perf_event_open, perf.data parsing/writing and reporting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `perf_event_open` failed for an event.
    #[error("perf_event_open for '{event}' (cpu {cpu}, pid {pid}) failed: {source}")]
    Open {
        /// Event name.
        event: String,
        /// CPU (-1 = any).
        cpu: i32,
        /// Pid (-1 = all).
        pid: i32,
        /// The OS error.
        source: std::io::Error,
    },
    /// An event specification could not be understood.
    #[error("unknown event '{name}': {why}")]
    BadEvent {
        /// What the user wrote.
        name: String,
        /// Why it was rejected.
        why: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A system call other than perf_event_open failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// perf.data is malformed.
    #[error("perf.data malformed at offset {offset:#x}: {why}")]
    BadData {
        /// File offset of the problem.
        offset: u64,
        /// What is wrong.
        why: String,
    },
    /// A command-line value was invalid.
    #[error("invalid {what} '{value}': {why}")]
    BadArg {
        /// The option.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        why: String,
    },
    /// The workload could not be started.
    #[error(transparent)]
    Spawn(#[from] spawn::Error),
    /// The host cannot symbolize a recording made elsewhere.
    #[error("host differs from the recording: {0}")]
    HostMismatch(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
