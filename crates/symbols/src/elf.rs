//! ELF files: function symbols, virtual address → file offset through the
//! `PT_LOAD` segments (what a uprobe's `PATH:OFFSET` needs: the offset is in
//! the file, not in memory), the build id, and USDT `stapsdt` notes.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};

use crate::error::{Error, Result};

/// A function symbol.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ElfSymbol {
    /// Symbol name (versioned names keep their `@` suffix stripped).
    pub name: String,
    /// Virtual address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// From `.dynsym` (exported) rather than `.symtab`.
    pub dynamic: bool,
}

/// A USDT probe (`.note.stapsdt`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UsdtProbe {
    /// Provider.
    pub provider: String,
    /// Probe name.
    pub name: String,
    /// Virtual address of the probe site (adjusted for `.stapsdt.base`).
    pub addr: u64,
    /// File offset of the probe site.
    pub offset: u64,
    /// File offset of the semaphore (`REF_CTR_OFFSET`), if any.
    pub semaphore_offset: Option<u64>,
    /// The argument description (`-4@%edi 8@%rsi`).
    pub args: String,
}

/// Segment mapping for address → offset.
#[derive(Debug, Clone, Copy)]
struct Load {
    vaddr: u64,
    memsz: u64,
    offset: u64,
    filesz: u64,
}

/// A parsed ELF file (memory-mapped).
pub struct ElfFile {
    path: PathBuf,
    map: Mmap,
}

impl std::fmt::Debug for ElfFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfFile").field("path", &self.path).finish()
    }
}

impl ElfFile {
    /// Opens and maps `path` (which must be an ELF file).
    pub fn open(path: &Path) -> Result<ElfFile> {
        let io = |error| Error::Io {
            path: path.to_path_buf(),
            error,
        };
        let f = File::open(path).map_err(io)?;
        // SAFETY: read-only private mapping; the file may change under us,
        // which at worst gives wrong symbols, never UB in safe code that
        // only reads bytes through bounds-checked slices.
        let map = unsafe { Mmap::map(&f) }.map_err(io)?;
        let me = ElfFile {
            path: path.to_path_buf(),
            map,
        };
        me.parse()?;
        Ok(me)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn parse(&self) -> Result<object::File<'_>> {
        object::File::parse(&*self.map).map_err(|e| Error::BadElf {
            path: self.path.clone(),
            why: e.to_string(),
        })
    }

    fn loads(&self) -> Result<Vec<Load>> {
        let f = self.parse()?;
        Ok(f.segments()
            .map(|s| {
                let (offset, filesz) = s.file_range();
                Load {
                    vaddr: s.address(),
                    memsz: s.size(),
                    offset,
                    filesz,
                }
            })
            .collect())
    }

    /// Function symbols from `.symtab` and `.dynsym`, deduplicated by name,
    /// sorted by name.
    pub fn functions(&self) -> Result<Vec<ElfSymbol>> {
        let f = self.parse()?;
        let mut out: Vec<ElfSymbol> = Vec::new();
        let mut push = |sym: object::Symbol<'_, '_>, dynamic: bool| {
            if sym.kind() != SymbolKind::Text || sym.is_undefined() || sym.address() == 0 {
                return;
            }
            if let Ok(name) = sym.name() {
                let name = name.split('@').next().unwrap_or(name);
                if !name.is_empty() {
                    out.push(ElfSymbol {
                        name: name.to_string(),
                        addr: sym.address(),
                        size: sym.size(),
                        dynamic,
                    });
                }
            }
        };
        for s in f.symbols() {
            push(s, false);
        }
        for s in f.dynamic_symbols() {
            push(s, true);
        }
        out.sort_by(|a, b| (&a.name, a.dynamic).cmp(&(&b.name, b.dynamic)));
        out.dedup_by(|a, b| a.name == b.name);
        Ok(out)
    }

    /// Finds a function symbol by exact name.
    pub fn function(&self, name: &str) -> Result<ElfSymbol> {
        let funcs = self.functions()?;
        if let Some(s) = funcs.iter().find(|s| s.name == name) {
            return Ok(s.clone());
        }
        let mut sugg: Vec<String> = funcs
            .iter()
            .filter(|s| s.name.contains(name) || name.contains(s.name.as_str()) && s.name.len() > 3)
            .map(|s| s.name.clone())
            .collect();
        sugg.sort_by_key(|s| s.len());
        sugg.truncate(5);
        Err(Error::NotFound {
            what: "symbol",
            name: format!("{name} in {}", self.path.display()),
            suggestions: sugg,
        })
    }

    /// File offset of a virtual address (the `PT_LOAD` that contains it).
    pub fn file_offset(&self, vaddr: u64) -> Result<Option<u64>> {
        Ok(self.loads()?.iter().find_map(|l| {
            if vaddr >= l.vaddr && vaddr < l.vaddr.saturating_add(l.memsz) {
                let off = vaddr - l.vaddr;
                (off < l.filesz).then(|| l.offset + off)
            } else {
                None
            }
        }))
    }

