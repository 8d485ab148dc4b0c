//! Settling a write whose outcome is unknown: a resumed run found it sent before the run
//! stopped, without a recorded answer. It is sent again, found through the operation's
//! `reconcile` read, or the step stops — it is never sent blind.

use serde_json::{Map, Value};
use sluice_connectors::LimitError;
use sluice_model::Operation;
use sluice_model::connector::Reconcile;

use crate::error::{ErrorKind, StepError};
use crate::http::{self, Answer, CallLimits, Prepared};
use crate::journal::{RunJournal, same_value};
use crate::runtime::{Endpoint, Runtime};

/// A write whose outcome is unknown, and what settling it needs.
pub(crate) struct Unsettled<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) journal: &'a RunJournal,
    /// The step's name.
    pub(crate) step: &'a str,
    /// The write.
    pub(crate) operation: &'a Operation,
    /// Its rendered parameters.
    pub(crate) params: &'a Map<String, Value>,
    /// Where its connection's requests go.
    pub(crate) endpoint: &'a Endpoint<'a>,
    /// Limits of the reconcile read.
    pub(crate) limits: CallLimits,
    /// The write's idempotency key.
    pub(crate) key: &'a str,
}

/// A write sent before the run stopped, whose answer was never recorded: did it happen?
/// Idempotent operations (and any write, with `--resend-unknown`) are simply sent again
/// (`Ok(None)`). Otherwise the operation's `reconcile` read looks for what the write created:
/// found, its answer is recorded and returned; not found, it is sent. An operation without a
/// way to check stops the step: sending it blind could make it twice.
pub(crate) async fn settle_unknown(w: &Unsettled<'_>) -> Result<Option<Value>, StepError> {
    let (op, conn) = (w.operation, w.endpoint.conn);
    if op.is_idempotent() || w.journal.resend_unknown() {
        return Ok(None);
    }
    let Some(rc) = &op.reconcile else {
        return Err(StepError::new(
            ErrorKind::Other,
            format!(
                "the write of step `{}` was sent before the run stopped and its outcome is unknown; \
                 the API gives no way to check whether it happened. Check it by hand, then run \
                 `sluice runs resume {} --resend-unknown` to send it again",
                w.step,
                w.journal.run_id()
            ),
        ));
    };
    let Some(read) = conn.connector.operation(&rc.operation) else {
        return Err(StepError::new(
            ErrorKind::Other,
            format!(
                "connector `{}`: `reconcile` names operation `{}`, which it does not have",
                conn.connector.name.value, rc.operation
            ),
        ));
    };
    let (prepared, answer) = read_back(w, read).await?;
    let Some(item) = find_made(&answer.body, rc, w.params) else {
        tracing::info!(step = %w.step, key = w.key, "An unfinished write did not happen; sending it.");
        return Ok(None);
    };
    let made = match &rc.wrap {
        Some(wrap) => serde_json::json!({ wrap.as_str(): item }),
        None => item,
    };
    tracing::info!(step = %w.step, key = w.key, "An unfinished write had happened; its result is used.");
    let redactor = w.rt.redactor();
    let record = prepared.record(w.endpoint.auth, redactor, false, true);
    w.journal
        .write_done(
            w.key,
            "write.reconciled",
            &record,
            Some(answer.status),
            &made,
            redactor,
        )
        .await
        .map_err(|e| e.to_step_error())?;
    Ok(Some(made))
}

/// Calls the `reconcile` read with the write's parameters it takes.
async fn read_back(w: &Unsettled<'_>, read: &Operation) -> Result<(Prepared, Answer), StepError> {
    let (rt, endpoint) = (w.rt, w.endpoint);
    let read_params: Map<String, Value> = w
        .params
        .iter()
        .filter(|(k, _)| read.params.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prepared = http::prepare(read, endpoint.base_url, &endpoint.headers, &read_params)?;
    let limiter = rt.limiter(endpoint.conn, None);
    if let Err(LimitError::QuotaExhausted { limit, .. }) = limiter.acquire().await {
        return Err(StepError::new(
            ErrorKind::RateLimited,
            format!("the `{limit}` quota of the API is spent: cannot check an unfinished write"),
        ));
    }
    let observe = |status: u16, h: &reqwest::header::HeaderMap| limiter.observe(status, h);
    let answer = http::send(
        rt.http(),
        &prepared,
        endpoint.auth,
        w.limits,
        rt.redactor(),
        &observe,
    )
    .await?;
    Ok((prepared, answer))
}

/// The item of the read's answer that the write made: every `match` field equal to the write's.
fn find_made(body: &Value, rc: &Reconcile, params: &Map<String, Value>) -> Option<Value> {
    body.get(&rc.items)
        .and_then(Value::as_array)
        .and_then(|items| {
            items.iter().find(|item| {
                rc.match_fields
                    .iter()
                    .all(|f| match (item.get(f), params.get(f)) {
                        (Some(a), Some(b)) => same_value(a, b),
                        (None, None) => true,
                        _ => false,
                    })
            })
        })
        .cloned()
}
