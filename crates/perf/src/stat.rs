//! `perf stat`: counting sessions and perf's output layouts.
//!
//! [`run`] opens one counter per event and target (CPU or thread), runs the
//! workload (or waits for SIGINT), and prints with [`Printer`]. The
//! arithmetic (multiplex scaling, derived ratios, `-r` mean ± stddev %) lives
//! in pure functions ([`Reading::scaled`], [`metric`], [`Stats`]) that unit
//! tests feed with recorded counter values, since this VM has no hardware PMU.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::attr::{flag, read, types, Attr};
use crate::error::{Error, Result};
use crate::event::{parse_cpu_list, parse_list, EventSpec};
use crate::sys::{self, EventFd};
use spawn::HeldChild;
use std::os::unix::process::ExitStatusExt;

/// What to count and how to print it (perf stat's options).
#[derive(Debug, Clone, Default)]
pub struct StatOptions {
    /// `-e` lists (default: perf's default set).
    pub events: Vec<String>,
    /// The tracefs root tracepoint ids are read from (`--tracefs`).
    pub tracefs: std::path::PathBuf,
    /// `-a`.
    pub all_cpus: bool,
    /// `-C`.
    pub cpus: Option<String>,
    /// `-p` (comma-separated).
    pub pids: Option<String>,
    /// `-t` (comma-separated).
    pub tids: Option<String>,
    /// `-r` (≥ 1).
    pub repeat: u32,
    /// `-I` interval in ms.
    pub interval_ms: Option<u64>,
    /// `-x` separator (CSV mode).
    pub csv_sep: Option<String>,
    /// `--json`.
    pub json: bool,
    /// `-i`: child tasks do not inherit counters.
    pub no_inherit: bool,
    /// Workload after `--`.
    pub command: Vec<String>,
}

/// Default events of `perf stat` without `-e`.
pub const DEFAULT_EVENTS: &str =
    "task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions,branches,branch-misses";

/// One counter's totals over all its fds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reading {
    /// Raw count (sum).
    pub count: u64,
    /// `time_enabled` (sum, ns).
    pub enabled: u64,
    /// `time_running` (sum, ns).
    pub running: u64,
    /// False when the PMU is absent (`<not supported>`).
    pub supported: bool,
}

impl Reading {
    /// The count scaled for multiplexing, as perf does: `count * enabled / running`.
    /// `None` when it never ran (`<not counted>`).
    pub fn scaled(&self) -> Option<f64> {
        if !self.supported || self.running == 0 {
            return None;
        }
        if self.running >= self.enabled {
            return Some(self.count as f64);
        }
        Some(self.count as f64 * self.enabled as f64 / self.running as f64)
    }

    /// Percentage of time the counter was on the PMU (`None` = 100 %).
    pub fn running_pct(&self) -> Option<f64> {
        (self.supported && self.running > 0 && self.running < self.enabled)
            .then(|| 100.0 * self.running as f64 / self.enabled as f64)
    }
}

/// Running mean and variance (Welford), as perf's `struct stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Stats {
    /// Adds one value.
    pub fn update(&mut self, v: f64) {
        self.n += 1;
        let d = v - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (v - self.mean);
    }
    /// Mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }
    /// Standard deviation of the mean (perf's `stddev_stats`).
    pub fn stddev(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let var = self.m2 / (self.n - 1) as f64;
        (var / self.n as f64).sqrt()
    }
    /// `100 * stddev / mean` (perf's `rel_stddev_stats`).
    pub fn rel_pct(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            100.0 * self.stddev() / self.mean
        }
    }
}

/// A derived value printed after `#`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The number.
    pub value: f64,
    /// perf's printf format for it, rendered.
    pub text: String,
    /// Unit text (`CPUs utilized`, `/sec`, `insn per cycle`, …).
    pub unit: String,
}

fn unit_scale(v: f64) -> (f64, char) {
    let mut v = v;
    let mut u = ' ';
    for c in ['K', 'M', 'G'] {
        if v > 1000.0 {
            v /= 1000.0;
            u = c;
        }
    }
    (v, u)
}

fn is_clock(name: &str) -> bool {
    let base = name.split(':').next().unwrap_or(name);
    base == "task-clock" || base == "cpu-clock"
}

fn base_name(name: &str) -> &str {
    match name.rsplit_once(':') {
        Some((b, m)) if !b.contains(':') && m.chars().all(|c| "ukhpGH".contains(c)) => b,
        _ => name,
    }
}

