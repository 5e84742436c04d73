//! Live and detached tracing: [`stream`] decodes and prints events while
//! they happen (the kernel's `trace` layout, trace-cmd's, or JSON lines);
//! [`start`] leaves a configured instance tracing; [`extract`] writes a
//! running or stopped instance's buffer to a trace.dat. All reuse the
//! record session's configuration, command launch and metadata collection.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
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
use crate::render::{TepOptions, TepRenderer};
use crate::session::{
    arm_pid_filters, collect_metadata, configure, usage, HeldChild, RecordConfig,
};
use crate::stream::Event;
use crate::writer::{BufferInput, CpuWritten, Metadata, TraceDatWriter, WriterOptions};
use crate::TraceDat;

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

/// What a decoded batch held: (events written, lost per CPU, decode errors).
pub type BatchResult = (u64, Vec<(u32, u64)>, u64);

/// The decoding state for live pages of one trace array.
pub struct LiveDecoder {
    registry: EventRegistry,
    header: HeaderPage,
    kallsyms: Kallsyms,
    printk: PrintkFormats,
    cmdlines: Cmdlines,
    endian: Endian,
    format: StreamFormat,
    kernel: KernelTextRenderer,
    tep: Option<(TraceDat, TepRenderer)>,
    cmdline_refresh: Instant,
    tfs: Tracefs,
}

impl LiveDecoder {
    /// Builds the registry from the instance's formats.
    pub fn new(
        tfs: &Tracefs,
        inst: &Instance,
        meta: &Metadata,
        format: StreamFormat,
        scratch: &Path,
    ) -> Result<LiveDecoder> {
        let long = traceevent::LongSize::from_bytes(usize::from(meta.long_size))
            .unwrap_or(traceevent::LongSize::Eight);
        let endian = Endian::native();
        let mut registry = EventRegistry::new(long, endian);
        let hp_text = String::from_utf8_lossy(&meta.header_page).into_owned();
        let header = HeaderPage::parse(&hp_text)
            .map_err(|e| Error::Usage(format!("events/header_page: {e}")))?;
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
        let kernel = KernelTextRenderer::new(KernelTextOptions {
            clock: ClockKind::from_name(&clock),
            ..KernelTextOptions::default()
        });
        let tep = if format == StreamFormat::TraceCmd {
            // trace-cmd's renderer reads its tables from a trace.dat: write
            // one with the metadata and no data.
            let path = scratch.join(format!(".tk-stream-{}.dat", std::process::id()));
            let empty = scratch.join(format!(".tk-stream-{}.cpu", std::process::id()));
            std::fs::write(&empty, b"").map_err(|source| Error::Io {
                path: empty.clone(),
                source,
            })?;
            let input = BufferInput {
                name: String::new(),
                clock: clock.clone(),
                subbuf_size: raw::subbuf_size(inst) as u32,
                cpus: (0..meta.cpus)
                    .map(|c| (c, empty.clone(), String::new()))
                    .collect(),
            };
            let w = TraceDatWriter::create(
                &path,
                WriterOptions {
                    version: 7,
                    compression: crate::writer::Compression::None,
                },
            )?;
            w.write(meta, &[input])?;
            let dat = TraceDat::open(&path)?;
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(&empty);
            let in_usecs = !matches!(clock.as_str(), "x86-tsc" | "counter" | "boot");
            let r = TepRenderer::new(
                &dat,
                TepOptions {
                    in_usecs,
                    ..TepOptions::default()
                },
            );
            Some((dat, r))
        } else {
            None
        };
        Ok(LiveDecoder {
            registry,
            header,
            kallsyms: Kallsyms::parse(&String::from_utf8_lossy(&meta.kallsyms)).unwrap_or_default(),
            printk: PrintkFormats::parse(&String::from_utf8_lossy(&meta.printk))
                .unwrap_or_default(),
            cmdlines: Cmdlines::parse(&String::from_utf8_lossy(&meta.cmdlines)).unwrap_or_default(),
            endian,
            format,
            kernel,
            tep,
            cmdline_refresh: Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or_else(Instant::now),
            tfs: tfs.clone(),
        })
    }

    fn refresh_cmdlines(&mut self, force: bool) {
        if force || self.cmdline_refresh.elapsed() > Duration::from_millis(200) {
            if let Ok(t) = self.tfs.read_rel("saved_cmdlines") {
                if let Ok(c) = Cmdlines::parse(&t) {
                    self.cmdlines = c;
                }
            }
            self.cmdline_refresh = Instant::now();
        }
    }

