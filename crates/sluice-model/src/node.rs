//! The spanned YAML tree: every node of a flow or connector file with its byte span.
//!
//! Files are parsed once into [`Node`]s (bounded by [`Limits`]); typed models are then read
//! from the tree by [`crate::de`], so every later error can point at its node.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::span::Span;

/// One YAML node and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts (scalars: the whole scalar; collections: their first token).
    pub span: Span,
    /// The value.
    pub kind: NodeKind,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer or a float.
    Number(serde_json::Number),
    /// A string (quoted or plain).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order; keys are nodes too (duplicates are kept here and
    /// reported by [`find_duplicate_keys`]).
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// A short name of the kind for messages: "a string", "a list", ...
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Number(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a map",
        }
    }
}

impl Node {
    /// The string value, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    #[must_use]
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under a string key of a map.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key node of a string key of a map.
    #[must_use]
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k)
    }

    /// Converts the tree to JSON. Map keys that are not strings are written as their JSON text.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Number(n) => Value::Number(n.clone()),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match &k.kind {
                            NodeKind::Str(s) => s.clone(),
                            _ => k.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// Visits this node and every node below it (keys and values), depth first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Node)) {
        f(self);
        match &self.kind {
            NodeKind::Seq(items) => items.iter().for_each(|n| n.walk(f)),
            NodeKind::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.walk(f);
                v.walk(f);
            }),
            _ => {}
        }
    }
}

/// Bounds that keep parsing a hostile file cheap. Every breach is one clear error.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of maps and lists.
    pub max_depth: usize,
    /// Most nodes (scalars, maps, lists), counting alias expansions.
    pub max_nodes: usize,
    /// Most aliases (`*name`).
    pub max_aliases: usize,
    /// Most YAML events that aliases may replay (what an alias bomb inflates).
    pub max_alias_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 64,
            max_nodes: 2_000_000,
            max_aliases: 1_000,
            max_alias_events: 100_000,
        }
    }
}

/// Why a file could not be read as YAML.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// What went wrong, in plain words.
    pub message: String,
    /// Where, when known.
    pub span: Option<Span>,
    /// A hint, when there is one.
    pub help: Option<String>,
    /// Stable code of the problem.
    pub code: &'static str,
}

/// Parses YAML text into a [`Node`] tree within `limits`.
///
/// # Errors
/// A [`YamlError`] naming the first syntax error or exceeded limit.
pub fn parse_yaml(source: &str, limits: &Limits) -> Result<Node, YamlError> {
    if source.len() > limits.max_bytes {
        return Err(YamlError {
            message: format!(
                "the file is larger than {} bytes ({} MiB), the most Sluice reads",
                limits.max_bytes,
                limits.max_bytes / (1024 * 1024)
            ),
            span: None,
            help: Some("split it into several flows or sub-flows".into()),
            code: "sluice::yaml::too_large",
        });
    }
    if source.trim().is_empty() || only_comments(source) {
        return Err(YamlError {
            message: "the file is empty".into(),
            span: None,
            help: Some("a flow needs at least `name:` and `steps:`".into()),
            code: "sluice::yaml::empty",
        });
    }
    if let Some(pos) = source.find('\0') {
        return Err(YamlError {
            message: "the file contains a NUL byte: it looks like a binary file, not YAML".into(),
            span: Some(Span::new(pos, 1)),
            help: None,
            code: "sluice::yaml::binary",
        });
    }
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    options.strict_booleans = true;
    options.legacy_octal_numbers = false;
    if let Some(budget) = options.budget.as_mut() {
        budget.max_depth = limits.max_depth;
        budget.max_nodes = limits.max_nodes;
        budget.max_events = limits.max_nodes.saturating_mul(2);
        budget.max_aliases = limits.max_aliases;
        budget.max_anchors = limits.max_aliases;
        budget.max_documents = 1;
        budget.max_total_scalar_bytes = limits.max_bytes;
    }
    options.alias_limits.max_total_replayed_events = limits.max_alias_events;
    if let Some(budget) = options.budget.as_mut() {
        budget.max_recorded_anchor_events = limits.max_alias_events;
    }
    serde_saphyr::from_str_with_options::<SaphyrNode>(source, options)
        .map(|n| n.0)
        .map_err(|e| yaml_error(source, &e))
}

