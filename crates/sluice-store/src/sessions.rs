//! The web view's logged-in sessions, kept in the store so that they outlive a restart and
//! every runner behind one address knows them: the SHA-256 of the cookie's random value (the
//! value itself is never stored), the session's CSRF token and when it expires.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::time::{self, Ts};
use crate::{Store, StoreError, with_read_pool, with_write_pool};

/// A logged-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSession {
    /// The CSRF token its forms carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Records a session under the hash of its cookie value, for `ttl`; expired sessions are
    /// removed on the way.
    ///
    /// # Errors
    /// The database.
    pub async fn create_session(
        &self,
        id_hash: &str,
        csrf: &str,
        ttl: Duration,
    ) -> Result<WebSession, StoreError> {
        let now = time::now();
        let expires_at = time::plus(now, ttl);
        with_write_pool!(self, pool => {
            sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                .bind(Ts(now))
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO web_sessions (id_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id_hash)
            .bind(csrf)
            .bind(Ts(now))
            .bind(Ts(expires_at))
            .execute(pool)
            .await?;
        });
        Ok(WebSession {
            csrf: csrf.to_string(),
            expires_at,
        })
    }

    /// The session of a cookie's hash, if it exists and has not expired.
    ///
    /// # Errors
    /// The database.
    pub async fn session(&self, id_hash: &str) -> Result<Option<WebSession>, StoreError> {
        let row: Option<(String, Ts)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT csrf, expires_at FROM web_sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(Ts(time::now()))
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(csrf, Ts(expires_at))| WebSession { csrf, expires_at }))
    }

    /// Ends a session (log out).
    ///
    /// # Errors
    /// The database.
    pub async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        with_write_pool!(self, pool => {
            sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
