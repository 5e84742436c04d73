//! `tracekit dump`: the metadata of a trace.dat file, like `trace-cmd dump`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tracecmd::dump::{DumpItems, DumpOptions};

/// `tracekit dump` (as `trace-cmd dump`).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tracekit dump -i trace.dat --summary\n  tracekit dump -i trace.dat --options --flyrecord --clock\n  tracekit dump -i trace.dat --events"
)]
pub struct DumpArgs {
    /// Input file (default trace.dat).
    #[arg(short = 'i', value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Input file given without -i.
    #[arg(value_name = "FILE", conflicts_with = "input")]
    pub file: Option<PathBuf>,
    /// Initial format, sizes and counts of every part.
    #[arg(long)]
    pub summary: bool,
    /// The header_page format.
    #[arg(long)]
    pub head_page: bool,
    /// The header_event format.
    #[arg(long)]
    pub head_event: bool,
    /// The ftrace event formats.
    #[arg(long)]
    pub ftrace_events: bool,
    /// The event systems.
    #[arg(long)]
    pub systems: bool,
    /// The event formats.
    #[arg(long)]
    pub events: bool,
    /// The kallsyms text.
    #[arg(long)]
    pub kallsyms: bool,
    /// The printk formats.
    #[arg(long)]
    pub printk: bool,
    /// The saved command lines.
    #[arg(long)]
    pub cmd_lines: bool,
    /// The options.
    #[arg(long)]
    pub options: bool,
    /// The flyrecord (CPU data) layout.
    #[arg(long)]
    pub flyrecord: bool,
    /// The trace clock.
    #[arg(long)]
    pub clock: bool,
    /// The v7 section list.
    #[arg(long)]
    pub sections: bool,
    /// The v7 string table.
    #[arg(long)]
    pub strings: bool,
    /// Everything.
    #[arg(long)]
    pub all: bool,
    /// Print a final line when the whole file could be walked.
    #[arg(short = 'v', long)]
    pub validate: bool,
}

/// Runs `tracekit dump`.
pub fn run(a: &DumpArgs) -> Result<()> {
    let file = a
        .input
        .clone()
        .or_else(|| a.file.clone())
        .unwrap_or_else(|| PathBuf::from("trace.dat"));
    let items = DumpItems {
        summary: a.summary,
        head_page: a.head_page,
        head_event: a.head_event,
        ftrace_events: a.ftrace_events,
        systems: a.systems,
        events: a.events,
        kallsyms: a.kallsyms,
        printk: a.printk,
        cmd_lines: a.cmd_lines,
        options: a.options,
        flyrecord: a.flyrecord,
        clock: a.clock,
        sections: a.sections,
        strings: a.strings,
        all: a.all,
        validate: a.validate,
    };
    let o = DumpOptions { file, items };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    tracecmd::dump::run(&o, &mut out).context("dump")?;
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing output"),
    }
}
