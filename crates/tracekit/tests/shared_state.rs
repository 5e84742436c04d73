//! Issue #14's shared-state defects: what tracekit leaves behind for the
//! other users of tracefs when something fails.

use crate::util::*;

/// Issue #14.6: a filter the kernel rejects still replaces the file's
/// content (the kernel keeps the bad text with its parse error); someone
/// else's filter must be back right away, and `reset` has nothing left to do.
#[test]
fn failed_filter_write_restores_the_other_users_filter() {
    let root = require_live_tracefs();
    let state = StateDir::new();
    let inst = unique_name("foreignflt");
    let dir = root.join("instances").join(&inst);
    std::fs::create_dir(&dir).unwrap();
    let _cleanup = OnDrop(|| {
        let _ = std::fs::remove_dir(&dir);
    });
    let filter = dir.join("events/sched/sched_switch/filter");
    std::fs::write(&filter, "prev_pid > 0\n").unwrap();
    let mut c = tk(state.path());
    c.args(["set", "-B", &inst, "-e", "sched:sched_switch", "-f", "((("]);
    let (ok, _, err) = run(c);
    assert!(!ok, "the kernel rejects '((('");
    assert!(err.contains("filter"), "{err}");
    let now = std::fs::read_to_string(&filter).unwrap();
    assert_eq!(
        now.lines().next(),
        Some("prev_pid > 0"),
        "filter lost: {now}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("events/sched/sched_switch/enable"))
            .unwrap()
            .trim(),
        "0",
        "rolled back"
    );
    let mut c = tk(state.path());
    c.args(["reset"]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err}");
    let now = std::fs::read_to_string(&filter).unwrap();
    assert_eq!(now.lines().next(), Some("prev_pid > 0"), "{out}");
}
