//! Hot reload: the flows folder (and `sluice.toml`, and the project's connectors) is looked at
//! every few ticks; when anything changed, the registry reloads and the runner says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::shared::Shared;

/// What the folder looks like: every file's path, size and modification time.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    if let Some(project) = sluice_project::files::find_project(dir) {
        stack.push(project.clone());
        if let Some(connectors) = project.parent().map(|p| p.join("connectors")) {
            stack.push(connectors);
        }
    }
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if let Ok(meta) = std::fs::metadata(&p) {
            out.push((p, meta.len(), meta.modified().ok()));
        }
    }
    out.sort();
    out
}

/// Reloads the flows when the folder (or sluice.toml, or the project's connectors) changes.
pub(crate) async fn watch(shared: Arc<Shared>, dir: PathBuf, every: Duration) {
    let mut seen = fingerprint(&dir);
    loop {
        tokio::time::sleep(every).await;
        let now = fingerprint(&dir);
        if now == seen {
            continue;
        }
        seen = now;
        match shared.registry.reload().await {
            Ok(()) => {
                let snap = shared.registry.snapshot();
                (shared.notices)(&format!(
                    "reloaded {}: {} flow(s), {} file(s) not served",
                    dir.display(),
                    snap.flows.len(),
                    snap.problems.len()
                ));
                shared.registry.report(&shared.notices);
            }
            Err(e) => (shared.notices)(&format!(
                "cannot reload {}: {e}; the flows loaded before keep running",
                dir.display()
            )),
        }
    }
}
