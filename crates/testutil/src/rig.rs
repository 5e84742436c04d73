//! Running shell scripts in the QEMU kernel rig (`shared/kvm/run-in-kernel.sh`).
//!
//! One boot costs ~3 s under TCG, so tests batch several checks into one script and mark each
//! with a `=== name ===` line; [`sections`] and [`section`] split the output again:
//!
//! ```no_run
//! use tracekit_testutil::Rig;
//!
//! let out = Rig::new()
//!     .timeout(120)
//!     .run("echo '=== uname ==='; uname -r; echo '=== tracers ==='; cat /sys/kernel/tracing/available_tracers")
//!     .assert_success();
//! assert!(out.section("tracers").contains("function"));
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use crate::paths::shared_dir;

/// The rig script: `$TRACEKIT_RIG`, else `shared_dir()/kvm/run-in-kernel.sh`. Panics if missing.
pub fn rig_path() -> PathBuf {
    let p = match std::env::var_os("TRACEKIT_RIG") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => {
            let guess = crate::paths::workspace_root().join("../shared/kvm/run-in-kernel.sh");
            if std::env::var_os("TRACEKIT_SHARED").is_none() && !guess.is_file() {
                panic!(
                    "QEMU rig not found at {}: clone the repo next to shared/ or set TRACEKIT_RIG",
                    guess.display()
                );
            }
            shared_dir().join("kvm/run-in-kernel.sh")
        }
    };
    if !p.is_file() {
        panic!(
            "QEMU rig not found at {}: clone the repo next to shared/ or set TRACEKIT_RIG",
            p.display()
        );
    }
    p
}

/// Builder for one rig boot. Defaults: the rig's pinned 6.1 tracing kernel, timeout 300 s.
#[derive(Debug, Clone)]
pub struct Rig {
    kernel_debian: bool,
    timeout: u64,
    shares: Vec<PathBuf>,
    env: Vec<(String, OsString)>,
    mem_mb: Option<u32>,
    cpus: Option<u32>,
}

impl Default for Rig {
    fn default() -> Self {
        Rig::new()
    }
}

impl Rig {
    /// A rig run with the default (pinned krig 6.1) kernel and a 300 s timeout.
    pub fn new() -> Rig {
        Rig {
            kernel_debian: false,
            timeout: 300,
            shares: Vec::new(),
            env: Vec::new(),
            mem_mb: None,
            cpus: None,
        }
    }

    /// Boot Debian's distro kernel (`--kernel debian`) instead of the pinned tracing kernel.
    pub fn kernel_debian(mut self, yes: bool) -> Rig {
        self.kernel_debian = yes;
        self
    }

    /// Guest timeout in seconds (`--timeout`); the rig exits 124 when it expires.
    pub fn timeout(mut self, secs: u64) -> Rig {
        self.timeout = secs;
        self
    }

    /// Shares a host directory read-write at the same path in the guest (`--share`). Anything
    /// the guest writes outside shares is lost. The path must not contain spaces.
    pub fn share(mut self, path: impl Into<PathBuf>) -> Rig {
        let p = path.into();
        assert!(
            !p.to_string_lossy().contains(char::is_whitespace),
            "rig share paths must not contain spaces: {}",
            p.display()
        );
        self.shares.push(p);
        self
    }

    /// Passes an environment variable into the guest (its environment is otherwise clean):
    /// set for the rig process and named in `KRIG_ENV`.
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Rig {
        assert!(
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad environment variable name {name:?}"
        );
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// Guest memory in MiB (`--mem`, rig default 1024).
    pub fn mem_mb(mut self, mb: u32) -> Rig {
        self.mem_mb = Some(mb);
        self
    }

    /// Guest vCPUs (`--cpus`, rig default 2).
    pub fn cpus(mut self, n: u32) -> Rig {
        self.cpus = Some(n);
        self
    }

    /// The command line (rig path + arguments) that [`Rig::run`] executes for `script`.
    pub fn command(&self, script: &str) -> Command {
        let mut cmd = Command::new(rig_path());
        cmd.arg("--timeout").arg(self.timeout.to_string());
        if self.kernel_debian {
            cmd.args(["--kernel", "debian"]);
        }
        if let Some(mb) = self.mem_mb {
            cmd.arg("--mem").arg(mb.to_string());
        }
        if let Some(n) = self.cpus {
            cmd.arg("--cpus").arg(n.to_string());
        }
        for s in &self.shares {
            cmd.arg("--share").arg(s);
        }
        // One word after `--`: the rig runs it as a shell command under the guest's /bin/sh.
        cmd.arg("--").arg(script);
        let mut names: Vec<&str> = Vec::new();
        for (n, v) in &self.env {
            cmd.env(n, v);
            names.push(n);
        }
        if names.is_empty() {
            cmd.env_remove("KRIG_ENV");
        } else {
            cmd.env("KRIG_ENV", names.join(" "));
        }
        cmd
    }

    /// Boots the guest, runs `script` with its `/bin/sh` and returns what it printed. Does not
    /// check the exit code (see [`RigOutput::assert_success`]). Panics if the rig cannot start.
    pub fn run(&self, script: &str) -> RigOutput {
        let mut cmd = self.command(script);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run the rig {:?}: {e}", cmd.get_program()));
        RigOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }
}

/// What a rig run printed. `code` is the guest command's exit status, 124 on timeout, 125 when
/// the rig itself failed, -1 when the rig was killed by a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RigOutput {
    /// Guest stdout.
    pub stdout: String,
    /// Guest stderr, then the rig's `[kernel-rig] guest exit code N` line.
    pub stderr: String,
    /// Exit status (see the type's doc).
    pub code: i32,
}

