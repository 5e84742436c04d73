//! `report`: the whole `trace-cmd report` output for one or more trace.dat
//! files ([`run`]), plus tracekit's own structured outputs (JSON lines, CSV)
//! and a `--summary` of event counts. Everything streams: records are
//! rendered one at a time into a reused buffer and written out.

use crate::dat::{opt, TraceDat};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::render::fmt::read_num;
use crate::render::{TepOptions, TepRenderer};
use crate::stream::{Event, Merge, TsCalc};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// What `report` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// The events (default).
    #[default]
    Events,
    /// `--stat`: per-CPU ring-buffer statistics saved at record time.
    Stat,
    /// `--cpus`: CPUs that have data.
    Cpus,
    /// `--uname`.
    Uname,
    /// `--version` (of the recording trace-cmd).
    Version,
    /// `-E`: event formats.
    EventFormats,
    /// `-f`: kallsyms functions.
    Functions,
    /// `-P`: printk formats.
    Printk,
    /// `--summary`: counts per event, CPU and task.
    Summary,
}

/// Output format of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// trace-cmd's text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// CSV with a header line.
    Csv,
    /// Chrome trace-event JSON for the Perfetto UI (see [`crate::perfetto`]).
    Perfetto,
}

/// Options of `report` (trace-cmd's flags).
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Input files (`-i`, repeatable; merged by timestamp).
    pub inputs: Vec<PathBuf>,
    /// `-t`: full nanosecond timestamps.
    pub nsec: bool,
    /// `-R`: raw fields.
    pub raw: bool,
    /// `-r EVENT`: raw fields for these events only.
    pub raw_events: Vec<String>,
    /// `-N`: no plugins.
    pub no_plugins: bool,
    /// `-l`: latency format.
    pub latency: bool,
    /// `-F`: filters (trace-cmd syntax).
    pub filters: Vec<String>,
    /// `-v`: invert the filters.
    pub invert: bool,
    /// `--cpu`: only these CPUs.
    pub cpus: Option<Vec<u32>>,
    /// What to print.
    pub mode: Mode,
    /// `--first-event` (with `--cpus`).
    pub first_event: bool,
    /// `--last-event` (with `--cpus`).
    pub last_event: bool,
    /// `--ts-offset` (ns) added to every timestamp.
    pub ts_offset: Option<i64>,
    /// `--nodate`: ignore the DATE option.
    pub nodate: bool,
    /// `-q`: no warnings.
    pub quiet: bool,
    /// Output format.
    pub format: Format,
}

struct Input {
    name: String,
    dat: TraceDat,
    tep: TepRenderer,
    calc: TsCalc,
}

/// Statistics gathered while reporting (for `--summary` and the caller).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    /// Records printed.
    pub events: u64,
    /// Records per event name.
    pub per_event: BTreeMap<String, u64>,
    /// Records per CPU.
    pub per_cpu: BTreeMap<u32, u64>,
    /// Records per task (`comm-pid`).
    pub per_task: BTreeMap<String, u64>,
    /// First timestamp (ns).
    pub first_ts: Option<u64>,
    /// Last timestamp (ns).
    pub last_ts: Option<u64>,
    /// Lost events (known counts) and pages with an unknown count.
    pub lost_events: u64,
    /// Sub-buffers that reported an unknown number of lost events.
    pub lost_unknown: u64,
}

fn open_inputs(o: &ReportOptions) -> Result<Vec<Input>> {
    let mut v = Vec::new();
    for p in &o.inputs {
        // With several inputs, say which one is bad.
        let dat = TraceDat::open(p).map_err(|e| match e {
            e @ Error::Io { .. } => e,
            e => Error::Usage(format!("{}: {e}", p.display())),
        })?;
        let mut offset = dat.offset_ns;
        if !o.nodate {
            offset = offset.wrapping_add(dat.date_offset_ns);
        }
        if let Some(t) = o.ts_offset {
            offset = offset.checked_add(t).ok_or_else(|| {
                Error::Usage(format!(
                    "--ts-offset {t}: the timestamps of {} would overflow",
                    p.display()
                ))
            })?;
        }
        let calc = TsCalc {
            tsc: dat.tsc2nsec.map(|(m, s, _)| (m, s)),
            offset,
            raw: false,
        };
        let topts = TepOptions {
            raw: o.raw,
            no_plugins: o.no_plugins,
            latency: o.latency,
            nsec: o.nsec,
            in_usecs: dat.in_usecs,
        };
        let tep = TepRenderer::new(&dat, topts);
        v.push(Input {
            name: p.display().to_string(),
            dat,
            tep,
            calc,
        });
    }
    Ok(v)
}

