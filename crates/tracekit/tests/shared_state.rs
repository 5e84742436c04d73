//! Issue #14's shared-state defects: what tracekit leaves behind for the
//! other users of tracefs when something fails.

use crate::util::*;

/// Issue #14.6: a filter the kernel rejects still replaces the file's
/// content (the kernel keeps the bad text with its parse error); someone
/// else's filter must be back right away, and `reset` has nothing left to do.
#[test]
fn failed_filter_write_restores_the_other_users_filter() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let inst = unique_name("foreignflt");
    let dir = root.join("instances").join(&inst);
    std::fs::create_dir(&dir).unwrap();
    let _cleanup = OnDrop(|| {
        let _ = std::fs::remove_dir(&dir);
    });
    let filter = dir.join("events/sched/sched_switch/filter");
    std::fs::write(&filter, "prev_pid > 0\n").unwrap();
    let mut c = tk(state.path());
    c.args(["set", "-B", &inst, "-e", "sched:sched_switch", "-f", "((("]);
    let (ok, _, err) = run(c);
    assert!(!ok, "the kernel rejects '((('");
    assert!(err.contains("filter"), "{err}");
    let now = std::fs::read_to_string(&filter).unwrap();
    assert_eq!(
        now.lines().next(),
        Some("prev_pid > 0"),
        "filter lost: {now}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("events/sched/sched_switch/enable"))
            .unwrap()
            .trim(),
        "0",
        "rolled back"
    );
    let mut c = tk(state.path());
    c.args(["reset"]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    let now = std::fs::read_to_string(&filter).unwrap();
    assert_eq!(now.lines().next(), Some("prev_pid > 0"), "{out}");
}

fn tk_run(state: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut c = tk(state);
    c.args(args);
    run(c)
}

/// Issue #14.17: `reset -B NAME` without `--all` undoes tracekit's changes
/// to that one instance (removing it when tracekit made it), nothing else.
#[test]
fn reset_b_removes_only_that_instance() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let (a, b) = (unique_name("rsta"), unique_name("rstb"));
    let (ok, _, err) = tk_run(state.path(), &["set", "-B", &a, "-e", "sched:sched_switch"]);
    assert!(ok, "{err}");
    let (ok, _, err) = tk_run(state.path(), &["set", "-B", &b, "-e", "sched:sched_wakeup"]);
    assert!(ok, "{err}");
    let (ok, out, err) = tk_run(state.path(), &["reset", "-B", &a]);
    assert!(ok, "{err}");
    assert!(!root.join("instances").join(&a).exists(), "{out}{err}");
    assert!(root.join("instances").join(&b).exists(), "{out}{err}");
    let (ok, _, err) = tk_run(state.path(), &["reset"]);
    assert!(ok, "{err}");
    assert!(!root.join("instances").join(&b).exists());
}

/// Issue #14.17/#14.10: `reset -B` of an instance tracekit did not make
/// resets it like `trace-cmd reset -B`; `-d` removes it, labelled as not
/// tracekit's.
#[test]
fn reset_b_of_a_foreign_instance_resets_and_d_removes_it() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("rstforeign");
    let dir = root.join("instances").join(&name);
    std::fs::create_dir(&dir).unwrap();
    let _cleanup = OnDrop(|| {
        let _ = std::fs::remove_dir(&dir);
    });
    let enable = dir.join("events/sched/sched_switch/enable");
    std::fs::write(&enable, "1\n").unwrap();
    let (ok, out, err) = tk_run(state.path(), &["reset", "-B", &name]);
    assert!(ok, "{err}");
    assert!(out.contains("instance reset to defaults"), "{out}");
    assert_eq!(std::fs::read_to_string(&enable).unwrap().trim(), "0");
    assert!(dir.exists());
    let (ok, _, err) = tk_run(state.path(), &["reset", "-B", &name, "-d"]);
    assert!(ok, "{err}");
    assert!(!dir.exists());
    assert!(
        err.contains(&format!("removed instance {name} (not tracekit's)")),
        "{err}"
    );
}

/// Issue #14.20: `--dry-run reset` says what it would do and does nothing.
#[test]
fn dry_run_reset_says_would() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("rstdry");
    let (ok, _, err) = tk_run(
        state.path(),
        &["set", "-B", &name, "-e", "sched:sched_switch"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = tk_run(state.path(), &["--dry-run", "reset"]);
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!("would restore: removed instance {name}")),
        "{err}"
    );
    assert!(out.contains("would be restored"), "{out}");
    assert!(!err.contains("  restored:"), "{err}");
    assert!(root.join("instances").join(&name).exists());
    let (ok, _, err) = tk_run(state.path(), &["reset"]);
    assert!(ok, "{err}");
    assert!(!root.join("instances").join(&name).exists());
}

