//! `dump`: the metadata of a trace.dat file exactly as `trace-cmd dump`
//! (3.1.6) prints it.
//!
//! trace-cmd's dump does not parse the file into structures first: it walks
//! the bytes with one file cursor (plus, in v7, a cursor into the current
//! decompressed block) and prints as it goes, in file order for v6 and in
//! option/section order for v7. The output depends on that walk (e.g. the
//! summary lists the v7 sections in reverse order of their options, option
//! payloads are printed up to their first NUL per 1023-byte chunk), so this
//! module reproduces the walk itself. Unlike trace-cmd it never reads out of
//! bounds: every read is checked and a failure names the part of the file
//! and the offset.

use crate::compress::Algorithm;
use crate::dat::opt;
use crate::error::{Error, Result};
use crate::io::Source;
use std::io::Write;
use std::path::PathBuf;
use traceevent::Endian;

/// Which parts to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct DumpItems {
    /// `--summary`.
    pub summary: bool,
    /// `--head-page`.
    pub head_page: bool,
    /// `--head-event`.
    pub head_event: bool,
    /// `--ftrace-events`.
    pub ftrace_events: bool,
    /// `--systems`.
    pub systems: bool,
    /// `--events`.
    pub events: bool,
    /// `--kallsyms`.
    pub kallsyms: bool,
    /// `--printk`.
    pub printk: bool,
    /// `--cmd-lines`.
    pub cmd_lines: bool,
    /// `--options`.
    pub options: bool,
    /// `--flyrecord`.
    pub flyrecord: bool,
    /// `--clock`.
    pub clock: bool,
    /// `--sections` (v7 section list).
    pub sections: bool,
    /// `--strings` (v7 string table).
    pub strings: bool,
    /// `--all`.
    pub all: bool,
    /// `-v` / `--validate`: print a final "valid" line.
    pub validate: bool,
}

/// Options of `dump`.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// The file (printed as given, like trace-cmd).
    pub file: PathBuf,
    /// What to print (nothing selected = summary).
    pub items: DumpItems,
}

const SUMMARY: u32 = 1 << 0;
const HEAD_PAGE: u32 = 1 << 1;
const HEAD_EVENT: u32 = 1 << 2;
const FTRACE_FORMAT: u32 = 1 << 3;
const EVENT_SYSTEMS: u32 = 1 << 4;
const EVENT_FORMAT: u32 = 1 << 5;
const KALLSYMS: u32 = 1 << 6;
const TRACE_PRINTK: u32 = 1 << 7;
const CMDLINES: u32 = 1 << 8;
const OPTIONS: u32 = 1 << 9;
const FLYRECORD: u32 = 1 << 10;
const CLOCK: u32 = 1 << 11;
const SECTIONS: u32 = 1 << 12;
const STRINGS: u32 = 1 << 13;

/// trace-cmd's `DUMP_SIZE`: string reads stop here, payloads print in
/// chunks of one less.
const DUMP_SIZE: usize = 1024;
/// Nesting limit of chained v7 option sections (each DONE may point on).
const MAX_OPTION_SECTIONS: usize = 4096;
/// Largest option payload held in memory at once.
const MAX_OPTION: u64 = 1 << 26;

impl DumpItems {
    fn verbosity(&self) -> u32 {
        if self.all {
            return u32::MAX;
        }
        let mut v = 0;
        for (on, bit) in [
            (self.summary, SUMMARY),
            (self.head_page, HEAD_PAGE),
            (self.head_event, HEAD_EVENT),
            (self.ftrace_events, FTRACE_FORMAT),
            (self.systems, EVENT_SYSTEMS),
            (self.events, EVENT_FORMAT),
            (self.kallsyms, KALLSYMS),
            (self.printk, TRACE_PRINTK),
            (self.cmd_lines, CMDLINES),
            (self.options, OPTIONS),
            (self.flyrecord, FLYRECORD),
            (self.clock, CLOCK),
            (self.sections, SECTIONS),
            (self.strings, STRINGS),
        ] {
            if on {
                v |= bit;
            }
        }
        if v == 0 && !self.validate {
            v = SUMMARY;
        }
        v
    }
}

/// Runs `dump` on a file.
pub fn run(o: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let src = Source::open(&o.file)?;
    let name = o.file.display().to_string();
    dump_source(&src, &name, &o.items, out)
}

/// Runs `dump` on bytes already opened as a [`Source`]; `name` is printed as
/// the file name.
pub fn dump_source(src: &Source, name: &str, items: &DumpItems, out: &mut dyn Write) -> Result<()> {
    let mut d = Dumper {
        src,
        pos: 0,
        endian: Endian::Little,
        version: 0,
        comp: None,
        cbuf: None,
        cptr: 0,
        cbase: 0,
        read_compress: false,
        verb: items.verbosity(),
        out,
        has_clock: false,
        trace_cpus: 0,
        sections: Vec::new(),
        meta: Vec::new(),
        section: String::from("initial header"),
        depth: 0,
    };
    d.print(
        SUMMARY,
        format!("\n Tracing meta data in file {name}:\n").as_bytes(),
    )?;
    d.initial_format()?;
    d.compression()?;
    if d.version < 7 {
        d.v6_file()?;
    } else {
        d.v7_file()?;
    }
    if items.validate {
        let s = format!("File {name} is a valid trace-cmd file\n");
        d.out.write_all(s.as_bytes()).map_err(Error::Output)?;
    }
    Ok(())
}

