//! A print-fmt engine with libtraceevent 1.7.1 semantics (not the kernel's):
//! the argument expressions are parsed into `tep_print_arg`-like trees
//! ([`Arg`]), the format string into `tep_print_parse` items ([`Item`]), and
//! evaluated the way `pretty_print`/`print_str_arg`/`eval_num_arg` do,
//! including their quirks (casts only truncate, `%c` prints `>c<`, character
//! literals evaluate to 0, zero-sized char arrays read up to the next NUL).
//! Output is bytes: records may carry non-UTF-8 data that trace-cmd prints raw.

use super::cprintf::Spec;
use super::funcs::LazyFuncs;
use std::collections::HashMap;
use std::io::Write as _;
use traceevent::{Endian, EventFormat, Field, FieldKind};

/// libtraceevent `TEP_FIELD_IS_*` flags.
pub mod fl {
    /// Array (`[` in the declaration).
    pub const ARRAY: u32 = 1;
    /// Pointer (`*` in the type).
    pub const POINTER: u32 = 2;
    /// `signed:1`.
    pub const SIGNED: u32 = 4;
    /// Char/u8/s8 array.
    pub const STRING: u32 = 8;
    /// `__data_loc`.
    pub const DYNAMIC: u32 = 16;
    /// Type contains `long`.
    pub const LONG: u32 = 32;
    /// `__rel_loc`.
    pub const RELATIVE: u32 = 64;
}

/// A field as libtraceevent sees it.
#[derive(Debug, Clone)]
pub struct TField {
    /// Name.
    pub name: String,
    /// Offset in the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// `fl::*` flags.
    pub flags: u32,
    /// Element size for arrays.
    pub elementsize: usize,
}

impl TField {
    fn from_field(f: &Field, long: usize) -> TField {
        let decl = f.decl.as_str();
        let ty = decl.strip_suffix(f.name.as_str()).unwrap_or(decl);
        let mut flags = 0;
        if decl.contains('[') {
            flags |= fl::ARRAY;
        }
        if ty.contains('*') {
            flags |= fl::POINTER;
        }
        if f.signed {
            flags |= fl::SIGNED;
        }
        if flags & fl::ARRAY != 0
            && (decl.contains("char") || decl.contains("u8") || decl.contains("s8"))
        {
            flags |= fl::STRING;
        }
        if decl.starts_with("__data_loc") {
            flags |= fl::DYNAMIC;
        }
        if decl.starts_with("__rel_loc") {
            flags |= fl::DYNAMIC | fl::RELATIVE;
        }
        if decl.contains("long") {
            flags |= fl::LONG;
        }
        if flags & fl::DYNAMIC != 0 && f.size == 2 {
            flags |= fl::STRING | fl::ARRAY;
        }
        let arraylen = decl
            .rfind('[')
            .and_then(|i| {
                let inner = &decl[i + 1..];
                let inner = &inner[..inner.find(']').unwrap_or(inner.len())];
                let last = inner
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .rfind(|s| !s.is_empty())?;
                parse_c_ulong(last)
            })
            .unwrap_or(0) as usize;
        let elementsize = if flags & (fl::ARRAY | fl::DYNAMIC) != 0 {
            if let Some(es) = f.size.checked_div(arraylen) {
                es
            } else if flags & fl::DYNAMIC != 0 {
                match matches!(f.kind, FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. }) {
                    true => type_size(f.type_name.trim()),
                    false => 0,
                }
            } else if flags & fl::STRING != 0 {
                1
            } else if flags & fl::LONG != 0 {
                long
            } else {
                0
            }
        } else {
            f.size
        };
        TField {
            name: f.name.clone(),
            offset: f.offset,
            size: f.size,
            flags,
            elementsize,
        }
    }
}

fn type_size(t: &str) -> usize {
    match t {
        "u8" | "s8" | "char" => 1,
        "u16" | "s16" => 2,
        "u32" | "s32" => 4,
        "u64" | "s64" => 8,
        _ => 0,
    }
}

/// A `__print_flags`/`__print_symbolic` entry: value text and name.
#[derive(Debug, Clone)]
pub struct FlagSym {
    value: String,
    name: String,
}

/// A print-fmt argument (libtraceevent `tep_print_arg`).
#[derive(Debug, Clone)]
pub enum Arg {
    /// Nothing.
    Null,
    /// A literal or identifier.
    Atom(String),
    /// `REC->name` (index into the event's field table; `None` if unknown).
    Field(Option<usize>, String),
    /// `__print_flags`.
    Flags(Box<Arg>, String, Vec<FlagSym>),
    /// `__print_symbolic`.
    Symbol(Box<Arg>, Vec<FlagSym>),
    /// `__print_hex` (false) / `__print_hex_str` (true).
    Hex(Box<Arg>, Box<Arg>, bool),
    /// `__print_array(arr, count, el_size)`.
    IntArray(Box<Arg>, Box<Arg>, Box<Arg>),
    /// A cast.
    Type(String, Box<Arg>),
    /// `__get_str(field)`.
    Str(Option<usize>),
    /// A string from a bprint format.
    BStr(String),
    /// `__get_bitmask`.
    Bitmask(Option<usize>),
    /// `__get_cpumask`.
    Cpumask(Option<usize>),
    /// `__get_dynamic_array`.
    DynArray(Option<usize>),
    /// `__get_dynamic_array_len`.
    DynArrayLen(Option<usize>),
    /// An operator (unary ops have a `Null` left side; `?` has a `:` op on the right).
    Op(String, Box<Arg>, Box<Arg>),
}

/// Kind of a parsed format item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Str,
    Digit,
    Pointer,
    String,
}

/// One `tep_print_parse` item.
#[derive(Debug, Clone)]
struct Item {
    kind: ItemKind,
    text: Vec<u8>,
    spec: Spec,
    arg: Option<usize>,
    len_arg: Option<usize>,
}

/// A compiled event: fields and print fmt.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Fields: common fields first, then the event's own.
    pub fields: Vec<TField>,
    /// Index of the first event field in `fields`.
    pub first_event_field: usize,
    args: Vec<Arg>,
    items: Vec<Item>,
    /// The print fmt could not be parsed (libtraceevent `TEP_EVENT_FL_FAILED`).
    pub failed: bool,
}

/// Evaluation environment.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// Byte order.
    pub endian: Endian,
    /// Kernel long size.
    pub long: usize,
    /// Functions.
    pub funcs: &'a LazyFuncs,
    /// printk formats (address → string).
    pub printk: &'a HashMap<u64, String>,
}

