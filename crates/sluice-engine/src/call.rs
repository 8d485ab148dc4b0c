//! One API call: a step's prepared request sent through the read cache, the write-ahead record
//! of a durable run, the rate limiter and the calls-in-flight limits, retried with backoff when
//! that is safe; and [`call_read`], one read outside a flow for the runner's triggers.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use serde_json::{Map, Value};
use sluice_connectors::{CacheKey, LimitError};
use sluice_model::Operation;
use sluice_model::flow::Backoff;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{ErrorKind, StepError};
use crate::exec::{ConnectionSpec, ExecStep};
use crate::http::{self, Answer, CallLimits, Prepared};
use crate::journal::{HttpDone, RunJournal};
use crate::observer::{Event, RequestRecord};
use crate::runtime::{Endpoint, Limiter, Resolved, Runtime};
use crate::settle::{Unsettled, settle_unknown};

/// A step's retry settings and attempt timeout, evaluated.
#[derive(Clone)]
pub(crate) struct CallSettings {
    /// Attempts in all (at least 1).
    pub(crate) attempts: u32,
    /// Exponential or fixed.
    pub(crate) backoff: Backoff,
    /// First wait.
    pub(crate) delay: Duration,
    /// Longest wait.
    pub(crate) max_delay: Duration,
    /// Longest an attempt may take.
    pub(crate) timeout: Duration,
}

/// One API call of a step, ready to send: which step and item, which operation with which
/// rendered parameters, where it goes, its request and its settings.
pub(crate) struct Call<'a> {
    pub(crate) step: &'a ExecStep,
    pub(crate) item: Option<usize>,
    pub(crate) operation: &'a Operation,
    pub(crate) params: &'a Map<String, Value>,
    pub(crate) endpoint: Endpoint<'a>,
    pub(crate) prepared: Prepared,
    pub(crate) settings: CallSettings,
}

/// The last request of an API call and its answer's status.
#[derive(Default)]
pub(crate) struct Trace {
    pub(crate) request: Option<RequestRecord>,
    pub(crate) status: Option<u16>,
}

/// An attempt's request as recorded, and the id of its record made when it was sent (a read of
/// a durable run).
type Sent = (Arc<RequestRecord>, Option<i64>);

/// A write's record before it is sent: its idempotency key and its request as recorded.
type WriteKey = (String, RequestRecord);

/// What the write-ahead record says of a call.
enum WriteAhead {
    /// Send it (recording the answer under this key, for a write of a durable run), after
    /// this many attempts already made (1 for a write sent before the run stopped).
    Send(Option<WriteKey>, u32),
    /// It was made before: this is its answer.
    Answered(Value),
}

/// A call on its way: the call and what its attempts share.
struct Sender<'a> {
    rt: &'a Runtime,
    call: &'a Call<'a>,
    /// The run's journal (none in a dry run).
    journal: Option<&'a RunJournal>,
    /// The step's name with the `flow:` steps that lead to it (only kept when recording).
    step_path: String,
    writes: bool,
    limits: CallLimits,
    limiter: Limiter<'a>,
    connection: Arc<Semaphore>,
}

