//! The friendly probe syntax (perf-probe style): `do_sys_openat2 dfd
//! filename:string`, `do_sys_openat2%return $retval`, `vfs_read
//! file->f_pos`, and for user space `-x /lib/…/libc.so.6 'openat
//! path=$arg2:string'`. Names come from BTF and are mapped to the
//! architecture's registers here, so it works on kernels that cannot resolve
//! names themselves; ELF symbols become file offsets for uprobes.

use std::path::Path;

use symbols::btf::{CType, KernelBtf, Signature};
use symbols::elf::ElfFile;

use super::arch::Arch;
use super::spec::{self, is_c_ident, KernelSupport, ProbeArg, ProbeKind, ProbeSpec};
use crate::error::{Error, Result};

/// Where a friendly probe goes.
#[derive(Debug, Clone)]
pub enum Target<'a> {
    /// A kernel function.
    Kernel,
    /// A user-space binary or library.
    User(&'a Path),
}

/// Options for building a probe from the friendly syntax.
#[derive(Debug, Clone)]
pub struct FriendlyOptions {
    /// Group for the event.
    pub group: String,
    /// Event name (default: from the function).
    pub event: Option<String>,
    /// Architecture (registers).
    pub arch: Arch,
}

fn invalid(value: &str, why: impl Into<String>) -> Error {
    Error::Invalid {
        what: "probe",
        value: value.to_string(),
        why: why.into(),
    }
}

/// The default group `tracekit_<user>` (SUDO_USER, else USER, else `default`).
pub fn default_group() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "default".into());
    let clean: String = user
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let clean = if clean.is_empty() {
        "default".into()
    } else {
        clean
    };
    format!("tracekit_{clean}")
}

fn event_name(func: &str, ret: bool) -> String {
    let mut s: String = func
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.chars().next().map(|c| c.is_ascii_digit()).unwrap_or(true) {
        s.insert(0, '_');
    }
    if ret {
        s.push_str("__return");
    }
    s.truncate(spec::MAX_EVENT_NAME_LEN - 1);
    s
}

