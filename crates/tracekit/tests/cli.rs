//! CLI surface: help with examples, usage errors, completions.

use crate::util::*;

#[test]
fn every_subcommand_has_help_with_an_example() {
    let state = StateDir::new();
    for sub in [
        "check",
        "list",
        "show",
        "status",
        "set",
        "reset",
        "completions",
        "record",
        "profile",
        "report",
        "dump",
        "stream",
        "start",
        "stop",
        "extract",
        "clear",
        "probe add",
        "probe list",
        "probe del",
        "probe profile",
        "probe funcs",
        "perf stat",
        "perf record",
        "perf report",
        "perf script",
        "perf annotate",
        "perf archive",
    ] {
        let (ok, out, err) = run({
            let mut c = tk(state.path());
            c.args(sub.split(' ')).arg("--help");
            c
        });
        assert!(ok, "{sub} --help failed: {err}");
        assert!(
            out.contains("Example"),
            "{sub} --help has no example:\n{out}"
        );
    }
}

#[test]
fn completions_are_generated() {
    let state = StateDir::new();
    let (ok, out, _) = run({
        let mut c = tk(state.path());
        c.args(["completions", "bash"]);
        c
    });
    assert!(ok);
    assert!(out.contains("tracekit"));
}

#[test]
fn missing_tracefs_is_explained() {
    let state = StateDir::new();
    let mut c = tk(state.path());
    c.args(["status"]).env("TRACEFS", "/nonexistent/tracefs");
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(
        err.contains("tracefs is not mounted") && err.contains("not a directory"),
        "{err}"
    );
}

#[test]
fn reset_all_needs_yes_without_a_terminal() {
    let state = StateDir::new();
    let mut c = tk(state.path());
    c.args(["reset", "--all"])
        .stdin(std::process::Stdio::null());
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(err.contains("--yes"), "{err}");
}

/// Runs tracekit with stdout a pipe whose reading end is already closed
/// (`tracekit … | true`): every write gets EPIPE at once.
fn run_closed_pipe(state: &std::path::Path, args: &[&str]) -> std::process::Output {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe(2) fills two fds we own from here on.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are fresh and owned by nobody else.
    let (r, w) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    drop(r);
    let mut c = tk(state);
    c.args(args).stdout(w);
    c.output().expect("run tracekit")
}

/// Issue #14.1: no command panics on a closed pipe; each exits 0 quietly.
#[test]
fn closed_pipe_ends_every_command_quietly() {
    let state = StateDir::new();
    let perf = testutil::shared_dir().join("corpus/perf");
    let pd = perf.join("cpuclock-fp.perf.data");
    let symfs = perf.join("symfs");
    let dat = testutil::shared_dir().join("corpus/tracecmd/clock_mono.dat");
    let (pd, symfs, dat) = (
        pd.to_str().unwrap(),
        symfs.to_str().unwrap(),
        dat.to_str().unwrap(),
    );
    let cases: Vec<Vec<&str>> = vec![
        vec!["check"],
        vec!["check", "--json"],
        vec!["list", "-t", "-o"],
        vec!["list", "-e"],
        vec!["list", "--json"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["completions", "bash"],
        vec!["probe", "funcs"],
        vec!["probe", "list"],
        vec!["report", "-i", dat],
        vec!["dump", "-i", dat],
        vec!["perf", "script", "-i", pd, "--symfs", symfs],
        vec!["perf", "report", "-i", pd, "--symfs", symfs],
        vec!["--dry-run", "set", "-e", "sched:sched_switch"],
        vec!["--dry-run", "reset", "--all", "--yes"],
        vec![
            "--dry-run",
            "record",
            "-e",
            "sched:sched_switch",
            "--",
            "true",
        ],
        vec![
            "--dry-run",
            "stream",
            "-e",
            "sched:sched_switch",
            "--",
            "true",
        ],
        vec!["--dry-run", "start", "-e", "sched:sched_switch"],
        vec!["--dry-run", "profile", "-l", "vfs_read", "--", "true"],
        vec!["--dry-run", "perf", "stat", "--", "true"],
        vec!["--dry-run", "perf", "record", "--", "true"],
        vec![
            "--dry-run",
            "probe",
            "add",
            "-x",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "open",
        ],
        vec!["show"],
        vec![
            "perf",
            "report",
            "-i",
            pd,
            "--symfs",
            symfs,
            "--header-only",
        ],
        vec!["perf", "annotate", "-i", pd, "--symfs", symfs, "--stdio"],
        vec!["list", "-F", "sched:sched_switch"],
        vec!["--help"],
        vec!["perf", "--help"],
    ];
    for args in cases {
        let o = run_closed_pipe(state.path(), &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(0) && !err.contains("panicked"),
            "tracekit {args:?} | true: {:?}\n{err}",
            o.status
        );
    }
}

/// Issue #14.1: a full device is an error message, not a panic.
#[test]
fn full_device_is_an_error_not_a_panic() {
    let state = StateDir::new();
    for args in [
        vec!["check"],
        vec!["completions", "bash"],
        vec!["list", "-t"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let o = tk(state.path()).args(&args).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("No space left on device") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// Issue #14.21: a missing input is reported once (not the OS error twice);
/// with several inputs the bad one is named; a negative `--ts-offset` larger
/// than the timestamps clamps at 0 instead of wrapping.
#[test]
fn report_input_errors_name_the_file_once() {
    let state = StateDir::new();
    let good = testutil::shared_dir().join("corpus/tracecmd/sched.dat");
    let (ok, _, err) = run({
        let mut c = tk(state.path());
        c.args(["report", "-i", "/nonexistent/x.dat"]);
        c
    });
    assert!(!ok);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.dat");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&bad, &bytes[..5000]).unwrap();
    let (ok, _, err) = run({
        let mut c = tk(state.path());
        c.args([
            "report",
            "-i",
            good.to_str().unwrap(),
            "-i",
            bad.to_str().unwrap(),
        ]);
        c
    });
    assert!(!ok);
    assert!(err.contains(&format!("{}: ", bad.display())), "{err}");
    let (ok, out, err) = run({
        let mut c = tk(state.path());
        c.args([
            "report",
            "-i",
            good.to_str().unwrap(),
            "--ts-offset=-9223372036854775807",
        ]);
        c
    });
    assert!(ok, "{err}");
    let first = out.lines().nth(1).unwrap_or("");
    assert!(first.contains(" 0.000000: "), "{first}");
}

/// Issue #14.21: `check` piped fits 100 columns (or $COLUMNS).
#[test]
fn check_piped_fits_the_width() {
    let state = StateDir::new();
    for (cols, max) in [(None, 100), (Some("72"), 72)] {
        let mut c = tk(state.path());
        c.arg("check").env_remove("COLUMNS");
        if let Some(v) = cols {
            c.env("COLUMNS", v);
        }
        let (ok, out, err) = run(c);
        assert!(ok, "{err}");
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest <= max, "{widest} columns:\n{out}");
    }
}
