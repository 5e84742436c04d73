//! Reader for trace-cmd's `trace.dat` files (format v6 and v7) and the
//! trace-cmd 3.1.6 compatible `report` and `dump` output.
//!
//! - [`TraceDat`]: the file's metadata (headers, event formats, kallsyms,
//!   printk formats, cmdlines, options, buffers), v6 or v7 (sections,
//!   string table, zstd/zlib/none compression);
//! - [`Merge`]/[`CpuStream`]: streaming per-CPU ring-buffer data with lazy
//!   chunk decompression and a k-way merge by timestamp across CPUs and buffers;
//! - [`render::TepRenderer`]: libtraceevent 1.7.1 style event text with its
//!   plugins (sched_switch, kmem, hrtimer, …), as `trace-cmd report` prints it;
//! - [`report`]: the whole `trace-cmd report` output (and JSON/CSV/summary);
//! - [`dump`]: `trace-cmd dump` metadata views.
#![deny(missing_docs)]

pub mod compress;
pub mod dat;
pub mod dump;
mod error;
pub mod filter;
pub mod io;
pub mod perfetto;
pub mod render;
pub mod report;
pub mod stream;
pub mod writer;

pub use dat::{Buffer, CpuData, OptionEntry, TraceDat};
pub use error::{Error, Result};
pub use stream::{CpuStream, Event, Merge, TsCalc};
