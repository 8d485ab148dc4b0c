//! The web view of `sluice serve`: server-rendered pages (flows, a flow's DAG and "Run now"
//! form, runs, one run's timeline) behind a login that trades the runner's token for a
//! server-side session (HttpOnly, SameSite=Strict cookie); forms carry a per-session CSRF token.

mod dag;
mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use rand::RngCore as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use sluice_model::flow::InputType;
use sluice_model::flow::Trigger;
use sluice_store::{RunFilter, RunId, RunStatus};

use super::Shared;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "sluice_session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest goes first).
const MAX_SESSIONS: usize = 1024;
/// The longest request target (path and query) accepted, on every route.
pub(crate) const MAX_TARGET: usize = 8 * 1024;
/// The largest form body (login, Run now).
const MAX_FORM: usize = 64 * 1024;

type Shared_ = Arc<Shared>;

/// Logged-in browser sessions: SHA-256 of the cookie's random value → the session.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

struct Session {
    csrf: String,
    expires: Instant,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_key(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

impl Sessions {
    /// A new session: (cookie value, CSRF token).
    fn create(&self) -> (String, String) {
        let value = random_token();
        let csrf = random_token();
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            let oldest = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k);
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(
            session_key(&value),
            Session {
                csrf: csrf.clone(),
                expires: now + SESSION_TTL,
            },
        );
        (value, csrf)
    }

    /// The CSRF token of a live session.
    fn csrf(&self, value: &str) -> Option<String> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&session_key(value))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    fn remove(&self, value: &str) {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&session_key(value));
    }
}

/// The session cookie's value, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim())
}

/// Whether the request carries the cookie of a live session.
fn has_session(shared: &Shared, headers: &HeaderMap) -> bool {
    session_cookie(headers).is_some_and(|v| shared.sessions.csrf(v).is_some())
}

/// The header a browser session sends its CSRF token in when it calls the API with anything
/// but `GET` (the web view's pages carry the token as `data-csrf`).
pub(crate) const CSRF_HEADER: &str = "x-sluice-csrf";

/// Whether the API lets this request in on its session cookie: a live session, and for
/// anything but `GET`/`HEAD` its CSRF token in [`CSRF_HEADER`].
pub(crate) fn session_allows(
    shared: &Shared,
    method: &axum::http::Method,
    headers: &HeaderMap,
) -> bool {
    let Some(csrf) = session_cookie(headers).and_then(|v| shared.sessions.csrf(v)) else {
        return false;
    };
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return true;
    }
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    csrf_ok(&Auth::Session(csrf), presented)
}

/// How a page request was let in.
#[derive(Clone)]
enum Auth {
    /// A browser session, with its CSRF token.
    Session(String),
    /// `Authorization: Bearer TOKEN` (not sent by browsers on their own: no CSRF to fear).
    Bearer,
}

