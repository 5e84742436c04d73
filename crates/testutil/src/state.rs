//! Private state directories and unique names for tests.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

/// A fresh temp dir to pass as `TRACEKIT_STATE_DIR` to a tracekit process; removed on drop.
#[derive(Debug)]
pub struct StateDir {
    dir: TempDir,
}

impl StateDir {
    /// The environment variable tracekit reads its state directory from.
    pub const ENV: &'static str = "TRACEKIT_STATE_DIR";

    /// Creates an empty directory.
    pub fn new() -> StateDir {
        let dir = tempfile::Builder::new()
            .prefix("tracekit-state-")
            .tempdir()
            .expect("create temp state dir");
        StateDir { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for StateDir {
    fn default() -> Self {
        StateDir::new()
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Maximum length of a [`unique_name`].
pub const MAX_NAME: usize = 40;

/// A name unique across threads and processes: `PREFIX_PID_COUNTER_RAND` (RAND = 4 hex digits
/// from the clock). At most 40 characters of `[A-Za-z0-9_-]`: other characters of `prefix` become
/// `_` and a long prefix is shortened. Meant for instance names.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    // Mix in the counter so two calls in the same nanosecond still differ.
    let rand = (nanos ^ n.wrapping_mul(0x9e37_79b9)).wrapping_mul(0x85eb_ca6b) >> 16;
    let suffix = format!("_{}_{}_{:04x}", std::process::id(), n, rand & 0xffff);
    let mut p: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    p.truncate(MAX_NAME.saturating_sub(suffix.len()));
    format!("{p}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn valid(n: &str) -> bool {
        n.len() <= MAX_NAME
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn unique_names_are_unique_and_valid() {
        let names: Vec<String> = (0..1000).map(|_| unique_name("tk_test")).collect();
        assert!(names.iter().all(|n| valid(n) && n.starts_with("tk_test_")));
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
        let pid = std::process::id().to_string();
        assert!(names[0].contains(&format!("_{pid}_")), "{}", names[0]);
    }

    #[test]
    fn unique_name_sanitises_and_shortens() {
        let n = unique_name("a very/long prefix: with spaces and more and more and more");
        assert!(valid(&n), "{n}");
        assert!(n.starts_with("a_very_long_prefix_"), "{n}");
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..100).map(|_| unique_name("t")).collect::<Vec<_>>()))
            .collect();
        let all: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 400);
    }

    #[test]
    fn state_dir_is_fresh_and_removed() {
        let d = StateDir::new();
        let p = d.path().to_path_buf();
        assert!(p.is_dir());
        assert_eq!(std::fs::read_dir(&p).unwrap().count(), 0);
        drop(d);
        assert!(!p.exists());
    }
}
