//! Evaluation of print-fmt expression trees against a record payload with C
//! semantics (integer promotions, usual arithmetic conversions, truncating
//! casts), and formatting of each conversion into the output string.

use super::output::{self, push_cstr, write_int, write_padded, IntArg};
use super::plan::{extend, trunc, Fast, Insn, IntStyle, LenShift, Op, Prog, SExpr, Slot, STACK};
use super::{BinOp, Conv, Count, Expr, Helper, Length, Piece, PrintFmt, UnOp};
use crate::bytes::{sext_shift, sign_extend, trunc_shift, truncate, Endian, LongSize};
use crate::format::{EventFormat, Field, FieldKind};
use crate::record::{dyn_loc, field_bytes, field_uint};
use crate::symbols::{Kallsyms, PrintkFormats};
use std::fmt::Write as _;

/// Why a print fmt could not be evaluated for a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EvalError {
    /// The expression uses something user space cannot evaluate.
    Unsupported(Box<str>),
    /// Field data missing or out of bounds.
    BadData(&'static str),
    /// `%s` on a pointer that is not in printk_formats.
    StringPointer(u64),
    /// Type mismatch between a conversion and its argument.
    Mismatch(String),
    /// Division by zero.
    DivZero,
    /// Not enough arguments.
    MissingArg,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Unsupported(s) => write!(f, "cannot evaluate {s}"),
            EvalError::BadData(s) => write!(f, "bad field data: {s}"),
            EvalError::StringPointer(p) => write!(f, "%s on kernel pointer 0x{p:x}"),
            EvalError::Mismatch(s) => write!(f, "argument mismatch: {s}"),
            EvalError::DivZero => write!(f, "division by zero"),
            EvalError::MissingArg => write!(f, "not enough arguments"),
        }
    }
}

/// An evaluated value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    /// Integer: raw bits in the low `size` bytes.
    Int { v: u64, size: u8, signed: bool },
    /// Bytes in the record (arrays, dynamic data, strings).
    Bytes {
        data: &'a [u8],
        elem: u8,
        signed: bool,
    },
    /// A string literal of the print fmt.
    Str(&'a str),
    /// Text in the evaluator's scratch buffer.
    Scratch(usize, usize),
}

type EResult<T> = std::result::Result<T, EvalError>;

impl Val<'_> {
    fn int(v: u64, size: u8, signed: bool) -> Self {
        Val::Int {
            v: truncate(v, size as usize),
            size,
            signed,
        }
    }
}

/// Integer value as (bits, size, signed): `bits` is the numeric value
/// sign-extended (signed types) or zero-extended (unsigned) to 64 bits, so
/// plain 64-bit arithmetic gives C's results (no 128-bit math on the hot path).
#[inline]
fn num(v: &Val<'_>) -> EResult<(u64, u8, bool)> {
    match *v {
        Val::Int { v, size, signed } => {
            let n = if signed {
                sign_extend(v, size as usize) as u64
            } else {
                v
            };
            Ok((n, size, signed))
        }
        // Pointers to data in the record: non-null.
        Val::Bytes { .. } | Val::Str(_) | Val::Scratch(..) => Ok((1, 8, false)),
    }
}

/// Integer value as an exact i128 (for the rarely used helpers that compare
/// or convert the numeric value).
fn num_wide(v: &Val<'_>) -> EResult<(i128, u8, bool)> {
    let (n, size, signed) = num(v)?;
    Ok((wide(n, signed), size, signed))
}

#[inline]
fn wide(n: u64, signed: bool) -> i128 {
    if signed {
        i128::from(n as i64)
    } else {
        i128::from(n)
    }
}

#[inline]
pub(super) fn promote(size: u8, signed: bool) -> (u8, bool) {
    if size < 4 {
        (4, true)
    } else {
        (size, signed)
    }
}

pub(super) fn common(a: (u8, bool), b: (u8, bool)) -> (u8, bool) {
    let a = promote(a.0, a.1);
    let b = promote(b.0, b.1);
    if a.1 == b.1 {
        return (a.0.max(b.0), a.1);
    }
    let (u, s) = if a.1 { (b, a) } else { (a, b) };
    if u.0 >= s.0 {
        (u.0, false)
    } else {
        (s.0, true)
    }
}

#[inline]
pub(super) fn conv_to(n: u64, size: u8, signed: bool) -> u64 {
    let bits = truncate(n, size as usize);
    if signed {
        sign_extend(bits, size as usize) as u64
    } else {
        bits
    }
}

/// Evaluates a constant expression to (value bits, size, signed), the bits
/// extended to 64 as [`num`] does.
pub(crate) fn const_eval_typed(e: &Expr) -> Option<(u64, u8, bool)> {
    go(e, 0)
}

/// Evaluates an expression that references no record data (symbol tables).
pub(crate) fn const_eval(e: &Expr) -> Option<u64> {
    let (n, size, signed) = go(e, 0)?;
    let bits = truncate(n, size as usize);
    Some(if signed {
        sign_extend(bits, size as usize) as u64
    } else {
        bits
    })
}

