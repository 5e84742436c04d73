//! A print fmt compiled once into a flat list of operations ([`Op`]): literal
//! chunks, direct field conversions for the common simple cases (`%s` of a
//! `char[N]` or `__get_str()` field, plain `%d`/`%u`/`%x` of an integer
//! field) and, for everything else, a reference to the conversion and its
//! argument expressions for the general evaluator.
//!
//! A direct operation produces exactly what the general evaluator would; when
//! it cannot (field beyond the record), the evaluator runs the general path
//! for that conversion, which reports the error.

use super::{BinOp, Conv, Count, Expr, Helper, Length, Piece, UnOp};
use crate::bytes::{sign_extend, truncate};
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
    /// integer or pointer field of `size` (1, 2, 4 or 8) bytes.
    IntField {
        off: usize,
        size: u8,
        signed: bool,
        length: Length,
        style: IntStyle,
        conv: Slot,
    },
    /// Plain integer conversion (no flags, width or precision) of an
    /// integer expression.
    Int {
        val: IExpr,
        length: Length,
        style: IntStyle,
        conv: Slot,
    },
    /// `%s` (no width or precision) of a string expression.
    Str { val: SExpr, conv: Slot },
    /// Any other conversion, through the general evaluator.
    Conv(Slot),
}

/// An integer-valued argument expression over integer fields and constants,
/// evaluated with 64-bit arithmetic. Values are `(bits, size, signed)` with
/// `bits` sign- or zero-extended to 64 bits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IExpr {
    /// A constant.
    Const(u64, u8, bool),
    /// An integer field: `size` bytes at `off`.
    Load { off: usize, size: u8, signed: bool },
    Unary(UnOp, Box<IExpr>),
    Binary(BinOp, Box<IExpr>, Box<IExpr>),
    Ternary(Box<IExpr>, Box<IExpr>, Box<IExpr>),
    /// Cast to a non-pointer integer type.
    Cast { size: u8, signed: bool, val: Box<IExpr> },
}

/// A string-valued `%s` argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SExpr {
    /// A string literal (already cut at its first NUL).
    Lit(Box<str>),
    /// `cond ? a : b`.
    Cond(IExpr, Box<SExpr>, Box<SExpr>),
    /// `__print_flags(val, delim, ...)` with every value resolved.
    Flags {
        val: IExpr,
        delim: Box<str>,
        entries: Box<[(u64, Box<str>)]>,
    },
    /// `__print_symbolic(val, ...)` with every value resolved (names cut at NUL).
    Symbolic {
        val: IExpr,
        entries: Box<[(u64, Box<str>)]>,
    },
}

/// Maximum nesting compiled into an [`IExpr`]/[`SExpr`] (deeper trees use the
/// general evaluator).
const MAX_DEPTH: usize = 64;

/// `(bits, size, signed)` of a constant as the evaluator's `num` gives it.
#[inline]
pub(crate) fn extend(v: u64, size: u8, signed: bool) -> u64 {
    if signed {
        sign_extend(v, usize::from(size)) as u64
    } else {
        v
    }
}

fn int_expr(e: &Expr, ev: &EventFormat, depth: usize) -> Option<IExpr> {
    if depth > MAX_DEPTH {
        return None;
    }
    let sub = |x: &Expr| int_expr(x, ev, depth + 1).map(Box::new);
    Some(match e {
        Expr::Int { v, size, signed } => IExpr::Const(extend(*v, *size, *signed), *size, *signed),
        Expr::Field(i) => load(ev.fields.get(*i)?)?,
        Expr::CommonField(i) => load(ev.common_fields.get(*i)?)?,
        Expr::Unary(op, a) => IExpr::Unary(*op, sub(a)?),
        Expr::Binary(op, a, b) => IExpr::Binary(*op, sub(a)?, sub(b)?),
        Expr::Ternary(c, a, b) => IExpr::Ternary(sub(c)?, sub(a)?, sub(b)?),
        Expr::Cast(ty, a) if !ty.pointer => IExpr::Cast {
            size: ty.size,
            signed: ty.signed,
            val: sub(a)?,
        },
        _ => return None,
    })
}

fn load(f: &Field) -> Option<IExpr> {
    if !matches!(f.size, 1 | 2 | 4 | 8) {
        return None;
    }
    let signed = match f.kind {
        FieldKind::Int => f.signed,
        FieldKind::Pointer => false,
        _ => return None,
    };
    Some(IExpr::Load {
        off: f.offset,
        size: f.size as u8,
        signed,
    })
}

fn cut_nul(s: &str) -> Box<str> {
    s.split('\0').next().unwrap_or("").into()
}

fn str_expr(e: &Expr, ev: &EventFormat, depth: usize) -> Option<SExpr> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match e {
        Expr::Str(s) => SExpr::Lit(cut_nul(s)),
        Expr::Ternary(c, a, b) => SExpr::Cond(
            int_expr(c, ev, depth + 1)?,
            Box::new(str_expr(a, ev, depth + 1)?),
            Box::new(str_expr(b, ev, depth + 1)?),
        ),
        Expr::Helper(Helper::PrintFlags {
            val,
            delim,
            entries,
        }) => {
            // The general path cuts the whole text at a NUL; keep those there.
            if delim.contains('\0') || entries.iter().any(|(_, n)| n.contains('\0')) {
                return None;
            }
            SExpr::Flags {
                val: int_expr(val, ev, depth + 1)?,
                delim: delim.clone(),
                entries: resolved(entries)?,
            }
        }
        Expr::Helper(Helper::PrintSymbolic { val, entries }) => SExpr::Symbolic {
            val: int_expr(val, ev, depth + 1)?,
            entries: resolved(entries)?
                .iter()
                .map(|(v, n)| (*v, cut_nul(n)))
                .collect(),
        },
        _ => return None,
    })
}

fn resolved(entries: &[super::SymEntry]) -> Option<Box<[(u64, Box<str>)]>> {
    entries
        .iter()
        .map(|(v, n)| v.map(|v| (v, n.clone())))
        .collect()
}

/// Truncates `v` to `size` bytes.
#[inline]
pub(crate) fn trunc(v: u64, size: u8) -> u64 {
    truncate(v, usize::from(size))
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
                Expr::Field(i) => ev.fields.get(*i),
                Expr::Helper(Helper::GetStr(i)) => ev.fields.get(*i),
                _ => None,
            };
            if let Some(op) = f.and_then(|f| str_op(f, slot)) {
                return Some(op);
            }
            Some(Op::Str {
                val: str_expr(arg, ev, 0)?,
                conv: slot,
            })
        }
        b'd' | b'i' | b'u' | b'x' | b'X' => {
            if c.flags.alt || c.flags.plus || c.flags.space {
                return None;
            }
            let style = match c.conv {
                b'd' | b'i' => IntStyle::Signed,
                b'u' => IntStyle::Unsigned,
                b'x' => IntStyle::Hex,
                _ => IntStyle::HexUpper,
            };
            Some(match int_expr(arg, ev, 0)? {
                IExpr::Load { off, size, signed } => Op::IntField {
                    off,
                    size,
                    signed,
                    length: c.length,
                    style,
                    conv: slot,
                },
                val => Op::Int {
                    val,
                    length: c.length,
                    style,
                    conv: slot,
                },
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
