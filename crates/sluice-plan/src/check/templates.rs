//! Template strings: syntax, helpers, what each reference reads (`inputs`, `steps`, the
//! `for_each` item, `flow`), and `steps.X.a.b` fields against the step's response schema.

use serde_json::Value;
use sluice_model::flow::{OnError, Step};
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Diagnostic, Node, NodeKind, Sp, Span};

use super::{Checker, Scope};
use crate::codes;
use crate::fields::{Child, schema_child, step_response};
use sluice_template::detect::is_template;
use sluice_template::{Reference, helpers};

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
                self.diags.push(
                    Diagnostic::error(codes::TEMPLATE_SYNTAX, e.message)
                        .label(e.span, "")
                        .help("a template looks like `{{ steps.contact.contact.id }}`; write `\\{{` for literal braces"),
                );
                return;
            }
        };
        for h in &analysis.helpers {
            if !helpers::is_helper(&h.name) {
                let help = match did_you_mean(&h.name, helpers::names()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("helpers: {}", list_names(helpers::names())),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_HELPER,
                        format!("there is no helper `{}`", h.name),
                    )
                    .label(h.span, "")
                    .help(help),
                );
            }
        }
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
            "inputs" if scope.context => self.read_input(r),
            "steps" if scope.context => self.read_step(r, scope),
            _ if scope.item == Some(root) => {}
            "flow" => {}
            _ => self.unknown_root(r, root, scope),
        }
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
        self.check_fields(j, r);
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
        roots.push("flow");
        if let Some(item) = scope.item {
            roots.push(item);
        }
        let help = if root == "item" && scope.item.is_none() {
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

    /// Checks `steps.X.a.b` against what step X returns, when that is known.
    fn check_fields(&mut self, step: usize, r: &Reference) {
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
        let mut parent = name.clone();
        let mut current = schema;
        for seg in rest {
            match schema_child(current, seg) {
                Child::Found(next) => current = next,
                Child::Open => return,
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
                    return;
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
                    return;
                }
            }
            parent.clone_from(seg);
        }
    }

    /// The JSON Schema of what a step returns, when known.
    fn output_schema(&self, step: &Step) -> Option<&'a Value> {
        step_response(self.flow, self.ctx.catalog, step)
    }
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
