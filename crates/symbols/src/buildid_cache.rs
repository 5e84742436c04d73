//! Writing perf's build-id cache: the other half of [`crate::locate`], which
//! reads it ([`SymbolPaths::cache_link`], [`SymbolPaths::cache_kallsyms`]).
//!
//! The layout is perf 6.1's (`build_id_cache__add`, `build_id_cache__cachedir`,
//! `build_id_cache__find_debug`):
//!
//! - `DIR/<realpath of the object>/<id>/elf` — a copy of the object (mode of
//!   the original), `…/<id>/debug` — its separate debug file
//!   (`/usr/lib/debug/.build-id/xx/yyy….debug`, same build id; not for `.ko`),
//!   `…/<id>/probes` — perf's (here empty) SDT probe cache;
//! - `DIR/[kernel.kallsyms]/<id>/kallsyms` — a copy of `/proc/kallsyms`
//!   (mode 0755, as perf's `copyfile`); never when its addresses are hidden;
//! - `DIR/[vdso]/<id>/vdso` — the vDSO image (mode 0600) and `probes`;
//! - `DIR/.build-id/xx/yyy…` — a relative symlink to the entry's directory
//!   (`../../usr/bin/dash/<id>`), made last, so a reader that follows it finds
//!   a complete entry.
//!
//! Entries that exist are left alone (files, links and all); new files are
//! written to a temporary name in their directory, then linked into place.
//! perf hard-links objects into the cache when it can; this copies them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::locate::{file_build_id, hex, SymbolPaths};

/// perf's name for the running kernel's object.
pub const KERNEL: &str = "[kernel.kallsyms]";
/// perf's name for the vDSO.
pub const VDSO: &str = "[vdso]";

/// Why an object could not be cached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Reading the source or writing the cache failed.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// The file on this host is not the recorded object.
    #[error("{}: build id {} is not the recorded {}", .path.display(), .found.as_deref().map(hex).unwrap_or_else(|| "(none)".into()), hex(.want))]
    BuildIdMismatch {
        /// The host file.
        path: PathBuf,
        /// Its build id.
        found: Option<Vec<u8>>,
        /// The recorded one.
        want: Vec<u8>,
    },
    /// `/proc/kallsyms` shows zero addresses (`kptr_restrict`): perf does not cache it.
    #[error("{}: kernel addresses are hidden (kernel.kptr_restrict); not caching it", .path.display())]
    Restricted {
        /// The kallsyms file.
        path: PathBuf,
    },
    /// The object is not available on this host.
    #[error("{name}: {why}")]
    NotOnHost {
        /// The object's recorded name.
        name: String,
        /// Why.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |error| CacheError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// What [`BuildIdCache::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Files or the link were written.
    New,
    /// The entry was complete already; nothing was touched.
    Present,
}

/// One entry as `perf archive` packs it, paths relative to the cache dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `.build-id/xx/yyy…`: a symlink (or, in old caches, a regular file).
    pub link: PathBuf,
    /// The directory the link points to (`usr/bin/dash/<id>`,
    /// `[kernel.kallsyms]/<id>`); `None` for an old-style regular file.
    pub dir: Option<PathBuf>,
}

/// A build-id cache directory (perf's `--buildid-dir`, default `~/.debug`).
#[derive(Debug, Clone)]
pub struct BuildIdCache {
    dir: PathBuf,
}

impl BuildIdCache {
    /// The cache at `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> BuildIdCache {
        BuildIdCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the cache directory (mode 0755) if it is missing.
    pub fn create(&self) -> Result<(), CacheError> {
        mkdir(&self.dir)
    }

    /// A locator that reads this cache (and the host's standard paths).
    pub fn reader(&self) -> SymbolPaths {
        SymbolPaths {
            buildid_dir: Some(self.dir.clone()),
            ..SymbolPaths::default()
        }
    }

    fn link(&self, id: &[u8]) -> Result<PathBuf, CacheError> {
        self.reader()
            .cache_link(id)
            .ok_or_else(|| CacheError::NotOnHost {
                name: hex(id),
                why: "build id too short".into(),
            })
    }

