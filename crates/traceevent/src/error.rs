//! The crate's single error type. Every variant carries enough context (event,
//! CPU, byte offset, line) for a user to find the offending input.

/// Errors produced while parsing format files, print fmts and ring-buffer pages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `format`, `header_page` or `header_event` file could not be parsed.
    #[error("format of {event}: line {line}: {reason}")]
    Format {
        /// `system:name` (or the file name for headers) being parsed.
        event: String,
        /// 1-based line number in the file.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A `print fmt` could not be parsed.
    #[error("print fmt of {event}: at byte {offset}: {reason}")]
    PrintFmt {
        /// `system:name` of the event.
        event: String,
        /// Byte offset in the print fmt text.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A ring-buffer sub-buffer (page) is malformed at `offset`.
    #[error("sub-buffer{}: offset {offset}: {reason}", cpu.map(|c| format!(" of cpu {c}")).unwrap_or_default())]
    SubBuffer {
        /// CPU of the page when known.
        cpu: Option<u32>,
        /// Byte offset inside the sub-buffer.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A record references an event id that is not in the registry.
    #[error("cpu {cpu}: record at offset {offset}: unknown event id {id}")]
    UnknownEvent {
        /// CPU of the record.
        cpu: u32,
        /// Byte offset of the record in its sub-buffer.
        offset: usize,
        /// The `common_type` found.
        id: u32,
    },
    /// A record is too short for its event's fields.
    #[error("cpu {cpu}: record of {event} at offset {offset}: {reason}")]
    Record {
        /// CPU of the record.
        cpu: u32,
        /// Byte offset of the record in its sub-buffer.
        offset: usize,
        /// `system:name` of the event.
        event: String,
        /// What was wrong.
        reason: String,
    },
    /// A `printk_formats`, kallsyms or cmdlines table line is malformed.
    #[error("{table}: line {line}: {reason}")]
    Table {
        /// Which table (`kallsyms`, `printk_formats`, `saved_cmdlines`, `saved_tgids`).
        table: &'static str,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
