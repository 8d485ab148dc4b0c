//! One step of a run: its condition and settings evaluated in its scope, its parameters rendered,
//! what it does (a value, a `select`, a sub-flow, an API call) run once or once per `for_each`
//! item with bounded concurrency, and how it ended.
//!
//! Test hook, in debug builds only (compiled out of release builds): with
//! `SLUICE_TEST_PANIC_STEP=STEP` (or `STEP:MESSAGE`) in the environment, step `STEP` panics as
//! it starts, so tests through the binary can check that a panicking step fails its run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Map, Value};
use sluice_model::flow::OnError;

use crate::call::{self, Call, CallSettings, Trace};
use crate::error::{ErrorKind, StepError};
use crate::exec::{ExecKind, ExecStep, Executable, Setting};
use crate::http;
use crate::inputs::prepare_inputs;
use crate::journal::RunJournal;
use crate::observer::{Event, StepStatus};
use crate::pages::{self, Streamed};
use crate::report::{FlowOutcome, RunStatus};
use crate::runtime::{NO_SETTINGS, Resolved, Runtime};
use sluice_template::Compiled;
use sluice_template::Scope;
use sluice_template::truthy;

/// Runs a flow's steps to their end. The scheduler hands itself down in [`Ctx`] so that `flow:`
/// steps can run their flow without this module depending on the scheduler.
pub(crate) type RunFlow = fn(
    Arc<Executable>,
    Arc<Runtime>,
    Arc<Value>,
    Arc<Ctx>,
) -> Pin<Box<dyn Future<Output = FlowOutcome> + Send>>;

/// What the steps of one (sub-)flow run share besides the runtime: the run's journal, and the
/// path of `flow:` steps that leads to them (it prefixes their names in records and keys).
pub(crate) struct Ctx {
    pub(crate) journal: Option<Arc<RunJournal>>,
    /// `STEP/` or `STEP[ITEM]/` per enclosing `flow:` step (only kept when recording).
    pub(crate) prefix: String,
    /// Whether these are the run's own steps (not a sub-flow's).
    pub(crate) top: bool,
    /// How `flow:` steps run their flow.
    pub(crate) run_flow: RunFlow,
    /// Where a streamed run writes its output's items (the run's own steps only).
    pub(crate) items: Option<tokio::sync::mpsc::Sender<Value>>,
}

/// What a step of a (sub-)flow runs in: the flow, the runtime, the flow's inputs, its `flow`
/// value and the run's context.
#[derive(Clone, Copy)]
pub(crate) struct StepEnv<'a> {
    pub(crate) exec: &'a Executable,
    pub(crate) rt: &'a Arc<Runtime>,
    pub(crate) inputs: &'a Value,
    pub(crate) flow: &'a Value,
    pub(crate) ctx: &'a Ctx,
    /// The flow's connections' settings for this run, by index.
    pub(crate) connections: &'a [Resolved],
}

/// How a step ended.
pub(crate) struct Outcome {
    pub(crate) status: StepStatus,
    pub(crate) output: Value,
    pub(crate) attempts: u32,
    pub(crate) error: Option<StepError>,
    pub(crate) elapsed: Duration,
    /// The last request of a single API call, and its answer's status (recorded with the step).
    pub(crate) trace: Trace,
}

/// What a step's result and attempts are, or why it failed after how many attempts.
type BodyResult = Result<(Value, u32), (StepError, u32)>;

/// Ends a step that started at `started`.
struct Ending<'a> {
    step: &'a ExecStep,
    started: Instant,
}

impl Ending<'_> {
    fn done(&self, status: StepStatus, output: Value, attempts: u32) -> Outcome {
        Outcome {
            status,
            output,
            attempts,
            error: None,
            elapsed: self.started.elapsed(),
            trace: Trace::default(),
        }
    }

    /// A failure: with `on_error: continue` the step's result is `{ "error": … }`.
    fn fail(&self, e: StepError, attempts: u32) -> Outcome {
        let output = if self.step.on_error == OnError::Continue {
            serde_json::json!({ "error": e })
        } else {
            Value::Null
        };
        Outcome {
            error: Some(e),
            ..self.done(StepStatus::Failed, output, attempts)
        }
    }

    /// Succeeded with the body's result, or failed.
    fn finish(&self, result: BodyResult) -> Outcome {
        match result {
            Ok((v, attempts)) => self.done(StepStatus::Succeeded, v, attempts),
            Err((e, attempts)) => self.fail(e, attempts),
        }
    }
}

/// How a step is wired to a paged step that streams its items into it.
pub(crate) enum Feed {
    /// Neither.
    None,
    /// The paged step: its items go here as pages arrive.
    Sink(tokio::sync::mpsc::Sender<Streamed>),
    /// The `for_each` step: its items come from here.
    Source(tokio::sync::mpsc::Receiver<Streamed>),
}

