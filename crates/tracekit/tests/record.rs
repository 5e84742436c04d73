//! `tracekit record` on this machine: the command's events are recorded,
//! trace-cmd 3.1.6 reads the file with output identical to `tracekit
//! report`, everything is restored afterwards (also after SIGKILL + reset),
//! and in the rig the function_graph workflow of the seeds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testutil::Rig;

use crate::util::*;

/// trace-cmd 3.1.6 from apt, installed if missing.
fn trace_cmd() -> &'static str {
    if Command::new("trace-cmd").arg("--version").output().is_err() {
        let ok = Command::new("sh")
            .args(["-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq trace-cmd >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq trace-cmd >/dev/null)"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "trace-cmd is missing and `apt-get install trace-cmd` failed"
        );
    }
    "trace-cmd"
}

fn report_both(file: &Path) -> (String, String) {
    let tc = Command::new(trace_cmd())
        .args(["report", "-i"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        tc.status.success(),
        "trace-cmd report failed: {}",
        String::from_utf8_lossy(&tc.stderr)
    );
    let tk = Command::new(bin())
        .args(["report", "-i"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        tk.status.success(),
        "tracekit report failed: {}",
        String::from_utf8_lossy(&tk.stderr)
    );
    (
        String::from_utf8_lossy(&tc.stdout).into_owned(),
        String::from_utf8_lossy(&tk.stdout).into_owned(),
    )
}

fn top_snapshot(root: &Path) -> Vec<String> {
    [
        "tracing_on",
        "current_tracer",
        "set_event",
        "set_event_pid",
        "buffer_size_kb",
        "trace_clock",
        "options/event-fork",
        "options/stacktrace",
    ]
    .iter()
    .map(|f| read(root, f))
    .collect()
}

#[test]
fn record_command_then_report_matches_trace_cmd() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ls.dat");
    let before = top_snapshot(&root);
    let mut c = tk(state.path());
    c.args([
        "record",
        "-q",
        "-e",
        "sched",
        "-e",
        "syscalls:sys_enter_openat",
        "-F",
        "-o",
    ])
    .arg(&out)
    .args(["--", "ls", "/"])
    .stdout(Stdio::null());
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let (tc, tk) = report_both(&out);
    testutil::assert_text_eq!(tc, tk);
    // The command's own events, from its exec on.
    assert!(
        tk.lines()
            .any(|l| l.trim_start().starts_with("ls-") && l.contains("sys_enter_openat")),
        "{tk}"
    );
    assert!(
        tk.contains("sched_process_exec") || tk.contains("filename=/usr/bin/ls"),
        "{tk}"
    );
    // -F: only the command (and switches to/from it).
    for l in tk
        .lines()
        .skip(1)
        .filter(|l| l.contains("sys_enter_openat"))
    {
        assert!(l.trim_start().starts_with("ls-"), "foreign openat: {l}");
    }
    // Everything back: top level untouched, no instance left, journal empty.
    assert_eq!(before, top_snapshot(&root));
    let left: Vec<_> = std::fs::read_dir(root.join("instances"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("tk-record"))
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.iter().all(|n| !n
            .to_string_lossy()
            .contains(&format!("-{}-", std::process::id()))),
        "{left:?}"
    );
    assert!(std::fs::read_dir(state.path().join("journal"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true));
}

#[test]
fn file_versions_and_compressions_round_trip() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("v6", vec!["--file-version", "6"]),
        ("none", vec!["--compression", "none"]),
        ("zstd", vec!["--compression", "zstd"]),
        ("multi", vec!["-B", "tkmulti", "-e", "irq"]),
        (
            "multi-none",
            vec!["-B", "tkmulti2", "-e", "irq", "--compression", "none"],
        ),
    ] {
        let out = dir.path().join(format!("{name}.dat"));
        let mut c = tk(state.path());
        c.args(["record", "-q", "-e", "sched:sched_switch", "-o"])
            .arg(&out)
            .args(&args)
            .args(["--", "sleep", "0.1"]);
        let (ok, _, err) = run(c);
        assert!(ok, "{name}: {err}");
        let (tc, tk) = report_both(&out);
        assert!(tc.lines().count() > 1, "{name}: empty");
        if !name.starts_with("multi") {
            testutil::assert_text_eq!(tc, tk, "{name}");
        }
        if name.ends_with("none") {
            // v7 without compression: the first CPU was recorded in place,
            // right after the first page (no copy at the end).
            let d = Command::new(bin())
                .args(["dump", "--flyrecord", "-i"])
                .arg(&out)
                .output()
                .unwrap();
            let d = String::from_utf8_lossy(&d.stdout);
            let page = 4096; // x86_64, arm64 with 4K pages
            assert!(
                d.lines()
                    .find(|l| l.contains("[id, data offset and size]"))
                    .is_some_and(|l| l.split_whitespace().nth(1) == Some(&page.to_string())),
                "{name}: {d}"
            );
        }
    }
    // zlib: trace-cmd 3.1.6 (Debian) has no zlib; tracekit reads its own.
    let out = dir.path().join("zlib.dat");
    let mut c = tk(state.path());
    c.args([
        "record",
        "-q",
        "-e",
        "sched:sched_switch",
        "--compression",
        "zlib",
        "-o",
    ])
    .arg(&out)
    .args(["--", "sleep", "0.1"]);
    assert!(run(c).0);
    let tk = Command::new(bin())
        .args(["report", "-i"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(tk.status.success() && String::from_utf8_lossy(&tk.stdout).contains("sched_switch"));
}

#[test]
fn sigint_without_command_stops_and_restores() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int.dat");
    let mut child = tk(state.path())
        .args(["record", "-q", "-e", "sched:sched_switch", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t = Instant::now();
    let st = child.wait().unwrap();
    assert!(st.success(), "{st}");
    assert!(t.elapsed() < Duration::from_secs(10));
    let (tc, _) = report_both(&out);
    assert!(tc.contains("sched_switch"));
    let inst: Vec<_> = std::fs::read_dir(root.join("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("tk-record-{}", child.id())))
        .collect();
    assert!(inst.is_empty(), "{inst:?}");
}

#[test]
fn sigkill_mid_record_then_reset_restores() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let mut child = tk(state.path())
        .args([
            "record",
            "-q",
            "-e",
            "sched:sched_switch",
            "-b",
            "512",
            "-o",
        ])
        .arg(dir.path().join("k.dat"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let inst = format!("tk-record-{}-0", child.id());
    let t = Instant::now();
    while !root.join("instances").join(&inst).exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        root.join("instances").join(&inst).exists(),
        "recording instance never appeared"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(root.join("instances").join(&inst).exists());
    let mut c = tk(state.path());
    c.arg("reset");
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("removed instance {inst}")), "{err}");
    assert!(out.contains("restored"), "{out}");
    assert!(!root.join("instances").join(&inst).exists());
}

#[test]
fn lost_events_are_reported() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lost.dat");
    // A tiny buffer and a syscall burst, read only at the end (--poll with
    // a long sleep): the kernel overwrites events.
    let mut c = tk(state.path());
    c.args(["record", "-e", "syscalls", "-b", "4", "--poll", "-s", "2000000", "-o"])
        .arg(&out)
        .args(["--", "sh", "-c", "i=0; while [ $i -lt 3000 ]; do : > /dev/null; i=$((i+1)); done; cat /etc/hostname /etc/hostname >/dev/null"]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    assert!(
        err.contains("events lost") && err.contains("-b KB"),
        "{err}"
    );
    let st = Command::new(bin())
        .args(["report", "--stat", "-i"])
        .arg(&out)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&st.stdout);
    assert!(
        s.lines()
            .any(|l| l.starts_with("overrun:") && l != "overrun: 0"),
        "{s}"
    );
    let mut c = tk(state.path());
    c.args([
        "record",
        "-q",
        "-e",
        "syscalls",
        "-b",
        "4",
        "--poll",
        "-s",
        "2000000",
        "--fail-on-loss",
        "-o",
    ])
    .arg(dir.path().join("lost2.dat"))
    .args([
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 3000 ]; do : > /dev/null; i=$((i+1)); done",
    ]);
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    // The advice names the size the trace was recorded with (`-b 4`, which
    // the kernel rounds up to whole pages), not the top level's.
    let now: u64 = err
        .split("-b KB per CPU, now ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!((4..=16).contains(&now), "{err}");
}

#[test]
fn unusable_tracer_names_the_tracepoints_to_use_instead() {
    let root = require_live_tracefs();
    if read(&root, "available_tracers").contains("function_graph") {
        return; // exercised in the rig on kernels without it
    }
    let state = StateDir::new();
    let mut c = tk(state.path());
    c.args([
        "record",
        "-p",
        "function_graph",
        "-g",
        "do_sys_openat2",
        "--",
        "true",
    ]);
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(
        err.contains("function_graph tracer is not available")
            && err.contains("CONFIG_FUNCTION_GRAPH_TRACER"),
        "{err}"
    );
    assert!(
        err.contains("tracekit record -e syscalls:sys_enter_openat2 -e syscalls:sys_exit_openat2"),
        "{err}"
    );
}

const RIG: &str = r#"
cd /tmp/out
export TRACEKIT_STATE_DIR=/tmp/tkstate
T=/sys/kernel/tracing
echo "=== graph ==="
$TK record -q -p function_graph -g do_sys_openat2 -O funcgraph-proc -o fg.dat -- ls / >/dev/null; echo rc=$?
trace-cmd report -i fg.dat > fg.tc.txt 2>fg.tc.err; echo tc=$?
$TK report -i fg.dat > fg.tk.txt 2>fg.tk.err; echo tk=$?
grep -c 'do_sys_openat2() {' fg.tk.txt
cat $T/current_tracer $T/set_graph_function $T/options/funcgraph-proc
ls $T/instances; echo end
"#;

fn rig_function_graph(compare: bool) {
    let out = tempfile::Builder::new()
        .prefix("tk-rig-rec")
        .tempdir_in("/tmp")
        .unwrap();
    let res = Rig::new().timeout(280).share(out.path()).run(&format!(
        "TK={}\n{}",
        bin(),
        RIG.replace("/tmp/out", &out.path().display().to_string())
    ));
    assert_eq!(res.code, 0, "rig failed:\n{}\n{}", res.stdout, res.stderr);
    let g: Vec<&str> = res.section("graph").lines().collect();
    assert_eq!(&g[..3], ["rc=0", "tc=0", "tk=0"], "{g:?}\n{}", res.stderr);
    assert!(
        g[3].parse::<u32>().unwrap_or(0) >= 1,
        "no graph of do_sys_openat2: {g:?}"
    );
    assert_eq!(
        &g[4..],
        ["nop", "#### all functions enabled ####", "0", "end"],
        "state not restored: {g:?}"
    );
    let tc = std::fs::read_to_string(out.path().join("fg.tc.txt")).unwrap();
    let tk = std::fs::read_to_string(out.path().join("fg.tk.txt")).unwrap();
    // trace-cmd 3.1.6 reads tracekit's file and finds the graph in it.
    assert!(
        tc.contains("do_sys_openat2() {"),
        "{}",
        &tc[..tc.len().min(2000)]
    );
    if compare {
        testutil::assert_text_eq!(tc, tk);
    }
    // The same graph for the Perfetto UI: nested slices on the task's
    // track, every entry closed.
    let p = Command::new(bin())
        .args(["report", "--format", "perfetto", "-i"])
        .arg(out.path().join("fg.dat"))
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    let evs = doc["traceEvents"].as_array().unwrap();
    let ph = |x: &str| evs.iter().filter(|e| e["ph"] == x).count();
    assert!(
        evs.iter()
            .any(|e| e["ph"] == "B" && e["name"] == "do_sys_openat2"),
        "no do_sys_openat2 slice"
    );
    assert_eq!(ph("B"), ph("E"));
}

/// Records the seeds' function_graph scenario in the rig (`-p function_graph
/// -g do_sys_openat2 -O funcgraph-proc -- ls`): trace-cmd 3.1.6 reads the
/// file in the same guest and its report equals tracekit's byte for byte
/// (leaf look-ahead, durations, overhead marks); state is restored.
#[test]
fn rig_function_graph_record() {
    rig_function_graph(true);
}

/// libtraceevent's futex plugin output (`op=FUTEX_WAIT|FUTEX_PRIVATE_FLAG …`).
#[test]
fn futex_events_render_as_trace_cmd_plugin() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fx.dat");
    let mut c = tk(state.path());
    c.args(["record", "-q", "-e", "syscalls:sys_enter_futex", "-o"])
        .arg(&out)
        .args([
            "--",
            "/usr/bin/python3",
            "-c",
            "import threading\nfor _ in range(4):\n t = threading.Thread(target=lambda: None); t.start(); t.join()",
        ]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let (tc, tk) = report_both(&out);
    assert!(tc.contains("op=FUTEX_"), "no futex event:\n{tc}");
    testutil::assert_text_eq!(tc, tk);
}

#[test]
fn a_command_that_cannot_run_leaves_nothing_behind() {
    // The recorders are already running when exec fails: they are stopped,
    // the private instance is removed (no stale session reported by the
    // next run), and no partial trace.dat is left.
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    for comp in ["none", "zstd"] {
        let out = dir.path().join(format!("bad-{comp}.dat"));
        let mut c = tk(state.path());
        c.args(["record", "-q", "-e", "sched", "--compression", comp, "-o"])
            .arg(&out)
            .args(["--", "/nonexistent/command"]);
        let (ok, _, err) = run(c);
        assert!(!ok);
        assert!(err.contains("cannot run the command"), "{err}");
        assert!(!err.contains("could not restore"), "{err}");
        assert!(!out.exists(), "{comp}: partial output left behind");
    }
    let mut c = tk(state.path());
    c.arg("status");
    let (_, _, err) = run(c);
    assert!(!err.contains("ended without restoring"), "{err}");
}
