//! Backslashes in the text literals of templates. Handlebars reads `"…"` as JSON, where `\d`
//! is an error and `\b` a backspace; people write regular expressions there
//! (`regex_match x "\d+\b"`). So before a template is compiled, a backslash that does not start
//! one of JSON's escapes `\" \\ \/ \n \r \t \f \uXXXX` is kept as a backslash.

use std::borrow::Cow;

/// `text` with every backslash inside a `{{ … }}` text literal that does not start a JSON
/// escape (other than `\b`) doubled, so it reaches the helper as written.
#[must_use]
pub fn keep_backslashes(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    let mut in_expression = false;
    let mut quote: Option<u8> = None;
    while let Some(&b) = bytes.get(i) {
        if !in_expression {
            if b == b'\\' && bytes.get(i + 1) == Some(&b'{') {
                i += 2; // `\{{` is literal text
                continue;
            }
            if b == b'{' && bytes.get(i + 1) == Some(&b'{') {
                if bytes.get(i + 2) == Some(&b'!') {
                    // A comment: skip to its end.
                    let end = if text.get(i..).is_some_and(|t| t.starts_with("{{!--")) {
                        text.get(i..)
                            .and_then(|t| t.find("--}}"))
                            .map(|e| i + e + 4)
                    } else {
                        text.get(i..).and_then(|t| t.find("}}")).map(|e| i + e + 2)
                    };
                    i = end.unwrap_or(bytes.len());
                    continue;
                }
                in_expression = true;
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        match quote {
            None => {
                if b == b'"' || b == b'\'' {
                    quote = Some(b);
                } else if b == b'}' && bytes.get(i + 1) == Some(&b'}') {
                    in_expression = false;
                    i += 2;
                    continue;
                }
                i += 1;
            }
            Some(q) if b == q => {
                quote = None;
                i += 1;
            }
            Some(q) if b == b'\\' => {
                if is_escape(bytes, i + 1, q) {
                    i += 2;
                } else {
                    let buffer = out.get_or_insert_with(|| String::with_capacity(text.len() + 8));
                    buffer.push_str(text.get(copied..i).unwrap_or_default());
                    buffer.push('\\');
                    copied = i;
                    i += 1;
                }
            }
            Some(_) => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut buffer) => {
            buffer.push_str(text.get(copied..).unwrap_or_default());
            Cow::Owned(buffer)
        }
    }
}

/// Whether the byte at `at` (after a backslash, in a literal quoted with `quote`) starts an
/// escape Handlebars reads.
fn is_escape(bytes: &[u8], at: usize, quote: u8) -> bool {
    match bytes.get(at) {
        Some(b'\\' | b'/' | b'n' | b'r' | b't' | b'f') => true,
        Some(&c) if c == quote => true,
        Some(b'u') => bytes
            .get(at + 1..at + 5)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use handlebars::template::{Parameter, Template, TemplateElement};
    use serde_json::{Value, json};

    use super::*;

    /// The literal arguments Handlebars reads from a template after [`keep_backslashes`].
    fn literals(text: &str) -> Vec<Value> {
        let prepared = keep_backslashes(text);
        let template = Template::compile(&prepared).expect("compiles");
        let mut out = Vec::new();
        for e in &template.elements {
            if let TemplateElement::Expression(h) = e {
                for p in &h.params {
                    if let Parameter::Literal(v) = p {
                        out.push(v.clone());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn backslashes_reach_the_helper_as_written() {
        assert_eq!(literals(r#"{{ f x "\d+\s*\b" }}"#), [json!(r"\d+\s*\b")]);
        assert_eq!(
            literals(r#"{{ f x '\d+' "\w" }}"#),
            [json!(r"\d+"), json!(r"\w")]
        );
        assert_eq!(literals(r#"{{ f x "a\\.b" }}"#), [json!(r"a\.b")]);
        assert_eq!(literals(r#"{{ f x "a\.b" }}"#), [json!(r"a\.b")]);
        // JSON's escapes keep their meaning.
        assert_eq!(
            literals(r#"{{ f x "line\nnext\t\"q\" \u0041 \uZZ" }}"#),
            [json!("line\nnext\t\"q\" A \\uZZ")]
        );
        assert_eq!(literals(r#"{{ f x 'it\'s' }}"#), [json!("it's")]);
        assert_eq!(
            literals(r#"{{ f x 'say \"hi\"' }}"#),
            [json!(r#"say \"hi\""#)]
        );
        assert_eq!(
            literals(r#"{{ f x "ends with \\" }}"#),
            [json!(r"ends with \")]
        );
    }

    #[test]
    fn text_outside_literals_is_untouched() {
        for text in [
            r"no braces \d",
            r"\{{ not a template \d }}",
            r#"{{! a comment "\d" }} {{!-- and "\w" --}}"#,
            r#"before \d {{ x }} after \s"#,
            r#"{{ f "}}" }} \d"#,
        ] {
            assert_eq!(keep_backslashes(text), text, "{text}");
        }
        assert!(matches!(
            keep_backslashes("{{ f \"a\" }}"),
            Cow::Borrowed(_)
        ));
    }
}
