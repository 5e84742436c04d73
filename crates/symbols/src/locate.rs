//! Where a binary's symbols and debug info live: one locator shared by the
//! perf side (naming sampled addresses) and probes (DWARF names for uprobes).
//!
//! The rules are perf 6.1's (`dso__load`, `dso__read_binary_type_filename`,
//! `dso__load_kernel_sym`, `dso__find_kallsyms`):
//!
//! - user objects: candidates in perf's order — the `.gnu_debuglink` target,
//!   the build-id cache (`BUILDID_DIR/.build-id/xx/yyy…/elf`, then `…/debug`),
//!   `/usr/lib/debug/PATH.debug`, `/usr/lib/debug/PATH`,
//!   `/usr/lib/debug/.build-id/xx/yyy….debug`, then the file itself — every
//!   path except the build-id cache under `--symfs`. A candidate is only used
//!   when its build id equals the recorded one (perf's `symsrc__init`
//!   rejects every mismatched image), so a changed file never lends its names.
//! - the kernel: `--kallsyms FILE` (taken as given), `-k/--vmlinux FILE`
//!   (build id checked), the standard vmlinux paths under `--symfs`; with a
//!   symfs only the kallsyms of a build-id cache inside it (an unpacked
//!   `perf archive`; perf itself stops at the vmlinux paths); otherwise `/proc/kallsyms` only when the running
//!   kernel is the recorded one (or the recording has no build id), else the
//!   build-id cache's `[kernel.kallsyms]/ID/kallsyms`. No source → raw
//!   addresses, as perf prints them.
//!
//! Nothing here reads the environment: the caller passes `--symfs`,
//! `--buildid-dir` (perf's default is `$HOME/.debug`) and the rest.

use std::path::{Path, PathBuf};

use object::Object;

/// Lower-case hex of a build id.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where symbol files are looked for (perf's `--symfs`, `--buildid-dir`,
/// `--kallsyms`, `-k/--vmlinux`).
#[derive(Debug, Clone)]
pub struct SymbolPaths {
    /// Prefix for every system path (perf's `--symfs`).
    pub symfs: Option<PathBuf>,
    /// The build-id cache (perf's `--buildid-dir`, default `~/.debug`);
    /// `None` disables it.
    pub buildid_dir: Option<PathBuf>,
    /// The kernel's symbols as a kallsyms file (perf's `--kallsyms`).
    pub kallsyms: Option<PathBuf>,
    /// The kernel's symbols from a vmlinux ELF (perf's `-k/--vmlinux`).
    pub vmlinux: Option<PathBuf>,
    /// Root of separate debug files (`/usr/lib/debug`).
    pub debug_root: PathBuf,
    /// The running kernel's build id (`/sys/kernel/notes`); the caller
    /// fills it (see [`crate::symtab::kernel_build_id`]) so tests can
    /// pretend to be another host.
    pub host_kernel_build_id: Option<Vec<u8>>,
    /// Where the running kernel's kallsyms is (`/proc/kallsyms`).
    pub proc_kallsyms: PathBuf,
}

impl Default for SymbolPaths {
    fn default() -> Self {
        SymbolPaths {
            symfs: None,
            buildid_dir: None,
            kallsyms: None,
            vmlinux: None,
            debug_root: PathBuf::from("/usr/lib/debug"),
            host_kernel_build_id: None,
            proc_kallsyms: PathBuf::from("/proc/kallsyms"),
        }
    }
}

/// Which rule found a candidate (perf's `DSO_BINARY_TYPE__*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `.gnu_debuglink` target next to the object or under the debug root.
    Debuglink,
    /// `BUILDID_DIR/.build-id/xx/yyy/elf`.
    BuildIdCache,
    /// `BUILDID_DIR/.build-id/xx/yyy/debug`.
    BuildIdCacheDebug,
    /// `/usr/lib/debug/PATH.debug`.
    FedoraDebuginfo,
    /// `/usr/lib/debug/PATH`.
    UbuntuDebuginfo,
    /// `/usr/lib/debug/.build-id/xx/yyy.debug`.
    BuildIdDebuginfo,
    /// The object's own path (under the symfs).
    SystemPath,
}

/// One file that may hold an object's symbols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The file.
    pub path: PathBuf,
    /// The rule that named it.
    pub origin: Origin,
}

/// Why a candidate was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// Its build id (`None`: missing or unreadable).
    pub build_id: Option<Vec<u8>>,
}

/// The files chosen for one object.
#[derive(Debug, Clone, Default)]
pub struct Located {
    /// The first matching file with a `.symtab` (the names).
    pub symtab: Option<PathBuf>,
    /// The first matching file with a `.dynsym` (program headers, PLT).
    pub runtime: Option<PathBuf>,
    /// The first matching file with `.debug_info` (DWARF).
    pub dwarf: Option<PathBuf>,
    /// Existing candidates skipped because their build id differs.
    pub rejected: Vec<Rejected>,
}

