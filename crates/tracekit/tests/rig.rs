//! Tests in the QEMU rig (`../shared/kvm/`): what this VM's kernel lacks
//! (function and graph tracers, kprobes, hist triggers, the profiler), and
//! `reset --all`, which must never run on a shared machine. One boot per
//! kernel; each check prints `=== name ===` sections.

use testutil::Rig;

use crate::util::bin;

const SCRIPT: &str = r#"
T=/sys/kernel/tracing
export TRACEKIT_STATE_DIR=/tmp/tkstate
echo "=== bootclock ==="; cat $T/trace_clock
echo "=== check ==="; $TK check --json
echo "=== graph ==="
$TK set -p function_graph -g do_sys_openat2 --max-graph-depth 3 -O funcgraph-proc; echo "rc=$?"
cat $T/current_tracer $T/set_graph_function $T/max_graph_depth $T/options/funcgraph-proc
ls / >/dev/null; echo 0 > $T/tracing_on
grep -c do_sys_openat2 $T/trace
echo 1 > $T/tracing_on
$TK reset >/dev/null; echo "rc=$?"
cat $T/current_tracer $T/set_graph_function $T/max_graph_depth $T/options/funcgraph-proc
echo "=== hist ==="
$TK set -B h -e sched:sched_switch -R 'hist:keys=next_pid'; echo "rc=$?"
cat $T/instances/h/events/sched/sched_switch/trigger | grep -v '^#'
$TK reset >/dev/null; echo "rc=$?"; ls $T/instances
echo "=== badhist ==="
$TK set -B h2 -e sched:sched_switch -R 'hist:keys=nosuchfield'; echo "rc=$?"
ls $T/instances
echo "=== profile ==="
$TK profile -l vfs_read -l vfs_write -- sh -c 'cat /etc/hostname /etc/hostname >/dev/null'; echo "rc=$?"
$TK profile -l vfs_read --json --duration 0.3s; echo "rc=$?"
cat $T/function_profile_enabled $T/set_ftrace_filter
echo "=== resetall ==="
mkdir $T/instances/foreign
echo 'p:foreign/open do_sys_openat2 dfd=%di:s32' >> $T/kprobe_events
echo 1 > $T/events/sched/sched_switch/enable
echo 'prev_pid != 0' > $T/events/sched/sched_switch/filter
echo traceoff > $T/events/sched/sched_wakeup/trigger
echo function > $T/current_tracer
echo 1 > $T/options/sym-offset
echo 42 > $T/set_event_pid
echo mono > $T/trace_clock
$TK reset --all >/dev/null; echo "rc=$?"
$TK reset --all --yes >/dev/null; echo "rc=$?"
cat $T/current_tracer $T/set_event $T/events/sched/sched_switch/filter $T/options/sym-offset $T/set_event_pid $T/trace_clock
grep -v '^#' $T/events/sched/sched_wakeup/trigger
ls $T/instances; cat $T/kprobe_events
$TK reset --all --yes --instances --probes >/dev/null; echo "rc=$?"
ls $T/instances; cat $T/kprobe_events; echo end
echo "=== failedlist ==="
$TK set -l vfs_read -l nosuchfunc_xyz; echo "rc=$?"
cat $T/set_ftrace_filter
$TK reset >/dev/null; echo "rc=$?"; cat $T/set_ftrace_filter
echo "=== sysglob ==="
$TK set -l 'sys_*' 2>&1 | grep -c "__x64_sys_\*"
$TK reset >/dev/null; echo "rc=$?"
echo "=== dryrunmount ==="
umount /sys/kernel/debug; umount /sys/kernel/tracing; grep -c tracefs /proc/mounts
$TK --dry-run set -e sched:sched_switch; echo "rc=$?"
grep -c tracefs /proc/mounts || true
"#;

fn script() -> String {
    format!("TK={}\n{SCRIPT}", bin())
}

fn features(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("check --json: {e}\n{json}"))
}