fn wr(out: &mut dyn Write, b: &[u8]) -> Result<()> {
    out.write_all(b).map_err(Error::Output)
}

/// Runs `report` and writes its output; warnings go to `warn`.
pub fn run(o: &ReportOptions, out: &mut dyn Write, warn: &mut dyn Write) -> Result<Summary> {
    if o.inputs.is_empty() {
        return Err(Error::Usage("no input file".into()));
    }
    let mut inputs = open_inputs(o)?;
    if !o.quiet {
        for i in &inputs {
            for w in &i.dat.warnings {
                let _ = writeln!(warn, "{}: warning: {w}", i.name);
            }
        }
    }
    match o.mode {
        Mode::Cpus => return cpus(&mut inputs, o, out).map(|_| Summary::default()),
        Mode::EventFormats => {
            for i in &inputs {
                for ev in i.dat.registry.iter() {
                    let _ = writeln!(
                        out,
                        "system: {}\nname: {}\nID: {}\nprint fmt: {}\n",
                        ev.system, ev.name, ev.id, ev.print_fmt_text
                    );
                }
            }
            return Ok(Summary::default());
        }
        Mode::Functions => {
            for i in &inputs {
                for f in i.tep.funcs().iter() {
                    let m = f
                        .module
                        .as_deref()
                        .map(|m| format!(" [{m}]"))
                        .unwrap_or_default();
                    let _ = writeln!(out, "{:016x} {}{}", f.addr, f.name, m);
                }
            }
            return Ok(Summary::default());
        }
        Mode::Printk => {
            for i in &inputs {
                wr(out, &i.dat.printk_text)?;
            }
            return Ok(Summary::default());
        }
        _ => {}
    }
    let multi = inputs.len() > 1;
    for i in &inputs {
        // "cpus=N": the larger of CPUCOUNT and the top buffer's CPU count
        let top = i
            .dat
            .buffers
            .first()
            .map(|b| b.cpus.len() as u32)
            .unwrap_or(0);
        let n = i.dat.cpus.max(top);
        if o.format == Format::Text && o.mode != Mode::Summary {
            wr(out, format!("cpus={n}\n").as_bytes())?;
        }
        match o.mode {
            Mode::Stat => {
                wr(out, b"\nKernel buffer statistics:\n  Note: \"entries\" are the entries left in the kernel ring buffer and are not\n        recorded in the trace data. They should all be zero.\n\n")?;
                print_stats(&i.dat, out)?;
            }
            Mode::Uname => {
                match &i.dat.uname {
                    Some(u) => wr(out, format!("{u}\n").as_bytes())?,
                    None => wr(out, b" uname was not recorded in this file\n")?,
                }
                print_version(&i.dat, out)?;
            }
            Mode::Version => print_version(&i.dat, out)?,
            _ => {}
        }
    }
    if matches!(o.mode, Mode::Stat | Mode::Uname | Mode::Version) {
        return Ok(Summary::default());
    }
    events(&mut inputs, o, multi, out, warn)
}

fn print_version(d: &TraceDat, out: &mut dyn Write) -> Result<()> {
    match &d.tracecmd_version {
        Some(v) => wr(out, format!("{v}\n").as_bytes()),
        None => wr(out, b" version was not recorded in this file\n"),
    }
}

/// `tracecmd_print_stats` for the top buffer.
pub fn print_stats(d: &TraceDat, out: &mut dyn Write) -> Result<()> {
    let mut stats: Vec<u8> = Vec::new();
    for o in d.options_with(opt::CPUSTAT) {
        let mut b = o.data.clone();
        if let Some(last) = b.last_mut() {
            *last = b'\n';
        }
        stats.extend_from_slice(&b);
    }
    if stats.is_empty() {
        wr(out, b" No stats in this file\n")?;
    } else {
        let end = stats.iter().position(|&c| c == 0).unwrap_or(stats.len());
        wr(out, &stats[..end])?;
        wr(out, b"\n")?;
    }
    let Some(top) = d.buffers.first() else {
        return Ok(());
    };
    let mut next = u64::from(d.page_size);
    for (i, cd) in top.cpus.iter().enumerate() {
        let (off, size) = if top.compressed {
            let size = uncompressed_size(d, cd).unwrap_or(0);
            let off = next;
            let ps = u64::from(d.page_size.max(1));
            next = (next + size).div_ceil(ps) * ps;
            (off, size)
        } else {
            (cd.offset, cd.size)
        };
        wr(
            out,
            format!("CPU{i} data recorded at offset=0x{off:x}\n    {size} bytes in size\n")
                .as_bytes(),
        )?;
    }
    Ok(())
}

