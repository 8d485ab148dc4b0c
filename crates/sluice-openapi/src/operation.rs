//! One OpenAPI operation → one connector operation: name, description, scopes, `writes`,
//! parameters (path, query, header, the JSON body's fields), pagination and the response
//! schema, with what the override file adds.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::Problem;
use crate::overrides::{OperationOverride, Overrides};
use crate::schema::{Converter, hint, one_line, param_type};
use crate::source::{Documents, escape};

/// What building operations collects beside the operations.
#[derive(Default)]
pub(crate) struct Collected {
    /// Headers every request must carry with one allowed value (GHL's `Version`).
    pub(crate) headers: IndexMap<String, String>,
    /// Security schemes the operations name.
    pub(crate) schemes: Vec<String>,
    /// Problems that did not stop an operation.
    pub(crate) notes: Vec<Problem>,
}

/// Where an operation is.
pub(crate) struct Site<'a> {
    pub(crate) location: &'a str,
    pub(crate) path: &'a str,
    pub(crate) method: &'a str,
    /// The path item (for its shared `parameters`).
    pub(crate) item: &'a Value,
    pub(crate) op: &'a Value,
    /// The document's own `security`, for operations without one.
    pub(crate) default_security: Option<&'a Value>,
}

impl Site<'_> {
    fn at(&self) -> String {
        format!("/paths/{}/{}", escape(self.path), self.method)
    }
}

/// The operation's name: the override's, else its `operationId` in snake_case.
pub(crate) fn snake(text: &str) -> String {
    use heck::ToSnakeCase as _;
    let out: String = text
        .to_snake_case()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out = out.trim_matches('_').to_owned();
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if !(c == '_' && collapsed.ends_with('_')) {
            collapsed.push(c);
        }
    }
    collapsed
}

/// `{name}` placeholders of a path template, in order.
pub(crate) fn placeholders(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Builds one operation: its name and its connector entry.
///
/// # Errors
/// What made the operation unreadable (a broken `$ref`, a parameter without a name), at its
/// pointer; the import goes on without it.
pub(crate) fn build(
    docs: &mut Documents<'_>,
    overrides: &Overrides,
    site: &Site<'_>,
    collected: &mut Collected,
) -> Result<(String, Value), Problem> {
    // Over 80 lines: the entry's keys in the order the connector file shows them.
    let at = site.at();
    let method = site.method.to_uppercase();
    let op_id = site.op.get("operationId").and_then(Value::as_str);
    let none = OperationOverride::default();
    let extra = op_id
        .and_then(|id| overrides.operations.get(id))
        .unwrap_or(&none);
    let name = match (&extra.name, op_id) {
        (Some(name), _) => name.clone(),
        (None, Some(id)) => snake(id),
        (None, None) => {
            collected.notes.push(Problem::at(
                site.location,
                &at,
                "no `operationId`: named after the method and path",
            ));
            snake(&format!("{method} {}", site.path))
        }
    };
    let summary = site
        .op
        .get("summary")
        .and_then(Value::as_str)
        .and_then(one_line)
        .or_else(|| {
            site.op
                .get("description")
                .and_then(Value::as_str)
                .and_then(one_line)
        })
        .unwrap_or_else(|| op_id.unwrap_or(&name).to_owned());
    let description = extra
        .description
        .clone()
        .unwrap_or_else(|| format!("{}.", summary.trim_end_matches('.')));

    let mut out = Map::new();
    out.insert("description".into(), json!(description));
    if let Some(id) = op_id {
        out.insert("operation_id".into(), json!(id));
    }
    out.insert("method".into(), json!(method));
    out.insert("path".into(), json!(site.path));
    if site.op.get("deprecated") == Some(&Value::Bool(true)) {
        out.insert("deprecated".into(), json!(true));
    }
    let security = site.op.get("security").or(site.default_security);
    out.insert("scopes".into(), json!(scopes_of(security, collected)));
    out.insert(
        "writes".into(),
        json!(extra.writes.unwrap_or(method != "GET")),
    );
    if let Some(idempotent) = extra.idempotent {
        out.insert("idempotent".into(), json!(idempotent));
    }
    if method == "GET" {
        out.insert("cacheable".into(), json!(true));
    }
    if let Some(reconcile) = &extra.reconcile {
        out.insert("reconcile".into(), reconcile.clone());
    }

    let mut params = read_params(docs, site, &at, collected)?;
    read_body(docs, overrides, site, &at, &mut params, collected)?;
    for placeholder in placeholders(site.path) {
        if !params.contains_key(&placeholder) {
            collected.notes.push(Problem::at(
                site.location,
                &at,
                format!(
                    "path parameter `{placeholder}` is not declared; added as a required string"
                ),
            ));
            params.insert(
                placeholder,
                json!({ "in": "path", "type": "string", "required": true }),
            );
        }
    }
    for (field, given) in &extra.params {
        let mut merged = params
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in given.as_object().into_iter().flatten() {
            merged.insert(k.clone(), v.clone());
        }
        params.insert(field.clone(), Value::Object(merged));
    }
    let order = placeholders(site.path);
    let rank = |p: &Value| match p.get("in").and_then(Value::as_str) {
        Some("path") => 0,
        Some("query") => 1,
        Some("header") => 2,
        _ => 3,
    };
    params.sort_by(|ka, a, kb, b| {
        let pa = order.iter().position(|p| p == ka).unwrap_or(0);
        let pb = order.iter().position(|p| p == kb).unwrap_or(0);
        (rank(a), pa).cmp(&(rank(b), pb))
    });
    if !params.is_empty() {
        out.insert("params".into(), Value::Object(params.into_iter().collect()));
    }
    let pagination = extra
        .pagination
        .clone()
        .or_else(|| site.op.get("x-sluice-pagination").cloned());
    if let Some(pagination) = pagination {
        out.insert("pagination".into(), pagination);
    }
    match success_schema(site.op) {
        Some((status, content_type, schema)) => {
            let here = format!(
                "{at}/responses/{status}/content/{}/schema",
                escape(&content_type)
            );
            let mut conv = Converter {
                docs,
                examples: false,
            };
            let mut response = conv.convert(schema, site.location, &here)?;
            for (pointer, part) in &extra.response_set {
                let part = conv.convert(part, site.location, &here)?;
                set_pointer(&mut response, pointer, part);
            }
            out.insert("response".into(), response);
        }
        None => collected.notes.push(Problem::at(
            site.location,
            &format!("{at}/responses"),
            "no JSON schema for a successful answer: any field is accepted",
        )),
    }
    Ok((name, Value::Object(out)))
}

/// Scopes of a `security` list (any requirement is enough), in order of appearance.
fn scopes_of(security: Option<&Value>, collected: &mut Collected) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for requirement in security.and_then(Value::as_array).into_iter().flatten() {
        for (scheme, names) in requirement.as_object().into_iter().flatten() {
            if !collected.schemes.contains(scheme) {
                collected.schemes.push(scheme.clone());
            }
            for name in names
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !scopes.iter().any(|s| s == name) {
                    scopes.push(name.to_owned());
                }
            }
        }
    }
    scopes
}

