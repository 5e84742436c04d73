//! Streaming of ring-buffer data: [`CpuStream`] reads one CPU of one buffer
//! in windows (uncompressed: 16 sub-buffers at a time; compressed: one chunk,
//! decompressed only when reached), and [`Merge`] is the k-way merge by
//! timestamp over all CPUs of all buffers, in trace-cmd's order (ties go to
//! the lower buffer, then the lower CPU). Memory stays bounded by one window
//! per CPU, whatever the file size.

use crate::compress::Algorithm;
use crate::dat::{Buffer, CpuData, TraceDat};
use crate::error::{Error, Result};
use crate::io::Source;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use traceevent::{Endian, HeaderPage, Missed, SubBuffer};

const PLAIN_WINDOW_PAGES: usize = 16;
const MAX_CHUNKS: u32 = 1 << 24;

/// One record of the merged stream.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Timestamp after trace-cmd's adjustments (TSC2NSEC, DATE, OFFSET, `--ts-offset`).
    pub ts: u64,
    /// Timestamp as stored in the ring buffer.
    pub raw_ts: u64,
    /// CPU.
    pub cpu: u32,
    /// Index of the buffer in [`TraceDat::buffers`].
    pub buffer: usize,
    /// Payload (common fields first), including alignment padding.
    pub data: &'a [u8],
    /// From the payload start to the end of its sub-buffer (libtraceevent
    /// reads past flexible arrays into the following bytes).
    pub tail: &'a [u8],
    /// Events lost before this record: 0 none, -1 unknown count, else the count.
    pub missed: i64,
    /// Offset of the record in its sub-buffer.
    pub offset: usize,
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    ts: u64,
    raw_ts: u64,
    start: usize,
    end: usize,
    page_end: usize,
    missed: i64,
    offset: usize,
}

#[derive(Debug)]
enum Kind {
    Plain {
        pos: u64,
        end: u64,
    },
    Compressed {
        pos: u64,
        end: u64,
        chunks_left: Option<u32>,
        alg: Algorithm,
    },
}

/// Timestamp conversion applied to every record (trace-cmd `timestamp_calc`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TsCalc {
    /// TSC2NSEC multiplier and shift.
    pub tsc: Option<(u32, u32)>,
    /// Offset added after conversion (ns).
    pub offset: i64,
    /// Leave timestamps untouched (`--raw-ts`).
    pub raw: bool,
}

impl TsCalc {
    #[inline]
    fn apply(&self, ts: u64) -> u64 {
        if self.raw {
            return ts;
        }
        let mut t = ts;
        if let Some((mult, shift)) = self.tsc {
            t = ((u128::from(t) * u128::from(mult)) >> shift.min(127)) as u64;
        }
        // A negative offset larger than the timestamp clamps at 0 rather
        // than wrapping to the end of time.
        t.saturating_add_signed(self.offset)
    }
}

/// Reader of one CPU's data of one buffer.
#[derive(Debug)]
pub struct CpuStream {
    src: Source,
    endian: Endian,
    header: HeaderPage,
    page_size: usize,
    kind: Kind,
    block: Vec<u8>,
    scratch: Vec<u8>,
    page_off: usize,
    recs: Vec<Rec>,
    idx: usize,
    /// CPU number.
    pub cpu: u32,
    /// Buffer index.
    pub buffer: usize,
    calc: TsCalc,
    section: String,
    block_file_offset: u64,
    /// Non-fatal decode problems (corrupt pages skipped).
    pub warnings: Vec<String>,
    failed: bool,
}

impl CpuStream {
    /// A stream over `cd` of buffer `buf` (index `buffer`) of `dat`.
    pub fn new(
        dat: &TraceDat,
        buffer: usize,
        buf: &Buffer,
        cd: CpuData,
        calc: TsCalc,
    ) -> CpuStream {
        let name = if buf.name.is_empty() {
            format!("cpu {} data", cd.cpu)
        } else {
            format!("buffer '{}' cpu {} data", buf.name, cd.cpu)
        };
        let end = cd.offset.saturating_add(cd.size);
        let kind = if buf.compressed {
            Kind::Compressed {
                pos: cd.offset,
                // size excludes the leading 4-byte chunk count (trace-cmd 3.1.6 quirk)
                end: end.saturating_add(4),
                chunks_left: None,
                alg: dat.compression,
            }
        } else {
            Kind::Plain {
                pos: cd.offset,
                end,
            }
        };
        let page_size = (buf.page_size as usize).max(dat.header_page.data_offset + 1);
        CpuStream {
            src: dat.source.clone(),
            endian: dat.endian,
            header: dat.header_page,
            page_size,
            kind: if cd.size == 0 {
                Kind::Plain { pos: 0, end: 0 }
            } else {
                kind
            },
            block: Vec::new(),
            scratch: Vec::new(),
            page_off: 0,
            recs: Vec::new(),
            idx: 0,
            cpu: cd.cpu,
            buffer,
            calc,
            section: name,
            block_file_offset: 0,
            warnings: Vec::new(),
            failed: false,
        }
    }

