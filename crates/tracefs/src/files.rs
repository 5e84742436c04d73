//! Typed access to the remaining control files: buffer watermark and
//! thresholds, graph depth, the function profiler (`function_profile_enabled`,
//! `trace_stat/function*`), probe profiles, saved cmdlines/tgids, printk
//! formats, filterable functions, `trace_marker`, the latency maximum, the
//! snapshot buffer and the stack tracer.

use crate::error::Result;
use crate::events;
use crate::instance::Instance;
use crate::root::WriteMode;

/// One row of `trace_stat/functionN` (the function profiler).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProfileRow {
    /// CPU (N of `functionN`).
    pub cpu: u32,
    /// Function name.
    pub function: String,
    /// Number of calls.
    pub hits: u64,
    /// Total time in µs (with the graph tracer); None without it.
    pub time_us: Option<f64>,
    /// Average in µs.
    pub avg_us: Option<f64>,
    /// Variance (s²) in µs².
    pub s2_us: Option<f64>,
}

/// Parses one `trace_stat/functionN` file.
pub fn parse_function_stat(cpu: u32, text: &str) -> Vec<ProfileRow> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("Function") || t.starts_with("--") {
            continue;
        }
        let parts: Vec<&str> = t.split_whitespace().collect();
        let Some(hits) = parts.get(1).and_then(|h| h.parse::<u64>().ok()) else {
            continue;
        };
        // Time, Avg and s^2 are "<number> us" pairs.
        let nums: Vec<f64> = parts
            .iter()
            .skip(2)
            .filter_map(|p| p.parse::<f64>().ok())
            .collect();
        rows.push(ProfileRow {
            cpu,
            function: parts[0].to_string(),
            hits,
            time_us: nums.first().copied(),
            avg_us: nums.get(1).copied(),
            s2_us: nums.get(2).copied(),
        });
    }
    rows
}

/// One row of `kprobe_profile` (`event hits misses`) or `uprobe_profile`
/// (`path event hits`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeProfileRow {
    /// The probed file (uprobes only).
    pub path: Option<String>,
    /// Event name.
    pub event: String,
    /// Hits.
    pub hits: u64,
    /// Missed hits (kprobes only).
    pub misses: Option<u64>,
}

/// Parses `kprobe_profile` or `uprobe_profile` text.
pub fn parse_probe_profile(text: &str, uprobe: bool) -> Vec<ProbeProfileRow> {
    text.lines()
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            if uprobe {
                Some(ProbeProfileRow {
                    path: Some(p.first()?.to_string()),
                    event: p.get(1)?.to_string(),
                    hits: p.get(2)?.parse().ok()?,
                    misses: None,
                })
            } else {
                Some(ProbeProfileRow {
                    path: None,
                    event: p.first()?.to_string(),
                    hits: p.get(1)?.parse().ok()?,
                    misses: p.get(2)?.parse().ok(),
                })
            }
        })
        .collect()
}

/// One frame of the stack tracer's `stack_trace`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackFrame {
    /// Stack depth in bytes at this frame.
    pub depth: u64,
    /// Frame size in bytes.
    pub size: u64,
    /// `symbol+off/size`.
    pub location: String,
}

/// Parses `stack_trace`.
pub fn parse_stack_trace(text: &str) -> Vec<StackFrame> {
    text.lines()
        .filter_map(|l| {
            let t = l.trim();
            let (_, rest) = t.split_once(") ")?;
            let mut it = rest.split_whitespace();
            Some(StackFrame {
                depth: it.next()?.parse().ok()?,
                size: it.next()?.parse().ok()?,
                location: it.next()?.to_string(),
            })
        })
        .collect()
}

/// Parses `pid value` lines (`saved_cmdlines`, `saved_tgids`).
pub fn parse_pid_table(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| {
            let (pid, v) = l.split_once(' ')?;
            Some((pid.trim().parse().ok()?, v.trim().to_string()))
        })
        .collect()
}

/// Parses `printk_formats` (`0xADDR : "fmt"`).
pub fn parse_printk_formats(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .filter_map(|l| {
            let (a, f) = l.split_once(" : ")?;
            let addr = u64::from_str_radix(a.trim().trim_start_matches("0x"), 16).ok()?;
            let f = f.trim();
            let f = f
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(f);
            Some((addr, f.to_string()))
        })
        .collect()
}

