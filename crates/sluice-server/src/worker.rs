//! The runner's workers: claim queued runs (and runs of dead runners whose lease expired)
//! from the store, run them with their journal under a renewed lease (a `for_each` output
//! streamed to the store item by item), and on shutdown hand back the runs that did not finish
//! in time.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use sluice_engine::{RunJournal, RunReport, RunStatus};
use sluice_store::RunId;
use tokio::task::JoinSet;

use crate::registry::{FlowEntry, Snapshot};
use crate::shared::Shared;

/// How often the queue is looked at when nothing wakes the workers.
const POLL: Duration = Duration::from_millis(250);

/// Claims and runs runs until the runner stops; returns how many it handed back.
pub(crate) async fn claim_loop(shared: Arc<Shared>) -> usize {
    let mut running: JoinSet<bool> = JoinSet::new();
    let cancel_runs = tokio_util::sync::CancellationToken::new();
    loop {
        while running.try_join_next().is_some() {}
        let free = shared.workers.saturating_sub(running.len());
        if free > 0 && !shared.stopping.is_cancelled() {
            match shared
                .store
                .claim_runs(&shared.owner, shared.lease, free)
                .await
            {
                Ok(ids) => {
                    for id in ids {
                        running.spawn(execute_guarded(shared.clone(), id, cancel_runs.clone()));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "Cannot claim runs."),
            }
        }
        shared
            .metrics
            .running
            .set(i64::try_from(running.len()).unwrap_or(i64::MAX));
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = shared.stopping.cancelled() => break,
        }
    }
    // Stopping: no more claims. Running runs may finish until the deadline; then they are
    // cancelled and handed back to the queue (another runner, or the next start, resumes
    // them from their last finished step).
    let mut handed_back = 0;
    let deadline = tokio::time::sleep(shared.shutdown_timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = running.join_next() => match next {
                None => break,
                Some(Ok(false)) => handed_back += 1,
                Some(_) => {}
            },
            () = &mut deadline, if !cancel_runs.is_cancelled() => cancel_runs.cancel(),
        }
    }
    handed_back
}

/// A claimed run made ready: its flow, typed inputs and resumed journal.
struct Ready {
    flow: String,
    entry: Arc<FlowEntry>,
    inputs: Value,
    journal: Arc<RunJournal>,
}

/// [`execute`], and a panic of it (a bug) fails the run rather than leaving it `running`: the
/// engine already turns a step's panic into a failed step, this covers the rest.
async fn execute_guarded(
    shared: Arc<Shared>,
    id: RunId,
    shutdown: tokio_util::sync::CancellationToken,
) -> bool {
    use futures::FutureExt as _;
    let run = std::panic::AssertUnwindSafe(execute(shared.clone(), id.clone(), shutdown));
    match run.catch_unwind().await {
        Ok(finished) => finished,
        Err(_) => {
            fail(
                &shared,
                &id,
                "unknown",
                "internal error: the runner panicked while running it; please report it",
            )
            .await;
            true
        }
    }
}