/// Issue #14.15: every fallback `check` and `profile` name is something
/// that runs: no "perf sampling" profiler, no "latencies computed by
/// tracekit" (not built yet), no `probe add` on a kernel without kprobes.
#[test]
fn fallback_texts_name_only_what_runs() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let (ok, out, err) = tk_run(state.path(), &["check", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for f in v["features"].as_array().unwrap() {
        let fb = f["fallback"].as_str().unwrap_or("");
        assert!(
            !fb.contains("perf sampling") && !fb.contains("computed by tracekit"),
            "{}: promises a fallback that does not exist: {fb}",
            f["name"]
        );
    }
    if !root.join("function_profile_enabled").exists() && !root.join("kprobe_events").exists() {
        let (ok, _, err) = tk_run(state.path(), &["profile", "-l", "vfs_read", "--", "true"]);
        assert!(!ok);
        assert!(!err.contains("probe add"), "{err}");
        assert!(err.contains("no fallback runs here"), "{err}");
    }
}

/// Issue #14.17: `set -e '!EVENT'` (set_event's syntax) and `--disable`
/// switch single events off.
#[test]
fn set_disables_events_with_bang_and_disable() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("setbang");
    let (ok, _, err) = tk_run(state.path(), &["set", "-B", &name, "-e", "sched"]);
    assert!(ok, "{err}");
    let en = |ev: &str| {
        std::fs::read_to_string(root.join(format!("instances/{name}/events/sched/{ev}/enable")))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(en("sched_switch"), "1");
    let (ok, _, err) = tk_run(
        state.path(),
        &["set", "-B", &name, "-e", "!sched:sched_switch"],
    );
    assert!(ok, "{err}");
    assert_eq!(en("sched_switch"), "0");
    assert_eq!(en("sched_wakeup"), "1");
    let (ok, _, err) = tk_run(
        state.path(),
        &["set", "-B", &name, "--disable", "sched:sched_wakeup"],
    );
    assert!(ok, "{err}");
    assert_eq!(en("sched_wakeup"), "0");
    let (ok, _, err) = tk_run(
        state.path(),
        &[
            "set",
            "-B",
            &name,
            "-e",
            "!sched:sched_switch",
            "-f",
            "prev_pid > 0",
        ],
    );
    assert!(!ok && err.contains("nothing to apply to"), "{err}");
    let (ok, _, err) = tk_run(state.path(), &["reset"]);
    assert!(ok, "{err}");
    assert!(!root.join("instances").join(&name).exists());
}

/// Issue #14.18: an empty probe group is "no kprobe events yet", not a
/// garbled "did you mean" suggestion.
#[test]
fn list_of_an_empty_probe_group_says_no_events_yet() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    // tracekit's own group of a user that never made a probe; and `kprobes`
    // whenever this kernel has none.
    let mut groups = vec!["tracekit_nosuchuser".to_string()];
    if !root.join("events/kprobes").exists() {
        groups.push("kprobes".into());
    }
    for g in groups {
        let (ok, _, err) = tk_run(state.path(), &["list", "-e", &g]);
        assert!(!ok);
        assert!(
            err.contains("events yet in group") && !err.contains("did you mean"),
            "{err}"
        );
    }
}

/// Issue #14.2/#14.18/#14.20/#14.21: `probe add ''` is an error, not a
/// panic; the tutorials' raw `p:NAME …` (no group) gets the kernel's group;
/// a dry run prints the line even where the kernel lacks kprobes; without
/// `$USER` the group is still `tracekit_<user>`.
#[test]
fn probe_add_habits_and_holes() {
    let state = StateDir::new();
    for empty in ["", " "] {
        let (ok, _, err) = tk_run(state.path(), &["--dry-run", "probe", "add", empty]);
        assert!(!ok && !err.contains("panicked"), "{err}");
        assert!(err.contains("probe add needs a function"), "{err}");
    }
    let (ok, out, err) = tk_run(
        state.path(),
        &[
            "--dry-run",
            "probe",
            "add",
            "p:myprobe do_sys_openat2 filename=+0(%si):string",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("echo 'p:kprobes/myprobe do_sys_openat2 filename=+0(%si):string' >> ")
            && out.contains("kprobe_events"),
        "{out}"
    );
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let mut c = tk(state.path());
    c.env_remove("USER").env_remove("SUDO_USER").args([
        "--dry-run",
        "probe",
        "add",
        "-x",
        libc,
        "open",
    ]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    assert!(
        out.contains("p:tracekit_root/open ") || !out.contains("tracekit_default"),
        "{out}"
    );
    assert!(!out.contains("tracekit_default"), "{out}");
}

/// Issue #14.20: `--dry-run` of record, stream, profile, start and perf
/// stat/record prints the commands and changes nothing: no instance, no
/// output file, the workload does not run.
#[test]
fn dry_run_everywhere_prints_and_changes_nothing() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let m = marker.to_str().unwrap();
    let out = dir.path().join("x.dat");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "record",
                "-e",
                "sched:sched_switch",
                "-F",
                "-o",
                o,
                "--",
                "touch",
                m,
            ],
            "tracing_on",
        ),
        (
            vec!["stream", "-e", "sched:sched_switch", "--", "touch", m],
            "tracing_on",
        ),
        (
            vec!["profile", "-l", "vfs_read", "--", "touch", m],
            "function_profile_enabled",
        ),
        (
            vec!["start", "--name", "tkdrystart", "-e", "sched:sched_switch"],
            "tracing_on",
        ),
        (vec!["perf", "stat", "--", "touch", m], "perf stat -e "),
        (
            vec!["perf", "record", "-o", o, "--", "touch", m],
            "perf record",
        ),
    ];
    for (args, expect) in cases {
        let mut v = vec!["--dry-run"];
        v.extend(&args);
        let (ok, stdout, err) = tk_run(state.path(), &v);
        assert!(ok, "{args:?}: {err}");
        assert!(stdout.contains(expect), "{args:?}:\n{stdout}");
        assert!(!marker.exists(), "{args:?} ran the workload");
        assert!(!out.exists(), "{args:?} wrote {o}");
        // Every instance the dry run would make does not exist.
        for l in stdout.lines() {
            if let Some(d) = l.strip_prefix("mkdir ") {
                assert!(!std::path::Path::new(d).exists(), "{args:?} made {d}");
                assert!(d.starts_with(root.to_str().unwrap()), "{d}");
            }
        }
    }
}
