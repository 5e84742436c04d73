//! `print fmt` support: the format string is split once into literal pieces and
//! printf conversions, the arguments into C expression trees ([`PrintFmt`]),
//! which are then evaluated against each record with C semantics.

mod eval;
mod output;
mod parse;
mod plan;
#[cfg(test)]
mod tests;

pub(crate) use eval::{EvalError, Evaluator};

/// Evaluation environment re-export for renderers.
pub(crate) mod eval_env {
    pub(crate) use super::eval::Env;
}
pub use output::{bitmap_list, bitmap_string};
pub(crate) use output::{
    dec_len, pair, push_6, push_hex_bytes, push_u64, push_utf8, write_int, write_padded, IntArg,
};
pub(crate) use parse::parse_format_string;

use crate::error::Result;
use crate::format::EventFormat;

/// printf flags of a conversion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub left: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub zero: bool,
}

/// Width or precision of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    None,
    Fixed(usize),
    Star,
}

/// Length modifier of an integer conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    Char,
    Short,
    Int,
    Long,
    LongLong,
    Size,
}

/// One printf conversion (`%-08lx`, `%pI6c`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conv {
    pub flags: Flags,
    pub width: Count,
    pub precision: Count,
    pub length: Length,
    /// Conversion character: d i u x X o c s p.
    pub conv: u8,
    /// `%p` extension letters (`S`, `I6c`, `ISpc`, `U`, `h`, `bl`...).
    pub pext: Box<str>,
}

/// A piece of the format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(Box<str>),
    Conv(Conv),
}

/// C binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

/// C unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Not,
    BitNot,
    Plus,
}

/// A C scalar type from a cast or `sizeof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CType {
    pub size: u8,
    pub signed: bool,
    pub pointer: bool,
    /// `char *` (a string pointer).
    pub char_ptr: bool,
}

/// An entry of `__print_flags`/`__print_symbolic`: value (None if it names an
/// identifier the kernel did not resolve) and name.
pub(crate) type SymEntry = (Option<u64>, Box<str>);

/// Print-fmt helper calls.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Helper {
    GetStr(usize),
    GetDynArray(usize),
    GetDynArrayLen(usize),
    GetBitmask(usize),
    GetSockaddr(usize),
    PrintFlags {
        val: Box<Expr>,
        delim: Box<str>,
        entries: Vec<SymEntry>,
    },
    PrintSymbolic {
        val: Box<Expr>,
        entries: Vec<SymEntry>,
    },
    PrintHex {
        buf: Box<Expr>,
        len: Box<Expr>,
        compact: bool,
    },
    PrintArray {
        arr: Box<Expr>,
        count: Box<Expr>,
        el_size: Box<Expr>,
    },
    PrintHexDump {
        prefix: Box<Expr>,
        prefix_type: Box<Expr>,
        rowsize: Box<Expr>,
        groupsize: Box<Expr>,
        buf: Box<Expr>,
        len: Box<Expr>,
        ascii: Box<Expr>,
    },
    NsToSecs(Box<Expr>),
    NsWithoutSecs(Box<Expr>),
}

/// A C expression of a print fmt argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Int {
        v: u64,
        size: u8,
        signed: bool,
    },
    Str(Box<str>),
    /// `REC->field` (index into `EventFormat::fields`).
    Field(usize),
    /// `REC->common_*` (index into `EventFormat::common_fields`).
    CommonField(usize),
    AddrOf(Box<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(CType, Box<Expr>),
    Helper(Helper),
    /// Something user space cannot evaluate (unknown function, identifier,
    /// `({...})` block, member access); evaluation fails with its name.
    Unknown(Box<str>),
}

/// A parsed print fmt: format pieces plus argument expression trees.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintFmt {
    pub(crate) pieces: Vec<Piece>,
    pub(crate) args: Vec<Expr>,
    /// The pieces compiled to a flat operation list for the event's layout.
    pub(crate) plan: Vec<plan::Step>,
}

impl PrintFmt {
    /// Parses the text after `print fmt: ` for the event `ev` (used to resolve
    /// `REC->field` references and `sizeof(long)`).
    pub fn parse(text: &str, ev: &EventFormat) -> Result<PrintFmt> {
        parse::parse(text, ev)
    }

    /// Indices (into `EventFormat::fields`) of fields passed directly, possibly
    /// through a cast, to a `%pS`/`%ps`/`%pB` conversion.
    pub fn symbol_fields(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut arg = 0usize;
        for p in &self.pieces {
            let Piece::Conv(c) = p else { continue };
            arg += usize::from(c.width == Count::Star) + usize::from(c.precision == Count::Star);
            let is_sym = c.conv == b'p'
                && matches!(
                    c.pext.as_bytes().first(),
                    Some(b'S' | b's' | b'B' | b'F' | b'f')
                );
            if is_sym {
                let mut e = self.args.get(arg);
                while let Some(Expr::Cast(_, inner)) = e {
                    e = Some(&**inner);
                }
                if let Some(Expr::Field(i)) = e {
                    out.push(*i);
                }
            }
            arg += 1;
        }
        out
    }

    /// Number of argument expressions.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    /// The literal format string (pieces joined back, conversions as `%?`).
    pub fn has_unknown(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match e {
                Expr::Unknown(_) => true,
                Expr::AddrOf(a) | Expr::Unary(_, a) | Expr::Cast(_, a) => walk(a),
                Expr::Index(a, b) | Expr::Binary(_, a, b) => walk(a) || walk(b),
                Expr::Ternary(a, b, c) => walk(a) || walk(b) || walk(c),
                Expr::Helper(h) => match h {
                    Helper::PrintFlags { val, entries, .. }
                    | Helper::PrintSymbolic { val, entries } => {
                        walk(val) || entries.iter().any(|e| e.0.is_none())
                    }
                    Helper::PrintHex { buf, len, .. } => walk(buf) || walk(len),
                    Helper::PrintArray {
                        arr,
                        count,
                        el_size,
                    } => walk(arr) || walk(count) || walk(el_size),
                    Helper::NsToSecs(a) | Helper::NsWithoutSecs(a) => walk(a),
                    _ => false,
                },
                _ => false,
            }
        }
        self.args.iter().any(walk)
    }
}
