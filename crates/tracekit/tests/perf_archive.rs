//! The build-id cache that `tracekit perf record` fills and the tarball
//! `tracekit perf archive` packs from it, against Debian perf 6.1: the same
//! cache entries as `perf buildid-list --with-hits` names, the same tar
//! listing as perf's `perf-archive`, read back by perf — on this host and in
//! the QEMU rig, on another kernel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::bin;

/// A short CPU-bound dash loop: dash, libc and the kernel get samples.
const LOOP: &str = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";

fn run(c: &mut Command) -> (String, String, bool) {
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("running {:?}: {e}", c.get_program()));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

fn tk(args: &[&str]) -> (String, String, bool) {
    run(Command::new(bin()).args(args))
}

/// Debian's perf, the oracle (CI installs linux-perf).
fn perf(args: &[&str]) -> (String, String, bool) {
    let p = "/usr/bin/perf";
    assert!(
        Path::new(p).exists(),
        "this test compares with Debian's perf: apt-get install linux-perf"
    );
    run(Command::new(p).args(args))
}

/// `tracekit perf --buildid-dir CACHE archive -i DATA -o OUT`.
fn tk_archive(cache: &Path, data: &Path, out: &Path) -> (String, String, bool) {
    tk(&[
        "perf",
        "--buildid-dir",
        s(cache),
        "archive",
        "-i",
        s(data),
        "-o",
        s(out),
    ])
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `tracekit perf --buildid-dir CACHE record -g [extra] -o DATA -- dash -c LOOP`.
fn tk_record(cache: &Path, data: &Path, extra: &[&str]) -> String {
    let mut args = vec!["perf", "--buildid-dir", s(cache), "record", "-g"];
    args.extend(extra);
    args.extend(["-o", s(data), "--", "dash", "-c", LOOP]);
    let (_, err, ok) = tk(&args);
    assert!(ok, "tracekit perf record failed: {err}");
    err
}

/// `perf buildid-list --with-hits`: (build id, name).
fn with_hits(data: &Path) -> BTreeSet<(String, String)> {
    let (out, err, ok) = perf(&["buildid-list", "-i", s(data), "--with-hits"]);
    assert!(ok, "perf buildid-list: {err}");
    out.lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(' '))
        .map(|(id, name)| (id.to_string(), name.to_string()))
        .collect()
}

/// The build ids a cache has links for.
fn cache_ids(cache: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let Ok(rd) = std::fs::read_dir(cache.join(".build-id")) else {
        return ids;
    };
    for d in rd.flatten() {
        let xx = d.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            ids.insert(format!("{xx}{}", f.file_name().to_string_lossy()));
        }
    }
    ids
}

fn tar_list(file: &Path) -> BTreeSet<String> {
    let (out, err, ok) = run(Command::new("tar").args(["tf", s(file)]));
    assert!(ok, "tar tf {}: {err}", file.display());
    out.lines().map(str::to_string).collect()
}

