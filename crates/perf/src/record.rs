//! `perf record`: sampling events into perf.data.
//!
//! One event fd per (event, CPU, task); one mmap ring per CPU (other fds of
//! that CPU redirect into it with `PERF_EVENT_IOC_SET_OUTPUT`). Records are
//! copied verbatim into the data section; side-band records for what existed
//! before recording (kernel map, existing processes' COMM/MMAP2) are
//! synthesized as perf does. Features: build ids, host facts, cmdline, event
//! descriptions and, for tracepoints, the tracing data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::attr::{flag, read, sample, types, Attr};
use crate::buildid::Hits;
use crate::data::{misc, rtype, BuildIdEntry, FileAttr, TracingData, Writer, WriterInfo};
use crate::error::{Error, Result};
use crate::event::{parse_cpu_list, parse_list};
use crate::sys::{self, EventFd, Ring};
use spawn::HeldChild;
use std::os::unix::process::ExitStatusExt;

/// How call chains are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGraph {
    /// None.
    None,
    /// Frame pointers (`PERF_SAMPLE_CALLCHAIN`).
    Fp,
    /// DWARF: call chain plus a copy of the user stack of this many bytes.
    Dwarf(u32),
}

impl CallGraph {
    /// Parses `fp`, `dwarf`, `dwarf,8192`.
    pub fn parse(s: &str) -> Result<CallGraph> {
        let mut it = s.split(',');
        match (it.next(), it.next()) {
            (Some("fp"), None) => Ok(CallGraph::Fp),
            (Some("dwarf"), None) => Ok(CallGraph::Dwarf(8192)),
            (Some("dwarf"), Some(n)) => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0 && *n <= 65528 && n % 8 == 0)
                .map(CallGraph::Dwarf)
                .ok_or_else(|| Error::BadArg {
                    what: "--call-graph",
                    value: s.into(),
                    why: "dwarf size must be a multiple of 8 up to 65528".into(),
                }),
            _ => Err(Error::BadArg {
                what: "--call-graph",
                value: s.into(),
                why: "expected fp or dwarf[,SIZE]".into(),
            }),
        }
    }
}

/// `perf record` options.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// `-e` (default: cycles, falling back to cpu-clock without a PMU).
    pub events: Vec<String>,
    /// The tracefs root tracepoint ids and formats are read from (`--tracefs`).
    pub tracefs: PathBuf,
    /// `-F`.
    pub freq: Option<u64>,
    /// `-c`.
    pub period: Option<u64>,
    /// `-g` / `--call-graph`.
    pub call_graph: CallGraph,
    /// `-a`.
    pub all_cpus: bool,
    /// `-C`.
    pub cpus: Option<String>,
    /// `-p`.
    pub pids: Option<String>,
    /// `-t`.
    pub tids: Option<String>,
    /// `-o`.
    pub output: PathBuf,
    /// Workload.
    pub command: Vec<String>,
    /// Command line to store in the CMDLINE feature.
    pub cmdline: Vec<String>,
    /// The build-id cache that receives the objects samples hit (perf's
    /// `--buildid-dir`); `None` (`-N/--no-buildid-cache`) leaves it alone.
    pub buildid_dir: Option<PathBuf>,
    /// `-B/--no-buildid`: no build ids in the file, no cache either.
    pub no_buildid: bool,
}

/// What a recording produced.
#[derive(Debug, Clone, Default)]
pub struct RecordSummary {
    /// Samples written.
    pub samples: u64,
    /// Lost records reported by the kernel.
    pub lost: u64,
    /// Bytes of the data section.
    pub bytes: u64,
    /// Workload exit code.
    pub exit_code: i32,
}

