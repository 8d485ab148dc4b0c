//! `POST /oauth/token` (FACTS §7): form-urlencoded refresh-token and authorization-code
//! grants: the app is authenticated, the refresh token or code used up, and a new pair issued
//! (the tokens themselves are kept in `tokens::OAuthState`).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::time::Instant;

use crate::config::OAuthClient;
use crate::state::SandboxState;
use crate::tokens::OAuthState;

/// The token request's form fields.
type Form = HashMap<String, String>;

/// An OAuth error answer: a status and `{"error", "error_description"}`.
pub(crate) struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> Refusal {
    Refusal {
        status,
        error,
        description: description.to_owned(),
    }
}

/// The token endpoint.
pub(crate) async fn token(
    State(st): State<SandboxState>,
    axum::Form(form): axum::Form<Form>,
) -> Result<Response, Refusal> {
    let client = authenticate(&st, &form)?;
    let mut oauth = st.inner.oauth.lock();
    redeem(&mut oauth, &form)?;
    let (access_token, refresh_token) = oauth.issue(client, Instant::now());
    drop(oauth);
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in(client.access_token_ttl),
        "refresh_token": refresh_token,
        "scope": client.scopes.join(" "),
        "userType": "Location",
        "locationId": client.location_id,
        "userId": client.user_id,
    }))
    .into_response())
}

/// The OAuth app the form's `client_id` and `client_secret` name, or the refusal.
fn authenticate<'s>(st: &'s SandboxState, form: &Form) -> Result<&'s OAuthClient, Refusal> {
    let field = |k: &str| field(form, k);
    let (client_id, secret, grant_type) = (
        field("client_id"),
        field("client_secret"),
        field("grant_type"),
    );
    if client_id.is_empty() || secret.is_empty() || grant_type.is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id, client_secret and grant_type are required",
        ));
    }
    let Some(client) = st
        .inner
        .config
        .oauth_clients
        .iter()
        .find(|c| c.client_id == client_id)
    else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client_id",
        ));
    };
    if client.client_secret != secret {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Wrong client_secret",
        ));
    }
    Ok(client)
}

/// Uses up the refresh token or authorization code of the form's grant, or the refusal.
fn redeem(oauth: &mut OAuthState, form: &Form) -> Result<(), Refusal> {
    let field = |k: &str| field(form, k);
    let client_id = field("client_id");
    match field("grant_type") {
        "refresh_token" => {
            let presented = field("refresh_token");
            if presented.is_empty() {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                ));
            }
            // Single-use refresh tokens: UNCONFIRMED by GHL's text, assumed by its SDK (FACTS §7).
            // A reused one is refused with 401 (RFC 6749 would say 400; the brief says 401).
            if !oauth.redeem_refresh_token(presented, client_id) {
                return Err(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "Invalid refresh token: it was already used, or never issued to this client",
                ));
            }
        }
        "authorization_code" => {
            if !oauth.redeem_code(field("code"), client_id) {
                return Err(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "Invalid authorization code: it was already used, or never issued to this client",
                ));
            }
        }
        other => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type `{other}` is not supported by the sandbox (refresh_token, authorization_code)"
                ),
            ));
        }
    }
    Ok(())
}

/// A field of the form; empty when missing.
fn field<'f>(form: &'f Form, name: &str) -> &'f str {
    form.get(name).map(String::as_str).unwrap_or_default()
}

fn expires_in(ttl: Duration) -> u64 {
    ttl.as_secs()
}
