//! `report --format perfetto`: the Chrome trace-event JSON that the Perfetto
//! UI (ui.perfetto.dev) and `chrome://tracing` open. Written as a stream
//! over the report's merged events:
//!
//! * `sched:sched_switch` → per-CPU tracks ("CPU N") with one slice per
//!   task run (`comm-pid`, from one switch to the next);
//! * `ftrace:funcgraph_entry`/`_exit` → nested slices on the task's track
//!   (a flame chart of the kernel call graph); an exit without its entry
//!   (the trace began inside the call) is dropped;
//! * `irq:irq_handler_*`, `irq:softirq_*` → slices on per-CPU "CPU N irq"
//!   tracks;
//! * every other event → an instant on its task's track with the event's
//!   fields and trace-cmd's text as arguments; lost events → an instant on
//!   the CPU track.
//!
//! Tasks are shown as processes named by their comm (a trace.dat has the
//! pid of each event, not always its thread group).

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::report::StructuredEvent;

/// Process id of the synthetic process that holds the CPU tracks.
const CPU_PROCESS: i64 = 0x7fff_0000;
/// Thread ids of the CPU tracks: `CPU_TRACK + cpu`.
const CPU_TRACK: i64 = CPU_PROCESS + 1;
/// Thread ids of the per-CPU irq tracks: `IRQ_TRACK + cpu`.
const IRQ_TRACK: i64 = CPU_PROCESS + 0x8000;

/// Streams Chrome trace-event JSON.
#[derive(Debug, Default)]
pub struct PerfettoWriter {
    started: bool,
    first_event: bool,
    first_ts: Option<u64>,
    last_ts: u64,
    /// CPU → (start, name) of the task running since the last switch.
    running: HashMap<u32, (u64, String)>,
    /// Open function-graph slices per task.
    depth: HashMap<i32, u32>,
    /// Open irq slices per CPU.
    irq_depth: HashMap<u32, u32>,
    /// Task names (latest comm seen per pid).
    tasks: BTreeMap<i32, String>,
    cpus: BTreeMap<u32, ()>,
}

