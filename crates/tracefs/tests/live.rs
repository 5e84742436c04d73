//! Live tests of the control plane on this machine's kernel, each in its own
//! private instance (never the top level).

use tracefs::{raw, Instance, Tracefs, TracefsOptions};

fn tfs() -> Tracefs {
    testutil::require_live_tracefs();
    Tracefs::open(TracefsOptions {
        mount_if_needed: true,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn owned_instance_is_removed_on_drop_and_on_panic() {
    let t = tfs();
    let name;
    {
        let inst = Instance::create_unique(&t, "tk-live").unwrap();
        name = inst.name().unwrap().to_string();
        assert!(t.path("instances").join(&name).is_dir());
        assert!(inst.is_owned());
    }
    assert!(!t.path("instances").join(&name).exists());
    let t2 = t.clone();
    let n2 = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let n3 = n2.clone();
    let r = std::thread::spawn(move || {
        let inst = Instance::create_unique(&t2, "tk-live").unwrap();
        *n3.lock().unwrap() = inst.name().unwrap().to_string();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert!(!t.path("instances").join(&*n2.lock().unwrap()).exists());
}

#[test]
fn raw_pages_are_drained_from_a_private_instance() {
    let t = tfs();
    let inst = Instance::create_unique(&t, "tk-raw").unwrap();
    let ev = inst.resolve_events("ftrace:print").ok();
    // ftrace:print is always on for trace_marker writes; no enable needed.
    drop(ev);
    for i in 0..50 {
        inst.write_marker(&format!("tracekit raw test {i}"))
            .unwrap();
    }
    inst.set_tracing_on(false).unwrap();
    let mut total_pages = 0;
    let mut bytes = 0usize;
    for cpu in raw::cpus(&inst).unwrap() {
        let mut r = raw::CpuReader::open(&inst, cpu, true).unwrap();
        let mut out = Vec::new();
        total_pages += r.drain(&mut out).unwrap();
        assert_eq!(out.len() % r.subbuf_size(), 0);
        for page in out.chunks(r.subbuf_size()) {
            let commit = u64::from_le_bytes(page[8..16].try_into().unwrap());
            bytes += (commit & ((1 << 27) - 1)) as usize;
        }
    }
    assert!(total_pages >= 1, "no pages drained");
    assert!(bytes >= 50 * 20, "only {bytes} bytes of events");
    let stats = inst.cpu_stats().unwrap();
    assert!(!stats.is_empty());
}

#[test]
fn write_failure_carries_the_kernel_error_log_entry() {
    let t = tfs();
    let inst = Instance::create_unique(&t, "tk-elog").unwrap();
    let ev = inst.resolve_events("sched:sched_switch").unwrap().remove(0);
    let err = inst.set_filter(&ev, "nosuch == 1").unwrap_err();
    let tracefs::Error::Write {
        kernel: Some(k), ..
    } = &err
    else {
        panic!("no kernel entry: {err}");
    };
    assert_eq!(k.message, "Field not found");
    assert_eq!(k.command, "nosuch == 1");
    assert!(err.to_string().contains("Field not found"), "{err}");
}
