//! Decoding of `PERF_RECORD_SAMPLE` (by the attr's `sample_type`) and of the
//! side-band records a report needs (MMAP, MMAP2, COMM, FORK, EXIT) with their
//! `sample_id_all` trailer.

use super::{misc, rtype, u32_at, u64_at, RawRecord};
use crate::attr::{read, sample, Attr};
use crate::error::{Error, Result};

/// A decoded sample (fields absent from `sample_type` are zero/empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// `header.misc`.
    pub misc: u16,
    /// Instruction pointer.
    pub ip: u64,
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Timestamp (ns).
    pub time: u64,
    /// Data address.
    pub addr: u64,
    /// Event id.
    pub id: u64,
    /// CPU (`u32::MAX`, i.e. -1, when not sampled).
    pub cpu: u32,
    /// Period.
    pub period: u64,
    /// Call chain including `PERF_CONTEXT_*` markers.
    pub callchain: Vec<u64>,
    /// Raw tracepoint payload.
    pub raw: Vec<u8>,
    /// User registers (`PERF_SAMPLE_REGS_USER`), in mask bit order.
    pub regs_user: Vec<u64>,
    /// Copy of the user stack from the sampled stack pointer (`PERF_SAMPLE_STACK_USER`).
    pub stack_user: Vec<u8>,
}

impl Sample {
    /// `misc & CPUMODE_MASK`.
    pub fn cpumode(&self) -> u16 {
        self.misc & misc::CPUMODE_MASK
    }
}

/// The `sample_id_all` trailer of a non-sample record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleId {
    /// Pid.
    pub pid: i32,
    /// Tid.
    pub tid: i32,
    /// Time (0 when absent).
    pub time: u64,
    /// CPU.
    pub cpu: u32,
}

/// A side-band record.
#[derive(Debug, Clone, PartialEq)]
pub enum OtherRecord {
    /// MMAP or MMAP2 (executable mappings unless `MMAP_DATA`).
    Mmap {
        /// Misc bits (cpumode).
        misc: u16,
        /// Pid (-1 for the kernel).
        pid: i32,
        /// Tid.
        tid: i32,
        /// Start address.
        start: u64,
        /// Length.
        len: u64,
        /// File offset of the mapping.
        pgoff: u64,
        /// Build id if the record carries one (MMAP2 with `MMAP_BUILD_ID`).
        build_id: Option<Vec<u8>>,
        /// Protection bits (MMAP2; `PROT_EXEC` assumed for MMAP).
        prot: u32,
        /// Path or pseudo name (`[kernel.kallsyms]_text`, `[vdso]`).
        filename: String,
    },
    /// COMM.
    Comm {
        /// Pid.
        pid: i32,
        /// Tid.
        tid: i32,
        /// New name.
        comm: String,
        /// Set by exec.
        exec: bool,
    },
    /// FORK.
    Fork {
        /// Child pid.
        pid: i32,
        /// Parent pid.
        ppid: i32,
        /// Child tid.
        tid: i32,
        /// Parent tid.
        ptid: i32,
        /// Time.
        time: u64,
    },
    /// EXIT.
    Exit {
        /// Pid.
        pid: i32,
        /// Tid.
        tid: i32,
        /// Time.
        time: u64,
    },
    /// LOST: records dropped by the kernel.
    Lost {
        /// Count.
        lost: u64,
    },
    /// LOST_SAMPLES: samples the kernel could not produce (e.g. PEBS, AUX).
    LostSamples {
        /// Count.
        lost: u64,
    },
    /// Any other type.
    Other,
}

fn bad(offset: u64, type_: u32, why: &str) -> Error {
    Error::BadData {
        offset,
        why: format!("record type {type_}: {why}"),
    }
}

struct Cur<'b> {
    body: &'b [u8],
    o: usize,
    offset: u64,
    type_: u32,
}

