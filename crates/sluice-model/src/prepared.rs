//! A YAML file's spanned node tree in a prepared form: a flat, pre-order list of nodes as
//! JSON, written at build time for the built-in connectors (sluice-connectors' build.rs), so
//! start-up reads them with serde_json instead of the YAML parser (about 15 times faster).
//! Reading a tree back gives exactly the [`Node`]s [`crate::node::parse_yaml`] would, spans
//! included.

use serde::{Deserialize, Serialize};

use crate::node::{Node, NodeKind};
use crate::span::Span;

/// One node of the flat list: its span, then its value; a list or map gives the number of
/// items or entries that follow it (each entry a key node, then a value node).
#[derive(Serialize, Deserialize)]
enum Flat {
    #[serde(rename = "n")]
    Null(usize, usize),
    #[serde(rename = "b")]
    Bool(usize, usize, bool),
    #[serde(rename = "d")]
    Number(usize, usize, serde_json::Number),
    #[serde(rename = "s")]
    Str(usize, usize, String),
    #[serde(rename = "l")]
    Seq(usize, usize, usize),
    #[serde(rename = "m")]
    Map(usize, usize, usize),
}

/// Writes a tree in the prepared form.
#[must_use]
pub fn prepare(root: &Node) -> String {
    let mut flat = Vec::new();
    root.walk(&mut |node| {
        let (o, l) = (node.span.offset, node.span.len);
        flat.push(match &node.kind {
            NodeKind::Null => Flat::Null(o, l),
            NodeKind::Bool(b) => Flat::Bool(o, l, *b),
            NodeKind::Number(n) => Flat::Number(o, l, n.clone()),
            NodeKind::Str(s) => Flat::Str(o, l, s.clone()),
            NodeKind::Seq(items) => Flat::Seq(o, l, items.len()),
            NodeKind::Map(entries) => Flat::Map(o, l, entries.len()),
        });
    });
    serde_json::to_string(&flat).unwrap_or_default()
}

/// Reads a tree written by [`prepare`].
///
/// # Errors
/// The text is not a prepared tree (not JSON of that shape, or a list or map counts more
/// nodes than follow it, or nodes are left over).
pub fn read_prepared(text: &str) -> Result<Node, String> {
    let flat: Vec<Flat> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut flat = flat.into_iter();
    let root = read_node(&mut flat)?;
    if flat.next().is_some() {
        return Err("nodes are left over after the root".into());
    }
    Ok(root)
}

/// A list or map being filled: its span, the nodes read so far, how many it has.
struct Open {
    span: Span,
    map: bool,
    items: Vec<Node>,
    wanted: usize,
}

/// Reads one node and everything below it from the flat list, without recursion (a deep
/// tree needs no deep stack).
fn read_node(flat: &mut impl Iterator<Item = Flat>) -> Result<Node, String> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        let next = flat.next().ok_or("the list ends inside a list or map")?;
        let mut done = match next {
            Flat::Null(o, l) => leaf(o, l, NodeKind::Null),
            Flat::Bool(o, l, b) => leaf(o, l, NodeKind::Bool(b)),
            Flat::Number(o, l, n) => leaf(o, l, NodeKind::Number(n)),
            Flat::Str(o, l, s) => leaf(o, l, NodeKind::Str(s)),
            Flat::Seq(o, l, n) | Flat::Map(o, l, n) => {
                let map = matches!(next, Flat::Map(..));
                let wanted = if map { n.saturating_mul(2) } else { n };
                open.push(Open {
                    span: Span::new(o, l),
                    map,
                    items: Vec::with_capacity(wanted.min(4096)),
                    wanted,
                });
                None
            }
        };
        // Close every list or map that the node just read completes.
        loop {
            if let Some(node) = done.take() {
                match open.last_mut() {
                    None => return Ok(node),
                    Some(parent) => parent.items.push(node),
                }
            }
            match open.last() {
                Some(top) if top.items.len() >= top.wanted => {
                    let Some(top) = open.pop() else { break };
                    done = Some(close(top));
                }
                _ => break,
            }
        }
    }
}

fn leaf(offset: usize, len: usize, kind: NodeKind) -> Option<Node> {
    Some(Node {
        span: Span::new(offset, len),
        kind,
    })
}

fn close(open: Open) -> Node {
    let kind = if open.map {
        let mut entries = Vec::with_capacity(open.items.len() / 2);
        let mut items = open.items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            entries.push((k, v));
        }
        NodeKind::Map(entries)
    } else {
        NodeKind::Seq(open.items)
    };
    Node {
        span: open.span,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Limits, parse_yaml};

    #[test]
    fn a_prepared_tree_reads_back_as_the_same_nodes() {
        let yaml = "a: 1\nb: [x, {c: ~, d: true}, []]\ne: {}\n'f': -2.5\nlist:\n  - - - deep\n";
        let root = parse_yaml(yaml, &Limits::default()).expect("valid YAML");
        assert_eq!(read_prepared(&prepare(&root)), Ok(root));
        let scalar = parse_yaml("just text", &Limits::default()).expect("valid YAML");
        assert_eq!(read_prepared(&prepare(&scalar)), Ok(scalar));
    }

    #[test]
    fn a_damaged_prepared_tree_is_an_error() {
        assert!(read_prepared("not json").is_err());
        // A map that says it has two entries but has one.
        assert!(read_prepared(r#"[{"m":[0,1,2]},{"s":[0,1,"k"]},{"n":[2,1]}]"#).is_err());
        // A second root.
        assert!(read_prepared(r#"[{"n":[0,0]},{"n":[0,0]}]"#).is_err());
    }
}
