//! Live and detached tracing: [`stream`] decodes and prints events while
//! they happen (the kernel's `trace` layout, trace-cmd's, or JSON lines);
//! [`start`] leaves a configured instance tracing; [`extract`] writes a
//! running or stopped instance's buffer to a trace.dat. All reuse the
//! record session's configuration, command launch and metadata collection.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use traceevent::{
    ClockKind, Cmdlines, Context, Endian, EventRegistry, HeaderPage, Kallsyms, KernelTextOptions,
    KernelTextRenderer, Missed, PrintkFormats, Record, Renderer, StructuredRecord, SubBuffer,
};
use tracefs::raw::{self, CpuReader};
use tracefs::{CpuStats, Instance, Tracefs};

use crate::error::{Error, Result};
use crate::recorder::{Recorder, RecorderOptions};
use crate::session::{
    arm_pid_filters, collect_metadata, configure, usage, HeldChild, RecordConfig,
};
use tracecmd::render::{TepOptions, TepRenderer, TepTables};
use tracecmd::stream::Event;
use tracecmd::writer::{BufferInput, CpuWritten, Metadata, TraceDatWriter, WriterOptions};

/// Output layout of `stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// The kernel's `trace_pipe` text.
    Kernel,
    /// trace-cmd's `report` text.
    TraceCmd,
    /// One JSON object per line.
    Json,
}

/// How `stream` and `pipe` read and print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Output layout.
    pub format: StreamFormat,
    /// Run each CPU's reader on that CPU (default): it then shares the CPU
    /// with the traced task instead of falling behind on another one, and
    /// reads pages that are still in that CPU's cache. Off, the scheduler
    /// places the readers (better when a CPU is monopolised by a real-time
    /// task that would starve its reader).
    pub pin_readers: bool,
}

impl StreamOptions {
    /// Pinned readers printing `format`.
    pub fn new(format: StreamFormat) -> StreamOptions {
        StreamOptions {
            format,
            pin_readers: true,
        }
    }
}

/// What a stream saw.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    /// Events printed.
    pub events: u64,
    /// Lost events per CPU (from missed-events flags and the final stats).
    pub lost: Vec<(u32, u64)>,
    /// Final ring-buffer stats.
    pub stats: Vec<CpuStats>,
    /// The command's exit status.
    pub command_status: Option<std::process::ExitStatus>,
    /// Output closed early (e.g. `| head`).
    pub output_closed: bool,
    /// Records that could not be decoded.
    pub decode_errors: u64,
}

/// Tables the per-CPU decoding workers share: formats, symbols, printk
/// strings, and the pid → comm cache (re-read from `saved_cmdlines` as new
/// pids show up, since the kernel names tasks at print time too).
struct Tables {
    registry: EventRegistry,
    header: HeaderPage,
    kallsyms: Kallsyms,
    printk: PrintkFormats,
    endian: Endian,
    format: StreamFormat,
    kernel: KernelTextOptions,
    /// trace-cmd's renderer: its options and the texts it is built from.
    tep: Option<TepSource>,
    cmdlines: Mutex<(Arc<Cmdlines>, Instant)>,
    /// Bumped on every re-read, so readers notice without locking.
    cmdlines_gen: AtomicU64,
    /// The comm cache as it was when the stream began.
    initial: Arc<Cmdlines>,
    /// This process's start time (clock ticks after boot, `/proc/PID/stat`).
    started: Option<u64>,
    tfs: Tracefs,
}

/// How often the printing thread re-reads the comm cache even when every
/// pid is known (a reused pid keeps its old name until then).
const CMDLINE_REFRESH: Duration = Duration::from_millis(100);

/// trace-cmd's renderer's options and the raw kallsyms, printk and
/// saved_cmdlines texts each reader builds it from.
#[derive(Debug)]
struct TepSource {
    opts: TepOptions,
    kallsyms: Vec<u8>,
    printk: Vec<u8>,
    cmdlines: Vec<u8>,
}