    /// The GNU build id, as hex.
    pub fn build_id(&self) -> Result<Option<String>> {
        let f = self.parse()?;
        Ok(f.build_id()
            .ok()
            .flatten()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect()))
    }

    /// USDT probes from `.note.stapsdt`.
    pub fn usdt(&self) -> Result<Vec<UsdtProbe>> {
        let f = self.parse()?;
        let Some(sec) = f.section_by_name(".note.stapsdt") else {
            return Ok(Vec::new());
        };
        let data = sec.data().map_err(|e| Error::BadElf {
            path: self.path.clone(),
            why: e.to_string(),
        })?;
        let actual_base = f.section_by_name(".stapsdt.base").map(|s| s.address());
        let little = f.is_little_endian();
        let wide = f.is_64();
        let loads = self.loads()?;
        let to_off = |va: u64| {
            loads.iter().find_map(|l| {
                (va >= l.vaddr && va < l.vaddr.saturating_add(l.memsz) && va - l.vaddr < l.filesz)
                    .then(|| l.offset + (va - l.vaddr))
            })
        };
        let rd32 = |b: &[u8], o: usize| -> Option<u32> {
            let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
            Some(if little {
                u32::from_le_bytes(s)
            } else {
                u32::from_be_bytes(s)
            })
        };
        let rdaddr = |b: &[u8], o: usize| -> Option<u64> {
            if wide {
                let s: [u8; 8] = b.get(o..o + 8)?.try_into().ok()?;
                Some(if little {
                    u64::from_le_bytes(s)
                } else {
                    u64::from_be_bytes(s)
                })
            } else {
                rd32(b, o).map(u64::from)
            }
        };
        let align4 = |x: usize| (x + 3) & !3;
        let mut out = Vec::new();
        let mut pos = 0usize;
        while pos + 12 <= data.len() {
            let (Some(namesz), Some(descsz), Some(ty)) =
                (rd32(data, pos), rd32(data, pos + 4), rd32(data, pos + 8))
            else {
                break;
            };
            let name_start = pos + 12;
            let desc_start = name_start + align4(namesz as usize);
            let next = desc_start + align4(descsz as usize);
            if next > data.len() || next <= pos {
                break;
            }
            let name = &data[name_start..name_start + namesz as usize];
            if ty == 3 && name.starts_with(b"stapsdt") {
                let desc = &data[desc_start..desc_start + descsz as usize];
                let w = if wide { 8 } else { 4 };
                if let (Some(pc), Some(base), Some(sem)) =
                    (rdaddr(desc, 0), rdaddr(desc, w), rdaddr(desc, 2 * w))
                {
                    let strs: Vec<String> = desc
                        .get(3 * w..)
                        .unwrap_or(&[])
                        .split(|b| *b == 0)
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect();
                    let pc = match actual_base {
                        Some(ab) => pc.wrapping_add(ab).wrapping_sub(base),
                        None => pc,
                    };
                    if let Some(offset) = to_off(pc) {
                        out.push(UsdtProbe {
                            provider: strs.first().cloned().unwrap_or_default(),
                            name: strs.get(1).cloned().unwrap_or_default(),
                            addr: pc,
                            offset,
                            semaphore_offset: if sem == 0 { None } else { to_off(sem) },
                            args: strs.get(2).cloned().unwrap_or_default(),
                        });
                    }
                }
            }
            pos = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn libc() -> PathBuf {
        [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("libc.so.6 not found: install libc6")
    }

    #[test]
    fn libc_symbol_offsets() {
        let e = ElfFile::open(&libc()).unwrap();
        let s = e.function("openat").unwrap();
        let off = e.file_offset(s.addr).unwrap().unwrap();
        // libc's text segment maps vaddr == offset on x86_64 Debian, but the
        // arithmetic must hold in general: offset lies in the file.
        assert!(off < std::fs::metadata(libc()).unwrap().len());
        assert!(e.functions().unwrap().len() > 1000);
        assert!(e.build_id().unwrap().is_some());
        let err = e.function("opneat").unwrap_err().to_string();
        assert!(err.contains("symbol 'opneat"), "{err}");
    }

    #[test]
    fn vaddr_and_offset_differ_in_data_segments() {
        // /usr/bin/true: .data vaddr 0x9160 ↔ offset 0x8160 on Debian.
        let e = ElfFile::open(Path::new("/usr/bin/true")).unwrap();
        let loads = e.loads().unwrap();
        assert!(loads.iter().any(|l| l.vaddr != l.offset), "{loads:?}");
        for l in loads {
            assert_eq!(e.file_offset(l.vaddr).unwrap(), Some(l.offset));
        }
    }

    #[test]
    fn usdt_notes_and_semaphores() {
        // libstdc++ carries libstdcxx:throw/catch USDT notes (no semaphores).
        let e = ElfFile::open(Path::new("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"))
            .expect("needs libstdc++6");
        let u = e.usdt().unwrap();
        let c = u
            .iter()
            .find(|p| p.provider == "libstdcxx" && p.name == "catch")
            .expect("libstdcxx:catch");
        assert_eq!(c.semaphore_offset, None);
        assert!(c.args.contains('@'));
        assert_eq!(e.file_offset(c.addr).unwrap(), Some(c.offset));
        // python3.11 has probes with semaphores (in .probes, a data section).
        let py = ElfFile::open(Path::new("/usr/bin/python3.11")).expect("needs python3.11");
        let p = py.usdt().unwrap();
        let gc = p
            .iter()
            .find(|p| p.name == "gc__done")
            .expect("python:gc__done");
        let sem = gc.semaphore_offset.expect("semaphore");
        assert!(sem > 0 && sem < std::fs::metadata("/usr/bin/python3.11").unwrap().len());
    }

    #[test]
    fn not_elf_is_an_error() {
        let e = ElfFile::open(Path::new("/etc/hostname")).unwrap_err();
        assert!(e.to_string().contains("not a valid ELF"));
    }
}