impl<'b> Cur<'b> {
    fn new(r: &'b RawRecord<'_>, body: &'b [u8]) -> Cur<'b> {
        Cur {
            body,
            o: 0,
            offset: r.offset,
            type_: r.type_,
        }
    }
    fn err(&self, why: &str) -> Error {
        bad(self.offset, self.type_, why)
    }
    fn u64(&mut self) -> Result<u64> {
        let v = u64_at(self.body, self.o).ok_or_else(|| self.err("truncated"))?;
        self.o += 8;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32> {
        let v = u32_at(self.body, self.o).ok_or_else(|| self.err("truncated"))?;
        self.o += 4;
        Ok(v)
    }
    fn bytes(&mut self, n: usize) -> Result<&'b [u8]> {
        let end = self
            .o
            .checked_add(n)
            .ok_or_else(|| self.err("length overflow"))?;
        let s = self
            .body
            .get(self.o..end)
            .ok_or_else(|| self.err("truncated"))?;
        self.o = end;
        Ok(s)
    }
    fn rest(&self) -> &'b [u8] {
        self.body.get(self.o..).unwrap_or(&[])
    }
}

/// Decodes a SAMPLE record for `attr`.
pub fn parse_sample(attr: &Attr, r: &RawRecord<'_>) -> Result<Sample> {
    let st = attr.sample_type;
    let mut c = Cur::new(r, &r.body);
    let mut s = Sample {
        misc: r.misc,
        ..Default::default()
    };
    if st & sample::IDENTIFIER != 0 {
        s.id = c.u64()?;
    }
    if st & sample::IP != 0 {
        s.ip = c.u64()?;
    }
    if st & sample::TID != 0 {
        s.pid = c.u32()? as i32;
        s.tid = c.u32()? as i32;
    }
    if st & sample::TIME != 0 {
        s.time = c.u64()?;
    }
    if st & sample::ADDR != 0 {
        s.addr = c.u64()?;
    }
    if st & sample::ID != 0 {
        s.id = c.u64()?;
    }
    if st & sample::STREAM_ID != 0 {
        c.u64()?;
    }
    if st & sample::CPU != 0 {
        s.cpu = c.u32()?;
        c.u32()?;
    } else {
        s.cpu = u32::MAX;
    }
    if st & sample::PERIOD != 0 {
        s.period = c.u64()?;
    }
    if st & sample::READ != 0 {
        let rf = attr.read_format;
        let per_value = 1 + usize::from(rf & read::ID != 0) + usize::from(rf & read::LOST != 0);
        if rf & read::GROUP != 0 {
            let nr = c.u64()? as usize;
            let extra = usize::from(rf & read::TOTAL_TIME_ENABLED != 0)
                + usize::from(rf & read::TOTAL_TIME_RUNNING != 0);
            let n = nr
                .checked_mul(per_value)
                .and_then(|v| v.checked_add(extra))
                .ok_or_else(|| c.err("read group"))?;
            c.bytes(n.checked_mul(8).ok_or_else(|| c.err("read group"))?)?;
        } else {
            let extra = usize::from(rf & read::TOTAL_TIME_ENABLED != 0)
                + usize::from(rf & read::TOTAL_TIME_RUNNING != 0);
            c.bytes((per_value + extra) * 8)?;
        }
    }
    if st & sample::CALLCHAIN != 0 {
        let nr = c.u64()? as usize;
        if nr > 65536 {
            return Err(c.err("call chain longer than 65536"));
        }
        s.callchain.reserve(nr);
        for _ in 0..nr {
            s.callchain.push(c.u64()?);
        }
    }
    if st & sample::RAW != 0 {
        let n = c.u32()? as usize;
        s.raw = c.bytes(n)?.to_vec();
    }
    if st & sample::BRANCH_STACK != 0 {
        let nr = c.u64()? as usize;
        let n = nr.checked_mul(24).ok_or_else(|| c.err("branch stack"))?;
        c.bytes(n)?;
    }
    if st & sample::REGS_USER != 0 {
        let abi = c.u64()?;
        if abi != 0 {
            for _ in 0..attr.sample_regs_user.count_ones() {
                s.regs_user.push(c.u64()?);
            }
        }
    }
    if st & sample::STACK_USER != 0 {
        let size = c.u64()? as usize;
        if size > 0 {
            let data = c.bytes(size)?.to_vec();
            let dyn_size = (c.u64()? as usize).min(size);
            s.stack_user = data;
            s.stack_user.truncate(dyn_size);
        }
    }
    Ok(s)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Reads the `sample_id_all` trailer.
pub fn sample_id(attr: &Attr, r: &RawRecord<'_>) -> SampleId {
    let n = attr.sample_id_size();
    let Some(start) = r.body.len().checked_sub(n) else {
        return SampleId::default();
    };
    if n == 0 {
        return SampleId::default();
    }
    let st = attr.sample_type;
    let mut o = start;
    let mut id = SampleId::default();
    if st & sample::TID != 0 {
        id.pid = u32_at(&r.body, o).unwrap_or(0) as i32;
        id.tid = u32_at(&r.body, o + 4).unwrap_or(0) as i32;
        o += 8;
    }
    if st & sample::TIME != 0 {
        id.time = u64_at(&r.body, o).unwrap_or(0);
        o += 8;
    }
    if st & sample::ID != 0 {
        o += 8;
    }
    if st & sample::STREAM_ID != 0 {
        o += 8;
    }
    if st & sample::CPU != 0 {
        id.cpu = u32_at(&r.body, o).unwrap_or(0);
    }
    id
}

/// Decodes a non-sample record (type-specific body plus the trailer).
pub fn parse_other(attr: &Attr, r: &RawRecord<'_>) -> Result<(OtherRecord, SampleId)> {
    let sid = sample_id(attr, r);
    let body_end = r.body.len().saturating_sub(attr.sample_id_size());
    let body = r.body.get(..body_end).unwrap_or(&r.body);
    let mut c = Cur::new(r, body);
    let rec = match r.type_ {
        rtype::MMAP => {
            let pid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let (start, len, pgoff) = (c.u64()?, c.u64()?, c.u64()?);
            let filename = cstr(c.rest());
            OtherRecord::Mmap {
                misc: r.misc,
                pid,
                tid,
                start,
                len,
                pgoff,
                build_id: None,
                prot: libc::PROT_EXEC as u32,
                filename,
            }
        }
        rtype::MMAP2 => {
            let pid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let (start, len, pgoff) = (c.u64()?, c.u64()?, c.u64()?);
            let build_id = if r.misc & misc::MMAP_BUILD_ID != 0 {
                let sz = *c.bytes(1)?.first().unwrap_or(&0) as usize;
                c.bytes(3)?;
                let b = c.bytes(20)?;
                Some(b.get(..sz.min(20)).unwrap_or(b).to_vec())
            } else {
                c.bytes(24)?;
                None
            };
            let prot = c.u32()?;
            c.u32()?;
            let filename = cstr(c.rest());
            OtherRecord::Mmap {
                misc: r.misc,
                pid,
                tid,
                start,
                len,
                pgoff,
                build_id,
                prot,
                filename,
            }
        }
        rtype::COMM => {
            let pid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let comm = cstr(c.rest());
            OtherRecord::Comm {
                pid,
                tid,
                comm,
                exec: r.misc & misc::COMM_EXEC != 0,
            }
        }
        rtype::FORK | rtype::EXIT => {
            let pid = c.u32()? as i32;
            let ppid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let ptid = c.u32()? as i32;
            let time = c.u64()?;
            if r.type_ == rtype::FORK {
                OtherRecord::Fork {
                    pid,
                    ppid,
                    tid,
                    ptid,
                    time,
                }
            } else {
                OtherRecord::Exit { pid, tid, time }
            }
        }
        rtype::LOST => {
            c.u64()?;
            OtherRecord::Lost { lost: c.u64()? }
        }
        rtype::LOST_SAMPLES => OtherRecord::LostSamples { lost: c.u64()? },
        _ => OtherRecord::Other,
    };
    Ok((rec, sid))
}
