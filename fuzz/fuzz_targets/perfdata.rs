//! Fuzzes the perf.data reader end to end. The input is read
//! - as a whole file image (file mode, or pipe mode when its header says so),
//! - as a pipe-mode stream (a pipe header, then the bytes as records),
//!
//! and each time: `--header-only` text, every record (compressed payloads
//! decoded in line) decoded as a sample or side-band record for its attr,
//! the features (build ids, command line, event names, tracing data). Then
//! the session replay with `perf report` and `perf script` text, reading the
//! input from a memfd and symbols from nowhere (an empty symfs, no kallsyms):
//! no host file is read for symbols. Errors are fine; panics, hangs and
//! unbounded allocations are not.
#![no_main]

use std::io::Cursor;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use perf::data::{parse_other, parse_sample, rtype, Feature, PerfData, TracingData};
use perf::report::{self, ReportOptions};
use perf::session::Session;
use symbols::locate::SymbolPaths;

/// Records walked per reading at most; inputs with more skip the replay
/// (the session keeps every record in memory to sort them).
const MAX_RECORDS: usize = 100_000;

const PIPE_HEADER: &[u8; 16] = b"PERFILE2\x10\0\0\0\0\0\0\0";

/// Walks everything; returns whether all records were read within the cap.
fn walk(pd: &PerfData) -> bool {
    let _ = perf::header::header_only(pd);
    let _ = pd.build_ids();
    let _ = pd.cmdline();
    let _ = pd.event_desc();
    let _ = pd.nr_cpus();
    let _ = pd.compression();
    if let Some(t) = pd.feature(Feature::TracingData) {
        if let Ok(td) = TracingData::parse(t) {
            let _ = td.registry();
        }
    }
    let mut n = 0;
    for r in pd.records() {
        let Ok(r) = r else { return true };
        n += 1;
        if n > MAX_RECORDS {
            return false;
        }
        let Some(a) = pd.attr_index(&r).and_then(|i| pd.attrs.get(i)) else {
            continue;
        };
        if r.type_ == rtype::SAMPLE {
            let _ = parse_sample(&a.attr, &r);
        } else {
            let _ = parse_other(&a.attr, &r);
        }
    }
    let _ = pd.stats();
    true
}

/// A memfd holding the current input, and its path.
fn memfd() -> &'static (RawFd, PathBuf) {
    static FD: OnceLock<(RawFd, PathBuf)> = OnceLock::new();
    FD.get_or_init(|| {
        // SAFETY: a valid NUL-terminated name.
        let fd = unsafe { libc::memfd_create(c"perfdata-fuzz".as_ptr(), 0) };
        assert!(fd >= 0, "memfd_create failed");
        (fd, PathBuf::from(format!("/proc/self/fd/{fd}")))
    })
}

fn put(data: &[u8]) -> bool {
    let (fd, _) = memfd();
    // SAFETY: fd is our memfd; the buffer is valid for its length.
    unsafe {
        if libc::ftruncate(*fd, 0) != 0 {
            return false;
        }
        let mut off = 0usize;
        while off < data.len() {
            let n = libc::pwrite(
                *fd,
                data[off..].as_ptr().cast(),
                data.len() - off,
                off as libc::off_t,
            );
            if n <= 0 {
                return false;
            }
            off += n as usize;
        }
    }
    true
}

/// Symbol sources that exist nowhere: nothing on the host is read.
fn no_symbols() -> SymbolPaths {
    let none = PathBuf::from("/nonexistent-tracekit-fuzz");
    SymbolPaths {
        symfs: Some(none.clone()),
        buildid_dir: None,
        kallsyms: None,
        vmlinux: None,
        debug_root: none.clone(),
        host_kernel_build_id: None,
        proc_kallsyms: none,
    }
}

fn replay(data: &[u8]) {
    if !put(data) {
        return;
    }
    let path = &memfd().1;
    let sel = data.last().copied().unwrap_or(0);
    let opts = ReportOptions {
        children: sel & 1 != 0,
        caller: sel & 2 != 0,
        ..Default::default()
    };
    if let Ok(mut s) = Session::open_with(path, no_symbols()) {
        if let Ok(r) = report::build(&mut s, &opts) {
            let _ = r.to_stdio(&opts);
        }
    }
    if let Ok(mut s) = Session::open_with(path, no_symbols()) {
        let _ = perf::script::run(&mut s, None);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut replay_ok = false;
    if let Ok(pd) = PerfData::parse(data.to_vec()) {
        replay_ok = walk(&pd);
    }
    // The bytes as the records of a pipe-mode stream.
    let body = data.strip_prefix(&PIPE_HEADER[..]).unwrap_or(data);
    let mut pipe = PIPE_HEADER.to_vec();
    pipe.extend_from_slice(body);
    if let Ok(pd) = PerfData::from_reader(Cursor::new(pipe)) {
        walk(&pd);
    }
    if replay_ok {
        replay(data);
    }
});
