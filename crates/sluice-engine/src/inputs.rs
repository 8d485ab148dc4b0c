//! A run's inputs: the given values checked against the flow's declarations (names, types,
//! required ones), with defaults applied, before the run starts.

use serde_json::{Map, Value};
use sluice_model::InputType;

use crate::exec::Executable;

/// Inputs that are not what the flow declares: every problem, one sentence each.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("; "))]
pub struct InputError {
    /// Each problem, one sentence.
    pub problems: Vec<String>,
}

/// Checks given inputs against the flow's declarations and applies defaults.
///
/// # Errors
/// Every problem, one sentence each.
pub fn prepare_inputs(
    exec: &Executable,
    mut given: Map<String, Value>,
) -> Result<Value, InputError> {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for (name, _) in &given {
        if !exec.inputs.contains_key(name) {
            problems.push(format!(
                "flow `{}` has no input `{}`",
                exec.name,
                preview(name, 80)
            ));
        }
    }
    for (name, decl) in &exec.inputs {
        // Moved, not copied: an input may be a list of 100,000 ids.
        match given.remove(name) {
            Some(v) => {
                if !type_matches(&v, decl.kind) {
                    problems.push(format!(
                        "input `{name}` must be of type `{}`, got {}",
                        decl.kind.as_str(),
                        preview(&v.to_string(), 80)
                    ));
                }
                out.insert(name.clone(), v);
            }
            None => match &decl.default {
                Some(d) => {
                    out.insert(name.clone(), d.clone());
                }
                None if decl.required.unwrap_or(true) => {
                    problems.push(format!("input `{name}` is required"))
                }
                None => {
                    out.insert(name.clone(), Value::Null);
                }
            },
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(InputError { problems })
    }
}

/// At most `max` characters of `text` (an input may be megabytes long; an error message
/// quotes only its start, and says how long it is).
#[must_use]
pub fn preview(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

/// Whether `v` is of the declared type.
fn type_matches(v: &Value, kind: InputType) -> bool {
    match kind {
        InputType::String => v.is_string(),
        InputType::Number => v.is_number(),
        InputType::Integer => v.is_i64() || v.is_u64(),
        InputType::Boolean => v.is_boolean(),
        InputType::Array => v.is_array(),
        InputType::Object => v.is_object(),
    }
}
