//! The raw probe definition language of `kprobe_events`, `uprobe_events`
//! and `dynamic_events` (`p:grp/name SYM+off ARGS`, `r…`, `PATH:OFF…`,
//! `e:`, `f:`, `t:`), parsed and validated before anything is written, with
//! errors that point a caret at the offending token. The messages are the
//! kernel's own (`trace_probe.h` error table) where the kernel has one.

use std::fmt;

use super::arch::Arch;

/// Kind of probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ProbeKind {
    /// Kernel function (offset) entry.
    Kprobe,
    /// Kernel function return.
    Kretprobe,
    /// User-space file offset.
    Uprobe,
    /// User-space function return.
    Uretprobe,
    /// Event probe on another event.
    Eprobe,
    /// fprobe function entry.
    Fprobe,
    /// fprobe function exit.
    FprobeExit,
    /// Tracepoint probe.
    Tprobe,
}

impl ProbeKind {
    /// Whether this kind fires on function return (`$retval` allowed).
    pub fn is_return(self) -> bool {
        matches!(
            self,
            ProbeKind::Kretprobe | ProbeKind::Uretprobe | ProbeKind::FprobeExit
        )
    }

    /// Whether it probes user space.
    pub fn is_user(self) -> bool {
        matches!(self, ProbeKind::Uprobe | ProbeKind::Uretprobe)
    }

    /// The tracefs file that takes this definition.
    pub fn control_file(self) -> &'static str {
        match self {
            ProbeKind::Kprobe | ProbeKind::Kretprobe => "kprobe_events",
            ProbeKind::Uprobe | ProbeKind::Uretprobe => "uprobe_events",
            _ => "dynamic_events",
        }
    }

    /// Default group the kernel uses.
    pub fn default_group(self) -> &'static str {
        match self {
            ProbeKind::Kprobe | ProbeKind::Kretprobe => "kprobes",
            ProbeKind::Uprobe | ProbeKind::Uretprobe => "uprobes",
            ProbeKind::Eprobe => "eprobes",
            ProbeKind::Fprobe | ProbeKind::FprobeExit => "fprobes",
            ProbeKind::Tprobe => "tracepoints",
        }
    }
}

/// One fetch argument `[NAME=]FETCH[:TYPE]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeArg {
    /// Name, when given.
    pub name: Option<String>,
    /// The fetch expression (`%di`, `+0(%si)`, `$retval`).
    pub fetch: String,
    /// The type, when given (`string`, `s32`, `u8[4]`).
    pub ty: Option<String>,
}

impl ProbeArg {
    /// `NAME=FETCH:TYPE` as written to the kernel.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(n) = &self.name {
            s.push_str(n);
            s.push('=');
        }
        s.push_str(&self.fetch);
        if let Some(t) = &self.ty {
            s.push(':');
            s.push_str(t);
        }
        s
    }
}

/// A parsed, validated probe definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeSpec {
    /// Kind.
    pub kind: ProbeKind,
    /// `r[MAXACTIVE]`.
    pub maxactive: Option<u32>,
    /// Group (None: the kernel's default).
    pub group: Option<String>,
    /// Event name (None: the kernel's auto name).
    pub event: Option<String>,
    /// The probe point as written (`do_sys_openat2`, `/bin/bash:0x1234%return`).
    pub place: String,
    /// Fetch arguments.
    pub args: Vec<ProbeArg>,
    /// eprobe filter (`if …`).
    pub filter: Option<String>,
}

impl ProbeSpec {
    /// The definition line to append to the control file.
    pub fn definition(&self) -> String {
        let mut s = String::new();
        s.push(match self.kind {
            ProbeKind::Kprobe | ProbeKind::Uprobe => 'p',
            ProbeKind::Kretprobe | ProbeKind::Uretprobe => 'r',
            ProbeKind::Eprobe => 'e',
            ProbeKind::Fprobe | ProbeKind::FprobeExit => 'f',
            ProbeKind::Tprobe => 't',
        });
        if let Some(m) = self.maxactive {
            s.push_str(&m.to_string());
        }
        match (&self.group, &self.event) {
            (Some(g), Some(e)) => s.push_str(&format!(":{g}/{e}")),
            (None, Some(e)) => s.push_str(&format!(":{e}")),
            (Some(g), None) => s.push_str(&format!(":{g}/")),
            (None, None) => {}
        }
        s.push(' ');
        s.push_str(&self.place);
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.render());
        }
        if let Some(f) = &self.filter {
            s.push_str(" if ");
            s.push_str(f);
        }
        s
    }

    /// `GROUP/EVENT` when both are known.
    pub fn id(&self) -> Option<String> {
        Some(format!("{}/{}", self.group.as_ref()?, self.event.as_ref()?))
    }
}

