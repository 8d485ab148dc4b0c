//! A Sluice project on disk, read and turned into what the engine runs.
//!
//! [`FlowSet`] finds flow files and the project file (`sluice.toml`) around them; [`catalog`]
//! adds the project's connectors to the built-in ones; [`LoadedFlow`] is one flow checked and
//! built with the flows it may call; [`credentials`] reads secrets (environment, files, the run
//! store) into the engine's auth; [`RuntimeSettings`] builds the engine's runtime from all of it;
//! [`schema`] writes the editor schemas, the flow schema fitted to the project's connections;
//! [`budgets`] counts rate limits in the run store for a fleet of runners.

pub mod budgets;
pub mod catalog;
pub mod connection;
pub mod credentials;
pub mod error;
pub mod files;
pub mod host;
pub mod inputs;
pub mod lease;
pub mod load;
pub mod oauth_store;
pub mod read;
pub mod runtime;
pub mod schema;
pub mod store;

pub use catalog::catalog;
pub use connection::ConnectionOverride;
pub use credentials::SecretStore;
pub use error::ProjectError;
pub use files::FlowSet;
pub use load::LoadedFlow;
pub use runtime::RuntimeSettings;
