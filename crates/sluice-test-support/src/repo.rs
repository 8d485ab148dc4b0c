//! The repository the tests run in: its root (found from this crate's `CARGO_MANIFEST_DIR`) and
//! the example flows of `workflows/`, read by name rather than copied into tests.

use std::path::{Path, PathBuf};

/// The repository root (canonical when it can be).
#[must_use]
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The path of the example flow `workflows/NAME.yaml`.
#[must_use]
pub fn workflow_path(name: &str) -> PathBuf {
    repo_root().join("workflows").join(format!("{name}.yaml"))
}

/// The text of the example flow `workflows/NAME.yaml`.
///
/// # Panics
/// When the file cannot be read.
#[must_use]
pub fn workflow(name: &str) -> String {
    let path = workflow_path(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the example flow {}: {e}", path.display()))
}
