//! Tokenizer and recursive-descent parser for print fmts: the leading string
//! literal(s) become [`Piece`]s, each following argument a C [`Expr`].

use super::{
    BinOp, CType, Conv, Count, Expr, Flags, Helper, Length, Piece, PrintFmt, SymEntry, UnOp,
};
use crate::bytes::LongSize;
use crate::error::{Error, Result};
use crate::format::{c_type_size, EventFormat};

/// Nesting limit for expressions (guards the recursion against hostile input).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num { v: u64, unsigned: bool, long: bool },
    Str(String),
    Punct(&'static str),
    Other(char),
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

const PUNCTS: [&str; 30] = [
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+", "-", "*", "/", "%", "&", "|", "^",
    "!", "~", "?", ":", ",", "(", ")", "[", "]", "{", "}", "<", ">",
];

impl<'a> Lexer<'a> {
    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Returns (token, start offset).
    fn next(&mut self) -> std::result::Result<Option<(Tok, usize)>, (usize, String)> {
        self.skip_ws();
        let start = self.pos;
        let Some(&c) = self.s.get(self.pos) else {
            return Ok(None);
        };
        if c == b'"' {
            return Ok(Some((Tok::Str(self.string(b'"')?), start)));
        }
        if c == b'\'' {
            let s = self.string(b'\'')?;
            let v = s.bytes().next().map(u64::from).unwrap_or(0);
            return Ok(Some((
                Tok::Num {
                    v,
                    unsigned: false,
                    long: false,
                },
                start,
            )));
        }
        if c.is_ascii_digit() {
            let mut end = self.pos;
            while self
                .s
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                end += 1;
            }
            let text = std::str::from_utf8(self.s.get(self.pos..end).unwrap_or(&[])).unwrap_or("");
            self.pos = end;
            let lower = text.to_ascii_lowercase();
            let digits = lower.trim_end_matches(['u', 'l']);
            let suffix = &lower[digits.len()..];
            let v = if let Some(h) = digits.strip_prefix("0x") {
                u64::from_str_radix(h, 16)
            } else if let Some(b) = digits.strip_prefix("0b") {
                u64::from_str_radix(b, 2)
            } else if digits.len() > 1 && digits.starts_with('0') {
                u64::from_str_radix(&digits[1..], 8)
            } else {
                digits.parse()
            }
            .map_err(|_| (start, format!("bad number '{text}'")))?;
            return Ok(Some((
                Tok::Num {
                    v,
                    unsigned: suffix.contains('u'),
                    long: suffix.contains('l'),
                },
                start,
            )));
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut end = self.pos;
            while self
                .s
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                end += 1;
            }
            let id = String::from_utf8_lossy(self.s.get(self.pos..end).unwrap_or(&[])).into_owned();
            self.pos = end;
            return Ok(Some((Tok::Ident(id), start)));
        }
        for p in PUNCTS {
            if self
                .s
                .get(self.pos..)
                .is_some_and(|r| r.starts_with(p.as_bytes()))
            {
                self.pos += p.len();
                return Ok(Some((Tok::Punct(p), start)));
            }
        }
        // Any other character (e.g. '.', ';', '=' inside ({ }) blocks).
        let ch = std::str::from_utf8(self.s.get(self.pos..).unwrap_or(&[]))
            .ok()
            .and_then(|s| s.chars().next())
            .unwrap_or('?');
        self.pos += ch.len_utf8().max(1);
        Ok(Some((Tok::Other(ch), start)))
    }

    /// Parses a C string/char literal with escapes, starting at the quote.
    fn string(&mut self, quote: u8) -> std::result::Result<String, (usize, String)> {
        let start = self.pos;
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err((start, "unterminated literal".into()));
            };
            self.pos += 1;
            if c == quote {
                break;
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = self.s.get(self.pos) else {
                return Err((start, "unterminated escape".into()));
            };
            self.pos += 1;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(7),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'v' => out.push(11),
                b'e' => out.push(27),
                b'x' => {
                    let mut v: u32 = 0;
                    let mut n = 0;
                    while let Some(d) = self.s.get(self.pos).and_then(|c| (*c as char).to_digit(16))
                    {
                        v = (v << 4 | d) & 0xff;
                        self.pos += 1;
                        n += 1;
                        if n == 2 {
                            break;
                        }
                    }
                    out.push(v as u8);
                }
                b'0'..=b'7' => {
                    let mut v: u32 = u32::from(e - b'0');
                    let mut n = 1;
                    while n < 3 {
                        match self.s.get(self.pos) {
                            Some(&d @ b'0'..=b'7') => {
                                v = v * 8 + u32::from(d - b'0');
                                self.pos += 1;
                                n += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push((v & 0xff) as u8);
                }
                other => out.push(other),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    ev: &'a EventFormat,
    long_size: LongSize,
    depth: usize,
}

type PResult<T> = std::result::Result<T, (usize, String)>;

fn is_type_word(s: &str) -> bool {
    matches!(
        s,
        "unsigned"
            | "signed"
            | "int"
            | "long"
            | "short"
            | "char"
            | "void"
            | "const"
            | "volatile"
            | "struct"
            | "enum"
            | "union"
            | "bool"
            | "_Bool"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "s8"
            | "s16"
            | "s32"
            | "s64"
            | "__u8"
            | "__u16"
            | "__u32"
            | "__u64"
            | "__s8"
            | "__s16"
            | "__s32"
            | "__s64"
            | "__be16"
            | "__be32"
            | "__be64"
            | "__le16"
            | "__le32"
            | "__le64"
    ) || (s.ends_with("_t") && s.len() > 2)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|t| &t.0)
    }
    fn off(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|t| t.1)
            .or_else(|| self.toks.last().map(|t| t.1))
            .unwrap_or(0)
    }
    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.0.clone());
        if t.is_some() {
            self.pos += 1;
        }
        t
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) -> PResult<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err((self.off(), format!("expected '{p}'")))
        }
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.off(), "expression nested too deeply".into()));
        }
        let r = self.ternary();
        self.depth -= 1;
        r
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let c = self.binary(0)?;
        if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            return Ok(Expr::Ternary(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }

    fn binop(&self) -> Option<(BinOp, u8)> {
        let Some(Tok::Punct(p)) = self.peek() else {
            return None;
        };
        Some(match *p {
            "||" => (BinOp::Or, 1),
            "&&" => (BinOp::And, 2),
            "|" => (BinOp::BitOr, 3),
            "^" => (BinOp::BitXor, 4),
            "&" => (BinOp::BitAnd, 5),
            "==" => (BinOp::Eq, 6),
            "!=" => (BinOp::Ne, 6),
            "<" => (BinOp::Lt, 7),
            "<=" => (BinOp::Le, 7),
            ">" => (BinOp::Gt, 7),
            ">=" => (BinOp::Ge, 7),
            "<<" => (BinOp::Shl, 8),
            ">>" => (BinOp::Shr, 8),
            "+" => (BinOp::Add, 9),
            "-" => (BinOp::Sub, 9),
            "*" => (BinOp::Mul, 10),
            "/" => (BinOp::Div, 10),
            "%" => (BinOp::Rem, 10),
            _ => return None,
        })
    }

    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = self.binop() {
            if prec < min.max(1) {
                break;
            }
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err((self.off(), "expression nested too deeply".into()));
            }
            let rhs = self.binary(prec + 1);
            self.depth -= 1;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs?));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.off(), "expression nested too deeply".into()));
        }
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> PResult<Expr> {
        if let Some(Tok::Punct(p)) = self.peek() {
            let op = match *p {
                "-" => Some(UnOp::Neg),
                "!" => Some(UnOp::Not),
                "~" => Some(UnOp::BitNot),
                "+" => Some(UnOp::Plus),
                _ => None,
            };
            if let Some(op) = op {
                self.pos += 1;
                let e = self.unary()?;
                return Ok(Expr::Unary(op, Box::new(e)));
            }
            if *p == "&" {
                self.pos += 1;
                let e = self.unary()?;
                return Ok(Expr::AddrOf(Box::new(e)));
            }
            if *p == "*" {
                self.pos += 1;
                let _ = self.unary()?;
                return Ok(Expr::Unknown("pointer dereference".into()));
            }
            if *p == "(" {
                // cast?
                if let Some(Tok::Ident(id)) = self.peek_at(1) {
                    if is_type_word(id) || self.looks_like_cast() {
                        self.pos += 1;
                        let ty = self.ctype()?;
                        self.expect(")")?;
                        let e = self.unary()?;
                        return Ok(Expr::Cast(ty, Box::new(e)));
                    }
                }
                if matches!(self.peek_at(1), Some(Tok::Punct("{"))) {
                    // GNU statement expression: skip the balanced block.
                    self.pos += 1;
                    self.skip_balanced()?;
                    self.expect(")")?;
                    return self.postfix(Expr::Unknown("({...}) block".into()));
                }
            }
        }
        let p = self.primary()?;
        self.postfix(p)
    }

    /// `( ident [ident|*]* )` followed by the start of an operand: a cast to
    /// a typedef the parser does not know (`(uint)REC->x`).
    fn looks_like_cast(&self) -> bool {
        let mut i = 1;
        let mut idents = 0;
        loop {
            match self.peek_at(i) {
                Some(Tok::Ident(id)) if id != "REC" && id != "sizeof" => idents += 1,
                Some(Tok::Punct("*")) if idents > 0 => {}
                Some(Tok::Punct(")")) if idents > 0 => break,
                _ => return false,
            }
            i += 1;
        }
        matches!(
            self.peek_at(i + 1),
            Some(Tok::Ident(_) | Tok::Num { .. } | Tok::Str(_) | Tok::Punct("(" | "!" | "~"))
        )
    }

    /// Skips a balanced `{...}`/`(...)`/`[...]` group starting at the current token.
    fn skip_balanced(&mut self) -> PResult<()> {
        let mut depth = 0usize;
        loop {
            let Some(t) = self.bump() else {
                return Err((self.off(), "unbalanced brackets".into()));
            };
            match t {
                Tok::Punct("(" | "[" | "{") => depth += 1,
                Tok::Punct(")" | "]" | "}") => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }

    fn ctype(&mut self) -> PResult<CType> {
        let mut words: Vec<String> = Vec::new();
        let mut stars = 0;
        loop {
            match self.peek() {
                Some(Tok::Ident(id)) => {
                    words.push(id.clone());
                    self.pos += 1;
                }
                Some(Tok::Punct("*")) => {
                    stars += 1;
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let ls = self.long_size.bytes() as u8;
        if stars > 0 {
            let char_ptr = stars == 1 && words.iter().any(|w| w == "char");
            return Ok(CType {
                size: ls,
                signed: false,
                pointer: true,
                char_ptr,
            });
        }
        let words: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !matches!(*w, "const" | "volatile"))
            .collect();
        if words.first().is_some_and(|w| *w == "enum") {
            return Ok(CType {
                size: 4,
                signed: false,
                pointer: false,
                char_ptr: false,
            });
        }
        let joined = words.join(" ");
        let unsigned = words.contains(&"unsigned")
            || joined.starts_with('u')
            || joined.starts_with("__u")
            || joined.starts_with("__be")
            || joined.starts_with("__le")
            || joined == "bool"
            || joined == "_Bool"
            || joined == "size_t"
            || joined == "gfp_t"
            || joined == "dev_t";
        let size = c_type_size(&joined, self.long_size)
            .or_else(|| {
                // "unsigned" alone, or "long unsigned int" style orders
                if words.contains(&"long") {
                    if words.iter().filter(|w| **w == "long").count() >= 2 {
                        Some(8)
                    } else {
                        Some(ls as usize)
                    }
                } else if words.contains(&"short") {
                    Some(2)
                } else if words.contains(&"char") {
                    Some(1)
                } else if words.contains(&"int")
                    || words.contains(&"unsigned")
                    || words.contains(&"signed")
                {
                    Some(4)
                } else {
                    None
                }
            })
            .unwrap_or(8);
        Ok(CType {
            size: size as u8,
            signed: !unsigned,
            pointer: false,
            char_ptr: false,
        })
    }

    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        for _ in 0..MAX_DEPTH {
            if self.eat("[") {
                let idx = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else if matches!(self.peek(), Some(Tok::Other('.'))) || self.is_punct("->") {
                self.pos += 1;
                let m = match self.bump() {
                    Some(Tok::Ident(m)) => m,
                    _ => return Err((self.off(), "expected member name".into())),
                };
                e = Expr::Unknown(format!("member access .{m}").into());
            } else {
                return Ok(e);
            }
        }
        Err((self.off(), "too many postfix operators".into()))
    }

    fn field_ref(&self, name: &str) -> Expr {
        if let Some(i) = self.ev.field_index(name) {
            Expr::Field(i)
        } else if let Some(i) = self.ev.common_fields.iter().position(|f| f.name == name) {
            Expr::CommonField(i)
        } else {
            Expr::Unknown(format!("unknown field {name}").into())
        }
    }

    /// Parses a helper argument naming a field: `name` or `REC->name`.
    fn field_arg(&mut self) -> PResult<Option<usize>> {
        let name = match self.bump() {
            Some(Tok::Ident(id)) if id == "REC" && self.eat("->") => match self.bump() {
                Some(Tok::Ident(n)) => n,
                _ => return Err((self.off(), "expected field name".into())),
            },
            Some(Tok::Ident(id)) => id,
            _ => return Err((self.off(), "expected field name".into())),
        };
        Ok(self.ev.field_index(&name))
    }

    fn primary(&mut self) -> PResult<Expr> {
        let off = self.off();
        let Some(t) = self.bump() else {
            return Err((off, "unexpected end of print fmt".into()));
        };
        match t {
            Tok::Num { v, unsigned, long } => {
                let ls = self.long_size.bytes() as u8;
                let size = if long {
                    ls.max(if v > u64::from(u32::MAX) { 8 } else { ls })
                } else if (!unsigned && v <= i32::MAX as u64)
                    || (unsigned && v <= u64::from(u32::MAX))
                {
                    4
                } else {
                    8
                };
                let signed = !unsigned && (size < 8 || v <= i64::MAX as u64);
                Ok(Expr::Int { v, size, signed })
            }
            Tok::Str(mut s) => {
                // adjacent literals concatenate
                while let Some(Tok::Str(n)) = self.peek() {
                    s.push_str(n);
                    self.pos += 1;
                }
                Ok(Expr::Str(s.into()))
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Ident(id) => self.ident(id, off),
            other => Err((off, format!("unexpected token {other:?}"))),
        }
    }

    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn const_eval(e: &Expr) -> Option<u64> {
        super::eval::const_eval(e)
    }

    /// Parses `{ val, "name" }, ...` up to the closing `)`.
    fn sym_entries(&mut self) -> PResult<Vec<SymEntry>> {
        let mut v = Vec::new();
        loop {
            if self.eat(")") {
                return Ok(v);
            }
            if !self.eat(",") && !v.is_empty() {
                return Err((self.off(), "expected ','".into()));
            }
            if self.eat(")") {
                return Ok(v);
            }
            self.expect("{")?;
            if self.eat("}") {
                continue;
            }
            let val = self.expr()?;
            self.expect(",")?;
            let name = match self.peek() {
                Some(Tok::Str(_)) => {
                    let mut s = String::new();
                    while let Some(Tok::Str(n)) = self.peek() {
                        s.push_str(n);
                        self.pos += 1;
                    }
                    Some(s)
                }
                _ => {
                    // `{ 0, ((void *)0) }` / `{ -1, NULL }` terminators
                    let e = self.expr()?;
                    if Self::const_eval(&e) != Some(0) {
                        return Err((self.off(), "expected string in symbol table".into()));
                    }
                    None
                }
            };
            self.expect("}")?;
            let Some(name) = name else { continue };
            v.push((Self::const_eval(&val), name.into()));
            if v.len() > 4096 {
                return Err((self.off(), "symbol table too large".into()));
            }
        }
    }

    fn ident(&mut self, id: String, off: usize) -> PResult<Expr> {
        if id == "REC" {
            if self.eat("->") {
                let name = match self.bump() {
                    Some(Tok::Ident(n)) => n,
                    _ => return Err((self.off(), "expected field name after REC->".into())),
                };
                return Ok(self.field_ref(&name));
            }
            return Ok(Expr::Unknown("REC".into()));
        }
        if id == "sizeof" {
            self.expect("(")?;
            let size = if matches!(self.peek(), Some(Tok::Ident(w)) if is_type_word(w)) {
                Some(self.ctype()?.size as u64)
            } else {
                match self.expr()? {
                    Expr::Field(i) => self.ev.fields.get(i).map(|f| f.size as u64),
                    Expr::Index(a, _) => match *a {
                        Expr::Field(i) => self.ev.fields.get(i).map(|f| f.elem_size() as u64),
                        _ => None,
                    },
                    _ => None,
                }
            };
            self.expect(")")?;
            return Ok(match size {
                Some(v) => Expr::Int {
                    v,
                    size: self.long_size.bytes() as u8,
                    signed: false,
                },
                None => Expr::Unknown("sizeof expression".into()),
            });
        }
        if !self.is_punct("(") {
            return Ok(match id.as_str() {
                "true" => Expr::Int {
                    v: 1,
                    size: 4,
                    signed: true,
                },
                "false" | "NULL" => Expr::Int {
                    v: 0,
                    size: 4,
                    signed: true,
                },
                _ => Expr::Unknown(format!("identifier {id}").into()),
            });
        }
        self.pos += 1; // '('
        let field_helper = |p: &mut Self, mk: fn(usize) -> Helper| -> PResult<Expr> {
            let f = p.field_arg()?;
            p.expect(")")?;
            Ok(match f {
                Some(i) => Expr::Helper(mk(i)),
                None => Expr::Unknown(format!("{id}() on unknown field").into()),
            })
        };
        match id.as_str() {
            "__get_str" | "__get_rel_str" => field_helper(self, Helper::GetStr),
            "__get_dynamic_array" | "__get_rel_dynamic_array" => {
                field_helper(self, Helper::GetDynArray)
            }
            "__get_dynamic_array_len" | "__get_rel_dynamic_array_len" => {
                field_helper(self, Helper::GetDynArrayLen)
            }
            "__get_bitmask" | "__get_rel_bitmask" | "__get_cpumask" | "__get_rel_cpumask" => {
                field_helper(self, Helper::GetBitmask)
            }
            "__get_sockaddr" | "__get_rel_sockaddr" => field_helper(self, Helper::GetSockaddr),
            "__print_flags" | "__print_flags_u64" => {
                let val = self.expr()?;
                self.expect(",")?;
                let delim = match self.bump() {
                    Some(Tok::Str(s)) => s,
                    _ => return Err((self.off(), "expected delimiter string".into())),
                };
                let entries = self.sym_entries()?;
                Ok(Expr::Helper(Helper::PrintFlags {
                    val: Box::new(val),
                    delim: delim.into(),
                    entries,
                }))
            }
            "__print_symbolic" | "__print_symbolic_u64" => {
                let val = self.expr()?;
                let entries = self.sym_entries()?;
                Ok(Expr::Helper(Helper::PrintSymbolic {
                    val: Box::new(val),
                    entries,
                }))
            }
            "__print_dynamic_array" | "__print_rel_dynamic_array" => {
                // __print_array(__get_dynamic_array(f), len / el, el)
                let f = self.field_arg()?;
                self.expect(",")?;
                let el = Box::new(self.expr()?);
                self.expect(")")?;
                Ok(match f {
                    Some(i) => {
                        let arr = Box::new(Expr::Helper(Helper::GetDynArray(i)));
                        let count = Box::new(Expr::Binary(
                            BinOp::Div,
                            Box::new(Expr::Helper(Helper::GetDynArrayLen(i))),
                            el.clone(),
                        ));
                        Expr::Helper(Helper::PrintArray {
                            arr,
                            count,
                            el_size: el,
                        })
                    }
                    None => Expr::Unknown("__print_dynamic_array on unknown field".into()),
                })
            }
            _ => {
                let mut args = self.call_args()?;
                let n = args.len();
                let mut take = |i: usize| {
                    Box::new(std::mem::replace(
                        &mut args[i],
                        Expr::Int {
                            v: 0,
                            size: 4,
                            signed: true,
                        },
                    ))
                };
                let bad = || Err((off, format!("{id}() takes a different number of arguments")));
                Ok(match id.as_str() {
                    "__print_hex" | "__print_hex_str" if n == 2 => Expr::Helper(Helper::PrintHex {
                        buf: take(0),
                        len: take(1),
                        compact: id == "__print_hex_str",
                    }),
                    "__print_array" if n == 3 => Expr::Helper(Helper::PrintArray {
                        arr: take(0),
                        count: take(1),
                        el_size: take(2),
                    }),
                    "__print_hex_dump" if n == 7 => Expr::Helper(Helper::PrintHexDump {
                        prefix: take(0),
                        prefix_type: take(1),
                        rowsize: take(2),
                        groupsize: take(3),
                        buf: take(4),
                        len: take(5),
                        ascii: take(6),
                    }),
                    "__print_ns_to_secs" if n == 1 => Expr::Helper(Helper::NsToSecs(take(0))),
                    "__print_ns_without_secs" if n == 1 => {
                        Expr::Helper(Helper::NsWithoutSecs(take(0)))
                    }
                    "__builtin_expect" if n == 2 => *take(0),
                    "__print_hex"
                    | "__print_hex_str"
                    | "__print_array"
                    | "__print_hex_dump"
                    | "__print_ns_to_secs"
                    | "__print_ns_without_secs"
                    | "__builtin_expect" => return bad(),
                    _ => Expr::Unknown(format!("function {id}()").into()),
                })
            }
        }
    }
}

/// Parses the printf format string into pieces.
pub(crate) fn parse_format_string(s: &str) -> std::result::Result<Vec<Piece>, (usize, String)> {
    let b = s.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut i = 0usize;
    let mut lit_start = 0usize;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        lit.push_str(s.get(lit_start..i).unwrap_or(""));
        let start = i;
        i += 1;
        if b.get(i) == Some(&b'%') {
            lit.push('%');
            i += 1;
            lit_start = i;
            continue;
        }
        let mut flags = Flags::default();
        while let Some(&c) = b.get(i) {
            match c {
                b'-' => flags.left = true,
                b'+' => flags.plus = true,
                b' ' => flags.space = true,
                b'#' => flags.alt = true,
                b'0' => flags.zero = true,
                _ => break,
            }
            i += 1;
        }
        let num = |i: &mut usize| -> Count {
            if b.get(*i) == Some(&b'*') {
                *i += 1;
                return Count::Star;
            }
            let st = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            if *i == st {
                Count::None
            } else {
                Count::Fixed(
                    s.get(st..*i)
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(0)
                        .min(4096),
                )
            }
        };
        let width = num(&mut i);
        let precision = if b.get(i) == Some(&b'.') {
            i += 1;
            match num(&mut i) {
                Count::None => Count::Fixed(0),
                c => c,
            }
        } else {
            Count::None
        };
        let mut length = Length::Int;
        loop {
            match b.get(i) {
                Some(b'h') => {
                    length = if length == Length::Short {
                        Length::Char
                    } else {
                        Length::Short
                    }
                }
                Some(b'l') => {
                    length = if length == Length::Long {
                        Length::LongLong
                    } else {
                        Length::Long
                    }
                }
                Some(b'L' | b'q' | b'j') => length = Length::LongLong,
                Some(b'z' | b'Z' | b't') => length = Length::Size,
                _ => break,
            }
            i += 1;
        }
        let Some(&conv) = b.get(i) else {
            return Err((start, "incomplete conversion".into()));
        };
        i += 1;
        let conv = match conv {
            b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'c' | b's' | b'p' => conv,
            _ => return Err((start, format!("unsupported conversion '%{}'", conv as char))),
        };
        let mut pext = String::new();
        if conv == b'p' {
            while let Some(&c) = b.get(i) {
                if c.is_ascii_alphanumeric() {
                    pext.push(c as char);
                    i += 1;
                } else {
                    break;
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit).into()));
        }
        pieces.push(Piece::Conv(Conv {
            flags,
            width,
            precision,
            length,
            conv,
            pext: pext.into(),
        }));
        lit_start = i;
    }
    lit.push_str(s.get(lit_start..).unwrap_or(""));
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit.into()));
    }
    Ok(pieces)
}

