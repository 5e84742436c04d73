//! Decoding engine for Linux trace events: the heart of every tracekit command.
//!
//! It owns the tracefs event model and turns raw ring-buffer bytes into text
//! or structured records, doing no I/O itself (bytes in, values out):
//!
//! - [`EventFormat`]/[`Field`]/[`FieldKind`]: parsed `events/*/*/format` files;
//!   [`HeaderPage`]/[`HeaderEvent`]: `events/header_page`, `events/header_event`;
//! - [`EventRegistry`]: id → format, lookup by `system:name`;
//! - [`PrintFmt`]: the parsed `print fmt` expression tree, evaluated with C semantics;
//! - [`SubBuffer`]: one `trace_pipe_raw` page → [`RawRecord`]s with absolute
//!   timestamps and [`Missed`] events; [`Record`]: a decoded event;
//! - [`Kallsyms`], [`PrintkFormats`], [`Cmdlines`]: symbol and task tables;
//! - [`Renderer`] with [`KernelTextRenderer`] (the kernel's `trace` text) and
//!   [`StructuredRecord`] (serde) for JSON/CSV.
//!
//! ```
//! use tracekit_traceevent::*;
//! let mut reg = EventRegistry::new(LongSize::Eight, Endian::Little);
//! reg.add_format("demo", "name: hello\nID: 42\nformat:\n\
//!     \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
//!     \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
//!     \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
//!     \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
//!     \tfield:int value;\toffset:8;\tsize:4;\tsigned:1;\n\n\
//!     print fmt: \"value=%d\", REC->value\n").unwrap();
//! let payload = [42, 0, 0, 0, 7, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff];
//! let rec = Record::new(1_500_000, 0, &payload, 0, Endian::Little).unwrap();
//! let mut out = String::new();
//! KernelTextRenderer::default().render(&Context::new(&reg), &rec, &mut out).unwrap();
//! assert_eq!(out, "           <...>-7       [000] .....     0.001500: hello: value=-2\n");
//! ```
#![deny(missing_docs)]

mod bytes;
mod error;
mod format;
mod printfmt;
mod record;
mod registry;
mod render;
mod subbuf;
mod symbols;

pub use bytes::{Endian, LongSize};
pub use error::{Error, Result};
pub use format::{EventFormat, Field, FieldKind, HeaderEvent, HeaderPage};
pub use printfmt::{bitmap_list, bitmap_string, PrintFmt};
pub use record::{flags, Record};
pub use registry::EventRegistry;
pub use render::structured::{FieldValue, StructuredRecord};
pub use render::{
    ClockKind, Context, KernelTextOptions, KernelTextRenderer, Renderer, SyscallStyle,
};
pub use subbuf::{Missed, RawRecord, Records, SubBuffer};
pub use symbols::{Cmdlines, Kallsyms, PrintkFormats, Symbol, SymbolHit};
