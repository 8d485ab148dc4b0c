//! `sluice test --update`: writes a case's new `expect:` into its fixture file in block YAML,
//! replacing only that key's lines, so comments and the rest of the file stay as written.

use serde_json::Value;
use sluice_model::{Limits, Node, NodeKind};

/// Whether a string can be written without quotes and read back as the same string.
fn plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let reserved = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
    ];
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && !s.ends_with(' ')
        && !reserved.contains(&s.to_ascii_lowercase().as_str())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '/'))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain(s) => s.clone(),
        // JSON text is valid YAML flow text.
        other => other.to_string(),
    }
}

fn key(k: &str) -> String {
    if plain(k) {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

/// The entries of a map in block style, each line starting with `indent` spaces.
pub(crate) fn block_map(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        out.push_str(&pad);
        out.push_str(&key(k));
        out.push(':');
        value_after_key(v, indent, out);
    }
}

fn value_after_key(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block_map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block_seq(a, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn block_seq(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        out.push_str(&pad);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // `- first: …` then the other keys under it.
                let mut inner = String::new();
                block_map(m, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                block_seq(a, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn line_start(source: &str, offset: usize) -> usize {
    source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(source: &str, offset: usize) -> usize {
    source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i + 1)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The offset just past the last line of a node (its descendants included, and lines after
/// them indented deeper than `column`, such as the `}` of a flow map).
fn end_of(source: &str, node: &Node, column: usize) -> usize {
    let mut last = node.span.end();
    node.walk(&mut |n| {
        if !n.span.is_unknown() {
            last = last.max(n.span.end());
        }
    });
    let mut end = line_end(
        source,
        last.min(source.len())
            .saturating_sub(1)
            .max(node.span.offset),
    );
    while end < source.len() {
        let next = line_end(source, end);
        let line = source[end..next].trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() || indent_of(line) <= column || line.trim_start().starts_with('#')
        {
            break;
        }
        end = next;
    }
    end
}

/// The new text of a fixture with the `expect:` of the cases at `updates` (index → new
/// expectation) replaced or added.
pub(crate) fn rewrite(source: &str, updates: &[(usize, Value)]) -> Result<String, String> {
    let root = sluice_model::node::parse_yaml(source, &Limits::default()).map_err(|e| e.message)?;
    let Some(NodeKind::Seq(cases)) = root.get("cases").map(|n| &n.kind) else {
        return Err("the fixture has no `cases:` list".into());
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (index, expect) in updates {
        let Some(case) = cases.get(*index) else {
            continue;
        };
        let Value::Object(expect) = expect else {
            continue;
        };
        if source[case.span.offset..].starts_with('{') {
            return Err(format!(
                "case {} is written as a flow map `{{ … }}`; write it in block style to let --update change it",
                index + 1
            ));
        }
        let entries = case.as_map().unwrap_or_default();
        if let Some((k, v)) = entries.iter().find(|(k, _)| k.as_str() == Some("expect")) {
            let start = k.span.offset;
            let column = start - line_start(source, start);
            let end = end_of(source, v, column).max(line_end(source, start));
            let mut text = String::from("expect:\n");
            block_map(expect, column + 2, &mut text);
            edits.push((start, end, text));
        } else {
            let Some((first, _)) = entries.first() else {
                continue;
            };
            let column = first.span.offset - line_start(source, first.span.offset);
            let end = end_of(source, case, column);
            let mut text = format!("{}expect:\n", " ".repeat(column));
            block_map(expect, column + 2, &mut text);
            let text = if end > 0 && !source[..end].ends_with('\n') {
                format!("\n{text}")
            } else {
                text
            };
            edits.push((end, end, text));
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = source.to_string();
    for (start, end, text) in edits {
        out.replace_range(start..end, &text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emits_block_yaml_that_reads_back() {
        let v = json!({"status": "succeeded", "output": {"a": [1, {"b": "@any", "c": []}], "t": "x: y", "d": "2026-01-01T00:00:00Z", "n": null, "e": {}, "yes": "no"}, "requests": ["GET /contacts/ct_ada"]});
        let mut text = String::new();
        block_map(v.as_object().expect("map"), 0, &mut text);
        let node = sluice_model::node::parse_yaml(&text, &Limits::default()).expect("yaml");
        assert_eq!(node.to_json(), v, "{text}");
    }

    #[test]
    fn replaces_only_expect() {
        let src = "# top\ncases:\n  - name: a # keep\n    inputs: { x: 1 }\n    expect:\n      output: { old: 1,\n        more: 2 }\n  # between\n  - name: b\n    inputs: {}\n";
        let out = rewrite(
            src,
            &[(0, json!({"output": 2})), (1, json!({"status": "failed"}))],
        )
        .expect("rewrite");
        assert_eq!(
            out,
            "# top\ncases:\n  - name: a # keep\n    inputs: { x: 1 }\n    expect:\n      output: 2\n  # between\n  - name: b\n    inputs: {}\n    expect:\n      status: failed\n"
        );
    }
}