// ---------------------------------------------------------------- tokenizer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Item(String),
    Str(String),
    Char(String),
    Op(String),
    Delim(char),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            let mut j = i + 1;
            let mut v = Vec::new();
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' && j + 1 < b.len() {
                    v.push(b[j]);
                    v.push(b[j + 1]);
                    j += 2;
                    continue;
                }
                v.push(b[j]);
                j += 1;
            }
            let text = String::from_utf8_lossy(&v).into_owned();
            if c == b'"' {
                if let Some(Tok::Str(prev)) = out.last_mut() {
                    prev.push_str(&text);
                } else {
                    out.push(Tok::Str(text));
                }
            } else {
                out.push(Tok::Char(text));
            }
            i = j + 1;
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            out.push(Tok::Item(s[i..j].to_string()));
            i = j;
            continue;
        }
        if matches!(c, b'(' | b')' | b',' | b'{' | b'}' | b'[' | b']' | b';') {
            out.push(Tok::Delim(c as char));
            i += 1;
            continue;
        }
        let two = s.get(i..i + 2).unwrap_or("");
        let op = match two {
            "->" | "<<" | ">>" | "<=" | ">=" | "==" | "!=" | "&&" | "||" | "++" | "--" => {
                two.to_string()
            }
            _ => (c as char).to_string(),
        };
        i += op.len();
        out.push(Tok::Op(op));
    }
    out
}

// ---------------------------------------------------------------- parser

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    fields: &'a [TField],
    long: usize,
    depth: usize,
}

type PResult<T> = std::result::Result<T, String>;

