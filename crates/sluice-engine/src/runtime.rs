//! What runs share: the executor's settings ([`RunOptions`]), and the [`Runtime`] built once by a
//! [`RuntimeBuilder`] — HTTP client, credentials, base URLs, rate limits, read cache, the flows
//! `flow:` steps may run — plus where a connection's calls go and how they are rate-limited.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use sluice_connectors::{LimitError, LimitKey, RateLimits, ReadCache};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::error::{ErrorKind, StepError};
use crate::exec::{ConnectionSpec, Executable};
use crate::http::AuthMaterial;
use crate::observer::Observer;
use crate::redact::Redactor;

/// Settings of the executor.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// HTTP calls in flight at once, across the whole process.
    pub concurrency: usize,
    /// HTTP calls in flight at once per connection.
    pub connection_concurrency: usize,
    /// Show requests without sending writes.
    pub dry_run: bool,
    /// Largest answer accepted, in bytes (default 10 MB).
    pub max_response_bytes: usize,
    /// Serve answers of `cacheable` operations from memory for this long (off when `None`).
    pub cache_ttl: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            connection_concurrency: 8,
            dry_run: false,
            max_response_bytes: 10 * 1024 * 1024,
            cache_ttl: None,
        }
    }
}

/// Why a runtime could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The HTTP client cannot be built (TLS set-up).
    #[error(transparent)]
    HttpClient(reqwest::Error),
}

/// What runs share: the HTTP client, credentials, base-URL overrides, limits, observers.
/// Built by [`Runtime::builder`]; read-only once built.
pub struct Runtime {
    /// The HTTP client (one per process: connection pooling).
    http: reqwest::Client,
    /// Auth by credential name.
    credentials: HashMap<String, AuthMaterial>,
    /// Auth for connections without a credential, by connector name (the sandbox's token).
    default_auth: HashMap<String, AuthMaterial>,
    /// Base URLs by connection name or connector name (a connection name wins).
    base_urls: HashMap<String, String>,
    /// Secrets to mask.
    redactor: Redactor,
    /// Who hears about the run.
    observer: Arc<dyn Observer>,
    /// Settings.
    options: RunOptions,
    /// Flows that `flow:` steps may run, by name.
    flows: HashMap<String, Arc<Executable>>,
    /// Cancels every run of this runtime.
    cancel: CancellationToken,
    /// Rate limits of every connector, shared by every run of the process.
    limits: Arc<RateLimits>,
    /// The GHL location each credential works for (rate limits count per location).
    locations: HashMap<String, String>,
    /// The read cache (when `options.cache_ttl` is set).
    cache: Option<Arc<ReadCache<Value>>>,
    /// HTTP calls in flight across the process.
    global: Semaphore,
    /// HTTP calls in flight per connection, by connection name.
    per_connection: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// `secrets`, by name: what connection settings may read.
    secrets: Value,
}

/// A connection's settings worked out for one run: the flow's `base_url` and headers, their
/// templates evaluated (with `inputs` and `secrets`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Resolved {
    pub(crate) base_url: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
}

/// No flow settings for a connection: the connector's own.
pub(crate) static NO_SETTINGS: Resolved = Resolved {
    base_url: None,
    headers: Vec::new(),
};

