//! Runs, their steps, HTTP calls and streamed output items: recording them, listing and showing
//! them, exporting them as JSON Lines and pruning old ones (with a `pruned` audit record).

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::chunks::fixed_chunks;
use crate::json::{capped_opt, parse, parse_opt};
use crate::model::{
    HttpCall, NewRun, Omitted, Record, RunDetail, RunFilter, RunHead, RunId, RunStatus, RunSummary,
    StepRecord, StepStatus,
};
use crate::time::{self, Ts};
use crate::{PoolExt, Store, StoreError, with_read_pool, with_write_pool};

/// The columns of a run, in [`RunRow`] order.
const RUN_COLS: &str = "id, flow, flow_hash, trigger, inputs, status, created_at, started_at, \
                        finished_at, owner, lease_until, claims, output, error, flow_path";
type RunRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Ts,
    Option<Ts>,
    Option<Ts>,
    Option<String>,
    Option<Ts>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The columns of a run summary, in [`SummaryRow`] order.
const SUMMARY_COLS: &str = "id, flow, trigger, status, created_at, started_at, finished_at";
type SummaryRow = (String, String, String, String, Ts, Option<Ts>, Option<Ts>);

/// The columns of a step, in [`StepRow`] order.
const STEP_COLS: &str = "step, item, status, attempts, request, response_status, output, error, \
                         started_at, finished_at";
type StepRow = (
    String,
    i64,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Ts,
    Ts,
);

/// The columns of an HTTP call, in [`HttpRow`] order.
const HTTP_COLS: &str =
    "step, item, attempt, method, url, headers, body, status, elapsed_ms, at, error";
type HttpRow = (
    String,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    Ts,
    Option<String>,
);

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

fn item_from_db(item: i64) -> Result<Option<u32>, StoreError> {
    if item < 0 {
        return Ok(None);
    }
    u32::try_from(item)
        .map(Some)
        .map_err(|_| StoreError::Corrupt(format!("item index {item} out of range")))
}

fn u32_from_db(n: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n} out of range")))
}

fn status_from_db(n: Option<i64>) -> Result<Option<u16>, StoreError> {
    n.map(|n| {
        u16::try_from(n).map_err(|_| StoreError::Corrupt(format!("HTTP status {n} out of range")))
    })
    .transpose()
}

fn step_from_row(row: StepRow) -> Result<StepRecord, StoreError> {
    let (step, item, status, attempts, request, response_status, output, error, start, end) = row;
    Ok(StepRecord {
        item: item_from_db(item)?,
        status: StepStatus::from_db(&status)?,
        attempts: u32_from_db(attempts, "attempts")?,
        request: parse_opt(request, "a step's request")?,
        response_status: status_from_db(response_status)?,
        output: parse_opt(output, "a step's output")?,
        error: parse_opt(error, "a step's error")?,
        started_at: start.0,
        finished_at: end.0,
        step,
    })
}

fn http_from_row(row: HttpRow) -> Result<HttpCall, StoreError> {
    let (step, item, attempt, method, url, headers, body, status, elapsed_ms, at, error) = row;
    let headers: Vec<(String, String)> = serde_json::from_str(&headers)
        .map_err(|e| StoreError::Corrupt(format!("an HTTP call's headers: {e}")))?;
    Ok(HttpCall {
        step,
        item: item_from_db(item)?,
        attempt: u32_from_db(attempt, "attempt")?,
        method,
        url,
        headers,
        body: parse_opt(body, "an HTTP call's body")?,
        status: status_from_db(status)?,
        elapsed_ms: u64::try_from(elapsed_ms)
            .map_err(|_| StoreError::Corrupt(format!("elapsed_ms {elapsed_ms} out of range")))?,
        at: at.0,
        error,
    })
}

