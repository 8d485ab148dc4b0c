//! Secrets kept in the store (`{ store = "NAME" }` in `sluice.toml`): set with
//! `sluice secrets set NAME` (value from standard input), read when a flow runs. Setting one
//! writes an audit record with its name, never its value.

use serde_json::json;

use crate::time::{self, Ts};
use crate::{Store, StoreError, with_read_pool, with_write_pool};

impl Store {
    /// Stores (or replaces) the secret `name`.
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), StoreError> {
        with_write_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO secrets (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(Ts(time::now()))
            .execute(pool)
            .await?;
        });
        self.audit("secret_set", None, &json!({ "name": name }))
            .await
    }

    /// The secret `name`, if stored.
    pub async fn get_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(v,)| v))
    }
}
