//! The executable form of a flow: each step with its compiled templates, connection and
//! operation, its needs and dependants — built once from the checked plan.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json_path::JsonPath;
use sluice_model::flow::{Backoff, Flow, OnError, Step};
use sluice_model::{Catalog, Connector, FlowDocument, Input, Operation, Templated};
use sluice_plan::Plan;
use sluice_template::jsonpath::JsonPathError;
use sluice_template::{Compiled, TemplateError, Templates};

/// Why a checked flow could not be built into its executable form (validation catches these
/// first: a flow is validated before it is built).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A connection names a connector that is not installed.
    #[error("connector `{0}` is not installed")]
    UnknownConnector(String),
    /// An `action:` that is not `connection.operation`.
    #[error("`{0}` is not `connection.operation`")]
    BadAction(String),
    /// An action names a connection the flow does not define.
    #[error("connection `{0}` is not defined")]
    UnknownConnection(String),
    /// An action names an operation its connector does not have.
    #[error("operation `{0}` is unknown")]
    UnknownOperation(String),
    /// `pages:` or `max_items:` on an operation that does not page.
    #[error("`{0}` does not page: its connector declares no `pagination`")]
    NoPagination(String),
    /// A step with neither `action`, `select`, `value` nor `flow`.
    #[error("step `{0}` does nothing")]
    EmptyStep(String),
    /// A `select:` path that does not parse.
    #[error(transparent)]
    Select(#[from] JsonPathError),
    /// A template that does not compile.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// A connection of the flow, resolved against the catalog.
#[derive(Clone, Debug)]
pub struct ConnectionSpec {
    /// The connection's name in the flow.
    pub name: String,
    /// The connector.
    pub connector: Arc<Connector>,
    /// The credential's name, if any.
    pub credential: Option<String>,
    /// `base_url` written in the flow, if any (a template of `inputs` and `secrets`, worked
    /// out when the run starts).
    pub base_url: Option<Compiled>,
    /// Headers written in the flow (templates like `base_url`).
    pub headers: Vec<(String, Compiled)>,
    /// The `secrets.NAME` its settings read.
    pub secrets: Vec<String>,
}

impl ConnectionSpec {
    /// The flow's `base_url` when it is written as is (not a template).
    #[must_use]
    pub fn literal_base_url(&self) -> Option<&str> {
        match &self.base_url {
            Some(Compiled::Literal(serde_json::Value::String(s))) => Some(s),
            _ => None,
        }
    }
}

/// What a step does.
#[derive(Debug)]
pub enum ExecKind {
    /// An API call.
    Action {
        /// Index into [`Executable::connections`].
        connection: usize,
        /// The operation.
        operation: Box<Operation>,
        /// Parameters.
        with: Vec<(String, Compiled)>,
        /// Pages to read, when the step asks for more than one answer (`pages:`, `max_items:`).
        paging: Option<Paging>,
    },
    /// JSONPath over `{ inputs, steps }`.
    Select(JsonPath),
    /// A value.
    Value(Compiled),
    /// Another flow.
    Flow {
        /// Its name.
        name: String,
        /// Its inputs.
        with: Vec<(String, Compiled)>,
    },
}

/// How many pages a step reads of an operation that pages.
#[derive(Clone, Debug)]
pub struct Paging {
    /// At most this many pages (`None`: all).
    pub pages: Option<u32>,
    /// At most this many items.
    pub max_items: Option<u64>,
}

/// A number, duration or flag that may be a template.
#[derive(Clone, Debug)]
pub enum Setting<T> {
    /// Written as is.
    Fixed(T),
    /// Evaluated when the step runs.
    Template(Compiled),
}

/// Retry settings.
#[derive(Clone, Debug)]
pub struct RetrySpec {
    /// Attempts in all.
    pub attempts: Setting<u32>,
    /// Exponential or fixed.
    pub backoff: Backoff,
    /// First wait.
    pub delay: Setting<Duration>,
    /// Longest wait.
    pub max_delay: Setting<Duration>,
}

/// One step, ready to run.
#[derive(Debug)]
pub struct ExecStep {
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: ExecKind,
    /// Steps it needs.
    pub needs: Vec<usize>,
    /// Steps that need it.
    pub dependants: Vec<usize>,
    /// Its condition.
    pub condition: Option<Setting<bool>>,
    /// Whether the condition is asked per `for_each` item (it reads the item or `loop`).
    pub condition_per_item: bool,
    /// Its `for_each` list.
    pub for_each: Option<Compiled>,
    /// Which `for_each` items it runs for (`where:`).
    pub filter: Option<Setting<bool>>,
    /// The item's name.
    pub item_name: String,
    /// `for_each` concurrency.
    pub concurrency: Setting<u32>,
    /// Retry settings (explicit or the default).
    pub retry: RetrySpec,
    /// Whether `retry:` was written.
    pub retry_explicit: bool,
    /// Attempt timeout.
    pub timeout: Setting<Duration>,
    /// What a failure does.
    pub on_error: OnError,
    /// A paged step whose items go straight to this `for_each` step as pages arrive (it is
    /// their only reader): nothing holds them all.
    pub stream_into: Option<usize>,
    /// Whether the step's result is kept: false for a `for_each` over a stream that nothing
    /// reads (its items' results are not gathered).
    pub keep_result: bool,
}

/// A flow, ready to run.
#[derive(Debug)]
pub struct Executable {
    /// The flow's name.
    pub name: String,
    /// A hash of the flow file's text.
    pub content_hash: String,
    /// Declared inputs.
    pub inputs: IndexMap<String, Input>,
    /// Connections.
    pub connections: Vec<ConnectionSpec>,
    /// Steps, in the order they are written.
    pub steps: Vec<ExecStep>,
    /// The output.
    pub output: Option<Compiled>,
    /// Steps the output needs.
    pub output_needs: Vec<usize>,
    /// The `for_each` step whose results are the flow's output as they are
    /// (`output: "{{ steps.X }}"`, and no step reads X): a run that streams its output writes
    /// each item's result as soon as it and the items before it are done.
    pub output_items: Option<usize>,
    /// The flow's timeout.
    pub timeout: Option<Duration>,
    /// Steps of one run at the same time.
    pub concurrency: usize,
    /// Every template of the flow.
    pub templates: Templates,
}

/// Default attempts when a step says nothing (idempotent calls and 429s only).
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// Default attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

fn setting<T: Clone>(
    t: Option<&Templated<T>>,
    default: T,
    templates: &mut Templates,
) -> Result<Setting<T>, BuildError> {
    Ok(match t {
        None => Setting::Fixed(default),
        Some(Templated::Literal(v)) => Setting::Fixed(v.clone()),
        Some(Templated::Template(text)) => {
            Setting::Template(Compiled::compile_str(text, templates).map_err(BuildError::Template)?)
        }
    })
}

fn duration_setting(
    t: Option<&Templated<sluice_model::Duration>>,
    default: Duration,
    templates: &mut Templates,
) -> Result<Setting<Duration>, BuildError> {
    Ok(match t {
        None => Setting::Fixed(default),
        Some(Templated::Literal(d)) => Setting::Fixed(d.0),
        Some(Templated::Template(text)) => {
            Setting::Template(Compiled::compile_str(text, templates).map_err(BuildError::Template)?)
        }
    })
}

impl Executable {
    /// Builds the executable flow from a checked document and its plan.
    ///
    /// # Errors
    /// Something validation should have caught (a flow is validated before it is built).
    pub fn build(
        doc: &FlowDocument,
        plan: &Plan,
        catalog: &Catalog,
        source: &str,
    ) -> Result<Self, BuildError> {
        let flow = &doc.flow;
        let mut templates = Templates::default();
        let connections = build_connections(flow, catalog, &mut templates)?;
        let mut steps = Vec::with_capacity(flow.steps.len());
        for (i, (name, step)) in flow.steps.iter().enumerate() {
            let kind = build_kind(&name.value, step, &connections, &mut templates)?;
            steps.push(build_step(
                name.value.clone(),
                kind,
                step,
                plan.needs(i),
                &mut templates,
            )?);
        }
        for i in 0..steps.len() {
            for j in steps[i].needs.clone() {
                steps[j].dependants.push(i);
            }
        }
        let output_needs: Vec<usize> = plan.output_needs.iter().copied().collect();
        plan_streams(&mut steps, flow, &output_needs);
        let output = flow
            .output
            .as_ref()
            .map(|o| Compiled::compile(&o.0, &mut templates))
            .transpose()
            .map_err(BuildError::Template)?;
        let output_items = match &output {
            Some(Compiled::Path(path)) if path.len() == 2 && path[0] == "steps" => steps
                .iter()
                .position(|s| s.name == path[1])
                .filter(|&x| steps[x].for_each.is_some() && steps[x].dependants.is_empty()),
            _ => None,
        };
        Ok(Self {
            name: flow.name.value.clone(),
            content_hash: content_hash(source),
            inputs: flow
                .inputs
                .iter()
                .map(|(k, v)| (k.value.clone(), v.clone()))
                .collect(),
            connections,
            steps,
            output,
            output_needs,
            output_items,
            timeout: flow.timeout.as_ref().map(|t| t.value.0),
            concurrency: flow
                .concurrency
                .as_ref()
                .map_or(8, |c| c.value.max(1) as usize),
            templates,
        })
    }
}

/// The flow's connections, resolved against the catalog.
fn build_connections(
    flow: &Flow,
    catalog: &Catalog,
    templates: &mut Templates,
) -> Result<Vec<ConnectionSpec>, BuildError> {
    let mut out = Vec::with_capacity(flow.connections.len());
    for (name, c) in &flow.connections {
        let connector = catalog
            .get(&c.connector)
            .ok_or_else(|| BuildError::UnknownConnector(c.connector.value.clone()))?;
        let base_url = c
            .base_url
            .as_ref()
            .map(|b| Compiled::compile_str(b, templates))
            .transpose()?;
        let headers = c
            .headers
            .iter()
            .map(|(k, v)| Ok((k.clone(), Compiled::compile_str(v, templates)?)))
            .collect::<Result<_, BuildError>>()?;
        let texts = c
            .base_url
            .iter()
            .map(|b| b.value.as_str())
            .chain(c.headers.values().map(|v| v.value.as_str()));
        out.push(ConnectionSpec {
            name: name.value.clone(),
            connector: Arc::new(connector.clone()),
            credential: c.credential.as_ref().map(|c| c.value.clone()),
            base_url,
            headers,
            secrets: texts.flat_map(secrets_read).collect(),
        });
    }
    Ok(out)
}

/// The `secrets.NAME` a template reads.
fn secrets_read(text: &str) -> Vec<String> {
    sluice_template::analyze(text, sluice_model::Span::UNKNOWN, "")
        .map(|a| {
            a.references
                .into_iter()
                .filter_map(|r| match r.segments.as_slice() {
                    [root, name, ..] if root == "secrets" => Some(name.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What step `name` does, its templates compiled.
fn build_kind(
    name: &str,
    step: &Step,
    connections: &[ConnectionSpec],
    templates: &mut Templates,
) -> Result<ExecKind, BuildError> {
    let compile_with = |templates: &mut Templates| -> Result<Vec<(String, Compiled)>, BuildError> {
        step.with
            .iter()
            .map(|(k, v)| {
                let compiled = Compiled::compile(&v.0, templates).map_err(BuildError::Template)?;
                Ok((k.value.clone(), compiled))
            })
            .collect()
    };
    Ok(if let Some(action) = &step.action {
        let (conn_name, op_name) = action
            .split_once('.')
            .ok_or_else(|| BuildError::BadAction(action.value.clone()))?;
        let connection = connections
            .iter()
            .position(|c| c.name == conn_name)
            .ok_or_else(|| BuildError::UnknownConnection(conn_name.to_string()))?;
        let operation = connections[connection]
            .connector
            .operation(op_name)
            .cloned()
            .ok_or_else(|| BuildError::UnknownOperation(op_name.to_string()))?;
        let paging = (step.pages.is_some() || step.max_items.is_some()).then(|| Paging {
            pages: match step.pages.as_ref().map(|p| p.value) {
                Some(sluice_model::Pages::AtMost(n)) => Some(n),
                Some(sluice_model::Pages::All) => None,
                // `max_items` alone: as many pages as it takes.
                None => None,
            },
            max_items: step.max_items.as_ref().map(|m| m.value),
        });
        if paging.is_some() && operation.pagination.is_none() {
            return Err(BuildError::NoPagination(action.value.clone()));
        }
        ExecKind::Action {
            connection,
            operation: Box::new(operation),
            paging,
            with: compile_with(templates)?,
        }
    } else if let Some(path) = &step.select {
        ExecKind::Select(sluice_template::jsonpath::compile(path)?)
    } else if let Some(value) = &step.value {
        ExecKind::Value(Compiled::compile(&value.0, templates).map_err(BuildError::Template)?)
    } else if let Some(sub) = &step.flow {
        ExecKind::Flow {
            name: sub.value.clone(),
            with: compile_with(templates)?,
        }
    } else {
        return Err(BuildError::EmptyStep(name.to_string()));
    })
}

/// One step, ready to run: its settings compiled (after what it does), defaults applied.
fn build_step(
    name: String,
    kind: ExecKind,
    step: &Step,
    needs: Vec<usize>,
    templates: &mut Templates,
) -> Result<ExecStep, BuildError> {
    let retry = step.retry.as_ref();
    Ok(ExecStep {
        name,
        kind,
        needs,
        dependants: Vec::new(),
        condition: match step.condition.as_ref().map(|c| &c.value) {
            None => None,
            Some(c) => Some(setting(Some(c), true, templates)?),
        },
        condition_per_item: step.for_each.is_some()
            && step
                .condition
                .as_ref()
                .is_some_and(|c| reads_item(&c.value, item_name(step))),
        filter: match step.filter.as_ref().map(|c| &c.value) {
            None => None,
            Some(c) => Some(setting(Some(c), true, templates)?),
        },
        for_each: step
            .for_each
            .as_ref()
            .map(|f| Compiled::compile(&f.0, templates))
            .transpose()
            .map_err(BuildError::Template)?,
        item_name: item_name(step).to_string(),
        concurrency: setting(step.concurrency.as_ref().map(|c| &c.value), 4, templates)?,
        retry: RetrySpec {
            attempts: setting(
                retry.and_then(|r| r.attempts.as_ref()).map(|a| &a.value),
                DEFAULT_ATTEMPTS,
                templates,
            )?,
            backoff: retry
                .and_then(|r| r.backoff)
                .unwrap_or(Backoff::Exponential),
            delay: duration_setting(
                retry.and_then(|r| r.delay.as_ref()).map(|d| &d.value),
                Duration::from_secs(1),
                templates,
            )?,
            max_delay: duration_setting(
                retry.and_then(|r| r.max_delay.as_ref()).map(|d| &d.value),
                Duration::from_secs(30),
                templates,
            )?,
        },
        retry_explicit: retry.is_some(),
        timeout: duration_setting(
            step.timeout.as_ref().map(|t| &t.value),
            DEFAULT_TIMEOUT,
            templates,
        )?,
        on_error: step.on_error.unwrap_or(OnError::Fail),
        stream_into: None,
        keep_result: true,
    })
}

/// Finds the paged steps whose only reader is a `for_each` over their items (and nothing else
/// of theirs): their items flow into it as pages arrive. A `for_each` fed that way whose result
/// nothing reads keeps no result.
fn plan_streams(steps: &mut [ExecStep], flow: &Flow, output_needs: &[usize]) {
    for p in 0..steps.len() {
        let ExecKind::Action {
            paging: Some(_),
            operation,
            ..
        } = &steps[p].kind
        else {
            continue;
        };
        let Some(items) = operation.pagination.as_ref().and_then(|s| s.items_path()) else {
            continue;
        };
        let [f] = steps[p].dependants[..] else {
            continue;
        };
        if steps[p].on_error != OnError::Fail || output_needs.contains(&p) {
            continue;
        }
        let consumer = &steps[f];
        let mut expected = vec!["steps".to_string(), steps[p].name.clone()];
        expected.extend(items);
        let reads_items =
            matches!(&consumer.for_each, Some(Compiled::Path(path)) if *path == expected);
        let only_need = consumer.needs == [p];
        let model = flow.steps.get_index(f).map(|(_, s)| s);
        if reads_items
            && only_need
            && model.is_some_and(|s| !reads_step_elsewhere(s, &steps[p].name))
        {
            steps[p].stream_into = Some(f);
            steps[f].keep_result = !steps[f].dependants.is_empty() || output_needs.contains(&f);
        }
    }
}

/// Whether a step's templates, but its `for_each`, read step `name`.
fn reads_step_elsewhere(step: &Step, name: &str) -> bool {
    let mut texts: Vec<String> = Vec::new();
    let mut collect = |node: &sluice_model::Node| {
        node.walk(&mut |n| {
            if let sluice_model::NodeKind::Str(s) = &n.kind {
                texts.push(s.clone());
            }
        });
    };
    step.with.values().for_each(|v| collect(&v.0));
    if let Some(v) = &step.value {
        collect(&v.0);
    }
    for t in [&step.condition, &step.filter].into_iter().flatten() {
        if let Templated::Template(text) = &t.value {
            texts.push(text.clone());
        }
    }
    texts.iter().any(|text| {
        sluice_template::analyze(text, sluice_model::Span::UNKNOWN, "").is_ok_and(|a| {
            a.references.iter().any(
                |r| matches!(r.segments.as_slice(), [root, n, ..] if root == "steps" && n == name),
            )
        })
    })
}

/// The name of a `for_each` step's item (`as:`, default `item`).
fn item_name(step: &Step) -> &str {
    step.item_name.as_ref().map_or("item", |s| s.value.as_str())
}

/// Whether a condition reads the `for_each` item (or `loop`).
fn reads_item(condition: &Templated<bool>, item: &str) -> bool {
    let Templated::Template(text) = condition else {
        return false;
    };
    sluice_template::analyze(text, sluice_model::Span::UNKNOWN, "").is_ok_and(|a| {
        a.references
            .iter()
            .any(|r| r.segments.first().is_some_and(|s| s == item || s == "loop"))
    })
}

/// SHA-256 of the flow file's text, hex: the fingerprint of the flow a run used.
#[must_use]
pub fn content_hash(text: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
