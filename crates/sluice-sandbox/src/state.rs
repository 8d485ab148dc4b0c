//! The shared state of a sandbox and the handle tests use to look into it: its data,
//! request counts per route, faults, OAuth refreshes and webhook events.
//! Locks are `parking_lot` mutexes, never held across an `await`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{SandboxConfig, WebhookConfig};
use crate::fault::{Action, ActiveFault, Fault, FaultSpec};
use crate::ratelimit::Limiter;
use crate::seed::{Contact, Note, Seed, SeedError, Task};
use crate::tokens::{OAuthState, Principal};
use crate::webhook::{WebhookDelivery, WebhookHub};

/// How many requests the request log keeps (the oldest go first).
const LOG_CAP: usize = 10_000;

/// A handle to a sandbox's state: cheap to clone, shared with the server.
#[derive(Clone)]
pub struct SandboxState {
    pub(crate) inner: Arc<Shared>,
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState").finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    pub(crate) data: Mutex<Data>,
    stats: Mutex<Stats>,
    faults: Mutex<BTreeMap<String, ActiveFault>>,
    pub(crate) limiter: Option<Mutex<Limiter>>,
    pub(crate) oauth: Mutex<OAuthState>,
    pub(crate) ipinfo_usage: Mutex<HashMap<String, u64>>,
    pub(crate) webhooks: WebhookHub,
}

/// The data plus what the seed format does not hold (campaign and workflow enrolments, the
/// documents posted to the webhook inbox).
#[derive(Clone, Debug, Default)]
pub(crate) struct Data {
    pub(crate) seed: Seed,
    pub(crate) campaigns: BTreeMap<String, BTreeSet<String>>,
    pub(crate) workflows: BTreeMap<String, BTreeSet<String>>,
    pub(crate) inbox: Vec<Value>,
}

/// How many posted documents the webhook inbox keeps (the oldest go first).
pub(crate) const INBOX_CAP: usize = 10_000;

#[derive(Debug, Default)]
struct Stats {
    counts: BTreeMap<String, u64>,
    log: Vec<RequestRecord>,
}

/// One request the sandbox answered (or chose not to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// The route, e.g. `POST /contacts/{contactId}/tasks` (`METHOD /path` when no route matched).
    pub route: String,
    /// The path and query as sent.
    pub uri: String,
    /// The status answered; 0 when the connection hung or was dropped by a fault.
    pub status: u16,
    /// When it was answered.
    pub at: std::time::SystemTime,
}

impl SandboxState {
    /// A state for `config` (its seed's `@now` dates are resolved now). With a webhook target
    /// it starts the delivery task on the current tokio runtime (without one, events are only
    /// recorded).
    ///
    /// # Errors
    /// What is wrong with the seed (see [`crate::seed_from_json`]).
    pub fn new(mut config: SandboxConfig) -> Result<Self, SeedError> {
        config.seed.resolve(Utc::now())?;
        let limiter = config
            .rate_limit
            .clone()
            .map(|c| Mutex::new(Limiter::new(c)));
        let webhooks = WebhookHub::new(config.webhook.clone());
        let oauth = OAuthState::new(&config.oauth_clients);
        let data = Data {
            seed: config.seed.clone(),
            ..Data::default()
        };
        Ok(Self {
            inner: Arc::new(Shared {
                config,
                data: Mutex::new(data),
                stats: Mutex::new(Stats::default()),
                faults: Mutex::new(BTreeMap::new()),
                limiter,
                oauth: Mutex::new(oauth),
                ipinfo_usage: Mutex::new(HashMap::new()),
                webhooks,
            }),
        })
    }

    /// The configuration the sandbox was started with.
    #[must_use]
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Reads the data.
    pub fn read<R>(&self, f: impl FnOnce(&Seed) -> R) -> R {
        f(&self.inner.data.lock().seed)
    }

    /// Changes the data directly (no webhook events, no checks).
    pub fn modify<R>(&self, f: impl FnOnce(&mut Seed) -> R) -> R {
        f(&mut self.inner.data.lock().seed)
    }

    /// Every contact, in creation order.
    #[must_use]
    pub fn contacts(&self) -> Vec<Contact> {
        self.read(|s| s.contacts.clone())
    }

    /// Every task.
    #[must_use]
    pub fn tasks(&self) -> Vec<Task> {
        self.read(|s| s.tasks.clone())
    }

    /// Every note.
    #[must_use]
    pub fn notes(&self) -> Vec<Note> {
        self.read(|s| s.notes.clone())
    }

    /// How many requests reached a route (e.g. `POST /contacts/{contactId}/tasks`), whatever
    /// their answer, including those refused by auth, limits or faults.
    #[must_use]
    pub fn request_count(&self, route: &str) -> u64 {
        self.inner
            .stats
            .lock()
            .counts
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Requests per route.
    #[must_use]
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.inner.stats.lock().counts.clone()
    }

