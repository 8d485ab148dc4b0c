//! Error answers in GHL's shapes (common-schemas.json, FACTS §2) and IPinfo's shape.
//! GHL runs on NestJS; where FACTS.md gives no body, NestJS's default shape is used and the
//! guess is named beside it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of the GHL API.
#[derive(Debug)]
pub(crate) enum GhlError {
    /// 400 with a message (FACTS §2: `{"statusCode":400,"message":"Bad Request"}`).
    BadRequest(String),
    /// 400 with extra fields (e.g. the duplicate-contact answer).
    BadRequestWith(Value),
    /// 401 (FACTS §2, exact body).
    Unauthorized,
    /// 403 — body shape UNCONFIRMED (FACTS §2 gives none).
    Forbidden(String),
    /// 404 — body shape UNCONFIRMED (FACTS §11).
    NotFound(String),
    /// 422 — `message` is an ARRAY (FACTS §2).
    Unprocessable(Vec<String>),
}

impl GhlError {
    /// 404 for a contact id that is not there.
    pub(crate) fn contact_not_found() -> Self {
        Self::NotFound("Contact not found".to_owned())
    }

    /// 403 for a location that is not the token's (the body is a guess; FACTS.md has none).
    pub(crate) fn other_location() -> Self {
        Self::Forbidden("The token does not have access to this location".to_owned())
    }

    /// A single 422 message.
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::Unprocessable(vec![msg.into()])
    }
}

impl IntoResponse for GhlError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            GhlError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                json!({"statusCode": 400, "message": m, "error": "Bad Request"}),
            ),
            GhlError::BadRequestWith(v) => (StatusCode::BAD_REQUEST, v),
            GhlError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"}),
            ),
            GhlError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                json!({"statusCode": 403, "message": m}),
            ),
            GhlError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                json!({"statusCode": 404, "message": m}),
            ),
            GhlError::Unprocessable(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"statusCode": 422, "message": m, "error": "Unprocessable Entity"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// A GHL-shaped answer for any status (fault injection, unknown routes).
pub(crate) fn ghl_status(status: StatusCode, message: &str) -> Response {
    let mut body = json!({"statusCode": status.as_u16(), "message": message});
    if let Some(reason) = status.canonical_reason() {
        body["error"] = Value::String(reason.to_owned());
    }
    (status, Json(body)).into_response()
}

/// An IPinfo error answer: `{"status":N,"error":{"title":…,"message":…}}` (IPinfo FACTS, 429 behaviour).
pub(crate) fn ipinfo_error(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "error": {"title": title, "message": message}})),
    )
        .into_response()
}
