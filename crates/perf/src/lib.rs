//! `perf`: tracekit's perf side. It is the only crate that calls
//! `perf_event_open(2)`, and it reads and writes perf.data.
//!
//! - [`stat`]: counting (`tracekit perf stat`), perf's layouts, `-r` noise,
//!   multiplex scaling and derived ratios;
//! - [`data`]: perf.data reader ([`data::PerfData`]) and writer ([`data::Writer`]);
//! - [`session`]: threads, maps and symbols rebuilt from records (what
//!   `perf report` calls a machine), shared by [`report`], [`script`] and [`annotate`];
//! - [`record`]: sampling into perf.data (`tracekit perf record`);
//! - [`attr`], [`event`], [`sys`]: `perf_event_attr`, event names, syscalls.
#![deny(missing_docs)]

pub mod attr;
mod error;
pub mod event;
pub mod stat;
pub mod sys;

pub use error::{Error, Result};
pub mod annotate;
pub mod data;
pub mod record;
pub mod report;
pub mod script;
pub mod session;