/// Runs claimed run `id` to its end. Returns false when it was handed back unfinished.
async fn execute(
    shared: Arc<Shared>,
    id: RunId,
    shutdown: tokio_util::sync::CancellationToken,
) -> bool {
    let snap = shared.registry.snapshot();
    let ready = match prepare(&shared, &snap, &id).await {
        Ok(ready) => ready,
        Err(finished) => return finished,
    };
    // The lease is renewed while the run goes; losing it (another runner took over after a
    // stall) cancels this copy.
    let lost = tokio_util::sync::CancellationToken::new();
    let lease = sluice_project::lease::keep(
        shared.store.clone(),
        id.clone(),
        shared.owner.clone(),
        shared.lease,
        lost.clone(),
    );
    let runtime = snap.runtime.clone();
    let exec = ready.entry.exec.clone();
    let journal = Some(ready.journal.clone());
    // A flow whose output is a `for_each`'s results streams it: each item goes to the store
    // (with the journal's next batch) as soon as it and the items before it are done, and none
    // is kept here, so memory does not grow with the number of items.
    let run: std::pin::Pin<Box<dyn Future<Output = RunReport> + Send>> =
        if exec.output_items.is_some() {
            let (items, mut stored) = tokio::sync::mpsc::channel(64);
            tokio::spawn(async move { while stored.recv().await.is_some() {} });
            Box::pin(sluice_engine::run_streamed(
                exec,
                runtime.clone(),
                ready.inputs,
                journal,
                items,
            ))
        } else {
            Box::pin(sluice_engine::run_with(
                exec,
                runtime.clone(),
                ready.inputs,
                journal,
            ))
        };
    tokio::pin!(run);
    let report = tokio::select! {
        report = &mut run => Some(report),
        () = lost.cancelled() => None,
        () = shutdown.cancelled() => {
            // The shutdown deadline passed: stop every run of this runtime at its next await.
            runtime.cancel_token().cancel();
            Some(run.await)
        }
    };
    drop(lease);
    let Some(report) = report else {
        return false;
    };
    if report.status == RunStatus::Cancelled {
        let _ = shared.store.release_run(&id, &shared.owner).await;
        return false;
    }
    let status = match report.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::TimedOut => "timed_out",
        RunStatus::Cancelled => "cancelled",
    };
    shared.metrics.run_ended(&ready.flow, status);
    if let Err(e) = ready.journal.finish(&report, runtime.redactor()).await {
        tracing::error!(run = %id, error = %e, "Cannot record the run's end.");
    }
    tracing::info!(run = %id, flow = %ready.flow, status, elapsed_ms = report.elapsed_ms, "Run ended.");
    true
}

/// Reads claimed run `id`, finds its flow, types its inputs and resumes its journal.
/// `Err(finished)` when it cannot run: `true` if it is done with (failed, or gone), `false` if
/// it was handed back.
async fn prepare(shared: &Shared, snap: &Snapshot, id: &RunId) -> Result<Ready, bool> {
    let detail = match shared.store.run_head(id).await {
        Ok(Some(d)) => d,
        Ok(None) => return Err(true),
        Err(e) => {
            tracing::error!(run = %id, error = %e, "Cannot read a claimed run.");
            return Err(true);
        }
    };
    if detail.claims > 1 {
        shared.metrics.takeovers.inc();
        tracing::info!(run = %id, flow = %detail.flow, claims = detail.claims, "Resuming a run another runner did not finish.");
    }
    let Some(entry) = snap.flows.get(&detail.flow).cloned() else {
        let why = format!("flow `{}` is not loaded by this runner", detail.flow);
        fail(shared, id, &detail.flow, &why).await;
        return Err(true);
    };
    let given: Map<String, Value> = match detail.inputs {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let inputs = match sluice_engine::prepare_inputs(&entry.exec, given) {
        Ok(i) => i,
        Err(problems) => {
            fail(shared, id, &detail.flow, &problems.to_string()).await;
            return Err(true);
        }
    };
    match RunJournal::resume(shared.recorder.clone(), id.clone(), false).await {
        Ok(j) => Ok(Ready {
            flow: detail.flow,
            entry,
            inputs,
            journal: Arc::new(j),
        }),
        Err(e) => {
            tracing::error!(run = %id, error = %e, "Cannot read the run's finished steps.");
            let _ = shared.store.release_run(id, &shared.owner).await;
            Err(false)
        }
    }
}

async fn fail(shared: &Shared, id: &RunId, flow: &str, why: &str) {
    tracing::error!(run = %id, flow, "Run failed before it started: {why}");
    shared.metrics.run_ended(flow, "failed");
    if let Err(e) = shared
        .store
        .finish_run(id, sluice_store::RunStatus::Failed, None, Some(why))
        .await
    {
        tracing::error!(run = %id, error = %e, "Cannot record the run's end.");
    }
}
