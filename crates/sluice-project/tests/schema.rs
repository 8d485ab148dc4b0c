//! The editor schemas, checked with an independent validator (the `jsonschema` crate): what
//! the flow schema accepts and flags (actions, `with:` parameters, durations, cron lines), that
//! every pattern has a message a person understands, that keys have one description each, and
//! when a project's written schema is stale.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sluice_model::{Catalog, Limits};
use sluice_project::schema::{
    Connections, flow_schema, generic_flow_schema, project_flow_schema, stale_flow_schema,
};

fn builtin() -> Catalog {
    sluice_connectors::builtin_catalog().expect("the built-in connectors")
}

fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

/// The example flows `(path, text)`.
fn examples() -> Vec<(String, String)> {
    sluice_project::read::read_yaml_files(&workflows())
        .expect("workflows/")
        .into_iter()
        .map(|(p, t, _)| (p, t))
        .collect()
}

/// A YAML text as the JSON an editor validates.
fn json_of(yaml: &str) -> Value {
    sluice_model::node::parse_yaml(yaml, &Limits::default())
        .expect("YAML")
        .to_json()
}

/// The messages of every error of `yaml` against `schema`.
fn errors(schema: &Value, yaml: &str) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    let instance = json_of(yaml);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The schema `sluice init` writes for a project of the example flows.
fn closed() -> Value {
    let catalog = builtin();
    flow_schema(
        &catalog,
        &Connections::of_sources(&examples(), &catalog),
        true,
    )
    .expect("schema")
}

const CONTACT_360: &str = include_str!("../../../workflows/contact-360.yaml");

#[test]
fn every_example_flow_passes_both_flow_schemas() {
    let generic = generic_flow_schema().expect("schema");
    let closed = closed();
    for (path, text) in examples() {
        assert_eq!(
            errors(&generic, &text),
            Vec::<String>::new(),
            "{path}, generic"
        );
        assert_eq!(
            errors(&closed, &text),
            Vec::<String>::new(),
            "{path}, project"
        );
    }
}

#[test]
fn the_project_schema_flags_unknown_actions_and_parameters() {
    let schema = closed();
    let bad = |from: &str, to: &str| errors(&schema, &CONTACT_360.replacen(from, to, 1));
    // An unknown action: flagged (the generic schema lets any CONNECTION.OPERATION pass).
    let unknown = bad("action: ghl.get_contact", "action: ghl.get_contcat");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].starts_with("/steps/contact/action:"),
        "{unknown:?}"
    );
    let generic = generic_flow_schema().expect("schema");
    let passes = CONTACT_360.replacen("action: ghl.get_contact", "action: ghl.get_contcat", 1);
    assert_eq!(errors(&generic, &passes), Vec::<String>::new());
    // A parameter the action does not take, and a missing required one.
    let extra = bad(
        "with: { contactId: \"{{ inputs.contactId }}\" }",
        "with: { contactId: \"{{ inputs.contactId }}\", limit: 3 }",
    );
    assert!(
        extra.iter().any(|e| e.contains("limit")),
        "unknown parameter: {extra:?}"
    );
    let missing = bad(
        "with: { contactId: \"{{ inputs.contactId }}\" }",
        "with: {}",
    );
    assert!(
        missing.iter().any(|e| e.contains("contactId")),
        "missing parameter: {missing:?}"
    );
    // Typed parameters take literals of their type, or templates.
    let list = "steps:\n  list:\n    action: ghl.get_contacts\n    with: { locationId: loc_1, limit: LIMIT }\n";
    let head = "name: t\nconnections:\n  ghl: { connector: ghl-contacts }\n";
    for (limit, ok) in [("10", true), ("\"{{ inputs.n }}\"", true), ("lots", false)] {
        let text = format!("{head}{}", list.replace("LIMIT", limit));
        assert_eq!(errors(&schema, &text).is_empty(), ok, "limit: {limit}");
    }
}

#[test]
fn the_duration_pattern_reads_what_the_parser_reads() {
    let generic = generic_flow_schema().expect("schema");
    let duration = json!({ "$defs": generic["$defs"].clone(), "$ref": "#/$defs/Duration" });
    let validator = jsonschema::validator_for(&duration).expect("schema");
    for text in [
        "1s", "500ms", "1h30m", "2 days", " 5m ", "1.5h", "30 s", "1d 2h", "10sec", "3 weeks",
        "1M", "2y", "90min", "30x", "soon", "", "5", "1.", "m5", "1h x", "1 h 2", "-1s", "1µs",
    ] {
        let parsed = text.parse::<sluice_model::Duration>().is_ok();
        assert_eq!(
            validator.is_valid(&json!(text)),
            parsed,
            "`{text}`: the parser says {parsed}"
        );
    }
}

#[test]
fn the_cron_pattern_passes_what_croner_reads() {
    let generic = generic_flow_schema().expect("schema");
    let cron = &generic["$defs"]["ScheduleTrigger"]["properties"]["cron"];
    let validator = jsonschema::validator_for(cron).expect("schema");
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build();
    for text in [
        "0 8 * * MON-FRI",
        "*/5 * * * *",
        "0 0 8 * * *",
        "@daily",
        "@hourly",
        "0 12 1 1 *",
        "0 8 * *",
        "every day",
        "",
        "1 2 3 4 5 6 7 8",
    ] {
        let reads = parser.parse(text).is_ok();
        if reads {
            assert!(validator.is_valid(&json!(text)), "croner reads `{text}`");
        }
    }
    for text in ["0 8 * *", "every day", ""] {
        assert!(!validator.is_valid(&json!(text)), "`{text}` is flagged");
    }
}

