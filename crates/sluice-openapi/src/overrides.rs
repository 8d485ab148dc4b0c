//! The override file an import may read (`--overrides FILE`, YAML): what a document does not
//! say or says wrongly — operation names, descriptions, pagination, `reconcile`, fixed
//! parameters and response parts, auth, rate limits, scope texts, webhook pages. Editing it
//! and importing again replaces editing the generated connector by hand.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// An override file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// How the header comment names the source (default: the location as given).
    #[serde(default)]
    pub source: Option<String>,
    /// Lines added to the header comment.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Top-level settings of the connector.
    #[serde(default)]
    pub connector: Head,
    /// Scope → what it grants (default: the document's own scope texts, else the name).
    #[serde(default)]
    pub scopes: IndexMap<String, String>,
    /// Comment lines written above a top-level section (`auth`, `rate_limits`, `scopes`,
    /// `webhooks`, `operations`).
    #[serde(default)]
    pub comments: IndexMap<String, Vec<String>>,
    /// Path globs (`/contacts/**`) or tags the import keeps when `--include` gives none.
    #[serde(default)]
    pub include: Vec<String>,
    /// Body field → type, where the document's type contradicts its own description.
    #[serde(default)]
    pub type_fixes: IndexMap<String, String>,
    /// Webhook events read from Markdown pages (GHL's `docs/webhook events/*.md`).
    #[serde(default)]
    pub webhooks: Option<WebhookPages>,
    /// Per operation, by `operationId`; the connector lists these first, in this order.
    #[serde(default)]
    pub operations: IndexMap<String, OperationOverride>,
}

/// Top-level settings of the connector.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// What the API is (default: the document's title and description).
    #[serde(default)]
    pub description: Option<String>,
    /// The base URL (default: the document's first server).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Headers sent with every request (over those the document makes constant).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// The `auth` list, replacing what the security schemes give.
    #[serde(default)]
    pub auth: Option<Vec<Value>>,
    /// The `rate_limits` list (documents do not state them).
    #[serde(default)]
    pub rate_limits: Option<Vec<Value>>,
}

/// Where webhook pages are and which events to read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPages {
    /// Folders of `EVENT.md` pages, each relative to the OpenAPI document (tried first) or to
    /// this file.
    pub pages: Vec<String>,
    /// A Markdown table of scope → endpoints → events (GHL's `docs/oauth/Scopes.md`),
    /// relative to the document.
    #[serde(default)]
    pub scopes_table: Option<String>,
    /// The events, in the order the connector lists them.
    pub events: Vec<String>,
}

/// What an operation gets beside (or instead of) what its document says.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationOverride {
    /// The operation's name (default: the `operationId` in snake_case).
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces the summary.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it writes (default: every method but GET).
    #[serde(default)]
    pub writes: Option<bool>,
    /// Whether a retry is safe (default: the method's).
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// Parameters added, or fields of generated ones replaced (`{ type: integer }`).
    #[serde(default)]
    pub params: IndexMap<String, Value>,
    /// The `pagination` block.
    #[serde(default)]
    pub pagination: Option<Value>,
    /// The `reconcile` block.
    #[serde(default)]
    pub reconcile: Option<Value>,
    /// JSON pointer into the response schema → the schema put there (`$ref`s of the document
    /// allowed), e.g. `/properties/meta`.
    #[serde(default)]
    pub response_set: IndexMap<String, Value>,
}

impl Overrides {
    /// Reads an override file.
    ///
    /// # Errors
    /// The text is not YAML of this shape (the message names the key).
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }
}
