//! `tracekit status`: the current ftrace state, like `trace-cmd stat`.

use std::fmt::Write as _;

use anyhow::Result;
use tracefs::journal;
use tracefs::restore::SessionKind;
use tracefs::status::{self, ArrayStatus};

use crate::cli::{GlobalArgs, StatusArgs};
use crate::context::Ctx;

pub fn run(g: &GlobalArgs, a: &StatusArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let sessions = journal::scan(&ctx.state_dir).unwrap_or_default();
    let only = a
        .instance
        .as_deref()
        .map(|n| if n == "top" { None } else { Some(n) });
    let st = status::status(&ctx.tfs, &sessions, only)?;
    ctx.finish(false)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&st)?)?;
        return Ok(());
    }
    let mut s = String::new();
    for arr in &st.arrays {
        render_array(&mut s, arr);
    }
    if only.is_none() {
        let inst: Vec<String> = st
            .arrays
            .iter()
            .filter_map(|a| {
                a.instance.as_ref().map(|n| {
                    if a.tracekit_owned {
                        format!("{n} (tracekit)")
                    } else {
                        n.clone()
                    }
                })
            })
            .collect();
        let _ = writeln!(s, "Instances:");
        if inst.is_empty() {
            let _ = writeln!(s, "   (none)");
        }
        for n in inst {
            let _ = writeln!(s, "   {n}");
        }
        let _ = writeln!(s, "\nProbes:");
        if st.probes.is_empty() {
            let _ = writeln!(s, "   (none)");
        }
        for p in &st.probes {
            let who = if p.ours { "tracekit" } else { "foreign " };
            let _ = writeln!(s, "   {who} {}", p.probe.definition);
        }
        let _ = writeln!(s, "\ntracekit journal:");
        if st.sessions.is_empty() {
            let _ = writeln!(s, "   (nothing to restore)");
        }
        for ses in &st.sessions {
            let kind = match ses.kind {
                SessionKind::Running => "running",
                SessionKind::Persistent => "left in place",
                SessionKind::Stale => "STALE (owner died; run `tracekit reset`)",
                SessionKind::OtherBoot => "from an earlier boot",
            };
            let _ = writeln!(
                s,
                "   pid {} `{}`: {} change(s) pending, {kind}",
                ses.pid, ses.cmdline, ses.pending
            );
        }
    }
    out!("{s}")?;
    Ok(())
}

fn list_or_none(s: &mut String, title: &str, v: &[String]) {
    if v.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title}:");
    for x in v {
        let _ = writeln!(s, "   {x}");
    }
    s.push('\n');
}

fn render_array(s: &mut String, a: &ArrayStatus) {
    match &a.instance {
        Some(n) => {
            let _ = writeln!(
                s,
                "Instance: {n}{}",
                if a.tracekit_owned {
                    " (created by tracekit)"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(s, "Top level:");
        }
    }
    let _ = writeln!(s, "Tracer: {}", a.tracer);
    let _ = writeln!(s, "Tracing: {}", if a.tracing_on { "on" } else { "off" });
    let _ = writeln!(s, "Clock: {}", a.clock);
    match a.buffer_size_kb {
        Some(kb) => {
            let _ = writeln!(s, "Buffer size in kilobytes (per cpu): {kb}");
        }
        None => {
            let _ = writeln!(s, "Buffer size in kilobytes (per cpu): differs per CPU");
        }
    }
    if let Some(sb) = a.subbuf_size_kb {
        let _ = writeln!(s, "Sub-buffer size in kilobytes: {sb}");
    }
    if let Some(p) = &a.buffer_percent {
        let _ = writeln!(s, "Buffer percent: {p}");
    }
    if let Some(m) = &a.cpumask {
        let _ = writeln!(s, "Tracing CPU mask: {m}");
    }
    if let Some(d) = &a.max_graph_depth {
        if d != "0" {
            let _ = writeln!(s, "Max graph depth: {d}");
        }
    }
    if let Some(t) = &a.tracing_thresh {
        if t != "0" {
            let _ = writeln!(s, "Tracing threshold (us): {t}");
        }
    }
    s.push('\n');
    list_or_none(s, "Events", &a.events);
    let filters: Vec<String> = a.filters.iter().map(|(e, f)| format!("{e}: {f}")).collect();
    list_or_none(s, "Filters", &filters);
    let triggers: Vec<String> = a
        .triggers
        .iter()
        .map(|(e, t)| format!("{e}: {t}"))
        .collect();
    list_or_none(s, "Triggers", &triggers);
    list_or_none(s, "Event PID filter", &a.event_pids);
    list_or_none(s, "Event notrace PID filter", &a.event_notrace_pids);
    for (title, v) in [
        ("Function filter", &a.ftrace_filter),
        ("Function notrace filter", &a.ftrace_notrace),
        ("Function PID filter", &a.ftrace_pid),
        ("Graph functions", &a.graph_function),
        ("Graph notrace functions", &a.graph_notrace),
    ] {
        if let Some(v) = v {
            list_or_none(s, title, v);
        }
    }
    let opts: Vec<String> = a
        .options_changed
        .iter()
        .map(|(n, on)| if *on { n.clone() } else { format!("no{n}") })
        .collect();
    list_or_none(s, "Options (not default)", &opts);
    let lost: Vec<String> = a
        .cpu_stats
        .iter()
        .filter(|c| c.entries > 0 || c.lost() > 0)
        .map(|c| {
            format!(
                "cpu{}: {} entries, {} overrun, {} dropped, {} commit overrun",
                c.cpu, c.entries, c.overrun, c.dropped_events, c.commit_overrun
            )
        })
        .collect();
    list_or_none(s, "Buffers", &lost);
}
