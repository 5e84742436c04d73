//! `tracekit set`: apply trace-cmd-style settings and leave them in place.
//! Everything is validated before the first write; if the kernel rejects a
//! write half-way, the changes already made are rolled back.

use anyhow::{bail, Context as _, Result};
use clap::ArgMatches;
use tracefs::{EventName, Instance};

use crate::cli::{GlobalArgs, SetArgs};
use crate::context::Ctx;

/// An `-e` with the `-f`/`-R` that followed it.
#[derive(Debug, Default, PartialEq)]
pub struct EventSpec {
    pub selector: String,
    pub filter: Option<String>,
    pub triggers: Vec<String>,
}

/// Pairs each `-f`/`-R` with the nearest preceding `-e` (by position).
pub fn event_specs(a: &SetArgs, m: &ArgMatches) -> Result<Vec<EventSpec>> {
    let idx =
        |id: &str| -> Vec<usize> { m.indices_of(id).map(|i| i.collect()).unwrap_or_default() };
    let ev_idx = idx("events");
    let mut specs: Vec<EventSpec> = a
        .setup
        .events
        .iter()
        .map(|e| EventSpec {
            selector: e.clone(),
            ..Default::default()
        })
        .collect();
    let owner = |pos: usize| ev_idx.iter().rposition(|&e| e < pos);
    for (f, pos) in a.setup.filters.iter().zip(idx("filters")) {
        let i = owner(pos).context("-f FILTER must follow the -e EVENT it applies to")?;
        if specs[i].filter.is_some() {
            bail!(
                "two -f filters for -e {}: combine them with && or ||",
                specs[i].selector
            );
        }
        specs[i].filter = Some(f.clone());
    }
    for (t, pos) in a.setup.triggers.iter().zip(idx("triggers")) {
        let i = owner(pos).context("-R TRIGGER must follow the -e EVENT it applies to")?;
        specs[i].triggers.push(t.clone());
    }
    Ok(specs)
}

pub fn run(g: &GlobalArgs, a: &SetArgs, m: &ArgMatches) -> Result<()> {
    let specs = event_specs(a, m)?;
    let ctx = Ctx::open(g)?;
    // SIGINT/SIGTERM/SIGHUP wait until the settings are applied (or rolled
    // back) and journaled, so an interrupted `set` never leaves half a change.
    let _blocked = crate::context::BlockSignals::new();
    let res = apply(&ctx, a, &specs);
    match res {
        Ok(()) => {
            ctx.finish(true)?;
            Ok(())
        }
        Err(e) => {
            ctx.rollback();
            Err(e)
        }
    }
}

fn apply(ctx: &Ctx, a: &SetArgs, specs: &[EventSpec]) -> Result<()> {
    // Validate names before touching anything.
    let inst_exists = match &a.instance {
        Some(n) => {
            tracefs::validate_instance_name(n)?;
            ctx.tfs.path("instances").join(n).is_dir()
        }
        None => true,
    };
    if a.instance.is_some()
        && !inst_exists
        && (!a.disable.is_empty() || specs.iter().any(|s| s.selector.starts_with('!')))
        && specs.iter().all(|s| s.selector.starts_with('!'))
    {
        bail!(
            "instance '{}' does not exist: nothing to disable",
            a.instance.as_deref().unwrap_or("")
        );
    }
    let probe = if inst_exists {
        Instance::open(&ctx.tfs, a.instance.as_deref())?
    } else {
        Instance::top(&ctx.tfs)
    };
    // `-e '!EVENT'` (set_event's syntax) and `--disable EVENT` switch events off.
    let mut resolved: Vec<(Vec<EventName>, &EventSpec, bool)> = Vec::new();
    for s in specs {
        let (sel, on) = match s.selector.strip_prefix('!') {
            Some(rest) => (rest, false),
            None => (s.selector.as_str(), true),
        };
        if !on && (s.filter.is_some() || !s.triggers.is_empty()) {
            bail!(
                "-e '{}' disables events: a -f or -R after it has nothing to apply to",
                s.selector
            );
        }
        resolved.push((probe.resolve_events(sel)?, s, on));
    }
    let no_spec = EventSpec::default();
    for d in &a.disable {
        resolved.push((
            probe.resolve_events(d.trim_start_matches('!'))?,
            &no_spec,
            false,
        ));
    }
    if let Some(t) = &a.setup.tracer {
        probe.check_tracer(t)?;
    }
    if let Some(c) = &a.setup.clock {
        probe.check_clock(c)?;
    }
    for o in &a.setup.options {
        probe.check_option(o)?;
    }
    if let Some(mask) = &a.setup.cpumask {
        if mask.is_empty() || !mask.chars().all(|c| c.is_ascii_hexdigit() || c == ',') {
            bail!("invalid CPU mask '{mask}': give a hex mask such as 3 or ff,ffffffff");
        }
    }

    // Apply.
    let inst = match &a.instance {
        Some(n) => {
            let (i, created) = Instance::open_or_create(&ctx.tfs, n)?;
            if created && ctx.tfs.applies() {
                eprintln!("tracekit: created instance {n}");
            }
            i
        }
        None => Instance::top(&ctx.tfs),
    };
    let setup = live::session::Setup {
        buffer_kb: a.setup.buffer_kb,
        clock: a.setup.clock.as_deref(),
        cpumask: a.setup.cpumask.as_deref(),
        options: &a.setup.options,
        functions: true,
        ftrace_filter: &a.setup.ftrace_filter,
        ftrace_notrace: &a.setup.ftrace_notrace,
        graph_function: &a.setup.graph_function,
        max_graph_depth: a.setup.max_graph_depth,
        tracer: a.setup.tracer.as_deref(),
        pids: &a.setup.pids,
        ..Default::default()
    };
    let events: Vec<live::session::EventSetup> = resolved
        .into_iter()
        .map(|(events, spec, on)| live::session::EventSetup {
            events,
            filter: spec.filter.clone(),
            triggers: spec.triggers.clone(),
            enable: on,
        })
        .collect();
    live::session::apply_setup(&inst, &setup, &events)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    fn specs(args: &[&str]) -> Result<Vec<EventSpec>> {
        let m = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        let Command::Set(a) = cli.command else {
            panic!()
        };
        event_specs(&a, m.subcommand_matches("set").unwrap())
    }

    #[test]
    fn filters_follow_their_event() {
        let s = specs(&[
            "tracekit",
            "set",
            "-e",
            "sched",
            "-f",
            "a == 1",
            "-e",
            "irq",
            "-R",
            "traceoff",
            "-R",
            "stacktrace",
        ])
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].filter.as_deref(), Some("a == 1"));
        assert!(s[0].triggers.is_empty());
        assert_eq!(s[1].filter, None);
        assert_eq!(s[1].triggers, vec!["traceoff", "stacktrace"]);
        assert!(specs(&["tracekit", "set", "-f", "a == 1", "-e", "sched"]).is_err());
        assert!(specs(&["tracekit", "set", "-e", "x", "-f", "a", "-f", "b"]).is_err());
    }
}
