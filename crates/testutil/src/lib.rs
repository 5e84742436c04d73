//! Test helpers shared by the tracekit crates (dev-dependency only, never published).
//!
//! It depends on no tracekit crate, so using it from `tracefs` or `traceevent` tests creates no
//! dependency loop. What it owns:
//!
//! - paths: [`workspace_root`], [`shared_dir`] (the `shared/` folder cloned next to the repo);
//! - [`FakeTracefs`]: a writable copy of a tracefs tree captured from a real kernel
//!   ([`FixtureSet`]; see `fixtures/README.md`), with [`FakeTracefs::mkdir_instance`];
//! - [`global_lock`]: serialises tests that touch global tracefs files, across threads and
//!   processes;
//! - [`StateDir`] and [`unique_name`] for `TRACEKIT_STATE_DIR` and instance names;
//! - [`require_live_tracefs`]: the live tracefs root, or a panic saying what is missing;
//! - [`Rig`]: runs a shell script in the QEMU kernel rig (`shared/kvm/run-in-kernel.sh`), and
//!   [`section`]/[`sections`] to split batched output;
//! - [`assert_text_eq!`] and [`assert_contains!`].
//!
//! ```
//! use tracekit_testutil::{FakeTracefs, FixtureSet};
//!
//! let fs = FakeTracefs::new(FixtureSet::Vm618);
//! assert_eq!(fs.read("current_tracer"), "nop\n");
//! fs.write("tracing_on", "0\n");
//! let inst = fs.mkdir_instance("demo");
//! assert!(inst.join("events/sched/sched_switch/format").is_file());
//! ```
#![deny(missing_docs)]

mod assert;
mod fake;
mod live;
mod lock;
mod paths;
mod rig;
mod state;

pub use assert::{text_diff, without_perf_tip};
pub use fake::{FakeTracefs, FixtureSet};
pub use live::{require_live_tracefs, LIVE_TRACEFS};
pub use lock::{global_lock, GlobalLock, GLOBAL_LOCK_PATH};
pub use paths::{shared_dir, workspace_root};
pub use rig::{rig_path, section, sections, try_section, Rig, RigOutput};
pub use state::{unique_name, StateDir};
