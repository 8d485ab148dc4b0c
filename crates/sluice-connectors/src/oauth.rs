//! OAuth 2.0 access tokens with refresh (GHL, FACTS §7): refreshed before they expire and once
//! after a 401, single-flight per credential — within the process, and across processes under
//! the [`TokenStore`]'s lock — because GHL rotates the refresh token on every refresh; the new
//! pair is saved before the new access token is used.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// An access token expiring within this is refreshed before it is handed out.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How long the token endpoint may take.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The lifetime assumed when the token endpoint does not say (`expires_in` missing).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The largest token-endpoint answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// An access token, when it expires, and the refresh token that gets the next one.
#[derive(Clone, Debug)]
pub struct TokenPair {
    /// The access token, sent as `Authorization: Bearer …`.
    pub access_token: SecretString,
    /// The refresh token (GHL: valid a year, replaced on every refresh).
    pub refresh_token: SecretString,
    /// When the access token expires.
    pub expires_at: SystemTime,
}

impl TokenPair {
    /// A pair.
    #[must_use]
    pub fn new(
        access_token: impl Into<String>,
        refresh_token: impl Into<String>,
        expires_at: SystemTime,
    ) -> Self {
        Self {
            access_token: SecretString::from(access_token.into()),
            refresh_token: SecretString::from(refresh_token.into()),
            expires_at,
        }
    }

    /// Whether the access token expires within `margin` from now (or has expired).
    #[must_use]
    pub fn expires_within(&self, margin: Duration) -> bool {
        match self.expires_at.duration_since(SystemTime::now()) {
            Ok(left) => left <= margin,
            Err(_) => true,
        }
    }
}

/// What a [`TokenStore`] returns: a boxed future (the trait is object-safe).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where token pairs are kept, by credential name, shared by every process that uses the
/// credential (Sluice's run store).
///
/// A refresh takes the credential's store-wide [`lock`](TokenStore::lock), reads the pair
/// under it (another process may have refreshed it a moment ago), calls the token endpoint
/// only when that pair still needs it, and saves the new pair before releasing the lock and
/// using it. Messages must not contain secret values.
pub trait TokenStore: Send + Sync {
    /// The saved pair of a credential, if any.
    fn load<'a>(&'a self, credential: &'a str) -> StoreFuture<'a, Option<TokenPair>>;

    /// Takes the credential's refresh lock (waiting while another process holds it).
    fn lock<'a>(&'a self, credential: &'a str) -> StoreFuture<'a, Box<dyn TokenLock>>;
}

/// A credential's pair held under its refresh lock; dropping it releases the lock unchanged.
pub trait TokenLock: Send {
    /// The pair saved when the lock was taken.
    fn current(&self) -> Option<TokenPair>;

    /// Saves a new pair and releases the lock; durable when it returns `Ok`.
    fn save(self: Box<Self>, pair: TokenPair) -> StoreFuture<'static, ()>;
}

/// Why a [`TokenStore`] could not load or save. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// What the store said.
    #[error("{0}")]
    Message(String),
    /// The store panicked while saving.
    #[error("the store panicked")]
    Panicked,
    /// The error of another store (its message must not contain secrets).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// Token pairs in memory: for tests, and for tokens that need not outlive the process. Its
/// lock is per credential within the process.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    pairs: Arc<Mutex<HashMap<String, TokenPair>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl MemoryTokenStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Saves a pair without taking the lock (to set a store up).
    pub fn put(&self, credential: &str, pair: TokenPair) {
        self.pairs.lock().insert(credential.to_string(), pair);
    }

    /// The pair saved for a credential.
    #[must_use]
    pub fn get(&self, credential: &str) -> Option<TokenPair> {
        self.pairs.lock().get(credential).cloned()
    }
}

struct MemoryLock {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    pairs: Arc<Mutex<HashMap<String, TokenPair>>>,
    credential: String,
}

impl TokenLock for MemoryLock {
    fn current(&self) -> Option<TokenPair> {
        self.pairs.lock().get(&self.credential).cloned()
    }

