//! What can go wrong while reading a project and getting its flows ready to run, in words a
//! flow author can act on. Reports of invalid files travel whole, for the CLI to render.

use std::path::PathBuf;

use sluice_model::FileReport;

/// A project that cannot be read, checked or made ready to run.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A path given on the command line does not exist.
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    /// A file or folder could not be read (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The path is not a flow file.
    #[error("{}: not a flow file", .0.display())]
    NotAFlow(PathBuf),
    /// `sluice.toml` is invalid.
    #[error("{}", .0.render(false))]
    ProjectFile(Box<FileReport>),
    /// A connector file is invalid.
    #[error("a connector file is invalid:\n{}", render_all(.0))]
    Connectors(Vec<FileReport>),
    /// The flow has errors (the report holds them).
    #[error("the flow is invalid; fix the problems above (`sluice validate` shows them too)")]
    InvalidFlow(Box<FileReport>),
    /// A checked flow could not be built for the engine.
    #[error(transparent)]
    Build(#[from] sluice_engine::BuildError),
    /// An input given on the command line or in a file is wrong.
    #[error("{0}")]
    Input(String),
    /// A secret cannot be read.
    #[error("{0}")]
    Secret(String),
    /// A credential is incomplete for its kind or connector.
    #[error("{0}")]
    Credential(String),
    /// The run store cannot be opened.
    #[error("cannot open the run store `{url}`")]
    OpenStore {
        /// The store's URL, its password masked.
        url: String,
        /// Why.
        #[source]
        source: sluice_store::StoreError,
    },
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] sluice_store::StoreError),
    /// The engine's runtime cannot be built.
    #[error(transparent)]
    Runtime(#[from] sluice_engine::RuntimeError),
    /// An editor schema cannot be generated (a bug).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The connectors' rate limits cannot be set up.
    #[error(transparent)]
    Limits(#[from] sluice_connectors::ratelimit::InvalidLimit),
}

impl ProjectError {
    /// The reports of invalid files this error carries, to be rendered (with colour) before
    /// the error's own sentence.
    #[must_use]
    pub fn reports(&self) -> &[FileReport] {
        match self {
            Self::InvalidFlow(r) => std::slice::from_ref(r.as_ref()),
            _ => &[],
        }
    }
}

fn render_all(reports: &[FileReport]) -> String {
    reports.iter().map(|r| r.render(false)).collect()
}

/// A schema could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The generated schema could not be turned into JSON (a bug).
    #[error("the schema cannot be written as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A built-in connector does not read (a bug caught by the connectors' tests).
    #[error("a built-in connector is invalid")]
    Builtin,
    /// The generated flow schema lacks a part this module fills in (a bug).
    #[error("the flow schema has no `{0}`")]
    Missing(&'static str),
}
