//! `tracekit record`: trace-cmd's `record`, into a private instance by
//! default, restoring everything on every exit path.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cli::TraceSetupArgs;
use anyhow::{bail, Context as _, Result};
use clap::{ArgMatches, Args};
use live::recorder::RecorderOptions;
use live::session::{self, BufferSpec, EventSpec, RecordConfig};
use tracecmd::writer::{Compression, WriterOptions};
use tracefs::journal::{self, StateLock};
use tracefs::probe::suggest;
use tracefs::restore::SessionKind;
use tracefs::Instance;

use crate::cli::GlobalArgs;
use crate::context::Ctx;

/// `tracekit record` (trace-cmd's options).
#[derive(Debug, Args)]
#[command(
    after_help = "The command starts at the first word that is not an option (as with trace-cmd, or after --); \
everything after it is the command's. It is held before exec until tracing is armed, and killed when the \
recording ends first or tracekit dies (even by SIGKILL), so it never runs untraced; --keep-command leaves it \
running. The output is written under a hidden temporary name next to it and renamed at the end: a failed or \
killed recording leaves an existing file untouched (`tracekit reset` removes the temporary files of a killed one).\n\n\
Examples:\n  tracekit record -e sched -e syscalls:sys_enter_openat -F ls /\n  tracekit record -p function_graph -g do_sys_openat2 -O funcgraph-proc -- ls\n  tracekit record -e irq -B other -e timer --duration 5s -o irq.dat\n  tracekit report -i trace.dat"
)]
pub struct RecordArgs {
    #[command(flatten)]
    pub setup: TraceSetupArgs,
    /// Kernel stack trace with every event.
    #[arg(short = 'T')]
    pub stacktrace: bool,
    /// Sub-buffer size in KiB (Linux 6.8+; such files round-trip through tracekit only).
    #[arg(long = "subbuf-size", value_name = "KB")]
    pub subbuf_kb: Option<u64>,
    /// Keep at most about KB per CPU: the newest data (two alternating halves).
    #[arg(short = 'm', value_name = "KB")]
    pub max_kb: Option<u64>,
    /// Only trace the command.
    #[arg(short = 'F')]
    pub only_command: bool,
    /// Also trace the command's children (with -F).
    #[arg(short = 'c')]
    pub children: bool,
    /// Also record instance NAME; the -e/-f/-R after it apply to it.
    #[arg(short = 'B', value_name = "INSTANCE")]
    pub instances: Vec<String>,
    /// Output file.
    #[arg(short = 'o', value_name = "FILE", default_value = "trace.dat")]
    pub output: PathBuf,
    /// Store the wall-clock offset (report shows wall time).
    #[arg(long)]
    pub date: bool,
    /// Quiet: no progress, no summary.
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Sleep between empty reads, µs (with --poll).
    #[arg(short = 's', value_name = "USECS", default_value_t = 1000)]
    pub sleep_us: u64,
    /// Never block on the buffers: poll them.
    #[arg(long)]
    pub poll: bool,
    /// Stop after this long (e.g. 5s, 1m).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Store /proc/PID/maps of the command.
    #[arg(long = "proc-map")]
    pub proc_map: bool,
    /// trace.dat version (6 or 7).
    #[arg(long = "file-version", default_value_t = 7)]
    pub file_version: u32,
    /// Compression of v7 files: none, zstd, zlib (Debian's trace-cmd 3.1.6 cannot read zlib).
    #[arg(long, default_value = "zstd")]
    pub compression: String,
    /// Record into the top-level buffer instead of a private instance.
    #[arg(long = "top")]
    pub top_level: bool,
    /// Exit with status 3 if any event was lost.
    #[arg(long = "fail-on-loss")]
    pub fail_on_loss: bool,
    /// Record even when another tracekit session uses the same trace array
    /// (e.g. --top while `tracekit set` left events enabled at the top level).
    #[arg(long)]
    pub force: bool,
    /// Let the command run on when the recording ends first or tracekit is
    /// killed (by default it is killed with it: it would run untraced).
    #[arg(long = "keep-command")]
    pub keep_command: bool,
    /// Command to run (recording stops when it exits); starts at the first
    /// word that is not an option, or after `--`.
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<String>,
}

