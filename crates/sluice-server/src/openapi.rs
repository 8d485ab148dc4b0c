//! The OpenAPI 3.1 document of the runner's HTTP API (`GET /api/openapi.json`): the schemas
//! come from the API's types (`dto.rs`, schemars), the paths from the table below; the
//! committed `schemas/openapi.json` is checked against it (`scripts/gen-schemas.sh`).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sluice_store::{RunDetail, RunStatus};

use crate::dto::{ApiError, FlowList, RunList, RunQueued, RunResult};

/// The OpenAPI document as JSON.
pub fn document() -> Value {
    // Over 80 lines: the table of paths, which reads best as one JSON literal.
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let r = |v: schemars::Schema| v.to_value();
    let flow_list = r(generator.subschema_for::<FlowList>());
    let queued = r(generator.subschema_for::<RunQueued>());
    let result = r(generator.subschema_for::<RunResult>());
    let run_list = r(generator.subschema_for::<RunList>());
    let detail = r(generator.subschema_for::<RunDetail>());
    let err = r(generator.subschema_for::<ApiError>());
    let status = r(generator.subschema_for::<RunStatus>());
    let schemas = generator.take_definitions(true);
    let json_body = |schema: &Value, what: &str| json!({"description": what, "content": {"application/json": {"schema": schema}}});
    let refused = json_body(
        &err,
        "No valid `Authorization: Bearer TOKEN` and no session cookie",
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sluice runner API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The HTTP interface of `sluice serve`: flows, runs and their steps. Every `/api/` route and `/metrics` need the runner's token, as `Authorization: Bearer TOKEN` or as the session cookie the web view's login sets. Request bodies are limited to 1 MiB, request targets (path and query) to 8 KiB.",
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/flows": {"get": {
                "operationId": "listFlows",
                "summary": "The flows served: triggers (with the next fire time), inputs, validity; and the files not served",
                "responses": {"200": json_body(&flow_list, "The flows"), "401": refused},
            }},
            "/api/flows/{name}/runs": {"post": {
                "operationId": "startRun",
                "summary": "Queue a run of a flow with a `manual` trigger (or none); with `?wait=`, wait for its output",
                "parameters": [
                    {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The flow's name"},
                    {"name": "wait", "in": "query", "required": false, "schema": {"type": "string", "examples": ["30s"]}, "description": "Wait this long (at most 5m) for the run to end and answer with its output"},
                ],
                "requestBody": {"required": false, "description": "The inputs, by name (an empty body: no inputs)", "content": {"application/json": {"schema": {"type": "object", "additionalProperties": true}}}},
                "responses": {
                    "200": json_body(&result, "The run ended within `wait`"),
                    "202": json_body(&queued, "The run is queued (or still running when `wait` ran out)"),
                    "400": json_body(&err, "The body or the inputs are not what the flow declares"),
                    "401": refused,
                    "403": json_body(&err, "The flow has no `manual` trigger"),
                    "404": json_body(&err, "No such flow"),
                    "413": {"description": "The body is larger than 1 MiB"},
                },
            }},
            "/api/runs": {"get": {
                "operationId": "listRuns",
                "summary": "Recent runs, newest first",
                "parameters": [
                    {"name": "flow", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this flow's runs"},
                    {"name": "status", "in": "query", "required": false, "schema": status, "description": "Only runs in this state"},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 50}, "description": "At most this many (1000 at most)"},
                ],
                "responses": {"200": json_body(&run_list, "The runs"), "400": json_body(&err, "An unknown status"), "401": refused},
            }},
            "/api/runs/{id}": {"get": {
                "operationId": "getRun",
                "summary": "One run: its steps (requests with secrets redacted, outputs), HTTP calls and output. At most `limit` step records and `limit` HTTP calls are listed: the first in order, then up to `limit` more of those that went wrong (steps failed or cancelled, calls unanswered or answered 4xx/5xx); `omitted` counts the rest and is absent when nothing is left out",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The run's id (a ULID)"},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 1000}, "description": "How many step records and HTTP calls to list (each)"},
                ],
                "responses": {
                    "200": json_body(&detail, "The run"),
                    "400": json_body(&err, "Not a run id, or a limit over 10,000"),
                    "401": refused,
                    "404": json_body(&err, "No such run"),
                },
            }},
            "/api/runs/{id}/output": {"get": {
                "operationId": "getRunOutput",
                "summary": "A run's output. A run that streamed it (a flow whose output is a `for_each` step's results; its stored `output` is `{\"$items\": N}`) answers with the items as JSON lines, one per item in the list's order, sent as they are read from the store; any other run with its output as JSON (`null` until it ends)",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The run's id (a ULID)"}],
                "responses": {
                    "200": {"description": "The output", "content": {
                        "application/x-ndjson": {"schema": {"description": "One item's result per line"}},
                        "application/json": {"schema": {"description": "The whole output"}},
                    }},
                    "400": json_body(&err, "Not a run id"),
                    "401": refused,
                    "404": json_body(&err, "No such run"),
                },
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openApi",
                "summary": "This document",
                "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}, "401": refused},
            }},
            "/metrics": {"get": {
                "operationId": "metrics",
                "summary": "Prometheus / OpenMetrics text",
                "responses": {"200": {"description": "The metrics", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}, "401": refused},
            }},
            "/hooks/{flow}": {"post": {
                "operationId": "webhook",
                "summary": "A GHL webhook delivery, signed with Ed25519 (`x-ghl-signature`: base64 of the signature of the raw body)",
                "security": [],
                "parameters": [
                    {"name": "flow", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "x-ghl-signature", "in": "header", "required": true, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": {"description": "Delivered before: not run again"},
                    "202": {"description": "Queued, or ignored (an event the flow does not listen to)"},
                    "400": json_body(&err, "Not a JSON object, or a bad `timestamp`"),
                    "401": json_body(&err, "Missing or wrong signature, or a stale `timestamp`"),
                    "404": json_body(&err, "No such flow"),
                    "503": json_body(&err, "Webhooks are off (no public key configured)"),
                },
            }},
            "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness", "security": [], "responses": {"200": {"description": "Alive"}}}},
            "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness: flows loaded, store reachable", "security": [], "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}}}},
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The runner's token (`[serve] token` or `$SLUICE_API_TOKEN`)"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE, "description": "Set by `POST /login` (the web view); with it, anything but GET also needs the session's CSRF token in the `x-sluice-csrf` header"},
            },
        },
    })
}

/// The document as committed in `schemas/openapi.json`.
pub fn document_text() -> String {
    serde_json::to_string_pretty(&document()).unwrap_or_default()
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document_text);

/// `GET /api/openapi.json`.
pub(crate) async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document is what the code generates; regenerate with
    /// `scripts/gen-schemas.sh`.
    #[test]
    fn committed_openapi_document_is_fresh() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed.trim_end() == document_text().trim_end(),
            "schemas/openapi.json is stale: run `scripts/gen-schemas.sh` and commit the result"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut refs = Vec::new();
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| walk(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }
}
