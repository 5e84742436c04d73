//! libtraceevent's function map (`tep_register_function` + `func_map_init` +
//! `find_func`): kallsyms parsed the way trace-cmd does, sorted stably by
//! address with aliases in reverse file order, looked up with glibc's
//! `bsearch` probe sequence so aliased symbols resolve exactly as
//! `trace-cmd report` resolves them.

/// One function entry.
#[derive(Debug, Clone)]
pub struct Func {
    /// Start address.
    pub addr: u64,
    /// Name.
    pub name: String,
    /// Module, if any.
    pub module: Option<String>,
}

/// Sorted function map.
#[derive(Debug, Clone, Default)]
pub struct FuncMap {
    map: Vec<Func>,
}

impl FuncMap {
    /// Parses kallsyms text like `tracecmd_parse_proc_kallsyms` (stops at the
    /// first malformed line; skips absolute symbols and `$` names).
    pub fn parse(text: &[u8]) -> FuncMap {
        let mut list = Vec::new();
        for line in text.split(|&c| c == b'\n') {
            if line.is_empty() {
                continue;
            }
            let s = String::from_utf8_lossy(line);
            let mut it = s.splitn(3, [' ']);
            let (Some(a), Some(t), Some(rest)) = (it.next(), it.next(), it.next()) else {
                break;
            };
            let a = a.get(..a.len().min(16)).unwrap_or(a);
            let Ok(addr) = u64::from_str_radix(a, 16) else {
                break;
            };
            let ch = t.chars().next().unwrap_or(' ');
            let rest = rest.trim_start_matches([' ', '\t']);
            let name_end = rest.find([' ', '\t']).unwrap_or(rest.len());
            let name = &rest[..name_end];
            if name.is_empty() {
                break;
            }
            let after = &rest[name_end..];
            let module = after.strip_prefix("\t[").map(|m| {
                m.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(']')
                    .to_string()
            });
            if !name.starts_with('$') && ch != 'A' && ch != 'a' {
                list.push(Func {
                    addr,
                    name: name.to_string(),
                    module,
                });
            }
        }
        list.reverse();
        list.sort_by_key(|f| f.addr); // stable, like glibc's merge sort
        FuncMap { map: list }
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `find_func`: the function containing `addr` (between its start and the
    /// next entry; the last entry only matches exactly).
    pub fn find(&self, addr: u64) -> Option<&Func> {
        let n = self.map.len();
        let (mut l, mut u) = (0usize, n);
        while l < u {
            let idx = (l + u) / 2;
            let f = self.map.get(idx)?;
            let next = self.map.get(idx + 1).map(|f| f.addr).unwrap_or(0);
            let cmp = if addr == f.addr || (addr > f.addr && addr < next) {
                std::cmp::Ordering::Equal
            } else if addr < f.addr {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
            match cmp {
                std::cmp::Ordering::Less => u = idx,
                std::cmp::Ordering::Greater => l = idx + 1,
                std::cmp::Ordering::Equal => return Some(f),
            }
        }
        None
    }

    /// Address of the symbol `name` (first in map order), for print-fmt atoms.
    pub fn addr_of(&self, name: &str) -> Option<u64> {
        self.map.iter().find(|f| f.name == name).map(|f| f.addr)
    }

    /// All entries in map order.
    pub fn iter(&self) -> impl Iterator<Item = &Func> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ranges_and_last_exact() {
        let m = FuncMap::parse(b"ffffffff81000000 T a\nffffffff81000010 t b\t[mod]\nffffffff81000020 T c\n0000000000001000 A abs\n");
        assert_eq!(
            m.find(0xffffffff81000005).map(|f| f.name.as_str()),
            Some("a")
        );
        assert_eq!(
            m.find(0xffffffff81000010).and_then(|f| f.module.as_deref()),
            Some("mod")
        );
        assert_eq!(
            m.find(0xffffffff81000020).map(|f| f.name.as_str()),
            Some("c")
        );
        assert!(m.find(0xffffffff81000021).is_none());
        assert!(m.find(0).is_none());
    }
}

/// A [`FuncMap`] built on first use from kallsyms text: libtraceevent only
/// needs it for `%pS`-style conversions and a few plugins, and parsing and
/// sorting a 5 MB kallsyms costs more than rendering many events.
#[derive(Debug, Clone, Default)]
pub struct LazyFuncs {
    text: Vec<u8>,
    map: std::cell::OnceCell<FuncMap>,
}

impl LazyFuncs {
    /// Keeps the text for later.
    pub fn new(text: Vec<u8>) -> LazyFuncs {
        LazyFuncs {
            text,
            map: std::cell::OnceCell::new(),
        }
    }

    /// The map (parsed now if not yet).
    pub fn get(&self) -> &FuncMap {
        self.map.get_or_init(|| FuncMap::parse(&self.text))
    }

    /// [`FuncMap::find`].
    pub fn find(&self, addr: u64) -> Option<&Func> {
        self.get().find(addr)
    }

    /// [`FuncMap::addr_of`].
    pub fn addr_of(&self, name: &str) -> Option<u64> {
        self.get().addr_of(name)
    }
}