/// Path, query and header parameters (the path item's, then the operation's own).
fn read_params(
    docs: &mut Documents<'_>,
    site: &Site<'_>,
    at: &str,
    collected: &mut Collected,
) -> Result<IndexMap<String, Value>, Problem> {
    let mut params = IndexMap::new();
    let shared = site.item.get("parameters").and_then(Value::as_array);
    let own = site.op.get("parameters").and_then(Value::as_array);
    let listed = shared
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| (format!("/paths/{}/parameters/{i}", escape(site.path)), p))
        .chain(
            own.into_iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| (format!("{at}/parameters/{i}"), p)),
        );
    for (here, p) in listed.collect::<Vec<_>>() {
        let (p, location, here) = match p.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let (value, location, pointer) =
                    docs.resolve(site.location, reference, &format!("{here}/$ref"))?;
                (value, location, pointer)
            }
            None => (p.clone(), site.location.to_owned(), here),
        };
        let (Some(name), Some(place)) = (
            p.get("name").and_then(Value::as_str),
            p.get("in").and_then(Value::as_str),
        ) else {
            return Err(Problem::at(
                &location,
                &here,
                "a parameter needs `name` and `in`",
            ));
        };
        let mut conv = Converter {
            docs,
            examples: false,
        };
        let schema = match p.get("schema") {
            Some(s) => conv.convert(s, &location, &format!("{here}/schema"))?,
            None => json!({}),
        };
        let required = p.get("required") == Some(&Value::Bool(true)) || place == "path";
        let description = p
            .get("description")
            .and_then(Value::as_str)
            .and_then(one_line);
        match place {
            "path" | "query" => {
                params.insert(
                    name.to_owned(),
                    make_param(place, &schema, required, description),
                );
            }
            "header" if name.eq_ignore_ascii_case("authorization") => {}
            "header" => {
                let constant = schema
                    .get("enum")
                    .and_then(Value::as_array)
                    .filter(|e| e.len() == 1)
                    .and_then(|e| e[0].as_str());
                match constant {
                    Some(value) if required => {
                        let known = collected.headers.get(name).cloned();
                        match known {
                            Some(k) if k != value => collected.notes.push(Problem::at(
                                &location,
                                &here,
                                format!("header `{name}` is `{value}` here but `{k}` elsewhere; `{k}` is sent"),
                            )),
                            Some(_) => {}
                            None => {
                                collected.headers.insert(name.to_owned(), value.to_owned());
                            }
                        }
                    }
                    _ => {
                        params.insert(
                            name.to_owned(),
                            make_param("header", &schema, required, description),
                        );
                    }
                }
            }
            other => collected.notes.push(Problem::at(
                &location,
                &here,
                format!("`in: {other}` parameters are not supported; `{name}` left out"),
            )),
        }
    }
    Ok(params)
}

