//! The JSON Schemas of flow, connector, project and sandbox seed files, generated from the
//! Rust types.
//!
//! `sluice schema flow > schemas/flow.schema.json`; a test fails when the committed files are stale.

use serde_json::Value;

use crate::args::SchemaKind;
use crate::error::CliError;

/// The schema as pretty JSON.
pub(crate) fn generate(kind: SchemaKind) -> Result<String, CliError> {
    if let SchemaKind::Openapi = kind {
        return Ok(sluice_server::openapi::document_text());
    }
    let mut schema = match kind {
        SchemaKind::Flow => {
            let mut s = serde_json::to_value(schemars::schema_for!(sluice_model::Flow))
                .map_err(json_error)?;
            add_action_examples(&mut s)?;
            accept_templates(&mut s);
            s
        }
        SchemaKind::Connector => {
            serde_json::to_value(schemars::schema_for!(sluice_model::Connector))
                .map_err(json_error)?
        }
        SchemaKind::Seed => {
            serde_json::to_value(schemars::schema_for!(sluice_sandbox::Seed)).map_err(json_error)?
        }
        SchemaKind::Project | SchemaKind::Openapi => {
            serde_json::to_value(schemars::schema_for!(sluice_model::Project))
                .map_err(json_error)?
        }
    };
    if let Some(obj) = schema.as_object_mut() {
        let id = match kind {
            SchemaKind::Flow => "flow",
            SchemaKind::Connector => "connector",
            SchemaKind::Seed => "seed",
            SchemaKind::Project | SchemaKind::Openapi => "project",
        };
        obj.insert(
            "$id".into(),
            Value::String(format!("https://sluice.dev/schemas/{id}.schema.json")),
        );
    }
    serde_json::to_string_pretty(&schema).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> CliError {
    CliError::msg(e.to_string())
}

/// The schema of a `{{ … }}` template string.
fn template_schema() -> Value {
    serde_json::json!({
        "type": "string",
        "pattern": "\\{\\{.*\\}\\}",
        "description": "A `{{ ... }}` template."
    })
}

/// Wherever a flow expects a literal number, boolean or enum value, the schema also accepts a
/// template string, so an editor never flags a flow `sluice validate` accepts. (Where Sluice
/// must know the value before a run — `read_only`, `on_error`, ... — `sluice validate` then
/// says so; see docs/decisions/0005.)
fn accept_templates(schema: &mut Value) {
    let literal_defs: Vec<String> = schema
        .get("$defs")
        .and_then(Value::as_object)
        .map(|defs| {
            defs.iter()
                .filter(|(_, d)| is_literal(d, &[]))
                .map(|(name, _)| format!("#/$defs/{name}"))
                .collect()
        })
        .unwrap_or_default();
    wrap_properties(schema, &literal_defs);
}

fn is_literal(s: &Value, literal_defs: &[String]) -> bool {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return literal_defs.iter().any(|d| d == r);
    }
    if s.get("const").is_some() || s.get("enum").is_some() {
        return true;
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        return !types.is_empty()
            && types
                .iter()
                .all(|t| matches!(*t, "boolean" | "integer" | "number" | "null"))
            && types.iter().any(|t| *t != "null");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(members) = s.get(key).and_then(Value::as_array) {
            let is_template = |m: &Value| {
                m.get("pattern")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.contains("\\{\\{"))
            };
            return !members.iter().any(is_template)
                && members.iter().all(|m| {
                    is_literal(m, literal_defs)
                        || m.get("type") == Some(&Value::String("null".into()))
                })
                && members.iter().any(|m| is_literal(m, literal_defs));
        }
    }
    false
}

fn wrap_properties(node: &mut Value, literal_defs: &[String]) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for (_, prop) in props.iter_mut() {
                    if is_literal(prop, literal_defs) {
                        let mut inner = prop.take();
                        let description =
                            inner.as_object_mut().and_then(|o| o.remove("description"));
                        let mut wrapped =
                            serde_json::json!({ "anyOf": [inner, template_schema()] });
                        if let Some(d) = description {
                            wrapped["description"] = d;
                        }
                        *prop = wrapped;
                    }
                }
            }
            for (_, v) in map.iter_mut() {
                wrap_properties(v, literal_defs);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| wrap_properties(v, literal_defs)),
        _ => {}
    }
}

/// The schema rule "when `action` is ACTION, `with:` has the operation's parameters": their
/// descriptions (with allowed values), the required ones, nothing else.
fn with_rule(action: &str, op: &sluice_model::Operation) -> Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (param, spec) in &op.params {
        let mut text = spec.description.clone().unwrap_or_default();
        if let Some(allowed) = &spec.allowed {
            let values: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            text.push_str(&format!(" One of: {}.", values.join(", ")));
        }
        props.insert(
            param.clone(),
            serde_json::json!({ "description": text.trim() }),
        );
        if spec.required {
            required.push(Value::String(param.clone()));
        }
    }
    let mut with =
        serde_json::json!({ "type": "object", "properties": props, "additionalProperties": false });
    if !required.is_empty() {
        with["required"] = Value::Array(required);
        let then = serde_json::json!({ "properties": { "with": with }, "required": ["with"] });
        return serde_json::json!({
            "if": { "properties": { "action": { "const": action } }, "required": ["action"] },
            "then": then
        });
    }
    serde_json::json!({
        "if": { "properties": { "action": { "const": action } }, "required": ["action"] },
        "then": { "properties": { "with": with } }
    })
}