/// Every object with a `pattern` in `schema`, by JSON pointer, without a `patternErrorMessage`.
fn patterns_without_message(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("pattern") && !m.contains_key("patternErrorMessage") {
                out.push(at.to_string());
            }
            for (k, x) in m {
                patterns_without_message(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                patterns_without_message(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_pattern_carries_a_message_a_person_understands() {
    for (name, schema) in [
        ("generic flow", generic_flow_schema().expect("schema")),
        ("project flow", closed()),
        (
            "connector",
            sluice_project::schema::connector_schema().expect("schema"),
        ),
        (
            "project",
            sluice_project::schema::project_schema().expect("schema"),
        ),
    ] {
        let mut missing = Vec::new();
        // The `if` of each action's `with:` rule is a condition, never shown.
        let mut checked = schema.clone();
        if let Some(rules) = checked.pointer_mut("/$defs/Step/allOf") {
            *rules = Value::Null;
        }
        patterns_without_message(&checked, "", &mut missing);
        assert!(
            missing.is_empty(),
            "{name}: patterns without a message: {missing:?}"
        );
    }
}

#[test]
fn a_key_has_one_description() {
    let schema = generic_flow_schema().expect("schema");
    let retry = &schema["$defs"]["Step"]["properties"]["retry"];
    assert_eq!(
        retry,
        &json!({ "description": "Try again after a failure.", "$ref": "#/$defs/Retry" })
    );
    assert!(schema["$defs"]["Retry"].get("description").is_none());
    // An empty `retry:` still passes (serde reads it as no retry).
    assert!(
        errors(
            &schema,
            &CONTACT_360.replace("retry: { attempts: 5, backoff: exponential }", "retry:")
        )
        .is_empty()
    );
    let action = &schema["$defs"]["Step"]["properties"]["action"];
    assert!(action.get("examples").is_none(), "examples repeat on hover");
    assert!(action.get("default").is_none(), "a junk completion");
    assert_eq!(action["type"], "string");
    let snippets = action["defaultSnippets"].as_array().expect("completions");
    assert!(snippets.iter().any(|s| s["label"] == "ghl.get_contact"));
}

#[test]
fn a_written_schema_is_stale_when_the_project_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("sluice.toml"), "").expect("sluice.toml");
    std::fs::create_dir_all(root.join("workflows")).expect("workflows/");
    std::fs::write(root.join("workflows/contact-360.yaml"), CONTACT_360).expect("flow");
    // No schema written: nothing to say.
    assert_eq!(stale_flow_schema(root).expect("check"), None);
    std::fs::create_dir_all(root.join("schemas")).expect("schemas/");
    let fresh = project_flow_schema(root).expect("schema");
    std::fs::write(root.join("schemas/flow.schema.json"), format!("{fresh}\n")).expect("write");
    assert_eq!(stale_flow_schema(root).expect("check"), None);
    // A new connection name: its actions are missing from the written schema.
    let renamed = CONTACT_360
        .replace("ghl.", "crm.")
        .replace("  ghl: {", "  crm: {");
    std::fs::write(root.join("workflows/contact-360.yaml"), renamed).expect("flow");
    assert_eq!(
        stale_flow_schema(root).expect("check"),
        Some(root.join("schemas/flow.schema.json"))
    );
    let schema: Value =
        serde_json::from_str(&project_flow_schema(root).expect("schema")).expect("JSON");
    let pattern = schema["$defs"]["Step"]["properties"]["action"]["pattern"]
        .as_str()
        .expect("a pattern");
    assert!(pattern.contains("crm\\.get_contact"), "{pattern}");
    assert!(
        !pattern.contains("ghl\\.get_contact"),
        "ghl-contacts is used as `crm`"
    );
    assert!(
        pattern.contains("ipinfo\\.lookup_ip"),
        "unused connectors under their usual names"
    );
}

#[test]
fn step_and_input_names_are_flagged_as_the_planner_flags_them() {
    let schema = generic_flow_schema().expect("schema");
    for name in [
        "a",
        "_x",
        "a-b",
        "a1",
        "1a",
        "a.b",
        "a b",
        "é",
        "-a",
        &"s".repeat(65),
    ] {
        let text = format!(
            "name: t\ninputs:\n  \"{name}\": {{ type: string }}\nsteps:\n  \"{name}\":\n    value: \"{{{{ inputs.{name} }}}}\"\noutput: \"{{{{ steps.{name} }}}}\"\n"
        );
        let planner = sluice_plan::validate_files(
            &[("t.yaml".to_string(), text.clone())],
            &builtin(),
            None,
            &Limits::default(),
        );
        let invalid_step =
            planner[0].report.diagnostics.iter().any(|d| {
                d.code == sluice_plan::codes::INVALID_NAME && d.message.contains("step name")
            });
        let invalid_input = planner[0].report.diagnostics.iter().any(|d| {
            d.code == sluice_plan::codes::INVALID_NAME && d.message.contains("input name")
        });
        let flagged = errors(&schema, &text);
        assert_eq!(
            flagged.iter().any(|e| e.starts_with("/steps")),
            invalid_step,
            "step `{name}`: {flagged:?}"
        );
        assert_eq!(
            flagged.iter().any(|e| e.starts_with("/inputs")),
            invalid_input,
            "input `{name}`: {flagged:?}"
        );
    }
}
