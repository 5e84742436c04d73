//! `tracekit perf <stat|record|report|script|annotate|archive>`: perf's workflow with
//! perf's own option names and meanings. Thin: parse, build options, call the
//! `perf` library.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

/// `tracekit perf`.
#[derive(Debug, Args)]
pub struct PerfArgs {
    /// The build-id cache (perf's `--buildid-dir`; default `$PERF_BUILDID_DIR`, else `~/.debug`).
    #[arg(long = "buildid-dir", value_name = "DIR", global = true)]
    pub buildid_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: PerfCmd,
}

impl PerfArgs {
    /// The build-id cache directory as perf chooses it.
    pub fn buildid_dir(&self) -> Option<PathBuf> {
        if let Some(d) = &self.buildid_dir {
            return Some(d.clone());
        }
        if let Some(d) = std::env::var_os("PERF_BUILDID_DIR").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(d));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".debug"))
    }

    /// Symbol sources for reading a recording: `sym`'s options, the build-id
    /// cache and this host's kernel build id.
    pub fn symbol_paths(&self, sym: &SymbolArgs) -> symbols::locate::SymbolPaths {
        // perf: a symfs replaces the local build-id cache with SYMFS/.debug;
        // a directory that is itself an unpacked `perf archive` works too.
        let buildid_dir = match &sym.symfs {
            Some(fs) if fs.join(".build-id").is_dir() => Some(fs.clone()),
            Some(fs) => Some(fs.join(".debug")),
            None => self.buildid_dir(),
        };
        symbols::locate::SymbolPaths {
            symfs: sym.symfs.clone(),
            kallsyms: sym.kallsyms.clone(),
            vmlinux: sym.vmlinux.clone(),
            buildid_dir,
            ..perf::session::host_paths()
        }
    }
}

/// Where the symbols of a perf.data come from (perf's offline-analysis options).
#[derive(Debug, Args, Clone, Default)]
pub struct SymbolArgs {
    /// Look for every object (and its debug files) under DIR, as if DIR were `/`.
    #[arg(long = "symfs", value_name = "DIR")]
    pub symfs: Option<PathBuf>,
    /// The kernel's symbols from this kallsyms file (e.g. a copy of the recording host's /proc/kallsyms).
    #[arg(long = "kallsyms", value_name = "FILE")]
    pub kallsyms: Option<PathBuf>,
    /// The kernel's symbols from this vmlinux (its build id must match the recording).
    #[arg(short = 'k', long = "vmlinux", value_name = "FILE")]
    pub vmlinux: Option<PathBuf>,
}

/// perf subcommands.
#[derive(Debug, Subcommand)]
pub enum PerfCmd {
    /// Count events (perf stat).
    #[command(
        after_help = "Examples:\n  tracekit perf stat -- sleep 1\n  tracekit perf stat -e task-clock,context-switches,cycles -r 3 -- sleep 0.1\n  tracekit perf stat -a -e sched:sched_switch -I 1000\n  tracekit perf stat -e 'uprobe:/lib/x86_64-linux-gnu/libc.so.6:getpid' -p 1234\n  tracekit perf stat -x, -e cs -- make"
    )]
    Stat(StatArgs),
    /// Sample into perf.data (perf record).
    #[command(
        after_help = "Examples:\n  tracekit perf record -g -- ./a.out\n  tracekit perf record -e irq:irq_handler_entry,irq:irq_handler_exit -a -- sleep 2\n  tracekit perf record -F 999 -p 1234 -o prof.data -- sleep 5"
    )]
    Record(RecordArgs),
    /// Summarize perf.data (perf report).
    #[command(
        after_help = "Examples:\n  tracekit perf report --stdio --no-children --sort comm,dso,sym\n  tracekit perf report -i sched.perf.data --sort pid,sym -C 0\n  tracekit perf report -g caller -S chacha_permute\n  tracekit perf report --json\n  tracekit perf --buildid-dir /tmp/dbg report -i prof.data   # /tmp/dbg: an unpacked `perf archive`"
    )]
    Report(ReportArgs),
    /// Print samples as text (perf script).
    #[command(
        after_help = "Examples:\n  tracekit perf script\n  tracekit perf script -i sched.perf.data -F comm,pid,tid,cpu,time,period,event,ip,sym,symoff,dso"
    )]
    Script(ScriptArgs),
    /// Disassemble the hottest function with per-instruction percentages (perf annotate).
    #[command(
        after_help = "Examples:\n  tracekit perf annotate --stdio\n  tracekit perf annotate -s chacha_permute"
    )]
    Annotate(AnnotateArgs),
    /// Pack the build-id cache entries of a recording's hit objects into a tar.bz2 (perf archive).
    #[command(
        after_help = "Examples:\n  tracekit perf archive                      # perf.data -> perf.data.tar.bz2\n  tracekit perf archive -i prof.data -o /tmp/prof.tar.bz2\n  # on the machine that reads it:\n  mkdir -p /tmp/dbg && tar xf prof.data.tar.bz2 -C /tmp/dbg\n  tracekit perf --buildid-dir /tmp/dbg report -i prof.data --stdio\n  tracekit perf --buildid-dir /tmp/dbg script -i prof.data"
    )]
    Archive(ArchiveArgs),
}

