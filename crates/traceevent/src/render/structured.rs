//! The structured form of a record (event name, cpu, timestamp, pid, comm,
//! flags and every field typed) for JSON/CSV output via `serde`.

use super::{format_print_fmt, Context};
use crate::bytes::sign_extend;
use crate::error::{Error, Result};
use crate::format::FieldKind;
use crate::printfmt::Evaluator;
use crate::record::Record;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// A typed field value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// Signed integer.
    Signed(i64),
    /// Unsigned integer (also pointers).
    Unsigned(u64),
    /// Text (char arrays, `__data_loc char[]`), up to the first NUL.
    Str(String),
    /// Array of integers.
    Array(Vec<FieldValue>),
    /// Raw bytes (structs, odd sizes, non-char dynamic arrays).
    Bytes(Vec<u8>),
}

impl FieldValue {
    /// Decodes field `f` of `rec` by its declared type: integers with their
    /// signedness, `char` arrays as text, every other fixed, flexible or
    /// dynamic array as a list of elements of its element type (`unsigned
    /// long args[6]` → 6 numbers), anything else as bytes.
    pub fn decode(rec: &Record<'_>, f: &crate::format::Field) -> FieldValue {
        match f.kind {
            FieldKind::Int | FieldKind::Pointer => match rec.field_u64(f) {
                Some(v) if f.signed && f.kind == FieldKind::Int => {
                    FieldValue::Signed(sign_extend(v, f.size))
                }
                Some(v) => FieldValue::Unsigned(v),
                None => FieldValue::Bytes(Vec::new()),
            },
            FieldKind::Array { elem_size, .. }
            | FieldKind::FlexArray { elem_size }
            | FieldKind::DataLoc { elem_size }
            | FieldKind::RelLoc { elem_size }
                if !f.is_string_type() && matches!(elem_size, 1 | 2 | 4 | 8) =>
            {
                let b = match rec.field_bytes(f) {
                    Some(b) => b,
                    // ftrace's kernel_stack declares `caller[8]` but stores only
                    // `size` entries: as many elements as the record holds.
                    None if matches!(f.kind, FieldKind::Array { .. }) => {
                        let rest = rec.payload.get(f.offset..).unwrap_or(&[]);
                        rest.get(..f.size).unwrap_or(rest)
                    }
                    None => &[],
                };
                FieldValue::Array(
                    b.chunks_exact(elem_size)
                        .map(|c| {
                            let v = rec.endian.read_uint(c, 0, elem_size).unwrap_or(0);
                            if f.signed {
                                FieldValue::Signed(sign_extend(v, elem_size))
                            } else {
                                FieldValue::Unsigned(v)
                            }
                        })
                        .collect(),
                )
            }
            _ => {
                let b = rec.field_bytes(f).unwrap_or(&[]);
                if f.is_string_type() {
                    let t = b.split(|&c| c == 0).next().unwrap_or(&[]);
                    FieldValue::Str(String::from_utf8_lossy(t).into_owned())
                } else {
                    FieldValue::Bytes(b.to_vec())
                }
            }
        }
    }
}

/// One record with every field decoded, ready for serde serialization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StructuredRecord {
    /// Subsystem (`sched`).
    pub system: String,
    /// Event name (`sched_switch`).
    pub event: String,
    /// Event id.
    pub id: u16,
    /// CPU.
    pub cpu: u32,
    /// Timestamp in trace-clock units.
    pub ts: u64,
    /// `common_pid`.
    pub pid: i32,
    /// comm of the pid from the cmdline table (`<idle>`, `<...>` if unknown).
    pub comm: String,
    /// `common_flags`.
    pub flags: u8,
    /// `common_preempt_count`.
    pub preempt_count: u8,
    /// The event's fields in format order.
    #[serde(serialize_with = "ser_fields")]
    pub fields: Vec<(String, FieldValue)>,
    /// The print-fmt rendering, if it could be evaluated.
    pub info: Option<String>,
}

fn ser_fields<S: Serializer>(
    v: &[(String, FieldValue)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, val) in v {
        m.serialize_entry(k, val)?;
    }
    m.end()
}

impl StructuredRecord {
    /// Decodes every field of `rec`. Fails for unknown event ids.
    pub fn from_record(ctx: &Context<'_>, rec: &Record<'_>) -> Result<StructuredRecord> {
        let ev = ctx.registry.get(rec.id).ok_or(Error::UnknownEvent {
            cpu: rec.cpu,
            offset: rec.offset,
            id: u32::from(rec.id),
        })?;
        let fields = ev
            .fields
            .iter()
            .map(|f| (f.name.clone(), FieldValue::decode(rec, f)))
            .collect();
        let mut info = String::new();
        let mut evaluator = Evaluator::default();
        let info = format_print_fmt(ev, &mut evaluator, ctx, rec, &mut info)
            .ok()
            .map(|_| info);
        Ok(StructuredRecord {
            system: ev.system.clone(),
            event: ev.name.clone(),
            id: rec.id,
            cpu: rec.cpu,
            ts: rec.ts,
            pid: rec.pid(),
            comm: ctx.comm(rec.pid()).to_string(),
            flags: rec.flags(),
            preempt_count: rec.preempt_count(),
            fields,
            info,
        })
    }
}
