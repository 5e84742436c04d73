//! `symbols`: where things are in binaries and in the kernel's type info.
//!
//! - [`elf::ElfFile`]: function symbols of an ELF file, virtual address →
//!   file offset (the uprobe `PATH:OFFSET`), build id, and USDT (`stapsdt`)
//!   notes with their semaphores.
//! - [`btf::KernelBtf`]: kernel function signatures and struct member
//!   offsets from BTF (`/sys/kernel/btf/vmlinux`), so probe arguments can be
//!   named instead of written as registers.
//! - [`dwarf::DebugFile`]: a user-space function's parameters and locals
//!   from DWARF (the binary's or its separate debug file), with C types and
//!   where each one is at the function's entry (named uprobe arguments).
//!
//! A leaf crate: it depends on no other tracekit crate.
#![deny(missing_docs)]

pub mod btf;
pub mod buildid_cache;
pub mod dwarf;
pub mod elf;
mod error;
pub mod locate;
pub mod srcline;
pub mod symtab;

pub use error::{Error, Result};

/// Shell-style glob match (`*`, `?`), used to filter symbol lists.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}