fn go(e: &Expr, depth: usize) -> Option<(u64, u8, bool)> {
    if depth > 64 {
        return None;
    }
    match e {
        Expr::Int { v, size, signed } => num(&Val::Int {
            v: *v,
            size: *size,
            signed: *signed,
        })
        .ok(),
        Expr::Unary(op, a) => {
            let (n, size, signed) = go(a, depth + 1)?;
            let (ps, psg) = promote(size, signed);
            let v = match op {
                UnOp::Neg => Val::int(n.wrapping_neg(), ps, psg),
                UnOp::Plus => Val::int(n, ps, psg),
                UnOp::BitNot => Val::int(!n, ps, psg),
                UnOp::Not => Val::int(u64::from(n == 0), 4, true),
            };
            num(&v).ok()
        }
        Expr::Binary(op, a, b) => {
            let x = go(a, depth + 1)?;
            let y = go(b, depth + 1)?;
            num(&binop(*op, x, y).ok()?).ok()
        }
        Expr::Ternary(c, a, b) => {
            if go(c, depth + 1)?.0 != 0 {
                go(a, depth + 1)
            } else {
                go(b, depth + 1)
            }
        }
        Expr::Cast(ty, a) => {
            let (n, _, _) = go(a, depth + 1)?;
            num(&Val::int(n, ty.size, ty.signed && !ty.pointer)).ok()
        }
        _ => None,
    }
}

/// Tables and machine parameters needed for evaluation.
pub(crate) struct Env<'e> {
    pub endian: Endian,
    pub long_size: LongSize,
    pub kallsyms: &'e Kallsyms,
    pub printk: &'e PrintkFormats,
}

/// Reusable evaluation state (scratch buffer for helper output).
#[derive(Debug, Default, Clone)]
pub(crate) struct Evaluator {
    scratch: String,
    /// Output of one general conversion.
    tmp: String,
    /// Output buffer of [`Evaluator::write`].
    buf: Vec<u8>,
}

impl Evaluator {
    /// Formats `fmt` for `payload` into `out`. On error nothing is appended.
    pub(crate) fn write(
        &mut self,
        fmt: &PrintFmt,
        ev: &EventFormat,
        payload: &[u8],
        env: &Env<'_>,
        out: &mut String,
    ) -> EResult<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let r = self.write_bytes(fmt, ev, payload, env, &mut buf);
        if r.is_ok() {
            output::push_utf8(out, &buf);
        }
        self.buf = buf;
        r
    }

    /// Formats `fmt` for `payload`, appending UTF-8 text to `out`. On error
    /// `out` may hold partial text.
    pub(crate) fn write_bytes(
        &mut self,
        fmt: &PrintFmt,
        ev: &EventFormat,
        payload: &[u8],
        env: &Env<'_>,
        out: &mut Vec<u8>,
    ) -> EResult<()> {
        self.scratch.clear();
        for step in &fmt.plan {
            step.pre.push(out);
            match step.op {
                Op::End => {}
                Op::FixedStr { off, len, conv } => {
                    match off.checked_add(len).and_then(|end| payload.get(off..end)) {
                        Some(b) => output::push_cstr_bytes(out, b),
                        None => self.conv_bytes(fmt, conv, ev, payload, env, out)?,
                    }
                }
                Op::DynStr {
                    off,
                    size,
                    rel,
                    conv,
                } => match dyn_str(payload, off, size, rel, env.endian) {
                    Some(b) => output::push_cstr_bytes(out, b),
                    None => self.conv_bytes(fmt, conv, ev, payload, env, out)?,
                },
                Op::IntField {
                    off,
                    size,
                    sh,
                    signed,
                    length,
                    style,
                    conv,
                } => match env.endian.read_sized(payload, off, size, sh) {
                    Some(v) => {
                        let n = if signed { sext_shift(v, sh) } else { v };
                        env.direct_int(out, n, length, style)
                    }
                    None => self.conv_bytes(fmt, conv, ev, payload, env, out)?,
                },
                Op::Int {
                    ref val,
                    length,
                    style,
                    conv,
                } => match env.run(val, payload) {
                    Some(n) => env.direct_int(out, n, length, style),
                    None => self.conv_bytes(fmt, conv, ev, payload, env, out)?,
                },
                Op::Str { ref val, conv } => {
                    if env.sexpr(val, payload, out).is_none() {
                        self.conv_bytes(fmt, conv, ev, payload, env, out)?;
                    }
                }
                Op::Conv(conv) => self.conv_bytes(fmt, conv, ev, payload, env, out)?,
            }
        }
        Ok(())
    }

    /// [`Evaluator::conv`] into a byte buffer.
    #[cold]
    fn conv_bytes(
        &mut self,
        fmt: &PrintFmt,
        slot: Slot,
        ev: &EventFormat,
        payload: &[u8],
        env: &Env<'_>,
        out: &mut Vec<u8>,
    ) -> EResult<()> {
        let mut tmp = std::mem::take(&mut self.tmp);
        tmp.clear();
        let r = self.conv(fmt, slot, ev, payload, env, &mut tmp);
        out.extend_from_slice(tmp.as_bytes());
        self.tmp = tmp;
        r
    }

    /// Formats one conversion through the general expression evaluator.
    fn conv(
        &mut self,
        fmt: &PrintFmt,
        slot: Slot,
        ev: &EventFormat,
        payload: &[u8],
        env: &Env<'_>,
        out: &mut String,
    ) -> EResult<()> {
        let Some(Piece::Conv(c)) = fmt.pieces.get(slot.piece) else {
            return Err(EvalError::BadData("print fmt plan"));
        };
        let args = &fmt.args;
        let mut ai = slot.arg;
        let width = match c.width {
            Count::None => None,
            Count::Fixed(n) => Some(n),
            Count::Star => {
                let e = args.get(ai).ok_or(EvalError::MissingArg)?;
                ai += 1;
                let v = env.eval(e, ev, payload, &mut self.scratch)?;
                let (n, _, _) = num(&v)?;
                Some((n as i32).clamp(0, 4096) as usize)
            }
        };
        let precision = match c.precision {
            Count::None => None,
            Count::Fixed(n) => Some(n),
            Count::Star => {
                let e = args.get(ai).ok_or(EvalError::MissingArg)?;
                ai += 1;
                let v = env.eval(e, ev, payload, &mut self.scratch)?;
                let n = num(&v)?.0 as i32;
                if n < 0 {
                    None
                } else {
                    Some(n as usize)
                }
            }
        };
        let mut e = args.get(ai).ok_or(EvalError::MissingArg)?;
        if c.conv == b's' && width.is_none() && precision.is_none() {
            // `cond ? "a" : "b"` and friends: pick the branch, print a
            // literal directly.
            for _ in 0..64 {
                let Expr::Ternary(cond, a, b) = e else { break };
                let vc = env.eval(cond, ev, payload, &mut self.scratch)?;
                e = if num(&vc)?.0 != 0 { a } else { b };
            }
            if let Expr::Str(s) = e {
                push_cstr(out, s.as_bytes(), None);
                return Ok(());
            }
        }
        let v = env.eval(e, ev, payload, &mut self.scratch)?;
        env.format(c, width, precision, v, &self.scratch, out)
    }
}

