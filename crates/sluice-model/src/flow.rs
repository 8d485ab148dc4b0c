//! The flow file: what a flow author writes in `workflows/*.yaml`.
//!
//! Doc comments here become the JSON Schema descriptions that editors show on hover, so they
//! are written for flow authors, not for Rust programmers.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::node::Node;
use crate::span::Sp;
use crate::value::{Duration, TemplateValue, Templated};

/// A Sluice flow: triggers, inputs, connections, steps and an output.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Sluice flow")]
pub struct Flow {
    /// The flow's name: lowercase letters, digits, `-` and `_`. Runs, logs and the API use it.
    #[schemars(
        regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"),
        length(max = 64),
        extend("patternErrorMessage" = "A flow name is lowercase letters, digits, `-` and `_`, starting with a letter or digit, e.g. `contact-360`.")
    )]
    pub name: Sp<String>,
    /// What the flow does, in plain words.
    #[serde(default)]
    pub description: Option<String>,
    /// What starts the flow: `manual`, `schedule`, `webhook`, `task_due` or `poll`.
    /// Each trigger passes its payload to the flow as inputs.
    #[serde(default, rename = "on")]
    #[schemars(rename = "on")]
    pub triggers: Vec<Sp<Trigger>>,
    /// The values the flow needs to start, read in templates as `{{ inputs.NAME }}`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {
        "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$",
        "patternErrorMessage": "An input name starts with a letter or `_`, then letters, digits, `_` or `-` (templates read it as `inputs.NAME`)."
    }))]
    pub inputs: IndexMap<Sp<String>, Input>,
    /// The APIs the flow talks to. The key is the name used in actions: `ghl` in `ghl.get_contact`.
    #[serde(default)]
    pub connections: IndexMap<Sp<String>, Connection>,
    /// The steps. Each step's key is its name; other steps read its result as `{{ steps.NAME }}`.
    /// Steps run as soon as the steps they read from are done; independent steps run at the same time.
    #[schemars(extend("propertyNames" = {
        "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$",
        "maxLength": 64,
        "patternErrorMessage": "A step name starts with a letter or `_`, then letters, digits, `_` or `-`, at most 64 (templates read it as `steps.NAME`)."
    }))]
    pub steps: IndexMap<Sp<String>, Step>,
    /// The flow's result: any value, with `{{ ... }}` templates. A value that is exactly one
    /// `{{ expression }}` keeps its JSON type (number, list, object).
    #[serde(default)]
    pub output: Option<TemplateValue>,
    /// The longest the whole flow may run, e.g. `5m`. Default: no limit.
    #[serde(default)]
    pub timeout: Option<Sp<Duration>>,
    /// The most steps (and `for_each` items) of one run that may run at the same time. Default: 8.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1024))]
    pub concurrency: Option<Sp<u32>>,
}

/// What starts a flow. Write each trigger as a list item with one key.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Started by hand: `sluice run`, or `POST /api/flows/NAME/runs` ("contact needed").
    Manual(Option<ManualTrigger>),
    /// Started on a cron schedule in a time zone.
    Schedule(ScheduleTrigger),
    /// Started by a GHL webhook event (the signature is verified).
    Webhook(WebhookTrigger),
    /// Started once per GHL task and due date, when the task falls due.
    TaskDue(TaskDueTrigger),
    /// Started once per new item of any list operation, checked on an interval.
    Poll(PollTrigger),
}

/// Settings of a `manual` trigger (none are needed: write `manual: {}`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualTrigger {
    /// What a person starting the flow should know.
    #[serde(default)]
    pub description: Option<String>,
}

/// Settings of a `schedule` trigger.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// A cron line: `minute hour day-of-month month day-of-week` (5 fields), or 6 fields with
    /// seconds first. Example: `0 8 * * MON-FRI` is 08:00 on weekdays.
    #[schemars(
        regex(pattern = r"^\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+(\s+\S+){4,5})\s*$"),
        extend("patternErrorMessage" = "A cron line has 5 fields, `minute hour day-of-month month day-of-week` (e.g. `0 8 * * MON-FRI`), or 6 with seconds first, or is `@daily`, `@hourly`, ...")
    )]
    pub cron: Sp<String>,
    /// IANA time zone the cron line is read in, e.g. `Europe/Berlin`. Default: `UTC`.
    #[serde(default)]
    pub timezone: Option<Sp<String>>,
    /// What to do with fire times missed while no runner was up: `skip` them, run only the
    /// `latest`, or run `all` (at most `max_catch_up`). Default: `latest`.
    #[serde(default)]
    pub missed: Option<MissedPolicy>,
    /// With `missed: all`, the most missed fire times to run. Default: 10.
    #[serde(default)]
    pub max_catch_up: Option<u32>,
    /// What to do when the previous run is still going: `skip` this one, `queue` one, or
    /// `allow` both. Default: `skip`.
    #[serde(default)]
    pub overlap: Option<OverlapPolicy>,
    /// A random delay of up to this long before each run, e.g. `30s`, to spread load.
    #[serde(default)]
    pub jitter: Option<Sp<Duration>>,
    /// Inputs passed to each scheduled run.
    #[serde(default)]
    pub inputs: IndexMap<String, TemplateValue>,
}

