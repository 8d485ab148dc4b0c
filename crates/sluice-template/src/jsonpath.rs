//! JSONPath (RFC 9535, serde_json_path) for the engine's `select:` steps and the `jsonpath`
//! helper. The official compliance suite runs through [`evaluate`] in `tests/jsonpath_cts.rs`.
//! A path that calls a function RFC 9535 does not have (`now()`) is named as such.

use serde_json::Value;
use serde_json_path::JsonPath;

/// The functions RFC 9535 defines.
pub const FUNCTIONS: &[&str] = &["length", "count", "match", "search", "value"];

/// A JSONPath that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath: {0}")]
pub struct JsonPathError(pub String);

/// A function call in a path that RFC 9535 does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFunction {
    /// Its name, e.g. `now`.
    pub name: String,
    /// The byte offset of the name in the path.
    pub offset: usize,
}

impl UnknownFunction {
    /// What is wrong, in one line.
    #[must_use]
    pub fn message(&self) -> String {
        format!(
            "JSONPath has no function `{}()`: its functions are `length`, `count`, `match`, \
             `search` and `value`",
            self.name
        )
    }
}

/// The first call of a function RFC 9535 does not define (`now()`, `@.date.toDate()`), if
/// any; text in quotes is skipped.
#[must_use]
pub fn unknown_function(path: &str) -> Option<UnknownFunction> {
    let bytes = path.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if let Some(q) = quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'\'' || b == b'"' {
            quote = Some(b);
            i += 1;
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while bytes
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                i += 1;
            }
            let name = path.get(start..i).unwrap_or_default();
            let next = path.get(i..).map(str::trim_start).unwrap_or_default();
            if next.starts_with('(') && !FUNCTIONS.contains(&name) {
                return Some(UnknownFunction {
                    name: name.to_string(),
                    offset: start,
                });
            }
            continue;
        }
        i += 1;
    }
    None
}

/// Parses a path once (at plan time).
///
/// # Errors
/// The parse error (or the function RFC 9535 does not have).
pub fn compile(path: &str) -> Result<JsonPath, JsonPathError> {
    JsonPath::parse(path).map_err(|e| match unknown_function(path) {
        Some(f) => JsonPathError(f.message()),
        None => JsonPathError(e.to_string()),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_rfc_9535_lacks_are_named() {
        let f = unknown_function("$[?@.dueDate < now()]").expect("now");
        assert_eq!((f.name.as_str(), f.offset), ("now", 15));
        let f = unknown_function("$[?@.d.toDate () > 1]").expect("toDate");
        assert_eq!(f.name, "toDate");
        assert_eq!(
            unknown_function("$[?length(@.tags) > 0 && match(@.n, 'a.*')]"),
            None
        );
        assert_eq!(unknown_function("$[?@.note == 'call now()']"), None);
        assert_eq!(unknown_function("$[?@.note == \"x\\\" now()\"]"), None);
        assert_eq!(
            compile("$.steps.t.tasks[?@.dueDate < now()]").map(|_| ()),
            Err(JsonPathError(
                "JSONPath has no function `now()`: its functions are `length`, `count`, \
                 `match`, `search` and `value`"
                    .to_string()
            ))
        );
        // Other mistakes keep the parser's words.
        assert!(compile("$[").is_err_and(|e| !e.0.contains("no function")));
    }
}
