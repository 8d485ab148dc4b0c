//! The values the store takes and gives back: run ids and statuses, new runs, step records,
//! HTTP calls, run summaries and details, write-intent states and audit verification reports.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// A run's id: a ULID (26 characters, sorts by creation time), e.g. `01J9Z3K4M5N6P7Q8R9S0T1V2W3`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A new, unique id.
    #[allow(clippy::new_without_default)]
    pub fn new() -> RunId {
        RunId(ulid::Ulid::new().to_string())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id read from the database, taken as it is.
    pub(crate) fn from_db(text: String) -> RunId {
        RunId(text)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RunId {
    type Err = StoreError;

    /// Parses a run id as a user typed it (any case).
    fn from_str(s: &str) -> Result<RunId, StoreError> {
        ulid::Ulid::from_string(s.trim())
            .map(|u| RunId(u.to_string()))
            .map_err(|_| {
                StoreError::Invalid(format!("`{s}` is not a run id (a 26-character ULID)"))
            })
    }
}

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a runner to claim it.
    Queued,
    /// A runner holds it (under a lease).
    Running,
    /// Every step succeeded (or failed with `on_error: continue`).
    Succeeded,
    /// A step failed.
    Failed,
    /// Cancelled (Ctrl-C, shutdown).
    Cancelled,
    /// The flow's timeout passed.
    TimedOut,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::TimedOut,
    ];

    /// The status's name as stored: `queued`, `running`, `succeeded`, `failed`, `cancelled`,
    /// `timed_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::TimedOut => "timed_out",
        }
    }

    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    pub(crate) fn from_db(s: &str) -> Result<RunStatus, StoreError> {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown run status `{s}`")))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<RunStatus, StoreError> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "unknown run status `{s}` (queued, running, succeeded, failed, cancelled, timed_out)"
                ))
            })
    }
}

/// How a step ended (a step is recorded when it finishes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It produced a result.
    Succeeded,
    /// It failed.
    Failed,
    /// Its `if` was false.
    Skipped,
    /// The run stopped before it ended (not finished: a resumed run runs it again).
    Cancelled,
}

impl StepStatus {
    /// The status's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    pub(crate) fn from_db(s: &str) -> Result<StepStatus, StoreError> {
        [
            StepStatus::Succeeded,
            StepStatus::Failed,
            StepStatus::Skipped,
            StepStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown step status `{s}`")))
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claim on a run: who holds it and for how long before another runner may take it over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The runner's name (unique per process, e.g. `host:pid:random`).
    pub owner: String,
    /// How long the claim lasts unless renewed.
    pub duration: Duration,
}

/// A run to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    /// The flow's name.
    pub flow: String,
    /// SHA-256 (lowercase hex) of the flow file's content; see [`NewRun::content_hash`].
    pub flow_hash: String,
    /// What started it: `manual`, `schedule`, `webhook:ContactUpdate`, …
    pub trigger: String,
    /// The run's inputs.
    pub inputs: Value,
    /// Where the flow file is (absolute), so the run can be resumed from it.
    pub flow_path: Option<String>,
    /// `None`: the run is queued for a runner to claim. `Some`: it is created `running`, held by
    /// this lease (the caller runs it now, e.g. `sluice run`).
    pub lease: Option<Lease>,
}

impl NewRun {
    /// A queued run of `flow` whose file content is `flow_source`.
    pub fn new(
        flow: impl Into<String>,
        flow_source: &[u8],
        trigger: impl Into<String>,
        inputs: Value,
    ) -> NewRun {
        NewRun {
            flow: flow.into(),
            flow_hash: NewRun::content_hash(flow_source),
            trigger: trigger.into(),
            inputs,
            flow_path: None,
            lease: None,
        }
    }

    /// The run, remembering where its flow file is.
    #[must_use]
    pub fn at_path(mut self, path: impl Into<String>) -> NewRun {
        self.flow_path = Some(path.into());
        self
    }

    /// The run, created `running` under `lease` instead of queued.
    #[must_use]
    pub fn running(mut self, lease: Lease) -> NewRun {
        self.lease = Some(lease);
        self
    }