fn op_prio(op: &str) -> i32 {
    match op {
        "~" | "!" => 4,
        "*" | "/" | "%" => 6,
        "+" | "-" => 7,
        "<<" | ">>" => 8,
        "<" | ">" | "<=" | ">=" => 9,
        "==" | "!=" => 10,
        "&" => 11,
        "^" => 12,
        "|" => 13,
        "&&" => 14,
        "||" => 15,
        "?" => 16,
        "++" | "--" => 3,
        _ => -1,
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect_delim(&mut self, c: char) -> PResult<()> {
        match self.next() {
            Some(Tok::Delim(d)) if d == c => Ok(()),
            t => Err(format!("expected '{c}', found {t:?}")),
        }
    }
    fn field_idx(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// An argument: `process_arg` followed by `process_op` when an operator follows.
    fn expr(&mut self) -> PResult<Arg> {
        let mut a = Arg::Null;
        self.process_arg(&mut a)?;
        if let Some(op) = self.peek_op() {
            if op != ":" {
                self.pos += 1;
                self.process_op(&mut a, op)?;
            }
        }
        Ok(a)
    }

    fn peek_op(&self) -> Option<String> {
        match self.peek() {
            Some(Tok::Op(o)) => Some(o.clone()),
            Some(Tok::Delim('[')) => Some("[".into()),
            Some(Tok::Delim('{')) => Some("{".into()),
            Some(Tok::Delim('}')) => Some("}".into()),
            Some(Tok::Delim(']')) => Some("]".into()),
            _ => None,
        }
    }

    fn process_arg(&mut self, arg: &mut Arg) -> PResult<()> {
        let t = self.next().ok_or("unexpected end")?;
        self.process_arg_token(arg, t)
    }

    fn process_arg_token(&mut self, arg: &mut Arg, t: Tok) -> PResult<()> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression too deep".into());
        }
        let r = self.process_arg_token_inner(arg, t);
        self.depth -= 1;
        r
    }

    fn process_arg_token_inner(&mut self, arg: &mut Arg, t: Tok) -> PResult<()> {
        match t {
            Tok::Item(w) if w == "REC" => {
                self.pos -= 1;
                let idx = self.field_arg()?;
                let name = match self.toks.get(self.pos - 1) {
                    Some(Tok::Item(n)) => n.clone(),
                    _ => String::new(),
                };
                *arg = Arg::Field(idx, name);
            }
            Tok::Item(w) if matches!(self.peek(), Some(Tok::Delim('('))) => {
                *arg = self.function(&w)?;
            }
            Tok::Item(w) => {
                let mut a = w;
                while let Some(Tok::Item(n)) = self.peek() {
                    a.push(' ');
                    a.push_str(n);
                    self.pos += 1;
                }
                *arg = Arg::Atom(a);
            }
            Tok::Str(s) => *arg = Arg::Atom(unescape_c(&s)),
            Tok::Char(s) => *arg = Arg::Atom(s),
            Tok::Delim('(')
                if matches!(
                    (self.peek(), self.toks.get(self.pos + 1), self.toks.get(self.pos + 2)),
                    (Some(Tok::Item(r)), Some(Tok::Delim(')')), Some(Tok::Op(o))) if r == "REC" && o == "->"
                ) =>
            {
                self.pos += 2;
                match self.next() {
                    Some(Tok::Op(o)) if o == "->" => {}
                    t => return Err(format!("expected '->', found {t:?}")),
                }
                let name = match self.next() {
                    Some(Tok::Item(n)) => n,
                    t => return Err(format!("expected field name, found {t:?}")),
                };
                *arg = Arg::Field(self.field_idx(&name), name);
            }
            Tok::Delim('(') => {
                let mut inner = Arg::Null;
                self.process_arg(&mut inner)?;
                if let Some(op) = self.peek_op() {
                    self.pos += 1;
                    self.process_op(&mut inner, op)?;
                }
                self.expect_delim(')')?;
                let cast = matches!(
                    self.peek(),
                    Some(Tok::Item(_) | Tok::Str(_) | Tok::Char(_) | Tok::Delim('('))
                );
                if cast {
                    let Arg::Atom(ty) = inner else {
                        return Err("previous needed to be an atom".into());
                    };
                    let mut item = Arg::Null;
                    self.process_arg(&mut item)?;
                    *arg = Arg::Type(ty, Box::new(item));
                } else {
                    *arg = inner;
                }
            }
            Tok::Op(o) => {
                if !matches!(o.as_str(), "~" | "!" | "+" | "-") {
                    return Err(format!("bad op token {o}"));
                }
                let mut right = Arg::Null;
                self.process_arg(&mut right)?;
                *arg = Arg::Op(o, Box::new(Arg::Null), Box::new(right));
                self.tail(arg, None)?;
            }
            t => return Err(format!("unexpected token {t:?}")),
        }
        Ok(())
    }

    /// The priority libtraceevent stores in an op node (`arg->op.prio`).
    fn node_prio(a: &Arg) -> i32 {
        match a {
            Arg::Op(op, l, _) => {
                if op == "?" || op == "[" || matches!(**l, Arg::Null) {
                    0
                } else {
                    op_prio(op)
                }
            }
            _ => 0,
        }
    }

    /// `process_op`: `arg` is the left side, `op` was just consumed.
    fn process_op(&mut self, arg: &mut Arg, op: String) -> PResult<()> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression too deep".into());
        }
        let r = self.process_op_inner(arg, op);
        self.depth -= 1;
        r
    }

    fn process_op_inner(&mut self, arg: &mut Arg, op: String) -> PResult<()> {
        if op == "?" {
            let left = std::mem::replace(arg, Arg::Null);
            let mut a = Arg::Null;
            self.process_arg(&mut a)?;
            for _ in 0..1000 {
                match self.peek_op() {
                    Some(o) if o != ":" => {
                        self.pos += 1;
                        self.process_op(&mut a, o)?;
                    }
                    _ => break,
                }
            }
            match self.next() {
                Some(Tok::Op(o)) if o == ":" => {}
                t => return Err(format!("expected ':', found {t:?}")),
            }
            let mut b = Arg::Null;
            self.process_arg(&mut b)?;
            *arg = Arg::Op(
                "?".into(),
                Box::new(left),
                Box::new(Arg::Op(":".into(), Box::new(a), Box::new(b))),
            );
            return self.tail(arg, None);
        }
        if op == "[" {
            let left = std::mem::replace(arg, Arg::Null);
            let mut idx = Arg::Null;
            self.process_arg(&mut idx)?;
            self.expect_delim(']')?;
            *arg = Arg::Op("[".into(), Box::new(left), Box::new(idx));
            return self.tail(arg, None);
        }
        if op_prio(&op) < 0 || op == ":" {
            return Err(format!("unknown op '{op}'"));
        }
        let left = std::mem::replace(arg, Arg::Null);
        let next = self.next().ok_or("unexpected end")?;
        if op == "*" && next == Tok::Delim(')') {
            let Arg::Atom(mut a) = left else {
                return Err("bad pointer type".into());
            };
            a.push_str(" *");
            *arg = Arg::Atom(a);
            self.pos -= 1;
            return Ok(());
        }
        let mut right = Arg::Null;
        self.process_arg_token(&mut right, next)?;
        let rotate = matches!(&right, Arg::Op(rop, _, _) if op_prio(&op) < op_prio(rop));
        if rotate {
            let Arg::Op(rop, rl, rr) = right else {
                return Err("internal".into());
            };
            *arg = Arg::Op(rop, Box::new(Arg::Op(op, Box::new(left), rl)), rr);
            self.tail(arg, Some(true))
        } else {
            *arg = Arg::Op(op, Box::new(left), Box::new(right));
            self.tail(arg, Some(false))
        }
    }

    /// The end of `process_op`: a following operator either takes the whole
    /// `arg` as its left side (looser) or the `right` operand (tighter or equal).
    /// `right_is`: None = no right operand; Some(false) = arg.right; Some(true) = arg.left.
    fn tail(&mut self, arg: &mut Arg, right_is: Option<bool>) -> PResult<()> {
        let Some(next) = self.peek_op() else {
            return Ok(());
        };
        if next == ":" || next == "]" || next == "}" || next == "{" {
            return Ok(());
        }
        self.pos += 1;
        let prio = op_prio(&next);
        if prio > Self::node_prio(arg) || right_is.is_none() {
            return self.process_op(arg, next);
        }
        match arg {
            Arg::Op(_, l, r) => {
                let target = if right_is == Some(true) { l } else { r };
                self.process_op(target, next)
            }
            _ => self.process_op(arg, next),
        }
    }

    fn field_arg(&mut self) -> PResult<Option<usize>> {
        // REC->name or a bare name inside __get_* helpers
        match self.next() {
            Some(Tok::Item(w)) if w == "REC" => {
                match self.next() {
                    Some(Tok::Op(o)) if o == "->" => {}
                    t => return Err(format!("expected '->', found {t:?}")),
                }
                match self.next() {
                    Some(Tok::Item(n)) => Ok(self.field_idx(&n)),
                    t => Err(format!("expected field name, found {t:?}")),
                }
            }
            Some(Tok::Item(n)) => Ok(self.field_idx(&n)),
            t => Err(format!("expected field, found {t:?}")),
        }
    }

    fn flag_list(&mut self) -> PResult<Vec<FlagSym>> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match self.peek() {
                Some(Tok::Delim(',')) => {
                    self.pos += 1;
                }
                Some(Tok::Delim(')')) => break,
                Some(Tok::Delim('{')) => {
                    self.pos += 1;
                    let v = self.expr()?;
                    self.expect_delim(',')?;
                    let mut n = Arg::Null;
                    self.process_arg(&mut n)?;
                    let name = arg_eval(&n).ok_or("bad flag name")?;
                    self.expect_delim('}')?;
                    let value = arg_eval(&v).ok_or("bad flag value")?;
                    out.push(FlagSym { value, name });
                }
                t => return Err(format!("unexpected {t:?} in flag list")),
            }
        }
        Ok(out)
    }

    fn function(&mut self, name: &str) -> PResult<Arg> {
        self.expect_delim('(')?;
        let r = match name {
            "__print_flags" | "__print_flags_u64" => {
                let v = self.expr()?;
                self.expect_delim(',')?;
                let delim = match self.next() {
                    Some(Tok::Str(s)) => unescape_c(&s),
                    t => return Err(format!("expected delimiter string, found {t:?}")),
                };
                let list = self.flag_list()?;
                Arg::Flags(Box::new(v), delim, list)
            }
            "__print_symbolic" | "__print_symbolic_u64" => {
                let v = self.expr()?;
                let list = self.flag_list()?;
                Arg::Symbol(Box::new(v), list)
            }
            "__print_hex" | "__print_hex_str" => {
                let a = self.expr()?;
                self.expect_delim(',')?;
                let b = self.expr()?;
                Arg::Hex(Box::new(a), Box::new(b), name == "__print_hex_str")
            }
            "__print_array" => {
                let a = self.expr()?;
                self.expect_delim(',')?;
                let b = self.expr()?;
                self.expect_delim(',')?;
                let c = self.expr()?;
                Arg::IntArray(Box::new(a), Box::new(b), Box::new(c))
            }
            "__get_str" | "__get_rel_str" => Arg::Str(self.field_arg()?),
            "__get_bitmask" | "__get_rel_bitmask" => Arg::Bitmask(self.field_arg()?),
            "__get_cpumask" | "__get_rel_cpumask" => Arg::Cpumask(self.field_arg()?),
            "__get_dynamic_array"
            | "__get_rel_dynamic_array"
            | "__get_sockaddr"
            | "__get_sockaddr_rel" => Arg::DynArray(self.field_arg()?),
            "__get_dynamic_array_len" | "__get_rel_dynamic_array_len" => {
                Arg::DynArrayLen(self.field_arg()?)
            }
            "__builtin_expect" => {
                let a = self.expr()?;
                self.expect_delim(',')?;
                let _ = self.expr()?;
                a
            }
            "sizeof" => {
                let mut words = Vec::new();
                let mut depth = 0;
                for _ in 0..64 {
                    match self.peek() {
                        Some(Tok::Delim(')')) if depth == 0 => break,
                        Some(Tok::Delim('(')) => depth += 1,
                        Some(Tok::Delim(')')) => depth -= 1,
                        _ => {}
                    }
                    if let Some(t) = self.next() {
                        words.push(t);
                    }
                }
                let size = sizeof_words(&words, self.fields, self.long);
                Arg::Atom(size.to_string())
            }
            other => return Err(format!("function {other} not defined")),
        };
        self.expect_delim(')')?;
        Ok(r)
    }
}

