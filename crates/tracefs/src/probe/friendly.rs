//! The friendly probe syntax (perf-probe style): `do_sys_openat2 dfd
//! filename:string`, `do_sys_openat2%return $retval`, `vfs_read
//! file->f_pos`, and for user space `-x /lib/…/libc.so.6 'openat
//! path=$arg2:string'`. Names come from BTF and are mapped to the
//! architecture's registers here, so it works on kernels that cannot resolve
//! names themselves; ELF symbols become file offsets for uprobes.

use std::path::{Path, PathBuf};

use symbols::btf::{CType, KernelBtf, Signature};
use symbols::dwarf::{self, DebugFile, Location, TypeKind};
use symbols::elf::ElfFile;
use symbols::locate::SymbolPaths;

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
    /// Where user-space binaries' debug info is (named uprobe arguments).
    pub debuginfo: DebugInfoOptions,
}

/// Where to find a binary's DWARF and how to tell the user to get it.
#[derive(Debug, Clone, Default)]
pub struct DebugInfoOptions {
    /// The locator; the caller sets `buildid_dir` (the CLI: `~/.debug`).
    pub paths: SymbolPaths,
    /// This host's distribution (the caller reads `/etc/debian_version`…),
    /// for naming the package that has the debug info.
    pub distro: Option<Distro>,
}

/// Distributions whose debug-info packages tracekit can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    /// Debian and derivatives (`/etc/debian_version`): `-dbg`/`-dbgsym` packages.
    Debian,
    /// Fedora, RHEL and derivatives: `dnf debuginfo-install`.
    Fedora,
}

/// Takes the next `->m` or `.m` off a member chain (`a->b.c`): whether it
/// dereferences, and the member name.
fn next_member<'a>(rest: &mut &'a str, whole: &str) -> Result<(bool, &'a str)> {
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
    *rest = &after[end..];
    Ok((arrow, &after[..end]))
}

fn invalid(value: &str, why: impl Into<String>) -> Error {
    Error::Invalid {
        what: "probe",
        value: value.to_string(),
        why: why.into(),
    }
}

/// The default group `tracekit_<user>` for the user name the caller found
/// (the CLI: `SUDO_USER`, else `USER`, else the passwd name of the uid).
pub fn default_group(user: &str) -> String {
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
        let (arrow, member) = next_member(&mut rest, whole)?;
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
/// symbol's file offset from the ELF, `$argN`/`$retval` mapped to registers,
/// and named parameters and locals (`file`, `file:string`, `fd=file`,
/// `st->st_size`) resolved through the binary's DWARF, or its separate debug
/// file, to where they are at the function's entry.
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
        let addr = match elf.function(sym) {
            Ok(s) => s.addr,
            // Local functions are only in the debug file's .symtab.
            Err(e) => opts
                .debuginfo
                .paths
                .debuginfo(&abs)
                .and_then(|d| ElfFile::open(&d).ok()?.function(sym).ok())
                .map(|s| s.addr)
                .ok_or_else(|| invalid(&whole, e.to_string()))?,
        };
        (
            addr.checked_add(off)
                .ok_or_else(|| invalid(&whole, "bad offset after '+'"))?,
            sym.to_string(),
        )
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
    // DWARF, read once and only for named arguments.
    let mut dw: Option<UserFunction> = None;
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
            // The return type from DWARF when it is at hand; never required.
            let ty = match ty {
                Some(t) => Some(t),
                None if ret => {
                    if dw.is_none() {
                        dw = user_function_at(&abs, vaddr - off, &label, &opts.debuginfo).ok();
                    }
                    dw.as_ref()
                        .and_then(|u| dwarf_fetch_type(&u.function.return_type))
                }
                None => None,
            };
            args.push(ProbeArg {
                name: name.or_else(|| Some("ret".into())),
                fetch: if string {
                    "+0($retval)".into()
                } else {
                    "$retval".into()
                },
                ty,
            });
        } else if is_c_ident(named_head(expr)) {
            if ret {
                return Err(invalid(
                    &whole,
                    format!("'{expr}': parameters are not available at function return; probe the entry (without %return), or use $retval"),
                ));
            }
            if off != 0 || sym.starts_with("0x") {
                return Err(invalid(
                    &whole,
                    format!("'{expr}': variables are resolved only at a function's entry (SYMBOL without +OFF); give a register or $argN instead"),
                ));
            }
            if dw.is_none() {
                dw = Some(
                    user_function_at(&abs, vaddr, &label, &opts.debuginfo).map_err(
                        |e| match e {
                            UserDwarfError::NoDebugInfo(why) => invalid(
                                &whole,
                                format!(
                                    "'{expr}': {why}; or give arguments by position, e.g. {}=$arg1",
                                    named_head(expr)
                                ),
                            ),
                            UserDwarfError::Other(why) => {
                                invalid(&whole, format!("'{expr}': {why}"))
                            }
                        },
                    )?,
                );
            }
            let Some(u) = dw.as_ref() else {
                return Err(invalid(&whole, "no debug info"));
            };
            let (fetch, ty) = dwarf_arg(&whole, u, &elf, expr, ty)?;
            let default_name = expr.replace("->", "_").replace('.', "_");
            args.push(ProbeArg {
                name: name.or(Some(default_name)),
                fetch,
                ty,
            });
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

/// The variable name at the head of `a->b.c`.
fn named_head(expr: &str) -> &str {
    let end = expr.find(['-', '.']).unwrap_or(expr.len());
    &expr[..end]
}

/// A user-space function with its DWARF.
#[derive(Debug)]
pub struct UserFunction {
    /// The file the DWARF came from (the binary or its debug file).
    pub debug: DebugFile,
    /// The function (`DW_TAG_subprogram`) at the symbol's address.
    pub function: dwarf::Function,
}

/// Why a binary's DWARF could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDwarfError {
    /// No debug info on this host (the message names what to install).
    NoDebugInfo(String),
    /// Anything else (unreadable DWARF, no function at the address).
    Other(String),
}

