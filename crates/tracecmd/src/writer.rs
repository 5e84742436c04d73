//! [`TraceDatWriter`]: writes trace.dat files that trace-cmd 3.1.6 reads —
//! version 7 (sections, string table, zstd/zlib/none compression; the
//! default) or version 6 (sequential) — from metadata blocks and per-CPU
//! ring-buffer page files.
//!
//! Layout written (v7, as trace-cmd 3.1.6 does): initial header, compression
//! name/version, offset of the first options section; then the sections
//! HEADER_INFO, FTRACE_EVENTS, EVENT_FORMATS, KALLSYMS, PRINTK, CMDLINES
//! (compressed), the first OPTIONS section, and per buffer { BUFFER section
//! with page-aligned per-CPU data (10-page compressed chunks), an OPTIONS
//! section holding its BUFFER option }, then STRINGS.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Option ids (`enum tracecmd_option_id`).
pub mod opt {
    /// End of an options list (v7: u64 offset of the next options section).
    pub const DONE: u16 = 0;
    /// `--date` offset.
    pub const DATE: u16 = 1;
    /// Per-CPU ring-buffer stats text.
    pub const CPUSTAT: u16 = 2;
    /// A buffer (instance).
    pub const BUFFER: u16 = 3;
    /// The `trace_clock` file text.
    pub const TRACECLOCK: u16 = 4;
    /// `uname` text.
    pub const UNAME: u16 = 5;
    /// Number of CPUs.
    pub const CPUCOUNT: u16 = 8;
    /// Version of the writer.
    pub const VERSION: u16 = 9;
    /// `/proc/PID/maps` of traced processes.
    pub const PROCMAPS: u16 = 10;
    /// Random trace id.
    pub const TRACEID: u16 = 11;
    /// Section: strings.
    pub const STRINGS: u16 = 15;
    /// Section: header_page + header_event.
    pub const HEADER_INFO: u16 = 16;
    /// Section: ftrace formats.
    pub const FTRACE_EVENTS: u16 = 17;
    /// Section: event formats.
    pub const EVENT_FORMATS: u16 = 18;
    /// Section: kallsyms.
    pub const KALLSYMS: u16 = 19;
    /// Section: printk formats.
    pub const PRINTK: u16 = 20;
    /// Section: saved cmdlines.
    pub const CMDLINES: u16 = 21;
}

/// Compression of a v7 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed ("none").
    None,
    /// zstd (trace-cmd's default).
    Zstd,
    /// zlib (not readable by Debian's trace-cmd 3.1.6, which lacks it).
    Zlib,
}

impl Compression {
    /// Parses `none`, `zstd`, `zlib` (`any` = zstd).
    pub fn parse(s: &str) -> Option<Compression> {
        Some(match s {
            "none" => Compression::None,
            "zstd" | "any" => Compression::Zstd,
            "zlib" => Compression::Zlib,
            _ => return None,
        })
    }

    fn header(self) -> (&'static str, &'static str) {
        match self {
            Compression::None => ("none", ""),
            Compression::Zstd => ("zstd", "1.5.4"),
            Compression::Zlib => ("zlib", "1.2.13"),
        }
    }

    /// Compresses one block; `zctx` is the reused zstd context (creating
    /// one per 40 KiB chunk cost a fifth of the recorder's CPU time).
    fn compress(
        self,
        data: &[u8],
        zctx: &mut Option<zstd::bulk::Compressor<'static>>,
    ) -> io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Zstd => {
                if zctx.is_none() {
                    *zctx = Some(zstd::bulk::Compressor::new(3)?);
                }
                match zctx.as_mut() {
                    Some(c) => c.compress(data),
                    None => zstd::bulk::compress(data, 3),
                }
            }
            Compression::Zlib => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data)?;
                e.finish()
            }
        }
    }
}

