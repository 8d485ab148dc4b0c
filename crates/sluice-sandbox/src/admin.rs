//! The sandbox's own control endpoints under `/__sandbox` (no auth, never counted or
//! faulted), so CLI users and non-Rust tests can set faults, load data, reset and look in:
//! `GET state`, `POST reset`, `POST seed`, `GET|POST|DELETE faults`, `GET|POST webhook`, and
//! `GET|POST inbox`, the stand-in receiver of outgoing webhooks (chat messages, summaries).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::WebhookConfig;
use crate::fault::FaultSpec;
use crate::seed::seed_from_json;
use crate::state::SandboxState;

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"statusCode": 400, "message": message.into()})),
    )
        .into_response()
}

/// POST /__sandbox/inbox: keeps the posted document (JSON, else the text) and answers `ok`, as
/// a chat's incoming webhook does.
pub(crate) async fn post_inbox(State(st): State<SandboxState>, body: Bytes) -> Response {
    let doc = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let mut data = st.inner.data.lock();
    if data.inbox.len() >= crate::state::INBOX_CAP {
        data.inbox.remove(0);
    }
    data.inbox.push(doc);
    "ok".into_response()
}

/// GET /__sandbox/inbox: the documents posted to the inbox, oldest first.
pub(crate) async fn get_inbox(State(st): State<SandboxState>) -> Response {
    Json(st.inbox()).into_response()
}

/// GET /__sandbox/state: everything, as [`SandboxState::dump`].
pub(crate) async fn state(State(st): State<SandboxState>) -> Response {
    Json(st.dump()).into_response()
}

/// POST /__sandbox/reset: back to the configured seed.
pub(crate) async fn reset(State(st): State<SandboxState>) -> Response {
    st.reset();
    Json(json!({"reset": true})).into_response()
}

/// POST /__sandbox/seed: replaces the data with a seed file's (format of `seed_from_json`).
pub(crate) async fn seed(State(st): State<SandboxState>, body: Bytes) -> Response {
    match seed_from_json(&String::from_utf8_lossy(&body)) {
        Ok(seed) => {
            let counts = json!({
                "locations": seed.locations.len(), "contacts": seed.contacts.len(),
                "tasks": seed.tasks.len(), "notes": seed.notes.len(),
                "appointments": seed.appointments.len()
            });
            st.load_seed(seed);
            Json(json!({"loaded": counts})).into_response()
        }
        Err(e) => bad(e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    route: String,
    fault: FaultSpec,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaultRequests {
    One(FaultRequest),
    Many(Vec<FaultRequest>),
}

/// POST /__sandbox/faults: `{"route": "GET /contacts/{contactId}", "fault": {"kind": "latency",
/// "ms": 500}}` or a list of them. Kinds: `none`, `latency {ms}`, `slow_answer {ms}`,
/// `error_rate {rate, status}`, `rate_limit_storm {count}`, `hang`, `drop_connection`.
pub(crate) async fn set_faults(State(st): State<SandboxState>, body: Bytes) -> Response {
    let parsed: Result<FaultRequests, _> = serde_json::from_slice(&body);
    let list = match parsed {
        Ok(FaultRequests::One(f)) => vec![f],
        Ok(FaultRequests::Many(v)) => v,
        Err(e) => {
            return bad(format!(
                "expected {{\"route\": \"GET /contacts/{{contactId}}\", \"fault\": {{\"kind\": \"latency\", \"ms\": 500}}}} or a list of them: {e}"
            ));
        }
    };
    let routes: Vec<Value> = list
        .iter()
        .map(|f| Value::String(f.route.clone()))
        .collect();
    for f in list {
        st.set_fault(&f.route, f.fault.into());
    }
    Json(json!({"set": routes})).into_response()
}

/// GET /__sandbox/faults: the faults in force.
pub(crate) async fn get_faults(State(st): State<SandboxState>) -> Response {
    Json(st.dump()["faults"].clone()).into_response()
}

/// DELETE /__sandbox/faults: removes every fault.
pub(crate) async fn clear_faults(State(st): State<SandboxState>) -> Response {
    st.clear_faults();
    Json(json!({"cleared": true})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WebhookRequest {
    url: Option<String>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    retry_backoff_ms: Option<u64>,
}

/// POST /__sandbox/webhook: `{"url": "http://127.0.0.1:PORT/hook"}` sets the delivery target
/// (`maxAttempts`, `retryBackoffMs` optional); `{"url": null}` removes it.
pub(crate) async fn set_webhook(State(st): State<SandboxState>, body: Bytes) -> Response {
    let req: WebhookRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("expected {{\"url\": \"http://…\"}}: {e}")),
    };
    let config = req.url.map(|url| {
        let mut c = WebhookConfig::new(&url);
        if let Some(n) = req.max_attempts {
            c.max_attempts = n;
        }
        if let Some(ms) = req.retry_backoff_ms {
            c.retry_backoff = std::time::Duration::from_millis(ms);
        }
        c
    });
    st.set_webhook(config);
    get_webhook(State(st)).await
}

/// GET /__sandbox/webhook: `{"url", "publicKeyPem"}` — the key webhook signatures verify with.
pub(crate) async fn get_webhook(State(st): State<SandboxState>) -> Response {
    Json(json!({
        "url": st.webhook().map(|w| w.url),
        "publicKeyPem": st.webhook_public_key_pem(),
    }))
    .into_response()
}