impl std::fmt::Display for UserDwarfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserDwarfError::NoDebugInfo(s) | UserDwarfError::Other(s) => f.write_str(s),
        }
    }
}

/// Why `binary` has no DWARF here and how to get it: the package on Debian
/// (`libc6-dbg` for glibc) or Fedora, else where the debug file goes.
pub fn no_debuginfo_message(binary: &Path, opts: &DebugInfoOptions) -> String {
    let id = symbols::locate::file_build_id(binary).map(|id| symbols::locate::hex(&id));
    let expected = id
        .as_deref()
        .filter(|h| h.len() > 2)
        .map(|h| {
            format!(
                " (no {}/.build-id/{}/{}.debug)",
                opts.paths.debug_root.display(),
                &h[..2],
                &h[2..]
            )
        })
        .unwrap_or_default();
    let file = binary
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let glibc = [
        "libc.so",
        "libc-2.",
        "ld-linux",
        "libm.so",
        "libpthread.so",
        "libdl.so",
        "librt.so",
        "libresolv.so",
    ]
    .iter()
    .any(|p| file.starts_with(p));
    let b = binary.display();
    let hint = match (opts.distro, glibc) {
        (Some(Distro::Debian), true) => "install libc6-dbg (apt-get install libc6-dbg)".to_string(),
        (Some(Distro::Fedora), true) => "install glibc's debug info (dnf debuginfo-install glibc)".to_string(),
        (None, true) => "install glibc's debug info (Debian/Ubuntu: apt-get install libc6-dbg; Fedora: dnf debuginfo-install glibc)".to_string(),
        (Some(Distro::Debian), false) => format!(
            "install its debug symbols: the package's -dbg, or -dbgsym from the debian-debug archive (`find-dbgsym-packages {b}` from debian-goodies names it; `debuginfod-find debuginfo {b}` fetches the file to copy there), or build it with -g"
        ),
        (Some(Distro::Fedora), false) => format!(
            "install its debug info (dnf debuginfo-install $(rpm -qf {b})), or build it with -g"
        ),
        (None, false) => "install its separate debug file (by build id under /usr/lib/debug), or build it with -g".to_string(),
    };
    format!("{b} has no debug info to look up names{expected}; {hint}")
}