/// Bytes of a `__data_loc`/`__rel_loc` field at `off` (locator of `size` bytes).
#[inline]
fn dyn_str(payload: &[u8], off: usize, size: usize, rel: bool, endian: Endian) -> Option<&[u8]> {
    let v = endian.read_u32(payload, off)?;
    let mut start = (v & 0xffff) as usize;
    let len = (v >> 16) as usize;
    if rel {
        start = start.checked_add(off)?.checked_add(size.max(4))?;
    }
    payload.get(start..start.checked_add(len)?)
}

impl<'e> Env<'e> {
    /// Runs a compiled integer expression: its value in `num` form, or `None`
    /// when the general evaluator must decide (data beyond the record,
    /// division by zero).
    #[inline(always)]
    fn run(&self, prog: &Prog, payload: &[u8]) -> Option<u64> {
        match prog.fast {
            Some(Fast::Load {
                off,
                size,
                sh,
                signed,
            }) => {
                let v = self.endian.read_sized(payload, off, size, sh)?;
                Some(if signed { sext_shift(v, sh) } else { v })
            }
            Some(Fast::LoadAnd {
                off,
                load_size,
                load_sh,
                load_signed,
                mask,
                sh,
                signed,
            }) => {
                let v = self.endian.read_sized(payload, off, load_size, load_sh)?;
                let x = if load_signed {
                    sext_shift(v, load_sh)
                } else {
                    v
                };
                let x = if signed {
                    sext_shift(x, sh)
                } else {
                    trunc_shift(x, sh)
                };
                // `x & mask` of two values extended from the same size is
                // itself extended.
                Some(x & mask)
            }
            None => self.run_code(prog, payload),
        }
    }

    /// [`Env::run`] for programs without a one-step form.
    fn run_code(&self, prog: &Prog, payload: &[u8]) -> Option<u64> {
        let mut st = [0u64; STACK];
        let mut sp = 0usize; // number of values on the stack
        let mut pc = 0usize;
        // Jumps only go forward, so this takes at most `code.len()` steps;
        // the budget makes that hold whatever the program.
        let mut budget = prog.code.len();
        while let Some(insn) = prog.code.get(pc) {
            budget = budget.checked_sub(1)?;
            pc += 1;
            match *insn {
                Insn::Const(v) => {
                    *st.get_mut(sp)? = v;
                    sp += 1;
                }
                Insn::Load { off, size, signed } => {
                    let v = self.endian.read_field(payload, off, usize::from(size))?;
                    *st.get_mut(sp)? = extend(v, size, signed);
                    sp += 1;
                }
                Insn::Conv { size, signed } => {
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    *t = conv_to(*t, size, signed);
                }
                Insn::Not => {
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    *t = u64::from(*t == 0);
                }
                Insn::Bool => {
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    *t = u64::from(*t != 0);
                }
                Insn::Neg => {
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    *t = t.wrapping_neg();
                }
                Insn::BitNot => {
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    *t = !*t;
                }
                Insn::Bin { op, size, signed } => {
                    sp = sp.checked_sub(1)?;
                    let y = conv_to(*st.get(sp)?, size, signed);
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    let x = conv_to(*t, size, signed);
                    let r = arith_in(op, x, y, size, signed)?;
                    *t = if is_logical(op) {
                        r
                    } else {
                        extend(r, size, signed)
                    };
                }
                Insn::Shift {
                    left,
                    size,
                    signed,
                    count_signed,
                } => {
                    sp = sp.checked_sub(1)?;
                    let y = *st.get(sp)?;
                    let t = st.get_mut(sp.checked_sub(1)?)?;
                    *t = shift_in(left, *t, y, count_signed, size, signed);
                }
                Insn::JumpIfZero(to) => {
                    sp = sp.checked_sub(1)?;
                    if *st.get(sp)? == 0 {
                        pc = to;
                    }
                }
                Insn::JumpIfNonZero(to) => {
                    sp = sp.checked_sub(1)?;
                    if *st.get(sp)? != 0 {
                        pc = to;
                    }
                }
                Insn::Jump(to) => pc = to,
            }
        }
        if sp == 1 {
            st.first().copied()
        } else {
            None
        }
    }

