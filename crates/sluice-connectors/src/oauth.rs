//! OAuth 2.0 access tokens with refresh (GHL, FACTS §7): refreshed before they expire and once
//! after a 401, single-flight per credential because GHL rotates the refresh token on every
//! refresh, and the new pair is persisted before the new access token is used.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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

/// Where refreshed token pairs are kept, by credential name.
///
/// `save` runs on tokio's blocking pool and must be durable when it returns `Ok`: the new
/// access token is used only after that. Messages must not contain secret values.
pub trait TokenStore: Send + Sync {
    /// The saved pair of a credential, if any.
    ///
    /// # Errors
    /// A [`StoreError`] (without secrets) when the store cannot be read.
    fn load(&self, credential: &str) -> Result<Option<TokenPair>, StoreError>;

    /// Saves a credential's pair, replacing the one it had.
    ///
    /// # Errors
    /// A [`StoreError`] (without secrets) when the pair could not be saved durably.
    fn save(&self, credential: &str, pair: &TokenPair) -> Result<(), StoreError>;
}

/// Why a [`TokenStore`] could not load or save. Messages name the file, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The token file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token file is not JSON of the token file's shape.
    #[error("{} is not a token file: {source}", path.display())]
    NotTokenFile {
        /// The token file.
        path: PathBuf,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// The token file's new content could not be encoded.
    #[error("cannot encode the token file {}: {source}", path.display())]
    Encode {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// No temporary file could be made beside the token file.
    #[error("cannot create a temporary file in {}: {source}", dir.display())]
    TempFile {
        /// The token file's folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The new token file could not be made readable by its owner only.
    #[error("cannot restrict the token file {} to 0600: {source}", path.display())]
    Permissions {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The new token file could not be written and flushed to disk.
    #[error("cannot write the token file {}: {source}", path.display())]
    Write {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The new token file could not replace the old one.
    #[error("cannot replace the token file {}: {source}", path.display())]
    Replace {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store panicked while saving.
    #[error("the store panicked")]
    Panicked,
    /// The error of another store (its message must not contain secrets).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// Token pairs in memory: for tests, and for tokens that need not outlive the process.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    pairs: Mutex<HashMap<String, TokenPair>>,
}

impl MemoryTokenStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self, credential: &str) -> Result<Option<TokenPair>, StoreError> {
        let pairs = self.pairs.lock();
        Ok(pairs.get(credential).cloned())
    }

    fn save(&self, credential: &str, pair: &TokenPair) -> Result<(), StoreError> {
        let mut pairs = self.pairs.lock();
        pairs.insert(credential.to_string(), pair.clone());
        Ok(())
    }
}

/// Token pairs in a JSON file, `{"credentials": {NAME: {access_token, refresh_token,
/// expires_at}}}` (`expires_at` in Unix seconds), readable by its owner only (mode 0600 on
/// Unix).
///
/// Every save writes a temporary file beside it, flushes it to disk and renames it over the
/// old one, so a crash leaves either the old file or the new one, never half of one. Saves
/// of one `FileTokenStore` are serialized; two processes must not share one file.
#[derive(Debug)]
pub struct FileTokenStore {
    path: PathBuf,
    lock: Mutex<()>,
}

#[derive(Default, Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    credentials: BTreeMap<String, StoredPair>,
}

#[derive(Serialize, Deserialize)]
struct StoredPair {
    access_token: String,
    refresh_token: String,
    expires_at: u64,
}

impl FileTokenStore {
    /// A store in this file (made on the first save).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<TokenFile, StoreError> {
        let path = || self.path.clone();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(source) => {
                return Err(StoreError::Read {
                    path: path(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|source| StoreError::NotTokenFile {
            path: path(),
            source,
        })
    }

    fn write(&self, file: &TokenFile) -> Result<(), StoreError> {
        let path = || self.path.clone();
        let text = serde_json::to_vec_pretty(file).map_err(|source| StoreError::Encode {
            path: path(),
            source,
        })?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".sluice-tokens-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|source| StoreError::TempFile {
                dir: dir.to_path_buf(),
                source,
            })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|source| StoreError::Permissions {
                    path: path(),
                    source,
                })?;
        }
        temp.write_all(&text)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|source| StoreError::Write {
                path: path(),
                source,
            })?;
        temp.persist(&self.path).map_err(|e| StoreError::Replace {
            path: path(),
            source: e.error,
        })?;
        #[cfg(unix)]
        if let Ok(dir) = std::fs::File::open(dir) {
            // Makes the rename itself durable; not every file system supports it.
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self, credential: &str) -> Result<Option<TokenPair>, StoreError> {
        let _guard = self.lock.lock();
        let file = self.read()?;
        Ok(file.credentials.get(credential).map(|stored| {
            TokenPair::new(
                stored.access_token.clone(),
                stored.refresh_token.clone(),
                SystemTime::UNIX_EPOCH + Duration::from_secs(stored.expires_at),
            )
        }))
    }

    fn save(&self, credential: &str, pair: &TokenPair) -> Result<(), StoreError> {
        let _guard = self.lock.lock();
        let mut file = self.read()?;
        let expires_at = pair
            .expires_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        file.credentials.insert(
            credential.to_string(),
            StoredPair {
                access_token: pair.access_token.expose_secret().to_string(),
                refresh_token: pair.refresh_token.expose_secret().to_string(),
                expires_at,
            },
        );
        self.write(&file)
    }
}

