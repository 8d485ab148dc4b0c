//! `sluice run`: one run of a flow from the command line — inputs from flags or a file,
//! output as JSON on stdout, logs and progress on stderr, `--dry-run`, Ctrl-C; and the part
//! `sluice runs resume` shares: carrying out a loaded flow under a renewed lease.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sluice_engine::{RunJournal, RunOptions, RunStatus, Runtime, StepStatus};
use sluice_project::runtime::Flows;
use sluice_project::{LoadedFlow, RuntimeSettings, SecretStore};

use crate::args::{ExecArgs, OutputFormat, RunArgs};
use crate::error::CliError;
use crate::exit::Exit;
use crate::progress::Progress;

/// How long a `sluice run` holds its run before another process may take it over; renewed
/// every third of it while the run goes.
pub(crate) const LEASE: Duration = Duration::from_secs(60);

/// `sluice run FLOW`.
pub(crate) fn run(args: RunArgs) -> Result<Exit, CliError> {
    crate::logs::init(&args.exec.logs);
    let loaded = LoadedFlow::load(&args.flow)?;
    let given = sluice_project::inputs::from_args(
        &loaded.target,
        &args.inputs,
        args.inputs_file.as_deref(),
    )?;
    let inputs = sluice_engine::prepare_inputs(&loaded.target, given)
        .map_err(|p| CliError::msg(p.problems.join("\n")))?;
    let flow_path = std::path::absolute(&args.flow)?.display().to_string();
    let record = !(args.dry_run || args.no_record);
    crate::block_on(async move {
        let journal = if record {
            let store = sluice_project::store::open_store(
                args.exec.store.as_deref(),
                loaded.files.project(),
            )
            .await?;
            let new = sluice_store::NewRun {
                flow_hash: loaded.target.content_hash.clone(),
                ..sluice_store::NewRun::new(
                    loaded.target.name.clone(),
                    b"",
                    "manual",
                    inputs.clone(),
                )
                .at_path(flow_path)
                .running(sluice_store::Lease {
                    owner: sluice_project::host::cli_owner(),
                    duration: LEASE,
                })
            };
            let recorder = sluice_engine::Recorder::start(store);
            let journal = RunJournal::start(recorder.clone(), new);
            recorder
                .flush()
                .await
                .map_err(|e| CliError::msg(format!("cannot record the run: {e}")))?;
            tracing::info!(run = %journal.run_id(), "Run recorded.");
            Some(Arc::new(journal))
        } else {
            None
        };
        execute(&loaded, &args.exec, args.dry_run, inputs, journal).await
    })
}

/// Runs `loaded.target` with `inputs`, recording it in `journal` when given; prints the output
/// (stdout) or why it failed (stderr).
pub(crate) async fn execute(
    loaded: &LoadedFlow,
    exec: &ExecArgs,
    dry_run: bool,
    inputs: Value,
    journal: Option<Arc<RunJournal>>,
) -> Result<Exit, CliError> {
    let target = &loaded.target;
    let progress = Arc::new(Progress::new(target, dry_run));
    let sandbox = if exec.sandbox {
        Some(super::sandbox::start_local(exec.seed.as_deref()).await?)
    } else {
        None
    };
    let settings = RuntimeSettings {
        options: RunOptions {
            concurrency: exec.concurrency.max(1),
            connection_concurrency: exec.concurrency.max(1),
            dry_run,
            max_response_bytes: exec.max_response_bytes,
            cache_ttl: exec.cache_ttl,
        },
        connections: exec.connections.clone(),
        routing: sandbox.as_ref().map(super::sandbox::routing),
    };
    // The limits of the connectors the flows use (reading only those connectors).
    let used: std::collections::BTreeMap<&str, &sluice_model::Connector> = loaded
        .flows
        .values()
        .flat_map(|f| f.connections.iter())
        .map(|c| (c.connector.name.value.as_str(), &*c.connector))
        .collect();
    let limits = sluice_connectors::RateLimits::from_connectors(used.into_values())
        .map_err(|e| CliError::msg(e.to_string()))?;
    let rt = settings
        .build(
            progress.clone(),
            Arc::new(limits),
            &Flows {
                files: &loaded.files,
                callable: loaded.flows.values().cloned().collect(),
                // The credentials of the flow and of the flows it calls (`flow:` steps).
                credentials_of: loaded.with_called_flows(),
            },
            SecretStore::Url(exec.store.as_deref()),
        )
        .await?;
    let rt = Arc::new(rt);
    let cancel = rt.cancel_token().clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    // The run's lease is renewed while it goes; losing it (another process took the run over)
    // stops this one.
    let lease = journal.as_ref().map(|j| {
        sluice_project::lease::keep(
            j.recorder().store().clone(),
            j.run_id().clone(),
            sluice_project::host::cli_owner(),
            LEASE,
            rt.cancel_token().clone(),
        )
    });
    let (report, streamed) = match exec.output {
        OutputFormat::Json => {
            let report =
                sluice_engine::run_with(target.clone(), rt.clone(), inputs, journal.clone()).await;
            (report, false)
        }
        OutputFormat::Jsonl => {
            let (items, lines) = tokio::sync::mpsc::channel(64);
            let writer = tokio::spawn(write_lines(lines, rt.clone()));
            let report = sluice_engine::run_streamed(
                target.clone(),
                rt.clone(),
                inputs,
                journal.clone(),
                items,
            )
            .await;
            let _ = writer.await;
            (report, target.output_items.is_some())
        }
    };
    progress.finish();
    drop(lease);
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    if let Some(j) = &journal {
        j.finish(&report, rt.redactor())
            .await
            .map_err(|e| CliError::msg(format!("cannot record the run's end: {e}")))?;
    }
    let format = if streamed { None } else { Some(exec.output) };
    Ok(print_report(
        &report,
        &rt,
        journal.as_deref(),
        dry_run,
        format,
    ))
}

