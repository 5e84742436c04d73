//! Pipe-mode perf.data (`perf record -o -`): a 16-byte header, then records.
//! Metadata arrives as `PERF_RECORD_HEADER_*` records before the data
//! (attrs with their ids, `HEADER_FEATURE` sections, tracing data, build ids,
//! event-name updates). [`StreamReader`] reads one record at a time — each is
//! bounded by its 16-bit size — so an endless or garbage stream never makes
//! it allocate more than one record (tracing data: what really arrives, up
//! to [`MAX_PAYLOAD`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Read};

use super::{bad, rtype, u32_at, u64_at, FileAttr, RawRecord};
use crate::attr::Attr;
use crate::error::Result;

/// Largest tracing-data payload accepted (perf's are a few MB).
pub const MAX_PAYLOAD: u64 = 256 << 20;

/// Records buffered while looking for the end of the metadata.
const PRELUDE_MAX_RECORDS: usize = 65536;
const PRELUDE_MAX_BYTES: usize = 16 << 20;

/// Length of the payload that follows a record outside its `header.size`:
/// `HEADER_TRACING_DATA` (u32 size) and `AUXTRACE` (u64 size).
pub(super) fn payload_len(type_: u32, body: &[u8]) -> Option<u64> {
    match type_ {
        rtype::HEADER_TRACING_DATA => u32_at(body, 0).map(u64::from),
        rtype::AUXTRACE => u64_at(body, 0),
        _ => None,
    }
}

/// What the metadata records said.
#[derive(Debug, Default)]
pub(super) struct Prelude {
    pub attrs: Vec<FileAttr>,
    pub features: BTreeMap<u32, Vec<u8>>,
    pub order: Vec<u32>,
    /// `EVENT_UPDATE` names by id.
    pub names: Vec<(u64, String)>,
    /// A record that did not read: returned by the first [`StreamReader::next_record`]
    /// after the records before it (when metadata came first).
    pub error: Option<crate::Error>,
}

