//! Ring-buffer sub-buffer ("page") decoder, the equivalent of libtraceevent's
//! kbuffer: it splits one `trace_pipe_raw` page into data records with absolute
//! timestamps and reports missed events. It knows nothing about event formats.

use crate::bytes::{Endian, LongSize};
use crate::error::{Error, Result};
use crate::format::HeaderPage;
use serde::Serialize;

const TS_SHIFT: u32 = 27;
const TS_MSB: u64 = 0xf8 << 56;
const RB_MISSED_EVENTS: u64 = 1 << 31;
const RB_MISSED_STORED: u64 = 1 << 30;
const COMMIT_MASK: u64 = (1 << 27) - 1;
const PADDING: u32 = 29;
const TIME_EXTEND: u32 = 30;
const TIME_STAMP: u32 = 31;

/// Events lost before a sub-buffer, from the `commit` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Missed {
    /// Nothing was lost.
    None,
    /// Events were lost but the count was not stored (`RB_MISSED_EVENTS` only).
    Unknown,
    /// This many events were lost (`RB_MISSED_STORED`).
    Count(u64),
}

impl Missed {
    /// True unless [`Missed::None`].
    pub fn any(self) -> bool {
        !matches!(self, Missed::None)
    }
}

/// One parsed sub-buffer. Iterate its records with [`SubBuffer::records`].
#[derive(Debug, Clone)]
pub struct SubBuffer<'a> {
    /// Timestamp from the page header (start of the delta chain).
    pub timestamp: u64,
    /// Missed-events information from `commit`.
    pub missed: Missed,
    data: &'a [u8],
    data_offset: usize,
    endian: Endian,
    cpu: Option<u32>,
}

/// A raw record of a sub-buffer: absolute timestamp and payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Absolute timestamp in trace-clock units.
    pub ts: u64,
    /// Byte offset of the record header within the sub-buffer.
    pub offset: usize,
    /// Payload (starts with `common_type`); may include trailing alignment padding.
    pub payload: &'a [u8],
}

impl<'a> SubBuffer<'a> {
    /// Parses the header of a sub-buffer laid out as on all known kernels:
    /// u64 timestamp, `long` commit, then data.
    pub fn parse(bytes: &'a [u8], long_size: LongSize, endian: Endian) -> Result<SubBuffer<'a>> {
        let hp = HeaderPage {
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: long_size.bytes(),
            data_offset: 8 + long_size.bytes(),
            data_size: bytes.len().saturating_sub(8 + long_size.bytes()),
        };
        Self::parse_with_header(bytes, &hp, endian)
    }

    /// Parses a sub-buffer using the offsets of a parsed `header_page`.
    pub fn parse_with_header(
        bytes: &'a [u8],
        header: &HeaderPage,
        endian: Endian,
    ) -> Result<SubBuffer<'a>> {
        let err = |offset, reason| Error::SubBuffer {
            cpu: None,
            offset,
            reason,
        };
        let timestamp = endian
            .read_u64(bytes, header.timestamp_offset)
            .ok_or_else(|| err(0, "truncated sub-buffer header"))?;
        let commit = endian
            .read_uint(bytes, header.commit_offset, header.commit_size)
            .ok_or_else(|| err(header.commit_offset, "truncated commit field"))?;
        let len = (commit & COMMIT_MASK) as usize;
        let start = header.data_offset;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| err(header.commit_offset, "commit length beyond sub-buffer"))?;
        let missed = if commit & RB_MISSED_EVENTS != 0 {
            if commit & RB_MISSED_STORED != 0 {
                match endian.read_uint(bytes, end, header.commit_size) {
                    Some(n) => Missed::Count(n),
                    None => Missed::Unknown,
                }
            } else {
                Missed::Unknown
            }
        } else {
            Missed::None
        };
        Ok(SubBuffer {
            timestamp,
            missed,
            data: bytes.get(start..end).unwrap_or(&[]),
            data_offset: start,
            endian,
            cpu: None,
        })
    }

    /// Tags decode errors of this page with a CPU number.
    pub fn with_cpu(mut self, cpu: u32) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// Number of committed data bytes.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Iterates over the data records. After an error the iterator ends
    /// (the rest of the page cannot be resynchronised).
    pub fn records(&self) -> Records<'a> {
        Records {
            data: self.data,
            pos: 0,
            ts: self.timestamp,
            base: self.data_offset,
            endian: self.endian,
            cpu: self.cpu,
            done: false,
        }
    }
}

