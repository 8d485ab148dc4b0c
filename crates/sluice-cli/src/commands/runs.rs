//! `sluice runs`: the recorded runs — list, show one, export as JSON Lines, verify the audit
//! log, prune old runs, and resume an interrupted run from its last finished step.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sluice_engine::{Recorder, RunJournal};
use sluice_project::LoadedFlow;
use sluice_project::store::open_store;
use sluice_store::{RunDetail, RunFilter, RunId, RunStatus, Store, VerifyReport};

use crate::args::{Format, ResumeArgs, RunsCommand, StoreArg};
use crate::block_on;
use crate::error::CliError;
use crate::exit::Exit;

/// The default retention when `sluice.toml` sets none.
const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// `sluice runs …`.
pub(crate) fn command(cmd: RunsCommand) -> Result<Exit, CliError> {
    match cmd {
        RunsCommand::Resume(args) => resume(args),
        RunsCommand::List {
            flow,
            status,
            limit,
            format,
            store,
        } => block_on(list(flow, status, limit, format, store)),
        RunsCommand::Show {
            run,
            output: true,
            store,
            ..
        } => block_on(show_output(run, store)),
        RunsCommand::Show {
            run, format, store, ..
        } => block_on(show(run, format, store)),
        RunsCommand::Export {
            since,
            output,
            store,
        } => block_on(export(since, output, store)),
        RunsCommand::Verify { store } => block_on(verify(store)),
        RunsCommand::Prune { older_than, store } => {
            let age = match older_than {
                Some(age) => age,
                None => configured_retention()?,
            };
            block_on(prune(age, store))
        }
    }
}

/// `sluice runs list`.
async fn list(
    flow: Option<String>,
    status: Option<String>,
    limit: usize,
    format: Format,
    store: StoreArg,
) -> Result<Exit, CliError> {
    let status = status.map(|s| s.parse::<RunStatus>()).transpose()?;
    let store = open(&store).await?;
    let filter = RunFilter {
        flow,
        status,
        since: None,
        limit: Some(limit),
    };
    let runs = store.list_runs(&filter).await?;
    match format {
        Format::Json => outln!("{}", to_json(&runs)?),
        Format::Text => print_list(&runs),
    }
    Ok(Exit::Success)
}

/// `sluice runs show RUN`.
async fn show(run: String, format: Format, store: StoreArg) -> Result<Exit, CliError> {
    let id: RunId = run.parse()?;
    let store = open(&store).await?;
    let detail = store.get_run(&id).await?.ok_or_else(|| no_run(&id))?;
    match format {
        Format::Json => outln!("{}", to_json(&detail)?),
        Format::Text => print_detail(&detail),
    }
    Ok(Exit::Success)
}

/// How many items of a streamed output `runs show --output` reads from the store at a time.
const OUTPUT_PAGE: usize = 500;

/// `sluice runs show RUN --output`: a streamed output's items as JSON lines (read a page at a
/// time, never whole), any other output as JSON.
async fn show_output(run: String, store: StoreArg) -> Result<Exit, CliError> {
    let id: RunId = run.parse()?;
    let store = open(&store).await?;
    let (_, output) = store.run_output(&id).await?.ok_or_else(|| no_run(&id))?;
    let output = output.unwrap_or(Value::Null);
    if sluice_store::streamed_items(&output).is_none() {
        outln!("{}", to_json(&output)?);
        return Ok(Exit::Success);
    }
    let mut after = None;
    loop {
        let page = store.output_items(&id, after, OUTPUT_PAGE).await?;
        for (_, item) in &page {
            let line = serde_json::to_string(item).map_err(|e| CliError::msg(e.to_string()))?;
            outln!("{line}");
        }
        match page.last() {
            Some(&(last, _)) if page.len() == OUTPUT_PAGE => after = Some(last),
            _ => break,
        }
    }
    Ok(Exit::Success)
}

/// `sluice runs export --since …`.
async fn export(since: String, output: Option<PathBuf>, store: StoreArg) -> Result<Exit, CliError> {
    let since = parse_since(&since)?;
    let store = open(&store).await?;
    let count = match &output {
        Some(path) => {
            let file = fs_err::File::create(path)?;
            let mut out = std::io::BufWriter::new(file);
            store.export_since(since, &mut out).await
        }
        None => {
            let mut out = std::io::stdout().lock();
            store.export_since(since, &mut out).await
        }
    }?;
    eprintln!("exported {count} run{}", if count == 1 { "" } else { "s" });
    Ok(Exit::Success)
}

