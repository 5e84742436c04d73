//! Uprobes on this machine (libc, bash) recording real values, and kprobes
//! in the QEMU rig (BTF names, return values, struct members, profiles, the
//! no-BTF path). Probes are deleted afterwards; foreign probes survive.

use std::process::Command;

use testutil::Rig;

use crate::util::*;

fn libc() -> &'static str {
    [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("libc.so.6 not found: install libc6")
}

fn tkrun(state: &std::path::Path, args: &[&str]) -> String {
    let mut c = tk(state);
    c.args(args);
    let (ok, out, err) = run(c);
    assert!(ok, "tracekit {args:?} failed:\n{err}");
    out
}

#[test]
fn uprobes_record_real_values_and_are_removed() {
    let root = require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let group = unique_name("tracekit_t").replace('-', "_");
    // A foreign probe that must survive everything below.
    let fname = format!("{}/x", unique_name("fgn").replace('-', "_"));
    append(
        &root.join("uprobe_events"),
        &format!("p:{fname} /usr/bin/true:0x1000"),
    );
    let ue = root.join("uprobe_events");
    let _cleanup = OnDrop(|| append(&ue, &format!("-:{fname}")));
    let libc = libc();
    tkrun(
        state.path(),
        &[
            "probe",
            "add",
            "-g",
            &group,
            "-x",
            libc,
            "openat",
            "path=$arg2:string",
            "head=+0(%si):u8[4]",
            "upath=+0(%si):ustring",
        ],
    );
    tkrun(
        state.path(),
        &[
            "probe",
            "add",
            "-g",
            &group,
            "-x",
            libc,
            "openat%return",
            "$retval:s32",
        ],
    );
    tkrun(
        state.path(),
        &[
            "probe",
            "add",
            "-g",
            &group,
            "-x",
            libc,
            "execve",
            "prog=$arg1:string",
            "argv1=+0(+8(%si)):string",
        ],
    );
    tkrun(
        state.path(),
        &[
            "probe",
            "add",
            "-g",
            &group,
            "-x",
            "/bin/bash",
            "bind_variable",
            "name=$arg1:string",
            "value=$arg2:string",
        ],
    );
    let listed = tkrun(state.path(), &["probe", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("tracekit p:") && l.contains(&format!("{group}/openat "))),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("foreign ") && l.contains(&fname)),
        "{listed}"
    );

    let inst = unique_name("tkup");
    tkrun(
        state.path(),
        &["set", "-B", &inst, "-e", &format!("{group}:*")],
    );
    let py = Command::new("/usr/bin/python3")
        .args(["-c", "import os; d=os.open('/', os.O_RDONLY); print(os.open('etc/hostname', os.O_RDONLY, dir_fd=d))"])
        .output()
        .expect("python3");
    let fd: i32 = String::from_utf8_lossy(&py.stdout)
        .trim()
        .parse()
        .expect("python printed the fd");
    let sh = Command::new("/bin/sh")
        .args(["-c", "/bin/echo tracekit-argv-check >/dev/null"])
        .status()
        .unwrap();
    assert!(sh.success());
    let b = Command::new("/bin/bash")
        .args(["-c", "tkvar=hello123; :"])
        .status()
        .unwrap();
    assert!(b.success());
    std::fs::write(root.join(format!("instances/{inst}/tracing_on")), "0").unwrap();
    let trace = std::fs::read_to_string(root.join(format!("instances/{inst}/trace"))).unwrap();
    let line = |needle: &str| {
        trace
            .lines()
            .find(|l| l.contains(needle))
            .map(str::to_string)
    };
    let open = line("path=\"etc/hostname\"").unwrap_or_else(|| panic!("no openat event:\n{trace}"));
    assert!(open.contains(" head={101,116,99,47}"), "{open}");
    assert!(open.contains(" upath=\"etc/hostname\""), "{open}");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("openat__return:") && l.contains(&format!(" ret={fd}"))),
        "ret={fd} missing:\n{trace}"
    );
    let ex = line("argv1=\"tracekit-argv-check\"")
        .unwrap_or_else(|| panic!("no execve event:\n{trace}"));
    assert!(ex.contains("prog=\"/bin/echo\""), "{ex}");
    assert!(
        trace.contains("name=\"tkvar\" value=\"hello123\""),
        "no bind_variable event:\n{trace}"
    );

    let prof = tkrun(state.path(), &["probe", "profile", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&prof).unwrap();
    let hits = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"] == "bind_variable")
        .unwrap()["hits"]
        .as_u64()
        .unwrap();
    assert!(hits >= 1);

    // reset removes the instance and the probes; the foreign one stays.
    tkrun(state.path(), &["reset"]);
    let ue = std::fs::read_to_string(root.join("uprobe_events")).unwrap();
    assert!(!ue.contains(&group), "probes left:\n{ue}");
    assert!(ue.contains(&fname), "foreign probe deleted:\n{ue}");
    assert!(!root.join(format!("instances/{inst}")).exists());
}

