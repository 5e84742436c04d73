//! `tracekit reset`: undo tracekit's journaled changes; `--all` also puts
//! tracefs back to kernel defaults (foreign probes and instances only when
//! asked with `--probes`/`--instances`).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use tracefs::dynevents;
use tracefs::journal::{self, StateLock};
use tracefs::restore::{self, RestoreReport, SessionKind};
use tracefs::{Instance, WriteMode};

use crate::cli::{GlobalArgs, ResetArgs};
use crate::context::Ctx;

pub fn run(g: &GlobalArgs, a: &ResetArgs) -> Result<()> {
    if a.all && !a.yes && !g.dry_run {
        if !std::io::stdin().is_terminal() {
            bail!("reset --all changes every tracing setting on this machine; pass --yes to confirm (stdin is not a terminal, so tracekit does not ask)");
        }
        eprint!("Reset all of tracefs to kernel defaults? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            bail!("not confirmed");
        }
    }
    let ctx = Ctx::open(g)?;
    let _lock = StateLock::acquire(&ctx.state_dir)?;
    let mut total = RestoreReport::default();
    let mut sessions_done = 0;
    let mut todo: Vec<journal::Session> = Vec::new();
    for s in journal::scan(&ctx.state_dir)? {
        if s.path == ctx.journal.path() {
            continue;
        }
        match restore::classify(&s) {
            SessionKind::Running if !a.force => {
                eprintln!(
                    "tracekit: skipping pid {} (`{}`): still running; it restores its changes when it exits (use --force to undo them now)",
                    s.owner.pid, s.owner.cmdline
                );
                continue;
            }
            SessionKind::OtherBoot => {
                if ctx.tfs.applies() {
                    let _ = std::fs::remove_file(&s.path);
                }
                eprintln!(
                    "tracekit: discarded journal from an earlier boot: {}",
                    s.path.display()
                );
                continue;
            }
            _ => {}
        }
        todo.push(s);
    }
    // Sessions of the same tracefs are undone together (instances first).
    let mut roots: Vec<std::path::PathBuf> = todo.iter().map(|s| s.owner.root.clone()).collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        let group: Vec<journal::Session> = todo
            .iter()
            .filter(|s| s.owner.root == root)
            .cloned()
            .collect();
        let tfs = restore::tracefs_for(&group[0].owner, &ctx.tfs)?;
        sessions_done += group.len();
        total.merge(match &a.instance {
            Some(name) => restore::restore_sessions_where(&tfs, &group, |e| {
                restore::concerns_instance(e, name)
            }),
            None => restore::restore_sessions(&tfs, &group),
        });
    }
    // Without --all, `-B NAME` of an instance tracekit did not make resets it
    // (trace-cmd's `reset -B`); `-d` removes it.
    let foreign_instance = a
        .instance
        .as_deref()
        .filter(|n| ctx.tfs.path("instances").join(n).is_dir());
    if a.all || foreign_instance.is_some() {
        let inst = Instance::open(&ctx.tfs, a.instance.as_deref())?;
        if a.all && a.instances && a.instance.is_none() {
            for name in tracefs::list_instances(&ctx.tfs)? {
                match ctx.tfs.rmdir(&ctx.tfs.path("instances").join(&name)) {
                    Ok(()) => total
                        .restored
                        .push(format!("removed instance {name} (not tracekit's)")),
                    Err(e) => total.failed.push(format!("instance {name}: {e}")),
                }
            }
        }
        total.merge(restore::reset_to_defaults(&inst));
        if let (true, Some(name)) = (a.delete, foreign_instance) {
            match ctx.tfs.rmdir(&ctx.tfs.path("instances").join(name)) {
                Ok(()) => total
                    .restored
                    .push(format!("removed instance {name} (not tracekit's)")),
                Err(e) => total.failed.push(format!("instance {name}: {e}")),
            }
        }
        if a.all && a.probes && a.instance.is_none() {
            for p in dynevents::list(&ctx.tfs)? {
                let file = ctx.tfs.path(p.control_file());
                match ctx.tfs.write(&file, &p.delete_command(), WriteMode::Append) {
                    Ok(()) => total
                        .restored
                        .push(format!("deleted probe {} (not tracekit's)", p.id())),
                    Err(e) => total.failed.push(format!("probe {}: {e}", p.id())),
                }
            }
        }
    }
    ctx.finish(false)?;
    let dry = !ctx.tfs.applies();
    let (done, skip, fail) = if dry {
        (
            "  would restore: ",
            "  would skip:    ",
            "  would fail:    ",
        )
    } else {
        ("  restored: ", "  skipped:  ", "  FAILED:   ")
    };
    for r in &total.restored {
        eprintln!("{done}{r}");
    }
    for r in &total.skipped {
        eprintln!("{skip}{r}");
    }
    for r in &total.failed {
        eprintln!("{fail}{r}");
    }
    outln!(
        "{} change(s) {} from {sessions_done} tracekit session(s){}",
        total.restored.len(),
        if dry { "would be restored" } else { "restored" },
        match (a.all, foreign_instance) {
            (true, _) if dry => " and tracefs would be reset to defaults",
            (true, _) => " and tracefs reset to defaults",
            (false, Some(_)) if dry => " and the instance would be reset to defaults",
            (false, Some(_)) => " and the instance reset to defaults",
            _ => "",
        }
    )?;
    if !total.failed.is_empty() {
        bail!(
            "{} change(s) could not be restored (see above)",
            total.failed.len()
        );
    }
    Ok(())
}
