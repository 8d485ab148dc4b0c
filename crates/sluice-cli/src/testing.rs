//! `sluice test`: runs flows against their fixture files (`FLOW.test.yaml`) — canned answers,
//! the built-in sandbox or a recorded cassette — and compares output, status and requests with
//! what each case expects; `--update` rewrites expectations, `--record` records cassettes.

mod cassette;
mod compare;
mod fixture;
mod server;
mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use sluice_engine::http::AuthMaterial;
use sluice_engine::{RunOptions, RunStatus, Runtime, StepStatus};

use crate::run::Loaded;
use cassette::Cassette;
use compare::SentRequest;
use fixture::{Case, Dates, Expect, ExpectedRequest, Fixture, RunState, Source, StepState};

/// The sandbox's token (read and write).
const SANDBOX_TOKEN: &str = "sandbox-token";
/// The token sent to canned answers and cassettes.
const TEST_TOKEN: &str = "sluice-test-token";
/// The longest one case may run.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `sluice test`.
#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// Flows, fixture files (`FLOW.test.yaml`) or folders. Default: `workflows`.
    paths: Vec<PathBuf>,
    /// Rewrite the `expect:` of failing cases with what happened (the rest of the file is kept).
    #[arg(long)]
    update: bool,
    /// Record the cassettes of cases with `cassette:` against the sandbox (or the `--connection`
    /// endpoints), secrets redacted.
    #[arg(long)]
    record: bool,
    /// Only the cases whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    case: Option<String>,
    /// With `--record`: record this connection from a live endpoint, `CONN.base_url=URL`
    /// (credentials from `sluice.toml`) instead of the sandbox (repeatable).
    #[arg(
        long = "connection",
        value_name = "CONN.base_url=URL",
        requires = "record"
    )]
    connections: Vec<String>,
}

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// What happened in a case.
struct Actual {
    status: RunState,
    output: Option<Value>,
    error: Option<String>,
    requests: Vec<SentRequest>,
    steps: Vec<(String, StepState)>,
    unanswered: Vec<String>,
}

/// A case's result.
struct Outcome {
    problems: Vec<String>,
    /// What happened (`None`: the case could not run).
    actual: Option<Actual>,
    dates: Dates,
    elapsed: Duration,
    /// Recorded: (cassette file, redacted exchanges are stored by the caller).
    recorded: Option<(PathBuf, Vec<server::Exchange>, sluice_engine::Redactor)>,
}

