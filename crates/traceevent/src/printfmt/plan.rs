//! A print fmt compiled once per event format into a flat list of [`Step`]s:
//! literal text (kept in 16-byte blocks) followed by one operation. The common
//! conversions become direct operations: `%s` of a `char[N]` or
//! `__get_str()` field, plain `%d`/`%u`/`%x` of an integer field or of an
//! integer expression (compiled to a small stack program, [`Prog`], with the C
//! types resolved statically and 64-bit arithmetic), and `%s` of
//! `cond ? "a" : "b"`, `__print_flags()` and `__print_symbolic()`
//! ([`SExpr`]). Anything else refers to the conversion and its argument
//! expressions for the general evaluator.
//!
//! A direct operation produces exactly what the general evaluator would; when
//! it cannot decide (field beyond the record, division by zero), the evaluator
//! runs the general path for that conversion, which reports the error. The
//! differential tests in `printfmt/tests.rs` hold the two paths together.

use super::eval::{common, conv_to, is_logical, promote};
use super::{BinOp, Conv, Count, Expr, Helper, Length, Piece, UnOp};
use crate::bytes::{sign_extend, size_shift, truncate};
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

/// A conversion's length modifier as the `size_shift` of its size, for a
/// kernel `long` of 4 and of 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LenShift {
    pub long4: u32,
    pub long8: u32,
}

impl LenShift {
    fn new(l: Length) -> LenShift {
        let (long4, long8) = match l {
            Length::Char => (56, 56),
            Length::Short => (48, 48),
            Length::Int => (32, 32),
            Length::Long | Length::Size => (32, 0),
            Length::LongLong => (0, 0),
        };
        LenShift { long4, long8 }
    }
}

/// One step of a compiled print fmt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Nothing (the step after the last conversion: just its literal).
    End,
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
        /// `size_shift(size)`.
        sh: u32,
        signed: bool,
        length: LenShift,
        style: IntStyle,
        conv: Slot,
    },
    /// Plain integer conversion (no flags, width or precision) of an
    /// integer expression.
    Int {
        val: Prog,
        length: LenShift,
        style: IntStyle,
        conv: Slot,
    },
    /// `%s` (no width or precision) of a string expression.
    Str { val: SExpr, conv: Slot },
    /// Any other conversion, through the general evaluator.
    Conv(Slot),
}

/// An integer-valued argument expression over integer fields and constants,
/// compiled to a small stack program with the C types resolved statically.
/// Every value on the stack is in the evaluator's `num` form: the bits of a
/// value of its static type, sign- or zero-extended to 64 bits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prog {
    pub code: Box<[Insn]>,
    /// The same program in a one-step form, when it has one.
    pub fast: Option<Fast>,
    /// Result type: size in bytes and signedness.
    pub size: u8,
    pub signed: bool,
}

/// Common one-step programs: `REC->field` and `REC->field & MASK`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fast {
    /// `[Load]` (`sh`: the size's `size_shift`).
    Load {
        off: usize,
        size: u8,
        sh: u32,
        signed: bool,
    },
    /// `[Load, Const, Bin(&)]`: the load converted to the operation's type
    /// (shift `sh`, `signed`), and-ed with the converted constant `mask`, in
    /// `num` form.
    LoadAnd {
        off: usize,
        load_size: u8,
        load_sh: u32,
        load_signed: bool,
        mask: u64,
        sh: u32,
        signed: bool,
    },
}

/// One instruction of a [`Prog`]. Jumps only go forward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Insn {
    /// Push a constant.
    Const(u64),
    /// Push an integer field of `size` (1, 2, 4, 8) bytes at `off`.
    Load { off: usize, size: u8, signed: bool },
    /// Convert the top value to (`size`, `signed`) (truncate, then extend).
    Conv { size: u8, signed: bool },
    /// `!x`.
    Not,
    /// `x != 0`.
    Bool,
    /// `-x` (a `Conv` follows).
    Neg,
    /// `~x` (a `Conv` follows).
    BitNot,
    /// Non-shift binary operator in the common type (`size`, `signed`) of
    /// its operands (converts both, pushes the result in `num` form).
    Bin { op: BinOp, size: u8, signed: bool },
    /// Shift of a value already converted to its promoted type.
    Shift {
        left: bool,
        size: u8,
        signed: bool,
        count_signed: bool,
    },
    /// Pop; jump to the index if zero.
    JumpIfZero(usize),
    /// Pop; jump to the index if not zero.
    JumpIfNonZero(usize),
    /// Jump to the index.
    Jump(usize),
}

/// Stack size of the program evaluator; deeper expressions are not compiled.
pub(crate) const STACK: usize = 16;

struct Compiler<'a> {
    ev: &'a EventFormat,
    code: Vec<Insn>,
    depth: usize,
    max_depth: usize,
}

