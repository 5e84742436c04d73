//! perf.data: the file-mode format of `perf record` (header, attrs with their
//! ids, the data section of `perf_event_header` records, and feature sections).
//!
//! [`PerfData`] parses a whole file held in memory (bounds-checked; perf.data
//! is external input). [`parse_sample`] and [`parse_other`] decode records for
//! an attr. [`Writer`] writes files Debian's `perf report`/`perf script` read.

mod features;
mod records;
mod tracing;
mod writer;

pub use features::{BuildIdEntry, Feature};
pub use records::{parse_other, parse_sample, OtherRecord, Sample, SampleId};
pub use tracing::TracingData;
pub use writer::{Writer, WriterInfo};

use std::collections::BTreeMap;
use std::path::Path;

use crate::attr::{sample, Attr};
use crate::error::{io_err, Error, Result};

/// perf.data magic, `PERFILE2` in little-endian order.
pub const MAGIC: &[u8; 8] = b"PERFILE2";

/// Record types (`PERF_RECORD_*`, and perf's user types from 64 on).
pub mod rtype {
    #![allow(missing_docs)]
    pub const MMAP: u32 = 1;
    pub const LOST: u32 = 2;
    pub const COMM: u32 = 3;
    pub const EXIT: u32 = 4;
    pub const THROTTLE: u32 = 5;
    pub const UNTHROTTLE: u32 = 6;
    pub const FORK: u32 = 7;
    pub const READ: u32 = 8;
    pub const SAMPLE: u32 = 9;
    pub const MMAP2: u32 = 10;
    pub const LOST_SAMPLES: u32 = 13;
    pub const SWITCH: u32 = 14;
    pub const KSYMBOL: u32 = 17;
    pub const BPF_EVENT: u32 = 18;
    pub const FINISHED_ROUND: u32 = 68;
    pub const ID_INDEX: u32 = 69;
    pub const THREAD_MAP: u32 = 73;
    pub const CPU_MAP: u32 = 74;
    pub const EVENT_UPDATE: u32 = 78;
    pub const TIME_CONV: u32 = 79;
    pub const FINISHED_INIT: u32 = 82;
}

/// `header.misc` bits.
pub mod misc {
    #![allow(missing_docs)]
    pub const CPUMODE_MASK: u16 = 7;
    pub const KERNEL: u16 = 1;
    pub const USER: u16 = 2;
    pub const HYPERVISOR: u16 = 3;
    pub const GUEST_KERNEL: u16 = 4;
    pub const GUEST_USER: u16 = 5;
    pub const MMAP_DATA: u16 = 1 << 13;
    pub const COMM_EXEC: u16 = 1 << 13;
    pub const EXACT_IP: u16 = 1 << 14;
    pub const MMAP_BUILD_ID: u16 = 1 << 14;
    pub const BUILD_ID_SIZE: u16 = 1 << 15;
}

/// One event of the file: its attr, kernel ids and name (from `EVENT_DESC`).
#[derive(Debug, Clone)]
pub struct FileAttr {
    /// The attr.
    pub attr: Attr,
    /// Kernel ids of its fds (one per CPU/thread).
    pub ids: Vec<u64>,
    /// Event name (`cpu-clock`, `sched:sched_switch`).
    pub name: String,
}

/// One record of the data section.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// `header.type`.
    pub type_: u32,
    /// `header.misc`.
    pub misc: u16,
    /// Bytes after the 8-byte header.
    pub body: &'a [u8],
    /// File offset of the header.
    pub offset: u64,
}

/// A parsed perf.data file.
#[derive(Debug, Clone)]
pub struct PerfData {
    bytes: Vec<u8>,
    /// Events.
    pub attrs: Vec<FileAttr>,
    data_off: usize,
    data_len: usize,
    /// Raw feature sections by feature number.
    pub features: BTreeMap<u32, Vec<u8>>,
    id_to_attr: BTreeMap<u64, usize>,
}