/// `sluice test`.
pub(crate) fn run(args: TestArgs) -> Result<ExitCode, String> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        args.paths.clone()
    };
    let mut fixtures: Vec<PathBuf> = Vec::new();
    let mut without: Vec<PathBuf> = Vec::new();
    for path in &paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = fs_err::read_dir(path)
                .map_err(|e| e.to_string())?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            for p in &found {
                if fixture::is_fixture(p) {
                    fixtures.push(p.clone());
                } else if is_flow(p) && !found.iter().any(|f| fixture_for(p).as_ref() == Some(f)) {
                    without.push(p.clone());
                }
            }
        } else if fixture::is_fixture(path) {
            fixtures.push(path.clone());
        } else if path.is_file() {
            match fixture_for(path).filter(|f| f.is_file()) {
                Some(f) => fixtures.push(f),
                None => {
                    return Err(format!(
                        "{}: no fixture file `{}` next to it; write one (see docs/testing.md)",
                        path.display(),
                        fixture_for(path).unwrap_or_default().display()
                    ));
                }
            }
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    if fixtures.is_empty() {
        return Err("no fixture files (`FLOW.test.yaml`) found; see docs/testing.md".into());
    }
    let color = crate::color();
    crate::run::block_on(async move {
        let mut totals = Totals::default();
        for path in &fixtures {
            test_file(path, &args, color, &mut totals).await;
        }
        for p in &without {
            eprintln!("note: {} has no fixture file", p.display());
        }
        let verdict = if totals.usage > 0 {
            "ERROR"
        } else if totals.failed > 0 {
            "FAILED"
        } else {
            "ok"
        };
        println!(
            "\ntest result: {verdict}. {} passed, {} failed{}{}{} ({} file{})",
            totals.passed,
            totals.failed,
            if totals.updated > 0 {
                format!(", {} updated", totals.updated)
            } else {
                String::new()
            },
            if totals.recorded > 0 {
                format!(", {} recorded", totals.recorded)
            } else {
                String::new()
            },
            if totals.usage > 0 {
                format!(", {} file(s) could not be tested", totals.usage)
            } else {
                String::new()
            },
            fixtures.len(),
            if fixtures.len() == 1 { "" } else { "s" }
        );
        Ok(if totals.usage > 0 {
            ExitCode::from(EXIT_USAGE)
        } else if totals.failed > 0 {
            ExitCode::from(EXIT_FAILED)
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn is_flow(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.starts_with('.')
        && !name.contains(".test.")
        && !name.contains(".cassette.")
}

fn fixture_for(flow: &Path) -> Option<PathBuf> {
    let name = flow.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))?;
    Some(flow.with_file_name(format!("{stem}.test.yaml")))
}

#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
    updated: usize,
    recorded: usize,
    usage: usize,
}

async fn test_file(path: &Path, args: &TestArgs, color: bool, totals: &mut Totals) {
    let fixture = match fixture::load(path, color) {
        Ok(f) => f,
        Err(text) => {
            eprint!("{text}");
            eprintln!("error: {}: the fixture file is invalid", path.display());
            totals.usage += 1;
            return;
        }
    };
    let loaded = match crate::run::load(&fixture.flow) {
        Ok(l) => l,
        Err(Ok(_)) => {
            totals.usage += 1;
            return;
        }
        Err(Err(e)) => {
            eprintln!("error: {}: {e}", fixture.flow.display());
            totals.usage += 1;
            return;
        }
    };
    println!("{} ({})", path.display(), loaded.target.name);
    let mut updates: Vec<(usize, Value)> = Vec::new();
    let mut cassettes: BTreeMap<PathBuf, Cassette> = BTreeMap::new();
    for (index, case) in fixture.cases.iter().enumerate() {
        if let Some(filter) = &args.case
            && !case.name.contains(filter.as_str())
        {
            continue;
        }
        let outcome = run_case(&loaded, case, args).await;
        if let Some((file, exchanges, redactor)) = &outcome.recorded {
            let entry = match cassettes.get_mut(file) {
                Some(c) => c,
                None => {
                    let existing = match Cassette::read(file) {
                        Ok(c) => c.unwrap_or_default(),
                        Err(e) => {
                            eprintln!("warning: {e}; writing a new one");
                            Cassette::default()
                        }
                    };
                    cassettes.entry(file.clone()).or_insert(existing)
                }
            };
            entry.flow.clone_from(&loaded.target.name);
            entry.about = "Recorded by `sluice test --record` (secrets redacted; `@now±N` dates are relative to the replay). Replayed offline by `sluice test`.".into();
            match entry.store(&case.name, exchanges, redactor, &outcome.dates) {
                Ok(()) => {
                    totals.recorded += 1;
                    println!(
                        "  recorded  {}: {} exchange{} → {}",
                        case.name,
                        exchanges.len(),
                        if exchanges.len() == 1 { "" } else { "s" },
                        file.display()
                    );
                }
                Err(e) => eprintln!("error: cannot record `{}`: {e}", case.name),
            }
        }
        let ms = outcome.elapsed.as_millis();
        if outcome.problems.is_empty() {
            totals.passed += 1;
            println!("  ok      {} ({ms} ms)", case.name);
            continue;
        }
        let can_update = args.update
            && outcome
                .actual
                .as_ref()
                .is_some_and(|a| a.unanswered.is_empty());
        if can_update && let Some(actual) = &outcome.actual {
            updates.push((
                index,
                new_expect(case.expect.as_ref(), actual, &outcome.dates),
            ));
            totals.updated += 1;
            println!("  updated {} ({ms} ms)", case.name);
            for p in &outcome.problems {
                println!("          {p}");
            }
            continue;
        }
        totals.failed += 1;
        println!("  FAILED  {} ({ms} ms)", case.name);
        for p in &outcome.problems {
            println!("          {p}");
        }
        if args.update && outcome.actual.is_some() {
            println!("          (not updated: answer every request first)");
        }
    }
    for (file, cassette) in &cassettes {
        if let Err(e) = cassette.write(file) {
            eprintln!("error: {}: {e}", file.display());
            totals.usage += 1;
        }
    }
    if !updates.is_empty()
        && let Err(e) = write_updates(&fixture, &updates)
    {
        eprintln!("error: {}: cannot update: {e}", fixture.path.display());
        totals.usage += 1;
    }
}

fn write_updates(fixture: &Fixture, updates: &[(usize, Value)]) -> Result<(), String> {
    let text = yaml::rewrite(&fixture.source, updates)?;
    // What is written must read back as a fixture.
    let check = tempfile_path(&fixture.path);
    fs_err::write(&check, &text).map_err(|e| e.to_string())?;
    let back = fixture::load(&check, false);
    let _ = fs_err::remove_file(&check);
    if let Err(e) = back {
        return Err(format!("the updated file would not read back:\n{e}"));
    }
    fs_err::write(&fixture.path, text).map_err(|e| e.to_string())?;
    println!("  wrote {}", fixture.path.display());
    Ok(())
}

/// A file next to `path` (same folder, so relative `seed:` paths still resolve).
fn tempfile_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("fixture.test.yaml");
    path.with_file_name(format!(".{name}.{}.check.test.yaml", std::process::id()))
}

/// The `expect:` written by `--update`.
fn new_expect(old: Option<&Expect>, actual: &Actual, dates: &Dates) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), json!(actual.status.as_str()));
    if actual.status == RunState::Succeeded {
        let out = dates.relativize(actual.output.as_ref().unwrap_or(&Value::Null));
        m.insert(
            "output".into(),
            compare::merge(old.and_then(|o| o.output.as_ref()), &out),
        );
    } else if let Some(error) = &actual.error {
        let kept = old
            .and_then(|o| o.error_contains.clone())
            .filter(|t| error.contains(t.as_str()));
        m.insert(
            "error_contains".into(),
            json!(kept.unwrap_or_else(|| error.clone())),
        );
    }
    let sent: Vec<SentRequest> = actual
        .requests
        .iter()
        .map(|r| SentRequest {
            line: r.line.clone(),
            body: r.body.as_ref().map(|b| dates.relativize(b)),
        })
        .collect();
    let old_requests = old.and_then(|o| o.requests.as_ref());
    let requests: Vec<Value> = match old_requests {
        Some(list)
            if compare::diff_requests(
                &resolve_requests(list, &mut dates.clone()),
                &actual.requests,
            )
            .is_empty() =>
        {
            list.iter().map(request_value).collect()
        }
        _ => {
            let mut v: Vec<Value> = sent
                .iter()
                .map(|s| {
                    request_value(&ExpectedRequest {
                        line: s.line.clone(),
                        body: s.body.clone(),
                    })
                })
                .collect();
            v.sort_by_key(|x| x.to_string());
            v
        }
    };
    m.insert("requests".into(), Value::Array(requests));
    if let Some(steps) = old.and_then(|o| o.steps.as_ref()) {
        let ok = steps_problems(steps, &actual.steps).is_empty();
        let map: Map<String, Value> = if ok {
            steps
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.as_str())))
                .collect()
        } else {
            actual
                .steps
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.as_str())))
                .collect()
        };
        m.insert("steps".into(), Value::Object(map));
    }
    Value::Object(m)
}