/// The function at `addr` (a symbol's address) in `binary`, from the
/// binary's DWARF or its separate debug file.
pub fn user_function_at(
    binary: &Path,
    addr: u64,
    label: &str,
    opts: &DebugInfoOptions,
) -> std::result::Result<UserFunction, UserDwarfError> {
    let path: PathBuf = opts
        .paths
        .debuginfo(binary)
        .ok_or_else(|| UserDwarfError::NoDebugInfo(no_debuginfo_message(binary, opts)))?;
    let debug = DebugFile::open(&path).map_err(|e| UserDwarfError::Other(e.to_string()))?;
    let function = debug
        .function_for_symbol(addr, Some(label))
        .map_err(|e| UserDwarfError::Other(e.to_string()))?
        .ok_or_else(|| {
            UserDwarfError::Other(format!(
                "{}: no DWARF function at 0x{addr:x} ({label}); it may be written in assembly",
                path.display()
            ))
        })?;
    if function.entry != addr {
        return Err(UserDwarfError::Other(format!(
            "{label} (0x{addr:x}) is inside {} (entry 0x{:x}), not at its entry; variables are resolved only at a function's entry",
            function.name, function.entry
        )));
    }
    Ok(UserFunction { debug, function })
}

/// The `@+OFFSET` for a static variable at link-time address `address`,
/// seen from a uprobe at `probe_vaddr`: the kernel reads at
/// `runtime(probe) - file_offset(probe) + OFFSET`, so OFFSET is the
/// address minus the probe segment's `vaddr - offset` (right for `.data`
/// and `.bss` too, whose addresses and file offsets differ).
pub fn static_offset(elf: &ElfFile, probe_vaddr: u64, address: u64) -> Option<u64> {
    let probe_off = elf.file_offset(probe_vaddr).ok()??;
    address.checked_add(probe_off)?.checked_sub(probe_vaddr)
}

/// The default fetch type of a DWARF type (`int` → `s32`, pointers → `x64`).
fn dwarf_fetch_type(t: &dwarf::Type) -> Option<String> {
    let bits = t.size.filter(|n| matches!(n, 1 | 2 | 4 | 8))? * 8;
    match t.kind {
        TypeKind::Int | TypeKind::Char | TypeKind::Enum | TypeKind::Bool => {
            Some(format!("{}{bits}", if t.signed { 's' } else { 'u' }))
        }
        TypeKind::Pointer | TypeKind::Float => Some(format!("x{bits}")),
        _ => None,
    }
}

/// A value being fetched: an expression that is the value, memory at
/// `base + off`, or memory at a file offset (`@+OFF`, statics).
enum Val {
    Value(String),
    Mem { base: String, off: i64 },
    Static(u64),
}

impl Val {
    fn fetch(&self) -> String {
        match self {
            Val::Value(s) => s.clone(),
            Val::Mem { base, off } => format!("{}({base})", dwarf::signed_offset(*off)),
            Val::Static(o) => format!("@+0x{o:x}"),
        }
    }

    fn in_memory(&self) -> bool {
        !matches!(self, Val::Value(_))
    }
}

