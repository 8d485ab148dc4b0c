//! The executor: runs an [`Executable`] on tokio. A step starts the moment the steps it needs
//! have finished (no waiting for a "level"); HTTP calls are bounded by a global and a
//! per-connection limit; `for_each` items by the step's own `concurrency`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use rand::Rng as _;
use serde::Serialize;
use serde_json::{Map, Value};
use sluice_model::flow::{Backoff, OnError};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use sluice_connectors::{CacheKey, LimitError, LimitKey, RateLimits, ReadCache};
use sluice_template::{Compiled, Scope};

use crate::error::{ErrorKind, StepError};
use crate::exec::{ExecKind, ExecStep, Executable, Setting};
use crate::http::{self, AuthMaterial, CallLimits};
use crate::journal::{HttpDone, RunJournal, StepDone};
use crate::observer::{Event, Observer, RequestRecord, StepStatus};
use crate::redact::Redactor;

/// Settings of the executor.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// HTTP calls in flight at once, across the whole process.
    pub concurrency: usize,
    /// HTTP calls in flight at once per connection.
    pub connection_concurrency: usize,
    /// Show requests without sending writes.
    pub dry_run: bool,
    /// Largest answer accepted, in bytes (default 10 MB).
    pub max_response_bytes: usize,
    /// Serve answers of `cacheable` operations from memory for this long (off when `None`).
    pub cache_ttl: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            connection_concurrency: 8,
            dry_run: false,
            max_response_bytes: 10 * 1024 * 1024,
            cache_ttl: None,
        }
    }
}

/// What runs share: the HTTP client, credentials, base-URL overrides, limits, observers.
pub struct Runtime {
    /// The HTTP client (one per process: connection pooling).
    pub http: reqwest::Client,
    /// Auth by credential name.
    pub credentials: HashMap<String, AuthMaterial>,
    /// Auth for connections without a credential, by connector name (the sandbox's token).
    pub default_auth: HashMap<String, AuthMaterial>,
    /// Base URLs by connection name or connector name (a connection name wins).
    pub base_urls: HashMap<String, String>,
    /// Secrets to mask.
    pub redactor: Redactor,
    /// Who hears about the run.
    pub observer: Arc<dyn Observer>,
    /// Settings.
    pub options: RunOptions,
    /// Flows that `flow:` steps may run, by name.
    pub flows: HashMap<String, Arc<Executable>>,
    /// Cancels every run of this runtime.
    pub cancel: CancellationToken,
    /// Rate limits of every connector, shared by every run of the process.
    pub limits: Arc<RateLimits>,
    /// The GHL location each credential works for (rate limits count per location).
    pub locations: HashMap<String, String>,
    /// The read cache (when `options.cache_ttl` is set).
    pub cache: Option<Arc<ReadCache<Value>>>,
    global: Arc<Semaphore>,
    per_connection: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Runtime {
    /// A runtime with the given observer and options and nothing else configured.
    ///
    /// # Errors
    /// The HTTP client cannot be built (TLS set-up).
    pub fn new(observer: Arc<dyn Observer>, options: RunOptions) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            credentials: HashMap::new(),
            default_auth: HashMap::new(),
            base_urls: HashMap::new(),
            redactor: Redactor::new(),
            observer,
            global: Arc::new(Semaphore::new(options.concurrency.max(1))),
            limits: Arc::new(RateLimits::new()),
            locations: HashMap::new(),
            cache: options
                .cache_ttl
                .map(|ttl| Arc::new(ReadCache::new(10_000, ttl))),
            options,
            flows: HashMap::new(),
            cancel: CancellationToken::new(),
            per_connection: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn connection_semaphore(&self, key: &str) -> Arc<Semaphore> {
        let mut map = self
            .per_connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = map.get(key) {
            return s.clone();
        }
        map.entry(key.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.options.connection_concurrency.max(1))))
            .clone()
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every step succeeded (or failed with `on_error: continue`).
    Succeeded,
    /// A step failed.
    Failed,
    /// Cancelled (Ctrl-C, shutdown).
    Cancelled,
    /// The flow's timeout passed.
    TimedOut,
}

/// What one step did.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// The step's name.
    pub name: String,
    /// How it ended (`None`: it never started).
    pub status: Option<StepStatus>,
    /// Attempts made.
    pub attempts: u32,
    /// Milliseconds it took.
    pub elapsed_ms: u64,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The flow.
    pub flow: String,
    /// How it ended.
    pub status: RunStatus,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// Why it did not, in one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each step.
    pub steps: Vec<StepReport>,
    /// Milliseconds the run took.
    pub elapsed_ms: u64,
}