/// What to do with schedule fire times missed while Sluice was down.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Forget missed fire times.
    Skip,
    /// Run once for the most recent missed fire time.
    Latest,
    /// Run every missed fire time, up to `max_catch_up`.
    All,
}

/// What to do when a scheduled run is due while the previous one still runs.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Do not start the new run.
    Skip,
    /// Start it when the previous one ends (at most one waits).
    Queue,
    /// Start it anyway.
    Allow,
}

/// Settings of a `webhook` trigger.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTrigger {
    /// The event that starts the flow, e.g. `ContactUpdate`, `TaskCreate`, `NoteCreate`.
    pub event: Sp<String>,
    /// The connection whose webhooks these are. Default: the flow's only connection.
    #[serde(default)]
    pub connection: Option<Sp<String>>,
}

/// Settings of a `task_due` trigger.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDueTrigger {
    /// The GHL connection whose tasks are watched.
    pub connection: Sp<String>,
    /// Fire when a task's due time is at most this far ahead, e.g. `1h`. Default: `0s` (at the due time).
    #[serde(default)]
    pub within: Option<Sp<Duration>>,
    /// How often to look, e.g. `1m`. Default: `1m`.
    #[serde(default)]
    pub every: Option<Sp<Duration>>,
    /// Include tasks already marked completed. Default: false.
    #[serde(default)]
    pub include_completed: bool,
}

/// Settings of a `poll` trigger.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollTrigger {
    /// The list operation to call, `connection.operation`, e.g. `ghl.get_contacts`.
    pub action: Sp<String>,
    /// Its parameters.
    #[serde(default)]
    pub with: IndexMap<Sp<String>, TemplateValue>,
    /// JSONPath of the items in the answer, e.g. `$.contacts[*]`.
    pub items: Sp<String>,
    /// Template that identifies an item, e.g. `{{ item.id }}`; each key fires once.
    pub key: Sp<String>,
    /// How often to call, e.g. `5m`. Default: `5m`.
    #[serde(default)]
    pub every: Option<Sp<Duration>>,
}

/// A declared input of the flow.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The input's type. `--input k=v` values are converted to it.
    #[serde(rename = "type", default)]
    #[schemars(rename = "type")]
    pub kind: InputType,
    /// What the input is, for people starting the flow.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the flow needs it. Default: true, unless a `default` is given.
    #[serde(default)]
    pub required: Option<bool>,
    /// The value used when none is given.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
}

/// The type of an input.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    /// Text.
    #[default]
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A list.
    Array,
    /// A map.
    Object,
}

impl InputType {
    /// The name written in flows.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::Array => "array",
            InputType::Object => "object",
        }
    }
}

/// A connection: which connector to call, with which credential.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// The connector, e.g. `ghl-contacts` or `ipinfo` (a file in `connectors/`).
    pub connector: Sp<String>,
    /// The credential to use, by name, from `sluice.toml` (never the secret itself).
    #[serde(default)]
    pub credential: Option<Sp<String>>,
    /// Forbid write operations on this connection: a flow that writes fails validation.
    /// Start read-only, then enable writes.
    #[serde(default)]
    pub read_only: Option<Sp<bool>>,
    /// Use another base URL, e.g. the sandbox `http://127.0.0.1:8080`. May be a template of
    /// `inputs` and `secrets` (sluice.toml's `[secrets]`), e.g. `"{{ secrets.hook_url }}"`:
    /// it must give an absolute http(s) URL when the run starts.
    #[serde(default)]
    pub base_url: Option<Sp<String>>,
    /// Headers sent with every request of this connection, besides the connector's; values
    /// may be templates of `inputs` and `secrets`.
    #[serde(default)]
    pub headers: IndexMap<String, Sp<String>>,
}

