//! Test set-up shared by the workspace's tests and benches, so that each test says only what
//! it checks: a temporary project ([`TempProject`]), the `sluice` binary as a command with a
//! clean environment ([`sluice`]), a `sluice serve` child ([`ServeProcess`]), a client of the
//! runner's API ([`ApiClient`]), polling until something holds ([`eventually`]), the example
//! flows of `workflows/` ([`workflow`]), the few test flows more than one crate runs
//! ([`flows`]), a language server client that speaks JSON-RPC to `sluice lsp`
//! ([`LspClient`]), a server that tells whether requests overlapped ([`meeting`]), and a
//! PostgreSQL schema per test ([`pg_schema`]).
//!
//! A dev-dependency only. Its helpers panic with a message when the set-up fails: in a test,
//! that is the failure to report.

mod api;
mod command;
pub mod contact360;
pub mod flows;
mod lsp;
pub mod meeting;
mod postgres;
mod project;
mod repo;
mod serve;
mod wait;

pub use api::ApiClient;
pub use command::{Run, output, run_timed, sluice};
pub use lsp::{LspClient, file_uri};
pub use postgres::pg_schema;
pub use project::{GHL_MAIN_FROM_ENV, TempProject};
pub use repo::{repo_root, workflow, workflow_path};
pub use serve::ServeProcess;
pub use wait::eventually;
