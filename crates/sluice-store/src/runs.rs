//! Runs, their steps, HTTP calls and streamed output items: recording them (in batches), and
//! pruning old ones (with a `pruned` audit record). Reading them back is `run_reads.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::chunks::fixed_chunks;
use crate::json::capped_opt;
use crate::model::{HttpCall, NewRun, Record, RunId, RunStatus, StepRecord};
use crate::time::{self, Ts};
use crate::{PoolExt, Store, StoreError, with_write_pool};

/// The statuses of runs that have ended, for SQL.
const FINAL_STATUSES: &str = "('succeeded', 'failed', 'cancelled', 'timed_out')";

/// How many run ids a `pruned` audit record names.
const PRUNED_IDS_NAMED: usize = 1000;

/// A run's row ready to insert.
pub(crate) struct RunInsert {
    pub(crate) id: RunId,
    pub(crate) flow: String,
    pub(crate) flow_hash: String,
    pub(crate) trigger: String,
    pub(crate) inputs: String,
    pub(crate) flow_path: Option<String>,
    pub(crate) status: &'static str,
    pub(crate) created_at: Ts,
    pub(crate) started_at: Option<Ts>,
    pub(crate) owner: Option<String>,
    pub(crate) lease_until: Option<Ts>,
    pub(crate) claims: i64,
}

impl RunInsert {
    pub(crate) fn new(id: RunId, new: NewRun) -> Result<RunInsert, StoreError> {
        let now = time::now();
        let inputs = serde_json::to_string(&new.inputs)?;
        let (status, started_at, owner, lease_until, claims) = match new.lease {
            Some(lease) => (
                RunStatus::Running,
                Some(Ts(now)),
                Some(lease.owner),
                Some(Ts(time::plus(now, lease.duration))),
                1,
            ),
            None => (RunStatus::Queued, None, None, None, 0),
        };
        Ok(RunInsert {
            id,
            flow: new.flow,
            flow_hash: new.flow_hash,
            trigger: new.trigger,
            inputs,
            flow_path: new.flow_path,
            status: status.as_str(),
            created_at: Ts(now),
            started_at,
            owner,
            lease_until,
            claims,
        })
    }
}