/// Checks given inputs against the flow's declarations and applies defaults.
///
/// # Errors
/// Every problem, one sentence each.
pub fn prepare_inputs(exec: &Executable, given: Map<String, Value>) -> Result<Value, Vec<String>> {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for (name, _) in &given {
        if !exec.inputs.contains_key(name) {
            problems.push(format!("flow `{}` has no input `{name}`", exec.name));
        }
    }
    for (name, decl) in &exec.inputs {
        match given.get(name) {
            Some(v) => {
                if !type_matches(v, decl.kind) {
                    problems.push(format!(
                        "input `{name}` must be of type `{}`, got {v}",
                        decl.kind.as_str()
                    ));
                }
                out.insert(name.clone(), v.clone());
            }
            None => match &decl.default {
                Some(d) => {
                    out.insert(name.clone(), d.clone());
                }
                None if decl.required.unwrap_or(true) => {
                    problems.push(format!("input `{name}` is required"))
                }
                None => {
                    out.insert(name.clone(), Value::Null);
                }
            },
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(problems)
    }
}

fn type_matches(v: &Value, kind: sluice_model::InputType) -> bool {
    use sluice_model::InputType as T;
    match kind {
        T::String => v.is_string(),
        T::Number => v.is_number(),
        T::Integer => v.is_i64() || v.is_u64(),
        T::Boolean => v.is_boolean(),
        T::Array => v.is_array(),
        T::Object => v.is_object(),
    }
}

struct Outcome {
    status: StepStatus,
    output: Value,
    attempts: u32,
    error: Option<StepError>,
    elapsed: Duration,
    /// The last request of a single API call, and its answer's status (recorded with the step).
    trace: Trace,
}

/// The last request of an API call and its answer's status.
#[derive(Default)]
struct Trace {
    request: Option<RequestRecord>,
    status: Option<u16>,
}

/// What the steps of one (sub-)flow run share besides the runtime: the run's journal, and the
/// path of `flow:` steps that leads to them (it prefixes their names in records and keys).
struct Ctx {
    journal: Option<Arc<RunJournal>>,
    /// `STEP/` or `STEP[ITEM]/` per enclosing `flow:` step (only kept when recording).
    prefix: String,
    /// Whether these are the run's own steps (not a sub-flow's).
    top: bool,
}

/// Runs a flow to its end. `inputs` must come from [`prepare_inputs`].
pub async fn run(exec: Arc<Executable>, rt: Arc<Runtime>, inputs: Value) -> RunReport {
    run_with(exec, rt, inputs, None).await
}

/// Runs a flow to its end, recording it in `journal` when given (and, for a resumed run, taking
/// the steps that already finished from it). `inputs` must come from [`prepare_inputs`].
pub async fn run_with(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Value,
    journal: Option<Arc<RunJournal>>,
) -> RunReport {
    let started = Instant::now();
    let flow_timeout = exec.timeout;
    let name = exec.name.clone();
    let steps_len = exec.steps.len();
    let ctx = Arc::new(Ctx {
        journal,
        prefix: String::new(),
        top: true,
    });
    let fut = run_steps(exec.clone(), rt.clone(), Arc::new(inputs), ctx);
    let result = match flow_timeout {
        Some(t) => match tokio::time::timeout(t, fut).await {
            Ok(r) => r,
            Err(_) => {
                return RunReport {
                    flow: name,
                    status: RunStatus::TimedOut,
                    output: None,
                    error: Some(format!(
                        "the flow did not finish within its timeout of {}",
                        humantime::format_duration(t)
                    )),
                    steps: (0..steps_len)
                        .map(|i| StepReport {
                            name: exec.steps[i].name.clone(),
                            status: None,
                            attempts: 0,
                            elapsed_ms: 0,
                            error: None,
                        })
                        .collect(),
                    elapsed_ms: elapsed_ms(started),
                };
            }
        },
        None => fut.await,
    };
    let (status, output, error, reports) = result;
    RunReport {
        flow: name,
        status,
        output,
        error,
        steps: reports,
        elapsed_ms: elapsed_ms(started),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

type RunResult = (RunStatus, Option<Value>, Option<String>, Vec<StepReport>);

/// A running step of a run (polled in the run's task).
type StepFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, Outcome)> + Send + 'a>>;

/// `run_steps` behind a declared `Send` future type: sub-flows recurse through it.
fn run_steps_boxed(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Arc<Value>,
    ctx: Arc<Ctx>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = RunResult> + Send>> {
    Box::pin(run_steps(exec, rt, inputs, ctx))
}

async fn run_steps(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Arc<Value>,
    run_ctx: Arc<Ctx>,
) -> RunResult {
    rt.observer.event(&Event::RunStarted {
        flow: &exec.name,
        steps: exec.steps.len(),
    });
    let flow_value = Arc::new(serde_json::json!({ "name": exec.name }));
    let n = exec.steps.len();
    let mut remaining: Vec<usize> = exec.steps.iter().map(|s| s.needs.len()).collect();
    let mut outputs: Vec<Option<Arc<Value>>> = vec![None; n];
    let mut reports: Vec<StepReport> = exec
        .steps
        .iter()
        .map(|s| StepReport {
            name: s.name.clone(),
            status: None,
            attempts: 0,
            elapsed_ms: 0,
            error: None,
        })
        .collect();
    // Results are released as soon as their last reader has started, so a reader that is the
    // only holder can move values out instead of copying them.
    let mut readers: Vec<usize> = exec.steps.iter().map(|s| s.dependants.len()).collect();
    for &j in &exec.output_needs {
        readers[j] += 1;
    }
    // The steps of a run are polled in the run's own task: no task spawn per step.
    let ctx = (&*exec, &rt, &*inputs, &*flow_value, &*run_ctx);
    let mut set = FuturesUnordered::new();
    let ready: Vec<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
    for i in ready {
        push_step(&mut set, ctx, i, &mut outputs, &mut readers);
    }

    let mut failure: Option<String> = None;
    loop {
        if set.is_empty() {
            break;
        }
        let next = tokio::select! {
            next = set.next() => next,
            () = rt.cancel.cancelled() => {
                drop(set);
                for r in &mut reports {
                    if r.status.is_none() {
                        r.status = Some(StepStatus::Cancelled);
                    }
                }
                return (RunStatus::Cancelled, None, Some("the run was cancelled".into()), reports);
            }
        };
        let Some((i, outcome)) = next else { break };
        let step = &exec.steps[i];
        reports[i].status = Some(outcome.status);
        reports[i].attempts = outcome.attempts;
        reports[i].elapsed_ms = u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX);
        reports[i].error.clone_from(&outcome.error);
        rt.observer.event(&Event::StepFinished {
            step: &step.name,
            status: outcome.status,
            elapsed: outcome.elapsed,
            attempts: outcome.attempts,
            error: outcome.error.as_ref(),
        });
        if outcome.status == StepStatus::Failed && step.on_error == OnError::Fail {
            let why = outcome
                .error
                .as_ref()
                .map_or_else(String::new, ToString::to_string);
            failure = Some(format!("step `{}` failed: {why}", step.name));
            break;
        }
        outputs[i] = Some(Arc::new(outcome.output));
        for &d in &step.dependants {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                push_step(&mut set, ctx, d, &mut outputs, &mut readers);
            }
        }
    }
    if let Some(f) = failure {
        for r in &mut reports {
            if r.status.is_none() {
                r.status = Some(StepStatus::Cancelled);
            }
        }
        return (RunStatus::Failed, None, Some(f), reports);
    }
    drop(set);
    let output = match &exec.output {
        None => Value::Null,
        // A lone `{{ steps.X.… }}` output moves the result out instead of copying it (every
        // step is done, so the run holds its only reference).
        Some(Compiled::Path(path))
            if path.first().is_some_and(|r| r == "steps")
                && let Some(value) = take_step_path(&exec, &mut outputs, path) =>
        {
            value
        }
        Some(c) => {
            let steps = exec
                .output_needs
                .iter()
                .map(|&j| {
                    (
                        exec.steps[j].name.as_str(),
                        outputs[j].take().unwrap_or_else(|| Arc::new(Value::Null)),
                    )
                })
                .collect();
            let mut scope = Scope::new(&inputs, &flow_value, steps);
            match c.eval_moving(&mut scope, &exec.templates) {
                Ok(v) => v,
                Err(e) => {
                    return (
                        RunStatus::Failed,
                        None,
                        Some(format!("the output could not be built: {e}")),
                        reports,
                    );
                }
            }
        }
    };
    (RunStatus::Succeeded, Some(output), None, reports)
}

/// Starts step `i` (polled in the run's task), handing it the results it needs: the last
/// reader of a result takes it, the others share it.
fn push_step<'a>(
    set: &mut FuturesUnordered<StepFuture<'a>>,
    (exec, rt, inputs, flow_value, ctx): (
        &'a Executable,
        &'a Arc<Runtime>,
        &'a Value,
        &'a Value,
        &'a Ctx,
    ),
    i: usize,
    outputs: &mut [Option<Arc<Value>>],
    readers: &mut [usize],
) {
    let deps: Vec<(usize, Arc<Value>)> = exec.steps[i]
        .needs
        .iter()
        .map(|&j| {
            readers[j] = readers[j].saturating_sub(1);
            let value = if readers[j] == 0 {
                outputs[j].take()
            } else {
                outputs[j].clone()
            };
            (j, value.unwrap_or_else(|| Arc::new(Value::Null)))
        })
        .collect();
    let top = ctx.top;
    if top
        && let Some((status, output)) = ctx
            .journal
            .as_ref()
            .and_then(|j| j.finished(&exec.steps[i].name))
    {
        let outcome = Outcome {
            status: *status,
            output: output.clone(),
            attempts: 0,
            error: None,
            elapsed: Duration::ZERO,
            trace: Trace::default(),
        };
        set.push(Box::pin(std::future::ready((i, outcome))));
        return;
    }
    set.push(Box::pin(async move {
        let mut outcome = run_step(exec, rt, i, inputs, flow_value, deps, ctx).await;
        if top
            && outcome.status != StepStatus::Cancelled
            && let Some(journal) = &ctx.journal
        {
            let done = StepDone {
                name: &exec.steps[i].name,
                status: outcome.status,
                attempts: outcome.attempts,
                elapsed: outcome.elapsed,
                request: outcome.trace.request.as_ref(),
                response_status: outcome.trace.status,
                output: &outcome.output,
                error: outcome.error.as_ref(),
                redactor: &rt.redactor,
                wrote: matches!(&exec.steps[i].kind, ExecKind::Action { operation, .. } if operation.is_write()),
            };
            if let Err(e) = journal.step_finished(done).await {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(StepError::new(
                    ErrorKind::Other,
                    format!("the run store could not record the step: {e}"),
                ));
            }
        }
        (i, outcome)
    }));
}

