//! `report -F`: trace-cmd's event filter syntax,
//! `[SYSTEM:]EVENT[,EVENT…][: EXPR]` where EXPR combines `FIELD OP VALUE`
//! comparisons (`== != < <= > >= & =~ !~`) with `&&`, `||`, `!` and
//! parentheses. Events are regexes/globs over `system:name`; an event that
//! no filter names is not shown (trace-cmd's `FILTER_NOEXIST`).

use crate::error::{Error, Result};
use crate::render::fmt::{cstr, read_num};
use crate::render::TepRenderer;
use crate::stream::Event;
use traceevent::{EventRegistry, FieldKind};

#[derive(Debug, Clone)]
enum Val {
    Num(i64),
    Str(String),
}

#[derive(Debug, Clone)]
enum Expr {
    True,
    Cmp(String, String, Val),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A compiled set of filters.
#[derive(Debug, Clone)]
pub struct Filter {
    /// (event id, expression) for every event some filter names.
    per_event: Vec<(u16, Expr)>,
}

/// trace-cmd's `-F` wildcards (`*`, `.*`, and `.` for any character) on
/// tracekit's one (linear-time) glob.
fn glob_match(pat: &str, s: &str) -> bool {
    let p = pat.replace(".*", "*").replace('.', "?");
    symbols::glob(&p, s)
}

impl Filter {
    /// Parses `-F` arguments against a file's events.
    pub fn parse(filters: &[String], reg: &EventRegistry) -> Result<Filter> {
        let mut per_event: Vec<(u16, Expr)> = Vec::new();
        for f in filters {
            let (events, expr) = split_filter(f);
            let expr = match expr {
                Some(e) => parse_expr(e).map_err(|r| Error::Usage(format!("filter '{f}': {r}")))?,
                None => Expr::True,
            };
            let pats: Vec<&str> = match events {
                Some(ev) => ev.split(',').map(str::trim).collect(),
                None => vec!["*"],
            };
            let mut any = false;
            for ev in reg.iter() {
                let full = ev.full_name();
                let hit = pats.iter().any(|p| match p.split_once(':') {
                    Some((s, n)) => glob_match(s, &ev.system) && glob_match(n, &ev.name),
                    None => {
                        glob_match(p, &ev.name) || glob_match(p, &ev.system) || glob_match(p, &full)
                    }
                });
                if hit {
                    any = true;
                    match per_event.iter_mut().find(|(id, _)| *id == ev.id) {
                        Some((_, e)) => *e = Expr::Or(Box::new(e.clone()), Box::new(expr.clone())),
                        None => per_event.push((ev.id, expr.clone())),
                    }
                }
            }
            if !any {
                return Err(Error::Usage(format!("filter '{f}': no event matches")));
            }
        }
        Ok(Filter { per_event })
    }

    /// Whether the record passes.
    pub fn matches(&self, reg: &EventRegistry, tep: &mut TepRenderer, e: &Event<'_>) -> bool {
        let endian = reg.endian();
        let id = read_num(endian, e.data, 0, 2) as u16;
        let Some((_, expr)) = self.per_event.iter().find(|(i, _)| *i == id) else {
            return false;
        };
        eval(expr, reg, tep, e, id)
    }
}

fn split_filter(f: &str) -> (Option<&str>, Option<&str>) {
    // "EVENTS: expr", "EVENTS", or "expr"
    let looks_expr = |s: &str| s.contains(['=', '<', '>', '&', '|', '!', '~', '(']);
    if let Some((a, b)) = f.split_once(": ").or_else(|| f.split_once(":\t")) {
        return (Some(a.trim()), Some(b.trim()));
    }
    if looks_expr(f) {
        (None, Some(f.trim()))
    } else {
        (Some(f.trim()), None)
    }
}

fn tokenize(s: &str) -> Vec<String> {
    let mut v = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut j = i + 1;
            let mut t = String::from("\"");
            while j < b.len() && b[j] != c {
                t.push(b[j]);
                j += 1;
            }
            v.push(t);
            i = j + 1;
        } else if "()".contains(c) {
            v.push(c.to_string());
            i += 1;
        } else if "=!<>&|~".contains(c) {
            let mut j = i;
            while j < b.len() && "=!<>&|~".contains(b[j]) {
                j += 1;
            }
            v.push(b[i..j].iter().collect());
            i = j;
        } else {
            let mut j = i;
            while j < b.len() && !b[j].is_whitespace() && !"()=!<>&|~\"'".contains(b[j]) {
                j += 1;
            }
            v.push(b[i..j].iter().collect());
            i = j;
        }
    }
    v
}