/// Values of the other counters a metric may need (all averaged).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// task-clock or cpu-clock in ns.
    pub clock_ns: Option<f64>,
    /// Wall time in ns.
    pub elapsed_ns: f64,
    /// cycles.
    pub cycles: Option<f64>,
    /// branches.
    pub branches: Option<f64>,
    /// cache-references.
    pub cache_refs: Option<f64>,
    /// L1-dcache-loads.
    pub l1d_loads: Option<f64>,
    /// LLC-loads.
    pub llc_loads: Option<f64>,
}

/// The derived metric perf prints for `name` with value `v` (perf 6.1's stat-shadow rules).
pub fn metric(name: &str, v: f64, ctx: &Context) -> Option<Metric> {
    let m = |value: f64, text: String, unit: &str| {
        Some(Metric {
            value,
            text,
            unit: unit.into(),
        })
    };
    let b = base_name(name);
    if is_clock(b) {
        if ctx.elapsed_ns > 0.0 {
            let r = v / ctx.elapsed_ns;
            return m(r, format!("{r:8.3}"), "CPUs utilized");
        }
        return None;
    }
    let ratio = |den: Option<f64>| den.filter(|d| *d > 0.0).map(|d| v / d);
    match b {
        "cycles" | "cpu-cycles" => {
            if let Some(r) = ctx.clock_ns.filter(|c| *c > 0.0).map(|c| v / c) {
                return m(r, format!("{r:8.3}"), "GHz");
            }
        }
        "instructions" => {
            if let Some(r) = ratio(ctx.cycles) {
                return m(r, format!("{r:7.2} "), "insn per cycle");
            }
        }
        "branch-misses" => {
            if let Some(r) = ratio(ctx.branches) {
                return m(100.0 * r, format!("{:7.2}%", 100.0 * r), "of all branches");
            }
        }
        "cache-misses" => {
            if let Some(r) = ratio(ctx.cache_refs) {
                return m(
                    100.0 * r,
                    format!("{:8.3} %", 100.0 * r),
                    "of all cache refs",
                );
            }
        }
        "L1-dcache-load-misses" => {
            if let Some(r) = ratio(ctx.l1d_loads) {
                return m(
                    100.0 * r,
                    format!("{:7.2}%", 100.0 * r),
                    "of all L1-dcache accesses",
                );
            }
        }
        "LLC-load-misses" => {
            if let Some(r) = ratio(ctx.llc_loads) {
                return m(
                    100.0 * r,
                    format!("{:7.2}%", 100.0 * r),
                    "of all LL-cache accesses",
                );
            }
        }
        _ => {}
    }
    let clock = ctx.clock_ns.filter(|c| *c > 0.0)?;
    let (r, u) = unit_scale(1e9 * v / clock);
    let unit = if u == ' ' {
        "/sec".to_string()
    } else {
        format!("{u}/sec")
    };
    m(1e9 * v / clock, format!("{r:8.3}"), &unit)
}

const METRIC_LEN: usize = 35;

/// One printed counter: its averaged value and noise.
#[derive(Debug, Clone)]
pub struct Row {
    /// Event name.
    pub name: String,
    /// Mean scaled value (`None`: not counted; see `supported`).
    pub value: Option<f64>,
    /// Whether the PMU exists.
    pub supported: bool,
    /// Stats over runs (for `-r`).
    pub stats: Stats,
    /// Percentage running (multiplexed) if below 100.
    pub running_pct: Option<f64>,
    /// Running time in ns (CSV/JSON `event-runtime`).
    pub running_ns: u64,
}

/// Formats perf stat output.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// CSV separator.
    pub csv_sep: Option<String>,
    /// JSON lines.
    pub json: bool,
    /// Number of runs (`-r`).
    pub repeat: u32,
}

fn clock_ms(name: &str) -> bool {
    is_clock(base_name(name))
}

impl Printer {
    /// Builds the metric context from the rows.
    pub fn context(rows: &[Row], elapsed_ns: f64) -> Context {
        let find = |n: &str| {
            rows.iter()
                .find(|r| base_name(&r.name) == n)
                .and_then(|r| r.value)
        };
        Context {
            clock_ns: rows
                .iter()
                .find(|r| clock_ms(&r.name))
                .and_then(|r| r.value),
            elapsed_ns,
            cycles: find("cycles").or_else(|| find("cpu-cycles")),
            branches: find("branches").or_else(|| find("branch-instructions")),
            cache_refs: find("cache-references"),
            l1d_loads: find("L1-dcache-loads"),
            llc_loads: find("LLC-loads"),
        }
    }

