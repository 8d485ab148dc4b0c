//! The runner service as a library: every flow of a folder run on its triggers until stopped
//! — schedules, the HTTP API (`manual`), GHL webhooks, due tasks and polled lists — with runs
//! queued in the run store and claimed under leases, so several runners can share one
//! PostgreSQL. [`Server::start`] takes a [`ServeConfig`] and gives a handle with the bound
//! address and a graceful [`Server::shutdown`].

mod api;
mod auth;
pub mod dto;
mod metrics;
pub mod openapi;
mod registry;
pub mod schedule;
mod shared;
mod triggers;
mod watch;
mod web;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use sluice_engine::Recorder;
use sluice_project::{ProjectError, RuntimeSettings};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;
use crate::shared::Shared;

/// Where the runner says what an operator should know: reloads, files it does not serve.
pub type Notices = Arc<dyn Fn(&str) + Send + Sync>;

/// How a runner is set up.
pub struct ServeConfig {
    /// The folder of flows.
    pub dir: PathBuf,
    /// Address of the HTTP API, webhooks, metrics and web view.
    pub listen: SocketAddr,
    /// The run store URL (`None`: the default SQLite file).
    pub store: Option<String>,
    /// Runs executed at once by this runner.
    pub workers: usize,
    /// The runtime of the runs: options (HTTP calls in flight), base-URL overrides, routing to
    /// a local stand-in for the APIs.
    pub runtime: RuntimeSettings,
    /// How long a run is held before another runner may take it over; renewed every third.
    pub lease: Duration,
    /// How long a shutdown waits for running runs before handing them back.
    pub shutdown_timeout: Duration,
    /// How often triggers and the flows folder are looked at.
    pub tick: Duration,
    /// This runner's name in leases and logs (`None`: `HOST:PID`).
    pub name: Option<String>,
    /// The location triggers use when a credential names none (the sandbox's).
    pub default_location: Option<String>,
    /// Where notices go (the CLI prints them on stderr).
    pub notices: Notices,
}

impl ServeConfig {
    /// A runner of `dir` with the defaults of `sluice serve`.
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            store: None,
            workers: 8,
            runtime: RuntimeSettings::default(),
            lease: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            tick: Duration::from_secs(1),
            name: None,
            default_location: None,
            notices: Arc::new(|_| {}),
        }
    }
}

/// Why a runner cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The folder of flows does not exist.
    #[error("{}: no such folder of flows", .0.display())]
    NoFolder(PathBuf),
    /// The project, its flows or the store cannot be read.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A `[serve]` setting is missing or wrong.
    #[error("{0}")]
    Setting(String),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A running runner.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    http: JoinHandle<()>,
    workers: JoinHandle<usize>,
    triggers: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

/// How a runner stopped.
#[derive(Debug)]
pub struct Stopped {
    /// Runs that had not finished by the deadline and went back to the queue.
    pub handed_back: usize,
    /// Why the last records could not be written, if so.
    pub unwritten: Option<String>,
}