/// Deepest nesting of `(` and `!` a filter may use (the parser recurses).
pub const MAX_FILTER_DEPTH: usize = 128;

fn parse_expr(s: &str) -> std::result::Result<Expr, String> {
    let toks = tokenize(s);
    // `a || b || …` nests as deep as it is long (evaluation recurses).
    if toks.len() > 16 * 1024 {
        return Err(format!("longer than {} tokens", 16 * 1024));
    }
    let mut pos = 0;
    let e = or(&toks, &mut pos, 0)?;
    if pos != toks.len() {
        return Err(format!("unexpected '{}'", toks[pos]));
    }
    Ok(e)
}

fn or(t: &[String], p: &mut usize, d: usize) -> std::result::Result<Expr, String> {
    let mut l = and(t, p, d)?;
    while t.get(*p).map(String::as_str) == Some("||") {
        *p += 1;
        l = Expr::Or(Box::new(l), Box::new(and(t, p, d)?));
    }
    Ok(l)
}

fn and(t: &[String], p: &mut usize, d: usize) -> std::result::Result<Expr, String> {
    let mut l = unary(t, p, d)?;
    while t.get(*p).map(String::as_str) == Some("&&") {
        *p += 1;
        l = Expr::And(Box::new(l), Box::new(unary(t, p, d)?));
    }
    Ok(l)
}

fn unary(t: &[String], p: &mut usize, d: usize) -> std::result::Result<Expr, String> {
    if d >= MAX_FILTER_DEPTH {
        return Err(format!(
            "nested deeper than {MAX_FILTER_DEPTH} levels of '(' or '!'"
        ));
    }
    match t.get(*p).map(String::as_str) {
        Some("!") => {
            *p += 1;
            Ok(Expr::Not(Box::new(unary(t, p, d + 1)?)))
        }
        Some("(") => {
            *p += 1;
            let e = or(t, p, d + 1)?;
            if t.get(*p).map(String::as_str) != Some(")") {
                return Err("missing ')'".into());
            }
            *p += 1;
            Ok(e)
        }
        Some(field) => {
            let field = field.to_string();
            *p += 1;
            let op = t.get(*p).cloned().ok_or("missing operator")?;
            if !matches!(
                op.as_str(),
                "==" | "!=" | "<" | "<=" | ">" | ">=" | "&" | "=~" | "!~"
            ) {
                return Err(format!("bad operator '{op}'"));
            }
            *p += 1;
            let v = t.get(*p).cloned().ok_or("missing value")?;
            *p += 1;
            let val = if let Some(s) = v.strip_prefix('"') {
                Val::Str(s.to_string())
            } else if let Some(h) = v.strip_prefix("0x") {
                Val::Num(i64::from_str_radix(h, 16).map_err(|_| format!("bad number '{v}'"))?)
            } else {
                match v.parse::<i64>() {
                    Ok(n) => Val::Num(n),
                    Err(_) => Val::Str(v),
                }
            };
            Ok(Expr::Cmp(field, op, val))
        }
        None => Err("empty expression".into()),
    }
}

