//! Rate limits of connectors, enforced before a request is sent: one budget per connector,
//! credential and (GHL) location, fed back by the API's `X-RateLimit-*` headers and 429s.
//! Time is tokio's, so tests run in virtual time (`#[tokio::test(start_paused = true)]`).
//! The counters are in `window.rs`, the reading of the API's headers in `headers.rs`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use sluice_model::connector::{LimitScope, RateLimit};
use sluice_model::{Catalog, Connector};
use tokio::time::Instant;

mod headers;
mod window;

use headers::{daily_reset, header_i64, retry_after};
use window::{SlidingCount, WindowLog};

/// The most requests a rate limit's window may count: its log keeps one instant per request
/// (GHL's is 100 per 10 s). A larger budget is stated as a `quota`, counted in slots.
pub const MAX_LOGGED_REQUESTS: u64 = 100_000;

/// A fleet budget ([`FleetBudget`]) counts each permit for its window plus 1/50 of it (200 ms
/// of GHL's 10 s): a permit is stamped when claimed but the API counts the request when it
/// arrives, and the runners' requests travel different paths, so one sent right at the end of
/// a window could otherwise land inside the API's window of the first. Measured: without
/// the margin, three runners against the sandbox drew one 429 in 240 calls.
pub const FLEET_WINDOW_MARGIN_DIVISOR: u32 = 50;

/// How many requests `X-RateLimit-Remaining` may still allow before Sluice pauses the key
/// until the interval has passed: `0`, i.e. pause when the API says the budget is spent.
///
/// Sluice's own limiter already keeps its requests within the stated budget, so the header
/// only matters when someone else spends the same budget (another runner, another tool with
/// the same app). A larger margin would pause Sluice's own full-speed traffic for nothing.
/// Requests already in flight when the answer arrives may still draw a 429; that pauses the
/// key too, and the executor retries idempotent calls after the pause.
pub const REMAINING_MARGIN: u64 = 0;

/// The pause after a 429 or a spent burst when the API says nothing about how long and the
/// connector states no burst limit.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause an answer's `Retry-After` (or a spent window) may impose when the
/// connector says nothing else (`max_retry_after`); a call asked to wait longer fails instead.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// Whose budget a request is charged to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimitKey {
    /// The connector's name, e.g. `ghl-contacts`.
    pub connector: String,
    /// The credential's name (for GHL: the app or Private Integration token).
    pub credential: String,
    /// The location (GHL sub-account) the request works on, if the API counts per location.
    pub location: Option<String>,
}

impl LimitKey {
    /// A key for a connector, a credential and maybe a location.
    #[must_use]
    pub fn new(
        connector: impl Into<String>,
        credential: impl Into<String>,
        location: Option<String>,
    ) -> Self {
        Self {
            connector: connector.into(),
            credential: credential.into(),
            location,
        }
    }
}

impl fmt::Display for LimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} with credential `{}`",
            self.connector, self.credential
        )?;
        if let Some(location) = &self.location {
            write!(f, " at location `{location}`")?;
        }
        Ok(())
    }
}

/// Why a request may not be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A quota (`quota: true`, e.g. GHL's 200,000 requests a day) is spent: waiting would take
    /// too long to be useful, so the call fails now.
    #[error(
        "the `{limit}` quota is spent; more requests are allowed in {}",
        sluice_model::Duration(*resets_in)
    )]
    QuotaExhausted {
        /// The limit, as `CONNECTOR/NAME` (e.g. `ghl-contacts/daily`).
        limit: String,
        /// How long until one more request is allowed.
        resets_in: Duration,
    },
}

/// A connector's rate limit that cannot be enforced as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("connector `{connector}`: rate limit `{limit}` cannot be enforced: {reason}")]
pub struct InvalidLimit {
    /// The connector's name.
    pub connector: String,
    /// The limit's name.
    pub limit: String,
    /// What is wrong.
    pub reason: String,
}

