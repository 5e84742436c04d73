//! The live side of tracekit: everything that drives the kernel's ring
//! buffers while something runs, on top of [`tracecmd`] (the trace.dat file
//! format) and [`tracefs`] (the tracing file system).
//!
//! - [`session`]: record sessions — configure private instances, fork and
//!   hold the command until tracing is armed, record into a trace.dat;
//! - [`recorder`]: per-CPU `trace_pipe_raw` splice readers;
//! - [`live`]: live streaming (decoded kernel text, trace-cmd text, JSON
//!   lines) with one reader thread per CPU;
//! - [`profile`]: the kernel's function profiler around a command (or the
//!   function_graph fallback).
#![deny(missing_docs)]

mod error;
pub mod live;
pub mod profile;
pub mod recorder;
pub mod session;

pub use error::{Error, Result};