fn parse_num(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

impl Instance {
    /// `buffer_percent`: how full the buffer must be before readers wake.
    pub fn buffer_percent(&self) -> Result<Option<u64>> {
        Ok(parse_num(&self.read("buffer_percent")?))
    }

    /// Sets `buffer_percent` (0..=100).
    pub fn set_buffer_percent(&self, pct: u32) -> Result<()> {
        self.set("buffer_percent", &pct.min(100).to_string())
    }

    /// `tracing_thresh` in µs (latency threshold; 0 = off).
    pub fn tracing_thresh(&self) -> Result<Option<u64>> {
        Ok(parse_num(&self.read("tracing_thresh")?))
    }

    /// Sets `tracing_thresh` in µs.
    pub fn set_tracing_thresh(&self, us: u64) -> Result<()> {
        self.set("tracing_thresh", &us.to_string())
    }

    /// `max_graph_depth` (0 = unlimited).
    pub fn max_graph_depth(&self) -> Result<Option<u64>> {
        Ok(parse_num(&self.read("max_graph_depth")?))
    }

    /// Sets `max_graph_depth`.
    pub fn set_max_graph_depth(&self, depth: u32) -> Result<()> {
        self.set("max_graph_depth", &depth.to_string())
    }

    /// `tracing_max_latency` in µs (latency tracers).
    pub fn tracing_max_latency(&self) -> Result<Option<u64>> {
        Ok(parse_num(&self.read("tracing_max_latency")?))
    }

    /// `tracing_cpumask` (hex).
    pub fn cpumask(&self) -> Result<String> {
        Ok(self.read("tracing_cpumask")?.trim().to_string())
    }

    /// Writes a message to `trace_marker` (appears as `ftrace:print`).
    pub fn write_marker(&self, text: &str) -> Result<()> {
        self.tracefs()
            .write(&self.path("trace_marker"), text, WriteMode::Append)
    }

    /// The snapshot buffer's text (`snapshot`).
    pub fn snapshot_text(&self) -> Result<String> {
        self.read("snapshot")
    }

    /// `function_profile_enabled`.
    pub fn function_profile_enabled(&self) -> Result<bool> {
        Ok(self.read("function_profile_enabled")?.trim() == "1")
    }

    /// Turns the function profiler on or off.
    pub fn set_function_profile(&self, on: bool) -> Result<()> {
        self.set("function_profile_enabled", if on { "1" } else { "0" })
    }

    /// All rows of `trace_stat/function*`, every CPU.
    pub fn function_profile(&self) -> Result<Vec<ProfileRow>> {
        let dir = self.read_path("trace_stat");
        let rd = std::fs::read_dir(&dir).map_err(|e| self.tracefs().classify(&dir, e, true))?;
        let mut rows = Vec::new();
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let Some(cpu) = name.strip_prefix("function").and_then(|n| n.parse().ok()) else {
                continue;
            };
            let text = self.read(&format!("trace_stat/{name}"))?;
            rows.extend(parse_function_stat(cpu, &text));
        }
        rows.sort_by(|a, b| (a.cpu, &a.function).cmp(&(b.cpu, &b.function)));
        Ok(rows)
    }

    /// `kprobe_profile`.
    pub fn kprobe_profile(&self) -> Result<Vec<ProbeProfileRow>> {
        Ok(parse_probe_profile(
            &self.tracefs().read_rel("kprobe_profile")?,
            false,
        ))
    }

    /// `uprobe_profile`.
    pub fn uprobe_profile(&self) -> Result<Vec<ProbeProfileRow>> {
        Ok(parse_probe_profile(
            &self.tracefs().read_rel("uprobe_profile")?,
            true,
        ))
    }

    /// `saved_cmdlines`: pid → comm.
    pub fn saved_cmdlines(&self) -> Result<Vec<(u32, String)>> {
        Ok(parse_pid_table(&self.tracefs().read_rel("saved_cmdlines")?))
    }

    /// `saved_tgids`: pid → tgid.
    pub fn saved_tgids(&self) -> Result<Vec<(u32, u32)>> {
        Ok(parse_pid_table(&self.tracefs().read_rel("saved_tgids")?)
            .into_iter()
            .filter_map(|(p, t)| Some((p, t.parse().ok()?)))
            .collect())
    }

    /// `printk_formats`: address → format string.
    pub fn printk_formats(&self) -> Result<Vec<(u64, String)>> {
        Ok(parse_printk_formats(
            &self.tracefs().read_rel("printk_formats")?,
        ))
    }

    /// `available_filter_functions` matching a glob (EPERM under lockdown
    /// is reported as a policy, not a missing feature).
    pub fn filter_functions(&self, glob: &str) -> Result<Vec<String>> {
        let text = self.tracefs().read_rel("available_filter_functions")?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|f| events::glob_match(glob, f))
            .map(str::to_string)
            .collect())
    }

    /// Warnings for function-filter globs that will not trace what a user
    /// expects: a glob that matches nothing, and the tutorials' `sys_*` on a
    /// kernel whose syscall entry points are arch-prefixed (`__x64_sys_*`).
    pub fn filter_warnings(&self, globs: &[String]) -> Vec<String> {
        let Ok(text) = self.tracefs().read_rel("available_filter_functions") else {
            return Vec::new();
        };
        let funcs: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        filter_warnings(&funcs, globs)
    }

    /// The stack tracer's deepest stack (`stack_trace`) and its size.
    pub fn stack_trace(&self) -> Result<(Option<u64>, Vec<StackFrame>)> {
        let max = parse_num(&self.tracefs().read_rel("stack_max_size")?);
        Ok((
            max,
            parse_stack_trace(&self.tracefs().read_rel("stack_trace")?),
        ))
    }
}

