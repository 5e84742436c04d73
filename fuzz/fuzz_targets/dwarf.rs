//! Fuzzes the DWARF reader behind uprobe argument names and `probe funcs -V`
//! (`symbols::dwarf`): the input is an ELF image (debug file), read through a
//! memfd; every function found by name and by address is resolved with its
//! variables, types, members and entry locations. Errors are fine; panics,
//! hangs and unbounded allocations are not.
#![no_main]

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use symbols::dwarf::DebugFile;

fn memfd() -> &'static (RawFd, PathBuf) {
    static FD: OnceLock<(RawFd, PathBuf)> = OnceLock::new();
    FD.get_or_init(|| {
        // SAFETY: a valid NUL-terminated name.
        let fd = unsafe { libc::memfd_create(c"dwarf-fuzz".as_ptr(), 0) };
        assert!(fd >= 0, "memfd_create failed");
        (fd, PathBuf::from(format!("/proc/self/fd/{fd}")))
    })
}

fn put(data: &[u8]) -> bool {
    let (fd, _) = memfd();
    // SAFETY: fd is our memfd; the buffer is valid for its length.
    unsafe {
        libc::ftruncate(*fd, 0) == 0
            && libc::pwrite(*fd, data.as_ptr().cast(), data.len(), 0) == data.len() as isize
    }
}

fuzz_target!(|data: &[u8]| {
    if !put(data) {
        return;
    }
    let Ok(f) = DebugFile::open(&memfd().1) else {
        return;
    };
    let m = f.machine();
    let mut funcs = Vec::new();
    for name in ["main", "f", "g", "open", "read"] {
        if let Ok(v) = f.functions_named(name) {
            funcs.extend(v);
        }
    }
    for addr in [0u64, 0x1000, 0x1139, 0x1149, 0x401000, u64::MAX] {
        if let Ok(Some(func)) = f.function_at(addr) {
            funcs.push(func);
        }
        if let Ok(Some(func)) = f.function_for_symbol(addr, Some("main")) {
            funcs.push(func);
        }
    }
    for func in funcs.iter().take(16) {
        for v in func.variables() {
            let _ = v.location.fetch_arg(m);
            let _ = v.location.describe(m);
            let _ = f.member_names(&v.ty);
            if let Ok(Some(p)) = f.pointee(&v.ty) {
                let _ = f.member_names(&p);
                if let Some(first) = f.member_names(&p).first() {
                    let _ = f.member(&p, first);
                }
            }
        }
    }
});
