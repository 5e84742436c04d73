//! `report --format perfetto` on every corpus and fixture file: a valid
//! trace-event document in which each record is accounted for — every
//! `sched_switch` closes one CPU slice, irq entries and exits pair up,
//! other events are instants — and every CPU and task track is named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tracecmd::report::{run, Format, ReportOptions};

fn dats(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the corpus must be present)", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    v.sort();
    v
}

fn report(path: &Path, format: Format) -> Vec<u8> {
    let o = ReportOptions {
        inputs: vec![path.to_path_buf()],
        quiet: true,
        format,
        ..Default::default()
    };
    let mut out = Vec::new();
    run(&o, &mut out, &mut std::io::sink()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

#[test]
fn every_record_lands_on_a_named_track() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = dats(&root.join("../../../shared/corpus/tracecmd"));
    files.extend(dats(&root.join("tests/fixtures")));
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let name = f.display().to_string();
        // What the records are, from the JSON-lines report.
        let lines = report(&f, Format::Json);
        let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
        let mut cpus = std::collections::BTreeSet::new();
        let mut lost_marks = 0;
        for l in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(l).unwrap();
            *per_event
                .entry(v["event"].as_str().unwrap().to_string())
                .or_default() += 1;
            cpus.insert(v["cpu"].as_u64().unwrap());
            if v.get("lost_before").is_some() {
                lost_marks += 1;
            }
        }
        let count = |e: &str| per_event.get(e).copied().unwrap_or(0);
        let doc: Value = serde_json::from_slice(&report(&f, Format::Perfetto))
            .unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        let evs = doc["traceEvents"].as_array().expect("traceEvents");
        let ph = |p: &str| evs.iter().filter(|e| e["ph"] == p).count();
        let switches = count("sched:sched_switch");
        let switch_cpus = if switches > 0 { ph("X") - switches } else { 0 };
        assert!(
            switch_cpus <= cpus.len(),
            "{name}: {} slices for {switches} switches",
            ph("X")
        );
        assert_eq!(ph("B"), ph("E"), "{name}: unbalanced slices");
        let irq = count("irq:irq_handler_entry") + count("irq:softirq_entry");
        assert!(ph("B") <= irq + count("ftrace:funcgraph_entry"), "{name}");
        let total: usize = per_event.values().sum();
        let paired = count("irq:irq_handler_entry")
            + count("irq:irq_handler_exit")
            + count("irq:softirq_entry")
            + count("irq:softirq_exit")
            + count("ftrace:funcgraph_entry")
            + count("ftrace:funcgraph_exit");
        assert_eq!(
            ph("i"),
            total - switches - paired + lost_marks,
            "{name}: instants"
        );
        for e in evs.iter().filter(|e| e["ph"] != "M") {
            assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{name}: {e}");
            if e["ph"] == "X" {
                assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{name}: {e}");
            }
        }
        let named: std::collections::HashSet<(i64, i64)> = evs
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
            .map(|e| (e["pid"].as_i64().unwrap(), e["tid"].as_i64().unwrap()))
            .collect();
        for e in evs.iter().filter(|e| e["ph"] != "M") {
            let (p, t) = (e["pid"].as_i64().unwrap(), e["tid"].as_i64().unwrap());
            assert!(
                p == 0 || named.contains(&(p, t)),
                "{name}: unnamed track of {e}"
            );
        }
    }
}
