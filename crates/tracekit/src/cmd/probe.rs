//! `tracekit probe`: kprobes, kretprobes, uprobes, uretprobes (and eprobes,
//! fprobes, tracepoint probes where the kernel has them), in the raw kernel
//! syntax or a friendly one resolved through BTF and ELF.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use symbols::btf::KernelBtf;
use symbols::dwarf::DebugFile;
use symbols::elf::ElfFile;
use symbols::locate::SymbolPaths;
use tracefs::dynevents::{self, DynamicEvent};
use tracefs::probe::friendly::{self, DebugInfoOptions, Distro, FriendlyOptions};
use tracefs::probe::{self as probe_lib, spec, Arch, KernelSupport};
use tracefs::{journal, Instance};

use crate::cli::GlobalArgs;
use crate::context::Ctx;

/// `tracekit probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(subcommand)]
    pub command: ProbeCommand,
}

/// Probe subcommands.
#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Create a probe (raw kernel syntax, or FUNC ARG… resolved through BTF/ELF).
    #[command(
        after_help = "Examples:\n  tracekit probe add do_sys_openat2 dfd filename:string\n  tracekit probe add 'do_sys_openat2%return $retval'\n  tracekit probe add vfs_read 'file->f_pos' count\n  tracekit probe add 'p:mygrp/open do_sys_openat2 dfd=%di:s32 filename=+0(%si):string'\n  tracekit probe add -x /lib/x86_64-linux-gnu/libc.so.6 openat 'path=$arg2:string'\n  tracekit probe add -x /lib/x86_64-linux-gnu/libc.so.6 open file:string oflag\n  tracekit probe add -x /usr/bin/python3.11 --usdt python:gc__done"
    )]
    Add(AddArgs),
    /// List dynamic events (tracekit's and foreign), with their definitions.
    #[command(
        after_help = "Examples:\n  tracekit probe list\n  tracekit probe list --formats --json"
    )]
    List(ListProbesArgs),
    /// Delete tracekit's probes: NAME, GROUP/NAME or GROUP/* (never foreign ones without --force).
    #[command(
        after_help = "Examples:\n  tracekit probe del do_sys_openat2\n  tracekit probe del 'tracekit_root/*'"
    )]
    Del(DelArgs),
    /// Hit (and miss) counts of probes (kprobe_profile, uprobe_profile).
    #[command(after_help = "Example:\n  tracekit probe profile")]
    Profile(JsonArg),
    /// Probe-able functions with signatures: kernel (BTF) or a binary's (-x).
    #[command(
        after_help = "Examples:\n  tracekit probe funcs 'vfs_*'\n  tracekit probe funcs -x /lib/x86_64-linux-gnu/libc.so.6 'open*'\n  tracekit probe funcs -x /lib/x86_64-linux-gnu/libc.so.6 -V open --locations\n  tracekit probe funcs -x /usr/bin/python3.11 --usdt"
    )]
    Funcs(FuncsArgs),
}

/// `probe add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Probe a user-space binary or library (uprobe) instead of the kernel.
    #[arg(short = 'x', long = "exec", value_name = "BINARY")]
    pub exec: Option<PathBuf>,
    /// With -x: SPEC is a USDT probe PROVIDER:NAME.
    #[arg(long, requires = "exec")]
    pub usdt: bool,
    /// Group (default tracekit_<user>).
    #[arg(short = 'g', long)]
    pub group: Option<String>,
    /// Event name (default: from the function).
    #[arg(short = 'n', long = "name")]
    pub event: Option<String>,
    /// The probe: a raw definition, or FUNC[%return|+OFF] followed by arguments
    /// (with --usdt: PROVIDER:NAME, or nothing to list the binary's USDT probes).
    #[arg(required_unless_present = "usdt", num_args = 0.., value_name = "SPEC")]
    pub spec: Vec<String>,
}

