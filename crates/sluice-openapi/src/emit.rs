//! A small YAML writer for connector files: block style, with short leaves in flow style
//! (`{ type: string }`), strings plain when YAML reads them back as the same string and
//! JSON-quoted otherwise. Same value in, same text out.

use serde_json::Value;

/// Lines longer than this go to block style.
const WIDTH: usize = 100;
/// Words YAML may read as something other than a string.
const RESERVED: &[&str] = &[
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
];

fn plain_key(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.$/-".contains(c))
}

fn plain_text(text: &str) -> bool {
    let bytes: Vec<char> = text.chars().collect();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return false;
    }
    let Some((&last, middle)) = rest.split_last() else {
        return true;
    };
    middle
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || "_ .'/()-".contains(*c))
        && (last.is_ascii_alphanumeric() || "_.)".contains(last))
        && !text.contains("  ")
}

/// A scalar as YAML: plain when safe, else a JSON string (valid YAML).
fn scalar(value: &Value, in_flow: bool) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => {
            let lower = text.to_lowercase();
            let plain = !RESERVED.contains(&lower.as_str())
                && (plain_key(text) || plain_text(text))
                && !(in_flow && text.contains([',', '[', ']', '{', '}']));
            if plain {
                text.clone()
            } else {
                serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
            }
        }
        other => flow(other),
    }
}

fn key(text: &str) -> String {
    scalar(&Value::String(text.to_owned()), false)
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A value in flow style, on one line.
fn flow(value: &Value) -> String {
    match value {
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(&Value::String(k.clone()), true), flow(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", items.join(", "))
        }
        other => scalar(other, true),
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Appends `value` at `indent` spaces to `lines`.
pub(crate) fn emit(value: &Value, indent: usize, lines: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, item) in map {
                let head = format!("{pad}{}:", key(k));
                if is_scalar(item) || is_empty(item) {
                    lines.push(format!("{head} {}", flow(item)));
                    continue;
                }
                let short = flow(item);
                if depth(item) <= 2 && head.chars().count() + 1 + short.chars().count() <= WIDTH {
                    lines.push(format!("{head} {short}"));
                } else {
                    lines.push(head);
                    emit(item, indent + 2, lines);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Value::Object(map) = item
                    && !map.is_empty()
                {
                    let mut sub = Vec::new();
                    emit(item, indent + 2, &mut sub);
                    if let Some(first) = sub.first_mut() {
                        *first = format!("{pad}- {}", &first[indent + 2..]);
                    }
                    lines.extend(sub);
                } else {
                    lines.push(format!("{pad}- {}", flow(item)));
                }
            }
        }
        other => lines.push(format!("{pad}{}", flow(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: &Value) -> String {
        let mut lines = Vec::new();
        emit(value, 0, &mut lines);
        lines.join("\n") + "\n"
    }

    #[test]
    fn reads_back_as_the_same_value() {
        let value = json!({
            "name": "x",
            "tricky": ["yes", "No", "2021-07-28", "a: b", "#x", "1d", "with, comma", "{{ t }}", "", " lead", "é ok", "line\nbreak", "it's", "-x", "null"],
            "nested": { "a": { "b": { "c": [1, 2.5, true, null] } } },
            "list": [{ "kind": "bearer", "description": "A token." }, { "k": [] }, {}],
            "long": { "description": "x".repeat(120), "more": "y" },
        });
        let yaml = text(&value);
        let back: Value = serde_saphyr::from_str(&yaml).expect("valid YAML");
        assert_eq!(back, value, "{yaml}");
    }

    #[test]
    fn short_leaves_are_flow_style() {
        let value = json!({ "op": { "params": { "id": { "in": "path", "type": "string", "required": true } } } });
        assert_eq!(
            text(&value),
            "op:\n  params: { id: { in: path, type: string, required: true } }\n"
        );
    }
}
