//! `sluice test` as a library: runs flows against their fixture files (`FLOW.test.yaml`) —
//! canned answers, the built-in sandbox (cargo feature `sandbox`) or a recorded cassette — and
//! compares output, status and requests with what each case expects; `update` rewrites
//! expectations, `record` records cassettes. [`run`] takes a [`TestConfig`].

mod cassette;
mod compare;
mod exchange;
mod fixture;
mod sandbox;
mod server;
mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Map, Value, json};
use sluice_engine::http::AuthMaterial;
use sluice_engine::{RunOptions, RunStatus, Runtime, StepStatus};

use sluice_project::{ConnectionOverride, LoadedFlow, ProjectError, SecretStore};

use crate::cassette::Cassette;
use crate::compare::SentRequest;
use crate::fixture::{Case, Dates, Expect, ExpectedRequest, Fixture, RunState, Source, StepState};
use crate::sandbox::{SANDBOX_TOKEN, start_sandbox};

/// The token sent to canned answers and cassettes.
const TEST_TOKEN: &str = "sluice-test-token";
/// The longest one case may run.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// What `sluice test` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct TestConfig {
    /// Flows, fixture files (`FLOW.test.yaml`) or folders.
    pub paths: Vec<PathBuf>,
    /// Rewrite the `expect:` of failing cases with what happened.
    pub update: bool,
    /// Record the cassettes of cases with `cassette:`.
    pub record: bool,
    /// Only the cases whose name contains this text.
    pub case: Option<String>,
    /// With `record`: connections recorded from a live endpoint instead of the sandbox.
    pub connections: Vec<ConnectionOverride>,
    /// Colour in the diagnostics of invalid fixture files.
    pub color: bool,
}

/// Why the tests cannot be run at all.
#[derive(Debug, thiserror::Error)]
pub enum FlowtestError {
    /// A folder cannot be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A path does not exist.
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    /// A flow was given without a fixture next to it.
    #[error("{}: no fixture file `{}` next to it; write one (see docs/testing.md)", .flow.display(), .fixture.display())]
    NoFixture {
        /// The flow.
        flow: PathBuf,
        /// The fixture file it needs.
        fixture: PathBuf,
    },
    /// Nothing to test.
    #[error("no fixture files (`FLOW.test.yaml`) found; see docs/testing.md")]
    NothingToTest,
}

/// How the cases went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases whose expectations were rewritten.
    pub updated: usize,
    /// Cases recorded.
    pub recorded: usize,
    /// Fixture files that could not be tested.
    pub usage: usize,
}

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
    recorded: Option<(PathBuf, Vec<exchange::Exchange>, sluice_engine::Redactor)>,
}

/// Runs every case of the fixtures found in `config.paths` (default `workflows`), printing one
/// line per case and a summary on stdout.
///
/// # Errors
/// A path that does not exist, a flow without a fixture, no fixture at all.
pub async fn run(config: &TestConfig) -> Result<Totals, FlowtestError> {
    let args = config;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        args.paths.clone()
    };
    let mut fixtures: Vec<PathBuf> = Vec::new();
    let mut without: Vec<PathBuf> = Vec::new();
    for path in &paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = fs_err::read_dir(path)?
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
                    return Err(FlowtestError::NoFixture {
                        flow: path.clone(),
                        fixture: fixture_for(path).unwrap_or_default(),
                    });
                }
            }
        } else {
            return Err(FlowtestError::NotFound(path.clone()));
        }
    }
    if fixtures.is_empty() {
        return Err(FlowtestError::NothingToTest);
    }
    let color = config.color;
    {
        let mut totals = Totals::default();
        for path in &fixtures {
            test_file(path, args, color, &mut totals).await;
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
        Ok(totals)
    }
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

async fn test_file(path: &Path, args: &TestConfig, color: bool, totals: &mut Totals) {
    let fixture = match fixture::load(path, color) {
        Ok(f) => f,
        Err(text) => {
            eprint!("{text}");
            eprintln!("error: {}: the fixture file is invalid", path.display());
            totals.usage += 1;
            return;
        }
    };
    let loaded = match LoadedFlow::load(&fixture.flow) {
        Ok(l) => l,
        Err(ProjectError::InvalidFlow(report)) => {
            eprint!("{}", report.render(color));
            eprintln!("error: {}", ProjectError::InvalidFlow(report));
            totals.usage += 1;
            return;
        }
        Err(e) => {
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

async fn run_case(loaded: &LoadedFlow, case: &Case, args: &TestConfig) -> Outcome {
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

type Recorded = Option<(PathBuf, Vec<exchange::Exchange>, sluice_engine::Redactor)>;

async fn execute_case(
    loaded: &LoadedFlow,
    case: &Case,
    args: &TestConfig,
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
    let live: HashMap<String, String> = if recording {
        args.connections
            .iter()
            .map(|o| (o.connection.clone(), o.base_url.clone()))
            .collect()
    } else {
        HashMap::new()
    };
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
        for (name, c) in &connections {
            if let Some(url) = sb.url_for(c.connector.name.as_str()) {
                forward.insert(name.clone(), url);
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
        let read = sluice_project::credentials::read(
            &loaded.files,
            &flows,
            &args.connections,
            SecretStore::Url(None),
        )
        .await
        .map_err(|e| e.to_string())?;
        read.apply(&mut rt);
    }
    let rt = Arc::new(rt.build().map_err(|e| e.to_string())?);
    let redactor = rt.redactor().clone();
    let run = sluice_engine::run_with(target.clone(), rt.clone(), inputs, None);
    let report = tokio::time::timeout(CASE_TIMEOUT, run).await;
    let base = server.base().to_string();
    let exchanges = server.finish().await;
    if let Some(sb) = sandbox {
        sb.stop().await;
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
