//! OpenAPI schemas → the JSON Schema a connector carries: every `$ref` inlined (across files),
//! `allOf` merged into one object, OpenAPI 3.0's `nullable` as a `null` type, descriptions on
//! one line, examples dropped (kept for request bodies, where they become hints).

use serde_json::{Map, Value, json};

use crate::Problem;
use crate::source::{Documents, escape};

/// The order of the keys of a converted schema.
const KEY_ORDER: &[&str] = &[
    "type",
    "description",
    "format",
    "enum",
    "default",
    "example",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "allOf",
];

/// Converts schemas of the documents in `docs`.
pub(crate) struct Converter<'d, 'l> {
    pub(crate) docs: &'d mut Documents<'l>,
    /// Keep `example` (request bodies: a field without a description is hinted by it).
    pub(crate) examples: bool,
}

impl Converter<'_, '_> {
    /// `schema` (found in the document at `base`, at pointer `at`) as JSON Schema.
    ///
    /// # Errors
    /// A `$ref` that cannot be read or points at nothing, at its pointer.
    pub(crate) fn convert(
        &mut self,
        schema: &Value,
        base: &str,
        at: &str,
    ) -> Result<Value, Problem> {
        self.convert_in(schema, base, at, &mut Vec::new())
    }

    fn convert_in(
        &mut self,
        schema: &Value,
        base: &str,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Value, Problem> {
        let Some(obj) = schema.as_object() else {
            // `true` / `false` schemas of 3.1, or a mistake: anything goes.
            return Ok(json!({}));
        };
        if let Some(reference) = obj.get("$ref") {
            let Some(reference) = reference.as_str() else {
                return Err(Problem::at(base, at, "`$ref` is not a string"));
            };
            let (target, location, pointer) =
                self.docs.resolve(base, reference, &format!("{at}/$ref"))?;
            let key = format!("{location}#{pointer}");
            if stack.contains(&key) {
                return Ok(json!({ "description": format!("(recursive reference {reference})") }));
            }
            stack.push(key);
            let inner = self.convert_in(&target, &location, &pointer, stack);
            stack.pop();
            let inner = inner?;
            let siblings: Map<String, Value> = obj
                .iter()
                .filter(|(k, _)| k.as_str() != "$ref")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if siblings.is_empty() {
                return Ok(inner);
            }
            let extra = self.convert_in(&Value::Object(siblings), base, at, stack)?;
            let mut merged = inner.as_object().cloned().unwrap_or_default();
            for (k, v) in extra.as_object().into_iter().flatten() {
                merged.insert(k.clone(), v.clone());
            }
            return Ok(Value::Object(ordered(merged)));
        }
        let mut out = Map::new();
        if let Some(kind) = obj.get("type") {
            let nullable = obj.get("nullable") == Some(&Value::Bool(true));
            let kind = match kind {
                Value::String(k) if nullable && k != "null" => json!([k, "null"]),
                Value::Array(ks) if nullable && !ks.contains(&json!("null")) => {
                    let mut ks = ks.clone();
                    ks.push(json!("null"));
                    Value::Array(ks)
                }
                other => other.clone(),
            };
            out.insert("type".into(), kind);
        }
        if let Some(desc) = obj
            .get("description")
            .and_then(Value::as_str)
            .and_then(one_line)
        {
            out.insert("description".into(), Value::String(desc));
        }
        for key in ["format", "enum", "default"] {
            if let Some(v) = obj.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        if let Some(v) = obj.get("const")
            && !out.contains_key("enum")
        {
            out.insert("enum".into(), json!([v]));
        }
        if self.examples {
            let example = obj
                .get("example")
                .or_else(|| obj.get("examples").and_then(|e| e.get(0)));
            if let Some(v) = example {
                out.insert("example".into(), v.clone());
            }
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            let mut converted = Map::new();
            for (name, prop) in props {
                let here = format!("{at}/properties/{}", escape(name));
                converted.insert(name.clone(), self.convert_in(prop, base, &here, stack)?);
            }
            out.insert("properties".into(), Value::Object(converted));
        }
        if let Some(req) = obj.get("required").and_then(Value::as_array)
            && !req.is_empty()
        {
            out.insert("required".into(), Value::Array(req.clone()));
        }
        if let Some(items) = obj.get("items") {
            let here = format!("{at}/items");
            out.insert("items".into(), self.convert_in(items, base, &here, stack)?);
        }
        match obj.get("additionalProperties") {
            Some(add @ Value::Object(_)) => {
                let here = format!("{at}/additionalProperties");
                out.insert(
                    "additionalProperties".into(),
                    self.convert_in(add, base, &here, stack)?,
                );
            }
            Some(Value::Bool(false)) => {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            _ => {}
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = obj.get(key).and_then(Value::as_array) {
                let mut converted = Vec::new();
                for (i, alt) in alts.iter().enumerate() {
                    let here = format!("{at}/{key}/{i}");
                    converted.push(self.convert_in(alt, base, &here, stack)?);
                }
                out.insert(key.into(), Value::Array(converted));
            }
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            let mut converted = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let here = format!("{at}/allOf/{i}");
                converted.push(self.convert_in(part, base, &here, stack)?);
            }
            out = merge_all_of(out, converted);
        }
        Ok(Value::Object(ordered(out)))
    }
}

/// `allOf` parts merged into the schema: properties and `required` are joined, and what the
/// schema itself does not say (type, description, items…) is taken from the first part that
/// says it. A template may then read every field of every part.
fn merge_all_of(mut out: Map<String, Value>, parts: Vec<Value>) -> Map<String, Value> {
    for part in parts {
        let Value::Object(part) = part else { continue };
        for (key, value) in part {
            match key.as_str() {
                "properties" => {
                    let props = out
                        .entry("properties")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let (Some(props), Value::Object(more)) = (props.as_object_mut(), value) {
                        for (name, schema) in more {
                            props.entry(name).or_insert(schema);
                        }
                    }
                }
                "required" => {
                    let req = out
                        .entry("required")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let (Some(req), Value::Array(more)) = (req.as_array_mut(), value) {
                        for name in more {
                            if !req.contains(&name) {
                                req.push(name);
                            }
                        }
                    }
                }
                _ => {
                    out.entry(key).or_insert(value);
                }
            }
        }
    }
    if out.contains_key("properties") && !out.contains_key("type") {
        out.insert("type".into(), json!("object"));
    }
    out
}

/// The keys of a schema in [`KEY_ORDER`] (unknown keys dropped).
fn ordered(mut map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in KEY_ORDER {
        if let Some(v) = map.remove(*key) {
            out.insert((*key).to_owned(), v);
        }
    }
    out
}

/// Text on one line: HTML tags and line breaks out, spaces collapsed; `None` when empty.
pub(crate) fn one_line(text: &str) -> Option<String> {
    use std::sync::LazyLock;
    static BR: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"<br\s*/?>").ok());
    static LINK: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"<a [^>]*>(.*?)</a>").ok());
    static TAG: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"<[^>]+>").ok());
    let mut text = text.to_owned();
    if let Some(re) = BR.as_ref() {
        text = re.replace_all(&text, " ").into_owned();
    }
    if let Some(re) = LINK.as_ref() {
        text = re.replace_all(&text, "$1").into_owned();
    }
    if let Some(re) = TAG.as_ref() {
        text = re.replace_all(&text, "").into_owned();
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// The connector parameter type of a schema: one JSON type, or `any`.
pub(crate) fn param_type(schema: &Value) -> &'static str {
    let kind = match schema.get("type") {
        Some(Value::String(k)) => Some(k.as_str()),
        Some(Value::Array(ks)) => {
            let ks: Vec<&str> = ks
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| *k != "null")
                .collect();
            if ks.len() == 1 { Some(ks[0]) } else { None }
        }
        _ => None,
    };
    match kind {
        Some("string") => "string",
        Some("number") => "number",
        Some("integer") => "integer",
        Some("boolean") => "boolean",
        Some("array") => "array",
        Some("object") => "object",
        None if schema.get("properties").is_some() => "object",
        _ => "any",
    }
}