/// The listing perf-archive makes for `ids` from `cache`: the link, and the
/// directory it resolves to with its files.
fn expected_listing(cache: &Path, ids: &BTreeSet<String>) -> BTreeSet<String> {
    let root = cache.canonicalize().unwrap();
    let mut want = BTreeSet::new();
    for id in ids {
        let link = format!(".build-id/{}/{}", &id[..2], &id[2..]);
        let dir = cache.join(&link).canonicalize().unwrap();
        let rel = dir
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        want.insert(link);
        want.insert(format!("{rel}/"));
        for f in std::fs::read_dir(&dir).unwrap().flatten() {
            want.insert(format!("{rel}/{}", f.file_name().to_string_lossy()));
        }
    }
    want
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// perf's closing `#` and `# (Tip: …)` lines vary; the rest is compared.
/// perf's report text without the random tip footer.
fn without_tip(s: &str) -> String {
    testutil::without_perf_tip(s)
}

fn perf_report(cache: &Path, data: &Path) -> String {
    let (out, err, ok) = perf(&[
        "--buildid-dir",
        s(cache),
        "report",
        "-i",
        s(data),
        "--stdio",
        "--no-children",
        "--sort",
        "dso,sym",
        "-g",
        "none",
    ]);
    assert!(ok, "perf report: {err}");
    without_tip(&out)
}

#[test]
fn record_fills_the_buildid_cache_and_archive_packs_it_like_perf() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let data = dir.path().join("x.data");
    let err = tk_record(&cache, &data, &[]);
    assert!(!err.contains("warning"), "{err}");

    // The cache holds exactly what perf says was hit.
    let hits = with_hits(&data);
    let names: BTreeSet<&str> = hits.iter().map(|(_, n)| n.as_str()).collect();
    for want in [
        "[kernel.kallsyms]",
        "/usr/bin/dash",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ] {
        assert!(names.contains(want), "{want} has hits: {hits:?}");
    }
    let ids: BTreeSet<String> = hits.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(cache_ids(&cache), ids, "cache links vs perf's --with-hits");

    // perf's layout, file by file.
    let kid = hex(&symbols::symtab::kernel_build_id().expect("kernel build id"));
    let k = cache.join("[kernel.kallsyms]").join(&kid).join("kallsyms");
    let ktext = std::fs::read_to_string(&k).unwrap();
    assert!(
        ktext.lines().any(|l| l.ends_with(" _text")),
        "{}",
        k.display()
    );
    assert_eq!(
        std::fs::read_link(cache.join(".build-id").join(&kid[..2]).join(&kid[2..])).unwrap(),
        PathBuf::from(format!("../../[kernel.kallsyms]/{kid}"))
    );
    let dash_id = hex(&symbols::locate::file_build_id(Path::new("/usr/bin/dash")).unwrap());
    let dash = cache.join("usr/bin/dash").join(&dash_id);
    assert_eq!(
        std::fs::read(dash.join("elf")).unwrap(),
        std::fs::read("/usr/bin/dash").unwrap()
    );
    assert_eq!(
        std::fs::read_link(
            cache
                .join(".build-id")
                .join(&dash_id[..2])
                .join(&dash_id[2..])
        )
        .unwrap(),
        PathBuf::from(format!("../../usr/bin/dash/{dash_id}"))
    );
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6")
        .canonicalize()
        .unwrap();
    let libc_id = symbols::locate::file_build_id(&libc).unwrap();
    let lc = cache
        .join(libc.strip_prefix("/").unwrap())
        .join(hex(&libc_id));
    assert!(lc.join("elf").is_file(), "{}", lc.display());
    assert_eq!(
        symbols::locate::file_build_id(&lc.join("debug")).as_deref(),
        Some(&libc_id[..]),
        "libc's separate debug file (libc6-dbg) is cached as `debug`"
    );
    // Idempotent: a second recording leaves the entries as they are.
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = ino(&lc.join("elf"));
    tk_record(&cache, &dir.path().join("x2.data"), &[]);
    assert_eq!(ino(&lc.join("elf")), before);

    // The archive: perf-archive's listing, perf's hint.
    let tarball = dir.path().join("tk.tar.bz2");
    let (_, err, ok) = tk_archive(&cache, &data, &tarball);
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!(
            "Now please run:\n\n$ tar xvf {} -C ~/.debug\n\nwherever you need to run 'perf report' on.",
            tarball.display()
        )),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
    let listing = tar_list(&tarball);
    assert_eq!(listing, expected_listing(&cache, &ids));
    let (_, err, ok) = perf(&["--buildid-dir", s(&cache), "archive", s(&data)]);
    assert!(ok, "perf archive: {err}");
    let theirs = PathBuf::from(format!("{}.tar.bz2", data.display()));
    assert_eq!(
        listing,
        tar_list(&theirs),
        "tracekit's vs perf-archive's listing"
    );

    // Unpacked elsewhere, Debian's perf reads it as it reads the cache.
    let ex = dir.path().join("extracted");
    std::fs::create_dir(&ex).unwrap();
    let (_, err, ok) = run(Command::new("tar").args(["xf", s(&tarball), "-C", s(&ex)]));
    assert!(ok, "{err}");
    assert_eq!(cache_ids(&ex), ids);
    assert_eq!(
        std::fs::read(ex.join("usr/bin/dash").join(&dash_id).join("elf")).unwrap(),
        std::fs::read("/usr/bin/dash").unwrap()
    );
    let want = perf_report(&cache, &data);
    assert!(want.contains("[.] "), "{want}");
    testutil::assert_text_eq!(perf_report(&ex, &data), want);
    // tracekit reads the unpacked directory as --symfs too (and as perf's
    // --buildid-dir), naming what perf names.
    let report = [
        "report",
        "-i",
        s(&data),
        "--stdio",
        "--no-children",
        "--sort",
        "dso,sym",
        "-g",
        "none",
    ];
    let mut a = vec!["perf", "report"];
    a.extend(&report[1..]);
    a.extend(["--symfs", s(&ex)]);
    let (out, err, ok) = tk(&a);
    assert!(ok, "{err}");
    assert!(!err.contains("warning"), "{err}");
    testutil::assert_text_eq!(without_tip(&out), want);
}