/// A rejected definition: the message and where in the input it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSyntaxError {
    /// The definition.
    pub input: String,
    /// Byte offset of the offending token.
    pub pos: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ProbeSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = self.input[..self.pos.min(self.input.len())].chars().count();
        write!(
            f,
            "{}\n  {}\n  {}^",
            self.message,
            self.input,
            " ".repeat(col)
        )
    }
}

impl std::error::Error for ProbeSyntaxError {}

/// What the running kernel supports, for validation.
#[derive(Debug, Clone, Copy)]
pub struct KernelSupport {
    /// Register names and ABI.
    pub arch: Arch,
    /// The kernel resolves BTF argument names itself (6.5+ with BTF).
    pub btf_args: bool,
}

impl Default for KernelSupport {
    fn default() -> Self {
        KernelSupport {
            arch: Arch::current().unwrap_or(crate::probe::arch::X86_64),
            btf_args: false,
        }
    }
}

/// Kernel limits (`trace_probe.h`).
pub const MAX_EVENT_NAME_LEN: usize = 64;
/// Max argument name length (exclusive).
pub const MAX_ARG_NAME_LEN: usize = 32;
/// Max number of arguments.
pub const MAX_TRACE_ARGS: usize = 128;
/// Max array elements.
pub const MAX_ARRAY_LEN: usize = 64;
/// Max dereference nesting.
pub const MAX_DEREF_DEPTH: usize = 12;

/// Whether `s` is a C identifier.
pub fn is_c_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn parse_num(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// Splits into whitespace-separated tokens with their byte offsets, keeping
/// `\"…\"` immediate strings whole.
fn tokens(s: &str) -> Vec<(usize, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut in_str = false;
        while i < b.len() && (in_str || !b[i].is_ascii_whitespace()) {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'"') {
                in_str = !in_str;
                i += 2;
                continue;
            }
            i += 1;
        }
        out.push((start, &s[start..i]));
    }
    out
}

struct P<'a> {
    input: &'a str,
    support: KernelSupport,
}

impl P<'_> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T, ProbeSyntaxError> {
        Err(ProbeSyntaxError {
            input: self.input.to_string(),
            pos,
            message: msg.into(),
        })
    }
}

