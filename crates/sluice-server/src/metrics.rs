//! The runner's Prometheus metrics (`GET /metrics`, OpenMetrics text): runs by flow and
//! status, step latency, HTTP calls by status, rate-limit waits and retries, queue depth,
//! lease takeovers, webhook deliveries. Engine events arrive through the [`Observer`].

use parking_lot::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sluice_engine::{ErrorKind, Event, Observer};

type Labels = Vec<(&'static str, String)>;

/// Every metric, and the registry that writes them out.
pub(crate) struct Metrics {
    registry: Mutex<Registry>,
    runs: Family<Labels, Counter>,
    steps: Family<Labels, Histogram>,
    http: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    pub(crate) queue_depth: Gauge,
    limit_waits: Gauge,
    limit_waited: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub(crate) running: Gauge,
    pub(crate) takeovers: Counter,
    webhooks: Family<Labels, Counter>,
    triggers: Family<Labels, Counter>,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("sluice")),
            runs: Family::default(),
            steps: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 16))
            }),
            http: Family::default(),
            retries: Family::default(),
            queue_depth: Gauge::default(),
            limit_waits: Gauge::default(),
            limit_waited: Gauge::default(),
            running: Gauge::default(),
            takeovers: Counter::default(),
            webhooks: Family::default(),
            triggers: Family::default(),
        };
        {
            let mut r = m.registry.lock();
            r.register(
                "runs",
                "Runs that ended, by flow and status",
                m.runs.clone(),
            );
            r.register(
                "step_duration_seconds",
                "How long steps took, by step and status",
                m.steps.clone(),
            );
            r.register(
                "http_requests",
                "HTTP answers received, by status code",
                m.http.clone(),
            );
            r.register(
                "retries",
                "Attempts repeated, by reason (rate_limited, other)",
                m.retries.clone(),
            );
            r.register(
                "queue_depth",
                "Runs queued, not yet claimed",
                m.queue_depth.clone(),
            );
            r.register(
                "rate_limit_waits",
                "Requests that waited for a rate limit or an API's pause (since start)",
                m.limit_waits.clone(),
            );
            r.register(
                "rate_limit_wait_seconds",
                "Time requests waited for rate limits in all (since start)",
                m.limit_waited.clone(),
            );
            r.register(
                "running_runs",
                "Runs this runner is executing",
                m.running.clone(),
            );
            r.register(
                "lease_takeovers",
                "Runs this runner took over from another (an expired lease)",
                m.takeovers.clone(),
            );
            r.register(
                "webhook_deliveries",
                "Webhook deliveries, by result (queued, duplicate, ignored, refused)",
                m.webhooks.clone(),
            );
            r.register(
                "trigger_fires",
                "Runs queued by triggers, by kind (schedule, task_due, poll, webhook, api)",
                m.triggers.clone(),
            );
        }
        m
    }

    pub(crate) fn run_ended(&self, flow: &str, status: &str) {
        self.runs
            .get_or_create(&vec![
                ("flow", flow.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    pub(crate) fn webhook(&self, result: &str) {
        self.webhooks
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    pub(crate) fn fired(&self, kind: &str) {
        self.triggers
            .get_or_create(&vec![("kind", kind.to_string())])
            .inc();
    }

    /// Takes the rate limiter's wait counts (read when the metrics are rendered).
    pub(crate) fn limiter(&self, (waits, waited): (u64, std::time::Duration)) {
        self.limit_waits
            .set(i64::try_from(waits).unwrap_or(i64::MAX));
        self.limit_waited.set(waited.as_secs_f64());
    }

    /// The metrics in the OpenMetrics text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock();
        if encode(&mut out, &r).is_err() {
            out.clear();
        }
        out
    }
}

impl Observer for Metrics {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepFinished {
                step,
                status,
                elapsed,
                ..
            } => {
                let status = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.steps
                    .get_or_create(&vec![("step", (*step).to_string()), ("status", status)])
                    .observe(elapsed.as_secs_f64());
            }
            Event::Response { status, .. } => {
                self.http
                    .get_or_create(&vec![("code", status.to_string())])
                    .inc();
            }
            Event::Retry { error, .. } => {
                let reason = if error.kind == ErrorKind::RateLimited || error.status == Some(429) {
                    "rate_limited"
                } else {
                    "other"
                };
                self.retries
                    .get_or_create(&vec![("reason", reason.to_string())])
                    .inc();
            }
            _ => {}
        }
    }

    fn wants_requests(&self) -> bool {
        false
    }
}