pub(crate) fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    b.get(o..o.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}
pub(crate) fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    b.get(o..o.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
pub(crate) fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    let s = b.get(o..o.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

fn bad(offset: u64, why: impl Into<String>) -> Error {
    Error::BadData {
        offset,
        why: why.into(),
    }
}

fn section(b: &[u8], at: usize) -> Result<(usize, usize)> {
    let off = u64_at(b, at).ok_or_else(|| bad(at as u64, "truncated header"))?;
    let len = u64_at(b, at + 8).ok_or_else(|| bad(at as u64, "truncated header"))?;
    let end = off
        .checked_add(len)
        .ok_or_else(|| bad(at as u64, "section overflows"))?;
    if end > b.len() as u64 {
        return Err(bad(
            at as u64,
            format!(
                "section {off:#x}+{len:#x} beyond end of file ({:#x})",
                b.len()
            ),
        ));
    }
    Ok((off as usize, len as usize))
}

impl PerfData {
    /// Reads and parses `path`.
    pub fn open(path: &Path) -> Result<PerfData> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        PerfData::parse(bytes)
    }

    /// Parses a file image.
    pub fn parse(bytes: Vec<u8>) -> Result<PerfData> {
        let b = &bytes[..];
        if b.get(..8) != Some(&MAGIC[..]) {
            return Err(bad(0, "not a perf.data file (magic is not PERFILE2; pipe-mode and big-endian files are not supported)"));
        }
        let hsize = u64_at(b, 8).ok_or_else(|| bad(8, "truncated header"))? as usize;
        let attr_size = u64_at(b, 16).ok_or_else(|| bad(16, "truncated header"))? as usize;
        if hsize < 104 || !(16 + 64..=16 + 4096).contains(&attr_size) {
            return Err(bad(
                8,
                format!("unexpected header size {hsize} / attr size {attr_size}"),
            ));
        }
        let (aoff, alen) = section(b, 24)?;
        let (doff, dlen) = section(b, 40)?;
        let mut attrs = Vec::new();
        let mut id_to_attr = BTreeMap::new();
        for i in 0..alen / attr_size {
            let o = aoff + i * attr_size;
            let ab = b
                .get(o..o + attr_size - 16)
                .ok_or_else(|| bad(o as u64, "attr truncated"))?;
            let attr = Attr::from_bytes(ab);
            let (ioff, ilen) = section(b, o + attr_size - 16)?;
            let ids: Vec<u64> = (0..ilen / 8)
                .filter_map(|k| u64_at(b, ioff + k * 8))
                .collect();
            for id in &ids {
                id_to_attr.insert(*id, i);
            }
            attrs.push(FileAttr {
                attr,
                ids,
                name: String::new(),
            });
        }
        if attrs.is_empty() {
            return Err(bad(24, "no events in attrs section"));
        }
        // Feature sections follow the data section, one perf_file_section per set bit.
        let mut features = BTreeMap::new();
        let mut fpos = doff + dlen;
        for bit in 0..256u32 {
            let word = u64_at(b, 72 + (bit as usize / 64) * 8).unwrap_or(0);
            if word & (1 << (bit % 64)) == 0 {
                continue;
            }
            if let Ok((o, l)) = section(b, fpos) {
                if let Some(s) = b.get(o..o + l) {
                    features.insert(bit, s.to_vec());
                }
            }
            fpos += 16;
        }
        let mut pd = PerfData {
            bytes,
            attrs,
            data_off: doff,
            data_len: dlen,
            features,
            id_to_attr,
        };
        let names = pd.event_desc().unwrap_or_default();
        for (i, a) in pd.attrs.iter_mut().enumerate() {
            a.name = names
                .get(i)
                .cloned()
                .unwrap_or_else(|| crate::session::default_event_name(&a.attr));
        }
        Ok(pd)
    }

    /// Records of the data section, in file order.
    pub fn records(&self) -> Records<'_> {
        let end = self.data_off + self.data_len;
        Records {
            b: &self.bytes[..end.min(self.bytes.len())],
            pos: self.data_off,
        }
    }

    /// The attr index a record belongs to (by id when there are several events).
    pub fn attr_index(&self, r: &RawRecord<'_>) -> Option<usize> {
        if self.attrs.len() == 1 {
            return Some(0);
        }
        let a0 = &self.attrs.first()?.attr;
        let st = a0.sample_type;
        let id = if r.type_ == rtype::SAMPLE {
            if st & sample::IDENTIFIER != 0 {
                u64_at(r.body, 0)
            } else if st & sample::ID != 0 {
                let mut o = 0;
                for bit in [sample::IP, sample::TID, sample::TIME, sample::ADDR] {
                    if st & bit != 0 {
                        o += 8;
                    }
                }
                u64_at(r.body, o)
            } else {
                None
            }
        } else if st & sample::IDENTIFIER != 0 && a0.sample_id_size() > 0 {
            r.body.len().checked_sub(8).and_then(|o| u64_at(r.body, o))
        } else {
            None
        };
        match id {
            Some(id) if r.type_ == rtype::SAMPLE => self.id_to_attr.get(&id).copied(),
            // Synthesized side-band records carry id 0: any attr's layout reads them.
            Some(id) => Some(self.id_to_attr.get(&id).copied().unwrap_or(0)),
            None => Some(0),
        }
    }

    /// The raw bytes of feature `f`.
    pub fn feature(&self, f: Feature) -> Option<&[u8]> {
        self.features.get(&(f as u32)).map(|v| &v[..])
    }
}

/// Iterator over data-section records.
#[derive(Debug)]
pub struct Records<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawRecord<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos + 8 > self.b.len() {
            return None;
        }
        let type_ = u32_at(self.b, self.pos)?;
        let misc = u16_at(self.b, self.pos + 4)?;
        let size = u16_at(self.b, self.pos + 6)? as usize;
        if size < 8 || self.pos + size > self.b.len() {
            let off = self.pos as u64;
            self.pos = self.b.len();
            return Some(Err(bad(
                off,
                format!("record of type {type_} has bad size {size}"),
            )));
        }
        let r = RawRecord {
            type_,
            misc,
            body: &self.b[self.pos + 8..self.pos + size],
            offset: self.pos as u64,
        };
        self.pos += size;
        Some(Ok(r))
    }
}
