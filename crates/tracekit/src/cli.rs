//! Command-line definitions (clap derive structs only). Each subcommand's
//! arguments are a `…Args` struct; `cmd/<name>.rs` turns them into library calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// tracekit: Linux kernel tracing in one binary (ftrace control, trace-cmd
/// and perf workflows).
#[derive(Debug, Parser)]
#[command(
    name = "tracekit",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  tracekit check                      what this kernel can do, and the fallbacks\n  tracekit list -e 'sched:*'          list scheduler events\n  tracekit set -e sched:sched_switch -f 'prev_pid != 0' -B mine\n  tracekit --dry-run set -p function  print the echo commands instead of running them\n  tracekit reset                      undo everything tracekit changed"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to every subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print the equivalent shell commands (echo … > /sys/kernel/tracing/…) instead of changing anything.
    #[arg(long, global = true, conflicts_with = "explain")]
    pub dry_run: bool,
    /// Print the equivalent shell commands and perform them.
    #[arg(long, global = true)]
    pub explain: bool,
    /// tracefs root to use (default: /sys/kernel/tracing, mounted if needed).
    #[arg(long, global = true, env = "TRACEFS", value_name = "DIR")]
    pub tracefs: Option<PathBuf>,
    /// Where the journal of tracekit's changes lives.
    #[arg(
        long,
        global = true,
        env = "TRACEKIT_STATE_DIR",
        value_name = "DIR",
        default_value = "/run/tracekit"
    )]
    pub state_dir: PathBuf,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report what this kernel's tracing can do, why not, and the fallback tracekit uses.
    #[command(
        after_help = "Examples:\n  tracekit check\n  tracekit check --json | jq '.features[] | select(.available==\"no\")'"
    )]
    Check(CheckArgs),
    /// List events, tracers, options, filterable functions, event formats or probes.
    #[command(
        after_help = "Examples:\n  tracekit list -e 'sched:*'\n  tracekit list -t -o\n  tracekit list -F sched:sched_switch\n  tracekit list -f 'vfs_*'\n  tracekit list --probes --json"
    )]
    List(ListArgs),
    /// Print a trace buffer (trace, or the consuming trace_pipe with --pipe).
    #[command(after_help = "Examples:\n  tracekit show\n  tracekit show -B mine --pipe")]
    Show(ShowArgs),
    /// Show the current ftrace state: tracer, events, filters, triggers, pids, buffers, instances, probes.
    #[command(after_help = "Examples:\n  tracekit status\n  tracekit status -B mine --json")]
    Status(StatusArgs),
    /// Apply settings to the top level or an instance and leave them in place (journaled; undo with reset).
    #[command(
        after_help = "Examples:\n  tracekit set -e sched:sched_switch -f 'prev_pid != 0' -e irq\n  tracekit set -B mine -p nop -C mono -b 4096 -O noirq-info\n  tracekit set -e sched:sched_switch -R 'stacktrace:5 if prev_state == 1'\n  tracekit --dry-run set -P 1234 -e syscalls"
    )]
    Set(Box<SetArgs>),
    /// Record a trace into trace.dat (trace-cmd record), in a private instance, restoring everything afterwards.
    Record(Box<crate::cmd::record::RecordArgs>),
    /// Print events live while a command runs (trace-cmd stream): kernel text, --tc, or --format json.
    Stream(Box<crate::cmd::live::StreamArgs>),
    /// Leave tracing running in an instance (trace-cmd start); stop/extract/reset later.
    Start(Box<crate::cmd::live::StartArgs>),
    /// Stop tracing in an instance started with `start`.
    Stop(crate::cmd::live::InstanceArg),
    /// Write an instance's buffer to a trace.dat (trace-cmd extract).
    Extract(crate::cmd::live::ExtractArgs),
    /// Clear a trace buffer (echo > trace).
    #[command(after_help = "Examples:\n  tracekit clear -B tracekit\n  tracekit clear -B top")]
    Clear(crate::cmd::live::InstanceArg),
    /// Undo what tracekit changed (from its journal); --all resets tracefs to defaults.
    #[command(
        after_help = "Examples:\n  tracekit reset\n  tracekit reset --all --yes\n  tracekit reset --all -B mine"
    )]
    Reset(ResetArgs),
    /// Dynamic probes: kprobes, kretprobes, uprobes, uretprobes, USDT (add, list, del, profile, funcs).
    #[command(
        after_help = "Examples:\n  tracekit probe add do_sys_openat2 dfd filename:string\n  tracekit probe add -x /lib/x86_64-linux-gnu/libc.so.6 openat 'path=$arg2:string'\n  tracekit probe list\n  tracekit probe del 'tracekit_root/*'"
    )]
    Probe(crate::cmd::probe::ProbeArgs),
    /// Function profiler (function_profile_enabled + trace_stat): hits, time, avg, s² per function.
    Profile(Box<crate::cmd::profile::ProfileArgs>),
    /// perf's workflow with perf's options: stat, record, report, script, annotate.
    #[command(
        after_help = "Examples:\n  tracekit perf stat -e task-clock,context-switches,cycles -r 3 -- sleep 0.1\n  tracekit perf record -g -- ./a.out\n  tracekit perf report --stdio --no-children --sort comm,dso,sym"
    )]
    Perf(crate::cmd::perf::PerfArgs),
    /// Print the events of trace.dat files as `trace-cmd report` does (or as JSON/CSV/Perfetto).
    Report(crate::cmd::report::ReportArgs),
    /// Show the metadata of a trace.dat file, like `trace-cmd dump`.
    Dump(crate::cmd::dump::DumpArgs),
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  tracekit completions bash > /etc/bash_completion.d/tracekit"
    )]
    Completions(CompletionsArgs),
}