    /// Loads the next window of pages. Returns false at the end of the data.
    fn next_block(&mut self) -> Result<bool> {
        self.block.clear();
        self.page_off = 0;
        match &mut self.kind {
            Kind::Plain { pos, end } => {
                if *pos >= *end {
                    return Ok(false);
                }
                let want = ((self.page_size * PLAIN_WINDOW_PAGES) as u64).min(*end - *pos);
                self.block_file_offset = *pos;
                self.block = self.src.read_vec(*pos, want, &self.section)?;
                *pos += want;
                Ok(true)
            }
            Kind::Compressed {
                pos,
                end,
                chunks_left,
                alg,
            } => {
                let mut hdr = [0u8; 8];
                if chunks_left.is_none() {
                    let mut n = [0u8; 4];
                    self.src.read_exact_at(*pos, &mut n, &self.section)?;
                    let count = read_u32(self.endian, n);
                    if count > MAX_CHUNKS {
                        return Err(Error::corrupt(
                            &self.section,
                            *pos,
                            format!("{count} chunks"),
                        ));
                    }
                    *chunks_left = Some(count);
                    *pos += 4;
                }
                if *chunks_left == Some(0) || *pos >= *end {
                    return Ok(false);
                }
                *chunks_left = chunks_left.map(|c| c - 1);
                self.src.read_exact_at(*pos, &mut hdr, &self.section)?;
                let csize = read_u32(self.endian, [hdr[0], hdr[1], hdr[2], hdr[3]]);
                let usize_ = read_u32(self.endian, [hdr[4], hdr[5], hdr[6], hdr[7]]);
                let at = *pos;
                self.block_file_offset = at;
                self.scratch = self.src.read_vec(at + 8, u64::from(csize), &self.section)?;
                *pos = at + 8 + u64::from(csize);
                alg.decompress_into(&self.scratch, usize_, &mut self.block, &self.section, at)?;
                Ok(true)
            }
        }
    }

