//! `select` steps: the JSONPath must parse and must start at `$.steps.NAME` or `$.inputs`,
//! which makes the step need NAME or marks the input read.

use sluice_model::{Diagnostic, Sp, Span};

use super::Checker;
use crate::codes;

impl<'a> Checker<'a> {
    pub(super) fn check_select(&mut self, path: &Sp<String>, step: usize) {
        if let Err(e) = serde_json_path::JsonPath::parse(&path.value) {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_JSONPATH,
                    format!("`{}` is not valid JSONPath (RFC 9535)", path.value),
                )
                .label(path.span, e.to_string())
                .help("a path starts at `$`, e.g. `$.steps.tasks.tasks[?@.completed == false]`"),
            );
            return;
        }
        match jsonpath_root(&path.value) {
            Some(JsonPathRoot::Step(name, offset)) => {
                let span = if path.span.is_unknown() {
                    path.span
                } else {
                    Span::new(
                        path.span.offset + offset + quote_offset(self.source, path.span),
                        name.len(),
                    )
                };
                let sp = Sp::new(name, span);
                if let Some(j) = self.step_ref(&sp, step) {
                    self.pending_needs.entry(step).or_default().push((j, span));
                    self.read[j] = true;
                }
            }
            Some(JsonPathRoot::Inputs(name)) => {
                if let Some(name) = name {
                    self.inputs_read.insert(name);
                } else {
                    self.inputs_read
                        .extend(self.flow.inputs.keys().map(|k| k.value.clone()));
                }
            }
            None => self.diags.push(
                Diagnostic::error(
                    codes::INVALID_JSONPATH,
                    "a `select` must say which step or input it reads",
                )
                .label(path.span, "")
                .help("start the path with `$.steps.NAME` or `$.inputs`"),
            ),
        }
    }
}

/// What a `select` path starts from.
enum JsonPathRoot {
    /// `$.steps.NAME...` with the byte offset of NAME in the path text.
    Step(String, usize),
    /// `$.inputs...`, with the input's name when given.
    Inputs(Option<String>),
}

/// Reads the first two segments of a JSONPath: `$.steps.NAME` or `$['steps']['NAME']`.
fn jsonpath_root(path: &str) -> Option<JsonPathRoot> {
    let rest = path.trim_start().strip_prefix('$')?;
    let offset_base = path.len() - rest.len();
    let (first, after_first, _) = segment(rest)?;
    match first.as_str() {
        "steps" => {
            let consumed = rest.len() - after_first.len();
            let (name, _, name_offset) = segment(after_first)?;
            Some(JsonPathRoot::Step(
                name,
                offset_base + consumed + name_offset,
            ))
        }
        "inputs" => Some(JsonPathRoot::Inputs(
            segment(after_first).map(|(n, _, _)| n),
        )),
        _ => None,
    }
}

/// One name segment (`.name` or `['name']`): the name, the rest, and the name's offset.
fn segment(text: &str) -> Option<(String, &str, usize)> {
    if let Some(rest) = text.strip_prefix('.') {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        return Some((rest[..end].to_string(), &rest[end..], 1));
    }
    let rest = text.strip_prefix('[')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &rest[1..];
    let end = inner.find(quote)?;
    let after = inner[end + 1..].trim_start().strip_prefix(']')?;
    let name_offset = text.len() - rest.len() + 1;
    Some((inner[..end].to_string(), after, name_offset))
}

/// 1 when the node at `span` is written with quotes (its text starts one byte later).
fn quote_offset(source: &str, span: Span) -> usize {
    match source.as_bytes().get(span.offset) {
        Some(b'"' | b'\'') => 1,
        _ => 0,
    }
}
