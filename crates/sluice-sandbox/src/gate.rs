//! The middleware every request passes: request counting per route, fault injection, and
//! for GHL routes the checks in GHL's order as the sandbox models it — token (401), rate
//! limits (429, FACTS §6), `Version` header (400, FACTS §1), scope (403).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::config::{SCOPE_READ, SCOPE_WRITE};
use crate::errors::{GhlError, ghl_status, ipinfo_error};
use crate::fault::Action;
use crate::ratelimit::RateInfo;
use crate::state::SandboxState;

/// The `Version` GHL's Contacts API declares (FACTS §1).
pub(crate) const VERSION: &str = "2021-07-28";
/// The `Version` of the Conversations and Calendars APIs (their documents' enum).
pub(crate) const VERSION_2021_04_15: &str = "2021-04-15";
/// The official SDK's default `Version`, accepted unless `strict_version` (FACTS §1).
pub(crate) const SDK_DEFAULT_VERSION: &str = "2023-02-21";

/// What the server knows about the connection a request came on.
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    /// Notified to close the connection without an answer.
    pub(crate) drop: Arc<Notify>,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}

/// The route template of a request, `METHOD /path/{param}` (or the raw path when no route matched).
pub(crate) fn route_key(req: &Request) -> String {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    format!("{} {}", req.method(), path)
}

/// The scope an operation needs: reads (GET and the search POST) need `contacts.readonly`,
/// everything else `contacts.write` (contacts.json `security`; the two bulk operations declare
/// none and are treated as writes — a guess). A write scope does not imply the read scope.
pub(crate) fn scope_for(method: &Method, route_path: &str) -> &'static str {
    let route = format!("{method} {route_path}");
    if let Some((_, scope)) = crate::apis::SCOPES.iter().find(|(r, _)| *r == route) {
        return scope;
    }
    if method == Method::GET || route_path == "/contacts/search" {
        SCOPE_READ
    } else {
        SCOPE_WRITE
    }
}

/// The token of `Authorization: Bearer TOKEN` (the scheme is matched without case).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub(crate) async fn gate(State(st): State<SandboxState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/__sandbox") {
        return next.run(req).await;
    }
    let route = route_key(&req);
    let uri = req.uri().to_string();
    st.count_arrival(&route);
    let ipinfo = path == "/ipinfo" || path.starts_with("/ipinfo/");
    let mut answer_delay = None;
    match st.fault_action(&route) {
        Action::Pass => {}
        Action::Delay(d) => tokio::time::sleep(d).await,
        Action::DelayAnswer(d) => answer_delay = Some(d),
        Action::Fail(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Injected fault");
            st.log_answer(&route, &uri, status.as_u16());
            return if ipinfo {
                ipinfo_error(status, reason, "Injected by the sandbox")
            } else {
                ghl_status(status, reason)
            };
        }
        Action::TooMany => {
            st.log_answer(&route, &uri, 429);
            return storm_answer(&st, ipinfo);
        }
        Action::Hang => {
            st.log_answer(&route, &uri, 0);
            std::future::pending::<()>().await;
        }
        Action::Drop => {
            st.log_answer(&route, &uri, 0);
            return match req.extensions().get::<Conn>() {
                Some(conn) => {
                    conn.drop.notify_one();
                    // The connection task drops this future with the connection.
                    std::future::pending::<Response>().await
                }
                None => broken_body(),
            };
        }
    }
    let ghl = [
        "/contacts",
        "/users",
        "/locations",
        "/businesses",
        "/conversations",
        "/opportunities",
        "/calendars",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix));
    let resp = if ghl {
        ghl_checks(&st, req, next).await
    } else {
        next.run(req).await
    };
    if let Some(d) = answer_delay {
        tokio::time::sleep(d).await;
    }
    st.log_answer(&route, &uri, resp.status().as_u16());
    resp
}

async fn ghl_checks(st: &SandboxState, mut req: Request, next: Next) -> Response {
    let Some(principal) = bearer(req.headers()).and_then(|t| st.principal(t)) else {
        return GhlError::Unauthorized.into_response();
    };
    let info = match &st.inner.limiter {
        Some(l) => {
            let checked = l
                .lock()
                .check(&principal.rate_key, tokio::time::Instant::now());
            match checked {
                Ok(info) => Some(info),
                Err(info) => {
                    // 429 body shape and Retry-After are UNCONFIRMED (FACTS §6, §11).
                    let mut resp = ghl_status(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
                    info.apply(resp.headers_mut());
                    return resp;
                }
            }
        }
        None => None,
    };
    let path = req.uri().path().to_owned();
    let mut resp = match check_version(st, req.headers(), &path) {
        Err(e) => e.into_response(),
        Ok(()) => {
            let route_path = req
                .extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            let scope = scope_for(req.method(), &route_path);
            if route_path.is_empty() || principal.grant.has_scope(scope) {
                req.extensions_mut().insert(principal);
                next.run(req).await
            } else {
                // 403 body shape UNCONFIRMED (FACTS §2).
                GhlError::Forbidden("The token does not have access to this scope".to_owned())
                    .into_response()
            }
        }
    };
    if let Some(info) = info {
        info.apply(resp.headers_mut());
    }
    resp
}

fn check_version(st: &SandboxState, headers: &HeaderMap, path: &str) -> Result<(), GhlError> {
    let expected = if path.starts_with("/conversations") || path.starts_with("/calendars") {
        VERSION_2021_04_15
    } else {
        VERSION
    };
    let Some(v) = headers.get("version") else {
        return Err(GhlError::BadRequest(
            "Version header was not found".to_owned(),
        ));
    };
    let v = v.to_str().unwrap_or_default().trim();
    let ok = v == expected || (!st.inner.config.strict_version && v == SDK_DEFAULT_VERSION);
    if ok {
        Ok(())
    } else {
        Err(GhlError::BadRequest(format!(
            "Version header `{v}` is not supported; send `Version: {expected}`"
        )))
    }
}

/// The answer of a 429 storm: GHL's (or IPinfo's) 429 with `Retry-After: 1`.
fn storm_answer(st: &SandboxState, ipinfo: bool) -> Response {
    if ipinfo {
        let mut r = ipinfo_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            "Injected by the sandbox: a 429 storm",
        );
        r.headers_mut().insert("retry-after", 1u32.into());
        return r;
    }
    let cfg = st
        .inner
        .limiter
        .as_ref()
        .map(|l| l.lock().config().clone())
        .unwrap_or_default();
    let info = RateInfo {
        limit_daily: cfg.daily,
        daily_remaining: cfg.daily,
        interval_ms: cfg.burst_window.as_millis(),
        max: cfg.burst,
        remaining: 0,
        retry_after: Some(1),
    };
    let mut r = ghl_status(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    info.apply(r.headers_mut());
    r
}

/// Without a real connection (the router used in-process), a dropped connection is
/// approximated by an answer whose body fails.
fn broken_body() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped by a sandbox fault",
        ))
    });
    Response::new(Body::from_stream(stream))
}