/// The request body: a JSON object's fields become `body` parameters; any other body is one
/// `body_root` parameter named `body`.
fn read_body(
    docs: &mut Documents<'_>,
    overrides: &Overrides,
    site: &Site<'_>,
    at: &str,
    params: &mut IndexMap<String, Value>,
    collected: &mut Collected,
) -> Result<(), Problem> {
    let Some(body) = site.op.get("requestBody") else {
        return Ok(());
    };
    let (body, location, here) = match body.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            docs.resolve(site.location, reference, &format!("{at}/requestBody/$ref"))?
        }
        None => (
            body.clone(),
            site.location.to_owned(),
            format!("{at}/requestBody"),
        ),
    };
    let Some(content) = body.get("content").and_then(Value::as_object) else {
        return Ok(());
    };
    let json_type = content
        .keys()
        .find(|k| *k == "application/json")
        .or_else(|| content.keys().find(|k| k.contains("json")));
    let (content_type, media) = match json_type {
        Some(k) => (k.clone(), &content[k]),
        None => match content.iter().next() {
            Some((k, v)) => {
                collected.notes.push(Problem::at(
                    &location,
                    &format!("{here}/content"),
                    format!("the body is `{k}`; Sluice sends JSON, so this operation may need a hand-made connector"),
                ));
                (k.clone(), v)
            }
            None => return Ok(()),
        },
    };
    let Some(schema) = media.get("schema") else {
        return Ok(());
    };
    let here = format!("{here}/content/{}/schema", escape(&content_type));
    let mut conv = Converter {
        docs,
        examples: true,
    };
    let schema = conv.convert(schema, &location, &here)?;
    let required_body = body.get("required") == Some(&Value::Bool(true));
    match schema.get("properties").and_then(Value::as_object) {
        Some(props) => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (field, field_schema) in props {
                if params.contains_key(field) {
                    collected.notes.push(Problem::at(
                        &location,
                        &format!("{here}/properties/{}", escape(field)),
                        format!("body field `{field}` has the name of a path or query parameter; left out"),
                    ));
                    continue;
                }
                let mut field_schema = field_schema.clone();
                if let Some(kind) = overrides.type_fixes.get(field)
                    && let Some(obj) = field_schema.as_object_mut()
                {
                    obj.insert("type".into(), json!(kind));
                }
                let description = field_schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| hint(&field_schema));
                params.insert(
                    field.clone(),
                    make_param(
                        "body",
                        &field_schema,
                        required.contains(&field.as_str()),
                        description,
                    ),
                );
            }
        }
        None if param_type(&schema) == "object" => {}
        None => {
            let description = schema
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| hint(&schema));
            params.insert(
                "body".into(),
                make_param("body_root", &schema, required_body, description),
            );
        }
    }
    Ok(())
}

fn make_param(place: &str, schema: &Value, required: bool, description: Option<String>) -> Value {
    let mut param = Map::new();
    param.insert("in".into(), json!(place));
    param.insert("type".into(), json!(param_type(schema)));
    if required {
        param.insert("required".into(), json!(true));
    }
    if let Some(d) = description {
        param.insert("description".into(), json!(d));
    }
    for key in ["enum", "default"] {
        if let Some(v) = schema.get(key) {
            param.insert(key.into(), v.clone());
        }
    }
    Value::Object(param)
}

/// The JSON schema of the first successful answer: 200, 201, then other 2xx.
fn success_schema(op: &Value) -> Option<(String, String, &Value)> {
    let responses = op.get("responses")?.as_object()?;
    let mut statuses: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
    statuses.sort_by_key(|s| match s.as_str() {
        "200" => 0,
        "201" => 1,
        _ => 2,
    });
    for status in statuses {
        let Some(content) = responses[status].get("content").and_then(Value::as_object) else {
            continue;
        };
        let json_type = content
            .keys()
            .find(|k| *k == "application/json")
            .or_else(|| content.keys().find(|k| k.contains("json")));
        if let Some(k) = json_type
            && let Some(schema) = content[k].get("schema")
        {
            return Some((status.clone(), k.clone(), schema));
        }
    }
    None
}

/// Puts `value` at `pointer` in `target`, making the objects on the way.
fn set_pointer(target: &mut Value, pointer: &str, value: Value) {
    let mut current = target;
    let parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, path)) = parts.split_last() else {
        *current = value;
        return;
    };
    for part in path {
        if !current.is_object() {
            *current = json!({});
        }
        let Some(obj) = current.as_object_mut() else {
            return;
        };
        current = obj.entry(part.clone()).or_insert_with(|| json!({}));
    }
    if !current.is_object() {
        *current = json!({});
    }
    if let Some(obj) = current.as_object_mut() {
        obj.insert(last.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case() {
        assert_eq!(
            snake("get-contacts-by-businessId"),
            "get_contacts_by_business_id"
        );
        assert_eq!(
            snake("GET-all-or-email-sms-templates"),
            "get_all_or_email_sms_templates"
        );
        assert_eq!(snake("listPets"), "list_pets");
        assert_eq!(snake("GET /users/{userId}"), "get_users_user_id");
    }

    #[test]
    fn set_pointer_makes_the_way() {
        let mut v = json!({"type": "object"});
        set_pointer(&mut v, "/properties/meta", json!({"type": "object"}));
        assert_eq!(
            v,
            json!({"type": "object", "properties": {"meta": {"type": "object"}}})
        );
    }
}
