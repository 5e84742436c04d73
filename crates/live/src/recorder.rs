//! [`Recorder`]: one thread per CPU moving whole ring-buffer sub-buffers
//! from `per_cpu/cpuN/trace_pipe_raw` into a file with `splice(2)` (zero
//! copy: trace_pipe_raw → pipe → file), woken by `poll(2)` (which honours
//! `buffer_percent`), and a final non-blocking `read(2)` drain of partial
//! sub-buffers once tracing has stopped, so nothing recorded is left behind.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::pipe::SpliceFlags;
use tracefs::raw::{self, CpuReader};
use tracefs::Instance;

use crate::error::{Error, Result};

/// How readers wait for data.
#[derive(Debug, Clone, Copy)]
pub struct RecorderOptions {
    /// Never block in poll; sleep `sleep` between empty passes (`--poll`).
    pub busy_poll: bool,
    /// Sleep between passes that found nothing (`-s`, µs).
    pub sleep: Duration,
    /// Pipe size for splice.
    pub pipe_size: usize,
    /// `-m`: keep at most about this many bytes per CPU (the newest), by
    /// alternating between two files of half that size.
    pub max_bytes: Option<u64>,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            busy_poll: false,
            sleep: Duration::from_micros(1000),
            pipe_size: 1 << 20,
            max_bytes: None,
        }
    }
}

/// Result of one CPU's recording.
#[derive(Debug, Clone)]
pub struct CpuRecording {
    /// CPU.
    pub cpu: u32,
    /// File holding whole sub-buffers.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// Where in `path` the data starts when it was recorded in place (see
    /// [`InPlace`]); `None` for a file of its own.
    pub offset: Option<u64>,
}

/// Record the first CPU straight into the final file at `offset`, so the
/// writer does not copy that CPU's data (the others still go to files of
/// their own: a CPU's data must be contiguous and sizes are known only at
/// the end).
#[derive(Debug, Clone)]
pub struct InPlace {
    /// The output file (already created; not truncated).
    pub path: PathBuf,
    /// Page-aligned offset of the data.
    pub offset: u64,
}

/// A running recording of one trace array.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    bytes: Vec<Arc<AtomicU64>>,
    threads: Vec<CpuThread>,
}

/// One CPU's reader thread and where it writes.
struct CpuThread {
    cpu: u32,
    path: PathBuf,
    offset: Option<u64>,
    handle: JoinHandle<Result<u64>>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn rerr(path: &Path, e: rustix::io::Errno) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::from(e),
    }
}

impl Recorder {
    /// Starts one reader thread per CPU of `inst`, writing
    /// `DIR/PREFIX.cpuN` files.
    pub fn start(
        inst: &Instance,
        dir: &Path,
        prefix: &str,
        opts: RecorderOptions,
    ) -> Result<Recorder> {
        Self::start_in_place(inst, dir, prefix, opts, None)
    }

    /// Like [`Recorder::start`], with the first CPU recorded into
    /// `in_place` (ignored with `-m`, whose two halves need files of their own).
    pub fn start_in_place(
        inst: &Instance,
        dir: &Path,
        prefix: &str,
        opts: RecorderOptions,
        in_place: Option<InPlace>,
    ) -> Result<Recorder> {
        let mut in_place = in_place.filter(|_| opts.max_bytes.is_none());
        let stop = Arc::new(AtomicBool::new(false));
        let cpus = raw::cpus(inst)?;
        let mut threads = Vec::new();
        let mut bytes = Vec::new();
        for cpu in cpus {
            let reader = CpuReader::open(inst, cpu, true)?;
            let (path, file, offset) = match in_place.take() {
                Some(ip) => {
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&ip.path)
                        .map_err(io(&ip.path))?;
                    f.seek(SeekFrom::Start(ip.offset)).map_err(io(&ip.path))?;
                    (ip.path, f, Some(ip.offset))
                }
                None => {
                    let path = dir.join(format!("{prefix}.cpu{cpu}"));
                    let file = File::create(&path).map_err(io(&path))?;
                    (path, file, None)
                }
            };
            let counter = Arc::new(AtomicU64::new(0));
            bytes.push(counter.clone());
            let st = stop.clone();
            let p2 = path.clone();
            let h = std::thread::Builder::new()
                .name(format!("tk-rec-cpu{cpu}"))
                .spawn(move || record_cpu(reader, file, &p2, &st, &counter, opts))
                .map_err(io(&path))?;
            threads.push(CpuThread {
                cpu,
                path,
                offset,
                handle: h,
            });
        }
        Ok(Recorder {
            stop,
            bytes,
            threads,
        })
    }

    /// Bytes written so far, all CPUs.
    pub fn bytes_written(&self) -> u64 {
        self.bytes.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Stops the readers (call after `tracing_on` is 0) and waits for their
    /// final drain.
    pub fn stop(mut self) -> Result<Vec<CpuRecording>> {
        self.stop.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        for CpuThread {
            cpu,
            path,
            offset,
            handle,
        } in std::mem::take(&mut self.threads)
        {
            let bytes = handle
                .join()
                .map_err(|_| Error::Usage(format!("recorder thread for CPU {cpu} panicked")))??;
            out.push(CpuRecording {
                cpu,
                path,
                bytes,
                offset,
            });
        }
        out.sort_by_key(|c| c.cpu);
        Ok(out)
    }
}

impl Drop for Recorder {
    /// A recorder dropped without [`Recorder::stop`] (an error came first)
    /// still ends its threads, so the trace array's files are closed and
    /// its instance can be removed.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.handle.join();
        }
    }
}

