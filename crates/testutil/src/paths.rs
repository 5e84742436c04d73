//! Where the workspace and the `shared/` folder (reference docs, corpus, QEMU rig) live.

use std::path::{Path, PathBuf};

/// The cargo workspace root (`CARGO_MANIFEST_DIR/../..`, canonicalized).
pub fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    p.canonicalize()
        .unwrap_or_else(|e| panic!("workspace root {} not found: {e}", p.display()))
}

/// The `shared/` folder: `$TRACEKIT_SHARED` if set, else `workspace_root()/../shared`.
///
/// Panics if it is not a directory: the repository must be cloned next to `shared/`.
pub fn shared_dir() -> PathBuf {
    let (p, how) = match std::env::var_os("TRACEKIT_SHARED") {
        Some(v) if !v.is_empty() => (PathBuf::from(v), "TRACEKIT_SHARED"),
        _ => (workspace_root().join("../shared"), "default"),
    };
    match p.canonicalize() {
        Ok(c) if c.is_dir() => c,
        _ => panic!(
            "shared directory not found at {} ({how}): clone the repo next to shared/ \
             (…/main and …/shared side by side) or set TRACEKIT_SHARED",
            p.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_exist() {
        let w = workspace_root();
        assert!(
            w.join("crates/testutil/Cargo.toml").is_file(),
            "{}",
            w.display()
        );
        assert!(shared_dir().join("kvm").is_dir());
    }
}
