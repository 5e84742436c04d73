//! Symbol tables with perf's rules, so reports name the same functions perf
//! does: ELF `.symtab` (from the separate debug file found by build id or
//! debuglink when there is one) else `.dynsym`, addresses converted to file
//! offsets through the runtime file's `PT_LOAD` headers, synthesized `name@plt`
//! entries, zero sizes extended to the next symbol and aliases resolved by
//! perf's `choose_best_symbol`; `/proc/kallsyms` for the kernel; JIT maps
//! (`/tmp/perf-PID.map`).

use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{ElfFile64, ProgramHeader, SectionHeader, Sym as _};
use object::Endianness;

use crate::error::{Error, Result};

/// One symbol: `[start, end)` in the table's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sym {
    /// First address (file offset for user DSOs, absolute for the kernel).
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Name as perf prints it.
    pub name: String,
    /// `STB_*` binding.
    pub binding: u8,
}

/// A sorted symbol table.
#[derive(Debug, Clone, Default)]
pub struct SymTab {
    syms: Vec<Sym>,
    /// Where the symbols came from.
    pub origin: Option<PathBuf>,
}

fn underscores(s: &str) -> usize {
    s.bytes().take_while(|b| *b == b'_').count()
}

/// perf's `choose_best_symbol`: true when `a` wins over `b`.
fn a_wins(a: &Sym, b: &Sym) -> bool {
    let (la, lb) = (a.end - a.start, b.end - b.start);
    if lb == 0 && la > 0 {
        return true;
    }
    if la == 0 && lb > 0 {
        return false;
    }
    let (wa, wb) = (a.binding == elf::STB_WEAK, b.binding == elf::STB_WEAK);
    if wb && !wa {
        return true;
    }
    if wa && !wb {
        return false;
    }
    let (ga, gb) = (a.binding == elf::STB_GLOBAL, b.binding == elf::STB_GLOBAL);
    if ga && !gb {
        return true;
    }
    if gb && !ga {
        return false;
    }
    let (ua, ub) = (underscores(&a.name), underscores(&b.name));
    if ub > ua {
        return true;
    }
    if ua > ub {
        return false;
    }
    if a.name.len() != b.name.len() {
        return a.name.len() > b.name.len();
    }
    !(a.name.starts_with("SyS") || a.name.starts_with("compat_SyS"))
}

fn round_page(v: u64) -> u64 {
    v.div_ceil(4096).saturating_mul(4096)
}

impl SymTab {
    /// Builds a table from unsorted symbols, applying perf's
    /// `symbols__fixup_end` then `symbols__fixup_duplicate`.
    pub fn new(mut syms: Vec<Sym>, kallsyms: bool) -> SymTab {
        // Stable: equal starts keep insertion order, like perf's rb-tree.
        syms.sort_by_key(|s| s.start);
        let n = syms.len();
        for i in 0..n.saturating_sub(1) {
            if syms[i].end == syms[i].start {
                let next_start = syms[i + 1].start;
                let differs = syms[i].name.contains('[') != syms[i + 1].name.contains('[');
                syms[i].end = if kallsyms && differs {
                    round_page(syms[i].end.saturating_add(4096))
                } else {
                    next_start
                };
            }
        }
        if let Some(last) = syms.last_mut() {
            if last.end == last.start {
                last.end = round_page(last.start).saturating_add(4096);
            }
        }
        let mut out: Vec<Sym> = Vec::with_capacity(n);
        for s in syms {
            match out.last_mut() {
                Some(cur) if cur.start == s.start => {
                    if !a_wins(cur, &s) {
                        *cur = s;
                    }
                }
                _ => out.push(s),
            }
        }
        SymTab {
            syms: out,
            origin: None,
        }
    }

    /// Adds symbols without fixups (perf adds PLT entries after fixing up).
    pub fn extend_raw(&mut self, more: Vec<Sym>) {
        self.syms.extend(more);
        self.syms.sort_by_key(|s| s.start);
    }

