//! Control-plane tests against fake tracefs trees copied from real kernels
//! (`crates/testutil/fixtures`): journal + restore, status, probes, and the
//! hazards, without touching the live tracefs.

use std::sync::Arc;

use testutil::{FakeTracefs, FixtureSet, StateDir};
use tracefs::journal::{self, Journal};
use tracefs::restore::{self, SessionKind};
use tracefs::{dynevents, Error, Instance, Mode, Tracefs, TracefsOptions};

fn open(fake: &FakeTracefs, state: &StateDir) -> (Tracefs, Arc<Journal>) {
    let j = Arc::new(Journal::new(state.path(), fake.path()));
    let t = Tracefs::open(TracefsOptions {
        root: Some(fake.path().to_path_buf()),
        journal: Some(j.clone()),
        ..Default::default()
    })
    .unwrap();
    (t, j)
}

#[test]
fn journaled_changes_restore_exactly() {
    let fake = FakeTracefs::new(FixtureSet::Vm618);
    let state = StateDir::new();
    let (t, j) = open(&fake, &state);
    let top = Instance::top(&t);
    let before_clock = fake.read("trace_clock");
    top.set("trace_clock", "mono").unwrap();
    top.set_option("nooverwrite").unwrap();
    let ev = top.resolve_events("sched:sched_switch").unwrap().remove(0);
    top.set_filter(&ev, "prev_pid != 0").unwrap();
    top.enable_event(&ev, true).unwrap();
    assert_eq!(fake.read("options/overwrite").trim(), "0");
    let session = j.session().unwrap().unwrap();
    assert_eq!(session.pending().len(), 4);
    // Someone else changes one file after us: restore must leave it alone.
    fake.write("events/sched/sched_switch/filter", "prev_pid != 7\n");
    let rep = restore::restore_session(&t, &session);
    assert!(rep.failed.is_empty(), "{:?}", rep.failed);
    assert_eq!(rep.restored.len(), 3, "{:?}", rep);
    assert!(
        rep.skipped
            .iter()
            .any(|s| s.contains("changed by someone else")),
        "{:?}",
        rep.skipped
    );
    // A fake file is plain text: the "clock" now holds what we wrote back.
    assert_eq!(
        fake.read("trace_clock").trim(),
        before_clock
            .trim()
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap()
    );
    assert_eq!(fake.read("options/overwrite").trim(), "1");
    assert_eq!(fake.read("events/sched/sched_switch/enable").trim(), "0");
    assert_eq!(
        fake.read("events/sched/sched_switch/filter").trim(),
        "prev_pid != 7"
    );
}

#[test]
fn dry_run_touches_nothing_and_journals_nothing() {
    let fake = FakeTracefs::new(FixtureSet::Krig61);
    let state = StateDir::new();
    let j = Arc::new(Journal::new(state.path(), fake.path()));
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let l2 = lines.clone();
    let t = Tracefs::open(TracefsOptions {
        root: Some(fake.path().to_path_buf()),
        mode: Mode::DryRun,
        journal: Some(j.clone()),
        echo: Some(Box::new(move |s: &str| {
            l2.lock().unwrap().push(s.to_string())
        })),
        ..Default::default()
    })
    .unwrap();
    let inst = Instance::create(&t, "dry").unwrap();
    inst.set_tracer("function_graph").unwrap();
    inst.set_option("funcgraph-proc").unwrap();
    assert!(!fake.exists("instances/dry"));
    assert!(j.is_empty());
    let root = fake.path().display().to_string();
    assert_eq!(
        *lines.lock().unwrap(),
        vec![
            format!("mkdir {root}/instances/dry"),
            format!("echo function_graph > {root}/instances/dry/current_tracer"),
            format!("echo 1 > {root}/instances/dry/options/funcgraph-proc"),
        ]
    );
    drop(inst);
    assert_eq!(
        lines.lock().unwrap().last().unwrap(),
        &format!("rmdir {root}/instances/dry")
    );
}

