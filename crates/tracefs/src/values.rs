//! Parsing of control-file read-backs: the selected clock in `[local] global`,
//! `7 (expanded: 1408)`, list files with `#` comments, `none` filters. Also
//! the normalised form the journal stores and compares, and the value to
//! write back to restore a normalised value.

/// Last path component of a relative control-file path.
fn base(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Files whose content is a whitespace-separated list (order irrelevant).
pub fn is_list_file(rel: &str) -> bool {
    matches!(
        base(rel),
        "set_event"
            | "set_event_pid"
            | "set_event_notrace_pid"
            | "set_ftrace_filter"
            | "set_ftrace_notrace"
            | "set_ftrace_pid"
            | "set_ftrace_notrace_pid"
            | "set_graph_function"
            | "set_graph_notrace"
            | "stack_trace_filter"
    )
}

/// The entries of a list file: non-comment lines, sorted.
pub fn list_entries(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "no pid")
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The selected entry of a `[sel] other other` file (`trace_clock`).
pub fn selected(text: &str) -> Option<String> {
    let s = text.find('[')?;
    let e = text[s..].find(']')? + s;
    Some(text[s + 1..e].to_string())
}

/// All entries of a `[sel] other` file, brackets removed.
pub fn choices(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
        .collect()
}

/// `buffer_size_kb`: `1408`, `7 (expanded: 1408)` → the effective size in
/// KiB (the expanded one); `X` (per-CPU sizes differ) → None.
pub fn buffer_kb(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(i) = t.find("(expanded: ") {
        let rest = &t[i + 11..];
        return rest.trim_end_matches(')').trim().parse().ok();
    }
    t.parse().ok()
}

/// Normalised value of a control file for the journal: comparable between
/// what was written and what is read back.
pub fn normalize(rel: &str, text: &str) -> String {
    let b = base(rel);
    if is_list_file(rel) {
        return list_entries(text).join(" ");
    }
    match b {
        "trace_clock" | "timestamp_mode" => selected(text).unwrap_or_else(|| text.trim().into()),
        "buffer_size_kb" => buffer_kb(text)
            .map(|v| v.to_string())
            .unwrap_or_else(|| text.trim().to_string()),
        "filter" => {
            let first = text.lines().next().unwrap_or("").trim();
            if first == "none" || first == "0" {
                String::new()
            } else {
                first.to_string()
            }
        }
        "enable" => text.trim().trim_end_matches('*').to_string(),
        "trigger" => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => text.trim().to_string(),
    }
}

/// What to write to put a normalised value back.
pub fn restore_value(rel: &str, normalized: &str) -> String {
    match base(rel) {
        "filter" if normalized.is_empty() => "0".to_string(),
        _ => normalized.to_string(),
    }
}

/// Strips the `if FILTER` part and keeps `CMD[:COUNT]` of a trigger, which
/// is what `!CMD` needs to remove it.
pub fn trigger_removal(trigger: &str) -> String {
    let t = trigger.trim();
    let cmd = match t.find(" if ") {
        Some(i) => &t[..i],
        None => t,
    };
    format!("!{}", cmd.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readbacks() {
        assert_eq!(
            selected("[local] global counter\n").as_deref(),
            Some("local")
        );
        assert_eq!(choices("[local] global\n"), vec!["local", "global"]);
        assert_eq!(buffer_kb("7 (expanded: 1408)\n"), Some(1408));
        assert_eq!(buffer_kb("1410\n"), Some(1410));
        assert_eq!(buffer_kb("X\n"), None);
        assert_eq!(normalize("events/sched/sched_switch/filter", "none\n"), "");
        assert_eq!(normalize("events/sched/sched_switch/enable", "1*\n"), "1");
        assert_eq!(normalize("instances/a/set_event_pid", "12\n3\n"), "12 3");
        assert_eq!(
            normalize("set_ftrace_filter", "#### all functions enabled ####\n"),
            ""
        );
        assert_eq!(normalize("trace_clock", "[mono] local"), "mono");
        assert_eq!(
            normalize(
                "events/sched/sched_switch/trigger",
                "# Available triggers:\n# traceon traceoff\ntraceoff:unlimited\n"
            ),
            "traceoff:unlimited"
        );
        assert_eq!(restore_value("events/x/y/filter", ""), "0");
        assert_eq!(
            trigger_removal("stacktrace:5 if prev_pid == 1"),
            "!stacktrace:5"
        );
    }
}
