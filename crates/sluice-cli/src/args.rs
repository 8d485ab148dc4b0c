//! The command line: every subcommand and flag of `sluice` (clap). Commands turn these into
//! the config structs of the library crates; nothing but this crate knows clap.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sluice_project::ConnectionOverride;

/// Sluice: declarative workflows for GoHighLevel, IPinfo and friends — validate, plan and run
/// YAML flows, or serve the built-in GHL sandbox.
#[derive(Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Check flows (files or folders) and report every problem. Exit 0 when valid, 1 when not.
    Validate {
        /// Flow files or folders of flows. Default: `workflows`.
        paths: Vec<PathBuf>,
        /// `human` (like a compiler) or `json` (for CI and editors).
        #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
        format: DiagFormat,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Show the DAG of a flow: which steps run at the same time and what each needs.
    Plan {
        /// The flow file.
        flow: PathBuf,
        /// `text`, `mermaid` or `dot`.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Run a flow once and print its output as JSON (the run is recorded in the run store).
    Run(RunArgs),
    /// Run every flow of a folder on its triggers (schedules, HTTP API, webhooks, due tasks,
    /// polled lists) until stopped; several runners can share one PostgreSQL store.
    Serve(ServeArgs),
    /// Print the next fire times of a flow's schedules, to check a cron line before it runs.
    Schedule {
        /// The flow file.
        flow: PathBuf,
        /// How many fire times.
        #[arg(long, default_value_t = 10)]
        next: usize,
        /// Count from this time (RFC 3339) instead of now.
        #[arg(long)]
        from: Option<String>,
    },
    /// Test flows against their fixture files (`FLOW.test.yaml`): canned answers, the sandbox
    /// or recorded cassettes. Exit 0 when every case passes, 1 when one fails.
    Test(TestArgs),
    /// The recorded runs: list, show, export, verify the audit log, prune, resume.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Keep secrets in the run store: `sluice secrets set NAME` reads the value from stdin.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Serve the built-in GHL sandbox (a local GoHighLevel Contacts + IPinfo look-alike) until Ctrl-C.
    Sandbox(SandboxArgs),
    /// Start a project in DIR: a first flow, the editor schemas, `.vscode/settings.json`, a
    /// `sluice.toml` credentials template and a `.gitignore`. Never overwrites a file.
    Init {
        /// The project folder (created when missing).
        dir: PathBuf,
    },
    /// Print a JSON Schema (for editors): `flow`, `fixture`, `connector`, `project`, `seed`
    /// (sandbox data); or `openapi`, the OpenAPI document of the runner's HTTP API.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        kind: SchemaKind,
        /// The flow schema of the project around this folder (the nearest `sluice.toml`): its
        /// connections' actions only, so an unknown action is flagged, each with its `with:`
        /// parameters.
        #[arg(long)]
        project: bool,
        /// Write the schema into the project's `schemas/` folder (`KIND.schema.json`) instead of
        /// printing it; a flow schema is then the project's (`--project`).
        #[arg(long)]
        write: bool,
    },
    /// Run the language server on stdin/stdout for the flows and fixtures of this folder:
    /// every `validate` problem while typing, completion, hover, go to definition and quick
    /// fixes. Editors start it; see docs/editors.md.
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
    /// Connectors: `sluice connector import` makes one from an OpenAPI document.
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum ConnectorCommand {
    /// Write `connectors/NAME.yaml` from an OpenAPI 3.0/3.1 document (a file or an http(s) URL):
    /// one operation per operationId, with parameters, response schemas (templates are
    /// type-checked against them), scopes and `writes`. Problems of the document are reported
    /// at their JSON pointer; the rest is imported. A connector edited by hand is not
    /// overwritten unless `--force`.
    Import(ImportArgs),
}

/// Options of `sluice connector import`.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The OpenAPI document: a path or an http(s) URL (JSON or YAML).
    pub(crate) source: String,
    /// The connector's name: `connectors/NAME.yaml`, `connector: NAME` in flows.
    #[arg(long)]
    pub(crate) name: String,
    /// Keep only operations whose path matches a glob (`/contacts/**`) or that have a tag
    /// (`Contacts`); repeatable. Default: every operation.
    #[arg(long, value_name = "PATH_GLOB|TAG")]
    pub(crate) include: Vec<String>,
    /// An override file: names, descriptions, pagination, fixes, auth, rate limits, webhooks
    /// (docs/connectors.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) overrides: Option<String>,
    /// The folder the connector is written to.
    #[arg(long, value_name = "DIR", default_value = "connectors")]
    pub(crate) out_dir: PathBuf,
    /// Write nothing: exit 1 when the connector file is not what an import would write.
    #[arg(long)]
    pub(crate) check: bool,
    /// Overwrite a connector that was edited by hand (or not made by an import).
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Subcommand)]
pub(crate) enum SecretsCommand {
    /// Store a secret; its value is read from standard input (never from the command line).
    Set {
        /// The secret's name, as in `token = { store = "NAME" }` in sluice.toml.
        name: String,
        /// The run store (`sqlite://PATH` or `postgres://…`). Default: `$SLUICE_HOME/sluice.db`,
        /// else `.sluice/sluice.db`.
        #[arg(long, env = "SLUICE_STORE")]
        store: Option<String>,
    },
    /// Print a new random key for `SLUICE_SECRET_KEY` (secrets and OAuth tokens are encrypted
    /// at rest with it; give every runner of a store the same key).
    Keygen,
    /// Encrypt every stored secret and OAuth token pair again with the current key, after a
    /// key rotation (the old key in `SLUICE_SECRET_KEY_PREVIOUS` until this has run).
    Rekey {
        /// The run store (`sqlite://PATH` or `postgres://…`). Default: `$SLUICE_HOME/sluice.db`,
        /// else `.sluice/sluice.db`.
        #[arg(long, env = "SLUICE_STORE")]
        store: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum DiagFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Mermaid,
    Dot,
}

/// Which schema to print.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemaKind {
    /// Flow files (`workflows/*.yaml`).
    Flow,
    /// Test fixtures of flows (`workflows/*.test.yaml`).
    Fixture,
    /// Connector files (`connectors/*.yaml`).
    Connector,
    /// The project file (`sluice.toml`).
    Project,
    /// Sandbox data (`sluice sandbox --seed FILE`, a test case's `seed:`).
    Seed,
    /// The OpenAPI document of `sluice serve`'s HTTP API (`schemas/openapi.json`).
    Openapi,
}

