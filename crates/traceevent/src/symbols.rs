//! Plain data tables that trace.dat files and tracefs carry alongside the
//! events: kallsyms (addresses → symbols for `%pS`/`%ps` and function events),
//! `printk_formats` (constant string pointers for `bprint`/`bputs`/`%s`) and
//! `saved_cmdlines`/`saved_tgids` (pid → comm, pid → tgid).

use crate::error::{Error, Result};
use std::collections::HashMap;

/// One kallsyms entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Start address.
    pub addr: u64,
    /// Symbol name.
    pub name: String,
    /// Module name (`[mod]` column), if any.
    pub module: Option<String>,
}

/// Result of a kallsyms lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolHit<'a> {
    /// Symbol name.
    pub name: &'a str,
    /// Offset of the address from the symbol start.
    pub offset: u64,
    /// Distance to the next symbol (0 for the last one).
    pub size: u64,
    /// Module, if any.
    pub module: Option<&'a str>,
}

/// Sorted kallsyms table (`/proc/kallsyms` text).
#[derive(Debug, Clone, Default)]
pub struct Kallsyms {
    syms: Vec<Symbol>,
}

impl Kallsyms {
    /// An empty table (every lookup fails).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `/proc/kallsyms` text: `ADDR TYPE NAME [MODULE]` per line.
    /// Absolute (`a`/`A`) symbols are ignored, as the kernel's own lookup does
    /// not resolve them. Malformed lines are an error.
    pub fn parse(text: &str) -> Result<Kallsyms> {
        let mut syms = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let mut it = line.split_ascii_whitespace();
            let bad = |r: &str| Error::Table {
                table: "kallsyms",
                line: i + 1,
                reason: r.to_string(),
            };
            let addr = it.next().ok_or_else(|| bad("missing address"))?;
            let addr = u64::from_str_radix(addr, 16).map_err(|_| bad("bad address"))?;
            let ty = it.next().ok_or_else(|| bad("missing type"))?;
            let name = it.next().ok_or_else(|| bad("missing name"))?;
            let module = it
                .next()
                .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
            if matches!(ty, "a" | "A") || addr == 0 {
                continue;
            }
            syms.push(Symbol {
                addr,
                name: name.to_string(),
                module,
            });
        }
        Ok(Self::from_symbols(syms))
    }

    /// Builds a table from symbols in any order (aliases keep their input order).
    pub fn from_symbols(mut syms: Vec<Symbol>) -> Kallsyms {
        syms.sort_by_key(|s| s.addr);
        Kallsyms { syms }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Finds the symbol containing `addr`, like the kernel's `kallsyms_lookup`:
    /// the first of aliased symbols, size up to the next higher address.
    pub fn lookup(&self, addr: u64) -> Option<SymbolHit<'_>> {
        let idx = self.syms.partition_point(|s| s.addr <= addr);
        if idx == 0 {
            return None;
        }
        let hit_addr = self.syms.get(idx - 1)?.addr;
        // first alias
        let first = self.syms.partition_point(|s| s.addr < hit_addr);
        let s = self.syms.get(first)?;
        let size = self.syms.get(idx).map(|n| n.addr - s.addr).unwrap_or(0);
        if size == 0 && addr - s.addr > 0x10_0000 {
            return None; // far beyond the last symbol
        }
        Some(SymbolHit {
            name: &s.name,
            offset: addr - s.addr,
            size,
            module: s.module.as_deref(),
        })
    }
}

/// `printk_formats`: constant string addresses → strings.
#[derive(Debug, Clone, Default)]
pub struct PrintkFormats {
    map: HashMap<u64, String>,
}

