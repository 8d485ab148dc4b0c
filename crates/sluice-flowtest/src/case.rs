//! One case: where its answers come from (canned, a cassette, the sandbox, a live endpoint),
//! the local server every connection of the flow is pointed at, the run, and what happened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Map, Value};
use sluice_engine::exec::ConnectionSpec;
use sluice_engine::http::AuthMaterial;
use sluice_engine::{Executable, Redactor, RunOptions, RunReport, RunStatus, Runtime, StepStatus};
use sluice_project::{LoadedFlow, SecretStore};

use crate::TestConfig;
use crate::cassette::Cassette;
use crate::compare::SentRequest;
use crate::exchange::{Entry, Exchange};
use crate::expect::{Actual, check};
use crate::fixture::{self, Case, Dates, RunState, Source, StepState};
use crate::sandbox::{CaseSandbox, SANDBOX_TOKEN, start_sandbox};
use crate::server::{self, TestServer};

/// The token sent to canned answers and cassettes.
const TEST_TOKEN: &str = "sluice-test-token";
/// The longest one case may run.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A case's result.
pub(crate) struct Outcome {
    pub(crate) problems: Vec<String>,
    /// What happened (`None`: the case could not run).
    pub(crate) actual: Option<Actual>,
    pub(crate) dates: Dates,
    pub(crate) elapsed: Duration,
    /// Recorded: (cassette file, exchanges, the redactor they are stored through).
    pub(crate) recorded: Recorded,
}

/// A recording: the cassette file, the exchanges and the redactor they are stored through.
type Recorded = Option<(PathBuf, Vec<Exchange>, Redactor)>;

/// Runs one case and compares what happened with what it expects.
pub(crate) async fn run_case(loaded: &LoadedFlow, case: &Case, args: &TestConfig) -> Outcome {
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

/// Where a case's answers come from besides its canned ones.
#[derive(Default)]
struct Answers {
    /// A sandbox started for the case (its `sandbox:` source, or recording a cassette).
    sandbox: Option<CaseSandbox>,
    /// A cassette's recorded exchanges, replayed.
    cassette: Option<Vec<Entry>>,
    /// The cassette file being recorded.
    recording_to: Option<PathBuf>,
}

async fn execute_case(
    loaded: &LoadedFlow,
    case: &Case,
    args: &TestConfig,
    dates: &mut Dates,
) -> Result<(Actual, Recorded), String> {
    let inputs = match dates.resolve(&Value::Object(case.inputs.clone()), false) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let inputs = sluice_engine::prepare_inputs(&loaded.target, inputs)
        .map_err(|e| format!("inputs: {e}"))?;
    let flows: Vec<&Executable> = std::iter::once(loaded.target.as_ref())
        .chain(loaded.flows.values().map(AsRef::as_ref))
        .collect();
    let connections = connections_of(&flows);
    let recording = args.record && matches!(case.source, Source::Cassette { .. });
    let live: HashMap<String, String> = if recording {
        args.connections
            .iter()
            .map(|o| (o.connection.clone(), o.base_url.clone()))
            .collect()
    } else {
        HashMap::new()
    };
    let answers = answers_of(case, recording, dates).await?;
    let server = TestServer::start(server::Plan {
        canned: canned_answers(case, dates),
        cassette: answers.cassette,
        forward: forwards(&connections, answers.sandbox.as_ref(), &live),
        auth_params: auth_params(&connections),
    })
    .await?;
    let setup = Setup {
        loaded,
        flows: &flows,
        connections: &connections,
        server: &server,
        sandbox: answers.sandbox.is_some(),
    };
    let rt = Arc::new(setup.runtime(args, !live.is_empty()).await?);
    let redactor = rt.redactor().clone();
    let run = sluice_engine::run_with(loaded.target.clone(), rt.clone(), inputs, None);
    let report = tokio::time::timeout(CASE_TIMEOUT, run).await;
    let base = server.base().to_string();
    let exchanges = server.finish().await;
    if let Some(sb) = answers.sandbox {
        sb.stop().await;
    }
    let report = report.map_err(|_| {
        rt.cancel_token().cancel();
        format!(
            "the case did not finish within {} s",
            CASE_TIMEOUT.as_secs()
        )
    })?;
    let actual = actual_of(&report, &exchanges, &redactor, &base);
    let recorded = answers.recording_to.map(|f| (f, exchanges, redactor));
    Ok((actual, recorded))
}

/// Every connection of the flows, by name (the first flow that names it wins).
fn connections_of<'a>(flows: &[&'a Executable]) -> HashMap<String, &'a ConnectionSpec> {
    let mut out: HashMap<String, &ConnectionSpec> = HashMap::new();
    for f in flows {
        for c in &f.connections {
            out.entry(c.name.clone()).or_insert(c);
        }
    }
    out
}

