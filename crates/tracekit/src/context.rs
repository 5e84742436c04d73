//! Shared start-up for subcommands: open tracefs with the global options,
//! attach this process's journal, warn about changes a killed tracekit left
//! behind, and finish the journal on the way out.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use tracefs::journal::{self, Journal};
use tracefs::restore::{self, SessionKind};
use tracefs::{Mode, Tracefs, TracefsOptions};

use crate::cli::GlobalArgs;

/// An opened tracefs plus this process's journal.
pub struct Ctx {
    pub tfs: Tracefs,
    pub journal: Arc<Journal>,
    pub state_dir: std::path::PathBuf,
}

fn mode(g: &GlobalArgs) -> Mode {
    if g.dry_run {
        Mode::DryRun
    } else if g.explain {
        Mode::Explain
    } else {
        Mode::Apply
    }
}

impl Ctx {
    /// Opens tracefs (mounting it if needed) and the journal.
    pub fn open(g: &GlobalArgs) -> Result<Ctx> {
        let probe = Tracefs::open(TracefsOptions {
            root: g.tracefs.clone(),
            mode: mode(g),
            mount_if_needed: true,
            ..Default::default()
        })
        .context("opening tracefs")?;
        let journal = Arc::new(Journal::new(&g.state_dir, probe.root()));
        let tfs = Tracefs::open(TracefsOptions {
            root: Some(probe.root().to_path_buf()),
            mode: mode(g),
            journal: Some(journal.clone()),
            pause_after_changes: test_pause_after_changes(),
            ..Default::default()
        })?;
        let ctx = Ctx {
            tfs,
            journal,
            state_dir: g.state_dir.clone(),
        };
        ctx.warn_stale();
        Ok(ctx)
    }

    /// Reports journal sessions whose owner died without restoring.
    pub fn warn_stale(&self) {
        let Ok(sessions) = journal::scan(&self.state_dir) else {
            return;
        };
        for s in sessions {
            if s.path == self.journal.path() {
                continue;
            }
            let pending = s.pending().len();
            match restore::classify(&s) {
                SessionKind::Stale if pending > 0 => eprintln!(
                    "tracekit: warning: tracekit pid {} (`{}`) ended without restoring {pending} tracefs change(s); run `tracekit reset` to restore them",
                    s.owner.pid, s.owner.cmdline
                ),
                SessionKind::OtherBoot => eprintln!(
                    "tracekit: note: journal {} is from an earlier boot (nothing to restore); `tracekit reset` discards it",
                    s.path.display()
                ),
                _ => {}
            }
        }
    }

    /// Ends the session: keeps the journal when `persist` (changes are left
    /// in place on purpose), otherwise undoes anything still pending and
    /// removes the journal file.
    pub fn finish(&self, persist: bool) -> Result<()> {
        let Some(session) = self.journal.session()? else {
            return Ok(());
        };
        if persist && !session.pending().is_empty() {
            self.journal.record(&journal::Entry::Persist)?;
            return Ok(());
        }
        if session.pending().is_empty() {
            self.journal.discard()?;
            return Ok(());
        }
        let rep = restore::restore_session(&self.tfs, &session);
        for f in &rep.failed {
            eprintln!("tracekit: warning: could not restore {f}");
        }
        if rep.failed.is_empty() {
            self.journal.discard()?;
        }
        Ok(())
    }

    /// Undoes this process's changes after a failure (nothing is left half-set).
    pub fn rollback(&self) {
        if let Ok(Some(session)) = self.journal.session() {
            let rep = restore::restore_session(&self.tfs, &session);
            for f in &rep.failed {
                eprintln!("tracekit: warning: could not roll back {f}");
            }
            if rep.failed.is_empty() {
                let _ = self.journal.discard();
            }
        }
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP until dropped; a signal that arrived
/// meanwhile is delivered then.
pub struct BlockSignals {
    old: libc::sigset_t,
}

impl BlockSignals {
    pub fn new() -> BlockSignals {
        // SAFETY: plain libc signal-mask calls on stack-allocated sets.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGHUP);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            BlockSignals { old }
        }
    }
}

impl Drop for BlockSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// The kill-mid-change test hook (`TRACEKIT_TEST_PAUSE_AFTER_CHANGES=N`),
/// honoured only in debug builds (the test builds), never in a release.
fn test_pause_after_changes() -> Option<u64> {
    if !cfg!(debug_assertions) {
        return None;
    }
    std::env::var("TRACEKIT_TEST_PAUSE_AFTER_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
}
