//! The built-in catalog: every connector loads cleanly, and each GHL connector matches GHL's
//! official OpenAPI document it was imported from (`conformance.rs` beside this file).

#[path = "support/conformance.rs"]
mod conformance;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use sluice_connectors::{BUILTIN, builtin_catalog};
use sluice_model::connector::Connector;
use sluice_model::{Catalog, Limits, ParamIn, load_connector};

/// GHL's official Contacts API document, relative to this crate.
const GHL_CONTACTS_OPENAPI: &str =
    "../../../shared/reference/ghl/highlevel-api-docs/apps/contacts.json";

fn catalog() -> Catalog {
    match builtin_catalog() {
        Ok(catalog) => catalog,
        Err(reports) => panic!(
            "built-in connectors do not load:\n{}",
            reports
                .iter()
                .map(|r| r.render(false))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn ghl() -> Connector {
    catalog()
        .get("ghl-contacts")
        .cloned()
        .unwrap_or_else(|| panic!("the catalog has no `ghl-contacts` connector"))
}

#[test]
fn every_builtin_connector_loads_without_diagnostics() {
    assert!(!BUILTIN.is_empty());
    for (path, text, _) in BUILTIN {
        let loaded = load_connector(path, text, &Limits::default());
        assert!(
            loaded.report.diagnostics.is_empty(),
            "{path} has diagnostics:\n{}",
            loaded.report.render(false)
        );
        assert!(loaded.connector.is_some(), "{path} was not read");
    }
    let catalog = catalog();
    let names: Vec<&str> = catalog.names().collect();
    assert_eq!(
        names,
        [
            "ghl-contacts",
            "ghl-users",
            "ghl-locations",
            "ghl-businesses",
            "ghl-opportunities",
            "ghl-calendars",
            "ghl-conversations",
            "ipinfo",
            "webhook"
        ]
    );
}

#[test]
fn every_connector_file_starts_with_its_schema_line() {
    for (path, text, _) in BUILTIN {
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../schemas/connector.schema.json"),
            "{path}"
        );
    }
}

/// What the conformance check compares for one operation.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    method: String,
    path: String,
    required_params: BTreeSet<String>,
    required_body: BTreeSet<String>,
    scopes: BTreeSet<String>,
}

/// `{name}` placeholders of a path template.
fn placeholders(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

/// Resolves a local `#/...` reference of the document (the request bodies of contacts.json
/// only refer to its own components).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => match reference.strip_prefix('#') {
            Some(pointer) => doc.pointer(pointer).map_or(schema, |s| resolve(doc, s)),
            None => panic!("unexpected non-local $ref in a request body: {reference}"),
        },
        None => schema,
    }
}

/// The operations of the OpenAPI document, by operationId.
fn openapi_shapes(doc: &Value) -> BTreeMap<String, Shape> {
    let mut out = BTreeMap::new();
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            // A path template placeholder is a required path parameter even where the
            // document forgets to declare it (`{type}` of the bulk tags operation).
            let mut required_params = placeholders(path);
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(doc, p);
                let location = p["in"].as_str().unwrap_or_default();
                if matches!(location, "path" | "query") && p["required"].as_bool() == Some(true) {
                    required_params.insert(p["name"].as_str().unwrap_or_default().to_string());
                }
            }
            let required_body = op
                .pointer("/requestBody/content/application~1json/schema")
                .map(|s| resolve(doc, s))
                .and_then(|s| s["required"].as_array())
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let scopes = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let shape = Shape {
                method: method.to_uppercase(),
                path: path.clone(),
                required_params,
                required_body,
                scopes,
            };
            assert!(
                out.insert(id.to_string(), shape).is_none(),
                "operationId {id} is used twice in the document"
            );
        }
    }
    out
}

