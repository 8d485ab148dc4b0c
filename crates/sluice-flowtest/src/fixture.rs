//! The fixture file of `sluice test` (`FLOW.test.yaml` next to a flow): its cases — inputs,
//! canned answers, the sandbox or a cassette — and what each expects. Read with spans, so a
//! mistake is reported at its line like a flow's; `@now±N` dates resolved per run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_model::{Diagnostic, FileReport, Limits, Node, Sp, Span};

const CODE: &str = "sluice::test::fixture";

// The file as written. Doc comments of these types become the fixture schema's descriptions
// that editors show on hover, so they are written for flow authors.

/// The tests of one flow (`FLOW.test.yaml`): cases run by `sluice test`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Sluice flow test fixture")]
struct FileSpec {
    /// The flow these cases test, relative to this file. Default: this file's name without
    /// `.test` (`contact-360.test.yaml` tests `contact-360.yaml`).
    #[serde(default)]
    flow: Option<String>,
    /// The cases: each runs the flow once and compares what happened with `expect`.
    #[schemars(length(min = 1))]
    cases: Vec<CaseSpec>,
}

/// One case: the flow's inputs, where the answers come from, and what to expect.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    /// The case's name, shown in the report; each case has its own.
    #[schemars(length(min = 1))]
    name: Sp<String>,
    /// What the case checks, in plain words.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// The flow's inputs, as its trigger would pass them.
    #[serde(default)]
    inputs: Map<String, Value>,
    /// Canned answers, by step name (`contact:`) or by request (`GET /contacts/ct_ada:`, `*`
    /// matching inside one path segment). A list gives successive calls their answers (the last
    /// one repeats).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Answers>")]
    responses: IndexMap<Sp<String>, Sp<Value>>,
    /// Answer the other requests from the built-in GHL + IPinfo sandbox.
    #[serde(default)]
    sandbox: bool,
    /// With `sandbox: true` (or a cassette to record): the sandbox's data, a JSON file in
    /// `sluice sandbox --seed` format, relative to this file.
    #[serde(default)]
    seed: Option<Sp<String>>,
    /// A cassette recorded from the sandbox by `sluice test --record`, replayed offline.
    #[serde(default)]
    cassette: Option<Sp<String>>,
    /// What the run must do.
    #[serde(default)]
    expect: Option<ExpectSpec>,
}

/// What a case expects; everything left out is not checked.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    /// How the run ends. Default: `succeeded`.
    #[serde(default)]
    status: Option<RunState>,
    /// The flow's output. `@any` matches anything, `@now-1d` a date relative to the run,
    /// `@date` any date; write `@@x` for the text `@x`.
    #[serde(default)]
    output: Option<Value>,
    /// Text the run's error must contain.
    #[serde(default)]
    error_contains: Option<String>,
    /// Every request the run sends, in any order: `GET /contacts/ct_ada`, or
    /// `{ request: PUT /contacts/ct_ada, body: {…} }` to check the JSON body too.
    #[serde(default)]
    #[schemars(with = "Option<Vec<ExpectedRequestSpec>>")]
    requests: Option<Vec<Sp<Value>>>,
    /// How steps end, by name.
    #[serde(default)]
    steps: Option<IndexMap<String, StepState>>,
}

/// A canned answer, or a list of them for successive calls.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Answers {
    /// One answer, for every call.
    One(AnswerSpec),
    /// One answer per call, in order; the last one repeats.
    Many(Vec<AnswerSpec>),
}

/// A canned answer: status, JSON body, headers (all optional).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AnswerSpec {
    /// The HTTP status. Default: 200.
    #[schemars(range(min = 100, max = 599))]
    status: Option<u16>,
    /// The JSON answer. Default: `{}`.
    body: Option<Value>,
    /// Answer headers, e.g. `Retry-After: "0"`.
    headers: Option<IndexMap<String, Value>>,
}

/// An expected request.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ExpectedRequestSpec {
    /// `METHOD /path?query`.
    Line(
        #[schemars(regex(pattern = r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /"), extend("patternErrorMessage" = "Write a request as `METHOD /path`, e.g. `GET /contacts/ct_ada`."))]
         String,
    ),
    /// A request and its JSON body.
    WithBody {
        /// `METHOD /path?query`.
        #[schemars(regex(pattern = r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /"), extend("patternErrorMessage" = "Write a request as `METHOD /path`, e.g. `PUT /contacts/ct_ada`."))]
        request: String,
        /// The JSON body it sends.
        body: Option<Value>,
    },
}