impl PrintkFormats {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `0xADDR : "string"` lines, undoing the kernel's `\n`, `\t`, `\"` escapes.
    pub fn parse(text: &str) -> Result<PrintkFormats> {
        let mut map = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |r: &str| Error::Table {
                table: "printk_formats",
                line: i + 1,
                reason: r.to_string(),
            };
            let (a, s) = line.split_once(" : ").ok_or_else(|| bad("missing ' : '"))?;
            let a = a.trim();
            let a = a.strip_prefix("0x").unwrap_or(a);
            let addr = u64::from_str_radix(a, 16).map_err(|_| bad("bad address"))?;
            let s = s.trim_end();
            let s = s.strip_prefix('"').unwrap_or(s);
            let s = s.strip_suffix('"').unwrap_or(s);
            map.insert(addr, unescape(s));
        }
        Ok(PrintkFormats { map })
    }

    /// Adds one entry.
    pub fn insert(&mut self, addr: u64, s: String) {
        self.map.insert(addr, s);
    }

    /// The string at `addr`, if known.
    pub fn get(&self, addr: u64) -> Option<&str> {
        self.map.get(&addr).map(String::as_str)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some('n') => {
                    out.push('\n');
                    it.next();
                }
                Some('t') => {
                    out.push('\t');
                    it.next();
                }
                Some('"') => {
                    out.push('"');
                    it.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Hasher for pid keys (looked up once per rendered record): one multiply
/// instead of SipHash. The tables come from the traced kernel, not from
/// untrusted network peers, so flooding resistance is not needed.
type PidHash = std::hash::BuildHasherDefault<PidHasher>;

/// See [`PidHash`].
#[derive(Debug, Default, Clone, Copy)]
struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    #[inline]
    fn write_i32(&mut self, v: i32) {
        // Fibonacci hashing; hashbrown uses the top bits for its tag and the
        // low bits for the bucket, so fold the high half back in.
        let h = u64::from(v as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// pid → comm (`saved_cmdlines`) and pid → tgid (`saved_tgids`).
#[derive(Debug, Clone, Default)]
pub struct Cmdlines {
    comms: HashMap<i32, String, PidHash>,
    tgids: HashMap<i32, i32, PidHash>,
}

impl Cmdlines {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `saved_cmdlines` text (`pid comm` per line).
    pub fn parse(text: &str) -> Result<Cmdlines> {
        let mut c = Cmdlines::default();
        c.add_cmdlines(text)?;
        Ok(c)
    }

    /// Adds `saved_cmdlines` lines (later lines win).
    pub fn add_cmdlines(&mut self, text: &str) -> Result<()> {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (pid, comm) = line.split_once(' ').ok_or_else(|| Error::Table {
                table: "saved_cmdlines",
                line: i + 1,
                reason: "missing comm".into(),
            })?;
            let pid: i32 = pid.trim().parse().map_err(|_| Error::Table {
                table: "saved_cmdlines",
                line: i + 1,
                reason: "bad pid".into(),
            })?;
            self.comms.insert(pid, comm.to_string());
        }
        Ok(())
    }

    /// Adds `saved_tgids` lines (`pid tgid`).
    pub fn add_tgids(&mut self, text: &str) -> Result<()> {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut it = line.split_ascii_whitespace();
            let parse = |s: Option<&str>| -> Result<i32> {
                s.and_then(|s| s.parse().ok()).ok_or_else(|| Error::Table {
                    table: "saved_tgids",
                    line: i + 1,
                    reason: "bad number".into(),
                })
            };
            let pid = parse(it.next())?;
            let tgid = parse(it.next())?;
            self.tgids.insert(pid, tgid);
        }
        Ok(())
    }

    /// Records a comm for a pid.
    pub fn insert(&mut self, pid: i32, comm: &str) {
        self.comms.insert(pid, comm.to_string());
    }

    /// Records a tgid for a pid.
    pub fn insert_tgid(&mut self, pid: i32, tgid: i32) {
        self.tgids.insert(pid, tgid);
    }

    /// The comm of `pid`, if cached.
    pub fn comm(&self, pid: i32) -> Option<&str> {
        self.comms.get(&pid).map(String::as_str)
    }

    /// Every cached (pid, comm), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &str)> {
        self.comms.iter().map(|(p, c)| (*p, c.as_str()))
    }

    /// The tgid of `pid`, if cached.
    pub fn tgid(&self, pid: i32) -> Option<i32> {
        self.tgids.get(&pid).copied()
    }

    /// Number of cached comms.
    pub fn len(&self) -> usize {
        self.comms.len()
    }

    /// True when no comm is cached.
    pub fn is_empty(&self) -> bool {
        self.comms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_lookup_aliases_and_sizes() {
        let k = Kallsyms::parse(
            "ffffffff81000000 T _stext\nffffffff81000000 T startup_64\nffffffff81000060 t foo\n0000000000000000 A fixed\nffffffffa0000000 t modfn\t[mymod]\n",
        )
        .unwrap();
        let h = k.lookup(0xffffffff81000010).unwrap();
        assert_eq!((h.name, h.offset, h.size), ("_stext", 0x10, 0x60));
        let h = k.lookup(0xffffffff81000061).unwrap();
        assert_eq!((h.name, h.offset), ("foo", 1));
        assert!(k.lookup(0x10).is_none());
        assert_eq!(k.lookup(0xffffffffa0000004).unwrap().module, Some("mymod"));
        assert!(Kallsyms::parse("zz T x").is_err());
    }

    #[test]
    fn printk_and_cmdlines() {
        let p = PrintkFormats::parse("0xffffffff82819a10 : \"a\\tb\\n\\\"c\\\"\"\n").unwrap();
        assert_eq!(p.get(0xffffffff82819a10), Some("a\tb\n\"c\""));
        let mut c = Cmdlines::parse("1 systemd\n42 my comm\n").unwrap();
        c.add_tgids("42 40\n").unwrap();
        assert_eq!(c.comm(42), Some("my comm"));
        assert_eq!(c.tgid(42), Some(40));
        assert!(Cmdlines::parse("x y").is_err());
    }
}
