//! Reading runs back: a run's own row, its detail (whole, or within a limit however large the
//! run), lists of runs, the steps a resumed run skips, streamed output items, the calls left
//! unanswered, and the JSON Lines export.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::json::{parse, parse_opt};
use crate::model::{
    HttpCall, Omitted, RunDetail, RunFilter, RunHead, RunId, RunStatus, RunSummary, StepRecord,
    StepStatus,
};
use crate::time::{self, Ts};
use crate::{Store, StoreError, with_read_pool};

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
}
