//! The connector file: an API described as data (`connectors/*.yaml`).
//!
//! Base URL, headers, auth kinds, rate limits, webhook events and one entry per operation.
//! Adding an endpoint is editing YAML, not Rust.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::span::Sp;
use crate::value::Duration;

/// An API connector.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Sluice connector")]
pub struct Connector {
    /// The connector's name, used in a flow's `connections: { x: { connector: NAME } }`.
    pub name: Sp<String>,
    /// What the API is.
    #[serde(default)]
    pub description: Option<String>,
    /// The URL every operation path is appended to.
    pub base_url: String,
    /// Headers sent with every request, e.g. GHL's `Version`.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// The ways to authenticate; a credential must be of one of these kinds.
    #[serde(default)]
    pub auth: Vec<Auth>,
    /// Limits the API states; Sluice waits before sending rather than be refused.
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    /// The longest wait an answer's `Retry-After` may ask for (default `5m`). An answer asking
    /// for more fails the call at once with a clear error instead of stalling the run (and
    /// every other call of the same credential) for as long as the API says.
    #[serde(default)]
    pub max_retry_after: Option<Duration>,
    /// The OAuth scopes operations may need, with what each grants.
    #[serde(default)]
    pub scopes: IndexMap<String, String>,
    /// Webhook events the API sends, by name, usable in `on: - webhook: { event: NAME }`.
    #[serde(default)]
    pub webhooks: IndexMap<String, WebhookEvent>,
    /// The operations, by name: `get_contact` is called as `CONNECTION.get_contact`.
    pub operations: IndexMap<Sp<String>, Operation>,
}

impl Connector {
    /// The operation of this name.
    #[must_use]
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }
}

/// One way of authenticating.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The kind of credential.
    pub kind: AuthKind,
    /// For `oauth2`: the token endpoint, absolute or relative to `base_url`.
    #[serde(default)]
    pub token_url: Option<String>,
    /// For `query`: the query parameter carrying the token.
    #[serde(default)]
    pub param: Option<String>,
    /// What this kind is, for people setting up credentials.
    #[serde(default)]
    pub description: Option<String>,
}

/// Kinds of credentials.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// A static token sent as `Authorization: Bearer TOKEN` (GHL Private Integration token, IPinfo token).
    Bearer,
    /// OAuth 2.0 access token with refresh (refresh tokens may rotate on every use).
    Oauth2,
    /// A static token sent as a query parameter.
    Query,
}

/// A rate limit the API states.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// A name for messages and metrics, e.g. `burst` or `daily`.
    pub name: String,
    /// How many requests are allowed per `per`.
    pub requests: u64,
    /// The window, e.g. `10s` or `1d`.
    pub per: Duration,
    /// What the limit is counted per: `credential`, `location` (GHL sub-account) or both.
    #[serde(default)]
    pub scope: Vec<LimitScope>,
    /// Whether running out is final for the window (a daily quota): then Sluice fails the
    /// call with a clear error instead of waiting.
    #[serde(default)]
    pub quota: bool,
    /// A budget shared across connectors: limits of the same name and `shared` value in
    /// several connectors are one budget (GHL counts per app and location, whichever of its
    /// APIs is called). Default: the connector's own.
    #[serde(default)]
    pub shared: Option<String>,
}

/// What a rate limit is counted per.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// Each credential (app or token) has its own budget.
    Credential,
    /// Each location (GHL sub-account) has its own budget.
    Location,
}

/// A webhook event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    /// When the event is sent.
    #[serde(default)]
    pub description: Option<String>,
    /// The scope a credential needs to receive it.
    #[serde(default)]
    pub scope: Option<String>,
    /// JSON Schema of the payload, passed to the flow as its inputs.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

/// One API operation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// One line for hover docs.
    pub description: String,
    /// The upstream operation id, for cross-checking with the API's own documents.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// The HTTP method.
    pub method: Method,
    /// The path after `base_url`; `{name}` is a path parameter.
    pub path: String,
    /// The OAuth scopes the operation needs (any one of them is enough).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether the operation changes data. A `read_only` connection refuses it.
    /// Default: true for POST, PUT, PATCH and DELETE.
    #[serde(default)]
    pub writes: Option<bool>,
    /// Whether answers may be served from the read cache.
    #[serde(default)]
    pub cacheable: bool,
    /// Whether a retry after an unknown outcome is safe (GET, PUT and DELETE are; say so for a safe POST).
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// Whether the API marks the operation deprecated.
    #[serde(default)]
    pub deprecated: bool,
    /// The parameters, by name.
    #[serde(default)]
    pub params: IndexMap<String, Param>,
    /// How to get further pages, when the operation pages.
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// The format of the answer. Default: `json`.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// JSON Schema of the successful answer; the planner checks templates against it.
    #[serde(default)]
    pub response: Option<serde_json::Value>,
    /// For a write that is not idempotent: how to find out whether it was applied when a
    /// crash left its outcome unknown, so a resumed run does not make it twice.
    #[serde(default)]
    pub reconcile: Option<Reconcile>,
}