fn request_value(r: &ExpectedRequest) -> Value {
    match &r.body {
        Some(b) => json!({ "request": r.line, "body": b }),
        None => json!(r.line),
    }
}

/// Expected bodies may hold `@now…` tokens: they are compared resolved.
fn resolve_requests(list: &[ExpectedRequest], dates: &mut Dates) -> Vec<ExpectedRequest> {
    list.iter()
        .map(|r| ExpectedRequest {
            line: r.line.clone(),
            body: r.body.as_ref().map(|b| dates.resolve(b, true)),
        })
        .collect()
}

fn steps_problems(
    expected: &indexmap::IndexMap<String, StepState>,
    actual: &[(String, StepState)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, want) in expected {
        match actual.iter().find(|(n, _)| n == name) {
            Some((_, got)) if got == want => {}
            Some((_, got)) => out.push(format!(
                "steps.{name}: expected {}, got {}",
                want.as_str(),
                got.as_str()
            )),
            None => out.push(format!("steps.{name}: the flow has no such step")),
        }
    }
    out
}

async fn run_case(loaded: &Loaded, case: &Case, args: &TestArgs) -> Outcome {
    let started = Instant::now();
    let mut dates = Dates::new();
    let _ = dates.resolve_token("@now");
    let mut outcome = Outcome {
        problems: Vec::new(),
        actual: None,
        dates: Dates::new(),
        elapsed: Duration::ZERO,
        recorded: None,
    };
    match execute_case(loaded, case, args, &mut dates).await {
        Ok((actual, recorded)) => {
            outcome.problems = check(case.expect.as_ref(), &actual, &mut dates);
            outcome.actual = Some(actual);
            outcome.recorded = recorded;
        }
        Err(problem) => outcome.problems.push(problem),
    }
    outcome.dates = dates;
    outcome.elapsed = started.elapsed();
    outcome
}

