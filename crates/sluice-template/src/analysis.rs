//! Template analysis for the planner: what a `{{ ... }}` string refers to and which helpers it
//! calls. The references it makes (`steps.X...`, `inputs.Y`, `item...`) become data
//! dependencies and are checked.

use handlebars::template::{BlockParam, HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use sluice_model::Span;

use crate::detect::{self, Piece};
use crate::helpers;

/// One path a template reads, e.g. `steps.contact.contact.id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The path's segments: `["steps", "contact", "contact", "id"]`.
    pub segments: Vec<String>,
    /// The path as written.
    pub raw: String,
    /// Where it is written in the file.
    pub span: Span,
}

/// A helper a template calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperCall {
    /// The helper's name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
    /// Its positional arguments: the value of each literal one (`"90m"`, `3`), `None` for
    /// one computed at run time (a path, a sub-expression).
    pub args: Vec<Option<serde_json::Value>>,
}

/// The positional arguments of a helper call, literal ones with their values.
fn call_args(h: &HelperTemplate) -> Vec<Option<serde_json::Value>> {
    h.params
        .iter()
        .map(|p| match p {
            Parameter::Literal(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// What a template string refers to.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Paths read from the flow's context.
    pub references: Vec<Reference>,
    /// Helpers called.
    pub helpers: Vec<HelperCall>,
    /// True when the string is exactly one `{{ expression }}` (its value keeps its JSON type).
    pub single_expression: bool,
}

/// A template that cannot be compiled.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// Compiles `text` (the value of the YAML node at `node_span` in `source`) and collects
/// what it refers to.
///
/// # Errors
/// A [`SyntaxError`] when the text is not a valid template.
pub fn analyze(text: &str, node_span: Span, source: &str) -> Result<Analysis, SyntaxError> {
    let locator = Locator {
        source,
        node_span,
        search_from: std::cell::Cell::new(0),
    };
    // Most templates are text and plain paths (`{{ steps.a.b }}`): read those directly; the
    // Handlebars parser (several µs a template) is for the rest.
    if let Some(analysis) = plain_analysis(text, &locator) {
        return Ok(analysis);
    }
    let template = Template::compile(text).map_err(|e| {
        let message = describe_syntax_error(text, &e);
        SyntaxError {
            message,
            span: node_span,
        }
    })?;
    let mut analysis = Analysis {
        single_expression: detect::single_expression(text).is_some(),
        ..Analysis::default()
    };
    walk_template(&template, &mut analysis, &locator, &[]);
    Ok(analysis)
}

/// The analysis of text whose every `{{ … }}` is a plain path (see [`detect::plain_pieces`]);
/// `None` for anything else.
fn plain_analysis(text: &str, at: &Locator<'_>) -> Option<Analysis> {
    let references = detect::plain_pieces(text)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Path { raw, segments } => Some(Reference {
                segments,
                raw: raw.to_string(),
                span: at.find(raw),
            }),
            Piece::Text(_) => None,
        })
        .collect();
    Some(Analysis {
        references,
        helpers: Vec::new(),
        single_expression: detect::single_expression(text).is_some(),
    })
}

fn describe_syntax_error(text: &str, e: &handlebars::TemplateError) -> String {
    let opens = text.matches("{{").count();
    let closes = text.matches("}}").count();
    if opens > closes {
        return "this template has a `{{` that is never closed with `}}`".into();
    }
    if closes > opens {
        return "this template has a `}}` without a `{{` before it".into();
    }
    let reason = e.reason().to_string();
    if reason.contains("not closed") || reason.contains("mismatch") {
        return format!("this template's blocks do not match: {reason}");
    }
    format!("this is not a valid template: {reason}")
}

struct Locator<'a> {
    source: &'a str,
    node_span: Span,
    search_from: std::cell::Cell<usize>,
}

impl Locator<'_> {
    /// The span of `needle` inside the node's text, searching forward from the last find.
    fn find(&self, needle: &str) -> Span {
        if self.node_span.is_unknown() {
            return self.node_span;
        }
        let end = self.node_span.end().min(self.source.len());
        let Some(text) = self.source.get(self.node_span.offset..end) else {
            return self.node_span;
        };
        let from = self.search_from.get().min(text.len());
        let found = text
            .get(from..)
            .and_then(|rest| rest.find(needle).map(|i| i + from))
            .or_else(|| text.find(needle));
        match found {
            Some(i) => {
                self.search_from.set(i + needle.len());
                Span::new(self.node_span.offset + i, needle.len())
            }
            None => self.node_span,
        }
    }
}

