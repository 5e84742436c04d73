//! perf.data: the file-mode format of `perf record` (header, attrs with their
//! ids, the data section of `perf_event_header` records, and feature
//! sections) and the pipe-mode stream of `perf record -o -` (a 16-byte header,
//! then attrs, features and tracing data as `PERF_RECORD_HEADER_*` records).
//!
//! [`PerfData`] parses a file-mode file held in memory (bounds-checked;
//! perf.data is external input) or reads a pipe-mode stream incrementally,
//! one size-bounded record at a time. [`PerfData::records`] yields the data
//! records in order with `PERF_RECORD_COMPRESSED` (`perf record -z`) payloads
//! decompressed in line. [`parse_sample`] and [`parse_other`] decode records
//! for an attr. [`Writer`] writes files Debian's `perf report`/`perf script`
//! read.

mod compress;
mod features;
mod records;
mod stream;
mod tracing;
mod writer;

pub use features::{BuildIdEntry, Compression, Feature};
pub use records::{parse_other, parse_sample, OtherRecord, Sample, SampleId};
pub use tracing::TracingData;
pub use writer::{Writer, WriterInfo};

use std::borrow::Cow;
use std::cell::{RefCell, RefMut};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::attr::{sample, Attr};
use crate::error::{io_err, Error, Result};
use compress::Decomp;
use stream::StreamReader;

/// perf.data magic, `PERFILE2` in little-endian order.
pub const MAGIC: &[u8; 8] = b"PERFILE2";

/// Size of the pipe-mode header (`struct perf_pipe_file_header`: magic + size).
pub const PIPE_HEADER_SIZE: u64 = 16;

/// Upper bound for the decompression buffer of one compressed record
/// (perf sizes it from `HEADER_COMPRESSED`'s `mmap_len`, 516 KiB by default).
pub const MAX_DECOMP_LEN: u64 = 256 << 20;

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
    pub const HEADER_ATTR: u32 = 64;
    pub const HEADER_EVENT_TYPE: u32 = 65;
    pub const HEADER_TRACING_DATA: u32 = 66;
    pub const HEADER_BUILD_ID: u32 = 67;
    pub const FINISHED_ROUND: u32 = 68;
    pub const ID_INDEX: u32 = 69;
    pub const AUXTRACE_INFO: u32 = 70;
    pub const AUXTRACE: u32 = 71;
    pub const AUXTRACE_ERROR: u32 = 72;
    pub const THREAD_MAP: u32 = 73;
    pub const CPU_MAP: u32 = 74;
    pub const STAT_CONFIG: u32 = 75;
    pub const STAT: u32 = 76;
    pub const STAT_ROUND: u32 = 77;
    pub const EVENT_UPDATE: u32 = 78;
    pub const TIME_CONV: u32 = 79;
    pub const HEADER_FEATURE: u32 = 80;
    pub const COMPRESSED: u32 = 81;
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

/// One record of the data section (or of a decompressed payload).
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// `header.type`.
    pub type_: u32,
    /// `header.misc`.
    pub misc: u16,
    /// Bytes after the 8-byte header (borrowed from a file image, owned when
    /// read from a stream or a decompressed payload).
    pub body: Cow<'a, [u8]>,
    /// File offset of the header (for records from a compressed payload: the
    /// offset of the `PERF_RECORD_COMPRESSED` record, as perf reports it).
    pub offset: u64,
}

/// The file header as `perf report --header-only` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHeader {
    /// Pipe mode (`perf record -o -`): metadata came as records.
    pub pipe: bool,
    /// Data section offset (0 in pipe mode).
    pub data_offset: u64,
    /// Data section size (0 in pipe mode).
    pub data_size: u64,
    /// Offset of the feature section table (`data_offset + data_size`).
    pub feat_offset: u64,
    /// The `adds_features` bitmap (file mode).
    pub adds_features: [u64; 4],
    /// Features in the order perf prints them: set bits in file mode, the
    /// `HEADER_FEATURE` records' order in pipe mode.
    pub feature_order: Vec<u32>,
    /// `st_mtime` of the input in seconds (perf's `captured on`).
    pub mtime: Option<i64>,
}

