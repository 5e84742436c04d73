//! [`TraceDat`]: the metadata of a trace.dat file, v6 (sequential blocks) or
//! v7 (sections, string table, compressed metadata), read eagerly, while the
//! per-CPU ring-buffer data is only located here and streamed later by
//! [`crate::stream`].

use crate::compress::Algorithm;
use crate::error::{Error, Result};
use crate::io::{text, Cur, Source, SrcCur};
use std::collections::HashSet;
use std::path::Path;
use traceevent::{Cmdlines, Endian, EventRegistry, HeaderPage, Kallsyms, LongSize, PrintkFormats};

/// Option (and v7 section) ids of trace.dat.
pub mod opt {
    /// End of options (v7: holds the offset of the next options section).
    pub const DONE: u16 = 0;
    /// `--date`: offset (µs, `0x…` text) from trace clock to wall clock.
    pub const DATE: u16 = 1;
    /// Per-CPU `stats` text.
    pub const CPUSTAT: u16 = 2;
    /// An instance's buffer (v7: also the top buffer).
    pub const BUFFER: u16 = 3;
    /// Contents of `trace_clock`.
    pub const TRACECLOCK: u16 = 4;
    /// `uname -a`-like text.
    pub const UNAME: u16 = 5;
    /// A `--hook` specification.
    pub const HOOK: u16 = 6;
    /// `--ts-offset` value (ns).
    pub const OFFSET: u16 = 7;
    /// Number of CPUs (u32).
    pub const CPUCOUNT: u16 = 8;
    /// trace-cmd version text.
    pub const VERSION: u16 = 9;
    /// `--proc-map` text.
    pub const PROCMAPS: u16 = 10;
    /// Random trace id (u64).
    pub const TRACEID: u16 = 11;
    /// Host/guest time synchronisation.
    pub const TIME_SHIFT: u16 = 12;
    /// Guest description.
    pub const GUEST: u16 = 13;
    /// TSC to ns conversion (mult, shift, offset).
    pub const TSC2NSEC: u16 = 14;
    /// v7 string table.
    pub const STRINGS: u16 = 15;
    /// v7 section: header_page + header_event.
    pub const HEADER_INFO: u16 = 16;
    /// v7 section: ftrace event formats.
    pub const FTRACE_EVENTS: u16 = 17;
    /// v7 section: event formats by system.
    pub const EVENT_FORMATS: u16 = 18;
    /// v7 section: kallsyms.
    pub const KALLSYMS: u16 = 19;
    /// v7 section: printk formats.
    pub const PRINTK: u16 = 20;
    /// v7 section: saved cmdlines.
    pub const CMDLINES: u16 = 21;
    /// v7: a latency (text) buffer.
    pub const BUFFER_TEXT: u16 = 22;

    /// trace-cmd's name of an option id (as `trace-cmd dump` prints it).
    pub fn name(id: u16) -> Option<&'static str> {
        Some(match id {
            DONE => "DONE",
            DATE => "DATE",
            CPUSTAT => "CPUSTAT",
            BUFFER => "BUFFER",
            TRACECLOCK => "TRACECLOCK",
            UNAME => "UNAME",
            HOOK => "HOOK",
            OFFSET => "OFFSET",
            CPUCOUNT => "CPUCOUNT",
            VERSION => "VERSION",
            PROCMAPS => "PROCMAPS",
            TRACEID => "TRACEID",
            TIME_SHIFT => "TIME_SHIFT",
            GUEST => "GUEST",
            TSC2NSEC => "TSC2NSEC",
            STRINGS => "STRINGS",
            HEADER_INFO => "HEADER_INFO",
            FTRACE_EVENTS => "FTRACE_EVENTS",
            EVENT_FORMATS => "EVENT_FORMATS",
            KALLSYMS => "KALLSYMS",
            PRINTK => "PRINTK",
            CMDLINES => "CMDLINES",
            BUFFER_TEXT => "BUFFER_TEXT",
            _ => return None,
        })
    }
}

/// Bounds that keep a corrupt file from driving loops or allocations.
const MAX_FORMATS: u32 = 100_000;
const MAX_SECTIONS: usize = 100_000;
const MAX_CPUS: u32 = 8192;
const MAX_META: u64 = 1 << 30;

