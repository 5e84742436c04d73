//! A decoded event record ([`Record`]) and bounds-checked accessors for its
//! fields (integers, fixed/flexible arrays, `__data_loc`/`__rel_loc` data).

use crate::bytes::{sign_extend, Endian};
use crate::error::{Error, Result};
use crate::format::{Field, FieldKind};
use crate::subbuf::RawRecord;

/// `common_flags` bits (`enum trace_flag_type`, 6.13+ layout).
pub mod flags {
    /// Interrupts were disabled.
    pub const IRQS_OFF: u8 = 0x01;
    /// Lazy reschedule pending (older kernels: IRQS_NOSUPPORT).
    pub const NEED_RESCHED_LAZY: u8 = 0x02;
    /// Reschedule pending.
    pub const NEED_RESCHED: u8 = 0x04;
    /// In hard interrupt.
    pub const HARDIRQ: u8 = 0x08;
    /// In soft interrupt.
    pub const SOFTIRQ: u8 = 0x10;
    /// Preemption reschedule pending.
    pub const PREEMPT_RESCHED: u8 = 0x20;
    /// In NMI.
    pub const NMI: u8 = 0x40;
    /// Bottom halves disabled.
    pub const BH_OFF: u8 = 0x80;
}

/// One event record: timestamp, CPU, event id and payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Absolute timestamp in trace-clock units.
    pub ts: u64,
    /// CPU the record was read from.
    pub cpu: u32,
    /// Event id (`common_type`).
    pub id: u16,
    /// Payload, starting with the common fields; may carry alignment padding.
    pub payload: &'a [u8],
    /// Byte offset of the record in its sub-buffer (for error reports).
    pub offset: usize,
    /// Byte order of the payload.
    pub endian: Endian,
}

impl<'a> Record<'a> {
    /// Builds a record from a sub-buffer record. Fails if the payload is
    /// shorter than the 8-byte common header.
    #[inline]
    pub fn from_raw(raw: RawRecord<'a>, cpu: u32, endian: Endian) -> Result<Record<'a>> {
        Self::new(raw.ts, cpu, raw.payload, raw.offset, endian)
    }

    /// Builds a record from parts. Fails if the payload is shorter than 8 bytes.
    #[inline]
    pub fn new(
        ts: u64,
        cpu: u32,
        payload: &'a [u8],
        offset: usize,
        endian: Endian,
    ) -> Result<Record<'a>> {
        let id = match (payload.get(..2), payload.len() >= 8) {
            (Some(&[a, b]), true) => match endian {
                Endian::Little => u16::from_le_bytes([a, b]),
                Endian::Big => u16::from_be_bytes([a, b]),
            },
            _ => return Err(short_payload(cpu, offset, payload.len())),
        };
        Ok(Record {
            ts,
            cpu,
            id,
            payload,
            offset,
            endian,
        })
    }

    /// `common_flags`.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.payload.get(2).copied().unwrap_or(0)
    }

    /// `common_preempt_count` (low nibble preempt depth, high nibble migrate-disable).
    #[inline]
    pub fn preempt_count(&self) -> u8 {
        self.payload.get(3).copied().unwrap_or(0)
    }

    /// `common_pid`.
    #[inline]
    pub fn pid(&self) -> i32 {
        self.endian.read_u32(self.payload, 4).unwrap_or(0) as i32
    }

    /// Raw integer value of a field (size 1/2/4/8), zero-extended.
    pub fn field_u64(&self, f: &Field) -> Option<u64> {
        field_uint(self.payload, f, self.endian)
    }

    /// Integer value of a field, sign-extended when the field is signed.
    pub fn field_i64(&self, f: &Field) -> Option<i64> {
        let v = field_uint(self.payload, f, self.endian)?;
        Some(if f.signed {
            sign_extend(v, f.size)
        } else {
            v as i64
        })
    }

    /// Bytes of an array, flexible, `__data_loc`/`__rel_loc` or byte field.
    pub fn field_bytes(&self, f: &Field) -> Option<&'a [u8]> {
        field_bytes(self.payload, f, self.endian)
    }
}

#[cold]
fn short_payload(cpu: u32, offset: usize, len: usize) -> Error {
    Error::Record {
        cpu,
        offset,
        event: String::from("?"),
        reason: format!("payload of {len} bytes is shorter than the common header"),
    }
}

/// Reads an integer field (size 1/2/4/8).
#[inline]
pub(crate) fn field_uint(payload: &[u8], f: &Field, endian: Endian) -> Option<u64> {
    endian.read_uint(payload, f.offset, f.size)
}

/// Resolves a `__data_loc` (absolute) or `__rel_loc` (relative) locator.
#[inline]
pub(crate) fn dyn_loc(
    payload: &[u8],
    f: &Field,
    endian: Endian,
    rel: bool,
) -> Option<(usize, usize)> {
    let v = endian.read_u32(payload, f.offset)?;
    let mut off = (v & 0xffff) as usize;
    let len = (v >> 16) as usize;
    if rel {
        off = off.checked_add(f.offset)?.checked_add(f.size.max(4))?;
    }
    Some((off, len))
}

/// Bytes of a field according to its kind (dynamic data for `__data_loc`).
pub(crate) fn field_bytes<'a>(payload: &'a [u8], f: &Field, endian: Endian) -> Option<&'a [u8]> {
    match f.kind {
        FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } => {
            let (off, len) = dyn_loc(
                payload,
                f,
                endian,
                matches!(f.kind, FieldKind::RelLoc { .. }),
            )?;
            payload.get(off..off.checked_add(len)?)
        }
        FieldKind::FlexArray { .. } => payload.get(f.offset..),
        _ => payload.get(f.offset..f.offset.checked_add(f.size)?),
    }
}
