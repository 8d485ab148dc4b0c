//! Secrets kept in the store (`{ store = "NAME" }` in `sluice.toml`): set with
//! `sluice secrets set NAME` (value from standard input), read when a flow runs, encrypted at
//! rest (`crypto`). Setting one writes an audit record with its name, never its value.

use serde_json::json;

use crate::time::{self, Ts};
use crate::{Store, StoreError, with_read_pool, with_write_pool};

/// The sealing context of a secret: its table and name.
fn context(name: &str) -> String {
    format!("secrets/{name}")
}

impl Store {
    /// Stores (or replaces) the secret `name`, encrypted.
    ///
    /// # Errors
    /// No key to seal it with (PostgreSQL without `$SLUICE_SECRET_KEY`), or the database.
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let sealed = self.keys.seal(&context(name), value.as_bytes())?;
        with_write_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO secrets (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(&sealed)
            .bind(Ts(time::now()))
            .execute(pool)
            .await?;
        });
        self.audit("secret_set", None, &json!({ "name": name }))
            .await
    }

    /// The secret `name`, if stored.
    ///
    /// # Errors
    /// The key it was sealed with is not given, the value was altered, or the database.
    pub async fn get_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        let Some((stored,)) = row else {
            return Ok(None);
        };
        match self.keys.open(&context(name), &stored)? {
            Some(plain) => String::from_utf8(plain)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("secret `{name}` is not text"))),
            // Written before secrets were encrypted (sealed on the next open with a key).
            None => Ok(Some(stored)),
        }
    }

    /// Seals the secrets written before secrets were encrypted, when a key is at hand (a
    /// SQLite store makes its key file for them). PostgreSQL without a key leaves them until
    /// one is given.
    pub(crate) async fn seal_plain_secrets(&self) -> Result<(), StoreError> {
        let rows: Vec<(String, String)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT name, value FROM secrets WHERE value NOT LIKE 'sluice:v1:%'")
                .fetch_all(pool)
                .await?
        });
        for (name, plain) in rows {
            let sealed = match self.keys.seal(&context(&name), plain.as_bytes()) {
                Ok(sealed) => sealed,
                Err(StoreError::Key(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
            with_write_pool!(self, pool => {
                sqlx::query("UPDATE secrets SET value = $1 WHERE name = $2 AND value = $3")
                    .bind(&sealed)
                    .bind(&name)
                    .bind(&plain)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(())
    }

    /// Seals every secret and OAuth token pair with the current key (after a key rotation:
    /// the previous key is given in `$SLUICE_SECRET_KEY_PREVIOUS` until this has run). Returns
    /// how many values were sealed again.
    ///
    /// # Errors
    /// A value sealed with a key that is not given, or the database.
    pub async fn rekey(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        let secrets: Vec<(String, String)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT name, value FROM secrets").fetch_all(pool).await?
        });
        for (name, stored) in secrets {
            if self.keys.is_current(&stored)? {
                continue;
            }
            let plain = self
                .keys
                .open(&context(&name), &stored)?
                .unwrap_or_else(|| stored.clone().into_bytes());
            let sealed = self.keys.seal(&context(&name), &plain)?;
            with_write_pool!(self, pool => {
                sqlx::query("UPDATE secrets SET value = $1 WHERE name = $2 AND value = $3")
                    .bind(&sealed)
                    .bind(&name)
                    .bind(&stored)
                    .execute(pool)
                    .await?;
            });
            count += 1;
        }
        count += self.rekey_oauth_tokens().await?;
        self.audit("secrets_rekeyed", None, &json!({ "values": count }))
            .await?;
        Ok(count)
    }
}
