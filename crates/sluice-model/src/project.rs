//! The project file `sluice.toml`: credentials (where each secret comes from, which scopes it
//! grants) and settings. Secrets never live in flow files.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::connector::AuthKind;
use crate::diagnostic::{Diagnostic, FileReport};
use crate::span::Span;

/// The name of the project file.
pub const PROJECT_FILE: &str = "sluice.toml";

/// The contents of `sluice.toml`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Credentials by name; a flow's connection names one with `credential:`.
    #[serde(default)]
    pub credentials: IndexMap<String, Credential>,
    /// How runs are kept in the run store.
    #[serde(default)]
    pub runs: RunSettings,
    /// The runner service (`sluice serve`): its HTTP API and webhooks.
    #[serde(default)]
    pub serve: ServeSettings,
    /// Secrets a flow's connection settings may read as `{{ secrets.NAME }}` (a webhook URL
    /// with a token in it, a header value), each from the environment, a file or the store.
    #[serde(default)]
    pub secrets: IndexMap<String, SecretSource>,
}

/// `[serve]`: what `sluice serve` needs besides the flows.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// The bearer token every `/api/…` and `/metrics` request must carry
    /// (`Authorization: Bearer TOKEN`). Default: the `SLUICE_API_TOKEN` environment variable;
    /// without either, `sluice serve` refuses to start.
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// GHL's webhook public key (Ed25519, PEM) that `x-ghl-signature` is checked with, e.g.
    /// `{ file = "ghl-webhook.pem" }`. Without it, webhook deliveries are refused.
    #[serde(default)]
    pub webhook_public_key: Option<SecretSource>,
    /// The oldest a delivery's `timestamp` may be (replays are refused). Default: `5m`.
    #[serde(default)]
    pub webhook_max_age: Option<crate::value::Duration>,
}

/// `[runs]`: how runs are kept in the run store.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// How long finished runs are kept: `sluice runs prune` without `--older-than` removes
    /// older ones. Default: `30d`.
    #[serde(default)]
    pub retention: Option<crate::value::Duration>,
    /// The largest step output, request or run output stored, in bytes of JSON; a larger one is
    /// replaced by a marker with a preview. Default: 262144 (256 KiB).
    #[serde(default)]
    pub max_output_bytes: Option<usize>,
}

/// A credential: its kind, where its secrets come from, and what it may do.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// `bearer` (a static token), `oauth2` (access token with refresh) or `query`.
    pub kind: AuthKind,
    /// The scopes the credential was granted. When given, a flow that uses an operation
    /// needing another scope fails validation.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The static token (`bearer`, `query`) or the current access token (`oauth2`).
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// OAuth client id.
    #[serde(default)]
    pub client_id: Option<SecretSource>,
    /// OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// OAuth refresh token (rotated on every refresh; the new one is stored).
    #[serde(default)]
    pub refresh_token: Option<SecretSource>,
    /// The GHL location (sub-account) the credential works for; rate limits count per location.
    #[serde(default)]
    pub location_id: Option<String>,
}

/// Where a secret's value comes from. Exactly one key.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretSource {
    /// An environment variable's name.
    Env(String),
    /// A file's path (relative to `sluice.toml`); surrounding whitespace is trimmed.
    File(String),
    /// A key in the run store's secret table.
    Store(String),
}

/// Reads `sluice.toml` text.
///
/// # Errors
/// A report with the located problem.
pub fn parse_project(path: &str, text: &str) -> Result<Project, FileReport> {
    toml::from_str::<Project>(text).map_err(|e| {
        let mut report = FileReport::new(path, text);
        let mut d = Diagnostic::error("sluice::project::invalid", e.message().to_string());
        if let Some(range) = e.span() {
            d = d.label(Span::new(range.start, range.end - range.start), "");
        }
        report.diagnostics.push(d);
        report
    })
}
