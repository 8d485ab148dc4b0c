//! JSONPath (RFC 9535, serde_json_path) for the engine's `select:` steps and the `jsonpath`
//! helper. The official compliance suite runs through [`evaluate`] in `tests/jsonpath_cts.rs`.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A JSONPath that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath: {0}")]
pub struct JsonPathError(pub String);

/// Parses a path once (at plan time).
///
/// # Errors
/// The parse error.
pub fn compile(path: &str) -> Result<JsonPath, JsonPathError> {
    JsonPath::parse(path).map_err(|e| JsonPathError(e.to_string()))
}

/// The nodes a compiled path selects from `doc`, in document order.
#[must_use]
pub fn query(path: &JsonPath, doc: &Value) -> Vec<Value> {
    path.query(doc).all().into_iter().cloned().collect()
}

/// Parses and evaluates in one go.
///
/// # Errors
/// The parse error.
pub fn evaluate(path: &str, doc: &Value) -> Result<Vec<Value>, JsonPathError> {
    Ok(query(&compile(path)?, doc))
}