/// Runs step `i` with the results of the steps it needs (`deps`, by index).
pub(crate) async fn run_step(
    env: StepEnv<'_>,
    i: usize,
    deps: Vec<(usize, Arc<Value>)>,
    feed: Feed,
) -> Outcome {
    let exec = env.exec;
    let step = &exec.steps[i];
    let ending = Ending {
        step,
        started: Instant::now(),
    };
    env.rt
        .observer()
        .event(&Event::StepStarted { step: &step.name });
    #[cfg(debug_assertions)]
    test_panic(&step.name);
    let steps = deps
        .into_iter()
        .map(|(j, v)| (exec.steps[j].name.as_str(), v))
        .collect();
    let scope = Scope::new(env.inputs, env.flow, steps);
    if let Some(cond) = step.condition.as_ref().filter(|_| !step.condition_per_item) {
        match eval_setting(cond, &scope, exec, |v| Ok(truthy(v))) {
            Ok(false) => return ending.done(StepStatus::Skipped, Value::Null, 0),
            Ok(true) => {}
            Err(e) => return ending.fail(e, 0),
        }
    }
    if let (ExecKind::Value(c), None) = (&step.kind, &step.for_each) {
        let mut scope = scope;
        return match c.eval_moving(&mut scope, &exec.templates) {
            Ok(v) => ending.done(StepStatus::Succeeded, v, 1),
            Err(e) => ending.fail(e.into(), 1),
        };
    }
    let list = match (&step.for_each, feed) {
        (Some(_), Feed::Source(rx)) => {
            let ended = AtomicBool::new(false);
            let result = run_for_each(env, step, &scope, Items::Stream(rx, &ended)).await;
            if result.is_ok() && !ended.load(Ordering::Relaxed) {
                // The paged step failed part-way: its own failure ends the run, and this step
                // runs again, over every item, when the run resumes.
                let why = "the step reading its items stopped before the last page";
                let error = StepError::new(ErrorKind::Cancelled, why.into());
                return Outcome {
                    status: StepStatus::Cancelled,
                    error: Some(error),
                    ..ending.done(StepStatus::Cancelled, Value::Null, 0)
                };
            }
            return ending.finish(result);
        }
        (Some(list), _) => match eval_list(list, &scope, exec) {
            Ok(items) => items,
            Err(e) => return ending.fail(e, 0),
        },
        (None, feed) => {
            let sink = match feed {
                Feed::Sink(tx) => Some(tx),
                Feed::None | Feed::Source(_) => None,
            };
            let mut trace = Trace::default();
            // Only the run's own steps are recorded with their request.
            let traced = (env.ctx.top && env.ctx.journal.is_some()).then_some(&mut trace);
            let mut outcome = ending.finish(run_body(env, step, &scope, None, traced, sink).await);
            outcome.trace = trace;
            return outcome;
        }
    };
    ending.finish(run_for_each(env, step, &scope, list).await)
}

/// The test hook of the module doc: panics when `SLUICE_TEST_PANIC_STEP` names step `name`.
#[cfg(debug_assertions)]
fn test_panic(name: &str) {
    if let Ok(hook) = std::env::var("SLUICE_TEST_PANIC_STEP") {
        let (step, message) = hook
            .split_once(':')
            .unwrap_or((hook.as_str(), "no message"));
        if step == name {
            panic!("SLUICE_TEST_PANIC_STEP: step `{name}` panics: {message}");
        }
    }
}

