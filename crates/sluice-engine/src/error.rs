//! Why a step failed, in words a flow author can act on; secrets are redacted before any
//! error leaves the engine.

use std::time::Duration;

use serde::Serialize;
use sluice_template::TemplateError;

/// A step's failure.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StepError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// One sentence.
    pub message: String,
    /// The HTTP status, for API answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The API's request id, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Whether another attempt may succeed.
    #[serde(skip)]
    pub retryable: bool,
    /// How long the API asked us to wait.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

/// Kinds of step failures.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A template read a value that is not there, or a helper failed.
    Template,
    /// The API answered with a non-2xx status.
    Http,
    /// No answer in time.
    Timeout,
    /// The connection failed.
    Network,
    /// The answer was larger than allowed.
    TooLarge,
    /// The answer was not what the operation promises (e.g. not JSON).
    BadResponse,
    /// A rate limit or quota stopped the call.
    RateLimited,
    /// Anything else (a sub-flow failed, a bad `for_each` list, ...).
    Other,
    /// The run was cancelled.
    Cancelled,
}

impl StepError {
    /// A template problem.
    #[must_use]
    pub fn template(message: String) -> Self {
        Self::new(ErrorKind::Template, message)
    }

    /// A failure of some kind.
    #[must_use]
    pub fn new(kind: ErrorKind, message: String) -> Self {
        Self {
            kind,
            message,
            status: None,
            request_id: None,
            retryable: false,
            retry_after: None,
        }
    }

    /// Marks the error as worth another attempt.
    #[must_use]
    pub fn retryable(mut self, after: Option<Duration>) -> Self {
        self.retryable = true;
        self.retry_after = after;
        self
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, &self.request_id) {
            (Some(s), Some(id)) => write!(f, "{} (HTTP {s}, request id {id})", self.message),
            (Some(s), None) => write!(f, "{} (HTTP {s})", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for StepError {}

impl From<TemplateError> for StepError {
    fn from(e: TemplateError) -> Self {
        Self::template(e.to_string())
    }
}