#[test]
fn record_no_buildid_cache_and_no_buildid_leave_the_cache_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let n = dir.path().join("n.data");
    tk_record(&cache, &n, &["-N"]);
    assert!(cache_ids(&cache).is_empty(), "-N wrote the cache");
    // The file still has its build ids (perf's -N only skips the cache).
    assert!(!with_hits(&n).is_empty());
    let b = dir.path().join("b.data");
    tk_record(&cache, &b, &["--no-buildid"]);
    assert!(cache_ids(&cache).is_empty(), "-B wrote the cache");
    assert!(with_hits(&b).is_empty(), "-B: no build ids in the file");
    // Nothing to archive from it: perf's message, a failure, no file.
    let out = dir.path().join("b.tar.bz2");
    let (_, err, ok) = tk(&[
        "perf",
        "--buildid-dir",
        s(&cache),
        "archive",
        s(&b),
        "-o",
        s(&out),
    ]);
    assert!(!ok);
    assert!(err.contains("perf archive: no build-ids found"), "{err}");
    assert!(
        err.contains("/usr/bin/dash: sampled, but no build id was recorded"),
        "{err}"
    );
    assert!(!out.exists());
}

/// A file recorded by Debian's perf without its cache (`-N`): archive fills
/// the cache from this host's files first.
#[test]
fn archive_of_a_perf_recording_fills_the_cache_from_this_host() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("p.data");
    let (_, err, ok) = perf(&[
        "record",
        "-N",
        "-g",
        "-o",
        s(&data),
        "--",
        "dash",
        "-c",
        LOOP,
    ]);
    assert!(ok, "perf record: {err}");
    let cache = dir.path().join("cache");
    let tarball = dir.path().join("p.tar.bz2");
    let (_, err, ok) = tk(&[
        "perf",
        "--buildid-dir",
        s(&cache),
        "archive",
        "--input",
        s(&data),
        "--output",
        s(&tarball),
    ]);
    assert!(ok, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let ids: BTreeSet<String> = with_hits(&data).into_iter().map(|(id, _)| id).collect();
    assert_eq!(cache_ids(&cache), ids);
    let listing = tar_list(&tarball);
    assert_eq!(listing, expected_listing(&cache, &ids));
    let (_, err, ok) = perf(&["--buildid-dir", s(&cache), "archive", s(&data)]);
    assert!(ok, "perf archive: {err}");
    assert_eq!(
        listing,
        tar_list(Path::new(&format!("{}.tar.bz2", data.display())))
    );
}

