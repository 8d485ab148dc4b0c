//! The web view of `sluice serve`: server-rendered pages (flows, a flow's DAG and "Run now"
//! form, runs, one run's timeline) behind a login that trades the runner's token for a
//! server-side session (HttpOnly, SameSite=Strict cookie); forms carry a per-session CSRF token.

mod dag;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_model::flow::InputType;
use sluice_model::flow::Trigger;
use sluice_store::{RunFilter, RunId, RunStatus};

use crate::auth::{self, Auth};
use crate::dto::flow_list;
use crate::shared::Shared;

/// The largest form body (login, Run now).
const MAX_FORM: usize = 64 * 1024;

type Shared_ = Arc<Shared>;

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
    let auth = match shared.sessions.of_request(req.headers()).await {
        Some(csrf) => Some(Auth::Session(csrf)),
        None => auth::bearer(req.headers())
            .filter(|t| auth::token_matches(&shared.serve_keys().api_token, t))
            .map(|_| Auth::Bearer),
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
    if shared.sessions.of_request(&headers).await.is_some() {
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
    if !auth::token_matches(&shared.serve_keys().api_token, form.token.trim()) {
        tracing::warn!("Web view login with a wrong token refused.");
        // Slows down guessing (the token has at least 16 characters).
        tokio::time::sleep(Duration::from_millis(300)).await;
        return (
            StatusCode::UNAUTHORIZED,
            pages::login(&next, Some("That is not the runner's token.")),
        )
            .into_response();
    }
    let Some((value, _)) = shared.sessions.create().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            pages::login(
                &next,
                Some("The run store cannot record the session; try again."),
            ),
        )
            .into_response();
    };
    let jar = CookieJar::new().add(auth::session_set_cookie(value));
    (jar, Redirect::to(&next)).into_response()
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
    if !auth.csrf_ok(form.csrf.as_deref()) {
        return forbidden();
    }
    if let Some(v) = auth::session_cookie(&headers) {
        shared.sessions.remove(&v).await;
    }
    let jar = CookieJar::new().add(auth::session_clear_cookie());
    (jar, Redirect::to("/login")).into_response()
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
    let list = flow_list(&snap, chrono::Utc::now());
    let recent = shared
        .store
        .list_runs(&RunFilter {
            limit: Some(200),
            ..RunFilter::default()
        })
        .await
        .unwrap_or_default();
    pages::flows(auth.csrf(), &list, &recent).into_response()
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
    let list = flow_list(&snap, chrono::Utc::now());
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
            csrf: auth.csrf(),
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
    if !auth.csrf_ok(csrf) {
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
    let FormInputs {
        given,
        raw,
        mut problems,
    } = form_inputs(&name, &entry.exec, &fields);
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

/// The `in.NAME` fields of a "Run now" form.
struct FormInputs {
    /// The values given, typed.
    given: Map<String, Value>,
    /// The texts as sent (shown again with the problems).
    raw: Map<String, Value>,
    problems: Vec<String>,
}

fn form_inputs(
    name: &str,
    exec: &sluice_engine::Executable,
    fields: &[(String, String)],
) -> FormInputs {
    let mut out = FormInputs {
        given: Map::new(),
        raw: Map::new(),
        problems: Vec::new(),
    };
    for (key, text) in fields {
        let Some(input) = key.strip_prefix("in.") else {
            continue;
        };
        out.raw
            .insert(input.to_string(), Value::String(text.clone()));
        let Some(decl) = exec.inputs.get(input) else {
            out.problems
                .push(format!("flow `{name}` has no input `{input}`"));
            continue;
        };
        if text.trim().is_empty() {
            continue; // not given: the default, or "required"
        }
        match form_value(decl.kind, text) {
            Ok(v) => {
                out.given.insert(input.to_string(), v);
            }
            Err(why) => out.problems.push(format!("input `{input}`: {why}")),
        }
    }
    out
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
            csrf: auth.csrf(),
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

/// How many step records and HTTP calls a run's page lists (each): the first, then those that
/// went wrong; the page says how many it leaves out.
const PAGE_RECORDS: usize = 200;

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
    let run = match shared.store.get_run_within(&run_id, PAGE_RECORDS).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(&format!("No run has the id `{run_id}`.")),
        Err(e) => return unavailable(e),
    };
    let snap = shared.registry.snapshot();
    let exec = snap.flows.get(&run.run.flow).map(|e| e.exec.clone());
    pages::run(auth.csrf(), &run, exec.as_deref()).into_response()
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
}
