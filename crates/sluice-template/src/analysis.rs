//! Template analysis for the planner: what a `{{ ... }}` string refers to and which helpers it
//! calls. The references it makes (`steps.X...`, `inputs.Y`, `item...`) become data
//! dependencies and are checked.

use handlebars::template::{BlockParam, HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use serde_json::Value;
use sluice_model::Span;

use crate::detect::{self, Piece};
use crate::{helpers, literals, mistakes};

/// One path a template reads, e.g. `steps.contact.contact.id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The path's segments: `["steps", "contact", "contact", "id"]`.
    pub segments: Vec<String>,
    /// The path as written.
    pub raw: String,
    /// Where it is written in the file.
    pub span: Span,
    /// Whether a `null` here is taken care of: the path is read by `default`, a condition
    /// (`if`, `unless`, `and`, `or`, `not`, `eq`, `ne`), or inside an `{{#if}}`/`{{#unless}}`/
    /// `{{#with}}` block over the same path.
    pub guarded: bool,
}

/// Helpers that take `null` as an answer, not as a mistake: a path they read is guarded.
const NULL_SAFE: &[&str] = &["default", "if", "unless", "and", "or", "not", "eq", "ne"];

/// Block helpers whose block reads its path only when it is there.
const GUARDING_BLOCKS: &[&str] = &["if", "unless", "with"];

/// Where the walk of a template is: the names that are local there (block params, `this`),
/// and what is guarded.
#[derive(Clone, Default)]
struct Walk {
    locals: Vec<String>,
    /// Every path read here is guarded (the arguments of a null-safe helper).
    guard_all: bool,
    /// Paths guarded here, with everything under them (inside `{{#if PATH}}`).
    guarded: Vec<Vec<String>>,
}

impl Walk {
    fn guards(&self, segments: &[String]) -> bool {
        self.guard_all || self.guarded.iter().any(|g| segments.starts_with(g))
    }
}

/// A helper a template calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperCall {
    /// The helper's name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
    /// Its arguments, in order (`key=value` pairs are not counted).
    pub args: Vec<Argument>,
}

/// One argument of a helper call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Argument {
    /// A literal written in the template: `"i"`, `3`, `true`, `[1, 2]`.
    Literal {
        /// Its value.
        value: Value,
        /// Where it is written (the template's node when it cannot be found in the source).
        span: Span,
    },
    /// A path or a `( … )` call: its value is known only when the step runs.
    Expression,
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
    /// The right spelling, when the mistake is a known one.
    pub help: Option<String>,
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
    if let Some(d) = mistakes::date_arithmetic(text) {
        return Err(SyntaxError {
            message: format!(
                "`{}` is date arithmetic, which templates do not do",
                d.written
            ),
            span: locator.find(&d.written),
            help: Some(format!(
                "move a date with `date_add`: `{}` (units: s, m, h, d, w)",
                d.corrected
            )),
        });
    }
    // Most templates are text and plain paths (`{{ steps.a.b }}`): read those directly; the
    // Handlebars parser (several µs a template) is for the rest.
    if let Some(analysis) = plain_analysis(text, &locator) {
        return Ok(analysis);
    }
    let template = Template::compile(&literals::keep_backslashes(text)).map_err(|e| {
        let message = describe_syntax_error(text, &e);
        SyntaxError {
            message,
            span: node_span,
            help: None,
        }
    })?;
    let mut analysis = Analysis {
        single_expression: detect::single_expression(text).is_some(),
        ..Analysis::default()
    };
    walk_template(&template, &mut analysis, &locator, &Walk::default());
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
                guarded: false,
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

fn walk_template(template: &Template, out: &mut Analysis, at: &Locator<'_>, walk: &Walk) {
    for element in &template.elements {
        walk_element(element, out, at, walk);
    }
}

