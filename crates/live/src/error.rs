//! The crate's error type. Errors of the crates below stay typed: a tracefs
//! failure is [`Error::Tracefs`], a trace.dat read/write failure is
//! [`Error::File`], and both print exactly as their own crate prints them.

use std::path::PathBuf;

/// Errors of a live session (recording, streaming, profiling).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tracefs operation failed (set-up, arming, reading the ring buffer).
    #[error(transparent)]
    Tracefs(#[from] tracefs::Error),
    /// Writing or reading a trace.dat file failed.
    #[error(transparent)]
    File(#[from] tracecmd::Error),
    /// The command could not be started.
    #[error(transparent)]
    Spawn(#[from] spawn::Error),
    /// A file could not be created, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// Bad user input or a state the session cannot go on from.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the error is a broken pipe on the output (not worth reporting).
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
            Error::File(e) => e.is_broken_pipe(),
            _ => false,
        }
    }
}