/// Iterator over the records of a [`SubBuffer`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a [u8],
    pos: usize,
    ts: u64,
    base: usize,
    endian: Endian,
    cpu: Option<u32>,
    done: bool,
}

impl<'a> Records<'a> {
    /// Current running timestamp (after the last record returned).
    pub fn timestamp(&self) -> u64 {
        self.ts
    }

    fn fail(&mut self, reason: &'static str) -> Option<Result<RawRecord<'a>>> {
        self.done = true;
        Some(Err(Error::SubBuffer {
            cpu: self.cpu,
            offset: self.base + self.pos,
            reason,
        }))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawRecord<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // Each step advances `pos` by at least 4 bytes, so this loop is bounded.
        while !self.done {
            let pos = self.pos;
            if pos >= self.data.len() {
                self.done = true;
                return None;
            }
            let Some(w) = self.endian.read_u32(self.data, pos) else {
                return self.fail("truncated event header");
            };
            let (type_len, delta) = match self.endian {
                Endian::Little => (w & 0x1f, u64::from(w >> 5)),
                Endian::Big => (w >> 27, u64::from(w & 0x07ff_ffff)),
            };
            let array0 = self.endian.read_u32(self.data, pos + 4);
            match type_len {
                PADDING => {
                    if delta == 0 {
                        self.done = true;
                        return None;
                    }
                    let Some(len) = array0 else {
                        return self.fail("truncated padding event");
                    };
                    let Some(next) = (len as usize)
                        .checked_add(4)
                        .and_then(|l| l.checked_add(pos))
                    else {
                        return self.fail("impossible padding length");
                    };
                    if next > self.data.len() {
                        return self.fail("discarded event extends beyond commit");
                    }
                    self.ts = self.ts.wrapping_add(delta);
                    self.pos = next;
                }
                TIME_EXTEND => {
                    let Some(ext) = array0 else {
                        return self.fail("truncated time extend");
                    };
                    self.ts = self
                        .ts
                        .wrapping_add((u64::from(ext) << TS_SHIFT).wrapping_add(delta));
                    self.pos = pos + 8;
                }
                TIME_STAMP => {
                    let Some(ext) = array0 else {
                        return self.fail("truncated time stamp");
                    };
                    let mut abs = (u64::from(ext) << TS_SHIFT).wrapping_add(delta);
                    // rb_fix_abs_ts: restore the top bits lost in the 59-bit stamp.
                    if self.ts & TS_MSB != 0 {
                        abs |= self.ts & TS_MSB;
                        if abs < self.ts {
                            abs = abs.wrapping_add(1 << 59);
                        }
                    }
                    self.ts = abs;
                    self.pos = pos + 8;
                }
                _ => {
                    let (start, len) = if type_len == 0 {
                        let Some(a) = array0 else {
                            return self.fail("truncated event length");
                        };
                        if a < 4 {
                            return self.fail("impossible event length");
                        }
                        (pos + 8, (a - 4) as usize)
                    } else {
                        (pos + 4, type_len as usize * 4)
                    };
                    let Some(end) = start.checked_add(len).filter(|&e| e <= self.data.len()) else {
                        return self.fail("event extends beyond commit");
                    };
                    self.ts = self.ts.wrapping_add(delta);
                    self.pos = end;
                    return Some(Ok(RawRecord {
                        ts: self.ts,
                        offset: self.base + pos,
                        payload: self.data.get(start..end).unwrap_or(&[]),
                    }));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ts: u64, commit: u64, data: &[u8], size: usize) -> Vec<u8> {
        let mut p = Vec::with_capacity(size);
        p.extend_from_slice(&ts.to_le_bytes());
        p.extend_from_slice(&commit.to_le_bytes());
        p.extend_from_slice(data);
        p.resize(size, 0);
        p
    }

    fn hdr(type_len: u32, delta: u32) -> [u8; 4] {
        (type_len | (delta << 5)).to_le_bytes()
    }

    #[test]
    fn small_large_extend_padding() {
        let mut d = Vec::new();
        d.extend_from_slice(&hdr(2, 0)); // 8-byte payload
        d.extend_from_slice(&[1, 0, 0, 0, 5, 0, 0, 0]);
        d.extend_from_slice(&hdr(TIME_EXTEND, 3));
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&hdr(0, 0)); // large: array0 = 4 + 12
        d.extend_from_slice(&16u32.to_le_bytes());
        d.extend_from_slice(&[2; 12]);
        d.extend_from_slice(&hdr(PADDING, 7)); // discarded
        d.extend_from_slice(&8u32.to_le_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&hdr(1, 10));
        d.extend_from_slice(&[3; 4]);
        let p = page(1000, d.len() as u64, &d, 4096);
        let sb = SubBuffer::parse(&p, LongSize::Eight, Endian::Little).unwrap();
        assert_eq!(sb.missed, Missed::None);
        let recs: Vec<_> = sb.records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].ts, 1000);
        assert_eq!(recs[0].payload.len(), 8);
        assert_eq!(recs[1].ts, 1000 + (1 << 27) + 3);
        assert_eq!(recs[1].payload, &[2; 12]);
        assert_eq!(recs[2].ts, 1000 + (1 << 27) + 3 + 7 + 10);
        assert_eq!(recs[2].offset, 16 + d.len() - 8);
    }

    #[test]
    fn missed_flags_upper_bits_set() {
        let mut d = hdr(1, 0).to_vec();
        d.extend_from_slice(&[0; 4]);
        let commit = 0xffff_ffff_c000_0000u64 | d.len() as u64;
        let mut p = page(5, commit, &d, 64);
        p[16 + d.len()..16 + d.len() + 8].copy_from_slice(&2668u64.to_le_bytes());
        let sb = SubBuffer::parse(&p, LongSize::Eight, Endian::Little).unwrap();
        assert_eq!(sb.missed, Missed::Count(2668));
        assert_eq!(sb.records().count(), 1);
        let p = page(5, 0x8000_0000 | d.len() as u64, &d, 64);
        let sb = SubBuffer::parse(&p, LongSize::Eight, Endian::Little).unwrap();
        assert_eq!(sb.missed, Missed::Unknown);
    }

    #[test]
    fn absolute_timestamp_fix() {
        let mut d = Vec::new();
        // abs stamp with low 59 bits smaller than current -> wraps into next epoch
        d.extend_from_slice(&hdr(TIME_STAMP, 5));
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&hdr(1, 0));
        d.extend_from_slice(&[0; 4]);
        let base = (0x08u64 << 56) | 100;
        let p = page(base, d.len() as u64, &d, 64);
        let sb = SubBuffer::parse(&p, LongSize::Eight, Endian::Little).unwrap();
        let r: Vec<_> = sb.records().map(|r| r.unwrap()).collect();
        assert_eq!(r[0].ts, (0x08u64 << 56) + (1 << 59) + 5);
    }