    /// The symbol containing `addr` (perf's `symbols__find`: `start <= addr < end`).
    pub fn find(&self, addr: u64) -> Option<&Sym> {
        let i = self.syms.partition_point(|s| s.start <= addr);
        let mut k = i;
        // Overlapping symbols: perf's rb-tree search walks from the root;
        // checking the few candidates below `addr` is close enough.
        for _ in 0..4 {
            k = k.checked_sub(1)?;
            let s = self.syms.get(k)?;
            if addr < s.end {
                return Some(s);
            }
            if k + 1 < i {
                break;
            }
        }
        None
    }

    /// Looks a symbol up by exact name.
    pub fn by_name(&self, name: &str) -> Option<&Sym> {
        self.syms.iter().find(|s| s.name == name)
    }

    /// All symbols, sorted by start.
    pub fn symbols(&self) -> &[Sym] {
        &self.syms
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

/// Parsed `/proc/kallsyms`: the kernel table (module symbols keep their
/// `\t[module]` suffix in `name` until split) as perf loads it.
pub fn parse_kallsyms(text: &str) -> SymTab {
    let mut v = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ' ');
        let (Some(a), Some(t), Some(rest)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(a, 16) else {
            continue;
        };
        let Some(tc) = t.chars().next() else { continue };
        if !matches!(tc.to_ascii_uppercase(), 'T' | 'W' | 'D' | 'B') {
            continue;
        }
        if rest.starts_with('$') {
            continue;
        }
        let binding = if tc == 'W' || tc == 'w' {
            elf::STB_WEAK
        } else if tc.is_ascii_uppercase() {
            elf::STB_GLOBAL
        } else {
            elf::STB_LOCAL
        };
        v.push(Sym {
            start: addr,
            end: addr,
            name: rest.to_string(),
            binding,
        });
    }
    SymTab::new(v, true)
}

/// Splits a kallsyms name into `(symbol, module)`.
pub fn split_module(name: &str) -> (&str, Option<&str>) {
    match name.split_once('\t') {
        Some((n, m)) => (
            n,
            Some(m.trim().trim_start_matches('[').trim_end_matches(']')),
        ),
        None => (name, None),
    }
}

/// A JIT map (`/tmp/perf-PID.map`: `START SIZE NAME` in hex).
pub fn parse_perf_map(text: &str) -> SymTab {
    let mut v = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ' ');
        let (Some(a), Some(s), Some(n)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let (Ok(a), Ok(s)) = (
            u64::from_str_radix(a.trim_start_matches("0x"), 16),
            u64::from_str_radix(s.trim_start_matches("0x"), 16),
        ) else {
            continue;
        };
        v.push(Sym {
            start: a,
            end: a.saturating_add(s),
            name: n.to_string(),
            binding: elf::STB_GLOBAL,
        });
    }
    SymTab::new(v, false)
}

/// Demangles a C++ or Rust symbol the way perf shows it by default: Rust
/// without hashes, C++ without parameter lists. `None` when not mangled.
pub fn demangle(name: &str) -> Option<String> {
    if name.starts_with("_R") || (name.starts_with("_ZN") && name.ends_with('E')) {
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            let s = format!("{d:#}");
            if s != name {
                return Some(s);
            }
        }
    }
    if name.starts_with("_Z") {
        let sym = cpp_demangle::Symbol::new(name).ok()?;
        let opts = cpp_demangle::DemangleOptions::new()
            .no_params()
            .no_return_type();
        return sym.demangle_with_options(&opts).ok();
    }
    None
}

fn read_file(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|error| Error::Io {
        path: p.to_path_buf(),
        error,
    })
}

fn bad(p: &Path, e: impl std::fmt::Display) -> Error {
    Error::BadElf {
        path: p.to_path_buf(),
        why: e.to_string(),
    }
}

/// The GNU build id note of an ELF image.
pub fn build_id_of_bytes(data: &[u8]) -> Option<Vec<u8>> {
    use object::Object;
    let f = object::File::parse(data).ok()?;
    f.build_id().ok().flatten().map(|b| b.to_vec())
}