impl Resolved {
    /// The settings of `conn` that need no run to be known: its literal base URL and headers
    /// (a trigger's reads, before any run).
    pub(crate) fn literal(conn: &ConnectionSpec) -> Resolved {
        let text = |c: &sluice_template::Compiled| match c {
            sluice_template::Compiled::Literal(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Resolved {
            base_url: conn.literal_base_url().map(str::to_string),
            headers: conn
                .headers
                .iter()
                .filter_map(|(k, c)| text(c).map(|v| (k.clone(), v)))
                .collect(),
        }
    }

    /// The settings of `conn` for a run with `inputs`. A base URL must be an absolute http(s)
    /// URL.
    pub(crate) fn of(
        conn: &ConnectionSpec,
        rt: &Runtime,
        inputs: &Value,
        templates: &sluice_template::Templates,
    ) -> Result<Resolved, StepError> {
        let flow = Value::Null;
        let scope =
            sluice_template::Scope::new(inputs, &flow, Vec::new()).with_secrets(&rt.secrets);
        let text = |c: &sluice_template::Compiled| -> Result<String, StepError> {
            Ok(match c.eval(&scope, templates)? {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            })
        };
        let base_url = match &conn.base_url {
            Some(c) => {
                let url = text(c)?;
                let usable = reqwest::Url::parse(&url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
                if !usable {
                    let shown = if url.is_empty() {
                        "nothing".to_string()
                    } else {
                        format!("`{}`", rt.redactor.redact(&url))
                    };
                    return Err(StepError::new(
                        ErrorKind::Other,
                        format!(
                            "connection `{}`: its `base_url` gave {shown}, not an absolute http(s) URL",
                            conn.name
                        ),
                    ));
                }
                Some(url)
            }
            None => None,
        };
        let headers = conn
            .headers
            .iter()
            .map(|(k, c)| Ok((k.clone(), text(c)?)))
            .collect::<Result<_, StepError>>()?;
        Ok(Resolved { base_url, headers })
    }
}

impl Runtime {
    /// A builder of a runtime with the given observer and options and nothing else configured.
    #[must_use]
    pub fn builder(observer: Arc<dyn Observer>, options: RunOptions) -> RuntimeBuilder {
        RuntimeBuilder {
            observer,
            options,
            flows: HashMap::new(),
            limits: None,
            base_urls: HashMap::new(),
            credentials: HashMap::new(),
            default_auth: HashMap::new(),
            locations: HashMap::new(),
            redactor: Redactor::new(),
            secrets: Map::new(),
        }
    }

    /// The secrets this runtime masks.
    #[must_use]
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Cancels every run of this runtime when cancelled.
    #[must_use]
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The executor's settings.
    #[must_use]
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The rate limits of every connector, shared by every run of the process.
    #[must_use]
    pub fn limits(&self) -> &Arc<RateLimits> {
        &self.limits
    }

    /// The GHL location credential `credential` works for, when configured.
    #[must_use]
    pub fn location(&self, credential: &str) -> Option<&str> {
        self.locations.get(credential).map(String::as_str)
    }

    /// The read cache (when [`RunOptions::cache_ttl`] is set).
    #[must_use]
    pub fn cache(&self) -> Option<&Arc<ReadCache<Value>>> {
        self.cache.as_ref()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn observer(&self) -> &dyn Observer {
        self.observer.as_ref()
    }

    /// The flow named `name`, for `flow:` steps.
    pub(crate) fn flow(&self, name: &str) -> Option<&Arc<Executable>> {
        self.flows.get(name)
    }

    /// The process-wide limit of HTTP calls in flight.
    pub(crate) fn global(&self) -> &Semaphore {
        &self.global
    }

    /// The limit of HTTP calls in flight through connection `name`.
    pub(crate) fn connection_semaphore(&self, name: &str) -> Arc<Semaphore> {
        let mut map = self.per_connection.lock();
        if let Some(s) = map.get(name) {
            return s.clone();
        }
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.options.connection_concurrency.max(1))))
            .clone()
    }

    /// Where a connection's requests go and how they authenticate in this runtime.
    pub(crate) fn endpoint<'a>(
        &'a self,
        conn: &'a ConnectionSpec,
        resolved: &'a Resolved,
    ) -> Endpoint<'a> {
        static NO_AUTH: AuthMaterial = AuthMaterial::None;
        let base_url: &str = self
            .base_urls
            .get(&conn.name)
            .or_else(|| self.base_urls.get(conn.connector.name.as_str()))
            .or(resolved.base_url.as_ref())
            .unwrap_or(&conn.connector.base_url);
        let auth: &AuthMaterial = conn
            .credential
            .as_ref()
            .and_then(|c| self.credentials.get(c))
            .or_else(|| self.default_auth.get(conn.connector.name.as_str()))
            .unwrap_or(&NO_AUTH);
        let headers = conn
            .connector
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(
                resolved
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .collect();
        Endpoint {
            conn,
            base_url,
            auth,
            headers,
        }
    }

    /// The rate limiter of a call through `conn`. Calls count per credential and per location:
    /// the `locationId` of `params` when given, else the credential's configured location.
    /// Connectors without rate limits skip the limiter (and its key's allocations).
    pub(crate) fn limiter(
        &self,
        conn: &ConnectionSpec,
        params: Option<&Map<String, Value>>,
    ) -> Limiter<'_> {
        let key = self
            .limits
            .is_limited(conn.connector.name.as_str())
            .then(|| {
                let credential = conn.credential.as_deref().unwrap_or("default");
                let location = params
                    .and_then(|p| p.get("locationId"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| self.locations.get(credential).cloned());
                LimitKey::new(conn.connector.name.value.clone(), credential, location)
            });
        Limiter {
            limits: &self.limits,
            key,
        }
    }
}

/// Where a connection's requests go and how they authenticate, in one runtime.
#[derive(Clone)]
pub(crate) struct Endpoint<'a> {
    /// The connection.
    pub(crate) conn: &'a ConnectionSpec,
    /// Its base URL (an override of the runtime, the flow's, or the connector's).
    pub(crate) base_url: &'a str,
    /// Its auth.
    pub(crate) auth: &'a AuthMaterial,
    /// The connector's headers, then the flow's.
    pub(crate) headers: Vec<(&'a str, &'a str)>,
}

/// The rate limiter as one call sees it: its key, or none when the connector has no limits.
pub(crate) struct Limiter<'a> {
    limits: &'a RateLimits,
    key: Option<LimitKey>,
}