/// One limit of a connector, as enforced.
#[derive(Debug)]
struct LimitSpec {
    /// `CONNECTOR/NAME`.
    label: String,
    requests: u64,
    per: Duration,
    per_credential: bool,
    per_location: bool,
    /// A quota (`quota: true`): fail when spent instead of waiting.
    quota: bool,
}

impl LimitSpec {
    /// Whether two connectors state the same limit (a `shared` budget must be stated alike).
    fn same_as(&self, other: &LimitSpec) -> bool {
        self.requests == other.requests
            && self.per == other.per
            && self.per_credential == other.per_credential
            && self.per_location == other.per_location
            && self.quota == other.quota
    }

    fn new(connector: &str, limit: &RateLimit) -> Result<Self, InvalidLimit> {
        let invalid = |reason: &str| InvalidLimit {
            connector: connector.to_string(),
            limit: limit.name.clone(),
            reason: reason.to_string(),
        };
        let per = limit.per.0;
        if limit.requests == 0 {
            return Err(invalid("`requests` must be at least 1"));
        }
        if per < Duration::from_millis(1) {
            return Err(invalid("`per` must be at least 1ms"));
        }
        if !limit.quota && limit.requests > MAX_LOGGED_REQUESTS {
            return Err(invalid(&format!(
                "a rate limit counts at most {MAX_LOGGED_REQUESTS} requests per window; state a larger one as a `quota`"
            )));
        }
        let (per_credential, per_location) = if limit.scope.is_empty() {
            (true, false)
        } else {
            (
                limit.scope.contains(&LimitScope::Credential),
                limit.scope.contains(&LimitScope::Location),
            )
        };
        let owner = limit.shared.as_deref().unwrap_or(connector);
        Ok(Self {
            label: format!("{owner}/{}", limit.name),
            requests: limit.requests,
            per,
            per_credential,
            per_location,
            quota: limit.quota,
        })
    }
}

/// The budget of one limit for one scoped key, shared by every full key that maps to it.
#[derive(Debug)]
enum Budget {
    /// A rate limit: wait for it.
    Rate(Mutex<WindowLog>),
    /// A quota: fail when it is spent.
    Quota(Mutex<SlidingCount>),
}

/// What a [`FleetBudget`] claim answers: `Ok(Ok(()))` granted, `Ok(Err(wait))` full (or
/// paused) for this long, `Err` the budget could not be read.
pub type Claim<'a> =
    Pin<Box<dyn Future<Output = Result<Result<(), Duration>, String>> + Send + 'a>>;

/// What a [`FleetBudget`] pause answers: `Err` when the pause could not be recorded.
pub type PauseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A rate budget shared by every process that spends it (runners sharing one run store): a
/// sliding-window log kept outside the process. When set with [`RateLimits::share_with`],
/// every rate limit (not the quotas) is counted there instead of in the process.
pub trait FleetBudget: Send + Sync + fmt::Debug {
    /// Counts one request of `budget` (a name that says the limit and its scope) when fewer
    /// than `requests` were counted in the window of `per` ending now: `Ok(Ok(()))`; else
    /// `Ok(Err(wait))`, how long until one is allowed. `Err` when the budget could not be
    /// read (the limiter then counts in the process alone).
    fn claim<'a>(&'a self, budget: &'a str, requests: u64, per: Duration) -> Claim<'a>;

    /// Pauses `budget` for `pause` from now for every process that spends it: their claims
    /// wait until it ends. A pause only grows (a shorter one does not end a longer one).
    fn pause<'a>(&'a self, budget: &'a str, pause: Duration) -> PauseFuture<'a>;
}

/// The name of a rate limit's budget for a key in a [`FleetBudget`]: the limit and the parts
/// of the key its scope counts by, e.g. `ghl/burst|ghl_main|loc-1`.
fn fleet_budget_name(spec: &LimitSpec, key: &LimitKey) -> String {
    let credential = if spec.per_credential {
        key.credential.as_str()
    } else {
        "*"
    };
    let location = match (&key.location, spec.per_location) {
        (Some(location), true) => location.as_str(),
        _ => "*",
    };
    format!("{}|{credential}|{location}", spec.label)
}

