//! What a sandbox is started with: its data, the tokens it accepts, its rate limits,
//! its webhook target, its OAuth clients and its IPinfo quota.
//! `SandboxConfig::default()` is a ready demo (see `Seed::demo`).

use std::time::Duration;

use crate::seed::Seed;

/// The scope that lets a token read contacts, tasks, notes and appointments.
pub const SCOPE_READ: &str = "contacts.readonly";
/// The scope that lets a token change contacts, tasks, notes, tags, followers and enrolments.
pub const SCOPE_WRITE: &str = "contacts.write";

/// The read scopes of these APIs (granted to the demo tokens).
pub const READ_SCOPES: &[&str] = &[
    "users.readonly",
    "locations/tasks.readonly",
    "locations/customFields.readonly",
    "locations/customValues.readonly",
    "businesses.readonly",
    "opportunities.readonly",
    "locations.readonly",
    "locations/tags.readonly",
    "conversations.readonly",
    "conversations/message.readonly",
];

/// The write scopes of these APIs (granted to the read-and-write demo token).
pub const WRITE_SCOPES: &[&str] = &[
    "conversations/message.write",
    "conversations.write",
    "opportunities.write",
    "users.write",
    "businesses.write",
    "locations/tags.write",
    "locations/customFields.write",
    "locations/customValues.write",
];

/// Everything a sandbox is started with.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The data the sandbox starts with (and returns to on reset).
    pub seed: Seed,
    /// Static tokens (Private Integration tokens) the sandbox accepts.
    pub tokens: Vec<TokenGrant>,
    /// Accept only `Version: 2021-07-28`. Otherwise `2023-02-21` (the official SDK's default,
    /// FACTS §1) is accepted too.
    pub strict_version: bool,
    /// GHL's burst and daily limits (FACTS §6); `None` turns limiting and its headers off.
    pub rate_limit: Option<RateLimitConfig>,
    /// Where change events are POSTed, signed (FACTS §9); `None` only records them.
    pub webhook: Option<WebhookConfig>,
    /// OAuth apps whose refresh tokens and authorization codes `POST /oauth/token` accepts.
    pub oauth_clients: Vec<OAuthClient>,
    /// The IPinfo endpoints under `/ipinfo`.
    pub ipinfo: IpinfoConfig,
}

impl Default for SandboxConfig {
    /// The demo: [`Seed::demo`], the tokens `sandbox-token` (read + write) and
    /// `sandbox-readonly` (read) for `loc_sandbox`, GHL's real rate limits, no webhook
    /// target, and one OAuth client (see [`OAuthClient::demo`]).
    fn default() -> Self {
        Self {
            seed: Seed::demo(),
            tokens: vec![
                TokenGrant::new(
                    "sandbox-token",
                    crate::seed::DEMO_LOCATION,
                    &demo_scopes(true),
                ),
                TokenGrant::new(
                    "sandbox-readonly",
                    crate::seed::DEMO_LOCATION,
                    &demo_scopes(false),
                ),
            ],
            strict_version: false,
            rate_limit: Some(RateLimitConfig::default()),
            webhook: None,
            oauth_clients: vec![OAuthClient::demo()],
            ipinfo: IpinfoConfig::default(),
        }
    }
}

/// The demo tokens' scopes: Contacts and the other APIs the sandbox serves, read (and write).
fn demo_scopes(write: bool) -> Vec<&'static str> {
    let mut scopes = vec![SCOPE_READ];
    scopes.extend_from_slice(READ_SCOPES);
    if write {
        scopes.push(SCOPE_WRITE);
        scopes.extend_from_slice(WRITE_SCOPES);
    }
    scopes
}

