//! Running a flow: a step starts the moment the steps it needs have finished (no waiting for a
//! "level"), all polled in the run's own task; a durable run records each step as it ends and
//! takes those a resumed run already finished from its journal.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde_json::Value;
use sluice_model::flow::OnError;

use crate::call::Trace;
use crate::error::{ErrorKind, StepError};
use crate::exec::{ExecKind, Executable};
use crate::journal::{RunJournal, StepDone};
use crate::observer::{Event, StepStatus};
use crate::report::{FlowOutcome, RunReport, RunStatus, StepReport, elapsed_ms};
use crate::runtime::{Resolved, Runtime};
use crate::step::{Ctx, Feed, Outcome, StepEnv, run_step};
use sluice_template::Compiled;
use sluice_template::Scope;

/// Runs a flow to its end. `inputs` must come from [`prepare_inputs`](crate::prepare_inputs).
pub async fn run(exec: Arc<Executable>, rt: Arc<Runtime>, inputs: Value) -> RunReport {
    run_with(exec, rt, inputs, None).await
}

/// Runs a flow to its end, recording it in `journal` when given (and, for a resumed run, taking
/// the steps that already finished from it). `inputs` must come from
/// [`prepare_inputs`](crate::prepare_inputs).
pub async fn run_with(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Value,
    journal: Option<Arc<RunJournal>>,
) -> RunReport {
    run_top(exec, rt, inputs, journal, None).await
}

/// [`run_with`], streaming the output: when the output is one `for_each` step's results
/// ([`Executable::output_items`]), each item's result goes to `items` as soon as it and the
/// items before it are done (in their order), none is kept, and the report's output is `null`;
/// any other output is left in the report. A recorded run keeps each streamed result as an item
/// of the run's output ([`sluice_store::Store::output_items`]) and `{"$items": N}` as its output.
/// Sending waits while `items` is full; a closed `items` fails the run.
pub async fn run_streamed(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Value,
    journal: Option<Arc<RunJournal>>,
    items: tokio::sync::mpsc::Sender<Value>,
) -> RunReport {
    run_top(exec, rt, inputs, journal, Some(items)).await
}

async fn run_top(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Value,
    journal: Option<Arc<RunJournal>>,
    items: Option<tokio::sync::mpsc::Sender<Value>>,
) -> RunReport {
    let started = Instant::now();
    let items = items.filter(|_| exec.output_items.is_some());
    if let (Some(journal), Some(_)) = (&journal, &items) {
        journal.stream_output();
    }
    let ctx = Arc::new(Ctx {
        journal,
        prefix: String::new(),
        top: true,
        run_flow: run_steps_boxed,
        items,
    });
    let redactor = rt.redactor().clone();
    let flow_name = exec.name.clone();
    let steps_not_started = || {
        exec.steps
            .iter()
            .map(|s| StepReport::not_started(&s.name))
            .collect::<Vec<_>>()
    };
    // Steps catch their own panics; this catches one of the run's own code (building the
    // output, …), so the run fails instead of hanging.
    let fut = AssertUnwindSafe(run_steps(exec.clone(), rt, Arc::new(inputs), ctx))
        .catch_unwind()
        .map(move |ended| {
            ended.unwrap_or_else(|payload| {
                let message = redactor.redact(&panic_message(payload.as_ref()));
                tracing::error!(flow = %flow_name, "A run panicked: {message}");
                FlowOutcome::stopped(
                    RunStatus::Failed,
                    format!("internal error (the run panicked: {message}); please report it"),
                    steps_not_started(),
                )
            })
        });
    let ended = match exec.timeout {
        Some(t) => match tokio::time::timeout(t, fut).await {
            Ok(ended) => ended,
            Err(_) => FlowOutcome {
                status: RunStatus::TimedOut,
                output: None,
                error: Some(format!(
                    "the flow did not finish within its timeout of {}",
                    humantime::format_duration(t)
                )),
                steps: exec
                    .steps
                    .iter()
                    .map(|s| StepReport::not_started(&s.name))
                    .collect(),
            },
        },
        None => fut.await,
    };
    RunReport {
        flow: exec.name.clone(),
        status: ended.status,
        output: ended.output,
        error: ended.error,
        steps: ended.steps,
        elapsed_ms: elapsed_ms(started),
    }
}

