//! The flows a runner serves: read and checked from the folder, built once, with one shared
//! runtime (credentials, rate limits, HTTP client); reloaded when the folder changes — a flow
//! whose new version is invalid keeps running in its last good version, and says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use sluice_engine::{Executable, RunOptions, Runtime};
use sluice_model::flow::Trigger;
use sluice_model::{Limits, Project};

use super::{ServeArgs, Shared};
use crate::files::FlowSet;

/// One served flow.
pub(crate) struct FlowEntry {
    pub(crate) exec: Arc<Executable>,
    /// The file it came from.
    pub(crate) file: String,
    pub(crate) triggers: Vec<Trigger>,
    /// Why the file's newer version is not used (it is invalid), if so.
    pub(crate) stale: Option<String>,
}

/// The flows as loaded at one moment, and the runtime their runs use.
pub(crate) struct Snapshot {
    pub(crate) flows: BTreeMap<String, Arc<FlowEntry>>,
    /// Files that could not be used: (file, why).
    pub(crate) problems: Vec<(String, String)>,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) loaded_at: SystemTime,
}

/// The served flows (swapped as a whole on reload).
pub(crate) struct Registry {
    dir: PathBuf,
    current: RwLock<Arc<Snapshot>>,
    settings: RuntimeSettings,
    project: RwLock<(Option<Project>, Option<PathBuf>)>,
    _sandbox: Option<sluice_sandbox::Sandbox>,
}

/// What every rebuilt runtime gets.
struct RuntimeSettings {
    concurrency: usize,
    connections: Vec<(String, String)>,
    sandbox_url: Option<String>,
    store: sluice_store::Store,
    /// Kept across reloads: rate limits hold for the process, not per version of the flows.
    limits: RwLock<Option<Arc<sluice_connectors::RateLimits>>>,
    metrics_observer: Arc<dyn sluice_engine::Observer>,
}

impl Registry {
    pub(crate) async fn load(
        dir: &Path,
        args: &ServeArgs,
        observer: Arc<dyn sluice_engine::Observer>,
        store: sluice_store::Store,
    ) -> Result<Registry, String> {
        let mut connections = Vec::new();
        for spec in &args.connections {
            let (key, url) = spec
                .split_once('=')
                .ok_or_else(|| format!("`--connection {spec}`: write CONNECTION.base_url=URL"))?;
            let conn = key
                .strip_suffix(".base_url")
                .ok_or_else(|| format!("`--connection {spec}`: only `base_url` can be set here"))?;
            connections.push((conn.to_string(), url.to_string()));
        }
        let sandbox = if args.sandbox {
            let s = sluice_sandbox::Sandbox::start(
                sluice_sandbox::SandboxConfig::default(),
                ([127, 0, 0, 1], 0).into(),
            )
            .await
            .map_err(|e| format!("cannot start the sandbox: {e}"))?;
            Some(s)
        } else {
            None
        };
        let registry = Registry {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(Snapshot {
                flows: BTreeMap::new(),
                problems: Vec::new(),
                runtime: Arc::new(
                    Runtime::builder(Arc::new(sluice_engine::NoObserver), RunOptions::default())
                        .build()
                        .map_err(|e| e.to_string())?,
                ),
                loaded_at: SystemTime::now(),
            })),
            settings: RuntimeSettings {
                concurrency: args.concurrency.max(1),
                connections,
                sandbox_url: sandbox.as_ref().map(sluice_sandbox::Sandbox::base_url),
                store,
                limits: RwLock::new(None),
                metrics_observer: observer,
            },
            project: RwLock::new((None, None)),
            _sandbox: sandbox,
        };
        registry.reload().await?;
        Ok(registry)
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn project_dir(&self) -> Option<PathBuf> {
        self.project
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .clone()
    }

    /// Logs what is served and what is not.
    pub(crate) fn report(&self) {
        let snap = self.snapshot();
        for (name, entry) in &snap.flows {
            match &entry.stale {
                Some(why) => {
                    tracing::warn!(flow = %name, file = %entry.file, "Serving the last good version: the file's new version is invalid: {why}")
                }
                None => tracing::info!(flow = %name, file = %entry.file, "Flow loaded."),
            }
        }
        for (file, why) in &snap.problems {
            eprintln!("sluice serve: {file} is not served: {why}");
        }
    }

