//! `sluice run`: one run of a flow from the command line — inputs from flags or a file,
//! output as JSON on stdout, logs and progress on stderr, `--dry-run`, Ctrl-C.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use serde_json::{Map, Value};
use sluice_engine::http::AuthMaterial;
use sluice_engine::{
    Event, Executable, Observer, RunJournal, RunOptions, RunStatus, Runtime, RuntimeBuilder,
    StepStatus,
};
use sluice_model::{Credential, InputType, Limits, Project, SecretSource};

use crate::files::FlowSet;

/// Options of `sluice run`.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The flow file.
    flow: PathBuf,
    /// An input, `NAME=VALUE`, converted to the input's declared type (repeatable).
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// A JSON file with the inputs as an object.
    #[arg(long = "inputs", value_name = "FILE")]
    inputs_file: Option<PathBuf>,
    /// Print every request the flow would send; reads are answered, writes are not sent.
    /// A dry run is not recorded.
    #[arg(long)]
    dry_run: bool,
    /// Do not record the run in the run store.
    #[arg(long)]
    no_record: bool,
    #[command(flatten)]
    exec: ExecArgs,
}

/// How a run is carried out: `sluice run` and `sluice runs resume`.
#[derive(clap::Args)]
pub(crate) struct ExecArgs {
    /// Override a connection setting, `CONNECTION.base_url=URL` (repeatable).
    #[arg(long = "connection", value_name = "CONN.base_url=URL")]
    connections: Vec<String>,
    /// Run against the built-in GHL sandbox (started in this process): no account, no network.
    #[arg(long)]
    sandbox: bool,
    /// HTTP calls in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Largest API answer accepted, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    max_response_bytes: usize,
    /// Serve repeated reads of cacheable operations from memory for this long, e.g. `30s`.
    #[arg(long, value_parser = humantime_duration)]
    cache_ttl: Option<std::time::Duration>,
    /// The run store (`sqlite://PATH` or `postgres://…`): runs are recorded there, and
    /// `{ store = "…" }` secrets read from it. Default: `$SLUICE_HOME/sluice.db`, else
    /// `.sluice/sluice.db`.
    #[arg(long, env = "SLUICE_STORE")]
    pub(crate) store: Option<String>,
    /// More logs on stderr (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_CANCELLED: u8 = 130;

/// How long a `sluice run` holds its run before another process may take it over; renewed
/// every third of it while the run goes.
pub(crate) const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// A flow file loaded and checked, with the flows it may call.
pub(crate) struct Loaded {
    pub(crate) set: FlowSet,
    pub(crate) catalog: sluice_model::Catalog,
    pub(crate) target: Arc<Executable>,
    pub(crate) flows: HashMap<String, Arc<Executable>>,
}

/// Loads and checks `flow` (and its folder's other flows). `Err(Ok(code))`: the flow is
/// invalid and its problems were printed.
pub(crate) fn load(flow: &Path) -> Result<Loaded, Result<ExitCode, String>> {
    let set = FlowSet::load(&[flow.to_path_buf()]).map_err(Err)?;
    let catalog = set.catalog().map_err(Err)?;
    let results = set.validate_with(&catalog, &Limits::default());
    let mut flows: HashMap<String, Arc<Executable>> = HashMap::new();
    let mut target: Option<Arc<Executable>> = None;
    for (asked, v, doc, source) in &results {
        if *asked && v.report.error_count() > 0 {
            eprint!("{}", v.report.render(crate::color()));
            eprintln!(
                "error: the flow is invalid; fix the problems above (`sluice validate` shows them too)"
            );
            return Err(Ok(ExitCode::from(EXIT_USAGE)));
        }
        let (Some(plan), Some(doc)) = (&v.plan, doc) else {
            continue;
        };
        let exec = Arc::new(
            Executable::build(doc, plan, &catalog, source).map_err(|e| Err(e.to_string()))?,
        );
        if *asked {
            target = Some(exec.clone());
        }
        flows.insert(exec.name.clone(), exec);
    }
    let target = target.ok_or_else(|| Err(format!("{}: not a flow file", flow.display())))?;
    Ok(Loaded {
        set,
        catalog,
        target,
        flows,
    })
}

pub(crate) fn run(args: RunArgs) -> Result<ExitCode, String> {
    init_logs(args.exec.verbose, args.exec.log_format);
    let loaded = match load(&args.flow) {
        Ok(l) => l,
        Err(done) => return done,
    };
    let given = read_inputs(&loaded.target, &args.inputs, args.inputs_file.as_deref())?;
    let inputs =
        sluice_engine::prepare_inputs(&loaded.target, given).map_err(|e| e.problems.join("\n"))?;
    let flow_path = std::path::absolute(&args.flow)
        .map_err(|e| e.to_string())?
        .display()
        .to_string();
    let record = !(args.dry_run || args.no_record);
    block_on(async move {
        let store = if record {
            Some(open_store(args.exec.store.as_deref(), loaded.set.project()).await?)
        } else {
            None
        };
        let durable = match &store {
            Some(store) => {
                let new = sluice_store::NewRun::new(
                    loaded.target.name.clone(),
                    b"",
                    "manual",
                    inputs.clone(),
                )
                .at_path(flow_path)
                .running(sluice_store::Lease {
                    owner: owner(),
                    duration: LEASE,
                });
                let new = sluice_store::NewRun {
                    flow_hash: loaded.target.content_hash.clone(),
                    ..new
                };
                let recorder = sluice_engine::Recorder::start(store.clone());
                let journal = RunJournal::start(recorder.clone(), new);
                recorder
                    .flush()
                    .await
                    .map_err(|e| format!("cannot record the run: {e}"))?;
                tracing::info!(run = %journal.run_id(), "Run recorded.");
                Some(Arc::new(journal))
            }
            None => None,
        };
        execute(&loaded, &args.exec, args.dry_run, inputs, durable).await
    })
}

/// Starts the async runtime and runs `fut` on it.
pub(crate) fn block_on<T>(
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(fut)
}

/// Opens the run store (`--store`, `SLUICE_STORE`, else the default SQLite file) with the
/// project's output cap.
pub(crate) async fn open_store(
    given: Option<&str>,
    project: Option<&Project>,
) -> Result<sluice_store::Store, String> {
    let url = store_url(given);
    let store = sluice_store::Store::open(&url)
        .await
        .map_err(|e| format!("cannot open the run store: {e}"))?;
    Ok(match project.and_then(|p| p.runs.max_output_bytes) {
        Some(cap) => store.with_output_cap(Some(cap)),
        None => store,
    })
}

/// This process's name as the holder of runs: `cli:HOST:PID`.
pub(crate) fn owner() -> String {
    format!("cli:{}:{}", hostname(), std::process::id())
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Runs `loaded.target` with `inputs`, recording it in `journal` when given; prints the output
/// (stdout) or why it failed (stderr).
pub(crate) async fn execute(
    loaded: &Loaded,
    exec: &ExecArgs,
    dry_run: bool,
    inputs: Value,
    journal: Option<Arc<RunJournal>>,
) -> Result<ExitCode, String> {
    let target = &loaded.target;
    let progress = Arc::new(Progress::new(target, dry_run));
    let mut rt = Runtime::builder(
        progress.clone(),
        RunOptions {
            concurrency: exec.concurrency.max(1),
            connection_concurrency: exec.concurrency.max(1),
            dry_run,
            max_response_bytes: exec.max_response_bytes,
            cache_ttl: exec.cache_ttl,
        },
    );
    rt.flows(loaded.flows.values().cloned());
    rt.rate_limits(Arc::new(
        sluice_connectors::RateLimits::from_catalog(&loaded.catalog).map_err(|e| e.to_string())?,
    ));
    for spec in &exec.connections {
        let (key, url) = spec
            .split_once('=')
            .ok_or_else(|| format!("`--connection {spec}`: write CONNECTION.base_url=URL"))?;
        let conn = key
            .strip_suffix(".base_url")
            .ok_or_else(|| format!("`--connection {spec}`: only `base_url` can be set here"))?;
        rt.base_url(conn, url);
    }
    if !exec.sandbox {
        // The credentials of the flow and of the flows it calls (`flow:` steps).
        let execs = with_called_flows(target, &loaded.flows);
        configure_credentials(
            &mut rt,
            &loaded.set,
            &execs,
            SecretStore::Url(exec.store.as_deref()),
        )
        .await?;
    }
    let _sandbox = if exec.sandbox {
        Some(crate::sandbox::attach(&mut rt).await?)
    } else {
        None
    };
    let rt = Arc::new(rt.build().map_err(|e| e.to_string())?);
    let cancel = rt.cancel_token().clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    // The run's lease is renewed while it goes; losing it (another process took the run over)
    // stops this one.
    let renewal = journal.as_ref().map(|j| {
        let store = j.recorder().store().clone();
        let id = j.run_id().clone();
        let cancel = rt.cancel_token().clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE / 3).await;
                match store.renew_lease(&id, &owner(), LEASE).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(run = %id, "Another process took this run over; stopping.");
                        cancel.cancel();
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(run = %id, error = %e, "Cannot renew the run's lease.")
                    }
                }
            }
        })
    });
    let report = sluice_engine::run_with(target.clone(), rt.clone(), inputs, journal.clone()).await;
    progress.finish();
    if let Some(task) = renewal {
        task.abort();
    }
    if let Some(j) = &journal {
        j.finish(&report, rt.redactor())
            .await
            .map_err(|e| format!("cannot record the run's end: {e}"))?;
    }
    let run_hint = journal
        .as_ref()
        .map(|j| format!("run {} (see `sluice runs show {}`)", j.run_id(), j.run_id()));
    let code = match report.status {
        RunStatus::Succeeded => {
            // The output as stored: an API that echoes a credential does not print it.
            let output = rt
                .redactor()
                .redact_json(report.output.as_ref().unwrap_or(&Value::Null));
            let out = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
            if dry_run {
                println!("output:");
            }
            println!("{out}");
            ExitCode::SUCCESS
        }
        RunStatus::Cancelled => {
            eprintln!(
                "cancelled after {} ms: {}",
                report.elapsed_ms,
                summary(&report)
            );
            if let Some(j) = &journal {
                eprintln!("resume it with `sluice runs resume {}`", j.run_id());
            }
            ExitCode::from(EXIT_CANCELLED)
        }
        RunStatus::Failed | RunStatus::TimedOut => {
            eprintln!(
                "error: {}",
                rt.redactor()
                    .redact(report.error.as_deref().unwrap_or("the run failed"))
            );
            eprintln!("{}", summary(&report));
            if let Some(hint) = run_hint {
                eprintln!("{hint}");
            }
            ExitCode::from(EXIT_FAILED)
        }
    };
    Ok(code)
}

