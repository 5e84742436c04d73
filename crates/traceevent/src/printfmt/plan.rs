//! A print fmt compiled once into a flat list of operations ([`Op`]): literal
//! chunks, direct field conversions for the common simple cases (`%s` of a
//! `char[N]` or `__get_str()` field, plain `%d`/`%u`/`%x` of an integer
//! field) and, for everything else, a reference to the conversion and its
//! argument expressions for the general evaluator.
//!
//! A direct operation produces exactly what the general evaluator would; when
//! it cannot (field beyond the record), the evaluator runs the general path
//! for that conversion, which reports the error.

use super::{Conv, Count, Expr, Helper, Length, Piece};
use crate::format::{EventFormat, Field, FieldKind};

/// How a direct integer conversion prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntStyle {
    /// `%d`, `%i`.
    Signed,
    /// `%u`.
    Unsigned,
    /// `%x`.
    Hex,
    /// `%X`.
    HexUpper,
}

/// One step of a compiled print fmt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Literal text (adjacent literal pieces merged).
    Lit(Box<str>),
    /// `%s` of a fixed-size field: bytes `off..off + len`, up to the first NUL.
    FixedStr { off: usize, len: usize, conv: Slot },
    /// `%s` of a `__data_loc`/`__rel_loc` field (`__get_str()` or plain).
    DynStr {
        off: usize,
        size: usize,
        rel: bool,
        conv: Slot,
    },
    /// Plain integer conversion (no flags, width or precision) of an
    /// integer or pointer field.
    Int {
        off: usize,
        size: u8,
        /// Sign of the field's value (C's integer promotion source).
        field_signed: bool,
        length: Length,
        style: IntStyle,
        conv: Slot,
    },
    /// Any other conversion, through the general evaluator.
    Conv(Slot),
}

/// A conversion of the print fmt: index of its [`Piece::Conv`] and of its
/// first argument expression (the `*` width/precision come first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub piece: usize,
    pub arg: usize,
}

/// Compiles the pieces and (folded) arguments of a print fmt for `ev`.
pub(crate) fn compile(pieces: &[Piece], args: &[Expr], ev: &EventFormat) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::with_capacity(pieces.len());
    let mut ai = 0usize;
    for (pi, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Lit(s) => {
                if let Some(Op::Lit(prev)) = ops.last_mut() {
                    let mut joined = String::with_capacity(prev.len() + s.len());
                    joined.push_str(prev);
                    joined.push_str(s);
                    *prev = joined.into();
                } else if !s.is_empty() {
                    ops.push(Op::Lit(s.clone()));
                }
            }
            Piece::Conv(c) => {
                let slot = Slot { piece: pi, arg: ai };
                ai += usize::from(c.width == Count::Star)
                    + usize::from(c.precision == Count::Star)
                    + 1;
                ops.push(direct(c, args.get(slot.arg), ev, slot).unwrap_or(Op::Conv(slot)));
            }
        }
    }
    ops
}

/// The direct operation for conversion `c` of argument `arg`, if there is one.
fn direct(c: &Conv, arg: Option<&Expr>, ev: &EventFormat, slot: Slot) -> Option<Op> {
    if c.width != Count::None || c.precision != Count::None || !c.pext.is_empty() {
        return None;
    }
    let arg = arg?;
    match c.conv {
        b's' => {
            let f = match arg {
                Expr::Field(i) => ev.fields.get(*i)?,
                Expr::Helper(Helper::GetStr(i)) => ev.fields.get(*i)?,
                _ => return None,
            };
            str_op(f, slot)
        }
        b'd' | b'i' | b'u' | b'x' | b'X' => {
            let Expr::Field(i) = arg else { return None };
            let f = ev.fields.get(*i)?;
            if c.flags.alt || c.flags.plus || c.flags.space {
                return None;
            }
            let field_signed = match f.kind {
                FieldKind::Int => f.signed,
                FieldKind::Pointer => false,
                _ => return None,
            };
            if !matches!(f.size, 1 | 2 | 4 | 8) {
                return None;
            }
            let style = match c.conv {
                b'd' | b'i' => IntStyle::Signed,
                b'u' => IntStyle::Unsigned,
                b'x' => IntStyle::Hex,
                _ => IntStyle::HexUpper,
            };
            Some(Op::Int {
                off: f.offset,
                size: f.size as u8,
                field_signed,
                length: c.length,
                style,
                conv: slot,
            })
        }
        _ => None,
    }
}

/// `%s` of field `f` (its bytes as the general evaluator resolves them).
fn str_op(f: &Field, slot: Slot) -> Option<Op> {
    match f.kind {
        FieldKind::Array { .. } | FieldKind::Bytes => Some(Op::FixedStr {
            off: f.offset,
            len: f.size,
            conv: slot,
        }),
        FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } => Some(Op::DynStr {
            off: f.offset,
            size: f.size,
            rel: matches!(f.kind, FieldKind::RelLoc { .. }),
            conv: slot,
        }),
        _ => None,
    }
}