#[test]
fn probe_del_deletes_only_ours() {
    let root = require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let fgroup = unique_name("fgn").replace('-', "_");
    append(
        &root.join("uprobe_events"),
        &format!("p:{fgroup}/y /usr/bin/true:0x1000"),
    );
    let ue = root.join("uprobe_events");
    let _cleanup = OnDrop(|| append(&ue, &format!("-:{fgroup}/y")));
    let group = unique_name("tracekit_d").replace('-', "_");
    tkrun(
        state.path(),
        &["probe", "add", "-g", &group, "-x", libc(), "openat"],
    );
    let mut c = tk(state.path());
    c.args(["probe", "del", &format!("{fgroup}/*")]);
    let (_, _, err) = run(c);
    assert!(err.contains("was not created by tracekit"), "{err}");
    tkrun(state.path(), &["probe", "del", &format!("{group}/*")]);
    let ue = std::fs::read_to_string(root.join("uprobe_events")).unwrap();
    assert!(!ue.contains(&group) && ue.contains(&fgroup), "{ue}");
    // Nothing left for reset.
    let out = tkrun(state.path(), &["reset"]);
    assert!(out.starts_with("0 change(s)"), "{out}");
}

/// `open file:string` on libc through its separate debug file (libc6-dbg):
/// the name becomes `%di`, and the recorded events hold the path `cat`
/// opens (coreutils' cat calls libc's `open`, an alias of `__libc_open64`).
#[test]
fn dwarf_named_uprobe_records_what_cat_opens() {
    let root = require_live_tracefs();
    let _g = global_lock();
    let state = StateDir::new();
    let group = unique_name("tracekit_dw").replace('-', "_");
    let libc = libc();
    let mut c = tk(state.path());
    c.args([
        "probe",
        "add",
        "-g",
        &group,
        "-x",
        libc,
        "open",
        "file:string",
        "oflag",
    ]);
    let (ok, _, err) = run(c);
    assert!(ok, "probe add with DWARF names failed (is libc6-dbg installed? apt-get install libc6-dbg):\n{err}");
    let ue = std::fs::read_to_string(root.join("uprobe_events")).unwrap();
    let def = ue
        .lines()
        .find(|l| l.contains(&format!("{group}/open ")))
        .unwrap_or_else(|| panic!("no probe:\n{ue}"));
    assert!(def.ends_with(" file=+0(%di):string oflag=%si:s32"), "{def}");

    let dir = tempfile::tempdir().unwrap();
    let dat = dir.path().join("open.dat");
    let dat = dat.to_str().unwrap();
    tkrun(
        state.path(),
        &[
            "record",
            "-e",
            &format!("{group}:open"),
            "-o",
            dat,
            "--",
            "cat",
            "/etc/hostname",
        ],
    );
    let rep = tkrun(state.path(), &["report", "-i", dat]);
    assert!(
        rep.lines().any(|l| l.contains("cat-")
            && l.contains(" open: ")
            && l.contains(" file=\"/etc/hostname\" oflag=0")),
        "no open event with cat's path:\n{rep}"
    );

    tkrun(state.path(), &["probe", "del", &format!("{group}/*")]);
    let ue = std::fs::read_to_string(root.join("uprobe_events")).unwrap();
    assert!(!ue.contains(&group), "probe left:\n{ue}");
}