/// What the API's answers said about a key.
#[derive(Debug, Default)]
struct Hints {
    /// No request before this (a spent burst, a 429).
    paused_until: Option<Instant>,
    /// The API said the daily quota is spent: `(until, limit label)`.
    quota_spent_until: Option<(Instant, String)>,
    /// `X-RateLimit-Remaining` of the last answer.
    last_remaining: Option<i64>,
    /// When the API's current window began, as far as its answers show (Remaining went up,
    /// or stood at Max − 1).
    window_start: Option<Instant>,
}

/// The state of one full key.
#[derive(Debug)]
struct KeyState {
    /// Requests of one key take turns (FIFO), so waiters do not stampede on every wake-up.
    turn: tokio::sync::Mutex<()>,
    hints: Mutex<Hints>,
    /// The connector's limits and this key's budget of each.
    budgets: Vec<(Arc<LimitSpec>, Arc<Budget>)>,
}

/// A budget's key: a full key projected on the limit's scope.
#[derive(Debug, PartialEq, Eq, Hash)]
struct BudgetKey {
    connector: String,
    limit: usize,
    credential: Option<String>,
    location: Option<String>,
}

/// The rate limits of every connector, shared by every run of the process
/// (`Arc<RateLimits>`).
///
/// Call [`acquire`](Self::acquire) before sending a request and [`observe`](Self::observe)
/// with every answer. Limits are counted per the scope each states: GHL's `burst` and `daily`
/// are per credential and per location, so each location has its own budget.
///
/// Keys are remembered for the life of the value (a few hundred bytes each, plus a quota's
/// counters); there are as many as credentials × locations in use.
#[derive(Debug, Default)]
pub struct RateLimits {
    connectors: HashMap<String, Vec<Arc<LimitSpec>>>,
    /// Connector → the budget it shares (`shared: NAME` in its limits), kept under `@NAME` in
    /// `connectors`: every key of such a connector is counted as that budget's key.
    shared: HashMap<String, String>,
    budgets: Mutex<HashMap<BudgetKey, Arc<Budget>>>,
    keys: Mutex<HashMap<LimitKey, Arc<KeyState>>>,
    /// Per connector, the longest pause an answer may impose (`max_retry_after`).
    max_pause: HashMap<String, Duration>,
    /// Where rate limits are counted when several processes share them.
    fleet: Option<Arc<dyn FleetBudget>>,
    /// Requests that had to wait (for a rate limit or a pause), and the time they waited.
    waits: std::sync::atomic::AtomicU64,
    waited_micros: std::sync::atomic::AtomicU64,
}

impl RateLimits {
    /// No limits at all: every [`acquire`](Self::acquire) passes until an answer says otherwise.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts every rate limit in `fleet`, shared with the other processes that use it, instead
    /// of in this process alone (quotas and the API's pauses stay per process).
    pub fn share_with(&mut self, fleet: Arc<dyn FleetBudget>) {
        self.fleet = Some(fleet);
    }

    /// The limits of every connector of a catalog.
    ///
    /// # Errors
    /// A limit that cannot be enforced (no requests, or a window under 1 ms).
    pub fn from_catalog(catalog: &Catalog) -> Result<Self, InvalidLimit> {
        Self::from_connectors(catalog.iter())
    }