/// Every request target (path and query) is at most [`MAX_TARGET`] bytes: 414 otherwise.
pub(crate) async fn limit_target(req: Request, next: Next) -> Response {
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

/// The pages, the login and the static files, merged into the runner's router.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let pages = Router::new()
        .route("/", get(flows_page))
        .route("/flows/{name}", get(flow_page))
        .route("/flows/{name}/run", post(run_now))
        .route("/runs", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/logout", post(logout))
        .layer(middleware::from_fn_with_state(shared, require_login));
    Router::new()
        .merge(pages)
        .route("/login", get(login_page).post(login))
        .route("/static/app.css", get(css))
        .route("/static/run.js", get(js))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(middleware::from_fn(page_headers))
}

/// Security headers of every page.
async fn page_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

/// Pages need a session cookie or the bearer token; otherwise the browser goes to `/login`.
async fn require_login(State(shared): State<Shared_>, mut req: Request, next: Next) -> Response {
    let auth =
        if let Some(csrf) = session_cookie(req.headers()).and_then(|v| shared.sessions.csrf(v)) {
            Some(Auth::Session(csrf))
        } else {
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .filter(|t| super::token_matches(&shared, t.trim()))
                .map(|_| Auth::Bearer)
        };
    match auth {
        Some(auth) => {
            req.extensions_mut().insert(auth);
            next.run(req).await
        }
        None => {
            let target = if req.method() == axum::http::Method::GET {
                req.uri().path_and_query().map_or("/", |pq| pq.as_str())
            } else {
                "/"
            };
            let next_param: String = url_encode(target);
            Redirect::to(&format!("/login?next={next_param}")).into_response()
        }
    }
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after logging in: a path of this site only (no `//host`, no scheme).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn csrf_ok(auth: &Auth, presented: Option<&str>) -> bool {
    use subtle::ConstantTimeEq as _;
    match auth {
        Auth::Bearer => true,
        Auth::Session(expected) => presented.is_some_and(|p| {
            p.len() == expected.len() && bool::from(p.as_bytes().ct_eq(expected.as_bytes()))
        }),
    }
}

fn csrf_of(auth: &Auth) -> Option<&str> {
    match auth {
        Auth::Session(c) => Some(c),
        Auth::Bearer => None,
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/app.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/run.js"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(shared): State<Shared_>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if has_session(&shared, &headers) {
        return Redirect::to(&next).into_response();
    }
    pages::login(&next, None).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(shared): State<Shared_>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    if !super::token_matches(&shared, form.token.trim()) {
        tracing::warn!("Web view login with a wrong token refused.");
        // Slows down guessing (the token has at least 16 characters).
        tokio::time::sleep(Duration::from_millis(300)).await;
        return (
            StatusCode::UNAUTHORIZED,
            pages::login(&next, Some("That is not the runner's token.")),
        )
            .into_response();
    }
    let (value, _) = shared.sessions.create();
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    let mut resp = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(shared): State<Shared_>,
    axum::Extension(auth): axum::Extension<Auth>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&auth, form.csrf.as_deref()) {
        return forbidden();
    }
    if let Some(v) = session_cookie(&headers) {
        shared.sessions.remove(v);
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sluice_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        pages::message(
            "Form expired",
            "This form's security token is missing or wrong (it belongs to another session). Reload the page and send it again.",
        ),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, pages::message("Not found", what)).into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message("The run store cannot be read", &e.to_string()),
    )
        .into_response()
}

async fn flows_page(
    State(shared): State<Shared_>,
    axum::Extension(auth): axum::Extension<Auth>,
) -> Response {
    let snap = shared.registry.snapshot();
    let list = super::openapi::flow_list(&snap, chrono::Utc::now());
    let recent = shared
        .store
        .list_runs(&RunFilter {
            limit: Some(200),
            ..RunFilter::default()
        })
        .await
        .unwrap_or_default();
    pages::flows(csrf_of(&auth), &list, &recent).into_response()
}

fn is_manual(triggers: &[Trigger]) -> bool {
    triggers.is_empty() || triggers.iter().any(|t| matches!(t, Trigger::Manual(_)))
}

async fn flow_page(
    State(shared): State<Shared_>,
    axum::Extension(auth): axum::Extension<Auth>,
    Path(name): Path<String>,
) -> Response {
    render_flow(&shared, &auth, &name, &[], &Map::new(), StatusCode::OK).await
}

async fn render_flow(
    shared: &Shared,
    auth: &Auth,
    name: &str,
    problems: &[String],
    given: &Map<String, Value>,
    status: StatusCode,
) -> Response {
    let snap = shared.registry.snapshot();
    let Some(entry) = snap.flows.get(name) else {
        return not_found(&format!("No flow is called `{name}`."));
    };
    let list = super::openapi::flow_list(&snap, chrono::Utc::now());
    let Some(info) = list.flows.iter().find(|f| f.name == name) else {
        return not_found(&format!("No flow is called `{name}`."));
    };
    let runs = shared
        .store
        .list_runs(&RunFilter {
            flow: Some(name.to_string()),
            limit: Some(10),
            ..RunFilter::default()
        })
        .await
        .unwrap_or_default();
    (
        status,
        pages::flow(pages::FlowView {
            csrf: csrf_of(auth),
            info,
            exec: &entry.exec,
            manual: is_manual(&entry.triggers),
            runs: &runs,
            problems,
            given,
        }),
    )
        .into_response()
}