fn only_comments(source: &str) -> bool {
    source.lines().all(|line| {
        let t = line.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

fn yaml_error(source: &str, e: &serde_saphyr::Error) -> YamlError {
    let span = e.location().and_then(|loc| {
        let s = loc.span();
        match (s.byte_offset(), s.byte_len()) {
            (Some(o), Some(l)) => Some(Span::new(
                usize::try_from(o).ok()?,
                usize::try_from(l).ok()?,
            )),
            _ => line_col_to_offset(
                source,
                usize::try_from(loc.line()).ok()?,
                usize::try_from(loc.column()).ok()?,
            )
            .map(|o| Span::new(o, 0)),
        }
    });
    let raw = e.without_snippet().to_string();
    // serde-saphyr appends " at line X column Y"; the snippet shows that already.
    let message = match raw.find(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    if message.contains("trailing content after double-quoted scalar")
        && let Some(found) = unclosed_quote(source, span)
    {
        return found;
    }
    let (message, help, code) = if matches!(e, serde_saphyr::Error::UnknownAnchor { .. }) {
        unknown_anchor(source, span)
    } else {
        let budget = matches!(e, serde_saphyr::Error::Budget { .. })
            || message.to_lowercase().contains("budget");
        explain_yaml_message(&message, budget)
    };
    YamlError {
        message,
        span,
        help,
        code,
    }
}

/// A double quote left open: YAML reads on, across lines, to the next `"`, and only the text
/// after that one is an error. Points at the quote that was left open instead.
fn unclosed_quote(source: &str, at: Option<Span>) -> Option<YamlError> {
    let before = source.get(..at?.offset)?;
    let closing = before.strip_suffix('"')?;
    let open = closing.rfind('"')?;
    let line_of = |offset: usize| source[..offset].matches('\n').count() + 1;
    let (opened, closed) = (line_of(open), line_of(before.len() - 1));
    if opened == closed {
        return None;
    }
    Some(YamlError {
        message: format!(
            "this quote is not closed on its line: YAML reads on to the next `\"`, on line {closed}"
        ),
        span: Some(Span::new(open, 1)),
        help: Some(format!("close the quote at the end of line {opened}")),
        code: "sluice::yaml::syntax",
    })
}

/// An alias (`*name`) whose anchor (`&name`) is not defined before it: undefined, misspelt,
/// or defined further down (YAML reads top to bottom).
fn unknown_anchor(source: &str, span: Option<Span>) -> (String, Option<String>, &'static str) {
    let name = span
        .and_then(|s| source.get(s.offset..))
        .and_then(|rest| rest.strip_prefix('*'))
        .map(|rest| {
            rest.chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}'))
                .collect::<String>()
        })
        .filter(|n| !n.is_empty());
    let (message, help) = match name {
        Some(name) => {
            let later = source.contains(&format!("&{name}"));
            (
                format!("the alias `*{name}` names no anchor `&{name}` above it"),
                if later {
                    format!(
                        "`&{name}` is defined further down; an anchor must come before its aliases (YAML reads top to bottom)"
                    )
                } else {
                    format!(
                        "define it first with `&{name}` on the value to repeat, or check the spelling"
                    )
                },
            )
        }
        None => (
            "an alias (`*name`) names no anchor defined above it".to_string(),
            "define the anchor first with `&name` on the value to repeat".to_string(),
        ),
    };
    (message, Some(help), "sluice::yaml::syntax")
}

/// Sluice's words for serde-saphyr's message; `budget` when the error is a breached limit
/// (only then do "alias", "scalar", "events"… in it mean a limit: a syntax error such as an
/// unclosed quote mentions scalars too).
fn explain_yaml_message(message: &str, budget: bool) -> (String, Option<String>, &'static str) {
    let lower = message.to_lowercase();
    let limit = |what: &str, help: &str| {
        (
            what.to_string(),
            Some(help.to_string()),
            "sluice::yaml::limit",
        )
    };
    if lower.contains("tab") {
        return (
            "a tab character is used for indentation".into(),
            Some("YAML indents with spaces only: replace the tab with spaces".into()),
            "sluice::yaml::tab",
        );
    }
    if lower.contains("documents") {
        return (
            "the file holds more than one YAML document (`---`)".into(),
            Some("put each flow in a file of its own".into()),
            "sluice::yaml::syntax",
        );
    }
    if lower.contains("depth") || lower.contains("nesting") || lower.contains("recursion") {
        return limit(
            "the file nests deeper than Sluice reads (64 levels)",
            "flows need no deep nesting; simplify the file",
        );
    }
    if budget && (lower.contains("alias") || lower.contains("anchor")) {
        return limit(
            "the file's aliases (`*name`) expand to more than Sluice reads",
            "an alias repeats the anchored value; use fewer or smaller ones",
        );
    }
    if budget {
        return limit(
            "the file has more values than Sluice reads in one flow",
            "split it into several flows or sub-flows",
        );
    }
    if lower.contains("mapping values are not allowed") {
        return (
            "a `:` where YAML expects none".into(),
            Some("a key on the line above may lack its `:`, or a value with `: ` inside needs quotes".into()),
            "sluice::yaml::syntax",
        );
    }
    (
        format!("this is not valid YAML: {message}"),
        None,
        "sluice::yaml::syntax",
    )
}

/// Byte offset of a 1-based line and column (columns count characters).
#[must_use]
pub fn line_col_to_offset(source: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        source
            .match_indices('\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    let rest = &source[line_start..];
    let col = column.saturating_sub(1);
    Some(line_start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i))
}

/// Every key that appears twice in one map: (first key node, repeated key node).
#[must_use]
pub fn find_duplicate_keys(root: &Node) -> Vec<(&Node, &Node)> {
    let mut out = Vec::new();
    root.walk(&mut |node| {
        if let NodeKind::Map(entries) = &node.kind {
            if entries.len() <= SMALL_MAP {
                // Most maps have a few keys: compare them pairwise, without a hash map.
                for (i, (key, _)) in entries.iter().enumerate() {
                    let text = key_text(key);
                    if let Some((first, _)) = entries[..i].iter().find(|(k, _)| key_text(k) == text)
                    {
                        out.push((first, key));
                    }
                }
                return;
            }
            let mut seen: std::collections::HashMap<std::borrow::Cow<'_, str>, &Node> =
                std::collections::HashMap::with_capacity(entries.len());
            for (key, _) in entries {
                match seen.entry(key_text(key)) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        out.push((*first.get(), key));
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(key);
                    }
                }
            }
        }
    });
    out
}

/// Maps with at most this many keys are checked for duplicates without a hash map.
const SMALL_MAP: usize = 8;

/// A key as text, for finding duplicates (string keys are not copied).
fn key_text(key: &Node) -> std::borrow::Cow<'_, str> {
    match &key.kind {
        NodeKind::Str(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(format!("{other:?}")),
    }
}

// ---- reading the tree ----

/// Builds a [`NodeKind`] from any serde data; children are read as `C` (which keeps spans).
struct RawVisitor<C>(std::marker::PhantomData<C>);

impl<'de, C: Deserialize<'de> + Into<Node>> Visitor<'de> for RawVisitor<C> {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeKind, E> {
        Ok(NodeKind::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeKind, E> {
        Ok(serde_json::Number::from_i128(v)
            .map_or_else(|| NodeKind::Str(v.to_string()), NodeKind::Number))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeKind, E> {
        Ok(serde_json::Number::from_u128(v)
            .map_or_else(|| NodeKind::Str(v.to_string()), NodeKind::Number))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeKind, E> {
        Ok(serde_json::Number::from_f64(v).map_or(NodeKind::Null, NodeKind::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<C>()? {
            items.push(item.into());
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some((k, v)) = map.next_entry::<C, C>()? {
            entries.push((k.into(), v.into()));
        }
        Ok(NodeKind::Map(entries))
    }
}

/// A node read straight from YAML text by serde-saphyr (spans from its `Spanned`).
struct SaphyrNode(Node);

impl From<SaphyrNode> for Node {
    fn from(n: SaphyrNode) -> Node {
        n.0
    }
}

struct SaphyrKind(NodeKind);

impl<'de> Deserialize<'de> for SaphyrKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor::<SaphyrNode>(std::marker::PhantomData))
            .map(SaphyrKind)
    }
}

impl<'de> Deserialize<'de> for SaphyrNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<SaphyrKind>::deserialize(deserializer)?;
        let s = spanned.referenced.span();
        let span = match (s.byte_offset(), s.byte_len()) {
            (Some(o), Some(l)) => Span::new(
                usize::try_from(o).unwrap_or(usize::MAX),
                usize::try_from(l).unwrap_or(0),
            ),
            _ => Span::UNKNOWN,
        };
        Ok(SaphyrNode(Node {
            span,
            kind: spanned.value.0,
        }))
    }
}

struct AnyKind(NodeKind);

impl<'de> Deserialize<'de> for AnyKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor::<Node>(std::marker::PhantomData))
            .map(AnyKind)
    }
}

