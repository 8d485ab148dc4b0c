//! One step: its kind, settings that only fit some steps, the templates of its settings,
//! `after:` ordering, sub-flow inputs; and the needs its references create.

use indexmap::IndexMap;
use sluice_model::flow::Step;
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Diagnostic, Sp, Templated};

use super::{Checker, Scope, StepFacts, StepKind};
use crate::codes;

/// Names a `for_each` item must not take: templates already read them as the flow's context.
const RESERVED_NAMES: &[&str] = &["inputs", "steps", "flow", "loop", "this", "root"];

/// `NAME` when `text` is exactly `{{ inputs.NAME }}` (spaces allowed).
fn lone_input(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let name = inner.strip_prefix("inputs.")?;
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        .then_some(name)
}

impl<'a> Checker<'a> {
    /// Checks step `i` and returns what is known of it; the steps before it are checked.
    pub(super) fn check_step(&mut self, i: usize, name: &Sp<String>, step: &'a Step) -> StepFacts {
        let mut facts = StepFacts {
            name: name.clone(),
            kind: StepKind::Invalid,
            needs: IndexMap::new(),
            for_each: step.for_each.is_some(),
            conditional: step.condition.is_some(),
            retry_attempts: step.retry.as_ref().and_then(|r| {
                match r.attempts.as_ref().map(|a| &a.value) {
                    Some(Templated::Literal(n)) => Some(*n),
                    _ => None,
                }
            }),
        };
        let item_name = step.item_name.as_ref().map_or("item", |s| s.value.as_str());
        let scope = Scope {
            step: Some(i),
            item: step.for_each.as_ref().map(|_| item_name),
            item_schema: step
                .for_each
                .as_ref()
                .and_then(|list| self.item_schema(list)),
            context: true,
            ..Scope::default()
        };
        self.guards.clear();
        self.check_kind_count(name, step);
        self.check_guards(name, step, scope);
        self.guard_steps = self.steps_behind(&self.guards);
        self.check_for_each_settings(step);
        self.check_setting_templates(step, scope);
        self.check_with(step, scope);
        for dep in &step.after {
            if let Some(j) = self.step_ref(dep, i) {
                facts.needs.entry(j).or_insert(dep.span);
            }
        }
        facts.kind = self.check_kind(i, step, scope);
        // Needs recorded by templates of this step.
        if let Some(pending) = self.pending_needs.remove(&i) {
            for (j, span) in pending {
                facts.needs.entry(j).or_insert(span);
            }
        }
        facts
    }

