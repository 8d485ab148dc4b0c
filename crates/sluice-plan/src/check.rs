//! Semantic checks of one flow: names, actions, parameters, scopes, templates, JSONPath,
//! cron lines — every problem as a located [`Diagnostic`] — and the data dependencies
//! between steps that the DAG is built from.

use std::collections::{BTreeSet, HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::Value;
use sluice_model::connector::{Operation, ParamType};
use sluice_model::flow::{Flow, FlowDocument, Step, Trigger};
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Catalog, Diagnostic, Node, NodeKind, Project, Sp, Span, Templated};
use sluice_template::detect::{contains_template, is_template};
use sluice_template::{Reference, helpers};

use crate::codes;

/// What the checks know of the other flows of the folder (for `flow:` steps).
#[derive(Clone, Debug, Default)]
pub struct FlowSummary {
    /// Declared inputs and whether each is required.
    pub inputs: Vec<(String, bool)>,
}

/// Everything a flow is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Installed connectors.
    pub catalog: &'a Catalog,
    /// The project file, when there is one (credentials and their scopes).
    pub project: Option<&'a Project>,
    /// The flows of the same folder, by name.
    pub flows: &'a IndexMap<String, FlowSummary>,
}

/// What one step does, as the plan shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Calls `connection.operation`.
    Action {
        /// The connection's name.
        connection: String,
        /// The operation's name.
        operation: String,
        /// HTTP method and path, when the operation is known.
        request: Option<(String, String)>,
        /// Whether it changes data.
        writes: bool,
    },
    /// Picks values with JSONPath.
    Select(String),
    /// Builds a value from templates.
    Value,
    /// Runs another flow.
    Flow(String),
    /// Broken: the kind could not be determined.
    Invalid,
}

/// The checked facts about one step.
#[derive(Clone, Debug)]
pub struct StepFacts {
    /// The step's name.
    pub name: Sp<String>,
    /// What it does.
    pub kind: StepKind,
    /// Steps it needs (by index), each with the span of the reference that creates the need.
    pub needs: IndexMap<usize, Span>,
    /// Fans out over a list.
    pub for_each: bool,
    /// Runs only under a condition.
    pub conditional: bool,
    /// Retry attempts, when set literally.
    pub retry_attempts: Option<u32>,
}

/// The result of checking a flow.
#[derive(Debug)]
pub struct Checked {
    /// Facts per step, in the order the steps are written.
    pub steps: Vec<StepFacts>,
    /// Steps the output reads.
    pub output_needs: BTreeSet<usize>,
    /// Everything found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Where a template is, and what it may read.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// The step the template belongs to (its references become the step's needs).
    step: Option<usize>,
    /// The name of the `for_each` item, when there is one.
    item: Option<&'a str>,
    /// Whether `steps` and `inputs` may be read at all (schedule inputs may not).
    context: bool,
}

struct Checker<'a> {
    flow: &'a Flow,
    source: &'a str,
    ctx: Context<'a>,
    broken: &'a HashSet<String>,
    dropped: &'a HashSet<String>,
    index: HashMap<&'a str, usize>,
    steps: Vec<StepFacts>,
    inputs_read: HashSet<String>,
    connections_used: HashSet<String>,
    read: Vec<bool>,
    output_needs: BTreeSet<usize>,
    pending_needs: HashMap<usize, Vec<(usize, Span)>>,
    diags: Vec<Diagnostic>,
}

/// Checks a flow. `broken` names steps that could not be read (references to them are not
/// reported again).
#[must_use]
pub fn check_flow(
    doc: &FlowDocument,
    source: &str,
    broken: &HashSet<String>,
    ctx: Context<'_>,
) -> Checked {
    check_damaged_flow(doc, source, broken, &HashSet::new(), ctx)
}