/// The JSON Schema of fixture files (`FLOW.test.yaml`), for editors.
///
/// # Errors
/// A bug: the schema does not convert to JSON.
pub fn fixture_schema() -> Result<Value, serde_json::Error> {
    let mut schema = serde_json::to_value(schemars::schema_for!(FileSpec))?;
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String("https://sluice.dev/schemas/fixture.schema.json".into()),
        );
    }
    Ok(schema)
}

/// Every problem of a fixture file's text, as `sluice test` reports it (nothing is run).
/// `path` places the fixture (its flow and seed files are found next to it).
#[must_use]
pub fn check_fixture(path: &Path, source: &str) -> Vec<Diagnostic> {
    parse(path, source).err().unwrap_or_default()
}

/// How a run ended, as a fixture says it.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunState {
    /// The run finished without an error.
    Succeeded,
    /// A step failed (or the flow's output could not be built).
    Failed,
    /// The flow's `timeout` passed.
    TimedOut,
    /// The run was cancelled.
    Cancelled,
}

impl RunState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
        }
    }
}

/// How a step ended, as a fixture says it.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepState {
    /// The step finished.
    Succeeded,
    /// The step failed.
    Failed,
    /// Its `if` was false.
    Skipped,
    /// The run stopped while it ran.
    Cancelled,
    /// The run stopped before it started.
    NotStarted,
}

impl StepState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::Cancelled => "cancelled",
            StepState::NotStarted => "not_started",
        }
    }
}

/// A canned answer: status, JSON body, headers.
#[derive(Clone, Debug)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) headers: Vec<(String, String)>,
}

/// What a canned answer is for.
#[derive(Clone, Debug)]
pub(crate) enum Key {
    /// Every request of a step (a `for_each` step: the list gives one answer per item).
    Step(String),
    /// `METHOD /path` or `METHOD /path?query`; `*` matches within one path segment.
    Route { method: String, pattern: String },
}

/// Canned answers for one key: successive calls take the next (the last repeats).
#[derive(Clone, Debug)]
pub(crate) struct Responses {
    pub(crate) key: Key,
    pub(crate) answers: Vec<Canned>,
}

/// An expected request: `METHOD /path?query`, and the JSON body when given.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ExpectedRequest {
    pub(crate) line: String,
    pub(crate) body: Option<Value>,
}

/// What a case expects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Expect {
    pub(crate) status: Option<RunState>,
    pub(crate) output: Option<Value>,
    pub(crate) error_contains: Option<String>,
    pub(crate) requests: Option<Vec<ExpectedRequest>>,
    pub(crate) steps: Option<IndexMap<String, StepState>>,
}

/// Where a case's answers come from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// Only the canned answers.
    Canned,
    /// The built-in sandbox (with this seed file, else the demo data); canned answers first.
    Sandbox { seed: Option<PathBuf> },
    /// A recorded cassette (recorded against the sandbox with this seed); canned answers first.
    Cassette {
        path: PathBuf,
        seed: Option<PathBuf>,
    },
}

/// One case, checked.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) inputs: Map<String, Value>,
    pub(crate) responses: Vec<Responses>,
    pub(crate) source: Source,
    pub(crate) expect: Option<Expect>,
}

/// A fixture file, read and checked.
pub(crate) struct Fixture {
    pub(crate) path: PathBuf,
    pub(crate) source: String,
    pub(crate) flow: PathBuf,
    pub(crate) cases: Vec<Case>,
}

/// The flow a fixture file belongs to by its name: `x.test.yaml` → `x.yaml`.
pub(crate) fn default_flow(fixture: &Path) -> Option<PathBuf> {
    let name = fixture.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".test.yaml")
        .or_else(|| name.strip_suffix(".test.yml"))?;
    let ext = if name.ends_with(".yml") {
        "yml"
    } else {
        "yaml"
    };
    Some(fixture.with_file_name(format!("{stem}.{ext}")))
}