/// `tracekit check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `tracekit list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// List events, optionally matching GLOB (`sched:*`, `kprobes`, `*open*`).
    #[arg(short = 'e', long = "events", value_name = "GLOB", num_args = 0..=1, default_missing_value = "all")]
    pub events: Option<String>,
    /// List tracers.
    #[arg(short = 't', long = "tracers")]
    pub tracers: bool,
    /// List options with their state.
    #[arg(short = 'o', long = "options")]
    pub options: bool,
    /// List filterable functions, optionally matching GLOB.
    #[arg(short = 'f', long = "functions", value_name = "GLOB", num_args = 0..=1, default_missing_value = "*")]
    pub functions: Option<String>,
    /// Show the format of EVENT (`system:event`).
    #[arg(short = 'F', long = "format", value_name = "EVENT")]
    pub format: Option<String>,
    /// List dynamic events (kprobes, uprobes, …), marking tracekit's.
    #[arg(long)]
    pub probes: bool,
    /// Instance to list events/options of (default: top level).
    #[arg(short = 'B', value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `tracekit show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Instance (default: top level).
    #[arg(short = 'B', value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// Read the consuming trace_pipe until interrupted.
    #[arg(long)]
    pub pipe: bool,
    /// Show the snapshot buffer.
    #[arg(long, conflicts_with = "pipe")]
    pub snapshot: bool,
    /// With --pipe: decode the raw buffers with trace-cmd's layout.
    #[arg(long = "tc", requires = "pipe", conflicts_with = "format")]
    pub tc: bool,
    /// With --pipe: text (the kernel's layout, decoded by tracekit) or json.
    #[arg(long, requires = "pipe", value_name = "FORMAT")]
    pub format: Option<String>,
}

/// `tracekit status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this instance (`top` for the top level).
    #[arg(short = 'B', value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `tracekit set` (as `trace-cmd set`). `-f` and `-R` apply to the preceding `-e`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Instance to change (created if missing); default: top level.
    #[arg(short = 'B', value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// Disable these events (same as `-e '!EVENT'`, set_event's own syntax); repeatable.
    #[arg(long = "disable", value_name = "EVENT")]
    pub disable: Vec<String>,
    #[command(flatten)]
    pub setup: TraceSetupArgs,
}