impl Server {
    /// Loads the folder, opens the store, binds the address and starts the workers, the
    /// triggers and the folder watcher.
    ///
    /// # Errors
    /// The folder, the project, the store, a `[serve]` setting or the address.
    pub async fn start(config: ServeConfig) -> Result<Server, ServeError> {
        let dir = config.dir.clone();
        if !dir.is_dir() {
            return Err(ServeError::NoFolder(dir));
        }
        let owner = config
            .name
            .clone()
            .unwrap_or_else(sluice_project::host::runner_owner);
        let project = sluice_project::files::project_near(&dir)?;
        let (project, project_dir) = match project {
            Some((p, d)) => (Some(p), Some(d)),
            None => (None, None),
        };
        let store =
            sluice_project::store::open_store(config.store.as_deref(), project.as_ref()).await?;
        let metrics = Arc::new(metrics::Metrics::new());
        let registry =
            Registry::load(&dir, config.runtime.clone(), metrics.clone(), store.clone()).await?;
        let serve = serve_keys(project.as_ref(), project_dir.as_deref())?;
        let shared = Arc::new(Shared {
            recorder: Recorder::start(store.clone()),
            sessions: auth::Sessions::new(store.clone()),
            store,
            owner,
            registry,
            metrics,
            wake: Notify::new(),
            stopping: CancellationToken::new(),
            ready: std::sync::atomic::AtomicBool::new(false),
            serve: parking_lot::RwLock::new(Arc::new(serve)),
            lease: config.lease,
            workers: config.workers.max(1),
            shutdown_timeout: config.shutdown_timeout,
            default_location: config.default_location.clone(),
            notices: config.notices.clone(),
        });
        shared.registry.report(&shared.notices);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        let app = api::router(shared.clone());
        let stop_http = shared.stopping.clone();
        let http = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop_http.cancelled().await })
                .await;
        });
        let workers = tokio::spawn(worker::claim_loop(shared.clone()));
        let triggers = tokio::spawn(triggers::trigger_loop(shared.clone(), config.tick));
        let watcher = tokio::spawn(watch::watch(shared.clone(), dir, config.tick * 2));
        shared.ready.store(true, Ordering::SeqCst);
        Ok(Server {
            shared,
            addr,
            http,
            workers,
            triggers,
            watcher,
        })
    }

    /// The address the HTTP interface listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This runner's name (the owner of the runs it holds).
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.shared.owner
    }

    /// How many flows are served now.
    #[must_use]
    pub fn flow_count(&self) -> usize {
        self.shared.registry.snapshot().flows.len()
    }

    /// How long a shutdown waits for running runs.
    #[must_use]
    pub fn shutdown_timeout(&self) -> Duration {
        self.shared.shutdown_timeout
    }

    /// Stops: no new runs are claimed and no trigger fires; running runs may finish until the
    /// shutdown timeout, then they are handed back to the queue.
    pub async fn shutdown(self) -> Stopped {
        self.shared.ready.store(false, Ordering::SeqCst);
        self.shared.stopping.cancel();
        self.triggers.abort();
        self.watcher.abort();
        let handed_back = self.workers.await.unwrap_or(0);
        let _ = self.http.await;
        let unwritten = self
            .shared
            .recorder
            .flush()
            .await
            .err()
            .map(|e| e.to_string());
        Stopped {
            handed_back,
            unwritten,
        }
    }
}

/// The `[serve]` settings of a project (read at start, and again when sluice.toml changes).
pub(crate) fn serve_keys(
    project: Option<&sluice_model::Project>,
    dir: Option<&std::path::Path>,
) -> Result<shared::ServeKeys, ServeError> {
    Ok(shared::ServeKeys {
        api_token: api_token(project, dir)?,
        webhook_key: webhook_key(project, dir)?,
        webhook_max_age: project
            .and_then(|p| p.serve.webhook_max_age)
            .map_or(Duration::from_secs(300), |d| d.0),
    })
}

/// The API's bearer token: `[serve] token` of sluice.toml, else `$SLUICE_API_TOKEN`.
fn api_token(
    project: Option<&sluice_model::Project>,
    dir: Option<&std::path::Path>,
) -> Result<SecretString, ServeError> {
    let configured = project.and_then(|p| p.serve.token.as_ref());
    let token = match configured {
        Some(source) => sluice_project::credentials::read_setting(source, dir, "`[serve] token`")?,
        None => std::env::var("SLUICE_API_TOKEN").unwrap_or_default(),
    };
    let token = token.trim().to_string();
    if token.len() < 16 {
        return Err(ServeError::Setting(
            "the HTTP API needs a bearer token of at least 16 characters: set `[serve] token = { env = \"…\" }` in sluice.toml or the SLUICE_API_TOKEN environment variable"
                .into(),
        ));
    }
    Ok(SecretString::from(token))
}

/// GHL's webhook public key, when configured.
fn webhook_key(
    project: Option<&sluice_model::Project>,
    dir: Option<&std::path::Path>,
) -> Result<Option<ed25519_dalek::VerifyingKey>, ServeError> {
    use ed25519_dalek::pkcs8::DecodePublicKey as _;
    let Some(source) = project.and_then(|p| p.serve.webhook_public_key.as_ref()) else {
        return Ok(None);
    };
    let pem =
        sluice_project::credentials::read_setting(source, dir, "`[serve] webhook_public_key`")?;
    ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
        .map(Some)
        .map_err(|e| {
            ServeError::Setting(format!(
                "`[serve] webhook_public_key` is not an Ed25519 public key (PEM): {e}"
            ))
        })
}
