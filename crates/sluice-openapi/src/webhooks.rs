//! Webhook events from Markdown pages (GHL's `docs/webhook events/EVENT.md`): the payload
//! schema is the shape of the page's example, widened where the page's own schema block says
//! so; the description is the first line under the title; the scope comes from a Markdown
//! scopes table.

use serde_json::{Map, Value, json};

use crate::schema::one_line;

/// One page read: its description and payload schema, or why not.
pub(crate) fn parse_page(
    text: &str,
    event: &str,
) -> Result<(Option<String>, Value, Option<String>), String> {
    let mut schema_block = None;
    let mut example = None;
    let mut rest = text;
    while let Some(start) = rest.find("```json") {
        let after = &rest[start + "```json".len()..];
        let Some(line_end) = after.find('\n') else {
            break;
        };
        let tag = after[..line_end].trim();
        let body = &after[line_end + 1..];
        let Some(end) = body.find("```") else { break };
        let block = &body[..end];
        rest = &body[end + 3..];
        if tag == "json_schema" {
            if schema_block.is_none() {
                schema_block = serde_json::from_str::<Value>(block).ok();
            }
        } else if tag.is_empty() && example.is_none() {
            example = Some(
                serde_json::from_str::<Value>(block)
                    .map_err(|e| format!("the example payload is not JSON: {e}"))?,
            );
        }
    }
    let example = example.ok_or("no example payload (a ```json block)")?;
    let mut note = None;
    if example.get("type").and_then(Value::as_str) != Some(event) {
        note = Some(format!(
            "the example's `type` is {}, not {event:?}",
            example
                .get("type")
                .map_or_else(|| "missing".to_owned(), ToString::to_string)
        ));
    }
    let mut payload = widen(infer(&example), schema_block.as_ref());
    if let Some(props) = payload.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("type".into(), json!({ "type": "string", "enum": [event] }));
    }
    let description = text
        .lines()
        .skip_while(|l| !l.starts_with("# "))
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .and_then(one_line)
        .map(|d| format!("{}.", d.trim_end_matches('.')));
    Ok((description, payload, note))
}

/// The JSON Schema shape of an example value.
fn infer(value: &Value) -> Value {
    match value {
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "type": "integer" }),
        Value::Number(_) => json!({ "type": "number" }),
        Value::String(_) => json!({ "type": "string" }),
        Value::Null => json!({}),
        Value::Array(items) => match items.first() {
            Some(first) => json!({ "type": "array", "items": infer(first) }),
            None => json!({ "type": "array" }),
        },
        Value::Object(map) => {
            let props: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), infer(v))).collect();
            json!({ "type": "object", "properties": props })
        }
    }
}

/// The example's shape, with the types the page's own schema states (a documented `number`
/// wins over an example's whole number), and the documented fields the example leaves out.
fn widen(inferred: Value, documented: Option<&Value>) -> Value {
    let Some(documented) = documented.and_then(Value::as_object) else {
        return inferred;
    };
    let Value::Object(mut out) = inferred else {
        return inferred;
    };
    if let Some(kind) = documented.get("type")
        && out.get("type") != Some(kind)
    {
        out.insert("type".into(), kind.clone());
    }
    let inferred_props = out.get("properties").and_then(Value::as_object).cloned();
    let doc_props = documented.get("properties").and_then(Value::as_object);
    if inferred_props.is_some() || doc_props.is_some() {
        let mut props = Map::new();
        for (k, v) in inferred_props.unwrap_or_default() {
            let doc = doc_props.and_then(|d| d.get(&k));
            props.insert(k, widen(v, doc));
        }
        for (k, v) in doc_props.into_iter().flatten() {
            props.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out.insert("properties".into(), Value::Object(props));
    }
    if let Some(items) = documented.get("items") {
        let inferred_items = out.get("items").cloned().unwrap_or_else(|| json!({}));
        out.insert("items".into(), widen(inferred_items, Some(items)));
    }
    Value::Object(out)
}

/// Event → scope, from a Markdown table `| Scope | Endpoints | Events | … |` (a blank scope
/// cell continues the scope above).
pub(crate) fn scopes_table(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 3 || cells[0] == "Scope" || cells[0].starts_with("---") {
            continue;
        }
        if !cells[0].is_empty() && cells[0] != "&nbsp;" {
            current = Some(cells[0].to_owned());
        }
        let event = cells[2];
        if let Some(scope) = &current
            && !event.is_empty()
            && event != "&nbsp;"
            && !out.iter().any(|(e, _)| e == event)
        {
            out.push((event.to_owned(), scope.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_becomes_a_typed_payload() {
        let page = "# Task Create\n\nCalled whenever a task is created\n\n```json json_schema\n{\"type\":\"object\",\"properties\":{\"amount\":{\"type\":\"number\"},\"extra\":{\"type\":\"string\"}}}\n```\n\n```json\n{\"type\":\"TaskCreate\",\"id\":\"t1\",\"amount\":40,\"tags\":[\"a\"]}\n```\n";
        let (description, payload, note) = parse_page(page, "TaskCreate").expect("parsed");
        assert_eq!(
            description.as_deref(),
            Some("Called whenever a task is created.")
        );
        assert_eq!(note, None);
        assert_eq!(
            payload,
            json!({"type": "object", "properties": {
                "type": {"type": "string", "enum": ["TaskCreate"]},
                "id": {"type": "string"},
                "amount": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "extra": {"type": "string"}
            }})
        );
        assert!(parse_page("# X\n\nno blocks", "X").is_err());
    }

    #[test]
    fn scope_table_rows_continue_the_scope_above() {
        let table = "| Scope | Endpoints | Events | Access |\n| --- | --- | --- | --- |\n| a.readonly | GET /a | ACreate | Sub |\n| &nbsp; | GET /b | ADelete | Sub |\n| b.write | POST /b | &nbsp; | Sub |\n";
        assert_eq!(
            scopes_table(table),
            vec![
                ("ACreate".to_owned(), "a.readonly".to_owned()),
                ("ADelete".to_owned(), "a.readonly".to_owned())
            ]
        );
    }
}
