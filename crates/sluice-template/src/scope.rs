//! What a template can read while a step runs: `inputs`, the results of the steps it needs,
//! `flow`, and the `for_each` item. Paths are looked up directly; a Handlebars context is built
//! only when a template needs one, and only from what the step reads. A value that is not
//! there — a missing field, a skipped step's result, an item past a list's end — reads as `null`.

use std::sync::Arc;
use std::sync::OnceLock;

use handlebars::Context;
use serde_json::{Map, Value};

use crate::error::TemplateError;

/// A template's view of the run.
pub struct Scope<'a> {
    inputs: &'a Value,
    flow: &'a Value,
    steps: Vec<(&'a str, Arc<Value>)>,
    item: Option<(&'a str, &'a Value)>,
    /// `loop`: `{ "index": … }` of the `for_each` item.
    looping: Option<Value>,
    /// `secrets`: readable only where connection settings are evaluated.
    secrets: Option<&'a Value>,
    context: OnceLock<Context>,
}

impl<'a> Scope<'a> {
    /// A scope with the given step results (usually: those the step needs).
    #[must_use]
    pub fn new(inputs: &'a Value, flow: &'a Value, steps: Vec<(&'a str, Arc<Value>)>) -> Self {
        Self {
            inputs,
            flow,
            steps,
            item: None,
            looping: None,
            secrets: None,
            context: OnceLock::new(),
        }
    }

    /// The same scope reading `secrets` (a connection's settings, evaluated when a run starts).
    #[must_use]
    pub fn with_secrets(mut self, secrets: &'a Value) -> Scope<'a> {
        self.secrets = Some(secrets);
        self
    }

    /// The same scope with a `for_each` item under `name`, at position `index` of its list
    /// (`loop.index`).
    #[must_use]
    pub fn with_item(&self, name: &'a str, item: &'a Value, index: usize) -> Scope<'a> {
        Scope {
            inputs: self.inputs,
            flow: self.flow,
            steps: self.steps.clone(),
            item: Some((name, item)),
            looping: Some(serde_json::json!({ "index": index })),
            secrets: self.secrets,
            context: OnceLock::new(),
        }
    }

    /// Looks up a path such as `["steps", "contact", "contact", "id"]`; `null` where the value
    /// is not there (`validate` warns where that may happen unguarded).
    ///
    /// # Errors
    /// A path without segments, or `steps` without a step name.
    pub fn lookup(&self, path: &[String]) -> Result<&Value, TemplateError> {
        let Some(root) = path.first() else {
            return Err(TemplateError::EmptyPath);
        };
        let (mut current, used) = match root.as_str() {
            "inputs" => (self.inputs, 1),
            "flow" => (self.flow, 1),
            "steps" => {
                let Some(name) = path.get(1) else {
                    return Err(TemplateError::NoStepName);
                };
                match self.steps.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => (v.as_ref(), 2),
                    None => return Ok(&NULL),
                }
            }
            "loop" if self.looping.is_some() => (self.looping.as_ref().unwrap_or(&NULL), 1),
            "secrets" if self.secrets.is_some() => (self.secrets.unwrap_or(&NULL), 1),
            other => match self.item {
                Some((name, item)) if name == other => (item, 1),
                _ => return Ok(&NULL),
            },
        };
        for seg in &path[used..] {
            let next = match current {
                Value::Object(map) => map.get(seg.as_str()),
                Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            current = match next {
                Some(v) => v,
                None => return Ok(&NULL),
            };
        }
        Ok(current)
    }

    /// Moves the value at `steps.NAME.rest…` out of the scope when the scope holds the only
    /// reference to that step's result (its last reader). `None` when shared or absent.
    pub fn take_step_path(&mut self, path: &[String]) -> Option<Value> {
        if path.first().map(String::as_str) != Some("steps") || self.context.get().is_some() {
            return None;
        }
        let name = path.get(1)?;
        let (_, arc) = self.steps.iter_mut().find(|(n, _)| n == name)?;
        let mut current = Arc::get_mut(arc)?;
        for seg in &path[2..] {
            current = match current {
                Value::Object(m) => m.get_mut(seg.as_str()),
                Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            }?;
        }
        Some(std::mem::take(current))
    }

    /// The Handlebars context: `{ inputs, flow, steps: {…}, ITEM }`, built once.
    pub fn context(&self) -> &Context {
        self.context.get_or_init(|| {
            let mut root = Map::new();
            root.insert("inputs".into(), self.inputs.clone());
            root.insert("flow".into(), self.flow.clone());
            let steps: Map<String, Value> = self
                .steps
                .iter()
                .map(|(n, v)| ((*n).to_string(), v.as_ref().clone()))
                .collect();
            root.insert("steps".into(), Value::Object(steps));
            if let Some((name, item)) = self.item {
                root.insert(name.to_string(), item.clone());
            }
            if let Some(looping) = &self.looping {
                root.insert("loop".into(), looping.clone());
            }
            if let Some(secrets) = self.secrets {
                root.insert("secrets".into(), secrets.clone());
            }
            Context::from(Value::Object(root))
        })
    }

    /// The whole scope as JSON (for `select` over `{ inputs, steps }`).
    #[must_use]
    pub fn document(&self) -> &Value {
        self.context().data()
    }
}

/// What a value that is not there reads as.
static NULL: Value = Value::Null;