fn avail(v: &serde_json::Value, name: &str) -> String {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))["available"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn rig_krig_kernel() {
    let out = Rig::new().timeout(280).run(&script());
    assert_eq!(out.code, 0, "rig failed:\n{}\n{}", out.stdout, out.stderr);
    let v = features(out.section("check"));
    for f in [
        "function tracer",
        "function_graph tracer",
        "kprobes",
        "hist trigger",
        "function profiler",
        "irqsoff tracer",
        "wakeup tracer",
        "synthetic events",
        "BTF",
        "graph function filters",
    ] {
        assert_eq!(avail(&v, f), "yes", "{f} in the krig kernel");
    }
    let g = out.section("graph");
    let lines: Vec<&str> = g.lines().collect();
    assert_eq!(lines[0], "rc=0", "{g}\n{}", out.stderr);
    assert_eq!(
        &lines[1..5],
        ["function_graph", "do_sys_openat2", "3", "1"],
        "{g}"
    );
    assert!(
        lines[5].parse::<u32>().unwrap() > 0,
        "no do_sys_openat2 in the graph trace: {g}"
    );
    assert_eq!(lines[6], "rc=0");
    assert_eq!(
        &lines[7..],
        ["nop", "#### all functions enabled ####", "0", "0"],
        "{g}"
    );

    let h = out.section("hist");
    assert!(h.starts_with("rc=0\nhist:keys=next_pid"), "{h}");
    assert!(
        h.trim_end().ends_with("rc=0"),
        "instance h not removed: {h}"
    );
    let b = out.section("badhist");
    assert!(
        b.contains("rc=1") && !b.contains("h2"),
        "{b}\n{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hist:sched:sched_switch: error: Couldn't find field"),
        "{}",
        out.stderr
    );

    let p = out.section("profile");
    let lines: Vec<&str> = p.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("rc=0")),
        "{p}\n{}",
        out.stderr
    );
    assert!(p.contains("Function") && p.contains("s^2"), "{p}");
    let vfs_read_hits = lines
        .iter()
        .find(|l| l.trim_start().starts_with("vfs_read "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|h| h.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no vfs_read row: {p}"));
    assert!(vfs_read_hits >= 2, "{p}");
    // Both -l functions reach set_ftrace_filter (the kernel takes one token
    // per write: tracefs writes the rest again, as echo does).
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("vfs_write ")),
        "{p}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with('{')
            && serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["function"] == "vfs_read" && v["hits"].as_u64().is_some())),
        "{p}"
    );
    assert_eq!(
        lines[lines.len() - 2..],
        ["0", "#### all functions enabled ####"],
        "profiler state not restored: {p}"
    );

    let r = out.section("resetall");
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(
        lines[0], "rc=1",
        "reset --all without --yes must refuse: {r}"
    );
    assert_eq!(lines[1], "rc=0", "{r}\n{}", out.stderr);
    // tracer, set_event (empty: no line), filter, sym-offset, set_event_pid (empty), clock
    assert_eq!(lines[2], "nop", "{r}");
    assert_eq!(lines[3], "none", "{r}");
    assert_eq!(lines[4], "0", "{r}");
    // The boot default clock (global when the kernel found its sched clock
    // unstable, as under TCG), not always the first entry.
    let boot = out.section("bootclock");
    let selected = |t: &str| {
        t.split_whitespace()
            .find(|w| w.starts_with('['))
            .map(|w| w.trim_matches(['[', ']']).to_string())
    };
    assert!(selected(boot).is_some(), "{boot}");
    assert_eq!(selected(lines[5]), selected(boot), "{r}");
    // no trigger lines; the foreign instance and probe survive
    assert_eq!(lines[6], "foreign", "{r}");
    assert!(lines[7].starts_with("p:foreign/open do_sys_openat2"), "{r}");
    assert_eq!(lines[8], "rc=0", "{r}");
    assert_eq!(
        lines[9], "end",
        "explicit --instances --probes removes them: {r}"
    );

    // #14.6: a function list the kernel rejects part-way (it applied the
    // first name) is put back at once.
    let f = out.section("failedlist");
    let lines: Vec<&str> = f.lines().collect();
    assert_eq!(lines[0], "rc=1", "{f}\n{}", out.stderr);
    assert_eq!(lines[1], "#### all functions enabled ####", "{f}");
    assert_eq!(lines[2], "rc=0", "{f}");
    assert_eq!(lines[3], "#### all functions enabled ####", "{f}");

    // #14.19: the tutorials' `-l 'sys_*'` on a kernel with __x64_sys_* entry points.
    let sg = out.section("sysglob");
    assert_eq!(sg.lines().next(), Some("1"), "{sg}\n{}", out.stderr);

    // #14.9: a dry run without tracefs mounted prints the mount and leaves
    // the machine unmounted (it reads tracefs in a private mount namespace).
    let d = out.section("dryrunmount");
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(lines[0], "0", "tracefs still mounted: {d}");
    assert!(
        lines.contains(&"mount -t tracefs nodev /sys/kernel/tracing"),
        "{d}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("echo 1 > ") && l.ends_with("sched_switch/enable")),
        "{d}"
    );
    assert!(lines.contains(&"rc=0"), "{d}\n{}", out.stderr);
    assert_eq!(lines.last(), Some(&"0"), "the dry run mounted tracefs: {d}");
}

#[test]
fn rig_debian_kernel_fallbacks() {
    let script = format!(
        "TK={}\nexport TRACEKIT_STATE_DIR=/tmp/tkstate\necho '=== check ==='; $TK check --json\necho '=== prof ==='; $TK set -p irqsoff; echo rc=$?\necho '=== fprof ==='; $TK profile -l vfs_read -- cat /etc/hostname; echo rc=$?; cat /sys/kernel/tracing/current_tracer /sys/kernel/tracing/set_ftrace_filter",
        bin()
    );
    let out = Rig::new().kernel_debian(true).timeout(280).run(&script);
    assert_eq!(out.code, 0, "rig failed:\n{}\n{}", out.stdout, out.stderr);
    let v = features(out.section("check"));
    assert_eq!(avail(&v, "function tracer"), "yes");
    assert_eq!(avail(&v, "kprobes"), "yes");
    assert_eq!(avail(&v, "function profiler"), "no");
    assert_eq!(avail(&v, "irqsoff tracer"), "no");
    assert!(out.section("prof").contains("rc=1"));
    // No profiler: the function_graph tracer stands in, tracekit sums the calls.
    let fp = out.section("fprof");
    assert!(fp.contains("rc=0"), "{fp}\n{}", out.stderr);
    assert!(
        fp.lines().any(|l| l.trim_start().starts_with("vfs_read ")
            && l.split_whitespace()
                .nth(1)
                .and_then(|h| h.parse::<u64>().ok())
                >= Some(1)),
        "{fp}"
    );
    assert!(
        out.stderr.contains("no function profiler in this kernel (CONFIG_FUNCTION_PROFILER): timing the calls with the function_graph tracer instead"),
        "{}",
        out.stderr
    );
    assert!(
        fp.trim_end()
            .ends_with("nop\n#### all functions enabled ####"),
        "not restored: {fp}"
    );
    assert!(out.stderr.contains("irqsoff tracer is not available: not in /sys/kernel/tracing/available_tracers (enable CONFIG_IRQSOFF_TRACER"), "{}", out.stderr);
}
