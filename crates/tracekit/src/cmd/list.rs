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
        let table = format_table(&name.system, &fmt);
        text.push_str(&table);
        out.insert(
            "format".into(),
            json!({"event": name.to_string(), "text": fmt}),
        );
    }
    ctx.finish(false)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        out!("{}", text.trim_end_matches('\n'))?;
        outln!()?;
    }
    Ok(())
}

/// The format file as a typed field table (parsed by the decoding engine)
/// followed by the print fmt; the raw text when it does not parse.
fn format_table(system: &str, fmt: &str) -> String {
    use traceevent::{EventFormat, FieldKind, LongSize};
    let long = if cfg!(target_pointer_width = "32") {
        LongSize::Four
    } else {
        LongSize::Eight
    };
    let ev = match EventFormat::parse(system, fmt, long) {
        Ok(e) => e,
        Err(e) => return format!("{fmt}\n(note: tracekit could not parse this format: {e})\n"),
    };
    let kind = |k: &FieldKind, signed: bool, size: usize| -> String {
        let sign = if signed { "s" } else { "u" };
        match k {
            FieldKind::Int => format!("{sign}{}", size * 8),
            FieldKind::Pointer => "pointer".into(),
            FieldKind::Array { len, elem_size } => format!("array[{len}] of {elem_size}-byte"),
            FieldKind::FlexArray { elem_size } => {
                format!("rest of record, {elem_size}-byte elements")
            }
            FieldKind::DataLoc { .. } => "dynamic (__data_loc)".into(),
            FieldKind::DataLocArray { count } => format!("{count} dynamic strings"),
            FieldKind::RelLoc { .. } => "dynamic (__rel_loc)".into(),
            FieldKind::Bytes => "bytes".into(),
            _ => "other".into(),
        }
    };
    let rows: Vec<[String; 5]> = ev
        .common_fields
        .iter()
        .chain(ev.fields.iter())
        .map(|f| {
            [
                f.name.clone(),
                f.decl.clone(),
                f.offset.to_string(),
                f.size.to_string(),
                if f.is_char()
                    && matches!(
                        f.kind,
                        FieldKind::Array { .. }
                            | FieldKind::DataLoc { .. }
                            | FieldKind::FlexArray { .. }
                    )
                {
                    "string".to_string()
                } else {
                    kind(&f.kind, f.signed, f.size)
                },
            ]
        })
        .collect();
    let w: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
                .max(["field", "declaration", "offset", "size"][i].len())
        })
        .collect();
    let mut s = format!("name: {}\nID: {}\n", ev.name, ev.id);
    s.push_str(&format!(
        "{:<a$}  {:<b$}  {:>c$}  {:>d$}  {}\n",
        "field",
        "declaration",
        "offset",
        "size",
        "type",
        a = w[0],
        b = w[1],
        c = w[2],
        d = w[3]
    ));
    for r in rows {
        s.push_str(&format!(
            "{:<a$}  {:<b$}  {:>c$}  {:>d$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3]
        ));
    }
    s.push_str(&format!("print fmt: {}\n", ev.print_fmt_text));
    s
}