impl FileHeader {
    /// Whether feature bit `bit` is set (file mode).
    pub fn has_feature(&self, bit: u32) -> bool {
        self.adds_features
            .get((bit / 64) as usize)
            .is_some_and(|w| w & (1u64 << (bit % 64)) != 0)
    }
}

/// Counters kept while [`PerfData::records`] runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// `PERF_RECORD_LOST_SAMPLES` totals per attr index.
    pub lost_samples: Vec<u64>,
    /// Sum of all `PERF_RECORD_LOST_SAMPLES` (perf's `Total Lost Samples`).
    pub total_lost_samples: u64,
    /// `PERF_RECORD_COMPRESSED` records seen.
    pub compressed_records: u64,
    /// Bytes their payloads decompressed to.
    pub decompressed_bytes: u64,
    /// Compressed records whose payload continued a record that began in
    /// the previous one.
    pub straddling_records: u64,
}

enum Source {
    Mem {
        bytes: Vec<u8>,
        data_off: usize,
        data_len: usize,
    },
    Stream(RefCell<StreamReader>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Mem {
                bytes,
                data_off,
                data_len,
            } => f
                .debug_struct("Mem")
                .field("len", &bytes.len())
                .field("data_off", data_off)
                .field("data_len", data_len)
                .finish(),
            Source::Stream(s) => f.debug_tuple("Stream").field(s).finish(),
        }
    }
}