fn walk_template(template: &Template, out: &mut Analysis, at: &Locator<'_>, locals: &[String]) {
    for element in &template.elements {
        match element {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                walk_helper(h, out, at, locals, false);
            }
            TemplateElement::HelperBlock(h) => walk_helper(h, out, at, locals, true),
            _ => {}
        }
    }
}

fn walk_helper(
    h: &HelperTemplate,
    out: &mut Analysis,
    at: &Locator<'_>,
    locals: &[String],
    block: bool,
) {
    let mut helper_name = None;
    match &h.name {
        Parameter::Name(name) => {
            out.helpers.push(HelperCall {
                name: name.clone(),
                span: at.find(name),
                args: call_args(h),
            });
            helper_name = Some(name.as_str());
        }
        Parameter::Path(path) => {
            // `{{ a.b }}` with no params is a path; with params it names a helper.
            let lone_helper = match path {
                Path::Relative((segs, raw)) => {
                    segs.len() == 1 && !raw.contains('.') && helpers::is_helper(raw)
                }
                _ => false,
            };
            if lone_helper {
                if let Path::Relative((_, raw)) = path {
                    out.helpers.push(HelperCall {
                        name: raw.clone(),
                        span: at.find(raw),
                        args: call_args(h),
                    });
                }
            } else if h.params.is_empty() && h.hash.is_empty() && !block {
                push_path(path, out, at, locals);
            } else if let Path::Relative((_, raw)) = path {
                out.helpers.push(HelperCall {
                    name: raw.clone(),
                    span: at.find(raw),
                    args: call_args(h),
                });
            }
        }
        Parameter::Subexpression(sub) => walk_element(&sub.element, out, at, locals),
        _ => {}
    }
    for p in h.params.iter().chain(h.hash.values()) {
        walk_parameter(p, out, at, locals);
    }
    // Inside `each` / `with` the context is the item: only block params and `@root` paths
    // refer to the flow's context.
    let changes_context = matches!(helper_name, Some("each" | "with"));
    let mut inner_locals = locals.to_vec();
    if let Some(bp) = &h.block_param {
        match bp {
            BlockParam::Single(p) => inner_locals.extend(param_name(p)),
            BlockParam::Pair((a, b)) => {
                inner_locals.extend(param_name(a));
                inner_locals.extend(param_name(b));
            }
            _ => {}
        }
    }
    if changes_context {
        inner_locals.push("this".to_string());
    }
    for inner in [&h.template, &h.inverse].into_iter().flatten() {
        walk_template(inner, out, at, &inner_locals);
    }
}

fn param_name(p: &Parameter) -> Option<String> {
    match p {
        Parameter::Name(n) => Some(n.clone()),
        Parameter::Path(Path::Relative((_, raw))) => Some(raw.clone()),
        _ => None,
    }
}

fn walk_element(e: &TemplateElement, out: &mut Analysis, at: &Locator<'_>, locals: &[String]) {
    match e {
        TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
            walk_helper(h, out, at, locals, false);
        }
        TemplateElement::HelperBlock(h) => walk_helper(h, out, at, locals, true),
        _ => {}
    }
}

fn walk_parameter(p: &Parameter, out: &mut Analysis, at: &Locator<'_>, locals: &[String]) {
    match p {
        Parameter::Path(path) => push_path(path, out, at, locals),
        Parameter::Subexpression(sub) => walk_element(&sub.element, out, at, locals),
        _ => {}
    }
}

