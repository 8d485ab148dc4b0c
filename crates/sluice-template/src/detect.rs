//! What a string holds: a template at all, exactly one `{{ expression }}`, or text and plain
//! paths only. The one plain-path reader lives here; the planner's analysis and the engine's
//! compile both use it to skip Handlebars' parser for the most common templates.

use sluice_model::{Node, NodeKind};

use crate::helpers;

/// Whether `text` holds a template (`{{`).
#[must_use]
pub fn is_template(text: &str) -> bool {
    text.contains("{{")
}

/// Whether any string in the tree, map keys included, holds a template.
#[must_use]
pub fn contains_template(node: &Node) -> bool {
    let mut found = false;
    node.walk(&mut |n| {
        if let NodeKind::Str(s) = &n.kind
            && is_template(s)
        {
            found = true;
        }
    });
    found
}

/// The inside of a string that is exactly one `{{ … }}` with only whitespace around it (not a
/// block, comment, partial or `{{{ … }}}`), without its `~` marks and spaces. Such a value
/// keeps its JSON type.
#[must_use]
pub fn single_expression(text: &str) -> Option<&str> {
    let after = text.trim().strip_prefix("{{")?;
    let close = after.find("}}")?;
    if close + 2 != after.len() {
        return None; // more after the first `}}`
    }
    let inner = trim_whitespace(after[..close].trim_start_matches('~').trim_end_matches('~'));
    if inner.is_empty()
        || inner.contains("{{")
        || inner.starts_with(['#', '/', '!', '>', '^', '{', '&'])
    {
        return None;
    }
    Some(inner)
}

/// A piece of a text whose every `{{ … }}` is a plain path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text (never empty).
    Text(&'a str),
    /// A `{{ path }}`.
    Path {
        /// The path as written, without the braces and spaces.
        raw: &'a str,
        /// Its segments, as [`plain_path`] reads them.
        segments: Vec<String>,
    },
}

/// Splits `text` into literal text and `{{ path }}`s, as Handlebars reads it; `None` when an
/// expression is more than a [`plain_path`] or the text has what only Handlebars' parser
/// handles well: an escape (`\`), `{{{`, whitespace control (`~`) or a stray `}}`.
#[must_use]
pub fn plain_pieces(text: &str) -> Option<Vec<Piece<'_>>> {
    if text.contains('\\') || text.contains("{{{") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        push_text(&mut pieces, &rest[..open])?;
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let raw = trim_whitespace(&after[..close]);
        let segments = plain_path(raw)?;
        pieces.push(Piece::Path { raw, segments });
        rest = &after[close + 2..];
    }
    push_text(&mut pieces, rest)?;
    Some(pieces)
}

fn push_text<'a>(pieces: &mut Vec<Piece<'a>>, text: &'a str) -> Option<()> {
    if text.contains("}}") {
        return None;
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Some(())
}

/// `a.b.[0].c` → `["a", "b", "0", "c"]` when `expr` is a plain path, read as Handlebars reads
/// it: names of letters, digits, `-`, `_`, `$`, `:` or non-ASCII characters, or `[…]`
/// segments without spaces, separated by `.` or `/`. `None` for anything else (`this`,
/// `@root`, `../`, a helper call, a lone helper name such as `now`, `else`): Handlebars'
/// parser decides those.
#[must_use]
pub fn plain_path(expr: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = expr;
    loop {
        let (segment, after) = match rest.strip_prefix('[') {
            Some(bracketed) => {
                let end = bracketed.find(']')?;
                (&bracketed[..end], &bracketed[end + 1..])
            }
            None => {
                let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
                rest.split_at(end)
            }
        };
        // Handlebars drops `this` segments, wherever they are.
        if segment.is_empty() || segment == "this" || segment.contains(is_whitespace) {
            return None;
        }
        segments.push(segment.to_string());
        if after.is_empty() {
            break;
        }
        rest = after.strip_prefix(['.', '/'])?;
    }
    match segments.as_slice() {
        [first, ..] if first == "else" => None,
        [only] if helpers::is_helper(only) => None,
        _ => Some(segments),
    }
}

/// A character of a path name (Handlebars' `symbol_char`).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':') || !c.is_ascii()
}

/// Whitespace as Handlebars' grammar knows it (not Unicode's, which counts e.g. U+00A0).
fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn trim_whitespace(s: &str) -> &str {
    s.trim_matches(is_whitespace)
}