/// The trace-array settings of `set`, `record`, `stream` and `start`, with
/// trace-cmd's flags. The clap ids `events`, `filters` and `triggers` are
/// read by position to pair each -f/-R with the -e before it.
#[derive(Debug, Args)]
pub struct TraceSetupArgs {
    /// Enable events (`sched`, `sched:sched_switch`, `sched:*`, `all`); repeatable.
    #[arg(short = 'e', value_name = "EVENT")]
    pub events: Vec<String>,
    /// Filter for the preceding -e (`prev_pid != 0`, `comm == "bash"`).
    #[arg(short = 'f', value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Trigger for the preceding -e (`traceoff`, `stacktrace:5`, `hist:keys=pid`).
    #[arg(short = 'R', value_name = "TRIGGER")]
    pub triggers: Vec<String>,
    /// Tracer (`function`, `function_graph`, `nop`, …).
    #[arg(short = 'p', value_name = "TRACER")]
    pub tracer: Option<String>,
    /// Option to set (`NAME`) or clear (`noNAME`).
    #[arg(short = 'O', value_name = "OPTION")]
    pub options: Vec<String>,
    /// Ring-buffer size per CPU in KiB (tracekit's private instances default to 4096).
    #[arg(short = 'b', value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Trace clock (`local`, `global`, `mono`, `x86-tsc`, …).
    #[arg(short = 'C', value_name = "CLOCK")]
    pub clock: Option<String>,
    /// Only trace these PIDs (set_event_pid, and set_ftrace_pid when available).
    #[arg(short = 'P', value_name = "PID")]
    pub pids: Vec<u32>,
    /// Function filter (set_ftrace_filter).
    #[arg(short = 'l', value_name = "FUNC")]
    pub ftrace_filter: Vec<String>,
    /// Function notrace filter (set_ftrace_notrace).
    #[arg(short = 'n', value_name = "FUNC")]
    pub ftrace_notrace: Vec<String>,
    /// Graph function (set_graph_function).
    #[arg(short = 'g', value_name = "FUNC")]
    pub graph_function: Vec<String>,
    /// max_graph_depth.
    #[arg(long, value_name = "N")]
    pub max_graph_depth: Option<u32>,
    /// Only trace these CPUs (tracing_cpumask, hex).
    #[arg(short = 'M', value_name = "CPUMASK")]
    pub cpumask: Option<String>,
}

/// `tracekit reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Also put tracefs back to kernel defaults (tracer, events, filters, triggers, options, pids).
    #[arg(long)]
    pub all: bool,
    /// With --all: also delete probes tracekit did not create.
    #[arg(long, requires = "all")]
    pub probes: bool,
    /// With --all: also remove instances tracekit did not create.
    #[arg(long, requires = "all")]
    pub instances: bool,
    /// Only this instance: undo tracekit's changes to it (removing it if tracekit made it);
    /// with --all, reset it to the kernel's defaults (as `trace-cmd reset -B`).
    #[arg(short = 'B', value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// With -B: also remove the instance when tracekit did not create it (trace-cmd's `reset -d`).
    #[arg(short = 'd', long = "delete", requires = "instance")]
    pub delete: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also undo sessions of tracekit processes that are still running.
    #[arg(long)]
    pub force: bool,
}

/// `tracekit completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn list_flags_take_optional_values() {
        let c = Cli::try_parse_from(["tracekit", "list", "-e"]).unwrap();
        let Command::List(l) = c.command else {
            panic!()
        };
        assert_eq!(l.events.as_deref(), Some("all"));
        let c = Cli::try_parse_from(["tracekit", "list", "-e", "sched:*", "-t"]).unwrap();
        let Command::List(l) = c.command else {
            panic!()
        };
        assert_eq!(l.events.as_deref(), Some("sched:*"));
        assert!(l.tracers);
    }

    #[test]
    fn reset_subflags_need_all() {
        assert!(Cli::try_parse_from(["tracekit", "reset", "--probes"]).is_err());
        assert!(Cli::try_parse_from(["tracekit", "reset", "--all", "--probes", "--yes"]).is_ok());
        assert!(Cli::try_parse_from(["tracekit", "--dry-run", "--explain", "check"]).is_err());
    }
}
