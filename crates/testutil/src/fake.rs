//! Fake tracefs trees: writable copies of read-only snapshots of real tracefs trees.
//!
//! The snapshots live in `crates/testutil/fixtures/tracefs-*/` and were made by
//! `fixtures/capture.sh` (commands in `fixtures/README.md`). Besides the captured files a set
//! holds metadata that is *not* copied into the fake tree: `.eperm` (files that failed to open
//! with EPERM), `.listing` (top-level names of the real tree), `.kernel` (`uname -r`) and
//! `.instance_listing` (the names a fresh `instances/NAME/` had on that kernel).

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A captured tracefs tree under `crates/testutil/fixtures/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FixtureSet {
    /// `tracefs-6.18-vm`: this development VM (6.18, no function tracer: the `set_ftrace_*`
    /// files and `available_filter_functions` fail with EPERM; no kprobes, no synthetic events).
    Vm618,
    /// `tracefs-6.1-krig`: the rig's pinned 6.1 tracing kernel (everything enabled).
    Krig61,
}

impl FixtureSet {
    /// Every fixture set.
    pub const ALL: [FixtureSet; 2] = [FixtureSet::Vm618, FixtureSet::Krig61];

    /// The directory name under `fixtures/`.
    pub fn name(self) -> &'static str {
        match self {
            FixtureSet::Vm618 => "tracefs-6.18-vm",
            FixtureSet::Krig61 => "tracefs-6.1-krig",
        }
    }

    /// The absolute path of the (read-only, committed) fixture directory.
    pub fn dir(self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(self.name())
    }

    /// `uname -r` of the kernel the set was captured from.
    pub fn kernel_release(self) -> String {
        read_meta(self, ".kernel").trim().to_string()
    }

    /// Names in the real tree's top level (directories end in `/`), including files that were
    /// not captured (`trace`, `trace_pipe`, `free_buffer`, …).
    pub fn listing(self) -> Vec<String> {
        lines(&read_meta(self, ".listing"))
    }

    /// Relative paths that failed to open with EPERM on the real kernel (from `.eperm`).
    pub fn eperm_files(self) -> Vec<String> {
        lines(&read_meta(self, ".eperm"))
    }

    /// Names a fresh `instances/NAME/` had on the real kernel, relative to the instance
    /// (directories end in `/`; `events/` one level deep, `per_cpu/cpu0/` and
    /// `events/sched/sched_switch/` listed as examples).
    pub fn instance_listing(self) -> Vec<String> {
        lines(&read_meta(self, ".instance_listing"))
    }
}

fn read_meta(set: FixtureSet, name: &str) -> String {
    let p = set.dir().join(name);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture metadata {}: {e}", p.display()))
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A writable copy of a [`FixtureSet`] in a fresh temporary directory (removed on drop).
///
/// All accessors take paths relative to the fake tracefs root and panic with the path on I/O
/// errors, so tests stay short.
#[derive(Debug)]
pub struct FakeTracefs {
    dir: TempDir,
    set: FixtureSet,
}

impl FakeTracefs {
    /// Copies `set` into a new temp dir (metadata dotfiles excluded; `instances/` created).
    pub fn new(set: FixtureSet) -> FakeTracefs {
        let src = set.dir();
        assert!(
            src.is_dir(),
            "fixture set {} missing at {}",
            set.name(),
            src.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("tracekit-fake-tracefs-")
            .tempdir()
            .expect("create temp dir for FakeTracefs");
        copy_tree(&src, dir.path(), &|rel: &Path| {
            // Metadata files sit in the set's top level only.
            !(rel.components().count() == 1 && rel.to_string_lossy().starts_with('.'))
        });
        fs::create_dir_all(dir.path().join("instances")).expect("create instances/");
        FakeTracefs { dir, set }
    }

    /// The fixture set this tree was copied from.
    pub fn set(&self) -> FixtureSet {
        self.set
    }

    /// The root of the fake tracefs (pass it where a tracefs root is expected).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `path()/rel`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        let rel = rel.as_ref();
        assert!(
            rel.is_relative(),
            "FakeTracefs paths are relative: {}",
            rel.display()
        );
        self.dir.path().join(rel)
    }

    /// Contents of `rel` (panics if missing or not UTF-8).
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        let p = self.join(rel);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// Replaces the contents of `rel`, creating parent directories.
    pub fn write(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Removes the file or directory tree `rel` (panics if it does not exist).
    pub fn remove(&self, rel: impl AsRef<Path>) {
        let p = self.join(rel);
        let r = if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
    }

    /// Whether `rel` exists (file or directory).
    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.join(rel).exists()
    }

    /// Relative paths that failed with EPERM on the real kernel; tests emulate them (for
    /// instance with a tracefs wrapper that maps these paths to `EPERM`). They are absent from
    /// the fake tree.
    pub fn eperm_files(&self) -> Vec<String> {
        self.set.eperm_files()
    }

    /// Emulates `mkdir instances/NAME`: copies the per-instance subset of the top-level tree
    /// (the names a real instance had on that kernel, see [`FixtureSet::instance_listing`]) into
    /// `instances/NAME/` with a fresh instance's state: `tracing_on` 1, `current_tracer` nop,
    /// empty `set_event*` and `error_log`, every event `enable` 0 and `filter` none.
    /// Returns the instance path. Panics if it exists already.
    pub fn mkdir_instance(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty() && !name.contains('/') && name != "." && name != "..",
            "bad instance name {name:?}"
        );
        let inst_rel = Path::new("instances").join(name);
        let inst = self.join(&inst_rel);
        assert!(!inst.exists(), "instance {} exists already", inst.display());
        fs::create_dir_all(&inst).unwrap_or_else(|e| panic!("mkdir {}: {e}", inst.display()));

        let listing = self.set.instance_listing();
        let top: Vec<&str> = listing
            .iter()
            .map(String::as_str)
            .filter(|l| !l.trim_end_matches('/').contains('/'))
            .collect();
        let root = self.path();
        for entry in top {
            let name = entry.trim_end_matches('/');
            let src = root.join(name);
            if !src.exists() {
                continue; // not captured (trace, trace_pipe, free_buffer, …) or EPERM
            }
            let dst = inst.join(name);
            if entry.ends_with('/') {
                if name == "instances" {
                    continue; // instances do not nest
                }
                copy_tree(&src, &dst, &|_| true);
            } else {
                fs::copy(&src, &dst)
                    .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dst.display()));
            }
        }

        let rel = |f: &str| inst_rel.join(f);
        for (file, content) in [
            ("tracing_on", "1\n"),
            ("set_event", ""),
            ("set_event_pid", ""),
            ("set_event_notrace_pid", ""),
            ("error_log", ""),
        ] {
            if self.exists(rel(file)) {
                self.write(rel(file), content);
            }
        }
        if self.exists(rel("current_tracer")) {
            self.write(rel("current_tracer"), "nop\n");
        }
        reset_events(&inst.join("events"));
        inst
    }
}

/// Sets every `enable` below `dir` to 0 and every `filter` to `none`.
fn reset_events(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd {
        let e = e.expect("read_dir entry");
        let p = e.path();
        if p.is_dir() {
            reset_events(&p);
        } else {
            match e.file_name().to_str() {
                Some("enable") => fs::write(&p, "0\n").expect("reset enable"),
                Some("filter") => fs::write(&p, "none\n").expect("reset filter"),
                _ => {}
            }
        }
    }
}

/// Recursively copies `src` into `dst`, keeping entries whose path relative to `src` passes
/// `keep`.
fn copy_tree(src: &Path, dst: &Path, keep: &dyn Fn(&Path) -> bool) {
    fn walk(base: &Path, src: &Path, dst: &Path, keep: &dyn Fn(&Path) -> bool) {
        fs::create_dir_all(dst).unwrap_or_else(|e| panic!("mkdir {}: {e}", dst.display()));
        let rd = fs::read_dir(src).unwrap_or_else(|e| panic!("read_dir {}: {e}", src.display()));
        for e in rd {
            let e = e.expect("read_dir entry");
            let p = e.path();
            let rel = p.strip_prefix(base).expect("path under base");
            if !keep(rel) {
                continue;
            }
            let to = dst.join(e.file_name());
            if e.file_type().expect("file type").is_dir() {
                walk(base, &p, &to, keep);
            } else {
                fs::copy(&p, &to)
                    .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", p.display(), to.display()));
            }
        }
    }
    walk(src, src, dst, keep);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_dir_holds_exactly_the_documented_entries() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut want = vec![
            "README.md".to_string(),
            "capture.sh".to_string(),
            "instance-listing.sh".to_string(),
        ];
        want.extend(FixtureSet::ALL.iter().map(|s| s.name().to_string()));
        want.sort();
        assert_eq!(names, want);
        let readme = fs::read_to_string(dir.join("README.md")).unwrap();
        for s in FixtureSet::ALL {
            crate::assert_contains!(readme, s.name());
        }
    }

    #[test]
    fn copies_each_set_without_metadata() {
        for set in FixtureSet::ALL {
            let fs_ = FakeTracefs::new(set);
            assert_eq!(fs_.set(), set);
            assert!(fs_.path().join("instances").is_dir());
            for f in [".eperm", ".listing", ".kernel", ".instance_listing"] {
                assert!(!fs_.exists(f), "{set:?}: {f} copied");
            }
            for f in [
                "README",
                "available_tracers",
                "tracing_on",
                "trace_options",
                "buffer_size_kb",
                "trace_clock",
                "available_events",
                "events/header_page",
                "events/header_event",
                "events/enable",
                "events/sched/enable",
                "events/sched/sched_switch/format",
                "events/sched/sched_switch/id",
                "events/sched/sched_switch/trigger",
                "events/syscalls/sys_enter_openat/format",
                "events/raw_syscalls/sys_enter/format",
                "options/overwrite",
                "per_cpu/cpu0/stats",
            ] {
                assert!(fs_.exists(f), "{set:?}: {f} missing");
            }
            for never in [
                "free_buffer",
                "trace",
                "trace_pipe",
                "per_cpu/cpu0/trace_pipe_raw",
            ] {
                assert!(!fs_.exists(never), "{set:?}: {never} captured");
                assert!(fs_
                    .set()
                    .listing()
                    .iter()
                    .any(|l| l == never || never.contains('/')));
            }
            assert!(!fs_.exists("events/syscalls/sys_enter_close"));
            assert_eq!(fs_.read("current_tracer"), "nop\n");
            crate::assert_contains!(
                fs_.read("events/sched/sched_switch/format"),
                "name: sched_switch"
            );
            assert!(set.kernel_release().starts_with(match set {
                FixtureSet::Vm618 => "6.18",
                FixtureSet::Krig61 => "6.1.",
            }));
        }
    }

    #[test]
    fn eperm_files_match_the_kernels() {
        let vm = FakeTracefs::new(FixtureSet::Vm618);
        let ep = vm.eperm_files();
        assert!(ep.contains(&"set_ftrace_filter".to_string()), "{ep:?}");
        assert!(
            ep.contains(&"available_filter_functions".to_string()),
            "{ep:?}"
        );
        for f in &ep {
            assert!(!vm.exists(f), "{f} is EPERM but captured");
        }
        let krig = FakeTracefs::new(FixtureSet::Krig61);
        assert!(krig.eperm_files().is_empty(), "{:?}", krig.eperm_files());
        assert!(krig.exists("available_filter_functions"));
        assert!(krig.exists("kprobe_events"));
        assert!(krig.read("available_tracers").contains("function_graph"));
    }

    #[test]
    fn write_read_remove() {
        let fs_ = FakeTracefs::new(FixtureSet::Vm618);
        fs_.write("tracing_on", "0\n");
        assert_eq!(fs_.read("tracing_on"), "0\n");
        fs_.write("events/mygrp/myev/enable", "1\n");
        assert!(fs_.exists("events/mygrp/myev/enable"));
        fs_.remove("events/mygrp");
        assert!(!fs_.exists("events/mygrp"));
        fs_.remove("tracing_on");
        assert!(!fs_.exists("tracing_on"));
        // Another copy is untouched.
        assert_eq!(
            FakeTracefs::new(FixtureSet::Vm618).read("tracing_on"),
            "1\n"
        );
    }

    #[test]
    fn mkdir_instance_copies_the_per_instance_subset() {
        for set in FixtureSet::ALL {
            let fs_ = FakeTracefs::new(set);
            fs_.write("set_event", "sched:sched_switch\n");
            fs_.write("events/sched/sched_switch/enable", "1\n");
            fs_.write("current_tracer", "function\n");
            let inst = fs_.mkdir_instance("t1");
            assert_eq!(inst, fs_.path().join("instances/t1"));
            let r = |f: &str| fs::read_to_string(inst.join(f)).unwrap();
            assert_eq!(r("tracing_on"), "1\n");
            assert_eq!(r("current_tracer"), "nop\n");
            assert_eq!(r("set_event"), "");
            assert_eq!(r("events/sched/sched_switch/enable"), "0\n");
            assert_eq!(r("events/sched/sched_switch/filter"), "none\n");
            for f in [
                "trace_options",
                "buffer_size_kb",
                "trace_clock",
                "tracing_cpumask",
                "error_log",
                "options/overwrite",
                "per_cpu/cpu0/stats",
                "events/enable",
                "events/sched/sched_switch/format",
            ] {
                assert!(inst.join(f).exists(), "{set:?}: instance lacks {f}");
            }
            // Top-level-only files stay out.
            for f in [
                "README",
                "available_events",
                "printk_formats",
                "saved_cmdlines",
                "instances",
            ] {
                assert!(!inst.join(f).exists(), "{set:?}: instance has {f}");
            }
            // Every captured top-level name the real instance had is present.
            for l in set.instance_listing() {
                let name = l.trim_end_matches('/');
                if !name.contains('/') && name != "instances" && fs_.exists(name) {
                    assert!(inst.join(name).exists(), "{set:?}: {name}");
                }
            }
            fs_.mkdir_instance("t2");
            assert_eq!(fs::read_dir(fs_.join("instances")).unwrap().count(), 2);
        }
    }

    #[test]
    #[should_panic(expected = "exists already")]
    fn mkdir_instance_twice_panics() {
        let fs_ = FakeTracefs::new(FixtureSet::Vm618);
        fs_.mkdir_instance("x");
        fs_.mkdir_instance("x");
    }
}