fn push_path(path: &Path, out: &mut Analysis, at: &Locator<'_>, locals: &[String]) {
    let Path::Relative((segs, raw)) = path else {
        return; // @index, @key, ...: block-local values.
    };
    let mut from_root = false;
    let mut segments = Vec::with_capacity(segs.len());
    for seg in segs {
        match seg {
            PathSeg::Named(name) => segments.push(name.clone()),
            PathSeg::Ruled(_) if segments.is_empty() && raw.starts_with("@root") => {
                from_root = true;
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return; // `this`
    }
    // Inside `each`/`with` a path is read from the item, and block params are local.
    if !from_root && locals.iter().any(|l| l == &segments[0] || l == "this") {
        return;
    }
    out.references.push(Reference {
        segments,
        raw: raw.clone(),
        span: at.find(raw),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Vec<String> {
        let a = analyze(text, Span::UNKNOWN, "").expect("valid template");
        a.references
            .into_iter()
            .map(|r| r.segments.join("."))
            .collect()
    }

    #[test]
    fn finds_references_in_helpers_and_blocks() {
        assert_eq!(refs("{{ steps.a.b }}"), ["steps.a.b"]);
        assert_eq!(
            refs("x {{ len steps.t.tasks }} {{ default inputs.x \"y\" }}"),
            ["steps.t.tasks", "inputs.x"]
        );
        assert_eq!(
            refs("{{#each steps.x.y as |i|}}{{i.title}}{{@root.steps.q}}{{/each}}"),
            ["steps.x.y", "steps.q"]
        );
        assert_eq!(
            refs("{{#if inputs.a}}{{steps.b.c}}{{/if}}"),
            ["inputs.a", "steps.b.c"]
        );
        assert_eq!(refs("{{ steps.t.[0].id }}"), ["steps.t.0.id"]);
    }

    fn locator() -> Locator<'static> {
        Locator {
            source: "",
            node_span: Span::UNKNOWN,
            search_from: std::cell::Cell::new(0),
        }
    }

    /// Exactly one `{{ expression }}` and whitespace, by Handlebars' own parse. (`{{{ a }}}`
    /// and `{{& a }}` are left out: they render as text.)
    fn handlebars_single_expression(template: &Template) -> bool {
        let mut expressions = 0;
        for element in &template.elements {
            match element {
                TemplateElement::RawString(s) if s.trim().is_empty() => {}
                TemplateElement::Expression(_) => expressions += 1,
                _ => return false,
            }
        }
        expressions == 1
    }

    #[test]
    fn the_plain_path_reading_agrees_with_handlebars() {
        for text in [
            "{{ steps.a.b }}",
            " {{steps.t.[0].id}} ",
            "Hi {{ inputs.first-name }} and {{ steps.x }}!",
            "{{ item }}",
            "{{ a_b.c-d.[12] }} x",
            // What only the engine's reading accepted before.
            "{{ steps/a/b }}",
            "{{ steps.a.[x-y].[@z] }} and {{ b.[0] }}",
            "x {{ inputs.café }} {{ $a.b:c }}",
            "{{ a }}}",
            "{{\n  steps.a.b\n}}",
        ] {
            let at = locator();
            let plain = plain_analysis(text, &at).expect("plain");
            let template = Template::compile(text).expect("compiles");
            let mut full = Analysis::default();
            walk_template(&template, &mut full, &at, &[]);
            assert_eq!(plain.references, full.references, "{text}");
            assert!(full.helpers.is_empty());
        }
        for not_plain in [
            "{{ len a }}",
            "{{ now }}",
            "{{#if a}}x{{/if}}",
            "{{ this.a }}",
            "{{ a.this.b }}",
            "{{~ a ~}}",
            "{{ a",
            "\\{{ a }}",
            "{{ a[0] }}",
            "{{ @root.a }}",
        ] {
            assert!(
                plain_analysis(not_plain, &locator()).is_none(),
                "{not_plain}"
            );
        }
    }

    #[test]
    fn single_expression_detection_agrees_with_handlebars() {
        for text in [
            "{{ steps.a }}",
            "  {{ steps.a }} ",
            "{{~ steps.a ~}}",
            "{{ len steps.a }}",
            "{{ default (first a) \"x\" }}",
            "a {{ steps.a }}",
            "{{ a }}{{ b }}",
            "{{ a }} {{ b }}",
            "{{ a }}}",
            "{{{ a }}}",
            "{{& a }}",
            "{{#if a}}x{{/if}}",
            "{{! note }}",
            "{{!-- note --}}",
            "\\{{ a }}",
            "{{> p }}",
        ] {
            let template = Template::compile(text).expect("compiles");
            assert_eq!(
                detect::single_expression(text).is_some(),
                handlebars_single_expression(&template),
                "{text}"
            );
        }
    }

    #[test]
    fn single_expression_is_detected() {
        let single = |t: &str| {
            analyze(t, Span::UNKNOWN, "")
                .map(|a| a.single_expression)
                .ok()
        };
        assert_eq!(single("{{ steps.a }}"), Some(true));
        assert_eq!(single("  {{ steps.a }} "), Some(true));
        assert_eq!(single("a {{ steps.a }}"), Some(false));
        assert_eq!(single("{{ a }}{{ b }}"), Some(false));
    }

    #[test]
    fn syntax_errors_are_explained() {
        let e = analyze("{{ steps.a", Span::UNKNOWN, "")
            .err()
            .map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some("this template has a `{{` that is never closed with `}}`")
        );
    }
}