/// The operations of the connector, by operation_id, with their names.
fn catalog_shapes(
    connector: &Connector,
    problems: &mut Vec<String>,
) -> BTreeMap<String, (String, Shape)> {
    let mut out = BTreeMap::new();
    for (name, op) in &connector.operations {
        let name = name.value.clone();
        let Some(id) = op.operation_id.clone() else {
            problems.push(format!("catalog operation `{name}` has no operation_id"));
            continue;
        };
        let required = |places: &[ParamIn]| -> BTreeSet<String> {
            op.params
                .iter()
                .filter(|(_, p)| p.required && places.contains(&p.location))
                .map(|(n, _)| n.clone())
                .collect()
        };
        let shape = Shape {
            method: op.method.as_str().to_string(),
            path: op.path.clone(),
            required_params: required(&[ParamIn::Path, ParamIn::Query]),
            required_body: required(&[ParamIn::Body]),
            scopes: op.scopes.iter().cloned().collect(),
        };
        if let Some((other, _)) = out.insert(id.clone(), (name.clone(), shape)) {
            problems.push(format!(
                "catalog operations `{other}` and `{name}` both claim operation_id {id}"
            ));
        }
    }
    out
}

/// Every difference between the connector and the document, in words.
fn conformance_problems(doc: &Value, connector: &Connector) -> Vec<String> {
    let mut problems = Vec::new();
    let official = openapi_shapes(doc);
    let ours = catalog_shapes(connector, &mut problems);
    for (id, want) in &official {
        let Some((name, have)) = ours.get(id) else {
            problems.push(format!(
                "{id} ({} {}) is missing from the catalog",
                want.method, want.path
            ));
            continue;
        };
        let mut differ = |what: &str, want: String, have: String| {
            if want != have {
                problems.push(format!(
                    "{id} (`{name}`): {what} is {have} in the catalog, {want} in the document"
                ));
            }
        };
        differ("the method", want.method.clone(), have.method.clone());
        differ("the path", want.path.clone(), have.path.clone());
        differ(
            "the set of required path/query parameters",
            format!("{:?}", want.required_params),
            format!("{:?}", have.required_params),
        );
        differ(
            "the set of required body fields",
            format!("{:?}", want.required_body),
            format!("{:?}", have.required_body),
        );
        differ(
            "the set of scopes",
            format!("{:?}", want.scopes),
            format!("{:?}", have.scopes),
        );
    }
    for (id, (name, have)) in &ours {
        if !official.contains_key(id) {
            problems.push(format!(
                "catalog operation `{name}` ({} {}) has operation_id {id}, which the document does not have",
                have.method, have.path
            ));
        }
    }
    problems
}

fn official_document() -> Option<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GHL_CONTACTS_OPENAPI);
    if !path.exists() {
        eprintln!(
            "SKIPPED: the official GHL OpenAPI document is missing ({}); the GHL conformance \
             check did not run. Put GoHighLevel/highlevel-api-docs under \
             shared/reference/ghl/ to run it.",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display())),
    )
}

