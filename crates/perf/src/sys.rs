//! The only place that calls `perf_event_open(2)`: event fds, their ioctls
//! and reads, the mmap'ed sample ring, and a workload child that waits for a
//! "go" byte before `execvp` (so counters with `enable_on_exec` see exactly
//! the command). All `unsafe` of the crate lives here.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::attr::Attr;
use crate::error::{Error, Result};

const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
const PERF_EVENT_IOC_ID: libc::c_ulong = 0x8008_2407;
const PERF_EVENT_IOC_SET_OUTPUT: libc::c_ulong = 0x2405;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

/// An open perf event.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// `perf_event_open(attr, pid, cpu, group_fd, FD_CLOEXEC)`.
    pub fn open(attr: &Attr, pid: i32, cpu: i32, group: Option<&EventFd>) -> io::Result<EventFd> {
        let group_fd = group.map(|g| g.fd.as_raw_fd()).unwrap_or(-1);
        let mut a = *attr;
        // SAFETY: `a` is a valid, initialized perf_event_attr of the size in
        // `a.size`; the kernel only reads it (and may write back `size` on
        // E2BIG, which stays within the struct).
        let r = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &mut a as *mut Attr,
                pid as libc::c_int,
                cpu as libc::c_int,
                group_fd as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a fresh fd that nothing else owns.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(r as RawFd) },
        })
    }

    fn ioctl(&self, req: libc::c_ulong, arg: libc::c_ulong) -> io::Result<()> {
        // SAFETY: a perf ioctl on an fd we own; `arg` is an integer or a
        // pointer valid for the call as the request requires.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), req, arg) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `PERF_EVENT_IOC_ENABLE`.
    pub fn enable(&self) -> io::Result<()> {
        self.ioctl(PERF_EVENT_IOC_ENABLE, 0)
    }

    /// `PERF_EVENT_IOC_DISABLE`.
    pub fn disable(&self) -> io::Result<()> {
        self.ioctl(PERF_EVENT_IOC_DISABLE, 0)
    }

    /// The kernel's id of this event (`PERF_EVENT_IOC_ID`).
    pub fn id(&self) -> io::Result<u64> {
        let mut id = 0u64;
        self.ioctl(PERF_EVENT_IOC_ID, &mut id as *mut u64 as libc::c_ulong)?;
        Ok(id)
    }

    /// Sends this event's records into `target`'s ring (`PERF_EVENT_IOC_SET_OUTPUT`).
    pub fn set_output(&self, target: &EventFd) -> io::Result<()> {
        self.ioctl(
            PERF_EVENT_IOC_SET_OUTPUT,
            target.fd.as_raw_fd() as libc::c_ulong,
        )
    }

    /// Reads `n` u64 words (the layout follows the attr's `read_format`).
    pub fn read_words(&self, n: usize) -> io::Result<Vec<u64>> {
        let mut buf = vec![0u64; n];
        // SAFETY: `buf` has room for exactly `n * 8` bytes.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), n * 8) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(r as usize / 8);
        Ok(buf)
    }

    /// The raw fd (for poll).
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The mmap'ed ring of a sampling event: one metadata page plus 2^n data pages.
#[derive(Debug)]
pub struct Ring {
    base: *mut u8,
    len: usize,
    data_size: u64,
    page: usize,
}

// SAFETY: the mapping is owned by this value and only touched through &mut self.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps `pages` (a power of two) data pages of `ev`.
    pub fn map(ev: &EventFd, pages: usize) -> io::Result<Ring> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let len = page * (pages + 1);
        // SAFETY: mapping a perf fd read-write and shared, as perf_event_open(2)
        // documents; the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                ev.raw(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Ring {
            base: p.cast(),
            len,
            data_size: (page * pages) as u64,
            page,
        })
    }

    /// Appends every complete record now in the ring to `out` (raw bytes,
    /// headers included) and releases the space. Returns the bytes copied.
    pub fn drain(&mut self, out: &mut Vec<u8>) -> usize {
        // The metadata page: data_head at offset 1024, data_tail at 1032.
        // SAFETY: both offsets lie inside the first (metadata) page we mapped;
        // volatile reads plus an acquire fence follow the kernel's protocol.
        let head = unsafe { std::ptr::read_volatile(self.base.add(1024) as *const u64) };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        // SAFETY: as above.
        let tail = unsafe { std::ptr::read_volatile(self.base.add(1032) as *const u64) };
        let avail = head.wrapping_sub(tail);
        if avail == 0 || avail > self.data_size {
            return 0;
        }
        let start = out.len();
        let data = self.page;
        let size = self.data_size;
        let mut pos = tail;
        out.reserve(avail as usize);
        for _ in 0..avail {
            let off = (pos % size) as usize;
            let first = (size as usize - off).min((head - pos) as usize);
            // SAFETY: [data+off, data+off+first) lies within the data area.
            let s = unsafe { std::slice::from_raw_parts(self.base.add(data + off), first) };
            out.extend_from_slice(s);
            pos += first as u64;
            if pos >= head {
                break;
            }
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        // SAFETY: data_tail is ours to write; see above for the offset.
        unsafe { std::ptr::write_volatile(self.base.add(1032) as *mut u64, head) };
        out.len() - start
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `map`.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// A forked workload stopped before `execvp` until [`Workload::go`].
#[derive(Debug)]
pub struct Workload {
    /// Its pid.
    pub pid: i32,
    go: Option<OwnedFd>,
    /// Read end of the close-on-exec pipe the child reports exec's errno on.
    exec_err: Option<OwnedFd>,
    program: String,
}

impl Workload {
    /// Forks `argv`; the child blocks on a pipe, then execs.
    pub fn spawn(argv: &[String]) -> Result<Workload> {
        if argv.is_empty() {
            return Err(Error::BadArg {
                what: "command",
                value: String::new(),
                why: "empty".into(),
            });
        }
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::BadArg {
                what: "command",
                value: argv.join(" "),
                why: "contains a NUL byte".into(),
            })?;
        let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let mut fds = [0 as libc::c_int; 2];
        let mut efds = [0 as libc::c_int; 2];
        // SAFETY: `fds`/`efds` have room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0
            || unsafe { libc::pipe2(efds.as_mut_ptr(), libc::O_CLOEXEC) } < 0
        {
            return Err(Error::Sys {
                what: "pipe".into(),
                source: io::Error::last_os_error(),
            });
        }
        // SAFETY: fork in a process that may have threads; the child only
        // calls async-signal-safe functions (read, close, execvp, _exit)
        // before exec, with buffers prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Error::Sys {
                what: "fork".into(),
                source: io::Error::last_os_error(),
            });
        }
        if pid == 0 {
            // SAFETY: child side: see above.
            unsafe {
                libc::close(fds[1]);
                libc::close(efds[0]);
                let mut b = 0u8;
                let n = libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
                if n == 1 {
                    libc::execvp(ptrs[0], ptrs.as_ptr());
                    // Tell the parent why (the pipe closes on a successful exec).
                    let errno = *libc::__errno_location();
                    let e = errno.to_ne_bytes();
                    libc::write(efds[1], e.as_ptr().cast(), e.len());
                    libc::_exit(127);
                }
                libc::_exit(126);
            }
        }
        // SAFETY: parent side: we own both pipe ends; close the read end,
        // wrap the write end.
        let (go, exec_err) = unsafe {
            libc::close(fds[0]);
            libc::close(efds[1]);
            (OwnedFd::from_raw_fd(fds[1]), OwnedFd::from_raw_fd(efds[0]))
        };
        Ok(Workload {
            pid,
            go: Some(go),
            exec_err: Some(exec_err),
            program: argv[0].clone(),
        })
    }

    /// Lets the child exec; fails (naming the program and the errno, as
    /// perf's "Workload failed") when it could not.
    pub fn go(&mut self) -> Result<()> {
        if let Some(fd) = self.go.take() {
            let b = [1u8];
            // SAFETY: writing one byte from a valid buffer to our pipe end.
            unsafe {
                libc::write(fd.as_raw_fd(), b.as_ptr().cast(), 1);
            }
        }
        if let Some(efd) = self.exec_err.take() {
            let mut e = [0u8; 4];
            let mut got = 0;
            while got < e.len() {
                // SAFETY: reading into the unfilled tail of a local buffer.
                let n = unsafe {
                    libc::read(efd.as_raw_fd(), e[got..].as_mut_ptr().cast(), e.len() - got)
                };
                if n > 0 {
                    got += n as usize;
                } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                } else {
                    break;
                }
            }
            if got == e.len() {
                let _ = self.wait();
                return Err(Error::BadArg {
                    what: "command",
                    value: self.program.clone(),
                    why: format!(
                        "cannot run it: {}",
                        errno_text(&io::Error::from_raw_os_error(i32::from_ne_bytes(e)))
                    ),
                });
            }
        }
        Ok(())
    }

    /// Waits for the child; returns its exit status and rusage.
    pub fn wait(&mut self) -> Result<(i32, libc::rusage)> {
        self.go = None;
        let mut status = 0;
        // SAFETY: rusage is plain old data; zeroed is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        for _ in 0..1_000_000 {
            // SAFETY: valid pointers to locals.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut ru) };
            if r >= 0 {
                return Ok((status, ru));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Error::Sys {
                    what: "wait".into(),
                    source: e,
                });
            }
        }
        Err(Error::Sys {
            what: "wait".into(),
            source: io::ErrorKind::TimedOut.into(),
        })
    }

    /// Non-blocking wait: `Some((status, rusage))` once the child exited.
    pub fn try_wait(&mut self) -> Option<(i32, libc::rusage)> {
        let mut status = 0;
        // SAFETY: rusage is plain old data; zeroed is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to locals.
        let r = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut ru) };
        (r == self.pid).then_some((status, ru))
    }
}

/// The errno text without Rust's "(os error N)" suffix.
fn errno_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`, else online count).
pub fn nr_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| crate::event::parse_cpu_list(s.trim()).ok())
        .and_then(|v| v.iter().max().map(|m| *m as usize + 1))
        .unwrap_or(1)
}

/// Monotonic clock in ns (what perf sample times use: `CLOCK_MONOTONIC`-based `perf_clock`).
pub fn monotonic_ns() -> u64 {
    // SAFETY: timespec is plain data; clock_gettime writes it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Installs a SIGINT handler that only sets a flag (checked with [`interrupted`]).
pub fn catch_sigint() {
    extern "C" fn on_int(_: libc::c_int) {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // SAFETY: installing an async-signal-safe handler that only stores an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_int as *const () as libc::sighandler_t);
    }
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether SIGINT arrived since [`catch_sigint`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