    fn save(self: Box<Self>, pair: TokenPair) -> StoreFuture<'static, ()> {
        self.pairs.lock().insert(self.credential.clone(), pair);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl TokenStore for MemoryTokenStore {
    fn load<'a>(&'a self, credential: &'a str) -> StoreFuture<'a, Option<TokenPair>> {
        Box::pin(std::future::ready(Ok(self.get(credential))))
    }

    fn lock<'a>(&'a self, credential: &'a str) -> StoreFuture<'a, Box<dyn TokenLock>> {
        let mutex = Arc::clone(self.locks.lock().entry(credential.to_string()).or_default());
        let pairs = Arc::clone(&self.pairs);
        let credential = credential.to_string();
        Box::pin(async move {
            let guard = mutex.lock_owned().await;
            Ok(Box::new(MemoryLock {
                _guard: guard,
                pairs,
                credential,
            }) as Box<dyn TokenLock>)
        })
    }
}

/// Why no access token could be had. Messages name the credential, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint refused the refresh (400, 401 or 403): the refresh token is revoked,
    /// expired or already used, or the client id or secret is wrong.
    #[error(
        "the token endpoint refused to refresh the OAuth token of credential `{credential}` (HTTP {status}: {detail}); its refresh token may be revoked or already used (a refresh whose answer was lost uses it up too), or the client id or secret is wrong: authorize the app again{hint}"
    )]
    Refused {
        /// The credential's name.
        credential: String,
        /// The HTTP status.
        status: u16,
        /// What the endpoint said, secrets removed.
        detail: String,
        /// How to give the new refresh token, e.g. `` and run `sluice secrets set ghl_refresh` ``
        /// (empty when unknown).
        hint: String,
    },
    /// The token endpoint failed otherwise (5xx, …).
    #[error(
        "the token endpoint failed to refresh the OAuth token of credential `{credential}` (HTTP {status}: {detail})"
    )]
    Endpoint {
        /// The credential's name.
        credential: String,
        /// The HTTP status.
        status: u16,
        /// What the endpoint said, secrets removed.
        detail: String,
    },
    /// The token endpoint could not be reached or did not answer in time.
    #[error(
        "cannot reach the token endpoint for credential `{credential}`: {detail} (if the endpoint did answer, that answer is lost and the refresh token used up: should the next refresh be refused, authorize the app again{hint})"
    )]
    Transport {
        /// The credential's name.
        credential: String,
        /// What went wrong.
        detail: String,
        /// As for [`AuthError::Refused`].
        hint: String,
    },
    /// The token endpoint answered 2xx with something that is not a token.
    #[error("the token endpoint's answer for credential `{credential}` is not usable: {detail}")]
    InvalidAnswer {
        /// The credential's name.
        credential: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The refreshed pair could not be saved, so it is not used.
    #[error(
        "the refreshed OAuth tokens of credential `{credential}` could not be saved, so they are not used: {detail} (the endpoint may already have replaced the refresh token; if later refreshes are refused, authorize the app again)"
    )]
    Persist {
        /// The credential's name.
        credential: String,
        /// The store's message.
        detail: String,
    },
    /// The token store could not be read.
    #[error("cannot read the saved OAuth tokens of credential `{credential}`: {detail}")]
    Store {
        /// The credential's name.
        credential: String,
        /// The store's message.
        detail: String,
    },
    /// Neither the store nor the configuration has a token pair.
    #[error(
        "credential `{credential}` has no OAuth tokens: give its `refresh_token` (and `token`) in sluice.toml, or authorize the app"
    )]
    NoToken {
        /// The credential's name.
        credential: String,
    },
    /// The refresh stopped without an answer (its task panicked or the runtime shut down).
    #[error("the OAuth token refresh of credential `{credential}` stopped unexpectedly")]
    Interrupted {
        /// The credential's name.
        credential: String,
    },
}

/// The OAuth app: client id and secret, the token endpoint and how to call it.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    client_id: SecretString,
    client_secret: SecretString,
    token_url: String,
    user_type: Option<String>,
    http: reqwest::Client,
    reauthorize: String,
}