/// A `for_each` step's items: a list (its own, or borrowed from the scope), or a paged step's
/// items as they arrive (and whether their end has come).
enum Items<'e> {
    List(Vec<Value>),
    Borrowed(&'e [Value]),
    Stream(tokio::sync::mpsc::Receiver<Streamed>, &'e AtomicBool),
}

/// A `for_each` list evaluated. A list read by its path alone (`{{ inputs.ids }}`,
/// `{{ steps.all.contacts }}`) is borrowed from the scope and each item copied only when it
/// starts, so a list of 100,000 ids is not held twice.
fn eval_list<'s>(
    list: &Compiled,
    scope: &'s Scope<'_>,
    exec: &Executable,
) -> Result<Items<'s>, StepError> {
    let found = match list {
        Compiled::Path(path) => scope.lookup(path).map(std::borrow::Cow::Borrowed),
        other => other
            .eval(scope, &exec.templates)
            .map(std::borrow::Cow::Owned),
    };
    match found {
        Ok(std::borrow::Cow::Borrowed(Value::Array(items))) => Ok(Items::Borrowed(items)),
        Ok(std::borrow::Cow::Owned(Value::Array(items))) => Ok(Items::List(items)),
        Ok(found) if found.is_null() => Ok(Items::List(Vec::new())),
        Ok(other) => Err(StepError::new(
            ErrorKind::Other,
            format!(
                "`for_each` needs a list, found {}",
                truncate(&other.to_string())
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// What became of one `for_each` item.
enum ItemOutcome {
    /// `where:` left it out.
    Left,
    /// Its result (null when a per-item `if:` skipped it), and the attempts it took.
    Done(Value, u32),
    /// Its failure.
    Failed(StepError, u32),
}

/// Runs what the step does once per item of its `for_each` list (or stream), `concurrency` at
/// a time, in the items' order; the result is the list of the items' results (not gathered when
/// nothing reads it), the attempts the most any item made.
async fn run_for_each(
    env: StepEnv<'_>,
    step: &ExecStep,
    scope: &Scope<'_>,
    items: Items<'_>,
) -> BodyResult {
    let exec = env.exec;
    let limit = eval_setting(&step.concurrency, scope, exec, |v| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| "`concurrency` must be a whole number".to_string())
    })
    .map_err(|e| (e, 0))?
    .max(1) as usize;
    let items: std::pin::Pin<Box<dyn futures::Stream<Item = Value> + Send + '_>> = match items {
        Items::List(list) => Box::pin(futures::stream::iter(list)),
        Items::Borrowed(list) => Box::pin(futures::stream::iter(list.iter().cloned())),
        Items::Stream(rx, ended) => {
            Box::pin(futures::stream::unfold(rx, move |mut rx| async move {
                match rx.recv().await? {
                    Streamed::Item(v) => Some((v, rx)),
                    Streamed::End => {
                        ended.store(true, Ordering::Relaxed);
                        None
                    }
                }
            }))
        }
    };
    let mut results = items
        .enumerate()
        .map(|(k, item)| run_item(env, step, scope, k, item))
        .buffered(limit);
    let mut out = Vec::new();
    let mut max_attempts = 0;
    // A streamed run's output: each result goes out (and is recorded) as it comes, in order.
    let streamed = env.ctx.items.as_ref().filter(|_| {
        env.exec
            .output_items
            .is_some_and(|x| std::ptr::eq(step, &exec.steps[x]))
    });
    while let Some((k, outcome)) = results.next().await {
        let value = match outcome {
            ItemOutcome::Left => continue,
            ItemOutcome::Done(v, a) => {
                max_attempts = max_attempts.max(a);
                v
            }
            ItemOutcome::Failed(mut e, a) => {
                max_attempts = max_attempts.max(a);
                if step.on_error != OnError::Continue {
                    e.message = format!("item {k}: {}", e.message);
                    return Err((e, max_attempts));
                }
                serde_json::json!({ "error": e })
            }
        };
        if let Some(items) = streamed {
            if let Some(journal) = &env.ctx.journal
                && let Err(e) = journal.item_finished(k, &value, env.rt.redactor()).await
            {
                return Err((e.to_step_error(), max_attempts));
            }
            if items.send(value).await.is_err() {
                let e = StepError::new(ErrorKind::Other, "the output's reader has gone".into());
                return Err((e, max_attempts));
            }
        } else if step.keep_result {
            out.push(value);
        }
    }
    let result = if step.keep_result && streamed.is_none() {
        Value::Array(out)
    } else {
        Value::Null
    };
    Ok((result, max_attempts))
}

/// One `for_each` item: its `where:` and per-item `if:`, then what the step does.
async fn run_item(
    env: StepEnv<'_>,
    step: &ExecStep,
    scope: &Scope<'_>,
    k: usize,
    item: Value,
) -> (usize, ItemOutcome) {
    let exec = env.exec;
    let s = scope.with_item(&step.item_name, &item, k);
    let ask = |c: &Setting<bool>| eval_setting(c, &s, exec, |v| Ok(truthy(v)));
    if let Some(filter) = &step.filter {
        match ask(filter) {
            Ok(true) => {}
            Ok(false) => return (k, ItemOutcome::Left),
            Err(e) => return (k, ItemOutcome::Failed(e, 0)),
        }
    }
    if let Some(cond) = step.condition.as_ref().filter(|_| step.condition_per_item) {
        match ask(cond) {
            Ok(true) => {}
            Ok(false) => return (k, ItemOutcome::Done(Value::Null, 0)),
            Err(e) => return (k, ItemOutcome::Failed(e, 0)),
        }
    }
    match run_body(env, step, &s, Some(k), None, None).await {
        Ok((v, a)) => (k, ItemOutcome::Done(v, a)),
        Err((e, a)) => (k, ItemOutcome::Failed(e, a)),
    }
}

/// The first 80 bytes of `s` (on a character boundary), with `…` when cut.
fn truncate(s: &str) -> String {
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(80)])
    } else {
        s.to_string()
    }
}