/// Parses and validates a raw definition (`p:grp/name SYM ARGS`).
pub fn parse(input: &str, support: KernelSupport) -> Result<ProbeSpec, ProbeSyntaxError> {
    let p = P { input, support };
    let toks = tokens(input);
    let Some(&(hpos, head)) = toks.first() else {
        return p.err(0, "Empty probe definition");
    };
    let mut chars = head.chars();
    let t = chars.next().unwrap_or(' ');
    if !matches!(t, 'p' | 'r' | 'e' | 'f' | 't') {
        return p.err(
            hpos,
            "Unknown probe type: use p (probe), r (return probe), e (event probe), f (fprobe) or t (tracepoint probe)",
        );
    }
    let rest = &head[1..];
    let (num, name_part) = match rest.find(':') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let maxactive = if num.is_empty() {
        None
    } else {
        if !matches!(t, 'r' | 'f') {
            return p.err(hpos + 1, "Maxactive is only for function exit");
        }
        match num.parse::<u32>() {
            Ok(n) if n <= 4096 => Some(n),
            Ok(_) => return p.err(hpos + 1, "Maxactive is too big"),
            Err(_) => return p.err(hpos + 1, "Invalid maxactive number"),
        }
    };
    let (group, event) = match name_part {
        None => (None, None),
        Some(np) => {
            let npos = hpos + 1 + num.len() + 1;
            let (g, e, epos) = match np.split_once('/') {
                Some((g, e)) => (Some(g), e, npos + g.len() + 1),
                None => (None, np, npos),
            };
            if let Some(g) = g {
                if g.is_empty() {
                    return p.err(npos, "Group name is not specified");
                }
                if g.len() >= MAX_EVENT_NAME_LEN {
                    return p.err(npos, "Group name is too long");
                }
                if !is_c_ident(g) {
                    return p.err(
                        npos,
                        "Group name must follow the same rules as C identifiers",
                    );
                }
            }
            if e.is_empty() {
                if g.is_some() {
                    return p.err(epos, "Event name is not specified");
                }
                (None, None)
            } else {
                if e.len() >= MAX_EVENT_NAME_LEN {
                    return p.err(epos, "Event name is too long");
                }
                if !is_c_ident(e) {
                    return p.err(
                        epos,
                        "Event name must follow the same rules as C identifiers",
                    );
                }
                (g.map(str::to_string), Some(e.to_string()))
            }
        }
    };
    let Some(&(ppos, place)) = toks.get(1) else {
        return p.err(input.len(), "Probe point is not specified");
    };
    let kind = match t {
        'p' | 'r' => {
            let user = place.starts_with('/')
                || place
                    .split(':')
                    .next()
                    .map(|x| x.contains('/'))
                    .unwrap_or(false);
            if user {
                if maxactive.is_some() {
                    return p.err(
                        hpos,
                        "uprobes have no MAXACTIVE (the kernel would silently drop the event name)",
                    );
                }
                validate_uprobe_place(&p, ppos, place, t == 'r')?
            } else {
                validate_kprobe_place(&p, ppos, place, t == 'r')?
            }
        }
        'e' => {
            if group.is_none() || event.is_none() {
                // The kernel picks names from the attached event; fine.
            }
            let ok = place
                .split_once('.')
                .map(|(s, e)| is_c_ident(s) && !e.is_empty())
                .unwrap_or(false);
            if !ok {
                return p.err(ppos, "Attached event must be SYSTEM.EVENT");
            }
            ProbeKind::Eprobe
        }
        'f' => {
            let (sym, ret) = match place.strip_suffix("%return") {
                Some(s) => (s, true),
                None => (place, false),
            };
            if !is_c_ident(sym.split('.').next().unwrap_or(sym)) {
                return p.err(ppos, "Invalid probed address or symbol");
            }
            if ret {
                ProbeKind::FprobeExit
            } else if maxactive.is_some() {
                return p.err(hpos + 1, "Maxactive is only for function exit");
            } else {
                ProbeKind::Fprobe
            }
        }
        _ => {
            if !is_c_ident(place) {
                return p.err(ppos, "Tracepoint is not found");
            }
            ProbeKind::Tprobe
        }
    };
    // Arguments (and an eprobe's `if FILTER`).
    let mut args = Vec::new();
    let mut filter = None;
    let mut names: Vec<String> = Vec::new();
    let mut i = 2;
    while let Some(&(apos, tok)) = toks.get(i) {
        if tok == "if" && kind == ProbeKind::Eprobe {
            let f = input[apos + 2..].trim();
            if f.is_empty() {
                return p.err(apos, "No filter rule after 'if'");
            }
            filter = Some(f.to_string());
            break;
        }
        if args.len() >= MAX_TRACE_ARGS {
            return p.err(apos, "Too many arguments are specified");
        }
        let arg = validate_arg(&p, kind, apos, tok, args.len() + 1)?;
        let effective = arg
            .name
            .clone()
            .unwrap_or_else(|| format!("arg{}", args.len() + 1));
        if names.contains(&effective)
            || effective.starts_with("common_")
            || effective.starts_with("__probe_")
        {
            return p.err(apos, "This argument name is already used");
        }
        names.push(effective);
        args.push(arg);
        i += 1;
    }
    Ok(ProbeSpec {
        kind,
        maxactive,
        group,
        event,
        place: place.to_string(),
        args,
        filter,
    })
}