/// Moves the value at `steps.NAME.rest…` out of the step results, when the run holds the only
/// reference to that result; `None` (nothing moved) otherwise.
fn take_step_path(
    exec: &Executable,
    outputs: &mut [Option<Arc<Value>>],
    path: &[String],
) -> Option<Value> {
    let name = path.get(1)?;
    let j = exec.steps.iter().position(|s| &s.name == name)?;
    let arc = outputs.get_mut(j)?.take()?;
    let mut value = match Arc::try_unwrap(arc) {
        Ok(v) => v,
        Err(shared) => {
            outputs[j] = Some(shared);
            return None;
        }
    };
    let mut current = &mut value;
    for seg in &path[2..] {
        current = match current {
            Value::Object(m) => m.get_mut(seg.as_str()),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }?;
    }
    Some(std::mem::take(current))
}

async fn run_step(
    exec: &Executable,
    rt: &Arc<Runtime>,
    i: usize,
    inputs: &Value,
    flow_value: &Value,
    deps: Vec<(usize, Arc<Value>)>,
    ctx: &Ctx,
) -> Outcome {
    let started = Instant::now();
    let step = &exec.steps[i];
    rt.observer.event(&Event::StepStarted { step: &step.name });
    let steps = deps
        .into_iter()
        .map(|(j, v)| (exec.steps[j].name.as_str(), v))
        .collect();
    let scope = Scope::new(inputs, flow_value, steps);
    let done = |status, output, attempts, error| Outcome {
        status,
        output,
        attempts,
        error,
        elapsed: started.elapsed(),
        trace: Trace::default(),
    };
    let fail = |e: StepError, attempts: u32| {
        let output = if step.on_error == OnError::Continue {
            serde_json::json!({ "error": e })
        } else {
            Value::Null
        };
        done(StepStatus::Failed, output, attempts, Some(e))
    };
    if let Some(cond) = &step.condition {
        match eval_setting(cond, &scope, exec, |v| Ok(sluice_template::truthy(v))) {
            Ok(false) => return done(StepStatus::Skipped, Value::Null, 0, None),
            Ok(true) => {}
            Err(e) => return fail(e, 0),
        }
    }
    if let (ExecKind::Value(c), None) = (&step.kind, &step.for_each) {
        let mut scope = scope;
        return match c.eval_moving(&mut scope, &exec.templates) {
            Ok(v) => done(StepStatus::Succeeded, v, 1, None),
            Err(e) => fail(e.into(), 1),
        };
    }
    let Some(list) = &step.for_each else {
        let mut trace = Trace::default();
        // Only the run's own steps are recorded with their request.
        let traced = (ctx.top && ctx.journal.is_some()).then_some(&mut trace);
        let mut outcome = match run_body(exec, rt, step, &scope, None, ctx, traced).await {
            Ok((v, attempts)) => done(StepStatus::Succeeded, v, attempts, None),
            Err((e, attempts)) => fail(e, attempts),
        };
        outcome.trace = trace;
        return outcome;
    };
    let items = match list.eval(&scope, &exec.templates) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Null) => Vec::new(),
        Ok(other) => {
            return fail(
                StepError::new(
                    ErrorKind::Other,
                    format!(
                        "`for_each` needs a list, found {}",
                        truncate(&other.to_string())
                    ),
                ),
                0,
            );
        }
        Err(e) => return fail(e.into(), 0),
    };
    let limit = match eval_setting(&step.concurrency, &scope, exec, |v| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| "`concurrency` must be a whole number".to_string())
    }) {
        Ok(n) => n.max(1) as usize,
        Err(e) => return fail(e, 0),
    };
    let scopes: Vec<Scope<'_>> = items
        .iter()
        .map(|item| scope.with_item(&step.item_name, item))
        .collect();
    // Futures are lazy: building them all first runs nothing; `buffered` runs `limit` at a time.
    let pending: Vec<_> = scopes
        .iter()
        .enumerate()
        .map(|(k, s)| run_body(exec, rt, step, s, Some(k), ctx, None))
        .collect();
    let results: Vec<Result<(Value, u32), (StepError, u32)>> = futures::stream::iter(pending)
        .buffered(limit)
        .collect()
        .await;
    let mut out = Vec::with_capacity(results.len());
    let mut max_attempts = 0;
    for (k, r) in results.into_iter().enumerate() {
        match r {
            Ok((v, a)) => {
                max_attempts = max_attempts.max(a);
                out.push(v);
            }
            Err((mut e, a)) => {
                max_attempts = max_attempts.max(a);
                if step.on_error == OnError::Continue {
                    out.push(serde_json::json!({ "error": e }));
                } else {
                    e.message = format!("item {k}: {}", e.message);
                    return fail(e, max_attempts);
                }
            }
        }
    }
    done(StepStatus::Succeeded, Value::Array(out), max_attempts, None)
}