/// Prints each streamed item on its own line, as the run's output is stored (redacted).
async fn write_lines(mut lines: tokio::sync::mpsc::Receiver<Value>, rt: Arc<Runtime>) {
    while let Some(item) = lines.recv().await {
        let item = rt.redactor().redact_json(&item);
        outln!("{}", serde_json::to_string(&item).unwrap_or_default());
    }
}

/// The output on stdout, or why the run did not succeed on stderr; the exit code.
/// `format` is `None` when the output was streamed already.
fn print_report(
    report: &sluice_engine::RunReport,
    rt: &sluice_engine::Runtime,
    journal: Option<&RunJournal>,
    dry_run: bool,
    format: Option<OutputFormat>,
) -> Exit {
    match report.status {
        RunStatus::Succeeded => {
            // The output as stored: an API that echoes a credential does not print it.
            let output = rt
                .redactor()
                .redact_json(report.output.as_ref().unwrap_or(&Value::Null));
            if dry_run {
                outln!("output:");
            }
            match (format, output) {
                (None, _) => {}
                (Some(OutputFormat::Json), output) => {
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&output).unwrap_or_default()
                    );
                }
                (Some(OutputFormat::Jsonl), Value::Array(items)) => {
                    for item in items {
                        outln!("{}", serde_json::to_string(&item).unwrap_or_default());
                    }
                }
                (Some(OutputFormat::Jsonl), output) => {
                    outln!("{}", serde_json::to_string(&output).unwrap_or_default());
                }
            }
            Exit::Success
        }
        RunStatus::Cancelled => {
            eprintln!(
                "cancelled after {} ms: {}",
                report.elapsed_ms,
                summary(report)
            );
            if let Some(j) = journal {
                eprintln!("resume it with `sluice runs resume {}`", j.run_id());
            }
            Exit::Cancelled
        }
        RunStatus::Failed | RunStatus::TimedOut => {
            eprintln!(
                "error: {}",
                rt.redactor()
                    .redact(report.error.as_deref().unwrap_or("the run failed"))
            );
            eprintln!("{}", summary(report));
            if let Some(j) = journal {
                eprintln!("run {} (see `sluice runs show {}`)", j.run_id(), j.run_id());
            }
            Exit::Failure
        }
    }
}

fn summary(report: &sluice_engine::RunReport) -> String {
    let count = |s: Option<StepStatus>| report.steps.iter().filter(|r| r.status == s).count();
    format!(
        "steps: {} succeeded, {} failed, {} skipped, {} cancelled, {} not started",
        count(Some(StepStatus::Succeeded)),
        count(Some(StepStatus::Failed)),
        count(Some(StepStatus::Skipped)),
        count(Some(StepStatus::Cancelled)),
        count(None)
    )
}
