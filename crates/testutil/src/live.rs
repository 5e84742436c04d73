//! The live kernel's tracefs, for tests that must run against it.

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Where tracefs is expected.
pub const LIVE_TRACEFS: &str = "/sys/kernel/tracing";

const TRACEFS_MAGIC: i64 = 0x7472_6163;

fn is_tracefs(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: zeroed statfs is a valid out-parameter; `c` is a NUL-terminated path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    r == 0 && st.f_type as i64 == TRACEFS_MAGIC
}

/// Returns the live tracefs root, `/sys/kernel/tracing`, mounting tracefs there first if it is
/// not mounted (as `mount -t tracefs nodev /sys/kernel/tracing`).
///
/// Never skips: panics with what is needed when not root, when mounting fails or when the kernel
/// has no tracefs (CONFIG_FTRACE / CONFIG_TRACING).
pub fn require_live_tracefs() -> PathBuf {
    let root = Path::new(LIVE_TRACEFS);
    const NEED: &str = "live-kernel tests need: run as root (e.g. sudo -E cargo test), \
         tracefs mounted (mount -t tracefs nodev /sys/kernel/tracing) and a kernel with \
         CONFIG_FTRACE=y (tracefs under /sys/kernel/tracing)";
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!("not root (euid {euid}): {NEED}");
    }
    if !is_tracefs(root) {
        let src = CString::new("nodev").unwrap();
        let target = CString::new(LIVE_TRACEFS).unwrap();
        let fstype = CString::new("tracefs").unwrap();
        // SAFETY: all pointers are NUL-terminated strings that outlive the call; no data.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if r != 0 {
            let err = std::io::Error::last_os_error();
            panic!("mount -t tracefs nodev {LIVE_TRACEFS} failed: {err}; {NEED}");
        }
        if !is_tracefs(root) {
            panic!("{LIVE_TRACEFS} is still not tracefs after mounting; {NEED}");
        }
    }
    if !root.join("events").is_dir() {
        panic!("{LIVE_TRACEFS}/events missing (kernel without CONFIG_EVENT_TRACING?); {NEED}");
    }
    root.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Development machines and CI run as root with tracefs: this must pass there (read-only).
    #[test]
    fn live_tracefs_is_available() {
        let root = require_live_tracefs();
        assert!(is_tracefs(&root));
        assert!(root.join("available_events").is_file());
        assert!(!is_tracefs(Path::new("/tmp")));
    }
}