fn truncate(s: &str) -> String {
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(80)])
    } else {
        s.to_string()
    }
}

fn eval_setting<T: Clone>(
    s: &Setting<T>,
    scope: &Scope<'_>,
    exec: &Executable,
    convert: impl Fn(&Value) -> Result<T, String>,
) -> Result<T, StepError> {
    match s {
        Setting::Fixed(v) => Ok(v.clone()),
        Setting::Template(c) => {
            let v = c.eval(scope, &exec.templates)?;
            convert(&v).map_err(StepError::template)
        }
    }
}

fn eval_duration(
    s: &Setting<Duration>,
    scope: &Scope<'_>,
    exec: &Executable,
) -> Result<Duration, StepError> {
    eval_setting(s, scope, exec, |v| match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(|f| Duration::try_from_secs_f64(f).ok())
            .ok_or_else(|| "a duration must be a positive number of seconds".to_string()),
        Value::String(t) => humantime::parse_duration(t.trim())
            .map_err(|e| format!("`{t}` is not a duration ({e})")),
        other => Err(format!("{other} is not a duration")),
    })
}

fn eval_params(
    with: &[(String, Compiled)],
    scope: &Scope<'_>,
    exec: &Executable,
) -> Result<Map<String, Value>, StepError> {
    let mut params = Map::with_capacity(with.len());
    for (k, c) in with {
        params.insert(k.clone(), c.eval(scope, &exec.templates)?);
    }
    Ok(params)
}

