//! `perf report --header-only`: tracekit's text against Debian perf 6.1's.
//!
//! - Corpus: the `.header.txt` files beside the shared perf.data files were
//!   made with `perf report -i N.perf.data --header-only`.
//! - Live: files recorded by `/usr/bin/perf` now (file mode with a group and a
//!   clock id, `-z`, pipe mode) and perf's own `--header-only` of each.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use perf::data::PerfData;
use perf::header::header_only;

fn corpus() -> PathBuf {
    let d = testutil::shared_dir().join("corpus/perf");
    assert!(
        d.join("cpuclock-fp.header.txt").is_file(),
        "perf corpus missing at {} (see shared/corpus/perf/README.md)",
        d.display()
    );
    d
}

fn perf_bin() -> PathBuf {
    let p = PathBuf::from("/usr/bin/perf");
    assert!(
        p.is_file(),
        "/usr/bin/perf is missing: apt-get install linux-perf (these tests compare with Debian's perf 6.1)"
    );
    p
}

fn first_diff(name: &str, got: &str, want: &str) {
    testutil::assert_text_eq!(want, got, "{name}: ours vs perf");
}

fn check_corpus(base: &str) {
    let dir = corpus();
    let pd = PerfData::open(&dir.join(format!("{base}.perf.data"))).unwrap();
    let ours = header_only(&pd);
    let want = std::fs::read_to_string(dir.join(format!("{base}.header.txt"))).unwrap();
    // `# captured on` is ctime(st_mtime of the data file) at the time perf ran.
    // The corpus files were copied after the .txt was made (their mtime is the
    // copy's, not the recording's), so that one line cannot be reproduced from
    // the file: it is checked for its form only; every other line must match.
    let strip = |s: &str| -> (String, Vec<String>) {
        let mut captured = Vec::new();
        let mut rest = String::new();
        for l in s.lines() {
            if let Some(v) = l.strip_prefix("# captured on    : ") {
                captured.push(v.to_string());
            } else {
                rest.push_str(l);
                rest.push('\n');
            }
        }
        (rest, captured)
    };
    let (o, oc) = strip(&ours);
    let (w, wc) = strip(&want);
    assert_eq!(oc.len(), 1, "{ours}");
    assert_eq!(wc.len(), 1, "{want}");
    // ctime: "Wed Dec  2 06:45:03 2026"
    let shape = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect::<String>()
            .replace("  9 ", " 99 ")
            .split_whitespace()
            .map(|w| w.len())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shape(&oc[0]),
        shape(&wc[0]),
        "captured on: {:?} vs {:?}",
        oc[0],
        wc[0]
    );
    assert!(ours.ends_with("# ========\n#\n"), "{ours}");
    first_diff(&format!("{base}.header.txt"), &o, &w);
}

#[test]
fn corpus_cpuclock_fp_header() {
    check_corpus("cpuclock-fp");
}

#[test]
fn corpus_sched_header() {
    check_corpus("sched");
}

fn sh_loop(n: u32) -> String {
    format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); done")
}

/// `perf record ARGS`, its stdout to `stdout` when given.
fn perf_record(args: &[&str], stdout: Option<&Path>) {
    let mut c = Command::new(perf_bin());
    c.arg("record").args(args).stderr(Stdio::piped());
    if let Some(p) = stdout {
        c.stdout(std::fs::File::create(p).unwrap());
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "perf record {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn perf_header(path: &Path, stdin: bool) -> String {
    let mut c = Command::new(perf_bin());
    c.args(["report", "--header-only", "-i"]);
    if stdin {
        c.arg("-").stdin(std::fs::File::open(path).unwrap());
    } else {
        c.arg(path);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "perf report --header-only failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn live_file_mode_group_clockid() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.data");
    let f = f.to_str().unwrap();
    perf_record(
        &[
            "-o",
            f,
            "-e",
            "{cpu-clock,task-clock}",
            "-k",
            "monotonic",
            "--",
            "sh",
            "-c",
            &sh_loop(20000),
        ],
        None,
    );
    let pd = PerfData::open(Path::new(f)).unwrap();
    let ours = header_only(&pd);
    assert!(ours.contains("# group: {cpu-clock,task-clock}\n"), "{ours}");
    assert!(ours.contains("# clockid: monotonic (1)\n"), "{ours}");
    first_diff("group/clockid", &ours, &perf_header(Path::new(f), false));
}

#[test]
fn live_compressed_and_tracepoints() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("z.data");
    let z = z.to_str().unwrap();
    perf_record(
        &[
            "-z",
            "-o",
            z,
            "-g",
            "-e",
            "cpu-clock",
            "--",
            "sh",
            "-c",
            &sh_loop(20000),
        ],
        None,
    );
    let pd = PerfData::open(Path::new(z)).unwrap();
    let ours = header_only(&pd);
    assert!(
        ours.contains("# compressed : Zstd, level = 1, ratio = "),
        "{ours}"
    );
    first_diff("-z", &ours, &perf_header(Path::new(z), false));

    let t = dir.path().join("t.data");
    let t = t.to_str().unwrap();
    perf_record(
        &[
            "-o",
            t,
            "-a",
            "-e",
            "sched:sched_switch",
            "-e",
            "sched:sched_wakeup",
            "--",
            "sleep",
            "0.05",
        ],
        None,
    );
    let pd = PerfData::open(Path::new(t)).unwrap();
    first_diff(
        "tracepoints",
        &header_only(&pd),
        &perf_header(Path::new(t), false),
    );
}

#[test]
fn live_pipe_mode_file_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.data");
    perf_record(
        &[
            "-o",
            "-",
            "-g",
            "-e",
            "cpu-clock",
            "--",
            "sh",
            "-c",
            &sh_loop(20000),
        ],
        Some(&p),
    );
    let pd = PerfData::open(&p).unwrap();
    assert!(pd.is_pipe());
    let ours = header_only(&pd);
    assert!(ours.contains("# data offset    : 0\n"), "{ours}");
    assert!(!ours.contains("missing features"), "{ours}");
    first_diff("pipe file", &ours, &perf_header(&p, false));
    // From standard input perf stats fd 0: here the same file.
    let mut pd = PerfData::from_reader(std::fs::File::open(&p).unwrap()).unwrap();
    pd.header.mtime = PerfData::open(&p).unwrap().header.mtime;
    first_diff("pipe stdin", &header_only(&pd), &perf_header(&p, true));
}
