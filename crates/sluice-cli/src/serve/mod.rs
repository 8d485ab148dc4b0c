//! `sluice serve`: runs every flow of a folder on its triggers until stopped — schedules,
//! the HTTP API (`manual`), GHL webhooks, due tasks and polled lists — with runs queued in
//! the run store and claimed under leases, so several runners can share one PostgreSQL.

mod api;
mod metrics;
mod openapi;
mod registry;
mod triggers;
mod web;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use sluice_engine::Recorder;
use sluice_store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::run::{LogFormat, humantime_duration, init_logs, open_store};

pub(crate) use openapi::document_text as openapi_document;
pub(crate) use registry::Registry;

/// Options of `sluice serve`.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The folder of flows. Default: `workflows`.
    dir: Option<PathBuf>,
    /// Address of the HTTP API, webhooks and metrics (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// The run store (`sqlite://PATH` or `postgres://…`; several runners share a PostgreSQL).
    /// Default: `$SLUICE_HOME/sluice.db`, else `.sluice/sluice.db`.
    #[arg(long, env = "SLUICE_STORE")]
    store: Option<String>,
    /// Runs executed at once by this runner.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// HTTP calls in flight at once, across all runs.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Point every GHL and IPinfo connection at a built-in sandbox started in this process.
    #[arg(long)]
    sandbox: bool,
    /// Override a connection setting, `CONNECTION.base_url=URL` (repeatable).
    #[arg(long = "connection", value_name = "CONN.base_url=URL")]
    connections: Vec<String>,
    /// How long a run is held before another runner may take it over; renewed every third.
    #[arg(long, value_parser = humantime_duration, default_value = "30s")]
    lease: Duration,
    /// How long a shutdown waits for running runs before handing them back.
    #[arg(long, value_parser = humantime_duration, default_value = "30s")]
    shutdown_timeout: Duration,
    /// How often triggers and the flows folder are looked at.
    #[arg(long, value_parser = humantime_duration, default_value = "1s")]
    tick: Duration,
    /// This runner's name in leases and logs. Default: `HOST:PID`.
    #[arg(long)]
    name: Option<String>,
    /// More logs on stderr (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// What the runner's tasks share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) recorder: Arc<Recorder>,
    /// This runner's name (lease owner).
    pub(crate) owner: String,
    pub(crate) registry: Registry,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Woken when this runner queues a run, so a worker claims it at once.
    pub(crate) wake: Notify,
    /// Stops claiming and triggers.
    pub(crate) stopping: CancellationToken,
    pub(crate) ready: AtomicBool,
    pub(crate) api_token: SecretString,
    pub(crate) webhook_key: Option<ed25519_dalek::VerifyingKey>,
    pub(crate) webhook_max_age: Duration,
    pub(crate) lease: Duration,
    pub(crate) workers: usize,
    pub(crate) shutdown_timeout: Duration,
    /// The location triggers use when a credential names none (the sandbox's).
    pub(crate) default_location: Option<String>,
    /// The web view's logged-in sessions.
    pub(crate) sessions: web::Sessions,
}

pub(crate) fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    init_logs(args.verbose, args.log_format);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("workflows"));
    if !dir.is_dir() {
        return Err(format!("{}: no such folder of flows", dir.display()));
    }
    crate::run::block_on(async move {
        let owner = args
            .name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", crate::run::hostname(), std::process::id()));
        let project = crate::files::find_project(&dir)
            .map(|path| {
                let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
                sluice_model::project::parse_project(&path.display().to_string(), &text)
                    .map_err(|r| r.render(false))
            })
            .transpose()?;
        let store = open_store(args.store.as_deref(), project.as_ref()).await?;
        let metrics = Arc::new(metrics::Metrics::new());
        let registry = Registry::load(&dir, &args, metrics.clone(), store.clone()).await?;
        let api_token = api_token(project.as_ref(), registry.project_dir().as_deref())?;
        let webhook_key = webhook_key(project.as_ref(), registry.project_dir().as_deref())?;
        let webhook_max_age = project
            .as_ref()
            .and_then(|p| p.serve.webhook_max_age)
            .map_or(Duration::from_secs(300), |d| d.0);
        let shared = Arc::new(Shared {
            recorder: Recorder::start(store.clone()),
            store,
            owner,
            registry,
            metrics,
            wake: Notify::new(),
            stopping: CancellationToken::new(),
            ready: AtomicBool::new(false),
            api_token,
            webhook_key,
            webhook_max_age,
            lease: args.lease,
            workers: args.workers.max(1),
            shutdown_timeout: args.shutdown_timeout,
            default_location: args
                .sandbox
                .then(|| sluice_sandbox::DEMO_LOCATION.to_string()),
            sessions: web::Sessions::default(),
        });
        shared.registry.report();
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        let app = api::router(shared.clone());
        let stop_http = shared.stopping.clone();
        let http = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop_http.cancelled().await })
                .await;
        });
        let workers = tokio::spawn(worker::claim_loop(shared.clone()));
        let triggers = tokio::spawn(triggers::trigger_loop(shared.clone(), args.tick));
        let watcher = tokio::spawn(registry::watch(shared.clone(), dir.clone(), args.tick * 2));
        shared.ready.store(true, Ordering::SeqCst);
        eprintln!(
            "sluice serve: {} flow(s) from {}, runner {}, listening on http://{addr}",
            shared.registry.snapshot().flows.len(),
            dir.display(),
            shared.owner
        );

        wait_for_signal().await;
        eprintln!(
            "sluice serve: stopping — no new runs are claimed; waiting up to {} for running ones",
            humantime::format_duration(args.shutdown_timeout)
        );
        shared.ready.store(false, Ordering::SeqCst);
        shared.stopping.cancel();
        triggers.abort();
        watcher.abort();
        let handed_back = workers.await.unwrap_or(0);
        let _ = http.await;
        if let Err(e) = shared.recorder.flush().await {
            eprintln!("sluice serve: the last records could not be written: {e}");
        }
        eprintln!("sluice serve: stopped ({handed_back} run(s) handed back to the queue)");
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The API's bearer token: `[serve] token` of sluice.toml, else `$SLUICE_API_TOKEN`.
fn api_token(
    project: Option<&sluice_model::Project>,
    dir: Option<&std::path::Path>,
) -> Result<SecretString, String> {
    let configured = project.and_then(|p| p.serve.token.as_ref());
    let token = match configured {
        Some(source) => read_source(source, dir, "`[serve] token`")?,
        None => std::env::var("SLUICE_API_TOKEN").unwrap_or_default(),
    };
    let token = token.trim().to_string();
    if token.len() < 16 {
        return Err(
            "the HTTP API needs a bearer token of at least 16 characters: set `[serve] token = { env = \"…\" }` in sluice.toml or the SLUICE_API_TOKEN environment variable"
                .into(),
        );
    }
    Ok(SecretString::from(token))
}

