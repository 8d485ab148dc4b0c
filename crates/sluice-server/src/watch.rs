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
        reload_serve_keys(&shared, &dir);
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

/// Reads `[serve]` of sluice.toml again and puts it in force (the API token, the webhook key
/// and its maximum age hot-reload like the flows); a setting that cannot be read is reported
/// and the previous ones stay.
fn reload_serve_keys(shared: &Shared, dir: &std::path::Path) {
    let read = sluice_project::files::project_near(dir)
        .map_err(crate::ServeError::from)
        .and_then(|found| {
            let (project, folder) = match found {
                Some((p, d)) => (Some(p), Some(d)),
                None => (None, None),
            };
            crate::serve_keys(project.as_ref(), folder.as_deref())
        });
    match read {
        Ok(keys) => {
            let changed = {
                use secrecy::ExposeSecret as _;
                let old = shared.serve_keys();
                old.api_token.expose_secret() != keys.api_token.expose_secret()
                    || old.webhook_key != keys.webhook_key
                    || old.webhook_max_age != keys.webhook_max_age
            };
            if changed {
                *shared.serve.write() = Arc::new(keys);
                (shared.notices)("applied the changed `[serve]` settings of sluice.toml");
            }
        }
        Err(e) => (shared.notices)(&format!(
            "cannot apply `[serve]` of sluice.toml: {e}; the previous settings stay"
        )),
    }
}