impl Located {
    /// Whether any usable file was found.
    pub fn found(&self) -> bool {
        self.symtab.is_some() || self.runtime.is_some()
    }
}

/// Where the kernel's symbols come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSource {
    /// A kallsyms-format file.
    Kallsyms(PathBuf),
    /// A vmlinux ELF image.
    Vmlinux(PathBuf),
    /// Nothing usable: addresses stay raw; the reason for the warning.
    None(String),
}

/// What one ELF file offers (read once per candidate).
#[derive(Debug, Clone, Default)]
struct Probe {
    build_id: Option<Vec<u8>>,
    symtab: bool,
    dynsym: bool,
    dwarf: bool,
    debuglink: Option<String>,
}

fn probe(path: &Path) -> Option<Probe> {
    if !path.is_file() {
        return None;
    }
    let f = std::fs::File::open(path).ok()?;
    // SAFETY: read-only private mapping; a file truncated under us can
    // fault, as with every mmap reader (perf's libelf does the same).
    let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
    let Ok(obj) = object::File::parse(&map[..]) else {
        return Some(Probe::default());
    };
    let has = |name: &str| {
        obj.section_by_name(name)
            .map(|s| {
                use object::ObjectSection;
                // Separate debug files keep NOBITS stubs of the runtime sections.
                !matches!(s.kind(), object::SectionKind::UninitializedData)
                    && s.file_range().is_some_and(|(_, n)| n > 0)
            })
            .unwrap_or(false)
    };
    Some(Probe {
        build_id: obj.build_id().ok().flatten().map(<[u8]>::to_vec),
        symtab: has(".symtab"),
        dynsym: has(".dynsym"),
        dwarf: has(".debug_info"),
        debuglink: obj
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(n, _)| String::from_utf8_lossy(n).into_owned()),
    })
}

/// The build id of an ELF file, if it has one.
pub fn file_build_id(path: &Path) -> Option<Vec<u8>> {
    probe(path)?.build_id
}