/// `tracekit perf archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Input file (perf's positional argument works too).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        conflicts_with = "file"
    )]
    pub input: Option<PathBuf>,
    /// Input file, as `perf archive FILE` takes it.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output (default: the input's name with .tar.bz2 appended, as perf).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `tracekit perf stat`.
#[derive(Debug, Args)]
pub struct StatArgs {
    /// Events (`cycles`, `task-clock`, `sched:sched_switch`, `{cycles,instructions}`, `uprobe:PATH:SYM`).
    #[arg(short = 'e', long = "event", value_name = "EVENTS")]
    pub events: Vec<String>,
    /// System-wide: all CPUs.
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Only these CPUs (`0,2-3`).
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpus: Option<String>,
    /// Existing process ids (all their threads).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,
    /// Existing thread ids.
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tid: Option<String>,
    /// Repeat the command N times; print mean and ± stddev %.
    #[arg(short = 'r', long = "repeat", value_name = "N", default_value_t = 1)]
    pub repeat: u32,
    /// Print counts every MS milliseconds.
    #[arg(short = 'I', long = "interval-print", value_name = "MS")]
    pub interval: Option<u64>,
    /// CSV output with this separator.
    #[arg(
        short = 'x',
        long = "field-separator",
        value_name = "SEP",
        conflicts_with = "json"
    )]
    pub sep: Option<String>,
    /// JSON lines output.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// Child tasks do not inherit counters.
    #[arg(short = 'i', long = "no-inherit")]
    pub no_inherit: bool,
    /// Write to FILE instead of stderr.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Workload.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `tracekit perf record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Event to sample (default cpu-clock on this VM, cycles where a PMU exists).
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Sampling frequency in Hz.
    #[arg(
        short = 'F',
        long = "freq",
        value_name = "HZ",
        conflicts_with = "count"
    )]
    pub freq: Option<u64>,
    /// Sample period (one sample every N events).
    #[arg(short = 'c', long = "count", value_name = "PERIOD")]
    pub count: Option<u64>,
    /// Frame-pointer call graphs (same as --call-graph fp).
    #[arg(short = 'g')]
    pub g: bool,
    /// Call graphs: fp or dwarf[,SIZE].
    #[arg(long = "call-graph", value_name = "MODE")]
    pub call_graph: Option<String>,
    /// System-wide.
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Only these CPUs.
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpus: Option<String>,
    /// Existing process ids.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,
    /// Existing thread ids.
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tid: Option<String>,
    /// Output file.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub output: PathBuf,
    /// Do not put the hit objects into the build-id cache (--buildid-dir, ~/.debug).
    #[arg(short = 'N', long = "no-buildid-cache")]
    pub no_buildid_cache: bool,
    /// Do not save build ids in the file (and do not cache either).
    #[arg(short = 'B', long = "no-buildid")]
    pub no_buildid: bool,
    /// Workload.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `tracekit perf report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Sort keys: comm, dso, sym, pid, cpu, srcline.
    #[arg(
        short = 's',
        long = "sort",
        value_name = "KEYS",
        default_value = "comm,dso,sym"
    )]
    pub sort: String,
    /// Text output (the only text mode; accepted for perf compatibility).
    #[arg(long)]
    pub stdio: bool,
    /// Accumulate callers' overhead (Children column; perf's default when the file has call chains).
    #[arg(long, overrides_with = "no_children")]
    pub children: bool,
    /// Self overhead only.
    #[arg(long = "no-children")]
    pub no_children: bool,
    /// Call-graph output: graph|flat|none, caller|callee (e.g. `-g caller`, `-g none`).
    #[arg(short = 'g', long = "call-graph", value_name = "OPTS")]
    pub call_graph: Option<String>,
    /// Only these symbols (comma-separated).
    #[arg(short = 'S', long = "symbols", value_name = "SYM")]
    pub symbols: Option<String>,
    /// Only samples on these CPUs.
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpus: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Print only the perf.data header and features (perf's `--header-only`).
    #[arg(long = "header-only")]
    pub header_only: bool,
    /// Where the recording's symbols are (perf's offline options).
    #[command(flatten)]
    pub sym: SymbolArgs,
}

