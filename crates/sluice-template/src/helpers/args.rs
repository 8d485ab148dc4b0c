//! Reading helper arguments: by position, as text, as a list, an item's field, equality that
//! takes `3` and `3.0` as the same number, and short renderings of values for messages.

use serde_json::Value;

/// Equality as `eq` has it: numbers by value, everything else exactly.
pub(super) fn eq_loose(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(p), Value::Number(q)) => p.as_f64() == q.as_f64(),
        _ => a == b,
    }
}

/// Argument `i` (0-based).
pub(super) fn arg(args: &[Value], i: usize) -> Result<&Value, String> {
    args.get(i)
        .ok_or_else(|| format!("argument {} is missing", i + 1))
}

/// A value as text: a string as is, `null` as nothing, anything else as JSON.
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value that must be text (a number or `null` is read as text too).
pub(super) fn text_arg(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::Array(_) | Value::Object(_) => Err(format!(
            "{what} must be text, found {} {}",
            kind(v),
            short(v)
        )),
        other => Ok(text(other)),
    }
}

pub(super) fn as_list(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected a list, found {}", short(v)))
}

/// The value of `field` in item `index` of a list; `None` when the item has no such field.
///
/// # Errors
/// When the item is not a map.
pub(super) fn field<'v>(
    item: &'v Value,
    field: &str,
    index: usize,
) -> Result<Option<&'v Value>, String> {
    match item {
        Value::Object(m) => Ok(m.get(field)),
        other => Err(format!(
            "item {} is {} {}, so it has no field `{field}`",
            index + 1,
            kind(other),
            short(other)
        )),
    }
}

/// What kind of value it is, for messages: `a list`, `text`, ….
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A value as JSON, cut to about 60 characters.
pub(super) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

/// Text cut to about 60 characters.
pub(super) fn cut(s: &str) -> String {
    if s.len() > 60 {
        format!("{}…", &s[..s.floor_char_boundary(60)])
    } else {
        s.to_string()
    }
}

/// A key that is equal for values `eq` finds equal: numbers by value, maps whatever the order
/// of their keys.
pub(super) fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) => out.push_str(&format!("n{f}")),
            None => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for item in items {
                write_canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = m.get(k) {
                    write_canonical(v, out);
                }
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_keys_follow_loose_equality() {
        assert_eq!(canonical(&json!(3)), canonical(&json!(3.0)));
        assert_eq!(
            canonical(&json!({"a": 1, "b": [2]})),
            canonical(&json!({"b": [2.0], "a": 1}))
        );
        assert_ne!(canonical(&json!("3")), canonical(&json!(3)));
        assert_ne!(canonical(&json!([1, 2])), canonical(&json!([2, 1])));
    }

    #[test]
    fn short_cuts_on_a_character_boundary() {
        let long = Value::String("é".repeat(100));
        assert!(short(&long).ends_with('…'));
        assert!(short(&long).len() < 70);
    }
}