/// Checks a flow some of whose parts could not be read: `broken` steps and `dropped`
/// top-level sections. What those would have declared is not reported as missing, and no
/// "never used" warnings are given (they would be guesses).
#[must_use]
pub fn check_damaged_flow(
    doc: &FlowDocument,
    source: &str,
    broken: &HashSet<String>,
    dropped: &HashSet<String>,
    ctx: Context<'_>,
) -> Checked {
    let flow = &doc.flow;
    let index = flow
        .steps
        .keys()
        .enumerate()
        .map(|(i, k)| (k.value.as_str(), i))
        .collect();
    let mut c = Checker {
        flow,
        source,
        ctx,
        broken,
        dropped,
        index,
        steps: Vec::with_capacity(flow.steps.len()),
        inputs_read: HashSet::new(),
        connections_used: HashSet::new(),
        read: vec![false; flow.steps.len()],
        output_needs: BTreeSet::new(),
        pending_needs: HashMap::new(),
        diags: Vec::new(),
    };
    c.check_names();
    c.check_inputs();
    c.check_connections();
    c.check_triggers();
    for (i, (name, step)) in flow.steps.iter().enumerate() {
        let facts = c.check_step(i, name, step);
        c.steps.push(facts);
    }
    if let Some(output) = &flow.output {
        let scope = Scope {
            step: None,
            item: None,
            context: true,
        };
        c.check_templates(&output.0, scope);
    }
    if broken.is_empty() && dropped.is_empty() {
        c.warn_unused();
    }
    Checked {
        steps: c.steps,
        output_needs: c.output_needs,
        diagnostics: c.diags,
    }
}

fn valid_name(name: &str, allow_dash: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (!allow_dash && c.is_ascii_digit()))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-'))
}

