//! The connectors built into Sluice, as data: the YAML files of `connectors/` are compiled
//! into the binary, so a flow can use `ghl-contacts`, the other GHL connectors (`ghl-users`,
//! `ghl-locations`, `ghl-businesses`, `ghl-opportunities`, `ghl-calendars`,
//! `ghl-conversations`) or `ipinfo` without any file beside it.
//! Project connectors of the same name, loaded after these, replace them.
//!
//! Beside the catalog, what every call to a connector's API needs at run time, shared by
//! all runs of the process:
//! - [`ratelimit`]: [`RateLimits`], the connectors' rate limits per credential and location,
//!   waited out before sending and fed back by the API's `X-RateLimit-*` headers;
//! - [`cache`]: [`ReadCache`], answers of `cacheable` operations, per credential, for a while;
//! - [`oauth`]: [`OAuthToken`], OAuth 2.0 access tokens refreshed single-flight, with the
//!   rotated refresh token saved (through a [`TokenStore`], the run store in practice, under
//!   its store-wide lock) before the new token is used.

pub mod cache;
pub mod oauth;
pub mod ratelimit;

pub use cache::{CacheKey, ReadCache};
pub use oauth::{
    AuthError, MemoryTokenStore, OAuthClient, OAuthToken, StoreError, StoreFuture, TokenLock,
    TokenPair, TokenStore,
};
pub use ratelimit::{InvalidLimit, LimitError, LimitKey, RateLimits};

use sluice_model::{Catalog, FileReport};

/// The built-in connector files: `(path in the repository, YAML text, node tree prepared at
/// build time)` (build.rs; [`sluice_model::prepared`]).
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "connectors/ghl-contacts.yaml",
        include_str!("../../../connectors/ghl-contacts.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-contacts.tree.json")),
    ),
    (
        "connectors/ghl-users.yaml",
        include_str!("../../../connectors/ghl-users.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-users.tree.json")),
    ),
    (
        "connectors/ghl-locations.yaml",
        include_str!("../../../connectors/ghl-locations.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-locations.tree.json")),
    ),
    (
        "connectors/ghl-businesses.yaml",
        include_str!("../../../connectors/ghl-businesses.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-businesses.tree.json")),
    ),
    (
        "connectors/ghl-opportunities.yaml",
        include_str!("../../../connectors/ghl-opportunities.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-opportunities.tree.json")),
    ),
    (
        "connectors/ghl-calendars.yaml",
        include_str!("../../../connectors/ghl-calendars.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-calendars.tree.json")),
    ),
    (
        "connectors/ghl-conversations.yaml",
        include_str!("../../../connectors/ghl-conversations.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ghl-conversations.tree.json")),
    ),
    (
        "connectors/ipinfo.yaml",
        include_str!("../../../connectors/ipinfo.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/ipinfo.tree.json")),
    ),
    (
        "connectors/webhook.yaml",
        include_str!("../../../connectors/webhook.yaml"),
        include_str!(concat!(env!("OUT_DIR"), "/webhook.tree.json")),
    ),
];

/// Reads the built-in connectors into a catalog.
///
/// # Errors
/// The report of every built-in file that could not be read (a bug of this crate; the tests
/// check that none fails).
pub fn builtin_catalog() -> Result<Catalog, Vec<FileReport>> {
    Catalog::from_sources(BUILTIN.iter().map(|&(path, text, _)| (path, text)))
}
