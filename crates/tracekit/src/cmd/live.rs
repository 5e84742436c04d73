//! `tracekit stream`, `start`, `stop`, `extract`, `clear`: live and detached
//! tracing (trace-cmd's stream/start/stop/extract), reusing record's options.

use std::io::Write;
use std::path::PathBuf;

use ::live::live::{self, StreamFormat};
use anyhow::{bail, Context as _, Result};
use clap::{ArgMatches, Args};
use tracecmd::writer::{Compression, WriterOptions};
use tracefs::journal::StateLock;
use tracefs::Instance;

use crate::cli::GlobalArgs;
use crate::cmd::record::{check_buffer_users, config, stop_flag, RecordArgs};
use crate::context::Ctx;

/// Default instance of `start`/`stop`/`extract`.
pub const DEFAULT_INSTANCE: &str = "tracekit";

/// `tracekit stream`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tracekit stream -e syscalls:sys_enter_openat -F cat /etc/hostname\n  tracekit stream -e sched:sched_switch --format json | jq .\n  tracekit stream --tc -e irq --duration 5s"
)]
pub struct StreamArgs {
    #[command(flatten)]
    pub rec: RecordArgs,
    /// Print in trace-cmd's report layout instead of the kernel's.
    #[arg(long = "tc", conflicts_with = "format")]
    pub tc: bool,
    /// Output format: text (default) or json (one object per line).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Let the scheduler place the per-CPU readers instead of running each
    /// on its own CPU (for CPUs monopolised by a real-time task).
    #[arg(long = "no-pin")]
    pub no_pin: bool,
}

/// `tracekit start`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tracekit start -e sched:sched_switch\n  tracekit start --name flight --overwrite -e irq -b 8192\n  tracekit stop; tracekit extract -o x.dat; tracekit report -i x.dat"
)]
pub struct StartArgs {
    #[command(flatten)]
    pub rec: RecordArgs,
    /// Instance to trace into.
    #[arg(long, default_value = DEFAULT_INSTANCE)]
    pub name: String,
    /// Flight-recorder mode: keep the newest events (overwrite the oldest).
    #[arg(long)]
    pub overwrite: bool,
}

/// `tracekit stop` / `tracekit clear`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  tracekit stop\n  tracekit stop -B flight")]
pub struct InstanceArg {
    /// Instance (default: tracekit's `start` instance).
    #[arg(short = 'B', value_name = "INSTANCE", default_value = DEFAULT_INSTANCE)]
    pub instance: String,
}

/// `tracekit extract`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tracekit extract -o x.dat\n  tracekit extract -B flight -o flight.dat --file-version 6"
)]
pub struct ExtractArgs {
    /// Instance (default: tracekit's `start` instance).
    #[arg(short = 'B', value_name = "INSTANCE", default_value = DEFAULT_INSTANCE)]
    pub instance: String,
    /// Output file.
    #[arg(short = 'o', value_name = "FILE", default_value = "trace.dat")]
    pub output: PathBuf,
    /// trace.dat version (6 or 7).
    #[arg(long = "file-version", default_value_t = 7)]
    pub file_version: u32,
    /// Compression: none, zstd, zlib.
    #[arg(long, default_value = "zstd")]
    pub compression: String,
}