/// `tracekit perf script`.
#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Fields: comm,pid,tid,cpu,time,period,event,ip,sym,symoff,dso,trace.
    #[arg(short = 'F', long = "fields", value_name = "FIELDS")]
    pub fields: Option<String>,
    /// Where the recording's symbols are (perf's offline options).
    #[command(flatten)]
    pub sym: SymbolArgs,
}

/// `tracekit perf annotate`.
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Symbol to annotate (default: the hottest).
    #[arg(short = 's', long = "symbol", value_name = "SYM")]
    pub symbol: Option<String>,
    /// Text output (accepted for perf compatibility).
    #[arg(long)]
    pub stdio: bool,
    /// Where the recording's symbols are (perf's offline options).
    #[command(flatten)]
    pub sym: SymbolArgs,
}

pub fn run(g: &crate::cli::GlobalArgs, a: &PerfArgs) -> Result<()> {
    // Tracepoint ids and formats come from `--tracefs` (or `TRACEFS`) when given.
    let tracefs = g
        .tracefs
        .clone()
        .unwrap_or_else(perf::event::default_tracefs_root);
    if g.dry_run {
        match &a.cmd {
            PerfCmd::Stat(s) => {
                let ev = if s.events.is_empty() {
                    vec![perf::stat::DEFAULT_EVENTS.to_string()]
                } else {
                    s.events.clone()
                };
                return dry_run("stat", &ev, &s.command, &tracefs);
            }
            PerfCmd::Record(r) => return dry_run("record", &r.events, &r.command, &tracefs),
            // The others only read files.
            _ => {}
        }
    }
    match &a.cmd {
        PerfCmd::Stat(s) => stat(s, &tracefs),
        PerfCmd::Record(r) => record(r, a.buildid_dir(), &tracefs),
        PerfCmd::Report(r) => report(r, &a.symbol_paths(&r.sym)),
        PerfCmd::Script(s) => script(s, &a.symbol_paths(&s.sym)),
        PerfCmd::Annotate(s) => annotate(s, &a.symbol_paths(&s.sym)),
        PerfCmd::Archive(s) => archive(s, a.buildid_dir()),
    }
}

/// `--dry-run perf stat|record`: nothing of tracefs changes; print the
/// counters tracekit would open (validated) and the equivalent perf command,
/// without running the workload.
fn dry_run(
    what: &str,
    events: &[String],
    command: &[String],
    tracefs: &std::path::Path,
) -> Result<()> {
    let specs = perf::event::parse_list(events, tracefs)?;
    outln!("# perf_event_open(2) per CPU or thread, no tracefs changes:")?;
    for e in &specs {
        outln!(
            "#   {}: type={} config={:#x}",
            e.name,
            e.attr.type_,
            e.attr.config
        )?;
    }
    let ev: Vec<&str> = specs.iter().map(|e| e.name.as_str()).collect();
    let mut line = format!("perf {what}");
    if !ev.is_empty() {
        line.push_str(&format!(" -e {}", ev.join(",")));
    }
    if !command.is_empty() {
        line.push_str(" -- ");
        line.push_str(&command.join(" "));
    }
    outln!("{line}")?;
    Ok(())
}

