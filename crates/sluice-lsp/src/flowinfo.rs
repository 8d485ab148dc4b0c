//! What a template can read at one place of a flow: its steps, its inputs, the item of a
//! `for_each`, and the shape of what a path reads — an action's answer from its connector's
//! response schema (through the planner's `fields`), a `value:` step's literal map, a `select`'s
//! list — as a JSON Schema, so completion and hover follow the connectors without code of their own.

use serde_json::{Map, Value, json};
use sluice_model::flow::{Flow, OnError, Step};
use sluice_model::{Catalog, Node, NodeKind};
use sluice_plan::fields::{Child, schema_child, step_response};
use sluice_template::detect::{plain_path, single_expression};

/// How deep a path is followed through `value:` steps that read other steps.
const MAX_DEPTH: usize = 8;

/// Where a template is: the flow, its catalog, the step it belongs to and the name of the
/// `for_each` item it may read.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) flow: &'a Flow,
    pub(crate) catalog: &'a Catalog,
    pub(crate) step: Option<usize>,
    pub(crate) item: Option<&'a str>,
}

impl<'a> Scope<'a> {
    /// The scope of a template under `keys` (`steps` → NAME → setting …).
    pub(crate) fn at(flow: &'a Flow, catalog: &'a Catalog, keys: &[String]) -> Self {
        let mut scope = Self {
            flow,
            catalog,
            step: None,
            item: None,
        };
        if let [first, name, rest @ ..] = keys
            && first == "steps"
            && let Some(index) = flow.steps.get_index_of(name.as_str())
        {
            let Some((_, step)) = flow.steps.get_index(index) else {
                return scope;
            };
            scope.step = Some(index);
            // `for_each` and `if` are evaluated before the item exists.
            let outer = rest.first().is_some_and(|k| k == "for_each" || k == "if");
            if step.for_each.is_some() && !outer {
                scope.item = Some(step.item_name.as_ref().map_or("item", |s| s.value.as_str()));
            }
        }
        scope
    }

    /// The step a template of this scope belongs to.
    pub(crate) fn current_step(&self) -> Option<&'a Step> {
        self.step
            .and_then(|i| self.flow.steps.get_index(i))
            .map(|(_, s)| s)
    }

    /// The JSON Schema of what a path reads, when it is known.
    pub(crate) fn schema_of(&self, segments: &[String]) -> Option<Value> {
        self.schema_at(segments, 0)
    }

    fn schema_at(&self, segments: &[String], depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (root, rest) = segments.split_first()?;
        let base = match root.as_str() {
            "steps" => {
                let (name, rest) = rest.split_first()?;
                let step = self.flow.steps.get(name.as_str())?;
                return walk(self.step_schema(step, depth)?, rest);
            }
            "inputs" => self.inputs_schema(),
            r if Some(r) == self.item => self.item_schema(depth)?,
            _ => return None,
        };
        walk(base, rest)
    }

    /// What a step returns.
    pub(crate) fn step_schema(&self, step: &Step, depth: usize) -> Option<Value> {
        let one = if step.action.is_some() {
            let mut schema = step_response(self.flow, self.catalog, step)?.clone();
            if step.on_error == Some(OnError::Continue)
                && let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut)
            {
                props.insert(
                    "error".into(),
                    json!({ "type": "object", "description": "The error, when the step failed (`on_error: continue`)." }),
                );
            }
            schema
        } else if let Some(select) = &step.select {
            json!({ "type": "array", "items": self.select_items(select, depth).unwrap_or_else(|| json!({})) })
        } else if let Some(value) = &step.value {
            self.node_schema(&value.0, depth)
        } else {
            return None;
        };
        Some(if step.for_each.is_some() {
            json!({ "type": "array", "items": one })
        } else {
            one
        })
    }

    /// The schema of the items a `select:` path picks, from the path's plain prefix
    /// (`$.steps.tasks.tasks[?…]` picks items of `steps.tasks.tasks`).
    fn select_items(&self, select: &str, depth: usize) -> Option<Value> {
        let path = select.strip_prefix("$.")?;
        let prefix = path.split(['[', '*', '?']).next()?.trim_end_matches('.');
        let segments: Vec<String> = prefix.split('.').map(str::to_string).collect();
        let list = self.schema_at(&segments, depth + 1)?;
        list.get("items").cloned()
    }

    /// The schema of a literal value (a `value:` step): its maps' keys, and what its
    /// `{{ path }}` strings read.
    fn node_schema(&self, node: &Node, depth: usize) -> Value {
        match &node.kind {
            NodeKind::Map(entries) => {
                let props: Map<String, Value> = entries
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str()?.to_string(), self.node_schema(v, depth)))
                    })
                    .collect();
                json!({ "type": "object", "properties": props, "additionalProperties": false })
            }
            NodeKind::Seq(_) => json!({ "type": "array" }),
            NodeKind::Str(s) => match single_expression(s).and_then(plain_path) {
                Some(segments) => self
                    .schema_at(&segments, depth + 1)
                    .unwrap_or_else(|| json!({})),
                None if s.contains("{{") => json!({}),
                None => json!({ "type": "string" }),
            },
            NodeKind::Number(_) => json!({ "type": "number" }),
            NodeKind::Bool(_) => json!({ "type": "boolean" }),
            NodeKind::Null => json!({}),
        }
    }

    /// The flow's inputs as an object schema.
    fn inputs_schema(&self) -> Value {
        let props: Map<String, Value> = self
            .flow
            .inputs
            .iter()
            .map(|(name, input)| {
                let mut schema = json!({ "type": input.kind.as_str() });
                if let Some(d) = &input.description {
                    schema["description"] = Value::String(d.clone());
                }
                (name.value.clone(), schema)
            })
            .collect();
        json!({ "type": "object", "properties": props, "additionalProperties": false })
    }

    /// The schema of the current `for_each` item: the items of the list it loops over.
    fn item_schema(&self, depth: usize) -> Option<Value> {
        let step = self.current_step()?;
        let NodeKind::Str(text) = &step.for_each.as_ref()?.0.kind else {
            return None;
        };
        let segments = plain_path(single_expression(text)?)?;
        let outer = Self {
            item: None,
            ..*self
        };
        outer.schema_at(&segments, depth + 1)?.get("items").cloned()
    }
}

