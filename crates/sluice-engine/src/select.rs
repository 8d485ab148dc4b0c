//! JSONPath (RFC 9535, serde_json_path) for `select:` steps and the `jsonpath` helper.
//! The official compliance suite runs through [`evaluate`] in `tests/jsonpath_cts.rs`.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A JSONPath that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectError(pub String);

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSONPath: {}", self.0)
    }
}

impl std::error::Error for SelectError {}

/// Parses a path once (at plan time).
///
/// # Errors
/// The parse error.
pub fn compile(path: &str) -> Result<JsonPath, SelectError> {
    JsonPath::parse(path).map_err(|e| SelectError(e.to_string()))
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
pub fn evaluate(path: &str, doc: &Value) -> Result<Vec<Value>, SelectError> {
    Ok(query(&compile(path)?, doc))
}