impl RigOutput {
    /// Panics with stdout and stderr unless `code == 0`; returns `self` for chaining
    /// (`let out = Rig::new().run(s).assert_success();`).
    #[track_caller]
    pub fn assert_success(self) -> RigOutput {
        if self.code != 0 {
            let why = match self.code {
                124 => " (timeout)",
                125 => " (rig failure)",
                _ => "",
            };
            panic!("rig run failed with code {}{why}\n{self}", self.code);
        }
        self
    }

    /// [`section`] of stdout.
    #[track_caller]
    pub fn section(&self, name: &str) -> &str {
        section(&self.stdout, name)
    }

    /// [`sections`] of stdout.
    pub fn sections(&self) -> BTreeMap<String, String> {
        sections(&self.stdout)
    }
}

impl fmt::Display for RigOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- code: {}", self.code)?;
        writeln!(f, "--- stdout:\n{}", self.stdout)?;
        write!(f, "--- stderr:\n{}", self.stderr)
    }
}

/// The name in a `=== name ===` marker line, if `line` is one.
fn marker(line: &str) -> Option<&str> {
    let l = line.trim_end_matches('\r');
    let inner = l.strip_prefix("=== ")?.strip_suffix(" ===")?;
    let inner = inner.trim();
    (!inner.is_empty()).then_some(inner)
}

/// The text after the marker line `=== name ===` up to the next marker line (or the end),
/// including its final newline; `None` if there is no such marker.
pub fn try_section<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    let mut start = None;
    let mut pos = 0;
    for line in stdout.split_inclusive('\n') {
        let m = marker(line.trim_end_matches('\n'));
        match (start, m) {
            (None, Some(n)) if n == name => start = Some(pos + line.len()),
            (Some(s), Some(_)) => return Some(&stdout[s..pos]),
            _ => {}
        }
        pos += line.len();
    }
    start.map(|s| &stdout[s..])
}

/// Like [`try_section`] but panics, listing the sections found, when `name` is missing.
#[track_caller]
pub fn section<'a>(stdout: &'a str, name: &str) -> &'a str {
    try_section(stdout, name).unwrap_or_else(|| {
        let names: Vec<String> = sections(stdout).into_keys().collect();
        panic!("no section `=== {name} ===` in output (found: {names:?})\n--- output:\n{stdout}")
    })
}

/// Splits batched output into its `=== name ===` sections (text before the first marker is
/// dropped; a repeated name keeps its first section).
pub fn sections(stdout: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut cur: Option<(String, String)> = None;
    for line in stdout.split_inclusive('\n') {
        if let Some(n) = marker(line.trim_end_matches('\n')) {
            if let Some((k, v)) = cur.take() {
                map.entry(k).or_insert(v);
            }
            cur = Some((n.to_string(), String::new()));
        } else if let Some((_, v)) = cur.as_mut() {
            v.push_str(line);
        }
    }
    if let Some((k, v)) = cur {
        map.entry(k).or_insert(v);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = "boot noise\n=== one ===\na\nb\nrc=0\n=== two words ===\n=== three ===\nlast\r\n=== one ===\ndup\n";

    #[test]
    fn sections_split_batched_output() {
        let m = sections(BATCH);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["one", "three", "two words"]);
        assert_eq!(m["one"], "a\nb\nrc=0\n");
        assert_eq!(m["two words"], "");
        assert_eq!(m["three"], "last\r\n");
        assert_eq!(section(BATCH, "one"), "a\nb\nrc=0\n");
        assert_eq!(section(BATCH, "two words"), "");
        assert_eq!(try_section(BATCH, "nope"), None);
        assert_eq!(section("=== end ===\nx", "end"), "x");
        // Not markers: missing spaces or name.
        assert!(sections("===x===\n=== ===\n==== a ====\n").is_empty());
        assert_eq!(sections("=== a ===\n===b===\n")["a"], "===b===\n");
    }

    #[test]
    #[should_panic(expected = "no section `=== nope ===` in output (found: [\"one\"")]
    fn missing_section_panics_with_names() {
        section(BATCH, "nope");
    }

    #[test]
    fn command_line_and_env() {
        let rig = Rig::new()
            .timeout(42)
            .share("/tmp/a")
            .env("FOO", "1")
            .env("BAR_2", "x y")
            .env("FOO", "2");
        let cmd = rig.command("echo hi");
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            ["--timeout", "42", "--share", "/tmp/a", "--", "echo hi"]
        );
        let env: BTreeMap<String, Option<String>> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert_eq!(env["KRIG_ENV"].as_deref(), Some("BAR_2 FOO"));
        assert_eq!(env["FOO"].as_deref(), Some("2"));
        let deb = Rig::new().kernel_debian(true).command("true");
        assert!(deb.get_args().any(|a| a == "debian"));
    }

    #[test]
    fn assert_success_passes_and_fails() {
        let ok = RigOutput {
            stdout: "x".into(),
            stderr: String::new(),
            code: 0,
        };
        let bad = RigOutput {
            code: 124,
            ..ok.clone()
        };
        ok.assert_success();
        let msg = std::panic::catch_unwind(move || {
            bad.assert_success();
        })
        .unwrap_err();
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("code 124 (timeout)") && msg.contains("--- stdout:\nx"),
            "{msg}"
        );
    }

    /// The one real boot of this crate's tests (~3 s under TCG): the pinned krig 6.1 kernel,
    /// an environment variable passed in, batched sections.
    #[test]
    fn rig_boots_and_runs_a_script() {
        let out = Rig::new()
            .timeout(120)
            .env("TK_GREETING", "hello")
            .run("echo '=== hello ==='; echo $TK_GREETING; echo '=== uname ==='; uname -r")
            .assert_success();
        assert_eq!(out.section("hello"), "hello\n");
        assert!(out.section("uname").starts_with("6.1."), "{out}");
    }
}
