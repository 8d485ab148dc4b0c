//! A check of an imported GHL connector against its OpenAPI document, written without the
//! importer's code: `$ref`s are inlined here by a small resolver of its own, and the
//! comparison is of operations, parameters (name, place, required, type), scopes and every
//! field path of the response schema with its type. What the connector's import settings
//! (`connectors/import/NAME.yaml`) state on purpose is not a difference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_model::connector::Connector;
use sluice_model::{Catalog, ParamIn};

/// GHL's documents, relative to this crate.
const APPS: &str = "../../../shared/reference/ghl/highlevel-api-docs/apps";

fn apps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(APPS)
}

/// Whether the documents are there (CI has them as `../shared/reference`).
pub(crate) fn documents_present() -> bool {
    apps().join("contacts.json").is_file()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The documents of `apps/` and `common/`, by path, loaded on demand.
struct Docs {
    files: BTreeMap<PathBuf, Value>,
}

impl Docs {
    fn get(&mut self, path: &Path) -> &Value {
        let path = normalize(path);
        self.files
            .entry(path.clone())
            .or_insert_with(|| read_json(&path))
    }

    /// `schema` of the document `file` with every `$ref` inlined and `allOf` joined.
    fn inline(&mut self, file: &Path, schema: &Value, depth: usize) -> Value {
        if depth > 12 {
            return Value::Object(serde_json::Map::new());
        }
        let Some(obj) = schema.as_object() else {
            return schema.clone();
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            let (target_file, pointer) = match reference.split_once('#') {
                Some(("", p)) => (file.to_path_buf(), p.to_string()),
                Some((f, p)) => (
                    file.parent().unwrap_or(Path::new("")).join(f),
                    p.to_string(),
                ),
                None => (file.to_path_buf(), String::new()),
            };
            let target = self
                .get(&target_file)
                .pointer(&pointer)
                .cloned()
                .unwrap_or_else(|| panic!("{reference} of {} points at nothing", file.display()));
            return self.inline(&normalize(&target_file), &target, depth + 1);
        }
        let mut out = serde_json::Map::new();
        for (k, v) in obj {
            let v = match k.as_str() {
                "properties" => Value::Object(
                    v.as_object()
                        .into_iter()
                        .flatten()
                        .map(|(n, s)| (n.clone(), self.inline(file, s, depth + 1)))
                        .collect(),
                ),
                "items" | "additionalProperties" => self.inline(file, v, depth + 1),
                "allOf" | "anyOf" | "oneOf" => Value::Array(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| self.inline(file, s, depth + 1))
                        .collect(),
                ),
                _ => v.clone(),
            };
            out.insert(k.clone(), v);
        }
        if let Some(Value::Array(parts)) = out.remove("allOf") {
            for part in parts {
                for (k, v) in part.as_object().into_iter().flatten() {
                    if k == "properties" {
                        let props = out
                            .entry("properties")
                            .or_insert_with(|| Value::Object(serde_json::Map::new()));
                        if let (Some(p), Some(more)) = (props.as_object_mut(), v.as_object()) {
                            for (n, s) in more {
                                p.entry(n.clone()).or_insert_with(|| s.clone());
                            }
                        }
                    } else {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        Value::Object(out)
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A schema's JSON type as a word: `string`, `string|null`, `any`.
fn type_word(schema: &Value) -> String {
    let mut kinds: Vec<String> = match schema.get("type") {
        Some(Value::String(k)) => vec![k.clone()],
        Some(Value::Array(ks)) => ks
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None if schema.get("properties").is_some() => vec!["object".into()],
        _ => vec![],
    };
    if schema.get("nullable") == Some(&Value::Bool(true)) && !kinds.iter().any(|k| k == "null") {
        kinds.push("null".into());
    }
    if kinds.is_empty() {
        "any".into()
    } else {
        kinds.join("|")
    }
}

/// Every field path of a schema with its type: `contact.email: string`, `tasks[].id: string`.
fn field_paths(schema: &Value, prefix: &str, out: &mut BTreeMap<String, String>, depth: usize) {
    if depth > 8 {
        return;
    }
    for (name, prop) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        out.insert(path.clone(), type_word(prop));
        field_paths(prop, &path, out, depth + 1);
    }
    if let Some(items) = schema.get("items") {
        let path = format!("{prefix}[]");
        out.insert(path.clone(), type_word(items));
        field_paths(items, &path, out, depth + 1);
    }
}

/// What the import settings of a connector say of one operation.
#[derive(Default)]
struct Stated {
    params: BTreeSet<String>,
    /// Response field paths (dotted, `[]` for items) set on purpose.
    response: Vec<String>,
}

fn settings(name: &str) -> (BTreeMap<String, Stated>, BTreeMap<String, String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../connectors/import")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let value: Value = serde_saphyr::from_str(&text).unwrap_or(Value::Null);
    let mut out = BTreeMap::new();
    for (id, op) in value
        .get("operations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let params = op
            .get("params")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let response = op
            .get("response_set")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(pointer, _)| {
                pointer
                    .replace("/properties/", ".")
                    .replace("/items", "[]")
                    .trim_start_matches('.')
                    .to_string()
            })
            .collect();
        out.insert(id.clone(), Stated { params, response });
    }
    let fixes = value
        .get("type_fixes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    (out, fixes)
}

/// `(name → (place, required, type))` of the document's operation.
fn document_params(
    docs: &mut Docs,
    file: &Path,
    path: &str,
    op: &Value,
) -> BTreeMap<String, (String, bool, String)> {
    let mut out = BTreeMap::new();
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = docs.inline(file, p, 0);
        let place = p["in"].as_str().unwrap_or_default().to_string();
        let name = p["name"].as_str().unwrap_or_default().to_string();
        if !matches!(place.as_str(), "path" | "query" | "header")
            || name.eq_ignore_ascii_case("authorization")
        {
            continue;
        }
        let schema = docs.inline(file, p.get("schema").unwrap_or(&Value::Null), 0);
        if place == "header"
            && schema
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|e| e.len() == 1)
        {
            continue; // a constant header: the connector's `headers`
        }
        let required = place == "path" || p["required"].as_bool() == Some(true);
        out.insert(name, (place, required, type_word(&schema)));
    }
    for placeholder in path
        .split('{')
        .skip(1)
        .filter_map(|r| r.split_once('}').map(|(n, _)| n.to_string()))
    {
        out.entry(placeholder)
            .or_insert_with(|| ("path".into(), true, "string".into()));
    }
    // The JSON body, else whatever body there is (multipart forms are imported as fields too).
    let content = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object);
    let media = content.and_then(|c| c.get("application/json").or_else(|| c.values().next()));
    let body = media
        .and_then(|m| m.get("schema"))
        .map(|s| docs.inline(file, s, 0));
    if let Some(body) = body {
        if body.get("properties").is_none() && type_word(&body) != "object" {
            // A list or a scalar: the whole body is one parameter.
            let required = op.pointer("/requestBody/required") == Some(&Value::Bool(true));
            out.insert(
                "body".into(),
                ("body_root".into(), required, type_word(&body)),
            );
        }
        let required: BTreeSet<&str> = body
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (field, schema) in body
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            out.entry(field.clone()).or_insert_with(|| {
                (
                    "body".into(),
                    required.contains(field.as_str()),
                    type_word(schema),
                )
            });
        }
    }
    out
}

fn success_schema(op: &Value) -> Option<&Value> {
    let responses = op.get("responses")?.as_object()?;
    let mut statuses: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
    statuses.sort_by_key(|s| match s.as_str() {
        "200" => 0,
        "201" => 1,
        _ => 2,
    });
    statuses
        .into_iter()
        .find_map(|s| responses[s].pointer("/content/application~1json/schema"))
}

fn place_word(place: ParamIn) -> &'static str {
    match place {
        ParamIn::Path => "path",
        ParamIn::Query => "query",
        ParamIn::Header => "header",
        ParamIn::Body => "body",
        ParamIn::BodyRoot => "body_root",
    }
}