/// Reading a `Node` from our own node deserializer keeps every span; from any other
/// deserializer (JSON, say) the spans are unknown.
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = crate::span::Sp::<AnyKind>::deserialize(deserializer)?;
        Ok(Node {
            span: spanned.span,
            kind: spanned.value.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    /// (first, repeat) key offsets of every duplicate key in `yaml`.
    fn duplicates(yaml: &str) -> Vec<(usize, usize)> {
        let root = parse_yaml(yaml, &Limits::default()).expect("valid YAML");
        find_duplicate_keys(&root)
            .into_iter()
            .map(|(first, again)| (first.span.offset, again.span.offset))
            .collect()
    }

    #[test]
    fn every_repeat_is_paired_with_the_first_key() {
        // A small map (compared pairwise): `a` three times, `b` twice.
        let yaml = "a: 1\nb: 2\na: 3\nb: 4\na: 5\n";
        assert_eq!(duplicates(yaml), [(0, 10), (5, 15), (0, 20)]);
        // A large map (hashed): the same, after 20 distinct keys.
        let mut yaml = String::new();
        for i in 0..20 {
            let _ = writeln!(yaml, "k{i:02}: {i}");
        }
        let base = yaml.len();
        yaml.push_str("a: 1\nb: 2\na: 3\nb: 4\na: 5\n");
        let expected = [(0, 10), (5, 15), (0, 20)].map(|(f, a)| (base + f, base + a));
        assert_eq!(duplicates(&yaml), expected);
        // Keys of other types, and nested maps.
        assert_eq!(
            duplicates("1: x\n1: y\nm: { c: 1, c: 2 }\n"),
            [(0, 5), (15, 21)]
        );
    }
}
