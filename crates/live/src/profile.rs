//! The kernel's function profiler (`function_profile_enabled`,
//! `trace_stat/functionN`) around a command or for a duration: per-function
//! hits, total and average time and variance, per CPU and summed over CPUs.
//! The profiler is global (top level only); the settings it needs are
//! written through the caller's journaled [`Tracefs`], so they are restored
//! like every other change.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracefs::files::ProfileRow;
use tracefs::{Instance, Tracefs};

use crate::error::{Error, Result};
use crate::session::HeldChild;

/// What to profile.
#[derive(Debug, Clone, Default)]
pub struct ProfileConfig {
    /// `set_ftrace_filter` (functions or globs); empty = every function.
    pub filter: Vec<String>,
    /// `set_ftrace_notrace`.
    pub notrace: Vec<String>,
    /// Stop after this long (else when the command exits or on `stop`).
    pub duration: Option<Duration>,
    /// Where the command is looked up (the caller's `PATH`).
    pub search_path: Option<std::ffi::OsString>,
    /// Where the function_graph fallback keeps its scratch recording (the
    /// caller's temporary directory; `None`: `/tmp`).
    pub scratch_dir: Option<std::path::PathBuf>,
}

/// One function over all CPUs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FunctionStat {
    /// Function name.
    pub function: String,
    /// Calls.
    pub hits: u64,
    /// Total time in µs (kernels with the graph tracer).
    pub time_us: Option<f64>,
    /// Average time per call in µs.
    pub avg_us: Option<f64>,
    /// Sample variance of the call time in µs² (pooled over CPUs).
    pub s2_us: Option<f64>,
}

/// What a profile run saw.
#[derive(Debug, Clone, Default)]
pub struct ProfileSummary {
    /// Per CPU, as the kernel reports them.
    pub per_cpu: Vec<ProfileRow>,
    /// Summed over CPUs, most total time (else most hits) first.
    pub total: Vec<FunctionStat>,
    /// The command's exit status.
    pub command_status: Option<std::process::ExitStatus>,
    /// How long the profiler ran.
    pub elapsed: Duration,
}

/// Mean and sample variance from a count, a sum and a sum of squares.
fn mean_var(n: u64, sum: f64, sq: f64) -> (f64, f64) {
    let nf = n as f64;
    let mean = if n > 0 { sum / nf } else { 0.0 };
    let var = if n > 1 {
        ((sq - nf * mean * mean) / (nf - 1.0)).max(0.0)
    } else {
        0.0
    };
    (mean, var)
}

impl From<&ProfileRow> for FunctionStat {
    fn from(r: &ProfileRow) -> FunctionStat {
        FunctionStat {
            function: r.function.clone(),
            hits: r.hits,
            time_us: r.time_us,
            avg_us: r.avg_us,
            s2_us: r.s2_us,
        }
    }
}