    /// Reads the folder again and swaps the snapshot. A flow whose file became invalid keeps
    /// its last good version (marked stale).
    pub(crate) async fn reload(&self) -> Result<(), String> {
        let set = FlowSet::load(std::slice::from_ref(&self.dir))?;
        let catalog = set.catalog()?;
        let results = set.validate_with(&catalog, &Limits::default());
        let previous = self.snapshot();
        let mut flows = BTreeMap::new();
        let mut problems = Vec::new();
        let mut files_seen = Vec::new();
        for (asked, v, doc, source) in &results {
            if !asked {
                continue;
            }
            let file = v.report.path.clone();
            files_seen.push(file.clone());
            let errors = v.report.error_count();
            let built = match (&v.plan, doc) {
                (Some(plan), Some(doc)) if errors == 0 => {
                    Executable::build(doc, plan, &catalog, source)
                        .map(|e| {
                            (
                                Arc::new(e),
                                doc.flow
                                    .triggers
                                    .iter()
                                    .map(|t| t.value.clone())
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .map_err(|e| e.to_string())
                }
                _ => Err(format!(
                    "{errors} error(s): {}",
                    v.report
                        .diagnostics
                        .iter()
                        .filter(|d| d.severity == sluice_model::diagnostic::Severity::Error)
                        .map(|d| d.message.clone())
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            };
            match built {
                Ok((exec, triggers)) => {
                    let name = exec.name.clone();
                    flows.insert(
                        name,
                        Arc::new(FlowEntry {
                            exec,
                            file,
                            triggers,
                            stale: None,
                        }),
                    );
                }
                Err(why) => {
                    // The last good version of this file, if any, keeps running.
                    if let Some(old) = previous.flows.values().find(|f| f.file == file) {
                        flows.insert(
                            old.exec.name.clone(),
                            Arc::new(FlowEntry {
                                exec: old.exec.clone(),
                                file: file.clone(),
                                triggers: old.triggers.clone(),
                                stale: Some(why.clone()),
                            }),
                        );
                    }
                    problems.push((file, why));
                }
            }
        }
        let limits = {
            let mut guard = self
                .settings
                .limits
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match guard.as_ref() {
                Some(l) => l.clone(),
                None => {
                    let l = Arc::new(
                        sluice_connectors::RateLimits::from_catalog(&catalog)
                            .map_err(|e| e.to_string())?,
                    );
                    *guard = Some(l.clone());
                    l
                }
            }
        };
        let mut rt = Runtime::builder(
            self.settings.metrics_observer.clone(),
            RunOptions {
                concurrency: self.settings.concurrency,
                connection_concurrency: self.settings.concurrency,
                ..RunOptions::default()
            },
        );
        rt.rate_limits(limits);
        rt.flows(flows.values().map(|f| f.exec.clone()));
        for (conn, url) in &self.settings.connections {
            rt.base_url(conn.clone(), url.clone());
        }
        match &self.settings.sandbox_url {
            Some(base) => crate::sandbox::point_at(&mut rt, base),
            None => {
                let execs: Vec<&Executable> = flows.values().map(|f| f.exec.as_ref()).collect();
                crate::run::configure_credentials(
                    &mut rt,
                    &set,
                    &execs,
                    crate::run::SecretStore::Open(&self.settings.store),
                )
                .await?;
            }
        }
        let rt = rt.build().map_err(|e| e.to_string())?;
        *self
            .project
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (
            set.project().cloned(),
            set.project_dir().map(Path::to_path_buf),
        );
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Snapshot {
            flows,
            problems,
            runtime: Arc::new(rt),
            loaded_at: SystemTime::now(),
        });
        Ok(())
    }
}

/// What the folder looks like: every file's path, size and modification time.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    if let Some(project) = crate::files::find_project(dir) {
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
                eprintln!(
                    "sluice serve: reloaded {}: {} flow(s), {} file(s) not served",
                    dir.display(),
                    snap.flows.len(),
                    snap.problems.len()
                );
                shared.registry.report();
            }
            Err(e) => eprintln!(
                "sluice serve: cannot reload {}: {e}; the flows loaded before keep running",
                dir.display()
            ),
        }
    }
}
