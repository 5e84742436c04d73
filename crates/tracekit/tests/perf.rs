//! `tracekit perf …` end to end: the CLI on the shared perf corpus (exact
//! against Debian perf 6.1's outputs) and live `perf stat`/`perf record`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::bin;

fn corpus() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/perf");
    assert!(
        d.join("sched.perf.data").exists(),
        "perf corpus missing at {}",
        d.display()
    );
    d
}

fn tracekit(args: &[&str]) -> (String, String, bool) {
    let o = Command::new(bin())
        .args(args)
        .output()
        .expect("run tracekit");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

/// perf's report text without the random tip footer.
fn without_tip(s: &str) -> String {
    testutil::without_perf_tip(s)
}

/// The corpus's offline-symbol options: `--symfs symfs --kallsyms symfs/kallsyms`.
fn symfs_args() -> Vec<String> {
    let fs = corpus().join("symfs");
    vec![
        "--symfs".into(),
        fs.display().to_string(),
        "--kallsyms".into(),
        fs.join("kallsyms").display().to_string(),
    ]
}

fn tracekit_s(args: &[String]) -> (String, String, bool) {
    let v: Vec<&str> = args.iter().map(String::as_str).collect();
    tracekit(&v)
}

#[test]
fn perf_report_cli_matches_corpus() {
    for base in ["cpuclock-fp", "sched"] {
        let f = corpus().join(format!("{base}.perf.data"));
        let mut args: Vec<String> = ["perf", "report", "-i", f.to_str().unwrap()]
            .map(String::from)
            .into();
        args.extend(symfs_args());
        args.extend(["--stdio", "--no-children", "--sort", "comm,dso,sym"].map(String::from));
        let (out, err, ok) = tracekit_s(&args);
        assert!(ok, "{err}");
        assert!(!err.contains("warning"), "{base}: {err}");
        let want = std::fs::read_to_string(corpus().join(format!("{base}.report.txt"))).unwrap();
        assert_eq!(without_tip(&out), without_tip(&want), "{base}");
    }
}

#[test]
fn perf_script_cli_matches_corpus() {
    for base in ["cpuclock-fp", "sched"] {
        let f = corpus().join(format!("{base}.perf.data"));
        let mut args: Vec<String> = ["perf", "script", "-i", f.to_str().unwrap()]
            .map(String::from)
            .into();
        args.extend(symfs_args());
        let (out, err, ok) = tracekit_s(&args);
        assert!(ok, "{err}");
        assert!(!err.contains("warning"), "{base}: {err}");
        testutil::assert_text_eq!(
            out,
            std::fs::read_to_string(corpus().join(format!("{base}.script.txt"))).unwrap()
        );
    }
}

/// Debian's perf, the oracle (CI installs linux-perf).
fn perf_bin() -> &'static str {
    let p = "/usr/bin/perf";
    assert!(
        std::path::Path::new(p).exists(),
        "this test compares with Debian's perf: apt-get install linux-perf"
    );
    p
}

/// An empty symfs: nothing matches, so perf prints raw kernel addresses and
/// `[unknown]` user symbols — never names borrowed from this host — and so
/// must tracekit, with one warning per object naming its build id and the fix.
#[test]
fn perf_without_matching_symbols_prints_what_perf_prints() {
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    // An empty build-id cache too: ~/.debug may hold the recording's objects.
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    let f = corpus().join("cpuclock-fp.perf.data");
    let f = f.to_str().unwrap();
    for sub in [
        vec!["script"],
        vec![
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "comm,dso,sym",
        ],
    ] {
        let mut args = vec!["perf", "--buildid-dir", c];
        args.extend(&sub);
        args.extend(["-i", f, "--symfs", e]);
        let (out, err, ok) = tracekit(&args);
        assert!(ok, "{err}");
        let peer = Command::new(perf_bin())
            .args(&args[1..])
            .output()
            .expect("run perf");
        let want = String::from_utf8_lossy(&peer.stdout);
        testutil::assert_text_eq!(without_tip(&out), without_tip(&want));
        assert!(out.contains("[kernel.kallsyms]"), "{out}");
        for obj in [
            "[kernel.kallsyms]",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/bin/dash",
        ] {
            let w: Vec<&str> = err.lines().filter(|l| l.contains(obj)).collect();
            assert_eq!(w.len(), 1, "one warning for {obj}:\n{err}");
            assert!(
                w[0].contains("--symfs") && w[0].contains("perf archive"),
                "{}",
                w[0]
            );
        }
    }
}

