//! The local HTTP server a `sluice test` case runs against (127.0.0.1, one per case): every
//! connection of the flow points at `http://127.0.0.1:PORT/CONNECTION`; it answers from the
//! case's canned answers, then a cassette, or forwards to the sandbox — and logs each exchange.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sluice_engine::{Event, Observer};

use crate::compare::glob;
use crate::exchange::{Entry, Exchange};
use crate::fixture::{Canned, Key, Responses};

/// What the server answers from.
pub(crate) struct Plan {
    pub(crate) canned: Vec<Responses>,
    /// Recorded exchanges (a cassette), taken in order per request.
    pub(crate) cassette: Option<Vec<Entry>>,
    /// Connection → the base URL requests are forwarded to (sandbox or live).
    pub(crate) forward: HashMap<String, String>,
    /// Connection → the query parameter that carries its token (left out of logs).
    pub(crate) auth_params: HashMap<String, String>,
}

/// The steps (and `for_each` items) waiting for an answer, by `METHOD /CONN/path`.
type Announced = HashMap<String, VecDeque<(String, Option<usize>)>>;

struct Shared {
    plan: Plan,
    state: Mutex<Served>,
    /// `METHOD /CONN/path` → the steps (and items) that announced such a request.
    pending: Mutex<Announced>,
    http: reqwest::Client,
}

#[derive(Default)]
struct Served {
    /// Calls so far per canned key (index into `plan.canned`).
    calls: HashMap<usize, usize>,
    used: Vec<bool>,
    log: Vec<Exchange>,
}

/// A running test server.
pub(crate) struct TestServer {
    shared: Arc<Shared>,
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub(crate) async fn start(plan: Plan) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let used = vec![false; plan.cassette.as_ref().map_or(0, Vec::len)];
        let shared = Arc::new(Shared {
            plan,
            state: Mutex::new(Served {
                used,
                ..Served::default()
            }),
            pending: Mutex::new(HashMap::new()),
            http,
        });
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            shared,
            base: format!("http://{local}"),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The observer that tells the server which step sends each request.
    pub(crate) fn observer(&self) -> Arc<dyn Observer> {
        Arc::new(Announcer {
            shared: self.shared.clone(),
            base: self.base.clone(),
        })
    }

    /// Stops the server; the exchanges, in the order they were answered.
    pub(crate) async fn finish(mut self) -> Vec<Exchange> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        std::mem::take(&mut self.shared.state.lock().log)
    }
}

struct Announcer {
    shared: Arc<Shared>,
    base: String,
}

impl Observer for Announcer {
    fn event(&self, event: &Event<'_>) {
        if let Event::Request {
            step,
            item,
            request,
            ..
        } = event
            && let Some(rest) = request.url.strip_prefix(&self.base)
        {
            let path = rest.split('?').next().unwrap_or_default();
            let key = format!("{} {path}", request.method);
            self.shared
                .pending
                .lock()
                .entry(key)
                .or_default()
                .push_back(((*step).to_string(), *item));
        }
    }
}

fn find_canned(
    plan: &Plan,
    step: Option<&str>,
    method: &str,
    path: &str,
    line_query: &str,
) -> Option<usize> {
    let full = if line_query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{line_query}")
    };
    let by_step = plan.canned.iter().position(|r| match (&r.key, step) {
        (Key::Step(s), Some(step)) => s == step,
        _ => false,
    });
    let exact = || {
        plan.canned.iter().position(|r| match &r.key {
            Key::Route { method: m, pattern } => m == method && (*pattern == full),
            Key::Step(_) => false,
        })
    };
    let plain = || {
        plan.canned.iter().position(|r| match &r.key {
            Key::Route { method: m, pattern } => m == method && pattern == path,
            Key::Step(_) => false,
        })
    };
    let wild = || {
        plan.canned.iter().position(|r| match &r.key {
            Key::Route { method: m, pattern } if pattern.contains('*') => {
                m == method && (glob(pattern, &full) || glob(pattern, path))
            }
            _ => false,
        })
    };
    by_step.or_else(exact).or_else(plain).or_else(wild)
}

fn canned_response(c: &Canned) -> Response {
    let status = StatusCode::from_u16(c.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, axum::Json(c.body.clone())).into_response();
    for (k, v) in &c.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

fn body_value(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    )
}

/// A request as the case's server reads it.
struct Incoming {
    method: String,
    /// The flow's connection: the first segment of the path.
    connection: String,
    /// The path after the connection.
    rest: String,
    /// The query as sent (the connection's auth parameter included).
    raw_query: String,
    /// `METHOD /rest?query`, the auth parameter left out: how fixtures name the request.
    line: String,
    /// The query of `line`.
    line_query: String,
    headers: axum::http::HeaderMap,
    /// The step (and `for_each` item) that announced it, when one did.
    step: Option<String>,
    item: Option<usize>,
}

