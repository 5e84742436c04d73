//! Dynamic probes: the raw definition language ([`spec`]), register tables
//! per architecture ([`arch`]), the friendly perf-probe-like syntax resolved
//! through BTF and ELF ([`friendly`]), and tracepoint suggestions for kernels
//! without kprobes ([`suggest`]).

pub mod arch;
pub mod friendly;
pub mod spec;
pub mod suggest;

pub use arch::Arch;
pub use spec::{parse, KernelSupport, ProbeArg, ProbeKind, ProbeSpec, ProbeSyntaxError};
