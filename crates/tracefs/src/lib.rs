//! `tracefs`: the typed, journaled control plane of Linux ftrace.
//!
//! Brief overview:
//! - [`Tracefs`] finds (or mounts) tracefs and performs every read and write,
//!   honouring `--dry-run`/`--explain` ([`Mode`]) and attaching the kernel's
//!   `error_log` entry to failed writes ([`Error::Write`]).
//! - [`Instance`] is one trace array (top level or `instances/NAME`) with
//!   typed access to tracers, events, filters, triggers, options, clocks,
//!   buffers and pid/function filters; [`OwnedInstance`] removes what it created.
//! - [`journal`] records every change made outside tracekit's own instances
//!   before it is made, so [`restore`] can undo exactly tracekit's changes,
//!   also after the process was killed.
//! - [`capabilities`] tells what this kernel can do, why not, and the fallback.
//!
//! ```no_run
//! use tracefs::{Instance, Tracefs, TracefsOptions};
//! let tfs = Tracefs::open(TracefsOptions { mount_if_needed: true, ..Default::default() })?;
//! let inst = Instance::create_unique(&tfs, "demo")?; // removed on drop
//! for ev in inst.resolve_events("sched:sched_switch")? {
//!     inst.enable_event(&ev, true)?;
//! }
//! # Ok::<(), tracefs::Error>(())
//! ```
#![deny(missing_docs)]

pub mod capabilities;
pub mod dynevents;
mod error;
pub mod events;
pub mod features;
pub mod files;
mod instance;
pub mod journal;
pub mod probe;
pub mod raw;
pub mod restore;
mod root;
pub mod status;
pub mod values;

pub use error::{Error, ErrorLogEntry, Result, Unsupported};
pub use events::EventName;
pub use instance::{list_instances, validate_instance_name, CpuStats, Instance, OwnedInstance};
pub use journal::Journal;
pub use root::{
    echo_command, read_file, read_text, shell_quote, EchoSink, Mode, Tracefs, TracefsOptions,
    WriteMode, SHARED_PROBE_FILES,
};
