//! What a run reports while it goes: steps starting and finishing, every HTTP request (secrets
//! redacted) and answer, retries. The CLI draws progress from it, `--dry-run` prints the
//! requests, and the run store records them.

use std::time::Duration;

use serde::Serialize;

use crate::error::StepError;

/// A request as it was (or, in a dry run, would have been) sent, with secrets redacted.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers (secrets redacted).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Whether the operation changes data.
    pub writes: bool,
    /// False when a dry run held it back.
    pub sent: bool,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It produced a result.
    Succeeded,
    /// It failed (and the flow failed, unless `on_error: continue`).
    Failed,
    /// Its `if` was false.
    Skipped,
    /// The run stopped before it ended.
    Cancelled,
}

/// One thing that happened in a run.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A run began.
    RunStarted {
        /// The flow's name.
        flow: &'a str,
        /// How many steps it has.
        steps: usize,
    },
    /// A step began.
    StepStarted {
        /// The step's name.
        step: &'a str,
    },
    /// A request is about to be sent (or held back in a dry run).
    Request {
        /// The step's name.
        step: &'a str,
        /// The `for_each` item index.
        item: Option<usize>,
        /// 1 for the first attempt.
        attempt: u32,
        /// The request.
        request: &'a RequestRecord,
    },
    /// An answer arrived.
    Response {
        /// The step's name.
        step: &'a str,
        /// The `for_each` item index.
        item: Option<usize>,
        /// 1 for the first attempt.
        attempt: u32,
        /// HTTP status.
        status: u16,
        /// Time from sending to the whole answer.
        elapsed: Duration,
    },
    /// An attempt failed and another follows after `delay`.
    Retry {
        /// The step's name.
        step: &'a str,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next.
        delay: Duration,
        /// Why.
        error: &'a StepError,
    },
    /// A step ended.
    StepFinished {
        /// The step's name.
        step: &'a str,
        /// How.
        status: StepStatus,
        /// How long it took.
        elapsed: Duration,
        /// Attempts made (the most of any item).
        attempts: u32,
        /// The error, when it failed.
        error: Option<&'a StepError>,
    },
}

/// Receives a run's events. Methods must be quick: they run on the executor's tasks.
pub trait Observer: Send + Sync {
    /// One event.
    fn event(&self, event: &Event<'_>);

    /// Whether [`Event::Request`] is wanted (building a redacted request record has a cost).
    fn wants_requests(&self) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn event(&self, _: &Event<'_>) {}

    fn wants_requests(&self) -> bool {
        false
    }
}