    /// One counter line (without the trailing newline), `prefix` is the `-I` timestamp.
    pub fn line(&self, row: &Row, ctx: &Context, prefix: &str) -> String {
        let unit = if clock_ms(&row.name) { "msec" } else { "" };
        let shown = row.value.map(|v| if unit == "msec" { v / 1e6 } else { v });
        let met = row.value.and_then(|v| metric(&row.name, v, ctx));
        if self.json {
            let cv = match (row.supported, shown) {
                (false, _) => "<not supported>".to_string(),
                (true, None) => "<not counted>".to_string(),
                (true, Some(v)) => format!("{v:.6}"),
            };
            let mut s = String::from("{");
            if !prefix.is_empty() {
                s.push_str(&format!("\"interval\" : {}, ", prefix.trim()));
            }
            s.push_str(&format!(
                "\"counter-value\" : \"{cv}\", \"unit\" : \"{unit}\", \"event\" : \"{}\", \"event-runtime\" : {}, \"pcnt-running\" : {:.2}",
                row.name,
                row.running_ns,
                row.running_pct.unwrap_or(100.0)
            ));
            if self.repeat > 1 {
                s.push_str(&format!(", \"variance\" : {:.2}", row.stats.rel_pct()));
            }
            match &met {
                Some(m) => s.push_str(&format!(
                    ", \"metric-value\" : {:.6}, \"metric-unit\" : \"{}\"",
                    m.value, m.unit
                )),
                None => s.push_str(", \"metric-value\" : 0.000000, \"metric-unit\" : \"\""),
            }
            s.push('}');
            return s;
        }
        if let Some(sep) = &self.csv_sep {
            let v = match (row.supported, shown) {
                (false, _) => "<not supported>".to_string(),
                (true, None) => "<not counted>".to_string(),
                (true, Some(v)) if unit == "msec" => format!("{v:.2}"),
                (true, Some(v)) => format!("{v:.0}"),
            };
            let mut s = format!("{prefix}{v}{sep}{unit}{sep}{}", row.name);
            if self.repeat > 1 {
                s.push_str(&format!("{sep}{:.2}%", row.stats.rel_pct()));
            }
            s.push_str(&format!(
                "{sep}{}{sep}{:.2}",
                row.running_ns,
                row.running_pct.unwrap_or(100.0)
            ));
            match &met {
                Some(m) => s.push_str(&format!("{sep}{}{sep}{}", m.text.trim(), m.unit)),
                None => s.push_str(&format!("{sep}{sep}")),
            }
            return s;
        }
        let value = match (row.supported, shown) {
            (false, _) => "<not supported>".to_string(),
            (true, None) => "<not counted>".to_string(),
            (true, Some(v)) if unit == "msec" => format!("{v:.2}"),
            (true, Some(v)) => format!("{v:.0}"),
        };
        let mut s = format!("{prefix}{value:>18} {unit:<4} {:<32}", row.name);
        if !row.supported || row.value.is_none() {
            s.push_str(&" ".repeat(28));
            return s;
        }
        match &met {
            Some(m) => {
                let head = format!(" # {}", m.text);
                let w = METRIC_LEN.saturating_sub(head.len() + 1);
                s.push_str(&head);
                s.push_str(&format!(" {:<w$}", m.unit));
            }
            None => s.push_str(&" ".repeat(METRIC_LEN)),
        }
        // perf prints the noise only when it is not zero.
        if self.repeat > 1 && row.stats.rel_pct() != 0.0 {
            s.push_str(&format!("  ( +-{:6.2}% )", row.stats.rel_pct()));
        }
        if let Some(p) = row.running_pct {
            s.push_str(&format!("  ({p:.2}%)"));
        }
        s
    }

    /// The `Performance counter stats for …` block (std layout only).
    pub fn header(&self, target: &str) -> String {
        if self.json || self.csv_sep.is_some() {
            return String::new();
        }
        let runs = if self.repeat > 1 {
            format!(" ({} runs)", self.repeat)
        } else {
            String::new()
        };
        format!("\n Performance counter stats for {target}{runs}:\n\n")
    }