impl OAuthClient {
    /// An app of this id and secret whose token endpoint is `token_url`; refreshes ask for a
    /// `Location` (sub-account) token, as GHL's Contacts API needs.
    #[must_use]
    pub fn new(
        client_id: SecretString,
        client_secret: SecretString,
        token_url: impl Into<String>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TOKEN_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            client_id,
            client_secret,
            token_url: token_url.into(),
            user_type: Some("Location".to_string()),
            http,
            reauthorize: String::new(),
        }
    }

    /// How to give a new refresh token once the app is authorised again, appended to the
    /// error when a refresh is refused: e.g. `` and store the new refresh token with `sluice
    /// secrets set ghl_refresh` ``.
    #[must_use]
    pub fn reauthorize_hint(mut self, hint: impl Into<String>) -> Self {
        self.reauthorize = hint.into();
        self
    }

    /// The `user_type` sent with a refresh (GHL: `Location` or `Company`); `None` sends none.
    #[must_use]
    pub fn user_type(mut self, user_type: Option<String>) -> Self {
        self.user_type = user_type;
        self
    }

    /// The HTTP client used to call the token endpoint.
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The token endpoint.
    #[must_use]
    pub fn token_url(&self) -> &str {
        &self.token_url
    }
}

/// The OAuth tokens of one credential.
///
/// Make one per credential and share it (`Arc<OAuthToken>`): refreshes are single-flight
/// within one `OAuthToken`, which is what keeps a rotated refresh token from being used twice.
/// A refresh runs in its own task, so a caller that gives up (a step timeout) does not cut it
/// off between the endpoint's answer and the save.
pub struct OAuthToken {
    inner: Arc<Inner>,
}

struct Inner {
    credential: String,
    client: OAuthClient,
    store: Arc<dyn TokenStore>,
    pair: tokio::sync::Mutex<TokenPair>,
    /// Whether the store's pair has been read (on first use).
    loaded: AtomicBool,
    refreshes: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("credential", &self.inner.credential)
            .field("token_url", &self.inner.client.token_url)
            .field("user_type", &self.inner.client.user_type)
            .field("refreshes", &self.refresh_count())
            .finish_non_exhaustive()
    }
}