    /// Writes a compiled `%s` argument; `None` (nothing written) when the
    /// general evaluator must decide.
    fn sexpr(&self, e: &SExpr, payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let mut e = e;
        // Bounded: compiled trees are at most plan::MAX_DEPTH deep.
        for _ in 0..=128 {
            match e {
                SExpr::Lit(s) => {
                    out.extend_from_slice(s.as_bytes());
                    return Some(());
                }
                SExpr::Cond(c, a, b) => {
                    e = if self.run(c, payload)? != 0 { a } else { b };
                }
                SExpr::Flags {
                    val,
                    delim,
                    entries,
                } => {
                    let mut rest = trunc(self.run(val, payload)?, val.size);
                    let mut first = true;
                    for (mask, name) in entries.iter() {
                        if rest == 0 {
                            break;
                        }
                        let mask = *mask;
                        if mask != 0 && rest & mask == mask {
                            if !first {
                                out.extend_from_slice(delim.as_bytes());
                            }
                            out.extend_from_slice(name.as_bytes());
                            first = false;
                            rest &= !mask;
                        }
                    }
                    if rest != 0 {
                        if !first {
                            out.extend_from_slice(delim.as_bytes());
                        }
                        out.extend_from_slice(b"0x");
                        output::push_hex_bytes(out, rest, false);
                    }
                    return Some(());
                }
                SExpr::Symbolic { val, entries } => {
                    let x = trunc(self.run(val, payload)?, val.size);
                    match entries.iter().find(|(s, _)| trunc(*s, val.size) == x) {
                        Some((_, name)) => out.extend_from_slice(name.as_bytes()),
                        None => {
                            out.extend_from_slice(b"0x");
                            output::push_hex_bytes(out, x, false);
                        }
                    }
                    return Some(());
                }
            }
        }
        None
    }

    /// Writes a plain integer conversion of the value `n` (extended bits).
    #[inline(always)]
    fn direct_int(&self, out: &mut Vec<u8>, n: u64, length: LenShift, style: IntStyle) {
        let lsh = if self.long_size == LongSize::Eight {
            length.long8
        } else {
            length.long4
        };
        let bits = trunc_shift(n, lsh);
        match style {
            IntStyle::Signed => {
                let s = sext_shift(n, lsh) as i64;
                if s < 0 {
                    out.push(b'-');
                }
                output::push_u64(out, s.unsigned_abs());
            }
            IntStyle::Unsigned => output::push_u64(out, bits),
            IntStyle::Hex => output::push_hex_bytes(out, bits, false),
            IntStyle::HexUpper => output::push_hex_bytes(out, bits, true),
        }
    }