impl Limiter<'_> {
    /// Waits until the limits allow one more request.
    ///
    /// # Errors
    /// A quota is spent (waiting would take too long).
    pub(crate) async fn acquire(&self) -> Result<(), LimitError> {
        match &self.key {
            Some(key) => self.limits.acquire(key).await,
            None => Ok(()),
        }
    }

    /// How long the API's last answers still pause this call's key (zero without limits).
    pub(crate) fn paused_for(&self) -> std::time::Duration {
        self.key
            .as_ref()
            .map_or(std::time::Duration::ZERO, |key| self.limits.paused_for(key))
    }

    /// Tells the limiter about an answer (GHL's `X-RateLimit-*` headers, a 429).
    pub(crate) fn observe(&self, status: u16, headers: &reqwest::header::HeaderMap) {
        if let Some(key) = &self.key {
            self.limits.observe(key, status, headers);
        }
    }
}

/// Configures a [`Runtime`]: flows, rate limits, base URLs, credentials, secrets to mask.
pub struct RuntimeBuilder {
    observer: Arc<dyn Observer>,
    options: RunOptions,
    flows: HashMap<String, Arc<Executable>>,
    limits: Option<Arc<RateLimits>>,
    base_urls: HashMap<String, String>,
    credentials: HashMap<String, AuthMaterial>,
    default_auth: HashMap<String, AuthMaterial>,
    locations: HashMap<String, String>,
    redactor: Redactor,
    secrets: Map<String, Value>,
}

impl RuntimeBuilder {
    /// A secret connection settings may read as `{{ secrets.NAME }}` (it is masked too).
    pub fn secret(&mut self, name: impl Into<String>, value: &str) -> &mut Self {
        self.redactor.add(value);
        self.secrets
            .insert(name.into(), Value::String(value.to_string()));
        self
    }

    /// Adds flows that `flow:` steps may run, keyed by their names.
    pub fn flows(&mut self, flows: impl IntoIterator<Item = Arc<Executable>>) -> &mut Self {
        self.flows
            .extend(flows.into_iter().map(|f| (f.name.clone(), f)));
        self
    }

    /// The rate limits to enforce (shared with other runtimes of the process); none by default.
    pub fn rate_limits(&mut self, limits: Arc<RateLimits>) -> &mut Self {
        self.limits = Some(limits);
        self
    }

    /// Sends the requests of a connection (by its name) or of a connector (by its name) to
    /// `url`. A connection's name wins over its connector's.
    pub fn base_url(
        &mut self,
        connection_or_connector: impl Into<String>,
        url: impl Into<String>,
    ) -> &mut Self {
        self.base_urls
            .insert(connection_or_connector.into(), url.into());
        self
    }

    /// The base URL set for a connection or connector, if any.
    #[must_use]
    pub fn base_url_of(&self, connection_or_connector: &str) -> Option<&str> {
        self.base_urls
            .get(connection_or_connector)
            .map(String::as_str)
    }

    /// The auth of credential `name`.
    pub fn credential(&mut self, name: impl Into<String>, auth: AuthMaterial) -> &mut Self {
        self.credentials.insert(name.into(), auth);
        self
    }

    /// Whether credential `name` has its auth.
    #[must_use]
    pub fn has_credential(&self, name: &str) -> bool {
        self.credentials.contains_key(name)
    }

    /// Forgets every credential's auth.
    pub fn clear_credentials(&mut self) -> &mut Self {
        self.credentials.clear();
        self
    }

    /// The auth of connections of `connector` that name no credential (the sandbox's token).
    pub fn default_auth(&mut self, connector: impl Into<String>, auth: AuthMaterial) -> &mut Self {
        self.default_auth.insert(connector.into(), auth);
        self
    }

    /// The GHL location credential `credential` works for (rate limits count per location).
    pub fn location(
        &mut self,
        credential: impl Into<String>,
        location_id: impl Into<String>,
    ) -> &mut Self {
        self.locations.insert(credential.into(), location_id.into());
        self
    }

    /// Registers a secret: it (and its common encodings) is masked in everything that leaves
    /// the engine.
    pub fn redact(&mut self, secret: &str) -> &mut Self {
        self.redactor.add(secret);
        self
    }

    /// Builds the runtime: its HTTP client, read cache and limits of calls in flight. Its
    /// secrets join those the process masks outside runs ([`crate::redact::redact_process`]).
    ///
    /// # Errors
    /// The HTTP client cannot be built (TLS set-up).
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(RuntimeError::HttpClient)?;
        let options = self.options;
        crate::redact::remember(&self.redactor);
        Ok(Runtime {
            http,
            credentials: self.credentials,
            default_auth: self.default_auth,
            base_urls: self.base_urls,
            redactor: self.redactor,
            observer: self.observer,
            global: Semaphore::new(options.concurrency.max(1)),
            limits: self.limits.unwrap_or_else(|| Arc::new(RateLimits::new())),
            locations: self.locations,
            cache: options
                .cache_ttl
                .map(|ttl| Arc::new(ReadCache::new(10_000, ttl))),
            options,
            flows: self.flows,
            cancel: CancellationToken::new(),
            per_connection: Mutex::new(HashMap::new()),
            secrets: Value::Object(self.secrets),
        })
    }
}
