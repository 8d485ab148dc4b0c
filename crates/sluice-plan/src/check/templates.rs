//! Template strings: syntax, helpers, what each reference reads (`inputs`, `steps`, the
//! `for_each` item, `flow`), and `steps.X.a.b` fields against the step's response schema.

use serde_json::Value;
use sluice_model::flow::{OnError, Step};
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Diagnostic, Node, NodeKind, Sp, Span};

use super::{Checker, Scope};
use crate::codes;
use crate::fields::{Child, schema_child, step_response};
use sluice_template::Reference;
use sluice_template::detect::is_template;

impl<'a> Checker<'a> {
    /// Checks every template string in a value tree.
    pub(super) fn check_templates(&mut self, node: &Node, scope: Scope<'_>) {
        match &node.kind {
            NodeKind::Str(s) => self.check_template_str(s, node.span, scope),
            NodeKind::Seq(items) => items.iter().for_each(|n| self.check_templates(n, scope)),
            NodeKind::Map(entries) => entries
                .iter()
                .for_each(|(_, v)| self.check_templates(v, scope)),
            _ => {}
        }
    }

    pub(super) fn check_template_str(&mut self, text: &str, span: Span, scope: Scope<'_>) {
        if !is_template(text) {
            return;
        }
        let analysis = match sluice_template::analyze(text, span, self.source) {
            Ok(a) => a,
            Err(e) => {
                let help = e.help.unwrap_or_else(|| {
                    "a template looks like `{{ steps.contact.contact.id }}`; write `\\{{` for literal braces".into()
                });
                self.diags.push(
                    Diagnostic::error(codes::TEMPLATE_SYNTAX, e.message)
                        .label(e.span, "")
                        .help(help),
                );
                return;
            }
        };
        self.check_helper_calls(&analysis.helpers);
        for r in &analysis.references {
            self.check_reference(r, scope);
        }
    }

    /// Checks what one reference reads, and records the reading.
    fn check_reference(&mut self, r: &Reference, scope: Scope<'_>) {
        let Some(root) = r.segments.first().map(String::as_str) else {
            return;
        };
        match root {
            "inputs" if scope.context || scope.connection => self.read_input(r),
            "steps" if scope.context => self.read_step(r, scope),
            "secrets" if scope.connection => self.read_secret(r),
            _ if scope.item == Some(root) => self.read_item(r, scope),
            "loop" if scope.item.is_some() => self.read_loop(r),
            "flow" => {}
            _ => self.unknown_root(r, root, scope),
        }
    }

    /// The `for_each` item's fields, against the list's element schema when it is known.
    fn read_item(&mut self, r: &Reference, scope: Scope<'_>) {
        let (Some(schema), [item, rest @ ..]) = (scope.item_schema, r.segments.as_slice()) else {
            return;
        };
        self.check_path(schema, item, rest, r);
    }

