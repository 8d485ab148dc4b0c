//! What the runners sharing one store share besides runs: rate budgets (a sliding-window log
//! per budget, claimed one permit at a time under a row lock, and paused for all when an API
//! says to stop) and looks at polled sources (one runner per trigger and period).

use std::time::Duration;

use crate::{Backend, PoolExt, Store, StoreError, with_write_pool};

/// What a permit claim found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// The permit is counted: send the request now.
    Granted,
    /// The window is full: a permit frees up after this long.
    Wait(Duration),
}

impl Store {
    /// Claims one permit of `budget`, which allows `requests` in any window of `per`: granted
    /// when the budget is not paused ([`pause_budget`](Self::pause_budget)) and fewer than
    /// `requests` permits were granted in the window ending now, across every runner of the
    /// store. Time is the database's clock on PostgreSQL (runners on several machines agree on
    /// it), this machine's on SQLite. Permits older than the window are deleted as claims go.
    pub async fn claim_permit(
        &self,
        budget: &str,
        requests: u64,
        per: Duration,
    ) -> Result<Permit, StoreError> {
        let per_us = i64::try_from(per.as_micros()).unwrap_or(i64::MAX);
        let requests = i64::try_from(requests).unwrap_or(i64::MAX);
        let now_sql = self.now_sql();
        let permit = with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO rate_budgets (budget) VALUES ($1) ON CONFLICT (budget) DO NOTHING")
                .bind(budget)
                .execute(&mut *tx)
                .await?;
            let (paused_until,): (Option<i64>,) = sqlx::query_as(&format!(
                "SELECT paused_until FROM rate_budgets WHERE budget = $1 {}",
                pool.for_update()
            ))
            .bind(budget)
            .fetch_one(&mut *tx)
            .await?;
            let (db_now,): (i64,) = sqlx::query_as(now_sql).fetch_one(&mut *tx).await?;
            let now = if db_now > 0 { db_now } else { unix_micros() };
            if let Some(until) = paused_until.filter(|until| *until > now) {
                tx.commit().await?;
                let wait = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
                return Ok(Permit::Wait(Duration::from_micros(wait.max(1))));
            }
            sqlx::query("DELETE FROM rate_permits WHERE budget = $1 AND at <= $2")
                .bind(budget)
                .bind(now.saturating_sub(per_us))
                .execute(&mut *tx)
                .await?;
            let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
                "SELECT COUNT(*), MIN(at) FROM rate_permits WHERE budget = $1",
            )
            .bind(budget)
            .fetch_one(&mut *tx)
            .await?;
            let permit = if count < requests {
                sqlx::query("INSERT INTO rate_permits (budget, at) VALUES ($1, $2)")
                    .bind(budget)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                Permit::Granted
            } else {
                let free_at = oldest.unwrap_or(now).saturating_add(per_us);
                let wait = u64::try_from(free_at.saturating_sub(now)).unwrap_or(0);
                Permit::Wait(Duration::from_micros(wait.max(1)))
            };
            tx.commit().await?;
            permit
        });
        Ok(permit)
    }

    /// Pauses `budget` for `pause` from now, for every runner of the store: no permit of it is
    /// granted before then (a 429's `Retry-After` seen by one runner holds the whole fleet). A
    /// pause only ever grows: a shorter one asked later does not end a longer one sooner.
    pub async fn pause_budget(&self, budget: &str, pause: Duration) -> Result<(), StoreError> {
        let pause_us = i64::try_from(pause.as_micros()).unwrap_or(i64::MAX);
        let now_sql = self.now_sql();
        with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (db_now,): (i64,) = sqlx::query_as(now_sql).fetch_one(&mut *tx).await?;
            let now = if db_now > 0 { db_now } else { unix_micros() };
            let until = now.saturating_add(pause_us);
            sqlx::query(
                "INSERT INTO rate_budgets (budget, paused_until) VALUES ($1, $2) \
                 ON CONFLICT (budget) DO UPDATE SET paused_until = \
                 CASE WHEN rate_budgets.paused_until IS NULL \
                 OR rate_budgets.paused_until < excluded.paused_until \
                 THEN excluded.paused_until ELSE rate_budgets.paused_until END",
            )
            .bind(budget)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The query of the clock permits and pauses are stamped with: the database's on
    /// PostgreSQL (runners on several machines agree on it); on SQLite it answers 0, for this
    /// machine's.
    fn now_sql(&self) -> &'static str {
        match &self.backend {
            Backend::Postgres(_) => {
                "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000) AS BIGINT)"
            }
            Backend::Sqlite { .. } => "SELECT CAST(0 AS BIGINT)",
        }
    }

    /// Takes the look at `trigger` for `period` (e.g. the minute number of an every-minute
    /// poll) for `runner`: true for the first runner that asks, false for every other, so a
    /// polled source is looked at once per period however many runners serve it. The records
    /// of a trigger's periods more than 100 before `period` are deleted as looks are taken.
    pub async fn claim_look(
        &self,
        trigger: &str,
        period: i64,
        runner: &str,
    ) -> Result<bool, StoreError> {
        let done = with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "INSERT INTO trigger_looks (trigger, period, runner) VALUES ($1, $2, $3) \
                 ON CONFLICT (trigger, period) DO NOTHING",
            )
            .bind(trigger)
            .bind(period)
            .bind(runner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 1 {
                sqlx::query("DELETE FROM trigger_looks WHERE trigger = $1 AND period < $2")
                    .bind(trigger)
                    .bind(period.saturating_sub(100))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done
        });
        Ok(done == 1)
    }
}

fn unix_micros() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}