pub(crate) fn humantime_duration(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<sluice_model::Duration>().map(|d| d.0)
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

pub(crate) fn init_logs(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `--input k=v` values typed by the flow's declarations, over `--inputs FILE`.
fn read_inputs(
    exec: &Executable,
    pairs: &[String],
    file: Option<&Path>,
) -> Result<Map<String, Value>, String> {
    let mut out = match file {
        Some(path) => {
            let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(format!(
                        "{}: the inputs file must hold a JSON object",
                        path.display()
                    ));
                }
                Err(e) => return Err(format!("{}: not JSON: {e}", path.display())),
            }
        }
        None => Map::new(),
    };
    for pair in pairs {
        let (name, raw) = pair
            .split_once('=')
            .ok_or_else(|| format!("`--input {pair}`: write NAME=VALUE"))?;
        let Some(decl) = exec.inputs.get(name) else {
            let names: Vec<&str> = exec.inputs.keys().map(String::as_str).collect();
            return Err(format!(
                "flow `{}` has no input `{name}` (its inputs: {})",
                exec.name,
                names.join(", ")
            ));
        };
        let value = match decl.kind {
            InputType::String => Value::String(raw.to_string()),
            InputType::Integer => raw
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("input `{name}` must be a whole number, got `{raw}`"))?,
            InputType::Number => raw
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("input `{name}` must be a number, got `{raw}`"))?,
            InputType::Boolean => match raw.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(format!(
                        "input `{name}` must be `true` or `false`, got `{raw}`"
                    ));
                }
            },
            InputType::Array | InputType::Object => serde_json::from_str(raw).map_err(|e| {
                format!("input `{name}` must be JSON ({}): {e}", decl.kind.as_str())
            })?,
        };
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// The store's URL: `--store`, `SLUICE_STORE`, else the default SQLite file.
pub(crate) fn store_url(given: Option<&str>) -> String {
    given.map_or_else(
        || {
            format!(
                "sqlite://{}",
                sluice_store::Store::default_sqlite_path().display()
            )
        },
        str::to_string,
    )
}