fn summary_from_row(row: SummaryRow) -> Result<RunSummary, StoreError> {
    let (id, flow, trigger, status, created, started, finished) = row;
    Ok(RunSummary {
        id: RunId::from_db(id),
        flow,
        trigger,
        status: RunStatus::from_db(&status)?,
        created_at: created.0,
        started_at: started.map(|t| t.0),
        finished_at: finished.map(|t| t.0),
    })
}

fn head_from_row(run: RunRow) -> Result<RunHead, StoreError> {
    let (
        id,
        flow,
        flow_hash,
        trigger,
        inputs,
        status,
        created,
        started,
        finished,
        owner,
        lease,
        claims,
        output,
        error,
        flow_path,
    ) = run;
    Ok(RunHead {
        id: RunId::from_db(id),
        flow,
        flow_hash,
        flow_path,
        trigger,
        inputs: parse(&inputs, "a run's inputs")?,
        status: RunStatus::from_db(&status)?,
        created_at: created.0,
        started_at: started.map(|t| t.0),
        finished_at: finished.map(|t| t.0),
        owner,
        lease_until: lease.map(|t| t.0),
        claims: u32_from_db(claims, "claims")?,
        output: parse_opt(output, "a run's output")?,
        error,
    })
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

    /// The steps (and items) of run `run` that finished — succeeded, failed or skipped, not
    /// cancelled — with their outputs, in the order they started: what a resumed run skips.
    /// An output that was capped comes back as the marker ([`crate::is_truncated`]).
    pub async fn finished_steps(&self, run: &RunId) -> Result<Vec<StepRecord>, StoreError> {
        let sql = format!(
            "SELECT {STEP_COLS} FROM steps WHERE run_id = $1 AND status <> 'cancelled' \
             ORDER BY started_at, step, item"
        );
        let rows: Vec<StepRow> = with_read_pool!(self, pool => {
            sqlx::query_as(&sql).bind(run.as_str()).fetch_all(pool).await?
        });
        rows.into_iter().map(step_from_row).collect()
    }

    /// Run `id`'s status and output (a streamed run's output is its marker, see
    /// [`crate::streamed_items`]), without its steps and HTTP calls; `None` if there is no such
    /// run.
    pub async fn run_output(
        &self,
        id: &RunId,
    ) -> Result<Option<(RunStatus, Option<Value>)>, StoreError> {
        let row: Option<(String, Option<String>)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT status, output FROM runs WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(|(status, output)| {
            Ok((
                RunStatus::from_db(&status)?,
                parse_opt(output, "a run's output")?,
            ))
        })
        .transpose()
    }

    /// Up to `limit` items of run `run`'s streamed output whose index is after `after` (from
    /// the first when `None`), in index order: `(index, value)`. A page of a long output, so a
    /// reader never holds it whole; an item over the cap comes back as its marker.
    pub async fn output_items(
        &self,
        run: &RunId,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<(u32, Value)>, StoreError> {
        let rows: Vec<(i64, String)> = with_read_pool!(self, pool => {
            sqlx::query_as(
                "SELECT idx, value FROM run_output_items WHERE run_id = $1 AND idx > $2 \
                 ORDER BY idx LIMIT $3",
            )
            .bind(run.as_str())
            .bind(after.map_or(-1, i64::from))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(idx, value)| {
                Ok((
                    u32_from_db(idx, "output item index")?,
                    parse(&value, "an output item")?,
                ))
            })
            .collect()
    }

    /// The calls of run `run` left sent and unanswered ([`crate::NO_ANSWER`]): per (step,
    /// item), the highest attempt recorded for it — a resumed run numbers its next attempt on
    /// from there.
    pub async fn unanswered_calls(
        &self,
        run: &RunId,
    ) -> Result<Vec<(String, Option<u32>, u32)>, StoreError> {
        let rows: Vec<(String, i64, i64)> = with_read_pool!(self, pool => {
            sqlx::query_as(
                "SELECT step, item, MAX(attempt) FROM http_calls WHERE run_id = $1 \
                 GROUP BY step, item HAVING SUM(CASE WHEN sent_id IS NOT NULL \
                 AND status IS NULL AND error = $2 THEN 1 ELSE 0 END) > 0",
            )
            .bind(run.as_str())
            .bind(crate::NO_ANSWER)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(step, item, attempt)| {
                Ok((step, item_from_db(item)?, u32_from_db(attempt, "attempt")?))
            })
            .collect()
    }

    /// Runs matching `filter`, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM runs WHERE ($1 IS NULL OR flow = $1) \
             AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR created_at >= $3) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let limit = filter
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows: Vec<SummaryRow> = with_read_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(filter.flow.as_deref())
                .bind(filter.status.map(RunStatus::as_str))
                .bind(filter.since.map(|t| Ts(time::micros(t))))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(summary_from_row).collect()
    }

    /// Run `id`'s own record, without its steps and HTTP calls: one row, however large the run.
    pub async fn run_head(&self, id: &RunId) -> Result<Option<RunHead>, StoreError> {
        let sql = format!("SELECT {RUN_COLS} FROM runs WHERE id = $1");
        let row: Option<RunRow> = with_read_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id.as_str()).fetch_optional(pool).await?
        });
        row.map(head_from_row).transpose()
    }

    /// Everything recorded about run `id`, or `None` if there is no such run.
    pub async fn get_run(&self, id: &RunId) -> Result<Option<RunDetail>, StoreError> {
        let run_sql = format!("SELECT {RUN_COLS} FROM runs WHERE id = $1");
        let step_sql = format!(
            "SELECT {STEP_COLS} FROM steps WHERE run_id = $1 ORDER BY started_at, step, item"
        );
        let http_sql = format!("SELECT {HTTP_COLS} FROM http_calls WHERE run_id = $1 ORDER BY id");
        let rows: Option<(RunRow, Vec<StepRow>, Vec<HttpRow>)> = with_read_pool!(self, pool => {
            let run: Option<RunRow> = sqlx::query_as(&run_sql)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            match run {
                None => None,
                Some(run) => {
                    let steps = sqlx::query_as(&step_sql).bind(id.as_str()).fetch_all(pool).await?;
                    let calls = sqlx::query_as(&http_sql).bind(id.as_str()).fetch_all(pool).await?;
                    Some((run, steps, calls))
                }
            }
        });
        let Some((run, steps, calls)) = rows else {
            return Ok(None);
        };
        Ok(Some(RunDetail {
            run: head_from_row(run)?,
            steps: steps
                .into_iter()
                .map(step_from_row)
                .collect::<Result<_, _>>()?,
            http_calls: calls
                .into_iter()
                .map(http_from_row)
                .collect::<Result<_, _>>()?,
            omitted: None,
        }))
    }

    /// Run `id` with at most `most` step records and `most` HTTP calls read, however large the
    /// run: the first `most` of each in order, and after them up to `most` more of those that
    /// went wrong (steps failed or cancelled; calls unanswered or answered 4xx/5xx), so a
    /// failure late in a long `for_each` is shown. `omitted` counts what is left out (`None`
    /// when nothing is). What the web view and `GET /api/runs/{id}` show.
    pub async fn get_run_within(
        &self,
        id: &RunId,
        most: usize,
    ) -> Result<Option<RunDetail>, StoreError> {
        let Some(run) = self.run_head(id).await? else {
            return Ok(None);
        };
        let limit = i64::try_from(most).unwrap_or(i64::MAX);
        let first_steps = format!(
            "SELECT {STEP_COLS} FROM steps WHERE run_id = $1 ORDER BY started_at, step, item \
             LIMIT $2"
        );
        let bad_steps = format!(
            "SELECT {STEP_COLS} FROM steps WHERE run_id = $1 \
             AND status IN ('failed', 'cancelled') ORDER BY started_at, step, item LIMIT $2"
        );
        let first_calls =
            format!("SELECT {HTTP_COLS} FROM http_calls WHERE run_id = $1 ORDER BY id LIMIT $2");
        // The calls that went wrong after the first `most` (whose last id is $2).
        let bad_calls = format!(
            "SELECT {HTTP_COLS} FROM http_calls WHERE run_id = $1 AND id > $2 \
             AND (status IS NULL OR status >= 400) ORDER BY id LIMIT $3"
        );
        let (total_steps, total_calls, steps, bad, calls, late): (
            i64,
            i64,
            Vec<StepRow>,
            Vec<StepRow>,
            Vec<HttpRow>,
            Vec<HttpRow>,
        ) = with_read_pool!(self, pool => {
            let (total_steps,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM steps WHERE run_id = $1")
                    .bind(id.as_str())
                    .fetch_one(pool)
                    .await?;
            let (total_calls,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM http_calls WHERE run_id = $1")
                    .bind(id.as_str())
                    .fetch_one(pool)
                    .await?;
            let steps = sqlx::query_as(&first_steps)
                .bind(id.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let bad = if total_steps > limit {
                sqlx::query_as(&bad_steps).bind(id.as_str()).bind(limit).fetch_all(pool).await?
            } else {
                Vec::new()
            };
            let calls = sqlx::query_as(&first_calls)
                .bind(id.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let late = if total_calls > limit && limit > 0 {
                let last: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM http_calls WHERE run_id = $1 ORDER BY id LIMIT 1 OFFSET $2",
                )
                .bind(id.as_str())
                .bind(limit - 1)
                .fetch_optional(pool)
                .await?;
                match last {
                    Some((last,)) => {
                        sqlx::query_as(&bad_calls)
                            .bind(id.as_str())
                            .bind(last)
                            .bind(limit)
                            .fetch_all(pool)
                            .await?
                    }
                    None => Vec::new(),
                }
            } else {
                Vec::new()
            };
            (total_steps, total_calls, steps, bad, calls, late)
        });
        let mut steps: Vec<StepRecord> = steps
            .into_iter()
            .map(step_from_row)
            .collect::<Result<_, _>>()?;
        let listed: std::collections::HashSet<(String, Option<u32>)> =
            steps.iter().map(|s| (s.step.clone(), s.item)).collect();
        for row in bad {
            let record = step_from_row(row)?;
            if !listed.contains(&(record.step.clone(), record.item)) {
                steps.push(record);
            }
        }
        let http_calls: Vec<HttpCall> = calls
            .into_iter()
            .chain(late)
            .map(http_from_row)
            .collect::<Result<_, _>>()?;
        let omitted = Omitted {
            steps: u64::try_from(total_steps)
                .unwrap_or(0)
                .saturating_sub(steps.len() as u64),
            http_calls: u64::try_from(total_calls)
                .unwrap_or(0)
                .saturating_sub(http_calls.len() as u64),
        };
        Ok(Some(RunDetail {
            run,
            steps,
            http_calls,
            omitted: (omitted != Omitted::default()).then_some(omitted),
        }))
    }

    /// Writes every run created at or after `since` as JSON Lines (one [`RunDetail`] with its
    /// steps and HTTP calls per line, oldest first). Returns how many runs it wrote.
    pub async fn export_since(
        &self,
        since: DateTime<Utc>,
        out: &mut impl Write,
    ) -> Result<usize, StoreError> {
        let ids: Vec<(String,)> = with_read_pool!(self, pool => {
            sqlx::query_as("SELECT id FROM runs WHERE created_at >= $1 ORDER BY created_at, id")
                .bind(Ts(time::micros(since)))
                .fetch_all(pool)
                .await?
        });
        let mut written = 0;
        for (id,) in ids {
            // A run pruned meanwhile is simply left out.
            if let Some(detail) = self.get_run(&RunId::from_db(id)).await? {
                serde_json::to_writer(&mut *out, &detail)?;
                out.write_all(b"\n")?;
                written += 1;
            }
        }
        out.flush()?;
        Ok(written)
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