/// Reads records from a byte stream.
pub(super) struct StreamReader {
    r: BufReader<Box<dyn Read + Send>>,
    pos: u64,
    pending: VecDeque<RawRecord<'static>>,
    error: Option<crate::Error>,
    eof: bool,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("pos", &self.pos)
            .field("pending", &self.pending.len())
            .field("eof", &self.eof)
            .finish()
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl StreamReader {
    /// A reader positioned after the `pos`-byte header.
    pub fn new(r: Box<dyn Read + Send>, pos: u64) -> StreamReader {
        StreamReader {
            r: BufReader::with_capacity(1 << 16, r),
            pos,
            pending: VecDeque::new(),
            error: None,
            eof: false,
        }
    }

    /// One record and, when `keep` and the record has one, its payload.
    fn read_one(&mut self, keep: bool) -> Result<Option<(RawRecord<'static>, Option<Vec<u8>>)>> {
        if self.eof {
            return Ok(None);
        }
        let at = self.pos;
        let io = |e: std::io::Error| bad(at, format!("reading the stream: {e}"));
        let mut h = [0u8; 8];
        let n = read_full(&mut self.r, &mut h).map_err(io)?;
        if n == 0 {
            self.eof = true;
            return Ok(None);
        }
        if n < 8 {
            self.eof = true;
            return Err(bad(
                at,
                format!("truncated record header ({n} of 8 bytes before the end of the stream)"),
            ));
        }
        let type_ = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let misc = u16::from_le_bytes([h[4], h[5]]);
        let size = u16::from_le_bytes([h[6], h[7]]) as usize;
        if size < 8 {
            self.eof = true;
            return Err(bad(
                at,
                format!("record of type {type_} has bad size {size}"),
            ));
        }
        // At most 65527 bytes: the size field is 16 bits.
        let mut body = vec![0u8; size - 8];
        let got = read_full(&mut self.r, &mut body).map_err(io)?;
        if got < body.len() {
            self.eof = true;
            return Err(bad(
                at,
                format!(
                    "record of type {type_} (size {size}) truncated: the stream ends after {} bytes",
                    got + 8
                ),
            ));
        }
        self.pos += size as u64;
        let mut payload = None;
        if let Some(len) = payload_len(type_, &body) {
            if type_ == rtype::HEADER_TRACING_DATA && keep {
                if len > MAX_PAYLOAD {
                    self.eof = true;
                    return Err(bad(
                        at,
                        format!("tracing data of {len} bytes (more than {MAX_PAYLOAD})"),
                    ));
                }
                // Grows with what arrives, not with the length field.
                let mut v = Vec::new();
                (&mut self.r).take(len).read_to_end(&mut v).map_err(io)?;
                if (v.len() as u64) < len {
                    self.eof = true;
                    return Err(bad(
                        at,
                        format!(
                            "tracing data truncated: {} of {len} bytes before the end of the stream",
                            v.len()
                        ),
                    ));
                }
                payload = Some(v);
            } else {
                let skipped = std::io::copy(&mut (&mut self.r).take(len), &mut std::io::sink())
                    .map_err(io)?;
                if skipped < len {
                    self.eof = true;
                    return Err(bad(
                        at,
                        format!(
                            "payload of record type {type_} truncated: {skipped} of {len} bytes"
                        ),
                    ));
                }
            }
            self.pos = self.pos.saturating_add(len);
        }
        Ok(Some((
            RawRecord {
                type_,
                misc,
                body: Cow::Owned(body),
                offset: at,
            },
            payload,
        )))
    }

    /// Reads the metadata records up to the first data record (a sample, a
    /// compressed record, the end of the synthesized side-band events), and
    /// keeps the side-band records read on the way for [`Self::next_record`].
    pub fn prelude(&mut self) -> Result<Prelude> {
        let mut p = Prelude::default();
        let mut build_ids = Vec::new();
        let mut pending_bytes = 0usize;
        while self.pending.len() < PRELUDE_MAX_RECORDS && pending_bytes < PRELUDE_MAX_BYTES {
            let (r, payload) = match self.read_one(true) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    p.error = Some(e);
                    break;
                }
            };
            let body = &r.body[..];
            match r.type_ {
                rtype::HEADER_ATTR => p.attrs.push(header_attr(&r)?),
                rtype::HEADER_FEATURE => {
                    let id = u64_at(body, 0).ok_or_else(|| {
                        bad(r.offset, "HEADER_FEATURE record without a feature id")
                    })?;
                    if (1..256).contains(&id) {
                        p.features
                            .insert(id as u32, body.get(8..).unwrap_or(&[]).to_vec());
                        p.order.push(id as u32);
                    }
                }
                rtype::HEADER_TRACING_DATA => {
                    if let Some(pl) = payload {
                        p.features.insert(1, pl);
                    }
                }
                rtype::HEADER_BUILD_ID => {
                    // The BUILD_ID feature is these records back to back.
                    let size = (body.len() + 8) as u16;
                    build_ids.extend_from_slice(&r.type_.to_le_bytes());
                    build_ids.extend_from_slice(&r.misc.to_le_bytes());
                    build_ids.extend_from_slice(&size.to_le_bytes());
                    build_ids.extend_from_slice(body);
                }
                rtype::HEADER_EVENT_TYPE => {}
                rtype::EVENT_UPDATE => {
                    // struct perf_record_event_update: type, id, data; type 2 = NAME.
                    if u64_at(body, 0) == Some(2) {
                        if let Some(id) = u64_at(body, 8) {
                            p.names.push((id, cstr(body.get(16..).unwrap_or(&[]))));
                        }
                    }
                }
                rtype::SAMPLE
                | rtype::COMPRESSED
                | rtype::FINISHED_ROUND
                | rtype::FINISHED_INIT => {
                    self.pending.push_back(r);
                    break;
                }
                _ => {
                    pending_bytes += r.body.len() + 8;
                    self.pending.push_back(r);
                }
            }
        }
        if !build_ids.is_empty() {
            p.features
                .entry(2)
                .or_default()
                .extend_from_slice(&build_ids);
        }
        Ok(p)
    }

    /// Keeps `e` to be returned after the pending records.
    pub fn defer_error(&mut self, e: crate::Error) {
        self.error = Some(e);
    }

    /// The next data record.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'static>>> {
        if let Some(r) = self.pending.pop_front() {
            return Ok(Some(r));
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        Ok(self.read_one(false)?.map(|(r, _)| r))
    }
}

/// `PERF_RECORD_HEADER_ATTR`: an attr (`attr.size` bytes) followed by ids.
fn header_attr(r: &RawRecord<'_>) -> Result<FileAttr> {
    let body = &r.body[..];
    let size = match u32_at(body, 4) {
        Some(0) => 64,
        Some(s) => s as usize,
        None => 0,
    };
    if size < 64 || size > body.len() {
        return Err(bad(
            r.offset,
            format!(
                "HEADER_ATTR with attr size {size} in a record of {} bytes",
                body.len() + 8
            ),
        ));
    }
    let attr = Attr::from_bytes(&body[..size]);
    let start = size.div_ceil(8) * 8;
    let ids = body
        .get(start..)
        .unwrap_or(&[])
        .chunks_exact(8)
        .filter_map(|c| u64_at(c, 0))
        .collect();
    Ok(FileAttr {
        attr,
        ids,
        name: String::new(),
    })
}
