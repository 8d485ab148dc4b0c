//! OAuth token pairs in the store, shared by every runner: read freely, refreshed under a
//! store-wide lock ([`TokenLock`]: a PostgreSQL advisory lock, or SQLite's write lock, held in
//! a transaction) so exactly one runner calls the token endpoint and the others read what it
//! saved. Pairs are sealed at rest like the secrets.

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::time::{self, Ts};
use crate::{Backend, PoolExt, Store, StoreError, with_read_pool, with_write_pool};

/// The longest a runner waits for another's refresh of the same credential (PostgreSQL).
const LOCK_TIMEOUT: &str = "90s";

/// A credential's pair as stored: the pair's JSON (opened), the seed it descends from, and
/// how many times it was saved.
#[derive(Clone)]
pub struct StoredTokens {
    /// The pair, as the caller saved it (JSON text; it holds secrets).
    pub pair: String,
    /// The SHA-256 (hex) of the configured refresh token the pair descends from.
    pub seed: String,
    /// Saves so far (1 for the first).
    pub version: i64,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("seed", &self.seed)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The sealing context of a credential's pair.
fn context(credential: &str) -> String {
    format!("oauth_tokens/{credential}")
}

/// The advisory lock key of a credential (PostgreSQL).
fn lock_key(credential: &str) -> i64 {
    let digest = Sha256::digest(format!("sluice-oauth:{credential}"));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

enum LockTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A credential's pair held under the store-wide refresh lock. [`save`](Self::save) writes
/// the new pair and releases the lock; dropping it releases the lock and changes nothing.
pub struct TokenLock {
    store: Store,
    credential: String,
    current: Option<StoredTokens>,
    tx: LockTx,
}

impl std::fmt::Debug for TokenLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenLock")
            .field("credential", &self.credential)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The stored pair of `credential`, if any.
    ///
    /// # Errors
    /// The key it was sealed with is not given, or the database.
    pub async fn oauth_tokens(&self, credential: &str) -> Result<Option<StoredTokens>, StoreError> {
        let row: Option<(String, String, i64)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT pair, seed, version FROM oauth_tokens WHERE credential = $1")
                .bind(credential)
                .fetch_optional(pool)
                .await?
        });
        row.map(|row| self.open_tokens(credential, row)).transpose()
    }

    fn open_tokens(
        &self,
        credential: &str,
        (sealed, seed, version): (String, String, i64),
    ) -> Result<StoredTokens, StoreError> {
        let plain = self
            .keys
            .open(&context(credential), &sealed)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("the OAuth tokens of `{credential}` are not sealed"))
            })?;
        let pair = String::from_utf8(plain).map_err(|_| {
            StoreError::Corrupt(format!("the OAuth tokens of `{credential}` are not text"))
        })?;
        Ok(StoredTokens {
            pair,
            seed,
            version,
        })
    }

    /// Takes the store-wide refresh lock of `credential` (waiting while another process holds
    /// it) and reads its pair under it.
    ///
    /// # Errors
    /// The lock was not had in time, the pair cannot be opened, or the database.
    pub async fn lock_oauth_tokens(&self, credential: &str) -> Result<TokenLock, StoreError> {
        let select = "SELECT pair, seed, version FROM oauth_tokens WHERE credential = $1";
        let (tx, row) = match &self.backend {
            Backend::Sqlite { write, .. } => {
                // BEGIN IMMEDIATE: SQLite's write lock, across processes.
                let mut tx = write.begin_write().await?;
                let row: Option<(String, String, i64)> = sqlx::query_as(select)
                    .bind(credential)
                    .fetch_optional(&mut *tx)
                    .await?;
                (LockTx::Sqlite(tx), row)
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin_write().await?;
                sqlx::Executor::execute(
                    &mut *tx,
                    format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'").as_str(),
                )
                .await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(lock_key(credential))
                    .execute(&mut *tx)
                    .await?;
                let row: Option<(String, String, i64)> = sqlx::query_as(select)
                    .bind(credential)
                    .fetch_optional(&mut *tx)
                    .await?;
                (LockTx::Postgres(tx), row)
            }
        };
        let current = row
            .map(|row| self.open_tokens(credential, row))
            .transpose()?;
        Ok(TokenLock {
            store: self.clone(),
            credential: credential.to_string(),
            current,
            tx,
        })
    }

    /// Saves `pair` for `credential` unless the store has one already (importing pairs kept
    /// elsewhere before, e.g. the old `.sluice/tokens.json`). Returns whether it was saved.
    ///
    /// # Errors
    /// No key to seal it with, or the database.
    pub async fn import_oauth_tokens(
        &self,
        credential: &str,
        pair: &str,
        seed: &str,
    ) -> Result<bool, StoreError> {
        let sealed = self.keys.seal(&context(credential), pair.as_bytes())?;
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oauth_tokens (credential, pair, seed, version, updated_at) \
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (credential) DO NOTHING",
            )
            .bind(credential)
            .bind(&sealed)
            .bind(seed)
            .bind(Ts(time::now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done > 0 {
            self.audit(
                "oauth_tokens_imported",
                None,
                &json!({ "credential": credential }),
            )
            .await?;
        }
        Ok(done > 0)
    }

    /// Seals every stored pair with the current key; how many were sealed again.
    pub(crate) async fn rekey_oauth_tokens(&self) -> Result<usize, StoreError> {
        let rows: Vec<(String, String)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT credential, pair FROM oauth_tokens").fetch_all(pool).await?
        });
        let mut count = 0;
        for (credential, stored) in rows {
            if self.keys.is_current(&stored)? {
                continue;
            }
            let plain = self
                .keys
                .open(&context(&credential), &stored)?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the OAuth tokens of `{credential}` are not sealed"
                    ))
                })?;
            let sealed = self.keys.seal(&context(&credential), &plain)?;
            with_write_pool!(self, pool => {
                sqlx::query("UPDATE oauth_tokens SET pair = $1 WHERE credential = $2 AND pair = $3")
                    .bind(&sealed)
                    .bind(&credential)
                    .bind(&stored)
                    .execute(pool)
                    .await?;
            });
            count += 1;
        }
        Ok(count)
    }
}