    /// The limits of these connectors.
    ///
    /// # Errors
    /// A limit that cannot be enforced (no requests, or a window under 1 ms).
    pub fn from_connectors<'a>(
        connectors: impl IntoIterator<Item = &'a Connector>,
    ) -> Result<Self, InvalidLimit> {
        let mut limits = Self::new();
        for connector in connectors {
            limits.add_connector(&connector.name, &connector.rate_limits)?;
            if let Some(max) = &connector.max_retry_after {
                limits.set_max_pause(&connector.name, max.0);
            }
        }
        Ok(limits)
    }

    /// Sets the limits of one connector, replacing any it had. Call it before sharing the
    /// value: keys already in use keep the limits they started with.
    ///
    /// # Errors
    /// A limit that cannot be enforced (no requests, or a window under 1 ms).
    pub fn add_connector(
        &mut self,
        connector: &str,
        limits: &[RateLimit],
    ) -> Result<(), InvalidLimit> {
        let specs = limits
            .iter()
            .map(|limit| LimitSpec::new(connector, limit).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let groups: Vec<Option<&str>> = limits.iter().map(|l| l.shared.as_deref()).collect();
        let group = groups.first().copied().flatten();
        if groups.iter().any(|g| *g != group) {
            return Err(InvalidLimit {
                connector: connector.to_string(),
                limit: limits.first().map(|l| l.name.clone()).unwrap_or_default(),
                reason: "either every limit of a connector is `shared` with the same name, or none"
                    .into(),
            });
        }
        match group {
            Some(group) => {
                let key = format!("@{group}");
                if let Some(existing) = self.connectors.get(&key) {
                    let alike = existing.len() == specs.len()
                        && existing
                            .iter()
                            .zip(&specs)
                            .all(|(a, b)| a.same_as(b) && a.label == b.label);
                    if !alike {
                        return Err(InvalidLimit {
                            connector: connector.to_string(),
                            limit: limits.first().map(|l| l.name.clone()).unwrap_or_default(),
                            reason: format!(
                                "the `shared: {group}` limits differ from those another connector states"
                            ),
                        });
                    }
                } else {
                    self.connectors.insert(key, specs.clone());
                }
                self.shared.insert(connector.to_string(), group.to_string());
            }
            None => {
                self.shared.remove(connector);
            }
        }
        self.connectors.insert(connector.to_string(), specs);
        Ok(())
    }

    /// The key a request is counted under: a connector with a `shared` budget counts as it.
    fn budget_key<'k>(&self, key: &'k LimitKey) -> std::borrow::Cow<'k, LimitKey> {
        match self.shared.get(&key.connector) {
            Some(group) => std::borrow::Cow::Owned(LimitKey {
                connector: format!("@{group}"),
                credential: key.credential.clone(),
                location: key.location.clone(),
            }),
            None => std::borrow::Cow::Borrowed(key),
        }
    }

    /// Like [`add_connector`](Self::add_connector), by value.
    ///
    /// # Errors
    /// A limit that cannot be enforced (no requests, or a window under 1 ms).
    pub fn with_connector(
        mut self,
        connector: &str,
        limits: &[RateLimit],
    ) -> Result<Self, InvalidLimit> {
        self.add_connector(connector, limits)?;
        Ok(self)
    }

    /// Sets the longest pause an answer of the connector may impose (its `max_retry_after`;
    /// [`DEFAULT_MAX_RETRY_AFTER`] when not set).
    pub fn set_max_pause(&mut self, connector: &str, max: Duration) {
        self.max_pause.insert(connector.to_string(), max);
    }

    /// The longest pause an answer of the connector may impose.
    #[must_use]
    pub fn max_pause(&self, connector: &str) -> Duration {
        self.max_pause
            .get(connector)
            .copied()
            .unwrap_or(DEFAULT_MAX_RETRY_AFTER)
    }

    /// How long the key is still paused by what the API said (zero when it is not).
    #[must_use]
    pub fn paused_for(&self, key: &LimitKey) -> Duration {
        let Some(state) = self.keys.lock().get(key).cloned() else {
            return Duration::ZERO;
        };
        let hints = state.hints.lock();
        hints.paused_until.map_or(Duration::ZERO, |until| {
            until.saturating_duration_since(Instant::now())
        })
    }

    /// Whether the connector has any rate limit (calls of one without are never delayed).
    #[must_use]
    pub fn is_limited(&self, connector: &str) -> bool {
        self.connectors
            .get(connector)
            .is_some_and(|specs| !specs.is_empty())
    }

    /// How many times a request waited for a limit, and for how long in all (for metrics).
    #[must_use]
    pub fn waits(&self) -> (u64, Duration) {
        use std::sync::atomic::Ordering;
        (
            self.waits.load(Ordering::Relaxed),
            Duration::from_micros(self.waited_micros.load(Ordering::Relaxed)),
        )
    }

    fn count_wait(&self, wait: Duration) {
        use std::sync::atomic::Ordering;
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.waited_micros.fetch_add(
            u64::try_from(wait.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Waits until every rate limit of the key allows one more request, and counts it.
    ///
    /// Waiting happens before sending, on tokio's clock. A pause set by
    /// [`observe`](Self::observe) (a spent burst, a 429) is waited out too. Requests of one
    /// key are let through in the order they asked.
    ///
    /// # Errors
    /// [`LimitError::QuotaExhausted`] at once when a quota (`quota: true`) is spent, by
    /// Sluice's count or by the API's `X-RateLimit-Daily-Remaining: 0`.
    pub async fn acquire(&self, key: &LimitKey) -> Result<(), LimitError> {
        let key = self.budget_key(key);
        let state = self.key_state(&key);
        let _turn = state.turn.lock().await;
        loop {
            let now = Instant::now();
            let pause = {
                let hints = state.hints.lock();
                if let Some((until, limit)) = &hints.quota_spent_until
                    && *until > now
                {
                    return Err(LimitError::QuotaExhausted {
                        limit: limit.clone(),
                        resets_in: *until - now,
                    });
                }
                hints.paused_until.filter(|until| *until > now)
            };
            for (spec, budget) in &state.budgets {
                if let Budget::Quota(count) = budget.as_ref()
                    && let Some(resets_in) = count.lock().spent_for(now)
                {
                    return Err(LimitError::QuotaExhausted {
                        limit: spec.label.clone(),
                        resets_in,
                    });
                }
            }
            if let Some(until) = pause {
                self.count_wait(until - now);
                tokio::time::sleep_until(until).await;
                continue;
            }
            // Rate limits, in order. Each that allows counts the request; when one makes us
            // wait, the whole pass is repeated after the wait, so every limit counts the
            // request at the instant it is let through (the earlier counts of a repeated pass
            // stand for nothing: safe, and only possible with two rate limits).
            let mut wait = None;
            for (spec, budget) in &state.budgets {
                if let Budget::Rate(log) = budget.as_ref() {
                    let taken = match &self.fleet {
                        Some(fleet) => {
                            let name = fleet_budget_name(spec, &key);
                            let per = spec.per + spec.per / FLEET_WINDOW_MARGIN_DIVISOR;
                            match fleet.claim(&name, spec.requests, per).await {
                                Ok(taken) => taken,
                                Err(e) => {
                                    tracing::warn!(budget = %name, error = %e, "rate limit: the shared budget could not be read; counting in this process only");
                                    log.lock().take(Instant::now())
                                }
                            }
                        }
                        None => log.lock().take(now),
                    };
                    if let Err(until) = taken {
                        wait = Some(until);
                        break;
                    }
                }
            }
            if let Some(wait) = wait {
                self.count_wait(wait);
                tokio::time::sleep(wait).await;
                continue;
            }
            let now = Instant::now();
            for (spec, budget) in &state.budgets {
                if let Budget::Quota(count) = budget.as_ref()
                    && let Err(resets_in) = count.lock().take(now)
                {
                    return Err(LimitError::QuotaExhausted {
                        limit: spec.label.clone(),
                        resets_in,
                    });
                }
            }
            return Ok(());
        }
    }

    /// Reads an answer's rate-limit headers (GHL's `X-RateLimit-*`, `Retry-After`) and status.
    ///
    /// - `X-RateLimit-Remaining` at or under [`REMAINING_MARGIN`]: no request of the key until
    ///   the API's window ends — `X-RateLimit-Interval-Milliseconds` (else the connector's
    ///   shortest rate-limit window, else [`DEFAULT_PAUSE`]) after the window's start as its
    ///   answers show it (Remaining went up, or stood at Max − 1), or from now when unknown —
    ///   slowing down before the API has to answer 429 without losing time to it.
    /// - `X-RateLimit-Daily-Remaining` at 0: [`acquire`](Self::acquire) fails with
    ///   [`LimitError::QuotaExhausted`] until `X-RateLimit-Daily-Reset` (milliseconds from now)
    ///   or, without it, for the connector's quota window (a day when it states none).
    /// - 429: no request of the key for `Retry-After` (seconds or an HTTP date) — what the API
    ///   said wins over the window estimate of the same answer — else the interval as above.
    ///
    /// No pause is longer than the connector's [`max_pause`](Self::max_pause) (a hostile or
    /// broken `Retry-After` must not stall every call of a credential; the call that got it
    /// fails instead). Pauses only ever grow: a late answer to an older request does not
    /// shorten one.
    pub fn observe(&self, key: &LimitKey, status: u16, headers: &HeaderMap) {
        let key = &*self.budget_key(key);
        let now = Instant::now();
        let specs = self
            .connectors
            .get(&key.connector)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let remaining = header_i64(headers, "x-ratelimit-remaining");
        let interval = header_i64(headers, "x-ratelimit-interval-milliseconds")
            .and_then(|ms| u64::try_from(ms).ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .or_else(|| {
                specs
                    .iter()
                    .filter(|spec| !spec.quota)
                    .map(|spec| spec.per)
                    .min()
            })
            .unwrap_or(DEFAULT_PAUSE);
        let daily_remaining = header_i64(headers, "x-ratelimit-daily-remaining");
        let max_pause = self.max_pause(&key.connector);

        let mut pause = None;
        if let Some(remaining) = remaining {
            let max = header_i64(headers, "x-ratelimit-max");
            let state = self.key_state(key);
            let mut hints = state.hints.lock();
            // A window began when Remaining went up, or stands at Max − 1 (its first request).
            let new_window = hints.last_remaining.is_none_or(|last| remaining > last)
                || max.is_some_and(|m| remaining >= m - 1);
            if new_window {
                hints.window_start = Some(now);
            }
            hints.last_remaining = Some(remaining);
            if remaining <= i64::try_from(REMAINING_MARGIN).unwrap_or(i64::MAX) {
                // Wait until the window ends: from its observed start when known (so a client
                // that spaced its own requests loses no time), else a whole interval from now.
                let until = hints
                    .window_start
                    .and_then(|start| start.checked_add(interval))
                    .filter(|until| *until > now)
                    .unwrap_or_else(|| now.checked_add(interval).unwrap_or(now));
                tracing::debug!(key = %key, remaining, "rate limit: burst spent, pausing the key");
                pause = Some(until.saturating_duration_since(now));
            }
        }
        if status == 429 {
            pause = Some(match retry_after(headers) {
                // The API said how long: that is the pause.
                Some(after) => after,
                None => pause.map_or(interval, |p: Duration| p.max(interval)),
            });
        }
        let pause = pause.map(|p| p.min(max_pause));
        if let Some(pause) = pause {
            self.pause_fleet(key, specs, pause);
        }
        let mut quota = None;
        if daily_remaining.is_some_and(|remaining| remaining <= 0) {
            let quota_spec = specs.iter().find(|spec| spec.quota);
            let resets_in = daily_reset(headers)
                .or_else(|| quota_spec.map(|spec| spec.per))
                .unwrap_or(Duration::from_secs(24 * 60 * 60));
            let label = quota_spec.map_or_else(
                || format!("{}/daily", key.connector),
                |spec| spec.label.clone(),
            );
            tracing::warn!(key = %key, resets_in = ?resets_in, "rate limit: the API says the daily quota is spent");
            let day = Duration::from_secs(24 * 60 * 60);
            let until = now
                .checked_add(resets_in)
                .unwrap_or_else(|| now.checked_add(day).unwrap_or(now));
            quota = Some((until, label));
        }
        if pause.is_none() && quota.is_none() {
            return;
        }
        let state = self.key_state(key);
        let mut hints = state.hints.lock();
        if let Some(pause) = pause {
            let until = now.checked_add(pause).unwrap_or(now);
            let until = hints.paused_until.map_or(until, |u| u.max(until));
            hints.paused_until = Some(until);
            if status == 429 {
                // The wait the key really gets (an earlier, longer pause may stand).
                let wait = until.saturating_duration_since(now);
                tracing::warn!(key = %key, wait = ?wait, "rate limit: the API answered 429, pausing the key");
            }
        }
        if let Some((until, label)) = quota {
            match &hints.quota_spent_until {
                Some((current, _)) if *current >= until => {}
                _ => hints.quota_spent_until = Some((until, label)),
            }
        }
    }

    /// Pauses the key's shared rate budgets for the whole fleet (when it shares them): the
    /// API's "stop" (a 429, a spent window) answers the location, not one runner. Recorded in
    /// the background: `observe` is called as an answer arrives and must not wait for a store.
    fn pause_fleet(&self, key: &LimitKey, specs: &[Arc<LimitSpec>], pause: Duration) {
        let (Some(fleet), Ok(runtime)) = (&self.fleet, tokio::runtime::Handle::try_current())
        else {
            return;
        };
        for spec in specs.iter().filter(|spec| !spec.quota) {
            let name = fleet_budget_name(spec, key);
            let fleet = Arc::clone(fleet);
            runtime.spawn(async move {
                if let Err(e) = fleet.pause(&name, pause).await {
                    tracing::warn!(budget = %name, error = %e, "rate limit: the pause could not be shared with the fleet; only this process pauses");
                }
            });
        }
    }

    /// The state of a key, made on first use.
    fn key_state(&self, key: &LimitKey) -> Arc<KeyState> {
        if let Some(state) = self.keys.lock().get(key) {
            return Arc::clone(state);
        }
        let specs = self
            .connectors
            .get(&key.connector)
            .cloned()
            .unwrap_or_default();
        let budgets = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                let budget = self.budget(key, index, &spec);
                (spec, budget)
            })
            .collect();
        let state = Arc::new(KeyState {
            turn: tokio::sync::Mutex::new(()),
            hints: Mutex::new(Hints::default()),
            budgets,
        });
        Arc::clone(self.keys.lock().entry(key.clone()).or_insert(state))
    }

    /// The budget of one limit for a key, shared with every key of the same scope.
    fn budget(&self, key: &LimitKey, index: usize, spec: &LimitSpec) -> Arc<Budget> {
        let budget_key = BudgetKey {
            connector: key.connector.clone(),
            limit: index,
            credential: spec.per_credential.then(|| key.credential.clone()),
            location: if spec.per_location {
                key.location.clone()
            } else {
                None
            },
        };
        let mut budgets = self.budgets.lock();
        Arc::clone(budgets.entry(budget_key).or_insert_with(|| {
            Arc::new(if spec.quota {
                Budget::Quota(Mutex::new(SlidingCount::new(
                    spec.requests,
                    spec.per,
                    Instant::now(),
                )))
            } else {
                Budget::Rate(Mutex::new(WindowLog::new(spec.requests, spec.per)))
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_count_never_exceeds_the_window() {
        let origin = Instant::now();
        let mut count = SlidingCount::new(3, Duration::from_secs(100), origin);
        assert!(count.take(origin).is_ok());
        assert!(count.take(origin + Duration::from_secs(50)).is_ok());
        assert!(count.take(origin + Duration::from_secs(60)).is_ok());
        // Spent: the first request's slot (0) is counted until 101 s (one slot past 100 s).
        let at = origin + Duration::from_secs(70);
        assert_eq!(count.take(at), Err(Duration::from_secs(31)));
        assert!(count.take(origin + Duration::from_secs(101)).is_ok());
        assert!(count.take(origin + Duration::from_secs(102)).is_err());
    }
}