/// Why no access token could be had. Messages name the credential, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint refused the refresh (400, 401 or 403): the refresh token is revoked,
    /// expired or already used, or the client id or secret is wrong.
    #[error(
        "the token endpoint refused to refresh the OAuth token of credential `{credential}` (HTTP {status}: {detail}); its refresh token may be revoked or already used, or the client id or secret is wrong: authorize the app again"
    )]
    Refused {
        /// The credential's name.
        credential: String,
        /// The HTTP status.
        status: u16,
        /// What the endpoint said, secrets removed.
        detail: String,
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
    #[error("cannot reach the token endpoint for credential `{credential}`: {detail}")]
    Transport {
        /// The credential's name.
        credential: String,
        /// What went wrong.
        detail: String,
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
        }
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
    /// The tokens of `credential`, starting from `pair`; refreshed pairs go to `store`.
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
                refreshes: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// The tokens of `credential`: the pair saved in `store` if there is one (it is newer than
    /// any configured one, the refresh token having rotated), else `configured`.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the store cannot be read; [`AuthError::NoToken`] when neither
    /// has a pair.
    pub fn from_store(
        credential: impl Into<String>,
        client: OAuthClient,
        store: Arc<dyn TokenStore>,
        configured: Option<TokenPair>,
    ) -> Result<Self, AuthError> {
        let credential = credential.into();
        let saved = store.load(&credential).map_err(|e| AuthError::Store {
            credential: credential.clone(),
            detail: e.to_string(),
        })?;
        match saved.or(configured) {
            Some(pair) => Ok(Self::new(credential, client, pair, store)),
            None => Err(AuthError::NoToken { credential }),
        }
    }

    /// The credential's name.
    #[must_use]
    pub fn credential(&self) -> &str {
        &self.inner.credential
    }

    /// How many refreshes succeeded.
    #[must_use]
    pub fn refresh_count(&self) -> u64 {
        self.inner
            .refreshes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid access token: the current one, or a refreshed one when it expires within
    /// [`REFRESH_MARGIN`].
    ///
    /// # Errors
    /// The refresh failed (see [`AuthError`]).
    pub async fn access_token(&self) -> Result<SecretString, AuthError> {
        {
            let pair = self.inner.pair.lock().await;
            if !pair.expires_within(REFRESH_MARGIN) {
                return Ok(pair.access_token.clone());
            }
        }
        self.refresh(Reason::Expiring).await
    }

    /// The access token to retry with after the API answered 401 to `rejected`.
    ///
    /// Refreshes only when `rejected` is still the current access token; otherwise another
    /// caller has refreshed already and its token is returned. So any number of concurrent
    /// 401s for one token cause one refresh.
    ///
    /// # Errors
    /// The refresh failed (see [`AuthError`]).
    pub async fn refresh_after_unauthorized(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, AuthError> {
        self.refresh(Reason::Rejected(rejected.clone())).await
    }

    /// Refreshes, unless the reason no longer holds once the lock is held (single flight).
    async fn refresh(&self, reason: Reason) -> Result<SecretString, AuthError> {
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(async move {
            let mut pair = inner.pair.lock().await;
            let needed = match &reason {
                Reason::Expiring => pair.expires_within(REFRESH_MARGIN),
                Reason::Rejected(rejected) => {
                    pair.access_token.expose_secret() == rejected.expose_secret()
                }
            };
            if !needed {
                return Ok(pair.access_token.clone());
            }
            let fresh = inner.call_token_endpoint(&pair).await?;
            inner.save(&fresh).await?;
            let access = fresh.access_token.clone();
            *pair = fresh;
            inner
                .refreshes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

    /// Saves a pair on the blocking pool.
    async fn save(&self, pair: &TokenPair) -> Result<(), AuthError> {
        let store = Arc::clone(&self.store);
        let credential = self.credential.clone();
        let to_save = pair.clone();
        let saved = tokio::task::spawn_blocking(move || store.save(&credential, &to_save))
            .await
            .unwrap_or(Err(StoreError::Panicked));
        saved.map_err(|e| AuthError::Persist {
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