    fn field_val<'a>(&self, f: &Field, payload: &'a [u8]) -> EResult<Val<'a>> {
        match f.kind {
            FieldKind::Int | FieldKind::Pointer => {
                let v = field_uint(payload, f, self.endian)
                    .ok_or(EvalError::BadData("field beyond record"))?;
                Ok(Val::Int {
                    v,
                    size: f.size as u8,
                    signed: f.signed && f.kind == FieldKind::Int,
                })
            }
            FieldKind::DataLocArray { .. } => {
                Err(EvalError::Unsupported("__data_loc string array".into()))
            }
            _ => {
                let data = field_bytes(payload, f, self.endian)
                    .ok_or(EvalError::BadData("field beyond record"))?;
                Ok(Val::Bytes {
                    data,
                    elem: f.elem_size().min(8) as u8,
                    signed: f.signed,
                })
            }
        }
    }

    fn dyn_field<'a>(
        &self,
        ev: &EventFormat,
        i: usize,
        payload: &'a [u8],
    ) -> EResult<(&'a [u8], usize)> {
        let f = ev.fields.get(i).ok_or(EvalError::BadData("field index"))?;
        match f.kind {
            FieldKind::DataLoc { elem_size } | FieldKind::RelLoc { elem_size } => {
                let d = field_bytes(payload, f, self.endian)
                    .ok_or(EvalError::BadData("__data_loc beyond record"))?;
                Ok((d, elem_size))
            }
            _ => {
                let d = field_bytes(payload, f, self.endian)
                    .ok_or(EvalError::BadData("field beyond record"))?;
                Ok((d, f.elem_size()))
            }
        }
    }

    pub(crate) fn eval<'a>(
        &self,
        e: &'a Expr,
        ev: &EventFormat,
        payload: &'a [u8],
        scratch: &mut String,
    ) -> EResult<Val<'a>> {
        Ok(match e {
            Expr::Int { v, size, signed } => Val::Int {
                v: *v,
                size: *size,
                signed: *signed,
            },
            Expr::Str(s) => Val::Str(s),
            Expr::Field(i) => {
                let f = ev.fields.get(*i).ok_or(EvalError::BadData("field index"))?;
                self.field_val(f, payload)?
            }
            Expr::CommonField(i) => {
                let f = ev
                    .common_fields
                    .get(*i)
                    .ok_or(EvalError::BadData("field index"))?;
                self.field_val(f, payload)?
            }
            Expr::AddrOf(inner) => match &**inner {
                Expr::Field(i) => {
                    let f = ev.fields.get(*i).ok_or(EvalError::BadData("field index"))?;
                    let data = field_bytes(payload, f, self.endian)
                        .ok_or(EvalError::BadData("field beyond record"))?;
                    Val::Bytes {
                        data,
                        elem: 1,
                        signed: false,
                    }
                }
                other => match self.eval(other, ev, payload, scratch)? {
                    b @ Val::Bytes { .. } => b,
                    _ => return Err(EvalError::Unsupported("address of a value".into())),
                },
            },
            Expr::Index(a, idx) => {
                let base = self.eval(a, ev, payload, scratch)?;
                let (i, _, _) = num_wide(&self.eval(idx, ev, payload, scratch)?)?;
                match base {
                    Val::Bytes { data, elem, signed } => {
                        let es = elem.max(1) as usize;
                        let i =
                            usize::try_from(i).map_err(|_| EvalError::BadData("negative index"))?;
                        let off = i
                            .checked_mul(es)
                            .ok_or(EvalError::BadData("index overflow"))?;
                        let v = self
                            .endian
                            .read_uint(data, off, es)
                            .ok_or(EvalError::BadData("index beyond array"))?;
                        Val::Int {
                            v,
                            size: es as u8,
                            signed,
                        }
                    }
                    _ => return Err(EvalError::Unsupported("index of a non-array".into())),
                }
            }
            Expr::Unary(op, a) => {
                let v = self.eval(a, ev, payload, scratch)?;
                let (n, size, signed) = num(&v)?;
                let (ps, psg) = promote(size, signed);
                match op {
                    UnOp::Neg => Val::int(n.wrapping_neg(), ps, psg),
                    UnOp::Plus => Val::int(n, ps, psg),
                    UnOp::BitNot => Val::int(!n, ps, psg),
                    UnOp::Not => Val::int(u64::from(n == 0), 4, true),
                }
            }
            Expr::Binary(op, a, b) => {
                let va = self.eval(a, ev, payload, scratch)?;
                match op {
                    BinOp::And => {
                        if num(&va)?.0 == 0 {
                            return Ok(Val::int(0, 4, true));
                        }
                        let vb = self.eval(b, ev, payload, scratch)?;
                        return Ok(Val::int(u64::from(num(&vb)?.0 != 0), 4, true));
                    }
                    BinOp::Or => {
                        if num(&va)?.0 != 0 {
                            return Ok(Val::int(1, 4, true));
                        }
                        let vb = self.eval(b, ev, payload, scratch)?;
                        return Ok(Val::int(u64::from(num(&vb)?.0 != 0), 4, true));
                    }
                    _ => {}
                }
                let vb = self.eval(b, ev, payload, scratch)?;
                let (x, xs, xsg) = num(&va)?;
                let (y, ys, ysg) = num(&vb)?;
                binop(*op, (x, xs, xsg), (y, ys, ysg))?
            }
            Expr::Ternary(c, a, b) => {
                let vc = self.eval(c, ev, payload, scratch)?;
                if num(&vc)?.0 != 0 {
                    self.eval(a, ev, payload, scratch)?
                } else {
                    self.eval(b, ev, payload, scratch)?
                }
            }
            Expr::Cast(ty, a) => {
                let v = self.eval(a, ev, payload, scratch)?;
                match v {
                    Val::Int { .. } => {
                        let (n, _, _) = num(&v)?;
                        Val::int(n, ty.size, ty.signed && !ty.pointer)
                    }
                    other if ty.pointer => other,
                    _ => {
                        return Err(EvalError::Unsupported(
                            "cast of a pointer to an integer".into(),
                        ))
                    }
                }
            }
            Expr::Unknown(s) => return Err(EvalError::Unsupported(s.clone())),
            Expr::Helper(h) => self.helper(h, ev, payload, scratch)?,
        })
    }

    fn helper<'a>(
        &self,
        h: &'a Helper,
        ev: &EventFormat,
        payload: &'a [u8],
        scratch: &mut String,
    ) -> EResult<Val<'a>> {
        Ok(match h {
            Helper::GetStr(i) | Helper::GetDynArray(i) | Helper::GetSockaddr(i) => {
                let (data, es) = self.dyn_field(ev, *i, payload)?;
                Val::Bytes {
                    data,
                    elem: es.min(8) as u8,
                    signed: false,
                }
            }
            Helper::GetDynArrayLen(i) => {
                let f = ev.fields.get(*i).ok_or(EvalError::BadData("field index"))?;
                let len = match f.kind {
                    FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } => {
                        dyn_loc(
                            payload,
                            f,
                            self.endian,
                            matches!(f.kind, FieldKind::RelLoc { .. }),
                        )
                        .ok_or(EvalError::BadData("__data_loc beyond record"))?
                        .1
                    }
                    _ => f.size,
                };
                Val::int(len as u64, 4, true)
            }
            Helper::GetBitmask(i) => {
                let (data, _) = self.dyn_field(ev, *i, payload)?;
                let start = scratch.len();
                output::bitmap_string(
                    scratch,
                    data,
                    data.len() * 8,
                    self.long_size.bytes(),
                    self.endian == Endian::Little,
                );
                Val::Scratch(start, scratch.len())
            }
            Helper::PrintFlags {
                val,
                delim,
                entries,
            } => {
                let v = self.eval(val, ev, payload, scratch)?;
                let (n, size, _) = num(&v)?;
                let mut rest = truncate(n, size as usize);
                let start = scratch.len();
                let mut first = true;
                for (mask, name) in entries {
                    let Some(mask) = *mask else {
                        return Err(EvalError::Unsupported(
                            format!("__print_flags entry {name} with unresolved value").into(),
                        ));
                    };
                    if rest == 0 {
                        break;
                    }
                    if mask != 0 && rest & mask == mask {
                        if !first {
                            scratch.push_str(delim);
                        }
                        scratch.push_str(name);
                        first = false;
                        rest &= !mask;
                    }
                }
                if rest != 0 {
                    if !first {
                        scratch.push_str(delim);
                    }
                    let _ = write!(scratch, "0x{rest:x}");
                }
                Val::Scratch(start, scratch.len())
            }
            Helper::PrintSymbolic { val, entries } => {
                let v = self.eval(val, ev, payload, scratch)?;
                let (n, size, _) = num(&v)?;
                let x = truncate(n, size as usize);
                for (sym, name) in entries {
                    match *sym {
                        None => {
                            return Err(EvalError::Unsupported(
                                format!("__print_symbolic entry {name} with unresolved value")
                                    .into(),
                            ))
                        }
                        Some(s) if truncate(s, size as usize) == x => return Ok(Val::Str(name)),
                        _ => {}
                    }
                }
                let start = scratch.len();
                let _ = write!(scratch, "0x{x:x}");
                Val::Scratch(start, scratch.len())
            }
            Helper::PrintHex { buf, len, compact } => {
                let b = self.eval(buf, ev, payload, scratch)?;
                let (l, _, _) = num_wide(&self.eval(len, ev, payload, scratch)?)?;
                let data = bytes_of(&b)?;
                let l = usize::try_from(l).unwrap_or(0).min(data.len());
                let start = scratch.len();
                for (i, x) in data.iter().take(l).enumerate() {
                    if i > 0 && !compact {
                        scratch.push(' ');
                    }
                    let _ = write!(scratch, "{x:02x}");
                }
                Val::Scratch(start, scratch.len())
            }
            Helper::PrintArray {
                arr,
                count,
                el_size,
            } => {
                let a = self.eval(arr, ev, payload, scratch)?;
                let (c, _, _) = num_wide(&self.eval(count, ev, payload, scratch)?)?;
                let (es, _, _) = num_wide(&self.eval(el_size, ev, payload, scratch)?)?;
                let data = bytes_of(&a)?;
                let start = scratch.len();
                let es = usize::try_from(es).unwrap_or(0);
                if !matches!(es, 1 | 2 | 4 | 8) {
                    let first = self
                        .endian
                        .read_uint(data, 0, 4)
                        .or_else(|| data.first().map(|b| u64::from(*b)))
                        .unwrap_or(0);
                    let _ = write!(scratch, "BAD SIZE:{es} 0x{first:x}");
                    return Ok(Val::Scratch(start, scratch.len()));
                }
                let c = usize::try_from(c).unwrap_or(0).min(data.len() / es);
                scratch.push('{');
                for i in 0..c {
                    if i > 0 {
                        scratch.push(',');
                    }
                    let v = self.endian.read_uint(data, i * es, es).unwrap_or(0);
                    let _ = write!(scratch, "0x{v:x}");
                }
                scratch.push('}');
                Val::Scratch(start, scratch.len())
            }
            Helper::PrintHexDump {
                prefix,
                prefix_type,
                rowsize,
                groupsize,
                buf,
                len,
                ascii,
            } => {
                let p = self.eval(prefix, ev, payload, scratch)?;
                let ptype = num_wide(&self.eval(prefix_type, ev, payload, scratch)?)?.0;
                let rowsize = num_wide(&self.eval(rowsize, ev, payload, scratch)?)?.0;
                let groupsize = num_wide(&self.eval(groupsize, ev, payload, scratch)?)?.0;
                let b = self.eval(buf, ev, payload, scratch)?;
                let l = num_wide(&self.eval(len, ev, payload, scratch)?)?.0;
                let ascii = num(&self.eval(ascii, ev, payload, scratch)?)?.0 != 0;
                let prefix_s = match p {
                    Val::Str(s) => s.to_string(),
                    _ => String::new(),
                };
                let data = bytes_of(&b)?;
                let l = usize::try_from(l).unwrap_or(0).min(data.len());
                let rowsize = if rowsize == 16 || rowsize == 32 {
                    rowsize as usize
                } else {
                    16
                };
                let groupsize = match groupsize {
                    1 | 2 | 4 | 8 => groupsize as usize,
                    _ => 1,
                };
                let start = scratch.len();
                hex_dump(
                    scratch,
                    &prefix_s,
                    ptype,
                    rowsize,
                    groupsize,
                    data.get(..l).unwrap_or(&[]),
                    ascii,
                    self.endian,
                );
                Val::Scratch(start, scratch.len())
            }
            Helper::NsToSecs(a) => {
                let (n, _, _) = num(&self.eval(a, ev, payload, scratch)?)?;
                Val::int(n / 1_000_000_000, 8, false)
            }
            Helper::NsWithoutSecs(a) => {
                let (n, _, _) = num(&self.eval(a, ev, payload, scratch)?)?;
                Val::int(n % 1_000_000_000, 4, false)
            }
        })
    }

    fn int_arg(&self, c: &Conv, v: &Val<'_>, signed: bool) -> EResult<IntArg> {
        let (n, _, _) = match v {
            Val::Int { .. } => num(v)?,
            _ => {
                return Err(EvalError::Mismatch(format!(
                    "{} on a non-integer",
                    output::conv_name(c)
                )))
            }
        };
        let size = match c.length {
            Length::Char => 1,
            Length::Short => 2,
            Length::Int => 4,
            Length::Long | Length::Size => self.long_size.bytes(),
            Length::LongLong => 8,
        };
        let bits = truncate(n, size);
        if signed {
            let s = sign_extend(bits, size);
            Ok(IntArg {
                v: s.unsigned_abs(),
                neg: s < 0,
            })
        } else {
            Ok(IntArg {
                v: bits,
                neg: false,
            })
        }
    }

    fn format(
        &self,
        c: &Conv,
        width: Option<usize>,
        precision: Option<usize>,
        v: Val<'_>,
        scratch: &str,
        out: &mut String,
    ) -> EResult<()> {
        match c.conv {
            b'd' | b'i' => {
                let a = self.int_arg(c, &v, true)?;
                write_int(out, a, 10, false, true, c.flags, width, precision);
            }
            b'u' | b'x' | b'X' | b'o' => {
                let a = self.int_arg(c, &v, false)?;
                let base = match c.conv {
                    b'u' => 10,
                    b'o' => 8,
                    _ => 16,
                };
                write_int(
                    out,
                    a,
                    base,
                    c.conv == b'X',
                    false,
                    c.flags,
                    width,
                    precision,
                );
            }
            b'c' => {
                let (n, _, _) = num(&v)?;
                let start = out.len();
                let b = n as u8;
                if b.is_ascii() {
                    out.push(b as char);
                } else {
                    out.push_str(&String::from_utf8_lossy(&[b]));
                }
                write_padded(out, start, width, c.flags.left);
            }
            b's' => {
                let start = out.len();
                match v {
                    Val::Bytes { data, .. } => push_cstr(out, data, precision),
                    Val::Str(s) => push_cstr(out, s.as_bytes(), precision),
                    Val::Scratch(a, b) => {
                        push_cstr(out, scratch.get(a..b).unwrap_or("").as_bytes(), precision)
                    }
                    Val::Int { .. } => {
                        let (n, _, _) = num(&v)?;
                        let p = n;
                        if p == 0 {
                            push_cstr(out, b"(null)", precision);
                        } else if let Some(s) = self.printk.get(p) {
                            push_cstr(out, s.as_bytes(), precision);
                        } else {
                            return Err(EvalError::StringPointer(p));
                        }
                    }
                }
                write_padded(out, start, width, c.flags.left);
            }
            b'p' => {
                let start = out.len();
                self.pointer(c, width, v, out)?;
                if !matches!(c.pext.as_bytes().first(), Some(b'h' | b'b')) {
                    write_padded(out, start, width, c.flags.left);
                }
            }
            _ => return Err(EvalError::Unsupported(output::conv_name(c).into())),
        }
        Ok(())
    }

    fn symbol(&self, out: &mut String, addr: u64, offset: bool, backtrace: bool) {
        let look = if backtrace {
            addr.wrapping_sub(1)
        } else {
            addr
        };
        match self.kallsyms.lookup(look) {
            Some(h) if addr != 0 => {
                out.push_str(h.name);
                if offset {
                    let off = if backtrace { h.offset + 1 } else { h.offset };
                    let _ = write!(out, "+0x{:x}/0x{:x}", off, h.size);
                }
                if let Some(m) = h.module {
                    let _ = write!(out, " [{m}]");
                }
            }
            _ => {
                let _ = write!(out, "0x{addr:x}");
            }
        }
    }

    fn pointer(&self, c: &Conv, width: Option<usize>, v: Val<'_>, out: &mut String) -> EResult<()> {
        let ext = &*c.pext;
        let first = ext.as_bytes().first().copied();
        let little = self.endian == Endian::Little;
        match first {
            Some(b'S' | b's' | b'F' | b'f' | b'B') => {
                let Val::Int { .. } = v else {
                    return Err(EvalError::Mismatch("%pS on a buffer".into()));
                };
                let addr = num(&v)?.0;
                let addr = truncate(addr, self.long_size.bytes());
                self.symbol(
                    out,
                    addr,
                    matches!(first, Some(b'S' | b'F' | b'B')),
                    first == Some(b'B'),
                );
            }
            None | Some(b'K' | b'x') => {
                let Val::Int { .. } = v else {
                    return Err(EvalError::Unsupported(
                        "%p of data inside the record".into(),
                    ));
                };
                let addr = truncate(num(&v)?.0, self.long_size.bytes());
                let w = self.long_size.bytes() * 2;
                let _ = write!(out, "{addr:0w$x}");
            }
            Some(b'I' | b'i') => {
                let data = bytes_of(&v)?;
                let kind = ext.as_bytes().get(1).copied();
                match kind {
                    Some(b'4') => {
                        if data.len() < 4 {
                            return Err(EvalError::BadData("%pI4 needs 4 bytes"));
                        }
                        output::ipv4(out, data)
                    }
                    Some(b'6') => {
                        if data.len() < 16 {
                            return Err(EvalError::BadData("%pI6 needs 16 bytes"));
                        }
                        if first == Some(b'I') && ext.contains('c') {
                            output::ipv6_compressed(out, data)
                        } else {
                            output::ipv6_full(out, data, first == Some(b'I'))
                        }
                    }
                    Some(b'S') => {
                        if !output::sockaddr(out, data, ext, little) {
                            return Err(EvalError::BadData("short sockaddr"));
                        }
                    }
                    _ => return Err(EvalError::Unsupported(output::conv_name(c).into())),
                }
            }
            Some(b'M' | b'm') => {
                if !output::mac(out, bytes_of(&v)?, ext) {
                    return Err(EvalError::BadData("%pM needs 6 bytes"));
                }
            }
            Some(b'U') => {
                if !output::uuid(out, bytes_of(&v)?, ext) {
                    return Err(EvalError::BadData("%pU needs 16 bytes"));
                }
            }
            Some(b'h') => output::hex_buf(out, bytes_of(&v)?, ext, width),
            Some(b'b') => {
                let data = bytes_of(&v)?;
                let bits = width.unwrap_or(0);
                if ext.as_bytes().get(1) == Some(&b'l') {
                    output::bitmap_list(out, data, bits, self.long_size.bytes(), little)
                } else {
                    output::bitmap_string(out, data, bits, self.long_size.bytes(), little)
                }
            }
            _ => return Err(EvalError::Unsupported(output::conv_name(c).into())),
        }
        Ok(())
    }
}

