//! The `sluice` command: clap arguments turned into the config structs of the library crates
//! (`sluice-project`, `sluice-server`, `sluice-flowtest`), output and progress, one exit code
//! enum, and errors rendered once with their causes and a hint.

/// `println!` to stdout, except that a closed pipe (`sluice … | head`) ends the process quietly
/// instead of panicking, as other command-line tools do.
macro_rules! outln {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` to stdout, with [`outln!`]'s handling of a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

mod args;
mod commands;
mod error;
mod exit;
mod logs;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, ConnectorCommand, SecretsCommand};
use crate::error::CliError;
use crate::exit::Exit;

fn main() -> ExitCode {
    redacted_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
            .into();
        }
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprint!("{}", e.render(color()));
            Exit::Usage.into()
        }
    }
}

/// Panics are reported on stderr as usual, but with every secret of the process's runtimes
/// masked (a step that panics fails its run, which records the message redacted too).
fn redacted_panics() {
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string();
        let shown = sluice_engine::redact::redact_process(&text).unwrap_or_else(|| {
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            format!("panicked{at} (its message is left out: it may hold a secret)")
        });
        eprintln!(
            "thread '{}' {shown}",
            std::thread::current().name().unwrap_or("<unnamed>")
        );
    }));
}

/// Writes to stdout; a closed pipe ends the process (exit 0: the reader has what it wanted).
pub(crate) fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Whether stderr gets colours (a terminal, and no `NO_COLOR`).
pub(crate) fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn run(cli: Cli) -> Result<Exit, CliError> {
    use commands::{
        connector, init, lsp, plan, run, runs, sandbox, schema, secrets, serve, test, validate,
    };
    match cli.command {
        Command::Validate {
            paths,
            format,
            deny_warnings,
        } => validate::validate(paths, format, deny_warnings),
        Command::Plan { flow, format } => plan::plan(&flow, format),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Schedule { flow, next, from } => {
            serve::print_schedule(&flow, next, from.as_deref())
        }
        Command::Test(args) => test::test(args),
        Command::Runs { command } => runs::command(command),
        Command::Sandbox(args) => sandbox::serve(&args),
        Command::Init { dir } => init::init(&dir),
        Command::Secrets {
            command: SecretsCommand::Set { name, store },
        } => secrets::set(&name, store.as_deref()),
        Command::Secrets {
            command: SecretsCommand::Keygen,
        } => {
            outln!("{}", secrets::keygen());
            Ok(Exit::Success)
        }
        Command::Secrets {
            command: SecretsCommand::Rekey { store },
        } => secrets::rekey(store.as_deref()),
        Command::Connector {
            command: ConnectorCommand::Import(args),
        } => connector::import(&args),
        Command::Schema {
            kind,
            project,
            write,
        } => schema::schema(kind, project, write),
        Command::Lsp { stdio: _ } => lsp::lsp(),
    }
}

/// Starts the async runtime and runs `fut` on it.
pub(crate) fn block_on<T>(
    fut: impl std::future::Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::msg(format!("cannot start the async runtime: {e}")))?
        .block_on(fut)
}