/// The `{ store = "…" }` secrets of the credentials the flows use (the store is opened only
/// when there are some).
pub(crate) async fn load_store_secrets(
    project: Option<&Project>,
    execs: &[&Executable],
    store: SecretStore<'_>,
) -> Result<HashMap<String, String>, String> {
    let Some(project) = project else {
        return Ok(HashMap::new());
    };
    let keys: Vec<&str> = execs
        .iter()
        .flat_map(|e| e.connections.iter())
        .filter_map(|c| c.credential.as_ref())
        .filter_map(|name| project.credentials.get(name))
        .flat_map(|c| [&c.token, &c.client_id, &c.client_secret, &c.refresh_token])
        .filter_map(|s| match s {
            Some(SecretSource::Store(key)) => Some(key.as_str()),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let opened;
    let store = match store {
        SecretStore::Open(store) => store,
        SecretStore::Url(url) => {
            opened = sluice_store::Store::open(&store_url(url))
                .await
                .map_err(|e| format!("cannot open the store for secrets: {e}"))?;
            &opened
        }
    };
    let mut out = HashMap::new();
    for key in keys {
        match store.get_secret(key).await.map_err(|e| e.to_string())? {
            Some(value) => {
                out.insert(key.to_string(), value);
            }
            None => {
                return Err(format!(
                    "secret `{key}` is not in the store; set it with `sluice secrets set {key}` (the value is read from standard input)"
                ));
            }
        }
    }
    Ok(out)
}

/// Where `{ store = "…" }` secrets are read: a store opened for the purpose (by URL, or the
/// default), or one already open.
#[derive(Clone, Copy)]
pub(crate) enum SecretStore<'a> {
    Url(Option<&'a str>),
    Open(&'a sluice_store::Store),
}

fn read_secret(
    source: &SecretSource,
    project_dir: Option<&Path>,
    what: &str,
    stored: &HashMap<String, String>,
) -> Result<String, String> {
    match source {
        SecretSource::Env(var) => std::env::var(var)
            .map_err(|_| format!("{what}: environment variable `{var}` is not set")),
        SecretSource::File(path) => {
            let p = project_dir.map_or_else(|| PathBuf::from(path), |d| d.join(path));
            fs_err::read_to_string(&p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("{what}: {e}"))
        }
        SecretSource::Store(key) => stored
            .get(key)
            .cloned()
            .ok_or_else(|| format!("{what}: secret `{key}` is not in the store")),
    }
}

/// `target` and every flow it calls through `flow:` steps, directly or not (each once).
fn with_called_flows<'a>(
    target: &'a Executable,
    flows: &'a HashMap<String, Arc<Executable>>,
) -> Vec<&'a Executable> {
    let mut out: Vec<&Executable> = vec![target];
    let mut next = 0;
    while let Some(exec) = out.get(next).copied() {
        next += 1;
        for step in &exec.steps {
            if let sluice_engine::exec::ExecKind::Flow { name, .. } = &step.kind
                && let Some(sub) = flows.get(name)
                && !out.iter().any(|e| e.name == sub.name)
            {
                out.push(sub.as_ref());
            }
        }
    }
    out
}

/// Reads the secrets of the credentials the flows use (from env, files or the store), and
/// registers them for redaction.
pub(crate) async fn configure_credentials(
    rt: &mut RuntimeBuilder,
    set: &FlowSet,
    execs: &[&Executable],
    store: SecretStore<'_>,
) -> Result<(), String> {
    let project = set.project();
    let dir = set.project_dir();
    let stored = load_store_secrets(project, execs, store).await?;
    let stored = &stored;
    let Some(project) = project else {
        return Ok(());
    };
    for conn in execs.iter().flat_map(|e| e.connections.iter()) {
        if conn
            .credential
            .as_ref()
            .is_some_and(|c| rt.has_credential(c))
        {
            continue;
        }
        let Some(name) = &conn.credential else {
            continue;
        };
        let Some(cred) = project.credentials.get(name) else {
            continue;
        };
        let auth = auth_of(name, cred, dir, conn, rt, stored)?;
        if let Some(location) = &cred.location_id {
            rt.location(name.clone(), location.clone());
        }
        rt.credential(name.clone(), auth);
    }
    Ok(())
}

fn auth_of(
    name: &str,
    cred: &Credential,
    dir: Option<&Path>,
    conn: &sluice_engine::exec::ConnectionSpec,
    rt: &mut RuntimeBuilder,
    stored: &HashMap<String, String>,
) -> Result<AuthMaterial, String> {
    let what = format!("credential `{name}`");
    let mut secret = |source: &SecretSource| -> Result<SecretString, String> {
        let value = read_secret(source, dir, &what, stored)?;
        rt.redact(&value);
        Ok(SecretString::from(value))
    };
    match cred.kind {
        sluice_model::connector::AuthKind::Oauth2 => {
            let need = |s: &Option<SecretSource>, key: &str| {
                s.clone()
                    .ok_or_else(|| format!("{what} (oauth2) needs `{key}`"))
            };
            let client_id = secret(&need(&cred.client_id, "client_id")?)?;
            let client_secret = secret(&need(&cred.client_secret, "client_secret")?)?;
            let refresh = secret(&need(&cred.refresh_token, "refresh_token")?)?;
            let access = match &cred.token {
                Some(t) => secret(t)?,
                None => SecretString::from(String::new()),
            };
            let token_url = conn
                .connector
                .auth
                .iter()
                .find_map(|a| a.token_url.clone())
                .ok_or_else(|| {
                    format!(
                        "connector `{}` has no OAuth token URL",
                        conn.connector.name.value
                    )
                })?;
            let token_url = if token_url.starts_with("http") {
                token_url
            } else {
                let base = rt
                    .base_url_of(&conn.name)
                    .or_else(|| rt.base_url_of(conn.connector.name.as_str()))
                    .map(str::to_string)
                    .or_else(|| conn.base_url.clone())
                    .unwrap_or_else(|| conn.connector.base_url.clone());
                format!("{}{token_url}", base.trim_end_matches('/'))
            };
            // A configured access token of unknown age is tried; a 401 refreshes it.
            let expires = if cred.token.is_some() {
                std::time::SystemTime::now() + std::time::Duration::from_secs(3600)
            } else {
                std::time::SystemTime::UNIX_EPOCH
            };
            let pair = sluice_connectors::oauth::TokenPair {
                access_token: access,
                refresh_token: refresh,
                expires_at: expires,
            };
            let state_dir = dir.unwrap_or_else(|| Path::new(".")).join(".sluice");
            fs_err::create_dir_all(&state_dir).map_err(|e| e.to_string())?;
            let store_path = state_dir.join("tokens.json");
            let store = Arc::new(sluice_connectors::oauth::FileTokenStore::new(store_path));
            let client =
                sluice_connectors::oauth::OAuthClient::new(client_id, client_secret, token_url);
            let token =
                sluice_connectors::oauth::OAuthToken::from_store(name, client, store, Some(pair))
                    .map_err(|e| e.to_string())?;
            Ok(AuthMaterial::OAuth(Arc::new(token)))
        }
        sluice_model::connector::AuthKind::Query => {
            let token = secret(
                cred.token
                    .as_ref()
                    .ok_or_else(|| format!("{what} has no `token`"))?,
            )?;
            let param = conn
                .connector
                .auth
                .iter()
                .find_map(|a| a.param.clone())
                .unwrap_or_else(|| "token".to_string());
            Ok(AuthMaterial::Query { param, token })
        }
        sluice_model::connector::AuthKind::Bearer => {
            let token = secret(
                cred.token
                    .as_ref()
                    .ok_or_else(|| format!("{what} has no `token`"))?,
            )?;
            Ok(AuthMaterial::Bearer(token))
        }
    }
}

/// Progress on a terminal (one line per running step) and the dry-run request listing.
struct Progress {
    bar: Option<ProgressBar>,
    dry_run: bool,
    printed: Mutex<usize>,
}

impl Progress {
    fn new(exec: &Executable, dry_run: bool) -> Self {
        let bar = (std::io::stderr().is_terminal() && !dry_run).then(|| {
            let bar = ProgressBar::new(exec.steps.len() as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {pos}/{len} steps {wide_msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        });
        Self {
            bar,
            dry_run,
            printed: Mutex::new(0),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepStarted { step } => {
                tracing::debug!(step, "Step started.");
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("running {step}"));
                }
            }
            Event::StepFinished {
                step,
                status,
                elapsed,
                attempts,
                error,
            } => {
                match error {
                    Some(e) => tracing::warn!(step, ?status, attempts, error = %e, "Step failed."),
                    None => tracing::info!(
                        step,
                        ?status,
                        attempts,
                        elapsed_ms = elapsed.as_millis() as u64,
                        "Step finished."
                    ),
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::Request {
                step,
                item,
                request,
                attempt,
            } => {
                tracing::debug!(step, method = %request.method, url = %request.url, attempt, "Request.");
                if self.dry_run {
                    let mut n = self
                        .printed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    *n += 1;
                    let mut out = std::io::stdout().lock();
                    let item = item.map(|i| format!(" [item {i}]")).unwrap_or_default();
                    let held = if request.sent {
                        ""
                    } else {
                        "   (write: not sent in a dry run)"
                    };
                    let _ = writeln!(
                        out,
                        "{n}. {step}{item}: {} {}{held}",
                        request.method, request.url
                    );
                    for (k, v) in &request.headers {
                        let _ = writeln!(out, "   {k}: {v}");
                    }
                    if let Some(body) = &request.body {
                        let _ = writeln!(out, "   body: {body}");
                    }
                }
            }
            Event::Retry {
                step,
                attempt,
                delay,
                error,
            } => {
                tracing::warn!(step, attempt, delay_ms = delay.as_millis() as u64, error = %error, "Retrying.");
            }
            _ => {}
        }
    }
}