/// Whether a file name is a fixture file.
pub(crate) fn is_fixture(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// Reads and checks a fixture file. `Err`: every problem, rendered like a compiler's.
pub(crate) fn load(path: &Path, color: bool) -> Result<Fixture, String> {
    let source = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
    let mut report = FileReport::new(path.display().to_string(), source.clone());
    match parse(path, &source) {
        Ok(f) => Ok(f),
        Err(diags) => {
            report.diagnostics = diags;
            Err(report.render(color))
        }
    }
}

fn parse(path: &Path, source: &str) -> Result<Fixture, Vec<Diagnostic>> {
    let root = sluice_model::node::parse_yaml(source, &Limits::default())
        .map_err(|e| vec![sluice_model::load::yaml_diagnostic(e)])?;
    let spec: FileSpec = sluice_model::load::read(&root).map_err(|d| vec![*d])?;
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    let flow = match &spec.flow {
        Some(f) => dir.join(f),
        None => default_flow(path).ok_or_else(|| {
            vec![Diagnostic::error(
                CODE,
                "cannot tell which flow this fixture tests: name it `FLOW.test.yaml` or set `flow:`",
            )]
        })?,
    };
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    let case_nodes: Vec<&Node> = match root.get("cases").map(|n| &n.kind) {
        Some(sluice_model::NodeKind::Seq(items)) => items.iter().collect(),
        _ => Vec::new(),
    };
    if spec.cases.is_empty() {
        problems.push(
            Diagnostic::error(CODE, "the fixture has no cases")
                .label(root.span, "")
                .help("add `cases:` with at least one `- name: …`"),
        );
    }
    let mut names: HashMap<String, Span> = HashMap::new();
    for (i, c) in spec.cases.into_iter().enumerate() {
        let node = case_nodes.get(i).copied();
        match check_case(c, node, dir, &mut names) {
            Ok(case) => cases.push(case),
            Err(mut d) => problems.append(&mut d),
        }
    }
    if problems.is_empty() {
        Ok(Fixture {
            path: path.to_path_buf(),
            source: source.to_string(),
            flow,
            cases,
        })
    } else {
        Err(problems)
    }
}

fn err(span: Span, message: impl Into<String>, help: &str) -> Diagnostic {
    let d = Diagnostic::error(CODE, message).label(span, "");
    if help.is_empty() { d } else { d.help(help) }
}

fn check_case(
    c: CaseSpec,
    node: Option<&Node>,
    dir: &Path,
    names: &mut HashMap<String, Span>,
) -> Result<Case, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    check_name(&c.name, names, &mut problems);
    let responses = responses_of(&c, &mut problems);
    let source = source_of(&c, dir, &mut problems);
    let expect = c.expect.map(|e| {
        // `output: null` is an expectation too (serde reads it as "absent").
        let has_output = node
            .and_then(|n| n.get("expect"))
            .is_some_and(|e| e.get("output").is_some());
        expect_of(e, has_output, &mut problems)
    });
    if problems.is_empty() {
        Ok(Case {
            name: c.name.value,
            inputs: c.inputs,
            responses,
            source,
            expect,
        })
    } else {
        Err(problems)
    }
}

/// A case's name: given, and not another case's.
fn check_name(
    name: &Sp<String>,
    names: &mut HashMap<String, Span>,
    problems: &mut Vec<Diagnostic>,
) {
    if name.trim().is_empty() {
        problems.push(err(name.span, "a case needs a name", ""));
    } else if names.contains_key(name.as_str()) {
        problems.push(err(
            name.span,
            format!("two cases are named `{}`", name.as_str()),
            "give each case its own name",
        ));
    } else {
        names.insert(name.value.clone(), name.span);
    }
}