impl TokenLock {
    /// The pair stored when the lock was taken (another runner may have refreshed it).
    #[must_use]
    pub fn current(&self) -> Option<&StoredTokens> {
        self.current.as_ref()
    }

    /// Saves `pair` (descending from `seed`) and releases the lock; durable when it returns.
    ///
    /// # Errors
    /// No key to seal it with, or the database (then nothing was saved).
    pub async fn save(self, pair: &str, seed: &str) -> Result<(), StoreError> {
        let sealed = self
            .store
            .keys
            .seal(&context(&self.credential), pair.as_bytes())?;
        let version = self.current.as_ref().map_or(1, |c| c.version + 1);
        let upsert = "INSERT INTO oauth_tokens (credential, pair, seed, version, updated_at) \
                      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential) DO UPDATE SET \
                      pair = excluded.pair, seed = excluded.seed, version = excluded.version, \
                      updated_at = excluded.updated_at";
        match self.tx {
            LockTx::Sqlite(mut tx) => {
                sqlx::query(upsert)
                    .bind(&self.credential)
                    .bind(&sealed)
                    .bind(seed)
                    .bind(version)
                    .bind(Ts(time::now()))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            LockTx::Postgres(mut tx) => {
                sqlx::query(upsert)
                    .bind(&self.credential)
                    .bind(&sealed)
                    .bind(seed)
                    .bind(version)
                    .bind(Ts(time::now()))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        self.store
            .audit(
                "oauth_tokens_saved",
                None,
                &json!({ "credential": self.credential, "version": version }),
            )
            .await
    }
}