    /// Decodes a batch of (cpu, page) and writes it, merged by timestamp.
    /// Returns (events, lost per cpu, decode errors).
    pub fn write_batch(
        &mut self,
        pages: &[(u32, Vec<u8>)],
        out: &mut dyn Write,
    ) -> std::io::Result<BatchResult> {
        let mut recs: Vec<(u64, u32, usize, usize, usize)> = Vec::new(); // ts, cpu, page idx, payload start, len
        let mut lost = Vec::new();
        let mut errors = 0u64;
        let mut text = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        for (pi, (cpu, page)) in pages.iter().enumerate() {
            let sb = match SubBuffer::parse_with_header(page, &self.header, self.endian) {
                Ok(s) => s.with_cpu(*cpu),
                Err(_) => {
                    errors += 1;
                    continue;
                }
            };
            match sb.missed {
                Missed::None => {}
                m => {
                    let n = match m {
                        Missed::Count(n) => n,
                        _ => 0,
                    };
                    lost.push((*cpu, n));
                    if self.format != StreamFormat::Json {
                        text.clear();
                        self.kernel.render_lost(*cpu, m, &mut text);
                        out.write_all(text.as_bytes())?;
                    }
                }
            }
            for r in sb.records() {
                match r {
                    Ok(raw) => {
                        let start = raw.payload.as_ptr() as usize - page.as_ptr() as usize;
                        recs.push((raw.ts, *cpu, pi, start, raw.payload.len()));
                    }
                    Err(_) => errors += 1,
                }
            }
        }
        recs.sort_by_key(|r| (r.0, r.1));
        // The kernel names tasks from saved_cmdlines at print time: refresh
        // it when this batch has a pid we have not seen.
        let unknown = recs.iter().any(|&(_, _, pi, start, _)| {
            let page = &pages[pi].1;
            let pid = page
                .get(start + 4..start + 8)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_ne_bytes)
                .unwrap_or(0);
            pid > 0 && self.cmdlines.comm(pid).is_none()
        });
        // Also refresh periodically: a reused pid has a stale name until then.
        self.refresh_cmdlines(
            unknown || self.cmdline_refresh.elapsed() > Duration::from_millis(50),
        );
        let ctx = Context::new(&self.registry)
            .with_kallsyms(&self.kallsyms)
            .with_printk_formats(&self.printk)
            .with_cmdlines(&self.cmdlines);
        let mut n = 0;
        for (ts, cpu, pi, start, len) in recs {
            let page = &pages[pi].1;
            let payload = &page[start..start + len];
            match self.format {
                StreamFormat::Kernel => {
                    let Ok(rec) = Record::new(ts, cpu, payload, start, self.endian) else {
                        errors += 1;
                        continue;
                    };
                    text.clear();
                    if self.kernel.render(&ctx, &rec, &mut text).is_err() {
                        errors += 1;
                        continue;
                    }
                    out.write_all(text.as_bytes())?;
                }
                StreamFormat::Json => {
                    let Ok(rec) = Record::new(ts, cpu, payload, start, self.endian) else {
                        errors += 1;
                        continue;
                    };
                    let Ok(s) = StructuredRecord::from_record(&ctx, &rec) else {
                        errors += 1;
                        continue;
                    };
                    serde_json::to_writer(&mut *out, &s).map_err(|e| match e.io_error_kind() {
                        Some(k) => std::io::Error::from(k),
                        None => std::io::Error::other(e),
                    })?;
                    out.write_all(b"\n")?;
                }
                StreamFormat::TraceCmd => {
                    if let Some((_, tep)) = self.tep.as_mut() {
                        bytes.clear();
                        tep.render(
                            &Event {
                                ts,
                                raw_ts: ts,
                                cpu,
                                buffer: 0,
                                data: payload,
                                tail: &page[start..],
                                missed: 0,
                                offset: start,
                            },
                            &mut bytes,
                        );
                        out.write_all(&bytes)?;
                    }
                }
            }
            n += 1;
        }
        out.flush()?;
        Ok((n, lost, errors))
    }
}