fn trailer(attr: &Attr, pid: i32, tid: i32, id: u64) -> Vec<u8> {
    let st = attr.sample_type;
    let mut v = Vec::new();
    if st & sample::TID != 0 {
        v.extend_from_slice(&pid.to_le_bytes());
        v.extend_from_slice(&tid.to_le_bytes());
    }
    if st & sample::TIME != 0 {
        v.extend_from_slice(&0u64.to_le_bytes());
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

fn record_bytes(ty: u32, misc: u16, body: &[u8], trailer: &[u8]) -> Vec<u8> {
    let size = 8 + body.len() + trailer.len();
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(&misc.to_le_bytes());
    v.extend_from_slice(&(size as u16).to_le_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(trailer);
    v
}

fn padded_name(name: &str) -> Vec<u8> {
    let n = (name.len() + 1).div_ceil(8) * 8;
    let mut v = name.as_bytes().to_vec();
    v.resize(n, 0);
    v
}

/// `[kernel.kallsyms]_text` MMAP as perf synthesizes it.
fn synth_kernel_mmap(attr: &Attr, id: u64) -> Option<Vec<u8>> {
    let ks = std::fs::read_to_string("/proc/kallsyms").ok()?;
    let text = ks.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let (a, _, n) = (it.next()?, it.next()?, it.next()?);
        (n == "_text")
            .then(|| u64::from_str_radix(a, 16).ok())
            .flatten()
    })?;
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_le_bytes());
    body.extend_from_slice(&0i32.to_le_bytes());
    body.extend_from_slice(&text.to_le_bytes());
    body.extend_from_slice(&(u64::MAX - text).to_le_bytes());
    body.extend_from_slice(&text.to_le_bytes());
    body.extend_from_slice(&padded_name("[kernel.kallsyms]_text"));
    Some(record_bytes(
        rtype::MMAP,
        misc::KERNEL,
        &body,
        &trailer(attr, -1, 0, id),
    ))
}

/// COMM and MMAP2 records for an existing process (from /proc).
fn synth_process(attr: &Attr, id: u64, pid: i32, out: &mut Vec<u8>, files: &mut BTreeSet<String>) {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let comm = comm.trim_end();
    let tasks: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .take(65536)
                .collect()
        })
        .unwrap_or_else(|_| vec![pid]);
    for tid in &tasks {
        let mut body = Vec::new();
        body.extend_from_slice(&pid.to_le_bytes());
        body.extend_from_slice(&tid.to_le_bytes());
        body.extend_from_slice(&padded_name(comm));
        out.extend(record_bytes(
            rtype::COMM,
            0,
            &body,
            &trailer(attr, pid, *tid, id),
        ));
    }
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    for line in maps.lines().take(100_000) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(perms), Some(off), Some(dev), Some(inode)) =
            (f.first(), f.get(1), f.get(2), f.get(3), f.get(4))
        else {
            continue;
        };
        if !perms.contains('x') {
            continue;
        }
        let name = f.get(5..).map(|p| p.join(" ")).unwrap_or_default();
        let name = if name.is_empty() {
            "//anon".to_string()
        } else {
            name
        };
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Ok(s), Ok(e), Ok(off)) = (
            u64::from_str_radix(s, 16),
            u64::from_str_radix(e, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        let (maj, min) = dev
            .split_once(':')
            .map(|(a, b)| {
                (
                    u32::from_str_radix(a, 16).unwrap_or(0),
                    u32::from_str_radix(b, 16).unwrap_or(0),
                )
            })
            .unwrap_or((0, 0));
        let ino: u64 = inode.parse().unwrap_or(0);
        let mut prot = libc::PROT_EXEC as u32;
        if perms.starts_with('r') {
            prot |= libc::PROT_READ as u32;
        }
        if perms.get(1..2) == Some("w") {
            prot |= libc::PROT_WRITE as u32;
        }
        let flags = if perms.ends_with('p') {
            libc::MAP_PRIVATE as u32
        } else {
            libc::MAP_SHARED as u32
        };
        let mut body = Vec::new();
        body.extend_from_slice(&pid.to_le_bytes());
        body.extend_from_slice(&pid.to_le_bytes());
        body.extend_from_slice(&s.to_le_bytes());
        body.extend_from_slice(&(e - s).to_le_bytes());
        body.extend_from_slice(&off.to_le_bytes());
        body.extend_from_slice(&maj.to_le_bytes());
        body.extend_from_slice(&min.to_le_bytes());
        body.extend_from_slice(&ino.to_le_bytes());
        body.extend_from_slice(&0u64.to_le_bytes());
        body.extend_from_slice(&prot.to_le_bytes());
        body.extend_from_slice(&flags.to_le_bytes());
        body.extend_from_slice(&padded_name(&name));
        if name.starts_with('/') {
            files.insert(name.clone());
        }
        out.extend(record_bytes(
            rtype::MMAP2,
            misc::USER,
            &body,
            &trailer(attr, pid, pid, id),
        ));
    }
}

