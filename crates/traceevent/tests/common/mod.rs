//! Shared test helpers: tracefs discovery (mounting it if needed), private
//! instances removed on drop, and loading formats from a tracefs tree.
#![allow(dead_code)]

pub mod tracedat;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use tracekit_traceevent::{Endian, EventRegistry, HeaderPage, LongSize};

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// The tracefs root; mounts tracefs if it is missing, panics with what is missing otherwise.
pub fn tracefs() -> PathBuf {
    let root = PathBuf::from(TRACEFS);
    if root.join("events").is_dir() {
        return root;
    }
    let st = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", TRACEFS])
        .status();
    assert!(
        root.join("events").is_dir(),
        "tracefs is not mounted at {TRACEFS} and `mount -t tracefs nodev {TRACEFS}` failed ({st:?}); \
         this test needs root and a kernel with CONFIG_FTRACE"
    );
    root
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A private tracefs instance, removed on drop (also while unwinding).
pub struct Instance {
    pub path: PathBuf,
}

impl Instance {
    pub fn new() -> Instance {
        let root = tracefs();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = root
            .join("instances")
            .join(format!("tk-te-{}-{n}", std::process::id()));
        std::fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("creating instance {}: {e}", path.display()));
        Instance { path }
    }

    pub fn write(&self, file: &str, value: &str) {
        let p = self.path.join(file);
        // append mode: never O_TRUNC on tracefs files
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("opening {}: {e}", p.display()));
        f.write_all(value.as_bytes())
            .unwrap_or_else(|e| panic!("writing {value:?} to {}: {e}", p.display()));
    }

    pub fn try_write(&self, file: &str, value: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path.join(file))?;
        f.write_all(value.as_bytes())
    }

    pub fn read(&self, file: &str) -> String {
        read_tracefs(&self.path.join(file))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = std::fs::write(self.path.join("tracing_on"), "0");
        // retry: rmdir fails with EBUSY while readers are open
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        eprintln!("warning: could not remove instance {}", self.path.display());
    }
}

/// Reads a tracefs file with large reads. `std::fs::read` is NOT safe here:
/// its 32-byte probe read makes `events/header_page`/`header_event` return
/// only their first 32 bytes (the next read returns 0) on 6.18.
pub fn read_tracefs(p: &Path) -> String {
    use std::io::Read;
    let mut f = std::fs::File::open(p).unwrap_or_else(|e| panic!("opening {}: {e}", p.display()));
    let mut v = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
        if n == 0 {
            break;
        }
        v.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&v).into_owned()
}

/// All `events/*/*/format` files under `dir`: (system, event dir name, text).
pub fn format_files(dir: &Path) -> Vec<(String, String, String)> {
    let mut v = vec![];
    let events = dir.join("events");
    let mut systems: Vec<_> = std::fs::read_dir(&events)
        .unwrap_or_else(|e| panic!("listing {}: {e}", events.display()))
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    systems.sort_by_key(|e| e.file_name());
    for s in systems {
        let sys = s.file_name().to_string_lossy().into_owned();
        let mut evs: Vec<_> = std::fs::read_dir(s.path()).unwrap().flatten().collect();
        evs.sort_by_key(|e| e.file_name());
        for e in evs {
            let f = e.path().join("format");
            if f.is_file() {
                v.push((
                    sys.clone(),
                    e.file_name().to_string_lossy().into_owned(),
                    read_tracefs(&f),
                ));
            }
        }
    }
    v
}

/// A registry with every format of the tracefs tree at `dir`.
pub fn registry_from(dir: &Path) -> EventRegistry {
    let hp = read_tracefs(&dir.join("events/header_page"));
    let hp = HeaderPage::parse(&hp).expect("header_page parses");
    let mut reg = EventRegistry::new(hp.long_size(), Endian::native());
    reg.set_header_page(hp);
    for (sys, name, text) in format_files(dir) {
        reg.add_format(&sys, &text)
            .unwrap_or_else(|e| panic!("{sys}/{name}/format: {e}"));
    }
    reg
}

pub fn long_size_of(n: usize) -> LongSize {
    LongSize::from_bytes(n).expect("long size 4 or 8")
}

/// `<workspace>/../shared/corpus/tracecmd`.
pub fn corpus_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/tracecmd");
    assert!(
        d.is_dir(),
        "the trace-cmd corpus is missing at {}",
        d.display()
    );
    d
}
