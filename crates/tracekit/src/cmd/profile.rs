//! `tracekit profile`: the kernel's function profiler around a command
//! (`echo 1 > function_profile_enabled` … `cat trace_stat/function*`),
//! summed over CPUs, with every setting restored afterwards.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use live::profile::{self, ProfileConfig};

use crate::cli::GlobalArgs;
use crate::cmd::record::{parse_duration, stop_flag};
use crate::context::Ctx;

/// `tracekit profile`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tracekit profile -l 'vfs_*' dd if=/dev/zero of=/dev/null count=1000\n  tracekit profile --duration 5s --limit 20\n  tracekit profile -l 'ext4_*' --per-cpu --json -- make"
)]
pub struct ProfileArgs {
    /// Only these functions (set_ftrace_filter; globs); repeatable. Default: all.
    #[arg(short = 'l', value_name = "FUNC")]
    pub filter: Vec<String>,
    /// Not these functions (set_ftrace_notrace); repeatable.
    #[arg(short = 'n', value_name = "FUNC")]
    pub notrace: Vec<String>,
    /// Stop after this long (e.g. 5s); without a command: until Ctrl-C.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Print each CPU's table (trace_stat/functionN) instead of the sum.
    #[arg(long = "per-cpu")]
    pub per_cpu: bool,
    /// Sort by: time (default), hits, avg, name.
    #[arg(long, value_name = "KEY", default_value = "time")]
    pub sort: String,
    /// Print at most N functions.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// One JSON object per function.
    #[arg(long)]
    pub json: bool,
    /// Command to profile (profiling stops when it exits); starts at the
    /// first word that is not an option, or after `--`.
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<String>,
}

fn us(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3} us")).unwrap_or_default()
}

pub fn run(g: &GlobalArgs, a: &ProfileArgs) -> Result<()> {
    let cfg = ProfileConfig {
        search_path: std::env::var_os("PATH"),
        scratch_dir: Some(std::env::temp_dir()),
        filter: a.filter.clone(),
        notrace: a.notrace.clone(),
        duration: a.duration.as_deref().map(parse_duration).transpose()?,
    };
    if a.command.is_empty() && cfg.duration.is_none() {
        eprintln!("tracekit: profiling until Ctrl-C");
    }
    let ctx = Ctx::open(g)?;
    if !ctx.tfs.applies() {
        let command = (!a.command.is_empty()).then_some(a.command.as_slice());
        let mut say = |l: &str| {
            let _ = outln!("{l}");
        };
        let res = profile::dry_run(&ctx.tfs, &cfg, command, &mut say);
        let fin = ctx.finish(false);
        res?;
        return fin;
    }
    let stop = stop_flag()?;
    let command = (!a.command.is_empty()).then_some(a.command.as_slice());
    let res = profile::profile(&ctx.tfs, &cfg, command, stop);
    // Filters and the profiler switch go back to how they were.
    let fin = ctx.finish(false);
    let sum = res?;
    fin?;
    let mut rows: Vec<(Option<u32>, profile::FunctionStat)> = if a.per_cpu {
        sum.per_cpu
            .iter()
            .map(|r| (Some(r.cpu), profile::FunctionStat::from(r)))
            .collect()
    } else {
        sum.total.iter().cloned().map(|t| (None, t)).collect()
    };
    let key = |s: &profile::FunctionStat| match a.sort.as_str() {
        "hits" => s.hits as f64,
        "avg" => s.avg_us.unwrap_or(0.0),
        _ => s.time_us.unwrap_or(s.hits as f64),
    };
    match a.sort.as_str() {
        "name" => rows.sort_by(|x, y| (x.0, &x.1.function).cmp(&(y.0, &y.1.function))),
        "time" | "hits" | "avg" => {
            rows.sort_by(|x, y| x.0.cmp(&y.0).then(key(&y.1).total_cmp(&key(&x.1))))
        }
        other => bail!("unknown --sort '{other}' (time, hits, avg, name)"),
    }
    let mut out = std::io::stdout().lock();
    let mut shown: std::collections::HashMap<Option<u32>, usize> = Default::default();
    let mut cur: Option<Option<u32>> = None;
    for (cpu, s) in &rows {
        let n = shown.entry(*cpu).or_default();
        if a.limit.is_some_and(|l| *n >= l) {
            continue;
        }
        *n += 1;
        if a.json {
            let mut v = serde_json::to_value(s)?;
            if let Some(c) = cpu {
                v["cpu"] = serde_json::Value::from(*c);
            }
            writeln!(out, "{v}")?;
            continue;
        }
        if cur != Some(*cpu) {
            cur = Some(*cpu);
            if let Some(c) = cpu {
                writeln!(out, "CPU {c}:")?;
            }
            writeln!(
                out,
                "  {:<30}  {:>10}    {:>16}  {:>14}  {:>16}",
                "Function", "Hit", "Time", "Avg", "s^2"
            )?;
            writeln!(
                out,
                "  {:<30}  {:>10}    {:>16}  {:>14}  {:>16}",
                "--------", "---", "----", "---", "---"
            )?;
        }
        writeln!(
            out,
            "  {:<30}  {:>10}    {:>16}  {:>14}  {:>16}",
            s.function,
            s.hits,
            us(s.time_us),
            us(s.avg_us),
            us(s.s2_us)
        )?;
    }
    let cpus: std::collections::BTreeSet<u32> = sum.per_cpu.iter().map(|r| r.cpu).collect();
    eprintln!(
        "tracekit: {} functions on {} CPUs in {:.3} s",
        sum.total.len(),
        cpus.len(),
        sum.elapsed.as_secs_f64()
    );
    if let Some(s) = sum.command_status {
        if !s.success() {
            eprintln!("tracekit: the command exited with {s}");
        }
    }
    Ok(())
}