/// Everything but the event data.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// `events/header_page` text.
    pub header_page: Vec<u8>,
    /// `events/header_event` text.
    pub header_event: Vec<u8>,
    /// `events/ftrace/*/format` texts.
    pub ftrace_formats: Vec<Vec<u8>>,
    /// (system, format texts) of the recorded events.
    pub systems: Vec<(String, Vec<Vec<u8>>)>,
    /// `/proc/kallsyms` text.
    pub kallsyms: Vec<u8>,
    /// `printk_formats` text.
    pub printk: Vec<u8>,
    /// `saved_cmdlines` text.
    pub cmdlines: Vec<u8>,
    /// The `trace_clock` file text (`[local] global …`).
    pub trace_clock: String,
    /// `sysname nodename release machine`.
    pub uname: String,
    /// Writer version text.
    pub version: String,
    /// Number of CPUs.
    pub cpus: u32,
    /// System page size.
    pub page_size: u32,
    /// `sizeof(long)` of the kernel.
    pub long_size: u8,
    /// `--date` offset option text (`0x…`), if any.
    pub date: Option<String>,
    /// `/proc/PID/maps` text for `--proc-map`.
    pub proc_maps: Option<Vec<u8>>,
}

/// One buffer's data: per-CPU files of whole sub-buffers.
#[derive(Debug, Clone)]
pub struct BufferInput {
    /// Instance name (`""` for the top buffer).
    pub name: String,
    /// Selected clock (`local`).
    pub clock: String,
    /// Sub-buffer size in bytes.
    pub subbuf_size: u32,
    /// Per CPU: (cpu, data file of whole sub-buffers, `per_cpu/cpuN/stats` text).
    pub cpus: Vec<(u32, PathBuf, String)>,
    /// (cpu, offset, size) of a CPU whose data was recorded straight into
    /// the output file (v7, no compression, first buffer only): the writer
    /// places this buffer's section around it instead of copying it.
    pub in_place: Option<(u32, u64, u64)>,
}

/// Version and compression.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// 6 or 7.
    pub version: u32,
    /// v7 compression.
    pub compression: Compression,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            version: 7,
            compression: Compression::Zstd,
        }
    }
}

/// Pages per compressed chunk (trace-cmd's `PAGES_IN_CHUNK`).
pub const PAGES_IN_CHUNK: usize = 10;

/// What was written per CPU (for the end-of-record summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuWritten {
    /// Buffer name.
    pub buffer: String,
    /// CPU.
    pub cpu: u32,
    /// File offset of the data.
    pub offset: u64,
    /// Bytes in the file.
    pub size: u64,
    /// Bytes before compression.
    pub uncompressed: u64,
}