/// Every difference between the built-in connector `name` and `apps/DOC`.
pub(crate) fn problems(catalog: &Catalog, name: &str, doc: &str) -> Vec<String> {
    let connector = catalog
        .get(name)
        .unwrap_or_else(|| panic!("no connector {name}"));
    connector_problems(connector, doc)
}

/// Every difference between `connector` and `apps/DOC`, in words.
pub(crate) fn connector_problems(connector: &Connector, doc: &str) -> Vec<String> {
    let file = normalize(&apps().join(doc));
    let mut docs = Docs {
        files: BTreeMap::new(),
    };
    let document = docs.get(&file).clone();
    let (stated, fixes) = settings(&connector.name.value);
    let mut problems = Vec::new();
    let ours: BTreeMap<&str, (&str, &sluice_model::Operation)> = connector
        .operations
        .iter()
        .filter_map(|(n, op)| {
            op.operation_id
                .as_deref()
                .map(|id| (id, (n.value.as_str(), op)))
        })
        .collect();
    let mut seen = BTreeSet::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let id = op["operationId"].as_str().unwrap_or_default();
            seen.insert(id.to_string());
            let Some((name, have)) = ours.get(id) else {
                problems.push(format!(
                    "{id} ({} {path}) is missing",
                    method.to_uppercase()
                ));
                continue;
            };
            let here = format!("{id} (`{name}`)");
            if have.method.as_str() != method.to_uppercase() || have.path != *path {
                problems.push(format!(
                    "{here}: {} {} instead of {} {path}",
                    have.method.as_str(),
                    have.path,
                    method.to_uppercase()
                ));
            }
            let none = Stated::default();
            let stated = stated.get(id).unwrap_or(&none);
            let want = document_params(&mut docs, &file, path, op);
            for (param, (place, required, kind)) in &want {
                if stated.params.contains(param) {
                    continue;
                }
                let Some(p) = have.params.get(param) else {
                    problems.push(format!("{here}: parameter `{param}` ({place}) is missing"));
                    continue;
                };
                let have_kind = format!("{:?}", p.kind).to_lowercase();
                let want_kind = fixes
                    .get(param)
                    .cloned()
                    .unwrap_or_else(|| kind.replace("|null", ""));
                let kind_ok = want_kind == have_kind
                    || (have_kind == "any" && (want_kind == "any" || want_kind.contains('|')));
                if place_word(p.location) != place || p.required != *required || !kind_ok {
                    problems.push(format!(
                        "{here}: parameter `{param}` is {} {} {have_kind}, the document says {place} {} {want_kind}",
                        place_word(p.location), if p.required { "required" } else { "optional" },
                        if *required { "required" } else { "optional" }
                    ));
                }
            }
            for param in have.params.keys() {
                if !want.contains_key(param) && !stated.params.contains(param) {
                    problems.push(format!(
                        "{here}: parameter `{param}` is not in the document"
                    ));
                }
            }
            let scopes: BTreeSet<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|r| r.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let have_scopes: BTreeSet<String> = have.scopes.iter().cloned().collect();
            if scopes != have_scopes {
                problems.push(format!(
                    "{here}: scopes {have_scopes:?}, the document says {scopes:?}"
                ));
            }
            let mut want_fields = BTreeMap::new();
            if let Some(schema) = success_schema(op) {
                let schema = docs.inline(&file, schema, 0);
                field_paths(&schema, "", &mut want_fields, 0);
            }
            let mut have_fields = BTreeMap::new();
            if let Some(response) = &have.response {
                field_paths(response, "", &mut have_fields, 0);
            }
            let on_purpose = |field: &str| {
                stated.response.iter().any(|p| {
                    field == p
                        || field.starts_with(&format!("{p}."))
                        || field.starts_with(&format!("{p}["))
                })
            };
            for (field, kind) in &want_fields {
                if on_purpose(field) {
                    continue;
                }
                match have_fields.get(field) {
                    None => problems.push(format!("{here}: response field `{field}` is missing")),
                    Some(k) if k != kind => problems.push(format!(
                        "{here}: response field `{field}` is {k}, the document says {kind}"
                    )),
                    Some(_) => {}
                }
            }
            for field in have_fields.keys() {
                if !want_fields.contains_key(field) && !on_purpose(field) {
                    problems.push(format!(
                        "{here}: response field `{field}` is not in the document"
                    ));
                }
            }
        }
    }
    for (id, (name, _)) in &ours {
        if !seen.contains(*id) {
            problems.push(format!(
                "`{name}` has operation_id {id}, which the document does not have"
            ));
        }
    }
    problems
}
