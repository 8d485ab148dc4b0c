//! The `sluice` command: validate flows, show their plans, print the JSON Schemas.

mod files;
mod init;
mod run;
mod runs;
mod sandbox;
mod schema;
mod serve;
mod testing;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sluice_model::{Catalog, FileReport, Limits};

/// Sluice: declarative workflows for GoHighLevel, IPinfo and friends — validate, plan and run
/// YAML flows, or serve the built-in GHL sandbox.
#[derive(Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check flows (files or folders) and report every problem. Exit 0 when valid, 1 when not.
    Validate {
        /// Flow files or folders of flows. Default: `workflows`.
        paths: Vec<std::path::PathBuf>,
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
        flow: std::path::PathBuf,
        /// `text`, `mermaid` or `dot`.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Run a flow once and print its output as JSON (the run is recorded in the run store).
    Run(run::RunArgs),
    /// Run every flow of a folder on its triggers (schedules, HTTP API, webhooks, due tasks,
    /// polled lists) until stopped; several runners can share one PostgreSQL store.
    Serve(serve::ServeArgs),
    /// Print the next fire times of a flow's schedules, to check a cron line before it runs.
    Schedule {
        /// The flow file.
        flow: std::path::PathBuf,
        /// How many fire times.
        #[arg(long, default_value_t = 10)]
        next: usize,
        /// Count from this time (RFC 3339) instead of now.
        #[arg(long)]
        from: Option<String>,
    },
    /// Test flows against their fixture files (`FLOW.test.yaml`): canned answers, the sandbox
    /// or recorded cassettes. Exit 0 when every case passes, 1 when one fails.
    Test(testing::TestArgs),
    /// The recorded runs: list, show, export, verify the audit log, prune, resume.
    Runs {
        #[command(subcommand)]
        command: runs::RunsCommand,
    },
    /// Keep secrets in the run store: `sluice secrets set NAME` reads the value from stdin.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Serve the built-in GHL sandbox (a local GoHighLevel Contacts + IPinfo look-alike) until Ctrl-C.
    Sandbox(sandbox::SandboxArgs),
    /// Start a project in DIR: a first flow, the editor schemas, `.vscode/settings.json`, a
    /// `sluice.toml` credentials template and a `.gitignore`. Never overwrites a file.
    Init {
        /// The project folder (created when missing).
        dir: std::path::PathBuf,
    },
    /// Print a JSON Schema (for editors): `flow`, `connector`, `project`; or `openapi`, the
    /// OpenAPI document of the runner's HTTP API.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        kind: schema::SchemaKind,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Store a secret; its value is read from standard input (never from the command line).
    Set {
        /// The secret's name, as in `token = { store = "NAME" }` in sluice.toml.
        name: String,
        /// The run store (`sqlite://PATH` or `postgres://…`). Default: `$SLUICE_HOME/sluice.db`,
        /// else `.sluice/sluice.db`.
        #[arg(long, env = "SLUICE_STORE")]
        store: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DiagFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Text,
    Mermaid,
    Dot,
}

/// Exit codes: 0 fine, 1 invalid flow, 2 usage or I/O error.
const EXIT_INVALID: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Validate {
            paths,
            format,
            deny_warnings,
        } => validate(paths, format, deny_warnings),
        Command::Plan { flow, format } => plan(&flow, format),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Schedule { flow, next, from } => {
            serve::print_schedule(&flow, next, from.as_deref())
        }
        Command::Test(args) => testing::run(args),
        Command::Runs { command } => runs::command(command),
        Command::Sandbox(args) => sandbox::serve(&args),
        Command::Init { dir } => init::init(&dir),
        Command::Secrets {
            command: SecretsCommand::Set { name, store },
        } => set_secret(&name, store.as_deref()),
        Command::Schema { kind } => {
            let schema = schema::generate(kind)?;
            println!("{schema}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn validate(
    paths: Vec<std::path::PathBuf>,
    format: DiagFormat,
    deny_warnings: bool,
) -> Result<ExitCode, String> {
    let paths = if paths.is_empty() {
        vec![std::path::PathBuf::from("workflows")]
    } else {
        paths
    };
    let set = files::FlowSet::load(&paths)?;
    let results = set.validate(&Limits::default());
    let reports: Vec<&FileReport> = results
        .iter()
        .filter(|(asked, _)| *asked)
        .map(|(_, v)| &v.report)
        .collect();
    let errors: usize = reports.iter().map(|r| r.error_count()).sum();
    let warnings: usize = reports.iter().map(|r| r.warning_count()).sum();
    match format {
        DiagFormat::Json => {
            let all: Vec<_> = reports.iter().flat_map(|r| r.to_json()).collect();
            let text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
            println!("{text}");
        }
        DiagFormat::Human => {
            let mut err = std::io::stderr().lock();
            for r in &reports {
                let _ = write!(err, "{}", r.render(color()));
            }
            let flows = reports.len();
            let bad = reports.iter().filter(|r| r.error_count() > 0).count();
            let _ = writeln!(
                err,
                "checked {flows} flow{}: {errors} error{}, {warnings} warning{}{}",
                plural(flows),
                plural(errors),
                plural(warnings),
                if bad > 0 {
                    format!(" ({bad} invalid)")
                } else {
                    String::new()
                }
            );
        }
    }
    let failed = errors > 0 || (deny_warnings && warnings > 0);
    Ok(if failed {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

fn set_secret(name: &str, store: Option<&str>) -> Result<ExitCode, String> {
    use std::io::Read as _;
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .map_err(|e| format!("cannot read the secret from standard input: {e}"))?;
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(
            "no value on standard input (pipe it in: `sluice secrets set NAME < file`)".into(),
        );
    }
    let url = run::store_url(store);
    if let Some(path) = url.strip_prefix("sqlite://")
        && let Some(dir) = std::path::Path::new(path).parent()
    {
        fs_err::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let store = sluice_store::Store::open(&url)
            .await
            .map_err(|e| format!("cannot open the store: {e}"))?;
        store
            .put_secret(name, value)
            .await
            .map_err(|e| e.to_string())?;
        store.close().await;
        eprintln!("secret `{name}` stored");
        Ok(ExitCode::SUCCESS)
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn plan(flow: &std::path::Path, format: PlanFormat) -> Result<ExitCode, String> {
    let set = files::FlowSet::load(&[flow.to_path_buf()])?;
    let results = set.validate(&Limits::default());
    let Some((_, v)) = results.into_iter().find(|(asked, _)| *asked) else {
        return Err(format!("{}: not a flow file", flow.display()));
    };
    let Some(plan) = &v.plan else {
        eprint!("{}", v.report.render(color()));
        eprintln!("the flow has errors: no plan");
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    if v.report.warning_count() > 0 {
        eprint!("{}", v.report.render(color()));
    }
    let text = match format {
        PlanFormat::Text => sluice_plan::render::text(plan),
        PlanFormat::Mermaid => sluice_plan::render::mermaid(plan),
        PlanFormat::Dot => sluice_plan::render::dot(plan),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The built-in connectors plus those of the project's `connectors/` folder.
fn catalog(project_dir: Option<&std::path::Path>) -> Result<Catalog, String> {
    let mut sources: Vec<(String, String)> = sluice_connectors::BUILTIN
        .iter()
        .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
        .collect();
    if let Some(dir) = project_dir {
        let connectors = dir.join("connectors");
        if connectors.is_dir() {
            sources.extend(
                files::read_yaml_files(&connectors)?
                    .into_iter()
                    .map(|(p, t, _)| (p, t)),
            );
        }
    }
    Catalog::from_sources(sources.iter().map(|(p, t)| (p.as_str(), t.as_str()))).map_err(
        |reports| {
            let mut text = String::new();
            for r in reports {
                text.push_str(&r.render(color()));
            }
            format!("a connector file is invalid:\n{text}")
        },
    )
}