/// A parsed perf.data file or an open pipe-mode stream.
#[derive(Debug)]
pub struct PerfData {
    /// Events.
    pub attrs: Vec<FileAttr>,
    /// Raw feature sections by feature number.
    pub features: BTreeMap<u32, Vec<u8>>,
    /// The header.
    pub header: FileHeader,
    id_to_attr: BTreeMap<u64, usize>,
    src: Source,
    comp_mmap_len: Option<u64>,
    stats: RefCell<RecordStats>,
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

pub(crate) fn bad(offset: u64, why: impl Into<String>) -> Error {
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

/// What the first 16 bytes say.
enum Kind {
    File,
    Pipe,
}

fn classify(head: &[u8]) -> Result<Kind> {
    if head.len() < 16 {
        return Err(bad(
            head.len() as u64,
            format!(
                "truncated header: {} bytes, a perf.data starts with 16",
                head.len()
            ),
        ));
    }
    if head.get(..8) == Some(&b"2ELIFREP"[..]) {
        return Err(bad(0, "big-endian perf.data is not supported"));
    }
    if head.get(..8) != Some(&MAGIC[..]) {
        return Err(bad(0, "not a perf.data file (magic is not PERFILE2)"));
    }
    match u64_at(head, 8) {
        Some(PIPE_HEADER_SIZE) => Ok(Kind::Pipe),
        Some(n) if n >= 104 => Ok(Kind::File),
        Some(n) => Err(bad(8, format!("unexpected header size {n}"))),
        None => Err(bad(8, "truncated header")),
    }
}

/// `st_mtime` of an open descriptor.
fn fd_mtime(fd: std::os::fd::RawFd) -> Option<i64> {
    // SAFETY: `st` is plain data that fstat fills; a bad fd only returns -1.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local struct.
    let r = unsafe { libc::fstat(fd, &mut st) };
    (r == 0).then_some(st.st_mtime)
}

impl PerfData {
    /// Opens `path`: a file-mode perf.data (read into memory; its size is the
    /// real file size), a pipe-mode file, or — for `-`, FIFOs, sockets and
    /// character devices — a pipe-mode stream read record by record. A
    /// file-mode header on non-seekable input is refused (perf does too).
    pub fn open(path: &Path) -> Result<PerfData> {
        use std::os::fd::AsRawFd;
        if path == Path::new("-") {
            let mtime = fd_mtime(0);
            let mut pd = PerfData::from_reader(std::io::stdin())?;
            pd.header.mtime = mtime;
            return Ok(pd);
        }
        let mut f = std::fs::File::open(path).map_err(io_err(path))?;
        let md = f.metadata().map_err(io_err(path))?;
        let mtime = fd_mtime(f.as_raw_fd());
        let mut pd = if md.is_file() {
            let mut head = Vec::with_capacity(16);
            (&mut f)
                .take(16)
                .read_to_end(&mut head)
                .map_err(io_err(path))?;
            match classify(&head)? {
                Kind::Pipe => PerfData::from_stream(head, f)?,
                Kind::File => {
                    // The capacity is the real size; the file may still grow.
                    let cap = usize::try_from(md.len()).unwrap_or(0);
                    let mut bytes = Vec::with_capacity(cap.max(head.len()));
                    bytes.extend_from_slice(&head);
                    f.read_to_end(&mut bytes).map_err(io_err(path))?;
                    PerfData::parse_file(bytes)?
                }
            }
        } else {
            PerfData::from_reader(f)?
        };
        pd.header.mtime = mtime;
        Ok(pd)
    }

    /// Reads a pipe-mode perf.data from `r` (stdin, a pipe, a socket): the
    /// header and metadata records now, data records as [`PerfData::records`]
    /// asks for them. Each record is bounded by its 16-bit size (tracing
    /// data and AUX payloads by the bytes that really arrive).
    pub fn from_reader<R: Read + Send + 'static>(mut r: R) -> Result<PerfData> {
        let mut head = Vec::with_capacity(16);
        (&mut r)
            .take(16)
            .read_to_end(&mut head)
            .map_err(|e| bad(0, format!("reading the header: {e}")))?;
        match classify(&head)? {
            Kind::Pipe => PerfData::from_stream(head, r),
            Kind::File => Err(bad(
                8,
                "file-mode perf.data (header size >= 104) cannot be read from a pipe or \
                 device: it needs a regular file (perf record -o - writes the pipe format)",
            )),
        }
    }

    /// Parses a file image (file mode; a pipe-mode image is read as a stream
    /// over the bytes).
    pub fn parse(bytes: Vec<u8>) -> Result<PerfData> {
        match classify(bytes.get(..16).unwrap_or(&bytes))? {
            Kind::Pipe => {
                let head = bytes.get(..16).unwrap_or(&[]).to_vec();
                let rest = std::io::Cursor::new(bytes);
                let mut rest = rest;
                rest.set_position(16);
                PerfData::from_stream(head, rest)
            }
            Kind::File => PerfData::parse_file(bytes),
        }
    }

    fn parse_file(bytes: Vec<u8>) -> Result<PerfData> {
        let b = &bytes[..];
        let hsize = u64_at(b, 8).ok_or_else(|| bad(8, "truncated header"))?;
        let attr_size = u64_at(b, 16).ok_or_else(|| bad(16, "truncated header"))?;
        if hsize < 104 || hsize > b.len() as u64 || !(16 + 64..=16 + 4096).contains(&attr_size) {
            return Err(bad(
                8,
                format!("unexpected header size {hsize} / attr size {attr_size}"),
            ));
        }
        let attr_size = attr_size as usize;
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
        let mut adds = [0u64; 4];
        for (k, w) in adds.iter_mut().enumerate() {
            *w = u64_at(b, 72 + k * 8).unwrap_or(0);
        }
        let mut order = Vec::new();
        let mut fpos = doff + dlen;
        for bit in 0..256u32 {
            if adds[(bit / 64) as usize] & (1u64 << (bit % 64)) == 0 {
                continue;
            }
            order.push(bit);
            if let Ok((o, l)) = section(b, fpos) {
                if let Some(s) = b.get(o..o + l) {
                    features.insert(bit, s.to_vec());
                }
            }
            fpos += 16;
        }
        let header = FileHeader {
            pipe: false,
            data_offset: doff as u64,
            data_size: dlen as u64,
            feat_offset: (doff + dlen) as u64,
            adds_features: adds,
            feature_order: order,
            mtime: None,
        };
        let mut pd = PerfData {
            attrs,
            features,
            header,
            id_to_attr,
            src: Source::Mem {
                bytes,
                data_off: doff,
                data_len: dlen,
            },
            comp_mmap_len: None,
            stats: RefCell::default(),
        };
        pd.finish_setup(&[]);
        Ok(pd)
    }

    fn from_stream<R: Read + Send + 'static>(head: Vec<u8>, r: R) -> Result<PerfData> {
        let mut rd = StreamReader::new(Box::new(r), head.len() as u64);
        let mut pre = rd.prelude()?;
        if let Some(e) = pre.error.take() {
            if pre.attrs.is_empty() {
                return Err(e);
            }
            rd.defer_error(e);
        }
        if pre.attrs.is_empty() {
            return Err(bad(
                PIPE_HEADER_SIZE,
                "pipe-mode perf.data without PERF_RECORD_HEADER_ATTR records before its data",
            ));
        }
        let mut id_to_attr = BTreeMap::new();
        for (i, a) in pre.attrs.iter().enumerate() {
            for id in &a.ids {
                id_to_attr.insert(*id, i);
            }
        }
        let header = FileHeader {
            pipe: true,
            feature_order: pre.order,
            ..Default::default()
        };
        let mut pd = PerfData {
            attrs: pre.attrs,
            features: pre.features,
            header,
            id_to_attr,
            src: Source::Stream(RefCell::new(rd)),
            comp_mmap_len: None,
            stats: RefCell::default(),
        };
        pd.finish_setup(&pre.names);
        Ok(pd)
    }