/// A running step of a run (polled in the run's task).
type StepFuture<'a> = Pin<Box<dyn Future<Output = (usize, Outcome)> + Send + 'a>>;

/// `run_steps` behind a declared `Send` future type: sub-flows recurse through it.
fn run_steps_boxed(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Arc<Value>,
    ctx: Arc<Ctx>,
) -> Pin<Box<dyn Future<Output = FlowOutcome> + Send>> {
    Box::pin(run_steps(exec, rt, inputs, ctx))
}

/// Where the steps of a run stand.
struct Progress {
    /// Per step, how many of the steps it needs have not finished.
    remaining: Vec<usize>,
    /// Results of finished steps, until their last reader has started.
    outputs: Vec<Option<Arc<Value>>>,
    /// Per result, how many readers have not started (the output counts as one).
    readers: Vec<usize>,
    /// What each step did.
    reports: Vec<StepReport>,
    /// Whether each step has started (a `for_each` fed by a paged step starts with it).
    started: Vec<bool>,
}

impl Progress {
    fn new(exec: &Executable) -> Self {
        // Results are released as soon as their last reader has started, so a reader that is
        // the only holder can move values out instead of copying them.
        let mut readers: Vec<usize> = exec.steps.iter().map(|s| s.dependants.len()).collect();
        for &j in &exec.output_needs {
            readers[j] += 1;
        }
        Self {
            remaining: exec.steps.iter().map(|s| s.needs.len()).collect(),
            outputs: vec![None; exec.steps.len()],
            readers,
            started: vec![false; exec.steps.len()],
            reports: exec
                .steps
                .iter()
                .map(|s| StepReport::not_started(&s.name))
                .collect(),
        }
    }

    /// Reports how step `i` ended.
    fn report(&mut self, env: StepEnv<'_>, i: usize, outcome: &Outcome) {
        let report = &mut self.reports[i];
        report.status = Some(outcome.status);
        report.attempts = outcome.attempts;
        report.elapsed_ms = u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX);
        report.error.clone_from(&outcome.error);
        env.rt.observer().event(&Event::StepFinished {
            step: &env.exec.steps[i].name,
            status: outcome.status,
            elapsed: outcome.elapsed,
            attempts: outcome.attempts,
            error: outcome.error.as_ref(),
        });
    }
}

async fn run_steps(
    exec: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Arc<Value>,
    ctx: Arc<Ctx>,
) -> FlowOutcome {
    rt.observer().event(&Event::RunStarted {
        flow: &exec.name,
        steps: exec.steps.len(),
    });
    let flow_value = serde_json::json!({ "name": exec.name });
    let mut progress = Progress::new(&exec);
    // A connection's `base_url` and headers may read the inputs and secrets: worked out once.
    let connections = match exec
        .connections
        .iter()
        .map(|c| Resolved::of(c, &rt, &inputs, &exec.templates))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(c) => c,
        Err(e) => return FlowOutcome::stopped(RunStatus::Failed, e.message, progress.reports),
    };
    // The steps of a run are polled in the run's own task: no task spawn per step.
    let env = StepEnv {
        exec: &exec,
        rt: &rt,
        inputs: &inputs,
        flow: &flow_value,
        ctx: &ctx,
        connections: &connections,
    };
    let mut set = FuturesUnordered::new();
    for i in 0..exec.steps.len() {
        if progress.remaining[i] == 0 {
            push_step(&mut set, env, i, &mut progress);
        }
    }
    while !set.is_empty() {
        let next = tokio::select! {
            next = set.next() => next,
            () = rt.cancel_token().cancelled() => {
                drop(set);
                return FlowOutcome::stopped(RunStatus::Cancelled, "the run was cancelled".into(), progress.reports);
            }
        };
        let Some((i, outcome)) = next else { break };
        let step = &exec.steps[i];
        progress.report(env, i, &outcome);
        if outcome.status == StepStatus::Failed && step.on_error == OnError::Fail {
            let why = outcome
                .error
                .as_ref()
                .map_or_else(String::new, ToString::to_string);
            let failure = format!("step `{}` failed: {why}", step.name);
            return FlowOutcome::stopped(RunStatus::Failed, failure, progress.reports);
        }
        if outcome.status == StepStatus::Cancelled {
            // A step cut short by the failure of the paged step feeding it: that failure is
            // on its way and ends the run; nothing after this step may start meanwhile.
            continue;
        }
        progress.outputs[i] = Some(Arc::new(outcome.output));
        for &d in &step.dependants {
            progress.remaining[d] -= 1;
            if progress.remaining[d] == 0 {
                push_step(&mut set, env, d, &mut progress);
            }
        }
    }
    drop(set);
    let (status, output, error) = match flow_output(env, &mut progress.outputs) {
        Ok(output) => (RunStatus::Succeeded, Some(output), None),
        Err(e) => (
            RunStatus::Failed,
            None,
            Some(format!("the output could not be built: {e}")),
        ),
    };
    FlowOutcome {
        status,
        output,
        error,
        steps: progress.reports,
    }
}