impl<'a> Checker<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn check_names(&mut self) {
        let name = &self.flow.name;
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            self.push(
                Diagnostic::error(
                    codes::INVALID_NAME,
                    format!(
                        "`{}` is not a valid flow name",
                        sluice_model::suggest::shorten(&name.value)
                    ),
                )
                .label(name.span, "")
                .help(
                    "use lowercase letters, digits, `-` and `_` (at most 64), e.g. `contact-360`",
                ),
            );
        }
        for key in self.flow.steps.keys() {
            if !valid_name(key, true) || key.len() > 64 {
                self.diags.push(
                    Diagnostic::error(codes::INVALID_NAME, format!("`{}` is not a valid step name", sluice_model::suggest::shorten(&key.value)))
                        .label(key.span, "")
                        .help("start with a letter or `_`, then letters, digits, `_` or `-` (templates read it as `steps.NAME`)"),
                );
            }
        }
    }

    fn check_inputs(&mut self) {
        for (name, input) in &self.flow.inputs {
            if !valid_name(name, true) {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_NAME,
                        format!(
                            "`{}` is not a valid input name",
                            sluice_model::suggest::shorten(&name.value)
                        ),
                    )
                    .label(name.span, "")
                    .help("start with a letter or `_`, then letters, digits, `_` or `-`"),
                );
            }
            if let Some(default) = &input.default
                && !json_matches(default, input.kind.as_str())
            {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_DEFAULT,
                        format!(
                            "the default of input `{}` is not of type `{}`",
                            name.value,
                            input.kind.as_str()
                        ),
                    )
                    .label(name.span, ""),
                );
            }
        }
    }

    fn check_connections(&mut self) {
        for (name, conn) in &self.flow.connections {
            if self.ctx.catalog.get(&conn.connector).is_none() {
                let help = match did_you_mean(&conn.connector, self.ctx.catalog.names()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "installed connectors: {}",
                        list_names(self.ctx.catalog.names())
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CONNECTOR,
                        format!("connector `{}` is not installed", conn.connector.value),
                    )
                    .label(
                        conn.connector.span,
                        format!("used by connection `{}`", name.value),
                    )
                    .help(help),
                );
            }
            if let (Some(cred), Some(project)) = (&conn.credential, self.ctx.project)
                && !project.credentials.contains_key(cred.value.as_str())
            {
                let help = match did_you_mean(cred, project.credentials.keys().map(String::as_str))
                {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "credentials in sluice.toml: {}",
                        list_names(project.credentials.keys().map(String::as_str))
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CREDENTIAL,
                        format!("credential `{}` is not defined in sluice.toml", cred.value),
                    )
                    .label(cred.span, "")
                    .help(help),
                );
            }
        }
    }

    fn check_triggers(&mut self) {
        for trigger in &self.flow.triggers {
            match &trigger.value {
                Trigger::Manual(_) => {}
                Trigger::Schedule(s) => {
                    self.check_cron(&s.cron);
                    if let Some(tz) = &s.timezone {
                        self.check_timezone(tz);
                    }
                    let scope = Scope {
                        step: None,
                        item: None,
                        context: false,
                    };
                    for value in s.inputs.values() {
                        self.check_templates(&value.0, scope);
                    }
                }
                Trigger::Webhook(w) => self.check_webhook(trigger.span, w),
                Trigger::TaskDue(t) => {
                    self.connection(&t.connection);
                }
                Trigger::Poll(p) => {
                    if let Some((_, op)) = self.resolve_action(&p.action) {
                        let keys: Vec<&Sp<String>> = p.with.keys().collect();
                        self.check_params(&p.action, op, &keys, &p.with);
                    }
                    let scope = Scope {
                        step: None,
                        item: None,
                        context: false,
                    };
                    for value in p.with.values() {
                        self.check_templates(&value.0, scope);
                    }
                    if let Err(e) = serde_json_path::JsonPath::parse(&p.items) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::INVALID_JSONPATH,
                                format!("`{}` is not valid JSONPath", p.items.value),
                            )
                            .label(p.items.span, e.to_string()),
                        );
                    }
                    let key_scope = Scope {
                        step: None,
                        item: Some("item"),
                        context: false,
                    };
                    self.check_template_str(&p.key, p.key.span, key_scope);
                }
            }
        }
    }

    fn check_cron(&mut self, cron: &Sp<String>) {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        if let Err(e) = parser.parse(&cron.value) {
            self.diags.push(
                Diagnostic::error(codes::INVALID_CRON, format!("`{}` is not a valid cron line", sluice_model::suggest::shorten(&cron.value)))
                    .label(cron.span, e.to_string())
                    .help("five fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or SUN-SAT), e.g. `0 8 * * MON-FRI`; or six with seconds first"),
            );
        }
    }

    fn check_timezone(&mut self, tz: &Sp<String>) {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
            let help = match did_you_mean(tz, names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    "use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`".into()
                }
            };
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_TIMEZONE,
                    format!("`{}` is not a time zone", tz.value),
                )
                .label(tz.span, "")
                .help(help),
            );
        }
    }

    fn check_webhook(&mut self, span: Span, w: &sluice_model::flow::WebhookTrigger) {
        let conn_name = match &w.connection {
            Some(c) => Some(c.clone()),
            None if self.flow.connections.len() == 1 => {
                self.flow.connections.keys().next().cloned()
            }
            None => {
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CONNECTION,
                        "say which connection this webhook comes from",
                    )
                    .label(span, "")
                    .help("add `connection: NAME` to the webhook trigger"),
                );
                None
            }
        };
        let Some(conn_name) = conn_name else { return };
        let Some(connector) = self
            .connection(&conn_name)
            .and_then(|c| self.ctx.catalog.get(&c.connector))
        else {
            return;
        };
        if !connector.webhooks.contains_key(w.event.value.as_str()) {
            let names = connector.webhooks.keys().map(String::as_str);
            let help = match did_you_mean(&w.event, names.clone()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "events of `{}`: {}",
                    connector.name.value,
                    list_names(names)
                ),
            };
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_EVENT,
                    format!(
                        "connector `{}` sends no event `{}`",
                        connector.name.value, w.event.value
                    ),
                )
                .label(w.event.span, "")
                .help(help),
            );
        }
    }

    /// The connection of this name, reporting it when unknown.
    fn connection(&mut self, name: &Sp<String>) -> Option<&'a sluice_model::Connection> {
        if let Some(c) = self.flow.connections.get(name.value.as_str()) {
            self.connections_used.insert(name.value.clone());
            return Some(c);
        }
        if self.dropped.contains("connections") {
            return None; // already reported where it is declared
        }
        let names = self.flow.connections.keys().map(|k| k.value.as_str());
        let help = match did_you_mean(name, names.clone()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if self.flow.connections.is_empty() => {
                "declare it under `connections:`, e.g. `ghl: { connector: ghl-contacts, credential: ghl_main }`".into()
            }
            None => format!("connections defined here are: {}", list_names(names)),
        };
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_CONNECTION,
                format!("connection `{}` is not defined", name.value),
            )
            .label(name.span, "")
            .help(help),
        );
        None
    }

    /// Resolves `connection.operation`, reporting what is wrong.
    fn resolve_action(
        &mut self,
        action: &Sp<String>,
    ) -> Option<(&'a sluice_model::Connection, &'a Operation)> {
        let Some((conn_name, op_name)) = action.split_once('.') else {
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_OPERATION,
                    format!(
                        "`{}` does not name a connection and an operation",
                        action.value
                    ),
                )
                .label(action.span, "")
                .help("write actions as `CONNECTION.OPERATION`, e.g. `ghl.get_contact`"),
            );
            return None;
        };
        let conn_span = Span::new(action.span.offset, conn_name.len());
        let conn_sp = Sp::new(
            conn_name.to_string(),
            if action.span.is_unknown() {
                action.span
            } else {
                conn_span
            },
        );
        let conn = self.connection(&conn_sp)?;
        let connector = self.ctx.catalog.get(&conn.connector)?;
        let op_span = if action.span.is_unknown() {
            action.span
        } else {
            Span::new(action.span.offset + conn_name.len() + 1, op_name.len())
        };
        match connector.operation(op_name) {
            Some(op) => Some((conn, op)),
            None => {
                let names = connector.operations.keys().map(|k| k.value.as_str());
                let help = match did_you_mean(op_name, names.clone()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "operations of `{}`: {}",
                        connector.name.value,
                        list_names(names)
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_OPERATION,
                        format!(
                            "connector `{}` has no operation `{op_name}`",
                            connector.name.value
                        ),
                    )
                    .label(op_span, "")
                    .help(help),
                );
                None
            }
        }
    }

    fn check_params(
        &mut self,
        action: &Sp<String>,
        op: &Operation,
        given: &[&Sp<String>],
        values: &IndexMap<Sp<String>, sluice_model::TemplateValue>,
    ) {
        for key in given {
            match op.params.get(key.value.as_str()) {
                None => {
                    let names = op.params.keys().map(String::as_str);
                    let help = match did_you_mean(key, names.clone()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("`{}` takes: {}", action.value, list_names(names)),
                    };
                    self.diags.push(
                        Diagnostic::error(
                            codes::UNKNOWN_PARAMETER,
                            format!("`{}` has no parameter `{}`", action.value, key.value),
                        )
                        .label(key.span, "")
                        .help(help),
                    );
                }
                Some(param) => {
                    if let Some(value) = values.get(key.value.as_str()) {
                        self.check_literal_param(key, param, &value.0);
                    }
                }
            }
        }
        let missing: Vec<&str> = op
            .params
            .iter()
            .filter(|(name, p)| p.required && !given.iter().any(|g| g.value == **name))
            .map(|(name, _)| name.as_str())
            .collect();
        for name in missing {
            let what = op.params.get(name).and_then(|p| p.description.clone());
            self.diags.push(
                Diagnostic::error(
                    codes::MISSING_PARAMETER,
                    format!("`{}` needs parameter `{name}`", action.value),
                )
                .label(action.span, "")
                .help(match what {
                    Some(w) => format!("add `{name}:` under `with:` ({w})"),
                    None => format!("add `{name}:` under `with:`"),
                }),
            );
        }
    }

    fn check_literal_param(&mut self, key: &Sp<String>, param: &sluice_model::Param, node: &Node) {
        if contains_template(node) {
            return;
        }
        let value = node.to_json();
        let type_ok = match param.kind {
            ParamType::Any => true,
            ParamType::String => value.is_string() || value.is_number(),
            ParamType::Number => value.is_number(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::Boolean => value.is_boolean(),
            ParamType::Array => value.is_array(),
            ParamType::Object => value.is_object(),
        };
        if !type_ok {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_PARAMETER,
                    format!(
                        "parameter `{}` must be {}, found {}",
                        key.value,
                        type_name(param.kind),
                        node.kind.describe()
                    ),
                )
                .label(node.span, ""),
            );
            return;
        }
        if let Some(allowed) = &param.allowed
            && !allowed.contains(&value)
        {
            let shown: Vec<String> = allowed
                .iter()
                .map(|v| {
                    format!(
                        "`{}`",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    )
                })
                .collect();
            let help = value
                .as_str()
                .and_then(|s| did_you_mean(s, allowed.iter().filter_map(Value::as_str)))
                .map_or_else(
                    || format!("allowed values: {}", shown.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_PARAMETER,
                    format!("{value} is not an allowed value of `{}`", key.value),
                )
                .label(node.span, "")
                .help(help),
            );
        }
    }

    fn check_step(&mut self, i: usize, name: &Sp<String>, step: &'a Step) -> StepFacts {
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
            context: true,
        };
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
        // `for_each` is evaluated before the item exists.
        if let Some(list) = &step.for_each {
            let outer = Scope {
                item: None,
                ..scope
            };
            self.check_templates(&list.0, outer);
        }
        if let Some(cond) = &step.condition {
            match &cond.value {
                Templated::Template(t) => {
                    let outer = Scope {
                        item: None,
                        ..scope
                    };
                    self.check_template_str(t, cond.span, outer);
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
        if step.item_name.is_some()
            && step.for_each.is_none()
            && let Some(a) = &step.item_name
        {
            self.diags.push(
                Diagnostic::error(
                    codes::MISPLACED_SETTING,
                    "`as` names the item of a `for_each`, but this step has no `for_each`",
                )
                .label(a.span, "")
                .help("add `for_each: \"{{ ... }}\"` or remove `as`"),
            );
        }
        if step.concurrency.is_some()
            && step.for_each.is_none()
            && let Some(c) = &step.concurrency
        {
            self.diags.push(
                Diagnostic::error(codes::MISPLACED_SETTING, "`concurrency` limits the items of a `for_each`, but this step has no `for_each`")
                    .label(c.span, "")
                    .help("set the flow's `concurrency:` to limit steps running at the same time"),
            );
        }
        for setting in [
            step.concurrency
                .as_ref()
                .map(|c| (templated_text(&c.value), c.span)),
            step.timeout
                .as_ref()
                .map(|c| (templated_text(&c.value), c.span)),
            step.retry
                .as_ref()
                .and_then(|r| r.attempts.as_ref())
                .map(|c| (templated_text(&c.value), c.span)),
            step.retry
                .as_ref()
                .and_then(|r| r.delay.as_ref())
                .map(|c| (templated_text(&c.value), c.span)),
            step.retry
                .as_ref()
                .and_then(|r| r.max_delay.as_ref())
                .map(|c| (templated_text(&c.value), c.span)),
        ]
        .into_iter()
        .flatten()
        {
            if let (Some(text), span) = setting {
                self.check_template_str(text, span, scope);
            }
        }

        if !step.with.is_empty()
            && step.action.is_none()
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
        for dep in &step.after {
            if let Some(j) = self.step_ref(dep, i) {
                facts.needs.entry(j).or_insert(dep.span);
            }
        }

        if let Some(action) = &step.action {
            facts.kind = self.check_action_step(action, step);
        } else if let Some(path) = &step.select {
            facts.kind = StepKind::Select(path.value.clone());
            self.check_select(path, i);
        } else if let Some(value) = &step.value {
            facts.kind = StepKind::Value;
            self.check_templates(&value.0, scope);
        } else if let Some(sub) = &step.flow {
            facts.kind = StepKind::Flow(sub.value.clone());
            self.check_subflow(sub, step);
        }
        // Needs recorded by templates of this step.
        if let Some(pending) = self.pending_needs.remove(&i) {
            for (j, span) in pending {
                facts.needs.entry(j).or_insert(span);
            }
        }
        facts
    }

    fn check_action_step(&mut self, action: &Sp<String>, step: &Step) -> StepKind {
        let (conn_name, op_name) = action.split_once('.').unwrap_or((action.as_str(), ""));
        let mut kind = StepKind::Action {
            connection: conn_name.to_string(),
            operation: op_name.to_string(),
            request: None,
            writes: false,
        };
        let Some((conn, op)) = self.resolve_action(action) else {
            return kind;
        };
        if let StepKind::Action {
            request, writes, ..
        } = &mut kind
        {
            *request = Some((op.method.as_str().to_string(), op.path.clone()));
            *writes = op.is_write();
        }
        let keys: Vec<&Sp<String>> = step.with.keys().collect();
        self.check_params(action, op, &keys, &step.with);
        if op.deprecated {
            self.diags.push(
                Diagnostic::warning(
                    codes::DEPRECATED_OPERATION,
                    format!("`{}` is deprecated by the API", action.value),
                )
                .label(action.span, ""),
            );
        }
        if op.is_write()
            && let Some(ro) = &conn.read_only
            && ro.value
        {
            self.diags.push(
                Diagnostic::error(
                    codes::WRITE_ON_READ_ONLY,
                    format!(
                        "`{}` changes data, but connection `{conn_name}` is read-only",
                        action.value
                    ),
                )
                .label(action.span, "this operation writes")
                .label(ro.span, "read-only set here")
                .help(
                    "remove `read_only: true` from the connection when the flow is ready to write",
                ),
            );
        }
        if let (Some(cred_name), Some(project)) = (&conn.credential, self.ctx.project)
            && let Some(cred) = project.credentials.get(cred_name.value.as_str())
            && let Some(granted) = &cred.scopes
            && !op.scopes.is_empty()
            && !op.scopes.iter().any(|s| granted.contains(s))
        {
            self.diags.push(
                Diagnostic::error(
                    codes::MISSING_SCOPE,
                    format!(
                        "`{}` needs scope `{}`, which credential `{}` does not grant",
                        action.value,
                        op.scopes.join("` or `"),
                        cred_name.value
                    ),
                )
                .label(action.span, "")
                .label(cred_name.span, "credential used here")
                .help(format!(
                    "grant `{}` to the credential (and list it under `scopes` in sluice.toml), or use another operation",
                    op.scopes.first().map_or("", String::as_str)
                )),
            );
        }
        kind
    }

    fn check_select(&mut self, path: &Sp<String>, step: usize) {
        if let Err(e) = serde_json_path::JsonPath::parse(&path.value) {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_JSONPATH,
                    format!("`{}` is not valid JSONPath (RFC 9535)", path.value),
                )
                .label(path.span, e.to_string())
                .help("a path starts at `$`, e.g. `$.steps.tasks.tasks[?@.completed == false]`"),
            );
            return;
        }
        match jsonpath_root(&path.value) {
            Some(JsonPathRoot::Step(name, offset)) => {
                let span = if path.span.is_unknown() {
                    path.span
                } else {
                    Span::new(
                        path.span.offset + offset + quote_offset(self.source, path.span),
                        name.len(),
                    )
                };
                let sp = Sp::new(name, span);
                if let Some(j) = self.step_ref(&sp, step) {
                    self.pending_needs.entry(step).or_default().push((j, span));
                    self.read[j] = true;
                }
            }
            Some(JsonPathRoot::Inputs(name)) => {
                if let Some(name) = name {
                    self.inputs_read.insert(name);
                } else {
                    self.inputs_read
                        .extend(self.flow.inputs.keys().map(|k| k.value.clone()));
                }
            }
            None => self.diags.push(
                Diagnostic::error(
                    codes::INVALID_JSONPATH,
                    "a `select` must say which step or input it reads",
                )
                .label(path.span, "")
                .help("start the path with `$.steps.NAME` or `$.inputs`"),
            ),
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

    /// A reference to another step by name; reports unknown names and self-references.
    fn step_ref(&mut self, name: &Sp<String>, from: usize) -> Option<usize> {
        if self.broken.contains(name.value.as_str()) {
            return None;
        }
        match self.index.get(name.value.as_str()) {
            Some(&j) if j == from => {
                self.diags.push(
                    Diagnostic::error(
                        codes::CYCLE,
                        format!("step `{}` needs its own result", name.value),
                    )
                    .label(name.span, "")
                    .help("a step cannot read itself; read an earlier step"),
                );
                None
            }
            Some(&j) => {
                self.read[j] = true;
                Some(j)
            }
            None => {
                let names = self.flow.steps.keys().map(|k| k.value.as_str());
                let help = match did_you_mean(name, names.clone()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("steps defined here are: {}", list_names(names)),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_STEP,
                        format!("there is no step `{}`", name.value),
                    )
                    .label(name.span, "not defined in this flow")
                    .help(help),
                );
                None
            }
        }
    }

    /// Checks every template string in a value tree.
    fn check_templates(&mut self, node: &Node, scope: Scope<'_>) {
        match &node.kind {
            NodeKind::Str(s) => self.check_template_str(s, node.span, scope),
            NodeKind::Seq(items) => items.iter().for_each(|n| self.check_templates(n, scope)),
            NodeKind::Map(entries) => entries
                .iter()
                .for_each(|(_, v)| self.check_templates(v, scope)),
            _ => {}
        }
    }

    fn check_template_str(&mut self, text: &str, span: Span, scope: Scope<'_>) {
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

    fn check_reference(&mut self, r: &Reference, scope: Scope<'_>) {
        let root = r.segments[0].as_str();
        let root_span = Span::new(
            r.span.offset,
            if r.span.is_unknown() {
                0
            } else {
                root.len().min(r.span.len)
            },
        );
        match root {
            "inputs" if scope.context => {
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
            "steps" if scope.context => {
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
            _ if scope.item == Some(root) => {}
            "flow" => {}
            _ => {
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
                    "this value is computed before the flow starts: it cannot read `steps` or `inputs`".to_string()
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
        }
    }

    /// Checks `steps.X.a.b` against what step X returns, when that is known.
    fn check_fields(&mut self, step: usize, r: &Reference) {
        let Some((_, step_def)) = self.flow.steps.get_index(step) else {
            return;
        };
        let rest = &r.segments[2..];
        // With `on_error: continue` a failed step's result is `{ error: {...} }`.
        let may_fail = step_def.on_error == Some(sluice_model::flow::OnError::Continue);
        if rest.is_empty() || step_def.for_each.is_some() || (may_fail && rest[0] == "error") {
            return;
        }
        let Some(schema) = self.output_schema(step_def) else {
            return;
        };
        let mut parent = r.segments[1].clone();
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
        let action = step.action.as_ref()?;
        let (conn_name, op_name) = action.split_once('.')?;
        let conn = self.flow.connections.get(conn_name)?;
        self.ctx
            .catalog
            .operation(&conn.connector, op_name)?
            .response
            .as_ref()
    }

    fn warn_unused(&mut self) {
        for (name, _) in &self.flow.inputs {
            if !self.inputs_read.contains(name.value.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        codes::UNUSED_INPUT,
                        format!("input `{}` is never used", name.value),
                    )
                    .label(name.span, "")
                    .help(format!(
                        "read it as `{{{{ inputs.{} }}}}`, or remove it",
                        name.value
                    )),
                );
            }
        }
        for (name, _) in &self.flow.connections {
            if !self.connections_used.contains(name.value.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        codes::UNUSED_CONNECTION,
                        format!("connection `{}` is never used", name.value),
                    )
                    .label(name.span, ""),
                );
            }
        }
        // Steps another step needs (by data or `after:`), computed once: O(steps + needs).
        let mut needed_by_order = vec![false; self.steps.len()];
        for s in &self.steps {
            for &j in s.needs.keys() {
                needed_by_order[j] = true;
            }
        }
        for (i, facts) in self.steps.iter().enumerate() {
            let changes_something = match &facts.kind {
                StepKind::Action {
                    writes, request, ..
                } => *writes || request.is_none(),
                StepKind::Flow(_) | StepKind::Invalid => true,
                StepKind::Select(_) | StepKind::Value => false,
            };
            if !self.read[i]
                && !needed_by_order[i]
                && !self.output_needs.contains(&i)
                && !changes_something
            {
                self.diags.push(
                    Diagnostic::warning(codes::UNUSED_STEP, format!("the result of step `{}` is never used", facts.name.value))
                        .label(facts.name.span, "")
                        .help(format!("read it as `{{{{ steps.{} }}}}` in a later step or the output, or remove the step", facts.name.value)),
                );
            }
        }
    }
}