/// Runs what the step does, once (with retries for API calls). Returns the value and attempts.
async fn run_body(
    exec: &Executable,
    rt: &Arc<Runtime>,
    step: &ExecStep,
    scope: &Scope<'_>,
    item: Option<usize>,
    ctx: &Ctx,
    trace: Option<&mut Trace>,
) -> Result<(Value, u32), (StepError, u32)> {
    match &step.kind {
        ExecKind::Value(c) => c
            .eval(scope, &exec.templates)
            .map(|v| (v, 1))
            .map_err(|e| (e.into(), 1)),
        // (A `value:` step outside `for_each` is evaluated in `run_step`, moving what it can.)
        ExecKind::Select(path) => Ok((
            Value::Array(sluice_template::jsonpath::query(path, scope.document())),
            1,
        )),
        ExecKind::Flow { name, with } => {
            let params = eval_params(with, scope, exec).map_err(|e| (e, 1))?;
            let Some(sub) = rt.flows.get(name) else {
                return Err((
                    StepError::new(ErrorKind::Other, format!("flow `{name}` is not loaded")),
                    1,
                ));
            };
            let inputs = prepare_inputs(sub, params)
                .map_err(|p| (StepError::new(ErrorKind::Other, p.join("; ")), 1))?;
            let sub_ctx = Arc::new(Ctx {
                journal: ctx.journal.clone(),
                prefix: match (&ctx.journal, item) {
                    (None, _) => String::new(),
                    (Some(_), Some(k)) => format!("{}{}[{k}]/", ctx.prefix, step.name),
                    (Some(_), None) => format!("{}{}/", ctx.prefix, step.name),
                },
                top: false,
            });
            let report = run_steps_boxed(sub.clone(), rt.clone(), Arc::new(inputs), sub_ctx).await;
            match report {
                (RunStatus::Succeeded, Some(out), _, _) => Ok((out, 1)),
                (_, _, err, _) => Err((
                    StepError::new(
                        ErrorKind::Other,
                        format!("flow `{name}` failed: {}", err.unwrap_or_default()),
                    ),
                    1,
                )),
            }
        }
        ExecKind::Action {
            connection,
            operation,
            with,
        } => {
            let params = eval_params(with, scope, exec).map_err(|e| (e, 0))?;
            let call = Call {
                step,
                item,
                connection: *connection,
                operation,
                params: &params,
            };
            call_with_retries(exec, rt, scope, ctx, call, trace).await
        }
    }
}

/// One API call of a step: which step and item, through which connection and operation, with
/// which rendered parameters.
#[derive(Clone, Copy)]
struct Call<'a> {
    step: &'a ExecStep,
    item: Option<usize>,
    connection: usize,
    operation: &'a sluice_model::Operation,
    params: &'a Map<String, Value>,
}

