//! What the runner's tasks share: the run store and its recorder, the served flows, metrics,
//! the API token and webhook key, the web view's sessions, and the signals between tasks.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use secrecy::SecretString;
use sluice_engine::Recorder;
use sluice_store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Notices;
use crate::auth::Sessions;
use crate::metrics::Metrics;
use crate::registry::Registry;

/// What the runner's tasks share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) recorder: Arc<Recorder>,
    /// This runner's name (lease owner).
    pub(crate) owner: String,
    pub(crate) registry: Registry,
    pub(crate) metrics: Arc<Metrics>,
    /// Woken when this runner queues a run, so a worker claims it at once.
    pub(crate) wake: Notify,
    /// Stops claiming and triggers.
    pub(crate) stopping: CancellationToken,
    pub(crate) ready: AtomicBool,
    /// The `[serve]` settings of sluice.toml, swapped when the watcher sees it change.
    pub(crate) serve: parking_lot::RwLock<Arc<ServeKeys>>,
    pub(crate) lease: Duration,
    pub(crate) workers: usize,
    pub(crate) shutdown_timeout: Duration,
    /// The location triggers use when a credential names none (the sandbox's).
    pub(crate) default_location: Option<String>,
    /// The web view's logged-in sessions.
    pub(crate) sessions: Sessions,
    /// Where the runner says what an operator should know (reloads, files not served).
    pub(crate) notices: Notices,
}

/// The `[serve]` settings that hot-reload: the API token, GHL's webhook key and the oldest
/// webhook timestamp accepted.
pub(crate) struct ServeKeys {
    pub(crate) api_token: SecretString,
    pub(crate) webhook_key: Option<ed25519_dalek::VerifyingKey>,
    pub(crate) webhook_max_age: Duration,
}

impl Shared {
    /// The `[serve]` settings in force.
    pub(crate) fn serve_keys(&self) -> Arc<ServeKeys> {
        Arc::clone(&self.serve.read())
    }
}
