//! Semantic checks of one flow — every problem as a located [`Diagnostic`] — and the data
//! dependencies between steps that the DAG is built from. The checks are methods of one
//! `Checker`, one file per part of a flow they check.

mod actions;
mod connections;
mod helpers;
mod names;
mod select;
mod steps;
mod templates;
mod triggers;
mod unused;

use std::collections::{BTreeSet, HashMap, HashSet};

use indexmap::IndexMap;
use sluice_model::flow::{Flow, FlowDocument};
use sluice_model::{Catalog, Diagnostic, Project, Sp, Span};

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
#[derive(Clone, Copy, Default)]
struct Scope<'a> {
    /// The step the template belongs to (its references become the step's needs).
    step: Option<usize>,
    /// The name of the `for_each` item, when there is one (`loop` is there too).
    item: Option<&'a str>,
    /// What the item is, when the list's schema says (its fields are checked against it).
    item_schema: Option<&'a serde_json::Value>,
    /// Whether `steps` and `inputs` may be read at all (schedule inputs may not).
    context: bool,
    /// Whether the template is a condition (`if:`, `where:`): a `null` there is false, so what
    /// it reads is guarded.
    condition: bool,
    /// Whether the template is a connection setting (`base_url`, `headers`): evaluated when the
    /// run starts, it reads `inputs` and `secrets`, not `steps`.
    connection: bool,
}

/// What the checks of one flow share: the flow, what is known around it, what has been read
/// and needed so far, and the diagnostics.
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
    /// Paths the current step's `if:` and `where:` read: reading them elsewhere in the step
    /// is guarded.
    guards: Vec<Vec<String>>,
    /// Steps the current step's conditions depend on, directly or through other steps: a
    /// condition computed from a step's result guards reading that step.
    guard_steps: HashSet<usize>,
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
        guards: Vec::new(),
        guard_steps: HashSet::new(),
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
            context: true,
            ..Scope::default()
        };
        c.guards.clear();
        c.guard_steps.clear();
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
