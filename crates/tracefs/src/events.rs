//! Trace event names and selection: `system:event`, globs (`sched:*`,
//! `*:sched_sw*`), whole systems (`sched`), bare event names
//! (`sched_switch`) and `all`, resolved against `available_events`; and
//! close-name suggestions for typos.

use std::fmt;

/// A trace event, `system:name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct EventName {
    /// The system (directory under `events/`).
    pub system: String,
    /// The event.
    pub name: String,
}

impl EventName {
    /// Parses `system:event` or `system/event`.
    pub fn parse(s: &str) -> Option<EventName> {
        let (sys, ev) = s.split_once(':').or_else(|| s.split_once('/'))?;
        if sys.is_empty() || ev.is_empty() {
            return None;
        }
        Some(EventName {
            system: sys.to_string(),
            name: ev.to_string(),
        })
    }

    /// `events/SYSTEM/EVENT`.
    pub fn dir(&self) -> String {
        format!("events/{}/{}", self.system, self.name)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.name)
    }
}

/// Parses `available_events` (`system:event` per line).
pub fn parse_available(text: &str) -> Vec<EventName> {
    let mut v: Vec<EventName> = text
        .lines()
        .filter_map(|l| EventName::parse(l.trim()))
        .collect();
    v.sort();
    v
}

/// Shell-style glob match (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`): tracekit's
/// one glob, [`symbols::glob`].
pub fn glob_match(pattern: &str, text: &str) -> bool {
    symbols::glob(pattern, text)
}

/// Resolves one trace-cmd style event selector against the available events:
/// `all`, `SYSTEM`, `SYSTEM:EVENT`, `SYSTEM:GLOB`, `GLOB:GLOB`, `EVENT`
/// (any system). Returns the matching events (sorted), empty if none match.
pub fn select(available: &[EventName], selector: &str) -> Vec<EventName> {
    let sel = selector.trim();
    let out: Vec<EventName> = if sel == "all" || sel == "*" || sel == "*:*" {
        available.to_vec()
    } else if let Some((s, e)) = sel.split_once(':').or_else(|| sel.split_once('/')) {
        let e = if e.is_empty() { "*" } else { e };
        available
            .iter()
            .filter(|ev| glob_match(s, &ev.system) && glob_match(e, &ev.name))
            .cloned()
            .collect()
    } else {
        // A system name, else an event name in any system (trace-cmd -e).
        let by_system: Vec<EventName> = available
            .iter()
            .filter(|ev| glob_match(sel, &ev.system))
            .cloned()
            .collect();
        if !by_system.is_empty() {
            by_system
        } else {
            available
                .iter()
                .filter(|ev| glob_match(sel, &ev.name))
                .cloned()
                .collect()
        }
    };
    out
}

/// Levenshtein distance (small strings only).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Up to `max` names close to `wanted` (edit distance, then shared prefix
/// or substring), best first.
pub fn suggest<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<String> {
    let w = wanted.to_lowercase();
    let mut scored: Vec<(usize, String)> = names
        .into_iter()
        .filter_map(|n| {
            let nl = n.to_lowercase();
            let d = edit_distance(&w, &nl);
            let limit = (w.chars().count() / 3).max(2);
            if d <= limit {
                Some((d, n.to_string()))
            } else if w.len() >= 4 && (nl.contains(&w) || w.contains(&nl) && nl.len() >= 4) {
                Some((limit + 1, n.to_string()))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(max).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avail() -> Vec<EventName> {
        parse_available(
            "sched:sched_switch\nsched:sched_wakeup\nirq:irq_handler_entry\nsyscalls:sys_enter_openat\nkprobes:myopen\n",
        )
    }

    #[test]
    fn globs() {
        assert!(glob_match("sched_*", "sched_switch"));
        assert!(glob_match("*", ""));
        assert!(glob_match("s?hed", "sched"));
        assert!(glob_match("[bz]ash", "bash"));
        assert!(!glob_match("[!bz]ash", "bash"));
        assert!(glob_match("a[0-9]c", "a5c"));
        assert!(!glob_match("sched", "sched_switch"));
        assert!(glob_match("*open*", "sys_enter_openat"));
    }

    #[test]
    fn selectors() {
        let a = avail();
        assert_eq!(select(&a, "sched").len(), 2);
        assert_eq!(select(&a, "sched:*").len(), 2);
        assert_eq!(select(&a, "sched:sched_switch").len(), 1);
        assert_eq!(
            select(&a, "sched_switch")[0].to_string(),
            "sched:sched_switch"
        );
        assert_eq!(select(&a, "all").len(), 5);
        assert_eq!(select(&a, "*:*open*").len(), 2);
        assert_eq!(select(&a, "kprobes").len(), 1);
        assert!(select(&a, "sched:nosuch").is_empty());
    }

    #[test]
    fn suggestions() {
        let names = [
            "sched:sched_switch",
            "sched:sched_wakeup",
            "irq:irq_handler_entry",
        ];
        assert_eq!(
            suggest("sched:sched_swich", names, 3),
            vec!["sched:sched_switch"]
        );
        assert_eq!(
            suggest("functon", ["function", "function_graph", "nop"], 3),
            vec!["function"]
        );
        assert!(suggest("zzzzzz", names, 3).is_empty());
    }
}
