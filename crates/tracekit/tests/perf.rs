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

fn without_tip(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let cut = lines
        .iter()
        .rposition(|l| l.starts_with("# (Tip:"))
        .map(|i| i.saturating_sub(1))
        .unwrap_or(lines.len());
    lines[..cut].join("\n")
}

#[test]
fn perf_report_cli_matches_corpus() {
    for base in ["cpuclock-fp", "sched"] {
        let f = corpus().join(format!("{base}.perf.data"));
        let (out, err, ok) = tracekit(&[
            "perf",
            "report",
            "-i",
            f.to_str().unwrap(),
            "--stdio",
            "--no-children",
            "--sort",
            "comm,dso,sym",
        ]);
        assert!(ok, "{err}");
        assert!(
            !err.contains("host differs"),
            "the corpus was recorded on another host: {err}"
        );
        let want = std::fs::read_to_string(corpus().join(format!("{base}.report.txt"))).unwrap();
        assert_eq!(without_tip(&out), without_tip(&want), "{base}");
    }
}

#[test]
fn perf_script_cli_matches_corpus() {
    let f = corpus().join("sched.perf.data");
    let (out, err, ok) = tracekit(&["perf", "script", "-i", f.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        std::fs::read_to_string(corpus().join("sched.script.txt")).unwrap()
    );
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