fn validate_kprobe_place(
    p: &P<'_>,
    pos: usize,
    place: &str,
    ret: bool,
) -> Result<ProbeKind, ProbeSyntaxError> {
    let (base, pct_ret) = match place.strip_suffix("%return") {
        Some(b) => (b, true),
        None => (place, false),
    };
    if base.contains('%') {
        return p.err(pos, "Invalid probed address suffix");
    }
    if let Some(addr) = base.strip_prefix("0x") {
        if u64::from_str_radix(addr, 16).is_err() {
            return p.err(pos, "Invalid probed address or symbol");
        }
        return Ok(if ret || pct_ret {
            ProbeKind::Kretprobe
        } else {
            ProbeKind::Kprobe
        });
    }
    let sym_part = base.rsplit_once(':').map(|(_, s)| s).unwrap_or(base);
    let (sym, off) = match sym_part.find(['+', '-']) {
        Some(i) => (&sym_part[..i], Some(&sym_part[i + 1..])),
        None => (sym_part, None),
    };
    if !is_c_ident(sym.split('.').next().unwrap_or(sym)) {
        return p.err(pos, "Invalid probed address or symbol");
    }
    let off_val = match off {
        Some(o) => match parse_num(o) {
            Some(v) => v,
            None => {
                return p.err(
                    pos + base.len() - o.len(),
                    "Invalid probed address or symbol",
                )
            }
        },
        None => 0,
    };
    if (ret || pct_ret) && off_val != 0 {
        return p.err(pos, "Retprobe address must be an function entry");
    }
    Ok(if ret || pct_ret {
        ProbeKind::Kretprobe
    } else {
        ProbeKind::Kprobe
    })
}

fn validate_uprobe_place(
    p: &P<'_>,
    pos: usize,
    place: &str,
    ret: bool,
) -> Result<ProbeKind, ProbeSyntaxError> {
    let Some((path, rest)) = place.rsplit_once(':') else {
        return p.err(pos, "uprobe needs PATH:OFFSET");
    };
    if !path.starts_with('/') {
        return p.err(pos, "Failed to find the given file (give an absolute path)");
    }
    if !std::path::Path::new(path).exists() {
        return p.err(pos, "Failed to find the given file");
    }
    let opos = pos + path.len() + 1;
    let mut rest = rest;
    let mut is_ret = ret;
    // OFFSET[%return][(REF)]
    let off_end = rest.find(['%', '(']).unwrap_or(rest.len());
    let off = &rest[..off_end];
    if parse_num(off).is_none() {
        return p.err(
            opos,
            "Invalid file offset value: uprobes take a numeric file offset (let `tracekit probe add -x PATH SYMBOL` resolve symbols)",
        );
    }
    rest = &rest[off_end..];
    if let Some(r) = rest.strip_prefix("%return") {
        is_ret = true;
        rest = r;
    }
    if let Some(r) = rest.strip_prefix('(') {
        let Some(inner) = r.strip_suffix(')') else {
            return p.err(opos + off.len(), "Reference counter has wrong suffix");
        };
        if parse_num(inner).is_none() {
            return p.err(opos + off.len(), "Invalid reference counter offset");
        }
        rest = "";
    }
    if !rest.is_empty() {
        let at = place.len() - rest.len();
        let msg = if rest.starts_with("%return") {
            "Reference counter has wrong suffix"
        } else {
            "Invalid probed address suffix"
        };
        return p.err(pos + at, msg);
    }
    Ok(if is_ret {
        ProbeKind::Uretprobe
    } else {
        ProbeKind::Uprobe
    })
}

/// Splits `NAME=FETCH:TYPE` at the type colon (outside quotes/parentheses).
fn split_type(s: &str) -> (&str, Option<&str>) {
    let b = s.as_bytes();
    let (mut depth, mut in_str) = (0i32, false);
    let mut cut = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if b.get(i + 1) == Some(&b'"') => {
                in_str = !in_str;
                i += 1;
            }
            b'(' if !in_str => depth += 1,
            b')' if !in_str => depth -= 1,
            b':' if !in_str && depth == 0 => cut = Some(i),
            _ => {}
        }
        i += 1;
    }
    match cut {
        Some(c) => (&s[..c], Some(&s[c + 1..])),
        None => (s, None),
    }
}

fn validate_arg(
    p: &P<'_>,
    kind: ProbeKind,
    pos: usize,
    tok: &str,
    _index: usize,
) -> Result<ProbeArg, ProbeSyntaxError> {
    // NAME= prefix (an identifier followed by '=').
    let (name, body, bpos) = match tok.find('=') {
        Some(i) if !tok[..i].contains(['(', '\\', '"', '%', '$', '@', '+']) => {
            let n = &tok[..i];
            if n.is_empty() {
                return p.err(pos, "Argument name is not specified");
            }
            if n.len() >= MAX_ARG_NAME_LEN {
                return p.err(pos, "Argument name is too long");
            }
            if !is_c_ident(n) {
                return p.err(
                    pos,
                    "Argument name must follow the same rules as C identifiers",
                );
            }
            (Some(n.to_string()), &tok[i + 1..], pos + i + 1)
        }
        _ => (None, tok, pos),
    };
    if body.is_empty() {
        return p.err(bpos, "No argument expression");
    }
    let (fetch, ty) = split_type(body);
    let memory = validate_fetch(p, kind, bpos, fetch, 0)?;
    if let Some(t) = ty {
        validate_type(p, kind, bpos + fetch.len() + 1, t, memory, fetch)?;
    }
    Ok(ProbeArg {
        name,
        fetch: fetch.to_string(),
        ty: ty.map(str::to_string),
    })
}

