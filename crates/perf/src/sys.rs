//! The only place that calls `perf_event_open(2)`: event fds, their ioctls
//! and reads, and the mmap'ed sample ring. (The workload is the `spawn`
//! crate's held child, released once the counters are open, so counters with
//! `enable_on_exec` see exactly the command.) All `unsafe` of the crate lives
//! here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::attr::Attr;

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

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`, else online count).
pub fn nr_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| crate::event::parse_cpu_list(s.trim()).ok())
        .and_then(|v| v.iter().max().map(|m| *m as usize + 1))
        .unwrap_or(1)
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