fn eval(e: &Expr, reg: &EventRegistry, tep: &mut TepRenderer, ev: &Event<'_>, id: u16) -> bool {
    match e {
        Expr::True => true,
        Expr::Not(a) => !eval(a, reg, tep, ev, id),
        Expr::And(a, b) => eval(a, reg, tep, ev, id) && eval(b, reg, tep, ev, id),
        Expr::Or(a, b) => eval(a, reg, tep, ev, id) || eval(b, reg, tep, ev, id),
        Expr::Cmp(field, op, val) => {
            let endian = reg.endian();
            let Some(fmt) = reg.get(id) else { return false };
            let (num, text): (Option<i64>, Option<String>) = match field.as_str() {
                "COMM" => (
                    None,
                    Some(
                        String::from_utf8_lossy(
                            tep.comm(read_num(endian, ev.data, 4, 4) as u32 as i32),
                        )
                        .into_owned(),
                    ),
                ),
                "CPU" => (Some(i64::from(ev.cpu)), None),
                _ => {
                    let Some(f) = fmt.field(field).or_else(|| fmt.common_field(field)) else {
                        return false;
                    };
                    match f.kind {
                        FieldKind::Int | FieldKind::Pointer => {
                            let raw = read_num(endian, ev.data, f.offset, f.size);
                            let v = if f.signed {
                                match f.size {
                                    1 => raw as u8 as i8 as i64,
                                    2 => raw as u16 as i16 as i64,
                                    4 => raw as u32 as i32 as i64,
                                    _ => raw as i64,
                                }
                            } else {
                                raw as i64
                            };
                            (Some(v), None)
                        }
                        _ => {
                            let rec =
                                traceevent::Record::new(ev.ts, ev.cpu, ev.data, ev.offset, endian);
                            let b = rec.ok().and_then(|r| r.field_bytes(f)).unwrap_or(&[]);
                            (None, Some(String::from_utf8_lossy(cstr(b)).into_owned()))
                        }
                    }
                }
            };
            match (num, text, val) {
                (Some(a), _, Val::Num(b)) => match op.as_str() {
                    "==" => a == *b,
                    "!=" => a != *b,
                    "<" => a < *b,
                    "<=" => a <= *b,
                    ">" => a > *b,
                    ">=" => a >= *b,
                    "&" => a & *b != 0,
                    _ => false,
                },
                (_, Some(a), Val::Str(b)) => match op.as_str() {
                    "==" => glob_match(b, &a),
                    "!=" => !glob_match(b, &a),
                    "=~" => a.contains(b.trim_matches(['^', '$', '*', '.'])) || glob_match(b, &a),
                    "!~" => {
                        !(a.contains(b.trim_matches(['^', '$', '*', '.'])) || glob_match(b, &a))
                    }
                    _ => false,
                },
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}prev_pid == 0{}", "(".repeat(20_000), ")".repeat(20_000));
        assert!(parse_expr(&deep).is_err());
        let deep = format!("{}prev_pid == 0{}", "(".repeat(200), ")".repeat(200));
        let e = parse_expr(&deep).unwrap_err();
        assert!(e.contains("nested deeper than 128"), "{e}");
        assert!(parse_expr(&"!".repeat(20_000)).is_err());
        let long = vec!["a == 1"; 10_000].join(" || ");
        assert!(parse_expr(&long).is_err());
        let ok = format!("{}prev_pid == 0{}", "(".repeat(100), ")".repeat(100));
        assert!(parse_expr(&ok).is_ok());
    }

    #[test]
    fn parse_forms() {
        assert!(parse_expr("prev_pid == 0 && (next_comm == \"sh\" || !(cpu > 1))").is_ok());
        assert!(parse_expr("prev_pid ==").is_err());
        assert_eq!(
            split_filter("sched_switch: prev_pid != 0").0,
            Some("sched_switch")
        );
        assert_eq!(split_filter("common_pid != 0").0, None);
        assert!(glob_match("sched*", "sched_switch"));
        // Linear, not exponential, on many stars.
        let t = "a".repeat(5000);
        assert!(!glob_match(&format!("{}b", "*a".repeat(200)), &t));
        assert!(!glob_match("irq", "sched_switch"));
    }
}