/// Why a refresh is asked for.
enum Reason {
    /// The access token expires within [`REFRESH_MARGIN`].
    Expiring,
    /// The API answered 401 to this access token.
    Rejected(SecretString),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl OAuthToken {
    /// The tokens of `credential`: the pair saved in `store` when there is one (read on first
    /// use: it is newer than the configured one, the refresh token having rotated), else
    /// `pair`. Refreshed pairs go to `store`.
    #[must_use]
    pub fn new(
        credential: impl Into<String>,
        client: OAuthClient,
        pair: TokenPair,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                credential: credential.into(),
                client,
                store,
                pair: tokio::sync::Mutex::new(pair),
                loaded: AtomicBool::new(false),
                refreshes: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// The tokens of `credential`: the pair saved in `store` if there is one, else
    /// `configured`.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the store cannot be read; [`AuthError::NoToken`] when neither
    /// has a pair.
    pub async fn from_store(
        credential: impl Into<String>,
        client: OAuthClient,
        store: Arc<dyn TokenStore>,
        configured: Option<TokenPair>,
    ) -> Result<Self, AuthError> {
        let credential = credential.into();
        let saved = store
            .load(&credential)
            .await
            .map_err(|e| AuthError::Store {
                credential: credential.clone(),
                detail: e.to_string(),
            })?;
        match saved.or(configured) {
            Some(pair) => {
                let token = Self::new(credential, client, pair, store);
                token.inner.loaded.store(true, Ordering::Release);
                Ok(token)
            }
            None => Err(AuthError::NoToken { credential }),
        }
    }

    /// The credential's name.
    #[must_use]
    pub fn credential(&self) -> &str {
        &self.inner.credential
    }

    /// How many refreshes this process made.
    #[must_use]
    pub fn refresh_count(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Relaxed)
    }

    /// A valid access token: the current one, or a refreshed one when it expires within
    /// [`REFRESH_MARGIN`].
    ///
    /// # Errors
    /// The refresh failed (see [`AuthError`]).
    pub async fn access_token(&self) -> Result<SecretString, AuthError> {
        {
            let mut pair = self.inner.pair.lock().await;
            self.inner.ensure_loaded(&mut pair).await?;
            if !pair.expires_within(REFRESH_MARGIN) {
                return Ok(pair.access_token.clone());
            }
        }
        self.refresh(Reason::Expiring).await
    }

    /// The access token to retry with after the API answered 401 to `rejected`.
    ///
    /// Refreshes only when `rejected` is still the current access token — here and in the
    /// store; otherwise another caller (or runner) has refreshed already and its token is
    /// returned. So any number of concurrent 401s for one token cause one refresh.
    ///
    /// # Errors
    /// The refresh failed (see [`AuthError`]).
    pub async fn refresh_after_unauthorized(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, AuthError> {
        self.refresh(Reason::Rejected(rejected.clone())).await
    }

    /// Refreshes, unless the reason no longer holds once the locks are held (single flight in
    /// the process, then across processes).
    async fn refresh(&self, reason: Reason) -> Result<SecretString, AuthError> {
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(async move {
            let mut pair = inner.pair.lock().await;
            inner.ensure_loaded(&mut pair).await?;
            if !reason.holds(&pair) {
                return Ok(pair.access_token.clone());
            }
            let lock = inner
                .store
                .lock(&inner.credential)
                .await
                .map_err(|e| AuthError::Store {
                    credential: inner.credential.clone(),
                    detail: e.to_string(),
                })?;
            if let Some(stored) = lock.current()
                && stored.access_token.expose_secret() != pair.access_token.expose_secret()
            {
                // Another runner refreshed since this one read the pair: use what it saved.
                *pair = stored;
                if !reason.holds(&pair) {
                    tracing::info!(credential = %inner.credential, "using the OAuth tokens another runner refreshed");
                    return Ok(pair.access_token.clone());
                }
            }
            let fresh = inner.call_token_endpoint(&pair).await?;
            inner.save(lock, &fresh).await?;
            let access = fresh.access_token.clone();
            *pair = fresh;
            inner.refreshes.fetch_add(1, Ordering::Relaxed);
            tracing::info!(credential = %inner.credential, "refreshed the OAuth access token");
            Ok(access)
        });
        task.await.unwrap_or_else(|_| {
            Err(AuthError::Interrupted {
                credential: self.inner.credential.clone(),
            })
        })
    }
}

impl Reason {
    /// Whether a refresh is (still) needed with `pair` as the current pair.
    fn holds(&self, pair: &TokenPair) -> bool {
        match self {
            Reason::Expiring => pair.expires_within(REFRESH_MARGIN),
            Reason::Rejected(rejected) => {
                pair.access_token.expose_secret() == rejected.expose_secret()
            }
        }
    }
}

impl Inner {
    /// `POST token_url` with `grant_type=refresh_token`; the new pair, not yet saved.
    async fn call_token_endpoint(&self, current: &TokenPair) -> Result<TokenPair, AuthError> {
        let client = &self.client;
        let mut form = vec![
            ("client_id", client.client_id.expose_secret()),
            ("client_secret", client.client_secret.expose_secret()),
            ("grant_type", "refresh_token"),
            ("refresh_token", current.refresh_token.expose_secret()),
        ];
        if let Some(user_type) = &client.user_type {
            form.push(("user_type", user_type));
        }
        let transport = |e: reqwest::Error| AuthError::Transport {
            credential: self.credential.clone(),
            detail: error_chain(&e),
            hint: client.reauthorize.clone(),
        };
        let response = client
            .http
            .post(&client.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            // Exact values first, then anything token-like (a token the endpoint echoes may be
            // one this process never held).
            let detail = mask_tokens(&self.redact(&describe_error_body(&body), &[current]));
            let credential = self.credential.clone();
            tracing::warn!(credential = %credential, status, "the token endpoint refused a refresh");
            return Err(if matches!(status, 400 | 401 | 403) {
                AuthError::Refused {
                    credential,
                    status,
                    detail,
                    hint: client.reauthorize.clone(),
                }
            } else {
                AuthError::Endpoint {
                    credential,
                    status,
                    detail,
                }
            });
        }
        let invalid = |detail: String| AuthError::InvalidAnswer {
            credential: self.credential.clone(),
            detail,
        };
        if body.len() > MAX_ANSWER_BYTES {
            return Err(invalid(format!("larger than {MAX_ANSWER_BYTES} bytes")));
        }
        // serde_json's messages name positions and expected types, never the text itself.
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| invalid(format!("not the expected JSON ({e})")))?;
        if answer.access_token.is_empty() {
            return Err(invalid("`access_token` is empty".to_string()));
        }
        let lifetime = match &answer.expires_in {
            None | Some(serde_json::Value::Null) => DEFAULT_LIFETIME,
            Some(value) => seconds(value)
                .ok_or_else(|| invalid("`expires_in` is not a number of seconds".to_string()))?,
        };
        let refresh_token = match answer.refresh_token {
            Some(token) if !token.is_empty() => SecretString::from(token),
            // RFC 6749 §6: without a new refresh token, the old one stays valid.
            _ => current.refresh_token.clone(),
        };
        Ok(TokenPair {
            access_token: SecretString::from(answer.access_token),
            refresh_token,
            expires_at: SystemTime::now()
                .checked_add(lifetime)
                .ok_or_else(|| invalid("`expires_in` is too large".to_string()))?,
        })
    }

    /// Reads the store's pair into `pair` on first use (a saved pair is newer than the
    /// configured one).
    async fn ensure_loaded(&self, pair: &mut TokenPair) -> Result<(), AuthError> {
        if self.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let saved = self
            .store
            .load(&self.credential)
            .await
            .map_err(|e| AuthError::Store {
                credential: self.credential.clone(),
                detail: e.to_string(),
            })?;
        if let Some(saved) = saved {
            *pair = saved;
        }
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Saves a pair under the lock (and releases it).
    async fn save(&self, lock: Box<dyn TokenLock>, pair: &TokenPair) -> Result<(), AuthError> {
        lock.save(pair.clone())
            .await
            .map_err(|e| AuthError::Persist {
                credential: self.credential.clone(),
                detail: self.redact(&e.to_string(), &[pair]),
            })
    }

    /// `text` without the app's secrets nor these tokens.
    fn redact(&self, text: &str, tokens: &[&TokenPair]) -> String {
        let mut text = text.to_string();
        let client = &self.client;
        let secrets = [&client.client_secret, &client.client_id]
            .into_iter()
            .chain(
                tokens
                    .iter()
                    .flat_map(|pair| [&pair.access_token, &pair.refresh_token]),
            );
        for secret in secrets {
            let secret = secret.expose_secret();
            if !secret.is_empty() {
                text = text.replace(secret, "[redacted]");
            }
        }
        text
    }
}

/// Masks every run of 20 or more token characters (letters, digits, `-_.~+/=`): access and
/// refresh tokens are such runs, the words of an error message are not.
fn mask_tokens(text: &str) -> String {
    let is_token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 20 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Seconds from a JSON number or numeric string.
fn seconds(value: &serde_json::Value) -> Option<Duration> {
    let secs = match value {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// What an error answer says: OAuth's `error` / `error_description`, GHL's `message`, or the
/// start of the text.
fn describe_error_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text) {
        let field = |name: &str| match map.get(name) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(|item| item.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => None,
        };
        let parts: Vec<String> = ["error", "error_description", "message"]
            .into_iter()
            .filter_map(field)
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return truncate(&parts.join(": "), 300);
        }
    }
    let text = text.trim();
    if text.is_empty() {
        "no message".to_string()
    } else {
        truncate(text, 300)
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// An error and its causes, one after another; the URL is the token endpoint's, no secret.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_like_runs_are_masked() {
        assert_eq!(
            mask_tokens("invalid_grant: Invalid refresh token rt_abcdefghijklmnopqrstuvwxyz"),
            "invalid_grant: Invalid refresh token [redacted]"
        );
    }

    #[test]
    fn error_bodies_are_described() {
        assert_eq!(
            describe_error_body(br#"{"error":"invalid_grant","error_description":"Bad"}"#),
            "invalid_grant: Bad"
        );
        assert_eq!(
            describe_error_body(br#"{"statusCode":422,"message":["a","b"]}"#),
            "a; b"
        );
        assert_eq!(describe_error_body(b""), "no message");
    }
}
