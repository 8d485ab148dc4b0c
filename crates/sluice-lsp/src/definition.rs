//! Go to definition: from `steps.X` (in a template or `after:`) to step X, from `inputs.X` to
//! the input, from an action's connection to the connection and from its operation to the
//! operation in the connector file (a built-in connector is written to a read-only copy in the
//! temporary folder, since it lives inside the binary), from `flow: NAME` to that flow's file.

use std::path::{Path, PathBuf};

use lsp_types::{Location, Range};
use sluice_model::Span;

use crate::context::cursor;
use crate::position::{Text, uri_of};
use crate::workspace::{Document, Workspace};

/// Where the thing at byte `offset` of a flow document is defined.
pub(crate) fn definition(
    ws: &Workspace,
    doc: &Document,
    path: &Path,
    offset: usize,
) -> Option<Location> {
    let (flow_doc, flow_text) = doc.flow.as_ref()?;
    let text = doc.text.as_str();
    let at = cursor(text, offset);
    let flow = &flow_doc.flow;
    let here = |span: Span| Some(Location::new(doc.uri.clone(), flow_text.range(span)));
    if let Some(t) = &at.template {
        let mut segments = t.before.clone();
        segments.push(t.segment.clone());
        return match segments.as_slice() {
            [root, name, ..] if root == "steps" => {
                here(flow.steps.get_key_value(name.as_str())?.0.span)
            }
            [root, name, ..] if root == "inputs" => {
                here(flow.inputs.get_key_value(name.as_str())?.0.span)
            }
            _ => None,
        };
    }
    let word = text.get(at.word.0..at.word.1)?;
    match at.keys.as_slice() {
        [.., last] if last == "action" && !at.at_key => {
            let (conn, op) = word.split_once('.')?;
            let (conn_key, connection) = flow.connections.get_key_value(conn)?;
            if offset <= at.word.0 + conn.len() {
                return here(conn_key.span);
            }
            operation_location(ws, &connection.connector.value, op)
        }
        [first, _, last, ..] if first == "steps" && last == "after" => {
            here(flow.steps.get_key_value(word)?.0.span)
        }
        [first, _, last] if first == "steps" && last == "flow" && !at.at_key => {
            let dir = path.parent()?;
            let (_, file) = ws
                .flows_in(dir)
                .into_iter()
                .find(|(name, _)| name == word)?;
            Some(Location::new(uri_of(&file)?, Range::default()))
        }
        _ => None,
    }
}

/// The operation's key in its connector file: the project's `connectors/` file, or a copy of
/// the built-in one (the catalog read that text, so its spans point into it).
fn operation_location(ws: &Workspace, connector: &str, operation: &str) -> Option<Location> {
    let (file, text) = ws.connector_files.get(connector)?;
    let (key, _) = ws
        .catalog
        .get(connector)?
        .operations
        .get_key_value(operation)?;
    let file = match file {
        Some(path) => path.clone(),
        None => builtin_copy(connector, text)?,
    };
    Some(Location::new(
        uri_of(&file)?,
        Text::new(text.clone()).range(key.span),
    ))
}

/// A built-in connector's text written to the temporary folder, for the editor to open.
fn builtin_copy(connector: &str, text: &str) -> Option<PathBuf> {
    let dir = std::env::temp_dir()
        .join("sluice-lsp")
        .join(env!("CARGO_PKG_VERSION"))
        .join("connectors");
    let file = dir.join(format!("{connector}.yaml"));
    let same = std::fs::metadata(&file).is_ok_and(|m| m.len() == text.len() as u64)
        && std::fs::read_to_string(&file).is_ok_and(|t| t == text);
    if !same {
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(&file, text).ok()?;
    }
    Some(file)
}
