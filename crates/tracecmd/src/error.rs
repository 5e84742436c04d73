//! The crate's single error type. Every variant names the part of the file
//! (section, option, CPU) and the byte offset where reading failed, so a
//! corrupt or truncated trace.dat produces a message a user can act on.

use std::path::PathBuf;

/// Errors produced while reading a trace.dat file or rendering its events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// File being read.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a trace.dat file (bad magic).
    #[error("not a trace-cmd data file (bad magic at offset 0)")]
    BadMagic,
    /// A structure ends beyond the end of the file or of its section.
    #[error("{section}: truncated at offset {offset} (need {need} bytes)")]
    Truncated {
        /// The part of the file being read (`header_page`, `options`, `cpu 1 data`…).
        section: String,
        /// Offset (in the file, or in the decompressed section) of the read.
        offset: u64,
        /// Bytes that were needed.
        need: u64,
    },
    /// A structure holds a value that cannot be right.
    #[error("{section}: at offset {offset}: {reason}")]
    Corrupt {
        /// The part of the file being read.
        section: String,
        /// Offset of the bad value.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A feature of the file that this reader does not support.
    #[error("unsupported trace.dat feature: {0}")]
    Unsupported(String),
    /// A compressed block could not be decompressed.
    #[error("{section}: at offset {offset}: {algorithm} decompression failed: {reason}")]
    Decompress {
        /// The part of the file being read.
        section: String,
        /// File offset of the compressed block.
        offset: u64,
        /// Compression algorithm.
        algorithm: String,
        /// Decoder message.
        reason: String,
    },
    /// An error of the decoding engine (format files, print fmt, pages).
    #[error("{context}: {source}")]
    Event {
        /// Where it happened (`event formats`, `cpu 0 page at offset N`…).
        context: String,
        /// The decoding engine's error.
        source: traceevent::Error,
    },
    /// Bad user input (filter expression, CPU list, option).
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn truncated(section: impl Into<String>, offset: u64, need: u64) -> Error {
        Error::Truncated {
            section: section.into(),
            offset,
            need,
        }
    }

    pub(crate) fn corrupt(
        section: impl Into<String>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            section: section.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// True when the error is a broken pipe on the output (not worth reporting).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
