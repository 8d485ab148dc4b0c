//! Trigger state: keys that fired once (webhook deliveries, due tasks, polled items) recorded
//! with the run they queued in one transaction; the last schedule tick; runs handed back at
//! shutdown; counts for the runner's metrics and overlap policy.

use chrono::{DateTime, Utc};

use crate::model::{NewRun, RunId, RunStatus};
use crate::runs::RunInsert;
use crate::time::{self, Ts};
use crate::{PoolExt, Store, StoreError, with_read_pool, with_write_pool};

impl Store {
    /// Records that `key` of `trigger` (e.g. `webhook:contact-360` and a `webhookId`) fired
    /// and, in the same transaction, queues `new` (when given). Only the first caller for a
    /// (trigger, key) succeeds, across all runners: returns the queued run's id (or `Some` of
    /// a fresh id when no run was asked for), `None` when the key had fired already.
    pub async fn fire_once(
        &self,
        trigger: &str,
        key: &str,
        new: Option<NewRun>,
    ) -> Result<Option<RunId>, StoreError> {
        let id = RunId::new();
        let row = new.map(|n| RunInsert::new(id.clone(), n)).transpose()?;
        with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let first = sqlx::query(
                "INSERT INTO trigger_keys (trigger, key, fired_at, run_id) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (trigger, key) DO NOTHING",
            )
            .bind(trigger)
            .bind(key)
            .bind(Ts(time::now()))
            .bind(row.as_ref().map(|r| r.id.as_str()))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !first {
                tx.rollback().await?;
                return Ok(None);
            }
            if let Some(row) = &row {
                crate::runs::insert_run!(&mut *tx, row)?;
            }
            tx.commit().await?;
        });
        Ok(Some(id))
    }

    /// Whether `trigger` has recorded any key (a poll trigger's first look records what is
    /// there without firing).
    pub async fn trigger_has_keys(&self, trigger: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM trigger_keys WHERE trigger = $1 LIMIT 1")
                .bind(trigger)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.is_some())
    }

    /// The latest tick of `flow`'s schedule that fired, if any.
    pub async fn last_fire(&self, flow: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(Ts,)> = with_read_pool!(self, pool => {
            sqlx::query_as(
                "SELECT fire_time FROM schedule_fires WHERE flow = $1 ORDER BY fire_time DESC LIMIT 1",
            )
            .bind(flow)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(t,)| t.0))
    }

    /// Hands run `run` back (queued, no owner) when `owner` stops before finishing it (a
    /// graceful shutdown): another runner claims and resumes it. False when `owner` did not
    /// hold it.
    pub async fn release_run(&self, run: &RunId, owner: &str) -> Result<bool, StoreError> {
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND owner = $2 AND status = 'running'",
            )
            .bind(run.as_str())
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// How many runs have `status` (of `flow`, when given).
    pub async fn count_runs(
        &self,
        status: RunStatus,
        flow: Option<&str>,
    ) -> Result<u64, StoreError> {
        let (n,): (i64,) = with_read_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM runs WHERE status = $1 AND ($2 IS NULL OR flow = $2)",
            )
            .bind(status.as_str())
            .bind(flow)
            .fetch_one(pool)
            .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