/// Parses `5s`, `250ms`, `2m`, `1.5` (seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| (&s[..i], &s[i..]))
        .unwrap_or((s, "s"));
    let v: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("bad duration '{s}'"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" | "sec" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => bail!("bad duration unit in '{s}' (use ms, s, m, h)"),
    };
    if !(secs.is_finite() && secs > 0.0) {
        bail!("duration must be positive");
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Groups `-e/-f/-R` by buffer (`-B` starts a new one) using argument positions.
pub fn buffers(a: &RecordArgs, m: &ArgMatches) -> Result<Vec<BufferSpec>> {
    let idx =
        |id: &str| -> Vec<usize> { m.indices_of(id).map(|i| i.collect()).unwrap_or_default() };
    let (ev_i, f_i, r_i, b_i) = (
        idx("events"),
        idx("filters"),
        idx("triggers"),
        idx("instances"),
    );
    let mut out = vec![BufferSpec::default()];
    let mut order: Vec<(usize, char, usize)> = Vec::new();
    order.extend(ev_i.iter().enumerate().map(|(k, &p)| (p, 'e', k)));
    order.extend(f_i.iter().enumerate().map(|(k, &p)| (p, 'f', k)));
    order.extend(r_i.iter().enumerate().map(|(k, &p)| (p, 'R', k)));
    order.extend(b_i.iter().enumerate().map(|(k, &p)| (p, 'B', k)));
    order.sort();
    for (_, kind, k) in order {
        let cur = out.last_mut().context("internal: no buffer")?;
        match kind {
            'B' => out.push(BufferSpec {
                name: Some(a.instances[k].clone()),
                events: Vec::new(),
            }),
            'e' => cur.events.push(EventSpec {
                selector: a.setup.events[k].clone(),
                ..Default::default()
            }),
            'f' => {
                let ev = cur
                    .events
                    .last_mut()
                    .context("-f FILTER must follow the -e EVENT it applies to")?;
                if ev.filter.is_some() {
                    bail!(
                        "two -f filters for -e {}: combine them with && or ||",
                        ev.selector
                    );
                }
                ev.filter = Some(a.setup.filters[k].clone());
            }
            _ => {
                let ev = cur
                    .events
                    .last_mut()
                    .context("-R TRIGGER must follow the -e EVENT it applies to")?;
                ev.triggers.push(a.setup.triggers[k].clone());
            }
        }
    }
    Ok(out)
}

/// Validates the arguments and builds the session configuration (shared by
/// `record`, `stream` and `start`). `needs_events`: refuse an empty setup.
pub fn config(ctx: &Ctx, a: &RecordArgs, m: &ArgMatches) -> Result<RecordConfig> {
    let bufs = buffers(a, m)?;
    if bufs[0].events.is_empty() && a.setup.tracer.is_none() && bufs.len() == 1 {
        bail!("nothing to record: give -e EVENT and/or -p TRACER");
    }
    if a.children && !a.only_command {
        bail!("-c needs -F (trace the command and its children)");
    }
    if (a.only_command || a.children) && a.command.is_empty() {
        bail!("-F/-c need a command (tracekit record -F -e EVENT CMD ARGS…)");
    }
    let compression = Compression::parse(&a.compression)
        .with_context(|| format!("unknown compression '{}' (none, zstd, zlib)", a.compression))?;
    let top = Instance::top(&ctx.tfs);
    // Tracers some kernels only offer at the top level, or not at all.
    let mut top_level = a.top_level;
    if let Some(t) = &a.setup.tracer {
        if let Err(e) = top.check_tracer(t) {
            let mut msg = format!("{e}");
            for f in &a.setup.graph_function {
                let avail = top.available_events().unwrap_or_default();
                let s = suggest::suggest(f, &avail, 4);
                if !s.is_empty() {
                    let names: Vec<String> = s.iter().map(|x| x.event.to_string()).collect();
                    msg.push_str(&format!(
                        "\n  to observe {f} without it: tracekit record -e {}",
                        names.join(" -e ")
                    ));
                }
            }
            bail!(msg);
        }
        let probe = Instance::create_unique(&ctx.tfs, "tk-probe")?;
        let in_inst = probe
            .available_tracers()
            .map(|v| v.iter().any(|x| x == t))
            .unwrap_or(false);
        drop(probe);
        if !in_inst && !top_level {
            eprintln!("tracekit: note: this kernel offers the {t} tracer only at the top level; recording there (every change is journaled and restored)");
            top_level = true;
        }
    }
    Ok(RecordConfig {
        // The command is looked up as the shell would: in this user's PATH.
        search_path: std::env::var_os("PATH"),
        buffers: bufs,
        tracer: a.setup.tracer.clone(),
        ftrace_filter: a.setup.ftrace_filter.clone(),
        ftrace_notrace: a.setup.ftrace_notrace.clone(),
        graph_function: a.setup.graph_function.clone(),
        max_graph_depth: a.setup.max_graph_depth,
        options: a.setup.options.clone(),
        stacktrace: a.stacktrace,
        clock: a.setup.clock.clone(),
        buffer_kb: a.setup.buffer_kb,
        subbuf_kb: a.subbuf_kb,
        cpumask: a.setup.cpumask.clone(),
        pids: a.setup.pids.clone(),
        only_command: a.only_command,
        children: a.children,
        top_level,
        output: a.output.clone(),
        date: a.date,
        proc_map: a.proc_map,
        writer: WriterOptions {
            version: a.file_version,
            compression,
        },
        recorder: RecorderOptions {
            busy_poll: a.poll,
            sleep: std::time::Duration::from_micros(a.sleep_us),
            max_bytes: a.max_kb.map(|kb| kb * 1024),
            ..Default::default()
        },
        duration: a.duration.as_deref().map(parse_duration).transpose()?,
        keep_command: a.keep_command,
    })
}

/// Refuses (unless `force`) to record into a trace array another tracekit
/// session uses: a running `record --top`, or events `tracekit set` left
/// enabled at the top level. Call with the state lock held, up to the end
/// of the set-up, so that two recordings cannot both pass.
pub fn check_buffer_users(ctx: &Ctx, cfg: &RecordConfig, force: bool) -> Result<()> {
    let sessions = journal::scan(&ctx.state_dir).context("reading tracekit's journal")?;
    let users = session::buffer_users(&ctx.tfs, cfg, &sessions, ctx.journal.path());
    let Some(u) = users.first() else {
        return Ok(());
    };
    let array = match &u.buffer {
        None => "the top-level buffer".to_string(),
        Some(n) => format!("instance {n}"),
    };
    let who = format!("tracekit pid {} (`{}`)", u.pid, u.cmdline);
    let files = u
        .files
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let msg = match u.kind {
        SessionKind::Running => format!(
            "{array} is in use by {who}, still running ({files}): both would record each other's events. Record in a private instance (without --top), wait for it, or pass --force"
        ),
        SessionKind::Stale => format!(
            "{array} still has events enabled by {who}, which was killed ({files}): run `tracekit reset` first, or pass --force to record them too"
        ),
        _ => format!(
            "{array} has events enabled by {who}, left in place ({files}): they would be recorded too. Run `tracekit reset` first, record in a private instance (without --top), or pass --force"
        ),
    };
    if force {
        eprintln!("tracekit: warning: {msg}");
        return Ok(());
    }
    bail!(msg)
}

/// SIGINT/SIGTERM/SIGHUP set the returned flag instead of killing tracekit.
pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}