pub(crate) fn parse(text: &str, ev: &EventFormat) -> Result<PrintFmt> {
    let err = |offset: usize, reason: String| Error::PrintFmt {
        event: format!("{}:{}", ev.system, ev.name),
        offset,
        reason,
    };
    let mut lx = Lexer {
        s: text.as_bytes(),
        pos: 0,
    };
    let mut toks = Vec::new();
    while let Some(t) = lx.next().map_err(|(o, r)| err(o, r))? {
        toks.push(t);
        if toks.len() > 100_000 {
            return Err(err(lx.pos, "print fmt too long".into()));
        }
    }
    let mut p = Parser {
        toks,
        pos: 0,
        ev,
        long_size: ev.long_size,
        depth: 0,
    };
    let mut fmt = String::new();
    let mut any = false;
    while let Some(Tok::Str(s)) = p.peek() {
        fmt.push_str(s);
        p.pos += 1;
        any = true;
    }
    if !any {
        return Err(err(
            0,
            "print fmt does not start with a string literal".into(),
        ));
    }
    let pieces = parse_format_string(&fmt).map_err(|(o, r)| err(o, r))?;
    let mut args = Vec::new();
    while p.peek().is_some() {
        if !p.eat(",") {
            return Err(err(p.off(), "expected ',' between arguments".into()));
        }
        let e = p.expr().map_err(|(o, r)| err(o, r))?;
        args.push(fold(e));
    }
    let plan = super::plan::compile(&pieces, &args, ev);
    Ok(PrintFmt { pieces, args, plan })
}

