//! The one integration-test binary of `tracekit`: CLI behaviour, live tests
//! on this kernel (inside private instances, or under the global lock for
//! the few global files), and tests in the QEMU rig for what this kernel lacks.

mod util;

mod cli;
mod live;
mod perf;
mod perf_archive;
mod probes;
mod record;
mod record_safety;
mod rig;
mod shared_state;
mod stream;
