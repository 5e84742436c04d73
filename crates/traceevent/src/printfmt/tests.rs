//! Differential tests of the compiled print-fmt plan: random print fmts over
//! a fixed field layout and random payloads must give exactly what the
//! general expression evaluator gives (text, or an error in both), and the
//! 64-bit arithmetic must match a 128-bit reference of C's rules.

use super::eval::{Env, Evaluator};
use super::plan::{self, Op, Slot, Step};
use super::{BinOp, Piece, PrintFmt};
use crate::bytes::{sign_extend, truncate, Endian, LongSize};
use crate::format::EventFormat;
use crate::symbols::{Kallsyms, PrintkFormats};

/// Field layout of the generated events (payload of 96 bytes + dynamic data).
pub(crate) const FIELDS: &str = "\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;
\tfield:unsigned int u;\toffset:12;\tsize:4;\tsigned:0;
\tfield:unsigned long b;\toffset:16;\tsize:8;\tsigned:0;
\tfield:long l;\toffset:24;\tsize:8;\tsigned:1;
\tfield:short sh;\toffset:32;\tsize:2;\tsigned:1;
\tfield:unsigned char uc;\toffset:34;\tsize:1;\tsigned:0;
\tfield:char sc;\toffset:35;\tsize:1;\tsigned:1;
\tfield:__data_loc char[] d;\toffset:36;\tsize:4;\tsigned:0;
\tfield:char c[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:void * g;\toffset:56;\tsize:8;\tsigned:0;
\tfield:__rel_loc char[] e;\toffset:64;\tsize:4;\tsigned:0;
\tfield:char s8[8];\toffset:68;\tsize:8;\tsigned:0;
\tfield:unsigned short us;\toffset:76;\tsize:2;\tsigned:0;
\tfield:u64 tail;\toffset:88;\tsize:8;\tsigned:0;
";

/// A small deterministic generator (xorshift64*).
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs.get(self.below(xs.len())).copied().unwrap_or("0")
    }
}

const INT_FIELDS: &[&str] = &[
    "REC->a",
    "REC->u",
    "REC->b",
    "REC->l",
    "REC->sh",
    "REC->uc",
    "REC->sc",
    "REC->g",
    "REC->us",
    "REC->tail",
    "REC->common_pid",
    "REC->common_flags",
];

const CONSTS: &[&str] = &[
    "0",
    "1",
    "2",
    "7",
    "8",
    "31",
    "32",
    "63",
    "64",
    "255",
    "256",
    "0x7f",
    "0x80",
    "0xff",
    "0xffff",
    "0x7fffffff",
    "0x80000000",
    "0xffffffff",
    "0x100000000",
    "0xffffffffffffffff",
    "0x8000000000000000",
    "1U",
    "1UL",
    "1ULL",
    "-1",
    "3L",
    "1000000000",
    "'A'",
];

const CASTS: &[&str] = &[
    "int",
    "unsigned int",
    "long",
    "unsigned long",
    "short",
    "unsigned short",
    "char",
    "unsigned char",
    "u8",
    "s8",
    "u16",
    "s16",
    "u32",
    "s32",
    "u64",
    "s64",
    "bool",
    "long long",
    "void *",
];

const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&&", "||", "<", "<=", ">", ">=", "==",
    "!=",
];

/// A random integer-valued C expression.
pub(crate) fn int_expr(r: &mut Rng, depth: usize) -> String {
    if depth == 0 || r.below(10) < 3 {
        return if r.below(2) == 0 {
            r.pick(INT_FIELDS).to_string()
        } else {
            r.pick(CONSTS).to_string()
        };
    }
    let d = depth - 1;
    match r.below(6) {
        0 => format!("{}({})", r.pick(&["-", "~", "!", "+"]), int_expr(r, d)),
        1 => format!(
            "({}) ? ({}) : ({})",
            int_expr(r, d),
            int_expr(r, d),
            int_expr(r, d)
        ),
        2 => format!("(({}) {})", r.pick(CASTS), int_expr(r, d)),
        _ => format!("({} {} {})", int_expr(r, d), r.pick(BINOPS), int_expr(r, d)),
    }
}