    /// The last requests (up to 10,000), oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.stats.lock().log.clone()
    }

    /// Sets the fault of a route (`GET /contacts/{contactId}`, as in [`RequestRecord::route`]),
    /// or of every route with `*`; a route's own fault wins over `*`. `Fault::None` removes it.
    pub fn set_fault(&self, route: &str, fault: Fault) {
        let mut faults = self.inner.faults.lock();
        if fault == Fault::None {
            faults.remove(route);
        } else {
            faults.insert(route.to_owned(), ActiveFault::new(fault));
        }
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.inner.faults.lock().clear();
    }

    /// How many refresh-token grants `POST /oauth/token` has honoured.
    #[must_use]
    pub fn oauth_refresh_count(&self) -> u64 {
        self.inner.oauth.lock().refreshes
    }

    /// The documents flows posted to the sandbox's webhook inbox (`POST /__sandbox/inbox`, where
    /// `--sandbox` sends every `webhook` connection), oldest first (up to 10,000).
    #[must_use]
    pub fn inbox(&self) -> Vec<Value> {
        self.inner.data.lock().inbox.clone()
    }

    /// Every webhook event emitted (delivered or not), oldest first (up to 10,000).
    #[must_use]
    pub fn webhook_events(&self) -> Vec<Value> {
        self.inner.webhooks.events()
    }

    /// The outcome of every webhook delivery finished so far.
    #[must_use]
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.inner.webhooks.deliveries()
    }

    /// Sets or removes the webhook target while running (the delivery task runs on the current
    /// tokio runtime). Events queued for an old target are dropped.
    pub fn set_webhook(&self, config: Option<WebhookConfig>) {
        self.inner.webhooks.set_target(config);
    }

    /// The webhook target in force.
    #[must_use]
    pub fn webhook(&self) -> Option<WebhookConfig> {
        self.inner.webhooks.target()
    }

    /// The webhook signing key's public half, as SPKI PEM.
    #[must_use]
    pub fn webhook_public_key_pem(&self) -> String {
        self.inner.webhooks.public_key_pem()
    }

    /// Returns to the seed: data, counts, faults, rate-limit windows, OAuth tokens and
    /// IPinfo usage are as at start. The signing key stays.
    pub fn reset(&self) {
        *self.inner.data.lock() = Data {
            seed: self.inner.config.seed.clone(),
            ..Data::default()
        };
        *self.inner.stats.lock() = Stats::default();
        self.clear_faults();
        if let Some(l) = &self.inner.limiter {
            l.lock().clear();
        }
        *self.inner.oauth.lock() = OAuthState::new(&self.inner.config.oauth_clients);
        self.inner.ipinfo_usage.lock().clear();
        self.inner.webhooks.clear();
    }

    /// Replaces the data (and the data `reset` returns to is still the configured seed).
    pub fn load_seed(&self, seed: Seed) {
        *self.inner.data.lock() = Data {
            seed,
            ..Data::default()
        };
    }

    /// Everything as JSON (what `GET /__sandbox/state` answers).
    #[must_use]
    pub fn dump(&self) -> Value {
        let data = self.inner.data.lock().clone();
        let faults: BTreeMap<String, FaultSpec> = self
            .inner
            .faults
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), FaultSpec::from(&v.fault)))
            .collect();
        json!({
            "data": data.seed,
            "campaigns": data.campaigns,
            "workflows": data.workflows,
            "inbox": data.inbox,
            "requestCounts": self.request_counts(),
            "faults": faults,
            "oauthRefreshes": self.oauth_refresh_count(),
            "webhookUrl": self.webhook().map(|w| w.url),
            "webhookPublicKeyPem": self.webhook_public_key_pem(),
            "webhookEvents": self.webhook_events(),
            "webhookDeliveries": self.webhook_deliveries(),
            "webhookDropped": self.inner.webhooks.dropped(),
            "ipinfoUsage": self.inner.ipinfo_usage.lock().clone(),
        })
    }

    // ---- used by the server ----

    pub(crate) fn count_arrival(&self, route: &str) {
        *self
            .inner
            .stats
            .lock()
            .counts
            .entry(route.to_owned())
            .or_insert(0) += 1;
    }

    pub(crate) fn log_answer(&self, route: &str, uri: &str, status: u16) {
        let mut stats = self.inner.stats.lock();
        if stats.log.len() >= LOG_CAP {
            stats.log.remove(0);
        }
        stats.log.push(RequestRecord {
            route: route.to_owned(),
            uri: uri.to_owned(),
            status,
            at: std::time::SystemTime::now(),
        });
    }

    pub(crate) fn fault_action(&self, route: &str) -> Action {
        let mut faults = self.inner.faults.lock();
        let key = if faults.contains_key(route) {
            route
        } else if faults.contains_key("*") {
            "*"
        } else {
            return Action::Pass;
        };
        let mut done = false;
        let action = faults.get_mut(key).map_or(Action::Pass, |f| {
            let (a, d) = f.next();
            done = d;
            a
        });
        if done {
            faults.remove(key);
        }
        action
    }

    /// The grant of a bearer token: a static token, or an unexpired OAuth access token.
    pub(crate) fn principal(&self, token: &str) -> Option<Principal> {
        if let Some(g) = self.inner.config.tokens.iter().find(|g| g.token == token) {
            return Some(Principal {
                grant: g.clone(),
                rate_key: format!("token:{}|{}", g.token, g.location_id),
            });
        }
        self.inner.oauth.lock().access_grant(token, Instant::now())
    }

    /// Emits a webhook event (recorded, and queued for delivery when a target is set).
    pub(crate) fn emit(
        &self,
        event: &str,
        location_id: &str,
        fields: serde_json::Map<String, Value>,
    ) {
        self.inner.webhooks.emit(event, location_id, fields);
    }
}