/// An object whose recorded build id is nowhere (not cached, the host's
/// file differs): a warning naming it; the rest is archived.
#[test]
fn archive_warns_about_objects_it_cannot_find() {
    let corpus = testutil::shared_dir().join("corpus/perf/cpuclock-fp.perf.data");
    let mut bytes = std::fs::read(&corpus).unwrap();
    let dash_id = symbols::locate::file_build_id(Path::new("/usr/bin/dash")).unwrap();
    let mut n = 0;
    for i in 0..bytes.len().saturating_sub(dash_id.len()) {
        if bytes[i..i + dash_id.len()] == dash_id[..] {
            bytes[i] ^= 0xff;
            n += 1;
        }
    }
    assert!(
        n > 0,
        "the corpus records /usr/bin/dash with this host's build id"
    );
    let mut other = dash_id.clone();
    other[0] ^= 0xff;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("c.data");
    std::fs::write(&data, &bytes).unwrap();
    let cache = dir.path().join("cache");
    let tarball = dir.path().join("c.tar.bz2");
    let (_, err, ok) = tk_archive(&cache, &data, &tarball);
    assert!(ok, "{err}");
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("warning") && l.contains("/usr/bin/dash"))
        .collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].contains(&hex(&other)) && warned[0].contains("not archived"),
        "{}",
        warned[0]
    );
    let listing = tar_list(&tarball);
    assert!(
        !listing.iter().any(|l| l.starts_with("usr/bin/dash")),
        "{listing:?}"
    );
    assert!(
        listing
            .iter()
            .any(|l| l.starts_with("usr/lib/x86_64-linux-gnu/libc.so.6/") && l.ends_with("/elf")),
        "{listing:?}"
    );
}

/// Recorded and archived here, read in the QEMU rig (another kernel): with
/// the unpacked archive perf names the kernel's and the programs' symbols,
/// without it the kernel's addresses stay raw. One boot.
#[test]
fn rig_archive_names_symbols_on_another_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let data = dir.path().join("x.data");
    tk_record(&cache, &data, &[]);
    let tarball = dir.path().join("x.tar.bz2");
    let (_, err, ok) = tk_archive(&cache, &data, &tarball);
    assert!(ok, "{err}");
    let script = format!(
        r#"T={t}
R="report -i $T/x.data --stdio --no-children --sort dso,sym -g none"
mkdir -p /tmp/dbg && tar xf $T/x.tar.bz2 -C /tmp/dbg || exit 9
echo '=== uname ==='; uname -r
echo '=== with ==='; perf --buildid-dir /tmp/dbg $R 2>/dev/null
echo '=== without ==='; perf --buildid-dir /tmp/nocache $R 2>/dev/null
echo '=== tk_with ==='; {tk} perf --buildid-dir /tmp/dbg $R 2>/tmp/tkerr
echo '=== tk_err ==='; cat /tmp/tkerr
echo '=== end ==='
"#,
        t = s(dir.path()),
        tk = bin(),
    );
    let out = testutil::Rig::new()
        .share(dir.path())
        .timeout(240)
        .run(&script)
        .assert_success();
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_ne!(
        out.section("uname").trim(),
        host.trim(),
        "the rig runs another kernel"
    );
    let kernel_lines = |sec: &str| -> Vec<String> {
        out.section(sec)
            .lines()
            .filter(|l| l.contains("[kernel.kallsyms]") && l.contains("[k] "))
            .map(str::to_string)
            .collect()
    };
    let raw = |l: &String| l.split("[k] ").nth(1).is_some_and(|s| s.starts_with("0x"));
    let with = kernel_lines("with");
    assert!(!with.is_empty(), "{}", out.section("with"));
    assert!(
        with.iter().all(|l| !raw(l)),
        "kernel symbols named from the archive's kallsyms:\n{}",
        out.section("with")
    );
    let without = kernel_lines("without");
    assert!(
        !without.is_empty() && without.iter().all(raw),
        "without the cache perf prints raw kernel addresses:\n{}",
        out.section("without")
    );
    for dso in ["dash", "libc.so.6"] {
        let named = out.section("with").lines().any(|l| {
            l.split_whitespace().nth(1) == Some(dso)
                && l.split("[.] ").nth(1).is_some_and(|s| !s.starts_with("0x"))
        });
        assert!(named, "{dso} symbols named:\n{}", out.section("with"));
    }
    testutil::assert_text_eq!(
        without_tip(out.section("tk_with")),
        without_tip(out.section("with"))
    );
}