/// Options of `sluice run`.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// The flow file.
    pub(crate) flow: PathBuf,
    /// An input, `NAME=VALUE`, converted to the input's declared type (repeatable).
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub(crate) inputs: Vec<String>,
    /// A JSON file with the inputs as an object.
    #[arg(long = "inputs", value_name = "FILE")]
    pub(crate) inputs_file: Option<PathBuf>,
    /// Print every request the flow would send; reads are answered, writes are not sent.
    /// A dry run is not recorded.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Do not record the run in the run store.
    #[arg(long)]
    pub(crate) no_record: bool,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

/// How a run is carried out: `sluice run` and `sluice runs resume`.
#[derive(Args)]
pub(crate) struct ExecArgs {
    /// Override a connection setting, `CONNECTION.base_url=URL` (repeatable).
    #[arg(long = "connection", value_name = "CONN.base_url=URL")]
    pub(crate) connections: Vec<ConnectionOverride>,
    /// Run against the built-in GHL sandbox (started in this process): no account, no network.
    #[arg(long)]
    pub(crate) sandbox: bool,
    /// With `--sandbox`: its data from this seed file (schemas/seed.schema.json) instead of
    /// the demo data.
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub(crate) seed: Option<PathBuf>,
    /// HTTP calls in flight at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// Largest API answer accepted, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub(crate) max_response_bytes: usize,
    /// Serve repeated reads of cacheable operations from memory for this long, e.g. `30s`.
    #[arg(long, value_parser = duration)]
    pub(crate) cache_ttl: Option<Duration>,
    /// How the output is printed: `json` (one document when the run ends) or `jsonl` (one line
    /// per item; when the output is a `for_each` step's results, each is printed as soon as it
    /// and the items before it are done, and none is kept in memory).
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub(crate) output: OutputFormat,
    /// The run store (`sqlite://PATH` or `postgres://…`): runs are recorded there, and
    /// `{ store = "…" }` secrets read from it. Default: `$SLUICE_HOME/sluice.db`, else
    /// `.sluice/sluice.db`.
    #[arg(long, env = "SLUICE_STORE")]
    pub(crate) store: Option<String>,
    #[command(flatten)]
    pub(crate) logs: LogArgs,
}

/// Logging on stderr.
#[derive(Args)]
pub(crate) struct LogArgs {
    /// More logs on stderr (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// How `sluice run` prints the output.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Pretty JSON, once the run has ended.
    Json,
    /// One compact JSON value per line: a list's items (streamed when they can be).
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Options of `sluice serve`.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The folder of flows. Default: `workflows`.
    pub(crate) dir: Option<PathBuf>,
    /// Address of the HTTP API, webhooks and metrics (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub(crate) listen: SocketAddr,
    /// The run store (`sqlite://PATH` or `postgres://…`; several runners share a PostgreSQL).
    /// Default: `$SLUICE_HOME/sluice.db`, else `.sluice/sluice.db`.
    #[arg(long, env = "SLUICE_STORE")]
    pub(crate) store: Option<String>,
    /// Runs executed at once by this runner.
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
    /// HTTP calls in flight at once, across all runs.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Point every GHL and IPinfo connection at a built-in sandbox started in this process.
    #[arg(long)]
    pub(crate) sandbox: bool,
    /// With `--sandbox`: its data from this seed file (schemas/seed.schema.json) instead of
    /// the demo data.
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub(crate) seed: Option<PathBuf>,
    /// Override a connection setting, `CONNECTION.base_url=URL` (repeatable).
    #[arg(long = "connection", value_name = "CONN.base_url=URL")]
    pub(crate) connections: Vec<ConnectionOverride>,
    /// How long a run is held before another runner may take it over; renewed every third.
    #[arg(long, value_parser = duration, default_value = "30s")]
    pub(crate) lease: Duration,
    /// How long a shutdown waits for running runs before handing them back.
    #[arg(long, value_parser = duration, default_value = "30s")]
    pub(crate) shutdown_timeout: Duration,
    /// How often triggers and the flows folder are looked at.
    #[arg(long, value_parser = duration, default_value = "1s")]
    pub(crate) tick: Duration,
    /// This runner's name in leases and logs. Default: `HOST:PID`.
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) logs: LogArgs,
}