/// The fetch type for a C type (`int` → `s32`, pointers → `x64`).
pub fn fetch_type(t: &CType) -> Option<String> {
    match t {
        CType::Int { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => {
            Some(format!("{}{}", if *signed { 's' } else { 'u' }, size * 8))
        }
        CType::Ptr(_) => Some("x64".into()),
        _ => None,
    }
}

fn is_char_ptr(t: &CType) -> bool {
    matches!(t, CType::Ptr(inner) if matches!(**inner, CType::Int { is_char: true, .. }))
}

/// Splits an argument word `[NAME=]EXPR[:TYPE]`.
fn split_arg(w: &str) -> (Option<String>, &str, Option<String>) {
    let (name, body) = match w.split_once('=') {
        Some((n, b)) if is_c_ident(n) => (Some(n.to_string()), b),
        _ => (None, w),
    };
    let (expr, ty) = match body.rsplit_once(':') {
        Some((e, t)) if !t.contains(')') => (e, Some(t.to_string())),
        _ => (body, None),
    };
    (name, expr, ty)
}

/// `$argN` (optionally read as a string) → the ABI's register.
fn positional_arg(
    whole: &str,
    arch: &Arch,
    n: usize,
    name: Option<String>,
    ty: Option<String>,
) -> Result<ProbeArg> {
    let reg = arch.arg(n).ok_or_else(|| {
        invalid(
            whole,
            format!("$arg{n} is not in a register on {}", arch.name),
        )
    })?;
    let string = matches!(ty.as_deref(), Some("string" | "ustring"));
    Ok(ProbeArg {
        name: name.or_else(|| Some(format!("arg{n}"))),
        fetch: if string { format!("+0({reg})") } else { reg },
        ty,
    })
}

/// Splits `FUNC[+OFF|%return]`.
fn split_place(place: &str) -> (&str, u64, bool) {
    if let Some(f) = place.strip_suffix("%return") {
        return (f, 0, true);
    }
    if let Some((f, off)) = place.split_once('+') {
        let o = off
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .or_else(|| off.parse().ok())
            .unwrap_or(u64::MAX);
        return (f, o, false);
    }
    (place, 0, false)
}

/// Resolves `a->b.c` against a BTF signature: the fetch expression and the
/// final type.
fn resolve_path(
    btf: &KernelBtf,
    sig: &Signature,
    arch: &Arch,
    path: &str,
    whole: &str,
) -> Result<(String, CType)> {
    // Split into the parameter and a chain of ("->"|".", member).
    let mut rest = path;
    let end = rest.find(['-', '.']).unwrap_or(rest.len());
    let pname = &rest[..end];
    rest = &rest[end..];
    let (idx, param) = sig
        .params
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == pname)
        .ok_or_else(|| {
            invalid(
                whole,
                format!(
                    "{} has no parameter '{pname}'; its parameters: {}",
                    sig.name,
                    sig.params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let mut fetch = arch.arg(idx + 1).ok_or_else(|| {
        invalid(
            whole,
            format!(
                "argument {} of {} is not in a register on {}",
                idx + 1,
                sig.name,
                arch.name
            ),
        )
    })?;
    let mut ty = param.ty.clone();
    // Pending byte offset inside the current struct (for '.' chains).
    let mut pending: Option<(u64, String)> = None;
    while !rest.is_empty() {
        let (arrow, after) = if let Some(a) = rest.strip_prefix("->") {
            (true, a)
        } else if let Some(a) = rest.strip_prefix('.') {
            (false, a)
        } else {
            return Err(invalid(
                whole,
                format!("cannot parse '{rest}' (use a->b or a.b)"),
            ));
        };
        let end = after.find(['-', '.']).unwrap_or(after.len());
        let member = &after[..end];
        rest = &after[end..];
        let struct_id = if arrow {
            // Dereference: flush the pending offset into the fetch.
            if let Some((off, base)) = pending.take() {
                fetch = format!("+{off}({base})");
            }
            match &ty {
                CType::Ptr(inner) => match **inner {
                    CType::Struct { id, .. } => id,
                    _ => {
                        return Err(invalid(
                            whole,
                            format!("'->{member}': {} is not a pointer to a struct", ty.c_name()),
                        ))
                    }
                },
                _ => {
                    return Err(invalid(
                        whole,
                        format!("'->{member}': {} is not a pointer", ty.c_name()),
                    ))
                }
            }
        } else {
            match &ty {
                CType::Struct { id, .. } => *id,
                _ => {
                    return Err(invalid(
                        whole,
                        format!("'.{member}': {} is not a struct", ty.c_name()),
                    ))
                }
            }
        };
        let (off, mty) = btf
            .member(struct_id, member)
            .map_err(|e| invalid(whole, e.to_string()))?;
        pending = Some(match pending {
            Some((o, b)) if !arrow => (o + off, b),
            _ => (off, fetch.clone()),
        });
        ty = mty;
    }
    if let Some((off, base)) = pending {
        // A member value: read memory at base+off.
        fetch = format!("+{off}({base})");
    }
    Ok((fetch, ty))
}

/// Builds a kernel probe from `FUNC[%return|+OFF] ARG…` using BTF (only
/// needed when arguments are named).
pub fn kernel_probe(
    words: &[String],
    opts: &FriendlyOptions,
    btf: Option<&KernelBtf>,
    btf_err: Option<&str>,
) -> Result<ProbeSpec> {
    let whole = words.join(" ");
    let place = words
        .first()
        .ok_or_else(|| invalid(&whole, "no function given"))?;
    let (func, off, ret) = split_place(place);
    if !is_c_ident(func) {
        return Err(invalid(
            &whole,
            format!("'{func}' is not a kernel function name"),
        ));
    }
    let mut sig: Option<Signature> = None;
    let mut get_sig = || -> Result<Signature> {
        if let Some(s) = &sig {
            return Ok(s.clone());
        }
        let b = btf.ok_or_else(|| {
            invalid(
                &whole,
                format!(
                    "argument names need BTF: {}",
                    btf_err.unwrap_or(
                        "BTF is not loaded (write registers instead, e.g. dfd=%di:s32 or $arg1)"
                    )
                ),
            )
        })?;
        let s = b
            .function(func)
            .map_err(|e| invalid(&whole, e.to_string()))?;
        sig = Some(s.clone());
        Ok(s)
    };
    let mut args = Vec::new();
    for w in &words[1..] {
        let (name, expr, ty) = split_arg(w);
        let named = expr
            .split("->")
            .next()
            .map(|h| is_c_ident(h.split('.').next().unwrap_or(h)))
            .unwrap_or(false);
        if expr == "$retval" {
            if !ret {
                return Err(invalid(&whole, "$retval needs a return probe: FUNC%return"));
            }
            let rty = btf.and_then(|_| get_sig().ok()).map(|s| s.ret);
            let (fetch, ty) = match (ty.as_deref(), &rty) {
                (Some("string" | "ustring"), _) => ("+0($retval)".to_string(), ty),
                (Some(_), _) => ("$retval".to_string(), ty),
                (None, Some(t)) if is_char_ptr(t) => ("$retval".to_string(), Some("x64".into())),
                (None, Some(t)) => ("$retval".to_string(), fetch_type(t)),
                (None, None) => ("$retval".to_string(), None),
            };
            args.push(ProbeArg {
                name: name.or_else(|| Some("ret".into())),
                fetch,
                ty,
            });
            continue;
        }
        if let Some(n) = expr
            .strip_prefix("$arg")
            .and_then(|n| n.parse::<usize>().ok())
        {
            args.push(positional_arg(&whole, &opts.arch, n, name, ty)?);
            continue;
        }
        if named && !expr.starts_with('$') {
            if ret {
                return Err(invalid(
                    &whole,
                    format!("'{expr}': parameters are not available at function return; probe the entry (without %return)"),
                ));
            }
            if off != 0 {
                return Err(invalid(
                    &whole,
                    format!("'{expr}': parameters are known only at the function entry (offset 0)"),
                ));
            }
            let s = get_sig()?;
            let b = btf.ok_or_else(|| invalid(&whole, "BTF is not loaded"))?;
            let (mut fetch, cty) = resolve_path(b, &s, &opts.arch, expr, &whole)?;
            let ty = match ty.as_deref() {
                Some("string" | "ustring") => {
                    if !fetch.starts_with('+') || matches!(cty, CType::Ptr(_)) {
                        fetch = format!("+0({fetch})");
                    }
                    ty
                }
                Some(_) => ty,
                None => fetch_type(&cty),
            };
            let default_name = expr.replace("->", "_").replace('.', "_");
            args.push(ProbeArg {
                name: name.or(Some(default_name)),
                fetch,
                ty,
            });
            continue;
        }
        // Anything else is a raw fetch argument, passed through.
        args.push(ProbeArg {
            name,
            fetch: expr.to_string(),
            ty,
        });
    }
    let spec = ProbeSpec {
        kind: if ret {
            ProbeKind::Kretprobe
        } else {
            ProbeKind::Kprobe
        },
        maxactive: None,
        group: Some(opts.group.clone()),
        event: Some(opts.event.clone().unwrap_or_else(|| event_name(func, ret))),
        place: place.to_string(),
        args,
        filter: None,
    };
    validate(spec, opts)
}

fn validate(spec: ProbeSpec, opts: &FriendlyOptions) -> Result<ProbeSpec> {
    let def = spec.definition();
    spec::parse(
        &def,
        KernelSupport {
            arch: opts.arch,
            btf_args: false,
        },
    )
    .map_err(|e| invalid(&def, e.to_string()))
}

/// Builds a uprobe from `SYMBOL[+OFF|%return] ARG…` on `binary`: the
/// symbol's file offset from the ELF, `$argN`/`$retval` mapped to registers.
pub fn user_probe(words: &[String], binary: &Path, opts: &FriendlyOptions) -> Result<ProbeSpec> {
    let whole = words.join(" ");
    let place = words
        .first()
        .ok_or_else(|| invalid(&whole, "no symbol given"))?;
    let (sym, off, ret) = split_place(place);
    if off == u64::MAX {
        return Err(invalid(&whole, "bad offset after '+'"));
    }
    let abs = std::fs::canonicalize(binary)
        .map_err(|e| invalid(&whole, format!("{}: {e}", binary.display())))?;
    let elf = ElfFile::open(&abs).map_err(|e| invalid(&whole, e.to_string()))?;
    let (vaddr, label) = if let Some(hex) = sym.strip_prefix("0x") {
        (
            u64::from_str_radix(hex, 16).map_err(|_| invalid(&whole, "bad address"))?,
            format!("0x{hex}"),
        )
    } else {
        let s = elf
            .function(sym)
            .map_err(|e| invalid(&whole, e.to_string()))?;
        (s.addr + off, sym.to_string())
    };
    let file_off = elf
        .file_offset(vaddr)
        .map_err(|e| invalid(&whole, e.to_string()))?
        .ok_or_else(|| {
            invalid(
                &whole,
                format!(
                    "address 0x{vaddr:x} of {label} is not in a loadable segment of {}",
                    abs.display()
                ),
            )
        })?;
    let mut args = Vec::new();
    for w in &words[1..] {
        let (name, expr, ty) = split_arg(w);
        let string = matches!(ty.as_deref(), Some("string" | "ustring"));
        if let Some(n) = expr
            .strip_prefix("$arg")
            .and_then(|n| n.parse::<usize>().ok())
        {
            args.push(positional_arg(&whole, &opts.arch, n, name, ty)?);
        } else if expr == "$retval" {
            args.push(ProbeArg {
                name: name.or_else(|| Some("ret".into())),
                fetch: if string {
                    "+0($retval)".into()
                } else {
                    "$retval".into()
                },
                ty,
            });
        } else if is_c_ident(expr) {
            let dbg = elf.has_debug_info().unwrap_or(false);
            return Err(invalid(
                &whole,
                if dbg {
                    format!("'{expr}': DWARF variable lookup is not supported yet; use $argN (arguments by position)")
                } else {
                    format!("'{expr}': {} has no debug info to look up names; give arguments by position, e.g. {expr}=$arg1", abs.display())
                },
            ));
        } else {
            args.push(ProbeArg {
                name,
                fetch: expr.to_string(),
                ty,
            });
        }
    }
    let spec = ProbeSpec {
        kind: if ret {
            ProbeKind::Uretprobe
        } else {
            ProbeKind::Uprobe
        },
        maxactive: None,
        group: Some(opts.group.clone()),
        event: Some(
            opts.event
                .clone()
                .unwrap_or_else(|| event_name(&label, ret)),
        ),
        place: format!(
            "{}:0x{file_off:x}{}",
            abs.display(),
            if ret { "%return" } else { "" }
        ),
        args,
        filter: None,
    };
    validate(spec, opts)
}

/// Builds a uprobe on a USDT probe `PROVIDER:NAME` (semaphore as the
/// reference counter), with the note's arguments as `argN`.
pub fn usdt_probe(binary: &Path, provider_name: &str, opts: &FriendlyOptions) -> Result<ProbeSpec> {
    let abs = std::fs::canonicalize(binary)
        .map_err(|e| invalid(provider_name, format!("{}: {e}", binary.display())))?;
    let elf = ElfFile::open(&abs).map_err(|e| invalid(provider_name, e.to_string()))?;
    let (prov, name) = provider_name
        .split_once(':')
        .ok_or_else(|| invalid(provider_name, "give USDT probes as PROVIDER:NAME"))?;
    let notes = elf
        .usdt()
        .map_err(|e| invalid(provider_name, e.to_string()))?;
    let n = notes
        .iter()
        .find(|n| n.provider == prov && n.name == name)
        .ok_or_else(|| {
            invalid(
                provider_name,
                format!("no USDT probe {prov}:{name} in {}", abs.display()),
            )
        })?;
    let mut args = Vec::new();
    for (i, a) in n.args.split_whitespace().enumerate() {
        // SIZE@OPERAND with OPERAND %reg, $imm or off(%reg).
        let Some((size, op)) = a.split_once('@') else {
            continue;
        };
        let signed = size.starts_with('-');
        let bytes: u32 = size.trim_start_matches('-').parse().unwrap_or(8);
        let ty = format!("{}{}", if signed { 's' } else { 'u' }, bytes * 8);
        let fetch = usdt_operand(op, &opts.arch);
        if let Some(f) = fetch {
            args.push(ProbeArg {
                name: Some(format!("arg{}", i + 1)),
                fetch: f,
                ty: Some(ty),
            });
        }
    }
    let place = match n.semaphore_offset {
        Some(s) => format!("{}:0x{:x}(0x{s:x})", abs.display(), n.offset),
        None => format!("{}:0x{:x}", abs.display(), n.offset),
    };
    let spec = ProbeSpec {
        kind: ProbeKind::Uprobe,
        maxactive: None,
        group: Some(opts.group.clone()),
        event: Some(
            opts.event
                .clone()
                .unwrap_or_else(|| event_name(&format!("{prov}_{name}"), false)),
        ),
        place,
        args,
        filter: None,
    };
    validate(spec, opts)
}

/// Converts a USDT operand (x86_64 AT&T: `%rdi`, `-4(%rbp)`, `$5`) into a
/// fetch argument.
fn usdt_operand(op: &str, arch: &Arch) -> Option<String> {
    fn reg64(r: &str) -> String {
        let r = r.trim_start_matches('%');
        let base = match r {
            "rax" | "eax" | "ax" | "al" => "ax",
            "rbx" | "ebx" | "bx" | "bl" => "bx",
            "rcx" | "ecx" | "cx" | "cl" => "cx",
            "rdx" | "edx" | "dx" | "dl" => "dx",
            "rsi" | "esi" | "si" | "sil" => "si",
            "rdi" | "edi" | "di" | "dil" => "di",
            "rbp" | "ebp" | "bp" | "bpl" => "bp",
            "rsp" | "esp" | "sp" | "spl" => "sp",
            "rip" => "ip",
            other => {
                let t = other.trim_end_matches(['d', 'w', 'b']);
                return format!("%{t}");
            }
        };
        format!("%{base}")
    }
    if arch.name != "x86_64" {
        return None;
    }
    if let Some(imm) = op.strip_prefix('$') {
        return Some(format!("\\{imm}"));
    }
    if let Some(i) = op.find('(') {
        let off = &op[..i];
        let inner = op[i + 1..].trim_end_matches(')');
        let off = if off.is_empty() { "0" } else { off };
        let sign = if off.starts_with('-') { "" } else { "+" };
        return Some(format!("{sign}{off}({})", reg64(inner)));
    }
    if op.starts_with('%') {
        return Some(reg64(op));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::arch;

    fn opts() -> FriendlyOptions {
        FriendlyOptions {
            group: "tracekit_t".into(),
            event: None,
            arch: arch::X86_64,
        }
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn btf_names_become_registers() {
        let btf = KernelBtf::load(Path::new(symbols::btf::DEFAULT_BTF))
            .expect("needs /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
        let s = kernel_probe(
            &words("do_sys_openat2 dfd filename:string"),
            &opts(),
            Some(&btf),
            None,
        )
        .unwrap();
        assert_eq!(
            s.definition(),
            "p:tracekit_t/do_sys_openat2 do_sys_openat2 dfd=%di:s32 filename=+0(%si):string"
        );
        let r = kernel_probe(
            &words("do_sys_openat2%return $retval"),
            &opts(),
            Some(&btf),
            None,
        )
        .unwrap();
        assert!(
            r.definition().starts_with(
                "r:tracekit_t/do_sys_openat2__return do_sys_openat2%return ret=$retval:s"
            ),
            "{}",
            r.definition()
        );
        let m = kernel_probe(
            &words("vfs_read file->f_pos count"),
            &opts(),
            Some(&btf),
            None,
        )
        .unwrap();
        let d = m.definition();
        assert!(
            d.contains(" file_f_pos=+") && d.contains("(%di):s64 count=%dx:u64"),
            "{d}"
        );
        let e = kernel_probe(&words("vfs_read nosuch"), &opts(), Some(&btf), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("has no parameter 'nosuch'") && e.contains("file, buf, count, pos"),
            "{e}"
        );
        let e = kernel_probe(
            &words("do_sys_openat2%return dfd"),
            &opts(),
            Some(&btf),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not available at function return"), "{e}");
    }

    #[test]
    fn without_btf_names_fail_and_registers_work() {
        let e = kernel_probe(
            &words("do_sys_openat2 dfd"),
            &opts(),
            None,
            Some("BTF not available at /nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("argument names need BTF") && e.contains("/nonexistent"),
            "{e}"
        );
        let s = kernel_probe(
            &words("do_sys_openat2 dfd=%di:s32 fn=+0(%si):string $arg3"),
            &opts(),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            s.definition(),
            "p:tracekit_t/do_sys_openat2 do_sys_openat2 dfd=%di:s32 fn=+0(%si):string arg3=%dx"
        );
    }

    #[test]
    fn user_symbols_become_file_offsets() {
        let libc = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("libc.so.6");
        let s = user_probe(
            &words("openat path=$arg2:string flags=$arg3:x32"),
            libc,
            &opts(),
        )
        .unwrap();
        let d = s.definition();
        assert!(
            d.starts_with("p:tracekit_t/openat /")
                && d.contains(":0x")
                && d.ends_with(" path=+0(%si):string flags=%dx:x32"),
            "{d}"
        );
        let r = user_probe(&words("openat%return $retval:s32"), libc, &opts()).unwrap();
        assert!(
            r.definition().contains("%return ret=$retval:s32"),
            "{}",
            r.definition()
        );
        let e = user_probe(&words("openat path:string"), libc, &opts())
            .unwrap_err()
            .to_string();
        assert!(e.contains("by position"), "{e}");
        let u = usdt_probe(Path::new("/usr/bin/python3.11"), "python:gc__done", &opts()).unwrap();
        let d = u.definition();
        assert!(
            d.starts_with("p:tracekit_t/python_gc__done /usr/bin/python3.11:0x")
                && !d.contains(")(0x"),
            "{d}"
        );
        assert!(d.contains("(0x") && d.ends_with(" arg1=%r12:s64"), "{d}");
    }

    #[test]
    fn usdt_operands() {
        assert_eq!(usdt_operand("%rdi", &arch::X86_64).as_deref(), Some("%di"));
        assert_eq!(
            usdt_operand("-4(%rbp)", &arch::X86_64).as_deref(),
            Some("-4(%bp)")
        );
        assert_eq!(
            usdt_operand("8(%rsp)", &arch::X86_64).as_deref(),
            Some("+8(%sp)")
        );
        assert_eq!(usdt_operand("$5", &arch::X86_64).as_deref(), Some("\\5"));
        assert_eq!(
            usdt_operand("%r12d", &arch::X86_64).as_deref(),
            Some("%r12")
        );
    }
}