/// `probe list`.
#[derive(Debug, Args)]
pub struct ListProbesArgs {
    /// Also print each probe's event format.
    #[arg(long)]
    pub formats: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `probe del`.
#[derive(Debug, Args)]
pub struct DelArgs {
    /// NAME, GROUP/NAME or GROUP/* (globs are expanded by tracekit).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Also delete probes tracekit did not create.
    #[arg(long)]
    pub force: bool,
}

/// `--json` only.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `probe funcs`.
#[derive(Debug, Args)]
pub struct FuncsArgs {
    /// Glob over function names.
    #[arg(default_value = "*")]
    pub glob: String,
    /// List a binary's functions instead of the kernel's.
    #[arg(short = 'x', long = "exec", value_name = "BINARY")]
    pub exec: Option<PathBuf>,
    /// With -x: list USDT probes.
    #[arg(long, requires = "exec")]
    pub usdt: bool,
    /// With -x: the variables (parameters and locals) available at FUNC's
    /// entry, from DWARF, as `perf probe -x BINARY -V FUNC` prints them.
    #[arg(short = 'V', long = "vars", value_name = "FUNC", requires = "exec")]
    pub vars: Option<String>,
    /// With -V: also print where each variable is at the entry (the fetch
    /// argument), and the variables that are not available there.
    #[arg(long, requires = "vars")]
    pub locations: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &GlobalArgs, a: &ProbeArgs) -> Result<()> {
    match &a.command {
        ProbeCommand::Add(x) => add(g, x),
        ProbeCommand::List(x) => list(g, x),
        ProbeCommand::Del(x) => del(g, x),
        ProbeCommand::Profile(x) => profile(g, x),
        ProbeCommand::Funcs(x) => funcs(x),
    }
}

fn looks_raw(first: &str) -> bool {
    let head = first.split_whitespace().next().unwrap_or("");
    let mut c = head.chars();
    matches!(c.next(), Some('p' | 'r' | 'e' | 'f' | 't'))
        && {
            let rest: String = c.collect();
            let rest = rest.trim_start_matches(|ch: char| ch.is_ascii_digit());
            rest.is_empty() || rest.starts_with(':')
        }
        && first.contains(char::is_whitespace)
        || head.len() > 1 && head.as_bytes()[1] == b':'
}

fn kernel_version() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = r
        .trim()
        .split(['.', '-'])
        .map(|x| x.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn support() -> Result<KernelSupport> {
    let btf = btf_path().exists();
    Ok(KernelSupport {
        arch: host_arch()?,
        btf_args: btf && kernel_version() >= (6, 5),
    })
}

fn add(g: &GlobalArgs, a: &AddArgs) -> Result<()> {
    if a.usdt && a.spec.is_empty() {
        return funcs(&FuncsArgs {
            glob: "*".into(),
            exec: a.exec.clone(),
            usdt: true,
            vars: None,
            locations: false,
            json: false,
        });
    }
    let ctx = Ctx::open(g)?;
    let group = a
        .group
        .clone()
        .unwrap_or_else(|| friendly::default_group(&user_name()));
    let opts = FriendlyOptions {
        group,
        event: a.event.clone(),
        arch: host_arch()?,
        debuginfo: debuginfo_options(),
    };
    let joined = a.spec.join(" ");
    if joined.trim().is_empty() && !a.usdt {
        bail!("probe add needs a function (e.g. `vfs_read`, or with -x BIN a symbol) or a raw definition (`p:GROUP/EVENT PLACE ARGS`)");
    }
    let spec = if a.usdt {
        let bin = a.exec.as_ref().context("--usdt needs -x BINARY")?;
        friendly::usdt_probe(bin, &joined, &opts)?
    } else if looks_raw(&joined) && a.exec.is_none() {
        let mut s =
            spec::parse(&joined, support()?).map_err(|e| anyhow::anyhow!("invalid probe: {e}"))?;
        if a.group.is_some() || a.event.is_some() {
            bail!("-g/-n apply to the friendly syntax; a raw definition names its own group/event");
        }
        // `p:myprobe …` (the tutorials' form): the kernel's default group.
        if s.group.is_none() && s.event.is_some() {
            s.group = Some(s.kind.default_group().to_string());
        }
        if s.event.is_none() {
            bail!(
                "name the probe: `{}:NAME {}` (tracekit deletes only probes it can name)",
                joined.split_whitespace().next().unwrap_or("p"),
                joined.split_once(' ').map(|x| x.1).unwrap_or("")
            );
        }
        s
    } else if let Some(bin) = &a.exec {
        let words: Vec<String> = joined.split_whitespace().map(str::to_string).collect();
        friendly::user_probe(&words, bin, &opts)?
    } else {
        let words: Vec<String> = joined.split_whitespace().map(str::to_string).collect();
        let needs_btf = words.iter().skip(1).any(|w| {
            let body = w.split_once('=').map(|(_, b)| b).unwrap_or(w);
            let head = body.split([':', '-', '.']).next().unwrap_or("");
            spec::is_c_ident(head)
        });
        let (btf, err) = if needs_btf {
            match KernelBtf::load(&btf_path()) {
                Ok(b) => (Some(b), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        friendly::kernel_probe(&words, &opts, btf.as_ref(), err.as_deref())?
    };
    let file = spec.kind.control_file();
    let (major, minor) = kernel_version();
    match spec.kind {
        spec::ProbeKind::Fprobe | spec::ProbeKind::FprobeExit | spec::ProbeKind::Tprobe
            if (major, minor) < (6, 4) =>
        {
            bail!(
                "fprobe and tracepoint probes (f:, t:) need Linux 6.4+ with CONFIG_FPROBE_EVENTS; this kernel is {major}.{minor}: use a kprobe instead (`tracekit probe add FUNC ARGS`)"
            )
        }
        spec::ProbeKind::Eprobe if !ctx.tfs.path("dynamic_events").exists() => {
            bail!("event probes (e:) need dynamic_events and CONFIG_EPROBE_EVENTS; record the original event and filter it instead")
        }
        _ => {}
    }
    if !ctx.tfs.path(file).exists() {
        let what = if spec.kind.is_user() {
            "uprobes"
        } else {
            "kprobes"
        };
        let cfg = if spec.kind.is_user() {
            "CONFIG_UPROBE_EVENTS"
        } else {
            "CONFIG_KPROBE_EVENTS"
        };
        let mut msg = format!(
            "{what} are not available on this kernel: {} does not exist (enable {cfg})",
            ctx.tfs.path(file).display()
        );
        if !spec.kind.is_user() {
            let func = spec
                .place
                .split(['+', '%', ':'])
                .next()
                .unwrap_or(&spec.place);
            msg.push_str(&nearest_events(&ctx, func));
        }
        if !ctx.tfs.applies() {
            // A dry run still shows the command, to learn it from.
            outln!(
                "echo '{}' >> {}",
                spec.definition(),
                ctx.tfs.path(file).display()
            )?;
            eprintln!("tracekit: note: this command would fail here: {msg}");
            return Ok(());
        }
        bail!(msg);
    }
    let created = dynevents::create(&ctx.tfs, file, &spec.definition())
        .with_context(|| format!("creating the probe in {}", ctx.tfs.path(file).display()))?;
    ctx.finish(true)?;
    if ctx.tfs.applies() {
        eprintln!(
            "tracekit: added {}: record it with `tracekit record -e {}:{}`; remove it with `tracekit probe del {}`",
            created.id(),
            created.group,
            created.name,
            created.id()
        );
        outln!("{}:{}", created.group, created.name)?;
    }
    Ok(())
}

/// The "no kprobes" explanation: ranked tracepoints and their fields.
fn nearest_events(ctx: &Ctx, func: &str) -> String {
    let top = Instance::top(&ctx.tfs);
    let Ok(avail) = top.available_events() else {
        return String::new();
    };
    let sugg = probe_lib::suggest::suggest(func, &avail, 5);
    if sugg.is_empty() {
        return format!(
            "\nno tracepoint shares a name with {func}; `tracekit list -e` shows them all"
        );
    }
    let mut s = format!("\nnearest tracepoints that observe {func} (record them with -e):");
    for (i, x) in sugg.iter().enumerate() {
        s.push_str(&format!("\n  {}  ({})", x.event, x.reason));
        if i < 3 {
            if let Ok(fmt) = top.read(&format!("{}/format", x.event.dir())) {
                let fields: Vec<String> = fmt
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("field:"))
                    .filter(|f| !f.contains("common_"))
                    .filter_map(|f| f.split(';').next())
                    .map(|d| d.trim().to_string())
                    .collect();
                s.push_str(&format!("\n      fields: {}", fields.join("; ")));
            }
        }
    }
    s
}

fn list(g: &GlobalArgs, a: &ListProbesArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let sessions = journal::scan(&ctx.state_dir).unwrap_or_default();
    let probes = dynevents::list(&ctx.tfs)?;
    let top = Instance::top(&ctx.tfs);
    let fmt = |p: &DynamicEvent| {
        top.read(&format!("events/{}/{}/format", p.group, p.name))
            .ok()
    };
    if a.json {
        let v: Vec<_> = probes
            .iter()
            .map(|p| {
                json!({
                    "id": p.id(), "kind": p.kind, "definition": p.definition,
                    "ours": dynevents::is_ours(p, &sessions),
                    "format": if a.formats { fmt(p) } else { None },
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    if probes.is_empty() {
        outln!("(no dynamic events)")?;
    }
    for p in &probes {
        let who = if dynevents::is_ours(p, &sessions) {
            "tracekit"
        } else {
            "foreign "
        };
        outln!("{who} {}", p.definition)?;
        if a.formats {
            if let Some(f) = fmt(p) {
                for l in f.lines() {
                    outln!("    {l}")?;
                }
            }
        }
    }
    Ok(())
}

fn del(g: &GlobalArgs, a: &DelArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let sessions = journal::scan(&ctx.state_dir).unwrap_or_default();
    let probes = dynevents::list(&ctx.tfs)?;
    let mut done = 0;
    for n in &a.names {
        let matched: Vec<&DynamicEvent> = probes
            .iter()
            .filter(|p| match n.split_once(['/', ':']) {
                Some((grp, ev)) => {
                    tracefs::events::glob_match(grp, &p.group)
                        && tracefs::events::glob_match(ev, &p.name)
                }
                None => tracefs::events::glob_match(n, &p.name),
            })
            .collect();
        if matched.is_empty() {
            bail!("no probe matches '{n}' (see `tracekit probe list`)");
        }
        for p in matched {
            match dynevents::destroy(&ctx.tfs, p, &sessions, a.force) {
                Ok(()) => done += 1,
                Err(tracefs::Error::Refused(why)) => {
                    eprintln!("tracekit: {why} (use --force to delete it anyway)")
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)).context(format!(
                        "deleting {} (disable it first where it is enabled, e.g. `tracekit reset`)",
                        p.id()
                    ))
                }
            }
            // Also forget it in any persisted journal.
            for s in &sessions {
                for e in s.pending() {
                    if let journal::Entry::ProbeCreated { seq, event, .. } = e {
                        if *event == p.id() && ctx.tfs.applies() {
                            let _ = journal::mark_undone(&s.path, *seq, true);
                        }
                    }
                }
            }
        }
    }
    ctx.finish(false)?;
    if ctx.tfs.applies() {
        eprintln!("tracekit: deleted {done} probe(s)");
    }
    Ok(())
}

fn profile(g: &GlobalArgs, a: &JsonArg) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let top = Instance::top(&ctx.tfs);
    let mut rows = Vec::new();
    let mut any = false;
    for (file, k) in [("kprobe_profile", false), ("uprobe_profile", true)] {
        if !ctx.tfs.path(file).exists() {
            continue;
        }
        any = true;
        rows.extend(if k {
            top.uprobe_profile()?
        } else {
            top.kprobe_profile()?
        });
    }
    if !any {
        bail!("neither kprobe_profile nor uprobe_profile exists (CONFIG_KPROBE_EVENTS / CONFIG_UPROBE_EVENTS)");
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    outln!("{:<44} {:>12} {:>10}  file", "event", "hits", "misses")?;
    for r in rows {
        outln!(
            "{:<44} {:>12} {:>10}  {}",
            r.event,
            r.hits,
            r.misses
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            r.path.unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Where debug info is looked for (the build-id cache as perf picks it:
/// `$PERF_BUILDID_DIR`, else `~/.debug`) and this host's distribution, for
/// naming the package that provides it.
fn debuginfo_options() -> DebugInfoOptions {
    let buildid_dir = std::env::var_os("PERF_BUILDID_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".debug"))
        });
    let distro = if Path::new("/etc/debian_version").exists() {
        Some(Distro::Debian)
    } else if Path::new("/etc/fedora-release").exists() || Path::new("/etc/redhat-release").exists()
    {
        Some(Distro::Fedora)
    } else {
        None
    };
    DebugInfoOptions {
        paths: SymbolPaths {
            buildid_dir,
            ..SymbolPaths::default()
        },
        distro,
    }
}

/// `probe funcs -x BIN -V FUNC`: perf's "Available variables at FUNC".
fn vars(bin: &Path, func: &str, a: &FuncsArgs) -> Result<()> {
    let opts = debuginfo_options();
    let abs = std::fs::canonicalize(bin).with_context(|| bin.display().to_string())?;
    let elf = ElfFile::open(&abs)?;
    let debug_path = opts.paths.debuginfo(&abs);
    // The symbol's address (also local symbols from the debug file), else
    // DWARF functions of that name.
    let addr = elf.function(func).ok().map(|s| s.addr).or_else(|| {
        let d = debug_path.as_ref()?;
        ElfFile::open(d).ok()?.function(func).ok().map(|s| s.addr)
    });
    let Some(dpath) = debug_path else {
        bail!("{}", friendly::no_debuginfo_message(&abs, &opts));
    };
    let debug = DebugFile::open(&dpath)?;
    let found: Vec<(u64, symbols::dwarf::Function)> = match addr {
        Some(addr) => match debug.function_for_symbol(addr, Some(func))? {
            Some(f) => vec![(addr, f)],
            None => Vec::new(),
        },
        None => debug
            .functions_named(func)?
            .into_iter()
            .map(|f| (f.entry, f))
            .collect(),
    };
    if found.is_empty() {
        bail!(
            "Failed to find the address of {func}: no DWARF function {} in {}",
            match addr {
                Some(a) => format!("at 0x{a:x}"),
                None => "or symbol of that name".into(),
            },
            dpath.display()
        );
    }
    let machine = debug.machine();
    if a.json {
        let v: Vec<_> = found
            .iter()
            .map(|(addr, f)| {
                let vars: Vec<_> = f
                    .variables()
                    .map(|v| {
                        let mut j = serde_json::to_value(v).unwrap_or_default();
                        let fetch = match &v.location {
                            symbols::dwarf::Location::Static { address } => {
                                friendly::static_offset(&elf, f.entry, *address)
                                    .map(|o| format!("@+0x{o:x}"))
                            }
                            l => l.fetch_arg(machine),
                        };
                        j["fetch"] = json!(fetch);
                        j
                    })
                    .collect();
                json!({
                    "symbol": func,
                    "address": addr,
                    "function": f.name,
                    "offset": addr.saturating_sub(f.entry),
                    "linkage_name": f.linkage_name,
                    "unit": f.unit,
                    "debug_file": dpath,
                    "return_type": f.return_type,
                    "variadic": f.variadic,
                    "variables": vars,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let mut out = format!("Available variables at {func}\n");
    for (addr, f) in &found {
        out.push_str(&format!(
            "\t@<{}+{}>\n",
            f.name,
            addr.saturating_sub(f.entry)
        ));
        // perf: "TYPE\tNAME" lines, sorted and unique, only what it can
        // fetch there; with --locations every variable and where it is.
        let mut lines: Vec<String> = f
            .variables()
            .filter(|v| a.locations || v.perf_listed)
            .map(|v| {
                let ty = v.ty.perf_name.as_deref().unwrap_or("(unknown_type)");
                let mut l = format!("{ty}\t{}", v.name);
                if a.locations {
                    let loc = match &v.location {
                        symbols::dwarf::Location::Static { address } => {
                            friendly::static_offset(&elf, f.entry, *address)
                                .map(|o| format!("@+0x{o:x}"))
                                .unwrap_or_else(|| v.location.describe(machine))
                        }
                        l => l.describe(machine),
                    };
                    l.push_str(&format!(
                        "\t{loc}{}",
                        if v.from_abi {
                            " (calling convention)"
                        } else {
                            ""
                        }
                    ));
                }
                l
            })
            .collect();
        lines.sort();
        lines.dedup();
        if lines.is_empty() {
            out.push_str("\t\t(No matched variables)\n");
        }
        for l in lines {
            out.push_str(&format!("\t\t{l}\n"));
        }
    }
    out!("{out}")?;
    Ok(())
}

fn funcs(a: &FuncsArgs) -> Result<()> {
    if let Some(bin) = &a.exec {
        if let Some(func) = &a.vars {
            return vars(bin, func, a);
        }
        let elf = ElfFile::open(bin)?;
        if a.usdt {
            let u = elf.usdt()?;
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&u)?)?;
            } else {
                for p in u.iter().filter(|p| {
                    symbols::glob(&a.glob, &format!("{}:{}", p.provider, p.name))
                        || symbols::glob(&a.glob, &p.name)
                }) {
                    let sem = p
                        .semaphore_offset
                        .map(|s| format!(" semaphore=0x{s:x}"))
                        .unwrap_or_default();
                    outln!(
                        "{}:{}  offset=0x{:x}{sem}  args: {}",
                        p.provider,
                        p.name,
                        p.offset,
                        p.args
                    )?;
                }
            }
            return Ok(());
        }
        let f: Vec<_> = elf
            .functions()?
            .into_iter()
            .filter(|s| symbols::glob(&a.glob, &s.name))
            .collect();
        if a.json {
            outln!("{}", serde_json::to_string_pretty(&f)?)?;
        } else {
            for s in f {
                let off = elf
                    .file_offset(s.addr)?
                    .map(|o| format!("0x{o:x}"))
                    .unwrap_or_else(|| "-".into());
                outln!("{:<40} offset={off} size={}", s.name, s.size)?;
            }
        }
        return Ok(());
    }
    match KernelBtf::load(&btf_path()) {
        Ok(btf) => {
            let names = btf.functions(&a.glob);
            let sigs: Vec<_> = names.iter().filter_map(|n| btf.function(n).ok()).collect();
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&sigs)?)?;
            } else {
                for s in sigs {
                    outln!("{}", s.c_decl())?;
                }
            }
        }
        Err(e) => {
            eprintln!("tracekit: {e}; listing names from /proc/kallsyms without signatures");
            let text =
                std::fs::read_to_string("/proc/kallsyms").context("reading /proc/kallsyms")?;
            let mut names: Vec<&str> = text
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace();
                    let _ = it.next()?;
                    let t = it.next()?;
                    let n = it.next()?;
                    (matches!(t, "t" | "T") && symbols::glob(&a.glob, n)).then_some(n)
                })
                .collect();
            names.sort_unstable();
            names.dedup();
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&names)?)?;
            } else {
                for n in names {
                    outln!("{n}")?;
                }
            }
        }
    }
    Ok(())
}

/// The user the default probe group is named after: `SUDO_USER`, else
/// `USER`, else the passwd name of the effective uid, else `uid<N>`.
fn user_name() -> String {
    for v in ["SUDO_USER", "USER"] {
        if let Some(u) = std::env::var(v).ok().filter(|u| !u.is_empty()) {
            return u;
        }
    }
    // SAFETY: geteuid has no preconditions; getpwuid returns a pointer into
    // static storage or null, read at once before any other passwd call.
    unsafe {
        let uid = libc::geteuid();
        let pw = libc::getpwuid(uid);
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            if let Ok(n) = std::ffi::CStr::from_ptr((*pw).pw_name).to_str() {
                return n.to_string();
            }
        }
        format!("uid{uid}")
    }
}

/// The kernel's BTF: `TRACEKIT_BTF` (tests, other kernels), else the running kernel's.
fn btf_path() -> std::path::PathBuf {
    std::env::var_os("TRACEKIT_BTF")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| symbols::btf::DEFAULT_BTF.into())
}

/// The probe register set of the architecture tracekit runs on.
fn host_arch() -> Result<Arch> {
    Arch::current().with_context(|| {
        format!(
            "probe registers of {} are not known to tracekit (x86_64, aarch64, riscv64, s390x, ppc64): write fetch arguments in the raw kernel syntax",
            std::env::consts::ARCH
        )
    })
}