    /// The footer with elapsed (and user/sys) seconds.
    pub fn footer(&self, elapsed: &Stats, user_sys: Option<(f64, f64)>) -> String {
        if self.json || self.csv_sep.is_some() {
            return String::new();
        }
        let mut s = String::from("\n");
        if self.repeat > 1 {
            let sd = elapsed.stddev();
            let prec = if sd > 1.0 {
                0
            } else {
                (-sd.log10()).ceil() as usize
            } + 2;
            let prec = prec.min(9);
            s.push_str(&format!(
                " {:17.prec$} +- {:.prec$} seconds time elapsed",
                elapsed.mean(),
                sd
            ));
            if elapsed.rel_pct() != 0.0 {
                s.push_str(&format!("  ( +-{:6.2}% )", elapsed.rel_pct()));
            }
            s.push('\n');
        } else {
            s.push_str(&format!(" {:17.9} seconds time elapsed\n", elapsed.mean()));
            if let Some((u, k)) = user_sys {
                s.push_str(&format!(
                    "\n {u:17.9} seconds user\n {k:17.9} seconds sys\n"
                ));
            }
        }
        s.push('\n');
        s
    }
}

struct Counter {
    fds: Vec<EventFd>,
    supported: bool,
}

fn not_supported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)
    )
}

fn thread_list(spec: &str, expand: bool) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    for p in spec.split(',').filter(|s| !s.is_empty()) {
        let pid: i32 = p.trim().parse().map_err(|_| Error::BadArg {
            what: "pid",
            value: p.into(),
            why: "not a number".into(),
        })?;
        if expand {
            let dir = format!("/proc/{pid}/task");
            let rd = std::fs::read_dir(&dir).map_err(crate::error::io_err(&dir))?;
            for e in rd.flatten().take(100_000) {
                if let Some(t) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                    out.push(t);
                }
            }
        } else {
            out.push(pid);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Where counters are attached.
#[derive(Debug, Clone)]
enum Target {
    Child,
    Cpus(Vec<u32>),
    Threads(Vec<i32>),
}

fn open_counters(
    specs: &[EventSpec],
    target: &Target,
    child: Option<i32>,
    inherit: bool,
) -> Result<Vec<Counter>> {
    let mut out: Vec<Counter> = Vec::new();
    let places: Vec<(i32, i32)> = match target {
        Target::Child => vec![(child.unwrap_or(0), -1)],
        Target::Cpus(c) => c.iter().map(|c| (-1, *c as i32)).collect(),
        Target::Threads(t) => t.iter().map(|t| (*t, -1)).collect(),
    };
    for (i, spec) in specs.iter().enumerate() {
        let mut attr: Attr = spec.attr;
        attr.read_format = read::TOTAL_TIME_ENABLED | read::TOTAL_TIME_RUNNING;
        let leader = spec.leader != i;
        if matches!(target, Target::Child) {
            attr.flags |= flag::DISABLED | flag::ENABLE_ON_EXEC;
            if inherit {
                attr.flags |= flag::INHERIT;
            }
        }
        if leader {
            attr.flags &= !(flag::DISABLED | flag::ENABLE_ON_EXEC);
        }
        let mut c = Counter {
            fds: Vec::new(),
            supported: true,
        };
        for (pi, (pid, cpu)) in places.iter().enumerate() {
            let group = if leader {
                out.get(spec.leader).and_then(|l| l.fds.get(pi))
            } else {
                None
            };
            match EventFd::open(&attr, *pid, *cpu, group) {
                Ok(fd) => c.fds.push(fd),
                Err(e)
                    if not_supported(&e)
                        || (e.raw_os_error() == Some(libc::EINVAL)
                            && spec.attr.type_ == types::HARDWARE) =>
                {
                    c.supported = false;
                    break;
                }
                Err(e) => {
                    return Err(Error::Open {
                        event: spec.name.clone(),
                        cpu: *cpu,
                        pid: *pid,
                        source: e,
                    })
                }
            }
        }
        out.push(c);
    }
    Ok(out)
}

fn read_counters(cs: &[Counter]) -> Vec<Reading> {
    cs.iter()
        .map(|c| {
            let mut r = Reading {
                supported: c.supported,
                ..Default::default()
            };
            for fd in &c.fds {
                if let Ok(w) = fd.read_words(3) {
                    if w.len() == 3 {
                        r.count += w[0];
                        r.enabled += w[1];
                        r.running += w[2];
                    }
                }
            }
            r
        })
        .collect()
}

fn diff(a: &Reading, b: &Reading) -> Reading {
    Reading {
        count: a.count.saturating_sub(b.count),
        enabled: a.enabled.saturating_sub(b.enabled),
        running: a.running.saturating_sub(b.running),
        supported: a.supported,
    }
}

fn rows_from(specs: &[EventSpec], stats: &[Stats], last: &[Reading], runs: u32) -> Vec<Row> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = last.get(i).copied().unwrap_or_default();
            let st = stats.get(i).copied().unwrap_or_default();
            Row {
                name: s.name.clone(),
                value: if runs > 0 && r.supported && r.running > 0 {
                    Some(st.mean())
                } else {
                    None
                },
                supported: r.supported,
                stats: st,
                running_pct: r.running_pct(),
                running_ns: r.running,
            }
        })
        .collect()
}