/// Sends a step's API call: from the read cache when it may, once for a write a durable run
/// already made, else with retries. Returns the answer's body and the attempts made.
pub(crate) async fn call_with_retries(
    rt: &Runtime,
    call: &Call<'_>,
    journal: Option<&RunJournal>,
    prefix: &str,
    mut trace: Option<&mut Trace>,
) -> Result<(Value, u32), (StepError, u32)> {
    let conn = call.endpoint.conn;
    // A durable run records every attempt, and each write under its idempotency key: a write
    // already made (by the run before it stopped) is not sent again.
    let journal = journal.filter(|_| !rt.options().dry_run);
    let s = Sender {
        rt,
        call,
        journal,
        step_path: match journal {
            Some(_) => format!("{prefix}{}", call.step.name),
            None => String::new(),
        },
        writes: call.operation.is_write(),
        limits: CallLimits {
            max_response_bytes: rt.options().max_response_bytes,
            timeout: call.settings.timeout,
        },
        limiter: rt.limiter(conn, Some(call.params)),
        connection: rt.connection_semaphore(&conn.name),
    };
    let cache_key = s.cache_key();
    if let (Some(cache), Some(key)) = (rt.cache(), &cache_key)
        && let Some(hit) = cache.get(key)
    {
        tracing::debug!(step = %call.step.name, "Read cache hit.");
        return Ok(((*hit).clone(), 0));
    }
    let (write_key, made) = match s.write_ahead().await.map_err(|e| (e, 0))? {
        WriteAhead::Send(key, made) => (key, made),
        WriteAhead::Answered(answer) => return Ok((answer, 0)),
    };
    let mut attempt = made;
    loop {
        attempt += 1;
        if rt.options().dry_run && s.writes {
            s.hold_back(attempt);
            return Ok((dry_run_answer(call.operation), attempt));
        }
        if let Err(LimitError::QuotaExhausted { limit, resets_in }) = s.limiter.acquire().await {
            let message = format!(
                "the `{limit}` quota of the API is spent; more requests are allowed in {}",
                humantime::format_duration(Duration::from_secs(resets_in.as_secs()))
            );
            return Err((StepError::new(ErrorKind::RateLimited, message), attempt));
        }
        let (sent, result, took) = {
            let _permits = s.admit().await.map_err(|e| (e, attempt))?;
            let started = std::time::Instant::now();
            let (sent, result) = s.send(attempt).await;
            (sent, result, started.elapsed())
        };
        s.note_attempt(attempt, sent, &result, took, trace.as_deref_mut());
        let e = match result {
            Ok(answer) => {
                let body = s
                    .succeeded(answer, attempt, write_key.as_ref(), cache_key)
                    .await;
                return body.map(|b| (b, attempt)).map_err(|e| (e, attempt));
            }
            Err(e) => e,
        };
        let wait = s.failed(e, attempt, write_key.as_ref()).await?;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = rt.cancel_token().cancelled() => return Err((StepError::new(ErrorKind::Cancelled, "the run was cancelled".into()), attempt)),
        }
    }
}

/// What a write "answers" in a dry run (it is not sent): a value shaped by the operation's
/// response schema — text `"(dry run)"`, numbers 0, `false`, empty lists, dates now — marked
/// `"dry_run": true`, so the steps after it render and show their requests too.
pub(crate) fn dry_run_answer(operation: &sluice_model::Operation) -> Value {
    let mut answer = operation
        .response
        .as_ref()
        .map_or(Value::Null, |schema| placeholder(schema, 0));
    match &mut answer {
        Value::Object(map) => {
            map.insert("dry_run".into(), Value::Bool(true));
        }
        other => *other = serde_json::json!({ "dry_run": true }),
    }
    answer
}

/// A value of `schema`'s shape (at most 8 levels deep).
fn placeholder(schema: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return Value::Object(
            props
                .iter()
                .map(|(k, s)| (k.clone(), placeholder(s, depth + 1)))
                .collect(),
        );
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "",
    };
    match ty {
        "string" if schema.get("format").and_then(Value::as_str) == Some("date-time") => {
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        }
        "string" => Value::String("(dry run)".into()),
        "number" | "integer" => Value::from(0),
        "boolean" => Value::Bool(false),
        "array" => Value::Array(Vec::new()),
        "object" => Value::Object(serde_json::Map::new()),
        _ => Value::Null,
    }
}