/// Nanoseconds → the format's microseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl PerfettoWriter {
    /// A writer; nothing is written until the first call.
    pub fn new() -> PerfettoWriter {
        PerfettoWriter::default()
    }

    fn push(&mut self, out: &mut Vec<u8>, v: &Value) {
        self.begin(out);
        if !self.first_event {
            out.extend_from_slice(b",\n");
        }
        self.first_event = false;
        // Serialising a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, v);
    }

    fn begin(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.first_event = true;
            out.extend_from_slice(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
        }
    }

    /// Adds one event (in time order).
    pub fn event(&mut self, e: &StructuredEvent, out: &mut Vec<u8>) {
        self.first_ts.get_or_insert(e.ts);
        self.last_ts = self.last_ts.max(e.ts);
        self.cpus.insert(e.cpu, ());
        if e.pid > 0 {
            self.tasks.insert(e.pid, e.comm.clone());
        }
        let cpu = i64::from(e.cpu);
        if e.lost_before != 0 {
            let args = if e.lost_before > 0 {
                json!({ "count": e.lost_before })
            } else {
                json!({ "count": "unknown" })
            };
            let v = json!({"ph": "i", "s": "t", "name": "lost events", "cat": "tracekit",
                "ts": us(e.ts), "pid": CPU_PROCESS, "tid": CPU_TRACK + cpu, "args": args});
            self.push(out, &v);
        }
        let (system, name) = e.event.split_once(':').unwrap_or(("", e.event.as_str()));
        let field_str = |f: &str| match e.fields.get(f) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        match (system, name) {
            ("sched", "sched_switch") => {
                let start = self
                    .running
                    .get(&e.cpu)
                    .map(|(t, _)| *t)
                    .or(self.first_ts)
                    .unwrap_or(e.ts);
                let prev = self
                    .running
                    .remove(&e.cpu)
                    .map(|(_, n)| n)
                    .unwrap_or_else(|| {
                        format!("{}-{}", field_str("prev_comm"), field_str("prev_pid"))
                    });
                let v = json!({"ph": "X", "name": prev, "cat": "sched", "ts": us(start),
                    "dur": us(e.ts.saturating_sub(start)), "pid": CPU_PROCESS, "tid": CPU_TRACK + cpu});
                self.push(out, &v);
                let next = format!("{}-{}", field_str("next_comm"), field_str("next_pid"));
                self.running.insert(e.cpu, (e.ts, next));
            }
            ("ftrace", "funcgraph_entry") => {
                let func = funcgraph_name(&e.info);
                *self.depth.entry(e.pid).or_default() += 1;
                let v = json!({"ph": "B", "name": func, "cat": "funcgraph", "ts": us(e.ts),
                    "pid": e.pid, "tid": e.pid});
                self.push(out, &v);
            }
            ("ftrace", "funcgraph_exit") => {
                let d = self.depth.entry(e.pid).or_default();
                if *d > 0 {
                    *d -= 1;
                    let v = json!({"ph": "E", "ts": us(e.ts), "pid": e.pid, "tid": e.pid});
                    self.push(out, &v);
                }
            }
            ("irq", "irq_handler_entry") | ("irq", "softirq_entry") => {
                let label = if name == "irq_handler_entry" {
                    format!("irq {} {}", field_str("irq"), field_str("name"))
                } else {
                    format!("softirq {}", field_str("vec"))
                };
                *self.irq_depth.entry(e.cpu).or_default() += 1;
                let v = json!({"ph": "B", "name": label, "cat": "irq", "ts": us(e.ts),
                    "pid": CPU_PROCESS, "tid": IRQ_TRACK + cpu,
                    "args": {"pid": e.pid, "comm": e.comm}});
                self.push(out, &v);
            }
            ("irq", "irq_handler_exit") | ("irq", "softirq_exit") => {
                let d = self.irq_depth.entry(e.cpu).or_default();
                if *d > 0 {
                    *d -= 1;
                    let v = json!({"ph": "E", "ts": us(e.ts), "pid": CPU_PROCESS,
                        "tid": IRQ_TRACK + cpu, "args": {"info": e.info}});
                    self.push(out, &v);
                }
            }
            _ => {
                let mut args = serde_json::Map::new();
                for (k, v) in &e.fields {
                    if !k.starts_with("common_") {
                        args.insert(k.clone(), v.clone());
                    }
                }
                args.insert("info".into(), Value::from(e.info.clone()));
                args.insert("cpu".into(), Value::from(e.cpu));
                if !e.buffer.is_empty() {
                    args.insert("buffer".into(), Value::from(e.buffer.clone()));
                }
                let v = json!({"ph": "i", "s": "t", "name": name, "cat": system,
                    "ts": us(e.ts), "pid": e.pid, "tid": e.pid, "args": args});
                self.push(out, &v);
            }
        }
    }

    /// Closes what is still open at the last event and writes the track
    /// names and the end of the document.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let end = self.last_ts;
        let running: Vec<(u32, (u64, String))> = self.running.drain().collect();
        for (cpu, (start, name)) in running {
            let v = json!({"ph": "X", "name": name, "cat": "sched", "ts": us(start),
                "dur": us(end.saturating_sub(start)), "pid": CPU_PROCESS,
                "tid": CPU_TRACK + i64::from(cpu)});
            self.push(out, &v);
        }
        let open: Vec<(i32, u32)> = self.depth.drain().collect();
        for (pid, d) in open {
            for _ in 0..d {
                let v = json!({"ph": "E", "ts": us(end), "pid": pid, "tid": pid});
                self.push(out, &v);
            }
        }
        let open: Vec<(u32, u32)> = self.irq_depth.drain().collect();
        for (cpu, d) in open {
            for _ in 0..d {
                let v = json!({"ph": "E", "ts": us(end), "pid": CPU_PROCESS,
                    "tid": IRQ_TRACK + i64::from(cpu)});
                self.push(out, &v);
            }
        }
        let meta = |name: &str, pid: i64, tid: i64, value: &str| json!({"ph": "M", "name": name, "pid": pid, "tid": tid, "args": {"name": value}});
        let mut names = vec![meta("process_name", CPU_PROCESS, CPU_TRACK, "CPUs")];
        let cpus: Vec<u32> = self.cpus.keys().copied().collect();
        for cpu in cpus {
            let c = i64::from(cpu);
            names.push(meta(
                "thread_name",
                CPU_PROCESS,
                CPU_TRACK + c,
                &format!("CPU {cpu}"),
            ));
            names.push(meta(
                "thread_name",
                CPU_PROCESS,
                IRQ_TRACK + c,
                &format!("CPU {cpu} irq"),
            ));
        }
        for (pid, comm) in &self.tasks {
            let p = i64::from(*pid);
            names.push(meta("process_name", p, p, &format!("{comm} {pid}")));
            names.push(meta("thread_name", p, p, comm));
        }
        for v in names {
            self.push(out, &v);
        }
        self.begin(out);
        out.extend_from_slice(b"\n]}\n");
    }
}