fn stat(a: &StatArgs, tracefs: &std::path::Path) -> Result<()> {
    let opts = perf::stat::StatOptions {
        tracefs: tracefs.to_path_buf(),
        events: a.events.clone(),
        all_cpus: a.all_cpus,
        cpus: a.cpus.clone(),
        pids: a.pid.clone(),
        tids: a.tid.clone(),
        repeat: a.repeat,
        interval_ms: a.interval,
        csv_sep: a.sep.clone(),
        json: a.json,
        no_inherit: a.no_inherit,
        command: a.command.clone(),
    };
    let code = match &a.output {
        Some(p) => {
            let mut f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            perf::stat::run(&opts, &mut f)?
        }
        None => perf::stat::run(&opts, &mut std::io::stderr().lock())?,
    };
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn record(a: &RecordArgs, buildid_dir: Option<PathBuf>, tracefs: &std::path::Path) -> Result<()> {
    let call_graph = match (&a.call_graph, a.g) {
        (Some(m), _) => perf::record::CallGraph::parse(m)?,
        (None, true) => perf::record::CallGraph::Fp,
        (None, false) => perf::record::CallGraph::None,
    };
    let opts = perf::record::RecordOptions {
        tracefs: tracefs.to_path_buf(),
        events: a.events.clone(),
        freq: a.freq,
        period: a.count,
        call_graph,
        all_cpus: a.all_cpus,
        cpus: a.cpus.clone(),
        pids: a.pid.clone(),
        tids: a.tid.clone(),
        output: a.output.clone(),
        command: a.command.clone(),
        cmdline: std::env::args().collect(),
        buildid_dir: buildid_dir.filter(|_| !a.no_buildid_cache),
        no_buildid: a.no_buildid,
    };
    let s = perf::record::run(&opts)?;
    eprintln!(
        "[ tracekit perf record: Captured and wrote {:.3} MB {} ({} samples{}) ]",
        s.bytes as f64 / 1048576.0,
        a.output.display(),
        s.samples,
        if s.lost > 0 {
            format!(", {} lost", s.lost)
        } else {
            String::new()
        }
    );
    if s.exit_code != 0 {
        std::process::exit(s.exit_code);
    }
    Ok(())
}

fn open_session(
    input: &std::path::Path,
    paths: &symbols::locate::SymbolPaths,
) -> Result<perf::session::Session> {
    for (what, p) in [
        ("--symfs", &paths.symfs),
        ("--kallsyms", &paths.kallsyms),
        ("--vmlinux", &paths.vmlinux),
    ] {
        if let Some(p) = p {
            if !p.exists() {
                anyhow::bail!("{what} {}: no such file or directory", p.display());
            }
        }
    }
    perf::session::Session::open_with(input, paths.clone())
        .with_context(|| format!("reading {}", input.display()))
}

fn report(a: &ReportArgs, paths: &symbols::locate::SymbolPaths) -> Result<()> {
    if a.header_only {
        let pd = perf::data::PerfData::open(&a.input)
            .with_context(|| format!("reading {}", a.input.display()))?;
        print_out(&perf::header::header_only(&pd))?;
        // Like perf, read a pipe to its end (the writer must not see EPIPE).
        if pd.is_pipe() {
            for r in pd.records() {
                r?;
            }
        }
        return Ok(());
    }
    let mut opts = perf::report::ReportOptions {
        sort: perf::report::SortKey::parse_list(&a.sort)?,
        // perf's default: Children column when the file has call chains.
        children: !a.no_children,
        ..Default::default()
    };
    // perf shows caller-first graphs with --children unless told otherwise.
    opts.caller = opts.children;
    if let Some(g) = &a.call_graph {
        opts.apply_call_graph_arg(g)?;
    }
    opts.symbols = a
        .symbols
        .as_ref()
        .map(|s| s.split(',').map(str::to_string).collect());
    opts.cpus = a
        .cpus
        .as_deref()
        .map(perf::event::parse_cpu_list)
        .transpose()?;
    let mut s = open_session(&a.input, paths)?;
    let r = perf::report::build(&mut s, &opts)?;
    let text = if a.json {
        r.to_json()
    } else {
        r.to_stdio(&opts)
    };
    print_out(&text)
}

fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()?;
    Ok(())
}

fn script(a: &ScriptArgs, paths: &symbols::locate::SymbolPaths) -> Result<()> {
    let fields = a
        .fields
        .as_deref()
        .map(perf::script::Fields::parse)
        .transpose()?;
    let mut s = open_session(&a.input, paths)?;
    let text = perf::script::run(&mut s, fields)?;
    print_out(&text)
}

fn annotate(a: &AnnotateArgs, paths: &symbols::locate::SymbolPaths) -> Result<()> {
    let mut s = open_session(&a.input, paths)?;
    let an = perf::annotate::annotate(&mut s, a.symbol.as_deref())?;
    print_out(&an.to_stdio())
}

/// `perf archive`: perf-archive's tarball and its closing hint.
fn archive(a: &ArchiveArgs, buildid_dir: Option<PathBuf>) -> Result<()> {
    let input = a
        .input
        .clone()
        .or_else(|| a.file.clone())
        .unwrap_or_else(|| PathBuf::from("perf.data"));
    let output = a
        .output
        .clone()
        .unwrap_or_else(|| perf::archive::default_output(&input));
    let buildid_dir = buildid_dir.context(
        "no build-id cache: give --buildid-dir DIR (perf's default, ~/.debug, needs $HOME)",
    )?;
    let opts = perf::archive::ArchiveOptions {
        input: input.clone(),
        output,
        buildid_dir,
        host: perf::session::host_paths(),
    };
    let s = perf::archive::run(&opts).with_context(|| format!("archiving {}", input.display()))?;
    for name in &s.no_build_id {
        log::warn!("{name}: sampled, but no build id was recorded for it; not archived");
    }
    for (e, why) in &s.missing {
        log::warn!("{} ({}): {why}; not archived", e.filename, e.hex());
    }
    let Some(out) = s.output else {
        anyhow::bail!("perf archive: no build-ids found");
    };
    eprintln!(
        "Now please run:\n\n$ tar xvf {} -C ~/.debug\n\nwherever you need to run 'perf report' on.",
        out.display()
    );
    Ok(())
}
