//! The runner's HTTP interface (axum): the JSON API behind a bearer token (flows, starting a
//! run — with `?wait=` for its output — runs, and a run's output, streamed as JSON lines when
//! the run streamed it), GHL webhooks with their Ed25519 signature
//! and replay checks, health and readiness probes, and Prometheus metrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sluice_model::flow::Trigger;
use sluice_store::{RunFilter, RunId, RunStatus};

use crate::auth;
use crate::dto::flow_list;
use crate::registry::FlowEntry;
use crate::shared::Shared;
use crate::triggers::inputs_from;

/// The longest request target (path and query) accepted, on every route.
pub(crate) const MAX_TARGET: usize = 8 * 1024;
/// The largest request body accepted (inputs, webhook deliveries).
const MAX_BODY: usize = 1024 * 1024;
/// The longest `?wait=` honoured.
const MAX_WAIT: Duration = Duration::from_secs(300);

type Shared_ = Arc<Shared>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/flows", get(list_flows))
        .route("/api/flows/{name}/runs", post(start_run))
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(get_run))
        .route("/api/runs/{id}/output", get(get_output))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(crate::openapi::serve))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    Router::new()
        .merge(api)
        .merge(crate::web::router(shared.clone()))
        .route("/hooks/{flow}", post(webhook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(limit_target))
        .with_state(shared)
}

/// Every request target (path and query) is at most [`MAX_TARGET`] bytes: 414 otherwise.
async fn limit_target(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_TARGET {
        return (
            StatusCode::URI_TOO_LONG,
            axum::Json(serde_json::json!({"error": "the request target is longer than 8 KiB"})),
        )
            .into_response();
    }
    next.run(req).await
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Every `/api/…` route and `/metrics` need `Authorization: Bearer TOKEN` (or the web view's
/// session cookie, with its CSRF token in `x-sluice-csrf` for anything but GET).
async fn require_token(State(shared): State<Shared_>, req: Request, next: Next) -> Response {
    if auth::session_allows(&shared.sessions, req.method(), req.headers()).await {
        return next.run(req).await;
    }
    match auth::bearer(req.headers()) {
        Some(token) if auth::token_matches(&shared.serve_keys().api_token, token) => {
            next.run(req).await
        }
        Some(_) => {
            tracing::warn!(path = %req.uri().path(), "API request with a wrong token refused.");
            error(StatusCode::UNAUTHORIZED, "wrong bearer token")
        }
        None => error(
            StatusCode::UNAUTHORIZED,
            "this route needs `Authorization: Bearer TOKEN`",
        ),
    }
}

async fn readyz(State(shared): State<Shared_>) -> Response {
    let ready = shared.ready.load(Ordering::SeqCst)
        && shared
            .store
            .count_runs(RunStatus::Queued, None)
            .await
            .is_ok();
    if ready {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(shared): State<Shared_>) -> Response {
    shared
        .metrics
        .limiter(shared.registry.snapshot().runtime.limits().waits());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

async fn list_flows(State(shared): State<Shared_>) -> Response {
    axum::Json(flow_list(&shared.registry.snapshot(), Utc::now())).into_response()
}

#[derive(Deserialize)]
struct WaitQuery {
    wait: Option<String>,
}

/// `POST /api/flows/{name}/runs` with the inputs as a JSON object: queues a run (202 with its
/// id); with `?wait=30s`, waits for it and answers with its output (200) — or 202 if it has
/// not ended by then.
async fn start_run(
    State(shared): State<Shared_>,
    Path(name): Path<String>,
    Query(q): Query<WaitQuery>,
    body: Bytes,
) -> Response {
    let snap = shared.registry.snapshot();
    let Some(entry) = snap.flows.get(&name) else {
        return error(StatusCode::NOT_FOUND, &format!("no flow `{name}`"));
    };
    let manual = entry.triggers.is_empty()
        || entry
            .triggers
            .iter()
            .any(|t| matches!(t, Trigger::Manual(_)));
    if !manual {
        return error(
            StatusCode::FORBIDDEN,
            &format!("flow `{name}` has no `manual` trigger: it cannot be started by hand"),
        );
    }
    let given = match body_inputs(&body) {
        Ok(g) => g,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let wait = match q
        .wait
        .as_deref()
        .map(|s| s.parse::<sluice_model::Duration>().map(|d| d.0))
        .transpose()
    {
        Ok(w) => w.map(|w| w.min(MAX_WAIT)),
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("`wait`: {e}")),
    };
    let inputs = match sluice_engine::prepare_inputs(&entry.exec, given) {
        Ok(i) => i,
        Err(problems) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "the inputs are not what the flow declares", "problems": problems.problems})),
            )
                .into_response();
        }
    };
    let new = sluice_store::NewRun {
        flow_hash: entry.exec.content_hash.clone(),
        ..sluice_store::NewRun::new(name.clone(), b"", "api", inputs)
    };
    let id = match shared.store.create_run(new).await {
        Ok(id) => id,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("cannot queue the run: {e}"),
            );
        }
    };
    shared.metrics.fired("api");
    shared.wake.notify_one();
    let Some(wait) = wait else {
        return (
            StatusCode::ACCEPTED,
            axum::Json(json!({"id": id, "status": "queued"})),
        )
            .into_response();
    };
    wait_for(&shared, &id, wait).await
}