/// A random string-valued `%s` argument.
pub(crate) fn str_expr(r: &mut Rng, depth: usize) -> String {
    match r.below(if depth == 0 { 4 } else { 8 }) {
        0 => "REC->c".into(),
        1 => "__get_str(d)".into(),
        2 => format!("\"{}\"", r.pick(&["R", "", "+", "lit"])),
        3 => r.pick(&["REC->s8", "__get_str(e)", "REC->d"]).into(),
        4 | 5 => format!(
            "({}) ? {} : {}",
            int_expr(r, 2),
            str_expr(r, depth - 1),
            str_expr(r, depth - 1)
        ),
        6 => format!(
            "__print_flags({}, \"{}\", {{ 0x01, \"A\" }}, {{ 0x02, \"B\" }}, {{ 0x04, \"C\" }}, {{ 0x80, \"H\" }}, {{ 0x100, \"I\" }})",
            int_expr(r, 2),
            r.pick(&["|", "", ", "])
        ),
        _ => format!(
            "__print_symbolic({}, {{ 0, \"zero\" }}, {{ 1, \"one\" }}, {{ -1, \"neg\" }}, {{ 0xff, \"ff\" }})",
            int_expr(r, 2)
        ),
    }
}

const INT_CONVS: &[&str] = &[
    "%d", "%i", "%u", "%x", "%X", "%ld", "%lu", "%lx", "%lld", "%llu", "%llx", "%hd", "%hu",
    "%hhd", "%hhu", "%hhx", "%zu", "%zd", "%Lu", "%c", "%5d", "%-5u|", "%08x", "%#x", "%+d", "% d",
    "%.3d", "%#o", "%o", "%p",
];

/// A random print fmt text (as after `print fmt: `).
pub(crate) fn print_fmt(r: &mut Rng) -> String {
    let mut fmt = String::new();
    let mut args = Vec::new();
    let n = 1 + r.below(5);
    for i in 0..n {
        fmt.push_str(r.pick(&["", " ", "x=", " lit=", "long literal text here=", "\\t"]));
        if r.below(3) == 0 {
            fmt.push_str(r.pick(&["%s", "%s", "%10s", "%-6s", "%.2s"]));
            args.push(str_expr(r, 2));
        } else {
            fmt.push_str(r.pick(INT_CONVS));
            args.push(int_expr(r, 1 + i % 4));
        }
    }
    let mut out = format!("\"{fmt}\"");
    for a in args {
        out.push_str(", ");
        out.push_str(&a);
    }
    out
}

/// A random payload for [`FIELDS`] with valid or broken dynamic strings.
pub(crate) fn payload(r: &mut Rng) -> Vec<u8> {
    let mut p = vec![0u8; 96];
    for b in p.iter_mut() {
        *b = match r.below(4) {
            0 => 0,
            1 => 0xff,
            _ => r.next() as u8,
        };
    }
    p[0] = 1;
    p[1] = 0;
    // printable texts with a NUL somewhere
    for (start, len) in [(40usize, 16usize), (68, 8)] {
        let n = r.below(len + 1);
        let junk = r.below(3) == 0; // leftovers after the NUL
        for i in 0..len {
            p[start + i] = if i < n {
                b"abcdefghij/:-_ \xc3\xa9"[r.below(16)]
            } else if junk && i > n {
                r.next() as u8
            } else {
                0
            };
        }
    }
    let text = b"dyn string\0";
    let off = p.len();
    p.extend_from_slice(text);
    if r.below(8) != 0 {
        let v = off as u32 | ((text.len() as u32) << 16);
        p[36..40].copy_from_slice(&v.to_le_bytes());
    }
    let off2 = p.len();
    p.extend_from_slice(b"rel\0");
    if r.below(8) != 0 {
        let v = (off2 - 68) as u32 | (4u32 << 16);
        p[64..68].copy_from_slice(&v.to_le_bytes());
    }
    if r.below(10) == 0 {
        let cut = r.below(p.len());
        p.truncate(cut.max(8));
    }
    p
}