/// The case's canned answers, their `@now` dates resolved.
fn canned_answers(case: &Case, dates: &mut Dates) -> Vec<fixture::Responses> {
    case.responses
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
        .collect()
}

/// The sandbox to start or the cassette to replay, as the case's source says.
async fn answers_of(case: &Case, recording: bool, dates: &mut Dates) -> Result<Answers, String> {
    Ok(match &case.source {
        Source::Sandbox { seed } => Answers {
            sandbox: Some(start_sandbox(seed.as_deref(), dates).await?),
            ..Answers::default()
        },
        Source::Cassette { seed, path } if recording => Answers {
            sandbox: Some(start_sandbox(seed.as_deref(), dates).await?),
            recording_to: Some(path.clone()),
            ..Answers::default()
        },
        Source::Cassette { path, .. } => {
            let cassette = Cassette::read(path)?.ok_or_else(|| {
                format!(
                    "no cassette `{}` yet: record it with `sluice test {} --record`",
                    path.display(),
                    loaded_flow_hint(path)
                )
            })?;
            let entries = cassette.entries(&case.name, dates)?.ok_or_else(|| {
                format!(
                    "`{}` has no recording of this case: record it with `--record`",
                    path.display()
                )
            })?;
            Answers {
                cassette: Some(entries),
                ..Answers::default()
            }
        }
        Source::Canned => Answers::default(),
    })
}

/// Connection → where unanswered requests are forwarded: the sandbox, or a live endpoint.
fn forwards(
    connections: &HashMap<String, &ConnectionSpec>,
    sandbox: Option<&CaseSandbox>,
    live: &HashMap<String, String>,
) -> HashMap<String, String> {
    let mut forward: HashMap<String, String> = HashMap::new();
    if let Some(sb) = sandbox {
        for (name, c) in connections {
            if let Some(url) = sb.url_for(c.connector.name.as_str()) {
                forward.insert(name.clone(), url);
            }
        }
    }
    forward.extend(live.clone());
    forward
}

/// Connection → the query parameter that carries its token (left out of logs).
fn auth_params(connections: &HashMap<String, &ConnectionSpec>) -> HashMap<String, String> {
    connections
        .iter()
        .filter_map(|(name, c)| {
            c.connector
                .auth
                .iter()
                .find_map(|a| a.param.clone())
                .map(|p| (name.clone(), p))
        })
        .collect()
}

/// What the case's runtime is made of.
struct Setup<'a> {
    loaded: &'a LoadedFlow,
    flows: &'a [&'a Executable],
    connections: &'a HashMap<String, &'a ConnectionSpec>,
    server: &'a TestServer,
    /// Whether a sandbox answers (its token is sent instead of the test token).
    sandbox: bool,
}

impl Setup<'_> {
    /// Every connection pointed at the case's server with a test token; the credentials of
    /// `sluice.toml` when recording from a live endpoint.
    async fn runtime(&self, args: &TestConfig, live: bool) -> Result<Runtime, String> {
        let mut rt = Runtime::builder(self.server.observer(), RunOptions::default());
        rt.flows(self.loaded.flows.values().cloned());
        for name in self.connections.keys() {
            rt.base_url(name.clone(), format!("{}/{name}", self.server.base()));
        }
        let token = if self.sandbox {
            SANDBOX_TOKEN
        } else {
            TEST_TOKEN
        };
        for c in self.connections.values() {
            rt.default_auth(
                c.connector.name.to_string(),
                AuthMaterial::Bearer(SecretString::from(token.to_string())),
            );
        }
        for secret in [SANDBOX_TOKEN, "sandbox-readonly", TEST_TOKEN] {
            rt.redact(secret);
        }
        if live {
            let read = sluice_project::credentials::read(
                &self.loaded.files,
                self.flows,
                &args.connections,
                SecretStore::Url(None),
            )
            .await
            .map_err(|e| e.to_string())?;
            read.apply(&mut rt);
        }
        rt.build().map_err(|e| e.to_string())
    }
}

/// What happened, redacted, in the terms fixtures use.
fn actual_of(
    report: &RunReport,
    exchanges: &[Exchange],
    redactor: &Redactor,
    base: &str,
) -> Actual {
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
    Actual {
        status,
        output: report.output.as_ref().map(|o| redactor.redact_json(o)),
        error: report
            .error
            .as_ref()
            .map(|e| redactor.redact(&e.replace(base, ""))),
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
            .map(unanswered)
            .collect(),
    }
}

/// What to add to the fixture for a request nothing answered.
fn unanswered(x: &Exchange) -> String {
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
}

/// `FLOW.yaml` for `FLOW.cassette.json`.
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