/// Two files used alternately for `-m`: the current one is written until
/// it holds half the limit, then the other one is emptied and written.
struct Rotation {
    half: u64,
    in_current: u64,
    other: File,
    current_path: PathBuf,
    other_path: PathBuf,
}

/// Splices whole sub-buffers into `file` until none is left or `limit`
/// bytes were moved.
fn pump(
    reader: &CpuReader,
    pr: &OwnedFd,
    pw: &OwnedFd,
    chunk: usize,
    file: &File,
    path: &Path,
    limit: u64,
) -> Result<u64> {
    let mut moved = 0u64;
    let subbuf = reader.subbuf_size() as u64;
    while moved < limit {
        let want = (limit - moved).min(chunk as u64).max(subbuf) as usize;
        let n = reader.splice_to(pw, want)?;
        if n == 0 {
            break;
        }
        let mut left = n;
        while left > 0 {
            match rustix::pipe::splice(pr, None, file.as_fd(), None, left, SpliceFlags::MOVE) {
                Ok(0) => return Err(rerr(path, rustix::io::Errno::IO)),
                Ok(m) => left -= m,
                Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => continue,
                Err(e) => return Err(rerr(path, e)),
            }
        }
        moved += n as u64;
    }
    Ok(moved)
}

/// Records one CPU into `path` (with `max_bytes`: alternating `PATH.a` and
/// `PATH.b`, joined into `PATH` at the end, older first).
fn record_cpu(
    mut reader: CpuReader,
    file: File,
    path: &Path,
    stop: &AtomicBool,
    counter: &AtomicU64,
    opts: RecorderOptions,
) -> Result<u64> {
    let (pr, pw) = rustix::pipe::pipe().map_err(|e| rerr(path, e))?;
    let pipe_size = rustix::pipe::fcntl_setpipe_size(&pw, opts.pipe_size).unwrap_or(65536);
    let subbuf = reader.subbuf_size();
    let chunk = (pipe_size / subbuf).max(1) * subbuf;
    let (mut file, mut rot) = match opts.max_bytes {
        None => (file, None),
        Some(max) => {
            drop(file);
            let with = |sfx: &str| {
                let mut p = path.as_os_str().to_owned();
                p.push(sfx);
                PathBuf::from(p)
            };
            let (pa, pb) = (with(".a"), with(".b"));
            let fa = File::create(&pa).map_err(io(&pa))?;
            let fb = File::create(&pb).map_err(io(&pb))?;
            let half = (max / 2).max(subbuf as u64);
            (
                fa,
                Some(Rotation {
                    half,
                    in_current: 0,
                    other: fb,
                    current_path: pa,
                    other_path: pb,
                }),
            )
        }
    };
    let mut total = 0u64;
    let timeout = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    let rotate = |file: &mut File, rot: &mut Option<Rotation>, moved: u64| -> Result<()> {
        if let Some(r) = rot.as_mut() {
            r.in_current += moved;
            if r.in_current >= r.half {
                std::mem::swap(file, &mut r.other);
                std::mem::swap(&mut r.current_path, &mut r.other_path);
                file.set_len(0).map_err(io(&r.current_path))?;
                file.seek(SeekFrom::Start(0)).map_err(io(&r.current_path))?;
                r.in_current = 0;
            }
        }
        Ok(())
    };
    while !stop.load(Ordering::SeqCst) {
        if !opts.busy_poll {
            let mut fds = [PollFd::new(reader.file(), PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(rerr(path, e)),
            }
        }
        let limit = rot
            .as_ref()
            .map(|r| r.half.saturating_sub(r.in_current))
            .unwrap_or(u64::MAX);
        let moved = pump(&reader, &pr, &pw, chunk, &file, path, limit)?;
        total += moved;
        counter.store(total, Ordering::Relaxed);
        rotate(&mut file, &mut rot, moved)?;
        if moved == 0 && opts.busy_poll {
            std::thread::sleep(opts.sleep);
        }
    }
    // Final drain: whole sub-buffers by splice, then partial ones by read;
    // at most what the ring holds (if the trace array still traces, the
    // drain's own syscalls may keep adding events).
    let mut budget = ((reader.ring_subbufs() + 2) * subbuf) as u64;
    loop {
        let limit = rot
            .as_ref()
            .map(|r| r.half.saturating_sub(r.in_current))
            .unwrap_or(u64::MAX)
            .min(budget);
        let moved = pump(&reader, &pr, &pw, chunk, &file, path, limit)?;
        total += moved;
        budget = budget.saturating_sub(moved);
        rotate(&mut file, &mut rot, moved)?;
        if moved == 0 || rot.is_none() || budget == 0 {
            break;
        }
    }
    let mut rest = Vec::new();
    reader.drain(&mut rest)?;
    file.write_all(&rest).map_err(io(path))?;
    total += rest.len() as u64;
    file.flush().map_err(io(path))?;
    if let Some(r) = rot {
        // Join older (the other file) and newer (the current one).
        drop(file);
        let mut out = File::create(path).map_err(io(path))?;
        total = 0;
        for p in [&r.other_path, &r.current_path] {
            if let Ok(mut f) = File::open(p) {
                total += std::io::copy(&mut f, &mut out).map_err(io(path))?;
            }
            let _ = std::fs::remove_file(p);
        }
    }
    counter.store(total, Ordering::Relaxed);
    Ok(total)
}