/// Sums per-CPU rows: hits and times add up; the variance is pooled from
/// each CPU's count, mean and sample variance.
pub fn combine(rows: &[ProfileRow]) -> Vec<FunctionStat> {
    // function -> (n, sum, sum of squares, has time)
    let mut acc: BTreeMap<&str, (u64, f64, f64, bool)> = BTreeMap::new();
    for r in rows {
        let a = acc
            .entry(r.function.as_str())
            .or_insert((0, 0.0, 0.0, false));
        a.0 += r.hits;
        if let Some(t) = r.time_us {
            a.3 = true;
            a.1 += t;
            let n = r.hits as f64;
            let mean = if r.hits > 0 { t / n } else { 0.0 };
            let s2 = r.s2_us.unwrap_or(0.0);
            // Σx² = s²·(n−1) + n·mean²
            a.2 += s2 * (n - 1.0).max(0.0) + n * mean * mean;
        }
    }
    let mut out: Vec<FunctionStat> = acc
        .into_iter()
        .map(|(f, (n, sum, sq, timed))| {
            let (time, avg, s2) = if timed {
                let (avg, s2) = mean_var(n, sum, sq);
                (Some(sum), Some(avg), Some(s2))
            } else {
                (None, None, None)
            };
            FunctionStat {
                function: f.to_string(),
                hits: n,
                time_us: time,
                avg_us: avg,
                s2_us: s2,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.time_us
            .unwrap_or(0.0)
            .total_cmp(&a.time_us.unwrap_or(0.0))
            .then(b.hits.cmp(&a.hits))
            .then(a.function.cmp(&b.function))
    });
    out
}

/// `--dry-run` of [`profile`]: the kernel profiler's commands, printed by the
/// dry-run `tfs`, with `say` telling what happens in between (and, on a
/// kernel without the profiler, that the commands would fail here).
pub fn dry_run(
    tfs: &Tracefs,
    cfg: &ProfileConfig,
    command: Option<&[String]>,
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    let top = Instance::top(tfs);
    if !top.path("function_profile_enabled").exists() {
        say("# note: this kernel has no function profiler (CONFIG_FUNCTION_PROFILER); these are the commands where it exists:");
    }
    if !cfg.filter.is_empty() {
        top.set_list("set_ftrace_filter", &cfg.filter)?;
    }
    if !cfg.notrace.is_empty() {
        top.set_list("set_ftrace_notrace", &cfg.notrace)?;
    }
    top.set("function_profile_enabled", "1")?;
    match (command, cfg.duration) {
        (Some(c), _) => say(&format!("# {} runs now", c.join(" "))),
        (None, Some(d)) => say(&format!("# sleep {:.3}", d.as_secs_f64())),
        (None, None) => say("# until Ctrl-C"),
    }
    say(&format!(
        "cat {}/trace_stat/function*",
        tfs.root().display()
    ));
    top.set("function_profile_enabled", "0")?;
    Ok(())
}

/// Runs the profiler around `command` (or for the duration, or until
/// `stop`). The caller restores the settings (journal).
pub fn profile(
    tfs: &Tracefs,
    cfg: &ProfileConfig,
    command: Option<&[String]>,
    stop: Arc<AtomicBool>,
) -> Result<ProfileSummary> {
    let top = Instance::top(tfs);
    if !top.path("function_profile_enabled").exists() {
        let graph = top
            .read("available_tracers")
            .is_ok_and(|t| t.split_whitespace().any(|x| x == "function_graph"));
        if graph {
            return profile_with_graph(tfs, cfg, command, stop);
        }
        // Name only what runs on this kernel.
        let instead = if tfs.path("kprobe_events").exists() {
            "; instead: `tracekit probe add FUNC` + `tracekit probe profile` counts hits"
        } else {
            "; no fallback runs here (no kprobes either: CONFIG_KPROBE_EVENTS)"
        };
        return Err(Error::Usage(format!(
            "the function profiler is not available: no {} (enable CONFIG_FUNCTION_PROFILER, which needs CONFIG_FUNCTION_TRACER), and no function_graph tracer to stand in for it (CONFIG_FUNCTION_GRAPH_TRACER){instead}",
            top.path("function_profile_enabled").display()
        )));
    }
    if !cfg.filter.is_empty() {
        top.set_list("set_ftrace_filter", &cfg.filter)?;
    }
    if !cfg.notrace.is_empty() {
        top.set_list("set_ftrace_notrace", &cfg.notrace)?;
    }
    let mut child = match command {
        Some(a) if !a.is_empty() => Some(HeldChild::spawn(a)?),
        _ => None,
    };
    // Enabling resets the statistics.
    top.set_function_profile(false)?;
    top.set_function_profile(true)?;
    let start = Instant::now();
    let mut sum = ProfileSummary::default();
    let run = (|| -> Result<()> {
        if let Some(c) = child.as_mut() {
            c.release()?;
        }
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if let Some(c) = child.as_mut() {
                if let Some(s) = c.try_wait() {
                    sum.command_status = Some(s);
                    break;
                }
            }
            if cfg.duration.is_some_and(|d| start.elapsed() >= d) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    })();
    sum.elapsed = start.elapsed();
    // Read while still enabled (the statistics are those of this run), then stop.
    let rows = top.function_profile().map_err(Error::from);
    let off = top.set_function_profile(false).map_err(Error::from);
    if let Some(c) = child.as_mut() {
        if c.try_wait().is_none() {
            c.kill();
        }
    }
    run?;
    sum.per_cpu = rows?;
    off?;
    sum.total = combine(&sum.per_cpu);
    Ok(sum)
}

/// The profiler's numbers from the function_graph tracer (kernels built
/// without CONFIG_FUNCTION_PROFILER, like Debian's): the filtered functions
/// are traced as graph leaves, each `funcgraph_exit` carries the call's
/// `calltime` and `rettime`, and tracekit sums them per function and CPU.
/// Recorded like `record -p function_graph -l FUNC` into a scratch file.
fn profile_with_graph(
    tfs: &Tracefs,
    cfg: &ProfileConfig,
    command: Option<&[String]>,
    stop: Arc<AtomicBool>,
) -> Result<ProfileSummary> {
    eprintln!(
        "tracekit: no function profiler in this kernel (CONFIG_FUNCTION_PROFILER): timing the calls with the function_graph tracer instead"
    );
    let dir = tempfile_dir(cfg.scratch_dir.as_deref())?;
    let out = dir.join("profile.dat");
    let rc = crate::session::RecordConfig {
        buffers: vec![crate::session::BufferSpec::default()],
        tracer: Some("function_graph".into()),
        ftrace_filter: cfg.filter.clone(),
        ftrace_notrace: cfg.notrace.clone(),
        output: out.clone(),
        duration: cfg.duration,
        search_path: cfg.search_path.clone(),
        // The graph tracer is top-level only on most kernels (6.1).
        top_level: true,
        writer: tracecmd::writer::WriterOptions {
            version: 7,
            compression: tracecmd::writer::Compression::None,
        },
        ..Default::default()
    };
    let start = Instant::now();
    let rec = crate::session::record(tfs, &rc, command, stop, &mut |_, _, _| {});
    let stats = rec.and_then(|r| graph_stats(&out).map(|rows| (r, rows)));
    let _ = std::fs::remove_dir_all(&dir);
    let (r, per_cpu) = stats?;
    let lost: u64 = r.losses().iter().map(|(_, _, n)| n).sum();
    if lost > 0 {
        eprintln!("tracekit: {lost} calls were lost (the counts below are low): profile fewer functions (-l) or give a bigger buffer");
    }
    Ok(ProfileSummary {
        total: combine(&per_cpu),
        per_cpu,
        command_status: r.command_status,
        elapsed: start.elapsed(),
    })
}

/// A private scratch directory.
fn tempfile_dir(base: Option<&std::path::Path>) -> Result<std::path::PathBuf> {
    let d = base
        .unwrap_or(std::path::Path::new("/tmp"))
        .join(format!(".tk-profile-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|source| Error::Io {
        path: d.clone(),
        source,
    })?;
    Ok(d)
}

/// Per CPU and function: hits, total, mean and sample variance of
/// `rettime - calltime` over the `funcgraph_exit` records of a trace.dat.
fn graph_stats(path: &std::path::Path) -> Result<Vec<ProfileRow>> {
    let dat = tracecmd::TraceDat::open(path)?;
    let kallsyms = traceevent::Kallsyms::parse(&String::from_utf8_lossy(&dat.kallsyms_text))
        .unwrap_or_default();
    let Some(exit) = dat
        .registry
        .iter()
        .find(|e| e.system == "ftrace" && e.name == "funcgraph_exit")
    else {
        return Ok(Vec::new());
    };
    let field = |n: &str| exit.field(n).map(|f| (f.offset, f.size));
    let (Some(func), Some(call), Some(ret)) = (field("func"), field("calltime"), field("rettime"))
    else {
        return Ok(Vec::new());
    };
    let mut streams = Vec::new();
    if let Some(b) = dat.buffers.first() {
        for cd in &b.cpus {
            streams.push(tracecmd::stream::CpuStream::new(
                &dat,
                0,
                b,
                *cd,
                tracecmd::stream::TsCalc::default(),
            ));
        }
    }
    let mut merge = tracecmd::stream::Merge::new(streams);
    // (cpu, func address) -> (n, sum ns, sum of squares ns²)
    let mut acc: BTreeMap<(u32, u64), (u64, f64, f64)> = BTreeMap::new();
    let num = |d: &[u8], (off, size): (usize, usize)| dat.endian.read_uint(d, off, size);
    while merge.advance() {
        let Some(e) = merge.event() else { continue };
        if num(e.data, (0, 2)) != Some(u64::from(exit.id)) {
            continue;
        }
        let (Some(f), Some(c), Some(r)) = (num(e.data, func), num(e.data, call), num(e.data, ret))
        else {
            continue;
        };
        let d = r.saturating_sub(c) as f64;
        let a = acc.entry((e.cpu, f)).or_insert((0, 0.0, 0.0));
        a.0 += 1;
        a.1 += d;
        a.2 += d * d;
    }
    let mut rows = Vec::new();
    for ((cpu, f), (n, sum, sq)) in acc {
        let name = kallsyms
            .lookup(f)
            .map(|h| h.name.to_string())
            .unwrap_or_else(|| format!("0x{f:x}"));
        let (mean, s2) = mean_var(n, sum, sq);
        rows.push(ProfileRow {
            cpu,
            function: name,
            hits: n,
            time_us: Some(sum / 1000.0),
            avg_us: Some(mean / 1000.0),
            s2_us: Some(s2 / 1e6),
        });
    }
    rows.sort_by(|a, b| (a.cpu, &a.function).cmp(&(b.cpu, &b.function)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cpu: u32, f: &str, hits: u64, time: f64, s2: f64) -> ProfileRow {
        ProfileRow {
            cpu,
            function: f.into(),
            hits,
            time_us: Some(time),
            avg_us: Some(time / hits as f64),
            s2_us: Some(s2),
        }
    }

    #[test]
    fn combining_cpus_pools_the_variance() {
        // CPU0 calls took 1, 3 µs (mean 2, s² 2); CPU1 5, 7, 9 (mean 7, s² 4).
        let rows = [row(0, "f", 2, 4.0, 2.0), row(1, "f", 3, 21.0, 4.0)];
        let t = combine(&rows);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].hits, 5);
        assert_eq!(t[0].time_us, Some(25.0));
        assert_eq!(t[0].avg_us, Some(5.0));
        // 1, 3, 5, 7, 9: mean 5, s² = (16+4+0+4+16)/4 = 10.
        assert!((t[0].s2_us.unwrap() - 10.0).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn most_time_first_and_counts_without_times() {
        let mut rows = vec![row(0, "a", 10, 5.0, 0.0), row(0, "b", 1, 50.0, 0.0)];
        let t = combine(&rows);
        assert_eq!(t[0].function, "b");
        rows = vec![ProfileRow {
            cpu: 0,
            function: "c".into(),
            hits: 3,
            time_us: None,
            avg_us: None,
            s2_us: None,
        }];
        let t = combine(&rows);
        assert_eq!((t[0].hits, t[0].time_us), (3, None));
    }
}