    /// `secrets.NAME`: declared under `[secrets]` in sluice.toml (when the project is known).
    fn read_secret(&mut self, r: &Reference) {
        let (Some(name), Some(project)) = (r.segments.get(1), self.ctx.project) else {
            return;
        };
        if project.secrets.contains_key(name.as_str()) {
            return;
        }
        let names = project.secrets.keys().map(String::as_str);
        let help = match did_you_mean(name, names.clone()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "declare it in sluice.toml: `[secrets]` then `{name} = {{ env = \"…\" }}` (or `file`, or `store`)"
            ),
        };
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_SECRET,
                format!("secret `{name}` is not declared in sluice.toml"),
            )
            .label(r.span, "")
            .help(help),
        );
    }

    /// `loop.index`: the item's position in the list, from 0.
    fn read_loop(&mut self, r: &Reference) {
        match r.segments.get(1).map(String::as_str) {
            None | Some("index") if r.segments.len() <= 2 => {}
            _ => self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_FIELD,
                    format!("`loop` has no field `{}`", r.segments[1..].join(".")),
                )
                .label(r.span, "")
                .help("`loop.index` is the item's position in the list, from 0"),
            ),
        }
    }

    /// The element schema of a `for_each` list written as `{{ steps.X.a.b }}`, when step X's
    /// answer has a known list there.
    pub(super) fn item_schema(&self, list: &sluice_model::TemplateValue) -> Option<&'a Value> {
        let NodeKind::Str(text) = &list.0.kind else {
            return None;
        };
        let expr = sluice_template::detect::single_expression(text)?;
        let segments = sluice_template::detect::plain_path(expr)?;
        let [root, name, rest @ ..] = segments.as_slice() else {
            return None;
        };
        if root != "steps" {
            return None;
        }
        let (_, step) = self.flow.steps.get_key_value(name.as_str())?;
        if step.for_each.is_some() {
            return None;
        }
        let mut current = self.output_schema(step)?;
        for seg in rest {
            match schema_child(current, seg) {
                Child::Found(next) => current = next,
                _ => return None,
            }
        }
        (current.get("type").and_then(Value::as_str) == Some("array"))
            .then(|| current.get("items"))
            .flatten()
    }

    /// `inputs` or `inputs.NAME`: NAME must be declared.
    fn read_input(&mut self, r: &Reference) {
        let Some(name) = r.segments.get(1) else {
            self.inputs_read
                .extend(self.flow.inputs.keys().map(|k| k.value.clone()));
            return;
        };
        if self.flow.inputs.contains_key(name.as_str()) {
            self.inputs_read.insert(name.clone());
        } else if self.dropped.contains("inputs") {
            // already reported where it is declared
        } else {
            let names = self.flow.inputs.keys().map(|k| k.value.as_str());
            let help = match did_you_mean(name, names.clone()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if self.flow.inputs.is_empty() => {
                    format!("declare it under `inputs:`, e.g. `{name}: {{ type: string }}`")
                }
                None => format!("declared inputs: {}", list_names(names)),
            };
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_INPUT,
                    format!("input `{name}` is not declared"),
                )
                .label(r.span, "")
                .help(help),
            );
        }
    }

    /// `steps.NAME...`: the step must exist, and the template's step (or the output) needs it.
    fn read_step(&mut self, r: &Reference, scope: Scope<'_>) {
        let Some(name) = r.segments.get(1) else {
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_REFERENCE,
                    "name the step to read: `steps.NAME`",
                )
                .label(r.span, ""),
            );
            return;
        };
        let name_offset = r.raw.find(name.as_str()).unwrap_or(0);
        let name_span = if r.span.is_unknown() {
            r.span
        } else {
            Span::new(r.span.offset + name_offset, name.len())
        };
        let sp = Sp::new(name.clone(), name_span);
        let from = scope.step.unwrap_or(usize::MAX);
        let Some(j) = self.step_ref(&sp, from) else {
            return;
        };
        match scope.step {
            Some(i) => self
                .pending_needs
                .entry(i)
                .or_default()
                .push((j, name_span)),
            None => {
                self.output_needs.insert(j);
            }
        }
        let guarded =
            r.guarded || scope.condition || self.guards.iter().any(|g| r.segments.starts_with(g));
        if !guarded && !self.guard_steps.contains(&j) {
            self.warn_if_skippable(j, r, name_span);
        }
        self.check_fields(j, r, guarded);
    }

    /// A reading of step `j` that may find `null` because the step may be skipped.
    fn warn_if_skippable(&mut self, j: usize, r: &Reference, name_span: Span) {
        let Some((name, step)) = self.flow.steps.get_index(j) else {
            return;
        };
        let Some(cond) = &step.condition else {
            return;
        };
        if step.for_each.is_some() && reads_item(step) {
            return; // asked per item: the step itself runs
        }
        let shown = match &cond.value {
            sluice_model::Templated::Template(t) => t.trim().to_string(),
            sluice_model::Templated::Literal(b) => b.to_string(),
        };
        self.diags.push(
            Diagnostic::warning(
                codes::MAYBE_SKIPPED,
                format!(
                    "step `{}` is skipped when its `if:` ({shown}) is false, and then `{}` is null",
                    name.value,
                    r.segments.join(".")
                ),
            )
            .label(name_span, "")
            .help(format!(
                "say what to use then: `{{{{ default {} \"…\" }}}}`, or give this step the same `if:`",
                r.raw
            )),
        );
    }

    /// A reference whose first name is nothing a template here can read.
    fn unknown_root(&mut self, r: &Reference, root: &str, scope: Scope<'_>) {
        let root_span = Span::new(
            r.span.offset,
            if r.span.is_unknown() {
                0
            } else {
                root.len().min(r.span.len)
            },
        );
        let mut roots: Vec<&str> = Vec::new();
        if scope.context {
            roots.extend(["inputs", "steps"]);
        }
        if scope.connection {
            roots.extend(["inputs", "secrets"]);
        }
        roots.push("flow");
        if let Some(item) = scope.item {
            roots.push(item);
        }
        let help = if scope.connection && root == "steps" {
            "a connection's settings are worked out when the run starts, before any step: they can read `inputs` and `secrets`".to_string()
        } else if root == "secrets" {
            "`secrets` can be read only in a connection's `base_url` and `headers`".to_string()
        } else if root == "item" && scope.item.is_none() {
            "`item` exists only in a step with `for_each`".to_string()
        } else if !scope.context && (root == "steps" || root == "inputs") {
            "this value is computed before the flow starts: it cannot read `steps` or `inputs`"
                .to_string()
        } else {
            match did_you_mean(root, roots.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "templates here can read: {}",
                    list_names(roots.iter().copied())
                ),
            }
        };
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_REFERENCE,
                format!("`{root}` is not defined here"),
            )
            .label(root_span, "")
            .help(help),
        );
    }

    /// Checks `steps.X.a.b` against what step X returns, when that is known; an optional field
    /// read without a guard is a warning.
    fn check_fields(&mut self, step: usize, r: &Reference, guarded: bool) {
        let (Some((_, step_def)), [_, name, rest @ ..]) =
            (self.flow.steps.get_index(step), r.segments.as_slice())
        else {
            return;
        };
        // With `on_error: continue` a failed step's result is `{ error: {...} }`.
        let may_fail = step_def.on_error == Some(OnError::Continue);
        if rest.is_empty()
            || step_def.for_each.is_some()
            || (may_fail && rest.first().is_some_and(|s| s == "error"))
        {
            return;
        }
        let Some(schema) = self.output_schema(step_def) else {
            return;
        };
        let optional = self.check_path(schema, name, rest, r);
        if let Some((parent, field)) = optional.filter(|_| !guarded) {
            self.diags.push(
                Diagnostic::warning(
                    codes::MAYBE_MISSING,
                    format!(
                        "the API may leave `{field}` out of `{parent}` (it is not required), and then `{}` is null",
                        r.segments.join(".")
                    ),
                )
                .label(segment_span(r, &field), "")
                .help(format!("say what to use then: `{{{{ default {} \"…\" }}}}`", r.raw)),
            );
        }
    }

    /// Walks `rest` down `schema` (the value named `name`): an unknown field is an error with
    /// did-you-mean. Returns the first field on the way that its object does not require
    /// (`(object, field)`), when the object lists what it requires.
    fn check_path(
        &mut self,
        schema: &Value,
        name: &str,
        rest: &[String],
        r: &Reference,
    ) -> Option<(String, String)> {
        let mut parent = name.to_string();
        let mut current = schema;
        let mut optional = None;
        for seg in rest {
            if optional.is_none() && not_required(current, seg) {
                optional = Some((parent.clone(), seg.clone()));
            }
            match schema_child(current, seg) {
                Child::Found(next) => current = next,
                Child::Open => return optional,
                Child::Missing { fields } => {
                    let help = match did_you_mean(seg, fields.iter().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => {
                            let shown: Vec<&str> =
                                fields.iter().take(15).map(String::as_str).collect();
                            let more = if fields.len() > 15 { ", ..." } else { "" };
                            format!("its fields are: {}{more}", list_names(shown))
                        }
                    };
                    self.diags.push(
                        Diagnostic::error(
                            codes::UNKNOWN_FIELD,
                            format!("`{parent}` has no field `{seg}`"),
                        )
                        .label(segment_span(r, seg), "")
                        .help(help),
                    );
                    return None;
                }
                Child::NotObject(kind) => {
                    let help = if kind == "a list" {
                        format!(
                            "pick an item first (`{parent}.[0].{seg}`), or loop with `for_each`"
                        )
                    } else {
                        format!("`{parent}` has no fields")
                    };
                    self.diags.push(
                        Diagnostic::error(
                            codes::UNKNOWN_FIELD,
                            format!("`{parent}` is {kind}, so it has no field `{seg}`"),
                        )
                        .label(segment_span(r, seg), "")
                        .help(help),
                    );
                    return None;
                }
            }
            parent.clone_from(seg);
        }
        optional
    }

    /// The JSON Schema of what a step returns, when known.
    fn output_schema(&self, step: &Step) -> Option<&'a Value> {
        step_response(self.flow, self.ctx.catalog, step)
    }
}

/// Whether a `for_each` step's `if:` reads its item (or `loop`): then it is asked per item.
fn reads_item(step: &Step) -> bool {
    let item = step.item_name.as_ref().map_or("item", |s| s.value.as_str());
    let Some(sluice_model::Templated::Template(text)) = step.condition.as_ref().map(|c| &c.value)
    else {
        return false;
    };
    sluice_template::analyze(text, Span::UNKNOWN, "").is_ok_and(|a| {
        a.references
            .iter()
            .any(|r| r.segments.first().is_some_and(|s| s == item || s == "loop"))
    })
}

/// Whether an object schema lists what it requires and `field` is not among it (a field of an
/// object without a `required` list is not reported: the schema says nothing either way).
fn not_required(schema: &Value, field: &str) -> bool {
    schema
        .get("properties")
        .is_some_and(|p| p.get(field).is_some())
        && schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|req| !req.iter().any(|f| f.as_str() == Some(field)))
}

fn segment_span(r: &Reference, seg: &str) -> Span {
    if r.span.is_unknown() {
        return r.span;
    }
    match r.raw.rfind(seg) {
        Some(i) => Span::new(r.span.offset + i, seg.len()),
        None => r.span,
    }
}