/// One option as stored in the file.
#[derive(Debug, Clone)]
pub struct OptionEntry {
    /// Option id ([`opt`]).
    pub id: u16,
    /// Raw option data.
    pub data: Vec<u8>,
}

/// Location of one CPU's ring-buffer data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuData {
    /// CPU number.
    pub cpu: u32,
    /// File offset of the data.
    pub offset: u64,
    /// Size in the file (compressed: excluding the leading chunk count).
    pub size: u64,
}

/// One ring buffer: the top level (`name` empty) or an instance (`-B`).
#[derive(Debug, Clone)]
pub struct Buffer {
    /// Instance name; empty for the top buffer.
    pub name: String,
    /// Trace clock (v7 BUFFER option; v6: the file's clock).
    pub clock: String,
    /// Sub-buffer size in bytes.
    pub page_size: u32,
    /// CPU data is stored in compressed chunks.
    pub compressed: bool,
    /// Per-CPU data.
    pub cpus: Vec<CpuData>,
    /// Per-CPU `stats` texts of this buffer (CPUSTAT options).
    pub cpustats: Vec<String>,
    /// Holds latency text instead of ring-buffer pages (BUFFER_TEXT).
    pub latency: bool,
}

/// Parsed metadata of a trace.dat file.
#[derive(Debug)]
pub struct TraceDat {
    /// The bytes.
    pub source: Source,
    /// File format version (6 or 7).
    pub version: u32,
    /// Byte order.
    pub endian: Endian,
    /// `sizeof(long)` of the recording user space (header byte).
    pub long_size_header: u8,
    /// Host page size.
    pub page_size: u32,
    /// v7 compression algorithm.
    pub compression: Algorithm,
    /// v7 compression name and version as stored.
    pub compression_text: (String, String),
    /// `events/header_page` text.
    pub header_page_text: String,
    /// `events/header_event` text.
    pub header_event_text: String,
    /// Parsed header page.
    pub header_page: HeaderPage,
    /// Number of ftrace (internal) event formats.
    pub ftrace_format_count: usize,
    /// Systems with their number of formats.
    pub systems: Vec<(String, usize)>,
    /// Raw kallsyms text.
    pub kallsyms_text: Vec<u8>,
    /// Raw printk formats text.
    pub printk_text: Vec<u8>,
    /// Raw saved cmdlines text.
    pub cmdlines_text: Vec<u8>,
    /// Number of CPUs.
    pub cpus: u32,
    /// All options in file order (v7: across all option sections).
    pub options: Vec<OptionEntry>,
    /// Buffers: the top buffer first, then instances in file order.
    pub buffers: Vec<Buffer>,
    /// Trace clock of the top buffer (`local`, `x86-tsc`, …).
    pub trace_clock: String,
    /// Whether the TRACECLOCK option was present (trace-cmd's `use_trace_clock`).
    pub use_trace_clock: bool,
    /// Timestamps are nanoseconds printed as `sec.usec` (trace-cmd's `TRACECMD_FL_IN_USECS`).
    pub in_usecs: bool,
    /// DATE offset in ns (applied unless `--nodate`).
    pub date_offset_ns: i64,
    /// OFFSET option value (ns).
    pub offset_ns: i64,
    /// TSC2NSEC (mult, shift, offset).
    pub tsc2nsec: Option<(u32, u32, u64)>,
    /// UNAME option text.
    pub uname: Option<String>,
    /// VERSION option text.
    pub tracecmd_version: Option<String>,
    /// Warnings found while reading (unknown options…).
    pub warnings: Vec<String>,
    /// Event formats.
    pub registry: EventRegistry,
    /// Parsed kallsyms (on first use, see [`TraceDat::kallsyms`]).
    kallsyms: std::sync::OnceLock<Kallsyms>,
    /// Parsed printk formats.
    pub printk: PrintkFormats,
    /// Parsed cmdlines.
    pub cmdlines: Cmdlines,
    /// Event ids whose format failed to parse, with the reason.
    pub bad_formats: Vec<String>,
}

/// Raw metadata blocks, before parsing.
#[derive(Default)]
struct Meta {
    header_page: Vec<u8>,
    header_event: Vec<u8>,
    ftrace: Vec<Vec<u8>>,
    systems: Vec<(String, Vec<Vec<u8>>)>,
    kallsyms: Vec<u8>,
    printk: Vec<u8>,
    cmdlines: Vec<u8>,
}