/// The canned answers of `responses:`.
fn responses_of(c: &CaseSpec, problems: &mut Vec<Diagnostic>) -> Vec<Responses> {
    let mut responses = Vec::new();
    for (key, value) in &c.responses {
        let parsed_key = match parse_key(key) {
            Ok(k) => k,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        match parse_answers(value) {
            Ok(answers) => responses.push(Responses {
                key: parsed_key,
                answers,
            }),
            Err(d) => problems.push(d),
        }
    }
    responses
}

/// Where the case's other answers come from: `cassette:`, `sandbox:` (with `seed:`), or none.
fn source_of(c: &CaseSpec, dir: &Path, problems: &mut Vec<Diagnostic>) -> Source {
    let seed = c.seed.as_ref().map(|s| (dir.join(s.as_str()), s.span));
    if let Some((p, span)) = &seed
        && !p.is_file()
    {
        problems.push(err(
            *span,
            format!("seed file `{}` does not exist", p.display()),
            "a seed is a sandbox data file (JSON; see `sluice sandbox --seed`)",
        ));
    }
    let seed = seed.map(|(p, _)| p);
    match (&c.cassette, c.sandbox) {
        (Some(cassette), true) => {
            problems.push(err(
                cassette.span,
                "a case replays a cassette or runs against the sandbox, not both",
                "drop `sandbox: true`: a cassette is recorded against the sandbox by `sluice test --record`",
            ));
            Source::Canned
        }
        (Some(cassette), false) => Source::Cassette {
            path: dir.join(cassette.as_str()),
            seed,
        },
        (None, true) => Source::Sandbox { seed },
        (None, false) => {
            if let Some(s) = &c.seed {
                problems.push(err(
                    s.span,
                    "`seed:` is for the sandbox",
                    "add `sandbox: true` (or `cassette: FILE` to record against the sandbox)",
                ));
            }
            Source::Canned
        }
    }
}

/// The case's `expect:`; `has_output` when the file writes `output:` (even as `null`).
fn expect_of(e: ExpectSpec, has_output: bool, problems: &mut Vec<Diagnostic>) -> Expect {
    let requests = e.requests.map(|list| {
        list.iter()
            .filter_map(|r| parse_request(r).map_err(|d| problems.push(d)).ok())
            .collect()
    });
    Expect {
        status: e.status,
        output: if has_output {
            Some(e.output.unwrap_or(Value::Null))
        } else {
            None
        },
        error_contains: e.error_contains,
        requests,
        steps: e.steps,
    }
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn parse_key(key: &Sp<String>) -> Result<Key, Diagnostic> {
    let text = key.trim();
    if let Some((m, rest)) = text.split_once(' ') {
        let method = m.to_ascii_uppercase();
        if METHODS.contains(&method.as_str()) {
            let pattern = rest.trim();
            if !pattern.starts_with('/') {
                return Err(err(
                    key.span,
                    format!("`{text}`: the path must start with `/`"),
                    "write `METHOD /path`, e.g. `GET /contacts/ct_ada`",
                ));
            }
            return Ok(Key::Route {
                method,
                pattern: pattern.to_string(),
            });
        }
    }
    if text.is_empty() || text.contains(' ') {
        return Err(err(
            key.span,
            format!("`{text}` is neither a step name nor `METHOD /path`"),
            "answer a step by its name (`contact:`) or a request by `GET /contacts/ct_ada:`",
        ));
    }
    Ok(Key::Step(text.to_string()))
}

fn parse_answers(value: &Sp<Value>) -> Result<Vec<Canned>, Diagnostic> {
    match &value.value {
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|v| parse_canned(v, value.span)).collect()
        }
        Value::Array(_) => Err(err(value.span, "an empty list of answers", "")),
        v => Ok(vec![parse_canned(v, value.span)?]),
    }
}

fn parse_canned(v: &Value, span: Span) -> Result<Canned, Diagnostic> {
    let help = "an answer is `{ status: 200, body: {…}, headers: {…} }` (all optional; status 200, body {})";
    let Value::Object(m) = v else {
        return Err(err(span, "an answer must be a map", help));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "status" | "body" | "headers"))
    {
        return Err(err(
            span,
            format!("an answer has no key `{k}` (put the JSON answer under `body:`)"),
            help,
        ));
    }
    let status = match m.get("status") {
        None => 200,
        Some(s) => s
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| (100..=599).contains(n))
            .ok_or_else(|| err(span, format!("`status: {s}` is not an HTTP status"), help))?,
    };
    let headers = match m.get("headers") {
        None => Vec::new(),
        Some(Value::Object(h)) => h
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
        Some(_) => {
            return Err(err(
                span,
                "`headers` must be a map of names to values",
                help,
            ));
        }
    };
    Ok(Canned {
        status,
        body: m
            .get("body")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        headers,
    })
}

fn parse_request(r: &Sp<Value>) -> Result<ExpectedRequest, Diagnostic> {
    let help = "write `GET /contacts/ct_ada`, or `{ request: PUT /contacts/ct_ada, body: {…} }`";
    let (line, body) = match &r.value {
        Value::String(s) => (s.clone(), None),
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "request" | "body")) {
                return Err(err(r.span, format!("a request has no key `{k}`"), help));
            }
            let Some(Value::String(line)) = m.get("request") else {
                return Err(err(r.span, "a request needs `request: METHOD /path`", help));
            };
            (line.clone(), m.get("body").cloned())
        }
        _ => return Err(err(r.span, "a request is text or a map", help)),
    };
    let ok = line
        .split_once(' ')
        .is_some_and(|(m, p)| METHODS.contains(&m) && p.starts_with('/'));
    if !ok {
        return Err(err(r.span, format!("`{line}` is not `METHOD /path`"), help));
    }
    Ok(ExpectedRequest { line, body })
}