    /// SHA-256 of `bytes` as lowercase hex.
    pub fn content_hash(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What a step did, recorded when it finishes: one per (run, step, `for_each` item).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    /// The step's name.
    pub step: String,
    /// The `for_each` item index (`None` for the step as a whole).
    pub item: Option<u32>,
    /// How it ended.
    pub status: StepStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The rendered request, secrets already redacted by the caller (capped).
    pub request: Option<Value>,
    /// The last answer's HTTP status.
    pub response_status: Option<u16>,
    /// The output (capped; see [`crate::is_truncated`]).
    pub output: Option<Value>,
    /// The error, when it failed (capped).
    pub error: Option<Value>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

/// One HTTP attempt of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpCall {
    /// The step's name.
    pub step: String,
    /// The `for_each` item index.
    pub item: Option<u32>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// HTTP method.
    pub method: String,
    /// Full URL (secrets redacted by the caller).
    pub url: String,
    /// Headers (secrets redacted by the caller).
    pub headers: Vec<(String, String)>,
    /// JSON body (capped).
    pub body: Option<Value>,
    /// The answer's status; `None` when no answer came.
    pub status: Option<u16>,
    /// Time from sending to the whole answer.
    pub elapsed_ms: u64,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// Why it failed without an answer (timeout, connection refused).
    pub error: Option<String>,
}

/// One thing to record in [`crate::Store::record_batch`].
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A new run with its id chosen beforehand ([`RunId::new`]), as [`crate::Store::create_run`].
    CreateRun(RunId, NewRun),
    /// A run's end, as [`crate::Store::finish_run`].
    FinishRun {
        /// The run.
        run: RunId,
        /// Its final status.
        status: RunStatus,
        /// Its output.
        output: Option<Value>,
        /// Why it failed.
        error: Option<String>,
    },
    /// A finished step (see [`crate::Store::record_step`]).
    Step(RunId, StepRecord),
    /// An HTTP attempt (see [`crate::Store::record_http_call`]).
    Http(RunId, HttpCall),
    /// Item `index` of a run's streamed output (see [`crate::Store::output_items`]): the
    /// result of that item of the `for_each` list whose results are the run's output. An item
    /// already stored for that index is kept (a resumed run emits its items again).
    OutputItem {
        /// The run.
        run: RunId,
        /// The item's index in the `for_each` list.
        index: u32,
        /// The item's result (already redacted; capped as other stored values).
        value: Value,
    },
    /// An HTTP attempt recorded in two parts under `sent`, an id unique within the run: when
    /// it is sent (`status` none, `error` [`crate::NO_ANSWER`]) and again when its answer (or
    /// failure) comes — the second record replaces the first. A run that stops in between
    /// keeps the attempt as sent and unanswered.
    HttpAttempt {
        /// The run.
        run: RunId,
        /// The attempt's id within the run (random).
        sent: i64,
        /// The attempt as it stands.
        call: HttpCall,
    },
    /// The answer of a write (see [`crate::Store::write_done`]).
    WriteDone {
        /// The idempotency key.
        key: String,
        /// The answer.
        response: Value,
    },
    /// An audit record (see [`crate::Store::audit`]).
    Audit {
        /// What happened, e.g. `write.sent`.
        kind: String,
        /// The run it is about.
        run: Option<RunId>,
        /// The details.
        payload: Value,
    },
}

/// Which runs [`crate::Store::list_runs`] returns (newest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunFilter {
    /// Only this flow.
    pub flow: Option<String>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Only runs created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: Option<usize>,
}

/// A line of `sluice runs list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    /// The run's id.
    pub id: RunId,
    /// The flow's name.
    pub flow: String,
    /// What started it.
    pub trigger: String,
    /// Where it is.
    pub status: RunStatus,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When a runner first started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunSummary {
    /// How long it ran, once it has ended.
    pub fn duration(&self) -> Option<Duration> {
        let (Some(start), Some(end)) = (self.started_at, self.finished_at) else {
            return None;
        };
        (end - start).to_std().ok()
    }
}

/// One run's own record, without its steps and HTTP calls: what a runner needs to start it, and
/// what a caller waiting for its end reads (a few hundred bytes however large the run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunHead {
    /// The run's id.
    pub id: RunId,
    /// The flow's name.
    pub flow: String,
    /// SHA-256 of the flow file's content.
    pub flow_hash: String,
    /// Where the flow file was when the run was created.
    pub flow_path: Option<String>,
    /// What started it.
    pub trigger: String,
    /// Its inputs.
    pub inputs: Value,
    /// Where it is.
    pub status: RunStatus,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When a runner first started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The runner holding (or last holding) it.
    pub owner: Option<String>,
    /// Until when that runner's lease lasts (cleared when the run ends).
    pub lease_until: Option<DateTime<Utc>>,
    /// How many times a runner claimed it (more than 1: it was taken over or resumed).
    pub claims: u32,
    /// The run's output (capped).
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Everything recorded about one run: `sluice runs show`, and a line of `sluice runs export`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunDetail {
    /// The run's own record (its fields are the detail's, in JSON).
    #[serde(flatten)]
    pub run: RunHead,
    /// Its steps, in the order they started.
    pub steps: Vec<StepRecord>,
    /// Its HTTP calls, in the order they were recorded.
    pub http_calls: Vec<HttpCall>,
    /// How many step records and HTTP calls this detail leaves out, when it was read with a
    /// limit (`GET /api/runs/{id}?limit=`); absent when it lists everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<Omitted>,
}

/// How many of a run's step records and HTTP calls a [`RunDetail`] read with a limit left out.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Omitted {
    /// Step records not listed.
    pub steps: u64,
    /// HTTP calls not listed.
    pub http_calls: u64,
}

/// What [`crate::Store::write_intent`] found for an idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteState {
    /// First time: the intent is recorded; send the write, then call
    /// [`crate::Store::write_done`].
    New,
    /// The write was (maybe) sent before but its answer was never recorded: its outcome is
    /// unknown. Check the remote side before sending it again.
    Pending,
    /// The write was done; here is its recorded answer. Do not send it again.
    Done(Value),
}

/// The result of [`crate::Store::verify_audit`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum VerifyReport {
    /// Every record is intact and linked to the one before.
    Ok {
        /// How many records.
        records: u64,
        /// The last record's hash (note it elsewhere to detect a rewritten log later).
        head_hash: String,
    },
    /// The first record that is not as written.
    FirstBad {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
}

impl VerifyReport {
    /// Whether the log is intact.
    pub fn is_ok(&self) -> bool {
        matches!(self, VerifyReport::Ok { .. })
    }
}
