//! `tracekit stream`, `start`/`stop`/`extract`, `clear`: live output,
//! clean exit when the reading end of a pipe closes, detached tracing that
//! survives the process and is removed by `reset`.

use std::process::{Command, Stdio};

use crate::util::*;

fn no_leftover_instances(root: &std::path::Path, prefix: &str) {
    let left: Vec<String> = std::fs::read_dir(root.join("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Runs a bash script with this test's state dir; returns (stdout, stderr).
fn bash(state: &std::path::Path, script: &str) -> (String, String) {
    let o = Command::new("bash")
        .args(["-c", script])
        .env("TRACEKIT_STATE_DIR", state)
        .output()
        .expect("bash");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `tracekit ARGS [EXTRA]`, asserts success, returns stdout.
fn tk_ok(state: &std::path::Path, args: &[&str], extra: Option<&std::path::Path>) -> String {
    let mut c = tk(state);
    c.args(args);
    if let Some(p) = extra {
        c.arg(p);
    }
    let (ok, out, err) = run(c);
    assert!(ok, "tracekit {args:?}: {err}");
    out
}

#[test]
fn stream_prints_the_commands_openat_and_restores() {
    let _root = require_live_tracefs();
    // Kernel text with pinned readers, with unpinned ones, trace-cmd's text.
    for extra in [&[][..], &["--no-pin"], &["--tc"]] {
        let state = StateDir::new();
        let mut c = tk(state.path());
        c.args(["stream", "-e", "syscalls:sys_enter_openat", "-F"])
            .args(extra)
            .args(["--", "cat", "/etc/hostname"]);
        let o = c.output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The task is named: its comm reaches the stream although the
        // kernel saves it only when cat switches out.
        let line = out
            .lines()
            .find(|l| {
                l.trim_start().starts_with("cat-")
                    && (l.contains("sys_openat(dfd:") || l.contains("sys_enter_openat:"))
            })
            .unwrap_or_else(|| panic!("{extra:?}: no openat of cat:\n{out}"));
        assert!(
            line.contains("flags:") && line.contains("filename:"),
            "{line}"
        );
        assert!(std::fs::read_dir(state.path().join("journal"))
            .map(|mut d| d.next().is_none())
            .unwrap_or(true));
    }
}

#[test]
fn stream_json_into_a_closing_pipe_exits_cleanly() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let script = format!(
        "{} stream -e syscalls:sys_enter_openat -F --format json -- sh -c 'for i in 1 2 3 4 5 6 7 8; do cat /etc/hostname; done >/dev/null; sleep 0.5' | head -n 1; echo \"rc=${{PIPESTATUS[0]}}\"",
        bin()
    );
    let (out, err) = bash(state.path(), &script);
    let mut lines = out.lines();
    let first = lines.next().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["event"], "sys_enter_openat");
    assert!(v["fields"]["filename"].is_number());
    assert_eq!(lines.next(), Some("rc=0"), "{out}\n{err}");
    assert!(std::fs::read_dir(state.path().join("journal"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true));
    let _ = root;
}

#[test]
fn start_stop_extract_report_and_reset() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkstart");
    let dir = tempfile::tempdir().unwrap();
    let out = tk_ok(
        state.path(),
        &["start", "--name", &name, "-e", "sched:sched_switch"],
        None,
    );
    assert_eq!(out.trim(), name);
    // The instance survives the tracekit process and traces a workload.
    assert_eq!(read(&root, &format!("instances/{name}/tracing_on")), "1");
    for _ in 0..5 {
        Command::new("sh")
            .args(["-c", "sleep 0.02"])
            .status()
            .unwrap();
    }
    let mut c = tk(state.path());
    c.args(["status"]);
    let (_, st, _) = run(c);
    assert!(st.contains(&format!("{name} (tracekit)")), "{st}");
    let mut c = tk(state.path());
    c.args(["stop", "-B", &name]);
    assert!(run(c).0);
    assert_eq!(read(&root, &format!("instances/{name}/tracing_on")), "0");
    let x = dir.path().join("x.dat");
    tk_ok(state.path(), &["extract", "-B", &name, "-o"], Some(&x));
    let tc = Command::new("trace-cmd")
        .args(["report", "-i"])
        .arg(&x)
        .output()
        .expect("trace-cmd (apt install trace-cmd)");
    let tk_out = Command::new(bin())
        .args(["report", "-i"])
        .arg(&x)
        .output()
        .unwrap();
    let (a, b) = (
        String::from_utf8_lossy(&tc.stdout),
        String::from_utf8_lossy(&tk_out.stdout),
    );
    testutil::assert_text_eq!(a, b);
    assert!(
        b.lines().filter(|l| l.contains("sched_switch:")).count() >= 5,
        "{b}"
    );
    assert!(
        b.contains("sleep"),
        "the workload's switches are missing:\n{b}"
    );
    tk_ok(state.path(), &["reset"], None);
    assert!(!root.join(format!("instances/{name}")).exists());
}

#[test]
fn flight_recorder_reports_overwritten_events() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkflight");
    let dir = tempfile::tempdir().unwrap();
    let mut c = tk(state.path());
    c.args([
        "start",
        "--name",
        &name,
        "--overwrite",
        "-b",
        "8",
        "-e",
        "syscalls",
    ]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    Command::new("sh")
        .args([
            "-c",
            "i=0; while [ $i -lt 3000 ]; do : >/dev/null; i=$((i+1)); done",
        ])
        .status()
        .unwrap();
    let mut c = tk(state.path());
    c.args(["extract", "-B", &name, "-o"])
        .arg(dir.path().join("f.dat"))
        .stdout(Stdio::null());
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    assert!(err.contains("older events were overwritten"), "{err}");
    let mut c = tk(state.path());
    c.args(["clear", "-B", &name]);
    assert!(run(c).0);
    let mut c = tk(state.path());
    c.arg("reset");
    assert!(run(c).0);
    no_leftover_instances(&root, &name);
}

#[test]
fn show_pipe_of_a_tracing_instance_ends_with_its_reader() {
    // The instance keeps tracing every syscall, the reader's own included:
    // the decoded pipe must still end when its output closes, and extract
    // must still finish (both drains are bounded by the ring's size).
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkpipe");
    let dir = tempfile::tempdir().unwrap();
    tk_ok(
        state.path(),
        &["start", "--name", &name, "-b", "64", "-e", "syscalls"],
        None,
    );
    for (flags, check) in [("--tc", ": sys_"), ("--format json", "\"event\"")] {
        let script = format!(
            "timeout 60 {} show -B {name} --pipe {flags} | head -n 3; echo \"rc=${{PIPESTATUS[0]}}\"",
            bin()
        );
        let (out, err) = bash(state.path(), &script);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}\n{err}");
        assert!(lines[..3].iter().all(|l| l.contains(check)), "{out}");
        assert_eq!(lines[3], "rc=0", "{out}");
    }
    let dat = dir.path().join("p.dat");
    tk_ok(state.path(), &["extract", "-B", &name, "-o"], Some(&dat));
    tk_ok(state.path(), &["reset"], None);
    no_leftover_instances(&root, &name);
}