/// One answer: the response, its status and body (logged), and whether nothing could answer.
type Answer = (Response, u16, Value, bool);

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let incoming = read_request(&shared, &parts);
    let request_body = body_value(&body);
    let (response, status, answer, unanswered) = if let Some(c) = canned(&shared, &incoming) {
        (canned_response(&c), c.status, c.body, false)
    } else if let Some(entries) = &shared.plan.cassette {
        from_cassette(&shared, entries, &incoming)
    } else if let Some(target) = shared.plan.forward.get(&incoming.connection) {
        match forward(&shared.http, target, &incoming, body).await {
            Ok((resp, status, value)) => (resp, status, value, false),
            Err(e) => {
                let value = json!({ "message": e });
                (
                    (StatusCode::BAD_GATEWAY, axum::Json(value.clone())).into_response(),
                    502,
                    value,
                    false,
                )
            }
        }
    } else {
        missing(
            &incoming.line,
            incoming.step.as_deref(),
            "has no canned answer",
        )
    };
    shared.state.lock().log.push(Exchange {
        connection: incoming.connection,
        step: incoming.step,
        line: incoming.line,
        body: request_body,
        status,
        response: answer,
        unanswered,
    });
    response
}

/// The request's connection, line and announcing step.
fn read_request(shared: &Shared, parts: &axum::http::request::Parts) -> Incoming {
    let method = parts.method.as_str().to_string();
    let uri_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or_default().to_string();
    let trimmed = uri_path.trim_start_matches('/');
    let (connection, rest) = match trimmed.split_once('/') {
        Some((c, r)) => (c.to_string(), format!("/{r}")),
        None => (trimmed.to_string(), "/".to_string()),
    };
    let auth_param = shared.plan.auth_params.get(&connection);
    let line_query: String = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| auth_param.is_none_or(|a| p.split('=').next() != Some(a.as_str())))
        .collect::<Vec<_>>()
        .join("&");
    let line = if line_query.is_empty() {
        format!("{method} {rest}")
    } else {
        format!("{method} {rest}?{line_query}")
    };
    let announced = shared
        .pending
        .lock()
        .get_mut(&format!("{method} {uri_path}"))
        .and_then(VecDeque::pop_front);
    let (step, item) = match announced {
        Some((s, i)) => (Some(s), i),
        None => (None, None),
    };
    Incoming {
        method,
        connection,
        rest,
        raw_query,
        line,
        line_query,
        headers: parts.headers.clone(),
        step,
        item,
    }
}

/// The case's canned answer for the request, if it has one: per `for_each` item for a step's
/// answers, else the next in turn (the last one repeats).
fn canned(shared: &Shared, r: &Incoming) -> Option<Canned> {
    let i = find_canned(
        &shared.plan,
        r.step.as_deref(),
        &r.method,
        &r.rest,
        &r.line_query,
    )?;
    let responses = &shared.plan.canned[i];
    let n = {
        let mut state = shared.state.lock();
        let n = state.calls.entry(i).or_insert(0);
        let at = *n;
        *n += 1;
        at
    };
    let index = match (&responses.key, r.item) {
        (Key::Step(_), Some(item)) => item,
        _ => n,
    };
    let last = responses.answers.len().checked_sub(1)?;
    responses.answers.get(index.min(last)).cloned()
}

/// The cassette's first unused recording of the same request.
fn from_cassette(shared: &Shared, entries: &[Entry], r: &Incoming) -> Answer {
    let hit = {
        let mut state = shared.state.lock();
        let found = entries.iter().enumerate().position(|(i, e)| {
            !state.used[i] && e.connection == r.connection && e.request == r.line
        });
        if let Some(i) = found {
            state.used[i] = true;
        }
        found
    };
    match hit.and_then(|i| entries.get(i)) {
        Some(e) => {
            let c = Canned {
                status: e.status,
                body: e.response.clone(),
                headers: Vec::new(),
            };
            (canned_response(&c), e.status, e.response.clone(), false)
        }
        None => missing(&r.line, r.step.as_deref(), "is not in the cassette"),
    }
}

fn missing(line: &str, step: Option<&str>, why: &str) -> Answer {
    let by = step.map(|s| format!(" (step `{s}`)")).unwrap_or_default();
    let value = json!({ "message": format!("sluice test: {line}{by} {why}") });
    (
        (StatusCode::NOT_IMPLEMENTED, axum::Json(value.clone())).into_response(),
        501,
        value,
        true,
    )
}

/// Headers passed back from the forwarded answer.
fn kept_header(name: &str) -> bool {
    name == "content-type"
        || name == "retry-after"
        || name.starts_with("x-ratelimit")
        || name == "location"
}

/// Sends the request on to `target` (the sandbox or a live endpoint) and passes its answer back.
async fn forward(
    http: &reqwest::Client,
    target: &str,
    r: &Incoming,
    body: Bytes,
) -> Result<(Response, u16, Value), String> {
    let mut url = format!("{}{}", target.trim_end_matches('/'), r.rest);
    if !r.raw_query.is_empty() {
        url.push('?');
        url.push_str(&r.raw_query);
    }
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = http.request(method, &url);
    for (k, v) in &r.headers {
        let name = k.as_str();
        if matches!(
            name,
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        req = req.header(name, v.as_bytes());
    }
    let answer = req
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {target}: {e}"))?;
    let status = answer.status().as_u16();
    let mut out_headers = Vec::new();
    for (k, v) in answer.headers() {
        if kept_header(k.as_str()) {
            out_headers.push((k.as_str().to_string(), v.as_bytes().to_vec()));
        }
    }
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    let value = body_value(&bytes).unwrap_or(Value::Null);
    let mut resp = Response::new(axum::body::Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in out_headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(&v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    Ok((resp, status, value))
}
