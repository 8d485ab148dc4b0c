//! `select` steps: the JSONPath must parse (a function RFC 9535 lacks, such as `now()`, is
//! named) and must start at `$.steps.NAME` or `$.inputs`, which makes the step need NAME or
//! marks the input read (also when the rest of the path does not parse).

use sluice_model::{Diagnostic, Sp, Span};

use super::Checker;
use crate::codes;

impl<'a> Checker<'a> {
    pub(super) fn check_select(&mut self, path: &Sp<String>, step: usize) {
        let parsed = serde_json_path::JsonPath::parse(&path.value);
        if let Err(e) = &parsed {
            match sluice_template::jsonpath::unknown_function(&path.value) {
                Some(f) => {
                    let span = self.span_in_path(path, f.offset, f.name.len());
                    self.diags.push(super::helpers::unknown_function(&f, span));
                }
                None => self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_JSONPATH,
                        format!("`{}` is not valid JSONPath (RFC 9535)", path.value),
                    )
                    .label(path.span, e.to_string())
                    .help(
                        "a path starts at `$`, e.g. `$.steps.tasks.tasks[?@.completed == false]`",
                    ),
                ),
            }
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
            // (A path that does not parse is reported once, above.)
            None if parsed.is_err() => {}
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

impl Checker<'_> {
    /// `len` bytes at `offset` into a path written at `path.span` (its whole span when the
    /// path is not written there as is, e.g. with escapes).
    fn span_in_path(&self, path: &Sp<String>, offset: usize, len: usize) -> Span {
        if path.span.is_unknown() {
            return path.span;
        }
        let start = path.span.offset + quote_offset(self.source, path.span);
        let written = self
            .source
            .get(start..)
            .is_some_and(|s| s.starts_with(path.value.as_str()));
        if written {
            Span::new(start + offset, len)
        } else {
            path.span
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