    /// The entry directory of an object (`DIR/<path>/<id>`, perf's
    /// `build_id_cache__cachedir`); `path` should be the real path.
    pub fn object_dir(&self, path: &Path, id: &[u8]) -> PathBuf {
        let rel: PathBuf = path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.dir.join(rel).join(hex(id))
    }

    /// Caches the object perf recorded as `name` with build id `id` from
    /// this host: `[kernel.kallsyms]` from `host.proc_kallsyms` when
    /// `host.host_kernel_build_id` is `id`, `[vdso]` from this process's
    /// vDSO when its build id is `id`, a path from the file itself (its build
    /// id checked) and its debug file under `host.debug_root`.
    pub fn add(&self, name: &str, id: &[u8], host: &SymbolPaths) -> Result<Added, CacheError> {
        if name == KERNEL {
            if host.host_kernel_build_id.as_deref() != Some(id) {
                return Err(CacheError::NotOnHost {
                    name: name.into(),
                    why: format!(
                        "recorded on kernel build id {}, this host runs {}",
                        hex(id),
                        host.host_kernel_build_id
                            .as_deref()
                            .map(hex)
                            .unwrap_or_else(|| "an unknown build id".into())
                    ),
                });
            }
            return self.add_kallsyms(id, &host.proc_kallsyms);
        }
        if name == VDSO {
            let image = host_vdso().ok_or_else(|| CacheError::NotOnHost {
                name: name.into(),
                why: "this process has no readable [vdso]".into(),
            })?;
            let found = crate::symtab::build_id_of_bytes(&image);
            if found.as_deref() != Some(id) {
                return Err(CacheError::BuildIdMismatch {
                    path: PathBuf::from(VDSO),
                    found,
                    want: id.to_vec(),
                });
            }
            return self.add_vdso(id, &image);
        }
        if !name.starts_with('/') {
            return Err(CacheError::NotOnHost {
                name: name.into(),
                why: "not a file (perf caches only files, the kernel and the vDSO)".into(),
            });
        }
        self.add_object(Path::new(name), id, &host.debug_root)
    }

    /// Caches `src` (kallsyms text) as `[kernel.kallsyms]/<id>/kallsyms`.
    pub fn add_kallsyms(&self, id: &[u8], src: &Path) -> Result<Added, CacheError> {
        let dst = self
            .reader()
            .cache_kallsyms(id)
            .ok_or_else(|| CacheError::NotOnHost {
                name: KERNEL.into(),
                why: "no cache dir".into(),
            })?;
        let dir = dst.parent().map(Path::to_path_buf).unwrap_or_default();
        let link = self.link(id)?;
        if dst.is_file() && is_link(&link) {
            return Ok(Added::Present);
        }
        let text = fs::read(src).map_err(io(src))?;
        if kallsyms_restricted(&text) {
            return Err(CacheError::Restricted {
                path: src.to_path_buf(),
            });
        }
        mkdir(&dir)?;
        let mut new = write_new(&dst, 0o755, |f| f.write_all(&text))?;
        new |= self.symlink(&link, &dir)?;
        Ok(if new { Added::New } else { Added::Present })
    }

    /// Caches a vDSO image as `[vdso]/<id>/vdso`.
    pub fn add_vdso(&self, id: &[u8], image: &[u8]) -> Result<Added, CacheError> {
        let dir = self.dir.join(VDSO).join(hex(id));
        let link = self.link(id)?;
        mkdir(&dir)?;
        let mut new = write_new(&dir.join("vdso"), 0o600, |f| f.write_all(image))?;
        new |= write_new(&dir.join("probes"), 0o644, |_| Ok(()))?;
        new |= self.symlink(&link, &dir)?;
        Ok(if new { Added::New } else { Added::Present })
    }