/// GHL's webhook public key, when configured.
fn webhook_key(
    project: Option<&sluice_model::Project>,
    dir: Option<&std::path::Path>,
) -> Result<Option<ed25519_dalek::VerifyingKey>, String> {
    use ed25519_dalek::pkcs8::DecodePublicKey as _;
    let Some(source) = project.and_then(|p| p.serve.webhook_public_key.as_ref()) else {
        return Ok(None);
    };
    let pem = read_source(source, dir, "`[serve] webhook_public_key`")?;
    ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
        .map(Some)
        .map_err(|e| {
            format!("`[serve] webhook_public_key` is not an Ed25519 public key (PEM): {e}")
        })
}

fn read_source(
    source: &sluice_model::SecretSource,
    dir: Option<&std::path::Path>,
    what: &str,
) -> Result<String, String> {
    match source {
        sluice_model::SecretSource::Env(var) => std::env::var(var)
            .map_err(|_| format!("{what}: environment variable `{var}` is not set")),
        sluice_model::SecretSource::File(path) => {
            let p = dir.map_or_else(|| PathBuf::from(path), |d| d.join(path));
            fs_err::read_to_string(&p).map_err(|e| format!("{what}: {e}"))
        }
        sluice_model::SecretSource::Store(_) => Err(format!(
            "{what}: read it from `env` or `file` (the store is opened after it)"
        )),
    }
}

/// Constant-time comparison of a presented token with the configured one.
pub(crate) fn token_matches(shared: &Shared, presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let expected = shared.api_token.expose_secret().as_bytes();
    let presented = presented.as_bytes();
    presented.len() == expected.len() && bool::from(presented.ct_eq(expected))
}

/// `sluice schedule FLOW --next N`: the next fire times of each of the flow's schedules, in
/// their time zone and in UTC.
pub(crate) fn print_schedule(
    flow: &std::path::Path,
    next: usize,
    from: Option<&str>,
) -> Result<ExitCode, String> {
    let loaded = match crate::run::load(flow) {
        Ok(l) => l,
        Err(done) => return done,
    };
    let from = match from {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("`--from {t}`: not an RFC 3339 time ({e})"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let text = fs_err::read_to_string(flow).map_err(|e| e.to_string())?;
    let doc = sluice_model::load_flow(
        &flow.display().to_string(),
        &text,
        &sluice_model::Limits::default(),
    );
    let schedules: Vec<sluice_model::flow::ScheduleTrigger> = doc
        .document
        .iter()
        .flat_map(|d| d.flow.triggers.iter())
        .filter_map(|t| match &t.value {
            sluice_model::Trigger::Schedule(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    if schedules.is_empty() {
        return Err(format!(
            "flow `{}` has no `schedule` trigger",
            loaded.target.name
        ));
    }
    for s in &schedules {
        let schedule = triggers::Schedule::new(s)?;
        let zone = s.timezone.as_ref().map_or("UTC", |z| z.value.as_str());
        println!("{} ({zone}):", s.cron.value);
        for t in schedule.after(from).take(next) {
            println!(
                "  {}   {}",
                t.format("%a %Y-%m-%d %H:%M:%S %Z"),
                t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
