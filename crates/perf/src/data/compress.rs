//! `PERF_RECORD_COMPRESSED` (`perf record -z`): each record holds a piece of
//! one zstd stream; decompressed, the pieces are ordinary records, and a
//! record may straddle two compressed records. Like perf's
//! `perf_session__process_compressed_event`, one decompression context lives
//! across records, each record decompresses to at most `mmap_len` bytes (from
//! `HEADER_COMPRESSED`), and the incomplete tail of one payload is kept for
//! the next.

use std::borrow::Cow;

use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

use super::{bad, u16_at, u32_at, RawRecord};
use crate::error::Result;

const CHUNK: usize = 64 << 10;

/// Decompression state across compressed records.
pub(super) struct Decomp {
    dec: Decoder<'static>,
    /// Decompressed bytes not yet returned as records start at `head`.
    buf: Vec<u8>,
    head: usize,
    scratch: Vec<u8>,
    /// Offset of the compressed record the buffer's records came from.
    file_pos: u64,
    /// The last payload continued a record begun in the one before.
    pub carried: bool,
}

impl Decomp {
    pub fn new(offset: u64) -> Result<Decomp> {
        let dec = Decoder::new().map_err(|e| bad(offset, format!("zstd: {e}")))?;
        Ok(Decomp {
            dec,
            buf: Vec::new(),
            head: 0,
            scratch: vec![0u8; CHUNK],
            file_pos: offset,
            carried: false,
        })
    }

    /// Decompresses one record's payload (at most `limit` bytes of output);
    /// returns the number of bytes it produced.
    pub fn feed(&mut self, data: &[u8], limit: usize, offset: u64) -> Result<usize> {
        self.carried = self.buf.len() > self.head;
        self.buf.drain(..self.head.min(self.buf.len()));
        self.head = 0;
        self.file_pos = offset;
        let mut input = InBuffer::around(data);
        let mut produced = 0usize;
        loop {
            let before = input.pos();
            let n = {
                let mut out = OutBuffer::around(&mut self.scratch[..]);
                self.dec.run(&mut input, &mut out).map_err(|e| {
                    bad(
                        offset,
                        format!("zstd: compressed record does not decompress: {e}"),
                    )
                })?;
                out.pos()
            };
            if produced + n > limit {
                return Err(bad(
                    offset,
                    format!("compressed record decompresses to more than mmap_len ({limit} bytes)"),
                ));
            }
            self.buf.extend_from_slice(&self.scratch[..n]);
            produced += n;
            if input.pos() >= data.len() && n < self.scratch.len() {
                return Ok(produced);
            }
            if n == 0 && input.pos() == before {
                return Err(bad(offset, "zstd: no progress decompressing the record"));
            }
        }
    }

    /// The next complete record of the decompressed data.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'static>>> {
        let rest = self.buf.get(self.head..).unwrap_or(&[]);
        let (Some(type_), Some(misc), Some(size)) =
            (u32_at(rest, 0), u16_at(rest, 4), u16_at(rest, 6))
        else {
            return Ok(None);
        };
        let size = size as usize;
        if size < 8 {
            let at = self.head;
            self.buf.clear();
            self.head = 0;
            return Err(bad(
                self.file_pos,
                format!(
                    "record of type {type_} with bad size {size} at byte {at} of the decompressed data"
                ),
            ));
        }
        let Some(body) = rest.get(8..size) else {
            // Continues in the next compressed record.
            return Ok(None);
        };
        let r = RawRecord {
            type_,
            misc,
            body: Cow::Owned(body.to_vec()),
            offset: self.file_pos,
        };
        self.head += size;
        Ok(Some(r))
    }
}