fn bytes_of<'a>(v: &Val<'a>) -> EResult<&'a [u8]> {
    match *v {
        Val::Bytes { data, .. } => Ok(data),
        Val::Str(s) => Ok(s.as_bytes()),
        _ => Err(EvalError::Mismatch(
            "buffer conversion on an integer".into(),
        )),
    }
}

fn binop(op: BinOp, a: (u64, u8, bool), b: (u64, u8, bool)) -> EResult<Val<'static>> {
    let (v, size, signed) = arith(op, a, b).ok_or(EvalError::DivZero)?;
    Ok(Val::Int { v, size, signed })
}

/// C binary operator on `num`-form operands: (result bits truncated to the
/// result size, size, signed); `None` on division by zero.
#[inline]
fn arith(op: BinOp, a: (u64, u8, bool), b: (u64, u8, bool)) -> Option<(u64, u8, bool)> {
    let (x, xs, xsg) = a;
    let (y, ys, ysg) = b;
    if matches!(op, BinOp::Shl | BinOp::Shr) {
        let (ps, psg) = promote(xs, xsg);
        let x = conv_to(x, ps, psg);
        return Some((shift_in(op == BinOp::Shl, x, y, ysg, ps, psg), ps, psg));
    }
    let (cs, csg) = common((xs, xsg), (ys, ysg));
    let x = conv_to(x, cs, csg);
    let y = conv_to(y, cs, csg);
    let r = arith_in(op, x, y, cs, csg)?;
    Some(if is_logical(op) {
        (r, 4, true)
    } else {
        (r, cs, csg)
    })
}