struct Dumper<'a> {
    src: &'a Source,
    /// File position (trace-cmd's fd offset).
    pos: u64,
    endian: Endian,
    version: u64,
    /// Compression of a v7 file (`None` for "none").
    comp: Option<Algorithm>,
    /// Current decompressed block, its read pointer and its file offset.
    cbuf: Option<Vec<u8>>,
    cptr: u64,
    cbase: u64,
    /// Reads come from the decompressed block.
    read_compress: bool,
    verb: u32,
    out: &'a mut dyn Write,
    has_clock: bool,
    trace_cpus: u32,
    /// v7 sections announced by options: (id, offset, verbosity), in order.
    sections: Vec<(u16, u64, u32)>,
    /// v7 string table.
    meta: Vec<u8>,
    /// Name of the part being read, for errors.
    section: String,
    depth: usize,
}

impl Dumper<'_> {
    fn set_section(&mut self, s: &str) {
        self.section.clear();
        self.section.push_str(s);
    }

    /// trace-cmd's `do_print`: printed when `ids` is 0 or shares a bit with
    /// the verbosity; one print is at most 1023 bytes (its log buffer).
    fn print(&mut self, ids: u32, s: &[u8]) -> Result<()> {
        if ids != 0 && ids & self.verb == 0 {
            return Ok(());
        }
        let s = s.get(..s.len().min(DUMP_SIZE - 1)).unwrap_or(s);
        self.out.write_all(s).map_err(Error::Output)
    }

    fn printf(&mut self, ids: u32, s: String) -> Result<()> {
        self.print(ids, s.as_bytes())
    }

    fn want(&self, ids: u32) -> bool {
        ids & self.verb != 0
    }

    fn trunc(&self, need: u64) -> Error {
        if self.read_compress {
            Error::truncated(
                format!(
                    "{} (in the block decompressed from file offset {})",
                    self.section, self.cbase
                ),
                self.cptr,
                need,
            )
        } else {
            Error::truncated(self.section.clone(), self.pos, need)
        }
    }

    /// Reads `n` bytes from the current cursor.
    fn read(&mut self, n: usize) -> Result<Vec<u8>> {
        if self.read_compress {
            let start = usize::try_from(self.cptr).map_err(|_| self.trunc(n as u64))?;
            let got = self
                .cbuf
                .as_ref()
                .and_then(|b| b.get(start..start.checked_add(n)?))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| self.trunc(n as u64))?;
            self.cptr += n as u64;
            Ok(got)
        } else {
            let v = self.src.read_vec(self.pos, n as u64, &self.section)?;
            self.pos += n as u64;
            Ok(v)
        }
    }

    /// Skips `n` bytes that must be present.
    fn skip(&mut self, n: u64) -> Result<()> {
        if self.read_compress {
            let len = self.cbuf.as_ref().map_or(0, |b| b.len() as u64);
            match self.cptr.checked_add(n) {
                Some(e) if e <= len => self.cptr = e,
                _ => return Err(self.trunc(n)),
            }
        } else {
            match self.pos.checked_add(n) {
                Some(e) if e <= self.src.len() => self.pos = e,
                _ => return Err(self.trunc(n)),
            }
        }
        Ok(())
    }

    fn num(&mut self, size: usize) -> Result<u64> {
        let b = self.read(size)?;
        let mut v: u64 = 0;
        match self.endian {
            Endian::Little => {
                for (i, x) in b.iter().enumerate() {
                    v |= u64::from(*x) << (8 * i);
                }
            }
            Endian::Big => {
                for x in &b {
                    v = (v << 8) | u64::from(*x);
                }
            }
        }
        Ok(v)
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(self.num(2)? as u16)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(self.num(4)? as u32)
    }
    fn u64(&mut self) -> Result<u64> {
        self.num(8)
    }

    /// `read_file_string`: bytes up to a NUL, at most 1024.
    fn string(&mut self) -> Result<Vec<u8>> {
        let mut s = Vec::new();
        for _ in 0..DUMP_SIZE {
            let b = self.read(1)?;
            match b.first() {
                Some(0) => return Ok(s),
                Some(&c) => s.push(c),
                None => break,
            }
        }
        Err(Error::corrupt(
            self.section.clone(),
            self.pos,
            "string without NUL in 1024 bytes",
        ))
    }

    /// `read_dump_string`: `size` bytes printed (under `ids`) in 1023-byte
    /// chunks, each up to its first NUL, then a newline.
    fn dump_string(&mut self, size: u64, ids: u32) -> Result<()> {
        if !self.want(ids) {
            self.skip(size)?;
        } else {
            let mut left = size;
            while left > 0 {
                let l = left.min(DUMP_SIZE as u64 - 1);
                let chunk = self.read(l as usize)?;
                let end = chunk.iter().position(|&c| c == 0).unwrap_or(chunk.len());
                self.print(ids, chunk.get(..end).unwrap_or(&[]))?;
                left -= l;
            }
        }
        self.print(ids, b"\n")
    }

    fn initial_format(&mut self) -> Result<()> {
        self.print(SUMMARY, b"\t[Initial format]\n")?;
        let magic = self.read(3)?;
        if magic != [0x17, 0x08, 0x44] {
            return Err(Error::BadMagic);
        }
        let t = self.read(7)?;
        if t != b"tracing" {
            return Err(Error::BadMagic);
        }
        let off = self.pos;
        let v = self.string()?;
        self.print(SUMMARY, b"\t\t")?;
        self.print(SUMMARY, &v)?;
        self.print(SUMMARY, b"\t[Version]\n")?;
        let vs = String::from_utf8_lossy(&v);
        let digits: String = vs
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        self.version = digits.parse().unwrap_or(0);
        if !(6..=7).contains(&self.version) {
            return Err(Error::corrupt(
                "initial header",
                off,
                format!("unsupported file version '{vs}'"),
            ));
        }
        let e = self.read(1)?.first().copied().unwrap_or(0);
        let ei = e as i8;
        self.printf(
            SUMMARY,
            format!(
                "\t\t{ei}\t[{} endian]\n",
                if e != 0 { "Big" } else { "Little" }
            ),
        )?;
        self.endian = if e != 0 { Endian::Big } else { Endian::Little };
        let l = self.read(1)?.first().copied().unwrap_or(0) as i8;
        self.printf(SUMMARY, format!("\t\t{l}\t[Bytes in a long]\n"))?;
        let ps = self.u32()? as i32;
        self.printf(SUMMARY, format!("\t\t{ps}\t[Page size, bytes]\n"))
    }

    fn compression(&mut self) -> Result<()> {
        if self.version < 7 {
            return Ok(());
        }
        self.set_section("compression header");
        let off = self.pos;
        let name = self.string()?;
        let ver = self.string()?;
        self.print(SUMMARY, b"\t\t")?;
        self.print(SUMMARY, &name)?;
        self.print(SUMMARY, b"\t[Compression algorithm]\n\t\t")?;
        self.print(SUMMARY, &ver)?;
        self.print(SUMMARY, b"\t[Compression version]\n")?;
        if name != b"none" {
            let n = String::from_utf8_lossy(&name).into_owned();
            match Algorithm::from_name(&n) {
                Ok(a) => self.comp = Some(a),
                Err(_) => {
                    return Err(Error::corrupt(
                        "compression header",
                        off,
                        format!("cannot uncompress the file: unknown compression '{n}'"),
                    ))
                }
            }
        }
        Ok(())
    }

    fn uncompress_reset(&mut self) {
        if self.comp.is_some() {
            self.read_compress = false;
            self.cbuf = None;
            self.cptr = 0;
        }
    }

    /// `uncompress_block`: a no-op for uncompressed files (like trace-cmd).
    fn uncompress_block(&mut self) -> Result<()> {
        let Some(alg) = self.comp else {
            return Ok(());
        };
        self.cbuf = None;
        self.cptr = 0;
        self.read_compress = false;
        let base = self.pos;
        let csize = self.u32()?;
        let usize_ = self.u32()?;
        let data = self.read(csize as usize)?;
        let cap = csize.max(usize_) as usize;
        let sec = self.section.clone();
        let out = alg.decompress_upto(&data, cap, &sec, base)?;
        self.cbuf = Some(out);
        self.cbase = base;
        self.read_compress = true;
        Ok(())
    }

    fn header_page(&mut self) -> Result<()> {
        self.set_section("header_page");
        self.print(SUMMARY | HEAD_PAGE, b"\t[Header page, ")?;
        let off = self.pos;
        let s = self.read(12)?;
        if s.get(..11) != Some(b"header_page") {
            return Err(Error::corrupt("header_page", off, "wrong header string"));
        }
        let size = self.u64()?;
        self.printf(SUMMARY | HEAD_PAGE, format!("{} bytes]\n", size as i64))?;
        self.dump_string(size, HEAD_PAGE)
    }

    fn header_event(&mut self) -> Result<()> {
        self.set_section("header_event");
        self.print(SUMMARY | HEAD_EVENT, b"\t[Header event, ")?;
        let off = self.pos;
        let s = self.read(13)?;
        if s.get(..12) != Some(b"header_event") {
            return Err(Error::corrupt("header_event", off, "wrong header string"));
        }
        let size = self.u64()?;
        self.printf(SUMMARY | HEAD_EVENT, format!("{} bytes]\n", size as i64))?;
        self.dump_string(size, HEAD_EVENT)
    }

    fn ftrace_formats(&mut self) -> Result<()> {
        self.set_section("ftrace event formats");
        self.print(SUMMARY | FTRACE_FORMAT, b"\t[Ftrace format, ")?;
        let count = self.u32()?;
        self.printf(
            SUMMARY | FTRACE_FORMAT,
            format!("{} events]\n", count as i32),
        )?;
        for _ in 0..count {
            let size = self.u64()?;
            self.dump_string(size, FTRACE_FORMAT)?;
        }
        Ok(())
    }

    fn event_formats(&mut self) -> Result<()> {
        self.set_section("event formats");
        let ids = SUMMARY | EVENT_FORMAT | EVENT_SYSTEMS;
        self.print(ids, b"\t[Events format, ")?;
        let systems = self.u32()?;
        self.printf(ids, format!("{} systems]\n", systems as i32))?;
        for _ in 0..systems {
            let name = self.string()?;
            let events = self.u32()?;
            self.print(EVENT_SYSTEMS, b"\t\t")?;
            self.print(EVENT_SYSTEMS, &name)?;
            self.printf(
                EVENT_SYSTEMS,
                format!(" {} [system, events]\n", events as i32),
            )?;
            for _ in 0..events {
                let size = self.u64()?;
                self.dump_string(size, EVENT_FORMAT)?;
            }
        }
        Ok(())
    }

    fn kallsyms(&mut self) -> Result<()> {
        self.set_section("kallsyms");
        self.print(SUMMARY | KALLSYMS, b"\t[Kallsyms, ")?;
        let size = self.u32()?;
        self.printf(SUMMARY | KALLSYMS, format!("{} bytes]\n", size as i32))?;
        self.dump_string(u64::from(size), KALLSYMS)
    }

    fn printk(&mut self) -> Result<()> {
        self.set_section("printk formats");
        self.print(SUMMARY | TRACE_PRINTK, b"\t[Trace printk, ")?;
        let size = self.u32()?;
        self.printf(SUMMARY | TRACE_PRINTK, format!("{} bytes]\n", size as i32))?;
        self.dump_string(u64::from(size), TRACE_PRINTK)
    }

    fn cmdlines(&mut self) -> Result<()> {
        self.set_section("saved command lines");
        self.print(SUMMARY | CMDLINES, b"\t[Saved command lines, ")?;
        let size = self.u64()?;
        self.printf(
            SUMMARY | CMDLINES,
            format!("{} bytes]\n", size as u32 as i32),
        )?;
        self.dump_string(size, CMDLINES)
    }

    fn v6_file(&mut self) -> Result<()> {
        self.header_page()?;
        self.header_event()?;
        self.ftrace_formats()?;
        self.event_formats()?;
        self.kallsyms()?;
        self.printk()?;
        self.cmdlines()?;
        self.set_section("cpu count");
        self.trace_cpus = self.u32()?;
        self.printf(
            SUMMARY,
            format!("\t{} [CPUs with tracing data]\n", self.trace_cpus as i32),
        )?;
        // dump_therest: tags until one is unknown (the CPU data). Each tag
        // consumes at least 10 bytes, so the loop ends with the file.
        loop {
            self.set_section("v6 section tag");
            let tag = self.read(10)?;
            match tag.as_slice() {
                b"options  \0" => self.options()?,
                b"latency  \0" => self.print(SUMMARY, b"\t[Latency tracing data]\n")?,
                b"flyrecord\0" => self.flyrecord()?,
                _ => {
                    self.pos -= 10;
                    break;
                }
            }
        }
        Ok(())
    }

    fn flyrecord(&mut self) -> Result<()> {
        self.set_section("flyrecord");
        self.print(SUMMARY | FLYRECORD, b"\t[Flyrecord tracing data]\n")?;
        for i in 0..self.trace_cpus {
            let off = self.u64()? as i64;
            let size = self.u64()? as i64;
            // "%10.lld": precision 0, so a zero prints as blanks.
            let f = |v: i64| {
                if v == 0 {
                    String::new()
                } else {
                    v.to_string()
                }
            };
            self.printf(
                FLYRECORD,
                format!(
                    "\t {:>10} {:>10}\t[offset, size of cpu {}]\n",
                    f(off),
                    f(size),
                    i as i32
                ),
            )?;
        }
        self.print(SUMMARY | CLOCK, b"\t[Tracing clock]\n")?;
        if !self.has_clock {
            return self.print(
                SUMMARY | CLOCK,
                b"\t\t No tracing clock saved in the file\n",
            );
        }
        self.set_section("flyrecord clock");
        let size = self.u64()?;
        if size > MAX_OPTION {
            return Err(Error::corrupt(
                "flyrecord clock",
                self.pos - 8,
                format!("clock string of {size} bytes"),
            ));
        }
        let c = self.read(size as usize)?;
        let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
        self.print(SUMMARY | CLOCK, b"\t\t")?;
        self.print(SUMMARY | CLOCK, c.get(..end).unwrap_or(&[]))?;
        self.print(SUMMARY | CLOCK, b"\n")
    }

    fn options(&mut self) -> Result<()> {
        let count = self.options_read()?;
        self.printf(SUMMARY | OPTIONS, format!("\t[{count} options]\n"))
    }

    fn option_string(&mut self, size: u32, desc: &str) -> Result<()> {
        self.printf(
            OPTIONS,
            format!("\t\t[Option {desc}, {} bytes]\n", size as i32),
        )?;
        if size > 0 {
            self.dump_string(u64::from(size), OPTIONS)?;
        }
        Ok(())
    }

    /// `read_file_number` into a C int/long long of `size` bytes: sizes
    /// other than 1/2/4/8 (≤ 8) consume the bytes but store nothing.
    fn option_number(&mut self, size: u32) -> Result<u64> {
        if size > 8 {
            return Ok(0);
        }
        let v = self.num(size as usize)?;
        Ok(if matches!(size, 1 | 2 | 4 | 8) { v } else { 0 })
    }

    fn section_header(&mut self, v: u32) -> Result<u16> {
        let offset = self.pos;
        self.set_section(&format!("section header at {offset}"));
        let id = self.u16()?;
        let fl = self.u16()?;
        let desc_id = self.u32()? as i32;
        let size = self.u64()?;
        let desc = self.meta_string(desc_id);
        let mut s = format!("\t[Section {id} @ {offset}: \"").into_bytes();
        s.extend_from_slice(&desc);
        s.extend_from_slice(format!("\", flags 0x{fl:X}, {} bytes]\n", size as i64).as_bytes());
        self.print(v, &s)?;
        Ok(fl)
    }

    fn meta_string(&self, id: i32) -> Vec<u8> {
        let Ok(i) = usize::try_from(id) else {
            return b"Unknown".to_vec();
        };
        match self.meta.get(i..) {
            Some(rest) if !rest.is_empty() => {
                let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                rest.get(..end).unwrap_or(&[]).to_vec()
            }
            _ => b"Unknown".to_vec(),
        }
    }

    fn option_buffer(&mut self, option: u16, size: u32) -> Result<()> {
        if size < 8 {
            return Err(Error::corrupt(
                "BUFFER option",
                self.pos,
                format!("broken buffer option with size {size}"),
            ));
        }
        self.set_section("BUFFER option");
        let offset = self.u64()?;
        let name = self.string()?;
        let head = |d: &mut Self, offset: u64, name: &[u8]| -> Result<()> {
            d.printf(
                OPTIONS | FLYRECORD,
                format!("\t\t[Option BUFFER, {} bytes]\n", size as i32),
            )?;
            d.printf(OPTIONS | FLYRECORD, format!("{} [offset]\n", offset as i64))?;
            let mut s = b"\"".to_vec();
            s.extend_from_slice(name);
            s.extend_from_slice(b"\" [name]\n");
            d.print(OPTIONS | FLYRECORD, &s)
        };
        if self.version < 7 {
            return head(self, offset, &name);
        }
        let current = self.pos;
        self.pos = offset;
        self.section_header(FLYRECORD)?;
        self.pos = current;
        self.set_section("BUFFER option");
        head(self, offset, &name)?;
        let clock = self.string()?;
        let mut s = b"\"".to_vec();
        s.extend_from_slice(&clock);
        s.extend_from_slice(b"\" [clock]\n");
        self.print(OPTIONS | FLYRECORD, &s)?;
        let mut summary = b"\t[buffer \"".to_vec();
        summary.extend_from_slice(&name);
        summary.extend_from_slice(b"\", \"");
        summary.extend_from_slice(&clock);
        if option == opt::BUFFER {
            let page_size = self.u32()? as i32;
            self.printf(
                OPTIONS | FLYRECORD,
                format!("{page_size} [Page size, bytes]\n"),
            )?;
            let cpus = self.u32()? as i32;
            self.printf(OPTIONS | FLYRECORD, format!("{cpus} [CPUs]:\n"))?;
            let mut total: u64 = 0;
            // Each CPU entry is 20 bytes of the option: a corrupt count ends
            // with the data.
            for _ in 0..cpus.max(0) {
                let id = self.u32()? as i32;
                let off = self.u64()? as i64;
                let sz = self.u64()?;
                total = total.wrapping_add(sz);
                self.printf(
                    OPTIONS | FLYRECORD,
                    format!("   {id} {off}\t{}\t[id, data offset and size]\n", sz as i64),
                )?;
            }
            summary.extend_from_slice(
                format!(
                    "\" clock, {page_size} page size, {cpus} cpus, {} bytes flyrecord data]\n",
                    total as i64
                )
                .as_bytes(),
            );
        } else {
            summary.extend_from_slice(b"\" clock, latency data]\n");
        }
        self.print(SUMMARY, &summary)
    }

    fn option_timeshift(&mut self, size: u32) -> Result<()> {
        let mut size = i64::from(size as i32);
        if size < 12 {
            return self.printf(OPTIONS, format!("Broken time shift option, size {size}"));
        }
        self.printf(OPTIONS, format!("\t\t[Option TimeShift, {size} bytes]\n"))?;
        let id = self.u64()?;
        size -= 8;
        self.printf(OPTIONS, format!("0x{id:X} [peer's trace id]\n"))?;
        let flags = self.u32()?;
        size -= 4;
        self.printf(OPTIONS, format!("0x{flags:X} [peer's protocol flags]\n"))?;
        let cpus = self.u32()?;
        size -= 4;
        self.printf(OPTIONS, format!("0x{cpus:X} [peer's CPU count]\n"))?;
        // (times, offsets, scalings, fracs) per CPU; every element read
        // consumes `size`, which bounds all loops.
        let mut data: Vec<[Vec<u64>; 4]> = Vec::new();
        let mut broken = false;
        'read: for j in 0..cpus {
            if size < 4 {
                broken = true;
                break;
            }
            let count = self.u32()?;
            size -= 4;
            self.printf(
                OPTIONS,
                format!("{count} [samples count for CPU {}]\n", j as i32),
            )?;
            let mut e: [Vec<u64>; 4] = Default::default();
            for k in 0..3 {
                for _ in 0..count {
                    if size < 8 {
                        broken = true;
                        data.push(e);
                        break 'read;
                    }
                    let v = self.u64()?;
                    if let Some(x) = e.get_mut(k) {
                        x.push(v);
                    }
                    size -= 8;
                }
            }
            e[3] = vec![0; e[0].len()];
            data.push(e);
        }
        if !broken && size > 0 {
            'frac: for e in data.iter_mut() {
                for i in 0..e[0].len() {
                    if size < 8 {
                        broken = true;
                        break 'frac;
                    }
                    let v = self.u64()?;
                    if let Some(x) = e[3].get_mut(i) {
                        *x = v;
                    }
                    size -= 8;
                }
            }
        }
        if !broken {
            for e in &data {
                for i in 0..e[0].len() {
                    let g = |k: usize| e.get(k).and_then(|v| v.get(i)).copied().unwrap_or(0);
                    self.printf(
                        OPTIONS,
                        format!(
                            "\t{} {} {} {}[offset * scaling >> fraction @ time]\n",
                            g(1) as i64,
                            g(2) as i64,
                            g(3),
                            g(0)
                        ),
                    )?;
                }
            }
        } else {
            self.print(OPTIONS, b"Broken time shift option\n")?;
        }
        Ok(())
    }

    fn option_guest(&mut self, size: u32) -> Result<()> {
        self.printf(
            OPTIONS,
            format!("\t\t[Option GUEST, {} bytes]\n", size as i32),
        )?;
        if u64::from(size) > MAX_OPTION {
            return Err(Error::corrupt(
                "GUEST option",
                self.pos,
                format!("option of {size} bytes"),
            ));
        }
        let buf = self.read(size as usize)?;
        let nl = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
        let mut s = buf.get(..nl).unwrap_or(&[]).to_vec();
        s.extend_from_slice(b" [Guest name]\n");
        self.print(OPTIONS, &s)?;
        let mut p = buf.get(nl + 1..).unwrap_or(&[]);
        let rd = |p: &[u8], n: usize, e: Endian| -> u64 {
            let mut v = 0u64;
            for i in 0..n {
                let b = u64::from(p.get(i).copied().unwrap_or(0));
                match e {
                    Endian::Little => v |= b << (8 * i),
                    Endian::Big => v = (v << 8) | b,
                }
            }
            v
        };
        if p.len() < 8 {
            return Ok(());
        }
        let id = rd(p, 8, self.endian);
        p = p.get(8..).unwrap_or(&[]);
        self.printf(OPTIONS, format!("0x{id:X} [trace id]\n"))?;
        if p.len() < 4 {
            return Ok(());
        }
        let cpus = rd(p, 4, self.endian) as u32 as i32;
        p = p.get(4..).unwrap_or(&[]);
        self.printf(OPTIONS, format!("{cpus} [Guest CPUs]\n"))?;
        for _ in 0..cpus.max(0) {
            if p.len() < 8 {
                break;
            }
            let cpu = rd(p, 4, self.endian) as u32 as i32;
            let pid = rd(p.get(4..).unwrap_or(&[]), 4, self.endian) as u32 as i32;
            p = p.get(8..).unwrap_or(&[]);
            self.printf(OPTIONS, format!("  {cpu} {pid} [guest cpu, host pid]\n"))?;
        }
        Ok(())
    }

    fn option_section(&mut self, size: u32, id: u16, desc: &str, v: u32) -> Result<()> {
        let off = self.u64()?;
        self.sections.push((id, off, v));
        self.printf(
            OPTIONS,
            format!(
                "\t\t[Option {desc}, {} bytes] @ {}\n",
                size as i32, off as i64
            ),
        )
    }

    fn options_read(&mut self) -> Result<usize> {
        self.depth += 1;
        if self.depth > MAX_OPTION_SECTIONS {
            return Err(Error::corrupt(
                "options",
                self.pos,
                "too many chained option sections",
            ));
        }
        let mut flags = 0;
        if self.version >= 7 {
            flags = self.section_header(OPTIONS)?;
        }
        let start = self.pos;
        self.set_section(&format!("options section at {start}"));
        if flags & 1 != 0 {
            self.uncompress_block()?;
        }
        let mut count = 0usize;
        // Every option consumes at least 2 bytes, so this ends with the data.
        loop {
            self.set_section(&format!("options section at {start}"));
            let option = self.u16()?;
            if option == opt::DONE && self.version < 7 {
                break;
            }
            let size = self.u32()?;
            count += 1;
            match option {
                opt::DATE => self.option_string(size, "DATE")?,
                opt::CPUSTAT => self.option_string(size, "CPUSTAT")?,
                opt::BUFFER | opt::BUFFER_TEXT => self.option_buffer(option, size)?,
                opt::TRACECLOCK => {
                    self.printf(
                        OPTIONS,
                        format!("\t\t[Option TRACECLOCK, {} bytes]\n", size as i32),
                    )?;
                    self.dump_string(u64::from(size), OPTIONS | CLOCK)?;
                    self.has_clock = true;
                }
                opt::UNAME => self.option_string(size, "UNAME")?,
                opt::HOOK => self.option_string(size, "HOOK")?,
                opt::OFFSET => self.option_string(size, "OFFSET")?,
                opt::CPUCOUNT => {
                    self.printf(
                        OPTIONS,
                        format!("\t\t[Option CPUCOUNT, {} bytes]\n", size as i32),
                    )?;
                    let v = self.option_number(size)? as u32 as i32;
                    self.printf(OPTIONS, format!("{v}\n"))?;
                }
                opt::VERSION => self.option_string(size, "VERSION")?,
                opt::PROCMAPS => self.option_string(size, "PROCMAPS")?,
                opt::TRACEID => {
                    self.printf(
                        OPTIONS,
                        format!("\t\t[Option TRACEID, {} bytes]\n", size as i32),
                    )?;
                    let v = self.option_number(size)?;
                    self.printf(OPTIONS, format!("0x{v:X}\n"))?;
                }
                opt::TIME_SHIFT => self.option_timeshift(size)?,
                opt::GUEST => self.option_guest(size)?,
                opt::TSC2NSEC => {
                    self.printf(
                        OPTIONS,
                        format!("\n\t\t[Option TSC2NSEC, {} bytes]\n", size as i32),
                    )?;
                    let mult = self.u32()? as i32;
                    let shift = self.u32()? as i32;
                    let off = self.u64()?;
                    self.printf(
                        OPTIONS,
                        format!("{mult} {shift} {off} [multiplier, shift, offset]\n"),
                    )?;
                }
                opt::HEADER_INFO => {
                    self.option_section(size, option, "HEADERS", HEAD_PAGE | HEAD_EVENT)?
                }
                opt::FTRACE_EVENTS => {
                    self.option_section(size, option, "FTRACE EVENTS", FTRACE_FORMAT)?
                }
                opt::EVENT_FORMATS => self.option_section(
                    size,
                    option,
                    "EVENT FORMATS",
                    EVENT_SYSTEMS | EVENT_FORMAT,
                )?,
                opt::KALLSYMS => self.option_section(size, option, "KALLSYMS", KALLSYMS)?,
                opt::PRINTK => self.option_section(size, option, "PRINTK", TRACE_PRINTK)?,
                opt::CMDLINES => self.option_section(size, option, "CMDLINES", CMDLINES)?,
                opt::DONE => {
                    self.uncompress_reset();
                    return Ok(count + self.option_done(size)?);
                }
                _ => {
                    self.printf(
                        OPTIONS,
                        format!(
                            " {option} {}\t[Unknown option, size - skipping]\n",
                            size as i32
                        ),
                    )?;
                    self.skip(u64::from(size))?;
                }
            }
        }
        self.uncompress_reset();
        Ok(count)
    }

    fn option_done(&mut self, size: u32) -> Result<usize> {
        self.printf(
            OPTIONS,
            format!("\t\t[Option DONE, {} bytes]\n", size as i32),
        )?;
        if self.version < 7 || size < 8 {
            return Ok(0);
        }
        let offset = self.u64()?;
        self.printf(OPTIONS, format!("{}\n", offset as i64))?;
        if offset == 0 {
            return Ok(0);
        }
        self.pos = offset;
        self.print(OPTIONS, b"\n\n")?;
        self.options_read()
    }

    fn v7_file(&mut self) -> Result<()> {
        self.set_section("first options offset");
        let offset = self.u64()?;
        self.meta_strings()?;
        let count = self.walk_sections()?;
        self.pos = offset;
        self.options()?;
        self.dump_sections(count)
    }

    /// Walks the section headers from the current position to the end of
    /// the file; calls `f` on each. Each step moves forward by at least the
    /// 16-byte header, so the walk ends with the file.
    fn meta_strings(&mut self) -> Result<()> {
        let start = self.pos;
        loop {
            let soff = self.pos;
            self.set_section(&format!("section header at {soff}"));
            let Ok(id) = self.u16() else { break };
            let fl = self.u16()?;
            let _desc = self.u32()?;
            let size = self.u64()?;
            if id == opt::STRINGS {
                let body = self.pos;
                self.set_section(&format!("strings section at {soff}"));
                let before = self.meta.len();
                if fl & 1 != 0 && self.comp.is_some() {
                    if self.uncompress_block().is_err() {
                        break;
                    }
                    let data = self.cbuf.take().unwrap_or_default();
                    self.meta.extend_from_slice(&data);
                    self.uncompress_reset();
                } else {
                    let Ok(data) = self.read(usize::try_from(size).unwrap_or(usize::MAX)) else {
                        self.pos = body;
                        break;
                    };
                    self.meta.extend_from_slice(&data);
                }
                if self.want(STRINGS) {
                    self.print(STRINGS, b"\t[String @ offset]\n")?;
                    let mut p = before;
                    while p < self.meta.len() {
                        let rest = self.meta.get(p..).unwrap_or(&[]);
                        let l = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                        let mut s = b"\t\t\"".to_vec();
                        s.extend_from_slice(rest.get(..l).unwrap_or(&[]));
                        s.extend_from_slice(format!("\" @ {p}\n").as_bytes());
                        self.print(STRINGS, &s)?;
                        p += l + 1;
                    }
                }
            } else {
                match self.pos.checked_add(size) {
                    Some(n) => self.pos = n,
                    None => break,
                }
            }
        }
        self.pos = start;
        Ok(())
    }

    fn walk_sections(&mut self) -> Result<usize> {
        let start = self.pos;
        let mut count = 0;
        loop {
            let soff = self.pos;
            self.set_section(&format!("section header at {soff}"));
            let Ok(id) = self.u16() else { break };
            let fl = self.u16()?;
            let desc_id = self.u32()? as i32;
            let mut size = self.u64()?;
            let desc = self.meta_string(desc_id);
            if id >= 23 {
                let mut s = format!("Unknown section id {id}: ").into_bytes();
                s.extend_from_slice(&desc);
                self.print(SECTIONS, &s)?;
            }
            count += 1;
            let mut s = format!("\t[Section {id:2} @ {soff:<16}\t\"").into_bytes();
            s.extend_from_slice(&desc);
            if fl & 1 != 0 {
                if id == opt::BUFFER || id == opt::BUFFER_TEXT {
                    s.extend_from_slice(
                        format!("\", flags 0x{fl:X}, {} compressed bytes]\n", size as i64)
                            .as_bytes(),
                    );
                } else {
                    let csize = self.u32()? as i32;
                    let rsize = self.u32()? as i32;
                    s.extend_from_slice(
                        format!("\", flags 0x{fl:X}, {csize} compressed, {rsize} uncompressed]\n")
                            .as_bytes(),
                    );
                    size = size.wrapping_sub(8);
                }
            } else {
                s.extend_from_slice(
                    format!("\", flags 0x{fl:X}, {} bytes]\n", size as i64).as_bytes(),
                );
            }
            self.print(SECTIONS, &s)?;
            // lseek(size, SEEK_CUR) with a negative off_t fails → stop.
            if (size as i64) < 0 {
                break;
            }
            match self.pos.checked_add(size) {
                Some(n) => self.pos = n,
                None => break,
            }
        }
        self.pos = start;
        Ok(count)
    }

    fn dump_sections(&mut self, count: usize) -> Result<()> {
        let secs = std::mem::take(&mut self.sections);
        for &(id, offset, v) in secs.iter().rev() {
            self.pos = offset;
            let fl = self.section_header(v)?;
            if fl & 1 != 0 {
                self.set_section(&format!("section {id} at {offset}"));
                self.uncompress_block()?;
            }
            match id {
                opt::HEADER_INFO => {
                    self.header_page()?;
                    self.header_event()?;
                }
                opt::FTRACE_EVENTS => self.ftrace_formats()?,
                opt::EVENT_FORMATS => self.event_formats()?,
                opt::KALLSYMS => self.kallsyms()?,
                opt::PRINTK => self.printk()?,
                opt::CMDLINES => self.cmdlines()?,
                _ => {}
            }
            self.uncompress_reset();
        }
        self.printf(SUMMARY | SECTIONS, format!("\t[{count} sections]\n"))
    }
}