/// Inserts a [`RunInsert`] with executor `$exec` (either backend).
macro_rules! insert_run {
    ($exec:expr, $r:expr) => {
        sqlx::query(
            "INSERT INTO runs (id, flow, flow_hash, trigger, inputs, status, created_at, \
             started_at, owner, lease_until, claims, flow_path) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind($r.id.as_str())
        .bind(&$r.flow)
        .bind(&$r.flow_hash)
        .bind(&$r.trigger)
        .bind(&$r.inputs)
        .bind($r.status)
        .bind($r.created_at)
        .bind($r.started_at)
        .bind(&$r.owner)
        .bind($r.lease_until)
        .bind($r.claims)
        .bind(&$r.flow_path)
        .execute($exec)
        .await
    };
}
pub(crate) use insert_run;

/// The rows of a batch by kind, in the order they are written.
struct Batch<'r, 'a> {
    creates: Vec<&'r RunInsert>,
    /// The last record of each (run, step, item): one statement may not change a row twice.
    steps: Vec<&'r Row<'a>>,
    calls: Vec<&'r Row<'a>>,
    items: Vec<&'r Row<'a>>,
    writes: Vec<&'r Row<'a>>,
    finishes: Vec<&'r Row<'a>>,
    audits: Vec<(&'a str, Option<&'a RunId>, &'a Value)>,
}

impl<'r, 'a> Batch<'r, 'a> {
    fn sort(rows: &'r [Row<'a>]) -> Self {
        let mut batch = Batch {
            creates: Vec::new(),
            steps: Vec::new(),
            calls: Vec::new(),
            items: Vec::new(),
            writes: Vec::new(),
            finishes: Vec::new(),
            audits: Vec::new(),
        };
        let mut sent_at = std::collections::HashMap::new();
        for row in rows {
            match row {
                Row::CreateRun(r) => batch.creates.push(r),
                Row::Step { .. } => batch.steps.push(row),
                Row::Http {
                    run,
                    sent: Some(sent),
                    ..
                } => {
                    // An attempt recorded when sent and again when answered: the answer takes
                    // the place of the first record (one statement may not change a row twice).
                    match sent_at.entry((run.as_str(), *sent)) {
                        std::collections::hash_map::Entry::Occupied(at) => {
                            batch.calls[*at.get()] = row;
                        }
                        std::collections::hash_map::Entry::Vacant(at) => {
                            at.insert(batch.calls.len());
                            batch.calls.push(row);
                        }
                    }
                }
                Row::Http { .. } => batch.calls.push(row),
                Row::OutputItem { .. } => batch.items.push(row),
                Row::WriteDone { .. } => batch.writes.push(row),
                Row::FinishRun { .. } => batch.finishes.push(row),
                Row::Audit { kind, run, payload } => batch.audits.push((*kind, *run, *payload)),
            }
        }
        // A later record of the same (run, step, item) replaces an earlier one: keep the last.
        let mut seen = std::collections::HashSet::new();
        batch.steps = batch
            .steps
            .into_iter()
            .rev()
            .filter(|r| match r {
                Row::Step { run, step, .. } => {
                    seen.insert((run.as_str(), step.step.as_str(), step.item))
                }
                _ => false,
            })
            .collect();
        batch.steps.reverse();
        batch
    }
}

/// Inserts (or replaces) a chunk of step rows with executor `$exec` (either backend).
macro_rules! insert_steps {
    ($exec:expr, $chunk:expr) => {{
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO steps (run_id, step, item, status, attempts, request, \
             response_status, output, error, started_at, finished_at) ",
        );
        q.push_values($chunk, |mut b, row| {
            if let Row::Step {
                run,
                step,
                request,
                output,
                error,
            } = row
            {
                b.push_bind(run.as_str())
                    .push_bind(step.step.as_str())
                    .push_bind(item_to_db(step.item))
                    .push_bind(step.status.as_str())
                    .push_bind(i64::from(step.attempts))
                    .push_bind(request.as_deref())
                    .push_bind(step.response_status.map(i64::from))
                    .push_bind(output.as_deref())
                    .push_bind(error.as_deref())
                    .push_bind(Ts(time::micros(step.started_at)))
                    .push_bind(Ts(time::micros(step.finished_at)));
            }
        });
        q.push(
            " ON CONFLICT (run_id, step, item) DO UPDATE SET status = excluded.status, \
             attempts = excluded.attempts, request = excluded.request, \
             response_status = excluded.response_status, output = excluded.output, \
             error = excluded.error, started_at = excluded.started_at, \
             finished_at = excluded.finished_at",
        );
        q.build().execute($exec).await
    }};
}

/// Inserts a chunk of HTTP call rows with executor `$exec` (either backend).
macro_rules! insert_calls {
    ($exec:expr, $chunk:expr) => {{
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO http_calls (run_id, step, item, attempt, method, url, headers, \
             body, status, elapsed_ms, at, error, sent_id) ",
        );
        q.push_values($chunk, |mut b, row| {
            if let Row::Http {
                run,
                call,
                headers,
                body,
                sent,
            } = row
            {
                b.push_bind(run.as_str())
                    .push_bind(call.step.as_str())
                    .push_bind(item_to_db(call.item))
                    .push_bind(i64::from(call.attempt))
                    .push_bind(call.method.as_str())
                    .push_bind(call.url.as_str())
                    .push_bind(headers.as_str())
                    .push_bind(body.as_deref())
                    .push_bind(call.status.map(i64::from))
                    .push_bind(i64::try_from(call.elapsed_ms).unwrap_or(i64::MAX))
                    .push_bind(Ts(time::micros(call.at)))
                    .push_bind(call.error.as_deref())
                    .push_bind(*sent);
            }
        });
        // The answer of an attempt recorded when sent completes that record.
        q.push(
            " ON CONFLICT (run_id, sent_id) WHERE sent_id IS NOT NULL DO UPDATE SET url = excluded.url, \
             headers = excluded.headers, body = excluded.body, status = excluded.status, \
             elapsed_ms = excluded.elapsed_ms, error = excluded.error",
        );
        q.build().execute($exec).await
    }};
}

