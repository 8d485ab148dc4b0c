//! JSON Schemas for editors, generated from the Rust types: the flow schema — generic, or for one
//! project, with its connections' actions and each action's `with:` parameters — and the
//! connector and project file schemas; and whether a project's written flow schema is stale.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sluice_model::connector::{Operation, ParamType};
use sluice_model::{Catalog, Limits};

use crate::error::ProjectError;
pub use crate::error::SchemaError;
use crate::read::read_yaml_files;

/// The folder of a project's flows, relative to its `sluice.toml` (what `sluice init` makes).
pub const FLOWS_DIR: &str = "workflows";

/// Where a project keeps its editor schemas, relative to its `sluice.toml`.
pub const SCHEMAS_DIR: &str = "schemas";

/// Which actions a flow schema knows: connection names and the connector each one names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connections(Vec<(String, String)>);

impl Connections {
    /// Each connector of the catalog under its usual connection name (`ghl` for
    /// `ghl-contacts`, else the connector's own name), as the examples name them.
    #[must_use]
    pub fn defaults(catalog: &Catalog) -> Self {
        let mut out = Self::default();
        for name in catalog.names() {
            out.add(default_connection_name(name), name);
        }
        out
    }

    /// Adds `connection → connector` unless the connection name is taken.
    pub fn add(&mut self, connection: &str, connector: &str) {
        if !self.0.iter().any(|(c, _)| c == connection) {
            self.0.push((connection.to_string(), connector.to_string()));
        }
    }

    /// The pairs, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }

    /// The connections the flows of `dir` declare, then (under their usual names) the catalog's
    /// connectors that no flow uses, so a new flow completes too.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn of_flows(dir: &Path, catalog: &Catalog) -> Result<Self, ProjectError> {
        let files = if dir.is_dir() {
            read_yaml_files(dir)?
                .into_iter()
                .map(|(path, text, _)| (path, text))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self::of_sources(&files, catalog))
    }

    /// [`Self::of_flows`] of flow texts `(path, text)`; texts that do not read are skipped.
    #[must_use]
    pub fn of_sources(files: &[(String, String)], catalog: &Catalog) -> Self {
        let mut out = Self::default();
        for (path, text) in files {
            let loaded = sluice_model::load_flow(path, text, &Limits::default());
            if let Some(doc) = loaded.document {
                for (name, conn) in &doc.flow.connections {
                    out.add(&name.value, &conn.connector.value);
                }
            }
        }
        for connector in catalog.names() {
            if !out.0.iter().any(|(_, c)| c == connector) {
                out.add(default_connection_name(connector), connector);
            }
        }
        out
    }
}

/// The connection name the examples give a connector.
#[must_use]
pub fn default_connection_name(connector: &str) -> &str {
    match connector {
        "ghl-contacts" => "ghl",
        other => other,
    }
}

/// The schema of flow files that fits every project: `action` is checked for its
/// `CONNECTION.OPERATION` shape only, and completes (and checks `with:` of) the built-in
/// operations under their usual connection names.
///
/// # Errors
/// A bug: see [`SchemaError`].
pub fn generic_flow_schema() -> Result<Value, SchemaError> {
    let catalog = sluice_connectors::builtin_catalog().map_err(|_| SchemaError::Builtin)?;
    flow_schema(&catalog, &Connections::defaults(&catalog), false)
}

/// The schema of flow files. With `closed`, `action` must be one of `connections`' actions
/// (an unknown one is flagged); otherwise any `CONNECTION.OPERATION` passes and the known ones
/// are offered for completion. Either way, a known action's `with:` is checked: its
/// parameters, the required ones, their types and allowed values.
///
/// # Errors
/// A bug: see [`SchemaError`].
pub fn flow_schema(
    catalog: &Catalog,
    connections: &Connections,
    closed: bool,
) -> Result<Value, SchemaError> {
    let mut schema = serde_json::to_value(schemars::schema_for!(sluice_model::Flow))?;
    accept_templates(&mut schema);
    one_description_per_key(&mut schema);
    let actions = actions(catalog, connections);
    let rules: Vec<Value> = actions
        .iter()
        .map(|a| with_rule(&a.name, a.operation))
        .collect();
    let step = schema
        .pointer_mut("/$defs/Step")
        .and_then(Value::as_object_mut)
        .ok_or(SchemaError::Missing("$defs/Step"))?;
    step.insert("allOf".into(), Value::Array(rules));
    let action = schema
        .pointer_mut("/$defs/Step/properties/action")
        .and_then(Value::as_object_mut)
        .ok_or(SchemaError::Missing("$defs/Step/properties/action"))?;
    describe_actions(action, &actions, closed);
    Ok(with_id(schema, "flow"))
}

/// The schema of connector files.
///
/// # Errors
/// A bug: see [`SchemaError`].
pub fn connector_schema() -> Result<Value, SchemaError> {
    let schema = serde_json::to_value(schemars::schema_for!(sluice_model::Connector))?;
    Ok(with_id(schema, "connector"))
}

