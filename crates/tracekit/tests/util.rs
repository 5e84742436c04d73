//! Helpers: run the built binary with a private state dir.

use std::path::Path;
use std::process::{Command, Output};

pub use testutil::{global_lock, require_live_tracefs, unique_name};

/// A per-test state dir for tracekit; dropping it runs `tracekit reset`
/// with it, so a failing test still undoes what its tracekit runs changed.
pub struct StateDir {
    inner: testutil::StateDir,
}

impl StateDir {
    pub fn new() -> StateDir {
        StateDir {
            inner: testutil::StateDir::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.inner.path()
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = Command::new(bin())
            .env("TRACEKIT_STATE_DIR", self.inner.path())
            .env_remove("TRACEFS")
            .args(["reset", "--force"])
            .output();
    }
}

/// Runs a closure on drop (cleanup of foreign test fixtures).
pub struct OnDrop<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Appends a line to a shared probe file (never truncates).
pub fn append(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    let _ = f.write_all(format!("{line}\n").as_bytes());
}

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
