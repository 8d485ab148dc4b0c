//! JSON as the store writes it: values capped at a size with a marker, canonical text (sorted
//! keys) for the audit chain's hashes, and reading stored text back.

use serde_json::{Map, Value};

use crate::StoreError;

/// The key of the marker that replaces a value over the cap:
/// `{"$truncated": true, "bytes": N, "preview": "…"}`.
pub const TRUNCATED_KEY: &str = "$truncated";

/// The key of the output of a run whose output was streamed: `{"$items": N}`, N the number
/// of items stored (read them with [`crate::Store::output_items`]).
pub const ITEMS_KEY: &str = "$items";

/// The output stored for a run whose `n` output items were streamed: `{"$items": n}`.
pub fn items_marker(n: u64) -> Value {
    let mut marker = Map::new();
    marker.insert(ITEMS_KEY.into(), Value::from(n));
    Value::Object(marker)
}

/// How many items a run's streamed output has, when `output` is its marker (`{"$items": N}`).
pub fn streamed_items(output: &Value) -> Option<u64> {
    match output {
        Value::Object(map) if map.len() == 1 => map.get(ITEMS_KEY).and_then(Value::as_u64),
        _ => None,
    }
}

/// How much of a capped value's JSON text the marker keeps.
const PREVIEW_BYTES: usize = 1024;

/// Whether `value` is the marker of a value that was over the cap. A step whose stored output is
/// such a marker cannot hand that output to later steps: a resumed run re-runs it.
pub fn is_truncated(value: &Value) -> bool {
    value.get(TRUNCATED_KEY).and_then(Value::as_bool) == Some(true)
}

/// The JSON text to store for `value`: the value itself, or the marker when its text is longer
/// than `cap` bytes.
pub(crate) fn capped(value: &Value, cap: Option<usize>) -> Result<String, StoreError> {
    let text = serde_json::to_string(value)?;
    match truncation_marker(&text, cap) {
        Some(marker) => Ok(serde_json::to_string(&marker)?),
        None => Ok(text),
    }
}

/// The marker that replaces the JSON text `text` when it is longer than `cap` bytes:
/// `{"$truncated": true, "bytes": N, "preview": "…"}` (the first KiB of the text). `None`
/// when it fits.
pub fn truncation_marker(text: &str, cap: Option<usize>) -> Option<Value> {
    let cap = cap.filter(|c| text.len() > *c)?;
    let mut end = PREVIEW_BYTES.min(cap).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut marker = Map::new();
    marker.insert(TRUNCATED_KEY.into(), Value::Bool(true));
    marker.insert("bytes".into(), Value::from(text.len()));
    marker.insert("preview".into(), Value::String(text[..end].to_string()));
    Some(Value::Object(marker))
}

/// [`capped`] for an optional value.
pub(crate) fn capped_opt(
    value: Option<&Value>,
    cap: Option<usize>,
) -> Result<Option<String>, StoreError> {
    value.map(|v| capped(v, cap)).transpose()
}

/// Canonical JSON text: object keys sorted (by their UTF-8 bytes) at every level, no spaces.
pub(crate) fn canonical(value: &Value) -> Result<String, StoreError> {
    Ok(serde_json::to_string(&sorted(value))?)
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Parses stored JSON text; `what` names the column for the error.
pub(crate) fn parse(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("{what} is not valid JSON: {e}")))
}

/// [`parse`] for a nullable column.
pub(crate) fn parse_opt(text: Option<String>, what: &str) -> Result<Option<Value>, StoreError> {
    text.map(|t| parse(&t, what)).transpose()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn small_values_are_kept_and_large_ones_marked() -> Result<(), StoreError> {
        let v = json!({"b": 1, "a": [1, 2]});
        assert_eq!(capped(&v, Some(100))?, r#"{"b":1,"a":[1,2]}"#);
        let big = json!({"s": "é".repeat(2000)});
        let text = capped(&big, Some(100))?;
        let marker: Value = serde_json::from_str(&text)?;
        assert!(is_truncated(&marker));
        assert_eq!(marker["bytes"], json!(serde_json::to_string(&big)?.len()));
        assert!(marker["preview"].as_str().is_some_and(|p| p.len() <= 100));
        assert_eq!(
            capped(&big, None)?.len(),
            serde_json::to_string(&big)?.len()
        );
        Ok(())
    }

    #[test]
    fn the_items_marker_reads_back() {
        assert_eq!(items_marker(3), json!({"$items": 3}));
        assert_eq!(streamed_items(&items_marker(2000)), Some(2000));
        assert_eq!(streamed_items(&json!({"$items": 3, "other": 1})), None);
        assert_eq!(streamed_items(&json!([1, 2])), None);
    }

    #[test]
    fn canonical_sorts_keys_everywhere() -> Result<(), StoreError> {
        let v = json!({"b": {"z": 1, "y": [{"d": 1, "c": 2}]}, "a": null});
        assert_eq!(
            canonical(&v)?,
            r#"{"a":null,"b":{"y":[{"c":2,"d":1}],"z":1}}"#
        );
        Ok(())
    }
}