impl Compiler<'_> {
    fn push(&mut self, i: Insn) {
        self.code.push(i);
    }

    fn grow(&mut self) -> Option<()> {
        self.depth += 1;
        self.max_depth = self.max_depth.max(self.depth);
        (self.depth <= STACK).then_some(())
    }

    /// Compiles `e`, leaving one value on the stack; returns its type.
    fn expr(&mut self, e: &Expr, level: usize) -> Option<(u8, bool)> {
        if level > MAX_DEPTH || self.code.len() > 1024 {
            return None;
        }
        let l = level + 1;
        Some(match e {
            Expr::Int { v, size, signed } => {
                self.push(Insn::Const(extend(*v, *size, *signed)));
                self.grow()?;
                (*size, *signed)
            }
            Expr::Field(i) => self.load(self.ev.fields.get(*i)?)?,
            Expr::CommonField(i) => self.load(self.ev.common_fields.get(*i)?)?,
            Expr::Unary(op, a) => {
                let t = self.expr(a, l)?;
                let (ps, psg) = promote(t.0, t.1);
                match op {
                    UnOp::Not => {
                        self.push(Insn::Not);
                        return Some((4, true));
                    }
                    UnOp::Neg => self.push(Insn::Neg),
                    UnOp::BitNot => self.push(Insn::BitNot),
                    UnOp::Plus => {}
                }
                self.push(Insn::Conv {
                    size: ps,
                    signed: psg,
                });
                (ps, psg)
            }
            Expr::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                self.expr(a, l)?;
                let short = self.code.len();
                self.push(Insn::Jump(0)); // patched
                self.depth -= 1;
                self.expr(b, l)?;
                self.push(Insn::Bool);
                let skip = self.code.len();
                self.push(Insn::Jump(0)); // patched
                let alt = self.code.len();
                self.push(Insn::Const(u64::from(*op == BinOp::Or)));
                let end = self.code.len();
                *self.code.get_mut(short)? = if *op == BinOp::And {
                    Insn::JumpIfZero(alt)
                } else {
                    Insn::JumpIfNonZero(alt)
                };
                *self.code.get_mut(skip)? = Insn::Jump(end);
                (4, true)
            }
            Expr::Binary(op @ (BinOp::Shl | BinOp::Shr), a, b) => {
                let t = self.expr(a, l)?;
                let (ps, psg) = promote(t.0, t.1);
                self.push(Insn::Conv {
                    size: ps,
                    signed: psg,
                });
                let tb = self.expr(b, l)?;
                self.push(Insn::Shift {
                    left: *op == BinOp::Shl,
                    size: ps,
                    signed: psg,
                    count_signed: tb.1,
                });
                self.depth -= 1;
                self.push(Insn::Conv {
                    size: ps,
                    signed: psg,
                });
                (ps, psg)
            }
            Expr::Binary(op, a, b) => {
                let ta = self.expr(a, l)?;
                let tb = self.expr(b, l)?;
                let (cs, csg) = common(ta, tb);
                self.push(Insn::Bin {
                    op: *op,
                    size: cs,
                    signed: csg,
                });
                self.depth -= 1;
                if is_logical(*op) {
                    (4, true)
                } else {
                    (cs, csg)
                }
            }
            Expr::Ternary(c, a, b) => {
                self.expr(c, l)?;
                let jz = self.code.len();
                self.push(Insn::Jump(0)); // patched
                self.depth -= 1;
                let ta = self.expr(a, l)?;
                let jend = self.code.len();
                self.push(Insn::Jump(0)); // patched
                self.depth -= 1;
                let else_at = self.code.len();
                let tb = self.expr(b, l)?;
                // The evaluator keeps the chosen branch's own type; only
                // branches of one type have a static type.
                if ta != tb {
                    return None;
                }
                let end = self.code.len();
                *self.code.get_mut(jz)? = Insn::JumpIfZero(else_at);
                *self.code.get_mut(jend)? = Insn::Jump(end);
                ta
            }
            Expr::Cast(ty, a) if !ty.pointer => {
                self.expr(a, l)?;
                self.push(Insn::Conv {
                    size: ty.size,
                    signed: ty.signed,
                });
                (ty.size, ty.signed)
            }
            _ => return None,
        })
    }

    fn load(&mut self, f: &Field) -> Option<(u8, bool)> {
        let IExpr { off, size, signed } = load(f)?;
        self.push(Insn::Load { off, size, signed });
        self.grow()?;
        Some((size, signed))
    }
}

/// Compiles an integer-valued expression.
pub(crate) fn int_prog(e: &Expr, ev: &EventFormat) -> Option<Prog> {
    let mut c = Compiler {
        ev,
        code: Vec::new(),
        depth: 0,
        max_depth: 0,
    };
    let (size, signed) = c.expr(e, 0)?;
    if c.depth != 1 || c.max_depth > STACK {
        return None;
    }
    let fast = match *c.code {
        [Insn::Load { off, size, signed }] => Some(Fast::Load {
            off,
            size,
            sh: size_shift(usize::from(size)),
            signed,
        }),
        [Insn::Load {
            off,
            size: load_size,
            signed: load_signed,
        }, Insn::Const(m), Insn::Bin {
            op: BinOp::BitAnd,
            size,
            signed,
        }] => Some(Fast::LoadAnd {
            off,
            load_size,
            load_sh: size_shift(usize::from(load_size)),
            load_signed,
            mask: conv_to(m, size, signed),
            sh: size_shift(usize::from(size)),
            signed,
        }),
        _ => None,
    };
    Some(Prog {
        code: c.code.into(),
        fast,
        size,
        signed,
    })
}