/// Scans drained bytes for MMAP/MMAP2 file names, counts samples/lost and
/// marks the objects under sample IPs (`a0`: the layout all samples share).
fn scan(
    buf: &[u8],
    a0: &Attr,
    files: &mut BTreeSet<String>,
    hits: &mut Hits,
    sum: &mut RecordSummary,
) {
    let mut o = 0usize;
    for _ in 0..buf.len() / 8 + 1 {
        let (Some(ty), Some(size)) = (crate::data::u32_at(buf, o), crate::data::u16_at(buf, o + 6))
        else {
            break;
        };
        let size = size as usize;
        if size < 8 || o + size > buf.len() {
            break;
        }
        let body = &buf[o + 8..o + size];
        let cpumode = crate::data::u16_at(buf, o + 4).unwrap_or(0) & misc::CPUMODE_MASK;
        match ty {
            rtype::SAMPLE => {
                sum.samples += 1;
                let st = a0.sample_type;
                let mut p = 0;
                if st & sample::IDENTIFIER != 0 {
                    p += 8;
                }
                if st & sample::IP != 0 && st & sample::TID != 0 {
                    if let (Some(ip), Some(pid)) = (
                        crate::data::u64_at(body, p),
                        crate::data::u32_at(body, p + 8),
                    ) {
                        hits.sample(cpumode, pid as i32, ip);
                    }
                }
            }
            rtype::LOST => sum.lost += crate::data::u64_at(body, 8).unwrap_or(0),
            rtype::FORK => {
                if let (Some(pid), Some(ppid)) =
                    (crate::data::u32_at(body, 0), crate::data::u32_at(body, 4))
                {
                    hits.fork(pid as i32, ppid as i32);
                }
            }
            rtype::MMAP2 | rtype::MMAP => {
                let off = if ty == rtype::MMAP2 { 64 } else { 32 };
                if let Some(n) = body.get(off..) {
                    let end = n.iter().position(|c| *c == 0).unwrap_or(n.len());
                    let name = String::from_utf8_lossy(&n[..end]).into_owned();
                    let data = crate::data::u16_at(buf, o + 4).unwrap_or(0) & misc::MMAP_DATA != 0;
                    if let (false, Some(pid), Some(start), Some(len)) = (
                        data,
                        crate::data::u32_at(body, 0),
                        crate::data::u64_at(body, 8),
                        crate::data::u64_at(body, 16),
                    ) {
                        if cpumode == misc::KERNEL || cpumode == misc::USER {
                            hits.mmap(cpumode == misc::KERNEL, pid as i32, start, len, &name, None);
                        }
                    }
                    if name.starts_with('/') {
                        files.insert(name);
                    }
                }
            }
            _ => {}
        }
        o += size;
    }
}

fn hardware_available() -> bool {
    let mut a = Attr::new(types::HARDWARE, 0);
    a.flags = flag::DISABLED | flag::EXCLUDE_KERNEL;
    EventFd::open(&a, 0, -1, None).is_ok()
}

