//! `tracekit list`: events, tracers, options, functions, formats, probes.

use anyhow::{Context as _, Result};
use serde_json::json;
use tracefs::{dynevents, events, journal, EventName, Instance};

use crate::cli::{GlobalArgs, ListArgs};
use crate::context::Ctx;

pub fn run(g: &GlobalArgs, a: &ListArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let inst = Instance::open(&ctx.tfs, a.instance.as_deref())?;
    let nothing = a.events.is_none()
        && !a.tracers
        && !a.options
        && a.functions.is_none()
        && a.format.is_none()
        && !a.probes;
    let mut out = serde_json::Map::new();
    let headers = nothing
        || [
            a.events.is_some(),
            a.tracers,
            a.options,
            a.functions.is_some(),
            a.probes,
        ]
        .iter()
        .filter(|b| **b)
        .count()
            > 1;
    let mut text = String::new();
    let section = |title: &str, body: String, text: &mut String| {
        if headers {
            text.push_str(&format!("{title}:\n"));
            for l in body.lines() {
                text.push_str(&format!("  {l}\n"));
            }
            text.push('\n');
        } else {
            text.push_str(&body);
        }
    };

    if let Some(glob) = a
        .events
        .as_deref()
        .or(if nothing { Some("all") } else { None })
    {
        let evs = if glob == "all" {
            inst.available_events()?
        } else {
            inst.resolve_events(glob)?
        };
        let names: Vec<String> = evs.iter().map(|e| e.to_string()).collect();
        section(
            "events",
            names.iter().map(|n| format!("{n}\n")).collect(),
            &mut text,
        );
        out.insert("events".into(), json!(names));
    }
    if a.tracers || nothing {
        let tracers = inst.available_tracers()?;
        let cur = inst.current_tracer().unwrap_or_default();
        let body = tracers
            .iter()
            .map(|t| {
                if *t == cur {
                    format!("{t} (current)\n")
                } else {
                    format!("{t}\n")
                }
            })
            .collect();
        section("tracers", body, &mut text);
        out.insert(
            "tracers".into(),
            json!({"available": tracers, "current": cur}),
        );
    }
    if a.options || nothing {
        let opts = inst.options()?;
        let body = opts
            .iter()
            .map(|(n, on)| {
                if *on {
                    format!("{n}\n")
                } else {
                    format!("no{n}\n")
                }
            })
            .collect();
        section("options", body, &mut text);
        out.insert(
            "options".into(),
            json!(opts
                .iter()
                .map(|(n, on)| json!({"name": n, "enabled": on}))
                .collect::<Vec<_>>()),
        );
    }
    if let Some(glob) = &a.functions {
        let funcs = ctx
            .tfs
            .read_rel("available_filter_functions")
            .context("listing filterable functions")?;
        let names: Vec<&str> = funcs
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|f| events::glob_match(glob, f))
            .collect();
        section(
            "functions",
            names.iter().map(|n| format!("{n}\n")).collect(),
            &mut text,
        );
        out.insert("functions".into(), json!(names));
    }
    if a.probes {
        let sessions = journal::scan(&ctx.state_dir).unwrap_or_default();
        let probes = dynevents::list(&ctx.tfs)?;
        let body = probes
            .iter()
            .map(|p| {
                let who = if dynevents::is_ours(p, &sessions) {
                    "tracekit"
                } else {
                    "foreign "
                };
                format!("{who} {}\n", p.definition)
            })
            .collect();
        section("probes", body, &mut text);
        out.insert(
            "probes".into(),
            json!(probes
                .iter()
                .map(|p| json!({"kind": p.kind, "group": p.group, "name": p.name, "definition": p.definition, "ours": dynevents::is_ours(p, &sessions)}))
                .collect::<Vec<_>>()),
        );
    }
    if let Some(ev) = &a.format {
        let name = match EventName::parse(ev) {
            Some(n) => n,
            None => inst
                .resolve_events(ev)?
                .into_iter()
                .next()
                .context("no such event")?,
        };
        let rel = format!("{}/format", name.dir());
        let fmt = match inst.read(&rel) {
            Ok(f) => f,
            Err(_) => {
                // Surface unknown events with suggestions.
                inst.resolve_events(&name.to_string())?;
                inst.read(&rel)?
            }
        };
        let table = format_table(&fmt);
        text.push_str(&table);
        out.insert(
            "format".into(),
            json!({"event": name.to_string(), "text": fmt}),
        );
    }
    ctx.finish(false)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", text.trim_end_matches('\n'));
        println!();
    }
    Ok(())
}

/// The format file as a typed field table followed by the print fmt.
fn format_table(fmt: &str) -> String {
    let mut rows = Vec::new();
    let mut header = Vec::new();
    let mut print_fmt = String::new();
    let mut in_print = false;
    for line in fmt.lines() {
        if in_print {
            print_fmt.push('\n');
            print_fmt.push_str(line);
            continue;
        }
        if let Some(p) = line.strip_prefix("print fmt: ") {
            print_fmt = p.to_string();
            in_print = true;
        } else if let Some(f) = line.trim().strip_prefix("field:") {
            let parts: Vec<&str> = f.split(';').map(str::trim).collect();
            let decl = parts.first().copied().unwrap_or("");
            let get = |k: &str| {
                parts
                    .iter()
                    .find_map(|p| p.strip_prefix(k))
                    .unwrap_or("")
                    .to_string()
            };
            rows.push((
                decl.to_string(),
                get("offset:"),
                get("size:"),
                get("signed:"),
            ));
        } else if line.starts_with("name:") || line.starts_with("ID:") {
            header.push(line.to_string());
        }
    }
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
    let mut s = header.join("\n");
    s.push('\n');
    s.push_str(&format!(
        "{:<w$}  {:>6}  {:>4}  {}\n",
        "field", "offset", "size", "signed"
    ));
    for (d, o, z, sg) in rows {
        s.push_str(&format!(
            "{d:<w$}  {o:>6}  {z:>4}  {}\n",
            if sg == "1" { "yes" } else { "no" }
        ));
    }
    s.push_str(&format!("print fmt: {print_fmt}\n"));
    s
}