fn event(fmt: &str) -> Option<EventFormat> {
    let text = format!("name: t\nID: 1\nformat:\n{FIELDS}\nprint fmt: {fmt}\n");
    EventFormat::parse("test", &text, LongSize::Eight).ok()
}

/// The plan with every conversion sent to the general evaluator.
fn general_plan(fmt: &PrintFmt) -> Vec<Step> {
    let mut ops = Vec::new();
    let mut ai = 0usize;
    for (pi, p) in fmt.pieces.iter().enumerate() {
        match p {
            Piece::Lit(s) => ops.push(Step {
                pre: plan::Lit::new(s),
                op: Op::End,
            }),
            Piece::Conv(c) => {
                ops.push(Step {
                    pre: plan::Lit::new(""),
                    op: Op::Conv(Slot { piece: pi, arg: ai }),
                });
                ai += usize::from(c.width == super::Count::Star)
                    + usize::from(c.precision == super::Count::Star)
                    + 1;
            }
        }
    }
    ops
}

#[test]
fn plan_matches_general_evaluator() {
    let kallsyms = Kallsyms::new();
    let printk = PrintkFormats::new();
    let env = Env {
        endian: Endian::Little,
        long_size: LongSize::Eight,
        kallsyms: &kallsyms,
        printk: &printk,
    };
    let mut r = Rng(0x1234_5678_9abc_def1);
    let mut compiled = 0usize;
    let mut ok = 0usize;
    for _ in 0..4000 {
        let text = print_fmt(&mut r);
        let Some(ev) = event(&text) else { continue };
        let Ok(fmt) = &ev.print_fmt else { continue };
        compiled += usize::from(
            fmt.plan
                .iter()
                .any(|s| !matches!(s.op, Op::End | Op::Conv(_))),
        );
        let mut general = fmt.clone();
        general.plan = general_plan(fmt);
        let mut ev_a = Evaluator::default();
        let mut ev_b = Evaluator::default();
        for _ in 0..8 {
            let p = payload(&mut r);
            let (mut a, mut b) = (String::new(), String::new());
            let ra = ev_a.write(fmt, &ev, &p, &env, &mut a);
            let rb = ev_b.write(&general, &ev, &p, &env, &mut b);
            assert_eq!(ra.is_ok(), rb.is_ok(), "{text}\n{p:?}\n{ra:?} {rb:?}");
            if let (Err(x), Err(y)) = (&ra, &rb) {
                assert_eq!(x, y, "{text}");
            }
            assert_eq!(a, b, "{text}\n{p:?}");
            ok += usize::from(ra.is_ok());
        }
    }
    eprintln!("{compiled} compiled formats, {ok} successful renderings");
    assert!(compiled > 1000, "only {compiled} formats compiled");
    assert!(ok > 5000, "only {ok} renderings succeeded");
}

