//! `sluice schema KIND`: the JSON Schemas of flow, fixture, connector, project and sandbox seed
//! files (from `sluice-project::schema`, `sluice-flowtest` and `sluice-sandbox`), and the runner
//! API's OpenAPI document;
//! `--project` fits the flow schema to the project around the current folder, `--write` puts a
//! schema into the project's `schemas/`. A test fails when the committed files are stale.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_project::schema::{self as schemas, SchemaError};

use crate::args::SchemaKind;
use crate::error::CliError;
use crate::exit::Exit;

/// `sluice schema KIND [--project] [--write]`.
pub(crate) fn schema(kind: SchemaKind, project: bool, write: bool) -> Result<Exit, CliError> {
    if !write {
        let text = if project && kind == SchemaKind::Flow {
            schemas::project_flow_schema(&project_dir()?)?
        } else {
            generate(kind)?
        };
        outln!("{text}");
        return Ok(Exit::Success);
    }
    let dir = project_dir()?;
    let (path, text) = project_file(&dir, kind)?;
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    fs_err::write(&path, text + "\n")?;
    outln!("wrote {}", path.display());
    Ok(Exit::Success)
}

/// The folder of the project around the current folder (the nearest `sluice.toml`).
fn project_dir() -> Result<PathBuf, CliError> {
    sluice_project::files::find_project(Path::new("."))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .ok_or_else(|| {
            CliError::msg(
                "no sluice.toml in this folder or above: `--project` and `--write` need a project",
            )
            .hint("run it inside a project, or start one with `sluice init DIR`")
        })
}

/// Where the project keeps schema `kind`, and its text for the project.
pub(crate) fn project_file(dir: &Path, kind: SchemaKind) -> Result<(PathBuf, String), CliError> {
    let text = match kind {
        SchemaKind::Flow => schemas::project_flow_schema(dir)?,
        other => generate(other)?,
    };
    let name = match kind {
        SchemaKind::Openapi => "openapi.json".to_string(),
        other => format!("{}.schema.json", kind_name(other)),
    };
    Ok((dir.join(schemas::SCHEMAS_DIR).join(name), text))
}

fn kind_name(kind: SchemaKind) -> &'static str {
    match kind {
        SchemaKind::Flow => "flow",
        SchemaKind::Fixture => "fixture",
        SchemaKind::Connector => "connector",
        SchemaKind::Project => "project",
        SchemaKind::Seed => "seed",
        SchemaKind::Openapi => "openapi",
    }
}

/// The schema as pretty JSON: the generic flow schema (for any project), or another kind.
pub(crate) fn generate(kind: SchemaKind) -> Result<String, CliError> {
    let schema: Value = match kind {
        SchemaKind::Openapi => return Ok(sluice_server::openapi::document_text()),
        SchemaKind::Flow => schemas::generic_flow_schema().map_err(schema_error)?,
        SchemaKind::Fixture => {
            sluice_flowtest::fixture_schema().map_err(|e| schema_error(SchemaError::Json(e)))?
        }
        SchemaKind::Connector => schemas::connector_schema().map_err(schema_error)?,
        SchemaKind::Project => schemas::project_schema().map_err(schema_error)?,
        SchemaKind::Seed => {
            let seed = serde_json::to_value(schemars::schema_for!(sluice_sandbox::Seed))
                .map_err(|e| schema_error(SchemaError::Json(e)))?;
            schemas::with_id(seed, "seed")
        }
    };
    schemas::to_text(&schema).map_err(schema_error)
}

fn schema_error(e: SchemaError) -> CliError {
    CliError::msg(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_project::schema::is_literal;

    /// The committed schemas are what the code generates; regenerate with
    /// `scripts/gen-schemas.sh` (every kind).
    #[test]
    fn committed_schemas_are_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let mut stale = Vec::new();
        for (kind, file) in [
            (SchemaKind::Flow, "flow.schema.json"),
            (SchemaKind::Fixture, "fixture.schema.json"),
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
