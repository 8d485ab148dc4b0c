//! The shapes the JSON API answers with (and the web view shows): flows with their triggers
//! and inputs, queued runs, run results, errors. Their JSON Schemas go into the OpenAPI
//! document (`openapi.rs`).

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sluice_model::flow::Trigger;
use sluice_store::{RunId, RunStatus, RunSummary};

use crate::registry::Snapshot;
use crate::schedule::Schedule;

/// `GET /api/flows`: the flows served, and the files that are not.
#[derive(Serialize, JsonSchema)]
pub struct FlowList {
    /// Every flow served, by name.
    pub flows: Vec<FlowInfo>,
    /// Files of the folder that could not be loaded (and serve no older version).
    pub not_served: Vec<NotServed>,
    /// When the folder was last read (RFC 3339).
    pub loaded_at: String,
}

/// One served flow.
#[derive(Serialize, JsonSchema)]
pub struct FlowInfo {
    /// The flow's name.
    pub name: String,
    /// The file it was read from.
    pub file: String,
    /// False when the file's current version is invalid and its last good version is served.
    pub valid: bool,
    /// Why the file's current version is not used, when `valid` is false.
    pub problem: Option<String>,
    /// What starts it.
    pub triggers: Vec<TriggerInfo>,
    /// Its declared inputs, in the order they are written.
    pub inputs: IndexMap<String, InputInfo>,
}

/// A trigger of a flow.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TriggerInfo {
    /// Started by hand (the API, the web view, `sluice run`).
    Manual,
    /// A cron schedule.
    Schedule {
        /// The cron line.
        cron: String,
        /// Its IANA time zone.
        timezone: String,
        /// The next fire time (RFC 3339), if any.
        next_fire: Option<String>,
    },
    /// A GHL webhook event.
    Webhook {
        /// The event type, e.g. `ContactUpdate`.
        event: String,
    },
    /// Each task of a connection when it falls due.
    TaskDue {
        /// The connection whose tasks are watched.
        connection: String,
    },
    /// Each new item of a polled list.
    Poll {
        /// The list operation, `connection.operation`.
        action: String,
    },
}

/// A declared input.
#[derive(Serialize, JsonSchema)]
pub struct InputInfo {
    /// `string`, `number`, `integer`, `boolean`, `array` or `object`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it is, for people starting the flow.
    pub description: Option<String>,
    /// Whether a run needs it.
    pub required: bool,
    /// The value used when none is given.
    pub default: Option<Value>,
}

/// A file that is not served.
#[derive(Serialize, JsonSchema)]
pub struct NotServed {
    /// The file.
    pub file: String,
    /// Why.
    pub problem: String,
}

/// A run was queued (`202`).
#[derive(Serialize, JsonSchema)]
pub struct RunQueued {
    /// The run's id.
    pub id: RunId,
    /// `queued`, or where it is after `?wait=` ran out.
    pub status: RunStatus,
}

/// A run that ended within `?wait=` (`200`).
#[derive(Serialize, JsonSchema)]
pub struct RunResult {
    /// The run's id.
    pub id: RunId,
    /// How it ended.
    pub status: RunStatus,
    /// Its output.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
}

/// `GET /api/runs`: recent runs, newest first.
#[derive(Serialize, JsonSchema)]
pub struct RunList {
    /// The runs.
    pub runs: Vec<RunSummary>,
}

/// An error answer.
#[derive(Serialize, JsonSchema)]
pub struct ApiError {
    /// What is wrong.
    pub error: String,
    /// Each problem with the inputs (`400` of a run request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<String>>,
}

/// The flows of a snapshot as the API shows them (next fire times from `now`).
pub(crate) fn flow_list(snap: &Snapshot, now: DateTime<Utc>) -> FlowList {
    let flows = snap
        .flows
        .iter()
        .map(|(name, f)| FlowInfo {
            name: name.clone(),
            file: f.file.clone(),
            valid: f.stale.is_none(),
            problem: f.stale.clone(),
            triggers: f.triggers.iter().map(|t| trigger_info(t, now)).collect(),
            inputs: f
                .exec
                .inputs
                .iter()
                .map(|(k, i)| {
                    (
                        k.clone(),
                        InputInfo {
                            kind: i.kind.as_str().to_string(),
                            description: i.description.clone(),
                            required: i.required.unwrap_or(i.default.is_none()),
                            default: i.default.clone(),
                        },
                    )
                })
                .collect(),
        })
        .collect();
    let loaded_at: DateTime<Utc> = snap.loaded_at.into();
    FlowList {
        flows,
        not_served: snap
            .problems
            .iter()
            .map(|(file, why)| NotServed {
                file: file.clone(),
                problem: why.clone(),
            })
            .collect(),
        loaded_at: loaded_at.to_rfc3339(),
    }
}

fn trigger_info(t: &Trigger, now: DateTime<Utc>) -> TriggerInfo {
    match t {
        Trigger::Manual(_) => TriggerInfo::Manual,
        Trigger::Schedule(s) => TriggerInfo::Schedule {
            cron: s.cron.value.clone(),
            timezone: s
                .timezone
                .as_ref()
                .map_or("UTC", |z| z.value.as_str())
                .to_string(),
            next_fire: Schedule::new(s)
                .ok()
                .and_then(|sc| sc.next(now))
                .map(|n| n.to_rfc3339()),
        },
        Trigger::Webhook(w) => TriggerInfo::Webhook {
            event: w.event.value.clone(),
        },
        Trigger::TaskDue(t) => TriggerInfo::TaskDue {
            connection: t.connection.value.clone(),
        },
        Trigger::Poll(p) => TriggerInfo::Poll {
            action: p.action.value.clone(),
        },
    }
}