#[test]
fn ghl_connector_conforms_to_the_official_openapi_document() {
    let Some(doc) = official_document() else {
        return;
    };
    let connector = ghl();
    let deep = conformance::problems(&catalog(), "ghl-contacts", "contacts.json");
    assert!(deep.is_empty(), "{}", deep.join("\n"));
    let problems = conformance_problems(&doc, &connector);
    assert!(
        problems.is_empty(),
        "connectors/ghl-contacts.yaml differs from the official contacts.json in {} way(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
    assert_eq!(
        connector.operations.len(),
        32,
        "contacts.json has 32 operations"
    );
    check_reports_every_difference(&doc, connector);
}

/// The check itself: a changed catalog must be reported, every change at once.
fn check_reports_every_difference(doc: &Value, mut connector: Connector) {
    let mut changed = 0;
    for (name, op) in &mut connector.operations {
        match name.value.as_str() {
            "get_contact" => {
                op.path = "/contacts/{id}".to_string();
                changed += 1;
            }
            "create_task" => {
                op.scopes = vec!["contacts.readonly".to_string()];
                changed += 1;
            }
            "update_task_completed" => {
                if let Some(p) = op.params.get_mut("completed") {
                    p.required = false;
                    changed += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(changed, 3);
    connector.operations.shift_remove("delete_note");
    let problems = conformance_problems(doc, &connector);
    let text = problems.join("\n");
    assert_eq!(problems.len(), 4, "{text}");
    for expected in [
        "get-contact (`get_contact`): the path",
        "create-task (`create_task`): the set of scopes",
        "update-task-completed (`update_task_completed`): the set of required body fields",
        "delete-note (DELETE /contacts/{contactId}/notes/{id}) is missing",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` not reported in:\n{text}"
        );
    }
}

#[test]
fn ghl_connector_has_the_integration_guide_endpoints() {
    let guide = [
        "GET /contacts/{contactId}",
        "GET /contacts/{contactId}/tasks",
        "GET /contacts/{contactId}/tasks/{taskId}",
        "GET /contacts/{contactId}/notes",
        "GET /contacts/{contactId}/notes/{id}",
        "GET /contacts/{contactId}/appointments",
        "GET /contacts/",
        "GET /contacts/business/{businessId}",
        "POST /contacts/",
        "PUT /contacts/{contactId}",
        "DELETE /contacts/{contactId}",
        "POST /contacts/{contactId}/tasks",
        "PUT /contacts/{contactId}/tasks/{taskId}",
        "PUT /contacts/{contactId}/tasks/{taskId}/completed",
        "DELETE /contacts/{contactId}/tasks/{taskId}",
        "POST /contacts/{contactId}/tags",
    ];
    let connector = ghl();
    let have: BTreeSet<String> = connector
        .operations
        .values()
        .map(|op| format!("{} {}", op.method.as_str(), op.path))
        .collect();
    let missing: Vec<&str> = guide
        .iter()
        .copied()
        .filter(|endpoint| !have.contains(*endpoint))
        .collect();
    assert!(missing.is_empty(), "missing endpoints: {missing:?}");
}

#[test]
fn ghl_connector_declares_the_webhook_events() {
    let events = [
        "ContactCreate",
        "ContactDelete",
        "ContactDndUpdate",
        "ContactTagUpdate",
        "ContactUpdate",
        "NoteCreate",
        "NoteDelete",
        "NoteUpdate",
        "TaskCreate",
        "TaskDelete",
        "TaskComplete",
        "AppointmentCreate",
        "AppointmentUpdate",
        "AppointmentDelete",
    ];
    let connector = ghl();
    let mut problems = Vec::new();
    for event in events {
        match connector.webhooks.get(event) {
            None => problems.push(format!("{event} is not declared")),
            Some(hook) => {
                let payload = hook.payload.as_ref();
                if payload
                    .and_then(|p| p.pointer("/properties/type"))
                    .is_none()
                {
                    problems.push(format!("{event} has no payload schema with `type`"));
                }
                if hook.description.is_none() {
                    problems.push(format!("{event} has no description"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn ghl_connector_basics() {
    let connector = ghl();
    assert_eq!(connector.base_url, "https://services.leadconnectorhq.com");
    assert_eq!(
        connector.headers.get("Version").map(String::as_str),
        Some("2021-07-28")
    );
    for (name, op) in &connector.operations {
        for param in op.params.keys() {
            assert!(
                !param.eq_ignore_ascii_case("version")
                    && !param.eq_ignore_ascii_case("authorization"),
                "{} declares the {param} header",
                name.value
            );
        }
        for placeholder in placeholders(&op.path) {
            assert!(
                op.params
                    .get(&placeholder)
                    .is_some_and(|p| p.location == ParamIn::Path && p.required),
                "{}: `{{{placeholder}}}` has no required path parameter",
                name.value
            );
        }
        for scope in &op.scopes {
            assert!(
                connector.scopes.contains_key(scope),
                "{}: scope {scope} is not described under `scopes`",
                name.value
            );
        }
    }
    let names: Vec<&str> = connector
        .rate_limits
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["burst", "daily"]);
}

#[test]
fn ipinfo_connector_has_its_operations() {
    let catalog = catalog();
    let connector = catalog
        .get("ipinfo")
        .unwrap_or_else(|| panic!("the catalog has no `ipinfo` connector"));
    let ops: BTreeMap<&str, String> = connector
        .operations
        .iter()
        .map(|(n, op)| {
            (
                n.value.as_str(),
                format!("{} {}", op.method.as_str(), op.path),
            )
        })
        .collect();
    assert_eq!(
        ops,
        BTreeMap::from([
            ("batch", "POST /batch".to_string()),
            ("get_ip_field", "GET /{ip}/{field}".to_string()),
            ("lookup_ip", "GET /{ip}".to_string()),
            ("me", "GET /me".to_string()),
        ])
    );
    let batch = connector
        .operation("batch")
        .unwrap_or_else(|| panic!("no batch"));
    assert!(!batch.is_write());
    assert!(batch.is_idempotent());
    assert_eq!(
        batch.params.get("ips").map(|p| p.location),
        Some(ParamIn::BodyRoot)
    );
}

/// Every GHL connector imported from a document has every operation of it, with the same
/// method, path, parameters (name, place, required, type), scopes and response schema — except
/// what its import settings (`connectors/import/NAME.yaml`) state on purpose.
#[test]
fn every_ghl_connector_conforms_to_its_openapi_document() {
    let catalog = catalog();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, doc, ops) in [
        ("ghl-contacts", "contacts.json", 32),
        ("ghl-users", "users.json", 7),
        ("ghl-locations", "locations.json", 29),
        ("ghl-businesses", "businesses.json", 5),
        ("ghl-opportunities", "opportunities.json", 12),
        ("ghl-calendars", "calendars.json", 41),
        ("ghl-conversations", "conversations.json", 29),
    ] {
        if !conformance::documents_present() {
            eprintln!(
                "SKIPPED: GHL's OpenAPI documents are missing; the conformance checks did not run."
            );
            return;
        }
        let connector = catalog.get(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(connector.operations.len(), ops, "{name}: operations");
        problems.extend(conformance::problems(&catalog, name, doc));
        checked += 1;
    }
    assert_eq!(checked, 7);
    assert!(
        problems.is_empty(),
        "{} difference(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// The check itself: a changed parameter or response field is reported.
#[test]
fn the_deep_conformance_check_reports_changes() {
    if !conformance::documents_present() {
        eprintln!("SKIPPED: GHL's OpenAPI documents are missing.");
        return;
    }
    let Some(mut users) = catalog().get("ghl-users").cloned() else {
        panic!("no ghl-users");
    };
    for (name, op) in &mut users.operations {
        match name.value.as_str() {
            "get_user" => {
                if let Some(serde_json::Value::Object(props)) =
                    op.response.as_mut().and_then(|r| r.get_mut("properties"))
                {
                    props.shift_remove("email");
                }
            }
            "search_users" => {
                op.params.shift_remove("limit");
            }
            _ => {}
        }
    }
    let problems = conformance::connector_problems(&users, "users.json");
    let text = problems.join("\n");
    assert!(
        text.contains("get-user (`get_user`): response field `email`"),
        "{text}"
    );
    assert!(
        text.contains("search-users (`search_users`): parameter `limit`"),
        "{text}"
    );
    assert_eq!(problems.len(), 2, "{text}");
}

/// Each built-in connector's tree prepared at build time (what `Catalog::lazy` reads) is the
/// tree the YAML parser gives for its file, spans included.
#[test]
fn every_prepared_tree_is_the_parsed_file() {
    for (path, text, tree) in BUILTIN {
        let parsed = sluice_model::node::parse_yaml(text, &Limits::default())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let prepared = sluice_model::prepared::read_prepared(tree)
            .unwrap_or_else(|e| panic!("{path}: the prepared tree cannot be read: {e}"));
        assert!(
            prepared == parsed,
            "{path}: the prepared tree differs from the file's"
        );
    }
}

/// `Catalog::lazy` (what projects use: built-in connectors read when first used) names each
/// built-in connector by its file's stem; that must be the name inside the file, and reading
/// one lazily must give what the eager catalog read.
#[test]
fn the_lazy_catalog_reads_the_same_connectors_under_the_same_names() {
    let eager = catalog();
    let lazy = Catalog::lazy(BUILTIN);
    assert_eq!(
        lazy.names().collect::<Vec<_>>(),
        eager.names().collect::<Vec<_>>()
    );
    for name in eager.names() {
        let (a, b) = (eager.get(name), lazy.get(name));
        assert!(b.is_some(), "`{name}` does not load lazily");
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "`{name}` differs when read lazily"
        );
    }
    assert!(lazy.get("no-such-connector").is_none());
}