/// [`arith`] for the differential tests.
#[cfg(test)]
pub(crate) fn arith_for_tests(
    op: BinOp,
    a: (u64, u8, bool),
    b: (u64, u8, bool),
) -> Option<(u64, u8, bool)> {
    arith(op, a, b)
}

/// True for operators whose result is a C `int` 0/1.
#[inline]
pub(super) fn is_logical(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Eq
            | BinOp::Ne
            | BinOp::And
            | BinOp::Or
    )
}

/// `x << y` / `x >> y` with `x` already converted to its promoted type
/// (`ps`, `psg`) and `y` in `num` form (`ysg`: its signedness). Returns the
/// result truncated to `ps` bytes.
#[inline]
pub(super) fn shift_in(left: bool, x: u64, y: u64, ysg: bool, ps: u8, psg: bool) -> u64 {
    // A negative or huge count shifts everything out.
    let sh = if ysg && (y as i64) < 0 {
        u32::MAX
    } else {
        u32::try_from(y).unwrap_or(u32::MAX)
    };
    let bits = u32::from(ps) * 8;
    let neg = psg && (x as i64) < 0;
    let r = if sh >= bits || sh >= 64 {
        if !left && neg {
            u64::MAX
        } else {
            0
        }
    } else if left {
        x << sh
    } else if psg {
        ((x as i64) >> sh) as u64
    } else {
        x >> sh
    };
    truncate(r, usize::from(ps))
}

