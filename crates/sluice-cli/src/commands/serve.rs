//! `sluice serve`: the runner service (`sluice-server`) started from the command line, until
//! Ctrl-C or SIGTERM; and `sluice schedule`, the next fire times of a flow's schedules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_engine::RunOptions;
use sluice_project::{LoadedFlow, RuntimeSettings};
use sluice_server::schedule::Schedule;
use sluice_server::{ServeConfig, Server};

use crate::args::ServeArgs;
use crate::error::CliError;
use crate::exit::Exit;

/// `sluice serve DIR`.
pub(crate) fn serve(args: ServeArgs) -> Result<Exit, CliError> {
    crate::logs::init(&args.logs);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("workflows"));
    if !dir.is_dir() {
        return Err(sluice_server::ServeError::NoFolder(dir).into());
    }
    crate::block_on(async move {
        let sandbox = if args.sandbox {
            Some(super::sandbox::start_local(args.seed.as_deref()).await?)
        } else {
            None
        };
        let config = ServeConfig {
            dir: dir.clone(),
            listen: args.listen,
            store: args.store.clone(),
            workers: args.workers,
            runtime: RuntimeSettings {
                options: RunOptions {
                    concurrency: args.concurrency.max(1),
                    connection_concurrency: args.concurrency.max(1),
                    ..RunOptions::default()
                },
                connections: args.connections.clone(),
                routing: sandbox.as_ref().map(super::sandbox::routing),
            },
            lease: args.lease,
            shutdown_timeout: args.shutdown_timeout,
            tick: args.tick,
            name: args.name.clone(),
            default_location: sandbox
                .as_ref()
                .map(|_| sluice_sandbox::DEMO_LOCATION.to_string()),
            notices: Arc::new(|text: &str| eprintln!("sluice serve: {text}")),
        };
        let server = Server::start(config).await?;
        eprintln!(
            "sluice serve: {} flow(s) from {}, runner {}, listening on http://{}",
            server.flow_count(),
            dir.display(),
            server.owner(),
            server.addr()
        );
        wait_for_signal().await;
        eprintln!(
            "sluice serve: stopping — no new runs are claimed; waiting up to {} for running ones",
            humantime::format_duration(server.shutdown_timeout())
        );
        let stopped = server.shutdown().await;
        if let Some(e) = stopped.unwritten {
            eprintln!("sluice serve: the last records could not be written: {e}");
        }
        if let Some(sandbox) = sandbox {
            sandbox.shutdown().await;
        }
        eprintln!(
            "sluice serve: stopped ({} run(s) handed back to the queue)",
            stopped.handed_back
        );
        Ok(Exit::Success)
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

/// `sluice schedule FLOW --next N`: the next fire times of each of the flow's schedules, in
/// their time zone and in UTC.
pub(crate) fn print_schedule(
    flow: &Path,
    next: usize,
    from: Option<&str>,
) -> Result<Exit, CliError> {
    let loaded = LoadedFlow::load(flow)?;
    let from = match from {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| CliError::msg(format!("`--from {t}`: not an RFC 3339 time ({e})")))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let text = fs_err::read_to_string(flow)?;
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
        return Err(CliError::msg(format!(
            "flow `{}` has no `schedule` trigger",
            loaded.target.name
        )));
    }
    for s in &schedules {
        let schedule = Schedule::new(s).map_err(|e| CliError::msg(e.to_string()))?;
        let zone = s.timezone.as_ref().map_or("UTC", |z| z.value.as_str());
        outln!("{} ({zone}):", s.cron.value);
        for t in schedule.after(from).take(next) {
            outln!(
                "  {}   {}",
                t.format("%a %Y-%m-%d %H:%M:%S %Z"),
                t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
    }
    Ok(Exit::Success)
}
