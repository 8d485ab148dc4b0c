//! `sluice lsp`: the language server of `sluice-lsp` on stdin/stdout, for the flows and
//! fixtures of the current folder.

use crate::error::CliError;
use crate::exit::Exit;

/// Serves until the editor says `exit` (or closes stdin).
pub(crate) fn lsp() -> Result<Exit, CliError> {
    let root = std::env::current_dir()?;
    sluice_lsp::serve_stdio(&root).map_err(|e| CliError::msg(e.to_string()))?;
    Ok(Exit::Success)
}