fn sizeof_words(words: &[Tok], fields: &[TField], long: usize) -> usize {
    if let [Tok::Item(r), Tok::Op(o), Tok::Item(n)] = words {
        if r == "REC" && o == "->" {
            return fields
                .iter()
                .find(|f| &f.name == n)
                .map(|f| f.size)
                .unwrap_or(0);
        }
    }
    let text: Vec<String> = words
        .iter()
        .map(|t| match t {
            Tok::Item(s) | Tok::Op(s) => s.clone(),
            _ => String::new(),
        })
        .collect();
    let t = text.join(" ");
    if t.contains('*') {
        return long;
    }
    let t = t
        .trim_start_matches("unsigned ")
        .trim_start_matches("signed ");
    match t {
        "char" | "u8" | "s8" | "bool" => 1,
        "short" | "u16" | "s16" => 2,
        "int" | "u32" | "s32" => 4,
        "long" => long,
        "long long" | "u64" | "s64" => 8,
        _ => long,
    }
}

fn unescape_c(s: &str) -> String {
    // Flag names and literal atoms keep escapes resolved like parse_arg_string.
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_c_ulong(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
        return u64::from_str_radix(&h[..end], 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        let end = s
            .find(|c: char| !('0'..='7').contains(&c))
            .unwrap_or(s.len());
        return u64::from_str_radix(&s[1..end.max(1)], 8).ok().or(Some(0));
    }
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// `strtoull(s, NULL, 0)`.
fn strtoull(s: &str) -> u64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = parse_c_ulong(t).unwrap_or(0);
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// libtraceevent `arg_eval`: the text of a flag value or name.
fn arg_eval(a: &Arg) -> Option<String> {
    match a {
        Arg::Atom(s) => Some(s.clone()),
        Arg::Type(_, inner) => arg_eval(inner),
        Arg::Op(..) => arg_num_eval(a).map(|v| v.to_string()),
        _ => None,
    }
}

/// libtraceevent `arg_num_eval` (parse-time constant folding).
fn arg_num_eval(a: &Arg) -> Option<i64> {
    Some(match a {
        Arg::Atom(s) => strtoull(s) as i64,
        Arg::Type(t, inner) => eval_type_str(arg_num_eval(inner)? as u64, t, false) as i64,
        Arg::Op(op, l, r) => {
            let left = || arg_num_eval(l);
            let right = || arg_num_eval(r);
            match op.as_str() {
                "|" => left()? | right()?,
                "||" => i64::from(left()? != 0 || right()? != 0),
                "&" => left()? & right()?,
                "&&" => i64::from(left()? != 0 && right()? != 0),
                "<" => i64::from(left()? < right()?),
                "<<" => left()?.wrapping_shl(right()? as u32),
                "<=" => i64::from(left()? <= right()?),
                ">" => i64::from(left()? > right()?),
                ">>" => left()?.wrapping_shr(right()? as u32),
                ">=" => i64::from(left()? >= right()?),
                "==" => i64::from(left()? == right()?),
                "!=" => i64::from(left()? != right()?),
                "-" if matches!(**l, Arg::Null) => right()?.wrapping_neg(),
                "-" => left()?.wrapping_sub(right()?),
                "+" => left()?.wrapping_add(right()?),
                "~" => !right()?,
                "!" => i64::from(right()? == 0),
                "*" => left()?.wrapping_mul(right()?),
                "/" => left()?.checked_div(right()?)?,
                "%" => left()?.checked_rem(right()?)?,
                "^" => left()? ^ right()?,
                _ => return None,
            }
        }
        Arg::Null => 0,
        _ => return None,
    })
}

fn eval_type_str(val: u64, ty: &str, pointer: bool) -> u64 {
    // fast path for the casts syscall formats use on every argument
    if !pointer
        && matches!(
            ty,
            "unsigned long" | "long" | "u64" | "s64" | "unsigned long long"
        )
    {
        return val;
    }
    let ty = ty.trim();
    if ty.len() < 2 {
        return val;
    }
    if pointer {
        if !ty.ends_with('*') {
            return val;
        }
        let r = ty.get(..ty.len() - 2).unwrap_or("");
        return eval_type_str(val, r, false);
    }
    if ty.ends_with('*') || ty.starts_with("struct") {
        return val;
    }
    match ty {
        "u8" => return val & 0xff,
        "u16" => return val & 0xffff,
        "u32" => return val & 0xffff_ffff,
        "u64" | "s64" => return val,
        "s8" => return val & 0xff,
        "s16" => return val & 0xffff,
        "s32" => return val & 0xffff_ffff,
        _ => {}
    }
    let t = ty.strip_prefix("unsigned ").unwrap_or(ty);
    match t {
        "char" => val & 0xff,
        "short" => val & 0xffff,
        "int" => val & 0xffff_ffff,
        _ => val,
    }
}

// ---------------------------------------------------------------- format string

fn parse_items(fmt: &str, nargs: usize, long: usize) -> PResult<Vec<Item>> {
    let b = fmt.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    let mut next_arg = 0usize;
    while i < b.len() {
        if b[i] == b'%' && b.get(i + 1) != Some(&b'%') {
            // parse_arg_format
            let start = i;
            let mut j = i + 1;
            let mut ls: i32 = 0;
            let mut len_arg = None;
            loop {
                let Some(&c) = b.get(j) else {
                    // ran off the end: nothing added
                    i = j;
                    break;
                };
                match c {
                    b'#' | b'.' | b'0'..=b'9' | b'-' | b'+' | b' ' => {}
                    b'h' => ls -= 1,
                    b'l' => ls += 1,
                    b'L' => ls = 2,
                    b'z' | b'Z' => ls = 1,
                    b'*' => {
                        if next_arg >= nargs {
                            return Err("no argument match".into());
                        }
                        if len_arg.is_some() {
                            return Err("argument already matched".into());
                        }
                        len_arg = Some(next_arg);
                        next_arg += 1;
                    }
                    b'p' => {
                        if next_arg >= nargs {
                            return Err("no argument match".into());
                        }
                        let res = pointer_ext_len(&b[j + 1..]);
                        let end = j + 1 + res;
                        let text = b[start..end.min(b.len())].to_vec();
                        items.push(Item {
                            kind: ItemKind::Pointer,
                            spec: Spec::parse(&text, ls),
                            text,
                            arg: Some(next_arg),
                            len_arg,
                        });
                        next_arg += 1;
                        i = end;
                        break;
                    }
                    b'd' | b'u' | b'i' | b'x' | b'X' | b'o' | b's' => {
                        if next_arg >= nargs {
                            return Err("no argument match".into());
                        }
                        let text = b[start..=j].to_vec();
                        if c != b's' && !(-2..=2).contains(&ls) {
                            return Err(format!("bad count ({ls})"));
                        }
                        let _ = long;
                        items.push(Item {
                            kind: if c == b's' {
                                ItemKind::String
                            } else {
                                ItemKind::Digit
                            },
                            spec: Spec::parse(&text, if c == b's' { 0 } else { ls }),
                            text,
                            arg: Some(next_arg),
                            len_arg,
                        });
                        next_arg += 1;
                        i = j + 1;
                        break;
                    }
                    other => {
                        let text = format!(">{}<", other as char).into_bytes();
                        items.push(Item {
                            kind: ItemKind::Str,
                            spec: Spec::default(),
                            text,
                            arg: None,
                            len_arg: None,
                        });
                        i = j + 1;
                        break;
                    }
                }
                j += 1;
            }
        } else {
            // parse_arg_string
            let mut s = Vec::new();
            while i < b.len() {
                match b[i] {
                    b'\\' => {
                        i += 1;
                        match b.get(i) {
                            Some(b'n') => s.push(b'\n'),
                            Some(b't') => s.push(b'\t'),
                            Some(b'r') => s.push(b'\r'),
                            Some(b'\\') => s.push(b'\\'),
                            Some(&c) => s.push(c),
                            None => {}
                        }
                        i += 1;
                    }
                    b'%' if b.get(i + 1) == Some(&b'%') => {
                        s.push(b'%');
                        i += 2;
                    }
                    b'%' => break,
                    c => {
                        s.push(c);
                        i += 1;
                    }
                }
            }
            items.push(Item {
                kind: ItemKind::Str,
                spec: Spec::default(),
                text: s,
                arg: None,
                len_arg: None,
            });
        }
    }
    Ok(items)
}

/// `parse_arg_format_pointer`: how many extension characters follow `%p`.
fn pointer_ext_len(f: &[u8]) -> usize {
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    let mut ret = 0;
    match at(0) {
        b'F' | b'S' | b'f' | b's' => ret += 1,
        b'M' | b'm' => {
            if matches!(at(1), b'R' | b'F') {
                ret += 1;
            }
            ret += 1;
        }
        b'I' | b'i' => {
            let mut index = 2;
            let c1 = at(1);
            if c1 == b'S' {
                while matches!(at(index), b'p' | b'f' | b's') {
                    ret += 1;
                    index += 1;
                }
            }
            if c1 == b'S' || c1 == b'4' {
                if matches!(at(index), b'h' | b'n' | b'l' | b'b') {
                    ret += 1;
                    index += 1;
                }
                if c1 == b'4' {
                    ret += 1;
                    return ret + 1;
                }
            }
            if c1 == b'S' || c1 == b'4' || c1 == b'6' {
                if at(index) == b'c' {
                    ret += 1;
                }
                ret += 1;
            }
            ret += 1;
        }
        b'U' => {
            if matches!(at(1), b'L' | b'l' | b'B' | b'b') {
                ret += 1;
            }
            ret += 1;
        }
        b'h' => {
            if matches!(at(1), b'C' | b'D' | b'N') {
                ret += 1;
            }
            ret += 1;
        }
        _ => {}
    }
    ret
}

// ---------------------------------------------------------------- compile

impl Compiled {
    /// Compiles an event's fields and print fmt.
    pub fn new(ev: &EventFormat, long: usize) -> Compiled {
        let mut fields: Vec<TField> = ev
            .common_fields
            .iter()
            .map(|f| TField::from_field(f, long))
            .collect();
        let first_event_field = fields.len();
        fields.extend(ev.fields.iter().map(|f| TField::from_field(f, long)));
        let mut c = Compiled {
            fields,
            first_event_field,
            args: Vec::new(),
            items: Vec::new(),
            failed: false,
        };
        match c.parse(&ev.print_fmt_text, long) {
            Ok((args, items)) => {
                c.args = args;
                c.items = items;
            }
            Err(e) => {
                log::debug!("print fmt of {}: {e}", ev.name);
                c.failed = true
            }
        }
        c
    }

    fn parse(&self, text: &str, long: usize) -> PResult<(Vec<Arg>, Vec<Item>)> {
        let toks = tokenize(text);
        let mut p = Parser {
            toks,
            pos: 0,
            fields: &self.fields,
            long,
            depth: 0,
        };
        let fmt = match p.next() {
            Some(Tok::Str(s)) => s,
            t => return Err(format!("print fmt does not start with a string: {t:?}")),
        };
        let mut args = Vec::new();
        for _ in 0..1000 {
            match p.next() {
                None => break,
                Some(Tok::Delim(',')) => {
                    args.push(p.expr()?);
                }
                Some(t) => return Err(format!("unexpected {t:?} after argument")),
            }
        }
        let items = parse_items(&fmt, args.len(), long)?;
        Ok((args, items))
    }

    /// Index into `fields` of the event field called `name`.
    pub fn field(&self, name: &str) -> Option<&TField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

// ---------------------------------------------------------------- evaluation

/// Reads an unsigned number of `size` bytes (`tep_read_number`); 0 outside the data.
#[inline]
pub fn read_num(e: Endian, data: &[u8], off: usize, size: usize) -> u64 {
    match size {
        1 | 2 | 4 | 8 => e.read_uint(data, off, size).unwrap_or(0),
        _ => 0,
    }
}

/// `dynamic_offset_field`: (offset, len) of a `__data_loc` field's data.
pub fn dyn_offset(e: Endian, f: &TField, data: &[u8]) -> (usize, usize) {
    let size = data.len();
    if f.offset + f.size > size {
        return (0, 0);
    }
    let val = read_num(e, data, f.offset, f.size);
    let o = (val & 0xffff) as usize;
    let l = if f.size == 2 {
        size.saturating_sub(o)
    } else {
        ((val >> 16) & 0xffff) as usize
    };
    let mut off = if o > size { 0 } else { o };
    let len = if o + l > size { 0 } else { l };
    if f.flags & fl::RELATIVE != 0 {
        off += f.offset + f.size;
    }
    (off, len)
}

/// A record being printed: payload plus the bytes after it in its page.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// The payload (`record->data`, `record->size` bytes).
    pub data: &'a [u8],
    /// From the payload start to the end of the page.
    pub tail: &'a [u8],
}

impl Compiled {
    fn eval(&self, env: &Env<'_>, d: Data<'_>, a: &Arg) -> u64 {
        let data = d.data;
        let size = data.len();
        match a {
            Arg::Null => 0,
            Arg::Atom(s) => {
                let v = strtoull(s);
                if v == 0 && !s.starts_with(|c: char| c.is_ascii_digit()) {
                    return env.funcs.addr_of(s).unwrap_or(0);
                }
                v
            }
            Arg::Field(idx, _) => {
                let Some(f) = idx.and_then(|i| self.fields.get(i)) else {
                    return 0;
                };
                if f.offset + f.size > size {
                    return 0;
                }
                read_num(env.endian, data, f.offset, f.size)
            }
            Arg::Type(t, inner) => eval_type_str(self.eval(env, d, inner), t, false),
            Arg::Op(op, l, r) => self.eval_op(env, d, op, l, r),
            Arg::DynArrayLen(idx) => {
                let Some(f) = idx.and_then(|i| self.fields.get(i)) else {
                    return 0;
                };
                dyn_offset(env.endian, f, data).1 as u64
            }
            Arg::DynArray(idx) => {
                // address of the dynamic data: not meaningful outside libtraceevent
                let Some(f) = idx.and_then(|i| self.fields.get(i)) else {
                    return 0;
                };
                dyn_offset(env.endian, f, data).0 as u64
            }
            _ => 0,
        }
    }

    fn eval_op(&self, env: &Env<'_>, d: Data<'_>, op: &str, l: &Arg, r: &Arg) -> u64 {
        let data = d.data;
        if op == "[" {
            let right = self.eval(env, d, r);
            let mut larg = l;
            let mut typearg: Option<&str> = None;
            while let Arg::Type(t, inner) = larg {
                if typearg.is_none() {
                    typearg = Some(t);
                }
                larg = inner;
            }
            let (offset, field_size) = match larg {
                Arg::DynArray(idx) => {
                    let Some(f) = idx.and_then(|i| self.fields.get(i)) else {
                        return 0;
                    };
                    let (o, _) = dyn_offset(env.endian, f, data);
                    let es = if f.elementsize != 0 {
                        f.elementsize
                    } else {
                        env.long
                    };
                    ((o as u64).wrapping_add(right), es)
                }
                Arg::Field(idx, _) => {
                    let Some(f) = idx.and_then(|i| self.fields.get(i)) else {
                        return 0;
                    };
                    (
                        (f.offset as u64).wrapping_add(right.wrapping_mul(f.elementsize as u64)),
                        f.elementsize,
                    )
                }
                _ => {
                    let left = self.eval(env, d, l);
                    return left.wrapping_add(right);
                }
            };
            let Ok(off) = usize::try_from(offset) else {
                return 0;
            };
            if off.checked_add(field_size).is_none_or(|e| e > data.len()) {
                return 0;
            }
            let v = read_num(env.endian, data, off, field_size);
            return match typearg {
                Some(t) => eval_type_str(v, t, true),
                None => v,
            };
        }
        if op == "?" {
            let c = self.eval(env, d, l);
            if let Arg::Op(_, a, b) = r {
                return if c != 0 {
                    self.eval(env, d, a)
                } else {
                    self.eval(env, d, b)
                };
            }
            return 0;
        }
        let left = self.eval(env, d, l);
        let right = self.eval(env, d, r);
        match op {
            "!" => u64::from(right == 0),
            "!=" => u64::from(left != right),
            "~" => !right,
            "|" => left | right,
            "||" => u64::from(left != 0 || right != 0),
            "&" => left & right,
            "&&" => u64::from(left != 0 && right != 0),
            "<" => u64::from(left < right),
            "<<" => left.wrapping_shl(right as u32),
            "<=" => u64::from(left <= right),
            ">" => u64::from(left > right),
            ">>" => left.wrapping_shr(right as u32),
            ">=" => u64::from(left >= right),
            "==" => u64::from(left == right),
            "-" => left.wrapping_sub(right),
            "+" => left.wrapping_add(right),
            "/" => left.checked_div(right).unwrap_or(0),
            "%" => left.checked_rem(right).unwrap_or(0),
            "*" => left.wrapping_mul(right),
            "^" => left ^ right,
            _ => 0,
        }
    }

    fn field_of(&self, idx: Option<usize>) -> Option<&TField> {
        idx.and_then(|i| self.fields.get(i))
    }

    /// Where the bytes of an array argument (`__get_dynamic_array(f)` or a
    /// fixed field) start in the record, for `__print_hex`/`__print_array`.
    fn array_start(&self, env: &Env<'_>, arg: &Arg, data: &[u8]) -> Option<usize> {
        match arg {
            Arg::DynArray(idx) => Some(dyn_offset(env.endian, self.field_of(*idx)?, data).0),
            Arg::Field(idx, _) => Some(self.field_of(*idx)?.offset),
            _ => None,
        }
    }

    /// `print_str_arg`.
    fn print_str(
        &self,
        out: &mut Vec<u8>,
        env: &Env<'_>,
        d: Data<'_>,
        spec: &Spec,
        len_arg: Option<i64>,
        a: &Arg,
    ) {
        let data = d.data;
        let size = data.len();
        match a {
            Arg::Null | Arg::Type(..) => {}
            Arg::Atom(s) => spec.fmt_str(out, s.as_bytes(), len_arg),
            Arg::BStr(s) => spec.fmt_str(out, s.as_bytes(), len_arg),
            Arg::Field(idx, _) => {
                let Some(f) = self.field_of(*idx) else { return };
                let len = if f.size != 0 {
                    f.size
                } else {
                    size.saturating_sub(f.offset)
                };
                if f.flags & fl::ARRAY == 0 && f.size == env.long {
                    let addr = read_num(env.endian, data, f.offset, env.long);
                    match env.printk.get(&addr) {
                        Some(p) => out.extend_from_slice(p.as_bytes()),
                        None => {
                            let _ = write!(out, "{addr:x}");
                        }
                    }
                    return;
                }
                let s = data
                    .get(f.offset..f.offset.saturating_add(len).min(size))
                    .unwrap_or(&[]);
                spec.fmt_str(out, cstr(s), len_arg);
            }
            Arg::Flags(v, delim, list) => {
                let mut val = self.eval(env, d, v);
                let mut print = false;
                for fs in list {
                    let fval = eval_flag(&fs.value);
                    if val == 0 && fval < 0 {
                        spec.fmt_str(out, fs.name.as_bytes(), len_arg);
                        break;
                    }
                    if fval > 0 && (val & fval as u64) == fval as u64 {
                        if print && !delim.is_empty() {
                            out.extend_from_slice(delim.as_bytes());
                        }
                        spec.fmt_str(out, fs.name.as_bytes(), len_arg);
                        print = true;
                        val &= !(fval as u64);
                    }
                }
                if val != 0 {
                    if print && !delim.is_empty() {
                        out.extend_from_slice(delim.as_bytes());
                    }
                    let _ = write!(out, "0x{val:x}");
                }
            }
            Arg::Symbol(v, list) => {
                let val = self.eval(env, d, v) as i64;
                match list.iter().find(|fs| eval_flag(&fs.value) == val) {
                    Some(fs) => spec.fmt_str(out, fs.name.as_bytes(), len_arg),
                    None => {
                        let _ = write!(out, "0x{:x}", val as u64);
                    }
                }
            }
            Arg::Hex(buf, len, is_str) => {
                let Some(start) = self.array_start(env, buf, data) else {
                    return;
                };
                let n = self.eval(env, d, len) as u32 as usize;
                for i in 0..n {
                    if i > 0 && !is_str {
                        out.push(b' ');
                    }
                    let byte = d.tail.get(start + i).copied().unwrap_or(0);
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Arg::IntArray(arr, count, el) => {
                let Some(start) = self.array_start(env, arr, data) else {
                    return;
                };
                let n = self.eval(env, d, count) as u32 as usize;
                let mut es = self.eval(env, d, el) as i32 as usize;
                let mut p = start;
                for i in 0..n.min(1 << 16) {
                    if i > 0 {
                        out.push(b' ');
                    }
                    match es {
                        1 | 2 | 4 | 8 => {
                            let v = read_num(env.endian, d.tail, p, es);
                            let _ = write!(out, "{v}");
                        }
                        _ => {
                            let b = d.tail.get(p).copied().unwrap_or(0);
                            let _ = write!(out, "BAD SIZE:{} 0x{b:x}", es as i32);
                            es = 1;
                        }
                    }
                    p += es;
                }
            }
            Arg::Str(idx) => {
                let Some(f) = self.field_of(*idx) else { return };
                let (off, len) = dyn_offset(env.endian, f, data);
                if len == 0 {
                    return;
                }
                spec.fmt_str(out, cstr(d.tail.get(off..).unwrap_or(&[])), len_arg);
            }
            Arg::Bitmask(idx) => {
                let Some(f) = self.field_of(*idx) else { return };
                let (off, len) = dyn_offset(env.endian, f, data);
                let b = data.get(off..off + len).unwrap_or(&[]);
                let s = bitmask_str(b, env.endian);
                spec.fmt_str(out, s.as_bytes(), len_arg);
            }
            Arg::Cpumask(idx) => {
                let Some(f) = self.field_of(*idx) else { return };
                let (off, len) = dyn_offset(env.endian, f, data);
                let b = data.get(off..off + len).unwrap_or(&[]);
                let s = cpumask_str(b, env.endian);
                spec.fmt_str(out, s.as_bytes(), len_arg);
            }
            Arg::Op(op, l, r) => {
                if op != "?" {
                    return;
                }
                let v = self.eval(env, d, l);
                if let Arg::Op(_, a, b) = &**r {
                    if v != 0 {
                        self.print_str(out, env, d, spec, len_arg, a);
                    } else {
                        self.print_str(out, env, d, spec, len_arg, b);
                    }
                }
            }
            Arg::DynArray(_) | Arg::DynArrayLen(_) => {}
        }
    }

    fn print_item(&self, out: &mut Vec<u8>, env: &Env<'_>, d: Data<'_>, it: &Item) {
        let len_arg = it
            .len_arg
            .and_then(|i| self.args.get(i))
            .map(|a| self.eval(env, d, a) as i32 as i64);
        let Some(arg) = it.arg.and_then(|i| self.args.get(i)) else {
            out.extend_from_slice(&it.text);
            return;
        };
        match it.kind {
            ItemKind::Str => out.extend_from_slice(&it.text),
            ItemKind::Digit => {
                let v = self.eval(env, d, arg);
                it.spec.fmt_int(out, v, len_arg);
            }
            ItemKind::String => {
                self.print_str(out, env, d, &it.spec, len_arg, arg);
            }
            ItemKind::Pointer => self.print_pointer(out, env, d, it, arg, len_arg.unwrap_or(1)),
        }
    }

    fn print_pointer(
        &self,
        out: &mut Vec<u8>,
        env: &Env<'_>,
        d: Data<'_>,
        it: &Item,
        arg: &Arg,
        plen: i64,
    ) {
        if let Arg::BStr(s) = arg {
            out.extend_from_slice(s.as_bytes());
            return;
        }
        let text = &it.text;
        let p = text
            .iter()
            .position(|&c| c == b'p')
            .map(|i| i + 1)
            .unwrap_or(text.len());
        let ext = &text[p..];
        match ext.first() {
            Some(b'F' | b'f' | b'S' | b's') => {
                let val = self.eval(env, d, arg);
                match env.funcs.find(val) {
                    Some(f) => {
                        out.extend_from_slice(f.name.as_bytes());
                        if matches!(ext.first(), Some(b'F' | b'S')) {
                            let _ = write!(out, "+0x{:x}", val.wrapping_sub(f.addr));
                        }
                    }
                    None => {
                        if env.long == 4 {
                            let _ = write!(out, "0x{:x}", val as u32);
                        } else {
                            let _ = write!(out, "0x{val:x}");
                        }
                    }
                }
            }
            Some(b'M' | b'm') => {
                if let Some(b) = self.ptr_bytes(env, d, arg, 6) {
                    let sep = if ext.first() == Some(&b'm') { "" } else { ":" };
                    let mut first = true;
                    let order: Vec<u8> = if ext.get(1) == Some(&b'R') {
                        b.iter().rev().copied().collect()
                    } else {
                        b.to_vec()
                    };
                    for x in order {
                        if !first {
                            out.extend_from_slice(sep.as_bytes());
                        }
                        first = false;
                        let _ = write!(out, "{x:02x}");
                    }
                }
            }
            Some(b'I' | b'i') if ext.get(1) == Some(&b'4') => {
                if let Some(b) = self.ptr_bytes(env, d, arg, 4) {
                    let _ = write!(out, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
                }
            }
            Some(b'h') => {
                let n = plen.max(0) as usize;
                if let Some(b) = self.ptr_bytes(env, d, arg, n) {
                    let delim = match ext.get(1) {
                        Some(b'C') => ":",
                        Some(b'D') => "-",
                        Some(b'N') => "",
                        _ => " ",
                    };
                    for (i, x) in b.iter().enumerate() {
                        if i > 0 {
                            out.extend_from_slice(delim.as_bytes());
                        }
                        let _ = write!(out, "{x:02x}");
                    }
                }
            }
            _ => {
                let val = self.eval(env, d, arg);
                if val == 0 {
                    out.extend_from_slice(b"(nil)");
                } else {
                    let _ = write!(out, "0x{val:x}");
                }
            }
        }
    }

    /// Bytes an address-like argument points at (fields/dynamic arrays only).
    fn ptr_bytes<'d>(&self, env: &Env<'_>, d: Data<'d>, arg: &Arg, n: usize) -> Option<&'d [u8]> {
        let off = match arg {
            Arg::DynArray(idx) => dyn_offset(env.endian, self.field_of(*idx)?, d.data).0,
            Arg::Field(idx, _) => self.field_of(*idx)?.offset,
            _ => return None,
        };
        d.data.get(off..off.checked_add(n)?)
    }

    /// `pretty_print`: the event's print fmt.
    pub fn pretty(&self, out: &mut Vec<u8>, env: &Env<'_>, d: Data<'_>) {
        for it in &self.items {
            self.print_item(out, env, d, it);
        }
    }

    /// `tep_print_fields`: ` name=value` for every event field, using the
    /// print fmt's conversion for fields it prints directly.
    pub fn print_fields(&self, out: &mut Vec<u8>, env: &Env<'_>, d: Data<'_>) {
        let mut cursor: usize = 0;
        for fi in self.first_event_field..self.fields.len() {
            let Some(f) = self.fields.get(fi) else {
                continue;
            };
            out.push(b' ');
            out.extend_from_slice(f.name.as_bytes());
            out.push(b'=');
            self.print_field(out, env, d, fi, &mut cursor);
        }
    }

    fn print_field(
        &self,
        out: &mut Vec<u8>,
        env: &Env<'_>,
        d: Data<'_>,
        fi: usize,
        cursor: &mut usize,
    ) {
        let Some(f) = self.fields.get(fi) else { return };
        if !self.failed && !self.items.is_empty() && f.flags & (fl::ARRAY | fl::STRING) == 0 {
            let n = self.items.len();
            let start = *cursor % n;
            let mut has_0x = false;
            let mut k = start;
            for _ in 0..n {
                let Some(it) = self.items.get(k) else { break };
                if it.kind == ItemKind::Str {
                    has_0x = it.text.len() > 1 && it.text.ends_with(b"0x");
                } else {
                    let mut a = it.arg.and_then(|i| self.args.get(i));
                    while let Some(Arg::Type(_, inner)) = a {
                        a = Some(inner);
                    }
                    if let Some(Arg::Field(Some(idx), _)) = a {
                        if *idx == fi {
                            if has_0x {
                                out.extend_from_slice(b"0x");
                            }
                            self.print_item(out, env, d, it);
                            *cursor = k + 1;
                            return;
                        }
                    }
                    has_0x = false;
                }
                k = (k + 1) % n;
            }
        }
        self.print_field_raw(out, env, d, f);
    }

    fn print_field_raw(&self, out: &mut Vec<u8>, env: &Env<'_>, d: Data<'_>, f: &TField) {
        let data = d.data;
        if f.flags & fl::ARRAY != 0 {
            let (off, len) = if f.flags & fl::DYNAMIC != 0 {
                dyn_offset(env.endian, f, data)
            } else {
                (f.offset, f.size)
            };
            let bytes = d.tail.get(off..).unwrap_or(&[]);
            if f.flags & fl::STRING != 0 && is_printable_array(bytes, len) {
                out.extend_from_slice(cstr(bytes));
            } else {
                out.extend_from_slice(b"ARRAY[");
                for i in 0..len {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    let _ = write!(out, "{:02x}", d.tail.get(off + i).copied().unwrap_or(0));
                }
                out.push(b']');
            }
        } else {
            let val = read_num(env.endian, data, f.offset, f.size);
            if f.flags & fl::POINTER != 0 {
                let _ = write!(out, "0x{val:x}");
            } else if f.flags & fl::SIGNED != 0 {
                match f.size {
                    4 if f.flags & fl::LONG != 0 => {
                        let _ = write!(out, "0x{:x}", val as u32);
                    }
                    4 => {
                        let _ = write!(out, "{}", val as u32 as i32);
                    }
                    2 => {
                        let _ = write!(out, "{:2}", val as u16 as i16);
                    }
                    1 => {
                        let _ = write!(out, "{}", val as u8 as i8);
                    }
                    _ => {
                        let _ = write!(out, "{}", val as i64);
                    }
                }
            } else if f.flags & fl::LONG != 0 {
                let _ = write!(out, "0x{val:x}");
            } else {
                let _ = write!(out, "{val}");
            }
        }
    }
}

fn is_printable_array(p: &[u8], len: usize) -> bool {
    for i in 0..len {
        let Some(&c) = p.get(i) else { break };
        if c == 0 {
            break;
        }
        let printable = (0x20..0x7f).contains(&c);
        let space = matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        if !printable && !space {
            return false;
        }
    }
    true
}

/// Bytes up to the first NUL.
pub fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

fn eval_flag(v: &str) -> i64 {
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        return strtoull(v) as i64;
    }
    match v {
        "HI_SOFTIRQ" => 0,
        "TIMER_SOFTIRQ" => 1,
        "NET_TX_SOFTIRQ" => 2,
        "NET_RX_SOFTIRQ" => 3,
        "BLOCK_SOFTIRQ" => 4,
        "IRQ_POLL_SOFTIRQ" => 5,
        "TASKLET_SOFTIRQ" => 6,
        "SCHED_SOFTIRQ" => 7,
        "HRTIMER_SOFTIRQ" => 8,
        "RCU_SOFTIRQ" => 9,
        "HRTIMER_NORESTART" => 0,
        "HRTIMER_RESTART" => 1,
        _ => -1,
    }
}

fn bitmask_str(data: &[u8], e: Endian) -> String {
    let size = data.len();
    let nr_bits = size * 8;
    let mut str_size = nr_bits.div_ceil(4);
    if nr_bits > 0 {
        str_size += (nr_bits - 1) / 32;
    }
    let mut s = vec![b'0'; str_size];
    let mut len = 0usize;
    let mut i = str_size as isize - 2;
    while i >= 0 {
        let index = if e == Endian::Big {
            size - (len + 1)
        } else {
            len
        };
        let hex = format!("{:02x}", data.get(index).copied().unwrap_or(0));
        let iu = i as usize;
        s[iu..iu + 2].copy_from_slice(hex.as_bytes());
        len += 1;
        if len & 3 == 0 && i > 0 {
            i -= 1;
            s[i as usize] = b',';
        }
        i -= 2;
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn cpumask_str(data: &[u8], e: Endian) -> String {
    let size = data.len();
    let mut bits = Vec::with_capacity(size * 8);
    for i in 0..size {
        let index = if e == Endian::Big { size - (i + 1) } else { i };
        let byte = data.get(index).copied().unwrap_or(0);
        for b in 0..8 {
            bits.push(byte & (1 << b) != 0);
        }
    }
    let mut out = String::new();
    let mut i = 0;
    while i < bits.len() {
        if bits[i] {
            let start = i;
            while i < bits.len() && bits[i] {
                i += 1;
            }
            if !out.is_empty() {
                out.push(',');
            }
            if i - 1 > start {
                out.push_str(&format!("{start}-{}", i - 1));
            } else {
                out.push_str(&start.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_quirks() {
        let it = parse_items("a=%d %c %pS x%%", 2, 8).unwrap();
        assert_eq!(it.len(), 7);
        assert_eq!(it[3].text, b">c<");
        assert_eq!(it[5].kind, ItemKind::Pointer);
        assert_eq!(it[6].text, b" x%");
        assert!(parse_items("%d %d", 1, 8).is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(
            bitmask_str(&[0x03, 0, 0, 0, 0x01, 0, 0, 0], Endian::Little),
            "00000001,00000003"
        );
        assert_eq!(cpumask_str(&[0x0b], Endian::Little), "0-1,3");
    }

    #[test]
    fn casts_truncate_only() {
        assert_eq!(eval_type_str(0xffff_ff80, "char", false), 0x80);
        assert_eq!(eval_type_str(5, "void *", true), 5);
        assert_eq!(
            arg_num_eval(&Arg::Op(
                "<<".into(),
                Box::new(Arg::Atom("1".into())),
                Box::new(Arg::Atom("4".into()))
            )),
            Some(16)
        );
    }

    #[test]
    fn parse_timer_flags() {
        let toks = tokenize(
            r#"(REC->flags & (0x00040000 | 0x00080000), "|", { 0x00040000, "M" }, { 0x00080000, "D" })"#,
        );
        let f = vec![TField {
            name: "flags".into(),
            offset: 8,
            size: 4,
            flags: 0,
            elementsize: 4,
        }];
        let mut p = Parser {
            toks,
            pos: 0,
            fields: &f,
            long: 8,
            depth: 0,
        };
        let a = p.function("__print_flags");
        let s = format!("{a:?}");
        assert!(s.contains("\"M\""), "{s}");
    }
}
