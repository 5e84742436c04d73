//! Nearest observable tracepoints for a kernel function, for kernels that
//! cannot probe functions (no kprobes): syscall entry points map through the
//! syscall name to `syscalls:sys_enter_*`/`sys_exit_*`; otherwise events are
//! ranked by the name tokens they share with the function. No per-function
//! tables.

use crate::events::EventName;

/// Prefixes of syscall entry points and their helpers.
const SYSCALL_PREFIXES: &[&str] = &[
    "__x64_sys_",
    "__ia32_sys_",
    "__arm64_sys_",
    "__riscv_sys_",
    "__s390x_sys_",
    "__se_sys_",
    "__do_sys_",
    "__sys_",
    "ksys_",
    "do_sys_",
    "sys_",
    "__x64_compat_sys_",
    "compat_sys_",
];

/// A suggested event with its score (higher is closer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suggestion {
    /// The event.
    pub event: EventName,
    /// Score.
    pub score: u32,
    /// Why it was suggested.
    pub reason: String,
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.len() >= 3 && !matches!(*t, "sys" | "enter" | "exit" | "the"))
        .map(|t| t.to_ascii_lowercase())
        .collect()
}

/// The syscall a function implements, by its name (`do_sys_openat2` →
/// `openat2`, `__x64_sys_read` → `read`, `ksys_write` → `write`).
pub fn syscall_of(func: &str) -> Option<&str> {
    SYSCALL_PREFIXES
        .iter()
        .find_map(|p| func.strip_prefix(p))
        .filter(|s| !s.is_empty())
}

/// Ranks `available` events for `func`, best first, at most `max`.
pub fn suggest(func: &str, available: &[EventName], max: usize) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    let has = |sys: &str, name: &str| available.iter().any(|e| e.system == sys && e.name == name);
    if let Some(sc) = syscall_of(func) {
        let trimmed = sc.trim_end_matches(|c: char| c.is_ascii_digit());
        for (name, score) in [(sc, 1000), (trimmed, 900)] {
            for (dir, bonus) in [("enter", 1), ("exit", 0)] {
                let ev = format!("sys_{dir}_{name}");
                if has("syscalls", &ev) && !out.iter().any(|s| s.event.name == ev) {
                    out.push(Suggestion {
                        event: EventName {
                            system: "syscalls".into(),
                            name: ev,
                        },
                        score: score + bonus,
                        reason: format!("{func} implements the {name} system call"),
                    });
                }
            }
        }
        if out.is_empty() {
            for (sys, name) in [("raw_syscalls", "sys_enter"), ("raw_syscalls", "sys_exit")] {
                if has(sys, name) {
                    out.push(Suggestion {
                        event: EventName {
                            system: sys.into(),
                            name: name.into(),
                        },
                        score: 500,
                        reason: format!("{func} is a system call entry point (filter on id)"),
                    });
                }
            }
        }
    }
    let ftoks = tokens(func);
    if !ftoks.is_empty() {
        for ev in available {
            if out.iter().any(|s| s.event == *ev) {
                continue;
            }
            let etoks = tokens(&ev.name);
            let mut score = 0u32;
            let mut shared = Vec::new();
            for t in &ftoks {
                if etoks.iter().any(|e| e == t) {
                    score += 10 * t.len() as u32;
                    shared.push(t.clone());
                } else if etoks.iter().any(|e| {
                    (e.starts_with(t.as_str()) || t.starts_with(e.as_str()))
                        && e.len().min(t.len()) >= 4
                }) {
                    score += 5 * t.len() as u32;
                    shared.push(t.clone());
                }
                if ev.system.eq_ignore_ascii_case(t) {
                    score += 3 * t.len() as u32;
                }
            }
            if score > 0 {
                out.push(Suggestion {
                    event: ev.clone(),
                    score,
                    reason: format!("shares '{}' with {func}", shared.join("', '")),
                });
            }
        }
    }
    out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.event.cmp(&b.event)));
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::parse_available;

    #[test]
    fn syscall_functions_map_to_syscall_events() {
        let av = parse_available(
            "syscalls:sys_enter_openat\nsyscalls:sys_exit_openat\nsyscalls:sys_enter_openat2\nsyscalls:sys_exit_openat2\nsyscalls:sys_enter_read\nsyscalls:sys_exit_read\nsched:sched_switch\nfilelock:locks_get_lock_context\nraw_syscalls:sys_enter\n",
        );
        let s = suggest("do_sys_openat2", &av, 4);
        let names: Vec<String> = s.iter().map(|x| x.event.to_string()).collect();
        assert_eq!(
            names,
            [
                "syscalls:sys_enter_openat2",
                "syscalls:sys_exit_openat2",
                "syscalls:sys_enter_openat",
                "syscalls:sys_exit_openat"
            ]
        );
        assert_eq!(
            suggest("ksys_read", &av, 1)[0].event.to_string(),
            "syscalls:sys_enter_read"
        );
        assert_eq!(
            suggest("__x64_sys_nosuch", &av, 1)[0].event.to_string(),
            "raw_syscalls:sys_enter"
        );
    }

    #[test]
    fn other_functions_rank_by_shared_tokens() {
        let av = parse_available(
            "sched:sched_switch\nsched:sched_wakeup\nsched:sched_process_exec\nirq:irq_handler_entry\nworkqueue:workqueue_execute_start\n",
        );
        let s = suggest("__schedule", &av, 2);
        assert!(s.iter().all(|x| x.event.system == "sched"), "{s:?}");
        let s = suggest("handle_irq_event", &av, 1);
        assert_eq!(s[0].event.to_string(), "irq:irq_handler_entry");
        assert!(suggest("zzz_qqq", &av, 3).is_empty());
    }
}