/// Records according to `opts`.
pub fn run(opts: &RecordOptions) -> Result<RecordSummary> {
    let events = if opts.events.is_empty() {
        vec![if hardware_available() {
            "cycles".to_string()
        } else {
            "cpu-clock".to_string()
        }]
    } else {
        opts.events.clone()
    };
    let specs = parse_list(&events, &opts.tracefs)?;
    let system_wide = opts.all_cpus || opts.cpus.is_some();
    let cpus: Vec<u32> = match &opts.cpus {
        Some(c) => parse_cpu_list(c)?,
        None => (0..sys::nr_cpus() as u32).collect(),
    };
    let threads: Option<Vec<i32>> = match (&opts.pids, &opts.tids) {
        (Some(p), _) => Some(
            p.split(',')
                .filter_map(|s| s.trim().parse::<i32>().ok())
                .flat_map(|pid| {
                    std::fs::read_dir(format!("/proc/{pid}/task"))
                        .map(|rd| {
                            rd.flatten()
                                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                                .collect::<Vec<i32>>()
                        })
                        .unwrap_or_default()
                })
                .collect(),
        ),
        (None, Some(t)) => Some(t.split(',').filter_map(|s| s.trim().parse().ok()).collect()),
        _ => None,
    };
    if !system_wide && threads.is_none() && opts.command.is_empty() {
        return Err(Error::BadArg {
            what: "arguments",
            value: String::new(),
            why: "give a command after --, or -a/-C/-p/-t".into(),
        });
    }
    let mut child = if opts.command.is_empty() {
        None
    } else {
        Some(HeldChild::spawn(&opts.command)?)
    };
    let multi = specs.len() > 1;
    let mut attrs: Vec<Attr> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let mut a = s.attr;
        let tp = a.type_ == types::TRACEPOINT;
        a.sample_type = sample::IP | sample::TID | sample::TIME | sample::PERIOD;
        if system_wide || tp {
            a.sample_type |= sample::CPU;
        }
        if tp {
            a.sample_type |= sample::RAW;
        }
        if multi {
            a.sample_type |= sample::IDENTIFIER;
        }
        match opts.call_graph {
            CallGraph::None => {}
            CallGraph::Fp => a.sample_type |= sample::CALLCHAIN,
            CallGraph::Dwarf(n) => {
                a.sample_type |= sample::CALLCHAIN | sample::REGS_USER | sample::STACK_USER;
                a.sample_regs_user = 0xff0fff; // x86_64 general registers, as perf asks
                a.sample_stack_user = n;
                a.flags |= flag::EXCLUDE_CALLCHAIN_USER;
            }
        }
        a.read_format = read::ID;
        a.flags |= flag::DISABLED | flag::SAMPLE_ID_ALL | flag::EXCLUDE_GUEST;
        if !system_wide && threads.is_none() {
            a.flags |= flag::INHERIT | flag::ENABLE_ON_EXEC;
        }
        if i == 0 {
            a.flags |= flag::MMAP | flag::COMM | flag::TASK | flag::MMAP2 | flag::COMM_EXEC;
        }
        // Tracepoints and dynamic PMUs (uprobes) count every hit.
        if tp || a.type_ > types::BREAKPOINT {
            a.sample_period = opts.period.unwrap_or(1);
        } else if let Some(c) = opts.period {
            a.sample_period = c;
        } else {
            a.sample_period = opts.freq.unwrap_or(4000);
            a.flags |= flag::FREQ;
        }
        a.wakeup_events = 0;
        attrs.push(a);
    }
    let tasks: Vec<i32> = if system_wide {
        vec![-1]
    } else if let Some(t) = &threads {
        t.clone()
    } else {
        vec![child.as_ref().map(|c| c.pid() as i32).unwrap_or(-1)]
    };
    let mut fds: Vec<Vec<EventFd>> = Vec::new();
    let mut rings: Vec<Ring> = Vec::new();
    let mut file_attrs: Vec<FileAttr> = specs
        .iter()
        .zip(&attrs)
        .map(|(s, a)| FileAttr {
            attr: *a,
            ids: Vec::new(),
            name: s.name.clone(),
        })
        .collect();
    for (ei, a) in attrs.iter().enumerate() {
        let mut v = Vec::new();
        for cpu in &cpus {
            for t in &tasks {
                match EventFd::open(a, *t, *cpu as i32, None) {
                    Ok(fd) => {
                        if let (Ok(id), Some(fa)) = (fd.id(), file_attrs.get_mut(ei)) {
                            fa.ids.push(id);
                        }
                        v.push(fd);
                    }
                    Err(e)
                        if e.raw_os_error() == Some(libc::ENODEV)
                            || e.raw_os_error() == Some(libc::ENXIO) => {}
                    Err(e) => {
                        return Err(Error::Open {
                            event: specs.get(ei).map(|s| s.name.clone()).unwrap_or_default(),
                            cpu: *cpu as i32,
                            pid: *t,
                            source: e,
                        });
                    }
                }
            }
        }
        fds.push(v);
    }
    // One ring per CPU: the first fd opened on that CPU; the rest redirect into it.
    // DWARF mode copies user stacks into every sample: give it 4 MiB per CPU.
    let ring_pages = if matches!(opts.call_graph, CallGraph::Dwarf(_)) {
        1024
    } else {
        128
    };
    let per_cpu = tasks.len();
    let mut ring_owner: Vec<Option<usize>> = vec![None; cpus.len()];
    for (ei, v) in fds.iter().enumerate() {
        for (k, fd) in v.iter().enumerate() {
            let ci = k / per_cpu.max(1);
            match ring_owner.get(ci).copied().flatten() {
                None => {
                    let ring = Ring::map(fd, ring_pages).map_err(|source| Error::Sys {
                        what: "mmap of the perf ring".into(),
                        source,
                    })?;
                    rings.push(ring);
                    if let Some(slot) = ring_owner.get_mut(ci) {
                        *slot = Some(ei * 1_000_000 + k);
                    }
                }
                Some(owner) => {
                    let (oe, ok) = (owner / 1_000_000, owner % 1_000_000);
                    if let Some(target) = fds.get(oe).and_then(|x| x.get(ok)) {
                        fd.set_output(target).map_err(|source| Error::Sys {
                            what: "PERF_EVENT_IOC_SET_OUTPUT".into(),
                            source,
                        })?;
                    }
                }
            }
        }
    }
    let mut w = Writer::create(&opts.output)?;
    let mut files = BTreeSet::new();
    let mut hits = Hits::new();
    let first_id = file_attrs
        .first()
        .and_then(|a| a.ids.first().copied())
        .unwrap_or(0);
    let a0 = attrs.first().copied().unwrap_or_default();
    let mut synth = Vec::new();
    if let Some(k) = synth_kernel_mmap(&a0, first_id) {
        synth.extend(k);
    }
    let existing: Vec<i32> = if system_wide {
        std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                    .take(1_000_000)
                    .collect()
            })
            .unwrap_or_default()
    } else if let Some(p) = &opts.pids {
        p.split(',').filter_map(|s| s.trim().parse().ok()).collect()
    } else {
        Vec::new()
    };
    for pid in existing {
        synth_process(&a0, first_id, pid, &mut synth, &mut files);
    }
    scan(
        &synth,
        &a0,
        &mut files,
        &mut hits,
        &mut RecordSummary::default(),
    );
    w.write_records(&synth)?;
    w.write_records(&record_bytes(rtype::FINISHED_INIT, 0, &[], &[]))?;
    let mut sum = RecordSummary::default();
    if child.is_none() || system_wide || threads.is_some() {
        for v in &fds {
            for fd in v {
                fd.enable().map_err(|source| Error::Sys {
                    what: "enable".into(),
                    source,
                })?;
            }
        }
    }
    sys::catch_sigint();
    if let Some(c) = child.as_mut() {
        c.release()?;
    }
    let mut buf = Vec::with_capacity(1 << 20);
    let mut status = 0;
    let mut done = false;
    let mut first_time = u64::MAX;
    let mut last_time = 0u64;
    for _ in 0..u64::MAX / 2 {
        if let Some(c) = child.as_mut() {
            if let Some(st) = c.try_wait() {
                status = st.into_raw();
                done = true;
            }
        }
        if sys::interrupted() {
            done = true;
        }
        let mut wrote = false;
        for r in rings.iter_mut() {
            buf.clear();
            if r.drain(&mut buf) > 0 {
                scan(&buf, &a0, &mut files, &mut hits, &mut sum);
                times(&buf, &a0, &mut first_time, &mut last_time);
                w.write_records(&buf)?;
                wrote = true;
            }
        }
        if wrote {
            w.finished_round()?;
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(if ring_pages > 128 { 5 } else { 20 }));
    }
    for v in &fds {
        for fd in v {
            let _ = fd.disable();
        }
    }
    for r in rings.iter_mut() {
        buf.clear();
        if r.drain(&mut buf) > 0 {
            scan(&buf, &a0, &mut files, &mut hits, &mut sum);
            times(&buf, &a0, &mut first_time, &mut last_time);
            w.write_records(&buf)?;
        }
    }
    w.finished_round()?;
    sum.bytes = w.data_len();
    let mut info = WriterInfo::from_host();
    info.cmdline = opts.cmdline.clone();
    if first_time <= last_time {
        info.sample_time = Some((first_time, last_time));
    }
    let tps: Vec<(String, String)> = specs
        .iter()
        .filter(|s| s.attr.type_ == types::TRACEPOINT)
        .filter_map(|s| {
            s.name
                .split_once(':')
                .map(|(a, b)| (a.to_string(), b.split(':').next().unwrap_or(b).to_string()))
        })
        .collect();
    if !tps.is_empty() {
        info.tracing = Some(TracingData::from_tracefs(&opts.tracefs, &tps)?);
    }
    // HEADER_BUILD_ID: the kernel and every mapped file (perf lists only
    // those with hits; the others help name call chains elsewhere).
    let host = crate::session::host_paths();
    if !opts.no_buildid {
        if let Some(k) = host.host_kernel_build_id.clone() {
            info.build_ids.push(BuildIdEntry {
                misc: misc::KERNEL,
                pid: -1,
                build_id: k,
                filename: symbols::buildid_cache::KERNEL.into(),
            });
        }
        for f in &files {
            if let Some(b) = symbols::symtab::build_id(Path::new(f)) {
                info.build_ids.push(BuildIdEntry {
                    misc: misc::USER,
                    pid: -1,
                    build_id: b,
                    filename: f.clone(),
                });
            }
        }
    }
    w.finish(&file_attrs, &info)?;
    // perf_session__cache_build_ids: the objects samples hit, warnings only.
    if let (Some(dir), false) = (&opts.buildid_dir, opts.no_buildid) {
        let hit: Vec<BuildIdEntry> = info
            .build_ids
            .iter()
            .filter(|e| hits.is_hit(&e.filename))
            .cloned()
            .collect();
        match crate::buildid::cache(dir, &hit, &host) {
            Err(err) => log::warn!("build-id cache: {err}; nothing cached (-N skips the cache)"),
            Ok(failed) => {
                for (e, err) in failed {
                    log::warn!(
                        "build-id cache {}: could not cache {} ({}): {err}",
                        dir.display(),
                        e.filename,
                        e.hex()
                    );
                }
            }
        }
    }
    sum.exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        0
    };
    Ok(sum)
}

fn times(buf: &[u8], a0: &Attr, first: &mut u64, last: &mut u64) {
    if a0.sample_type & sample::TIME == 0 {
        return;
    }
    let mut o = 0usize;
    for _ in 0..buf.len() / 8 + 1 {
        let (Some(ty), Some(size)) = (crate::data::u32_at(buf, o), crate::data::u16_at(buf, o + 6))
        else {
            break;
        };
        let size = size as usize;
        if size < 8 || o + size > buf.len() {
            break;
        }
        if ty == rtype::SAMPLE {
            let mut p = o + 8;
            if a0.sample_type & sample::IDENTIFIER != 0 {
                p += 8;
            }
            if a0.sample_type & sample::IP != 0 {
                p += 8;
            }
            if a0.sample_type & sample::TID != 0 {
                p += 8;
            }
            if let Some(t) = crate::data::u64_at(buf, p) {
                *first = (*first).min(t);
                *last = (*last).max(t);
            }
        }
        o += size;
    }
}