/// A setting's value: as written, or its template evaluated and converted.
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

/// A duration setting: seconds, or text such as `1m 30s`.
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

/// An API call's retry settings and attempt timeout, evaluated in the step's scope.
fn call_settings(
    step: &ExecStep,
    scope: &Scope<'_>,
    exec: &Executable,
) -> Result<CallSettings, StepError> {
    let attempts = eval_setting(&step.retry.attempts, scope, exec, |v| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| "`attempts` must be a whole number".to_string())
    })?
    .max(1);
    Ok(CallSettings {
        attempts,
        backoff: step.retry.backoff,
        delay: eval_duration(&step.retry.delay, scope, exec)?,
        max_delay: eval_duration(&step.retry.max_delay, scope, exec)?,
        timeout: eval_duration(&step.timeout, scope, exec)?,
    })
}

/// The `with:` parameters, rendered.
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
/// A paged step with a `sink` sends its items there instead of answering with them.
async fn run_body(
    env: StepEnv<'_>,
    step: &ExecStep,
    scope: &Scope<'_>,
    item: Option<usize>,
    trace: Option<&mut Trace>,
    sink: Option<tokio::sync::mpsc::Sender<Streamed>>,
) -> BodyResult {
    let exec = env.exec;
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
        ExecKind::Flow { name, with } => run_sub_flow(env, step, name, with, scope, item).await,
        ExecKind::Action {
            connection,
            operation,
            with,
            paging,
        } => {
            let params = eval_params(with, scope, exec).map_err(|e| (e, 0))?;
            let resolved = env.connections.get(*connection).unwrap_or(&NO_SETTINGS);
            let endpoint = env.rt.endpoint(&exec.connections[*connection], resolved);
            if let Some(paging) = paging {
                let settings = call_settings(step, scope, exec).map_err(|e| (e, 0))?;
                let paged = pages::Paged {
                    rt: env.rt,
                    step,
                    item,
                    operation,
                    endpoint,
                    settings,
                    paging,
                    journal: env.ctx.journal.as_deref(),
                    // Pages are recorded (and resumed) for the run's own steps, not per item.
                    record: env.ctx.top && item.is_none(),
                    sink,
                    prefix: &env.ctx.prefix,
                };
                return pages::read(&paged, params).await;
            }
            let prepared = http::prepare(operation, endpoint.base_url, &endpoint.headers, &params)
                .map_err(|e| (e, 0))?;
            let settings = call_settings(step, scope, exec).map_err(|e| (e, 0))?;
            let call = Call {
                step,
                item,
                operation,
                params: &params,
                endpoint,
                prepared,
                settings,
            };
            let journal = env.ctx.journal.as_deref();
            call::call_with_retries(env.rt, &call, journal, &env.ctx.prefix, trace).await
        }
    }
}

/// A `flow:` step: runs flow `name` with the rendered `with:` as its inputs; its result is the
/// flow's output.
async fn run_sub_flow(
    env: StepEnv<'_>,
    step: &ExecStep,
    name: &str,
    with: &[(String, Compiled)],
    scope: &Scope<'_>,
    item: Option<usize>,
) -> BodyResult {
    let params = eval_params(with, scope, env.exec).map_err(|e| (e, 1))?;
    let Some(sub) = env.rt.flow(name) else {
        return Err((
            StepError::new(ErrorKind::Other, format!("flow `{name}` is not loaded")),
            1,
        ));
    };
    let inputs = prepare_inputs(sub, params)
        .map_err(|e| (StepError::new(ErrorKind::Other, e.to_string()), 1))?;
    let ctx = env.ctx;
    let sub_ctx = Arc::new(Ctx {
        journal: ctx.journal.clone(),
        prefix: match (&ctx.journal, item) {
            (None, _) => String::new(),
            (Some(_), Some(k)) => format!("{}{}[{k}]/", ctx.prefix, step.name),
            (Some(_), None) => format!("{}{}/", ctx.prefix, step.name),
        },
        top: false,
        run_flow: ctx.run_flow,
        items: None,
    });
    let ended = (ctx.run_flow)(sub.clone(), env.rt.clone(), Arc::new(inputs), sub_ctx).await;
    match ended {
        FlowOutcome {
            status: RunStatus::Succeeded,
            output: Some(out),
            ..
        } => Ok((out, 1)),
        FlowOutcome { error, .. } => Err((
            StepError::new(
                ErrorKind::Other,
                format!("flow `{name}` failed: {}", error.unwrap_or_default()),
            ),
            1,
        )),
    }
}
