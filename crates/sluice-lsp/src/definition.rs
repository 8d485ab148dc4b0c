//! Go to definition: from `steps.X` (in a template or `after:`) to step X, from `inputs.X` to
//! the input, from an action's connection to the connection and from its operation to the
//! operation in the connector file (a built-in connector is written to a read-only copy in the
//! temporary folder, since it lives inside the binary), from `flow: NAME` to that flow's file.

use std::path::{Path, PathBuf};

use lsp_types::{Location, Range};
use sluice_model::{Limits, Span};

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
    let text = doc.text.as_str();
    let at = cursor(text, offset);
    let (flow_doc, flow_text) = doc.flow.as_ref()?;
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
/// the built-in one.
fn operation_location(ws: &Workspace, connector: &str, operation: &str) -> Option<Location> {
    let (file, source) = connector_file(ws, connector)?;
    let loaded =
        sluice_model::load_connector(&file.display().to_string(), &source, &Limits::default());
    let (key, _) = loaded
        .connector?
        .operations
        .get_key_value(operation)
        .map(|(k, v)| (k.clone(), v.clone()))?;
    let text = Text::new(source);
    Some(Location::new(uri_of(&file)?, text.range(key.span)))
}

/// The file a connector is read from, and its text.
fn connector_file(ws: &Workspace, connector: &str) -> Option<(PathBuf, String)> {
    if let Some(dir) = ws.project_dir() {
        let folder = dir.join("connectors");
        for (path, text, _) in sluice_project::read::read_yaml_files(&folder).unwrap_or_default() {
            let named = sluice_model::node::parse_yaml(&text, &Limits::default())
                .ok()
                .and_then(|root| {
                    root.get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_string)
                });
            if named.as_deref() == Some(connector) {
                return Some((PathBuf::from(path), text));
            }
        }
    }
    let (name, text) = sluice_connectors_builtin(connector)?;
    let dir = std::env::temp_dir()
        .join("sluice-lsp")
        .join(env!("CARGO_PKG_VERSION"))
        .join("connectors");
    let file = dir.join(name);
    let fresh = std::fs::read_to_string(&file).is_ok_and(|t| t == text);
    if !fresh {
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(&file, text).ok()?;
    }
    Some((file, text.to_string()))
}

/// The built-in connector file of that connector name: `(file name, text)`.
fn sluice_connectors_builtin(connector: &str) -> Option<(&'static str, &'static str)> {
    sluice_connectors::BUILTIN.iter().find_map(|&(path, text)| {
        let root = sluice_model::node::parse_yaml(text, &Limits::default()).ok()?;
        (root.get("name")?.as_str()? == connector).then(|| {
            (
                Path::new(path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(path),
                text,
            )
        })
    })
}
