//! Byte-for-byte compatibility with trace-cmd 3.1.6 on the shared corpus:
//! every `X.dat` in `<workspace>/../shared/corpus/tracecmd` and each of its
//! provided outputs (`report`, `-t`, `-R`, `-N`, `-l`, `--stat`, `--cpus`,
//! `--nodate`). A missing corpus fails the test.

use std::path::{Path, PathBuf};
use tracecmd::report::{run, Mode, ReportOptions};

fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let c = root.join("../shared/corpus/tracecmd");
    assert!(
        c.is_dir(),
        "trace-cmd corpus not found at {} (it must be present; this test never skips)",
        c.display()
    );
    c
}

fn first_diff(got: &[u8], want: &[u8]) -> String {
    let g: Vec<&[u8]> = got.split(|&c| c == b'\n').collect();
    let w: Vec<&[u8]> = want.split(|&c| c == b'\n').collect();
    for i in 0..g.len().max(w.len()) {
        let (a, b) = (g.get(i), w.get(i));
        if a != b {
            let ctx = |v: &Vec<&[u8]>, j: usize| {
                v.get(j)
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .unwrap_or_else(|| "<EOF>".into())
            };
            return format!(
                "first difference at line {}:\n  before: {}\n  got:    {}\n  want:   {}",
                i + 1,
                if i > 0 { ctx(&w, i - 1) } else { String::new() },
                ctx(&g, i),
                ctx(&w, i)
            );
        }
    }
    String::from("lengths differ")
}

fn variant(o: &mut ReportOptions, suffix: &str) {
    match suffix {
        "report" => {}
        "report-t" => o.nsec = true,
        "report-R" => o.raw = true,
        "report-N" => o.no_plugins = true,
        "report-l" => o.latency = true,
        "report-nodate" => o.nodate = true,
        "stat" => o.mode = Mode::Stat,
        "cpus" => o.mode = Mode::Cpus,
        other => panic!("unknown variant {other}"),
    }
}

#[test]
fn corpus_outputs_match_trace_cmd_byte_for_byte() {
    let dir = corpus();
    let mut dats: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    dats.sort();
    assert!(!dats.is_empty(), "no .dat files in {}", dir.display());
    let mut failures = Vec::new();
    let mut checked = 0;
    for dat in &dats {
        let name = dat
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for suffix in [
            "report",
            "report-t",
            "report-R",
            "report-N",
            "report-l",
            "report-nodate",
            "stat",
            "cpus",
        ] {
            let expected = dir.join(format!("{name}.{suffix}.txt"));
            let Ok(want) = std::fs::read(&expected) else {
                continue;
            };
            // trace-cmd was run from the corpus directory with `-i X.dat`
            let mut o = ReportOptions {
                inputs: vec![PathBuf::from(&name)],
                quiet: true,
                ..Default::default()
            };
            variant(&mut o, suffix);
            let cwd = std::env::current_dir().expect("cwd");
            std::env::set_current_dir(&dir).expect("chdir");
            let mut got = Vec::new();
            let r = run(&o, &mut got, &mut std::io::sink());
            std::env::set_current_dir(cwd).expect("chdir back");
            checked += 1;
            if let Err(e) = r {
                failures.push(format!("{name} {suffix}: error {e}"));
            } else if got != want {
                failures.push(format!("{name} {suffix}: {}", first_diff(&got, &want)));
            }
        }
    }
    assert!(checked >= 50, "only {checked} outputs checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} outputs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_outputs_match() {
    // Extra recordings made on this VM (see tests/fixtures/README.md), if present.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "dat") {
            continue;
        }
        let want_path = PathBuf::from(format!("{}.report.txt", p.display()));
        let Ok(want) = std::fs::read(&want_path) else {
            continue;
        };
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let o = ReportOptions {
            inputs: vec![PathBuf::from(&name)],
            quiet: true,
            ..Default::default()
        };
        let cwd = std::env::current_dir().expect("cwd");
        std::env::set_current_dir(&dir).expect("chdir");
        let mut got = Vec::new();
        let r = run(&o, &mut got, &mut std::io::sink());
        std::env::set_current_dir(cwd).expect("chdir back");
        r.expect("report");
        assert!(got == want, "{name}: {}", first_diff(&got, &want));
    }
}
