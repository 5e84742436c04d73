//! perf.data input paths beyond the plain file: `perf record -z` compressed
//! records, pipe mode (`perf record -o -`, read from a file or a FIFO as a
//! stream), `PERF_RECORD_LOST_SAMPLES` in perf's `Total Lost Samples`, and
//! hostile input (endless devices, garbage, length fields that lie).
//!
//! The live tests record with Debian's `/usr/bin/perf` now and compare
//! tracekit's `perf script` / `perf report --stdio --no-children --sort
//! comm,dso,sym` text with perf's on the same file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use perf::attr::{sample, Attr};
use perf::data::{rtype, PerfData, RawRecord};
use perf::report::{self, ReportOptions};
use perf::session::Session;
use perf::Error;

fn perf_bin() -> PathBuf {
    let p = PathBuf::from("/usr/bin/perf");
    assert!(
        p.is_file(),
        "/usr/bin/perf is missing: apt-get install linux-perf (these tests compare with Debian's perf 6.1)"
    );
    p
}

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

fn perf_out(args: &[&str], input: &Path) -> String {
    let out = Command::new(perf_bin())
        .args(args)
        .arg("-i")
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "perf {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// perf ends its report with a random "Tip" block; drop it.
/// perf's report text without the random tip footer.
fn strip_tip(s: &str) -> String {
    testutil::without_perf_tip(s)
}

fn same(name: &str, ours: &str, perf: &str) {
    testutil::assert_text_eq!(perf, ours, "{name}: ours vs perf");
}

/// perf script, perf report --no-children --sort comm,dso,sym, and with perf's
/// defaults (children, caller graphs — off in pipe mode), ours vs perf's.
fn compare_with_perf(file: &Path, session: impl Fn() -> Session) {
    let mut s = session();
    let ours = perf::script::run(&mut s, None).unwrap();
    same("perf script", &ours, &perf_out(&["script"], file));
    let mut s = session();
    let opts = ReportOptions::default();
    let ours = report::build(&mut s, &opts).unwrap().to_stdio(&opts);
    let theirs = strip_tip(&perf_out(
        &[
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "comm,dso,sym",
        ],
        file,
    ));
    same("perf report --no-children", &strip_tip(&ours), &theirs);
}

/// A dash loop: user time in dash, no vDSO calls (whose symbols perf reads
/// from its own process and tracekit does not).
fn workload(iterations: u32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("i=0; while [ $i -lt {iterations} ]; do i=$((i+1)); done"),
    ]
}

/// The error opening `bytes` or, if it opens, the first record error.
fn first_error(bytes: Vec<u8>) -> Error {
    match PerfData::parse(bytes) {
        Err(e) => e,
        Ok(pd) => pd
            .records()
            .find_map(|r| r.err())
            .expect("an error while reading the records"),
    }
}

#[test]
fn compressed_records_read_like_perf() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("z.data");
    // Small ring buffers wrap often: perf compresses the two halves of a
    // wrapped buffer separately, so records straddle compressed records.
    let mut args: Vec<String> = [
        "-z",
        "-m",
        "4",
        "-o",
        z.to_str().unwrap(),
        "-g",
        "-F",
        "10000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["-e".into(), "cpu-clock".into(), "--".into()]);
    args.extend(workload(300_000));
    perf_record(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>(), None);
    let pd = PerfData::open(&z).unwrap();
    let c = pd.compression().expect("HEADER_COMPRESSED");
    assert_eq!((c.type_, c.level), (1, 1), "{c:?}");
    let mut samples = 0;
    for r in pd.records() {
        let r = r.unwrap();
        assert_ne!(
            r.type_,
            rtype::COMPRESSED,
            "compressed records are decoded in line"
        );
        samples += usize::from(r.type_ == rtype::SAMPLE);
    }
    let st = pd.stats();
    assert!(st.compressed_records > 3, "{st:?}");
    assert!(
        st.straddling_records > 0,
        "no record straddled two compressed records: {st:?}"
    );
    assert!(samples > 200, "{samples} samples");
    compare_with_perf(&z, || Session::open(&z).unwrap());
}