/// Runs `perf stat` with `opts`, printing to `out` (perf prints to stderr).
/// Returns the workload's exit code (0 without a workload).
pub fn run(opts: &StatOptions, out: &mut dyn Write) -> Result<i32> {
    let evs: Vec<String> = if opts.events.is_empty() {
        vec![DEFAULT_EVENTS.to_string()]
    } else {
        opts.events.clone()
    };
    let specs = parse_list(&evs, &opts.tracefs)?;
    let target = if let Some(c) = &opts.cpus {
        Target::Cpus(parse_cpu_list(c)?)
    } else if opts.all_cpus {
        Target::Cpus((0..sys::nr_cpus() as u32).collect())
    } else if let Some(p) = &opts.pids {
        Target::Threads(thread_list(p, true)?)
    } else if let Some(t) = &opts.tids {
        Target::Threads(thread_list(t, false)?)
    } else {
        Target::Child
    };
    if matches!(target, Target::Child) && opts.command.is_empty() {
        return Err(Error::BadArg {
            what: "arguments",
            value: String::new(),
            why: "give a command after --, or -a/-C/-p/-t".into(),
        });
    }
    let target_name = match (&target, &opts.cpus) {
        (Target::Cpus(_), Some(c)) => format!("'CPU(s) {c}'"),
        (Target::Cpus(_), None) => "'system wide'".to_string(),
        (Target::Threads(_), _) if opts.pids.is_some() => {
            format!("process id '{}'", opts.pids.as_deref().unwrap_or(""))
        }
        (Target::Threads(_), _) => format!("thread id '{}'", opts.tids.as_deref().unwrap_or("")),
        _ => format!("'{}'", opts.command.join(" ")),
    };
    let printer = Printer {
        csv_sep: opts.csv_sep.clone(),
        json: opts.json,
        repeat: opts.repeat.max(1),
    };
    let repeat = opts.repeat.max(1);
    let mut stats = vec![Stats::default(); specs.len()];
    let mut elapsed = Stats::default();
    let mut last = Vec::new();
    let mut user_sys = None;
    let mut status = 0;
    sys::catch_sigint();
    for _run in 0..repeat {
        let mut child = if opts.command.is_empty() {
            None
        } else {
            Some(HeldChild::spawn(&opts.command)?)
        };
        let counters = open_counters(
            &specs,
            &target,
            child.as_ref().map(|c| c.pid() as i32),
            !opts.no_inherit,
        )?;
        if !matches!(target, Target::Child) {
            for c in &counters {
                for fd in &c.fds {
                    let _ = fd.enable();
                }
            }
        }
        let t0 = Instant::now();
        if let Some(c) = child.as_mut() {
            c.release()?;
        }
        let mut prev = vec![Reading::default(); specs.len()];
        if opts.interval_ms.is_some() && !printer.json && printer.csv_sep.is_none() {
            writeln!(out, "#           time             counts unit events")
                .map_err(crate::error::io_err("stdout"))?;
        }
        // Wait: child exit, SIGINT, with interval printing.
        let tick = Duration::from_millis(opts.interval_ms.unwrap_or(100).max(10));
        let mut next = t0 + tick;
        let mut ru = None;
        let mut reaped = false;
        // Without -I, block in wait4 like perf: a polling parent would preempt
        // the workload and add context switches to its counts.
        let poll = opts.interval_ms.is_some() || child.is_none();
        for _ in 0..u64::MAX / 2 {
            if !poll {
                break;
            }
            if let Some(c) = child.as_mut() {
                if let Some(st) = c.try_wait() {
                    status = st.into_raw();
                    ru = c.rusage();
                    reaped = true;
                    break;
                }
            } else if sys::interrupted() {
                break;
            }
            if sys::interrupted() && child.is_none() {
                break;
            }
            let now_t = Instant::now();
            let nap = if opts.interval_ms.is_some() {
                next.saturating_duration_since(now_t)
                    .min(Duration::from_millis(50))
            } else {
                Duration::from_millis(50)
            };
            std::thread::sleep(nap.max(Duration::from_millis(1)));
            if opts.interval_ms.is_some() && Instant::now() >= next {
                let now = read_counters(&counters);
                let d: Vec<Reading> = now.iter().zip(&prev).map(|(a, b)| diff(a, b)).collect();
                print_interval(&printer, &specs, &d, t0.elapsed(), tick, out)?;
                prev = now;
                next += tick;
            }
        }
        if let Some(c) = child.as_mut().filter(|_| !reaped) {
            if let Some(st) = c.wait_blocking() {
                status = st.into_raw();
                ru = c.rusage();
            }
        }
        let el = t0.elapsed();
        let now = read_counters(&counters);
        if opts.interval_ms.is_some() {
            let d: Vec<Reading> = now.iter().zip(&prev).map(|(a, b)| diff(a, b)).collect();
            print_interval(
                &printer,
                &specs,
                &d,
                el,
                el.saturating_sub(next.saturating_duration_since(t0)) + tick,
                out,
            )?;
            return Ok(exit_code(status));
        }
        for (i, r) in now.iter().enumerate() {
            if let (Some(v), Some(s)) = (r.scaled(), stats.get_mut(i)) {
                s.update(v);
            }
        }
        elapsed.update(el.as_secs_f64());
        if let Some(r) = ru {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            user_sys = Some((tv(r.ru_utime), tv(r.ru_stime)));
        }
        last = now;
        if sys::interrupted() {
            break;
        }
    }
    let rows = rows_from(&specs, &stats, &last, repeat);
    let ctx = Printer::context(&rows, elapsed.mean() * 1e9);
    let mut text = printer.header(&target_name);
    for r in &rows {
        text.push_str(&printer.line(r, &ctx, ""));
        text.push('\n');
    }
    let us = if opts.command.is_empty() {
        None
    } else {
        user_sys
    };
    text.push_str(&printer.footer(&elapsed, us));
    out.write_all(text.as_bytes())
        .map_err(crate::error::io_err("stdout"))?;
    Ok(exit_code(status))
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        0
    }
}