/// The evaluator's original 128-bit arithmetic (C's usual conversions).
fn reference(op: BinOp, a: (i128, u8, bool), b: (i128, u8, bool)) -> Option<(u64, u8, bool)> {
    fn promote(size: u8, signed: bool) -> (u8, bool) {
        if size < 4 {
            (4, true)
        } else {
            (size, signed)
        }
    }
    fn conv_to(n: i128, size: u8, signed: bool) -> i128 {
        let bits = truncate(n as u64, size as usize);
        if signed {
            i128::from(sign_extend(bits, size as usize))
        } else {
            i128::from(bits)
        }
    }
    let int =
        |v: i128, size: u8, signed: bool| Some((truncate(v as u64, size as usize), size, signed));
    let (x, xs, xsg) = a;
    let (y, ys, ysg) = b;
    if matches!(op, BinOp::Shl | BinOp::Shr) {
        let (ps, psg) = promote(xs, xsg);
        let x = conv_to(x, ps, psg);
        let sh = u32::try_from(y).unwrap_or(u32::MAX);
        let bits = u32::from(ps) * 8;
        let r = if sh >= bits {
            if op == BinOp::Shr && x < 0 {
                -1
            } else {
                0
            }
        } else if op == BinOp::Shl {
            x << sh
        } else {
            x >> sh
        };
        return int(r, ps, psg);
    }
    let pa = promote(xs, xsg);
    let pb = promote(ys, ysg);
    let (cs, csg) = if pa.1 == pb.1 {
        (pa.0.max(pb.0), pa.1)
    } else {
        let (u, s) = if pa.1 { (pb, pa) } else { (pa, pb) };
        if u.0 >= s.0 {
            (u.0, false)
        } else {
            (s.0, true)
        }
    };
    let x = conv_to(x, cs, csg);
    let y = conv_to(y, cs, csg);
    let cmp = |b: bool| Some((u64::from(b), 4, true));
    match op {
        BinOp::Mul => int(x.wrapping_mul(y), cs, csg),
        BinOp::Div if y == 0 => None,
        BinOp::Div => int(x.wrapping_div(y), cs, csg),
        BinOp::Rem if y == 0 => None,
        BinOp::Rem => int(x.wrapping_rem(y), cs, csg),
        BinOp::Add => int(x.wrapping_add(y), cs, csg),
        BinOp::Sub => int(x.wrapping_sub(y), cs, csg),
        BinOp::Lt => cmp(x < y),
        BinOp::Le => cmp(x <= y),
        BinOp::Gt => cmp(x > y),
        BinOp::Ge => cmp(x >= y),
        BinOp::Eq => cmp(x == y),
        BinOp::Ne => cmp(x != y),
        BinOp::BitAnd => int(x & y, cs, csg),
        BinOp::BitXor => int(x ^ y, cs, csg),
        BinOp::BitOr => int(x | y, cs, csg),
        BinOp::And => cmp(x != 0 && y != 0),
        BinOp::Or => cmp(x != 0 || y != 0),
        BinOp::Shl | BinOp::Shr => None,
    }
}

#[test]
fn arithmetic_matches_128_bit_reference() {
    const OPS: [BinOp; 18] = [
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Shl,
        BinOp::Shr,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::BitAnd,
        BinOp::BitXor,
        BinOp::BitOr,
        BinOp::And,
        BinOp::Or,
    ];
    const EDGES: [u64; 12] = [
        0,
        1,
        2,
        31,
        32,
        63,
        64,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x8000_0000_0000_0000,
        u64::MAX,
    ];
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let operand = |r: &mut Rng| {
        let size = [1u8, 2, 4, 8][r.below(4)];
        let signed = r.below(2) == 0;
        let raw = if r.below(2) == 0 {
            EDGES[r.below(EDGES.len())]
                .wrapping_add(r.below(3) as u64)
                .wrapping_sub(1)
        } else {
            r.next()
        };
        let bits = truncate(raw, size as usize);
        let num = if signed {
            sign_extend(bits, size as usize) as u64
        } else {
            bits
        };
        let wide = if signed {
            i128::from(num as i64)
        } else {
            i128::from(num)
        };
        ((num, size, signed), (wide, size, signed))
    };
    for _ in 0..200_000 {
        let (a, aw) = operand(&mut r);
        let (b, bw) = operand(&mut r);
        let op = OPS[r.below(OPS.len())];
        assert_eq!(
            super::eval::arith_for_tests(op, a, b),
            reference(op, aw, bw),
            "{op:?} {a:?} {b:?}"
        );
    }
}