impl SymbolPaths {
    /// `path` under the symfs (perf's `__symbol__join_symfs`).
    pub fn join_symfs(&self, path: &Path) -> PathBuf {
        match &self.symfs {
            Some(fs) => fs.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }

    /// The build-id cache's link for `id` (`BUILDID_DIR/.build-id/xx/yyy…`).
    pub fn cache_link(&self, id: &[u8]) -> Option<PathBuf> {
        let dir = self.buildid_dir.as_ref()?;
        let h = hex(id);
        (h.len() > 2).then(|| dir.join(".build-id").join(&h[..2]).join(&h[2..]))
    }

    /// `BUILDID_DIR/[kernel.kallsyms]/ID/kallsyms`.
    pub fn cache_kallsyms(&self, id: &[u8]) -> Option<PathBuf> {
        let dir = self.buildid_dir.as_ref()?;
        Some(dir.join("[kernel.kallsyms]").join(hex(id)).join("kallsyms"))
    }

    /// Candidate files for the object recorded as `long_name`, in perf's order.
    pub fn candidates(&self, long_name: &str, build_id: Option<&[u8]>) -> Vec<Candidate> {
        let name = Path::new(long_name);
        let rel = name.strip_prefix("/").unwrap_or(name);
        let own = self.join_symfs(name);
        let mut v = Vec::new();
        let mut push = |path: PathBuf, origin| v.push(Candidate { path, origin });
        // DEBUGLINK: read from the (symfs) object itself.
        if let Some(link) = probe(&own).and_then(|p| p.debuglink) {
            let dir = own.parent().unwrap_or(Path::new("/")).to_path_buf();
            push(PathBuf::from(&link), Origin::Debuglink);
            push(dir.join(&link), Origin::Debuglink);
            push(dir.join(".debug").join(&link), Origin::Debuglink);
            let dir_rel = dir.strip_prefix("/").unwrap_or(&dir);
            push(self.debug_root.join(dir_rel).join(&link), Origin::Debuglink);
        }
        if let Some(link) = build_id.and_then(|id| self.cache_link(id)) {
            // Old-style caches keep a regular file at the link itself.
            if link.is_file() {
                push(link.clone(), Origin::BuildIdCache);
            } else {
                push(link.join("elf"), Origin::BuildIdCache);
            }
            push(link.join("debug"), Origin::BuildIdCacheDebug);
        }
        let debug = self.join_symfs(&self.debug_root);
        let mut fedora = debug.join(rel).into_os_string();
        fedora.push(".debug");
        push(PathBuf::from(fedora), Origin::FedoraDebuginfo);
        push(debug.join(rel), Origin::UbuntuDebuginfo);
        if let Some(id) = build_id {
            let h = hex(id);
            if h.len() > 2 {
                push(
                    debug
                        .join(".build-id")
                        .join(&h[..2])
                        .join(format!("{}.debug", &h[2..])),
                    Origin::BuildIdDebuginfo,
                );
            }
        }
        push(own, Origin::SystemPath);
        v
    }

    /// Picks the files for `long_name`: the first candidate whose build id
    /// matches `build_id` (any candidate when none was recorded) for the
    /// symbol table, the runtime image and the DWARF.
    pub fn locate(&self, long_name: &str, build_id: Option<&[u8]>) -> Located {
        let mut out = Located::default();
        // Like perf: with no recorded id, the object's own id is the reference.
        let own_id;
        let want = match build_id {
            Some(id) => Some(id),
            None => {
                own_id = file_build_id(&self.join_symfs(Path::new(long_name)));
                own_id.as_deref()
            }
        };
        let mut seen = Vec::new();
        for c in self.candidates(long_name, want) {
            if seen.contains(&c.path) {
                continue;
            }
            seen.push(c.path.clone());
            let Some(p) = probe(&c.path) else { continue };
            if let Some(w) = want {
                if p.build_id.as_deref() != Some(w) {
                    out.rejected.push(Rejected {
                        path: c.path,
                        build_id: p.build_id,
                    });
                    continue;
                }
            }
            if p.symtab && out.symtab.is_none() {
                out.symtab = Some(c.path.clone());
            }
            if p.dynsym && out.runtime.is_none() {
                out.runtime = Some(c.path.clone());
            }
            if p.dwarf && out.dwarf.is_none() {
                out.dwarf = Some(c.path.clone());
            }
        }
        out
    }

    /// The file with DWARF for a binary on this host (uprobes): the binary
    /// itself, its separate debug file by build id or debuglink, or the
    /// build-id cache's copy — always with the binary's own build id.
    pub fn debuginfo(&self, binary: &Path) -> Option<PathBuf> {
        let id = file_build_id(binary);
        let name = binary.to_string_lossy();
        let l = self.locate(&name, id.as_deref());
        l.dwarf
    }

    /// The standard vmlinux paths perf tries (`vmlinux_path__init`), for
    /// kernel `release`.
    pub fn vmlinux_paths(release: &str) -> Vec<PathBuf> {
        [
            "vmlinux".to_string(),
            "/boot/vmlinux".into(),
            format!("/boot/vmlinux-{release}"),
            format!("/usr/lib/debug/boot/vmlinux-{release}"),
            format!("/lib/modules/{release}/build/vmlinux"),
            format!("/usr/lib/debug/lib/modules/{release}/vmlinux"),
            format!("/usr/lib/debug/boot/vmlinux-{release}.debug"),
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect()
    }

    /// Where the symbols of a kernel recorded with `build_id` (and
    /// `release`, from the recording's header) come from.
    pub fn kernel(&self, build_id: Option<&[u8]>, release: Option<&str>) -> KernelSource {
        if let Some(k) = &self.kallsyms {
            return KernelSource::Kallsyms(k.clone());
        }
        let matches = |p: &Path| match (build_id, file_build_id(p)) {
            (Some(w), Some(h)) => w == h.as_slice(),
            (None, _) => p.is_file(),
            _ => false,
        };
        if let Some(v) = &self.vmlinux {
            return if matches(v) {
                KernelSource::Vmlinux(v.clone())
            } else {
                KernelSource::None(format!(
                    "{}: build id {} does not match the recording's {}",
                    v.display(),
                    file_build_id(v)
                        .map(|h| hex(&h))
                        .unwrap_or_else(|| "(none)".into()),
                    build_id.map(hex).unwrap_or_default()
                ))
            };
        }
        if let Some(rel) = release {
            for p in Self::vmlinux_paths(rel) {
                let p = if p.is_absolute() {
                    self.join_symfs(&p)
                } else {
                    p
                };
                if matches(&p) {
                    return KernelSource::Vmlinux(p);
                }
            }
        }
        if let Some(fs) = &self.symfs {
            // perf stops here; tracekit also takes the kallsyms of the
            // symfs's own build-id cache (an unpacked `perf archive`).
            if let Some(p) = build_id.and_then(|id| self.cache_kallsyms(id)) {
                if p.is_file() && self.buildid_dir.as_ref().is_some_and(|d| d.starts_with(fs)) {
                    return KernelSource::Kallsyms(p);
                }
            }
            return KernelSource::None(format!(
                "no vmlinux with the recorded build id under --symfs {} and no --kallsyms",
                fs.display()
            ));
        }
        let Some(id) = build_id else {
            return KernelSource::Kallsyms(self.proc_kallsyms.clone());
        };
        if self.host_kernel_build_id.as_deref() == Some(id) {
            return KernelSource::Kallsyms(self.proc_kallsyms.clone());
        }
        if let Some(p) = self.cache_kallsyms(id) {
            if p.is_file() {
                return KernelSource::Kallsyms(p);
            }
        }
        KernelSource::None(format!(
            "the running kernel's build id is {}, not the recorded {}, and the build-id cache{} has no copy",
            self.host_kernel_build_id
                .as_deref()
                .map(hex)
                .unwrap_or_else(|| "unknown".into()),
            hex(id),
            self.buildid_dir
                .as_ref()
                .map(|d| format!(" {}", d.display()))
                .unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_order_is_perfs() {
        let p = SymbolPaths {
            symfs: Some("/fs".into()),
            buildid_dir: Some("/cache".into()),
            ..Default::default()
        };
        let c = p.candidates("/usr/bin/x", Some(&[0xab, 0xcd, 0xef]));
        let got: Vec<_> = c.iter().map(|c| (c.origin, c.path.clone())).collect();
        assert_eq!(
            got,
            vec![
                (
                    Origin::BuildIdCache,
                    PathBuf::from("/cache/.build-id/ab/cdef/elf")
                ),
                (
                    Origin::BuildIdCacheDebug,
                    PathBuf::from("/cache/.build-id/ab/cdef/debug")
                ),
                (
                    Origin::FedoraDebuginfo,
                    PathBuf::from("/fs/usr/lib/debug/usr/bin/x.debug")
                ),
                (
                    Origin::UbuntuDebuginfo,
                    PathBuf::from("/fs/usr/lib/debug/usr/bin/x")
                ),
                (
                    Origin::BuildIdDebuginfo,
                    PathBuf::from("/fs/usr/lib/debug/.build-id/ab/cdef.debug")
                ),
                (Origin::SystemPath, PathBuf::from("/fs/usr/bin/x")),
            ]
        );
    }

    #[test]
    fn kernel_rules() {
        let base = SymbolPaths {
            host_kernel_build_id: Some(vec![1, 2, 3]),
            ..Default::default()
        };
        // Same kernel: the running kallsyms.
        assert_eq!(
            base.kernel(Some(&[1, 2, 3]), None),
            KernelSource::Kallsyms("/proc/kallsyms".into())
        );
        // Another kernel, no cache: nothing (raw addresses), never /proc/kallsyms.
        assert!(matches!(
            base.kernel(Some(&[9, 9, 9]), None),
            KernelSource::None(_)
        ));
        // --kallsyms wins, unchecked.
        let k = SymbolPaths {
            kallsyms: Some("/x/kallsyms".into()),
            ..base.clone()
        };
        assert_eq!(
            k.kernel(Some(&[9, 9, 9]), None),
            KernelSource::Kallsyms("/x/kallsyms".into())
        );
        // A symfs without vmlinux or --kallsyms: nothing, even on the same kernel.
        let s = SymbolPaths {
            symfs: Some("/nonexistent-symfs".into()),
            ..base.clone()
        };
        assert!(matches!(
            s.kernel(Some(&[1, 2, 3]), None),
            KernelSource::None(_)
        ));
        // The cache's kallsyms for another kernel.
        let dir = std::env::temp_dir().join(format!("tk-locate-{}", std::process::id()));
        let kdir = dir.join("[kernel.kallsyms]").join("090909");
        std::fs::create_dir_all(&kdir).unwrap();
        std::fs::write(kdir.join("kallsyms"), "ffffffff81000000 T _text\n").unwrap();
        let c = SymbolPaths {
            buildid_dir: Some(dir.clone()),
            ..base
        };
        assert_eq!(
            c.kernel(Some(&[9, 9, 9]), None),
            KernelSource::Kallsyms(kdir.join("kallsyms"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mismatched_build_id_is_never_used() {
        let dash = Path::new("/usr/bin/dash");
        assert!(
            dash.exists(),
            "/usr/bin/dash is needed (apt-get install dash)"
        );
        let p = SymbolPaths::default();
        let real = file_build_id(dash).expect("dash has a build id");
        let l = p.locate("/usr/bin/dash", Some(&real));
        assert_eq!(l.runtime.as_deref(), Some(dash));
        let mut other = real.clone();
        other[0] ^= 0xff;
        let l = p.locate("/usr/bin/dash", Some(&other));
        assert!(!l.found());
        assert!(l.rejected.iter().any(|r| r.path == dash));
    }
}