/// `@now±N` dates of one run: resolved against one instant, and remembered so that what a run
/// produced can be written back in the same relative form (`--update`, `--record`).
#[derive(Clone)]
pub(crate) struct Dates {
    now: DateTime<Utc>,
    /// Resolved text → the token it came from.
    seen: HashMap<String, String>,
}

impl Dates {
    pub(crate) fn new() -> Self {
        Self {
            now: Utc::now(),
            seen: HashMap::new(),
        }
    }

    /// The moment `@now` stands for (a sandbox seed is resolved against it).
    #[cfg(feature = "sandbox")]
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Resolves one `@now±N` token (`d`, `h`, `m`, `s`), e.g. `@now-1d12h`.
    pub(crate) fn resolve_token(&mut self, token: &str) -> Option<String> {
        let rest = token.strip_prefix("@now")?;
        let offset =
            chrono::Duration::try_seconds(sluice_model::relative::parse_offset_secs(rest)?)?;
        let text = self
            .now
            .checked_add_signed(offset)?
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        self.seen
            .entry(text.clone())
            .or_insert_with(|| token.to_string());
        Some(text)
    }

    /// Every `@now…` string of a JSON value resolved; `@@x` becomes the text `@x` unless
    /// `keep_escapes` (expectations keep them: they are matched there).
    pub(crate) fn resolve(&mut self, v: &Value, keep_escapes: bool) -> Value {
        match v {
            Value::String(s) if s.starts_with("@now") => match self.resolve_token(s) {
                Some(t) => Value::String(t),
                None => v.clone(),
            },
            Value::String(s) if !keep_escapes && s.starts_with("@@") => {
                Value::String(s[1..].to_string())
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.resolve(i, keep_escapes))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v, keep_escapes)))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// The opposite: every string that is a resolved date of this run back to its token;
    /// other strings starting with `@` escaped as `@@`.
    pub(crate) fn relativize(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => match self.seen.get(s) {
                Some(token) => Value::String(token.clone()),
                None if s.starts_with('@') => Value::String(format!("@{s}")),
                None => v.clone(),
            },
            Value::Array(items) => Value::Array(items.iter().map(|i| self.relativize(i)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.relativize(v)))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// Learns the `@now…` tokens of a value (a seed) without changing it.
    #[cfg(feature = "sandbox")]
    pub(crate) fn learn(&mut self, v: &Value) {
        match v {
            Value::String(s) if s.starts_with("@now") => {
                let _ = self.resolve_token(s);
            }
            Value::Array(items) => items.iter().for_each(|i| self.learn(i)),
            Value::Object(m) => m.values().for_each(|i| self.learn(i)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let mut d = Dates::new();
        let v = serde_json::json!({"a": "@now-1d", "b": ["@now+2h30m", "@@lit", "x"]});
        let r = d.resolve(&v, false);
        assert_ne!(r["a"], "@now-1d");
        assert_eq!(r["b"][1], "@lit");
        let back = d.relativize(&r);
        assert_eq!(back["a"], "@now-1d");
        assert_eq!(back["b"][0], "@now+2h30m");
        assert_eq!(back["b"][1], "@@lit");
    }

    #[test]
    fn the_docs_example_reads() {
        let doc = include_str!("../../../docs/testing.md");
        let block = doc
            .split("```yaml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a yaml block");
        match parse(Path::new("docs/x.test.yaml"), block) {
            Ok(f) => assert_eq!(f.cases.len(), 4),
            // Its seed file exists only in the example.
            Err(d) => assert!(
                d.iter().all(|d| d.message.contains("seed file")),
                "{:?}",
                d.iter().map(|d| &d.message).collect::<Vec<_>>()
            ),
        }
    }

    #[test]
    fn default_flow_name() {
        assert_eq!(
            default_flow(Path::new("w/contact-360.test.yaml")),
            Some(PathBuf::from("w/contact-360.yaml"))
        );
    }
}