/// `POST /flows/{name}/run`: the "Run now" form — `csrf` and one `in.NAME` field per input.
async fn run_now(
    State(shared): State<Shared_>,
    axum::Extension(auth): axum::Extension<Auth>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if !csrf_ok(&auth, csrf) {
        tracing::warn!(flow = %name, "Run now without a valid CSRF token refused.");
        return forbidden();
    }
    let snap = shared.registry.snapshot();
    let Some(entry) = snap.flows.get(&name) else {
        return not_found(&format!("No flow is called `{name}`."));
    };
    if !is_manual(&entry.triggers) {
        return (
            StatusCode::FORBIDDEN,
            pages::message(
                "Not started by hand",
                &format!("Flow `{name}` has no `manual` trigger: it cannot be started by hand."),
            ),
        )
            .into_response();
    }
    let mut given = Map::new();
    let mut raw = Map::new();
    let mut problems = Vec::new();
    for (key, text) in &fields {
        let Some(input) = key.strip_prefix("in.") else {
            continue;
        };
        raw.insert(input.to_string(), Value::String(text.clone()));
        let Some(decl) = entry.exec.inputs.get(input) else {
            problems.push(format!("flow `{name}` has no input `{input}`"));
            continue;
        };
        if text.trim().is_empty() {
            continue; // not given: the default, or "required"
        }
        match form_value(decl.kind, text) {
            Ok(v) => {
                given.insert(input.to_string(), v);
            }
            Err(why) => problems.push(format!("input `{input}`: {why}")),
        }
    }
    let inputs = match sluice_engine::prepare_inputs(&entry.exec, given) {
        Ok(i) if problems.is_empty() => i,
        Ok(_) => Value::Null,
        Err(more) => {
            problems.extend(more.problems);
            Value::Null
        }
    };
    if !problems.is_empty() {
        return render_flow(
            &shared,
            &auth,
            &name,
            &problems,
            &raw,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let new = sluice_store::NewRun {
        flow_hash: entry.exec.content_hash.clone(),
        ..sluice_store::NewRun::new(name.clone(), b"", "web", inputs)
    };
    match shared.store.create_run(new).await {
        Ok(id) => {
            shared.metrics.fired("web");
            shared.wake.notify_one();
            Redirect::to(&format!("/runs/{id}")).into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// A form field's text as a value of the input's declared type.
fn form_value(kind: InputType, text: &str) -> Result<Value, String> {
    let text = text.trim();
    match kind {
        InputType::String => Ok(Value::String(text.to_string())),
        InputType::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("`{text}` is not a whole number")),
        InputType::Number => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{text}` is not a number")),
        InputType::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{text}` is neither true nor false")),
        },
        InputType::Array | InputType::Object => {
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
        }
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    flow: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

async fn runs_page(
    State(shared): State<Shared_>,
    axum::Extension(auth): axum::Extension<Auth>,
    Query(q): Query<RunsQuery>,
) -> Response {
    let flow = q.flow.filter(|f| !f.is_empty());
    let (status, problem) = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => (None, None),
        Some(s) => match s.parse::<RunStatus>() {
            Ok(st) => (Some(st), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let runs = match shared
        .store
        .list_runs(&RunFilter {
            flow: flow.clone(),
            status,
            since: None,
            limit: Some(limit),
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let names: Vec<String> = shared.registry.snapshot().flows.keys().cloned().collect();
    let code = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (
        code,
        pages::runs(pages::RunsView {
            csrf: csrf_of(&auth),
            runs: &runs,
            flows: &names,
            flow: flow.as_deref(),
            status,
            problem: problem.as_deref(),
            limit,
        }),
    )
        .into_response()
}

async fn run_page(
    State(shared): State<Shared_>,
    axum::Extension(auth): axum::Extension<Auth>,
    Path(id): Path<String>,
) -> Response {
    let Ok(run_id) = id.parse::<RunId>() else {
        return (
            StatusCode::BAD_REQUEST,
            pages::message("Not a run id", "A run id has 26 letters and digits."),
        )
            .into_response();
    };
    let run = match shared.store.get_run(&run_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(&format!("No run has the id `{run_id}`.")),
        Err(e) => return unavailable(e),
    };
    let snap = shared.registry.snapshot();
    let exec = snap.flows.get(&run.flow).map(|e| e.exec.clone());
    pages::run(csrf_of(&auth), &run, exec.as_deref()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/runs?flow=a")), "/runs?flow=a");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "runs",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn form_values_take_the_declared_type() {
        assert_eq!(form_value(InputType::Integer, " 42 "), Ok(Value::from(42)));
        assert!(form_value(InputType::Integer, "4.2").is_err());
        assert_eq!(
            form_value(InputType::Boolean, "true"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            form_value(InputType::Array, "[1, 2]"),
            Ok(serde_json::json!([1, 2]))
        );
        assert!(form_value(InputType::Object, "{").is_err());
    }

    #[test]
    fn sessions_expire_and_go() {
        let s = Sessions::default();
        let (value, csrf) = s.create();
        assert_eq!(s.csrf(&value), Some(csrf));
        assert_eq!(s.csrf("forged"), None);
        s.remove(&value);
        assert_eq!(s.csrf(&value), None);
    }
}
