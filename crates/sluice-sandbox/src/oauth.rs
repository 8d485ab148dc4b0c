//! `POST /oauth/token` (FACTS §7): form-urlencoded refresh-token and authorization-code
//! grants. Refresh tokens rotate and are single-use; issued access tokens keep working until
//! they expire, measured with tokio's clock.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::json;
use tokio::time::Instant;

use crate::config::{OAuthClient, TokenGrant};
use crate::state::{Principal, SandboxState, lock};
use crate::util::new_id;

#[derive(Clone, Debug)]
struct Access {
    client_id: String,
    grant: TokenGrant,
    expires: Instant,
}

/// Valid refresh tokens and codes (each naming its client), and issued access tokens.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    refresh: HashMap<String, String>,
    codes: HashMap<String, String>,
    access: HashMap<String, Access>,
    pub(crate) refreshes: u64,
}

impl OAuthState {
    pub(crate) fn new(clients: &[OAuthClient]) -> Self {
        let mut s = Self::default();
        for c in clients {
            for r in &c.refresh_tokens {
                s.refresh.insert(r.clone(), c.client_id.clone());
            }
            for code in &c.auth_codes {
                s.codes.insert(code.clone(), c.client_id.clone());
            }
        }
        s
    }

    /// The grant of an OAuth access token that has not expired. Rate limits are counted per
    /// app and location (FACTS §6), so all tokens of one app share a budget.
    pub(crate) fn access_grant(&self, token: &str, now: Instant) -> Option<Principal> {
        let a = self.access.get(token)?;
        (now < a.expires).then(|| Principal {
            grant: a.grant.clone(),
            rate_key: format!("app:{}|{}", a.client_id, a.grant.location_id),
        })
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The token endpoint.
pub(crate) async fn token(
    State(st): State<SandboxState>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let (client_id, secret, grant_type) = (
        field("client_id"),
        field("client_secret"),
        field("grant_type"),
    );
    if client_id.is_empty() || secret.is_empty() || grant_type.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id, client_secret and grant_type are required",
        );
    }
    let Some(client) = st
        .inner
        .config
        .oauth_clients
        .iter()
        .find(|c| c.client_id == client_id)
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client_id",
        );
    };
    if client.client_secret != secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Wrong client_secret",
        );
    }
    let mut oauth = lock(&st.inner.oauth);
    match grant_type {
        "refresh_token" => {
            let presented = field("refresh_token");
            if presented.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            }
            // Single-use refresh tokens: UNCONFIRMED by GHL's text, assumed by its SDK (FACTS §7).
            // A reused one is refused with 401 (RFC 6749 would say 400; the brief says 401).
            if oauth.refresh.get(presented).map(String::as_str) != Some(client_id) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "Invalid refresh token: it was already used, or never issued to this client",
                );
            }
            oauth.refresh.remove(presented);
            oauth.refreshes += 1;
        }
        "authorization_code" => {
            let code = field("code");
            if oauth.codes.get(code).map(String::as_str) != Some(client_id) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "Invalid authorization code: it was already used, or never issued to this client",
                );
            }
            oauth.codes.remove(code);
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type `{other}` is not supported by the sandbox (refresh_token, authorization_code)"
                ),
            );
        }
    }
    let access_token = format!("sbx-at-{}", new_id());
    let refresh_token = format!("sbx-rt-{}", new_id());
    let grant = TokenGrant {
        token: access_token.clone(),
        location_id: client.location_id.clone(),
        scopes: client.scopes.clone(),
        user_id: client.user_id.clone(),
    };
    oauth.access.insert(
        access_token.clone(),
        Access {
            client_id: client.client_id.clone(),
            grant,
            expires: Instant::now() + client.access_token_ttl,
        },
    );
    oauth
        .refresh
        .insert(refresh_token.clone(), client.client_id.clone());
    drop(oauth);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in(client.access_token_ttl),
        "refresh_token": refresh_token,
        "scope": client.scopes.join(" "),
        "userType": "Location",
        "locationId": client.location_id,
        "userId": client.user_id,
    }))
    .into_response()
}

fn expires_in(ttl: Duration) -> u64 {
    ttl.as_secs()
}