/// The build id of the ELF file at `path`.
pub fn build_id(path: &Path) -> Option<Vec<u8>> {
    build_id_of_bytes(&std::fs::read(path).ok()?)
}

/// The running kernel's build id (`/sys/kernel/notes`).
pub fn kernel_build_id() -> Option<Vec<u8>> {
    let b = std::fs::read("/sys/kernel/notes").ok()?;
    let mut o = 0usize;
    while o + 12 <= b.len() {
        let rd = |o: usize| {
            b.get(o..o + 4)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        };
        let (nsz, dsz, ty) = (rd(o)?, rd(o + 4)?, rd(o + 8)?);
        let name_end = o + 12 + nsz.div_ceil(4) * 4;
        let desc = b.get(name_end..name_end + dsz)?;
        if ty == 3 && b.get(o + 12..o + 12 + nsz) == Some(b"GNU\0") {
            return Some(desc.to_vec());
        }
        o = name_end + dsz.div_ceil(4) * 4;
    }
    None
}

/// Loads the symbols of a user-space ELF file on this host as perf does, in
/// file-offset space (`ip - map.start + map.pgoff` looks them up): the
/// `.symtab` of its separate debug file when [`crate::locate`] finds one with
/// the same build id, else its own. For containers pass the path under
/// `/proc/PID/root`.
pub fn load_elf(path: &Path) -> Result<SymTab> {
    let l = crate::locate::SymbolPaths::default().locate(&path.to_string_lossy(), None);
    load_elf_files(path, l.symtab.as_deref())
}

/// Loads symbols from `symtab_file` (a file with `.symtab`, e.g. a separate
/// debug file; `None`: `runtime`'s own `.symtab`, else `.dynsym`), with
/// addresses converted to file offsets through `runtime`'s program headers
/// and `@plt` entries synthesized from `runtime`.
pub fn load_elf_files(runtime_path: &Path, symtab_file: Option<&Path>) -> Result<SymTab> {
    load_symbols(runtime_path, symtab_file, None)
}

/// Loads a kernel image's (vmlinux) `.symtab` at its link-time addresses
/// plus `reloc` (the KASLR slide: the recorded `_text` minus the image's).
pub fn load_vmlinux(path: &Path, reloc: u64) -> Result<SymTab> {
    load_symbols(path, None, Some(reloc))
}

/// The address of `name` in an ELF image's `.symtab` (e.g. vmlinux's `_text`).
pub fn elf_symbol_address(path: &Path, name: &str) -> Result<Option<u64>> {
    use object::{Object, ObjectSymbol};
    let data = read_file(path)?;
    let f = object::File::parse(&data[..]).map_err(|e| bad(path, e))?;
    Ok(f.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address()))
}