/// `sluice runs verify`.
async fn verify(store: StoreArg) -> Result<Exit, CliError> {
    let store = open(&store).await?;
    match store.verify_audit().await? {
        VerifyReport::Ok { records, head_hash } => {
            outln!("audit log intact: {records} records, head {head_hash}");
            Ok(Exit::Success)
        }
        VerifyReport::FirstBad { seq, reason } => {
            outln!("audit log ALTERED: record {seq} is the first bad one: {reason}");
            Ok(Exit::Failure)
        }
    }
}

/// `sluice runs prune`.
async fn prune(age: std::time::Duration, store: StoreArg) -> Result<Exit, CliError> {
    let store = open(&store).await?;
    let removed = store.prune_older_than(age).await?;
    outln!(
        "removed {removed} run{} that ended more than {} ago",
        if removed == 1 { "" } else { "s" },
        humantime::format_duration(age)
    );
    Ok(Exit::Success)
}

async fn open(arg: &StoreArg) -> Result<Store, CliError> {
    Ok(open_store(arg.store.as_deref(), None).await?)
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::msg(e.to_string()))
}

fn no_run(id: &RunId) -> CliError {
    CliError::msg(format!("no run `{id}` in the store"))
        .hint("`sluice runs list` shows the recorded runs (and `--store` picks another store)")
}

/// `[runs] retention` of the nearest sluice.toml, else 30 days.
fn configured_retention() -> Result<std::time::Duration, CliError> {
    Ok(sluice_project::files::project_near(Path::new("."))?
        .and_then(|(project, _)| project.runs.retention)
        .map_or(DEFAULT_RETENTION, |d| d.0))
}

/// `1d` (that long ago) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let age = crate::args::duration(text).map_err(|_| {
        CliError::msg(format!(
            "`--since {text}`: write a length of time (`1d`, `12h`) or an RFC 3339 time"
        ))
    })?;
    // An age past the first representable date means "everything".
    Ok(chrono::TimeDelta::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC))
}

fn duration_text(d: Option<std::time::Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d.as_secs() >= 1 => format!("{:.1}s", d.as_secs_f64()),
        Some(d) => format!("{}ms", d.as_millis()),
    }
}

fn time_text(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn print_list(runs: &[sluice_store::RunSummary]) {
    if runs.is_empty() {
        eprintln!("no runs recorded");
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<26}  {:<24}  {:<10}  {:<9}  {:>8}  STARTED (UTC)",
        "RUN", "FLOW", "TRIGGER", "STATUS", "DURATION"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "{:<26}  {:<24}  {:<10}  {:<9}  {:>8}  {}",
            r.id,
            r.flow,
            r.trigger,
            r.status,
            duration_text(r.duration()),
            time_text(r.started_at.or(Some(r.created_at)))
        );
    }
}

fn print_detail(d: &RunDetail) {
    let mut out = std::io::stdout().lock();
    let duration = match (d.run.started_at, d.run.finished_at) {
        (Some(s), Some(e)) => (e - s).to_std().ok(),
        _ => None,
    };
    let _ = writeln!(out, "run       {}", d.run.id);
    let _ = writeln!(
        out,
        "flow      {} (sha256 {})",
        d.run.flow,
        short(&d.run.flow_hash)
    );
    if let Some(p) = &d.run.flow_path {
        let _ = writeln!(out, "file      {p}");
    }
    let _ = writeln!(out, "trigger   {}", d.run.trigger);
    let _ = writeln!(out, "status    {}", d.run.status);
    let _ = writeln!(out, "started   {}", time_text(d.run.started_at));
    let _ = writeln!(out, "finished  {}", time_text(d.run.finished_at));
    let _ = writeln!(out, "duration  {}", duration_text(duration));
    if d.run.claims > 1 {
        let _ = writeln!(out, "resumed   {} times", d.run.claims - 1);
    }
    let _ = writeln!(out, "inputs    {}", d.run.inputs);
    if let Some(e) = &d.run.error {
        let _ = writeln!(out, "error     {e}");
    }
    let _ = writeln!(out, "\nsteps:");
    for step in &d.steps {
        print_step(&mut out, step);
    }
    if !d.http_calls.is_empty() {
        let _ = writeln!(out, "\nHTTP calls:");
        for c in &d.http_calls {
            print_call(&mut out, c);
        }
    }
    if let Some(o) = &d.run.output {
        let _ = writeln!(
            out,
            "\noutput:\n{}",
            serde_json::to_string_pretty(o).unwrap_or_default()
        );
    }
}