/// Sum of the chunk sizes of a compressed CPU data block.
fn uncompressed_size(d: &TraceDat, cd: &crate::dat::CpuData) -> Result<u64> {
    if cd.size == 0 {
        return Ok(0);
    }
    let mut c = crate::io::SrcCur::new(&d.source, cd.offset, d.endian, "cpu data chunks");
    let n = c.u32()?;
    let mut total = 0u64;
    for _ in 0..n.min(1 << 24) {
        let csize = c.u32()?;
        let usize_ = c.u32()?;
        total += u64::from(usize_);
        c.pos += u64::from(csize);
    }
    Ok(total)
}

fn cpus(inputs: &mut [Input], o: &ReportOptions, out: &mut dyn Write) -> Result<()> {
    for i in inputs.iter_mut() {
        wr(
            out,
            format!("List of CPUs in {} with data:\n", i.name).as_bytes(),
        )?;
        let Some(top) = i.dat.buffers.first() else {
            continue;
        };
        for (idx, cd) in top.cpus.iter().enumerate() {
            let mut s = crate::stream::CpuStream::new(&i.dat, 0, top, *cd, i.calc);
            let Some(first) = s.peek_ts()? else { continue };
            let mut line = format!("  {idx}");
            if o.first_event {
                line.push_str(&format!("\tFirst event:{}", ts_text(&i.tep, first)));
            }
            if o.last_event {
                let mut last = first;
                while let Some(t) = s.peek_ts()? {
                    last = t;
                    s.advance();
                }
                line.push_str(&format!("\tLast event:{}", ts_text(&i.tep, last)));
            }
            line.push('\n');
            wr(out, line.as_bytes())?;
        }
    }
    Ok(())
}

fn ts_text(tep: &TepRenderer, ts: u64) -> String {
    let o = tep.options();
    if o.in_usecs {
        let t = ts.wrapping_add(500) / 1000;
        format!("{:5}.{:06}", t / 1_000_000, t % 1_000_000)
    } else {
        format!("{ts:12}")
    }
}