fn load_symbols(
    runtime_path: &Path,
    symtab_file: Option<&Path>,
    absolute: Option<u64>,
) -> Result<SymTab> {
    let path = runtime_path;
    let runtime = read_file(path)?;
    let syms_data: Option<(PathBuf, Vec<u8>)> = match symtab_file {
        Some(p) if p != path => Some((p.to_path_buf(), read_file(p)?)),
        _ => None,
    };
    let rt = ElfFile64::<Endianness>::parse(&runtime[..]).map_err(|e| bad(path, e))?;
    let (origin, sdata) = match &syms_data {
        Some((p, d)) => (p.clone(), &d[..]),
        None => (path.to_path_buf(), &runtime[..]),
    };
    let sf = ElfFile64::<Endianness>::parse(sdata).map_err(|e| bad(&origin, e))?;
    let e = sf.endian();
    let table = if !sf.elf_symbol_table().is_empty() {
        sf.elf_symbol_table()
    } else {
        sf.elf_dynamic_symbol_table()
    };
    let sections = sf.elf_section_table();
    let phdrs = rt.elf_program_headers();
    let re = rt.endian();
    let to_off = |v: u64, sh: Option<&object::elf::SectionHeader64<Endianness>>| -> u64 {
        if let Some(reloc) = absolute {
            return v.wrapping_add(reloc);
        }
        for p in phdrs {
            if p.p_type(re) == elf::PT_LOAD {
                let (va, memsz, off) = (p.p_vaddr(re), p.p_memsz(re), p.p_offset(re));
                if v >= va && v < va + memsz {
                    return v - va + off;
                }
            }
        }
        match sh {
            Some(s) => v.wrapping_sub(s.sh_addr(e)).wrapping_add(s.sh_offset(e)),
            None => v,
        }
    };
    let strings = table.strings();
    let mut v = Vec::new();
    for sym in table.iter() {
        let ty = sym.st_type();
        let shndx = sym.st_shndx(e);
        if sym.st_name(e) == 0 || shndx == elf::SHN_UNDEF {
            continue;
        }
        let is_func = ty == elf::STT_FUNC || ty == elf::STT_GNU_IFUNC;
        let is_obj = ty == elf::STT_OBJECT;
        let vis = sym.st_visibility();
        let is_label = ty == elf::STT_NOTYPE
            && shndx != elf::SHN_ABS
            && vis != elf::STV_HIDDEN
            && vis != elf::STV_INTERNAL;
        if !is_func && !is_obj && !is_label {
            continue;
        }
        let Ok(name) = sym.name(e, strings) else {
            continue;
        };
        if name.first() == Some(&b'$') {
            continue;
        }
        let sh = if shndx < elf::SHN_LORESERVE {
            sections.section(object::SectionIndex(shndx as usize)).ok()
        } else {
            None
        };
        if let Some(s) = sh {
            if s.sh_flags(e) & u64::from(elf::SHF_ALLOC) == 0 {
                continue;
            }
            if is_label && s.sh_flags(e) & u64::from(elf::SHF_EXECINSTR) == 0 {
                continue;
            }
        }
        let start = to_off(sym.st_value(e), sh);
        let name = String::from_utf8_lossy(name).into_owned();
        v.push(Sym {
            start,
            end: start.saturating_add(sym.st_size(e)),
            name: demangle(&name).unwrap_or(name),
            binding: sym.st_bind(),
        });
    }
    let mut tab = SymTab::new(v, absolute.is_some());
    if absolute.is_none() {
        tab.extend_raw(plt_symbols(&rt));
    }
    tab.origin = Some(origin);
    Ok(tab)
}

