//! What every GHL handler shares: its answer type, the JSON answer, and the check that a
//! request's location is the token's.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::GhlError;
use crate::tokens::Principal;

/// What a GHL handler answers.
pub(crate) type Reply = Result<Response, GhlError>;

/// A JSON answer with `status`.
pub(crate) fn reply(status: StatusCode, v: Value) -> Reply {
    Ok((status, Json(v)).into_response())
}

/// A request's `locationId` must be the token's location, else 403.
pub(crate) fn own_location(p: &Principal, location: &str) -> Result<(), GhlError> {
    if p.grant.location_id == location {
        Ok(())
    } else {
        Err(GhlError::other_location())
    }
}