impl Sender<'_> {
    /// The read cache's key of this call, when its answer may come from (and go to) the cache.
    fn cache_key(&self) -> Option<CacheKey> {
        let (call, options) = (self.call, self.rt.options());
        match self.rt.cache() {
            Some(_) if call.operation.cacheable && !self.writes && !options.dry_run => {
                let prepared = &call.prepared;
                let body = prepared
                    .body
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default();
                let credential = call
                    .endpoint
                    .conn
                    .credential
                    .as_deref()
                    .unwrap_or("default");
                Some(CacheKey::new(
                    credential,
                    prepared.method.as_str(),
                    &prepared.full_url(),
                    body.as_bytes(),
                ))
            }
            _ => None,
        }
    }

    /// Before a write of a durable run is sent, its intent is recorded under its idempotency
    /// key. A write made before is not sent again; one whose outcome is unknown is settled.
    async fn write_ahead(&self) -> Result<WriteAhead, StepError> {
        let Some(journal) = self.journal else {
            return Ok(WriteAhead::Send(None, 0));
        };
        if !self.writes {
            // A read the run sent before it stopped, unanswered: this is its next attempt.
            let made = journal.attempts_before(&self.step_path, self.call.item);
            return Ok(WriteAhead::Send(None, made));
        }
        let call = self.call;
        let key = journal.write_key(&self.step_path, call.item);
        let record =
            call.prepared
                .record(call.endpoint.auth, self.rt.redactor(), self.writes, true);
        let state = journal
            .write_intent(&key, &record)
            .await
            .map_err(|e| e.to_step_error())?;
        match state {
            sluice_store::WriteState::New => {}
            sluice_store::WriteState::Done(answer) => {
                tracing::info!(step = %self.step_path, key, "Write already made; its recorded answer is used.");
                return Ok(WriteAhead::Answered(answer));
            }
            sluice_store::WriteState::Pending => {
                // The attempt the stopped run sent is part of the record too: its answer was
                // lost, and what follows (a resend, a reconcile read) is the next attempt.
                journal.http_call(HttpDone {
                    step: &self.step_path,
                    item: call.item,
                    attempt: 1,
                    request: record.clone(),
                    status: None,
                    elapsed: Duration::ZERO,
                    error: Some(
                        "sent before the run stopped; no answer was recorded (the outcome is settled on resume)",
                    ),
                    sent: None,
                });
                let unsettled = Unsettled {
                    rt: self.rt,
                    journal,
                    step: &call.step.name,
                    operation: call.operation,
                    params: call.params,
                    endpoint: &call.endpoint,
                    limits: self.limits,
                    key: &key,
                };
                if let Some(answer) = settle_unknown(&unsettled).await? {
                    return Ok(WriteAhead::Answered(answer));
                }
                return Ok(WriteAhead::Send(Some((key, record)), 1));
            }
        }
        Ok(WriteAhead::Send(Some((key, record)), 0))
    }

    /// A dry run's write: shown, not sent.
    fn hold_back(&self, attempt: u32) {
        let call = self.call;
        let record =
            call.prepared
                .record(call.endpoint.auth, self.rt.redactor(), self.writes, false);
        self.rt.observer().event(&Event::Request {
            step: &call.step.name,
            item: call.item,
            attempt,
            request: &record,
        });
    }

    /// Waits for room among the calls in flight: of the process, then of the connection.
    async fn admit(&self) -> Result<(SemaphorePermit<'_>, SemaphorePermit<'_>), StepError> {
        let shutting_down = |_| StepError::new(ErrorKind::Cancelled, "shutting down".into());
        let global = self.rt.global().acquire().await.map_err(shutting_down)?;
        let connection = self.connection.acquire().await.map_err(shutting_down)?;
        Ok((global, connection))
    }

    /// Sends one attempt, telling observers (and the journal) the request. Returns the request
    /// as recorded, if it was, and the answer. A durable run's read is recorded as sent first
    /// (queued, not awaited): a run killed while waiting for the answer keeps the attempt.
    async fn send(&self, attempt: u32) -> (Option<Sent>, Result<Answer, StepError>) {
        let (call, rt) = (self.call, self.rt);
        let mut sent = None;
        if rt.observer().wants_requests() || self.journal.is_some() {
            let record = call
                .prepared
                .record(call.endpoint.auth, rt.redactor(), self.writes, true);
            rt.observer().event(&Event::Request {
                step: &call.step.name,
                item: call.item,
                attempt,
                request: &record,
            });
            let record = Arc::new(record);
            let id = match self.journal {
                Some(j) if !self.writes => {
                    Some(j.http_sent(&self.step_path, call.item, attempt, &record))
                }
                _ => None,
            };
            sent = Some((record, id));
        }
        let observe = |status: u16, headers: &reqwest::header::HeaderMap| {
            self.limiter.observe(status, headers);
        };
        let result = http::send(
            rt.http(),
            &call.prepared,
            call.endpoint.auth,
            self.limits,
            rt.redactor(),
            &observe,
        )
        .await;
        (sent, result)
    }

    /// Keeps an attempt's request and answer status in the step's trace and the run's journal.
    fn note_attempt(
        &self,
        attempt: u32,
        sent: Option<Sent>,
        result: &Result<Answer, StepError>,
        took: Duration,
        trace: Option<&mut Trace>,
    ) {
        let status = match result {
            Ok(a) => Some(a.status),
            Err(e) => e.status,
        };
        if let Some(t) = trace {
            t.request = sent.as_ref().map(|(r, _)| RequestRecord::clone(r));
            t.status = status;
        }
        if let Some(j) = self.journal
            && let Some((request, id)) = sent
        {
            let id = id.and_then(|id| j.http_answered(id));
            // Held by nobody else now: taken back without a copy.
            let request = Arc::try_unwrap(request).unwrap_or_else(|shared| (*shared).clone());
            // A failed attempt (a timeout, a refused connection, an error status) took time
            // too: the audit record says how long it waited, not 0 ms.
            let (elapsed, error) = match result {
                Ok(a) => (a.elapsed, None),
                Err(e) => (took, Some(e.message.as_str())),
            };
            j.http_call(HttpDone {
                step: &self.step_path,
                item: self.call.item,
                attempt,
                request,
                status,
                elapsed,
                error,
                sent: id,
            });
        }
    }

    /// A successful answer: recorded for a write, told to observers, kept in the read cache.
    async fn succeeded(
        &self,
        answer: Answer,
        attempt: u32,
        write_key: Option<&WriteKey>,
        cache_key: Option<CacheKey>,
    ) -> Result<Value, StepError> {
        let rt = self.rt;
        if let (Some(j), Some((key, record))) = (self.journal, write_key) {
            j.write_done(
                key,
                "write.sent",
                record,
                Some(answer.status),
                &answer.body,
                rt.redactor(),
            )
            .await
            .map_err(|e| e.to_step_error())?;
        }
        rt.observer().event(&Event::Response {
            step: &self.call.step.name,
            item: self.call.item,
            attempt,
            status: answer.status,
            elapsed: answer.elapsed,
        });
        if let (Some(cache), Some(key)) = (rt.cache(), cache_key) {
            cache.insert(key, answer.body.clone());
        }
        Ok(answer.body)
    }

    /// A failed attempt: the wait before the next one, or the call's error when there is to be
    /// none.
    async fn failed(
        &self,
        e: StepError,
        attempt: u32,
        write_key: Option<&WriteKey>,
    ) -> Result<Duration, (StepError, u32)> {
        let (call, rt) = (self.call, self.rt);
        if let Some(status) = e.status {
            rt.observer().event(&Event::Response {
                step: &call.step.name,
                item: call.item,
                attempt,
                status,
                elapsed: Duration::ZERO,
            });
        }
        // An API asking to wait longer than the connector allows is not waited for: the call
        // fails now, saying so (a hostile or broken `Retry-After` must not hang the run).
        let max_wait = call
            .endpoint
            .conn
            .connector
            .max_retry_after
            .as_ref()
            .map_or(sluice_connectors::ratelimit::DEFAULT_MAX_RETRY_AFTER, |d| {
                d.0
            });
        let e = match e.retry_after {
            Some(asked) if e.retryable && asked > max_wait => {
                let mut refused = StepError::new(
                    e.kind,
                    format!(
                        "{}; it asks to wait {} before trying again (Retry-After), longer than the `max_retry_after` of connector `{}` ({}), so the call fails instead of waiting",
                        e.message,
                        describe_wait(asked),
                        call.endpoint.conn.connector.name.value,
                        humantime::format_duration(max_wait),
                    ),
                );
                refused.status = e.status;
                refused.request_id.clone_from(&e.request_id);
                refused
            }
            _ => e,
        };
        // A 429 was refused before it was processed: safe to repeat even for a POST.
        // Anything else is repeated only when the operation is idempotent.
        let safe = call.operation.is_idempotent() || e.status == Some(429);
        if !e.retryable || !safe || attempt >= call.settings.attempts {
            // A write the API refused did not happen: forget it, so a resumed run may send it
            // again. Without an answer (timeout, 5xx) its outcome stays unknown.
            if let (Some(j), Some((key, _))) = (self.journal, write_key)
                && e.status.is_some_and(|s| (400..500).contains(&s))
            {
                j.write_forget(key)
                    .await
                    .map_err(|e| (e.to_step_error(), attempt))?;
            }
            return Err((e, attempt));
        }
        let settings = &call.settings;
        // The real wait: the backoff, or longer when the API's answers paused the key (the
        // next attempt waits that out in the limiter); observers and logs are told this one.
        let wait = backoff(
            settings.backoff,
            settings.delay,
            settings.max_delay,
            attempt,
            e.retry_after,
        )
        .max(self.limiter.paused_for());
        rt.observer().event(&Event::Retry {
            step: &call.step.name,
            attempt,
            delay: wait,
            error: &e,
        });
        Ok(wait)
    }
}