    /// A step does exactly one of `action`, `select`, `value` and `flow`.
    fn check_kind_count(&mut self, name: &Sp<String>, step: &Step) {
        let kinds = step.kinds();
        match kinds.as_slice() {
            [] => self.diags.push(
                Diagnostic::error(codes::STEP_KIND, format!("step `{}` does nothing", name.value))
                    .label(name.span, "")
                    .help("give it one of `action` (call an API), `select` (JSONPath), `value` (build a value) or `flow` (run a flow)"),
            ),
            [_] => {}
            many => self.diags.push(
                Diagnostic::error(
                    codes::STEP_KIND,
                    format!("step `{}` has {}: a step does exactly one thing", name.value, many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and ")),
                )
                .label(name.span, "")
                .help("split it into several steps"),
            ),
        }
    }

    /// `for_each` (evaluated before the item exists), `if` (per item when it reads the item)
    /// and `where` (per item). What the conditions read guards the rest of the step.
    fn check_guards(&mut self, name: &Sp<String>, step: &Step, scope: Scope<'a>) {
        if let Some(list) = &step.for_each {
            let outer = Scope {
                item: None,
                item_schema: None,
                ..scope
            };
            self.check_templates(&list.0, outer);
        }
        let condition = Scope {
            condition: true,
            ..scope
        };
        if let Some(cond) = &step.condition {
            match &cond.value {
                Templated::Template(t) => {
                    self.check_template_str(t, cond.span, condition);
                    self.guards.extend(condition_paths(t));
                }
                Templated::Literal(false) => self.diags.push(
                    Diagnostic::warning(
                        codes::UNREACHABLE_STEP,
                        format!("step `{}` never runs: its `if` is always false", name.value),
                    )
                    .label(cond.span, ""),
                ),
                Templated::Literal(true) => {}
            }
        }
        if let Some(filter) = &step.filter {
            if step.for_each.is_none() {
                self.diags.push(
                    Diagnostic::error(
                        codes::MISPLACED_SETTING,
                        "`where` keeps some items of a `for_each`, but this step has no `for_each`",
                    )
                    .label(filter.span, "")
                    .help("add `for_each: \"{{ ... }}\"`, or use `if:` to skip the whole step"),
                );
            }
            if let Templated::Template(t) = &filter.value {
                self.check_template_str(t, filter.span, condition);
                self.guards.extend(condition_paths(t));
            }
        }
    }

    /// `as` and `concurrency` only mean something with `for_each`; `as` must not hide what
    /// templates already mean; `for_each` must be a list; a `timeout` must leave some time;
    /// `pages` and `max_items` only mean something with `action`.
    fn check_for_each_settings(&mut self, step: &Step) {
        self.check_timeout(step);
        if step.action.is_none() {
            let span = step
                .pages
                .as_ref()
                .map(|p| p.span)
                .or_else(|| step.max_items.as_ref().map(|m| m.span));
            if let Some(span) = span {
                self.diags.push(
                    Diagnostic::error(
                        codes::MISPLACED_SETTING,
                        "`pages` and `max_items` read the pages of an API call, but this step calls no API",
                    )
                    .label(span, "")
                    .help("put them on the `action` step whose operation pages"),
                );
            }
        }
        if let Some(list) = &step.for_each {
            if let Some(a) = &step.item_name
                && RESERVED_NAMES.contains(&a.value.as_str())
            {
                self.diags.push(
                    Diagnostic::error(
                        codes::RESERVED_AS,
                        format!(
                            "`as: {}` would hide what `{}` means in templates",
                            a.value, a.value
                        ),
                    )
                    .label(a.span, "")
                    .help("name the item after what it is, e.g. `as: task`"),
                );
            }
            self.check_for_each_list(&list.0);
            return;
        }
        if let Some(a) = &step.item_name {
            self.diags.push(
                Diagnostic::error(
                    codes::MISPLACED_SETTING,
                    "`as` names the item of a `for_each`, but this step has no `for_each`",
                )
                .label(a.span, "")
                .help("add `for_each: \"{{ ... }}\"` or remove `as`"),
            );
        }
        if let Some(c) = &step.concurrency {
            self.diags.push(
                Diagnostic::error(codes::MISPLACED_SETTING, "`concurrency` limits the items of a `for_each`, but this step has no `for_each`")
                    .label(c.span, "")
                    .help("set the flow's `concurrency:` to limit steps running at the same time"),
            );
        }
    }

    /// A literal `timeout` of zero.
    fn check_timeout(&mut self, step: &Step) {
        if let Some(t) = &step.timeout
            && let Templated::Literal(d) = &t.value
            && d.0.is_zero()
        {
            self.diags.push(
                Diagnostic::error(
                    codes::ZERO_TIMEOUT,
                    "a `timeout` of zero: no attempt could ever finish",
                )
                .label(t.span, "")
                .help("give it time, e.g. `timeout: 30s`, or remove it (the default is 60s)"),
            );
        }
    }

    /// A `for_each` that can be seen not to be a list before a run: a literal that is not a
    /// sequence, or exactly one `{{ inputs.NAME }}` of an input declared with another type.
    fn check_for_each_list(&mut self, list: &sluice_model::Node) {
        use sluice_model::NodeKind;
        let found = match &list.kind {
            NodeKind::Seq(_) => return,
            NodeKind::Str(s) if s.contains("{{") => {
                let Some(name) = lone_input(s) else {
                    return;
                };
                match self.flow.inputs.get(name) {
                    Some(input) if input.kind != sluice_model::InputType::Array => {
                        format!("input `{name}`, declared `type: {}`", input.kind.as_str())
                    }
                    _ => return,
                }
            }
            NodeKind::Str(_) => "a text".to_string(),
            NodeKind::Map(_) => "a map".to_string(),
            NodeKind::Number(_) => "a number".to_string(),
            NodeKind::Bool(_) => "a boolean".to_string(),
            NodeKind::Null => "nothing".to_string(),
        };
        self.diags.push(
            Diagnostic::error(
                codes::FOR_EACH_NOT_A_LIST,
                format!("`for_each` needs a list, and this is {found}"),
            )
            .label(list.span, "")
            .help("give it a list: a template reading one (`\"{{ steps.tasks.tasks }}\"`), an input of `type: array`, or a YAML list"),
        );
    }

    /// Settings written as templates: `concurrency`, `timeout` and `retry`'s numbers.
    fn check_setting_templates(&mut self, step: &Step, scope: Scope<'_>) {
        let retry = step.retry.as_ref();
        let settings = [
            step.concurrency
                .as_ref()
                .map(|c| (templated_text(&c.value), c.span)),
            step.timeout
                .as_ref()
                .map(|c| (templated_text(&c.value), c.span)),
            retry
                .and_then(|r| r.attempts.as_ref())
                .map(|c| (templated_text(&c.value), c.span)),
            retry
                .and_then(|r| r.delay.as_ref())
                .map(|c| (templated_text(&c.value), c.span)),
            retry
                .and_then(|r| r.max_delay.as_ref())
                .map(|c| (templated_text(&c.value), c.span)),
        ];
        for (text, span) in settings.into_iter().flatten() {
            if let Some(text) = text {
                self.check_template_str(text, span, scope);
            }
        }
    }

    /// `with:` belongs to `action` and `flow` steps; its values are templates.
    fn check_with(&mut self, step: &Step, scope: Scope<'_>) {
        if step.action.is_none()
            && step.flow.is_none()
            && let Some(first) = step.with.keys().next()
        {
            self.diags.push(
                Diagnostic::error(
                    codes::MISPLACED_SETTING,
                    "only `action` and `flow` steps take `with`",
                )
                .label(first.span, "")
                .help("build values with `value:` instead"),
            );
        }
        for value in step.with.values() {
            self.check_templates(&value.0, scope);
        }
    }

    /// Checks what the step does, by its kind (the first one given, when there are several).
    fn check_kind(&mut self, i: usize, step: &Step, scope: Scope<'_>) -> StepKind {
        if let Some(action) = &step.action {
            self.check_action_step(action, step)
        } else if let Some(path) = &step.select {
            self.check_select(path, i);
            StepKind::Select(path.value.clone())
        } else if let Some(value) = &step.value {
            self.check_templates(&value.0, scope);
            StepKind::Value
        } else if let Some(sub) = &step.flow {
            self.check_subflow(sub, step);
            StepKind::Flow(sub.value.clone())
        } else {
            StepKind::Invalid
        }
    }

    fn check_subflow(&mut self, sub: &Sp<String>, step: &Step) {
        let Some(summary) = self.ctx.flows.get(sub.value.as_str()) else {
            let names = self.ctx.flows.keys().map(String::as_str);
            let help = match did_you_mean(sub, names.clone()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("flows in this folder: {}", list_names(names)),
            };
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_FLOW,
                    format!("there is no flow `{}` in this folder", sub.value),
                )
                .label(sub.span, "")
                .help(help),
            );
            return;
        };
        for key in step.with.keys() {
            if !summary.inputs.iter().any(|(n, _)| n == &key.value) {
                let help = match did_you_mean(key, summary.inputs.iter().map(|(n, _)| n.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "its inputs: {}",
                        list_names(summary.inputs.iter().map(|(n, _)| n.as_str()))
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_PARAMETER,
                        format!("flow `{}` has no input `{}`", sub.value, key.value),
                    )
                    .label(key.span, "")
                    .help(help),
                );
            }
        }
        for (name, required) in &summary.inputs {
            if *required && !step.with.contains_key(name.as_str()) {
                self.diags.push(
                    Diagnostic::error(
                        codes::MISSING_PARAMETER,
                        format!("flow `{}` needs input `{name}`", sub.value),
                    )
                    .label(sub.span, "")
                    .help(format!("add `{name}:` under `with:`")),
                );
            }
        }
    }
}

impl Checker<'_> {
    /// The steps that `paths` read, and every step those need, transitively (as far as the
    /// steps checked so far tell).
    fn steps_behind(&self, paths: &[Vec<String>]) -> std::collections::HashSet<usize> {
        let mut out = std::collections::HashSet::new();
        let mut todo: Vec<usize> = paths
            .iter()
            .filter_map(|p| match p.as_slice() {
                [root, name, ..] if root == "steps" => self.index.get(name.as_str()).copied(),
                _ => None,
            })
            .collect();
        while let Some(j) = todo.pop() {
            if out.insert(j)
                && let Some(facts) = self.steps.get(j)
            {
                todo.extend(facts.needs.keys().copied());
            }
        }
        out
    }
}

/// The paths a condition reads (they are guarded in the rest of its step).
fn condition_paths(text: &str) -> Vec<Vec<String>> {
    sluice_template::analyze(text, sluice_model::Span::UNKNOWN, "")
        .map(|a| a.references.into_iter().map(|r| r.segments).collect())
        .unwrap_or_default()
}

fn templated_text<T>(t: &Templated<T>) -> Option<&str> {
    match t {
        Templated::Template(s) => Some(s),
        Templated::Literal(_) => None,
    }
}
