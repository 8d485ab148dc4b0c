//! Logs on stderr: `-v`/`-vv` or `SLUICE_LOG` pick the level, `--log-format` text or JSON.

use crate::args::{LogArgs, LogFormat};

/// Installs the log subscriber (once; later calls do nothing).
pub(crate) fn init(args: &LogArgs) {
    let level = match args.verbose {
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
    let _ = match args.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