/// `probe funcs -x libc -V open` prints what `perf probe -V` prints.
#[test]
fn vars_at_a_libc_function_match_perf() {
    let libc = libc();
    let state = StateDir::new();
    let want =
        "Available variables at open\n\t@<__libc_open64+0>\n\t\tchar*\tfile\n\t\tint\toflag\n";
    let mut c = tk(state.path());
    c.args(["probe", "funcs", "-x", libc, "-V", "open"]);
    let (ok, out, err) = run(c);
    assert!(ok, "{err} (apt-get install libc6-dbg)");
    assert_eq!(out, want);
    // The same text as perf 6.1's, when perf is there (CI: linux-perf).
    if std::path::Path::new("/usr/bin/perf").exists() {
        for func in ["open", "read", "fstat", "fopen"] {
            let perf = Command::new("/usr/bin/perf")
                .args(["probe", "-x", libc, "-V", func])
                .output()
                .unwrap();
            assert!(
                perf.status.success(),
                "perf probe -V {func}: {}",
                String::from_utf8_lossy(&perf.stderr)
            );
            let mut c = tk(state.path());
            c.args(["probe", "funcs", "-x", libc, "-V", func]);
            let (_, out, err) = run(c);
            assert_eq!(out, String::from_utf8_lossy(&perf.stdout), "{func}: {err}");
        }
    }
    // --locations: where each one is at the entry, and what is not there.
    let out = tkrun(
        state.path(),
        &["probe", "funcs", "-x", libc, "-V", "open", "--locations"],
    );
    assert!(out.contains("\t\tchar*\tfile\t%di\n"), "{out}");
    assert!(
        out.contains("\t\tint\tmode\toptimized out at entry"),
        "{out}"
    );
    let js = tkrun(
        state.path(),
        &["probe", "funcs", "-x", libc, "-V", "open", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    let f = &v[0];
    assert_eq!(f["function"], "__libc_open64");
    let file = &f["variables"][0];
    assert_eq!(file["name"], "file");
    assert_eq!(file["type"]["name"], "const char *");
    assert_eq!(file["fetch"], "%di");
    assert_eq!(file["location"]["kind"], "register");
}

/// Without debug info, the error names the way to get it.
#[test]
fn names_without_debuginfo_say_what_to_install() {
    let state = StateDir::new();
    let mut c = tk(state.path());
    c.args([
        "probe",
        "funcs",
        "-x",
        "/usr/bin/bash",
        "-V",
        "bind_variable",
    ]);
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(
        err.contains("/usr/bin/bash has no debug info to look up names")
            && err.contains("/usr/lib/debug/.build-id/"),
        "{err}"
    );
    if std::path::Path::new("/etc/debian_version").exists() {
        assert!(err.contains("find-dbgsym-packages /usr/bin/bash"), "{err}");
    }
}

#[test]
fn no_kprobes_here_suggests_tracepoints() {
    let root = require_live_tracefs();
    if root.join("kprobe_events").exists() {
        return; // covered by rig_kprobes on kernels with kprobes
    }
    let state = StateDir::new();
    let mut c = tk(state.path());
    c.args(["probe", "add", "do_sys_openat2", "dfd=%di:s32"]);
    let (ok, _, err) = run(c);
    assert!(!ok);
    assert!(
        err.contains("kprobes are not available") && err.contains("CONFIG_KPROBE_EVENTS"),
        "{err}"
    );
    let pos = |s: &str| err.find(s).unwrap_or_else(|| panic!("{s} missing:\n{err}"));
    assert!(pos("syscalls:sys_enter_openat2") < pos("syscalls:sys_enter_openat "));
    assert!(
        err.contains("fields: int __syscall_nr; int dfd; const char * filename"),
        "{err}"
    );
}

const RIG: &str = r#"
T=/sys/kernel/tracing
export TRACEKIT_STATE_DIR=/tmp/tkstate
echo "=== add ==="
$TK probe add do_sys_openat2 dfd filename:string; echo rc=$?
$TK probe add 'do_sys_openat2%return' '$retval'; echo rc=$?
$TK probe add vfs_read 'file->f_pos' count; echo rc=$?
cat $T/kprobe_events
echo "=== record ==="
$TK set -B k -e 'tracekit_root:*'; echo rc=$?
cat /etc/hostname >/dev/null
echo 0 > $T/instances/k/tracing_on
grep 'do_sys_openat2: ' $T/instances/k/trace | grep -c 'filename="/etc/hostname"'
grep -c 'do_sys_openat2__return: .* ret=' $T/instances/k/trace
grep -c 'vfs_read: .* file_f_pos=' $T/instances/k/trace
echo "=== profile ==="
$TK probe profile --json
echo "=== nobtf ==="
TRACEKIT_BTF=/nonexistent $TK probe add -n nobtf do_sys_openat2 dfd; echo rc=$?
TRACEKIT_BTF=/nonexistent $TK probe add -n regs do_sys_openat2 'dfd=%di:s32'; echo rc=$?
echo "=== reject ==="
$TK probe add 'p:tracekit_x/bad do_sys_openat2 %rax'; echo rc=$?
$TK probe add 'p:tracekit_x/bad no_such_function_xyz'; echo rc=$?
echo "=== reset ==="
$TK reset >/dev/null; echo rc=$?
cat $T/kprobe_events; ls $T/instances; echo end
"#;

#[test]
fn rig_kprobes() {
    let out = Rig::new().timeout(280).run(&format!("TK={}\n{RIG}", bin()));
    assert_eq!(out.code, 0, "rig failed:\n{}\n{}", out.stdout, out.stderr);
    let add = out.section("add");
    assert_eq!(add.matches("rc=0").count(), 3, "{add}\n{}", out.stderr);
    assert!(
        add.contains(
            "p:tracekit_root/do_sys_openat2 do_sys_openat2 dfd=%di:s32 filename=+0(%si):string"
        ),
        "{add}"
    );
    assert!(add.contains("r"), "{add}");
    let rec: Vec<&str> = out.section("record").lines().collect();
    assert_eq!(rec[0], "rc=0", "{rec:?}\n{}", out.stderr);
    for (i, what) in [
        (1, "openat2 with the file cat opened"),
        (2, "return values"),
        (3, "vfs_read f_pos"),
    ] {
        assert!(
            rec[i].parse::<u32>().unwrap_or(0) >= 1,
            "no {what}: {rec:?}"
        );
    }
    let prof: serde_json::Value = serde_json::from_str(out.section("profile")).unwrap();
    let hits = prof
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"] == "do_sys_openat2")
        .unwrap()["hits"]
        .as_u64()
        .unwrap();
    assert!(hits >= 1, "{prof}");
    let nobtf: Vec<&str> = out.section("nobtf").lines().collect();
    assert_eq!(
        nobtf,
        ["rc=1", "tracekit_root:regs", "rc=0"],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("argument names need BTF: BTF not available at /nonexistent"),
        "{}",
        out.stderr
    );
    let rej = out.section("reject");
    assert_eq!(rej.matches("rc=1").count(), 2, "{rej}");
    assert!(
        out.stderr
            .contains("Invalid register name\n  p:tracekit_x/bad do_sys_openat2 %rax\n"),
        "{}",
        out.stderr
    );
    // The kernel's own rejection (unknown symbol) comes with its error_log text.
    assert!(
        out.stderr.contains("trace_kprobe: error:"),
        "{}",
        out.stderr
    );
    let reset: Vec<&str> = out.section("reset").lines().collect();
    assert_eq!(
        reset,
        ["rc=0", "end"],
        "probes or instance left: {reset:?}\n{}",
        out.stderr
    );
}