fn print_interval(
    printer: &Printer,
    specs: &[EventSpec],
    d: &[Reading],
    at: Duration,
    span: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    let mut stats = vec![Stats::default(); specs.len()];
    for (i, r) in d.iter().enumerate() {
        if let (Some(v), Some(s)) = (r.scaled(), stats.get_mut(i)) {
            s.update(v);
        }
    }
    let rows = rows_from(specs, &stats, d, 1);
    let ctx = Printer::context(&rows, span.as_nanos() as f64);
    let sep = printer.csv_sep.clone().unwrap_or_else(|| " ".into());
    let prefix = format!("{:6}.{:09}{sep}", at.as_secs(), at.subsec_nanos());
    let p = Printer {
        repeat: 1,
        ..printer.clone()
    };
    let mut text = String::new();
    for r in &rows {
        text.push_str(&p.line(r, &ctx, &prefix));
        text.push('\n');
    }
    out.write_all(text.as_bytes())
        .map_err(crate::error::io_err("stdout"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, v: Option<f64>, supported: bool) -> Row {
        let mut st = Stats::default();
        if let Some(v) = v {
            st.update(v);
        }
        Row {
            name: name.into(),
            value: v,
            supported,
            stats: st,
            running_pct: None,
            running_ns: 0,
        }
    }

    #[test]
    fn scaling() {
        let r = Reading {
            count: 1000,
            enabled: 200,
            running: 100,
            supported: true,
        };
        assert_eq!(r.scaled(), Some(2000.0));
        assert_eq!(r.running_pct(), Some(50.0));
        let r = Reading {
            count: 5,
            enabled: 100,
            running: 100,
            supported: true,
        };
        assert_eq!(r.scaled(), Some(5.0));
        assert_eq!(r.running_pct(), None);
        let r = Reading {
            count: 0,
            enabled: 100,
            running: 0,
            supported: true,
        };
        assert_eq!(r.scaled(), None);
    }

    #[test]
    fn stddev_like_perf() {
        let mut s = Stats::default();
        for v in [2.0, 2.0, 5.0] {
            s.update(v);
        }
        assert!((s.mean() - 3.0).abs() < 1e-12);
        assert!((s.stddev() - 1.0).abs() < 1e-12);
        assert!((s.rel_pct() - 33.333333).abs() < 1e-4);
    }

    #[test]
    fn layout_matches_perf() {
        let p = Printer {
            repeat: 1,
            ..Default::default()
        };
        let rows = vec![
            row("task-clock", Some(1_080_000.0), true),
            row("context-switches", Some(1.0), true),
            row("page-faults", Some(74.0), true),
            row("cycles", None, false),
        ];
        let ctx = Printer::context(&rows, 98_000_000.0);
        let l: Vec<String> = rows.iter().map(|r| p.line(r, &ctx, "")).collect();
        assert_eq!(l[0], "              1.08 msec task-clock                       #    0.011 CPUs utilized          ");
        assert_eq!(l[1], "                 1      context-switches                 #  925.926 /sec                   ");
        assert_eq!(l[2], "                74      page-faults                      #   68.519 K/sec                  ");
        assert_eq!(
            l[3],
            "   <not supported>      cycles                                                      "
        );
    }

    #[test]
    fn hardware_ratios() {
        let rows = vec![
            row("task-clock", Some(1e9), true),
            row("cycles", Some(3e9), true),
            row("instructions", Some(6e9), true),
            row("branches", Some(1e6), true),
            row("branch-misses", Some(1e4), true),
            row("cache-references", Some(1e5), true),
            row("cache-misses", Some(2.5e4), true),
        ];
        let ctx = Printer::context(&rows, 1e9);
        assert_eq!(metric("cycles", 3e9, &ctx).unwrap().text, "   3.000");
        let ipc = metric("instructions", 6e9, &ctx).unwrap();
        assert_eq!(
            (ipc.text.as_str(), ipc.unit.as_str()),
            ("   2.00 ", "insn per cycle")
        );
        assert_eq!(metric("branch-misses", 1e4, &ctx).unwrap().text, "   1.00%");
        assert_eq!(
            metric("cache-misses", 2.5e4, &ctx).unwrap().text,
            "  25.000 %"
        );
        let p = Printer {
            repeat: 1,
            ..Default::default()
        };
        let l = p.line(&rows[2], &ctx, "");
        assert_eq!(l, "        6000000000      instructions                     #    2.00  insn per cycle         ");
    }

    #[test]
    fn repeat_and_multiplex_suffixes() {
        let p = Printer {
            repeat: 3,
            ..Default::default()
        };
        let mut st = Stats::default();
        for v in [2.0, 2.0, 5.0] {
            st.update(v);
        }
        let r = Row {
            name: "cs".into(),
            value: Some(3.0),
            supported: true,
            stats: st,
            running_pct: Some(50.0),
            running_ns: 1,
        };
        let ctx = Context::default();
        assert!(p.line(&r, &ctx, "").ends_with("  ( +- 33.33% )  (50.00%)"));
        let mut el = Stats::default();
        for v in [0.1, 0.1003, 0.1006] {
            el.update(v);
        }
        let f = p.footer(&el, None);
        assert!(
            f.contains("0.100300 +- 0.000173 seconds time elapsed  ( +-  0.17% )"),
            "{f}"
        );
    }

    #[test]
    fn csv_and_json() {
        let p = Printer {
            csv_sep: Some(",".into()),
            repeat: 1,
            ..Default::default()
        };
        let mut r = row("cycles", None, false);
        assert_eq!(
            p.line(&r, &Context::default(), ""),
            "<not supported>,,cycles,0,100.00,,"
        );
        r = row("task-clock", Some(1_150_000.0), true);
        r.running_ns = 1_148_571;
        let ctx = Context {
            elapsed_ns: 104_545_454.0,
            ..Default::default()
        };
        assert_eq!(
            p.line(&r, &ctx, ""),
            "1.15,msec,task-clock,1148571,100.00,0.011,CPUs utilized"
        );
        let j = Printer {
            json: true,
            repeat: 1,
            ..Default::default()
        };
        let s = j.line(&r, &ctx, "");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["event"], "task-clock");
        assert_eq!(v["unit"], "msec");
    }
}
