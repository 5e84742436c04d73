//! The `HEADER_TRACING_DATA` feature: tracepoint formats in trace-cmd's v6
//! metadata layout with version string `0.6` (header_page, header_event,
//! ftrace formats, event formats per system, kallsyms, printk, cmdlines).

use std::path::Path;

use super::{u32_at, u64_at};
use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x17\x08\x44tracing0.6\0";

/// Parsed tracing data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracingData {
    /// Long size in bytes.
    pub long_size: u8,
    /// Page size.
    pub page_size: u32,
    /// `events/header_page`.
    pub header_page: Vec<u8>,
    /// `events/header_event`.
    pub header_event: Vec<u8>,
    /// `events/ftrace/*/format`.
    pub ftrace: Vec<Vec<u8>>,
    /// `(system, formats)`.
    pub systems: Vec<(String, Vec<Vec<u8>>)>,
    /// `/proc/kallsyms` (perf writes none).
    pub kallsyms: Vec<u8>,
    /// `printk_formats`.
    pub printk: Vec<u8>,
    /// `saved_cmdlines`.
    pub cmdlines: Vec<u8>,
}

/// Reads a tracefs file with large reads: `events/header_page` and
/// `header_event` answer only a read at offset 0 (a small first read, as
/// `std::fs::read` does for zero-sized files, truncates them).
fn read_whole(p: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(p)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..1 << 16 {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}

fn bad(o: usize, why: &str) -> Error {
    Error::BadData {
        offset: o as u64,
        why: format!("tracing data: {why}"),
    }
}

impl TracingData {
    /// Parses the feature bytes.
    pub fn parse(b: &[u8]) -> Result<TracingData> {
        if !b.starts_with(MAGIC) {
            let v = b
                .get(..16)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default();
            return Err(bad(
                0,
                &format!("unsupported header {v:?} (expected version 0.6)"),
            ));
        }
        let mut o = MAGIC.len();
        let mut td = TracingData {
            long_size: *b.get(o + 1).ok_or_else(|| bad(o, "truncated"))?,
            ..Default::default()
        };
        if b.get(o) != Some(&0) {
            return Err(bad(o, "big-endian tracing data is not supported"));
        }
        o += 2;
        td.page_size = u32_at(b, o).ok_or_else(|| bad(o, "truncated"))?;
        o += 4;
        let blob64 = |o: &mut usize| -> Result<Vec<u8>> {
            let n = u64_at(b, *o).ok_or_else(|| bad(*o, "truncated"))? as usize;
            let s = b
                .get(*o + 8..(*o + 8).checked_add(n).ok_or_else(|| bad(*o, "size"))?)
                .ok_or_else(|| bad(*o, "truncated blob"))?;
            *o += 8 + n;
            Ok(s.to_vec())
        };
        let blob32 = |o: &mut usize| -> Result<Vec<u8>> {
            let n = u32_at(b, *o).ok_or_else(|| bad(*o, "truncated"))? as usize;
            let s = b
                .get(*o + 4..*o + 4 + n)
                .ok_or_else(|| bad(*o, "truncated blob"))?;
            *o += 4 + n;
            Ok(s.to_vec())
        };
        let cstr = |o: &mut usize| -> Result<String> {
            let rest = b.get(*o..).ok_or_else(|| bad(*o, "truncated"))?;
            let end = rest
                .iter()
                .position(|c| *c == 0)
                .ok_or_else(|| bad(*o, "unterminated name"))?;
            let s = String::from_utf8_lossy(&rest[..end]).into_owned();
            *o += end + 1;
            Ok(s)
        };
        if cstr(&mut o)? != "header_page" {
            return Err(bad(o, "expected header_page"));
        }
        td.header_page = blob64(&mut o)?;
        if cstr(&mut o)? != "header_event" {
            return Err(bad(o, "expected header_event"));
        }
        td.header_event = blob64(&mut o)?;
        let n = u32_at(b, o)
            .ok_or_else(|| bad(o, "truncated"))?
            .min(100_000);
        o += 4;
        for _ in 0..n {
            td.ftrace.push(blob64(&mut o)?);
        }
        let ns = u32_at(b, o)
            .ok_or_else(|| bad(o, "truncated"))?
            .min(100_000);
        o += 4;
        for _ in 0..ns {
            let name = cstr(&mut o)?;
            let ne = u32_at(b, o)
                .ok_or_else(|| bad(o, "truncated"))?
                .min(100_000);
            o += 4;
            let mut v = Vec::new();
            for _ in 0..ne {
                v.push(blob64(&mut o)?);
            }
            td.systems.push((name, v));
        }
        td.kallsyms = blob32(&mut o).unwrap_or_default();
        td.printk = blob32(&mut o).unwrap_or_default();
        td.cmdlines = blob64(&mut o).unwrap_or_default();
        Ok(td)
    }

    /// Serializes (the exact layout `parse` reads).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.push(0);
        v.push(self.long_size);
        v.extend_from_slice(&self.page_size.to_le_bytes());
        v.extend_from_slice(b"header_page\0");
        v.extend_from_slice(&(self.header_page.len() as u64).to_le_bytes());
        v.extend_from_slice(&self.header_page);
        v.extend_from_slice(b"header_event\0");
        v.extend_from_slice(&(self.header_event.len() as u64).to_le_bytes());
        v.extend_from_slice(&self.header_event);
        v.extend_from_slice(&(self.ftrace.len() as u32).to_le_bytes());
        for f in &self.ftrace {
            v.extend_from_slice(&(f.len() as u64).to_le_bytes());
            v.extend_from_slice(f);
        }
        v.extend_from_slice(&(self.systems.len() as u32).to_le_bytes());
        for (name, evs) in &self.systems {
            v.extend_from_slice(name.as_bytes());
            v.push(0);
            v.extend_from_slice(&(evs.len() as u32).to_le_bytes());
            for f in evs {
                v.extend_from_slice(&(f.len() as u64).to_le_bytes());
                v.extend_from_slice(f);
            }
        }
        v.extend_from_slice(&(self.kallsyms.len() as u32).to_le_bytes());
        v.extend_from_slice(&self.kallsyms);
        v.extend_from_slice(&(self.printk.len() as u32).to_le_bytes());
        v.extend_from_slice(&self.printk);
        v.extend_from_slice(&(self.cmdlines.len() as u64).to_le_bytes());
        v.extend_from_slice(&self.cmdlines);
        v
    }

    /// Reads what perf stores for `events` (`sys:name`) from the tracefs at `root`.
    pub fn from_tracefs(root: &Path, events: &[(String, String)]) -> Result<TracingData> {
        let rd = |p: &Path| read_whole(p).map_err(crate::error::io_err(p));
        let ev = root.join("events");
        let mut td = TracingData {
            long_size: std::mem::size_of::<libc::c_long>() as u8,
            // SAFETY: sysconf has no preconditions.
            page_size: unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u32,
            header_page: rd(&ev.join("header_page"))?,
            header_event: rd(&ev.join("header_event"))?,
            ..Default::default()
        };
        for (sys, name) in events {
            let f = rd(&ev.join(sys).join(name).join("format"))?;
            match td.systems.iter_mut().find(|(s, _)| s == sys) {
                Some((_, v)) => v.push(f),
                None => td.systems.push((sys.clone(), vec![f])),
            }
        }
        td.printk = read_whole(&root.join("printk_formats")).unwrap_or_default();
        td.cmdlines = read_whole(&root.join("saved_cmdlines")).unwrap_or_default();
        Ok(td)
    }

    /// An event registry with every event format.
    pub fn registry(&self) -> traceevent::EventRegistry {
        let ls = if self.long_size == 4 {
            traceevent::LongSize::Four
        } else {
            traceevent::LongSize::Eight
        };
        let mut reg = traceevent::EventRegistry::new(ls, traceevent::Endian::Little);
        for f in &self.ftrace {
            let _ = reg.add_format("ftrace", &String::from_utf8_lossy(f));
        }
        for (sys, evs) in &self.systems {
            for f in evs {
                let _ = reg.add_format(sys, &String::from_utf8_lossy(f));
            }
        }
        reg
    }
}
