//! OAuth token pairs in the run store: [`StoreTokens`] is the connectors' `TokenStore` on
//! `sluice_store::Store` (pairs sealed at rest, refreshed under the store-wide lock), and the
//! old per-folder `.sluice/tokens.json` is imported on first start, then removed.

use std::path::Path;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sluice_connectors::oauth::{StoreError, StoreFuture, TokenLock, TokenPair, TokenStore};
use sluice_model::Project;

use crate::error::ProjectError;

/// The seed of a configured refresh token: its SHA-256 in hex. A stored pair descends from
/// one seed; configuring another refresh token (the app was authorised again) retires it.
#[must_use]
pub fn seed(refresh_token: &SecretString) -> String {
    Sha256::digest(refresh_token.expose_secret().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A pair as stored (JSON, sealed by the store).
#[derive(Serialize, Deserialize)]
struct StoredPair {
    access_token: String,
    refresh_token: String,
    /// Unix seconds.
    expires_at: u64,
}

fn encode(pair: &TokenPair) -> Result<String, StoreError> {
    let expires_at = pair
        .expires_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    serde_json::to_string(&StoredPair {
        access_token: pair.access_token.expose_secret().to_string(),
        refresh_token: pair.refresh_token.expose_secret().to_string(),
        expires_at,
    })
    .map_err(|e| StoreError::Message(format!("cannot encode the token pair: {e}")))
}

fn decode(text: &str) -> Result<TokenPair, StoreError> {
    let stored: StoredPair = serde_json::from_str(text)
        .map_err(|_| StoreError::Message("the stored token pair is not readable".into()))?;
    let expires_at = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(stored.expires_at))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(TokenPair::new(
        stored.access_token,
        stored.refresh_token,
        expires_at,
    ))
}

fn store_error(e: &sluice_store::StoreError) -> StoreError {
    StoreError::Message(e.to_string())
}

/// One credential's pairs in the run store, descending from the configured refresh token
/// `seed`: a stored pair of another seed is ignored (and replaced at the next refresh).
#[derive(Clone, Debug)]
pub struct StoreTokens {
    store: sluice_store::Store,
    seed: String,
}

impl StoreTokens {
    /// The pairs of `store` for credentials configured with the refresh token of `seed`.
    #[must_use]
    pub fn new(store: sluice_store::Store, seed: String) -> Self {
        Self { store, seed }
    }
}

struct StoreLock {
    lock: sluice_store::TokenLock,
    seed: String,
}

impl TokenLock for StoreLock {
    fn current(&self) -> Option<TokenPair> {
        self.lock
            .current()
            .filter(|stored| stored.seed == self.seed)
            .and_then(|stored| decode(&stored.pair).ok())
    }

    fn save(self: Box<Self>, pair: TokenPair) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            let text = encode(&pair)?;
            self.lock
                .save(&text, &self.seed)
                .await
                .map_err(|e| store_error(&e))
        })
    }
}

impl TokenStore for StoreTokens {
    fn load<'a>(&'a self, credential: &'a str) -> StoreFuture<'a, Option<TokenPair>> {
        Box::pin(async move {
            match self.store.oauth_tokens(credential).await {
                Ok(Some(stored)) if stored.seed == self.seed => decode(&stored.pair).map(Some),
                Ok(_) => Ok(None),
                Err(e) => Err(store_error(&e)),
            }
        })
    }

    fn lock<'a>(&'a self, credential: &'a str) -> StoreFuture<'a, Box<dyn TokenLock>> {
        Box::pin(async move {
            let lock = self
                .store
                .lock_oauth_tokens(credential)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(Box::new(StoreLock {
                lock,
                seed: self.seed.clone(),
            }) as Box<dyn TokenLock>)
        })
    }
}

/// The old token file: `{"credentials": {NAME: {access_token, refresh_token, expires_at}}}`.
#[derive(Deserialize)]
struct TokenFile {
    #[serde(default)]
    credentials: std::collections::BTreeMap<String, StoredPair>,
}

/// Imports `.sluice/tokens.json` of the project folder (where Sluice kept rotated pairs
/// before they moved to the run store): each pair of a credential in `seeds` goes to the store
/// (unless it has one), and once every credential of the file is imported or no longer in
/// `sluice.toml`, the file is removed.
///
/// # Errors
/// The file is not a token file, or the store cannot save.
pub async fn migrate_token_file(
    store: &sluice_store::Store,
    dir: &Path,
    project: &Project,
    seeds: &[(String, String)],
) -> Result<(), ProjectError> {
    let path = dir.join(".sluice").join("tokens.json");
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ProjectError::Io(e)),
    };
    let file: TokenFile = serde_json::from_str(&text).map_err(|e| {
        ProjectError::Credential(format!(
            "{} is not a token file ({e}); move it away to go on",
            path.display()
        ))
    })?;
    let mut left = 0;
    for (credential, stored) in &file.credentials {
        let Some((_, seed)) = seeds.iter().find(|(name, _)| name == credential) else {
            if project.credentials.contains_key(credential) {
                left += 1;
            }
            continue;
        };
        let pair = serde_json::to_string(stored)
            .map_err(|e| ProjectError::Credential(format!("cannot encode a token pair: {e}")))?;
        let imported = store.import_oauth_tokens(credential, &pair, seed).await?;
        if imported {
            tracing::info!(credential = %credential, "Moved the OAuth tokens of .sluice/tokens.json into the run store.");
        }
    }
    if left == 0 {
        fs_err::remove_file(&path)?;
        tracing::info!(file = %path.display(), "Removed the old token file: OAuth tokens live in the run store now.");
    }
    Ok(())
}