impl TraceDat {
    /// Opens and reads the metadata of a trace.dat file.
    pub fn open(path: &Path) -> Result<TraceDat> {
        Self::from_source(Source::open(path)?)
    }

    /// Reads the metadata from in-memory bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<TraceDat> {
        Self::from_source(Source::Mem(bytes.into()))
    }

    /// Reads the metadata from a source.
    pub fn from_source(src: Source) -> Result<TraceDat> {
        let mut c = SrcCur::new(&src, 0, Endian::Little, "initial header");
        let magic = c.bytes(10)?;
        if magic.get(..3) != Some(&[0x17, 0x08, 0x44]) || magic.get(3..10) != Some(b"tracing") {
            return Err(Error::BadMagic);
        }
        let vstr = c.cstr(64)?;
        let version: u32 = vstr
            .parse()
            .map_err(|_| Error::corrupt("initial header", 10, format!("bad version '{vstr}'")))?;
        let endian = match c.u8()? {
            0 => Endian::Little,
            _ => Endian::Big,
        };
        c.endian = endian;
        let long_size_header = c.u8()?;
        let page_size = c.u32()?;
        if !(version == 6 || version == 7) {
            return Err(Error::Unsupported(format!("file version {version}")));
        }
        let mut d = TraceDat {
            source: src.clone(),
            version,
            endian,
            long_size_header,
            page_size,
            compression: Algorithm::None,
            compression_text: (String::new(), String::new()),
            header_page_text: String::new(),
            header_event_text: String::new(),
            header_page: HeaderPage {
                timestamp_offset: 0,
                commit_offset: 8,
                commit_size: 8,
                data_offset: 16,
                data_size: 4080,
            },
            ftrace_format_count: 0,
            systems: Vec::new(),
            kallsyms_text: Vec::new(),
            printk_text: Vec::new(),
            cmdlines_text: Vec::new(),
            cpus: 0,
            options: Vec::new(),
            buffers: Vec::new(),
            trace_clock: String::from("local"),
            use_trace_clock: false,
            in_usecs: true,
            date_offset_ns: 0,
            offset_ns: 0,
            tsc2nsec: None,
            uname: None,
            tracecmd_version: None,
            warnings: Vec::new(),
            registry: EventRegistry::new(LongSize::Eight, endian),
            kallsyms: std::sync::OnceLock::new(),
            printk: PrintkFormats::new(),
            cmdlines: Cmdlines::new(),
            bad_formats: Vec::new(),
        };
        let meta = if version == 6 {
            d.read_v6(&mut c)?
        } else {
            d.read_v7(&mut c)?
        };
        d.finish(meta)?;
        Ok(d)
    }

    fn read_v6(&mut self, c: &mut SrcCur<'_>) -> Result<Meta> {
        let mut m = Meta::default();
        read_headers_seq(c, &mut m)?;
        read_ftrace_seq(c, &mut m)?;
        read_events_seq(c, &mut m)?;
        c.section("kallsyms");
        let n = c.u32()?;
        m.kallsyms = c.bytes(u64::from(n))?;
        c.section("printk");
        let n = c.u32()?;
        m.printk = c.bytes(u64::from(n))?;
        c.section("cmdlines");
        let n = c.u64()?;
        check_meta(n, "cmdlines", c.pos)?;
        m.cmdlines = c.bytes(n)?;
        c.section("cpus");
        self.cpus = c.u32()?;
        if self.cpus > MAX_CPUS {
            return Err(Error::corrupt(
                "cpus",
                c.pos - 4,
                format!("{} CPUs", self.cpus),
            ));
        }
        // options / latency / flyrecord tags
        let mut extra: Vec<(u64, String)> = Vec::new();
        let tag = self.read_v6_tags(c, &mut extra, true)?;
        let mut top = Buffer {
            name: String::new(),
            clock: String::new(),
            page_size: self.page_size,
            compressed: false,
            cpus: Vec::new(),
            cpustats: Vec::new(),
            latency: tag == Tag::Latency,
        };
        if tag == Tag::Flyrecord {
            top.cpus = read_fly_cpus(c, self.cpus)?;
            if self.use_trace_clock {
                c.section("flyrecord trace clock");
                let ok = (|| -> Result<String> {
                    let n = c.u64()?;
                    check_meta(n, "flyrecord trace clock", c.pos)?;
                    Ok(text(&c.bytes(n)?))
                })();
                match ok {
                    Ok(t) => self.parse_trace_clock(&t),
                    Err(_) => {
                        self.warnings
                            .push("File has trace_clock bug, using local clock".to_string());
                        self.parse_trace_clock("[local]");
                    }
                }
            }
        }
        top.clock = self.trace_clock.clone();
        self.buffers.push(top);
        for (off, name) in extra {
            let mut bc = SrcCur::new(c.src, off, self.endian, &format!("buffer '{name}'"));
            let mut none = Vec::new();
            let tag = self.read_v6_tags(&mut bc, &mut none, false)?;
            let cpus = if tag == Tag::Flyrecord {
                read_fly_cpus(&mut bc, self.cpus)?
            } else {
                Vec::new()
            };
            self.buffers.push(Buffer {
                name,
                clock: self.trace_clock.clone(),
                page_size: self.page_size,
                compressed: false,
                cpus,
                cpustats: Vec::new(),
                latency: tag == Tag::Latency,
            });
        }
        Ok(m)
    }

    fn read_v6_tags(
        &mut self,
        c: &mut SrcCur<'_>,
        extra: &mut Vec<(u64, String)>,
        top: bool,
    ) -> Result<Tag> {
        for _ in 0..1000 {
            c.section("options tag");
            let at = c.pos;
            let tag = c.bytes(10)?;
            if tag.starts_with(b"options") {
                c.section("options");
                for _ in 0..100_000 {
                    let id = c.u16()?;
                    if id == opt::DONE {
                        break;
                    }
                    let size = c.u32()?;
                    let data = c.bytes(u64::from(size))?;
                    if top {
                        self.handle_option(id, data, extra, c.pos)?;
                    }
                }
                continue;
            }
            if tag.starts_with(b"latency") {
                return Ok(Tag::Latency);
            }
            if tag.starts_with(b"flyrecord") {
                return Ok(Tag::Flyrecord);
            }
            return Err(Error::corrupt(
                "options tag",
                at,
                format!(
                    "expected options/latency/flyrecord, found {:?}",
                    String::from_utf8_lossy(&tag)
                ),
            ));
        }
        Err(Error::corrupt(
            "options tag",
            c.pos,
            "too many option blocks",
        ))
    }

    fn read_v7(&mut self, c: &mut SrcCur<'_>) -> Result<Meta> {
        c.section("compression header");
        let name = c.cstr(64)?;
        let ver = c.cstr(64)?;
        self.compression = Algorithm::from_name(&name)?;
        self.compression_text = (name, ver);
        c.section("initial header");
        let first_opts = c.u64()?;
        let sections_start = c.pos;
        // The string table: all STRINGS sections, found by walking every section.
        let strings = self.collect_strings(c.src, sections_start)?;
        let _ = strings;
        // Options sections chain.
        let mut section_offsets: Vec<(u16, u64)> = Vec::new();
        let mut buffer_opts: Vec<Vec<u8>> = Vec::new();
        let mut next = first_opts;
        let mut seen = HashSet::new();
        while next != 0 {
            if !seen.insert(next) || seen.len() > MAX_SECTIONS {
                return Err(Error::corrupt(
                    "options",
                    next,
                    "options sections form a loop",
                ));
            }
            let (id, _flags, body) = self.read_section(c.src, next, "options")?;
            if id != opt::DONE {
                return Err(Error::corrupt(
                    "options",
                    next,
                    format!("section id {id} is not an options section"),
                ));
            }
            let mut oc = Cur::new(&body, self.endian, "options", 0);
            next = 0;
            let mut done = false;
            while oc.remaining() > 0 {
                let id = oc.u16()?;
                let size = oc.u32()?;
                let data = oc.bytes(size as usize)?;
                match id {
                    opt::DONE => {
                        next = Cur::new(data, self.endian, "options DONE", 0).u64()?;
                        done = true;
                        break;
                    }
                    opt::HEADER_INFO
                    | opt::FTRACE_EVENTS
                    | opt::EVENT_FORMATS
                    | opt::KALLSYMS
                    | opt::PRINTK
                    | opt::CMDLINES => {
                        if data.len() >= 8 {
                            let off = Cur::new(data, self.endian, "options", 0).u64()?;
                            section_offsets.push((id, off));
                        }
                        self.options.push(OptionEntry {
                            id,
                            data: data.to_vec(),
                        });
                    }
                    opt::BUFFER | opt::BUFFER_TEXT => {
                        buffer_opts.push(data.to_vec());
                        self.options.push(OptionEntry {
                            id,
                            data: data.to_vec(),
                        });
                    }
                    _ => {
                        let mut none = Vec::new();
                        self.handle_option(id, data.to_vec(), &mut none, next)?;
                    }
                }
            }
            if !done {
                return Err(Error::corrupt(
                    "options",
                    next,
                    "options section without DONE",
                ));
            }
        }
        let mut m = Meta::default();
        for (id, off) in section_offsets {
            let (sid, _flags, body) = self.read_section(c.src, off, section_name(id))?;
            if sid != id {
                return Err(Error::corrupt(
                    section_name(id),
                    off,
                    format!("section id {sid}, expected {id}"),
                ));
            }
            let mut bc = Cur::new(&body, self.endian, section_name(id), 0);
            match id {
                opt::HEADER_INFO => {
                    let t = bc.bytes(12)?;
                    if t != b"header_page\0" {
                        return Err(Error::corrupt("headers", 0, "missing header_page"));
                    }
                    let n = bc.u64()?;
                    m.header_page = bc.bytes(usize_of(n)?)?.to_vec();
                    let t = bc.bytes(13)?;
                    if t != b"header_event\0" {
                        return Err(Error::corrupt("headers", 12, "missing header_event"));
                    }
                    let n = bc.u64()?;
                    m.header_event = bc.bytes(usize_of(n)?)?.to_vec();
                }
                opt::FTRACE_EVENTS => {
                    let n = bc.u32()?;
                    check_count(n, "ftrace events")?;
                    for _ in 0..n {
                        let sz = bc.u64()?;
                        m.ftrace.push(bc.bytes(usize_of(sz)?)?.to_vec());
                    }
                }
                opt::EVENT_FORMATS => {
                    let n = bc.u32()?;
                    check_count(n, "event formats")?;
                    for _ in 0..n {
                        let sys = bc.cstr()?;
                        let ne = bc.u32()?;
                        check_count(ne, "event formats")?;
                        let mut v = Vec::new();
                        for _ in 0..ne {
                            let sz = bc.u64()?;
                            v.push(bc.bytes(usize_of(sz)?)?.to_vec());
                        }
                        m.systems.push((sys, v));
                    }
                }
                opt::KALLSYMS => {
                    let n = bc.u32()?;
                    m.kallsyms = bc.bytes(n as usize)?.to_vec();
                }
                opt::PRINTK => {
                    let n = bc.u32()?;
                    m.printk = bc.bytes(n as usize)?.to_vec();
                }
                opt::CMDLINES => {
                    let n = bc.u64()?;
                    m.cmdlines = bc.bytes(usize_of(n)?)?.to_vec();
                }
                _ => {}
            }
        }
        // Buffers (the top one has an empty name; keep file order but top first).
        for data in buffer_opts {
            let mut b = Cur::new(&data, self.endian, "BUFFER option", 0);
            let off = b.u64()?;
            let name = b.cstr()?;
            let clock = b.cstr()?;
            let is_text = b.remaining() == 0;
            let mut buf = Buffer {
                name,
                clock,
                page_size: self.page_size,
                compressed: false,
                cpus: Vec::new(),
                cpustats: Vec::new(),
                latency: is_text,
            };
            if !is_text {
                buf.page_size = b.u32()?;
                let n = b.u32()?;
                if n > MAX_CPUS {
                    return Err(Error::corrupt("BUFFER option", 0, format!("{n} CPUs")));
                }
                for _ in 0..n {
                    let cpu = b.u32()?;
                    let offset = b.u64()?;
                    let size = b.u64()?;
                    buf.cpus.push(CpuData { cpu, offset, size });
                }
                // section flags tell whether the data is compressed
                let mut sc = SrcCur::new(c.src, off, self.endian, "buffer section");
                let _id = sc.u16()?;
                let flags = sc.u16()?;
                buf.compressed = flags & 1 != 0;
            }
            if buf.name.is_empty() {
                self.buffers.insert(0, buf);
            } else {
                self.buffers.push(buf);
            }
        }
        if let Some(top) = self.buffers.first() {
            if top.name.is_empty() && !self.use_trace_clock {
                let clock = top.clock.clone();
                self.parse_trace_clock(&format!("[{clock}]"));
            }
        }
        if self.cpus == 0 {
            self.cpus = self
                .buffers
                .first()
                .map(|b| b.cpus.len() as u32)
                .unwrap_or(0);
        }
        Ok(m)
    }

    /// Walks all sections from `start` to EOF, collecting STRINGS bodies.
    fn collect_strings(&self, src: &Source, start: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut off = start;
        let len = src.len();
        for _ in 0..MAX_SECTIONS {
            if off.saturating_add(16) > len {
                break;
            }
            let mut c = SrcCur::new(src, off, self.endian, "section header");
            let id = c.u16()?;
            let _flags = c.u16()?;
            let _desc = c.u32()?;
            let size = c.u64()?;
            if id == opt::STRINGS {
                let (_, _, body) = self.read_section(src, off, "strings")?;
                out.extend_from_slice(&body);
            }
            off = match c.pos.checked_add(size) {
                Some(o) => o,
                None => break,
            };
        }
        Ok(out)
    }

    /// Reads a v7 section at `off`: (id, flags, decompressed body).
    pub fn read_section(&self, src: &Source, off: u64, name: &str) -> Result<(u16, u16, Vec<u8>)> {
        let mut c = SrcCur::new(src, off, self.endian, name);
        let id = c.u16()?;
        let flags = c.u16()?;
        let _desc = c.u32()?;
        let size = c.u64()?;
        check_meta(size, name, off)?;
        if flags & 1 != 0 {
            let csize = c.u32()?;
            let usize_ = c.u32()?;
            let at = c.pos;
            let data = c.bytes(u64::from(csize))?;
            let mut out = Vec::new();
            self.compression
                .decompress_into(&data, usize_, &mut out, name, at)?;
            Ok((id, flags, out))
        } else {
            Ok((id, flags, c.bytes(size)?))
        }
    }

    fn handle_option(
        &mut self,
        id: u16,
        data: Vec<u8>,
        extra: &mut Vec<(u64, String)>,
        at: u64,
    ) -> Result<()> {
        let s = || text(&data);
        match id {
            opt::DATE => {
                self.date_offset_ns = parse_c_int(&s()).wrapping_mul(1000);
            }
            opt::OFFSET => {
                self.offset_ns = self.offset_ns.wrapping_add(parse_c_int(&s()));
            }
            opt::TRACECLOCK => {
                self.use_trace_clock = true;
                self.parse_trace_clock(&s());
            }
            opt::UNAME => self.uname = Some(s()),
            opt::VERSION => self.tracecmd_version = Some(s()),
            opt::CPUCOUNT => {
                if let Some(v) = self.endian.read_u32(&data, 0) {
                    if v <= MAX_CPUS {
                        self.cpus = v;
                    }
                }
            }
            opt::TSC2NSEC => {
                if data.len() >= 16 {
                    let mult = self.endian.read_u32(&data, 0).unwrap_or(0);
                    let shift = self.endian.read_u32(&data, 4).unwrap_or(0);
                    let offset = self.endian.read_u64(&data, 8).unwrap_or(0);
                    self.tsc2nsec = Some((mult, shift, offset));
                    self.in_usecs = true;
                }
            }
            opt::BUFFER => {
                let mut c = Cur::new(&data, self.endian, "BUFFER option", at);
                let off = c.u64()?;
                let name = c.cstr()?;
                extra.push((off, name));
            }
            opt::CPUSTAT
            | opt::HOOK
            | opt::PROCMAPS
            | opt::TRACEID
            | opt::TIME_SHIFT
            | opt::GUEST
            | opt::BUFFER_TEXT
            | opt::STRINGS
            | opt::HEADER_INFO
            | opt::FTRACE_EVENTS
            | opt::EVENT_FORMATS
            | opt::KALLSYMS
            | opt::PRINTK
            | opt::CMDLINES => {}
            other => self.warnings.push(format!("unknown option {other}")),
        }
        self.options.push(OptionEntry { id, data });
        Ok(())
    }

    /// trace-cmd's `tracecmd_parse_trace_clock`: finds `[clock]`.
    fn parse_trace_clock(&mut self, t: &str) {
        let Some(word) = t.split(' ').find(|w| w.starts_with('[')) else {
            return;
        };
        let clock: String = word
            .trim_start_matches('[')
            .split([']', '[', '\n', ' ', '\t'])
            .next()
            .unwrap_or("")
            .to_string();
        if clock.is_empty() {
            return;
        }
        self.trace_clock = clock.clone();
        if self.tsc2nsec.is_some() {
            return;
        }
        let ns = matches!(
            clock.as_str(),
            "local" | "global" | "uptime" | "perf" | "tai" | "tsc2nsec"
        ) || clock.starts_with("mono");
        if !ns {
            self.in_usecs = false;
        }
    }

    fn finish(&mut self, m: Meta) -> Result<()> {
        self.header_page_text = text(&m.header_page);
        self.header_event_text = text(&m.header_event);
        let hp = HeaderPage::parse(&self.header_page_text).map_err(|source| Error::Event {
            context: "header_page".into(),
            source,
        })?;
        self.header_page = hp;
        self.registry.set_header_page(hp);
        self.ftrace_format_count = m.ftrace.len();
        for f in &m.ftrace {
            let t = text(f);
            if let Err(e) = self.registry.add_format("ftrace", &t) {
                self.bad_formats.push(format!("ftrace: {e}"));
            }
        }
        for (sys, evs) in &m.systems {
            self.systems.push((sys.clone(), evs.len()));
            for f in evs {
                let t = text(f);
                if let Err(e) = self.registry.add_format(sys, &t) {
                    self.bad_formats.push(format!("{sys}: {e}"));
                }
            }
        }
        let pt = String::from_utf8_lossy(&m.printk);
        self.printk = PrintkFormats::parse(&pt).unwrap_or_else(|e| {
            self.warnings.push(format!("printk: {e}"));
            PrintkFormats::new()
        });
        let ct = String::from_utf8_lossy(&m.cmdlines);
        let mut cl = Cmdlines::new();
        for line in ct.lines() {
            if let Some((pid, comm)) = line.split_once(' ') {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    cl.insert(pid, comm);
                }
            }
        }
        self.cmdlines = cl;
        self.kallsyms_text = m.kallsyms;
        self.printk_text = m.printk;
        self.cmdlines_text = m.cmdlines;
        // CPUSTAT options belong to the buffer they follow (v6: all to top; the
        // BUFFER option precedes its instance's stats).
        let mut cur = 0usize;
        let names: Vec<String> = self.buffers.iter().map(|b| b.name.clone()).collect();
        for o in &self.options {
            match o.id {
                opt::BUFFER => {
                    let mut c = Cur::new(&o.data, self.endian, "BUFFER option", 0);
                    let _ = c.u64();
                    if let Ok(n) = c.cstr() {
                        if let Some(i) = names.iter().position(|x| *x == n) {
                            cur = i;
                        }
                    }
                }
                opt::CPUSTAT => {
                    if let Some(b) = self.buffers.get_mut(cur) {
                        b.cpustats
                            .push(String::from_utf8_lossy(&o.data).into_owned());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The kallsyms table, parsed on first use (it is megabytes of text
    /// that most reports never look at). Malformed lines are skipped.
    pub fn kallsyms(&self) -> &Kallsyms {
        self.kallsyms.get_or_init(|| {
            let kt = String::from_utf8_lossy(&self.kallsyms_text);
            Kallsyms::parse(&kt).unwrap_or_else(|_| lenient_kallsyms(&kt))
        })
    }

    /// Kernel long size of the traced kernel.
    pub fn long_size(&self) -> LongSize {
        self.registry.long_size()
    }

    /// The option entries with this id.
    pub fn options_with(&self, id: u16) -> impl Iterator<Item = &OptionEntry> {
        self.options.iter().filter(move |o| o.id == id)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Tag {
    Latency,
    Flyrecord,
}

fn read_fly_cpus(c: &mut SrcCur<'_>, cpus: u32) -> Result<Vec<CpuData>> {
    c.section("flyrecord");
    let mut v = Vec::new();
    for cpu in 0..cpus {
        let offset = c.u64()?;
        let size = c.u64()?;
        v.push(CpuData { cpu, offset, size });
    }
    Ok(v)
}

fn read_headers_seq(c: &mut SrcCur<'_>, m: &mut Meta) -> Result<()> {
    c.section("header_page");
    let at = c.pos;
    if c.bytes(12)? != b"header_page\0" {
        return Err(Error::corrupt(
            "header_page",
            at,
            "missing 'header_page' tag",
        ));
    }
    let n = c.u64()?;
    check_meta(n, "header_page", at)?;
    m.header_page = c.bytes(n)?;
    c.section("header_event");
    let at = c.pos;
    if c.bytes(13)? != b"header_event\0" {
        return Err(Error::corrupt(
            "header_event",
            at,
            "missing 'header_event' tag",
        ));
    }
    let n = c.u64()?;
    check_meta(n, "header_event", at)?;
    m.header_event = c.bytes(n)?;
    Ok(())
}

fn read_ftrace_seq(c: &mut SrcCur<'_>, m: &mut Meta) -> Result<()> {
    c.section("ftrace events");
    let n = c.u32()?;
    check_count(n, "ftrace events")?;
    for _ in 0..n {
        let sz = c.u64()?;
        check_meta(sz, "ftrace events", c.pos)?;
        m.ftrace.push(c.bytes(sz)?);
    }
    Ok(())
}

fn read_events_seq(c: &mut SrcCur<'_>, m: &mut Meta) -> Result<()> {
    c.section("event formats");
    let n = c.u32()?;
    check_count(n, "event formats")?;
    for _ in 0..n {
        let sys = c.cstr(4096)?;
        let ne = c.u32()?;
        check_count(ne, "event formats")?;
        let mut v = Vec::new();
        for _ in 0..ne {
            let sz = c.u64()?;
            check_meta(sz, "event formats", c.pos)?;
            v.push(c.bytes(sz)?);
        }
        m.systems.push((sys, v));
    }
    Ok(())
}

fn check_count(n: u32, section: &str) -> Result<()> {
    if n > MAX_FORMATS {
        return Err(Error::corrupt(
            section,
            0,
            format!("count {n} is too large"),
        ));
    }
    Ok(())
}

fn check_meta(n: u64, section: &str, at: u64) -> Result<()> {
    if n > MAX_META {
        return Err(Error::corrupt(
            section,
            at,
            format!("size {n} is too large"),
        ));
    }
    Ok(())
}

fn usize_of(n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::corrupt("section", 0, "size overflow"))
}

/// Name of a metadata section for messages.
pub fn section_name(id: u16) -> &'static str {
    match id {
        opt::HEADER_INFO => "headers",
        opt::FTRACE_EVENTS => "ftrace events",
        opt::EVENT_FORMATS => "events format",
        opt::KALLSYMS => "kallsyms",
        opt::PRINTK => "printk",
        opt::CMDLINES => "command lines",
        opt::STRINGS => "strings",
        opt::DONE => "options",
        _ => "section",
    }
}

/// `strtoll(s, NULL, 0)`: decimal, `0x` hex or leading-0 octal, with sign.
pub fn parse_c_int(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.starts_with('0') && t.len() > 1 {
        (8, &t[1..])
    } else {
        (10, t)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let v = i64::from_str_radix(&digits[..end], radix)
        .or_else(|_| u64::from_str_radix(&digits[..end], radix).map(|v| v as i64))
        .unwrap_or(0);
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

fn lenient_kallsyms(t: &str) -> Kallsyms {
    let good: String = t
        .lines()
        .filter(|l| Kallsyms::parse(l).is_ok())
        .map(|l| format!("{l}\n"))
        .collect();
    Kallsyms::parse(&good).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_ints() {
        assert_eq!(parse_c_int("0x10"), 16);
        assert_eq!(parse_c_int("-5"), -5);
        assert_eq!(parse_c_int("010"), 8);
        assert_eq!(parse_c_int("zz"), 0);
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            TraceDat::from_bytes(b"hello".to_vec()),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            TraceDat::from_bytes(vec![0; 64]),
            Err(Error::BadMagic)
        ));
    }
}
