//! Live tests on this machine's kernel. Everything happens in private
//! instances, except the tests that must touch global files (top-level
//! settings, uprobe_events): those hold the global test lock and compare
//! only the files tracekit touched.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

fn check_json(state: &std::path::Path) -> Value {
    let mut c = tk(state);
    c.args(["check", "--json"]);
    let (ok, out, err) = run(c);
    assert!(ok, "check failed: {err}");
    serde_json::from_str(&out).expect("check --json is JSON")
}

fn feature<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

#[test]
fn check_matches_the_kernel() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let v = check_json(state.path());
    let avail = |n: &str| feature(&v, n)["available"].as_str().unwrap().to_string();
    // Each row is checked against independent evidence from tracefs itself.
    let exists = |rel: &str| root.join(rel).exists();
    assert_eq!(avail("kprobes") == "yes", exists("kprobe_events"));
    assert_eq!(avail("uprobes") == "yes", exists("uprobe_events"));
    assert_eq!(
        avail("hist trigger") == "yes",
        exists("events/sched/sched_switch/hist")
    );
    assert_eq!(
        avail("synthetic events") == "yes",
        exists("synthetic_events")
    );
    assert_eq!(
        avail("function profiler") == "yes",
        exists("function_profile_enabled")
    );
    let tracers = read(&root, "available_tracers");
    assert_eq!(
        avail("blk tracer") == "yes",
        tracers.split_whitespace().any(|t| t == "blk")
    );
    let eperm = std::fs::File::open(root.join("set_ftrace_filter"))
        .err()
        .and_then(|e| e.raw_os_error())
        == Some(libc::EPERM);
    if eperm {
        // This VM: the function tracer is listed but refused by a policy.
        assert_eq!(avail("function tracer"), "no");
        let why = feature(&v, "function tracer")["detail"].as_str().unwrap();
        assert!(why.contains("EPERM"), "{why}");
        assert!(feature(&v, "function tracer")["fallback"]
            .as_str()
            .unwrap()
            .contains("syscalls"));
        assert_eq!(avail("function filters"), "no");
    }
    if !exists("kprobe_events") {
        let k = feature(&v, "kprobes");
        assert_eq!(k["config"], "CONFIG_KPROBE_EVENTS");
        assert!(k["fallback"].as_str().unwrap().contains("tracepoints"));
    }
    // The check instance is gone and nothing is left in the journal.
    let leftover: Vec<_> = std::fs::read_dir(root.join("instances"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("tk-check-{}", std::process::id()))
        })
        .collect();
    assert!(leftover.is_empty());
    assert!(
        !state.path().join("journal").exists()
            || std::fs::read_dir(state.path().join("journal"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn set_status_reset_in_a_private_instance() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkset");
    let mut c = tk(state.path());
    c.args([
        "set",
        "-B",
        &name,
        "-e",
        "sched:sched_switch",
        "-f",
        "prev_pid != 0",
        "-e",
        "irq",
        "-C",
        "mono",
        "-O",
        "noirq-info",
        "-b",
        "256",
        "-R",
        "stacktrace:3",
    ]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let dir = format!("instances/{name}");
    assert_eq!(
        read(&root, &format!("{dir}/events/sched/sched_switch/enable")),
        "1"
    );
    assert_eq!(
        read(&root, &format!("{dir}/events/sched/sched_switch/filter")),
        "prev_pid != 0"
    );
    assert!(read(&root, &format!("{dir}/events/irq/irq_handler_entry/enable")).starts_with('1'));
    assert!(read(&root, &format!("{dir}/trace_clock")).contains("[mono]"));
    assert_eq!(read(&root, &format!("{dir}/options/irq-info")), "0");
    // The kernel rounds up to whole sub-buffers.
    let kb: u64 = read(&root, &format!("{dir}/buffer_size_kb"))
        .parse()
        .unwrap();
    assert!((256..256 + 16).contains(&kb), "buffer_size_kb {kb}");
    assert!(read(
        &root,
        &format!("{dir}/events/irq/irq_handler_entry/trigger")
    )
    .contains("stacktrace:count="));

    let mut c = tk(state.path());
    c.args(["status", "-B", &name, "--json"]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let arr = &v["arrays"][0];
    assert_eq!(arr["instance"], name.as_str());
    assert_eq!(arr["tracekit_owned"], true);
    assert_eq!(arr["clock"], "mono");
    assert!(arr["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "sched:sched_switch"));
    assert!(arr["filters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f[1] == "prev_pid != 0"));

    let mut c = tk(state.path());
    c.args(["status"]);
    let (ok, out, _) = run(c);
    assert!(ok);
    assert!(out.contains(&format!("{name} (tracekit)")), "{out}");
    assert!(out.contains("left in place"), "{out}");

    let mut c = tk(state.path());
    c.arg("reset");
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    assert!(out.contains("restored"), "{out}");
    assert!(!root.join(&dir).exists(), "instance not removed");
}

#[test]
fn rejected_filter_shows_the_kernel_caret_and_changes_nothing() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkbad");
    let mut c = tk(state.path());
    c.args([
        "set",
        "-B",
        &name,
        "-e",
        "sched:sched_wakeup",
        "-e",
        "sched:sched_switch",
        "-f",
        "prev_comm != bash",
    ]);
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(err.contains("writing 'prev_comm != bash' to "), "{err}");
    assert!(
        err.contains("sched_switch/filter failed: Invalid argument"),
        "{err}"
    );
    assert!(
        err.contains("Invalid value (did you forget quotes)?"),
        "{err}"
    );
    assert!(err.contains("Command: prev_comm != bash"), "{err}");
    let caret = err.lines().find(|l| l.trim() == "^").expect("caret line");
    let cmd = err.lines().find(|l| l.contains("Command: ")).unwrap();
    let col = caret.len() - 1 - (cmd.find("Command: ").unwrap() + "Command: ".len());
    assert!(col <= "prev_comm != bash".len(), "caret at {col}");
    // Rolled back: the instance created for it is gone, journal empty.
    assert!(!root.join(format!("instances/{name}")).exists());
    assert!(testutil_journal_empty(state.path()));
}

fn testutil_journal_empty(state: &std::path::Path) -> bool {
    match std::fs::read_dir(state.join("journal")) {
        Ok(mut rd) => rd.next().is_none(),
        Err(_) => true,
    }
}

#[test]
fn unknown_names_get_suggestions_and_change_nothing() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkunk");
    for (args, want) in [
        (
            vec!["-e", "sched:sched_swich"],
            "unknown event 'sched:sched_swich'; did you mean sched:sched_switch",
        ),
        (
            vec!["-p", "functon"],
            "unknown tracer 'functon'; did you mean function",
        ),
        (
            vec!["-O", "irq-inf"],
            "unknown option 'irq-inf'; did you mean irq-info",
        ),
        (
            vec!["-C", "monoo"],
            "unknown clock 'monoo'; did you mean mono",
        ),
        (vec!["-p", "wakeup_rt"], "wakeup_rt tracer is not available"),
    ] {
        let mut c = tk(state.path());
        c.args(["set", "-B", &name]).args(&args);
        let (ok, _, err) = run(c);
        assert!(!ok, "{args:?} succeeded");
        if args[1] == "wakeup_rt" && read(&root, "available_tracers").contains("wakeup_rt") {
            continue;
        }
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !root.join(format!("instances/{name}")).exists(),
            "{args:?} created the instance"
        );
    }
    assert!(testutil_journal_empty(state.path()));
}

#[test]
fn dry_run_prints_echo_commands_and_changes_nothing() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let name = unique_name("tkdry");
    let mut c = tk(state.path());
    c.args([
        "--dry-run",
        "set",
        "-B",
        &name,
        "-e",
        "sched:sched_switch",
        "-f",
        "prev_pid != 0",
        "-O",
        "noirq-info",
    ]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    let r = root.display();
    let expected = format!(
        "mkdir {r}/instances/{name}\necho 0 > {r}/instances/{name}/options/irq-info\necho 'prev_pid != 0' > {r}/instances/{name}/events/sched/sched_switch/filter\necho 1 > {r}/instances/{name}/events/sched/sched_switch/enable\n"
    );
    assert_eq!(out, expected);
    assert!(!root.join(format!("instances/{name}")).exists());
    assert!(testutil_journal_empty(state.path()));
    // --explain prints the same and does it.
    let mut c = tk(state.path());
    c.args([
        "--explain",
        "set",
        "-B",
        &name,
        "-e",
        "sched:sched_switch",
        "-f",
        "prev_pid != 0",
        "-O",
        "noirq-info",
    ]);
    let (ok, out2, err) = run(c);
    assert!(ok, "{err}");
    assert_eq!(out2, expected);
    assert_eq!(
        read(
            &root,
            &format!("instances/{name}/events/sched/sched_switch/enable")
        ),
        "1"
    );
    let mut c = tk(state.path());
    c.arg("reset");
    assert!(run(c).0);
    assert!(!root.join(format!("instances/{name}")).exists());
}

#[test]
fn list_shows_events_tracers_options_and_formats() {
    require_live_tracefs();
    let state = StateDir::new();
    let mut c = tk(state.path());
    c.args(["list", "-e", "sched:sched_swi*"]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "sched:sched_switch");
    let mut c = tk(state.path());
    c.args(["list", "-t", "-o"]);
    let (ok, out, _) = run(c);
    assert!(ok);
    assert!(
        out.contains("tracers:")
            && out.contains("nop")
            && out.contains("options:")
            && out.contains("irq-info"),
        "{out}"
    );
    let mut c = tk(state.path());
    c.args(["list", "-F", "sched:sched_switch"]);
    let (ok, out, _) = run(c);
    assert!(ok);
    assert!(out.contains("name: sched_switch"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("prev_comm ")
            && l.contains("char prev_comm[16]")
            && l.ends_with(" 16  string")),
        "{out}"
    );
    assert!(out.contains("print fmt: \"prev_comm=%s"), "{out}");
    let mut c = tk(state.path());
    c.args(["list", "-F", "sched:sched_swich"]);
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(err.contains("did you mean sched:sched_switch"), "{err}");
}

/// Kill `tracekit set` with SIGKILL after some of its global changes, then
/// `tracekit reset` must put exactly those files back.
#[test]
fn sigkill_mid_set_then_reset_restores() {
    let root = require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let files = [
        "options/sym-offset",
        "events/sched/sched_wakeup/filter",
        "events/sched/sched_wakeup/enable",
    ];
    let before: Vec<String> = files.iter().map(|f| read(&root, f)).collect();
    let mut child = tk(state.path())
        .args([
            "set",
            "-O",
            "sym-offset",
            "-e",
            "sched:sched_wakeup",
            "-f",
            "pid != 0",
        ])
        .env("TRACEKIT_TEST_PAUSE_AFTER_CHANGES", "2")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let start = Instant::now();
    let mut line = String::new();
    while !line.contains("test pause") {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 || start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("tracekit did not reach the pause point");
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Mid-change: the option and the filter are set, the event not yet enabled.
    assert_eq!(read(&root, "options/sym-offset"), "1");
    assert_eq!(read(&root, "events/sched/sched_wakeup/filter"), "pid != 0");
    // The next run reports the stale journal.
    let mut c = tk(state.path());
    c.args(["status"]);
    let (ok, out, err) = run(c);
    assert!(ok);
    assert!(
        err.contains("ended without restoring 2 tracefs change(s)"),
        "{err}"
    );
    assert!(out.contains("STALE"), "{out}");
    let mut c = tk(state.path());
    c.arg("reset");
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    assert!(out.starts_with("2 change(s) restored"), "{out}");
    let after: Vec<String> = files.iter().map(|f| read(&root, f)).collect();
    assert_eq!(before, after);
    assert!(testutil_journal_empty(state.path()));
}

/// Probes and instances tracekit did not create survive set, reset and
/// failed commands; `list --probes` marks them foreign.
#[test]
fn foreign_probes_and_instances_are_never_touched() {
    let root = require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let foreign_inst = unique_name("foreign");
    std::fs::create_dir(root.join("instances").join(&foreign_inst)).unwrap();
    std::fs::write(
        root.join("instances")
            .join(&foreign_inst)
            .join("events/sched/sched_switch/enable"),
        "1",
    )
    .unwrap();
    let group = unique_name("fgrp").replace('-', "_");
    let def = format!("p:{group}/x /bin/true:0x1000");
    let has_uprobes = root.join("uprobe_events").exists();
    if has_uprobes {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("uprobe_events"))
            .unwrap();
        f.write_all(format!("{def}\n").as_bytes()).unwrap();
    }
    let mine = unique_name("mine");
    for args in [
        vec!["set", "-B", mine.as_str(), "-e", "sched:sched_switch"],
        vec!["set", "-B", mine.as_str(), "-e", "nosuch:event"],
        vec!["reset"],
    ] {
        let mut c = tk(state.path());
        c.args(&args);
        run(c);
    }
    let mut c = tk(state.path());
    c.args(["list", "--probes"]);
    let (_, out, _) = run(c);
    assert!(root.join("instances").join(&foreign_inst).exists());
    assert_eq!(
        read(
            &root,
            &format!("instances/{foreign_inst}/events/sched/sched_switch/enable")
        ),
        "1"
    );
    assert!(!root.join("instances").join(&mine).exists());
    if has_uprobes {
        assert!(
            read(&root, "uprobe_events").contains(&format!("{group}/x")),
            "foreign probe deleted"
        );
        assert!(
            out.lines()
                .any(|l| l.starts_with("foreign") && l.contains(&format!("{group}/x"))),
            "{out}"
        );
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("uprobe_events"))
            .unwrap();
        f.write_all(format!("-:{group}/x\n").as_bytes()).unwrap();
    }
    std::fs::remove_dir(root.join("instances").join(&foreign_inst)).unwrap();
}

/// A read-only tracefs (bind mount) gives a clear error and no journal.
#[test]
fn read_only_tracefs_is_reported() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let mnt = tempfile::tempdir().unwrap();
    let name = unique_name("tkro");
    let script = format!(
        "mount --bind {r} {m} && mount -o remount,bind,ro {m} && TRACEFS={m} exec {bin} set -B {name} -e sched:sched_switch",
        r = root.display(),
        m = mnt.path().display(),
        bin = bin()
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("TRACEKIT_STATE_DIR", state.path());
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!root.join(format!("instances/{name}")).exists());
}

/// Without root, tracekit says so instead of failing obscurely.
#[test]
fn not_root_is_explained() {
    require_live_tracefs();
    let state = StateDir::new();
    let mut c = std::process::Command::new("setpriv");
    c.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        bin(),
        "--state-dir",
    ])
    .arg(state.path())
    .arg("status");
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(err.contains("run tracekit as root"), "{err}");
}
