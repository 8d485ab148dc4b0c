//! What a step returns, as far as the planner knows: the JSON Schema of an action's answer
//! (from its connector) and the field a path segment reads in a schema. The template checks and
//! the language server (completion and hover of `steps.X.…`) both read fields through here.

use serde_json::Value;
use sluice_model::Catalog;
use sluice_model::flow::{Flow, Step};

/// The JSON Schema of what an action step returns, when its connection, operation and the
/// operation's response schema are known.
#[must_use]
pub fn step_response<'a>(flow: &Flow, catalog: &'a Catalog, step: &Step) -> Option<&'a Value> {
    let action = step.action.as_ref()?;
    let (conn_name, op_name) = action.split_once('.')?;
    let conn = flow.connections.get(conn_name)?;
    catalog
        .operation(&conn.connector, op_name)?
        .response
        .as_ref()
}

/// What a path segment reads in a schema.
#[derive(Debug)]
pub enum Child<'a> {
    /// The field's (or item's) schema.
    Found(&'a Value),
    /// Anything may be there: the schema does not say.
    Open,
    /// The object has no such field; these are its fields.
    Missing {
        /// The fields it has.
        fields: Vec<String>,
    },
    /// The value is not an object: "a list", "a string", "a number", "a boolean".
    NotObject(&'static str),
}

/// The schema of field (or list index) `seg` of a value of schema `schema`.
#[must_use]
pub fn schema_child<'a>(schema: &'a Value, seg: &str) -> Child<'a> {
    let ty = schema.get("type").and_then(Value::as_str);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return match props.get(seg) {
            Some(next) => Child::Found(next),
            None if schema
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false)) =>
            {
                Child::Open
            }
            None => Child::Missing {
                fields: props.keys().cloned().collect(),
            },
        };
    }
    match ty {
        Some("array") => {
            if seg.parse::<usize>().is_ok() {
                schema.get("items").map_or(Child::Open, Child::Found)
            } else {
                Child::NotObject("a list")
            }
        }
        Some("string") => Child::NotObject("a string"),
        Some("number" | "integer") => Child::NotObject("a number"),
        Some("boolean") => Child::NotObject("a boolean"),
        _ => Child::Open,
    }
}