/// Resolves `var`, `var->m`, `var.m.n` through DWARF at the function's
/// entry: the fetch expression and its type (`char *` reads as a string
/// unless `ty` says otherwise).
fn dwarf_arg(
    whole: &str,
    u: &UserFunction,
    elf: &ElfFile,
    path: &str,
    ty: Option<String>,
) -> Result<(String, Option<String>)> {
    let f = &u.function;
    let machine = u.debug.machine();
    let head = named_head(path);
    let mut rest = &path[head.len()..];
    let var = f.variable(head).ok_or_else(|| {
        let names: Vec<&str> = f.variables().map(|v| v.name.as_str()).collect();
        invalid(
            whole,
            format!(
                "{} has no parameter or local variable '{head}'; its variables: {}",
                f.name,
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ),
        )
    })?;
    let available = || {
        f.variables()
            .filter(|v| v.location.available())
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut val = match &var.location {
        Location::Register { .. } | Location::Constant { .. } => {
            Val::Value(var.location.fetch_arg(machine).ok_or_else(|| {
                invalid(
                    whole,
                    format!(
                        "'{head}' is {}; give a register or $argN instead",
                        var.location.describe(machine)
                    ),
                )
            })?)
        }
        Location::Memory { reg, offset } => Val::Mem {
            base: machine
                .register_name(*reg)
                .map(|r| format!("%{r}"))
                .ok_or_else(|| invalid(whole, format!("'{head}': DWARF register {reg} has no name")))?,
            off: *offset,
        },
        Location::Static { address } => {
            let o = static_offset(elf, f.entry, *address).ok_or_else(|| {
                invalid(
                    whole,
                    format!("'{head}' (static at 0x{address:x}) cannot be addressed from the probe's segment"),
                )
            })?;
            Val::Static(o)
        }
        Location::OptimizedOut { why } => {
            return Err(invalid(
                whole,
                format!(
                    "'{head}' is optimized out at the entry of {} ({why}); available there: {}",
                    f.name,
                    available()
                ),
            ))
        }
        Location::Unsupported { what } => {
            return Err(invalid(
                whole,
                format!(
                    "'{head}' at the entry of {} is {what}: not expressible as a fetch argument; available: {}",
                    f.name,
                    available()
                ),
            ))
        }
    };
    let mut cty = var.ty.clone();
    let mut bitfield: Option<(u64, u64)> = None;
    while !rest.is_empty() {
        let (arrow, member) = next_member(&mut rest, whole)?;
        if bitfield.is_some() {
            return Err(invalid(
                whole,
                format!("'{member}': a bit field has no members"),
            ));
        }
        let sty = if arrow {
            if cty.kind != TypeKind::Pointer {
                return Err(invalid(
                    whole,
                    format!("'->{member}': {} is not a pointer", cty.name),
                ));
            }
            let p = u
                .debug
                .pointee(&cty)
                .map_err(|e| invalid(whole, e.to_string()))?
                .ok_or_else(|| {
                    invalid(whole, format!("'->{member}': {} points to void", cty.name))
                })?;
            val = Val::Mem {
                base: val.fetch(),
                off: 0,
            };
            p
        } else {
            if cty.kind == TypeKind::Pointer {
                return Err(invalid(
                    whole,
                    format!("'.{member}': {} is a pointer; use '->{member}'", cty.name),
                ));
            }
            if !val.in_memory() {
                return Err(invalid(
                    whole,
                    format!(
                        "'.{member}': the {} is held in a register, not in memory",
                        cty.name
                    ),
                ));
            }
            cty.clone()
        };
        if !matches!(sty.kind, TypeKind::Struct | TypeKind::Union) {
            return Err(invalid(
                whole,
                format!(
                    "'{}{member}': {} is not a struct or union",
                    if arrow { "->" } else { "." },
                    sty.name
                ),
            ));
        }
        let m = u
            .debug
            .member(&sty, member)
            .map_err(|e| invalid(whole, e.to_string()))?
            .ok_or_else(|| {
                let names = u.debug.member_names(&sty);
                invalid(
                    whole,
                    format!(
                        "{} has no member '{member}'; its members: {}",
                        sty.name,
                        names.join(", ")
                    ),
                )
            })?;
        let add = i64::try_from(m.offset).map_err(|_| invalid(whole, "member offset too large"))?;
        val = match val {
            Val::Mem { base, off } => Val::Mem {
                base,
                off: off.saturating_add(add),
            },
            Val::Static(o) => Val::Static(o.saturating_add(m.offset)),
            Val::Value(_) => return Err(invalid(whole, "internal: member of a register value")),
        };
        bitfield = m.bit_field;
        cty = m.ty;
    }
    let fetch = val.fetch();
    let string = |fetch: String| -> Result<String> {
        if cty.kind == TypeKind::Array && cty.char_data {
            if val.in_memory() {
                Ok(fetch)
            } else {
                Err(invalid(
                    whole,
                    format!("'{path}': a char array in a register"),
                ))
            }
        } else if val.in_memory() && cty.kind != TypeKind::Pointer {
            Ok(fetch)
        } else {
            Ok(format!("+0({fetch})"))
        }
    };
    match ty.as_deref() {
        Some("string" | "ustring") => Ok((string(fetch)?, ty)),
        Some(_) => Ok((fetch, ty)),
        None => {
            if let Some((bit, bits)) = bitfield {
                let container = [8u64, 16, 32, 64]
                    .into_iter()
                    .find(|c| bit + bits <= *c)
                    .ok_or_else(|| invalid(whole, "bit field wider than 64 bits"))?;
                return Ok((fetch, Some(format!("b{bits}@{bit}/{container}"))));
            }
            if cty.char_data {
                return Ok((string(fetch)?, Some("string".into())));
            }
            match dwarf_fetch_type(&cty) {
                Some(t) => Ok((fetch, Some(t))),
                None => Err(invalid(
                    whole,
                    format!(
                        "'{path}' is a {}{}: name a member (a->b, a.b) or give a type (:x64, :u8[16]…)",
                        cty.name,
                        cty.size.map(|n| format!(" ({n} bytes)")).unwrap_or_default()
                    ),
                )),
            }
        }
    }
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
            debuginfo: DebugInfoOptions::default(),
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
        // Without debug info, names are refused with what to install.
        let e = user_probe(&words("openat path:string"), libc, &no_debuginfo(None))
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

    fn libc() -> &'static Path {
        Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")
    }

    /// Options whose locator finds no debug file anywhere.
    fn no_debuginfo(distro: Option<Distro>) -> FriendlyOptions {
        FriendlyOptions {
            debuginfo: DebugInfoOptions {
                paths: SymbolPaths {
                    debug_root: "/nonexistent-debug-root".into(),
                    ..SymbolPaths::default()
                },
                distro,
            },
            ..opts()
        }
    }

    fn need_libc_dbg() {
        assert!(
            SymbolPaths::default().debuginfo(libc()).is_some(),
            "no debug info for {}: apt-get install libc6-dbg",
            libc().display()
        );
    }

    #[test]
    fn dwarf_names_become_fetchargs() {
        need_libc_dbg();
        let def = |w: &str| user_probe(&words(w), libc(), &opts()).map(|s| s.definition());
        let d = def("open file:string oflag").unwrap();
        assert!(d.starts_with("p:tracekit_t/open /"), "{d}");
        assert!(d.ends_with(" file=+0(%di):string oflag=%si:s32"), "{d}");
        // char * reads as a string by default; an explicit type wins.
        assert!(def("open file").unwrap().ends_with(" file=+0(%di):string"));
        assert!(def("open file:x64").unwrap().ends_with(" file=%di:x64"));
        assert!(def("open path=file")
            .unwrap()
            .ends_with(" path=+0(%di):string"));
        // Aliases resolve by address; positional arguments keep working.
        assert!(def("open64 file $arg2:x32 %dx")
            .unwrap()
            .ends_with(" file=+0(%di):string arg2=%si:x32 %dx"));
        let r = def("read fd buf nbytes").unwrap();
        assert!(r.ends_with(" fd=%di:s32 buf=%si:x64 nbytes=%dx:u64"), "{r}");
        let st = def("fstat buf->st_size sz=buf->st_size:u64").unwrap();
        assert!(
            st.ends_with(" buf_st_size=+48(%si):s64 sz=+48(%si):u64"),
            "{st}"
        );
        // The return type from DWARF.
        let ret = def("read%return $retval").unwrap();
        assert!(ret.ends_with("%return ret=$retval:s64"), "{ret}");
        for (w, want) in [
            ("open mode", "'mode' is optimized out at the entry of __libc_open64"),
            ("open path", "__libc_open64 has no parameter or local variable 'path'; its variables: file, oflag"),
            ("open%return file", "not available at function return"),
            ("open+4 file", "only at a function's entry"),
            ("fstat buf.st_size", "is a pointer; use '->st_size'"),
            ("fstat buf->nosuch", "struct stat64 has no member 'nosuch'"),
            ("fstat fd->x", "int is not a pointer"),
        ] {
            let e = def(w).unwrap_err().to_string();
            assert!(e.contains(want), "{w}: {e}");
        }
    }

    #[test]
    fn without_debuginfo_the_package_is_named() {
        let e = |d| {
            user_probe(&words("open file:string"), libc(), &no_debuginfo(d))
                .unwrap_err()
                .to_string()
        };
        let deb = e(Some(Distro::Debian));
        assert!(
            deb.contains("libc.so.6 has no debug info to look up names")
                && deb.contains("install libc6-dbg (apt-get install libc6-dbg)")
                && deb.contains("/nonexistent-debug-root/.build-id/")
                && deb.contains("file=$arg1"),
            "{deb}"
        );
        assert!(e(Some(Distro::Fedora)).contains("dnf debuginfo-install glibc"));
        assert!(e(None).contains("libc6-dbg"));
        let bash = no_debuginfo_message(
            Path::new("/usr/bin/bash"),
            &no_debuginfo(Some(Distro::Debian)).debuginfo,
        );
        assert!(
            bash.contains("find-dbgsym-packages /usr/bin/bash"),
            "{bash}"
        );
        // Positional arguments need no debug info.
        let ok = user_probe(&words("open $arg1:string"), libc(), &no_debuginfo(None)).unwrap();
        assert!(ok.definition().ends_with(" arg1=+0(%di):string"));
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