/// A plain integer field operand.
pub(crate) struct IExpr {
    pub off: usize,
    pub size: u8,
    pub signed: bool,
}

/// Resolved `__print_flags`/`__print_symbolic` entries: value and name.
pub(crate) type Entries = Box<[(u64, Box<str>)]>;

/// A string-valued `%s` argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SExpr {
    /// A string literal (already cut at its first NUL).
    Lit(Box<str>),
    /// `cond ? a : b`.
    Cond(Prog, Box<SExpr>, Box<SExpr>),
    /// `__print_flags(val, delim, ...)` with every value resolved.
    Flags {
        val: Prog,
        delim: Box<str>,
        entries: Entries,
    },
    /// `__print_symbolic(val, ...)` with every value resolved (names cut at NUL).
    Symbolic { val: Prog, entries: Entries },
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

fn load(f: &Field) -> Option<IExpr> {
    if !matches!(f.size, 1 | 2 | 4 | 8) {
        return None;
    }
    let signed = match f.kind {
        FieldKind::Int => f.signed,
        FieldKind::Pointer => false,
        _ => return None,
    };
    Some(IExpr {
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
            int_prog(c, ev)?,
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
                val: int_prog(val, ev)?,
                delim: delim.clone(),
                entries: resolved(entries)?,
            }
        }
        Expr::Helper(Helper::PrintSymbolic { val, entries }) => SExpr::Symbolic {
            val: int_prog(val, ev)?,
            entries: resolved(entries)?
                .iter()
                .map(|(v, n)| (*v, cut_nul(n)))
                .collect(),
        },
        _ => return None,
    })
}

fn resolved(entries: &[super::SymEntry]) -> Option<Entries> {
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

/// Literal text stored in 16-byte blocks (the last one zero-padded), so it
/// is appended with fixed-size copies instead of a `memcpy` call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lit {
    pub blocks: Box<[[u8; 16]]>,
    pub len: usize,
}

impl Lit {
    pub(crate) fn new(s: &str) -> Lit {
        let blocks = s
            .as_bytes()
            .chunks(16)
            .map(|c| {
                let mut b = [0u8; 16];
                for (d, s) in b.iter_mut().zip(c) {
                    *d = *s;
                }
                b
            })
            .collect();
        Lit {
            blocks,
            len: s.len(),
        }
    }

    /// Appends the text to `out`.
    #[inline]
    pub(crate) fn push(&self, out: &mut Vec<u8>) {
        let end = out.len() + self.len;
        match &*self.blocks {
            [] => return,
            [b] => out.extend_from_slice(b),
            blocks => {
                for b in blocks {
                    out.extend_from_slice(b);
                }
            }
        }
        out.truncate(end);
    }
}

/// A conversion of the print fmt: index of its [`Piece::Conv`] and of its
/// first argument expression (the `*` width/precision come first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub piece: usize,
    pub arg: usize,
}

/// One step of a compiled print fmt: literal text, then an operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// The literal text before the operation (adjacent pieces merged).
    pub pre: Lit,
    pub op: Op,
}

/// Compiles the pieces and (folded) arguments of a print fmt for `ev`.
pub(crate) fn compile(pieces: &[Piece], args: &[Expr], ev: &EventFormat) -> Vec<Step> {
    let mut ops: Vec<Step> = Vec::with_capacity(pieces.len() / 2 + 1);
    let mut ai = 0usize;
    let mut lit = String::new();
    for (pi, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Lit(s) => lit.push_str(s),
            Piece::Conv(c) => {
                let slot = Slot { piece: pi, arg: ai };
                ai += usize::from(c.width == Count::Star)
                    + usize::from(c.precision == Count::Star)
                    + 1;
                ops.push(Step {
                    pre: Lit::new(&lit),
                    op: direct(c, args.get(slot.arg), ev, slot).unwrap_or(Op::Conv(slot)),
                });
                lit.clear();
            }
        }
    }
    if !lit.is_empty() {
        ops.push(Step {
            pre: Lit::new(&lit),
            op: Op::End,
        });
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
            if let Some(IExpr { off, size, signed }) = match arg {
                Expr::Field(i) => ev.fields.get(*i).and_then(load),
                _ => None,
            } {
                return Some(Op::IntField {
                    off,
                    size,
                    sh: size_shift(usize::from(size)),
                    signed,
                    length: LenShift::new(c.length),
                    style,
                    conv: slot,
                });
            }
            Some(Op::Int {
                val: int_prog(arg, ev)?,
                length: LenShift::new(c.length),
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
