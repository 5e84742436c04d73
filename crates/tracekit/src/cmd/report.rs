//! `tracekit report`: trace-cmd compatible report of trace.dat files
//! (the work is done by the `tracecmd` crate; this only maps the flags).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use tracecmd::report::{Format, Mode, ReportOptions};

/// `tracekit report` (as `trace-cmd report`).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tracekit report -i trace.dat\n  tracekit report -i trace.dat -t --cpu 0,1\n  tracekit report -i trace.dat -F 'sched_switch: prev_pid != 0'\n  tracekit report -i trace.dat --format json | jq .event\n  tracekit report -i trace.dat --summary\n  tracekit report -i trace.dat --format perfetto > trace.json   # open in ui.perfetto.dev"
)]
pub struct ReportArgs {
    /// Input file (repeatable; records of all files are merged). Default: trace.dat.
    #[arg(short = 'i', value_name = "FILE")]
    pub input: Vec<PathBuf>,
    /// Input files given without -i.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Full nanosecond timestamps.
    #[arg(short = 't')]
    pub nsec: bool,
    /// Raw fields instead of the print format.
    #[arg(short = 'R')]
    pub raw: bool,
    /// Raw fields for EVENT only (repeatable).
    #[arg(short = 'r', value_name = "EVENT")]
    pub raw_events: Vec<String>,
    /// No plugins: plain print fmt.
    #[arg(short = 'N')]
    pub no_plugins: bool,
    /// Latency format (irqs-off, need-resched, hardirq/softirq, preempt depth).
    #[arg(short = 'l')]
    pub latency: bool,
    /// Filter (trace-cmd syntax: `[EVENT:] FIELD OP VALUE && …`), repeatable.
    #[arg(short = 'F', value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Invert the filters.
    #[arg(short = 'v')]
    pub invert: bool,
    /// Only these CPUs (`0,2-3`).
    #[arg(long = "cpu", value_name = "LIST")]
    pub cpu: Option<String>,
    /// List the CPUs that have data.
    #[arg(long)]
    pub cpus: bool,
    /// Per-CPU ring-buffer statistics saved at record time.
    #[arg(long)]
    pub stat: bool,
    /// The recorded uname.
    #[arg(long)]
    pub uname: bool,
    /// The version of trace-cmd that recorded the file.
    #[arg(long = "version")]
    pub file_version: bool,
    /// With --cpus: the first event of each CPU.
    #[arg(long)]
    pub first_event: bool,
    /// With --cpus: the last event of each CPU.
    #[arg(long)]
    pub last_event: bool,
    /// Add NS nanoseconds to every timestamp.
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    pub ts_offset: Option<i64>,
    /// Ignore the recorded --date offset.
    #[arg(long)]
    pub nodate: bool,
    /// Quiet: no warnings.
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Print the event formats.
    #[arg(short = 'E')]
    pub events: bool,
    /// Print the kernel functions (kallsyms).
    #[arg(short = 'f')]
    pub functions: bool,
    /// Print the printk formats.
    #[arg(short = 'P')]
    pub printk: bool,
    /// Output format of events: text (trace-cmd's), json (one object per line), csv, or
    /// perfetto (Chrome trace-event JSON for ui.perfetto.dev: CPU tracks from sched_switch,
    /// function_graph and irq slices, other events as instants).
    #[arg(long, value_name = "FMT", default_value = "text")]
    pub format: String,
    /// Event counts per event, CPU and task; first/last timestamp; lost events.
    #[arg(long)]
    pub summary: bool,
}

/// `--cpu 0,2-3`: the one CPU-list parser (perf's `-C` uses it too).
fn parse_cpus(s: &str) -> Result<Vec<u32>> {
    Ok(perf::event::parse_cpu_list(s)?)
}

/// Builds the library options from the flags.
pub fn options(a: &ReportArgs) -> Result<ReportOptions> {
    let mut inputs: Vec<PathBuf> = a.input.iter().chain(a.files.iter()).cloned().collect();
    if inputs.is_empty() {
        inputs.push(PathBuf::from("trace.dat"));
    }
    let mode = if a.stat {
        Mode::Stat
    } else if a.cpus {
        Mode::Cpus
    } else if a.uname {
        Mode::Uname
    } else if a.file_version {
        Mode::Version
    } else if a.events {
        Mode::EventFormats
    } else if a.functions {
        Mode::Functions
    } else if a.printk {
        Mode::Printk
    } else if a.summary {
        Mode::Summary
    } else {
        Mode::Events
    };
    let format = match a.format.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        "csv" => Format::Csv,
        "perfetto" => Format::Perfetto,
        other => bail!("unknown --format '{other}' (text, json, csv, perfetto)"),
    };
    Ok(ReportOptions {
        inputs,
        nsec: a.nsec,
        raw: a.raw,
        raw_events: a.raw_events.clone(),
        no_plugins: a.no_plugins,
        latency: a.latency,
        filters: a.filters.clone(),
        invert: a.invert,
        cpus: a.cpu.as_deref().map(parse_cpus).transpose()?,
        mode,
        first_event: a.first_event,
        last_event: a.last_event,
        ts_offset: a.ts_offset,
        nodate: a.nodate,
        quiet: a.quiet,
        format,
    })
}

/// Runs `tracekit report`.
pub fn run(a: &ReportArgs) -> Result<()> {
    let o = options(a)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut err = std::io::stderr();
    match tracecmd::report::run(&o, &mut out, &mut err) {
        Ok(_) => {}
        Err(e) if e.is_broken_pipe() => return Ok(()),
        Err(e) => return Err(e).context("report"),
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing output"),
    }
}
