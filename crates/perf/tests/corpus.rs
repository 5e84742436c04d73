//! Corpus tests: `perf report --stdio --no-children --sort comm,dso,sym` and
//! `perf script` (default and `-F`) outputs of Debian perf 6.1 on the shared
//! perf.data files must be reproduced byte for byte.
//!
//! perf.data holds no symbols: the expected texts were made with perf's
//! offline options `--symfs symfs --kallsyms symfs/kallsyms` (the recording
//! host's kallsyms and DSOs, see the corpus README), and the sessions here
//! use the same options, so the results hold on any host and kernel.

use std::path::PathBuf;

use perf::report::{self, ReportOptions};
use perf::script::{self, Fields};
use perf::session::Session;
use symbols::locate::SymbolPaths;

fn corpus() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/perf");
    assert!(
        d.join("cpuclock-fp.perf.data").exists(),
        "perf corpus missing at {} (expected the shared corpus, see /work/shared/corpus/perf/README.md)",
        d.display()
    );
    d
}

/// `--symfs symfs --kallsyms symfs/kallsyms`, as the expected outputs were made.
fn symfs_paths() -> SymbolPaths {
    SymbolPaths {
        symfs: Some(corpus().join("symfs")),
        kallsyms: Some(corpus().join("symfs/kallsyms")),
        ..perf::session::host_paths()
    }
}

fn session(name: &str) -> Session {
    let p = corpus().join(name);
    let s =
        Session::open_with(&p, symfs_paths()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if let Err(e) = s.check_build_ids() {
        panic!("{name}: the corpus symfs lacks a recorded object ({e})");
    }
    s
}

fn expected(name: &str) -> String {
    let p = corpus().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// perf ends its report with a random "Tip" block; drop it.
/// perf's report text without the random tip footer.
fn strip_tip(s: &str) -> String {
    testutil::without_perf_tip(s)
}

fn diff(name: &str, got: &str, want: &str) {
    testutil::assert_text_eq!(want, got, "{name}: ours vs perf");
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
    // The done criterion stated as data: samples, overhead, comm, dso, symbol
    // of the first row, read from perf's own report beside the file.
    let want = expected("sched.report.txt");
    let samples_line = want
        .lines()
        .find(|l| l.starts_with("# Samples:"))
        .expect("perf's report has a # Samples line");
    let want_samples: u64 = samples_line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("sample count");
    let want_event = samples_line.split('\'').nth(1).expect("event name");
    let first_row: Vec<&str> = want
        .lines()
        .find(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .expect("a first row")
        .split_whitespace()
        .collect();
    let mut s = session("sched.perf.data");
    let r = report::build(&mut s, &ReportOptions::default()).unwrap();
    let ev = &r.events[0];
    assert_eq!(ev.name, want_event);
    assert_eq!(ev.samples, want_samples);
    let e = &ev.entries[0];
    assert_eq!(
        format!("{:.2}%", 100.0 * e.period as f64 / ev.total_period as f64),
        first_row[0]
    );
    assert_eq!(e.comm, first_row[1]);
    assert_eq!(e.dso, first_row[2]);
    assert_eq!(e.symbol.as_deref(), first_row.get(4).copied());
}

#[test]
fn header_features() {
    // Values from perf's own `--header-only` text beside the file.
    let hdr = expected("cpuclock-fp.header.txt");
    let field = |k: &str| -> String {
        hdr.lines()
            .find_map(|l| l.strip_prefix(&format!("# {k} : ")))
            .unwrap_or_else(|| panic!("header.txt has no '{k}'"))
            .trim_end()
            .to_string()
    };
    let s = session("cpuclock-fp.perf.data");
    assert_eq!(
        s.data.string_feature(perf::data::Feature::Hostname),
        Some(field("hostname"))
    );
    assert_eq!(
        s.data.string_feature(perf::data::Feature::Version),
        Some(field("perf version"))
    );
    let n = |k: &str| field(k).parse::<u32>().unwrap();
    assert_eq!(
        s.data.nr_cpus(),
        Some((n("nrcpus online"), n("nrcpus avail")))
    );
    assert_eq!(s.data.cmdline().join(" ").trim_end(), field("cmdline"));
    // The recorded build id of dash is the one of the copy in symfs.
    let dash = symbols::locate::file_build_id(&corpus().join("symfs/usr/bin/dash"))
        .expect("symfs dash has a build id");
    let ids = s.data.build_ids();
    assert!(ids
        .iter()
        .any(|b| b.filename == "/usr/bin/dash" && b.build_id == dash));
    assert!(field("event").starts_with(&format!("name = {}, ", s.data.attrs[0].name)));
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

/// Issue #14.3: single-bit flips in sample periods and anywhere else in a
/// real perf.data give an error or a report, never a panic — in particular no
/// sort with a comparator that is not a total order.
#[test]
fn bit_flipped_perf_data_never_panics() {
    let p0 = corpus().join("cpuclock-fp.perf.data");
    let orig = std::fs::read(&p0).unwrap();
    // File offsets of the samples' period fields (IP|TID|TIME|CALLCHAIN|PERIOD:
    // the period follows ip, pid/tid and time).
    let pd = perf::data::PerfData::open(&p0).unwrap();
    let periods: Vec<usize> = pd
        .records()
        .filter_map(|r| r.ok())
        .filter(|r| r.type_ == perf::data::rtype::SAMPLE)
        .map(|r| r.offset as usize + 8 + 24)
        .collect();
    assert!(periods.len() > 100);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flip.perf.data");
    // No symbol files: the sorts see raw addresses; fast.
    let paths = SymbolPaths {
        symfs: Some(dir.path().join("empty")),
        ..Default::default()
    };
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..160 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let pos = if i % 2 == 0 {
            periods[(x % periods.len() as u64) as usize] + ((x >> 8) % 3) as usize
        } else {
            (x % orig.len() as u64) as usize
        };
        let mut b = orig.clone();
        b[pos] ^= 1 << (x >> 61);
        std::fs::write(&p, &b).unwrap();
        for children in [false, true] {
            let Ok(mut s) = Session::open_with(&p, paths.clone()) else {
                continue;
            };
            let opts = ReportOptions {
                children,
                ..ReportOptions::default()
            };
            if let Ok(r) = report::build(&mut s, &opts) {
                let _ = r.to_stdio(&opts);
            }
        }
        if let Ok(mut s) = Session::open_with(&p, paths.clone()) {
            let _ = script::run(&mut s, None);
        }
    }
}