#[test]
fn probes_are_appended_journaled_and_only_ours_deleted() {
    let fake = FakeTracefs::new(FixtureSet::Krig61);
    fake.write("kprobe_events", "p:other/x do_sys_open\n");
    let state = StateDir::new();
    let (t, j) = open(&fake, &state);
    let ev = dynevents::create(
        &t,
        "kprobe_events",
        "p:tracekit_test/open do_sys_openat2 dfd=%di:s32",
    )
    .unwrap();
    assert_eq!(
        fake.read("kprobe_events"),
        "p:other/x do_sys_open\np:tracekit_test/open do_sys_openat2 dfd=%di:s32\n"
    );
    let sessions = vec![j.session().unwrap().unwrap()];
    assert_eq!(sessions[0].probes(), vec!["tracekit_test/open"]);
    let other = dynevents::DynamicEvent::parse("p:other/x do_sys_open").unwrap();
    assert!(matches!(
        dynevents::destroy(&t, &other, &sessions, false),
        Err(Error::Refused(_))
    ));
    dynevents::destroy(&t, &ev, &sessions, false).unwrap();
    assert!(fake
        .read("kprobe_events")
        .ends_with("-:tracekit_test/open\n"));
    assert!(fake
        .read("kprobe_events")
        .starts_with("p:other/x do_sys_open\n"));
    assert!(j.session().unwrap().unwrap().probes().is_empty());
    // Truncating the shared file is refused outright.
    let e = t
        .write(&t.path("kprobe_events"), "", tracefs::WriteMode::Replace)
        .unwrap_err();
    assert!(matches!(e, Error::Refused(_)));
}

#[test]
fn missing_and_blocked_files_are_typed() {
    let fake = FakeTracefs::new(FixtureSet::Vm618);
    let state = StateDir::new();
    let (t, _) = open(&fake, &state);
    let top = Instance::top(&t);
    match top.function_profile_enabled() {
        Err(Error::Unsupported(u)) => {
            assert_eq!(u.feature, "function profiler");
            assert_eq!(u.kernel_config.as_deref(), Some("CONFIG_FUNCTION_PROFILER"));
        }
        other => panic!("{other:?}"),
    }
    match top.kprobe_profile() {
        Err(Error::Unsupported(u)) => {
            assert_eq!(u.kernel_config.as_deref(), Some("CONFIG_KPROBE_EVENTS"))
        }
        other => panic!("{other:?}"),
    }
    // Tracers absent from available_tracers are explained with their config.
    match top.set_tracer("irqsoff") {
        Err(Error::Unsupported(u)) => {
            assert_eq!(u.kernel_config.as_deref(), Some("CONFIG_IRQSOFF_TRACER"));
            assert!(u.fallback.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.eperm_files().iter().any(|f| f == "set_ftrace_filter"));
}

#[test]
fn status_of_a_fake_tree() {
    let fake = FakeTracefs::new(FixtureSet::Krig61);
    fake.write("events/sched/sched_switch/filter", "prev_pid != 0\n");
    fake.write("set_event", "sched:sched_switch\n");
    fake.mkdir_instance("other");
    let state = StateDir::new();
    let (t, _) = open(&fake, &state);
    let st = tracefs::status::status(&t, &[], None).unwrap();
    assert_eq!(st.arrays.len(), 2);
    assert_eq!(st.arrays[0].events, vec!["sched:sched_switch"]);
    assert!(st.arrays[0]
        .filters
        .contains(&("sched:sched_switch".into(), "prev_pid != 0".into())));
    assert_eq!(st.arrays[1].instance.as_deref(), Some("other"));
    assert!(!st.arrays[1].tracekit_owned);
    assert_eq!(st.arrays[0].clock, "global");
}

#[test]
fn killed_owner_is_stale_and_reset_repairs() {
    let fake = FakeTracefs::new(FixtureSet::Vm618);
    let state = StateDir::new();
    // A journal written by a "process" that no longer exists.
    let text = format!(
        "{{\"op\":\"owner\",\"pid\":999999,\"start_time\":1,\"boot_id\":\"{}\",\"cmdline\":\"tracekit set\",\"root\":\"{}\",\"started\":1}}\n\
         {{\"op\":\"set\",\"seq\":5,\"file\":\"tracing_on\",\"prev\":\"1\",\"new\":\"0\"}}\n\
         {{\"op\":\"applied\",\"seq\":5,\"readback\":\"0\"}}\n",
        journal::boot_id(),
        fake.path().display()
    );
    std::fs::create_dir_all(state.path().join("journal")).unwrap();
    std::fs::write(state.path().join("journal/x.jsonl"), text).unwrap();
    fake.write("tracing_on", "0\n");
    let sessions = journal::scan(state.path()).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(restore::classify(&sessions[0]), SessionKind::Stale);
    let (t, _) = open(&fake, &state);
    let rep = restore::restore_session(&t, &sessions[0]);
    assert_eq!(rep.restored.len(), 1, "{rep:?}");
    assert_eq!(fake.read("tracing_on").trim(), "1");
    assert!(journal::scan(state.path()).unwrap().is_empty());
}