async fn call_with_retries(
    exec: &Executable,
    rt: &Runtime,
    scope: &Scope<'_>,
    ctx: &Ctx,
    call: Call<'_>,
    mut trace: Option<&mut Trace>,
) -> Result<(Value, u32), (StepError, u32)> {
    let Call {
        step,
        item,
        connection,
        operation,
        params,
    } = call;
    let conn = &exec.connections[connection];
    let (base_url, auth) = endpoint(rt, conn);
    let headers: Vec<(String, String)> = conn
        .connector
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prepared = http::prepare(operation, base_url, &headers, params).map_err(|e| (e, 0))?;
    let attempts = eval_setting(&step.retry.attempts, scope, exec, |v| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| "`attempts` must be a whole number".to_string())
    })
    .map_err(|e| (e, 0))?
    .max(1);
    let delay = eval_duration(&step.retry.delay, scope, exec).map_err(|e| (e, 0))?;
    let max_delay = eval_duration(&step.retry.max_delay, scope, exec).map_err(|e| (e, 0))?;
    let timeout = eval_duration(&step.timeout, scope, exec).map_err(|e| (e, 0))?;
    let writes = operation.is_write();
    let limits = CallLimits {
        max_response_bytes: rt.options.max_response_bytes,
        timeout,
    };
    let semaphore = rt.connection_semaphore(&conn.name);
    let credential = conn.credential.as_deref().unwrap_or("default");
    // Connectors without rate limits skip the limiter (and its key's allocations).
    let limited = rt.limits.is_limited(conn.connector.name.as_str());
    let limit_key = limited.then(|| {
        let location = params
            .get("locationId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| rt.locations.get(credential).cloned());
        LimitKey::new(conn.connector.name.value.clone(), credential, location)
    });
    let observe = |status: u16, headers: &reqwest::header::HeaderMap| {
        if let Some(key) = &limit_key {
            rt.limits.observe(key, status, headers);
        }
    };
    let cache_key = match &rt.cache {
        Some(_) if operation.cacheable && !writes && !rt.options.dry_run => {
            let body = prepared
                .body
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default();
            Some(CacheKey::new(
                credential,
                prepared.method.as_str(),
                &prepared.full_url(),
                body.as_bytes(),
            ))
        }
        _ => None,
    };
    if let (Some(cache), Some(key)) = (&rt.cache, &cache_key)
        && let Some(hit) = cache.get(key)
    {
        tracing::debug!(step = %step.name, "Read cache hit.");
        return Ok(((*hit).clone(), 0));
    }
    // A durable run records every attempt, and each write under its idempotency key: a write
    // already made (by the run before it stopped) is not sent again.
    let journal = ctx.journal.as_deref().filter(|_| !rt.options.dry_run);
    let step_path = match journal {
        Some(_) => format!("{}{}", ctx.prefix, step.name),
        None => String::new(),
    };
    let write_key = match journal {
        Some(j) if writes => {
            let key = j.write_key(&step_path, item);
            let record = prepared.record(auth, &rt.redactor, writes, true);
            let state = j
                .write_intent(&key, &record)
                .await
                .map_err(|e| (store_error(&e), 0))?;
            match state {
                sluice_store::WriteState::New => {}
                sluice_store::WriteState::Done(answer) => {
                    tracing::info!(step = %step_path, key, "Write already made; its recorded answer is used.");
                    return Ok((answer, 0));
                }
                sluice_store::WriteState::Pending => {
                    if let Some(answer) =
                        settle_unknown(rt, j, call, conn, base_url, auth, &headers, limits, &key)
                            .await
                            .map_err(|e| (e, 0))?
                    {
                        return Ok((answer, 0));
                    }
                }
            }
            Some((key, record))
        }
        _ => None,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        if rt.options.dry_run && writes {
            let record = prepared.record(auth, &rt.redactor, writes, false);
            rt.observer.event(&Event::Request {
                step: &step.name,
                item,
                attempt,
                request: &record,
            });
            return Ok((Value::Null, attempt));
        }
        if let Some(key) = &limit_key
            && let Err(LimitError::QuotaExhausted { limit, resets_in }) =
                rt.limits.acquire(key).await
        {
            let message = format!(
                "the `{limit}` quota of the API is spent; more requests are allowed in {}",
                humantime::format_duration(Duration::from_secs(resets_in.as_secs()))
            );
            return Err((StepError::new(ErrorKind::RateLimited, message), attempt));
        }
        // The request of this attempt, as recorded (secrets redacted).
        let mut sent: Option<RequestRecord> = None;
        let result = {
            let _global = rt.global.acquire().await.map_err(|_| {
                (
                    StepError::new(ErrorKind::Cancelled, "shutting down".into()),
                    attempt,
                )
            })?;
            let _conn = semaphore.acquire().await.map_err(|_| {
                (
                    StepError::new(ErrorKind::Cancelled, "shutting down".into()),
                    attempt,
                )
            })?;
            if rt.observer.wants_requests() || journal.is_some() {
                let record = prepared.record(auth, &rt.redactor, writes, true);
                rt.observer.event(&Event::Request {
                    step: &step.name,
                    item,
                    attempt,
                    request: &record,
                });
                sent = Some(record);
            }
            http::send(
                &rt.http,
                &prepared,
                auth,
                operation.response_format,
                limits,
                &rt.redactor,
                &observe,
            )
            .await
        };
        if let Some(t) = trace.as_deref_mut() {
            t.request.clone_from(&sent);
        }
        if let Some(j) = journal
            && let Some(request) = sent
        {
            let (status, elapsed, error) = match &result {
                Ok(a) => (Some(a.status), a.elapsed, None),
                Err(e) => (e.status, Duration::ZERO, Some(e.message.as_str())),
            };
            j.http_call(HttpDone {
                step: &step_path,
                item,
                attempt,
                request,
                status,
                elapsed,
                error,
            });
        }
        if let Some(t) = trace.as_deref_mut() {
            t.status = match &result {
                Ok(a) => Some(a.status),
                Err(e) => e.status,
            };
        }
        match result {
            Ok(answer) => {
                if let (Some(j), Some((key, record))) = (journal, &write_key) {
                    j.write_done(
                        key,
                        "write.sent",
                        record,
                        Some(answer.status),
                        &answer.body,
                        &rt.redactor,
                    )
                    .await
                    .map_err(|e| (store_error(&e), attempt))?;
                }
                rt.observer.event(&Event::Response {
                    step: &step.name,
                    item,
                    attempt,
                    status: answer.status,
                    elapsed: answer.elapsed,
                });
                if let (Some(cache), Some(key)) = (&rt.cache, cache_key) {
                    cache.insert(key, answer.body.clone());
                }
                return Ok((answer.body, attempt));
            }
            Err(e) => {
                if let Some(status) = e.status {
                    rt.observer.event(&Event::Response {
                        step: &step.name,
                        item,
                        attempt,
                        status,
                        elapsed: Duration::ZERO,
                    });
                }
                // A 429 was refused before it was processed: safe to repeat even for a POST.
                // Anything else is repeated only when the operation is idempotent.
                let safe = operation.is_idempotent() || e.status == Some(429);
                if !e.retryable || !safe || attempt >= attempts {
                    // A write the API refused did not happen: forget it, so a resumed run may
                    // send it again. Without an answer (timeout, 5xx) its outcome stays unknown.
                    if let (Some(j), Some((key, _))) = (journal, &write_key)
                        && e.status.is_some_and(|s| (400..500).contains(&s))
                    {
                        j.write_forget(key)
                            .await
                            .map_err(|e| (store_error(&e), attempt))?;
                    }
                    return Err((e, attempt));
                }
                let wait = backoff(step.retry.backoff, delay, max_delay, attempt, e.retry_after);
                rt.observer.event(&Event::Retry {
                    step: &step.name,
                    attempt,
                    delay: wait,
                    error: &e,
                });
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = rt.cancel.cancelled() => return Err((StepError::new(ErrorKind::Cancelled, "the run was cancelled".into()), attempt)),
                }
            }
        }
    }
}

