//! The flows a runner serves: read and checked from the folder, built once, with one shared
//! runtime (credentials, rate limits, HTTP client); reloaded when the folder changes — a flow
//! whose new version is invalid keeps running in its last good version, and says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;
use sluice_connectors::RateLimits;
use sluice_engine::{Executable, Observer, Runtime};
use sluice_model::Limits;
use sluice_model::flow::Trigger;
use sluice_project::files::CheckedFile;
use sluice_project::runtime::Flows;
use sluice_project::{FlowSet, ProjectError, RuntimeSettings, SecretStore};

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
    store: sluice_store::Store,
    /// Kept across reloads: rate limits hold for the process, not per version of the flows.
    limits: RwLock<Option<Arc<RateLimits>>>,
    observer: Arc<dyn Observer>,
}

impl Registry {
    /// Loads the flows of `dir`; every runtime it builds gets `settings` and `observer`.
    pub(crate) async fn load(
        dir: &Path,
        settings: RuntimeSettings,
        observer: Arc<dyn Observer>,
        store: sluice_store::Store,
    ) -> Result<Registry, ProjectError> {
        let empty = RuntimeSettings::default()
            .build(
                Arc::new(sluice_engine::NoObserver),
                Arc::new(RateLimits::new()),
                &Flows {
                    files: &FlowSet::empty(),
                    callable: Vec::new(),
                    credentials_of: Vec::new(),
                },
                SecretStore::Url(None),
            )
            .await?;
        let registry = Registry {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(Snapshot {
                flows: BTreeMap::new(),
                problems: Vec::new(),
                runtime: Arc::new(empty),
                loaded_at: SystemTime::now(),
            })),
            settings,
            store,
            limits: RwLock::new(None),
            observer,
        };
        registry.reload().await?;
        Ok(registry)
    }

    /// The flows served now.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().clone()
    }

    /// Logs what is served and what is not.
    pub(crate) fn report(&self, notices: &crate::Notices) {
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
            notices(&format!("{file} is not served: {why}"));
        }
    }

    /// Reads the folder again and swaps the snapshot. A flow whose file became invalid keeps
    /// its last good version (marked stale).
    pub(crate) async fn reload(&self) -> Result<(), ProjectError> {
        let set = FlowSet::load(std::slice::from_ref(&self.dir))?;
        let catalog = set.catalog()?;
        let previous = self.snapshot();
        let mut flows = BTreeMap::new();
        let mut problems = Vec::new();
        for checked in set.check(&catalog, &Limits::default()) {
            if !checked.asked {
                continue;
            }
            let file = checked.validated.report.path.clone();
            match entry_of(&checked, &catalog) {
                Ok(entry) => {
                    flows.insert(entry.exec.name.clone(), Arc::new(entry));
                }
                Err(why) => {
                    // The last good version of this file, if any, keeps running.
                    if let Some(old) = previous.flows.values().find(|f| f.file == file) {
                        let stale = FlowEntry {
                            exec: old.exec.clone(),
                            file: file.clone(),
                            triggers: old.triggers.clone(),
                            stale: Some(why.clone()),
                        };
                        flows.insert(old.exec.name.clone(), Arc::new(stale));
                    }
                    problems.push((file, why));
                }
            }
        }
        let runtime = self.runtime(&set, &catalog, &flows).await?;
        *self.current.write() = Arc::new(Snapshot {
            flows,
            problems,
            runtime: Arc::new(runtime),
            loaded_at: SystemTime::now(),
        });
        Ok(())
    }

    /// The runtime of the flows: this registry's settings and observer, the rate limits of the
    /// first load (they hold for the process, not per version of the flows; on a PostgreSQL
    /// store they are counted in the store, shared by every runner), the credentials
    /// (`{ store = … }` secrets from the run store).
    async fn runtime(
        &self,
        set: &FlowSet,
        catalog: &sluice_model::Catalog,
        flows: &BTreeMap<String, Arc<FlowEntry>>,
    ) -> Result<Runtime, ProjectError> {
        let limits = {
            let mut guard = self.limits.write();
            match guard.as_ref() {
                Some(l) => l.clone(),
                None => {
                    let mut l = RateLimits::from_catalog(catalog)?;
                    if self.store.backend_name() == "postgres" {
                        // Runners sharing the store share each rate budget too.
                        l.share_with(Arc::new(sluice_project::budgets::StoreBudget(
                            self.store.clone(),
                        )));
                    }
                    let l = Arc::new(l);
                    *guard = Some(l.clone());
                    l
                }
            }
        };
        let callable: Vec<Arc<Executable>> = flows.values().map(|f| f.exec.clone()).collect();
        self.settings
            .build(
                self.observer.clone(),
                limits,
                &Flows {
                    files: set,
                    credentials_of: callable.iter().map(AsRef::as_ref).collect(),
                    callable: callable.clone(),
                },
                SecretStore::Open(&self.store),
            )
            .await
    }
}

/// A checked file as a served flow; why not, when it has errors.
fn entry_of(checked: &CheckedFile, catalog: &sluice_model::Catalog) -> Result<FlowEntry, String> {
    let v = &checked.validated;
    let errors = v.report.error_count();
    match (&v.plan, &checked.document) {
        (Some(plan), Some(doc)) if errors == 0 => {
            let exec = Executable::build(doc, plan, catalog, &checked.source)
                .map_err(|e| e.to_string())?;
            Ok(FlowEntry {
                exec: Arc::new(exec),
                file: v.report.path.clone(),
                triggers: doc.flow.triggers.iter().map(|t| t.value.clone()).collect(),
                stale: None,
            })
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
    }
}
