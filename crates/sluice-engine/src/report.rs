//! What a run tells its caller when it ends: how it ended ([`RunStatus`]), its output or why it
//! failed, and what each step did ([`StepReport`]).

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::error::StepError;
use crate::observer::StepStatus;

/// How a run ended.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every step succeeded (or failed with `on_error: continue`).
    Succeeded,
    /// A step failed.
    Failed,
    /// Cancelled (Ctrl-C, shutdown).
    Cancelled,
    /// The flow's timeout passed.
    TimedOut,
}

/// What one step did.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// The step's name.
    pub name: String,
    /// How it ended (`None`: it never started).
    pub status: Option<StepStatus>,
    /// Attempts made.
    pub attempts: u32,
    /// Milliseconds it took.
    pub elapsed_ms: u64,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
}

impl StepReport {
    /// The report of step `name` before it starts.
    pub(crate) fn not_started(name: &str) -> Self {
        Self {
            name: name.to_string(),
            status: None,
            attempts: 0,
            elapsed_ms: 0,
            error: None,
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The flow.
    pub flow: String,
    /// How it ended.
    pub status: RunStatus,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// Why it did not, in one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each step.
    pub steps: Vec<StepReport>,
    /// Milliseconds the run took.
    pub elapsed_ms: u64,
}

/// How the steps of a (sub-)flow ended: a run's report without its flow's name and duration.
pub(crate) struct FlowOutcome {
    /// How they ended.
    pub(crate) status: RunStatus,
    /// The flow's output, when they succeeded.
    pub(crate) output: Option<Value>,
    /// Why they did not, in one sentence.
    pub(crate) error: Option<String>,
    /// Each step.
    pub(crate) steps: Vec<StepReport>,
}

impl FlowOutcome {
    /// The steps ended without an output: every step that has not ended is marked `Cancelled`.
    pub(crate) fn stopped(status: RunStatus, error: String, mut steps: Vec<StepReport>) -> Self {
        for r in &mut steps {
            if r.status.is_none() {
                r.status = Some(StepStatus::Cancelled);
            }
        }
        Self {
            status,
            output: None,
            error: Some(error),
            steps,
        }
    }
}

/// Milliseconds since `since`, saturating.
pub(crate) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