/// [`Instance::filter_warnings`] over a function list.
pub fn filter_warnings(funcs: &[&str], globs: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for g in globs {
        let g = g.trim_start_matches('!');
        if g.contains(':') {
            continue; // `func:mod:…` and other commands
        }
        let n = funcs.iter().filter(|f| events::glob_match(g, f)).count();
        if n == 0 {
            out.push(format!(
                "function filter '{g}' matches no function in available_filter_functions"
            ));
            continue;
        }
        let Some(rest) = g.strip_prefix("sys_") else {
            continue;
        };
        // The syscall entry points of this kernel: `__x64_sys_openat`, …
        let prefix = funcs.iter().find_map(|f| {
            let i = f.find("_sys_")?;
            let p = &f[..i + 1];
            (p.starts_with("__") && !p.contains("compat") && p.len() < 12).then_some(p)
        });
        if let Some(p) = prefix {
            let arch = format!("{p}sys_{rest}");
            let m = funcs
                .iter()
                .filter(|f| events::glob_match(&arch, f))
                .count();
            if m > 0 {
                out.push(format!(
                    "function filter '{g}' matches {n} functions, but this kernel's syscall entry points are named {p}sys_*: '{arch}' matches {m}"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_warnings_suggest_arch_prefixed_syscalls() {
        let funcs = [
            "sys_ni_syscall",
            "__x64_sys_openat",
            "__x64_sys_read",
            "__ia32_compat_sys_x",
            "vfs_read",
        ];
        let w = filter_warnings(&funcs, &["sys_*".into()]);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("'__x64_sys_*' matches 2"), "{w:?}");
        assert!(filter_warnings(&funcs, &["vfs_*".into()]).is_empty());
        let w = filter_warnings(&funcs, &["nosuch_*".into()]);
        assert!(w[0].contains("matches no function"), "{w:?}");
    }

    #[test]
    fn function_profiler_rows() {
        let t = "  Function                               Hit    Time            Avg             s^2\n  --------                               ---    ----            ---             ---\n  vfs_read                                 5    429.651 us      85.930 us       10995.68 us \n";
        let r = parse_function_stat(0, t);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].function, "vfs_read");
        assert_eq!(r[0].hits, 5);
        assert_eq!(r[0].time_us, Some(429.651));
        assert_eq!(r[0].avg_us, Some(85.930));
        assert_eq!(r[0].s2_us, Some(10995.68));
        let no_graph = parse_function_stat(1, "  Function  Hit\n  --------  ---\n  vfs_open  10\n");
        assert_eq!(no_graph[0].time_us, None);
    }

    #[test]
    fn probe_profiles() {
        let k = parse_probe_profile(
            "  myopen                                              7               0\n",
            false,
        );
        assert_eq!(k[0].event, "myopen");
        assert_eq!((k[0].hits, k[0].misses), (7, Some(0)));
        let u = parse_probe_profile(
            "  /usr/lib/x86_64-linux-gnu/libc.so.6 mkdir_ent   1\n",
            true,
        );
        assert_eq!(
            u[0].path.as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(u[0].hits, 1);
    }

    #[test]
    fn tables() {
        assert_eq!(
            parse_pid_table("8083 readlink\n11 11\n"),
            vec![(8083, "readlink".into()), (11, "11".into())]
        );
        assert_eq!(
            parse_printk_formats("0xffffffff828195af : \"thaw_processes\"\n"),
            vec![(0xffffffff828195af, "thaw_processes".into())]
        );
        let s = parse_stack_trace("        Depth    Size   Location    (14 entries)\n        -----    ----   --------\n  0)     2208      48   rcu_segcblist_enqueue+0x5/0x40\n");
        assert_eq!(
            s,
            vec![StackFrame {
                depth: 2208,
                size: 48,
                location: "rcu_segcblist_enqueue+0x5/0x40".into()
            }]
        );
    }
}