/// A non-shift binary operator on operands already converted to their common
/// type (`cs`, `csg`): the result truncated to `cs` bytes, or 0/1 for
/// comparisons and logical operators; `None` on division by zero.
#[inline]
pub(super) fn arith_in(op: BinOp, x: u64, y: u64, cs: u8, csg: bool) -> Option<u64> {
    let t = |v: u64| truncate(v, usize::from(cs));
    let lt = |a: u64, b: u64| {
        if csg {
            (a as i64) < (b as i64)
        } else {
            a < b
        }
    };
    Some(match op {
        BinOp::Mul => t(x.wrapping_mul(y)),
        BinOp::Div => {
            if y == 0 {
                return None;
            }
            t(if csg {
                (x as i64).wrapping_div(y as i64) as u64
            } else {
                x / y
            })
        }
        BinOp::Rem => {
            if y == 0 {
                return None;
            }
            t(if csg {
                (x as i64).wrapping_rem(y as i64) as u64
            } else {
                x % y
            })
        }
        BinOp::Add => t(x.wrapping_add(y)),
        BinOp::Sub => t(x.wrapping_sub(y)),
        BinOp::Lt => u64::from(lt(x, y)),
        BinOp::Le => u64::from(!lt(y, x)),
        BinOp::Gt => u64::from(lt(y, x)),
        BinOp::Ge => u64::from(!lt(x, y)),
        BinOp::Eq => u64::from(x == y),
        BinOp::Ne => u64::from(x != y),
        BinOp::BitAnd => t(x & y),
        BinOp::BitXor => t(x ^ y),
        BinOp::BitOr => t(x | y),
        BinOp::And => u64::from(x != 0 && y != 0),
        BinOp::Or => u64::from(x != 0 || y != 0),
        BinOp::Shl | BinOp::Shr => 0,
    })
}

/// The kernel's `trace_print_hex_dump_seq` (print_hex_dump layout).
#[allow(clippy::too_many_arguments)]
fn hex_dump(
    out: &mut String,
    prefix: &str,
    prefix_type: i128,
    rowsize: usize,
    groupsize: usize,
    buf: &[u8],
    ascii: bool,
    endian: Endian,
) {
    for (row, chunk) in buf.chunks(rowsize).enumerate() {
        let i = row * rowsize;
        out.push('\n');
        match prefix_type {
            1 => {
                let _ = write!(out, "{prefix}{:p}: ", (i as *const u8));
            }
            2 => {
                let _ = write!(out, "{prefix}{i:08x}: ");
            }
            _ => out.push_str(prefix),
        }
        let gs = if chunk.len() % groupsize != 0 {
            1
        } else {
            groupsize
        };
        let mut line = String::new();
        for (g, grp) in chunk.chunks(gs).enumerate() {
            if g > 0 {
                line.push(' ');
            }
            let v = endian.read_uint(grp, 0, gs).unwrap_or(0);
            let _ = write!(line, "{v:0w$x}", w = gs * 2);
        }
        out.push_str(&line);
        if ascii {
            let full = (rowsize / gs) * (gs * 2 + 1);
            let pad = full.saturating_sub(line.len()) + 1;
            out.extend(std::iter::repeat_n(' ', pad));
            for &b in chunk {
                out.push(if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                });
            }
        }
    }
}