fn events(
    inputs: &mut [Input],
    o: &ReportOptions,
    multi: bool,
    out: &mut dyn Write,
    warn: &mut dyn Write,
) -> Result<Summary> {
    // One merge over every input file, buffer and CPU.
    let mut streams = Vec::new();
    let mut owner = Vec::new(); // stream index -> (input, buffer)
    let mut max_name = 0usize;
    let mut instances = false;
    for (ii, i) in inputs.iter().enumerate() {
        for (bi, b) in i.dat.buffers.iter().enumerate() {
            if b.latency {
                continue;
            }
            if bi > 0 {
                instances = true;
                max_name = max_name.max(b.name.len());
            }
            for cd in &b.cpus {
                streams.push(crate::stream::CpuStream::new(&i.dat, bi, b, *cd, i.calc));
                owner.push(ii);
            }
        }
        if multi {
            let base = std::path::Path::new(&i.name)
                .file_name()
                .map(|s| s.to_string_lossy().len())
                .unwrap_or(0);
            max_name = max_name.max(base);
        }
    }
    let mut merge = Merge::new(streams);
    let mut filters: Vec<Option<Filter>> = Vec::new();
    for i in inputs.iter() {
        if o.filters.is_empty() {
            filters.push(None);
        } else {
            filters.push(Some(Filter::parse(&o.filters, &i.dat.registry)?));
        }
    }
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut sum = Summary::default();
    let mut csv_header = false;
    let look_ahead = o.mode != Mode::Summary && o.format == Format::Text && !o.raw;
    let mut held: (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    let mut perfetto = crate::perfetto::PerfettoWriter::new();
    while merge.advance() {
        let ii = merge
            .current_index()
            .and_then(|s| owner.get(s))
            .copied()
            .unwrap_or(0);
        // trace-cmd's funcgraph leaf look-ahead: an entry whose next record
        // (in merged order) is its own exit prints as one `func();` line and
        // the exit is consumed.
        let mut leaf: Option<u64> = None;
        // The entry's position fields; its bytes are copied into `held`
        // (the merge moves on when the next record is peeked).
        let mut hold: Option<Event<'static>> = None;
        if look_ahead {
            if let (Some(e), Some(input)) = (merge.event(), inputs.get(ii)) {
                if input.tep.is_funcgraph_entry(&e) {
                    held.0.clear();
                    held.0.extend_from_slice(e.data);
                    held.1.clear();
                    held.1.extend_from_slice(e.tail);
                    hold = Some(Event {
                        data: &[],
                        tail: &[],
                        ..e
                    });
                }
            }
            if let Some(h) = hold {
                let entry = Event {
                    data: &held.0,
                    tail: &held.1,
                    ..h
                };
                let same_file = merge.peek_next().is_some()
                    && merge.peek_next_index().and_then(|s| owner.get(s)).copied() == Some(ii);
                if same_file {
                    if let (Some(n), Some(input)) = (merge.peek_next(), inputs.get(ii)) {
                        leaf = input.tep.funcgraph_leaf(&entry, &n);
                    }
                }
                if leaf.is_some() {
                    merge.skip_next();
                }
            }
        }
        let e = match hold {
            Some(h) => Event {
                data: &held.0,
                tail: &held.1,
                ..h
            },
            None => match merge.event() {
                Some(e) => e,
                None => break,
            },
        };
        let Some(input) = inputs.get_mut(ii) else {
            continue;
        };
        if let Some(cpus) = &o.cpus {
            if !cpus.contains(&e.cpu) {
                continue;
            }
        }
        if let Some(Some(f)) = filters.get(ii) {
            let keep = f.matches(&input.dat.registry, &mut input.tep, &e);
            if keep == o.invert {
                continue;
            }
        }
        sum.events += 1;
        if e.missed > 0 {
            sum.lost_events += e.missed as u64;
        } else if e.missed < 0 {
            sum.lost_unknown += 1;
        }
        match (o.mode, o.format) {
            (Mode::Summary, _) => {
                let id = read_num(input.dat.endian, e.data, 0, 2) as u16;
                let name = input.tep.event_name(id).unwrap_or("(unknown)").to_string();
                *sum.per_event.entry(name).or_default() += 1;
                *sum.per_cpu.entry(e.cpu).or_default() += 1;
                let pid = read_num(input.dat.endian, e.data, 4, 4) as u32 as i32;
                let task = format!("{}-{pid}", String::from_utf8_lossy(input.tep.comm(pid)));
                *sum.per_task.entry(task).or_default() += 1;
                sum.first_ts.get_or_insert(e.ts);
                sum.last_ts = Some(e.ts);
                continue;
            }
            (_, Format::Perfetto) => {
                let rec = structured(input, &e);
                perfetto.event(&rec, &mut buf);
            }
            (_, Format::Json) | (_, Format::Csv) => {
                let rec = structured(input, &e);
                if o.format == Format::Json {
                    serde_json::to_writer(&mut buf, &rec).map_err(|x| Error::Output(x.into()))?;
                    buf.push(b'\n');
                } else {
                    if !csv_header {
                        buf.extend_from_slice(b"ts,cpu,buffer,pid,comm,event,info\n");
                        csv_header = true;
                    }
                    csv_row(&mut buf, &rec);
                }
            }
            (_, Format::Text) => {
                // rendered straight into the output buffer
                let line = &mut buf;
                if instances || multi {
                    let name: &str = if multi {
                        std::path::Path::new(&input.name)
                            .file_name()
                            .and_then(|s| s.to_str())
                            .unwrap_or("")
                    } else {
                        input
                            .dat
                            .buffers
                            .get(e.buffer)
                            .map(|b| b.name.as_str())
                            .unwrap_or("")
                    };
                    let name = if !multi && e.buffer == 0 { "" } else { name };
                    if name.is_empty() {
                        line.resize(line.len() + max_name + 2, b' ');
                    } else {
                        line.resize(line.len() + max_name - name.len().min(max_name), b' ');
                        line.extend_from_slice(name.as_bytes());
                        line.extend_from_slice(b": ");
                    }
                }
                let raw_for = !o.raw_events.is_empty() && {
                    let id = read_num(input.dat.endian, e.data, 0, 2) as u16;
                    input.tep.event_name(id).is_some_and(|n| {
                        o.raw_events
                            .iter()
                            .any(|r| r == n || r.ends_with(&format!(":{n}")))
                    })
                };
                if raw_for {
                    let mut t = TepRenderer::new(
                        &input.dat,
                        TepOptions {
                            raw: true,
                            ..input.tep.options()
                        },
                    );
                    t.render(&e, line);
                } else if let Some(d) = leaf {
                    input.tep.render_leaf(&e, d, line);
                } else {
                    // the DROPPED line comes after the file prefix, like trace-cmd
                    input.tep.render(&e, line);
                }
            }
        }
        if buf.len() >= 1 << 15 {
            wr(out, &buf)?;
            buf.clear();
        }
    }
    if o.mode == Mode::Summary {
        write_summary(&sum, o.format, &mut buf);
    } else if o.format == Format::Perfetto {
        perfetto.finish(&mut buf);
    }
    wr(out, &buf)?;
    for e in &merge.errors {
        let _ = writeln!(warn, "tracekit: error: {e}");
    }
    if !o.quiet {
        for w in merge.warnings() {
            let _ = writeln!(warn, "tracekit: warning: {w}");
        }
    }
    if let Some(e) = merge.errors.pop() {
        return Err(e);
    }
    Ok(sum)
}

/// One event as a typed record (JSON/CSV).
#[derive(Debug, serde::Serialize)]
pub struct StructuredEvent {
    /// Timestamp (ns).
    pub ts: u64,
    /// CPU.
    pub cpu: u32,
    /// Buffer (instance) name; empty for the top buffer.
    pub buffer: String,
    /// Task pid.
    pub pid: i32,
    /// Task comm.
    pub comm: String,
    /// `system:name`.
    pub event: String,
    /// Fields by name (numbers or strings).
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The rendered info text (as trace-cmd prints it).
    pub info: String,
    /// Events lost before this record (-1: unknown count).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_before: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn structured(input: &mut Input, e: &Event<'_>) -> StructuredEvent {
    let endian = input.dat.endian;
    let id = read_num(endian, e.data, 0, 2) as u16;
    let pid = read_num(endian, e.data, 4, 4) as u32 as i32;
    let mut fields = BTreeMap::new();
    let mut event = String::from("(unknown)");
    if let Some(ev) = input.dat.registry.get(id) {
        event = ev.full_name();
        let rec = traceevent::Record::new(e.ts, e.cpu, e.data, e.offset, endian).ok();
        for f in &ev.fields {
            let v = match &rec {
                Some(r) => serde_json::to_value(traceevent::FieldValue::decode(r, f))
                    .unwrap_or(serde_json::Value::Null),
                None => serde_json::Value::Null,
            };
            fields.insert(f.name.clone(), v);
        }
    }
    let mut line = Vec::new();
    let no_missed = Event { missed: 0, ..*e };
    input.tep.render(&no_missed, &mut line);
    let text = String::from_utf8_lossy(&line);
    let info = text
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(_, i)| i.trim_start().trim_end_matches('\n').to_string())
        .unwrap_or_default();
    StructuredEvent {
        ts: e.ts,
        cpu: e.cpu,
        buffer: input
            .dat
            .buffers
            .get(e.buffer)
            .map(|b| b.name.clone())
            .unwrap_or_default(),
        pid,
        comm: String::from_utf8_lossy(input.tep.comm(pid)).into_owned(),
        event,
        fields,
        info,
        lost_before: e.missed,
    }
}

fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn csv_row(out: &mut Vec<u8>, r: &StructuredEvent) {
    let _ = write!(out, "{},{},", r.ts, r.cpu);
    csv_field(out, &r.buffer);
    let _ = write!(out, ",{},", r.pid);
    csv_field(out, &r.comm);
    out.push(b',');
    csv_field(out, &r.event);
    out.push(b',');
    csv_field(out, &r.info);
    out.push(b'\n');
}

fn write_summary(s: &Summary, format: Format, out: &mut Vec<u8>) {
    if format == Format::Json {
        let _ = serde_json::to_writer(&mut *out, s);
        out.push(b'\n');
        return;
    }
    let fmt_ts = |t: Option<u64>| {
        t.map(|t| format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000))
            .unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(out, "events: {}", s.events);
    let _ = writeln!(out, "first: {}", fmt_ts(s.first_ts));
    let _ = writeln!(out, "last:  {}", fmt_ts(s.last_ts));
    let _ = writeln!(
        out,
        "lost events: {}{}",
        s.lost_events,
        if s.lost_unknown > 0 {
            format!(" (+{} sub-buffers with an unknown count)", s.lost_unknown)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "\nper event:");
    let mut ev: Vec<_> = s.per_event.iter().collect();
    ev.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in ev {
        let _ = writeln!(out, "  {v:>10}  {k}");
    }
    let _ = writeln!(out, "\nper cpu:");
    for (k, v) in &s.per_cpu {
        let _ = writeln!(out, "  {v:>10}  cpu{k}");
    }
    let _ = writeln!(out, "\nper task:");
    let mut t: Vec<_> = s.per_task.iter().collect();
    t.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in t {
        let _ = writeln!(out, "  {v:>10}  {k}");
    }
}