/// Calls one read of a connection outside a flow (the runner's `task_due` and `poll`
/// triggers use it): the runtime's base URLs, credentials, rate limits, redaction and size
/// limit apply; no retries (the trigger tries again on its next look).
///
/// # Errors
/// An unknown operation, a write, a missing parameter, or the call failed.
pub async fn call_read(
    rt: &Runtime,
    conn: &ConnectionSpec,
    operation: &str,
    params: &Map<String, Value>,
) -> Result<Value, StepError> {
    let op = conn.connector.operation(operation).ok_or_else(|| {
        StepError::new(
            ErrorKind::Other,
            format!(
                "connector `{}` has no operation `{operation}`",
                conn.connector.name.value
            ),
        )
    })?;
    if op.is_write() {
        return Err(StepError::new(
            ErrorKind::Other,
            format!("`{operation}` changes data: a trigger may only read"),
        ));
    }
    let resolved = Resolved::literal(conn);
    let endpoint = rt.endpoint(conn, &resolved);
    let prepared = http::prepare(op, endpoint.base_url, &endpoint.headers, params)?;
    let limiter = rt.limiter(conn, Some(params));
    if let Err(LimitError::QuotaExhausted { limit, .. }) = limiter.acquire().await {
        return Err(StepError::new(
            ErrorKind::RateLimited,
            format!("the `{limit}` quota of the API is spent"),
        ));
    }
    let observe = |status: u16, h: &reqwest::header::HeaderMap| limiter.observe(status, h);
    let limits = CallLimits {
        max_response_bytes: rt.options().max_response_bytes,
        timeout: Duration::from_secs(30),
    };
    let _global = rt
        .global()
        .acquire()
        .await
        .map_err(|_| StepError::new(ErrorKind::Cancelled, "shutting down".into()))?;
    http::send(
        rt.http(),
        &prepared,
        endpoint.auth,
        limits,
        rt.redactor(),
        &observe,
    )
    .await
    .map(|answer| answer.body)
}

/// A wait as people read it, whole seconds (`31years 8months …`, `1h`), or "longer than can
/// be said" for one past any date.
fn describe_wait(wait: Duration) -> String {
    if wait >= Duration::from_secs(u64::from(u32::MAX)) {
        return "longer than a century".to_string();
    }
    humantime::format_duration(Duration::from_secs(wait.as_secs())).to_string()
}

/// The wait before attempt `attempt + 1`: the API's `Retry-After` when it gave one, else
/// exponential backoff with full jitter (a random wait up to `delay · 2^(attempt-1)`, capped).
#[must_use]
pub fn backoff(
    kind: Backoff,
    delay: Duration,
    max_delay: Duration,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(Duration::from_secs(300));
    }
    match kind {
        Backoff::Fixed => delay.min(max_delay),
        Backoff::Exponential => {
            let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
            let ceiling = delay.saturating_mul(factor).min(max_delay);
            let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
            Duration::from_millis(rand::rng().random_range(0..=ms))
        }
    }
}