    /// Names (EVENT_DESC, then EVENT_UPDATE names by id) and compression.
    fn finish_setup(&mut self, updates: &[(u64, String)]) {
        let names = self.event_desc().unwrap_or_default();
        for (i, a) in self.attrs.iter_mut().enumerate() {
            a.name = names
                .get(i)
                .cloned()
                .unwrap_or_else(|| crate::session::default_event_name(&a.attr));
        }
        for (id, name) in updates {
            if let Some(a) = self.id_to_attr.get(id).and_then(|i| self.attrs.get_mut(*i)) {
                a.name = name.clone();
            }
        }
        self.comp_mmap_len = self
            .compression()
            .map(|c| u64::from(c.mmap_len).min(MAX_DECOMP_LEN));
        self.stats.borrow_mut().lost_samples = vec![0; self.attrs.len()];
    }

    /// Whether this is a pipe-mode stream.
    pub fn is_pipe(&self) -> bool {
        self.header.pipe
    }

    /// Counters of the records iterated so far (lost samples per event,
    /// compressed records).
    pub fn stats(&self) -> RecordStats {
        self.stats.borrow().clone()
    }

    /// Records of the data section in order, `PERF_RECORD_COMPRESSED`
    /// payloads replaced by the records they hold. A file image can be
    /// iterated any number of times; a stream once (a second call yields the
    /// records not read yet).
    pub fn records(&self) -> Records<'_> {
        let src = match &self.src {
            Source::Mem {
                bytes,
                data_off,
                data_len,
            } => {
                {
                    let mut st = self.stats.borrow_mut();
                    *st = RecordStats {
                        lost_samples: vec![0; self.attrs.len()],
                        ..Default::default()
                    };
                }
                let end = data_off.saturating_add(*data_len).min(bytes.len());
                RecSrc::Mem {
                    b: bytes.get(..end).unwrap_or(&[]),
                    pos: *data_off,
                }
            }
            Source::Stream(s) => RecSrc::Stream(s.try_borrow_mut().ok()),
        };
        Records {
            pd: self,
            src,
            decomp: None,
            done: false,
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
                u64_at(&r.body, 0)
            } else if st & sample::ID != 0 {
                let mut o = 0;
                for bit in [sample::IP, sample::TID, sample::TIME, sample::ADDR] {
                    if st & bit != 0 {
                        o += 8;
                    }
                }
                u64_at(&r.body, o)
            } else {
                None
            }
        } else if st & sample::IDENTIFIER != 0 && a0.sample_id_size() > 0 {
            r.body.len().checked_sub(8).and_then(|o| u64_at(&r.body, o))
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

    fn account(&self, r: &RawRecord<'_>) {
        if r.type_ != rtype::LOST_SAMPLES {
            return;
        }
        let lost = u64_at(&r.body, 0).unwrap_or(0);
        let ai = self.attr_index(r);
        let mut st = self.stats.borrow_mut();
        st.total_lost_samples = st.total_lost_samples.saturating_add(lost);
        if let Some(v) = ai.and_then(|i| st.lost_samples.get_mut(i)) {
            *v = v.saturating_add(lost);
        }
    }
}

