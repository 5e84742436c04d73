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

/// Shell-style glob match (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`), linear in the
/// text for every pattern (one backtrack point: the last `*`). The one glob of
/// tracekit: events, functions, symbols, probes, filters.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn inner(p: &[char], t: &[char]) -> bool {
        let (mut pi, mut ti) = (0, 0);
        let (mut star_p, mut star_t) = (None::<usize>, 0);
        while ti < t.len() {
            if pi < p.len() {
                match p[pi] {
                    '*' => {
                        star_p = Some(pi);
                        star_t = ti;
                        pi += 1;
                        continue;
                    }
                    '?' => {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                    '[' => {
                        if let Some((matched, next)) = class(p, pi, t[ti]) {
                            if matched {
                                pi = next;
                                ti += 1;
                                continue;
                            }
                        } else if t[ti] == '[' {
                            pi += 1;
                            ti += 1;
                            continue;
                        }
                    }
                    c if c == t[ti] => {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            match star_p {
                Some(sp) => {
                    pi = sp + 1;
                    star_t += 1;
                    ti = star_t;
                }
                None => return false,
            }
        }
        while pi < p.len() && p[pi] == '*' {
            pi += 1;
        }
        pi == p.len()
    }
    fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
        let mut i = start + 1;
        let negate = matches!(p.get(i), Some('!') | Some('^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() {
            if p[i] == ']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    matched = true;
                }
                i += 1;
            }
        }
        None
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    inner(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn one_glob() {
        assert!(glob("vfs_*", "vfs_read"));
        assert!(glob("sched:sched_[sw]*", "sched:sched_switch"));
        assert!(glob("[!x]y?", "ayz"));
        assert!(!glob("[!a]y?", "ayz"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "aaaa"));
        // Linear time on patterns that are exponential for naive recursion.
        let t = "a".repeat(10_000);
        assert!(!glob(&format!("{}b", "*a".repeat(500)), &t));
    }
}