/// The schema of the project file (`sluice.toml`, as JSON).
///
/// # Errors
/// A bug: see [`SchemaError`].
pub fn project_schema() -> Result<Value, SchemaError> {
    let schema = serde_json::to_value(schemars::schema_for!(sluice_model::Project))?;
    Ok(with_id(schema, "project"))
}

/// A schema as the committed files hold it: pretty JSON.
///
/// # Errors
/// A bug: see [`SchemaError`].
pub fn to_text(schema: &Value) -> Result<String, SchemaError> {
    Ok(serde_json::to_string_pretty(schema)?)
}

/// The flow schema of the project in `project_dir`: its catalog (built-in and `connectors/`)
/// and the connections its flows (`workflows/`) declare; unknown actions are flagged.
///
/// # Errors
/// The project's connectors or flows cannot be read.
pub fn project_flow_schema(project_dir: &Path) -> Result<String, ProjectError> {
    let catalog = crate::catalog(Some(project_dir))?;
    let connections = Connections::of_flows(&project_dir.join(FLOWS_DIR), &catalog)?;
    let schema = flow_schema(&catalog, &connections, true)?;
    Ok(to_text(&schema)?)
}

/// Where a project's flow schema is written: `schemas/flow.schema.json`.
#[must_use]
pub fn project_flow_schema_path(project_dir: &Path) -> PathBuf {
    project_dir.join(SCHEMAS_DIR).join("flow.schema.json")
}

/// The project's written flow schema, when it differs from what the project now needs (a
/// connector or connection was added, or Sluice changed). `None` when it is fresh or absent.
///
/// # Errors
/// The project's connectors or flows cannot be read.
pub fn stale_flow_schema(project_dir: &Path) -> Result<Option<PathBuf>, ProjectError> {
    let path = project_flow_schema_path(project_dir);
    let Ok(written) = fs_err::read_to_string(&path) else {
        return Ok(None);
    };
    let fresh = project_flow_schema(project_dir)?;
    Ok((written.trim_end() != fresh.trim_end()).then_some(path))
}

/// `schema` with its `$id`: `https://sluice.dev/schemas/ID.schema.json`.
#[must_use]
pub fn with_id(mut schema: Value, id: &str) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String(format!("https://sluice.dev/schemas/{id}.schema.json")),
        );
    }
    schema
}

/// One action a schema knows.
struct Action<'a> {
    name: String,
    connector: &'a str,
    operation: &'a Operation,
}

/// Every `connection.operation` of `connections` (the first of two equal names wins).
fn actions<'a>(catalog: &'a Catalog, connections: &Connections) -> Vec<Action<'a>> {
    let mut out: Vec<Action<'a>> = Vec::new();
    for (connection, connector_name) in connections.iter() {
        let Some(connector) = catalog.get(connector_name) else {
            continue;
        };
        for (op_name, operation) in &connector.operations {
            let name = format!("{connection}.{}", op_name.value);
            if !out.iter().any(|a| a.name == name) {
                out.push(Action {
                    name,
                    connector: &connector.name.value,
                    operation,
                });
            }
        }
    }
    out
}

/// `action`: its description, completion of the known actions (each with its request and
/// description) and, when `closed`, no other value. (A pattern, not an enum: an enum's message
/// lists every value, and editors list them all again on hover.)
fn describe_actions(action: &mut Map<String, Value>, actions: &[Action<'_>], closed: bool) {
    // `Option<…>`'s `null` and `default: null` only add junk completions ("null", "Default value").
    action.remove("default");
    action.insert("type".into(), Value::String("string".into()));
    let snippets: Vec<Value> = actions
        .iter()
        .map(|a| {
            json!({
                "label": a.name,
                "description": action_summary(a),
                "body": a.name,
            })
        })
        .collect();
    action.insert("defaultSnippets".into(), Value::Array(snippets));
    if closed {
        let names: Vec<String> = actions.iter().map(|a| regex_escape(&a.name)).collect();
        action.insert(
            "pattern".into(),
            Value::String(format!("^({})$", names.join("|"))),
        );
        action.insert(
            "patternErrorMessage".into(),
            Value::String(
                "Not an action of this project's connections: write CONNECTION.OPERATION with a connection the flow declares (completion lists them). After adding a connector or connection, refresh the schema with `sluice schema flow --write`.".into(),
            ),
        );
    }
}

/// `text` as a regular expression that matches only itself.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn action_summary(a: &Action<'_>) -> String {
    format!(
        "{} — {} {} ({})",
        a.operation.description.trim_end_matches('.'),
        a.operation.method.as_str(),
        a.operation.path,
        a.connector
    )
}

/// The schema of a template string.
fn template_schema() -> Value {
    json!({
        "type": "string",
        "pattern": sluice_model::value::TEMPLATE_PATTERN,
        "patternErrorMessage": sluice_model::value::TEMPLATE_MESSAGE,
        "description": "A `{{ ... }}` template."
    })
}

