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
    ] {
        let (ok, out, err) = run({
            let mut c = tk(state.path());
            c.args([sub, "--help"]);
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