/// Folds constant subexpressions (the kernel's state masks in sched_switch are
/// long constant chains) so they are not recomputed for every record.
fn fold(e: Expr) -> Expr {
    fold_depth(e, 0)
}

fn fold_depth(e: Expr, depth: usize) -> Expr {
    if depth > MAX_DEPTH * 4 {
        return e;
    }
    let f = |x: Box<Expr>| Box::new(fold_depth(*x, depth + 1));
    let e = match e {
        Expr::Unary(op, a) => Expr::Unary(op, f(a)),
        Expr::Binary(op, a, b) => Expr::Binary(op, f(a), f(b)),
        Expr::Ternary(c, a, b) => {
            let c = f(c);
            if let Some(v) = super::eval::const_eval(&c) {
                return if v != 0 {
                    fold_depth(*a, depth + 1)
                } else {
                    fold_depth(*b, depth + 1)
                };
            }
            Expr::Ternary(c, f(a), f(b))
        }
        Expr::Cast(t, a) => Expr::Cast(t, f(a)),
        Expr::Index(a, i) => Expr::Index(f(a), f(i)),
        Expr::AddrOf(a) => Expr::AddrOf(f(a)),
        Expr::Helper(h) => Expr::Helper(match h {
            Helper::PrintFlags {
                val,
                delim,
                entries,
            } => Helper::PrintFlags {
                val: f(val),
                delim,
                entries,
            },
            Helper::PrintSymbolic { val, entries } => Helper::PrintSymbolic {
                val: f(val),
                entries,
            },
            Helper::PrintHex { buf, len, compact } => Helper::PrintHex {
                buf: f(buf),
                len: f(len),
                compact,
            },
            Helper::PrintArray {
                arr,
                count,
                el_size,
            } => Helper::PrintArray {
                arr: f(arr),
                count: f(count),
                el_size: f(el_size),
            },
            Helper::NsToSecs(a) => Helper::NsToSecs(f(a)),
            Helper::NsWithoutSecs(a) => Helper::NsWithoutSecs(f(a)),
            other => other,
        }),
        other => other,
    };
    if matches!(e, Expr::Unary(..) | Expr::Binary(..) | Expr::Cast(..)) {
        if let Some((n, size, signed)) = super::eval::const_eval_typed(&e) {
            // casts to pointers keep their pointer-ness out of folding
            if !matches!(e, Expr::Cast(t, _) if t.pointer) {
                return Expr::Int {
                    v: crate::bytes::truncate(n, size as usize),
                    size,
                    signed,
                };
            }
        }
    }
    e
}