/// A static bearer token (a sub-account Private Integration token, FACTS §8) and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    /// The token, as sent in `Authorization: Bearer TOKEN`.
    pub token: String,
    /// The location (sub-account) the token belongs to; other locations' data is refused.
    pub location_id: String,
    /// Its scopes, e.g. `contacts.readonly`. `contacts.write` does NOT imply `contacts.readonly`.
    pub scopes: Vec<String>,
    /// The user the token acts as (`userId` of created notes, OAuth answers).
    pub user_id: String,
}

impl TokenGrant {
    /// A token for a location with these scopes, acting as user `usr_sandbox`.
    #[must_use]
    pub fn new(token: &str, location_id: &str, scopes: &[&str]) -> Self {
        Self {
            token: token.to_owned(),
            location_id: location_id.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            user_id: "usr_sandbox".to_owned(),
        }
    }

    /// Whether the grant has this scope.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// GHL's rate limits (FACTS §6): a burst window and a daily quota, counted per token (per OAuth
/// app for OAuth tokens) and per location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests allowed per `burst_window` (GHL: 100).
    pub burst: u32,
    /// The burst window (GHL: 10 s).
    pub burst_window: Duration,
    /// Requests allowed per `daily_window` (GHL: 200,000).
    pub daily: u32,
    /// The daily window (24 h; counted from the first request, not from midnight).
    pub daily_window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            burst: 100,
            burst_window: Duration::from_secs(10),
            daily: 200_000,
            daily_window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Where and how change events are delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The URL every event is POSTed to.
    pub url: String,
    /// Attempts per event, the first included (default 4).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one (default 200 ms).
    pub retry_backoff: Duration,
    /// Time allowed for one attempt (default 5 s).
    pub timeout: Duration,
    /// Events waiting for delivery; when full, new events are dropped and counted (default 1000).
    pub queue_capacity: usize,
}

impl WebhookConfig {
    /// Deliveries to `url` with the default retries, timeout and queue.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            max_attempts: 4,
            retry_backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
            queue_capacity: 1000,
        }
    }
}

/// An OAuth app (Marketplace client) the token endpoint knows (FACTS §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// The location its tokens are for (`userType: "Location"`).
    pub location_id: String,
    /// `userId` of its token answers.
    pub user_id: String,
    /// Scopes of the tokens it gets.
    pub scopes: Vec<String>,
    /// Refresh tokens valid at start. Each is single-use: a refresh returns a new one.
    pub refresh_tokens: Vec<String>,
    /// Authorization codes valid at start (single-use) for `grant_type=authorization_code`.
    pub auth_codes: Vec<String>,
    /// How long issued access tokens work (GHL: a day; `expires_in` 86399).
    pub access_token_ttl: Duration,
}

impl OAuthClient {
    /// The demo app: `sandbox-client` / `sandbox-secret` for `loc_sandbox`, refresh token
    /// `sandbox-refresh-token`, authorization code `sandbox-code`, read and write scopes.
    #[must_use]
    pub fn demo() -> Self {
        Self {
            client_id: "sandbox-client".to_owned(),
            client_secret: "sandbox-secret".to_owned(),
            location_id: crate::seed::DEMO_LOCATION.to_owned(),
            user_id: "usr_sandbox".to_owned(),
            scopes: demo_scopes(true).into_iter().map(str::to_owned).collect(),
            refresh_tokens: vec!["sandbox-refresh-token".to_owned()],
            auth_codes: vec!["sandbox-code".to_owned()],
            access_token_ttl: Duration::from_secs(86_399),
        }
    }
}

/// The IPinfo endpoints (served under `/ipinfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpinfoConfig {
    /// Tokens accepted (Bearer, `?token=` or Basic user). Empty: any token is accepted.
    pub tokens: Vec<String>,
    /// Whether requests without a token are answered (IPinfo allows a limited anonymous use).
    pub allow_anonymous: bool,
    /// Lookups allowed per token before 429 (each IP of a batch counts; `/me` does not).
    /// `None`: unlimited.
    pub quota: Option<u64>,
}

impl Default for IpinfoConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            allow_anonymous: true,
            quota: None,
        }
    }
}
