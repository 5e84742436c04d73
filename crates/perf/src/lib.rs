//! `perf`: tracekit's perf side. It is the only crate that calls
//! `perf_event_open(2)`, and it reads and writes perf.data.
//!
//! - [`stat`]: counting (`tracekit perf stat`), perf's layouts, `-r` noise,
//!   multiplex scaling and derived ratios;
//! - [`data`]: perf.data reader ([`data::PerfData`]: file mode, pipe mode,
//!   `-z` compressed records) and writer ([`data::Writer`]); [`header`]:
//!   `perf report --header-only`;
//! - [`session`]: threads, maps and symbols rebuilt from records (what
//!   `perf report` calls a machine), shared by [`report`], [`script`] and
//!   [`annotate`]; [`unwind`] walks DWARF (`--call-graph dwarf`) user stacks;
//! - [`record`]: sampling into perf.data (`tracekit perf record`);
//! - [`buildid`], [`archive`]: the objects samples hit, filling the build-id
//!   cache with them, and `perf archive`'s tarball of their cache entries;
//! - [`attr`], [`event`], [`sys`]: `perf_event_attr`, event names, syscalls.
//!
//! ```no_run
//! // perf report --stdio --no-children --sort comm,dso,sym
//! let mut s = perf::session::Session::open(std::path::Path::new("perf.data"))?;
//! s.check_build_ids()?; // the host must have the recorded binaries
//! let opts = perf::report::ReportOptions::default();
//! print!("{}", perf::report::build(&mut s, &opts)?.to_stdio(&opts));
//! # Ok::<(), perf::Error>(())
//! ```
#![deny(missing_docs)]

pub mod annotate;
pub mod archive;
pub mod attr;
pub mod buildid;
pub mod data;
mod error;
pub mod event;
pub mod header;
pub mod record;
pub mod report;
pub mod script;
pub mod session;
pub mod stat;
pub mod sys;
pub mod unwind;

pub use error::{Error, Result};