/// Field names of an object schema, or of every alternative of an anyOf/oneOf.
fn keys_of(schema: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let alts = ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten();
    for alt in std::iter::once(schema).chain(alts) {
        for name in alt
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.keys())
        {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// A one-line description of a body field the document leaves undescribed.
pub(crate) fn hint(schema: &Value) -> Option<String> {
    let kind = param_type(schema);
    let keys = keys_of(schema);
    if kind == "object" && !keys.is_empty() {
        let listed: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        return Some(format!("An object with {}.", listed.join(", ")));
    }
    if kind == "array" {
        let items = schema.get("items").cloned().unwrap_or_else(|| json!({}));
        let keys = keys_of(&items);
        if !keys.is_empty() {
            return Some(format!("A list of `{{{}}}`.", keys.join(", ")));
        }
        let item = param_type(&items);
        if matches!(item, "string" | "number" | "integer" | "boolean") {
            return Some(format!("A list of {item}s."));
        }
    }
    match schema.get("example") {
        Some(Value::String(s)) if !s.is_empty() => Some(format!("Example: `{s}`.")),
        Some(Value::Number(n)) => Some(format!("Example: `{n}`.")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_html() {
        assert_eq!(
            one_line("A <b>bold</b><br/>line  <a href='x'>link</a>\n"),
            Some("A bold line link".to_owned())
        );
        assert_eq!(one_line(" <br> "), None);
    }

    #[test]
    fn all_of_parts_are_merged() {
        let merged = merge_all_of(
            Map::new(),
            vec![
                json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
                json!({"properties": {"b": {"type": "number"}}, "required": ["b", "a"]}),
            ],
        );
        assert_eq!(
            Value::Object(merged),
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}, "required": ["a", "b"]})
        );
    }

    #[test]
    fn param_types() {
        assert_eq!(param_type(&json!({"type": ["string", "null"]})), "string");
        assert_eq!(param_type(&json!({"type": ["string", "number"]})), "any");
        assert_eq!(param_type(&json!({"properties": {}})), "object");
    }
}