fn walk_helper(h: &HelperTemplate, out: &mut Analysis, at: &Locator<'_>, walk: &Walk, block: bool) {
    let mut helper_name = None;
    let mut call = None;
    match &h.name {
        Parameter::Name(name) => {
            call = Some(push_call(out, name, at));
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
                    call = Some(push_call(out, raw, at));
                }
            } else if h.params.is_empty() && h.hash.is_empty() && !block {
                push_path(path, out, at, walk);
            } else if let Path::Relative((_, raw)) = path {
                call = Some(push_call(out, raw, at));
                helper_name = Some(raw.as_str());
            }
        }
        Parameter::Subexpression(sub) => walk_element(&sub.element, out, at, walk),
        _ => {}
    }
    let null_safe = helper_name.is_some_and(|n| NULL_SAFE.contains(&n));
    let arg_walk = Walk {
        guard_all: walk.guard_all || null_safe,
        ..walk.clone()
    };
    let mut args = Vec::with_capacity(h.params.len());
    for p in &h.params {
        match p {
            Parameter::Literal(value) => args.push(Argument::Literal {
                value: value.clone(),
                span: at.find(&literal_text(value)),
            }),
            other => {
                walk_parameter(other, out, at, &arg_walk);
                args.push(Argument::Expression);
            }
        }
    }
    if let Some(c) = call.and_then(|i| out.helpers.get_mut(i)) {
        c.args = args;
    }
    for p in h.hash.values() {
        walk_parameter(p, out, at, &arg_walk);
    }
    let mut inner = walk.clone();
    // Inside `each` / `with` the context is the item: only block params and `@root` paths
    // refer to the flow's context.
    if let Some(bp) = &h.block_param {
        match bp {
            BlockParam::Single(p) => inner.locals.extend(param_name(p)),
            BlockParam::Pair((a, b)) => {
                inner.locals.extend(param_name(a));
                inner.locals.extend(param_name(b));
            }
            _ => {}
        }
    }
    if matches!(helper_name, Some("each" | "with")) {
        inner.locals.push("this".to_string());
    }
    if helper_name.is_some_and(|n| GUARDING_BLOCKS.contains(&n))
        && let Some(Parameter::Path(Path::Relative((segs, _)))) = h.params.first()
    {
        let segments: Vec<String> = segs
            .iter()
            .filter_map(|s| match s {
                PathSeg::Named(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        inner.guarded.push(segments);
    }
    for template in [&h.template, &h.inverse].into_iter().flatten() {
        walk_template(template, out, at, &inner);
    }
}

/// Records a call of `name` (its arguments follow); returns its index.
fn push_call(out: &mut Analysis, name: &str, at: &Locator<'_>) -> usize {
    out.helpers.push(HelperCall {
        name: name.to_string(),
        span: at.find(name),
        args: Vec::new(),
    });
    out.helpers.len() - 1
}

/// How a literal is most likely written in the source: text without its quotes.
fn literal_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn param_name(p: &Parameter) -> Option<String> {
    match p {
        Parameter::Name(n) => Some(n.clone()),
        Parameter::Path(Path::Relative((_, raw))) => Some(raw.clone()),
        _ => None,
    }
}

fn walk_element(e: &TemplateElement, out: &mut Analysis, at: &Locator<'_>, walk: &Walk) {
    match e {
        TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
            walk_helper(h, out, at, walk, false);
        }
        TemplateElement::HelperBlock(h) => walk_helper(h, out, at, walk, true),
        _ => {}
    }
}

fn walk_parameter(p: &Parameter, out: &mut Analysis, at: &Locator<'_>, walk: &Walk) {
    match p {
        Parameter::Path(path) => push_path(path, out, at, walk),
        Parameter::Subexpression(sub) => walk_element(&sub.element, out, at, walk),
        _ => {}
    }
}

fn push_path(path: &Path, out: &mut Analysis, at: &Locator<'_>, walk: &Walk) {
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
    let Some(first) = segments.first() else {
        return; // `this`
    };
    // Inside `each`/`with` a path is read from the item, and block params are local.
    if !from_root && walk.locals.iter().any(|l| l == first || l == "this") {
        return;
    }
    out.references.push(Reference {
        guarded: walk.guards(&segments),
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
            walk_template(&template, &mut full, &at, &Walk::default());
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
    fn paths_a_null_cannot_hurt_are_guarded() {
        let guarded = |text: &str| -> Vec<(String, bool)> {
            analyze(text, Span::UNKNOWN, "")
                .expect("valid template")
                .references
                .into_iter()
                .map(|r| (r.segments.join("."), r.guarded))
                .collect()
        };
        assert_eq!(guarded("{{ steps.a.b }}"), [("steps.a.b".into(), false)]);
        assert_eq!(
            guarded("{{ default steps.a.b \"x\" }}"),
            [("steps.a.b".into(), true)]
        );
        assert_eq!(
            guarded("{{ upper (default steps.a.b \"x\") }} {{ upper steps.c }}"),
            [("steps.a.b".into(), true), ("steps.c".into(), false)]
        );
        assert_eq!(
            guarded("{{#if steps.a}}{{ steps.a.b }}{{ steps.c.d }}{{else}}{{ steps.a.e }}{{/if}}"),
            [
                ("steps.a".into(), true),
                ("steps.a.b".into(), true),
                ("steps.c.d".into(), false),
                ("steps.a.e".into(), true)
            ]
        );
        assert_eq!(
            guarded("{{ and (eq steps.a.x 1) (not steps.b) }}"),
            [("steps.a.x".into(), true), ("steps.b".into(), true)]
        );
    }

    #[test]
    fn helper_calls_carry_their_arguments() {
        let text = r#"{{ regex_match (lower inputs.x) "a\d" 'i' }} {{ now }}"#;
        let source = format!("v: '{text}'");
        let a = analyze(text, Span::new(3, text.len() + 2), &source).expect("valid");
        let calls: Vec<(&str, usize)> = a
            .helpers
            .iter()
            .map(|c| (c.name.as_str(), c.args.len()))
            .collect();
        assert_eq!(calls, [("regex_match", 3), ("lower", 1), ("now", 0)]);
        let args = &a.helpers[0].args;
        assert_eq!(args[0], Argument::Expression);
        let Argument::Literal { value, span } = &args[1] else {
            panic!("a literal: {args:?}");
        };
        assert_eq!(value, &Value::String(r"a\d".to_string()));
        assert_eq!(source.get(span.offset..span.end()), Some(r"a\d"));
        assert!(matches!(&args[2], Argument::Literal { value, .. } if value == "i"));
    }

    #[test]
    fn date_arithmetic_is_a_located_syntax_error() {
        let text = "due {{ now + 2 days }}";
        let source = format!("v: \"{text}\"");
        let e = analyze(text, Span::new(3, text.len() + 2), &source).expect_err("arithmetic");
        assert_eq!(
            e.message,
            "`now + 2 days` is date arithmetic, which templates do not do"
        );
        assert_eq!(
            source.get(e.span.offset..e.span.end()),
            Some("now + 2 days")
        );
        assert_eq!(
            e.help.as_deref(),
            Some(
                "move a date with `date_add`: `{{ date_add (now) \"2d\" }}` (units: s, m, h, d, w)"
            )
        );
        // `now-1d` reads as a name to Handlebars: it is caught all the same.
        assert!(analyze("{{ now-1d }}", Span::UNKNOWN, "").is_err());
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
