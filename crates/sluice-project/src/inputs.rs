//! A run's inputs from the command line: `--input NAME=VALUE` typed by the flow's input
//! declarations, over an `--inputs FILE` JSON object (at most [`MAX_INPUTS_FILE_BYTES`]).

use std::io::Read as _;
use std::path::Path;

use serde_json::{Map, Value};
use sluice_engine::Executable;
use sluice_model::InputType;

use crate::error::ProjectError;
use sluice_engine::preview;

/// The largest `--inputs` file read: 8 MiB. A larger one (or an endless one, `/dev/zero`) is
/// refused after reading this much, so it cannot exhaust memory.
pub const MAX_INPUTS_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// `pairs` (`NAME=VALUE`, converted to each input's declared type) over the JSON object in
/// `file`.
///
/// # Errors
/// A pair without `=`, an input the flow does not declare, a value of the wrong type, a file
/// that cannot be read or does not hold a JSON object.
pub fn from_args(
    exec: &Executable,
    pairs: &[String],
    file: Option<&Path>,
) -> Result<Map<String, Value>, ProjectError> {
    let mut out = match file {
        Some(path) => read_file(path)?,
        None => Map::new(),
    };
    for pair in pairs {
        let (name, raw) = pair.split_once('=').ok_or_else(|| {
            ProjectError::Input(format!("`--input {}`: write NAME=VALUE", preview(pair, 80)))
        })?;
        let Some(decl) = exec.inputs.get(name) else {
            let names: Vec<&str> = exec.inputs.keys().map(String::as_str).collect();
            return Err(ProjectError::Input(format!(
                "flow `{}` has no input `{}` (its inputs: {})",
                exec.name,
                preview(name, 80),
                names.join(", ")
            )));
        };
        out.insert(name.to_string(), typed(name, raw, decl.kind)?);
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<Map<String, Value>, ProjectError> {
    let mut text = String::new();
    fs_err::File::open(path)?
        .take(MAX_INPUTS_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| ProjectError::Input(format!("{}: {e}", path.display())))?;
    if text.len() as u64 > MAX_INPUTS_FILE_BYTES {
        return Err(ProjectError::Input(format!(
            "{}: an inputs file may hold at most {} MiB",
            path.display(),
            MAX_INPUTS_FILE_BYTES / (1024 * 1024)
        )));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ProjectError::Input(format!(
            "{}: the inputs file must hold a JSON object",
            path.display()
        ))),
        Err(e) => Err(ProjectError::Input(format!(
            "{}: not JSON: {e}",
            path.display()
        ))),
    }
}

/// `raw` as a value of `kind`.
fn typed(name: &str, raw: &str, kind: InputType) -> Result<Value, ProjectError> {
    let wrong = |what: &str| {
        ProjectError::Input(format!(
            "input `{name}` must be {what}, got `{}`",
            preview(raw, 80)
        ))
    };
    match kind {
        InputType::String => Ok(Value::String(raw.to_string())),
        InputType::Integer => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| wrong("a whole number")),
        InputType::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| wrong("a number")),
        InputType::Boolean => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong("`true` or `false`")),
        },
        InputType::Array | InputType::Object => serde_json::from_str(raw).map_err(|e| {
            ProjectError::Input(format!(
                "input `{name}` must be JSON ({}): {e}",
                kind.as_str()
            ))
        }),
    }
}