enum RecSrc<'a> {
    Mem { b: &'a [u8], pos: usize },
    Stream(Option<RefMut<'a, StreamReader>>),
}

/// Iterator over data records (see [`PerfData::records`]).
pub struct Records<'a> {
    pd: &'a PerfData,
    src: RecSrc<'a>,
    decomp: Option<Box<Decomp>>,
    done: bool,
}

impl std::fmt::Debug for Records<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("done", &self.done).finish()
    }
}

/// Reads the record at `pos` of a file image; `None` at the end.
fn mem_record<'a>(b: &'a [u8], pos: &mut usize) -> Result<Option<RawRecord<'a>>> {
    if pos.saturating_add(8) > b.len() {
        return Ok(None);
    }
    let at = *pos;
    let (Some(type_), Some(misc), Some(size)) =
        (u32_at(b, at), u16_at(b, at + 4), u16_at(b, at + 6))
    else {
        return Ok(None);
    };
    let size = size as usize;
    if size < 8 || at + size > b.len() {
        *pos = b.len();
        return Err(bad(
            at as u64,
            format!(
                "record of type {type_} has bad size {size} ({} bytes left in the data section)",
                b.len() - at
            ),
        ));
    }
    let body = &b[at + 8..at + size];
    let mut next = at + size;
    // TRACING_DATA and AUXTRACE records are followed by their payload.
    if let Some(extra) = stream::payload_len(type_, body) {
        match usize::try_from(extra)
            .ok()
            .and_then(|e| next.checked_add(e))
            .filter(|e| *e <= b.len())
        {
            Some(e) => next = e,
            None => {
                *pos = b.len();
                return Err(bad(
                    at as u64,
                    format!(
                        "record of type {type_}: payload of {extra} bytes beyond the data section"
                    ),
                ));
            }
        }
    }
    *pos = next;
    Ok(Some(RawRecord {
        type_,
        misc,
        body: Cow::Borrowed(body),
        offset: at as u64,
    }))
}

impl<'a> Records<'a> {
    fn next_raw(&mut self) -> Result<Option<RawRecord<'a>>> {
        match &mut self.src {
            RecSrc::Mem { b, pos } => mem_record(b, pos),
            RecSrc::Stream(Some(s)) => s.next_record(),
            RecSrc::Stream(None) => Err(bad(0, "the perf.data stream is already being read")),
        }
    }

    fn next_inner(&mut self) -> Result<Option<RawRecord<'a>>> {
        loop {
            if let Some(d) = self.decomp.as_mut() {
                if let Some(r) = d.next_record()? {
                    // perf never nests compression; such a record is skipped.
                    if r.type_ == rtype::COMPRESSED {
                        continue;
                    }
                    return Ok(Some(r));
                }
            }
            let Some(r) = self.next_raw()? else {
                return Ok(None);
            };
            if r.type_ != rtype::COMPRESSED {
                return Ok(Some(r));
            }
            let limit = self.pd.comp_mmap_len.ok_or_else(|| {
                bad(
                    r.offset,
                    "PERF_RECORD_COMPRESSED without a HEADER_COMPRESSED feature (no mmap_len to bound it)",
                )
            })?;
            if self.decomp.is_none() {
                self.decomp = Some(Box::new(Decomp::new(r.offset)?));
            }
            if let Some(d) = self.decomp.as_mut() {
                let n = d.feed(&r.body, limit as usize, r.offset)?;
                let mut st = self.pd.stats.borrow_mut();
                st.compressed_records += 1;
                st.decompressed_bytes = st.decompressed_bytes.saturating_add(n as u64);
                st.straddling_records += u64::from(d.carried);
            }
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawRecord<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_inner() {
            Ok(Some(r)) => {
                self.pd.account(&r);
                Some(Ok(r))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