pub fn run(g: &GlobalArgs, a: &RecordArgs, m: &ArgMatches) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let cfg = config(&ctx, a, m)?;
    if !ctx.tfs.applies() {
        let command = (!a.command.is_empty()).then_some(a.command.as_slice());
        let mut say = |l: &str| {
            let _ = outln!("{l}");
        };
        let dest = format!("read into {}", a.output.display());
        let res = session::dry_run(&ctx.tfs, &cfg, command, &dest, &mut say);
        let fin = ctx.finish(false);
        res?;
        return fin;
    }
    let stop = stop_flag()?;
    let show = !a.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        Some(b)
    } else {
        None
    };
    let mut progress = |el: std::time::Duration, bytes: u64, lost: u64| {
        if let Some(b) = &bar {
            b.set_message(format!(
                "recording {:.1}s  {:.1} MiB  {:.1} MiB/s  lost {lost}",
                el.as_secs_f64(),
                bytes as f64 / 1048576.0,
                bytes as f64 / 1048576.0 / el.as_secs_f64().max(0.001)
            ));
            b.tick();
        }
    };
    let command = if a.command.is_empty() {
        None
    } else {
        Some(a.command.as_slice())
    };
    // Check for other users of the trace arrays and claim them (the set-up
    // journals the changes) under the state lock: two recordings started
    // together cannot both pass.
    let lock = StateLock::acquire(&ctx.state_dir)?;
    let res = check_buffer_users(&ctx, &cfg, a.force)
        .and_then(|()| Ok(session::Recording::prepare(&ctx.tfs, &cfg, command)?));
    drop(lock);
    let res = res.and_then(|rec| Ok(rec.run(stop, &mut progress)?));
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // Restore everything (instances, journaled changes) whatever happened.
    let fin = ctx.finish(false);
    let sum = res?;
    fin?;
    if sum.command_killed {
        eprintln!("tracekit: note: the command was still running when the recording ended and was killed (--keep-command leaves it running)");
    }
    if !a.quiet {
        for w in &sum.written {
            let name = if w.buffer.is_empty() {
                String::new()
            } else {
                format!("{}: ", w.buffer)
            };
            outln!(
                "{name}CPU{} data recorded at offset=0x{:x}",
                w.cpu,
                w.offset
            )?;
            if w.size != w.uncompressed {
                outln!(
                    "    {} bytes in size ({} uncompressed)",
                    w.size,
                    w.uncompressed
                )?;
            } else {
                outln!("    {} bytes in size", w.size)?;
            }
        }
    }
    let losses = sum.losses();
    for (b, cpu, n) in &losses {
        let name = if b.is_empty() {
            String::new()
        } else {
            format!("{b}: ")
        };
        eprintln!("tracekit: {name}CPU{cpu}: {n} events lost");
    }
    if !losses.is_empty() {
        eprintln!(
            "tracekit: events were lost: use a bigger buffer (-b KB per CPU, now {}), fewer events, or filters",
            sum.buffer_kb
                .map(|k| k.to_string())
                .unwrap_or_else(|| "?".into())
        );
        if a.fail_on_loss {
            std::process::exit(3);
        }
    }
    if let Some(s) = sum.command_status {
        if !s.success() {
            eprintln!("tracekit: note: the command exited with {s}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    fn bufs(args: &[&str]) -> Result<Vec<BufferSpec>> {
        let m = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        let Command::Record(a) = cli.command else {
            panic!()
        };
        buffers(&a, m.subcommand_matches("record").unwrap())
    }

    #[test]
    fn buffers_and_filters_follow_positions() {
        let b = bufs(&[
            "tracekit", "record", "-e", "sched", "-f", "a==1", "-B", "x", "-e", "irq", "-R",
            "traceoff", "--", "ls",
        ])
        .unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].events[0].filter.as_deref(), Some("a==1"));
        assert_eq!(b[1].name.as_deref(), Some("x"));
        assert_eq!(b[1].events[0].selector, "irq");
        assert_eq!(b[1].events[0].triggers, vec!["traceoff"]);
        assert!(bufs(&["tracekit", "record", "-f", "a==1", "-e", "x"]).is_err());
    }

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        let m = Cli::command().try_get_matches_from(args)?;
        Cli::from_arg_matches(&m)
    }

    #[test]
    fn command_without_double_dash_starts_at_the_first_word() {
        let cmd = |args: &[&str]| match parse(args).unwrap().command {
            Command::Record(a) => a.command.clone(),
            Command::Stream(a) => a.rec.command.clone(),
            Command::Profile(a) => a.command.clone(),
            _ => panic!(),
        };
        // trace-cmd's habit: options after the command word are the command's.
        assert_eq!(
            cmd(&["tracekit", "record", "-e", "sched", "ls", "-l", "-e", "x"]),
            ["ls", "-l", "-e", "x"]
        );
        assert_eq!(
            cmd(&["tracekit", "record", "-e", "sched", "--", "ls", "-l"]),
            ["ls", "-l"]
        );
        assert_eq!(
            cmd(&["tracekit", "record", "-e", "sched", "--", "-weird"]),
            ["-weird"]
        );
        assert_eq!(
            cmd(&["tracekit", "stream", "--tc", "-e", "sched", "ls", "--tc"]),
            ["ls", "--tc"]
        );
        assert_eq!(
            cmd(&["tracekit", "profile", "-l", "vfs_*", "dd", "count=1"]),
            ["dd", "count=1"]
        );
        assert_eq!(
            cmd(&["tracekit", "profile", "--", "dd", "-x"]),
            ["dd", "-x"]
        );
        // An unknown option is still an error, not a command.
        assert!(parse(&["tracekit", "record", "-e", "sched", "-Z"]).is_err());
        assert!(parse(&["tracekit", "record", "-e", "sched", "--bogus", "ls"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap().as_secs(), 5);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("1.5").unwrap().as_millis(), 1500);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