/// How a resumed run finds out whether a write whose outcome is unknown was applied: it calls a
/// read operation and looks for an item that carries the write's values.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    /// The read operation of the same connector (the write's parameters of the same names are
    /// passed to it, e.g. `contactId`).
    pub operation: String,
    /// The key of the list in the read's answer, e.g. `tasks`.
    pub items: String,
    /// The write's body parameters that identify what it created: an item whose fields all
    /// equal them is the write's result.
    #[serde(rename = "match")]
    pub match_fields: Vec<String>,
    /// The key the write's own answer puts the created item under (e.g. `task`), if any.
    #[serde(default)]
    pub wrap: Option<String>,
}

impl Operation {
    /// Whether the operation changes data.
    #[must_use]
    pub fn is_write(&self) -> bool {
        self.writes.unwrap_or(!matches!(self.method, Method::Get))
    }

    /// Whether retrying after an unknown outcome is safe.
    #[must_use]
    pub fn is_idempotent(&self) -> bool {
        self.idempotent.unwrap_or(matches!(
            self.method,
            Method::Get | Method::Put | Method::Delete
        ))
    }
}

/// HTTP methods.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Answer formats.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// A JSON document.
    #[default]
    Json,
    /// Plain text (the step's result is a string).
    Text,
}

/// A parameter of an operation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// Where it goes: `path`, `query`, `header`, a `body` field, or the whole body (`body_root`).
    #[serde(rename = "in")]
    #[schemars(rename = "in")]
    pub location: ParamIn,
    /// Its JSON type.
    #[serde(rename = "type", default)]
    #[schemars(rename = "type")]
    pub kind: ParamType,
    /// Whether the operation needs it.
    #[serde(default)]
    pub required: bool,
    /// What it is, for hover docs.
    #[serde(default)]
    pub description: Option<String>,
    /// The values it may take.
    #[serde(default, rename = "enum")]
    #[schemars(rename = "enum")]
    pub allowed: Option<Vec<serde_json::Value>>,
    /// The value the API assumes when it is left out.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParamIn {
    /// Replaces `{name}` in the path (URL-encoded).
    Path,
    /// A query-string parameter.
    Query,
    /// A request header.
    Header,
    /// A field of the JSON body.
    Body,
    /// The whole JSON body.
    BodyRoot,
}

/// JSON types of parameters.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Text.
    #[default]
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A list.
    Array,
    /// A map.
    Object,
    /// Anything.
    Any,
}

/// How an operation pages: which parameter moves to the next page, where the items are, and
/// when there are no more. A flow step asks for it with `pages: all` (or a number) or
/// `max_items: N`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    /// `cursor`: values read from an answer go into the next request; `offset`: a skip count
    /// grows by the items received; `page`: a page number grows by one; `next_url`: the
    /// answer holds the next page's URL.
    pub kind: PaginationKind,
    /// Where the items are in an answer, e.g. `$.contacts` (a plain JSONPath of names).
    pub items: String,
    /// The parameter holding the page size (a page with fewer items is the last).
    #[serde(default)]
    pub limit_param: Option<String>,
    /// For `offset`: the parameter holding how many items to skip.
    #[serde(default)]
    pub offset_param: Option<String>,
    /// For `page`: the parameter holding the page number.
    #[serde(default)]
    pub page_param: Option<String>,
    /// For `page`: the number of the first page. Default: 1.
    #[serde(default)]
    pub first_page: Option<u64>,
    /// For `cursor`: each cursor parameter and the JSONPath of its next value in an answer
    /// (none there: no more pages).
    #[serde(default)]
    pub cursor: IndexMap<String, String>,
    /// For `next_url`: the JSONPath of the next page's URL in an answer (none: no more pages).
    #[serde(default)]
    pub next: Option<String>,
    /// The JSONPath of the total number of items, when the answer says it (reading stops there).
    #[serde(default)]
    pub total: Option<String>,
}

impl Pagination {
    /// The items' path as names (`$.a.b` → `["a", "b"]`); `None` when it is not that plain.
    #[must_use]
    pub fn items_path(&self) -> Option<Vec<String>> {
        let rest = self.items.trim().strip_prefix("$.")?;
        let names: Vec<String> = rest.split('.').map(str::to_string).collect();
        names
            .iter()
            .all(|n| {
                !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
            .then_some(names)
    }
}

/// Kinds of pagination.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PaginationKind {
    /// Values from the last answer say where the next page starts.
    Cursor,
    /// A skip count.
    Offset,
    /// A page number.
    Page,
    /// The last answer holds the next page's URL.
    NextUrl,
}