impl Tables {
    /// Builds the tables from the metadata of the trace array `inst`.
    fn new(
        tfs: &Tracefs,
        inst: &Instance,
        meta: &Metadata,
        format: StreamFormat,
    ) -> Result<Tables> {
        let long = traceevent::LongSize::from_bytes(usize::from(meta.long_size))
            .unwrap_or(traceevent::LongSize::Eight);
        let endian = Endian::native();
        let mut registry = EventRegistry::new(long, endian);
        let hp_text = String::from_utf8_lossy(&meta.header_page).into_owned();
        let header = HeaderPage::parse(&hp_text).map_err(|source| tracecmd::Error::Event {
            context: "events/header_page".into(),
            source,
        })?;
        registry.set_header_page(header);
        for f in &meta.ftrace_formats {
            let _ = registry.add_format("ftrace", &String::from_utf8_lossy(f));
        }
        for (sys, fmts) in &meta.systems {
            for f in fmts {
                let _ = registry.add_format(sys, &String::from_utf8_lossy(f));
            }
        }
        let clock = inst
            .trace_clock()
            .map(|(c, _)| c)
            .unwrap_or_else(|_| "local".into());
        let kernel = KernelTextOptions {
            clock: ClockKind::from_name(&clock),
            ..KernelTextOptions::default()
        };
        // trace-cmd's renderer, built from the same tables (no file).
        let tep = (format == StreamFormat::TraceCmd).then(|| {
            let in_usecs = !matches!(clock.as_str(), "x86-tsc" | "counter" | "boot");
            TepSource {
                opts: TepOptions {
                    in_usecs,
                    ..TepOptions::default()
                },
                kallsyms: meta.kallsyms.clone(),
                printk: meta.printk.clone(),
                cmdlines: meta.cmdlines.clone(),
            }
        });
        let cmdlines =
            Cmdlines::parse(&String::from_utf8_lossy(&meta.cmdlines)).unwrap_or_default();
        Ok(Tables {
            registry,
            header,
            kallsyms: Kallsyms::parse(&String::from_utf8_lossy(&meta.kallsyms)).unwrap_or_default(),
            printk: PrintkFormats::parse(&String::from_utf8_lossy(&meta.printk))
                .unwrap_or_default(),
            endian,
            format,
            kernel,
            tep,
            initial: Arc::new(cmdlines.clone()),
            cmdlines: Mutex::new((Arc::new(cmdlines), Instant::now())),
            cmdlines_gen: AtomicU64::new(0),
            started: tracefs::journal::process_start_time(std::process::id()),
            tfs: tfs.clone(),
        })
    }

    /// The current comm cache, when it was read, and its generation.
    fn cmdlines(&self) -> (Arc<Cmdlines>, Instant, u64) {
        let g = self
            .cmdlines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (g.0.clone(), g.1, self.cmdlines_gen.load(Ordering::Acquire))
    }

    /// Whether task `pid` started after this process: then a comm cache
    /// entry that has not changed since the stream began belonged to an
    /// earlier task with the same pid (the kernel saves a task's comm only
    /// at its next context switch).
    fn newer_than_us(&self, pid: i32) -> bool {
        let it = u32::try_from(pid)
            .ok()
            .and_then(tracefs::journal::process_start_time);
        match (self.started, it) {
            (Some(us), Some(it)) => it > us,
            _ => false,
        }
    }

    /// Re-reads `saved_cmdlines` unless the cache was read after `since`
    /// (another reader got there first). The file is read outside the lock.
    fn reload_cmdlines(&self, since: Instant) {
        let stale = |g: &(Arc<Cmdlines>, Instant)| g.1 < since;
        if !stale(
            &self
                .cmdlines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ) {
            return;
        }
        let now = Instant::now();
        let parsed = self
            .tfs
            .read_rel("saved_cmdlines")
            .ok()
            .and_then(|t| Cmdlines::parse(&t).ok());
        let mut g = self
            .cmdlines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stale(&g) {
            if let Some(c) = parsed {
                g.0 = Arc::new(c);
            }
            g.1 = now;
            self.cmdlines_gen.fetch_add(1, Ordering::Release);
        }
    }
}

/// `/proc/PID/comm` without its newline.
fn proc_comm(pid: i32) -> Option<String> {
    let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(c.trim_end_matches('\n').to_string())
}

