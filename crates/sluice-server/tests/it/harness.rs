//! What every test here starts from: a temp project whose `sluice.toml` takes the API token,
//! the GHL token and GHL's webhook key from files; a runner started in-process as `sluice
//! serve` would start it (with `--sandbox` or `--connection`); and the log it would print —
//! its notices and warnings — kept per test.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sluice_engine::RunOptions;
use sluice_project::RuntimeSettings;
use sluice_project::runtime::Routing;
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_server::{Notices, ServeConfig, Server, Stopped};
use sluice_test_support::TempProject;

/// A project: sluice.toml with the API token from `token.txt`, the credential the example
/// flows name (`ghl_main`) from `ghl.token` and, given a key, GHL's webhook public key from
/// `webhook.pem`.
pub(crate) fn project(api_token: &str, ghl_token: &str, webhook_pem: Option<&str>) -> TempProject {
    let webhook = if webhook_pem.is_some() {
        "webhook_public_key = { file = \"webhook.pem\" }\n"
    } else {
        ""
    };
    let project = TempProject::new(&format!(
        "[serve]\ntoken = {{ file = \"token.txt\" }}\n{webhook}\n\
         [credentials.ghl_main]\nkind = \"bearer\"\ntoken = {{ file = \"ghl.token\" }}\nlocation_id = \"loc_sandbox\"\n"
    ));
    project.write("token.txt", api_token);
    project.write("ghl.token", ghl_token);
    if let Some(pem) = webhook_pem {
        project.write("webhook.pem", pem);
    }
    project
}

/// Where a runner sends the flows' API calls.
pub(crate) enum Apis<'a> {
    /// The GHL sandbox, started with the runner (`sluice serve --sandbox`).
    Sandbox,
    /// `--connection CONN.base_url=URL` for each.
    Connections(&'a [&'a str]),
}

/// A runner started in-process, and the sandbox it was started with.
pub(crate) struct Runner {
    server: Server,
    base: String,
    sandbox: Option<Sandbox>,
    logs: Logs,
}

impl Runner {
    /// Starts a runner of the project's `flows/` on `listen` (`None`: a free port), as
    /// `sluice serve flows --store STORE --tick 200ms` does, logging into `logs`.
    pub(crate) async fn start(
        project: &TempProject,
        logs: &Logs,
        apis: Apis<'_>,
        listen: Option<SocketAddr>,
    ) -> Runner {
        let (sandbox, connections) = match apis {
            Apis::Sandbox => {
                let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
                    .await
                    .expect("the sandbox starts");
                (Some(sandbox), Vec::new())
            }
            Apis::Connections(specs) => (
                None,
                specs
                    .iter()
                    .map(|s| s.parse().expect("CONN.base_url=URL"))
                    .collect(),
            ),
        };
        let config = ServeConfig {
            listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            store: Some(project.store_url()),
            runtime: RuntimeSettings {
                // `sluice serve`'s default `--concurrency 16`.
                options: RunOptions {
                    concurrency: 16,
                    connection_concurrency: 16,
                    ..RunOptions::default()
                },
                connections,
                routing: sandbox.as_ref().map(routing),
            },
            tick: Duration::from_millis(200),
            default_location: sandbox
                .as_ref()
                .map(|_| sluice_sandbox::DEMO_LOCATION.to_string()),
            notices: logs.notices(),
            ..ServeConfig::new(project.flows())
        };
        let server = match Server::start(config).await {
            Ok(server) => server,
            Err(e) => panic!("the runner did not start: {e}\n{}", logs.text()),
        };
        Runner {
            base: format!("http://{}", server.addr()),
            server,
            sandbox,
            logs: logs.clone(),
        }
    }

    /// The runner's base URL, `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on the runner.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the runner (as SIGTERM does) and the sandbox: how it stopped and how long that
    /// took.
    ///
    /// # Panics
    /// When it has not stopped within `within`.
    pub(crate) async fn stop(self, within: Duration) -> (Stopped, Duration) {
        let started = Instant::now();
        let Ok(stopped) = tokio::time::timeout(within, self.server.shutdown()).await else {
            panic!(
                "the runner did not stop within {within:?}:\n{}",
                self.logs.text()
            )
        };
        let took = started.elapsed();
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
        (stopped, took)
    }
}

/// Every connector the sandbox stands in for, sent to it with its demo token (as `sluice
/// serve --sandbox` routes them).
fn routing(sandbox: &Sandbox) -> Routing {
    Routing {
        routes: sandbox
            .connector_urls()
            .into_iter()
            .map(|(connector, url)| (connector.to_string(), url))
            .collect(),
        token: sluice_sandbox::DEMO_TOKEN.to_string(),
    }
}

/// What a test's runner would print on stderr: its notices and its warnings (the level
/// `sluice serve` logs by default).
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }

    /// Notices, printed as `sluice serve` prints them.
    fn notices(&self) -> Notices {
        let buf = self.0.clone();
        Arc::new(move |text: &str| {
            buf.lock()
                .extend_from_slice(format!("sluice serve: {text}\n").as_bytes());
        })
    }

    /// A subscriber that writes warnings here, without colours or targets.
    fn dispatch(&self) -> tracing::Dispatch {
        let buf = self.0.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_target(false)
            .with_writer(move || LogWriter(buf.clone()))
            .finish();
        tracing::Dispatch::new(subscriber)
    }
}

/// Appends to a test's [`Logs`].
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `test` on a tokio runtime of its own (two workers) whose threads log into the test's
/// [`Logs`] — tests share one process, so each runtime gets its own log rather than one
/// global subscriber — and fails it after two minutes.
pub(crate) fn run<F, Fut>(test: F)
where
    F: FnOnce(Logs) -> Fut,
    Fut: Future<Output = ()>,
{
    let logs = Logs::default();
    let dispatch = logs.dispatch();
    let for_threads = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // For the thread's whole life: the guard is never dropped.
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .expect("a tokio runtime");
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            if tokio::time::timeout(Duration::from_secs(120), test(logs.clone()))
                .await
                .is_err()
            {
                panic!("the test did not end within 2 minutes:\n{}", logs.text());
            }
        });
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
}
