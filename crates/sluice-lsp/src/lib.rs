//! The Sluice language server: `sluice validate`'s checks while typing, and completion, hover,
//! go to definition and quick fixes that know each API's response shapes.
//!
//! [`serve_stdio`] serves an editor on stdin/stdout (`sluice lsp`); [`serve`] serves any
//! [`lsp_server::Connection`] (tests and benchmarks use an in-memory one). A flow is checked with
//! the other flows of its folder through the planner (`sluice-plan`), a fixture as `sluice test`
//! reads it (`sluice-flowtest`). Completion and hover read the connectors' response schemas and
//! the template helper table, so new helpers and fields appear without code here changing.

mod completion;
mod context;
mod definition;
mod diagnostics;
mod fixture;
mod flowinfo;
mod hover;
mod markdown;
mod position;
mod server;
mod workspace;

use std::path::Path;

pub use lsp_server::Connection;

/// Why the server stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum LspError {
    /// The client broke the protocol (e.g. no `initialize` first).
    #[error("the editor broke the language server protocol: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    /// Reading stdin or writing stdout failed.
    #[error("the connection to the editor failed: {0}")]
    Io(#[from] std::io::Error),
    /// The editor went away while the server was answering.
    #[error("the editor closed the connection")]
    Disconnected,
    /// The input ended before the editor said `exit` (or before it said anything).
    #[error(
        "the input ended before the editor said `exit`: `sluice lsp` is started by an editor, which speaks the Language Server Protocol on its stdin (see docs/editors.md)"
    )]
    Closed,
}

/// Serves an editor on stdin/stdout for the flows and fixtures of `root` (the folder the
/// editor names at `initialize` wins), until the editor says `exit`.
///
/// # Errors
/// The editor breaks the protocol or the connection.
pub fn serve_stdio(root: &Path) -> Result<(), LspError> {
    let (connection, io_threads) = Connection::stdio();
    match serve(connection, root) {
        Ok(()) => Ok(io_threads.join()?),
        // The reading thread ended (end of input, or input that is not LSP): its error says why.
        Err(LspError::Protocol(e)) if e.channel_is_disconnected() => {
            io_threads.join()?;
            Err(LspError::Closed)
        }
        Err(e) => Err(e),
    }
}

/// Serves one connection for the flows and fixtures of `root`, until `exit` or until the other
/// end goes away.
///
/// # Errors
/// The client breaks the protocol or the connection.
pub fn serve(connection: Connection, root: &Path) -> Result<(), LspError> {
    server::run(&connection, root)
}
