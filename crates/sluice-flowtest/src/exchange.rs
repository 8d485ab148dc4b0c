//! One HTTP exchange of a test case: as the case's server logged it ([`Exchange`]) and as a
//! cassette keeps it ([`Entry`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request the flow sent and the answer it got.
#[derive(Clone, Debug)]
pub(crate) struct Exchange {
    pub(crate) connection: String,
    /// The step that sent it, when known.
    pub(crate) step: Option<String>,
    /// `METHOD /path?query` relative to the connection's base URL (auth parameters left out).
    pub(crate) line: String,
    pub(crate) body: Option<Value>,
    pub(crate) status: u16,
    pub(crate) response: Value,
    /// Whether nothing could answer it (no canned answer, not in the cassette).
    pub(crate) unanswered: bool,
}

/// One recorded exchange.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry {
    /// The flow's connection.
    pub(crate) connection: String,
    /// `METHOD /path?query`, relative to the connection's base URL.
    pub(crate) request: String,
    /// The JSON body sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<Value>,
    /// The answer's status.
    pub(crate) status: u16,
    /// The answer's body (JSON, or its text).
    #[serde(default)]
    pub(crate) response: Value,
}