    /// Caches the ELF file `path` (whose build id must be `id`) as
    /// `<realpath>/<id>/elf`, with `debug` from
    /// `debug_root/.build-id/xx/yyy….debug` when that exists with the same id.
    pub fn add_object(
        &self,
        path: &Path,
        id: &[u8],
        debug_root: &Path,
    ) -> Result<Added, CacheError> {
        let real = fs::canonicalize(path).map_err(io(path))?;
        let found = file_build_id(&real);
        if found.as_deref() != Some(id) {
            return Err(CacheError::BuildIdMismatch {
                path: real,
                found,
                want: id.to_vec(),
            });
        }
        let dir = self.object_dir(&real, id);
        let link = self.link(id)?;
        mkdir(&dir)?;
        let mode = fs::metadata(&real).map_err(io(&real))?.mode() & 0o7777;
        let mut new = write_new(&dir.join("elf"), mode, |f| copy_from(&real, f))?;
        let is_ko = real.extension().is_some_and(|e| e == "ko");
        if !is_ko {
            if let Some(debug) = find_debug(debug_root, id) {
                let mode = fs::metadata(&debug)
                    .map(|m| m.mode() & 0o7777)
                    .unwrap_or(0o644);
                new |= write_new(&dir.join("debug"), mode, |f| copy_from(&debug, f))?;
            }
        }
        new |= write_new(&dir.join("probes"), 0o644, |_| Ok(()))?;
        new |= self.symlink(&link, &dir)?;
        Ok(if new { Added::New } else { Added::Present })
    }

    /// `.build-id/xx/yyy…` → `../../<dir relative to the cache>`; an
    /// existing link (to wherever) is kept, as perf keeps it.
    fn symlink(&self, link: &Path, dir: &Path) -> Result<bool, CacheError> {
        if fs::symlink_metadata(link).is_ok() {
            return Ok(false);
        }
        let rel = dir.strip_prefix(&self.dir).unwrap_or(dir);
        let target = Path::new("../..").join(rel);
        if let Some(p) = link.parent() {
            mkdir(p)?;
        }
        match std::os::unix::fs::symlink(&target, link) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(CacheError::Io {
                path: link.to_path_buf(),
                error,
            }),
        }
    }

    /// Whether the cache has a usable entry for `id` (a link that resolves
    /// inside the cache).
    pub fn contains(&self, id: &[u8]) -> bool {
        self.entry(id).is_some()
    }

    /// The entry for `id`, as `perf archive` packs it (perf-archive:
    /// `.build-id/xx/yyy` and `readlink -f` of it, both relative to the
    /// cache dir). `None` when missing, dangling or pointing outside.
    pub fn entry(&self, id: &[u8]) -> Option<Entry> {
        let link = self.reader().cache_link(id)?;
        let rel_link = link.strip_prefix(&self.dir).ok()?.to_path_buf();
        let meta = fs::symlink_metadata(&link).ok()?;
        if meta.is_file() {
            return Some(Entry {
                link: rel_link,
                dir: None,
            });
        }
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = fs::canonicalize(&link).ok()?;
        let root = fs::canonicalize(&self.dir).ok()?;
        let rel = target.strip_prefix(&root).ok()?.to_path_buf();
        if rel.as_os_str().is_empty() || !target.is_dir() {
            return None;
        }
        Some(Entry {
            link: rel_link,
            dir: Some(rel),
        })
    }
}

fn is_link(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn mkdir(dir: &Path) -> Result<(), CacheError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(io(dir))
}

/// Copies `src` into `to`, keeping its modification time (as perf's hard
/// link shows it).
fn copy_from(src: &Path, to: &mut File) -> io::Result<()> {
    let mut f = File::open(src)?;
    io::copy(&mut f, to)?;
    if let Ok(t) = f.metadata().and_then(|m| m.modified()) {
        to.set_modified(t)?;
    }
    Ok(())
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `dst` unless it exists: into a temporary name beside it (mode
/// `mode`, umask ignored as with perf's `fchmod`), then hard-linked into
/// place (never replacing what a concurrent writer put there).
fn write_new(
    dst: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<bool, CacheError> {
    if fs::symlink_metadata(dst).is_ok() {
        return Ok(false);
    }
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dst.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        fill(&mut f)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.flush()
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CacheError::Io {
            path: dst.to_path_buf(),
            error,
        });
    }
    let placed = match fs::hard_link(&tmp, dst) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // A filesystem without hard links: an atomic rename instead.
        Err(_) => fs::rename(&tmp, dst).map(|()| true),
    };
    let _ = fs::remove_file(&tmp);
    placed.map_err(io(dst))
}

