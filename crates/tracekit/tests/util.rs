//! Helpers: run the built binary with a private state dir.

use std::path::Path;
use std::process::{Command, Output};

pub use testutil::{global_lock, require_live_tracefs, unique_name, StateDir};

/// Path of the built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tracekit")
}

/// A `tracekit` command with its own state dir and no TRACEFS override.
pub fn tk(state: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("TRACEKIT_STATE_DIR", state).env_remove("TRACEFS");
    c
}

/// Runs and returns (status ok, stdout, stderr).
pub fn run(mut c: Command) -> (bool, String, String) {
    let o: Output = c.output().expect("running tracekit");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Reads a tracefs file (trimmed).
pub fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel))
        .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
        .trim()
        .to_string()
}
