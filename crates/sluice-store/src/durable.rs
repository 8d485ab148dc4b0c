//! What makes runs durable across crashes and runners: write intents keyed by idempotency key,
//! leases on runs (claim, renew, take over when expired) and schedule ticks that fire once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::json::parse_opt;
use crate::model::{RunId, WriteState};
use crate::time::{self, Ts};
use crate::{PoolExt, Store, StoreError, with_write_pool};

impl Store {
    /// Records the intent to send a write with idempotency `key` (deterministic: run, step,
    /// item) for run `run`, unless one is recorded already. Tells the engine what to do:
    /// [`WriteState::New`] (send it), [`WriteState::Pending`] (sent before, outcome unknown) or
    /// [`WriteState::Done`] (done; reuse the stored answer).
    pub async fn write_intent(
        &self,
        run: &RunId,
        key: &str,
        request: &Value,
    ) -> Result<WriteState, StoreError> {
        let request = serde_json::to_string(request)?;
        let existing: Option<Option<String>> = with_write_pool!(self, pool => {
            let inserted = sqlx::query(
                "INSERT INTO write_intents (key, run_id, request, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(run.as_str())
            .bind(&request)
            .bind(Ts(time::now()))
            .execute(pool)
            .await?
            .rows_affected();
            if inserted == 1 {
                None
            } else {
                let (response,): (Option<String>,) =
                    sqlx::query_as("SELECT response FROM write_intents WHERE key = $1")
                        .bind(key)
                        .fetch_one(pool)
                        .await?;
                Some(response)
            }
        });
        Ok(match existing {
            None => WriteState::New,
            Some(response) => match parse_opt(response, "a write's response")? {
                None => WriteState::Pending,
                Some(answer) => WriteState::Done(answer),
            },
        })
    }

    /// Records the answer of the write with idempotency `key`: later calls of
    /// [`Store::write_intent`] with that key return [`WriteState::Done`] with it.
    pub async fn write_done(&self, key: &str, response: &Value) -> Result<(), StoreError> {
        let response = serde_json::to_string(response)?;
        let done = with_write_pool!(self, pool => {
            sqlx::query("UPDATE write_intents SET response = $2, done_at = $3 WHERE key = $1")
                .bind(key)
                .bind(response)
                .bind(Ts(time::now()))
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound(format!("write intent `{key}`")));
        }
        Ok(())
    }

    /// Forgets the intent with idempotency `key`, when the write is known not to have been
    /// applied (e.g. the server refused it): the next [`Store::write_intent`] returns
    /// [`WriteState::New`] again.
    pub async fn write_forget(&self, key: &str) -> Result<(), StoreError> {
        with_write_pool!(self, pool => {
            sqlx::query("DELETE FROM write_intents WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Claims up to `max` runs for `owner` under a lease of `lease`, oldest first: queued runs,
    /// and running runs whose lease has expired (a dead runner's, taken over). No run is given
    /// to two claimers (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one `UPDATE … RETURNING`
    /// in an immediate transaction).
    pub async fn claim_runs(
        &self,
        owner: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<RunId>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = time::now();
        let until = time::plus(now, lease);
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let mut ids: Vec<(String,)> = with_write_pool!(self, pool => {
            let sql = format!(
                "UPDATE runs SET status = 'running', owner = $1, lease_until = $2, \
                 started_at = COALESCE(started_at, $3), claims = claims + 1 \
                 WHERE id IN (SELECT id FROM runs WHERE status = 'queued' \
                 OR (status = 'running' AND (lease_until IS NULL OR lease_until < $3)) \
                 ORDER BY created_at, id LIMIT $4 {}) RETURNING id",
                pool.skip_locked()
            );
            let mut tx = pool.begin_write().await?;
            let ids = sqlx::query_as(&sql)
                .bind(owner)
                .bind(Ts(until))
                .bind(Ts(now))
                .bind(max)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            ids
        });
        ids.sort();
        Ok(ids.into_iter().map(|(id,)| RunId::from_db(id)).collect())
    }

    /// Extends `owner`'s lease on run `run` to `lease` from now. Returns false when `owner` no
    /// longer holds the run (it ended, or another runner took it over): stop working on it.
    pub async fn renew_lease(
        &self,
        run: &RunId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = time::plus(time::now(), lease);
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET lease_until = $3 \
                 WHERE id = $1 AND owner = $2 AND status = 'running'",
            )
            .bind(run.as_str())
            .bind(owner)
            .bind(Ts(until))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Reopens run `run`, which ended failed, cancelled or timed out, for `owner` under a lease
    /// of `lease`, to resume it (its finished steps are kept). Returns false when the run is not
    /// in such a state.
    pub async fn reopen_run(
        &self,
        run: &RunId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = time::plus(time::now(), lease);
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'running', owner = $2, lease_until = $3, \
                 finished_at = NULL, output = NULL, error = NULL, claims = claims + 1 \
                 WHERE id = $1 AND status IN ('failed', 'cancelled', 'timed_out')",
            )
            .bind(run.as_str())
            .bind(owner)
            .bind(Ts(until))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Takes run `run` over from `from_owner`, known to be gone (e.g. a `sluice run` process
    /// that no longer exists), without waiting for its lease to expire. Returns false when the
    /// run is not running under `from_owner` any more.
    pub async fn take_over_run(
        &self,
        run: &RunId,
        owner: &str,
        lease: Duration,
        from_owner: &str,
    ) -> Result<bool, StoreError> {
        let until = time::plus(time::now(), lease);
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET owner = $2, lease_until = $3, claims = claims + 1 \
                 WHERE id = $1 AND owner = $4 AND status = 'running'",
            )
            .bind(run.as_str())
            .bind(owner)
            .bind(Ts(until))
            .bind(from_owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Records that the tick `fire_time` of `flow`'s schedule fired. True only for the first
    /// caller for a (flow, fire time), across all runners sharing the store. To queue the
    /// tick's run in the same transaction, use [`Store::schedule_fire_run`].
    pub async fn schedule_fire(
        &self,
        flow: &str,
        fire_time: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO schedule_fires (flow, fire_time, fired_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (flow, fire_time) DO NOTHING",
            )
            .bind(flow)
            .bind(Ts(time::micros(fire_time)))
            .bind(Ts(time::now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }
}