/// Streams events to `out` until the command exits, `stop` is set, the
/// duration passes, or `out` closes.
pub fn stream(
    tfs: &Tracefs,
    cfg: &RecordConfig,
    command: Option<&[String]>,
    stop: Arc<AtomicBool>,
    format: StreamFormat,
    out: &mut dyn Write,
) -> Result<StreamSummary> {
    let armed = configure(tfs, cfg)?;
    let main = armed.first().ok_or_else(|| usage("nothing to stream"))?;
    let events: Vec<_> = armed
        .iter()
        .flat_map(|a| a.events.iter().cloned())
        .collect();
    let meta = collect_metadata(tfs, &main.inst, &events, None)?;
    let scratch = std::env::temp_dir();
    let mut dec = LiveDecoder::new(tfs, &main.inst, &meta, format, &scratch)?;
    let mut child = match command {
        Some(a) if !a.is_empty() => Some(HeldChild::spawn(a)?),
        _ => None,
    };
    let reader_stop = Arc::new(AtomicBool::new(false));
    let (rx, threads) = spawn_readers(&main.inst, reader_stop.clone())?;
    let res = (|| -> Result<StreamSummary> {
        if let Some(c) = child.as_ref() {
            arm_pid_filters(cfg, &armed, c.pid())?;
        }
        for a in &armed {
            a.inst.set_tracing_on(true).map_err(usage)?;
        }
        if let Some(c) = child.as_mut() {
            c.release()?;
        }
        let mut sum = StreamSummary::default();
        let start = Instant::now();
        let mut finishing = false;
        loop {
            if !finishing {
                let child_done = child.as_mut().map(|c| {
                    if let Some(s) = c.try_wait() {
                        sum.command_status = Some(s);
                        true
                    } else {
                        false
                    }
                });
                let expired = cfg.duration.map(|d| start.elapsed() >= d).unwrap_or(false);
                if stop.load(Ordering::SeqCst) || child_done == Some(true) || expired {
                    for a in &armed {
                        let _ = a.inst.set_tracing_on(false);
                    }
                    reader_stop.store(true, Ordering::SeqCst);
                    finishing = true;
                }
            }
            let mut batch = Vec::new();
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(p) => batch.push(p),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(p) = rx.try_recv() {
                batch.push(p);
                if batch.len() >= 256 {
                    break;
                }
            }
            if batch.is_empty() {
                continue;
            }
            match dec.write_batch(&batch, out) {
                Ok((n, lost, errs)) => {
                    sum.events += n;
                    sum.decode_errors += errs;
                    sum.lost.extend(lost);
                }
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    sum.output_closed = true;
                    for a in &armed {
                        let _ = a.inst.set_tracing_on(false);
                    }
                    reader_stop.store(true, Ordering::SeqCst);
                    break;
                }
                Err(e) => return Err(Error::Output(e)),
            }
        }
        sum.stats = main.inst.cpu_stats().unwrap_or_default();
        Ok(sum)
    })();
    reader_stop.store(true, Ordering::SeqCst);
    drop(rx);
    for t in threads {
        let _ = t.join();
    }
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

type Readers = (
    mpsc::Receiver<(u32, Vec<u8>)>,
    Vec<std::thread::JoinHandle<()>>,
);

/// One non-blocking reader thread per CPU sending whole (or, at the end,
/// partial) sub-buffers; `stop` ends them after a final drain.
fn spawn_readers(inst: &Instance, stop: Arc<AtomicBool>) -> Result<Readers> {
    let (tx, rx) = mpsc::sync_channel::<(u32, Vec<u8>)>(4096);
    let mut threads = Vec::new();
    for cpu in raw::cpus(inst).map_err(usage)? {
        let mut r = CpuReader::open(inst, cpu, true).map_err(usage)?;
        let tx = tx.clone();
        let st = stop.clone();
        threads.push(std::thread::spawn(move || {
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            let mut buf = Vec::new();
            loop {
                let done = st.load(Ordering::SeqCst);
                if !done {
                    let mut fds = [PollFd::new(r.file(), PollFlags::IN)];
                    let _ = rustix::event::poll(&mut fds, Some(&timeout));
                }
                // Partial pages too: a live view shows events as they come.
                while let Ok(Some(n)) = r.read_subbuf(&mut buf) {
                    if tx.send((cpu, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                if done {
                    return;
                }
            }
        }));
    }
    Ok((rx, threads))
}

/// Prints an existing trace array's events as they arrive (consuming, like
/// `trace_pipe`), until `stop` or the output closes.
pub fn pipe(
    tfs: &Tracefs,
    inst: &Instance,
    format: StreamFormat,
    stop: Arc<AtomicBool>,
    out: &mut dyn Write,
) -> Result<StreamSummary> {
    let events = inst.enabled_events().map_err(usage)?;
    let meta = collect_metadata(tfs, inst, &events, None)?;
    let mut dec = LiveDecoder::new(tfs, inst, &meta, format, &std::env::temp_dir())?;
    let reader_stop = Arc::new(AtomicBool::new(false));
    let (rx, threads) = spawn_readers(inst, reader_stop.clone())?;
    let mut sum = StreamSummary::default();
    let mut finishing = false;
    let res = loop {
        if !finishing && stop.load(Ordering::SeqCst) {
            reader_stop.store(true, Ordering::SeqCst);
            finishing = true;
        }
        let mut batch = Vec::new();
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(p) => batch.push(p),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
        }
        while let Ok(p) = rx.try_recv() {
            batch.push(p);
        }
        match dec.write_batch(&batch, out) {
            Ok((n, lost, errs)) => {
                sum.events += n;
                sum.decode_errors += errs;
                sum.lost.extend(lost);
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                sum.output_closed = true;
                break Ok(());
            }
            Err(e) => break Err(Error::Output(e)),
        }
    };
    reader_stop.store(true, Ordering::SeqCst);
    drop(rx);
    for t in threads {
        let _ = t.join();
    }
    res.map(|()| sum)
}

/// `start`: configures the trace arrays and leaves them tracing. The
/// caller keeps (persists) the journal so `reset` removes them.
pub fn start(tfs: &Tracefs, cfg: &RecordConfig) -> Result<Vec<String>> {
    let mut armed = configure(tfs, cfg)?;
    let mut names = Vec::new();
    for a in &mut armed {
        a.inst.set_tracing_on(true).map_err(usage)?;
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
    let events = inst.enabled_events().map_err(usage)?;
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