/// Lists every built-in operation as `ghl.NAME` / `ipinfo.NAME` examples of `action`, so
/// editors complete them (connections are usually named after their connector).
fn add_action_examples(schema: &mut Value) -> Result<(), CliError> {
    let catalog = sluice_connectors::builtin_catalog()
        .map_err(|_| CliError::msg("a built-in connector is invalid"))?;
    let mut examples = Vec::new();
    let mut descriptions = Vec::new();
    for connector in catalog.iter() {
        let prefix = match connector.name.as_str() {
            "ghl-contacts" => "ghl",
            other => other,
        };
        for (name, op) in &connector.operations {
            examples.push(Value::String(format!("{prefix}.{}", name.value)));
            descriptions.push(format!(
                "- `{prefix}.{}`: {} ({} {})",
                name.value,
                op.description,
                op.method.as_str(),
                op.path
            ));
        }
    }
    // Completion and checks of `with:` per built-in operation (when the connection is named
    // after its connector, as in the examples): its parameters with their descriptions.
    let mut rules = Vec::new();
    for connector in catalog.iter() {
        let prefix = match connector.name.as_str() {
            "ghl-contacts" => "ghl",
            other => other,
        };
        for (name, op) in &connector.operations {
            rules.push(with_rule(&format!("{prefix}.{}", name.value), op));
        }
    }
    if let Some(step) = schema
        .pointer_mut("/$defs/Step")
        .and_then(Value::as_object_mut)
    {
        step.insert("allOf".into(), Value::Array(rules));
    }
    let action = schema
        .pointer_mut("/$defs/Step/properties/action")
        .ok_or_else(|| CliError::msg("the flow schema has no `action` property"))?;
    if let Some(obj) = action.as_object_mut() {
        obj.insert("examples".into(), Value::Array(examples));
        let base = obj
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        obj.insert(
            "markdownDescription".into(),
            Value::String(format!(
                "{base}\n\nBuilt-in operations (connection named after the connector):\n{}",
                descriptions.join("\n")
            )),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas are what the code generates; regenerate with
    /// `cargo run -p sluice-cli -- schema flow > schemas/flow.schema.json` (and `connector`,
    /// `project`, `seed`).
    #[test]
    fn committed_schemas_are_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let mut stale = Vec::new();
        for (kind, file) in [
            (SchemaKind::Flow, "flow.schema.json"),
            (SchemaKind::Connector, "connector.schema.json"),
            (SchemaKind::Project, "project.schema.json"),
            (SchemaKind::Seed, "seed.schema.json"),
        ] {
            let generated = generate(kind).expect("schema generates");
            let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
            if committed.trim_end() != generated.trim_end() {
                stale.push(file);
            }
        }
        assert!(
            stale.is_empty(),
            "stale schemas {stale:?}: run `scripts/gen-schemas.sh` and commit the result"
        );
    }

    #[test]
    fn every_literal_of_a_flow_also_accepts_a_template() {
        let schema: Value =
            serde_json::from_str(&generate(SchemaKind::Flow).expect("schema")).expect("json");
        let literal_defs: Vec<String> = schema["$defs"]
            .as_object()
            .map(|d| {
                d.iter()
                    .filter(|(_, v)| is_literal(v, &[]))
                    .map(|(k, _)| format!("#/$defs/{k}"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            literal_defs.iter().any(|d| d.ends_with("/OnError")),
            "{literal_defs:?}"
        );
        let mut refusing = Vec::new();
        find_literals(&schema, "", &literal_defs, &mut refusing);
        assert!(
            refusing.is_empty(),
            "literal properties without a template alternative: {refusing:?}"
        );
        let read_only = &schema["$defs"]["Connection"]["properties"]["read_only"]["anyOf"];
        assert_eq!(
            read_only[1]["pattern"],
            Value::String("\\{\\{.*\\}\\}".into())
        );
    }

    fn find_literals(v: &Value, path: &str, defs: &[String], out: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                if is_literal(p, defs) {
                    out.push(format!("{path}/{name}"));
                }
            }
        }
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| find_literals(x, &format!("{path}/{k}"), defs, out)),
            Value::Array(a) => a.iter().for_each(|x| find_literals(x, path, defs, out)),
            _ => {}
        }
    }

    #[test]
    fn every_flow_property_has_a_description() {
        let schema: Value =
            serde_json::from_str(&generate(SchemaKind::Flow).expect("schema")).expect("json");
        let mut missing = Vec::new();
        walk(&schema, "", &mut missing);
        assert!(
            missing.is_empty(),
            "properties without a description: {missing:?}"
        );
    }

    fn walk(v: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let has = p.get("description").is_some()
                    || p.get("$ref").is_some()
                    || p.get("allOf").is_some_and(|a| {
                        a.as_array()
                            .is_some_and(|a| a.iter().any(|x| x.get("$ref").is_some()))
                    });
                if !has {
                    missing.push(format!("{path}/{name}"));
                }
                walk(p, &format!("{path}/{name}"), missing);
            }
        }
        if let Some(defs) = v.get("$defs").and_then(Value::as_object) {
            for (name, d) in defs {
                walk(d, &format!("$defs/{name}"), missing);
            }
        }
    }
}
