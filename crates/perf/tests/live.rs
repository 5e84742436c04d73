//! Live tests against this kernel (root; software events, tracepoints and
//! the uprobe PMU work here, hardware events do not) and against Debian's
//! `perf` (installed with apt when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use perf::record::{self, CallGraph, RecordOptions};
use perf::report::{self, ReportOptions};
use perf::session::Session;
use perf::stat::{self, StatOptions};

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "live perf tests need root (perf_event_open system-wide, tracepoints)"
    );
}

fn debian_perf() -> PathBuf {
    let p = PathBuf::from("/usr/bin/perf");
    if !p.exists() {
        let st = Command::new("apt-get")
            .args(["install", "-y", "linux-perf"])
            .status();
        assert!(
            matches!(st, Ok(s) if s.success()),
            "perf is missing and `apt-get install -y linux-perf` failed"
        );
    }
    assert!(
        p.exists(),
        "/usr/bin/perf missing after installing linux-perf"
    );
    p
}

/// perf's report text without the random tip footer.
fn strip_tip(s: &str) -> String {
    testutil::without_perf_tip(s)
}

/// Replaces each number by `N` so layouts can be compared run to run.
fn shape(line: &str) -> (usize, Option<usize>, String) {
    let mut out = String::new();
    let mut in_num = false;
    for c in line.chars() {
        if c.is_ascii_digit() || (in_num && (c == '.' || c == ',')) {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    // The noise suffix appears only when runs differ, which is up to chance.
    // and the rate unit (K/sec) depends on the rate.
    let toks = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let toks = toks.replace(" ( +- N% )", "").replace("K/sec", "/sec");
    (line.len(), line.find('#'), toks)
}

#[test]
fn stat_layout_matches_perf() {
    require_root();
    let perf = debian_perf();
    let opts = StatOptions {
        tracefs: perf::event::default_tracefs_root(),
        events: vec!["task-clock,context-switches,cycles".into()],
        repeat: 3,
        command: vec!["sleep".into(), "0.1".into()],
        ..Default::default()
    };
    let mut ours = Vec::new();
    stat::run(&opts, &mut ours).unwrap();
    let ours = String::from_utf8(ours).unwrap();
    let out = Command::new(perf)
        .args([
            "stat",
            "-e",
            "task-clock,context-switches,cycles",
            "-r",
            "3",
            "--",
            "sleep",
            "0.1",
        ])
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(ours.contains("   <not supported>      cycles                                                      \n"), "{ours}");
    assert!(
        ours.contains(" Performance counter stats for 'sleep 0.1' (3 runs):"),
        "{ours}"
    );
    let o: Vec<_> = ours
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(shape)
        .collect();
    let t: Vec<_> = theirs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(shape)
        .collect();
    assert_eq!(o.len(), t.len(), "ours:\n{ours}\nperf:\n{theirs}");
    for (a, b) in o.iter().zip(&t) {
        // Same words, same '#' column; lengths may differ only through number widths
        // (e.g. "+- 25.00%" vs "+-  1.27%" never changes width; elapsed precision may).
        assert_eq!(a.2, b.2, "ours:\n{ours}\nperf:\n{theirs}");
        assert_eq!(
            a.1, b.1,
            "'#' column differs:\nours:\n{ours}\nperf:\n{theirs}"
        );
    }
}

#[test]
fn stat_counts_software_events_and_tracepoints() {
    require_root();
    let opts = StatOptions {
        tracefs: perf::event::default_tracefs_root(),
        events: vec!["task-clock,page-faults,sched:sched_process_exec,instructions".into()],
        repeat: 1,
        csv_sep: Some(",".into()),
        command: vec!["sh".into(), "-c".into(), "/bin/true".into()],
        ..Default::default()
    };
    let mut out = Vec::new();
    stat::run(&opts, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    let line = |ev: &str| {
        s.lines()
            .find(|l| l.split(',').nth(2) == Some(ev))
            .unwrap_or_else(|| panic!("no {ev} in {s}"))
    };
    let execs: u64 = line("sched:sched_process_exec")
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(execs >= 1, "{s}");
    let pf: u64 = line("page-faults")
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pf > 10, "{s}");
    assert!(line("instructions").starts_with("<not supported>,"), "{s}");
}

#[test]
fn stat_uprobe_counts_calls() {
    require_root();
    let libc_path = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    assert!(libc_path.exists(), "needs {}", libc_path.display());
    let opts = StatOptions {
        tracefs: perf::event::default_tracefs_root(),
        events: vec![format!("uprobe:{}:getpid", libc_path.display())],
        repeat: 1,
        csv_sep: Some(",".into()),
        command: vec![
            "/usr/bin/python3".into(),
            "-c".into(),
            "import os\nfor _ in range(500): os.getpid()".into(),
        ],
        ..Default::default()
    };
    let mut out = Vec::new();
    stat::run(&opts, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    let n: u64 = s.split(',').next().unwrap().parse().unwrap_or(0);
    assert!(n >= 500, "{s}");
}

fn workload() -> Vec<String> {
    // Kernel-heavy and deterministic in its top symbol (chacha_permute).
    vec![
        "dd".into(),
        "if=/dev/urandom".into(),
        "of=/dev/null".into(),
        "bs=64k".into(),
        "count=600".into(),
    ]
}

#[test]
fn record_g_is_read_by_debian_perf_with_the_same_report() {
    require_root();
    let perf = debian_perf();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("perf.data");
    let opts = RecordOptions {
        tracefs: perf::event::default_tracefs_root(),
        events: Vec::new(),
        freq: Some(999),
        period: None,
        call_graph: CallGraph::Fp,
        all_cpus: false,
        cpus: None,
        pids: None,
        tids: None,
        output: out.clone(),
        command: workload(),
        cmdline: vec![
            "tracekit".into(),
            "perf".into(),
            "record".into(),
            "-g".into(),
        ],
        buildid_dir: None,
        no_buildid: false,
    };
    let sum = record::run(&opts).unwrap();
    assert!(sum.samples > 50, "{sum:?}");
    let p = Command::new(&perf)
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "comm,dso,sym",
            "-i",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&p.stderr);
    assert!(p.status.success(), "perf report failed: {stderr}");
    let theirs = strip_tip(&String::from_utf8_lossy(&p.stdout));
    let mut s = Session::open(&out).unwrap();
    let ro = ReportOptions::default();
    let r = report::build(&mut s, &ro).unwrap();
    let ours = strip_tip(&r.to_stdio(&ro));
    // The top symbols: rows of at least 2% (single-sample rows tie, and
    // perf orders ties by object addresses no other tool can know).
    let top = |t: &str| {
        t.lines()
            .filter(|l| l.contains('%') && !l.starts_with('#') && !l.trim_start().starts_with('|'))
            .filter(|l| {
                l.split('%')
                    .next()
                    .and_then(|p| p.trim().parse::<f64>().ok())
                    .is_some_and(|p| p >= 2.0)
            })
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        top(&ours),
        top(&theirs),
        "top symbols differ\nours:\n{ours}\nperf:\n{theirs}"
    );
    assert!(
        top(&ours).first().is_some_and(|l| l.contains("[k] ")),
        "{ours}"
    );
    assert_eq!(ours, theirs, "full report differs");
    let sc = Command::new(&perf)
        .args(["script", "-i"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        sc.status.success(),
        "perf script failed: {}",
        String::from_utf8_lossy(&sc.stderr)
    );
    let mut s = Session::open(&out).unwrap();
    let ours = perf::script::run(&mut s, None).unwrap();
    assert_eq!(
        ours,
        String::from_utf8_lossy(&sc.stdout),
        "perf script output differs"
    );
}

#[test]
fn record_tracepoints_system_wide() {
    require_root();
    let perf = debian_perf();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tp.data");
    let opts = RecordOptions {
        tracefs: perf::event::default_tracefs_root(),
        events: vec!["sched:sched_switch,sched:sched_process_exec".into()],
        freq: None,
        period: None,
        call_graph: CallGraph::None,
        all_cpus: true,
        cpus: None,
        pids: None,
        tids: None,
        output: out.clone(),
        command: vec![
            "sh".into(),
            "-c".into(),
            "ls / >/dev/null; sleep 0.05".into(),
        ],
        cmdline: vec!["tracekit".into()],
        buildid_dir: None,
        no_buildid: false,
    };
    let sum = record::run(&opts).unwrap();
    assert!(sum.samples > 2, "{sum:?}");
    let sc = Command::new(&perf)
        .args(["script", "-i"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        sc.status.success(),
        "perf script failed: {}",
        String::from_utf8_lossy(&sc.stderr)
    );
    let theirs = String::from_utf8_lossy(&sc.stdout).into_owned();
    assert!(
        theirs.contains("sched:sched_switch: prev_comm="),
        "{theirs}"
    );
    let mut s = Session::open(&out).unwrap();
    let ours = perf::script::run(&mut s, None).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn record_dwarf_unwinds_user_stacks() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dwarf.data");
    let opts = RecordOptions {
        tracefs: perf::event::default_tracefs_root(),
        events: vec!["cpu-clock".into()],
        freq: Some(999),
        period: None,
        call_graph: CallGraph::Dwarf(8192),
        all_cpus: false,
        cpus: None,
        pids: None,
        tids: None,
        output: out.clone(),
        command: vec![
            "/usr/bin/python3".into(),
            "-c".into(),
            "import hashlib\nfor i in range(100000): hashlib.sha256(b'x'*64).hexdigest()".into(),
        ],
        cmdline: vec!["tracekit".into()],
        buildid_dir: None,
        no_buildid: false,
    };
    let sum = record::run(&opts).unwrap();
    assert!(sum.samples > 20 && sum.lost == 0, "{sum:?}");
    let mut s = Session::open(&out).unwrap();
    let mut deep = 0;
    let mut total = 0;
    s.for_each_sample(|_, rs| {
        total += 1;
        if rs.chain.iter().any(|f| {
            f.loc
                .sym
                .as_ref()
                .is_some_and(|s| s.name.starts_with("__libc_start"))
        }) {
            deep += 1;
        }
    })
    .unwrap();
    assert!(
        deep * 2 > total,
        "only {deep} of {total} samples unwound to __libc_start_main"
    );
}