/// Options of `sluice test`.
#[derive(Args)]
pub(crate) struct TestArgs {
    /// Flows, fixture files (`FLOW.test.yaml`) or folders. Default: `workflows`.
    pub(crate) paths: Vec<PathBuf>,
    /// Rewrite the `expect:` of failing cases with what happened (the rest of the file is kept).
    #[arg(long)]
    pub(crate) update: bool,
    /// Record the cassettes of cases with `cassette:` against the sandbox (or the `--connection`
    /// endpoints), secrets redacted.
    #[arg(long)]
    pub(crate) record: bool,
    /// Only the cases whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) case: Option<String>,
    /// With `--record`: record this connection from a live endpoint, `CONN.base_url=URL`
    /// (credentials from `sluice.toml`) instead of the sandbox (repeatable).
    #[arg(
        long = "connection",
        value_name = "CONN.base_url=URL",
        requires = "record"
    )]
    pub(crate) connections: Vec<ConnectionOverride>,
}

/// Options of `sluice sandbox`.
#[derive(Args)]
pub(crate) struct SandboxArgs {
    /// Address to listen on (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// Seed data (JSON: locations, contacts, tasks, notes, appointments). Default: the demo data.
    #[arg(long)]
    pub(crate) seed: Option<PathBuf>,
    /// POST a signed GHL webhook event to this URL on every change.
    #[arg(long)]
    pub(crate) webhook_url: Option<String>,
}

/// `sluice runs …`
#[derive(Subcommand)]
pub(crate) enum RunsCommand {
    /// Recent runs, newest first: id, flow, trigger, status, duration, start.
    List {
        /// Only this flow.
        #[arg(long)]
        flow: Option<String>,
        /// Only this status (queued, running, succeeded, failed, cancelled, timed_out).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        store: StoreArg,
    },
    /// One run: its steps (request, status, attempts, timings, output) and HTTP calls.
    Show {
        /// The run's id.
        run: String,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Print only the run's output: a streamed output's items as JSON lines, in order;
        /// any other output as JSON.
        #[arg(long)]
        output: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Runs created since a time, as JSON Lines (one run with its steps and calls per line).
    Export {
        /// How far back (`1d`, `12h`) or a time (`2026-11-01T00:00:00Z`).
        #[arg(long)]
        since: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Check that the audit log is intact (no record edited, deleted or reordered).
    Verify {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Remove finished runs older than the retention (`[runs] retention` in sluice.toml,
    /// default 30d). The audit log keeps a record of what was removed.
    Prune {
        /// Remove runs that ended longer ago than this, e.g. `30d`.
        #[arg(long, value_parser = duration)]
        older_than: Option<Duration>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Resume a run that was interrupted (killed, cancelled) or failed: the steps that finished
    /// are not run again, and no write is sent twice.
    Resume(ResumeArgs),
}

/// `--store` for the commands that only read or tidy the store.
#[derive(Args)]
pub(crate) struct StoreArg {
    /// The run store (`sqlite://PATH` or `postgres://…`). Default: `$SLUICE_HOME/sluice.db`,
    /// else `.sluice/sluice.db`.
    #[arg(long, env = "SLUICE_STORE")]
    pub(crate) store: Option<String>,
}

/// Options of `sluice runs resume`.
#[derive(Args)]
pub(crate) struct ResumeArgs {
    /// The run's id.
    pub(crate) run: String,
    /// Send again a write whose outcome is unknown and cannot be checked through the API (you
    /// have checked that it did not happen).
    #[arg(long)]
    pub(crate) resend_unknown: bool,
    /// Resume even though the flow file changed since the run started.
    #[arg(long)]
    pub(crate) allow_changed: bool,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

/// A length of time as flows write it (`30s`, `5m`, `1d`).
pub(crate) fn duration(s: &str) -> Result<Duration, sluice_model::value::DurationError> {
    s.parse::<sluice_model::Duration>().map(|d| d.0)
}