/// Writes a trace.dat.
pub struct TraceDatWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    opts: WriterOptions,
    strings: Vec<u8>,
    written: Vec<CpuWritten>,
    zctx: Option<zstd::bulk::Compressor<'static>>,
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl TraceDatWriter {
    /// Creates (truncates) the output file.
    pub fn create(path: &Path, opts: WriterOptions) -> Result<TraceDatWriter> {
        Self::open(path, opts, true)
    }

    /// Opens an output file that already holds data recorded in place
    /// (see [`BufferInput::in_place`]); nothing is truncated.
    pub fn over(path: &Path, opts: WriterOptions) -> Result<TraceDatWriter> {
        Self::open(path, opts, false)
    }

    /// Whether data recorded in place can be used with these options.
    pub fn supports_in_place(opts: WriterOptions) -> bool {
        opts.version == 7 && opts.compression == Compression::None
    }

    fn open(path: &Path, opts: WriterOptions, truncate: bool) -> Result<TraceDatWriter> {
        if opts.version != 6 && opts.version != 7 {
            return Err(Error::Usage(format!(
                "file version {} is not 6 or 7",
                opts.version
            )));
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(truncate)
            .open(path)
            .map_err(io_err(path))?;
        Ok(TraceDatWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, f),
            pos: 0,
            opts,
            strings: Vec::new(),
            written: Vec::new(),
            zctx: None,
        })
    }

    fn w(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).map_err(io_err(&self.path))?;
        self.pos += b.len() as u64;
        Ok(())
    }
    fn u16(&mut self, v: u16) -> Result<()> {
        self.w(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) -> Result<()> {
        self.w(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> Result<()> {
        self.w(&v.to_le_bytes())
    }
    fn cstr(&mut self, s: &str) -> Result<()> {
        self.w(s.as_bytes())?;
        self.w(&[0])
    }
    fn pad_to(&mut self, align: u64) -> Result<()> {
        let pad = (align - self.pos % align) % align;
        self.w(&vec![0u8; pad as usize])
    }
    /// Moves the write position forward over `n` bytes already in the file.
    fn skip(&mut self, n: u64) -> Result<()> {
        self.out.flush().map_err(io_err(&self.path))?;
        self.pos += n;
        let pos = self.pos;
        self.out
            .get_mut()
            .seek(SeekFrom::Start(pos))
            .map_err(io_err(&self.path))?;
        Ok(())
    }

    fn patch_u64(&mut self, at: u64, v: u64) -> Result<()> {
        self.out.flush().map_err(io_err(&self.path))?;
        let f = self.out.get_mut();
        f.seek(SeekFrom::Start(at)).map_err(io_err(&self.path))?;
        f.write_all(&v.to_le_bytes()).map_err(io_err(&self.path))?;
        f.seek(SeekFrom::Start(self.pos))
            .map_err(io_err(&self.path))?;
        Ok(())
    }

    fn string_id(&mut self, s: &str) -> u32 {
        let id = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        id
    }

    /// Writes the whole file and returns what was written per CPU.
    pub fn write(mut self, meta: &Metadata, buffers: &[BufferInput]) -> Result<Vec<CpuWritten>> {
        // Initial header.
        self.w(&[0x17, 0x08, 0x44])?;
        self.w(b"tracing")?;
        self.cstr(&self.opts.version.to_string())?;
        self.w(&[0, meta.long_size])?;
        self.u32(meta.page_size)?;
        if self.opts.version == 6 {
            self.write_v6(meta, buffers)?;
        } else {
            self.write_v7(meta, buffers)?;
        }
        self.out.flush().map_err(io_err(&self.path))?;
        let end = self.pos;
        self.out
            .get_mut()
            .set_len(end)
            .map_err(io_err(&self.path))?;
        Ok(self.written)
    }

    fn header_info(meta: &Metadata) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"header_page\0");
        b.extend_from_slice(&(meta.header_page.len() as u64).to_le_bytes());
        b.extend_from_slice(&meta.header_page);
        b.extend_from_slice(b"header_event\0");
        b.extend_from_slice(&(meta.header_event.len() as u64).to_le_bytes());
        b.extend_from_slice(&meta.header_event);
        b
    }

    fn ftrace_block(meta: &Metadata) -> Vec<u8> {
        let mut b = (meta.ftrace_formats.len() as u32).to_le_bytes().to_vec();
        for f in &meta.ftrace_formats {
            b.extend_from_slice(&(f.len() as u64).to_le_bytes());
            b.extend_from_slice(f);
        }
        b
    }

    fn events_block(meta: &Metadata) -> Vec<u8> {
        let mut b = (meta.systems.len() as u32).to_le_bytes().to_vec();
        for (sys, fmts) in &meta.systems {
            b.extend_from_slice(sys.as_bytes());
            b.push(0);
            b.extend_from_slice(&(fmts.len() as u32).to_le_bytes());
            for f in fmts {
                b.extend_from_slice(&(f.len() as u64).to_le_bytes());
                b.extend_from_slice(f);
            }
        }
        b
    }

    fn sized32(data: &[u8]) -> Vec<u8> {
        let mut b = (data.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(data);
        b
    }

    fn sized64(data: &[u8]) -> Vec<u8> {
        let mut b = (data.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(data);
        b
    }

    /// Writes a section header + body (compressed when `compress`);
    /// returns the section's offset.
    fn section(&mut self, id: u16, desc: &str, body: &[u8], compress: bool) -> Result<u64> {
        let sid = self.string_id(desc);
        self.section_with_id(id, sid, body, compress)
    }

    fn section_with_id(&mut self, id: u16, sid: u32, body: &[u8], compress: bool) -> Result<u64> {
        let at = self.pos;
        let c = compress && self.opts.compression != Compression::None;
        self.u16(id)?;
        self.u16(u16::from(c))?;
        self.u32(sid)?;
        if c {
            let z = self
                .opts
                .compression
                .compress(body, &mut self.zctx)
                .map_err(io_err(&self.path))?;
            self.u64(8 + z.len() as u64)?;
            self.u32(z.len() as u32)?;
            self.u32(body.len() as u32)?;
            self.w(&z)?;
        } else {
            self.u64(body.len() as u64)?;
            self.w(body)?;
        }
        Ok(at)
    }

    fn option(buf: &mut Vec<u8>, id: u16, data: &[u8]) {
        buf.extend_from_slice(&id.to_le_bytes());
        buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        buf.extend_from_slice(data);
    }

    fn cstring(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn common_options(meta: &Metadata, buf: &mut Vec<u8>, cpustats: &[(u32, String)]) {
        Self::option(buf, opt::TRACECLOCK, meta.trace_clock.as_bytes());
        Self::option(buf, opt::UNAME, &Self::cstring(&meta.uname));
        Self::option(buf, opt::VERSION, &Self::cstring(&meta.version));
        let id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ (u64::from(std::process::id()) << 32);
        Self::option(buf, opt::TRACEID, &id.to_le_bytes());
        for (cpu, stats) in cpustats {
            Self::option(
                buf,
                opt::CPUSTAT,
                &Self::cstring(&format!("CPU: {cpu}\n{stats}")),
            );
        }
        if let Some(d) = &meta.date {
            Self::option(buf, opt::DATE, &Self::cstring(d));
        }
        if let Some(m) = &meta.proc_maps {
            Self::option(buf, opt::PROCMAPS, m);
        }
    }

    fn write_v7(&mut self, meta: &Metadata, buffers: &[BufferInput]) -> Result<()> {
        let (cname, cver) = self.opts.compression.header();
        self.cstr(cname)?;
        self.cstr(cver)?;
        let first_opts_at = self.pos;
        self.u64(0)?; // patched below
                      // A buffer with data recorded in place comes first: that data sits
                      // at the first page boundary (sections are found by offset, and
                      // the strings by walking the sections, so the order is free).
        let mut early = None;
        if let Some(b) = buffers.first().filter(|b| b.in_place.is_some()) {
            if !Self::supports_in_place(self.opts) {
                return Err(Error::Usage(
                    "data recorded in place needs a v7 file without compression".into(),
                ));
            }
            early = Some(self.buffer_section(b, meta)?);
        }
        let hdr = self.section(opt::HEADER_INFO, "headers", &Self::header_info(meta), true)?;
        let ftr = self.section(
            opt::FTRACE_EVENTS,
            "ftrace events",
            &Self::ftrace_block(meta),
            true,
        )?;
        let evs = self.section(
            opt::EVENT_FORMATS,
            "events format",
            &Self::events_block(meta),
            true,
        )?;
        let ksy = self.section(
            opt::KALLSYMS,
            "kallsyms",
            &Self::sized32(&meta.kallsyms),
            true,
        )?;
        let prk = self.section(opt::PRINTK, "printk", &Self::sized32(&meta.printk), true)?;
        let cmd = self.section(
            opt::CMDLINES,
            "command lines",
            &Self::sized64(&meta.cmdlines),
            true,
        )?;
        // First options section: section pointers and the top buffer's stats.
        let mut o = Vec::new();
        for (id, off) in [
            (opt::HEADER_INFO, hdr),
            (opt::FTRACE_EVENTS, ftr),
            (opt::EVENT_FORMATS, evs),
            (opt::KALLSYMS, ksy),
            (opt::PRINTK, prk),
        ] {
            Self::option(&mut o, id, &off.to_le_bytes());
        }
        let top_stats: Vec<(u32, String)> = buffers
            .first()
            .map(|b| b.cpus.iter().map(|(c, _, s)| (*c, s.clone())).collect())
            .unwrap_or_default();
        Self::common_options(meta, &mut o, &top_stats);
        Self::option(&mut o, opt::CMDLINES, &cmd.to_le_bytes());
        Self::option(&mut o, opt::CPUCOUNT, &meta.cpus.to_le_bytes());
        let done_at_in_body = o.len() + 6;
        Self::option(&mut o, opt::DONE, &0u64.to_le_bytes());
        let opts0 = self.section(0, "options", &o, false)?;
        self.patch_u64(first_opts_at, opts0)?;
        let mut prev_done = opts0 + 16 + done_at_in_body as u64;
        for (i, b) in buffers.iter().enumerate() {
            let (buf_sec, cpus) = match early.take().filter(|_| i == 0) {
                Some(e) => e,
                None => self.buffer_section(b, meta)?,
            };
            let mut o = Vec::new();
            let mut bo = buf_sec.to_le_bytes().to_vec();
            bo.extend_from_slice(&Self::cstring(&b.name));
            bo.extend_from_slice(&Self::cstring(&b.clock));
            bo.extend_from_slice(&b.subbuf_size.to_le_bytes());
            bo.extend_from_slice(&(cpus.len() as u32).to_le_bytes());
            for c in &cpus {
                bo.extend_from_slice(&c.cpu.to_le_bytes());
                bo.extend_from_slice(&c.offset.to_le_bytes());
                bo.extend_from_slice(&c.size.to_le_bytes());
            }
            Self::option(&mut o, opt::BUFFER, &bo);
            if !b.name.is_empty() {
                for (cpu, _, stats) in &b.cpus {
                    Self::option(
                        &mut o,
                        opt::CPUSTAT,
                        &Self::cstring(&format!("CPU: {cpu}\n{stats}")),
                    );
                }
            }
            let done_in = o.len() + 6;
            Self::option(&mut o, opt::DONE, &0u64.to_le_bytes());
            let sec = self.section(0, "options", &o, false)?;
            self.patch_u64(prev_done, sec)?;
            prev_done = sec + 16 + done_in as u64;
            self.written.extend(cpus);
        }
        // Strings last (its own description is in it too).
        let sid = self.string_id("strings");
        let body = std::mem::take(&mut self.strings);
        self.section_with_id(opt::STRINGS, sid, &body, true)?;
        Ok(())
    }

    /// A BUFFER section: header, padding to a page, per-CPU data at
    /// page-aligned offsets (10-page compressed chunks when compressing).
    fn buffer_section(
        &mut self,
        b: &BufferInput,
        meta: &Metadata,
    ) -> Result<(u64, Vec<CpuWritten>)> {
        let at = self.pos;
        let desc = format!("buffer flyrecord {}", b.name);
        let sid = self.string_id(&desc);
        let c = self.opts.compression != Compression::None;
        self.u16(opt::BUFFER)?;
        self.u16(u16::from(c))?;
        self.u32(sid)?;
        let size_at = self.pos;
        self.u64(0)?;
        let body_start = self.pos;
        let page = u64::from(meta.page_size.max(1));
        let mut cpus = Vec::new();
        for (cpu, file, _) in &b.cpus {
            self.pad_to(page)?;
            let (off, size, raw) = match b.in_place {
                Some((ip_cpu, data_at, size)) if ip_cpu == *cpu => {
                    if self.pos > data_at {
                        return Err(Error::Usage(format!(
                            "internal: CPU {cpu}'s data was recorded at offset {data_at}, before the section's end at {}",
                            self.pos
                        )));
                    }
                    // Zeros up to it (readers use the offsets), then over it.
                    self.w(&vec![0u8; (data_at - self.pos) as usize])?;
                    self.skip(size)?;
                    (data_at, size, size)
                }
                _ => {
                    let off = self.pos;
                    let (size, raw) = self.copy_cpu(file, b.subbuf_size as usize, c)?;
                    (off, size, raw)
                }
            };
            cpus.push(CpuWritten {
                buffer: b.name.clone(),
                cpu: *cpu,
                offset: off,
                size,
                uncompressed: raw,
            });
        }
        let end = self.pos;
        self.patch_u64(size_at, end - body_start)?;
        Ok((at, cpus))
    }

    /// Copies one CPU's page file; returns (size recorded in the option,
    /// uncompressed bytes).
    fn copy_cpu(&mut self, file: &Path, subbuf: usize, compress: bool) -> Result<(u64, u64)> {
        let mut f = File::open(file).map_err(io_err(file))?;
        let total = f.metadata().map_err(io_err(file))?.len();
        if !compress {
            let n = io::copy(&mut f, &mut self.out).map_err(io_err(&self.path))?;
            self.pos += n;
            return Ok((n, n));
        }
        let chunk = PAGES_IN_CHUNK * subbuf.max(1);
        let nchunks = total.div_ceil(chunk as u64);
        self.u32(nchunks as u32)?;
        let mut size = 0u64;
        let mut buf = vec![0u8; chunk];
        loop {
            let mut filled = 0;
            while filled < chunk {
                let n = f.read(&mut buf[filled..]).map_err(io_err(file))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            let z = self
                .opts
                .compression
                .compress(&buf[..filled], &mut self.zctx)
                .map_err(io_err(&self.path))?;
            self.u32(z.len() as u32)?;
            self.u32(filled as u32)?;
            self.w(&z)?;
            size += 8 + z.len() as u64;
        }
        Ok((size, total))
    }

    fn write_v6(&mut self, meta: &Metadata, buffers: &[BufferInput]) -> Result<()> {
        let hi = Self::header_info(meta);
        self.w(&hi)?;
        self.w(&Self::ftrace_block(meta))?;
        self.w(&Self::events_block(meta))?;
        self.w(&Self::sized32(&meta.kallsyms))?;
        self.w(&Self::sized32(&meta.printk))?;
        self.w(&Self::sized64(&meta.cmdlines))?;
        self.u32(meta.cpus)?;
        self.w(b"options  \0")?;
        let mut o = Vec::new();
        let top_stats: Vec<(u32, String)> = buffers
            .first()
            .map(|b| b.cpus.iter().map(|(c, _, s)| (*c, s.clone())).collect())
            .unwrap_or_default();
        Self::common_options(meta, &mut o, &top_stats);
        self.w(&o)?;
        // BUFFER options for the extra buffers: u64 offset (patched) + name.
        let mut patches = Vec::new();
        for b in buffers.iter().skip(1) {
            self.u16(opt::BUFFER)?;
            self.u32(8 + b.name.len() as u32 + 1)?;
            patches.push(self.pos);
            self.u64(0)?;
            self.cstr(&b.name)?;
        }
        self.u16(opt::DONE)?;
        let clock = |b: &BufferInput| format!("[{}]", b.clock);
        for (i, b) in buffers.iter().enumerate() {
            if i > 0 {
                let here = self.pos;
                self.patch_u64(patches[i - 1], here)?;
            }
            self.w(b"flyrecord\0")?;
            let table = self.pos;
            for _ in &b.cpus {
                self.u64(0)?;
                self.u64(0)?;
            }
            let c = clock(b);
            self.u64(c.len() as u64)?;
            self.w(c.as_bytes())?;
            let page = u64::from(meta.page_size.max(1));
            for (k, (cpu, file, _)) in b.cpus.iter().enumerate() {
                self.pad_to(page)?;
                let off = self.pos;
                let (size, raw) = self.copy_cpu(file, b.subbuf_size as usize, false)?;
                self.patch_u64(table + 16 * k as u64, off)?;
                self.patch_u64(table + 16 * k as u64 + 8, size)?;
                self.written.push(CpuWritten {
                    buffer: b.name.clone(),
                    cpu: *cpu,
                    offset: off,
                    size,
                    uncompressed: raw,
                });
            }
        }
        Ok(())
    }
}