    #[test]
    fn truncated_and_bad_lengths_error_once() {
        let mut d = hdr(0, 0).to_vec();
        d.extend_from_slice(&1000u32.to_le_bytes());
        let p = page(0, d.len() as u64, &d, 64);
        let sb = SubBuffer::parse(&p, LongSize::Eight, Endian::Little)
            .unwrap()
            .with_cpu(3);
        let v: Vec<_> = sb.records().collect();
        assert_eq!(v.len(), 1);
        assert!(matches!(
            v[0],
            Err(Error::SubBuffer {
                cpu: Some(3),
                offset: 16,
                ..
            })
        ));
        let p = page(0, 5000, &d, 64);
        assert!(SubBuffer::parse(&p, LongSize::Eight, Endian::Little).is_err());
        assert!(SubBuffer::parse(&[0; 10], LongSize::Eight, Endian::Little).is_err());
    }

    #[test]
    fn big_endian_32bit() {
        let mut p = Vec::new();
        p.extend_from_slice(&7u64.to_be_bytes());
        p.extend_from_slice(&8u32.to_be_bytes());
        p.extend_from_slice(&((1u32 << 27) | 9).to_be_bytes()); // type_len 1, delta 9
        p.extend_from_slice(&[9, 9, 9, 9]);
        let sb = SubBuffer::parse(&p, LongSize::Four, Endian::Big).unwrap();
        let r: Vec<_> = sb.records().map(|r| r.unwrap()).collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].ts, 16);
        assert_eq!(r[0].offset, 12);
    }
}