/// perf's `build_id_cache__find_debug`: `ROOT/.build-id/xx/yyy….debug`,
/// resolved, readable, and (unlike perf) with the same build id.
fn find_debug(debug_root: &Path, id: &[u8]) -> Option<PathBuf> {
    let h = hex(id);
    if h.len() <= 2 {
        return None;
    }
    let p = debug_root
        .join(".build-id")
        .join(&h[..2])
        .join(format!("{}.debug", &h[2..]));
    let real = fs::canonicalize(p).ok()?;
    (file_build_id(&real).as_deref() == Some(id)).then_some(real)
}

/// Whether kallsyms text shows only zero addresses (`kptr_restrict`).
fn kallsyms_restricted(text: &[u8]) -> bool {
    let mut seen = false;
    for line in text.split(|c| *c == b'\n').take(64) {
        let Some(addr) = line.split(|c| *c == b' ').next().filter(|a| !a.is_empty()) else {
            continue;
        };
        seen = true;
        if addr.iter().any(|c| *c != b'0') {
            return false;
        }
    }
    seen
}

/// This process's vDSO image (the same for every 64-bit process of the
/// running kernel), read from `/proc/self/mem`.
pub fn host_vdso() -> Option<Vec<u8>> {
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
    let (s, e) = line.split_whitespace().next()?.split_once('-')?;
    let (s, e) = (
        u64::from_str_radix(s, 16).ok()?,
        u64::from_str_radix(e, 16).ok()?,
    );
    let len = usize::try_from(e.checked_sub(s)?).ok()?;
    if len == 0 || len > 1 << 20 {
        return None;
    }
    let mut f = File::open("/proc/self/mem").ok()?;
    f.seek(SeekFrom::Start(s)).ok()?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tk-bidcache-{tag}-{}-{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn host() -> SymbolPaths {
        SymbolPaths::default()
    }

    #[test]
    fn object_round_trip_with_debug_file() {
        let libc = fs::canonicalize("/lib/x86_64-linux-gnu/libc.so.6").expect("libc6 is installed");
        let id = file_build_id(&libc).expect("libc has a build id");
        let d = tmpdir("obj");
        let c = BuildIdCache::new(&d);
        // The object as the kernel names it may be a symlinked path.
        assert_eq!(
            c.add("/lib/x86_64-linux-gnu/libc.so.6", &id, &host())
                .unwrap(),
            Added::New
        );
        let h = hex(&id);
        let entry = c.object_dir(&libc, &id);
        assert_eq!(
            fs::read(entry.join("elf")).unwrap(),
            fs::read(&libc).unwrap()
        );
        assert_eq!(
            fs::metadata(entry.join("elf")).unwrap().mode() & 0o777,
            fs::metadata(&libc).unwrap().mode() & 0o777
        );
        assert_eq!(fs::metadata(entry.join("probes")).unwrap().len(), 0);
        let link = d.join(".build-id").join(&h[..2]).join(&h[2..]);
        let rel = libc.strip_prefix("/").unwrap();
        assert_eq!(
            fs::read_link(&link).unwrap(),
            Path::new("../..").join(rel).join(&h)
        );
        // The reader finds the copies, the debug file (libc6-dbg) for the names.
        let r = SymbolPaths {
            buildid_dir: Some(d.clone()),
            symfs: Some(d.join("no-such-root")),
            ..SymbolPaths::default()
        };
        let l = r.locate(&libc.to_string_lossy(), Some(&id));
        assert_eq!(l.runtime, Some(link.join("elf")));
        assert!(
            entry.join("debug").is_file(),
            "libc6-dbg's /usr/lib/debug/.build-id/{}/{}.debug is installed",
            &h[..2],
            &h[2..]
        );
        assert_eq!(
            file_build_id(&entry.join("debug")).as_deref(),
            Some(&id[..])
        );
        assert_eq!(l.symtab, Some(link.join("debug")));
        assert_eq!(l.dwarf, Some(link.join("debug")));
        // Idempotent: nothing is rewritten.
        let before = fs::metadata(entry.join("elf")).unwrap().ino();
        assert_eq!(
            c.add(&libc.to_string_lossy(), &id, &host()).unwrap(),
            Added::Present
        );
        assert_eq!(fs::metadata(entry.join("elf")).unwrap().ino(), before);
        // No temporary files are left behind.
        let left: Vec<_> = fs::read_dir(&entry)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["debug", "elf", "probes"]);
        assert_eq!(
            c.entry(&id),
            Some(Entry {
                link: PathBuf::from(".build-id").join(&h[..2]).join(&h[2..]),
                dir: Some(rel.join(&h)),
            })
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mismatched_object_is_not_cached() {
        let dash = Path::new("/usr/bin/dash");
        let mut id = file_build_id(dash).expect("dash has a build id");
        id[0] ^= 0xff;
        let d = tmpdir("mismatch");
        let c = BuildIdCache::new(&d);
        let e = c.add("/usr/bin/dash", &id, &host()).unwrap_err();
        assert!(matches!(e, CacheError::BuildIdMismatch { .. }), "{e}");
        assert!(!c.contains(&id));
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn kallsyms_round_trip() {
        let d = tmpdir("kallsyms");
        let src = d.join("src-kallsyms");
        fs::write(
            &src,
            "ffffffff81000000 T _text\nffffffff81000100 T start_kernel\n",
        )
        .unwrap();
        let id = vec![0x24, 0xa3, 0x59, 0x8f];
        let host = SymbolPaths {
            host_kernel_build_id: Some(id.clone()),
            proc_kallsyms: src.clone(),
            ..SymbolPaths::default()
        };
        let cache = d.join("cache");
        let c = BuildIdCache::new(&cache);
        assert_eq!(c.add(KERNEL, &id, &host).unwrap(), Added::New);
        assert_eq!(c.add(KERNEL, &id, &host).unwrap(), Added::Present);
        let r = c.reader();
        let k = r.cache_kallsyms(&id).unwrap();
        assert_eq!(fs::read(&k).unwrap(), fs::read(&src).unwrap());
        assert_eq!(fs::metadata(&k).unwrap().mode() & 0o777, 0o755);
        assert_eq!(
            fs::read_link(r.cache_link(&id).unwrap()).unwrap(),
            PathBuf::from("../../[kernel.kallsyms]/24a3598f")
        );
        // Another host (its kernel is not the recorded one) reads the copy.
        let other = SymbolPaths {
            buildid_dir: Some(cache.clone()),
            host_kernel_build_id: Some(vec![1, 2, 3]),
            ..SymbolPaths::default()
        };
        assert_eq!(
            other.kernel(Some(&id), None),
            crate::locate::KernelSource::Kallsyms(k)
        );
        // Another kernel's id is never cached from this host.
        assert!(matches!(
            c.add(KERNEL, &[9, 9, 9], &host),
            Err(CacheError::NotOnHost { .. })
        ));
        // Hidden addresses: perf does not cache them.
        fs::write(&src, "0000000000000000 T _text\n0000000000000000 T x\n").unwrap();
        let id2 = vec![7, 7, 7, 7];
        let e = c.add_kallsyms(&id2, &src).unwrap_err();
        assert!(matches!(e, CacheError::Restricted { .. }), "{e}");
        assert!(!c.contains(&id2));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn vdso_round_trip() {
        let image = host_vdso().expect("this process has a vDSO");
        let id = crate::symtab::build_id_of_bytes(&image).expect("the vDSO has a build id");
        let d = tmpdir("vdso");
        let c = BuildIdCache::new(&d);
        assert_eq!(c.add(VDSO, &id, &host()).unwrap(), Added::New);
        let e = c.entry(&id).unwrap();
        let dir = d.join(e.dir.unwrap());
        assert_eq!(dir, d.join("[vdso]").join(hex(&id)));
        assert_eq!(fs::read(dir.join("vdso")).unwrap(), image);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn entry_outside_the_cache_is_refused() {
        let d = tmpdir("escape");
        let c = BuildIdCache::new(d.join("cache"));
        let id = [0xab, 0xcd, 0xef];
        let link = c.reader().cache_link(&id).unwrap();
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("../../../", &link).unwrap();
        assert_eq!(c.entry(&id), None);
        fs::remove_dir_all(&d).unwrap();
    }
}