/// The sandbox data of a case, its `@now` dates learnt and resolved.
fn seed_of(seed: Option<&Path>, dates: &mut Dates) -> Result<sluice_sandbox::Seed, String> {
    let value = match seed {
        Some(p) => {
            let text = fs_err::read_to_string(p).map_err(|e| e.to_string())?;
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("{}: not JSON: {e}", p.display()))?
        }
        None => {
            // The demo resolves its `@now` dates itself: written back as offsets from that
            // moment, they resolve against this run's like a seed file's.
            let before = chrono::Utc::now();
            let demo = sluice_sandbox::Seed::demo();
            let after = chrono::Utc::now();
            let value = serde_json::to_value(demo).map_err(|e| e.to_string())?;
            rebase(&value, before, after)
        }
    };
    dates.learn(&value);
    let mut seed: sluice_sandbox::Seed = serde_json::from_value(value).map_err(|e| {
        format!(
            "{}: not a sandbox seed: {e}",
            seed.map(|p| p.display().to_string()).unwrap_or_default()
        )
    })?;
    seed.resolve(dates.now())
        .map_err(|e| format!("seed: {e}"))?;
    Ok(seed)
}

/// Dates within a year of `before`..`after` as `@now±N` tokens (to the nearest second).
fn rebase(v: &Value, before: DateTime<Utc>, after: DateTime<Utc>) -> Value {
    match v {
        Value::String(s) => {
            let Ok(t) = DateTime::parse_from_rfc3339(s) else {
                return v.clone();
            };
            let t = t.with_timezone(&Utc);
            if (after - before).num_milliseconds() > 400 || (t - before).num_days().abs() > 366 {
                return v.clone();
            }
            let secs = ((t - before).num_milliseconds() as f64 / 1000.0).round() as i64;
            Value::String(token(secs))
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| rebase(i, before, after)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), rebase(x, before, after)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// `@now`, `@now+1d2h`, `@now-30m`.
fn token(secs: i64) -> String {
    if secs == 0 {
        return "@now".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let mut rest = secs.unsigned_abs();
    let mut out = format!("@now{sign}");
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

type Recorded = Option<(PathBuf, Vec<server::Exchange>, sluice_engine::Redactor)>;

async fn execute_case(
    loaded: &Loaded,
    case: &Case,
    args: &TestArgs,
    dates: &mut Dates,
) -> Result<(Actual, Recorded), String> {
    let target = &loaded.target;
    let inputs = match dates.resolve(&Value::Object(case.inputs.clone()), false) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let inputs =
        sluice_engine::prepare_inputs(target, inputs).map_err(|e| format!("inputs: {e}"))?;
    let canned: Vec<fixture::Responses> = case
        .responses
        .iter()
        .map(|r| fixture::Responses {
            key: r.key.clone(),
            answers: r
                .answers
                .iter()
                .map(|a| fixture::Canned {
                    body: dates.resolve(&a.body, false),
                    ..a.clone()
                })
                .collect(),
        })
        .collect();
    let mut flows: Vec<&sluice_engine::Executable> = vec![target.as_ref()];
    flows.extend(loaded.flows.values().map(AsRef::as_ref));
    let mut connections: HashMap<String, &sluice_engine::exec::ConnectionSpec> = HashMap::new();
    for f in &flows {
        for c in &f.connections {
            connections.entry(c.name.clone()).or_insert(c);
        }
    }
    let recording = args.record && matches!(case.source, Source::Cassette { .. });
    let mut live: HashMap<String, String> = HashMap::new();
    if recording {
        for spec in &args.connections {
            let (key, url) = spec
                .split_once('=')
                .ok_or_else(|| format!("`--connection {spec}`: write CONNECTION.base_url=URL"))?;
            let conn = key
                .strip_suffix(".base_url")
                .ok_or_else(|| format!("`--connection {spec}`: only `base_url` can be set here"))?;
            live.insert(conn.to_string(), url.to_string());
        }
    }
    let mut sandbox = None;
    let mut forward: HashMap<String, String> = HashMap::new();
    let mut cassette_entries = None;
    let mut cassette_file = None;
    match &case.source {
        Source::Sandbox { seed } => {
            sandbox = Some(start_sandbox(seed.as_deref(), dates).await?);
        }
        Source::Cassette { seed, path } if recording => {
            sandbox = Some(start_sandbox(seed.as_deref(), dates).await?);
            cassette_file = Some(path.clone());
        }
        Source::Cassette { path, .. } => {
            let cassette = Cassette::read(path)?.ok_or_else(|| {
                format!(
                    "no cassette `{}` yet: record it with `sluice test {} --record`",
                    path.display(),
                    loaded_flow_hint(path)
                )
            })?;
            cassette_entries = Some(cassette.entries(&case.name, dates)?.ok_or_else(|| {
                format!(
                    "`{}` has no recording of this case: record it with `--record`",
                    path.display()
                )
            })?);
        }
        Source::Canned => {}
    }
    if let Some(sb) = &sandbox {
        let base = sb.base_url();
        for (name, c) in &connections {
            match c.connector.name.as_str() {
                "ghl-contacts" => {
                    forward.insert(name.clone(), base.clone());
                }
                "ipinfo" => {
                    forward.insert(name.clone(), format!("{base}/ipinfo"));
                }
                _ => {}
            }
        }
    }
    forward.extend(live.clone());
    let auth_params: HashMap<String, String> = connections
        .iter()
        .filter_map(|(name, c)| {
            c.connector
                .auth
                .iter()
                .find_map(|a| a.param.clone())
                .map(|p| (name.clone(), p))
        })
        .collect();
    let server = server::TestServer::start(server::Plan {
        canned,
        cassette: cassette_entries,
        forward,
        auth_params,
    })
    .await?;
    let mut rt = Runtime::builder(
        server.observer(),
        RunOptions {
            concurrency: 8,
            connection_concurrency: 8,
            dry_run: false,
            max_response_bytes: 10 * 1024 * 1024,
            cache_ttl: None,
        },
    );
    rt.flows(loaded.flows.values().cloned());
    for name in connections.keys() {
        rt.base_url(name.clone(), format!("{}/{name}", server.base()));
    }
    let token = if sandbox.is_some() {
        SANDBOX_TOKEN
    } else {
        TEST_TOKEN
    };
    for c in connections.values() {
        rt.default_auth(
            c.connector.name.to_string(),
            AuthMaterial::Bearer(SecretString::from(token.to_string())),
        );
    }
    for secret in [SANDBOX_TOKEN, "sandbox-readonly", TEST_TOKEN] {
        rt.redact(secret);
    }
    if !live.is_empty() {
        crate::run::configure_credentials(
            &mut rt,
            &loaded.set,
            &flows,
            crate::run::SecretStore::Url(None),
        )
        .await?;
    }
    let rt = Arc::new(rt.build().map_err(|e| e.to_string())?);
    let redactor = rt.redactor().clone();
    let run = sluice_engine::run_with(target.clone(), rt.clone(), inputs, None);
    let report = tokio::time::timeout(CASE_TIMEOUT, run).await;
    let base = server.base().to_string();
    let exchanges = server.finish().await;
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    let report = report.map_err(|_| {
        rt.cancel_token().cancel();
        format!(
            "the case did not finish within {} s",
            CASE_TIMEOUT.as_secs()
        )
    })?;
    let status = match report.status {
        RunStatus::Succeeded => RunState::Succeeded,
        RunStatus::Failed => RunState::Failed,
        RunStatus::TimedOut => RunState::TimedOut,
        RunStatus::Cancelled => RunState::Cancelled,
    };
    let steps = report
        .steps
        .iter()
        .map(|s| {
            let state = match s.status {
                Some(StepStatus::Succeeded) => StepState::Succeeded,
                Some(StepStatus::Failed) => StepState::Failed,
                Some(StepStatus::Skipped) => StepState::Skipped,
                Some(StepStatus::Cancelled) => StepState::Cancelled,
                None => StepState::NotStarted,
            };
            (s.name.clone(), state)
        })
        .collect();
    let actual = Actual {
        status,
        output: report.output.as_ref().map(|o| redactor.redact_json(o)),
        error: report
            .error
            .as_ref()
            .map(|e| redactor.redact(&e.replace(&base, ""))),
        requests: exchanges
            .iter()
            .map(|x| SentRequest {
                line: redactor.redact(&x.line),
                body: x.body.as_ref().map(|b| redactor.redact_json(b)),
            })
            .collect(),
        steps,
        unanswered: exchanges
            .iter()
            .filter(|x| x.unanswered)
            .map(|x| {
                let step = x
                    .step
                    .as_ref()
                    .map(|s| format!(" (step `{s}`)"))
                    .unwrap_or_default();
                let key = x.step.clone().unwrap_or_else(|| x.line.clone());
                format!(
                    "no answer for {}{step}: add `{key}:` under `responses:`",
                    x.line
                )
            })
            .collect(),
    };
    let recorded = cassette_file.map(|f| (f, exchanges, redactor));
    Ok((actual, recorded))
}

fn loaded_flow_hint(cassette: &Path) -> String {
    cassette
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split(".cassette").next())
        .map(|stem| {
            cassette
                .with_file_name(format!("{stem}.yaml"))
                .display()
                .to_string()
        })
        .unwrap_or_else(|| "FLOW".into())
}

async fn start_sandbox(
    seed: Option<&Path>,
    dates: &mut Dates,
) -> Result<sluice_sandbox::Sandbox, String> {
    let config = sluice_sandbox::SandboxConfig {
        seed: seed_of(seed, dates)?,
        ..sluice_sandbox::SandboxConfig::default()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    sluice_sandbox::Sandbox::start(config, addr)
        .await
        .map_err(|e| format!("cannot start the sandbox: {e}"))
}

/// Every way `actual` differs from `expect`, one readable line each.
fn check(expect: Option<&Expect>, actual: &Actual, dates: &mut Dates) -> Vec<String> {
    let mut out: Vec<String> = actual.unanswered.clone();
    let Some(expect) = expect else {
        out.push("no `expect:` yet: run with --update to write what happened".into());
        return out;
    };
    let want = expect.status.unwrap_or(RunState::Succeeded);
    if want != actual.status {
        let why = actual
            .error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        out.push(format!(
            "status: expected {}, got {}{why}",
            want.as_str(),
            actual.status.as_str()
        ));
    }
    if let Some(e) = &expect.output
        && actual.status == RunState::Succeeded
    {
        let e = dates.resolve(e, true);
        let a = actual.output.clone().unwrap_or(Value::Null);
        let mut lines = Vec::new();
        compare::diff("output", &e, &a, &mut lines);
        out.extend(lines);
    }
    if let Some(text) = &expect.error_contains {
        match &actual.error {
            Some(err) if err.contains(text.as_str()) => {}
            Some(err) => out.push(format!(
                "error: expected it to contain {}, got {}",
                json!(text),
                json!(err)
            )),
            None => out.push(format!(
                "error: expected one containing {}, but the run had none",
                json!(text)
            )),
        }
    }
    if let Some(list) = &expect.requests {
        let lines = compare::diff_requests(&resolve_requests(list, dates), &actual.requests);
        if !lines.is_empty() {
            out.push("requests (- expected, + sent):".into());
            out.extend(lines.into_iter().map(|l| format!("  {l}")));
        }
    }
    if let Some(steps) = &expect.steps {
        out.extend(steps_problems(steps, &actual.steps));
    }
    out
}
