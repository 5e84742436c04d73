//! `spawn`: a command forked and held before `exec` until tracing is armed
//! — the one fork-and-hold child of tracekit, used by `record`, `stream`,
//! `profile` (crate `live`) and `perf stat`/`perf record` (crate `perf`).
#![deny(missing_docs)]

/// Why a command could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No command words.
    #[error("no command given")]
    NoCommand,
    /// An argument holds a NUL byte.
    #[error("command arguments may not contain NUL bytes")]
    Nul,
    /// A system call of the parent failed.
    #[error("{what}: {source}")]
    Sys {
        /// The call.
        what: &'static str,
        /// Its error.
        source: std::io::Error,
    },
    /// `exec` failed in the child (as perf's "Workload failed").
    #[error("cannot run the command: {program}: {}", errno_text(.source))]
    Exec {
        /// `argv[0]`.
        program: String,
        /// The errno exec set.
        source: std::io::Error,
    },
}

/// The errno text without Rust's "(os error N)" suffix.
fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A child process held before `exec` until [`HeldChild::release`], so
/// tracing (and its pid filter) is in place before the command's first
/// instruction. Forked by hand: `std::process::Command::spawn` waits for the
/// exec, which would deadlock with a held child. The child is killed when
/// the thread that forked it dies (`PR_SET_PDEATHSIG`, e.g. tracekit killed
/// with SIGKILL) unless spawned with `keep_running`; a child never released
/// never runs its command.
pub struct HeldChild {
    pid: libc::pid_t,
    release_fd: Option<std::os::fd::OwnedFd>,
    /// Read end of the pipe on which a failed exec reports its errno.
    err_fd: Option<std::os::fd::OwnedFd>,
    status: Option<std::process::ExitStatus>,
    rusage: Option<libc::rusage>,
    program: String,
}

impl std::fmt::Debug for HeldChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldChild")
            .field("pid", &self.pid)
            .field("program", &self.program)
            .field("status", &self.status)
            .finish()
    }
}

impl HeldChild {
    /// Forks `argv`, stopped before exec; exec failures are reported by
    /// [`HeldChild::release`]. The child dies with the calling thread.
    pub fn spawn(argv: &[String]) -> Result<HeldChild> {
        Self::spawn_opts(argv, false)
    }