/// The flow's output, once every step is done.
fn flow_output(env: StepEnv<'_>, outputs: &mut [Option<Arc<Value>>]) -> Result<Value, StepError> {
    let exec = env.exec;
    match &exec.output {
        None => Ok(Value::Null),
        // A lone `{{ steps.X.… }}` output moves the result out instead of copying it (every
        // step is done, so the run holds its only reference).
        Some(Compiled::Path(path))
            if path.first().is_some_and(|r| r == "steps")
                && let Some(value) = take_step_path(exec, outputs, path) =>
        {
            Ok(value)
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
            let mut scope = Scope::new(env.inputs, env.flow, steps);
            Ok(c.eval_moving(&mut scope, &exec.templates)?)
        }
    }
}

/// How many streamed items wait between a paged step and the `for_each` reading them.
const STREAM_ITEMS: usize = 256;

/// Starts step `i` (polled in the run's task), handing it the results it needs. A step a
/// resumed run already finished is taken from the journal. A paged step that streams into a
/// `for_each` starts that step with it, joined by a bounded channel.
fn push_step<'a>(
    set: &mut FuturesUnordered<StepFuture<'a>>,
    env: StepEnv<'a>,
    i: usize,
    progress: &mut Progress,
) {
    if std::mem::replace(&mut progress.started[i], true) {
        return;
    }
    let deps = take_deps(env, i, progress);
    // The items of a paged step are in no record: it reads (or replays) its pages again
    // unless the step reading them had finished.
    let stream = env.exec.steps[i]
        .stream_into
        .filter(|&f| replayed(env, f).is_none() && !progress.started[f]);
    if let Some(f) = stream {
        progress.started[f] = true;
        let f_deps = take_deps(env, f, progress);
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_ITEMS);
        spawn(set, env, f, f_deps, Feed::Source(rx));
        spawn(set, env, i, deps, Feed::Sink(tx));
        return;
    }
    if let Some(outcome) = replayed(env, i) {
        set.push(Box::pin(std::future::ready((i, outcome))));
        return;
    }
    spawn(set, env, i, deps, Feed::None);
}

/// The results step `i` needs: the last reader of a result takes it, the others share it.
fn take_deps(env: StepEnv<'_>, i: usize, progress: &mut Progress) -> Vec<(usize, Arc<Value>)> {
    let (outputs, readers) = (&mut progress.outputs, &mut progress.readers);
    env.exec.steps[i]
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
        .collect()
}