/// The inputs of a request body: empty, or a JSON object.
fn body_inputs(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the body must be a JSON object of inputs".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

/// Waits up to `wait` for run `id` to end: its output (200), or its status so far (202).
async fn wait_for(shared: &Shared, id: &RunId, wait: Duration) -> Response {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match shared.store.run_head(id).await {
            Ok(Some(run)) if run.status.is_final() => {
                return axum::Json(json!({
                    "id": id, "status": run.status, "output": run.output, "error": run.error,
                }))
                .into_response();
            }
            Ok(Some(run)) if tokio::time::Instant::now() >= deadline => {
                return (
                    StatusCode::ACCEPTED,
                    axum::Json(json!({"id": id, "status": run.status})),
                )
                    .into_response();
            }
            Ok(_) => {}
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Deserialize)]
struct ListQuery {
    flow: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(State(shared): State<Shared_>, Query(q): Query<ListQuery>) -> Response {
    let status = match q.status.as_deref().map(str::parse::<RunStatus>).transpose() {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let filter = RunFilter {
        flow: q.flow,
        status,
        since: None,
        limit: Some(q.limit.unwrap_or(50).min(1000)),
    };
    match shared.store.list_runs(&filter).await {
        Ok(runs) => axum::Json(json!({ "runs": runs })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// How many step records and HTTP calls `GET /api/runs/{id}` lists by default, and at most.
const DETAIL_LIMIT: usize = 1000;
const DETAIL_LIMIT_MAX: usize = 10_000;

#[derive(Deserialize)]
struct DetailQuery {
    limit: Option<usize>,
}

/// `GET /api/runs/{id}`: the run with at most `limit` (default 1,000, at most 10,000) step
/// records and HTTP calls — the first, then those that went wrong — and `omitted`, what is
/// left out, so a run of 100,000 items answers in bounded time and memory.
async fn get_run(
    State(shared): State<Shared_>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Ok(id) = id.parse::<RunId>() else {
        return error(StatusCode::BAD_REQUEST, "not a run id");
    };
    let limit = q.limit.unwrap_or(DETAIL_LIMIT);
    if limit > DETAIL_LIMIT_MAX {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "limit {limit} is over {DETAIL_LIMIT_MAX}; `sluice runs export` writes whole runs"
            ),
        );
    }
    match shared.store.get_run_within(&id, limit).await {
        Ok(Some(run)) => axum::Json(run).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no run `{id}`")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// How many items of a streamed output `GET /api/runs/{id}/output` reads from the store at a
/// time (and sends as one chunk).
const OUTPUT_PAGE: usize = 500;

/// `GET /api/runs/{id}/output`: a run's output. A run that streamed it (its stored output is
/// `{"$items": N}`, or it is still going and has stored items) answers with the items as JSON
/// lines in their order (`application/x-ndjson`), read from the store a page at a time; any
/// other run with its output as JSON (`null` until it ends).
async fn get_output(State(shared): State<Shared_>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<RunId>() else {
        return error(StatusCode::BAD_REQUEST, "not a run id");
    };
    let (status, output) = match shared.store.run_output(&id).await {
        Ok(Some(found)) => found,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no run `{id}`")),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let streamed = match output.as_ref().and_then(sluice_store::streamed_items) {
        Some(_) => true,
        None if output.is_none() && !status.is_final() => {
            match shared.store.output_items(&id, None, 1).await {
                Ok(first) => !first.is_empty(),
                Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
            }
        }
        None => false,
    };
    if !streamed {
        return axum::Json(output.unwrap_or(Value::Null)).into_response();
    }
    // The pages one after the other; a store error mid-way aborts the body, so a client never
    // takes a cut output for a whole one.
    let store = shared.store.clone();
    let pages = futures::stream::try_unfold(Some(None), move |after: Option<Option<u32>>| {
        let store = store.clone();
        let id = id.clone();
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let page = store.output_items(&id, after, OUTPUT_PAGE).await?;
            let Some(&(last, _)) = page.last() else {
                return Ok(None);
            };
            let mut chunk = Vec::new();
            for (_, item) in &page {
                serde_json::to_writer(&mut chunk, item)?;
                chunk.push(b'\n');
            }
            let next = (page.len() == OUTPUT_PAGE).then_some(Some(last));
            Ok::<_, sluice_store::StoreError>(Some((Bytes::from(chunk), next)))
        }
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(pages),
    )
        .into_response()
}

/// `POST /hooks/{flow}`: a GHL webhook delivery. The `x-ghl-signature` header must be the
/// Ed25519 signature (base64) of the raw body by the configured key; the delivery's
/// `timestamp` must be recent; a `webhookId` seen before is acknowledged and not run again.
/// The answer (202) comes once the run is durably queued, before it runs.
async fn webhook(
    State(shared): State<Shared_>,
    Path(flow): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse = |status: StatusCode, why: &str| {
        tracing::warn!(flow = %flow, "Webhook delivery refused: {why}");
        shared.metrics.webhook("refused");
        error(status, why)
    };
    let event = match verified_event(&shared, &headers, &body) {
        Ok(event) => event,
        Err((status, why)) => return refuse(status, why),
    };
    let snap = shared.registry.snapshot();
    let Some(entry) = snap.flows.get(&flow) else {
        return refuse(StatusCode::NOT_FOUND, "no such flow");
    };
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    let wanted = entry
        .triggers
        .iter()
        .any(|t| matches!(t, Trigger::Webhook(w) if w.event.value == kind));
    if !wanted {
        shared.metrics.webhook("ignored");
        return (
            StatusCode::ACCEPTED,
            axum::Json(json!({"ignored": format!("event `{kind}` does not start flow `{flow}`")})),
        )
            .into_response();
    }
    queue_delivery(&shared, entry, &flow, &event, &body).await
}

/// Checks a delivery: the configured key's Ed25519 signature of the raw body in
/// `x-ghl-signature`, a JSON object, a recent `timestamp`. The event, or why it is refused.
fn verified_event(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, (StatusCode, &'static str)> {
    let keys = shared.serve_keys();
    let Some(key) = &keys.webhook_key else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are off: set `[serve] webhook_public_key` in sluice.toml",
        ));
    };
    let signature = headers
        .get("x-ghl-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .ok()
        })
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
        .ok_or((
            StatusCode::UNAUTHORIZED,
            "missing or malformed x-ghl-signature",
        ))?;
    if key.verify_strict(body, &signature).is_err() {
        return Err((
            StatusCode::UNAUTHORIZED,
            "the signature does not match the body",
        ));
    }
    let event: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err((StatusCode::BAD_REQUEST, "the body is not a JSON object")),
    };
    if let Some(ts) = event.get("timestamp").and_then(Value::as_str) {
        let Ok(at) = DateTime::parse_from_rfc3339(ts) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "`timestamp` is not an RFC 3339 time",
            ));
        };
        let age = Utc::now().signed_duration_since(at.with_timezone(&Utc));
        let max = chrono::TimeDelta::from_std(keys.webhook_max_age).unwrap_or_default();
        if age > max || age < -max {
            return Err((
                StatusCode::UNAUTHORIZED,
                "the delivery's timestamp is too old (a replay?)",
            ));
        }
    }
    Ok(event)
}