/// A step of `runs show`: status, attempts, time, request, output, error.
fn print_step(out: &mut impl Write, s: &sluice_store::StepRecord) {
    let took = (s.finished_at - s.started_at).to_std().ok();
    let item = s.item.map(|i| format!("[{i}]")).unwrap_or_default();
    let status = s
        .response_status
        .map(|c| format!(" HTTP {c}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {}{item}  {}  attempts {}  {}{status}",
        s.step,
        s.status,
        s.attempts,
        duration_text(took)
    );
    if let Some(r) = &s.request {
        let method = r.get("method").and_then(Value::as_str).unwrap_or("");
        let url = r.get("url").and_then(Value::as_str).unwrap_or("");
        let _ = writeln!(out, "    request  {method} {url}");
        if let Some(body) = r.get("body") {
            let _ = writeln!(out, "    body     {}", clip(&body.to_string()));
        }
    }
    if let Some(o) = &s.output {
        let _ = writeln!(out, "    output   {}", clip(&o.to_string()));
    }
    if let Some(e) = &s.error {
        let text = e.as_str().map_or_else(|| e.to_string(), str::to_string);
        let _ = writeln!(out, "    error    {}", clip(&text));
    }
}

/// An HTTP call of `runs show`.
fn print_call(out: &mut impl Write, c: &sluice_store::HttpCall) {
    let item = c.item.map(|i| format!("[{i}]")).unwrap_or_default();
    let status = c
        .status
        .map_or_else(|| "no answer".to_string(), |s| s.to_string());
    let _ = writeln!(
        out,
        "  {}{item} #{}  {} {}  → {status}  {}ms{}",
        c.step,
        c.attempt,
        c.method,
        c.url,
        c.elapsed_ms,
        c.error
            .as_deref()
            .map(|e| format!("  ({})", clip(e)))
            .unwrap_or_default()
    );
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// At most 200 characters of `text`, on one line.
fn clip(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

fn resume(args: ResumeArgs) -> Result<Exit, CliError> {
    crate::logs::init(&args.exec.logs);
    let id: RunId = args.run.parse()?;
    block_on(async move {
        let store = open_store(args.exec.store.as_deref(), None).await?;
        // The run's own row: its steps and calls are read by the journal below.
        let mut run = store.run_head(&id).await?.ok_or_else(|| no_run(&id))?;
        let path = run.flow_path.clone().ok_or_else(|| {
            CliError::msg(format!(
                "run `{id}` was recorded without its flow file's path"
            ))
        })?;
        let loaded = LoadedFlow::load(Path::new(&path))?;
        if loaded.target.content_hash != run.flow_hash && !args.allow_changed {
            return Err(CliError::msg(format!(
                "{path} changed since run `{id}` started; resuming would mix two versions of the \
                 flow. Restore it, or resume with --allow-changed"
            )));
        }
        let store = sluice_project::store::with_project_settings(store, loaded.files.project());
        let given: Map<String, Value> = match std::mem::take(&mut run.inputs) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let inputs = sluice_engine::prepare_inputs(&loaded.target, given)
            .map_err(|p| CliError::msg(p.problems.join("\n")))?;
        let me = sluice_project::host::cli_owner();
        let lease = super::run::LEASE;
        let claimed = match run.status {
            RunStatus::Succeeded => {
                return Err(CliError::msg(format!(
                    "run `{id}` succeeded: there is nothing to resume"
                )));
            }
            RunStatus::Failed | RunStatus::Cancelled | RunStatus::TimedOut => {
                store.reopen_run(&id, &me, lease).await?
            }
            RunStatus::Queued | RunStatus::Running => {
                let started = store.start_run(&id, &me, lease).await?;
                match (&run.owner, started) {
                    (_, true) => true,
                    (Some(prev), false) if sluice_project::host::cli_owner_is_gone(prev) => {
                        store.take_over_run(&id, &me, lease, prev).await?
                    }
                    _ => false,
                }
            }
        };
        if !claimed {
            return Err(CliError::msg(format!(
                "run `{id}` is held by {} until {}; if that process is gone, retry once its lease \
                 has expired",
                run.owner.as_deref().unwrap_or("another runner"),
                time_text(run.lease_until)
            )));
        }
        let recorder = Recorder::start(store.clone());
        let journal = RunJournal::resume(recorder, id.clone(), args.resend_unknown).await?;
        journal
            .recorder()
            .commit(vec![sluice_store::Record::Audit {
                kind: "run.resumed".into(),
                run: Some(id.clone()),
                payload: serde_json::json!({
                    "owner": me,
                    "steps_done": journal.replayed_steps(),
                    "resend_unknown": args.resend_unknown,
                }),
            }])
            .await
            .map_err(|e| CliError::msg(format!("cannot record the resumption: {e}")))?;
        eprintln!(
            "resuming run {id} of `{}`: {} of {} steps already done",
            loaded.target.name,
            journal.replayed_steps(),
            loaded.target.steps.len()
        );
        super::run::execute(&loaded, &args.exec, false, inputs, Some(Arc::new(journal))).await
    })
}