/// Decoded text of a run of one CPU's events, in time order, with each
/// event's timestamp and end offset so the main thread can merge CPUs.
struct Chunk {
    text: Vec<u8>,
    /// (timestamp, end offset in `text`, counts as an event).
    marks: Vec<(u64, u32, bool)>,
    errors: u64,
    lost: u64,
}

/// Text a chunk is sent at (bytes): small enough to stay in the CPU's
/// cache while it is written, and handed back for reuse once printed.
const CHUNK_BYTES: usize = 64 << 10;

/// Chunks the readers may have queued for printing, all CPUs together
/// (32 MiB of text: 10 ms of two CPUs at full speed many times over; a
/// slower output blocks the readers and the kernel reports the losses,
/// instead of tracekit growing without bound).
const CHUNKS_QUEUED: usize = 512;

/// How often queued chunks are merged and printed.
const PRINT_TICK: Duration = Duration::from_millis(10);

/// One CPU's decoder: renders pages into chunks.
struct Worker {
    cpu: u32,
    tables: Arc<Tables>,
    kernel: KernelTextRenderer,
    tep: Option<TepRenderer>,
    cmdlines: Arc<Cmdlines>,
    cmdlines_at: Instant,
    cmdlines_gen: u64,
    /// Pids still unknown after a re-read newer than their page: not worth
    /// another forced re-read until the periodic one.
    unresolved: HashSet<i32>,
    /// Pids this reader has looked up.
    seen: HashSet<i32>,
    /// Comms taken from `/proc` where the cache's entry was a previous
    /// task's; kept until the kernel saves the task's own comm.
    overrides: Vec<(i32, String)>,
    line: String,
    scratch: Vec<u8>,
    /// `cmdlines` changed since trace-cmd's renderer took its comms.
    tep_comms_stale: bool,
}

impl Worker {
    fn new(cpu: u32, tables: Arc<Tables>) -> Worker {
        let tep = tables.tep.as_ref().map(|t| {
            TepRenderer::from_parts(
                &TepTables {
                    registry: &tables.registry,
                    endian: tables.endian,
                    kallsyms: &t.kallsyms,
                    printk: &t.printk,
                    cmdlines: &t.cmdlines,
                },
                t.opts,
            )
        });
        let (cmdlines, cmdlines_at, cmdlines_gen) = tables.cmdlines();
        Worker {
            cpu,
            kernel: KernelTextRenderer::new(tables.kernel.clone()),
            tep,
            tables,
            cmdlines,
            cmdlines_at,
            cmdlines_gen,
            unresolved: HashSet::new(),
            seen: HashSet::new(),
            overrides: Vec::new(),
            line: String::new(),
            scratch: Vec::new(),
            tep_comms_stale: true,
        }
    }

    /// Makes sure the comm cache knows `pid` if the kernel saved its comm
    /// before this page was read: re-read once per page read time; a pid
    /// still unknown after that is not retried until the periodic re-read.
    fn resolve(&mut self, pid: i32, read_at: Instant) {
        if pid <= 0 {
            return;
        }
        if self.cmdlines.comm(pid).is_none() && !self.unresolved.contains(&pid) {
            if self.cmdlines_at < read_at {
                self.tables.reload_cmdlines(read_at);
                self.take_cmdlines();
            }
            if self.cmdlines.comm(pid).is_none() {
                self.unresolved.insert(pid);
            }
        }
        if self.seen.insert(pid) {
            let unchanged = self.cmdlines.comm(pid) == self.tables.initial.comm(pid);
            if unchanged && self.tables.newer_than_us(pid) {
                if let Some(c) = proc_comm(pid) {
                    Arc::make_mut(&mut self.cmdlines).insert(pid, &c);
                    self.overrides.push((pid, c));
                    self.tep_comms_stale = true;
                }
            }
        }
    }

    /// Takes the shared comm cache, with this reader's `/proc` comms for
    /// the tasks the kernel has not saved yet.
    fn take_cmdlines(&mut self) {
        (self.cmdlines, self.cmdlines_at, self.cmdlines_gen) = self.tables.cmdlines();
        self.tep_comms_stale = true;
        let initial = &self.tables.initial;
        let fresh = &self.cmdlines;
        self.overrides
            .retain(|(pid, _)| fresh.comm(*pid) == initial.comm(*pid));
        if !self.overrides.is_empty() {
            let c = Arc::make_mut(&mut self.cmdlines);
            for (pid, comm) in &self.overrides {
                c.insert(*pid, comm);
            }
        }
    }

