//! What `sluice run` shows while a flow runs: a progress line per running step on a terminal,
//! logs of steps and retries, and with `--dry-run` every request the flow would send.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use sluice_engine::{Event, Executable, Observer};

/// Progress on a terminal (one line per running step) and the dry-run request listing.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    dry_run: bool,
    printed: Mutex<usize>,
}

impl Progress {
    pub(crate) fn new(exec: &Executable, dry_run: bool) -> Self {
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

    pub(crate) fn finish(&self) {
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
                    let mut n = self.printed.lock();
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