#[test]
fn pipe_mode_file_and_fifo_read_like_perf() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.data");
    let mut args: Vec<String> = ["-o", "-", "-g", "-F", "999", "-e", "cpu-clock", "--"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(workload(100_000));
    perf_record(
        &args.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        Some(&p),
    );
    let pd = PerfData::open(&p).unwrap();
    assert!(pd.is_pipe());
    assert_eq!(pd.attrs.len(), 1);
    assert_eq!(pd.attrs[0].name, "cpu-clock");
    compare_with_perf(&p, || Session::open(&p).unwrap());
    // perf's defaults in pipe mode: no Children column (perf sets the report
    // up before the attrs arrive), call graphs caller-first.
    let opts = ReportOptions {
        children: true,
        caller: true,
        ..Default::default()
    };
    let ours = report::build(&mut Session::open(&p).unwrap(), &opts)
        .unwrap()
        .to_stdio(&opts);
    same(
        "perf report (defaults, pipe)",
        &strip_tip(&ours),
        &strip_tip(&perf_out(&["report", "--stdio"], &p)),
    );
    // The same bytes through a FIFO: read as a stream, record by record.
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let feed = |fifo: PathBuf, p: PathBuf| {
        std::thread::spawn(move || {
            let bytes = std::fs::read(p).unwrap();
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            // The reader may stop early on error; a broken pipe is fine then.
            let _ = f.write_all(&bytes);
        })
    };
    let t = feed(fifo.clone(), p.clone());
    let mut s = Session::open(&fifo).unwrap();
    assert!(s.data.is_pipe());
    let ours = perf::script::run(&mut s, None).unwrap();
    t.join().unwrap();
    same("perf script via FIFO", &ours, &perf_out(&["script"], &p));
}

#[test]
fn pipe_mode_straight_from_perf_record() {
    // perf record's stdout, read while perf is still writing.
    let mut child = Command::new(perf_bin())
        .args(["record", "-o", "-", "-e", "cpu-clock", "-F", "999", "--"])
        .args(workload(100_000))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let pd = PerfData::from_reader(out).unwrap();
    let mut samples = 0;
    for r in pd.records() {
        samples += usize::from(r.unwrap().type_ == rtype::SAMPLE);
    }
    assert!(child.wait().unwrap().success());
    assert!(samples > 20, "{samples} samples");
}