/// One step of a flow. A step does exactly one of: `action` (call an API operation),
/// `select` (pick values with JSONPath), `value` (build a value from templates) or `flow`
/// (run another flow).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What this step is for, in plain words.
    #[serde(default)]
    pub description: Option<String>,
    /// The operation to call, `connection.operation`, e.g. `ghl.get_contact`.
    #[serde(default)]
    #[schemars(
        regex(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_]+$"),
        extend("patternErrorMessage" = "Write the action as CONNECTION.OPERATION, e.g. `ghl.get_contact`.")
    )]
    pub action: Option<Sp<String>>,
    /// The operation's parameters. Values may use templates: `"{{ inputs.contactId }}"`.
    #[serde(default)]
    pub with: IndexMap<Sp<String>, TemplateValue>,
    /// For an operation that pages (its connector says how): read `all` pages, or at most a
    /// number. The result is the answer with every page's items in its list.
    #[serde(default)]
    pub pages: Option<Sp<crate::value::Pages>>,
    /// For an operation that pages: stop after this many items (pages are read until then).
    #[serde(default)]
    pub max_items: Option<Sp<u64>>,
    /// A JSONPath (RFC 9535) over `{ inputs, steps }`, e.g.
    /// `$.steps.tasks.tasks[?@.completed == false]`. The result is the list of matches.
    #[serde(default)]
    pub select: Option<Sp<String>>,
    /// A value built from templates, e.g. a merged record.
    #[serde(default)]
    pub value: Option<TemplateValue>,
    /// Run another flow (by name, from the same folder) as this step; `with` gives its inputs.
    #[serde(default)]
    pub flow: Option<Sp<String>>,
    /// Steps that must finish first, when this step does not read their results.
    #[serde(default)]
    pub after: Vec<Sp<String>>,
    /// Run the step only when this is true, e.g. `"{{ gt (len steps.tasks.tasks) 0 }}"`. A value
    /// that is not there (a missing field, a skipped step) is false. A skipped step's result is
    /// `null`. On a `for_each` step a condition that reads the item is asked per item (a
    /// skipped item's result is `null`).
    #[serde(default, rename = "if")]
    #[schemars(rename = "if")]
    pub condition: Option<Sp<Templated<bool>>>,
    /// Run the step once per item of this list, e.g. `"{{ steps.tasks.tasks }}"`.
    /// The result is the list of each item's result.
    #[serde(default)]
    pub for_each: Option<TemplateValue>,
    /// With `for_each`: only the items for which this is true, e.g.
    /// `"{{ lt item.dueDate (now) }}"`. The result lists only their results.
    #[serde(default, rename = "where")]
    #[schemars(rename = "where")]
    pub filter: Option<Sp<Templated<bool>>>,
    /// The name of the current item inside a `for_each` step. Default: `item`.
    #[serde(default, rename = "as")]
    #[schemars(rename = "as")]
    pub item_name: Option<Sp<String>>,
    /// How many `for_each` items run at the same time. Default: 4.
    #[serde(default)]
    pub concurrency: Option<Sp<Templated<u32>>>,
    /// Try again after a failure.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// The longest one attempt may take, e.g. `30s`. Default: `60s`.
    #[serde(default)]
    pub timeout: Option<Sp<Templated<Duration>>>,
    /// What a failure of this step does: `fail` the flow (default), or `continue` with the
    /// error recorded as the step's result.
    #[serde(default)]
    pub on_error: Option<OnError>,
}

impl Step {
    /// Which kind of step this is, if exactly one kind key is given.
    #[must_use]
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.action.is_some() {
            kinds.push("action");
        }
        if self.select.is_some() {
            kinds.push("select");
        }
        if self.value.is_some() {
            kinds.push("value");
        }
        if self.flow.is_some() {
            kinds.push("flow");
        }
        kinds
    }
}

/// Retry settings of a step.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// How many attempts in all, the first included. Default: 3.
    #[serde(default)]
    pub attempts: Option<Sp<Templated<u32>>>,
    /// `exponential` (default) doubles the wait each time, with random jitter; `fixed` waits the same.
    #[serde(default)]
    pub backoff: Option<Backoff>,
    /// The first wait, e.g. `500ms`. Default: `1s`.
    #[serde(default)]
    pub delay: Option<Sp<Templated<Duration>>>,
    /// The longest wait between attempts, e.g. `30s`. Default: `30s`.
    #[serde(default)]
    pub max_delay: Option<Sp<Templated<Duration>>>,
}

/// How the wait between attempts grows.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Double the wait after each attempt, with full jitter.
    Exponential,
    /// Wait the same time after each attempt.
    Fixed,
}

/// What a step's failure does to the flow.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop the flow and mark it failed.
    Fail,
    /// Record the error as the step's result and go on.
    Continue,
}

/// A flow read from a file, with the tree it came from.
#[derive(Clone, Debug)]
pub struct FlowDocument {
    /// The typed flow.
    pub flow: Flow,
    /// The YAML tree (for locating anything the typed flow does not keep).
    pub root: Node,
}