/// Queues the run of a verified delivery, once per delivery (its `webhookId`, else the body's
/// hash) across runners.
async fn queue_delivery(
    shared: &Shared,
    entry: &FlowEntry,
    flow: &str,
    event: &Value,
    body: &[u8],
) -> Response {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    // Without a webhookId the body itself identifies the delivery.
    let delivery = event
        .get("webhookId")
        .and_then(Value::as_str)
        .map_or_else(|| sluice_store::NewRun::content_hash(body), str::to_string);
    let inputs = inputs_from(&entry.exec, "event", event);
    let new = sluice_store::NewRun {
        flow_hash: entry.exec.content_hash.clone(),
        ..sluice_store::NewRun::new(flow.to_string(), b"", format!("webhook:{kind}"), inputs)
    };
    match shared
        .store
        .fire_once(&format!("webhook:{flow}"), &delivery, Some(new))
        .await
    {
        Ok(Some(id)) => {
            shared.metrics.webhook("queued");
            shared.metrics.fired("webhook");
            shared.wake.notify_one();
            tracing::info!(flow = %flow, event = kind, run = %id, "Webhook delivery queued a run.");
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({"id": id, "status": "queued"})),
            )
                .into_response()
        }
        Ok(None) => {
            shared.metrics.webhook("duplicate");
            tracing::warn!(flow = %flow, delivery, "Webhook delivered again (a retry or a replay): not run again.");
            (StatusCode::OK, axum::Json(json!({"duplicate": delivery}))).into_response()
        }
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("cannot queue the run: {e}"),
        ),
    }
}