/// Inserts a chunk of output item rows with executor `$exec` (either backend); an item already
/// stored for a (run, index) is kept.
macro_rules! insert_items {
    ($exec:expr, $chunk:expr) => {{
        let mut q = sqlx::QueryBuilder::new("INSERT INTO run_output_items (run_id, idx, value) ");
        q.push_values($chunk, |mut b, row| {
            if let Row::OutputItem { run, index, value } = row {
                b.push_bind(run.as_str())
                    .push_bind(i64::from(*index))
                    .push_bind(value.as_str());
            }
        });
        q.push(" ON CONFLICT (run_id, idx) DO NOTHING");
        q.build().execute($exec).await
    }};
}

/// Marks a run finished (a [`Row::FinishRun`]) with executor `$exec`; a run that is not there
/// is an error.
macro_rules! finish_run {
    ($exec:expr, $row:expr, $now:expr) => {{
        match $row {
            Row::FinishRun {
                run,
                status,
                output,
                error,
            } => {
                let done = sqlx::query(
                    "UPDATE runs SET status = $2, finished_at = $3, lease_until = NULL, \
                     output = $4, error = $5 WHERE id = $1",
                )
                .bind(run.as_str())
                .bind(status.as_str())
                .bind($now)
                .bind(output.as_deref())
                .bind(*error)
                .execute($exec)
                .await?
                .rows_affected();
                if done == 0 {
                    Err(StoreError::NotFound(run.to_string()))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }};
}

/// A [`Record`] with its JSON already written (and capped).
enum Row<'a> {
    CreateRun(RunInsert),
    FinishRun {
        run: &'a RunId,
        status: RunStatus,
        output: Option<String>,
        error: Option<&'a str>,
    },
    Step {
        run: &'a RunId,
        step: &'a StepRecord,
        request: Option<String>,
        output: Option<String>,
        error: Option<String>,
    },
    Http {
        run: &'a RunId,
        call: &'a HttpCall,
        headers: String,
        body: Option<String>,
        /// The attempt's id when it is recorded when sent and when answered.
        sent: Option<i64>,
    },
    OutputItem {
        run: &'a RunId,
        index: u32,
        value: String,
    },
    WriteDone {
        key: &'a str,
        response: String,
    },
    Audit {
        kind: &'a str,
        run: Option<&'a RunId>,
        payload: &'a Value,
    },
}

impl<'a> Row<'a> {
    fn new(record: &'a Record, cap: Option<usize>) -> Result<Row<'a>, StoreError> {
        Ok(match record {
            Record::CreateRun(id, new) => Row::CreateRun(RunInsert::new(id.clone(), new.clone())?),
            Record::FinishRun {
                run,
                status,
                output,
                error,
            } => {
                if !status.is_final() {
                    return Err(StoreError::Invalid(format!(
                        "a run cannot finish as `{status}`"
                    )));
                }
                Row::FinishRun {
                    run,
                    status: *status,
                    output: capped_opt(output.as_ref(), cap)?,
                    error: error.as_deref(),
                }
            }
            Record::Step(run, step) => Row::Step {
                run,
                step,
                request: capped_opt(step.request.as_ref(), cap)?,
                output: capped_opt(step.output.as_ref(), cap)?,
                error: capped_opt(step.error.as_ref(), cap)?,
            },
            Record::Http(run, call) => Row::Http {
                run,
                call,
                headers: serde_json::to_string(&call.headers)?,
                body: capped_opt(call.body.as_ref(), cap)?,
                sent: None,
            },
            Record::HttpAttempt { run, sent, call } => Row::Http {
                run,
                call,
                headers: serde_json::to_string(&call.headers)?,
                body: capped_opt(call.body.as_ref(), cap)?,
                sent: Some(*sent),
            },
            Record::OutputItem { run, index, value } => Row::OutputItem {
                run,
                index: *index,
                value: crate::json::capped(value, cap)?,
            },
            // An answer is reused by a resumed run: it is never capped.
            Record::WriteDone { key, response } => Row::WriteDone {
                key,
                response: serde_json::to_string(response)?,
            },
            Record::Audit { kind, run, payload } => Row::Audit {
                kind,
                run: run.as_ref(),
                payload,
            },
        })
    }
}

/// A `for_each` item index as stored (-1: none).
pub(crate) fn item_to_db(item: Option<u32>) -> i64 {
    item.map_or(-1, i64::from)
}

impl Store {
    /// Records a new run: queued, or running under `new.lease`. Returns its id.
    pub async fn create_run(&self, new: NewRun) -> Result<RunId, StoreError> {
        let row = RunInsert::new(RunId::new(), new)?;
        with_write_pool!(self, pool => { insert_run!(pool, row)?; });
        Ok(row.id)
    }

    /// Starts (or resumes) run `id` for `owner` under a lease of `lease`: succeeds when the run
    /// is queued, already held by `owner`, or running under a lease that has expired (a crashed
    /// runner's). Returns whether `owner` now holds it.
    pub async fn start_run(
        &self,
        id: &RunId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let now = time::now();
        let until = time::plus(now, lease);
        let done = with_write_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'running', owner = $2, lease_until = $3, \
                 started_at = COALESCE(started_at, $4), claims = claims + 1 \
                 WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND \
                 (owner = $2 OR lease_until IS NULL OR lease_until < $4)))",
            )
            .bind(id.as_str())
            .bind(owner)
            .bind(Ts(until))
            .bind(Ts(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Ends run `id` with a final `status`, its output and error; clears its lease.
    pub async fn finish_run(
        &self,
        id: &RunId,
        status: RunStatus,
        output: Option<&Value>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.record_batch(&[Record::FinishRun {
            run: id.clone(),
            status,
            output: output.cloned(),
            error: error.map(str::to_string),
        }])
        .await
    }

    /// Records a finished step (or `for_each` item), replacing an earlier record of the same
    /// (run, step, item). Committed before it returns, so a resumed run skips it.
    pub async fn record_step(&self, run: &RunId, step: &StepRecord) -> Result<(), StoreError> {
        self.record_batch(&[Record::Step(run.clone(), step.clone())])
            .await
    }

    /// Records one HTTP attempt of a step.
    pub async fn record_http_call(&self, run: &RunId, call: &HttpCall) -> Result<(), StoreError> {
        self.record_batch(&[Record::Http(run.clone(), call.clone())])
            .await
    }

    /// Records many things in one transaction (one commit: the way to record thousands of
    /// steps a second). All or nothing. Rows of a kind go in together, in multi-row statements:
    /// new runs first, then steps, HTTP calls, output items, write answers, finished runs and audit records
    /// (in their given order).
    pub async fn record_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // An attempt recorded when sent and answered within one batch is written once: only
        // its last record becomes a row (the others are not even serialized).
        let mut last_of_attempt = std::collections::HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Record::HttpAttempt { run, sent, .. } = r {
                last_of_attempt.insert((run.as_str(), *sent), i);
            }
        }
        let rows = records
            .iter()
            .enumerate()
            .filter(|(i, r)| match r {
                Record::HttpAttempt { run, sent, .. } => {
                    last_of_attempt.get(&(run.as_str(), *sent)) == Some(i)
                }
                _ => true,
            })
            .map(|(_, r)| Row::new(r, self.output_cap))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = Batch::sort(&rows);
        let now = Ts(time::now());
        with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for r in &batch.creates {
                insert_run!(&mut *tx, r)?;
            }
            for chunk in fixed_chunks(&batch.steps) {
                insert_steps!(&mut *tx, chunk)?;
            }
            for chunk in fixed_chunks(&batch.calls) {
                insert_calls!(&mut *tx, chunk)?;
            }
            for chunk in fixed_chunks(&batch.items) {
                insert_items!(&mut *tx, chunk)?;
            }
            for row in &batch.writes {
                if let Row::WriteDone { key, response } = row {
                    sqlx::query(
                        "UPDATE write_intents SET response = $2, done_at = $3 WHERE key = $1",
                    )
                    .bind(*key)
                    .bind(response.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for row in &batch.finishes {
                finish_run!(&mut *tx, row, now)?;
            }
            if !batch.audits.is_empty() {
                crate::audit::append_many!(tx, pool, &batch.audits)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes runs that ended more than `age` ago, with their steps, HTTP calls, output items
    /// and write intents, and schedule ticks older than that; runs still queued or running are kept. The
    /// audit log is never pruned: a `pruned` record names what was removed, in the same
    /// transaction. Returns how many runs were removed.
    pub async fn prune_older_than(&self, age: Duration) -> Result<u64, StoreError> {
        let cutoff = time::minus(time::now(), age);
        let old = format!(
            "SELECT id FROM runs WHERE status IN {FINAL_STATUSES} \
             AND COALESCE(finished_at, created_at) < $1"
        );
        let del_calls = format!("DELETE FROM http_calls WHERE run_id IN ({old})");
        let del_steps = format!("DELETE FROM steps WHERE run_id IN ({old})");
        let del_intents = format!("DELETE FROM write_intents WHERE run_id IN ({old})");
        let del_items = format!("DELETE FROM run_output_items WHERE run_id IN ({old})");
        let del_runs = format!(
            "DELETE FROM runs WHERE status IN {FINAL_STATUSES} \
             AND COALESCE(finished_at, created_at) < $1 RETURNING id"
        );
        with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let calls = sqlx::query(&del_calls).bind(Ts(cutoff)).execute(&mut *tx).await?.rows_affected();
            let steps = sqlx::query(&del_steps).bind(Ts(cutoff)).execute(&mut *tx).await?.rows_affected();
            let intents = sqlx::query(&del_intents).bind(Ts(cutoff)).execute(&mut *tx).await?.rows_affected();
            let items = sqlx::query(&del_items).bind(Ts(cutoff)).execute(&mut *tx).await?.rows_affected();
            let mut ids: Vec<(String,)> = sqlx::query_as(&del_runs).bind(Ts(cutoff)).fetch_all(&mut *tx).await?;
            let fires = sqlx::query("DELETE FROM schedule_fires WHERE fire_time < $1")
                .bind(Ts(cutoff))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let runs = ids.len() as u64;
            if runs + steps + calls + intents + fires > 0 {
                ids.sort();
                let named: Vec<&str> = ids.iter().take(PRUNED_IDS_NAMED).map(|r| r.0.as_str()).collect();
                let payload = json!({
                    "older_than": time::text(cutoff),
                    "runs": runs,
                    "run_ids": named,
                    "run_ids_complete": ids.len() <= PRUNED_IDS_NAMED,
                    "steps": steps,
                    "http_calls": calls,
                    "write_intents": intents,
                    "output_items": items,
                    "schedule_fires": fires,
                });
                crate::audit::append!(tx, pool, "pruned", None::<&RunId>, &payload)?;
            }
            tx.commit().await?;
            Ok(runs)
        })
    }

    /// Records the tick `fire_time` of `flow`'s schedule and, in the same transaction, queues
    /// `new`; only the first caller for a (flow, fire time) succeeds, across all runners.
    /// Returns the queued run's id, or `None` when the tick had already fired.
    pub async fn schedule_fire_run(
        &self,
        flow: &str,
        fire_time: DateTime<Utc>,
        new: NewRun,
    ) -> Result<Option<RunId>, StoreError> {
        let row = RunInsert::new(RunId::new(), new)?;
        with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let first = sqlx::query(
                "INSERT INTO schedule_fires (flow, fire_time, fired_at, run_id) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (flow, fire_time) DO NOTHING",
            )
            .bind(flow)
            .bind(Ts(time::micros(fire_time)))
            .bind(row.created_at)
            .bind(row.id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !first {
                tx.rollback().await?;
                return Ok(None);
            }
            insert_run!(&mut *tx, row)?;
            tx.commit().await?;
        });
        Ok(Some(row.id))
    }
}