    /// [`HeldChild::spawn`]; with `keep_running`, the released command
    /// outlives tracekit (no parent-death signal).
    pub fn spawn_opts(argv: &[String], keep_running: bool) -> Result<HeldChild> {
        use std::ffi::CString;
        use std::os::fd::AsRawFd;
        let program = argv.first().ok_or(Error::NoCommand)?.clone();
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::Nul)?;
        let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let pipe = || {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| Error::Sys {
                what: "pipe",
                source: e.into(),
            })
        };
        let (gate_r, gate_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (gr, ew) = (gate_r.as_raw_fd(), err_w.as_raw_fd());
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: between fork and exec/_exit the child only calls
        // async-signal-safe functions (prctl, getppid, read, execvp, write,
        // _exit) on data prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Error::Sys {
                what: "fork",
                source: std::io::Error::last_os_error(),
            });
        }
        if pid == 0 {
            unsafe {
                if !keep_running {
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                    );
                    // The parent died before the prctl: no signal will come.
                    if libc::getppid() != parent {
                        libc::_exit(127);
                    }
                }
                let mut b = [0u8; 1];
                let n = loop {
                    let n = libc::read(gr, b.as_mut_ptr().cast(), 1);
                    if n >= 0 || *libc::__errno_location() != libc::EINTR {
                        break n;
                    }
                };
                // EOF: the parent died or gave up before tracing was armed.
                if n != 1 {
                    libc::_exit(127);
                }
                libc::execvp(ptrs[0], ptrs.as_ptr());
                let e = *libc::__errno_location();
                let eb = e.to_ne_bytes();
                libc::write(ew, eb.as_ptr().cast(), eb.len());
                libc::_exit(127);
            }
        }
        drop(gate_r);
        drop(err_w);
        Ok(HeldChild {
            pid,
            release_fd: Some(gate_w),
            err_fd: Some(err_r),
            status: None,
            rusage: None,
            program,
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec; reports a failed exec (command not found…).
    pub fn release(&mut self) -> Result<()> {
        if let Some(w) = self.release_fd.take() {
            let _ = rustix::io::write(&w, &[1]);
        }
        if let Some(r) = self.err_fd.take() {
            let mut b = [0u8; 4];
            // EOF (exec succeeded, CLOEXEC closed it) or the errno.
            if let Ok(4) = rustix::io::read(&r, &mut b) {
                let source = std::io::Error::from_raw_os_error(i32::from_ne_bytes(b));
                let _ = self.wait_blocking();
                return Err(Error::Exec {
                    program: self.program.clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Non-blocking wait: the exit status once the child has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.reap(libc::WNOHANG);
        self.status
    }

    /// Waits for the child to end.
    pub fn wait_blocking(&mut self) -> Option<std::process::ExitStatus> {
        self.reap(0);
        self.status
    }

    /// The child's resource usage (user and system time…) once reaped.
    pub fn rusage(&self) -> Option<libc::rusage> {
        self.rusage
    }

    fn reap(&mut self, flags: libc::c_int) {
        use std::os::unix::process::ExitStatusExt;
        if self.status.is_some() {
            return;
        }
        let mut st = 0;
        // SAFETY: rusage is plain old data; zeroed is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: wait4 on our own child with pointers to locals.
            let r = unsafe { libc::wait4(self.pid, &mut st, flags, &mut ru) };
            if r == self.pid {
                self.status = Some(std::process::ExitStatus::from_raw(st));
                self.rusage = Some(ru);
                return;
            }
            if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
    }

    /// Kills the child (on errors before or after release).
    pub fn kill(&mut self) {
        if self.status.is_none() {
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
            self.release_fd = None;
            let _ = self.wait_blocking();
        }
    }
}

impl Drop for HeldChild {
    /// A child never released (an error came first) is killed: closing the
    /// release pipe alone would let it run the command untraced.
    fn drop(&mut self) {
        if self.release_fd.is_some() {
            self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    /// A marker path unique to this test run (removed) and a command that
    /// creates it.
    fn marker(tag: &str) -> (std::path::PathBuf, Vec<String>) {
        let m = std::env::temp_dir().join(format!("tk-held-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&m);
        let argv = ["sh", "-c", &format!("touch {}", m.display())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        (m, argv)
    }

    #[test]
    fn a_held_child_dropped_before_release_never_runs_its_command() {
        let (m, argv) = marker("dropped");
        let child = HeldChild::spawn(&argv).unwrap();
        drop(child);
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !m.exists(),
            "the command ran after its HeldChild was dropped"
        );
    }

    #[test]
    fn a_released_child_runs_its_command() {
        let (m, argv) = marker("released");
        let mut child = HeldChild::spawn(&argv).unwrap();
        child.release().unwrap();
        let status = child.wait_blocking();
        assert!(status.is_some_and(|s| s.success()));
        assert!(m.exists());
        let _ = std::fs::remove_file(&m);
    }

    /// Releases `sh -c 'sleep 0.5; touch M'` from a thread that then ends
    /// (as tracekit's main thread does when it is killed); returns the pid.
    fn released_from_a_dying_thread(m: &Path, keep: bool) -> libc::pid_t {
        let argv: Vec<String> = ["sh", "-c", &format!("sleep 0.5; touch {}", m.display())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        std::thread::spawn(move || {
            let mut c = HeldChild::spawn_opts(&argv, keep).unwrap();
            c.release().unwrap();
            c.pid as libc::pid_t
        })
        .join()
        .unwrap()
    }

    #[test]
    fn a_released_child_dies_with_the_thread_that_forked_it_unless_kept() {
        for keep in [false, true] {
            let (m, _) = marker(if keep { "kept" } else { "orphan" });
            let pid = released_from_a_dying_thread(&m, keep);
            let mut st = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            assert_eq!(
                m.exists(),
                keep,
                "keep_running={keep}: the command {} after its parent died",
                if keep { "was killed" } else { "ran on" }
            );
            if !keep {
                assert!(libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL);
            }
            let _ = std::fs::remove_file(&m);
        }
    }

    #[test]
    fn a_command_that_cannot_run_is_named_with_its_errno() {
        let mut c = HeldChild::spawn(&["/nonexistent/prog".to_string()]).unwrap();
        let e = c.release().unwrap_err().to_string();
        assert_eq!(
            e,
            "cannot run the command: /nonexistent/prog: No such file or directory"
        );
    }
}
