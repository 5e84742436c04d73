//! A lock that serialises tests touching global tracefs state across threads and processes.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::sync::{Mutex, MutexGuard};

/// The lock file every test process `flock`s.
pub const GLOBAL_LOCK_PATH: &str = "/tmp/tracekit-tests-global.lock";

static PROCESS_LOCK: Mutex<()> = Mutex::new(());

/// Held while a test touches global tracefs files; released on drop.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct GlobalLock {
    // Field order matters: the flock is released (file closed) before the mutex.
    file: File,
    _thread: MutexGuard<'static, ()>,
}

/// Takes the global test lock: a process-wide `Mutex` (other threads of this test binary) plus
/// an exclusive `flock(2)` on [`GLOBAL_LOCK_PATH`] (other test binaries running at the same time).
/// Blocks until both are free.
///
/// Not reentrant: a second call from a thread that already holds the guard deadlocks. Take it
/// once per test, at the top. A panicking holder does not poison it.
pub fn global_lock() -> GlobalLock {
    let thread = PROCESS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(GLOBAL_LOCK_PATH)
        .unwrap_or_else(|e| panic!("open {GLOBAL_LOCK_PATH}: {e}"));
    loop {
        // SAFETY: flock on a file descriptor we own and keep open for the guard's lifetime.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            panic!("flock({GLOBAL_LOCK_PATH}, LOCK_EX): {err}");
        }
    }
    GlobalLock {
        file,
        _thread: thread,
    }
}

impl Drop for GlobalLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlock explicitly so the order is obvious.
        // SAFETY: the descriptor is still open (the File is dropped after this).
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn lock_excludes_threads_and_other_descriptors() {
        let inside = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let inside = inside.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _g = global_lock();
                        assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                        std::thread::yield_now();
                        inside.store(false, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // While held, another open file description (as another process would have) cannot
        // take the flock.
        let g = global_lock();
        let other = File::open(GLOBAL_LOCK_PATH).unwrap();
        // SAFETY: valid descriptor.
        let r = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(r, -1);
        drop(g);
    }
}