    /// Decodes the next page into `recs`. Returns false at the end.
    fn next_page(&mut self) -> Result<bool> {
        for _ in 0..1_000_000 {
            if self.page_off >= self.block.len() && !self.next_block()? {
                return Ok(false);
            }
            let start = self.page_off;
            let end = (start + self.page_size).min(self.block.len());
            self.page_off = end;
            self.recs.clear();
            self.idx = 0;
            let page = &self.block[start..end];
            let sb = match SubBuffer::parse_with_header(page, &self.header, self.endian) {
                Ok(sb) => sb.with_cpu(self.cpu),
                Err(e) => {
                    self.warnings.push(format!(
                        "{}: sub-buffer at offset {}: {e}",
                        self.section,
                        self.block_file_offset + start as u64
                    ));
                    continue;
                }
            };
            let missed = match sb.missed {
                Missed::None => 0,
                Missed::Unknown => -1,
                Missed::Count(n) => i64::from(n as i32),
            };
            let base = page.as_ptr() as usize;
            for r in sb.records() {
                match r {
                    Ok(r) => {
                        let s = (r.payload.as_ptr() as usize).wrapping_sub(base) + start;
                        let m = if self.recs.is_empty() && r.offset == self.header.data_offset {
                            missed
                        } else {
                            0
                        };
                        self.recs.push(Rec {
                            ts: self.calc.apply(r.ts),
                            raw_ts: r.ts,
                            start: s,
                            end: s + r.payload.len(),
                            page_end: end,
                            missed: m,
                            offset: r.offset,
                        });
                    }
                    Err(e) => {
                        self.warnings.push(format!(
                            "{}: sub-buffer at offset {}: {e}",
                            self.section,
                            self.block_file_offset + start as u64
                        ));
                        break;
                    }
                }
            }
            if !self.recs.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Timestamp of the current record, loading data as needed; `None` at the end.
    pub fn peek_ts(&mut self) -> Result<Option<u64>> {
        if self.failed {
            return Ok(None);
        }
        if self.idx >= self.recs.len() {
            match self.next_page() {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        Ok(self.recs.get(self.idx).map(|r| r.ts))
    }

    /// The current record (after a successful [`CpuStream::peek_ts`]).
    pub fn current(&self) -> Option<Event<'_>> {
        let r = self.recs.get(self.idx)?;
        Some(Event {
            ts: r.ts,
            raw_ts: r.raw_ts,
            cpu: self.cpu,
            buffer: self.buffer,
            data: self.block.get(r.start..r.end).unwrap_or(&[]),
            tail: self.block.get(r.start..r.page_end).unwrap_or(&[]),
            missed: r.missed,
            offset: r.offset,
        })
    }

    /// Moves past the current record.
    pub fn advance(&mut self) {
        self.idx += 1;
    }
}

fn read_u32(e: Endian, b: [u8; 4]) -> u32 {
    match e {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    }
}

/// k-way merge of CPU streams by timestamp.
#[derive(Debug)]
pub struct Merge {
    streams: Vec<CpuStream>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    started: bool,
    current: Option<usize>,
    /// Errors from streams that stopped early (the stream is dropped from the merge).
    pub errors: Vec<Error>,
}

impl Merge {
    /// A merge over these streams (their order breaks timestamp ties).
    pub fn new(streams: Vec<CpuStream>) -> Merge {
        Merge {
            heap: BinaryHeap::with_capacity(streams.len()),
            streams,
            started: false,
            current: None,
            errors: Vec::new(),
        }
    }

    /// All streams built for `dat` (buffers in order, CPUs in order), or only
    /// the buffers selected by `want`.
    pub fn for_file(dat: &TraceDat, calc: TsCalc, want: impl Fn(usize, &Buffer) -> bool) -> Merge {
        let mut v = Vec::new();
        for (i, b) in dat.buffers.iter().enumerate() {
            if b.latency || !want(i, b) {
                continue;
            }
            for cd in &b.cpus {
                v.push(CpuStream::new(dat, i, b, *cd, calc));
            }
        }
        Merge::new(v)
    }

    fn push(&mut self, i: usize) {
        let Some(s) = self.streams.get_mut(i) else {
            return;
        };
        match s.peek_ts() {
            Ok(Some(ts)) => self.heap.push(Reverse((ts, i))),
            Ok(None) => {}
            Err(e) => self.errors.push(e),
        }
    }

    /// Advances to the next record in timestamp order; false at the end.
    pub fn advance(&mut self) -> bool {
        if !self.started {
            self.started = true;
            for i in 0..self.streams.len() {
                self.push(i);
            }
        } else if let Some(i) = self.current.take() {
            if let Some(s) = self.streams.get_mut(i) {
                s.advance();
            }
            self.push(i);
        }
        match self.heap.pop() {
            Some(Reverse((_, i))) => {
                self.current = Some(i);
                true
            }
            None => false,
        }
    }

    /// The record the last successful [`Merge::advance`] moved to.
    pub fn event(&self) -> Option<Event<'_>> {
        self.streams.get(self.current?)?.current()
    }

    /// Moves past the current record and returns the next one in merged
    /// order without making it current (trace-cmd's `peek_next_data`).
    /// Call [`Merge::skip_next`] to drop it or [`Merge::advance`] to move to it.
    pub fn peek_next(&mut self) -> Option<Event<'_>> {
        if let Some(i) = self.current.take() {
            if let Some(s) = self.streams.get_mut(i) {
                s.advance();
            }
            self.push(i);
        }
        let Reverse((_, i)) = *self.heap.peek()?;
        self.streams.get(i)?.current()
    }

    /// Index of the stream of the record [`Merge::peek_next`] returned.
    pub fn peek_next_index(&self) -> Option<usize> {
        self.heap.peek().map(|Reverse((_, i))| *i)
    }

    /// Drops the record [`Merge::peek_next`] returned.
    pub fn skip_next(&mut self) {
        if let Some(Reverse((_, i))) = self.heap.pop() {
            if let Some(s) = self.streams.get_mut(i) {
                s.advance();
            }
            self.push(i);
        }
    }

    /// Index (in construction order) of the stream of the current record.
    pub fn current_index(&self) -> Option<usize> {
        self.current
    }

    /// Warnings of all streams.
    pub fn warnings(&self) -> impl Iterator<Item = &String> {
        self.streams.iter().flat_map(|s| s.warnings.iter())
    }
}