    /// Decodes one sub-buffer read at `read_at` and appends it to `chunk`.
    /// Returns false for a page far from full: the reader has caught up
    /// with the writer (the kernel hands out the page being written).
    fn page(&mut self, page: &[u8], read_at: Instant, chunk: &mut Chunk) -> bool {
        let t = Arc::clone(&self.tables);
        let cpu = self.cpu;
        let sb = match SubBuffer::parse_with_header(page, &t.header, t.endian) {
            Ok(s) => s.with_cpu(cpu),
            Err(_) => {
                chunk.errors += 1;
                return false;
            }
        };
        let full = sb.data_len() >= page.len() / 4 * 3;
        if sb.missed != Missed::None {
            if let Missed::Count(n) = sb.missed {
                chunk.lost += n;
            }
            if t.format == StreamFormat::TraceCmd {
                // trace-cmd's own words for it.
                let line = match sb.missed {
                    Missed::Count(n) => format!("CPU:{cpu} [{n} EVENTS DROPPED]\n"),
                    _ => format!("CPU:{cpu} [EVENTS DROPPED]\n"),
                };
                chunk.text.extend_from_slice(line.as_bytes());
                chunk
                    .marks
                    .push((sb.timestamp, chunk.text.len() as u32, false));
            } else if t.format == StreamFormat::Kernel {
                self.line.clear();
                self.kernel.render_lost(cpu, sb.missed, &mut self.line);
                chunk.text.extend_from_slice(self.line.as_bytes());
                chunk
                    .marks
                    .push((sb.timestamp, chunk.text.len() as u32, false));
            }
        }
        if t.cmdlines_gen.load(Ordering::Acquire) != self.cmdlines_gen {
            self.take_cmdlines();
            self.unresolved.clear();
        }
        let mut last_pid = -1;
        for r in sb.records() {
            let Ok(raw) = r else {
                chunk.errors += 1;
                continue;
            };
            let pid = raw
                .payload
                .get(4..8)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_ne_bytes)
                .unwrap_or(0);
            if pid != last_pid {
                last_pid = pid;
                self.resolve(pid, read_at);
            }
            let ctx = Context::new(&t.registry)
                .with_kallsyms(&t.kallsyms)
                .with_printk_formats(&t.printk)
                .with_cmdlines(&self.cmdlines);
            let start = raw.payload.as_ptr() as usize - page.as_ptr() as usize;
            let ok = match t.format {
                StreamFormat::Kernel => Record::new(raw.ts, cpu, raw.payload, start, t.endian)
                    .is_ok_and(|rec| {
                        self.kernel
                            .render_bytes(&ctx, &rec, &mut chunk.text)
                            .is_ok()
                    }),
                StreamFormat::Json => {
                    match Record::new(raw.ts, cpu, raw.payload, start, t.endian)
                        .and_then(|rec| StructuredRecord::from_record(&ctx, &rec))
                    {
                        Ok(s) => {
                            let before = chunk.text.len();
                            if serde_json::to_writer(&mut chunk.text, &s).is_ok() {
                                chunk.text.push(b'\n');
                                true
                            } else {
                                chunk.text.truncate(before);
                                false
                            }
                        }
                        Err(_) => false,
                    }
                }
                StreamFormat::TraceCmd => match self.tep.as_mut() {
                    Some(tep) => {
                        if self.tep_comms_stale {
                            tep.set_comms(self.cmdlines.iter());
                            self.tep_comms_stale = false;
                        }
                        self.scratch.clear();
                        tep.render(
                            &Event {
                                ts: raw.ts,
                                raw_ts: raw.ts,
                                cpu,
                                buffer: 0,
                                data: raw.payload,
                                tail: page.get(start..).unwrap_or(&[]),
                                missed: 0,
                                offset: start,
                            },
                            &mut self.scratch,
                        );
                        chunk.text.extend_from_slice(&self.scratch);
                        true
                    }
                    None => false,
                },
            };
            if ok {
                chunk.marks.push((raw.ts, chunk.text.len() as u32, true));
            } else {
                chunk.errors += 1;
            }
        }
        full
    }
}