#[test]
fn perf_stat_not_supported_rows() {
    let (_, err, ok) = tracekit(&[
        "perf",
        "stat",
        "-e",
        "task-clock,context-switches,cycles",
        "-r",
        "3",
        "--",
        "sleep",
        "0.1",
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains(" Performance counter stats for 'sleep 0.1' (3 runs):"),
        "{err}"
    );
    assert!(err.contains("   <not supported>      cycles"), "{err}");
    assert!(
        err.contains(" msec task-clock                       #"),
        "{err}"
    );
    assert!(err.contains(" seconds time elapsed"), "{err}");
}

#[test]
fn perf_stat_needs_a_target() {
    let (_, err, ok) = tracekit(&["perf", "stat", "-e", "cs"]);
    assert!(!ok);
    assert!(err.contains("give a command after --"), "{err}");
}

/// On another kernel (the QEMU rig's), the corpus's kernel addresses cannot
/// be named from the running kernel: without the symfs options tracekit
/// prints what perf prints there (raw kernel addresses, user symbols from the
/// matching host files), with them the exact corpus text. One boot.
#[test]
fn rig_perf_symbols_on_another_kernel() {
    let _ = perf_bin();
    let script = format!(
        r#"TK={tk}
cd {corpus} || exit 9
R="report --stdio --no-children --sort comm,dso,sym"
S="--symfs symfs --kallsyms symfs/kallsyms"
N="--buildid-dir /tmp/nocache"
echo '=== perf_script ==='; perf $N script -i cpuclock-fp.perf.data 2>/dev/null
echo '=== tk_script ==='; $TK perf $N script -i cpuclock-fp.perf.data 2>/tmp/e1
echo '=== tk_script_err ==='; cat /tmp/e1
echo '=== perf_report ==='; perf $N $R -i cpuclock-fp.perf.data 2>/dev/null
echo '=== tk_report ==='; $TK perf $N $R -i cpuclock-fp.perf.data 2>/dev/null
echo '=== tk_symfs_script ==='; $TK perf $N script -i cpuclock-fp.perf.data $S 2>/tmp/e2
echo '=== tk_symfs_report ==='; $TK perf $N $R -i cpuclock-fp.perf.data $S 2>>/tmp/e2
echo '=== tk_symfs_err ==='; cat /tmp/e2
echo '=== end ==='
"#,
        tk = bin(),
        corpus = corpus().display()
    );
    let out = testutil::Rig::new()
        .kernel_debian(true)
        .timeout(280)
        .run(&script);
    assert_eq!(out.code, 0, "rig failed:\n{}\n{}", out.stdout, out.stderr);
    let perf_script = out.section("perf_script");
    assert!(
        perf_script.contains("[unknown] ([kernel.kallsyms])"),
        "perf on another kernel prints raw kernel addresses: {perf_script}"
    );
    testutil::assert_text_eq!(out.section("tk_script"), perf_script);
    testutil::assert_text_eq!(
        without_tip(out.section("tk_report")),
        without_tip(out.section("perf_report"))
    );
    let err = out.section("tk_script_err");
    assert_eq!(
        err.lines().filter(|l| l.contains("warning")).count(),
        1,
        "one warning, for the kernel only (dash and libc match the host's files): {err}"
    );
    assert!(
        err.contains("[kernel.kallsyms]") && err.contains("--kallsyms"),
        "{err}"
    );
    let want = |f: &str| std::fs::read_to_string(corpus().join(f)).unwrap();
    testutil::assert_text_eq!(
        out.section("tk_symfs_script"),
        want("cpuclock-fp.script.txt")
    );
    testutil::assert_text_eq!(
        without_tip(out.section("tk_symfs_report")),
        without_tip(&want("cpuclock-fp.report.txt"))
    );
    assert_eq!(
        out.section("tk_symfs_err"),
        "",
        "no warnings with the symfs"
    );
}

/// Issue #14.13: unknown perf options are errors (not the workload); a
/// missing program is named with its errno and an existing perf.data is
/// kept (a finished recording moves it to perf.data.old, as perf does).
#[test]
fn perf_option_typos_and_missing_programs() {
    let (_, err, ok) = tracekit(&[
        "perf",
        "stat",
        "-e",
        "task-clock",
        "--repaet",
        "3",
        "--",
        "true",
    ]);
    assert!(!ok && err.contains("'--repaet'"), "{err}");
    let (_, err, ok) = tracekit(&["perf", "record", "--bogus", "--", "true"]);
    assert!(!ok && err.contains("'--bogus'"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("perf.data");
    std::fs::write(&out, "previous recording").unwrap();
    let o = out.to_str().unwrap();
    let (_, err, ok) = tracekit(&["perf", "record", "-o", o, "--", "/nonexistent/prog"]);
    assert!(!ok);
    assert!(
        err.contains("/nonexistent/prog") && err.contains("No such file or directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous recording");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temporary file left"
    );
    let (_, err, ok) = tracekit(&["perf", "stat", "--", "/nonexistent/prog"]);
    assert!(
        !ok && err.contains("/nonexistent/prog") && err.contains("No such file"),
        "{err}"
    );
    let (_, err, ok) = tracekit(&["perf", "record", "-N", "-o", o, "--", "true"]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("perf.data.old")).unwrap(),
        "previous recording"
    );
}

/// Bad symbol input: a `--kallsyms` that is not a kallsyms file is named in a
/// warning and the kernel addresses stay raw (exit 0, never a panic); a
/// missing `--symfs` directory is an error naming it.
#[test]
fn bad_symbol_options_are_explained() {
    let f = corpus().join("cpuclock-fp.perf.data");
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("kallsyms");
    std::fs::write(&bogus, "this is not\na kallsyms file\n").unwrap();
    let cache = dir.path().join("cache");
    let (out, err, ok) = tracekit(&[
        "perf",
        "--buildid-dir",
        cache.to_str().unwrap(),
        "script",
        "-i",
        f.to_str().unwrap(),
        "--kallsyms",
        bogus.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("not a kallsyms file") && err.contains(bogus.to_str().unwrap()),
        "{err}"
    );
    assert!(out.contains("[unknown] ([kernel.kallsyms])"), "{out}");
    let (_, err, ok) = tracekit(&[
        "perf",
        "script",
        "-i",
        f.to_str().unwrap(),
        "--symfs",
        "/nonexistent/symfs",
    ]);
    assert!(!ok && err.contains("--symfs /nonexistent/symfs"), "{err}");
}

/// Issue #15: perf's tracepoints come from `--tracefs` like everything else.
#[test]
fn perf_tracepoints_honour_tracefs() {
    let (_, err, ok) = tracekit(&[
        "--tracefs",
        "/nonexistent/tracefs",
        "perf",
        "stat",
        "-e",
        "sched:sched_switch",
        "--",
        "true",
    ]);
    assert!(!ok);
    assert!(
        err.contains("/nonexistent/tracefs/events/sched/sched_switch/id"),
        "{err}"
    );
}
