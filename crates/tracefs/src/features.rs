//! What provides each tracefs file and tracer: the kernel configuration
//! option, and what tracekit falls back to when it is missing. Used to turn
//! ENOENT into "not built into this kernel (CONFIG_…)" and by the capability
//! probe.

/// Kernel config option (and feature name) behind a tracefs file, keyed by
/// the file's path relative to a trace array (`kprobe_events`,
/// `events/sched/sched_switch/hist`).
pub fn file_feature(rel: &str) -> Option<(&'static str, &'static str)> {
    // A file inside an instance is the feature of that file, not "instances".
    if let Some(rest) = rel.strip_prefix("instances/") {
        if let Some((_, inner)) = rest.split_once('/') {
            if !inner.is_empty() {
                return file_feature(inner);
            }
        }
    }
    let last = rel.rsplit('/').next().unwrap_or(rel);
    let first = rel.split('/').next().unwrap_or(rel);
    Some(match (first, last) {
        ("kprobe_events" | "kprobe_profile", _) => ("kprobes", "CONFIG_KPROBE_EVENTS"),
        ("uprobe_events" | "uprobe_profile", _) => ("uprobes", "CONFIG_UPROBE_EVENTS"),
        ("dynamic_events", _) => ("dynamic events", "CONFIG_DYNAMIC_EVENTS"),
        ("synthetic_events", _) => ("synthetic events", "CONFIG_SYNTH_EVENTS"),
        ("function_profile_enabled" | "trace_stat", _) => {
            ("function profiler", "CONFIG_FUNCTION_PROFILER")
        }
        (
            "set_ftrace_filter"
            | "set_ftrace_notrace"
            | "available_filter_functions"
            | "enabled_functions",
            _,
        ) => ("function filters", "CONFIG_DYNAMIC_FTRACE"),
        ("set_ftrace_pid" | "set_ftrace_notrace_pid", _) => {
            ("function pid filters", "CONFIG_FUNCTION_TRACER")
        }
        ("set_graph_function" | "set_graph_notrace" | "max_graph_depth", _) => {
            ("function graph filters", "CONFIG_FUNCTION_GRAPH_TRACER")
        }
        ("snapshot", _) => ("snapshot", "CONFIG_TRACER_SNAPSHOT"),
        ("stack_trace" | "stack_max_size" | "stack_trace_filter", _) => {
            ("stack tracer", "CONFIG_STACK_TRACER")
        }
        ("tracing_max_latency", _) => ("latency tracers", "CONFIG_TRACER_MAX_TRACE"),
        ("hwlat_detector", _) => ("hwlat tracer", "CONFIG_HWLAT_TRACER"),
        ("osnoise", _) => ("osnoise tracer", "CONFIG_OSNOISE_TRACER"),
        ("buffer_subbuf_size_kb", _) => (
            "sub-buffer size",
            "Linux 6.8 or newer (buffer_subbuf_size_kb)",
        ),
        ("error_log", _) => ("error_log", "Linux 5.4 or newer (error_log)"),
        ("instances", _) => ("instances", "CONFIG_TRACING"),
        ("events", "hist") => ("hist triggers", "CONFIG_HIST_TRIGGERS"),
        ("events", "trigger") => ("event triggers", "CONFIG_EVENT_TRACING"),
        ("events", _) => ("trace events", "CONFIG_EVENT_TRACING"),
        ("trace_marker_raw", _) => ("trace_marker_raw", "Linux 4.10 or newer"),
        ("set_event_notrace_pid", _) => ("set_event_notrace_pid", "Linux 5.8 or newer"),
        ("timestamp_mode", _) => ("timestamp_mode", "Linux 4.17 or newer"),
        _ => return None,
    })
}

/// Kernel config option providing a tracer.
pub fn tracer_config(tracer: &str) -> &'static str {
    match tracer {
        "function" => "CONFIG_FUNCTION_TRACER",
        "function_graph" => "CONFIG_FUNCTION_GRAPH_TRACER",
        "irqsoff" => "CONFIG_IRQSOFF_TRACER",
        "preemptoff" => "CONFIG_PREEMPT_TRACER",
        "preemptirqsoff" => "CONFIG_IRQSOFF_TRACER and CONFIG_PREEMPT_TRACER",
        "wakeup" | "wakeup_rt" | "wakeup_dl" => "CONFIG_SCHED_TRACER",
        "hwlat" => "CONFIG_HWLAT_TRACER",
        "osnoise" => "CONFIG_OSNOISE_TRACER",
        "timerlat" => "CONFIG_TIMERLAT_TRACER",
        "blk" => "CONFIG_BLK_DEV_IO_TRACE",
        "mmiotrace" => "CONFIG_MMIOTRACE",
        "branch" => "CONFIG_BRANCH_TRACER",
        "nop" => "CONFIG_FTRACE",
        _ => "CONFIG_FTRACE",
    }
}

/// What tracekit uses instead when a tracer is unavailable.
pub fn tracer_fallback(tracer: &str) -> &'static str {
    match tracer {
        "function" => "syscall tracepoints (syscalls:sys_enter_*/sys_exit_*) and uprobes",
        "function_graph" => "the function tracer if available, else syscall enter/exit tracepoints",
        // Nothing of tracekit's stands in for these yet: say so.
        "irqsoff" | "preemptoff" | "preemptirqsoff" => "none yet (needs the kernel tracer)",
        "wakeup" | "wakeup_rt" | "wakeup_dl" => {
            "none yet (needs the kernel tracer; sched:sched_waking/sched_switch can be recorded and read by hand)"
        }
        "hwlat" | "osnoise" | "timerlat" => "none (needs the kernel tracer)",
        "blk" => "block:* tracepoints",
        "mmiotrace" => "none (needs the kernel tracer)",
        "branch" => "none (needs a kernel built with branch profiling)",
        _ => "none",
    }
}

/// Every tracer the product knows about, in the order `check` lists them.
pub const KNOWN_TRACERS: &[&str] = &[
    "function",
    "function_graph",
    "irqsoff",
    "preemptoff",
    "preemptirqsoff",
    "wakeup",
    "wakeup_rt",
    "wakeup_dl",
    "hwlat",
    "osnoise",
    "timerlat",
    "blk",
    "mmiotrace",
    "branch",
    "nop",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_files_name_their_own_feature() {
        assert_eq!(
            file_feature("instances/x/set_ftrace_filter").map(|f| f.0),
            Some("function filters")
        );
        assert_eq!(file_feature("instances/x").map(|f| f.0), Some("instances"));
        assert_eq!(
            file_feature("instances/x/events/sched/sched_switch/hist").map(|f| f.0),
            Some("hist triggers")
        );
    }
}
