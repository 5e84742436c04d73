//! Errors of the symbols crate.

use std::path::PathBuf;

/// Errors reading ELF files or BTF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not a valid ELF file.
    #[error("{}: not a valid ELF file: {why}", .path.display())]
    BadElf {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        why: String,
    },
    /// BTF is missing or unreadable.
    #[error("BTF not available at {}: {why} (needs CONFIG_DEBUG_INFO_BTF; without it, write arguments as registers such as %di or $arg1)", .path.display())]
    NoBtf {
        /// Where BTF was looked for.
        path: PathBuf,
        /// Why it could not be used.
        why: String,
    },
    /// DWARF debug info is missing or unreadable.
    #[error("{}: DWARF: {why}", .path.display())]
    Dwarf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A name has no entry in the type information or symbol table.
    #[error("{what} '{name}' not found{}", hint(.suggestions))]
    NotFound {
        /// What was looked up (`function`, `symbol`, `member`).
        what: &'static str,
        /// The name.
        name: String,
        /// Close names.
        suggestions: Vec<String>,
    },
}

fn hint(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
