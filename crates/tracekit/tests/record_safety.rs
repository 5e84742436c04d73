//! `tracekit record` on a shared machine (issue #14): a second user of the
//! same trace array is refused, temporary files are unique and never left
//! behind (also after SIGKILL, with `reset`), an existing output survives a
//! failed run, the held command dies with a killed recorder, counted
//! triggers see only the command, an existing instance's event formats are
//! saved, and the command may follow the options without `--`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Hidden files (the recorder's temporary files) in `dir`.
fn hidden(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    v.sort();
    v
}

/// `tracekit report -i FILE` (must succeed).
fn report(file: &Path) -> String {
    let o = Command::new(bin())
        .args(["report", "-i"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits for a condition (at most `secs`).
fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Journal files left in a state dir.
fn journals(state: &Path) -> usize {
    std::fs::read_dir(state.join("journal"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Kills and reaps a child this test started (if still running).
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A tmpfs mounted for the test (size, extra options), unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(opts: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tracekit-test"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount -t tmpfs -o {opts} failed");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A `record --top` without a command, running until SIGINT; waits until
/// it has journaled its top-level set-up.
fn background_top_record(state: &Path, out: &Path) -> Reap {
    let child = tk(state)
        .args(["record", "-q", "--top", "-e", "sched:sched_switch", "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = wait_for(15, || {
        std::fs::read_dir(state.join("journal"))
            .map(|d| {
                d.flatten().any(|e| {
                    std::fs::read_to_string(e.path())
                        .is_ok_and(|t| t.contains("events/sched/sched_switch/enable"))
                })
            })
            .unwrap_or(false)
    });
    assert!(started, "the first recording never armed the top level");
    // Its readers are running once the temporary files exist.
    let dir = out.parent().unwrap().to_path_buf();
    assert!(wait_for(10, || hidden(&dir).len() >= 2));
    Reap(child)
}

fn sigint_and_wait(mut r: Reap) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(r.0.id() as i32, libc::SIGINT) };
    let st = r.0.wait().unwrap();
    assert!(st.success(), "first recording: {st}");
}

#[test]
fn concurrent_top_level_recordings_are_refused_naming_the_other() {
    require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.dat");
    let first = background_top_record(state.path(), &a);
    let pid = first.0.id();
    let b = dir.path().join("b.dat");
    let mut c = tk(state.path());
    c.args(["record", "-q", "--top", "-e", "sched:sched_wakeup", "-o"])
        .arg(&b)
        .args(["--duration", "0.3"]);
    let (ok, _, err) = run(c);
    assert!(!ok, "a second --top recording was not refused");
    assert!(
        err.contains(&format!("tracekit pid {pid}")) && err.contains("record -q --top"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(!b.exists());
    // --force records anyway.
    let mut c = tk(state.path());
    c.args([
        "record",
        "-q",
        "--force",
        "--top",
        "-e",
        "sched:sched_wakeup",
        "-o",
    ])
    .arg(&b)
    .args(["--duration", "0.3"]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    assert!(err.contains("warning"), "{err}");
    sigint_and_wait(first);
    assert!(report(&a).contains("sched_switch"));
    assert_eq!(hidden(dir.path()), Vec::<String>::new());
}

#[test]
fn top_level_recording_is_refused_while_set_left_events_enabled() {
    require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let mut c = tk(state.path());
    c.args(["set", "-e", "sched:sched_process_fork"]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let out = dir.path().join("t.dat");
    let mut c = tk(state.path());
    c.args(["record", "-q", "--top", "-e", "sched:sched_switch", "-o"])
        .arg(&out)
        .args(["--duration", "0.3"]);
    let (ok, _, err) = run(c);
    assert!(!ok, "recorded the top level under `tracekit set`'s events");
    assert!(
        err.contains("tracekit set -e sched:sched_process_fork")
            && err.contains("events/sched/sched_process_fork/enable")
            && err.contains("tracekit reset"),
        "{err}"
    );
    // A private instance is not affected.
    let mut c = tk(state.path());
    c.args(["record", "-q", "-e", "sched:sched_switch", "-o"])
        .arg(&out)
        .args(["--duration", "0.3"]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let mut c = tk(state.path());
    c.arg("reset");
    assert!(run(c).0);
}

#[test]
fn concurrent_recordings_to_the_same_output_both_succeed() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("same.dat");
    let spawn = || {
        tk(state.path())
            .args(["record", "-q", "-e", "sched:sched_switch", "-o"])
            .arg(&out)
            .args(["--", "sleep", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(report(&out).contains("sched_switch"));
    assert_eq!(hidden(dir.path()), Vec::<String>::new());
    assert_eq!(journals(state.path()), 0);
}

/// Starts `record --compression none -o OUT -- sh -c 'touch STARTED; sleep
/// 2; touch AFTER'` and SIGKILLs it once the command runs.
fn kill_mid_record(state: &Path, out: &Path, extra: &[&str]) -> (PathBuf, PathBuf) {
    let dir = out.parent().unwrap();
    let (started, after) = (dir.join("started"), dir.join("after"));
    let script = format!(
        "touch {}; sleep 2; touch {}",
        started.display(),
        after.display()
    );
    let mut child = Reap(
        tk(state)
            .args(["record", "-q", "-e", "sched:sched_switch"])
            .args(["--compression", "none", "-o"])
            .arg(out)
            .args(extra)
            .args(["--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(15, || started.exists()), "the command never ran");
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    (started, after)
}

#[test]
fn sigkill_keeps_the_old_output_kills_the_command_and_reset_removes_temp_files() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.dat");
    std::fs::write(&out, "precious").unwrap();
    let (_, after) = kill_mid_record(state.path(), &out, &[]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    let left = hidden(dir.path());
    assert!(
        !left.is_empty() && left.iter().all(|n| n.starts_with(".k.dat.tk")),
        "{left:?}"
    );
    // The command died with tracekit instead of running on untraced.
    std::thread::sleep(Duration::from_millis(2600));
    assert!(
        !after.exists(),
        "the command ran on after tracekit was killed"
    );
    let mut c = tk(state.path());
    c.arg("reset");
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    assert!(err.contains("temporary files"), "{err}");
    assert_eq!(hidden(dir.path()), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    assert_eq!(journals(state.path()), 0);
}

#[test]
fn keep_command_lets_the_command_outlive_a_killed_recorder() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.dat");
    let (_, after) = kill_mid_record(state.path(), &out, &["--keep-command"]);
    assert!(
        wait_for(6, || after.exists()),
        "--keep-command: the command was killed"
    );
    let mut c = tk(state.path());
    c.arg("reset");
    assert!(run(c).0);
    assert_eq!(hidden(dir.path()), Vec::<String>::new());
}

#[test]
fn record_help_documents_keep_command_and_commands_without_double_dash() {
    let (ok, out, _) = run({
        let mut c = Command::new(bin());
        c.args(["record", "--help"]);
        c
    });
    assert!(ok);
    assert!(out.contains("--keep-command"), "{out}");
    assert!(out.contains("never runs untraced"), "{out}");
    assert!(out.contains("first word that is not an option"), "{out}");
}

#[test]
fn invalid_options_fail_before_anything_starts() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.dat");
    std::fs::write(&out, "precious").unwrap();
    for (args, why) in [
        (
            &["--file-version", "5", "--", "true"][..],
            "--file-version 5",
        ),
        (&["--", "tk-no-such-command"][..], "not found in PATH"),
        (
            &["--", "/nonexistent/command"][..],
            "cannot run the command",
        ),
        (&["-b", "0", "--", "true"][..], "-b 0"),
        (&["-m", "0", "--", "true"][..], "-m 0"),
        (
            &["--compression", "none", "--file-version", "5"][..],
            "--file-version 5",
        ),
    ] {
        let mut c = tk(state.path());
        c.args(["record", "-q", "-e", "sched:sched_switch", "-o"])
            .arg(&out)
            .args(args);
        let (ok, _, err) = run(c);
        assert!(!ok, "{args:?} succeeded");
        assert_eq!(hidden(dir.path()), Vec::<String>::new(), "{args:?}: {err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
        assert_eq!(journals(state.path()), 0, "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn a_full_disk_keeps_the_old_output_and_leaves_no_temp_files() {
    require_live_tracefs();
    let state = StateDir::new();
    // 16 KiB cannot hold even the uncompressed event formats of `sched`:
    // the disk fills whatever the machine's load.
    let fs = Tmpfs::mount("size=16k");
    let out = fs.path().join("full.dat");
    std::fs::write(&out, "precious").unwrap();
    let mut c = tk(state.path());
    c.args(["record", "-q", "--compression", "none", "-e", "sched", "-o"])
        .arg(&out)
        .args(["--", "sleep", "0.3"]);
    let (ok, _, err) = run(c);
    assert!(!ok, "recorded onto a full disk");
    assert!(
        err.contains(&format!("{}: ", out.display())) && err.contains("No space left"),
        "{err}"
    );
    assert!(!err.contains(".tk"), "names a temporary file: {err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    assert_eq!(hidden(fs.path()), Vec::<String>::new());
    assert_eq!(journals(state.path()), 0);
}

#[test]
fn missing_or_read_only_output_directories_are_reported_with_the_output() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let ro = Tmpfs::mount("ro,size=64k");
    for (out, why) in [
        (dir.path().join("missing/x.dat"), "No such file"),
        (ro.path().join("x.dat"), "Read-only"),
    ] {
        let mut c = tk(state.path());
        c.args(["record", "-q", "-e", "sched:sched_switch", "-o"])
            .arg(&out)
            .args(["--", "true"]);
        let (ok, _, err) = run(c);
        assert!(!ok);
        assert!(
            err.contains(&out.display().to_string()) && err.contains(why),
            "{err}"
        );
        assert!(!err.contains(".tk"), "names a temporary file: {err}");
        assert_eq!(journals(state.path()), 0);
    }
    assert_eq!(hidden(dir.path()), Vec::<String>::new());
}

#[test]
fn counted_trigger_fires_only_for_the_command() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("st.dat");
    let mut c = tk(state.path());
    c.args([
        "record",
        "-q",
        "-e",
        "syscalls:sys_enter_openat",
        "-R",
        "stacktrace:2",
    ])
    .args(["-F", "-o"])
    .arg(&out)
    .args(["--", "cat", "/etc/hostname"])
    .stdout(Stdio::null());
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let rep = report(&out);
    let stacks: Vec<&str> = rep.lines().filter(|l| l.contains("<stack trace")).collect();
    assert_eq!(stacks.len(), 2, "{rep}");
    assert!(
        stacks.iter().all(|l| l.trim_start().starts_with("cat-")),
        "{rep}"
    );
}

#[test]
fn recording_an_existing_instance_saves_its_event_formats() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique_name("tk-nt");
    let mut c = tk(state.path());
    c.args(["set", "-B", &name, "-e", "sched"]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let out = dir.path().join("x.dat");
    let mut c = tk(state.path());
    c.args(["record", "-q", "-B", &name, "-o"])
        .arg(&out)
        .args(["--duration", "1s"]);
    let (ok, _, err) = run(c);
    assert!(ok, "{err}");
    let rep = report(&out);
    assert!(!rep.contains("[UNKNOWN EVENT]"), "{rep}");
    assert!(rep.contains("sched_switch:"), "{rep}");
    let mut c = tk(state.path());
    c.arg("reset");
    assert!(run(c).0);
}

#[test]
fn the_command_may_follow_the_options_without_double_dash() {
    require_live_tracefs();
    let state = StateDir::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nodash.dat");
    // trace-cmd's habit: the first word starts the command, and the options
    // after it (`-e`) are the command's.
    let mut c = tk(state.path());
    c.args(["record", "-q", "-e", "sched:sched_switch", "-o"])
        .arg(&out)
        .args(["echo", "-e", "from-the-command"]);
    let (ok, stdout, err) = run(c);
    assert!(ok, "{err}");
    assert!(stdout.contains("from-the-command"), "{stdout}");
    assert!(report(&out).contains("sched_switch"));
    let mut c = tk(state.path());
    c.args(["stream", "-q", "-e", "sched:sched_process_exec"])
        .args(["echo", "-e", "streamed-command"]);
    let (ok, stdout, err) = run(c);
    assert!(ok, "{err}");
    assert!(stdout.contains("streamed-command"), "{stdout}");
}