/// perf's `dso__synthesize_plt_symbols` for x86_64 (`.plt` / `.plt.sec`).
fn plt_symbols(rt: &ElfFile64<'_, Endianness>) -> Vec<Sym> {
    let e = rt.endian();
    let secs = rt.elf_section_table();
    let Some((_, plt)) = secs.section_by_name(e, b".plt") else {
        return Vec::new();
    };
    let rel = secs
        .section_by_name(e, b".rela.plt")
        .or_else(|| secs.section_by_name(e, b".rel.plt"));
    let Some((_, rel)) = rel else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut entry = plt.sh_entsize(e);
    let mut header = entry;
    let mut off = plt.sh_offset(e);
    let mut lazy = true;
    if let Some((_, sec)) = secs.section_by_name(e, b".plt.sec") {
        entry = sec.sh_entsize(e);
        header = entry;
        off = sec.sh_offset(e);
        lazy = false;
    }
    if entry == 0 {
        return Vec::new();
    }
    let Ok(data) = rel.data(e, rt.data()) else {
        return Vec::new();
    };
    let is_rela = rel.sh_type(e) == elf::SHT_RELA;
    let esz = if is_rela { 24 } else { 16 };
    let mut rels: Vec<(u64, u32)> = data
        .chunks_exact(esz)
        .filter_map(|c| {
            let r_off = u64::from_le_bytes(c.get(0..8)?.try_into().ok()?);
            let info = u64::from_le_bytes(c.get(8..16)?.try_into().ok()?);
            Some((r_off, (info >> 32) as u32))
        })
        .collect();
    // The first lazy entry is the PLT header, skipped unless every slot has
    // a relocation. Newer perf (6.2+) also names the header ".plt"; Debian's
    // perf 6.1, the reference here, leaves it unresolved (a raw address), so
    // do we.
    if lazy && rels.len() as u64 * entry != plt.sh_size(e) {
        off += header;
    }
    rels.sort_by_key(|r| r.0);
    let dyn_ = rt.elf_dynamic_symbol_table();
    let strings = dyn_.strings();
    for (_, idx) in rels {
        let name = dyn_
            .symbol(object::SymbolIndex(idx as usize))
            .ok()
            .and_then(|s| s.name(e, strings).ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        // perf names IFUNC slots without a symbol just "@plt".
        let name = format!("{}@plt", demangle(&name).unwrap_or(name));
        out.push(Sym {
            start: off,
            end: off.saturating_add(entry),
            name,
            binding: elf::STB_GLOBAL,
        });
        off = off.saturating_add(entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_rules() {
        let t = parse_kallsyms(
            "ffffffff81000000 T _text\nffffffff81000010 t a_alias\nffffffff81000010 T b\nffffffff81000040 r rodata\nffffffff81000100 T c\nffffffffc0000000 t m1\t[mod]\n",
        );
        // a_alias (zero length) loses to b; _text ends at a_alias.
        assert_eq!(
            t.find(0xffffffff81000020).map(|s| s.name.as_str()),
            Some("b")
        );
        assert_eq!(
            t.find(0xffffffff81000005).map(|s| s.name.as_str()),
            Some("_text")
        );
        // c is followed by a module symbol: ends at the next page.
        let c = t.find(0xffffffff81000100).unwrap();
        assert_eq!(c.end, 0xffffffff81002000);
        let m = t.find(0xffffffffc0000010).unwrap();
        assert_eq!(split_module(&m.name), ("m1", Some("mod")));
    }

    #[test]
    fn best_symbol() {
        let s = |n: &str, b: u8| Sym {
            start: 0,
            end: 4,
            name: n.into(),
            binding: b,
        };
        assert!(a_wins(
            &s("foo", elf::STB_GLOBAL),
            &s("foo_alias", elf::STB_WEAK)
        ));
        assert!(a_wins(
            &s("__GI_x", elf::STB_LOCAL),
            &s("____x", elf::STB_LOCAL)
        ));
        assert!(a_wins(
            &s("longer", elf::STB_LOCAL),
            &s("short", elf::STB_LOCAL)
        ));
    }

    #[test]
    fn libc_plt_and_offsets() {
        let p = Path::new("/usr/bin/dash");
        if !p.exists() {
            panic!("/usr/bin/dash is needed for this test (apt-get install dash)");
        }
        let t = load_elf(p).unwrap();
        assert!(t.symbols().iter().any(|s| s.name.ends_with("@plt")));
    }

    #[test]
    fn demangling_like_perf() {
        assert_eq!(
            demangle("_ZN4perf7session7Machine11load_symtab17h65cd25778553a4a9E").as_deref(),
            Some("perf::session::Machine::load_symtab")
        );
        assert_eq!(
            demangle("_RNvNvNtCsjrHSEGnQ3l9_3std2fs14read_to_string5inner").as_deref(),
            Some("std::fs::read_to_string::inner")
        );
        assert_eq!(demangle("_ZN3foo3barEv").as_deref(), Some("foo::bar"));
        assert_eq!(demangle("main"), None);
    }

    #[test]
    fn jit_map() {
        let t = parse_perf_map("7f0000001000 20 jitted_fn\n7f0000002000 10 other one\n");
        assert_eq!(t.find(0x7f000000101f).unwrap().name, "jitted_fn");
        assert!(t.find(0x7f0000001020).is_none());
        assert_eq!(t.find(0x7f0000002000).unwrap().name, "other one");
    }
}
