//! Corpus tests: `perf report --stdio --no-children --sort comm,dso,sym` and
//! `perf script` (default and `-F`) outputs of Debian perf 6.1 on the shared
//! perf.data files must be reproduced byte for byte.
//!
//! perf.data holds no symbols, so these results depend on this host's kernel
//! and binaries: each test first checks the recorded build ids and fails with
//! the list of differing files when the host is not the one that recorded.

use std::path::PathBuf;

use perf::report::{self, ReportOptions};
use perf::script::{self, Fields};
use perf::session::Session;

fn corpus() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/perf");
    assert!(
        d.join("cpuclock-fp.perf.data").exists(),
        "perf corpus missing at {} (expected the shared corpus, see /work/shared/corpus/perf/README.md)",
        d.display()
    );
    d
}

fn session(name: &str) -> Session {
    let p = corpus().join(name);
    let s = Session::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if let Err(e) = s.check_build_ids() {
        panic!(
            "{name}: this host cannot reproduce perf's symbols for the recording ({e}). \
             The corpus was recorded on the project VM; run the corpus tests there."
        );
    }
    s
}

fn expected(name: &str) -> String {
    let p = corpus().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// perf ends its report with a random "Tip" block; drop it.
fn strip_tip(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let cut = lines
        .iter()
        .rposition(|l| l.starts_with("# (Tip:"))
        .map(|i| i.saturating_sub(1))
        .unwrap_or(lines.len());
    let mut out = lines[..cut].join("\n");
    out.push('\n');
    out
}

fn diff(name: &str, got: &str, want: &str) {
    if got == want {
        return;
    }
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let first = g
        .iter()
        .zip(&w)
        .position(|(a, b)| a != b)
        .unwrap_or(g.len().min(w.len()));
    panic!(
        "{name}: output differs from perf at line {} (got {} lines, perf {} lines)\n  got:  {:?}\n  perf: {:?}",
        first + 1,
        g.len(),
        w.len(),
        g.get(first),
        w.get(first)
    );
}

fn check_report(base: &str) {
    let mut s = session(&format!("{base}.perf.data"));
    let opts = ReportOptions::default();
    let r = report::build(&mut s, &opts).unwrap();
    diff(
        &format!("{base}.report.txt"),
        &strip_tip(&r.to_stdio(&opts)),
        &strip_tip(&expected(&format!("{base}.report.txt"))),
    );
}

fn check_script(base: &str) {
    let mut s = session(&format!("{base}.perf.data"));
    let got = script::run(&mut s, None).unwrap();
    diff(
        &format!("{base}.script.txt"),
        &got,
        &expected(&format!("{base}.script.txt")),
    );
    let want_f = expected(&format!("{base}.script-F.txt"));
    // The -F file was made with cpu when the samples have it (see make_perf.sh).
    let has_cpu = s
        .data
        .attrs
        .iter()
        .any(|a| a.attr.sample_type & perf::attr::sample::CPU != 0);
    let f = if has_cpu {
        "comm,pid,tid,cpu,time,period,event,ip,sym,symoff,dso"
    } else {
        "comm,pid,tid,time,period,event,ip,sym,symoff,dso"
    };
    let mut s = session(&format!("{base}.perf.data"));
    let got = script::run(&mut s, Some(Fields::parse(f).unwrap())).unwrap();
    diff(&format!("{base}.script-F.txt"), &got, &want_f);
}

#[test]
fn report_cpuclock_fp_matches_perf() {
    check_report("cpuclock-fp");
}

#[test]
fn report_sched_matches_perf() {
    check_report("sched");
}

#[test]
fn script_cpuclock_fp_matches_perf() {
    check_script("cpuclock-fp");
}

#[test]
fn script_sched_matches_perf() {
    check_script("sched");
}

#[test]
fn report_rows_and_percentages() {
    // The done criterion stated as data: overhead, comm, dso, symbol per row.
    let mut s = session("sched.perf.data");
    let r = report::build(&mut s, &ReportOptions::default()).unwrap();
    let ev = &r.events[0];
    assert_eq!(ev.name, "sched:sched_switch");
    assert_eq!(ev.samples, 93);
    let e = &ev.entries[0];
    assert_eq!(
        (e.comm.as_str(), e.dso.as_str(), e.symbol.as_deref()),
        ("sh", "[kernel.kallsyms]", Some("__schedule"))
    );
    assert_eq!(
        format!("{:.2}", 100.0 * e.period as f64 / ev.total_period as f64),
        "27.96"
    );
}

#[test]
fn header_features() {
    let s = session("cpuclock-fp.perf.data");
    assert_eq!(
        s.data
            .string_feature(perf::data::Feature::Hostname)
            .as_deref(),
        Some("vm")
    );
    assert_eq!(
        s.data
            .string_feature(perf::data::Feature::Version)
            .as_deref(),
        Some("6.1.187")
    );
    assert_eq!(s.data.nr_cpus(), Some((2, 2)));
    assert!(s.data.cmdline().iter().any(|a| a == "./busy.sh"));
    let ids = s.data.build_ids();
    assert!(ids
        .iter()
        .any(|b| b.filename == "/usr/bin/dash"
            && b.hex() == "be6397ddffc3e384c505d7deab3bed190c884df9"));
    assert_eq!(s.data.attrs[0].name, "cpu-clock");
}

#[test]
fn tracing_data_round_trips() {
    let s = session("sched.perf.data");
    let raw = s
        .data
        .feature(perf::data::Feature::TracingData)
        .expect("sched.perf.data has tracing data");
    let td = perf::data::TracingData::parse(raw).unwrap();
    assert!(td
        .systems
        .iter()
        .any(|(sys, evs)| sys == "sched" && evs.len() == 3));
    assert_eq!(td.to_bytes(), raw);
}