/// The `sample_id_all` trailer of a non-sample record for `a`.
fn trailer(a: &Attr, pid: u32, time: u64, id: u64) -> Vec<u8> {
    let mut v = Vec::new();
    let st = a.sample_type;
    if st & sample::TID != 0 {
        v.extend_from_slice(&pid.to_le_bytes());
        v.extend_from_slice(&pid.to_le_bytes());
    }
    if st & sample::TIME != 0 {
        v.extend_from_slice(&time.to_le_bytes());
    }
    if st & sample::ID != 0 {
        v.extend_from_slice(&id.to_le_bytes());
    }
    if st & sample::STREAM_ID != 0 {
        v.extend_from_slice(&id.to_le_bytes());
    }
    if st & sample::CPU != 0 {
        v.extend_from_slice(&0u64.to_le_bytes());
    }
    if st & sample::IDENTIFIER != 0 {
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

fn lost_samples_record(a: &Attr, lost: u64, pid: u32, time: u64, id: u64) -> Vec<u8> {
    let t = trailer(a, pid, time, id);
    let mut v = Vec::new();
    v.extend_from_slice(&rtype::LOST_SAMPLES.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&((16 + t.len()) as u16).to_le_bytes());
    v.extend_from_slice(&lost.to_le_bytes());
    v.extend_from_slice(&t);
    v
}

/// The first sample's pid and time (for plausible trailers).
fn first_sample(pd: &PerfData) -> (u32, u64) {
    let a = pd.attrs[0].attr;
    for r in pd.records() {
        let r: RawRecord<'_> = r.unwrap();
        if r.type_ == rtype::SAMPLE {
            let s = perf::data::parse_sample(&a, &r).unwrap();
            return (s.pid as u32, s.time);
        }
    }
    panic!("no samples");
}

fn total_lost_line(report: &str) -> String {
    report
        .lines()
        .find(|l| l.starts_with("# Total Lost Samples:"))
        .unwrap_or_else(|| panic!("no Total Lost Samples line in\n{report}"))
        .to_string()
}

#[test]
fn lost_samples_are_summed_like_perf() {
    let dir = tempfile::tempdir().unwrap();
    // Pipe mode: records can simply be appended.
    let p = dir.path().join("p.data");
    let mut args: Vec<String> = ["-o", "-", "-F", "999", "-e", "cpu-clock", "--"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(workload(100_000));
    perf_record(
        &args.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        Some(&p),
    );
    let pd = PerfData::open(&p).unwrap();
    let (pid, time) = first_sample(&PerfData::open(&p).unwrap());
    let a = pd.attrs[0].attr;
    let ids = pd.attrs[0].ids.clone();
    let mut bytes = std::fs::read(&p).unwrap();
    for (k, lost) in [1234u64, 66, 7].iter().enumerate() {
        let id = ids[k % ids.len()];
        bytes.extend(lost_samples_record(&a, *lost, pid, time + k as u64, id));
    }
    let pl = dir.path().join("pl.data");
    std::fs::write(&pl, &bytes).unwrap();
    let theirs = strip_tip(&perf_out(&["report", "--stdio"], &pl));
    assert_eq!(total_lost_line(&theirs), "# Total Lost Samples: 1307");
    let opts = ReportOptions {
        children: true,
        caller: true,
        ..Default::default()
    };
    let mut s = Session::open(&pl).unwrap();
    let r = report::build(&mut s, &opts).unwrap();
    assert_eq!(r.lost, 1307);
    assert_eq!(r.events[0].lost_samples, 1307);
    assert_eq!(s.data.stats().lost_samples, vec![1307]);
    same(
        "report with lost samples (pipe)",
        &strip_tip(&r.to_stdio(&opts)),
        &theirs,
    );

    // File mode: insert at the end of the data section; the feature table and
    // every feature section move by the inserted size.
    let f = dir.path().join("f.data");
    let mut args: Vec<String> = [
        "-o",
        f.to_str().unwrap(),
        "-F",
        "999",
        "-e",
        "cpu-clock",
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(workload(100_000));
    perf_record(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>(), None);
    let pd = PerfData::open(&f).unwrap();
    let (pid, time) = first_sample(&pd);
    let a = pd.attrs[0].attr;
    let mut ins = Vec::new();
    ins.extend(lost_samples_record(&a, 40, pid, time, 0));
    ins.extend(lost_samples_record(&a, 2, pid, time + 1, 0));
    let b = std::fs::read(&f).unwrap();
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let (doff, dlen) = (u64_at(40) as usize, u64_at(48) as usize);
    let nfeat: u32 = (0..4).map(|k| u64_at(72 + 8 * k).count_ones()).sum();
    let mut out = b[..doff + dlen].to_vec();
    out.extend(&ins);
    out.extend(&b[doff + dlen..]);
    out[48..56].copy_from_slice(&((dlen + ins.len()) as u64).to_le_bytes());
    for k in 0..nfeat as usize {
        let at = doff + dlen + ins.len() + 16 * k;
        let off = u64::from_le_bytes(out[at..at + 8].try_into().unwrap()) + ins.len() as u64;
        out[at..at + 8].copy_from_slice(&off.to_le_bytes());
    }
    let fl = dir.path().join("fl.data");
    std::fs::write(&fl, &out).unwrap();
    let theirs = strip_tip(&perf_out(
        &[
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "comm,dso,sym",
        ],
        &fl,
    ));
    assert_eq!(total_lost_line(&theirs), "# Total Lost Samples: 42");
    let opts = ReportOptions::default();
    let r = report::build(&mut Session::open(&fl).unwrap(), &opts).unwrap();
    assert_eq!(r.lost, 42);
    same(
        "report with lost samples (file)",
        &strip_tip(&r.to_stdio(&opts)),
        &theirs,
    );
    // The header still reads (feature sections moved correctly).
    let h = perf::header::header_only(&PerfData::open(&fl).unwrap());
    assert!(h.contains("# event : name = cpu-clock, "), "{h}");
}

// ---- hostile input: no perf needed ----

fn bad_offset(e: &Error) -> u64 {
    match e {
        Error::BadData { offset, .. } => *offset,
        other => panic!("expected BadData, got {other:?}"),
    }
}

#[test]
fn devices_and_garbage_are_refused_without_reading_them_whole() {
    // /dev/zero never ends: read as a stream, refused at the magic.
    let e = PerfData::open(Path::new("/dev/zero")).unwrap_err();
    assert_eq!(bad_offset(&e), 0, "{e}");
    assert!(e.to_string().contains("PERFILE2"), "{e}");
    let e = PerfData::parse(b"hello, this is no perf.data at all".to_vec()).unwrap_err();
    assert_eq!(bad_offset(&e), 0);
    let e = PerfData::parse(b"PERFILE2".to_vec()).unwrap_err();
    assert!(e.to_string().contains("truncated header"), "{e}");
    // A file-mode header on a pipe: perf refuses it too.
    let mut img = b"PERFILE2".to_vec();
    img.extend(104u64.to_le_bytes());
    img.resize(200, 0);
    let e = PerfData::from_reader(std::io::Cursor::new(img)).unwrap_err();
    assert!(e.to_string().contains("regular file"), "{e}");
    // File-mode sections that lie about their size fail before any allocation.
    let mut img = b"PERFILE2".to_vec();
    img.extend(104u64.to_le_bytes());
    img.extend(144u64.to_le_bytes());
    img.extend(104u64.to_le_bytes()); // attrs offset
    img.extend((u64::MAX / 2).to_le_bytes()); // attrs size
    img.resize(104, 0);
    let e = PerfData::parse(img).unwrap_err();
    assert!(e.to_string().contains("beyond end of file"), "{e}");
}

/// A pipe header and one HEADER_ATTR for a cpu-clock attr with ids 7 and 8.
fn pipe_prefix(sample_type: u64) -> (Vec<u8>, Attr) {
    let mut a = Attr::new(perf::attr::types::SOFTWARE, 0);
    a.sample_type = sample_type;
    a.sample_period = 1;
    let mut v = b"PERFILE2".to_vec();
    v.extend(16u64.to_le_bytes());
    v.extend(rtype::HEADER_ATTR.to_le_bytes());
    v.extend(0u16.to_le_bytes());
    v.extend((8u16 + 128 + 16).to_le_bytes());
    v.extend(a.to_bytes());
    v.extend(7u64.to_le_bytes());
    v.extend(8u64.to_le_bytes());
    (v, a)
}

fn feature_record(id: u64, data: &[u8]) -> Vec<u8> {
    let mut v = rtype::HEADER_FEATURE.to_le_bytes().to_vec();
    v.extend(0u16.to_le_bytes());
    v.extend(((16 + data.len()) as u16).to_le_bytes());
    v.extend(id.to_le_bytes());
    v.extend(data);
    v
}

fn sample_record(ip: u64, tid: u32, time: u64) -> Vec<u8> {
    let mut v = rtype::SAMPLE.to_le_bytes().to_vec();
    v.extend(2u16.to_le_bytes());
    v.extend(32u16.to_le_bytes());
    v.extend(ip.to_le_bytes());
    v.extend(tid.to_le_bytes());
    v.extend(tid.to_le_bytes());
    v.extend(time.to_le_bytes());
    v
}

fn compressed_record(chunk: &[u8]) -> Vec<u8> {
    let mut v = rtype::COMPRESSED.to_le_bytes().to_vec();
    v.extend(0u16.to_le_bytes());
    v.extend(((8 + chunk.len()) as u16).to_le_bytes());
    v.extend(chunk);
    v
}

fn compression_feature(mmap_len: u32) -> Vec<u8> {
    [0u32, 1, 1, 3, mmap_len]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect()
}

#[test]
fn compressed_payload_split_at_odd_points_decodes_every_record() {
    let (mut v, a) = pipe_prefix(sample::IP | sample::TID | sample::TIME);
    v.extend(feature_record(27, &compression_feature(1 << 16)));
    let mut plain = Vec::new();
    for k in 0..2000u64 {
        plain.extend(sample_record(0x1000 + k, 42, 1000 + k));
    }
    // One zstd stream over the records, flushed after input pieces of
    // 1..=997 bytes (as perf compresses the two halves of a wrapped ring
    // buffer): record boundaries fall anywhere in the compressed records.
    let mut enc = zstd::stream::raw::Encoder::new(1).unwrap();
    let mut o = 0;
    let mut k = 0;
    while o < plain.len() {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        let n = (1 + (k * 331) % 997).min(plain.len() - o);
        let mut out = vec![0u8; 4096];
        let mut input = InBuffer::around(&plain[o..o + n]);
        let mut w = OutBuffer::around(&mut out[..]);
        enc.run(&mut input, &mut w).unwrap();
        assert_eq!(input.pos(), n);
        assert_eq!(enc.flush(&mut w).unwrap(), 0);
        let len = w.pos();
        v.extend(compressed_record(&out[..len]));
        o += n;
        k += 1;
    }
    let pd = PerfData::parse(v).unwrap();
    let mut got = Vec::new();
    for r in pd.records() {
        let r = r.unwrap();
        let s = perf::data::parse_sample(&a, &r).unwrap();
        got.push((s.ip, s.time));
    }
    let want: Vec<(u64, u64)> = (0..2000u64).map(|k| (0x1000 + k, 1000 + k)).collect();
    assert_eq!(got, want);
    let st = pd.stats();
    assert_eq!(st.decompressed_bytes, plain.len() as u64);
    assert!(st.straddling_records > 10, "{st:?}");
}

#[test]
fn compressed_records_that_lie_are_errors_with_their_offset() {
    // Decompresses to more than mmap_len (a zstd bomb of zeros).
    let (mut v, _) = pipe_prefix(sample::IP);
    v.extend(feature_record(27, &compression_feature(4096)));
    let at = v.len() as u64;
    let z = zstd::stream::encode_all(&vec![0u8; 1 << 20][..], 19).unwrap();
    assert!(z.len() < 60000);
    v.extend(compressed_record(&z));
    let pd = PerfData::parse(v).unwrap();
    let e = pd.records().find_map(|r| r.err()).expect("an error");
    assert_eq!(bad_offset(&e), at, "{e}");
    assert!(e.to_string().contains("mmap_len"), "{e}");
    // Not zstd at all.
    let (mut v, _) = pipe_prefix(sample::IP);
    v.extend(feature_record(27, &compression_feature(4096)));
    let at = v.len() as u64;
    v.extend(compressed_record(b"definitely not a zstd frame"));
    let e = PerfData::parse(v)
        .unwrap()
        .records()
        .find_map(|r| r.err())
        .unwrap();
    assert_eq!(bad_offset(&e), at, "{e}");
    // No HEADER_COMPRESSED: nothing bounds the output.
    let (mut v, _) = pipe_prefix(sample::IP);
    let at = v.len() as u64;
    v.extend(compressed_record(&z));
    let e = PerfData::parse(v)
        .unwrap()
        .records()
        .find_map(|r| r.err())
        .unwrap();
    assert_eq!(bad_offset(&e), at, "{e}");
}

#[test]
fn streams_that_end_or_lie_are_errors_with_their_offset() {
    let (v, _) = pipe_prefix(sample::IP | sample::TID | sample::TIME);
    let base = v.len() as u64;
    // Cut inside a record.
    let mut cut = v.clone();
    cut.extend(&sample_record(1, 2, 3)[..20]);
    let e = first_error(cut);
    assert_eq!(bad_offset(&e), base, "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
    // Tracing data announcing 4 GiB that never comes: refused without allocating it.
    let mut td = v.clone();
    td.extend(rtype::HEADER_TRACING_DATA.to_le_bytes());
    td.extend(0u16.to_le_bytes());
    td.extend(12u16.to_le_bytes());
    td.extend(u32::MAX.to_le_bytes());
    let e = first_error(td);
    assert_eq!(bad_offset(&e), base, "{e}");
    // ... and 100 KB announced, 10 bytes sent.
    let mut td = v.clone();
    td.extend(rtype::HEADER_TRACING_DATA.to_le_bytes());
    td.extend(0u16.to_le_bytes());
    td.extend(12u16.to_le_bytes());
    td.extend(100_000u32.to_le_bytes());
    td.extend([0u8; 10]);
    let e = first_error(td);
    assert!(e.to_string().contains("tracing data truncated"), "{e}");
}

#[test]
fn endless_fifo_of_zeros_stops_at_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("zeros");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let w = fifo.clone();
    let t = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(w).unwrap();
        let (head, _) = pipe_prefix(sample::IP);
        let _ = f.write_all(&head);
        let zeros = vec![0u8; 1 << 16];
        // Endless until the reader goes away.
        while f.write_all(&zeros).is_ok() {}
    });
    let pd = PerfData::open(&fifo).unwrap();
    let e = pd.records().find_map(|r| r.err()).unwrap();
    assert!(e.to_string().contains("bad size 0"), "{e}");
    drop(pd);
    t.join().unwrap();
}

fn record(type_: u32, misc: u16, body: &[u8]) -> Vec<u8> {
    let mut v = type_.to_le_bytes().to_vec();
    v.extend(misc.to_le_bytes());
    v.extend(((8 + body.len()) as u16).to_le_bytes());
    v.extend(body);
    v
}

#[test]
fn values_at_the_edge_of_u64_replay_without_overflow() {
    // Periods, lost counts and map offsets are file data: sums wrap as in
    // perf's C instead of panicking.
    let (mut v, _) = pipe_prefix(sample::IP | sample::TID | sample::TIME | sample::PERIOD);
    let mmap = |start: u64, len: u64, pgoff: u64| {
        let mut b = 42u32.to_le_bytes().to_vec();
        b.extend(42u32.to_le_bytes());
        b.extend(start.to_le_bytes());
        b.extend(len.to_le_bytes());
        b.extend(pgoff.to_le_bytes());
        b.extend(b"/nonexistent/x\0\0");
        record(rtype::MMAP, 2, &b)
    };
    v.extend(mmap(0x1000, 0x10000, u64::MAX - 10));
    v.extend(mmap(0x2000, 0x1000, 0));
    for k in 0..3u64 {
        let mut b = (0x1800 + k).to_le_bytes().to_vec();
        b.extend(42u32.to_le_bytes());
        b.extend(42u32.to_le_bytes());
        b.extend((100 + k).to_le_bytes());
        b.extend((u64::MAX - k).to_le_bytes());
        v.extend(record(rtype::SAMPLE, 2, &b));
        let mut l = 0u64.to_le_bytes().to_vec();
        l.extend(u64::MAX.to_le_bytes());
        v.extend(record(rtype::LOST, 0, &l));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("edge.data");
    std::fs::write(&p, &v).unwrap();
    let none = dir.path().join("none");
    let paths = symbols::locate::SymbolPaths {
        symfs: Some(none.clone()),
        debug_root: none.clone(),
        proc_kallsyms: none,
        ..Default::default()
    };
    let mut s = Session::open_with(&p, paths.clone()).unwrap();
    let opts = ReportOptions {
        children: true,
        ..Default::default()
    };
    let r = report::build(&mut s, &opts).unwrap();
    assert_eq!(r.events[0].samples, 3);
    let _ = r.to_stdio(&opts);
    let mut s = Session::open_with(&p, paths).unwrap();
    let text = perf::script::run(&mut s, None).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
}