#[cfg(test)]
mod tests {
    use handlebars::template::{Parameter, Template, TemplateElement};
    use handlebars::{Path, PathSeg};

    use super::*;

    /// The segments Handlebars reads from `{{ expr }}` when it is a lone path (no helper call).
    fn handlebars_path(expr: &str) -> Option<Vec<String>> {
        let template = Template::compile(&format!("{{{{ {expr} }}}}")).ok()?;
        let [TemplateElement::Expression(h)] = template.elements.as_slice() else {
            return None;
        };
        if !h.params.is_empty() || !h.hash.is_empty() {
            return None;
        }
        let Parameter::Path(Path::Relative((segs, _))) = &h.name else {
            return None;
        };
        segs.iter()
            .map(|s| match s {
                PathSeg::Named(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_plain_path_is_read_as_handlebars_reads_it() {
        let plain = [
            "steps.a.b",
            "steps.t.[0].id",
            "steps.t.0.id",
            "a_b.c-d.[12]",
            "inputs.first-name",
            "item",
            "steps/a/b",
            "steps.a/b.[c]",
            "a.[x-y].[12a]",
            "a.[b}]",
            "a.[@x].[.]",
            "$a.b:c",
            "inputs.café",
            "inputs.\u{a0}x",
            "1.5",
            "-1",
            "true",
            "as",
            "thisx.a",
            "a.thisx",
            "[a]",
            "[0]",
        ];
        for expr in plain {
            let ours = plain_path(expr);
            assert!(ours.is_some(), "`{expr}` should be plain");
            assert_eq!(ours, handlebars_path(expr), "`{expr}`");
        }
        let not_plain = [
            "this", "this.a", "a.this.b", "a.[this]", "./a", "../a", "@root.a", "@index", "a..b",
            "a.", ".a", "a[0]", "a.[b c]", "a.[]", "a.[0", "len a", "a b", "(len a)", "\"a\"",
            "'a'", "now", "if", "lookup", "else", "else.a", "~ a", "a~", "", "a.b!",
        ];
        for expr in not_plain {
            assert_eq!(plain_path(expr), None, "`{expr}` should not be plain");
        }
        // Paths through helper names are paths.
        assert_eq!(handlebars_path("now.a"), plain_path("now.a"));
    }

    #[test]
    fn pieces_split_text_and_paths() {
        assert_eq!(
            plain_pieces("Hi {{ inputs.name }}, {{steps.a.[0]}}!"),
            Some(vec![
                Piece::Text("Hi "),
                Piece::Path {
                    raw: "inputs.name",
                    segments: vec!["inputs".into(), "name".into()],
                },
                Piece::Text(", "),
                Piece::Path {
                    raw: "steps.a.[0]",
                    segments: vec!["steps".into(), "a".into(), "0".into()],
                },
                Piece::Text("!"),
            ])
        );
        assert_eq!(
            plain_pieces("{{ a }}}"),
            Some(vec![
                Piece::Path {
                    raw: "a",
                    segments: vec!["a".into()],
                },
                Piece::Text("}"),
            ])
        );
        for text in [
            "{{ len a }}",
            "{{~ a }} x",
            "x {{ a ~}}",
            "{{{ a }}}",
            "\\{{ a }}",
            "{{ a",
            "a }} {{ b }}",
            "{{ b }} }}",
            "{{#if a}}x{{/if}}",
            "{{! a }}",
        ] {
            assert_eq!(plain_pieces(text), None, "{text}");
        }
    }

    #[test]
    fn single_expressions_are_found() {
        assert_eq!(single_expression("  {{ steps.a }} "), Some("steps.a"));
        assert_eq!(single_expression("{{~ len a ~}}"), Some("len a"));
        assert_eq!(single_expression("a {{ steps.a }}"), None);
        assert_eq!(single_expression("{{ a }} {{ b }}"), None);
        assert_eq!(single_expression("{{ a }}{{ b }}"), None);
        assert_eq!(single_expression("{{ a }}}"), None);
        assert_eq!(single_expression("{{{ a }}}"), None);
        assert_eq!(single_expression("{{#if a}}x{{/if}}"), None);
        assert_eq!(single_expression("{{! note }}"), None);
        assert_eq!(single_expression("{{ }}"), None);
    }
}