/// Validates a fetch expression; returns whether it reads memory (a string
/// type is only allowed then).
fn validate_fetch(
    p: &P<'_>,
    kind: ProbeKind,
    pos: usize,
    f: &str,
    depth: usize,
) -> Result<bool, ProbeSyntaxError> {
    let user = kind.is_user();
    if let Some(reg) = f.strip_prefix('%') {
        if kind == ProbeKind::Eprobe || kind == ProbeKind::Tprobe {
            return p.err(pos, "Invalid fetch argument");
        }
        if !p.support.arch.has_register(reg) {
            return p.err(pos, "Invalid register name");
        }
        return Ok(false);
    }
    if let Some(var) = f.strip_prefix('$') {
        return match var {
            "retval" => {
                if !kind.is_return() {
                    p.err(pos, "$retval is not available on probe")
                } else {
                    Ok(false)
                }
            }
            "comm" | "COMM" => Ok(true),
            "stack" => Ok(false),
            "arg*" => {
                if matches!(
                    kind,
                    ProbeKind::Fprobe | ProbeKind::FprobeExit | ProbeKind::Tprobe
                ) || (p.support.btf_args && matches!(kind, ProbeKind::Kprobe))
                {
                    Ok(false)
                } else {
                    p.err(pos, "Invalid $-variable specified")
                }
            }
            v if v.starts_with("stack") => {
                if v[5..].parse::<u32>().is_ok() {
                    Ok(false)
                } else {
                    p.err(pos, "Invalid stack number")
                }
            }
            v if v.starts_with("arg")
                && v[3..].chars().all(|c| c.is_ascii_digit())
                && v.len() > 3 =>
            {
                if user {
                    return p.err(pos, "$arg* can be used only on function entry or exit");
                }
                match v[3..].parse::<u32>() {
                    Ok(n) if n >= 1 => Ok(false),
                    _ => p.err(pos, "Invalid argument number"),
                }
            }
            v if kind == ProbeKind::Eprobe && is_c_ident(v) => Ok(false),
            _ => p.err(pos, "Invalid $-variable specified"),
        };
    }
    if let Some(a) = f.strip_prefix('@') {
        if let Some(off) = a.strip_prefix('+') {
            if !user {
                return p.err(pos, "File offset is not available with kprobe");
            }
            return if parse_num(off).is_some() {
                Ok(true)
            } else {
                p.err(pos, "Invalid file offset value")
            };
        }
        if parse_num(a).is_some() {
            return Ok(true);
        }
        if user {
            return p.err(pos, "Symbol is not available with uprobe");
        }
        let sym = a.split(['+', '-']).next().unwrap_or(a);
        if !is_c_ident(sym) {
            return p.err(pos, "Invalid memory address");
        }
        return Ok(true);
    }
    if let Some(imm) = f.strip_prefix('\\') {
        if let Some(s) = imm.strip_prefix('"') {
            if !s.ends_with('"') {
                return p.err(pos, "String is not closed with '\"'");
            }
            return Ok(true);
        }
        let v = imm.strip_prefix('-').unwrap_or(imm);
        return if parse_num(v).is_some() {
            Ok(false)
        } else {
            p.err(pos, "Invalid immediate value")
        };
    }
    if f.starts_with('+') || f.starts_with('-') {
        if depth >= MAX_DEREF_DEPTH {
            return p.err(pos, "Dereference is too much nested");
        }
        let rest = &f[1..];
        let rest = rest.strip_prefix('u').unwrap_or(rest);
        let Some(open) = rest.find('(') else {
            return p.err(pos, "Dereference needs a brace");
        };
        if parse_num(&rest[..open]).is_none() {
            return p.err(pos, "Invalid dereference offset");
        }
        let Some(inner) = rest[open + 1..].strip_suffix(')') else {
            return p.err(pos, "Dereference brace is not closed");
        };
        let ipos = pos + (f.len() - rest.len()) + open + 1;
        if inner.starts_with("$comm") {
            return p.err(ipos, "$comm can not be dereferenced");
        }
        validate_fetch(p, kind, ipos, inner, depth + 1)?;
        return Ok(true);
    }
    // A bare name: a BTF argument (or NAME->member).
    let head = f.split("->").next().unwrap_or(f);
    if is_c_ident(head) {
        if user {
            return p.err(pos, "BTF is not available or not supported");
        }
        let btf_kind = matches!(
            kind,
            ProbeKind::Fprobe | ProbeKind::FprobeExit | ProbeKind::Tprobe
        );
        if !(btf_kind || p.support.btf_args) {
            return p.err(
                pos,
                "Invalid fetch argument: this kernel does not resolve argument names (Linux 6.5+ with BTF); use the friendly form `tracekit probe add FUNC NAME` and tracekit maps names to registers",
            );
        }
        return Ok(true);
    }
    p.err(pos, "Invalid fetch argument")
}