/// The schema at `segments` below `schema`; `None` where it is unknown or missing.
fn walk(schema: Value, segments: &[String]) -> Option<Value> {
    let mut current = schema;
    for seg in segments {
        current = match schema_child(&current, seg) {
            Child::Found(next) => next.clone(),
            Child::Open | Child::Missing { .. } | Child::NotObject(_) => return None,
        };
    }
    Some(current)
}

/// A field a path may read next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    /// As written after the `.`: a name, or `[0]` for a list's first item.
    pub(crate) name: String,
    /// Its type, in words.
    pub(crate) kind: String,
    /// What the schema says of it.
    pub(crate) description: Option<String>,
}

/// The fields of a value of `schema`: an object's properties, or a list's first item.
pub(crate) fn fields(schema: &Value) -> Vec<Field> {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return props
            .iter()
            .map(|(name, s)| Field {
                name: name.clone(),
                kind: type_name(s),
                description: description(s),
            })
            .collect();
    }
    if schema.get("type").and_then(Value::as_str) == Some("array") {
        let item = schema.get("items").cloned().unwrap_or_else(|| json!({}));
        return vec![Field {
            name: "[0]".into(),
            kind: format!("the first item: {}", type_name(&item)),
            description: None,
        }];
    }
    Vec::new()
}

/// A schema's description, when it has one.
pub(crate) fn description(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A schema's type in words: `text`, `a number`, `a list of objects`, …
pub(crate) fn type_name(schema: &Value) -> String {
    let ty = match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match ty {
        Some("string") => "text".into(),
        Some("number") => "a number".into(),
        Some("integer") => "a whole number".into(),
        Some("boolean") => "true or false".into(),
        Some("array") => match schema.get("items") {
            Some(items) => format!("a list of {}", plural(&type_name(items))),
            None => "a list".into(),
        },
        Some("object") => "an object".into(),
        _ if schema.get("properties").is_some() => "an object".into(),
        _ => "any value".into(),
    }
}

fn plural(kind: &str) -> String {
    match kind {
        "text" => "texts".into(),
        "true or false" => "true or false values".into(),
        "any value" => "values".into(),
        k => {
            let k = k
                .strip_prefix("a ")
                .or_else(|| k.strip_prefix("an "))
                .unwrap_or(k);
            match k.strip_prefix("list") {
                Some(rest) => format!("lists{rest}"),
                None => format!("{k}s"),
            }
        }
    }
}