/// The function of a funcgraph entry from trace-cmd's text
/// (`|  do_sys_openat2() {`).
fn funcgraph_name(info: &str) -> String {
    let s = info.rsplit('|').next().unwrap_or(info).trim();
    let s = s.split('(').next().unwrap_or(s).trim();
    if s.is_empty() {
        "(function)".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: u64, cpu: u32, pid: i32, event: &str, fields: Value, info: &str) -> StructuredEvent {
        StructuredEvent {
            ts,
            cpu,
            buffer: String::new(),
            pid,
            comm: format!("task{pid}"),
            event: event.into(),
            fields: fields
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            info: info.into(),
            lost_before: 0,
        }
    }

    #[test]
    fn switches_become_cpu_slices_and_funcgraph_nests() {
        let mut w = PerfettoWriter::new();
        let mut out = Vec::new();
        let sw = |ts, prev: i32, next: i32| {
            ev(
                ts,
                0,
                prev,
                "sched:sched_switch",
                json!({"prev_comm": format!("task{prev}"), "prev_pid": prev,
                    "next_comm": format!("task{next}"), "next_pid": next}),
                "",
            )
        };
        w.event(&sw(1_000, 1, 2), &mut out);
        w.event(
            &ev(
                2_000,
                0,
                2,
                "ftrace:funcgraph_entry",
                json!({}),
                "|  do_sys_openat2() {",
            ),
            &mut out,
        );
        w.event(
            &ev(
                2_500,
                0,
                2,
                "ftrace:funcgraph_exit",
                json!({}),
                "  0.500 us   |  }",
            ),
            &mut out,
        );
        // An exit whose entry is before the trace: dropped.
        w.event(
            &ev(
                2_600,
                0,
                2,
                "ftrace:funcgraph_exit",
                json!({}),
                "  9.000 us   |  }",
            ),
            &mut out,
        );
        let mut lost = ev(
            2_700,
            0,
            2,
            "syscalls:sys_enter_read",
            json!({"fd": 3}),
            "fd: 3",
        );
        lost.lost_before = 12;
        w.event(&lost, &mut out);
        w.event(&sw(3_000, 2, 1), &mut out);
        w.finish(&mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        let evs = v["traceEvents"].as_array().unwrap();
        let slices: Vec<&Value> = evs.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(slices.len(), 3, "{evs:#?}");
        assert_eq!(slices[1]["name"], "task2-2");
        assert_eq!(slices[1]["ts"], 1.0);
        assert_eq!(slices[1]["dur"], 2.0);
        let b: Vec<&Value> = evs.iter().filter(|e| e["ph"] == "B").collect();
        let e: Vec<&Value> = evs.iter().filter(|e| e["ph"] == "E").collect();
        assert_eq!((b.len(), e.len()), (1, 1));
        assert_eq!(b[0]["name"], "do_sys_openat2");
        let inst: Vec<&Value> = evs.iter().filter(|e| e["ph"] == "i").collect();
        assert_eq!(inst.len(), 2);
        assert!(inst
            .iter()
            .any(|i| i["name"] == "lost events" && i["args"]["count"] == 12));
        assert!(inst
            .iter()
            .any(|i| i["name"] == "sys_enter_read" && i["args"]["fd"] == 3));
        assert!(evs
            .iter()
            .any(|m| m["ph"] == "M" && m["args"]["name"] == "CPU 0"));
    }

    #[test]
    fn an_empty_report_is_still_a_document() {
        let mut w = PerfettoWriter::new();
        let mut out = Vec::new();
        w.finish(&mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert!(v["traceEvents"].is_array());
    }
}