/// How step `i` ended in the run this one resumes, if it finished there (a sub-flow's step
/// under its path, `STEP[ITEM]/NAME`).
fn replayed(env: StepEnv<'_>, i: usize) -> Option<Outcome> {
    let ctx = env.ctx;
    let journal = ctx.journal.as_ref()?;
    let name = &env.exec.steps[i].name;
    let recorded = if ctx.top {
        journal.finished(name)
    } else if journal.replays() {
        journal.finished(&format!("{}{name}", ctx.prefix))
    } else {
        None
    };
    let (status, output) = recorded?;
    Some(Outcome {
        status: *status,
        output: output.clone(),
        attempts: 0,
        error: None,
        elapsed: Duration::ZERO,
        trace: Trace::default(),
    })
}

/// Runs step `i` in the run's task and records how it ended.
fn spawn<'a>(
    set: &mut FuturesUnordered<StepFuture<'a>>,
    env: StepEnv<'a>,
    i: usize,
    deps: Vec<(usize, Arc<Value>)>,
    feed: Feed,
) {
    set.push(Box::pin(async move {
        let started = Instant::now();
        let outcome = match AssertUnwindSafe(run_step(env, i, deps, feed))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(payload) => panicked_step(env, started, payload.as_ref()),
        };
        (i, record_step(env, i, outcome).await)
    }));
}

/// A step that panicked (a bug, not bad data: data gets errors) fails like any other, so its
/// run ends, is recorded and gives up its lease instead of hanging.
fn panicked_step(
    env: StepEnv<'_>,
    started: Instant,
    payload: &(dyn std::any::Any + Send),
) -> Outcome {
    let message = env.rt.redactor().redact(&panic_message(payload));
    tracing::error!(flow = %env.exec.name, "A step panicked: {message}");
    Outcome {
        status: StepStatus::Failed,
        output: Value::Null,
        attempts: 1,
        error: Some(StepError::new(
            ErrorKind::Other,
            format!("internal error (the step panicked: {message}); please report it"),
        )),
        elapsed: started.elapsed(),
        trace: Trace::default(),
    }
}

/// What a panic said, when it said it with text.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Whether flow `exec` may write: it has a write step, or calls a flow (which may).
fn may_write(exec: &Executable) -> bool {
    exec.steps.iter().any(|s| match &s.kind {
        ExecKind::Action { operation, .. } => operation.is_write(),
        ExecKind::Flow { .. } => true,
        _ => false,
    })
}

/// Records how one of the run's own steps ended in its journal (a cancelled step is not: it
/// runs again on resume), and how an API step of a sub-flow that may write ended, under its
/// path (`STEP[ITEM]/NAME`): a resumed run reuses what such a read answered before it stopped
/// instead of reading again what its own writes may have changed since. (A sub-flow's other
/// steps follow from those and are worked out again; a read-only sub-flow, such as
/// contact-360's, is simply run again.) A step the store could not record fails.
async fn record_step(env: StepEnv<'_>, i: usize, mut outcome: Outcome) -> Outcome {
    let Some(journal) = env.ctx.journal.as_ref() else {
        return outcome;
    };
    if outcome.status == StepStatus::Cancelled {
        return outcome;
    }
    let step = &env.exec.steps[i];
    let calls = matches!(&step.kind, ExecKind::Action { .. });
    if !(env.ctx.top || calls && may_write(env.exec)) {
        return outcome;
    }
    let path = if env.ctx.top {
        std::borrow::Cow::Borrowed(step.name.as_str())
    } else {
        std::borrow::Cow::Owned(format!("{}{}", env.ctx.prefix, step.name))
    };
    let done = StepDone {
        name: &path,
        status: outcome.status,
        attempts: outcome.attempts,
        elapsed: outcome.elapsed,
        request: outcome.trace.request.as_ref(),
        response_status: outcome.trace.status,
        output: &outcome.output,
        error: outcome.error.as_ref(),
        redactor: env.rt.redactor(),
        // (A sub-flow's write is queued: its answer is committed with its write intent.)
        wrote: env.ctx.top
            && matches!(&step.kind, ExecKind::Action { operation, .. } if operation.is_write()),
    };
    if let Err(e) = journal.step_finished(done).await {
        outcome.status = StepStatus::Failed;
        outcome.error = Some(StepError::new(
            ErrorKind::Other,
            format!("the run store could not record the step: {e}"),
        ));
    }
    outcome
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