/// Live readers: one thread per CPU reads its sub-buffers as they fill and
/// decodes them (decoding runs in parallel, next to the CPU's reader, so a
/// busy CPU does not wait on the others); the caller merges their chunks.
struct Pipeline {
    rx: mpsc::Receiver<(usize, Chunk)>,
    tables: Arc<Tables>,
    /// Printed chunks go back to their reader for reuse.
    recycle: Vec<mpsc::Sender<Chunk>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    ncpu: usize,
    cpus: Vec<u32>,
    stop: Arc<AtomicBool>,
}

impl Pipeline {
    fn spawn(inst: &Instance, tables: Arc<Tables>, pin: bool) -> Result<Pipeline> {
        let cpus = raw::cpus(inst)?;
        let (tx, rx) = mpsc::sync_channel::<(usize, Chunk)>(CHUNKS_QUEUED.max(4 * cpus.len()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut recycle = Vec::new();
        // All readers open before any thread starts: a failure leaves no
        // thread behind.
        let readers = cpus
            .iter()
            .map(|&cpu| CpuReader::open(inst, cpu, true).map_err(Error::from))
            .collect::<Result<Vec<_>>>()?;
        for (idx, (&cpu, mut r)) in cpus.iter().zip(readers).enumerate() {
            let (back_tx, back_rx) = mpsc::channel::<Chunk>();
            recycle.push(back_tx);
            let tx = tx.clone();
            let st = stop.clone();
            let mut w = Worker::new(cpu, tables.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("tk-stream-{cpu}"))
                .spawn(move || {
                    if pin {
                        // Next to its CPU's writer: the ring buffer's pages are
                        // in that CPU's cache, and the reader shares that CPU
                        // with the traced task rather than migrating away.
                        let mut set = rustix::thread::CpuSet::new();
                        set.set(cpu as usize);
                        let _ = rustix::thread::sched_setaffinity(None, &set);
                    }
                    let timeout = rustix::event::Timespec {
                        tv_sec: 0,
                        tv_nsec: 50_000_000,
                    };
                    let mut buf = Vec::new();
                    let new_chunk = || match back_rx.try_recv() {
                        Ok(mut c) => {
                            c.text.clear();
                            c.marks.clear();
                            c.errors = 0;
                            c.lost = 0;
                            c
                        }
                        Err(_) => Chunk {
                            text: Vec::with_capacity(CHUNK_BYTES + 8192),
                            marks: Vec::with_capacity(1024),
                            errors: 0,
                            lost: 0,
                        },
                    };
                    let mut chunk = new_chunk();
                    // The final drain reads at most what the ring holds: a
                    // trace array that still traces (`show --pipe`) gets
                    // events from the reads themselves.
                    let mut final_budget = r.ring_subbufs() + 2;
                    loop {
                        let done = st.load(Ordering::SeqCst);
                        if !done {
                            let mut fds = [PollFd::new(r.file(), PollFlags::IN)];
                            let _ = rustix::event::poll(&mut fds, Some(&timeout));
                        }
                        // Read until caught up with the writer (a page far
                        // from full), then wait for the next batch rather
                        // than read the page being written a few events at a
                        // time; the poll timeout still shows a quiet CPU's
                        // events within 50 ms.
                        while let Ok(Some(n)) = r.read_subbuf(&mut buf) {
                            let more = w.page(&buf[..n], Instant::now(), &mut chunk);
                            if chunk.text.len() >= CHUNK_BYTES {
                                let full = std::mem::replace(&mut chunk, new_chunk());
                                if tx.send((idx, full)).is_err() {
                                    return;
                                }
                            }
                            if done {
                                final_budget = final_budget.saturating_sub(1);
                                if final_budget == 0 {
                                    break;
                                }
                            } else if !more {
                                break;
                            }
                        }
                        if !chunk.marks.is_empty() || chunk.errors > 0 || chunk.lost > 0 {
                            let part = std::mem::replace(&mut chunk, new_chunk());
                            if tx.send((idx, part)).is_err() {
                                return;
                            }
                        }
                        if done {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(Error::Output(e));
                }
            }
        }
        Ok(Pipeline {
            rx,
            tables,
            recycle,
            threads,
            ncpu: cpus.len(),
            cpus,
            stop,
        })
    }

    /// Asks the readers to drain what is left and end.
    fn finish(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Merges and writes chunks until every reader has ended, calling
    /// `tick` between batches (it returns true once the readers should
    /// drain and stop). Returns early on a closed output.
    fn run(
        &mut self,
        out: &mut dyn Write,
        sum: &mut StreamSummary,
        mut tick: impl FnMut(&mut StreamSummary) -> bool,
    ) -> std::io::Result<()> {
        let mut finishing = false;
        let mut queues: Vec<std::collections::VecDeque<(Chunk, usize)>> =
            (0..self.ncpu).map(|_| Default::default()).collect();
        let mut lost = vec![0u64; self.ncpu];
        loop {
            if !finishing && tick(sum) {
                // The last pages are read now: with the comms the kernel
                // saved as the traced tasks switched out or exited.
                self.tables.reload_cmdlines(Instant::now());
                self.finish();
                finishing = true;
            }
            // Polled on a tick rather than woken per chunk: a reader's
            // send then never has to wake this thread.
            std::thread::sleep(PRINT_TICK);
            if let Some(since) = Instant::now().checked_sub(CMDLINE_REFRESH) {
                self.tables.reload_cmdlines(since);
            }
            let mut batch = Vec::new();
            let mut ended = false;
            loop {
                match self.rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        ended = true;
                        break;
                    }
                }
            }
            if batch.is_empty() {
                if ended {
                    break;
                }
                continue;
            }
            for (idx, c) in batch {
                sum.decode_errors += c.errors;
                if let Some(l) = lost.get_mut(idx) {
                    *l += c.lost;
                }
                if let Some(q) = queues.get_mut(idx) {
                    q.push_back((c, 0));
                }
            }
            let recycle = &self.recycle;
            let give_back = |idx: usize, c: Chunk| {
                if let Some(tx) = recycle.get(idx) {
                    let _ = tx.send(c);
                }
            };
            match merge_write(&mut queues, out, give_back) {
                Ok(n) => sum.events += n,
                Err(e) => {
                    self.finish();
                    return Err(e);
                }
            }
            out.flush().inspect_err(|_| self.finish())?;
        }
        sum.lost = self
            .cpus
            .iter()
            .zip(&lost)
            .filter(|(_, &n)| n > 0)
            .map(|(&c, &n)| (c, n))
            .collect();
        Ok(())
    }

    /// Stops and joins the readers (dropping the channel first so a reader
    /// blocked on a full channel ends).
    fn join(self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.rx);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Writes every queued event in timestamp order (ties: lower CPU first),
/// emptying the queues; returns the number of events written.
fn merge_write(
    queues: &mut [std::collections::VecDeque<(Chunk, usize)>],
    out: &mut dyn Write,
    give_back: impl Fn(usize, Chunk),
) -> std::io::Result<u64> {
    let mut events = 0u64;
    loop {
        // The CPU with the earliest head, and the earliest head of the others.
        let mut best: Option<(usize, u64)> = None;
        let mut second = u64::MAX;
        for (i, q) in queues.iter().enumerate() {
            let Some((c, pos)) = q.front() else { continue };
            let Some(&(ts, _, _)) = c.marks.get(*pos) else {
                continue;
            };
            match best {
                Some((_, b)) if ts >= b => second = second.min(ts),
                Some((_, b)) => {
                    second = second.min(b);
                    best = Some((i, ts));
                }
                None => best = Some((i, ts)),
            }
        }
        let Some((i, _)) = best else { break };
        let Some((c, pos)) = queues.get_mut(i).and_then(|q| q.front_mut()) else {
            break;
        };
        // Write the run of this CPU's events up to the others' next one.
        let from = match *pos {
            0 => 0,
            p => c.marks.get(p - 1).map_or(0, |m| m.1 as usize),
        };
        let mut end = from;
        while let Some(&(ts, e, is_event)) = c.marks.get(*pos) {
            if ts > second || (ts == second && end != from) {
                break;
            }
            end = e as usize;
            events += u64::from(is_event);
            *pos += 1;
        }
        out.write_all(c.text.get(from..end).unwrap_or(&[]))?;
        if *pos >= c.marks.len() {
            if let Some((c, _)) = queues.get_mut(i).and_then(|q| q.pop_front()) {
                give_back(i, c);
            }
        }
    }
    // Chunks with no events (errors or lost counts only).
    for (i, q) in queues.iter_mut().enumerate() {
        for (c, _) in q.drain(..) {
            give_back(i, c);
        }
    }
    Ok(events)
}

/// Streams events to `out` until the command exits, `stop` is set, the
/// duration passes, or `out` closes.
pub fn stream(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    command: Option<&[String]>,
    stop: Arc<AtomicBool>,
    opts: StreamOptions,
    out: &mut dyn Write,
) -> Result<StreamSummary> {
    let armed = configure(tfs, cfg)?;
    let main = armed.first().ok_or_else(|| usage("nothing to stream"))?;
    let events: Vec<_> = armed
        .iter()
        .flat_map(|a| a.events.iter().cloned())
        .collect();
    let meta = collect_metadata(tfs, &main.inst, &events, None)?;
    let tables = Arc::new(Tables::new(tfs, &main.inst, &meta, opts.format)?);
    let mut child = match command {
        Some(a) if !a.is_empty() => Some(HeldChild::spawn(a)?),
        _ => None,
    };
    let mut pipeline = Pipeline::spawn(&main.inst, tables, opts.pin_readers)?;
    let res = (|| -> Result<StreamSummary> {
        if let Some(c) = child.as_ref() {
            arm_pid_filters(cfg, &armed, c.pid())?;
        }
        for a in &armed {
            a.inst.set_tracing_on(true)?;
        }
        if let Some(c) = child.as_mut() {
            c.release()?;
        }
        let mut sum = StreamSummary::default();
        let start = Instant::now();
        let ran = pipeline.run(out, &mut sum, |sum| {
            let child_done = child.as_mut().is_some_and(|c| match c.try_wait() {
                Some(s) => {
                    sum.command_status = Some(s);
                    true
                }
                None => false,
            });
            let expired = cfg.duration.is_some_and(|d| start.elapsed() >= d);
            let end = stop.load(Ordering::SeqCst) || child_done || expired;
            if end {
                for a in &armed {
                    let _ = a.inst.set_tracing_on(false);
                }
            }
            end
        });
        match ran {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => sum.output_closed = true,
            Err(e) => return Err(Error::Output(e)),
        }
        sum.stats = main.inst.cpu_stats().unwrap_or_default();
        Ok(sum)
    })();
    pipeline.join();
    for a in &armed {
        let _ = a.inst.set_tracing_on(false);
    }
    if let Some(c) = child.as_mut() {
        if c.try_wait().is_none() {
            c.kill();
        }
    }
    res
}

/// Prints an existing trace array's events as they arrive (consuming, like
/// `trace_pipe`), until `stop` or the output closes.
pub fn pipe(
    tfs: &Tracefs,
    inst: &Instance,
    opts: StreamOptions,
    stop: Arc<AtomicBool>,
    out: &mut dyn Write,
) -> Result<StreamSummary> {
    let events = inst.enabled_events()?;
    let meta = collect_metadata(tfs, inst, &events, None)?;
    let tables = Arc::new(Tables::new(tfs, inst, &meta, opts.format)?);
    let mut pipeline = Pipeline::spawn(inst, tables, opts.pin_readers)?;
    let mut sum = StreamSummary::default();
    let ran = pipeline.run(out, &mut sum, |_| stop.load(Ordering::SeqCst));
    pipeline.join();
    match ran {
        Ok(()) => Ok(sum),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            sum.output_closed = true;
            Ok(sum)
        }
        Err(e) => Err(Error::Output(e)),
    }
}

/// `start`: configures the trace arrays and leaves them tracing. The
/// caller keeps (persists) the journal so `reset` removes them.
pub fn start(tfs: &Tracefs, cfg: &RecordConfig) -> Result<Vec<String>> {
    let mut armed = configure(tfs, cfg)?;
    let mut names = Vec::new();
    for a in &mut armed {
        a.inst.set_tracing_on(true)?;
        if let Some(o) = a._owned.take() {
            o.keep();
        }
        names.push(a.inst.name().unwrap_or("").to_string());
    }
    Ok(names)
}

/// What `extract` wrote.
#[derive(Debug, Clone, Default)]
pub struct ExtractSummary {
    /// Per CPU: what was written.
    pub written: Vec<CpuWritten>,
    /// Stats at extraction.
    pub stats: Vec<CpuStats>,
}

/// Writes an instance's buffer (consuming it) to a trace.dat with full
/// metadata; the enabled events' formats are taken from `set_event`.
pub fn extract(
    tfs: &Tracefs,
    inst: &Instance,
    output: &Path,
    writer: WriterOptions,
) -> Result<ExtractSummary> {
    let events = inst.enabled_events()?;
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(".tk-extract-{}", std::process::id());
    let rec = Recorder::start(inst, dir, &prefix, RecorderOptions::default())?;
    let cpus = rec.stop()?;
    let stats = inst.cpu_stats().unwrap_or_default();
    let stat_text = |cpu: u32| {
        tracefs::read_text(&inst.path(&format!("per_cpu/cpu{cpu}/stats"))).unwrap_or_default()
    };
    let clock = inst
        .trace_clock()
        .map(|(c, _)| c)
        .unwrap_or_else(|_| "local".into());
    let input = BufferInput {
        name: String::new(),
        clock,
        subbuf_size: raw::subbuf_size(inst) as u32,
        cpus: cpus
            .iter()
            .map(|c| (c.cpu, c.path.clone(), stat_text(c.cpu)))
            .collect(),
        in_place: None,
    };
    let meta = collect_metadata(tfs, inst, &events, None)?;
    let w = TraceDatWriter::create(output, writer)?;
    let written = w.write(&meta, &[input]);
    for c in &cpus {
        let _ = std::fs::remove_file(&c.path);
    }
    Ok(ExtractSummary {
        written: written?,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A chunk whose events are `(ts, text)`; `false` marks a lost line.
    fn chunk(events: &[(u64, &str, bool)]) -> Chunk {
        let mut c = Chunk {
            text: Vec::new(),
            marks: Vec::new(),
            errors: 0,
            lost: 0,
        };
        for (ts, t, ev) in events {
            c.text.extend_from_slice(t.as_bytes());
            c.marks.push((*ts, c.text.len() as u32, *ev));
        }
        c
    }

    #[test]
    fn merge_orders_cpus_by_time_and_returns_every_chunk() {
        let mut queues: Vec<VecDeque<(Chunk, usize)>> = vec![VecDeque::new(), VecDeque::new()];
        queues[0].push_back((chunk(&[(10, "a10\n", true), (30, "a30\n", true)]), 0));
        queues[0].push_back((chunk(&[(31, "a31\n", true), (50, "a50\n", true)]), 0));
        queues[1].push_back((
            chunk(&[
                (5, "CPU:1 [LOST 3 EVENTS]\n", false),
                (5, "b5\n", true),
                (30, "b30\n", true),
                (40, "b40\n", true),
            ]),
            0,
        ));
        // A chunk that only carried counts.
        queues[1].push_back((chunk(&[]), 0));
        let back = RefCell::new(Vec::new());
        let mut out = Vec::new();
        let n = merge_write(&mut queues, &mut out, |cpu, c: Chunk| {
            back.borrow_mut().push((cpu, c.marks.len()))
        })
        .unwrap();
        assert_eq!(n, 7, "lost lines are not events");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CPU:1 [LOST 3 EVENTS]\nb5\na10\na30\nb30\na31\nb40\na50\n",
            "time order; equal timestamps: lower CPU first"
        );
        let mut back = back.into_inner();
        back.sort();
        assert_eq!(back, vec![(0, 2), (0, 2), (1, 0), (1, 4)]);
        assert!(queues.iter().all(VecDeque::is_empty));
    }

    #[test]
    fn merge_of_nothing_writes_nothing() {
        let mut queues: Vec<VecDeque<(Chunk, usize)>> = Vec::new();
        let mut out = Vec::new();
        assert_eq!(merge_write(&mut queues, &mut out, |_, _| {}).unwrap(), 0);
        assert!(out.is_empty());
    }
}