enum Child<'a> {
    Found(&'a Value),
    Open,
    Missing { fields: Vec<String> },
    NotObject(&'static str),
}

fn schema_child<'a>(schema: &'a Value, seg: &str) -> Child<'a> {
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

fn segment_span(r: &Reference, seg: &str) -> Span {
    if r.span.is_unknown() {
        return r.span;
    }
    match r.raw.rfind(seg) {
        Some(i) => Span::new(r.span.offset + i, seg.len()),
        None => r.span,
    }
}

fn templated_text<T>(t: &Templated<T>) -> Option<&str> {
    match t {
        Templated::Template(s) => Some(s),
        Templated::Literal(_) => None,
    }
}

fn type_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "text",
        ParamType::Number => "a number",
        ParamType::Integer => "a whole number",
        ParamType::Boolean => "`true` or `false`",
        ParamType::Array => "a list",
        ParamType::Object => "a map",
        ParamType::Any => "anything",
    }
}

fn json_matches(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// What a `select` path starts from.
enum JsonPathRoot {
    /// `$.steps.NAME...` with the byte offset of NAME in the path text.
    Step(String, usize),
    /// `$.inputs...`, with the input's name when given.
    Inputs(Option<String>),
}

/// Reads the first two segments of a JSONPath: `$.steps.NAME` or `$['steps']['NAME']`.
fn jsonpath_root(path: &str) -> Option<JsonPathRoot> {
    let rest = path.trim_start().strip_prefix('$')?;
    let offset_base = path.len() - rest.len();
    let (first, after_first, _) = segment(rest)?;
    match first.as_str() {
        "steps" => {
            let consumed = rest.len() - after_first.len();
            let (name, _, name_offset) = segment(after_first)?;
            Some(JsonPathRoot::Step(
                name,
                offset_base + consumed + name_offset,
            ))
        }
        "inputs" => Some(JsonPathRoot::Inputs(
            segment(after_first).map(|(n, _, _)| n),
        )),
        _ => None,
    }
}

/// One name segment (`.name` or `['name']`): the name, the rest, and the name's offset.
fn segment(text: &str) -> Option<(String, &str, usize)> {
    if let Some(rest) = text.strip_prefix('.') {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        return Some((rest[..end].to_string(), &rest[end..], 1));
    }
    let rest = text.strip_prefix('[')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &rest[1..];
    let end = inner.find(quote)?;
    let after = inner[end + 1..].trim_start().strip_prefix(']')?;
    let name_offset = text.len() - rest.len() + 1;
    Some((inner[..end].to_string(), after, name_offset))
}

/// 1 when the node at `span` is written with quotes (its text starts one byte later).
fn quote_offset(source: &str, span: Span) -> usize {
    match source.as_bytes().get(span.offset) {
        Some(b'"' | b'\'') => 1,
        _ => 0,
    }
}