pub fn stream(g: &GlobalArgs, a: &StreamArgs, m: &ArgMatches) -> Result<()> {
    let format = match (a.tc, a.format.as_deref()) {
        (true, _) => StreamFormat::TraceCmd,
        (false, None | Some("text")) => StreamFormat::Kernel,
        (false, Some("json")) => StreamFormat::Json,
        (false, Some(f)) => bail!("unknown format '{f}' (text, json)"),
    };
    if a.rec.keep_command {
        bail!("--keep-command is a record option: stream always stops the command with the stream");
    }
    let ctx = Ctx::open(g)?;
    let cfg = config(&ctx, &a.rec, m)?;
    if !ctx.tfs.applies() {
        let command = (!a.rec.command.is_empty()).then_some(a.rec.command.as_slice());
        let mut say = |l: &str| {
            let _ = outln!("{l}");
        };
        let res =
            ::live::session::dry_run(&ctx.tfs, &cfg, command, "decoded and printed", &mut say);
        let fin = ctx.finish(false);
        res?;
        return fin;
    }
    {
        let _lock = StateLock::acquire(&ctx.state_dir)?;
        check_buffer_users(&ctx, &cfg, a.rec.force)?;
    }
    let stop = stop_flag()?;
    let command = if a.rec.command.is_empty() {
        None
    } else {
        Some(a.rec.command.as_slice())
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let opts = live::StreamOptions {
        format,
        pin_readers: !a.no_pin,
    };
    let res = live::stream(&ctx.tfs, &cfg, command, stop, opts, &mut out);
    let _ = out.flush();
    drop(out);
    let fin = ctx.finish(false);
    let sum = res?;
    fin?;
    let mut lost: std::collections::BTreeMap<u32, u64> = Default::default();
    for (cpu, n) in &sum.lost {
        *lost.entry(*cpu).or_default() += n;
    }
    for s in &sum.stats {
        let e = lost.entry(s.cpu).or_default();
        *e = (*e).max(s.lost());
    }
    if !a.rec.quiet {
        eprintln!(
            "tracekit: {} events{}{}",
            sum.events,
            if sum.decode_errors > 0 {
                format!(", {} could not be decoded", sum.decode_errors)
            } else {
                String::new()
            },
            if sum.output_closed {
                " (output closed)"
            } else {
                ""
            }
        );
    }
    for (cpu, n) in lost.iter().filter(|(_, n)| **n > 0) {
        eprintln!("tracekit: CPU{cpu}: {n} events lost");
    }
    Ok(())
}

pub fn start(g: &GlobalArgs, a: &StartArgs, m: &ArgMatches) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let mut rec_cfg = config(&ctx, &a.rec, m)?;
    if !a.rec.command.is_empty() {
        bail!("start takes no command: it leaves tracing running (use record or stream to trace a command)");
    }
    tracefs::validate_instance_name(&a.name)?;
    rec_cfg.buffers[0].name = Some(a.name.clone());
    rec_cfg.top_level = false;
    rec_cfg.options.push(if a.overwrite {
        "overwrite".into()
    } else {
        "nooverwrite".into()
    });
    let res = live::start(&ctx.tfs, &rec_cfg);
    match res {
        Ok(names) => {
            ctx.finish(true)?;
            let n = names.first().cloned().unwrap_or_default();
            outln!("{n}")?;
            eprintln!("tracekit: tracing into instance {n}; `tracekit stop -B {n}`, `tracekit extract -B {n} -o FILE`, `tracekit reset` to remove it");
            Ok(())
        }
        Err(e) => {
            ctx.rollback();
            Err(e.into())
        }
    }
}

pub fn stop(g: &GlobalArgs, a: &InstanceArg) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let inst = Instance::open(&ctx.tfs, Some(&a.instance))?;
    inst.set_tracing_on(false)?;
    // Left as is on purpose: `reset` removes the instance.
    ctx.finish(true)?;
    Ok(())
}

pub fn clear(g: &GlobalArgs, a: &InstanceArg) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let inst = if a.instance == "top" {
        Instance::top(&ctx.tfs)
    } else {
        Instance::open(&ctx.tfs, Some(&a.instance))?
    };
    inst.clear_trace()?;
    ctx.finish(false)?;
    Ok(())
}

pub fn extract(g: &GlobalArgs, a: &ExtractArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let inst = Instance::open(&ctx.tfs, Some(&a.instance))?;
    let compression = Compression::parse(&a.compression)
        .with_context(|| format!("unknown compression '{}'", a.compression))?;
    let sum = live::extract(
        &ctx.tfs,
        &inst,
        &a.output,
        WriterOptions {
            version: a.file_version,
            compression,
        },
    )?;
    ctx.finish(false)?;
    let overwritten: u64 = sum.stats.iter().map(|s| s.overrun).sum();
    let dropped: u64 = sum
        .stats
        .iter()
        .map(|s| s.dropped_events + s.commit_overrun)
        .sum();
    for w in &sum.written {
        outln!("CPU{} data recorded at offset=0x{:x}", w.cpu, w.offset)?;
        outln!(
            "    {} bytes in size ({} uncompressed)",
            w.size,
            w.uncompressed
        )?;
    }
    if overwritten > 0 {
        eprintln!("tracekit: {overwritten} older events were overwritten (flight-recorder mode keeps the newest)");
    }
    if dropped > 0 {
        eprintln!("tracekit: {dropped} events were dropped because the buffer was full (use a bigger -b or --overwrite)");
    }
    Ok(())
}