const BASE_TYPES: &[&str] = &[
    "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "x8", "x16", "x32", "x64", "char",
    "string", "ustring", "symbol", "symstr", "%pd", "%pD",
];

fn validate_type(
    p: &P<'_>,
    kind: ProbeKind,
    pos: usize,
    t: &str,
    memory: bool,
    fetch: &str,
) -> Result<(), ProbeSyntaxError> {
    let (base, array) = match t.find('[') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    if let Some(a) = array {
        let Some(close) = a.find(']') else {
            return p.err(pos + base.len(), "Array is not closed");
        };
        if close + 1 != a.len() {
            return p.err(pos + base.len() + close + 2, "Array has wrong suffix");
        }
        match a[..close].parse::<usize>() {
            Ok(n) if n > MAX_ARRAY_LEN => {
                return p.err(pos + base.len() + 1, "Array number is too big")
            }
            Ok(n) if n > 0 => {}
            _ => return p.err(pos + base.len() + 1, "Invalid array size"),
        }
        if !memory && base != "string" {
            return p.err(pos, "Array accepts only memory argument");
        }
    }
    if let Some(bf) = base.strip_prefix('b') {
        // b<width>@<offset>/<container>
        let ok = (|| {
            let (w, rest) = bf.split_once('@')?;
            let (o, c) = rest.split_once('/')?;
            let (w, o, c): (u32, u32, u32) = (w.parse().ok()?, o.parse().ok()?, c.parse().ok()?);
            (matches!(c, 8 | 16 | 32 | 64) && w > 0 && w + o <= c).then_some(())
        })();
        return if ok.is_some() {
            Ok(())
        } else {
            p.err(pos, "Invalid bitfield")
        };
    }
    if !BASE_TYPES.contains(&base) {
        return p.err(pos, "Unknown type is specified");
    }
    if kind.is_user() && matches!(base, "symbol" | "symstr" | "%pd" | "%pD") {
        return p.err(pos, "Unknown type is specified");
    }
    if matches!(base, "string" | "ustring") && array.is_none() {
        let bare_btf = is_c_ident(fetch.split("->").next().unwrap_or(fetch));
        if !memory && !bare_btf {
            return p.err(pos - fetch.len() - 1, "String accepts only memory argument");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::arch;

    fn sup() -> KernelSupport {
        KernelSupport {
            arch: arch::X86_64,
            btf_args: false,
        }
    }

    fn ok(s: &str) -> ProbeSpec {
        parse(s, sup()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> ProbeSyntaxError {
        parse(s, sup()).expect_err(s)
    }

    #[test]
    fn accepts_the_documented_forms() {
        let k = ok("p:mygrp/open do_sys_openat2 dfd=%di:s32 filename=+0(%si):string");
        assert_eq!(k.kind, ProbeKind::Kprobe);
        assert_eq!(k.id().as_deref(), Some("mygrp/open"));
        assert_eq!(
            k.definition(),
            "p:mygrp/open do_sys_openat2 dfd=%di:s32 filename=+0(%si):string"
        );
        assert_eq!(
            ok("r10:mygrp/r do_sys_openat2 ret=$retval").kind,
            ProbeKind::Kretprobe
        );
        assert_eq!(
            ok("p do_sys_openat2%return $retval").kind,
            ProbeKind::Kretprobe
        );
        assert_eq!(ok("p:g/e vfs_read+0x10 @jiffies @jiffies+8 $stack0 $stack $comm \\1234 \\\"hi there\\\":string").args.len(), 7);
        let u = ok("p:g/u /usr/bin/true:0x2340 path=+0(%di):string pathu=+0(%di):ustring mode=%si:x32 a=+8(+0(%sp)):u64 b=-8(%sp):s64 c=@+0x1cf8d0:x64 d=+u0(%di):u8[4] e=%si:b4@3/32 f=$comm");
        assert_eq!(u.kind, ProbeKind::Uprobe);
        assert_eq!(
            ok("p:g/u /usr/bin/true:0x2340%return ret=$retval:s32").kind,
            ProbeKind::Uretprobe
        );
        assert_eq!(
            ok("r:g/u /usr/bin/true:0x2340(0x81d8)").kind,
            ProbeKind::Uretprobe
        );
        assert_eq!(
            ok("p:g/u /usr/bin/true:0x2340%return(0x81d8)").kind,
            ProbeKind::Uretprobe
        );
        assert_eq!(
            ok("e:sched/switch sched.sched_switch prev=$prev_pid:u32 if prev_pid > 0")
                .filter
                .as_deref(),
            Some("prev_pid > 0")
        );
        assert_eq!(
            ok("f:fprobes/myprobe vfs_read count pos").kind,
            ProbeKind::Fprobe
        );
        assert_eq!(ok("f vfs_read%return $retval").kind, ProbeKind::FprobeExit);
        assert_eq!(
            ok("t sched_switch prev_pid=prev->pid").kind,
            ProbeKind::Tprobe
        );
        assert_eq!(ok("f vfs_read $arg*").args[0].fetch, "$arg*");
    }

    /// Every rejection in kernel-interfaces.md §4.2 (plus the grammar's own).
    #[test]
    fn rejects_with_the_kernels_messages_and_a_caret() {
        let cases: &[(&str, &str, &str)] = &[
            ("p:g/e /usr/bin/true:0x10 $arg1", "$arg* can be used only on function entry or exit", "$arg1"),
            ("r:g/e /usr/bin/true:0x10 $arg1", "$arg* can be used only on function entry or exit", "$arg1"),
            ("p:g/e /usr/bin/true:0x10 +0(%di):symbol", "Unknown type is specified", "symbol"),
            ("p:g/e /usr/bin/true:0x10 +0(%di):symstr", "Unknown type is specified", "symstr"),
            ("p:g/e /usr/bin/true:0x10 +0(%di):%pd", "Unknown type is specified", "%pd"),
            ("p:g/e /usr/bin/true:mkdir", "Invalid file offset value", "mkdir"),
            ("p:g/e /usr/bin/true:mkdir+4", "Invalid file offset value", "mkdir+4"),
            ("p:g/e /usr/bin/true:-0x10", "Invalid file offset value", "-0x10"),
            ("p:g/e /usr/bin/true:0x10 %rax", "Invalid register name", "%rax"),
            ("p:g/e /usr/bin/true:0x10 %foo", "Invalid register name", "%foo"),
            ("p:g/e /usr/bin/true:0x10 path", "BTF is not available or not supported", "path"),
            ("p:g/e /usr/bin/true:0x10 $arg*", "Invalid $-variable specified", "$arg*"),
            ("p:g/e /usr/bin/true:0x10 $retval", "$retval is not available on probe", "$retval"),
            ("p:g/e /usr/bin/true:0x10 @errno", "Symbol is not available with uprobe", "@errno"),
            ("p:g/e /usr/bin/true:0x10 a=%di a=%si", "This argument name is already used", "a=%si"),
            ("p:g/e /usr/bin/true:0x10 common_pid=%di", "This argument name is already used", "common_pid"),
            ("p:g/e /usr/bin/true:0x10 1a=%di", "Argument name must follow the same rules as C identifiers", "1a="),
            ("p:g/t-dash /usr/bin/true:0x10", "Event name must follow the same rules as C identifiers", "t-dash"),
            ("p:g/t.dot /usr/bin/true:0x10", "Event name must follow the same rules as C identifiers", "t.dot"),
            ("p:g/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa /usr/bin/true:0x10", "Event name is too long", "aaaa"),
            ("p:g/e bin/true:0x10", "Failed to find the given file", "bin/true"),
            ("p:g/e /nonexistent/x:0x10", "Failed to find the given file", "/nonexistent"),
            ("p:g/e /usr/bin/true:0x10(0x81d8)%return", "Reference counter has wrong suffix", "(0x81d8)"),
            ("r5:g/e /usr/bin/true:0x10", "uprobes have no MAXACTIVE", "r5"),
            ("p:g/e do_sys_open %rax", "Invalid register name", "%rax"),
            ("p:g/e do_sys_open $retval", "$retval is not available on probe", "$retval"),
            ("p:g/e do_sys_open $arg0", "Invalid argument number", "$arg0"),
            ("p:g/e do_sys_open $stackx", "Invalid stack number", "$stackx"),
            ("p:g/e do_sys_open $foo", "Invalid $-variable specified", "$foo"),
            ("p:g/e do_sys_open @+0x10", "File offset is not available with kprobe", "@+0x10"),
            ("p:g/e do_sys_open +0%di", "Dereference needs a brace", "+0%di"),
            ("p:g/e do_sys_open +x(%di)", "Invalid dereference offset", "+x(%di)"),
            ("p:g/e do_sys_open +0(%di", "Dereference brace is not closed", "+0(%di"),
            ("p:g/e do_sys_open +0($comm)", "$comm can not be dereferenced", "$comm"),
            ("p:g/e do_sys_open %di:u9", "Unknown type is specified", "u9"),
            ("p:g/e do_sys_open %di:string", "String accepts only memory argument", "%di"),
            ("p:g/e do_sys_open +0(%di):u8[65]", "Array number is too big", "65"),
            ("p:g/e do_sys_open +0(%di):u8[x]", "Invalid array size", "x]"),
            ("p:g/e do_sys_open +0(%di):u8[4", "Array is not closed", "[4"),
            ("p:g/e do_sys_open %di:b9@30/32", "Invalid bitfield", "b9"),
            ("p:g/e do_sys_open \\xyz", "Invalid immediate value", "\\xyz"),
            ("p:g/e do_sys_open \\\"abc", "String is not closed with '\"'", "\\\"abc"),
            ("p:g/e do_sys_open dfd", "Invalid fetch argument", "dfd"),
            ("r:g/e do_sys_open+4", "Retprobe address must be an function entry", "do_sys_open+4"),
            ("p5:g/e do_sys_open", "Maxactive is only for function exit", "5"),
            ("p:/e do_sys_open", "Group name is not specified", "/e"),
            ("p:g/ do_sys_open", "Event name is not specified", " do_sys_open"),
            ("p:g/e", "Probe point is not specified", ""),
            ("x:g/e do_sys_open", "Unknown probe type", "x:"),
            ("e:g/e sched", "Attached event must be SYSTEM.EVENT", "sched"),
            ("e:g/e sched.sched_switch if", "No filter rule after 'if'", "if"),
        ];
        for (input, msg, at) in cases {
            let e = bad(input);
            assert!(
                e.message.starts_with(msg),
                "{input}: got '{}', want '{msg}'",
                e.message
            );
            assert!(
                input[e.pos.min(input.len())..].starts_with(at)
                    || at.is_empty() && e.pos == input.len(),
                "{input}: caret at {} ('{}'), want at '{at}'",
                e.pos,
                &input[e.pos.min(input.len())..]
            );
            let shown = e.to_string();
            assert!(shown.contains(&format!("\n  {input}\n")), "{shown}");
        }
    }

    #[test]
    fn deref_depth_is_limited() {
        let mut f = "%di".to_string();
        for _ in 0..MAX_DEREF_DEPTH {
            f = format!("+0({f})");
        }
        ok(&format!("p:g/e do_sys_open {f}"));
        let e = bad(&format!("p:g/e do_sys_open +0({f})"));
        assert_eq!(e.message, "Dereference is too much nested");
    }

    #[test]
    fn btf_names_need_kernel_support() {
        let s = KernelSupport {
            arch: arch::X86_64,
            btf_args: true,
        };
        assert!(parse("p:g/e do_sys_openat2 dfd filename:string", s).is_ok());
        assert!(parse("p:g/e do_sys_openat2 file->f_pos", s).is_ok());
    }
}