/// The schema rule "when `action` is ACTION, `with:` has the operation's parameters": their
/// descriptions (with allowed values), types, the required ones, nothing else.
fn with_rule(action: &str, op: &Operation) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for (param, spec) in &op.params {
        let mut text = spec.description.clone().unwrap_or_default();
        if text.trim().is_empty() {
            text = param.clone();
        }
        if spec.required {
            text.push_str(" (required)");
        }
        let mut literal = match &spec.allowed {
            Some(allowed) => json!({ "enum": allowed }),
            None => param_type(spec.kind),
        };
        if let Some(obj) = literal.as_object_mut() {
            obj.insert("description".into(), Value::String(text.trim().to_string()));
        }
        let value =
            if matches!(spec.kind, ParamType::String | ParamType::Any) && spec.allowed.is_none() {
                literal
            } else {
                json!({ "description": text.trim(), "anyOf": [literal, template_schema()] })
            };
        props.insert(param.clone(), value);
        if spec.required {
            required.push(Value::String(param.clone()));
        }
    }
    let with = json!({
        "type": "object",
        "description": format!("The parameters of `{action}`: {}.", param_list(op)),
        "properties": props,
        "additionalProperties": false,
    });
    let mut then = json!({ "properties": { "with": with } });
    if !required.is_empty() {
        then["properties"]["with"]["required"] = Value::Array(required);
        then["required"] = json!(["with"]);
    }
    // A pattern, not `const`: editors complete with every rule whose `const` starts with what
    // is typed (`get_contact` would offer `get_contacts`' parameters too).
    json!({
        "if": {
            "properties": { "action": { "type": "string", "pattern": format!("^{}$", regex_escape(action)) } },
            "required": ["action"]
        },
        "then": then
    })
}

fn param_list(op: &Operation) -> String {
    if op.params.is_empty() {
        return "no parameters".into();
    }
    op.params
        .keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The JSON type of a literal parameter (text also takes a number: the planner reads it so).
fn param_type(kind: ParamType) -> Value {
    match kind {
        ParamType::String => json!({ "type": ["string", "number"] }),
        ParamType::Number => json!({ "type": "number" }),
        ParamType::Integer => json!({ "type": "integer" }),
        ParamType::Boolean => json!({ "type": "boolean" }),
        ParamType::Array => json!({ "type": "array" }),
        ParamType::Object => json!({ "type": "object" }),
        ParamType::Any => json!({}),
    }
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

/// Whether a schema takes only literal numbers, booleans or enum values (and maybe null).
#[must_use]
pub fn is_literal(s: &Value, literal_defs: &[String]) -> bool {
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
                        let mut wrapped = json!({ "anyOf": [inner, template_schema()] });
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

/// Editors (yaml-language-server) show every matched alternative's description on hover,
/// joined with `||`: `retry:`'s own text, then its definition's. A key's own description is
/// the one to show, so `{ anyOf: [X, null] }` of an optional setting becomes X with the key's
/// description (null still passes: the definitions it names take it), and definitions that keys
/// describe lose their own text.
fn one_description_per_key(schema: &mut Value) {
    let mut described_defs: Vec<String> = Vec::new();
    collapse_nullable(schema, &mut described_defs);
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        for name in described_defs {
            if let Some(def) = defs.get_mut(&name).and_then(Value::as_object_mut) {
                def.remove("description");
                allow_null(def);
            }
        }
    }
}

fn collapse_nullable(node: &mut Value, described_defs: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for (_, prop) in props.iter_mut() {
                    let Some(obj) = prop.as_object_mut() else {
                        continue;
                    };
                    let has_own = obj.contains_key("description");
                    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
                        if has_own {
                            push_def(described_defs, r);
                        }
                        continue;
                    }
                    let Some(Value::Array(members)) = obj.get("anyOf") else {
                        continue;
                    };
                    let [first, null] = members.as_slice() else {
                        continue;
                    };
                    if null != &json!({ "type": "null" }) {
                        continue;
                    }
                    let Some(r) = first
                        .get("$ref")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                    else {
                        continue;
                    };
                    if has_own {
                        push_def(described_defs, &r);
                    }
                    obj.remove("anyOf");
                    obj.insert("$ref".into(), Value::String(r));
                }
            }
            for (_, v) in map.iter_mut() {
                collapse_nullable(v, described_defs);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| collapse_nullable(v, described_defs)),
        _ => {}
    }
}

fn push_def(defs: &mut Vec<String>, reference: &str) {
    if let Some(name) = reference.strip_prefix("#/$defs/")
        && !defs.iter().any(|d| d == name)
    {
        defs.push(name.to_string());
    }
}

/// Lets a definition take `null` too (an optional setting written with no value).
fn allow_null(def: &mut Map<String, Value>) {
    match def.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = std::mem::take(t);
            def.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => {
            if !types.iter().any(|t| t == "null") {
                types.push(Value::String("null".into()));
            }
        }
        Some(_) => {}
        None => {
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(members)) = def.get_mut(key) {
                    if !members.iter().any(|m| m == &json!({ "type": "null" })) {
                        members.push(json!({ "type": "null" }));
                    }
                    return;
                }
            }
            if let Some(Value::Array(values)) = def.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
        }
    }
}