/// Where a connection's requests go and how they authenticate in this runtime.
fn endpoint<'a>(
    rt: &'a Runtime,
    conn: &'a crate::exec::ConnectionSpec,
) -> (&'a str, &'a AuthMaterial) {
    static NO_AUTH: AuthMaterial = AuthMaterial::None;
    let base_url: &str = rt
        .base_urls
        .get(&conn.name)
        .or_else(|| rt.base_urls.get(conn.connector.name.as_str()))
        .or(conn.base_url.as_ref())
        .unwrap_or(&conn.connector.base_url);
    let auth: &AuthMaterial = conn
        .credential
        .as_ref()
        .and_then(|c| rt.credentials.get(c))
        .or_else(|| rt.default_auth.get(conn.connector.name.as_str()))
        .unwrap_or(&NO_AUTH);
    (base_url, auth)
}

/// Calls one read of a connection outside a flow (the runner's `task_due` and `poll`
/// triggers use it): the runtime's base URLs, credentials, rate limits, redaction and size
/// limit apply; no retries (the trigger tries again on its next look).
///
/// # Errors
/// An unknown operation, a write, a missing parameter, or the call failed.
pub async fn call_read(
    rt: &Runtime,
    conn: &crate::exec::ConnectionSpec,
    operation: &str,
    params: &Map<String, Value>,
) -> Result<Value, StepError> {
    let op = conn.connector.operation(operation).ok_or_else(|| {
        StepError::new(
            ErrorKind::Other,
            format!(
                "connector `{}` has no operation `{operation}`",
                conn.connector.name.value
            ),
        )
    })?;
    if op.is_write() {
        return Err(StepError::new(
            ErrorKind::Other,
            format!("`{operation}` changes data: a trigger may only read"),
        ));
    }
    let (base_url, auth) = endpoint(rt, conn);
    let headers: Vec<(String, String)> = conn
        .connector
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prepared = http::prepare(op, base_url, &headers, params)?;
    let credential = conn.credential.as_deref().unwrap_or("default");
    let limit_key = rt.limits.is_limited(conn.connector.name.as_str()).then(|| {
        let location = params
            .get("locationId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| rt.locations.get(credential).cloned());
        LimitKey::new(conn.connector.name.value.clone(), credential, location)
    });
    if let Some(k) = &limit_key
        && let Err(LimitError::QuotaExhausted { limit, .. }) = rt.limits.acquire(k).await
    {
        return Err(StepError::new(
            ErrorKind::RateLimited,
            format!("the `{limit}` quota of the API is spent"),
        ));
    }
    let observe = |status: u16, h: &reqwest::header::HeaderMap| {
        if let Some(k) = &limit_key {
            rt.limits.observe(k, status, h);
        }
    };
    let limits = CallLimits {
        max_response_bytes: rt.options.max_response_bytes,
        timeout: Duration::from_secs(30),
    };
    let _global = rt
        .global
        .acquire()
        .await
        .map_err(|_| StepError::new(ErrorKind::Cancelled, "shutting down".into()))?;
    http::send(
        &rt.http,
        &prepared,
        auth,
        op.response_format,
        limits,
        &rt.redactor,
        &observe,
    )
    .await
    .map(|answer| answer.body)
}

fn store_error(e: &str) -> StepError {
    StepError::new(ErrorKind::Other, format!("the run store failed: {e}"))
}

/// A write sent before the run stopped, whose answer was never recorded: did it happen?
/// Idempotent operations (and any write, with `--resend-unknown`) are simply sent again
/// (`Ok(None)`). Otherwise the operation's `reconcile` read looks for what the write created:
/// found, its answer is recorded and returned; not found, it is sent. An operation without a
/// way to check stops the step: sending it blind could make it twice.
#[allow(clippy::too_many_arguments)]
async fn settle_unknown(
    rt: &Runtime,
    journal: &RunJournal,
    call: Call<'_>,
    conn: &crate::exec::ConnectionSpec,
    base_url: &str,
    auth: &AuthMaterial,
    headers: &[(String, String)],
    limits: CallLimits,
    key: &str,
) -> Result<Option<Value>, StepError> {
    let op = call.operation;
    if op.is_idempotent() || journal.resend_unknown() {
        return Ok(None);
    }
    let Some(rc) = &op.reconcile else {
        return Err(StepError::new(
            ErrorKind::Other,
            format!(
                "the write of step `{}` was sent before the run stopped and its outcome is unknown; \
                 the API gives no way to check whether it happened. Check it by hand, then run \
                 `sluice runs resume {} --resend-unknown` to send it again",
                call.step.name,
                journal.run_id()
            ),
        ));
    };
    let Some(read) = conn.connector.operation(&rc.operation) else {
        return Err(StepError::new(
            ErrorKind::Other,
            format!(
                "connector `{}`: `reconcile` names operation `{}`, which it does not have",
                conn.connector.name.value, rc.operation
            ),
        ));
    };
    let read_params: Map<String, Value> = call
        .params
        .iter()
        .filter(|(k, _)| read.params.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prepared = http::prepare(read, base_url, headers, &read_params)?;
    let limit_key = rt.limits.is_limited(conn.connector.name.as_str()).then(|| {
        let credential = conn.credential.as_deref().unwrap_or("default");
        LimitKey::new(
            conn.connector.name.value.clone(),
            credential,
            rt.locations.get(credential).cloned(),
        )
    });
    if let Some(k) = &limit_key
        && let Err(LimitError::QuotaExhausted { limit, .. }) = rt.limits.acquire(k).await
    {
        return Err(StepError::new(
            ErrorKind::RateLimited,
            format!("the `{limit}` quota of the API is spent: cannot check an unfinished write"),
        ));
    }
    let observe = |status: u16, h: &reqwest::header::HeaderMap| {
        if let Some(k) = &limit_key {
            rt.limits.observe(k, status, h);
        }
    };
    let answer = http::send(
        &rt.http,
        &prepared,
        auth,
        read.response_format,
        limits,
        &rt.redactor,
        &observe,
    )
    .await?;
    let read_status = answer.status;
    let found = answer
        .body
        .get(&rc.items)
        .and_then(Value::as_array)
        .and_then(|items| {
            items.iter().find(|item| {
                rc.match_fields
                    .iter()
                    .all(|f| match (item.get(f), call.params.get(f)) {
                        (Some(a), Some(b)) => crate::journal::same_value(a, b),
                        (None, None) => true,
                        _ => false,
                    })
            })
        })
        .cloned();
    let Some(item) = found else {
        tracing::info!(step = %call.step.name, key, "An unfinished write did not happen; sending it.");
        return Ok(None);
    };
    let answer = match &rc.wrap {
        Some(w) => serde_json::json!({ w.as_str(): item }),
        None => item,
    };
    tracing::info!(step = %call.step.name, key, "An unfinished write had happened; its result is used.");
    let record = prepared.record(auth, &rt.redactor, false, true);
    journal
        .write_done(
            key,
            "write.reconciled",
            &record,
            Some(read_status),
            &answer,
            &rt.redactor,
        )
        .await
        .map_err(|e| store_error(&e))?;
    Ok(Some(answer))
}

/// The wait before attempt `attempt + 1`: the API's `Retry-After` when it gave one, else
/// exponential backoff with full jitter (a random wait up to `delay · 2^(attempt-1)`, capped).
#[must_use]
pub fn backoff(
    kind: Backoff,
    delay: Duration,
    max_delay: Duration,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(Duration::from_secs(300));
    }
    match kind {
        Backoff::Fixed => delay.min(max_delay),
        Backoff::Exponential => {
            let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
            let ceiling = delay.saturating_mul(factor).min(max_delay);
            let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
            Duration::from_millis(rand::rng().random_range(0..=ms))
        }
    }
}
