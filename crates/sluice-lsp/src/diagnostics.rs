//! Sluice's diagnostics as the editor shows them — range, severity, code, message and hint,
//! related places — and the quick fix of a "did you mean" hint: replace the misspelled name with
//! the suggestion (carried in the diagnostic's `data`).

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Diagnostic as LspDiagnostic,
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Range, TextEdit,
    Uri, WorkspaceEdit,
};
use serde::{Deserialize, Serialize};
use sluice_model::{Diagnostic, Severity, Span};

use crate::position::Text;

/// What a fixable diagnostic carries for its quick fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fix {
    /// The misspelled name.
    pub(crate) range: Range,
    /// The name it should be.
    pub(crate) replacement: String,
}

/// Sluice's diagnostics of a file, for the editor.
pub(crate) fn to_lsp(diagnostics: &[Diagnostic], text: &Text, uri: &Uri) -> Vec<LspDiagnostic> {
    diagnostics.iter().map(|d| one(d, text, uri)).collect()
}

fn one(d: &Diagnostic, text: &Text, uri: &Uri) -> LspDiagnostic {
    let span = d.primary_span().unwrap_or(Span::new(0, 0));
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .skip(1)
        .map(|l| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), text.range(l.span)),
            message: if l.text.is_empty() {
                "related".into()
            } else {
                l.text.clone()
            },
        })
        .collect();
    let fix = fix_of(d, text).and_then(|f| serde_json::to_value(f).ok());
    LspDiagnostic {
        range: text.range(span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        code_description: None,
        source: Some("sluice".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: fix.map(|f| serde_json::json!({ "fix": f })),
    }
}

/// The suggestion of a "did you mean `X`?" hint.
fn suggestion(d: &Diagnostic) -> Option<&str> {
    d.help
        .as_deref()?
        .strip_prefix("did you mean `")?
        .strip_suffix("`?")
}

/// The quick fix of a diagnostic with a suggestion: the misspelled name is the name in
/// backticks of its message found in its underlined text (all of it, or the part that names
/// it: `inputs.contactid` underlined for input `contactid`).
fn fix_of(d: &Diagnostic, text: &Text) -> Option<Fix> {
    let replacement = suggestion(d)?;
    let span = d.primary_span()?;
    let underlined = text.as_str().get(span.offset..span.end())?;
    let names: Vec<&str> = d.message.split('`').skip(1).step_by(2).collect();
    let name = if names.contains(&underlined) {
        underlined
    } else {
        names
            .iter()
            .copied()
            .filter(|n| !n.is_empty() && underlined.contains(n))
            .max_by_key(|n| n.len())?
    };
    let at = span.offset + underlined.rfind(name)?;
    Some(Fix {
        range: text.range(Span::new(at, name.len())),
        replacement: replacement.to_string(),
    })
}

/// The quick fixes of the diagnostics the editor sends back with a code action request.
pub(crate) fn quick_fixes(uri: &Uri, diagnostics: &[LspDiagnostic]) -> Vec<CodeActionOrCommand> {
    diagnostics
        .iter()
        .filter_map(|d| {
            let fix: Fix = serde_json::from_value(d.data.as_ref()?.get("fix")?.clone()).ok()?;
            let edit = TextEdit::new(fix.range, fix.replacement.clone());
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Replace with `{}`", fix.replacement),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }))
        })
        .collect()
}

/// Whether two ranges overlap (or touch).
pub(crate) fn overlaps(a: &Range, b: &Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(message: &str, help: &str, text: &str, underlined: &str) -> Option<String> {
        let text = Text::new(text.to_string());
        let at = text.as_str().find(underlined).expect("underlined text");
        let d = Diagnostic::error("x", message)
            .label(Span::new(at, underlined.len()), "")
            .help(help);
        fix_of(&d, &text).map(|f| {
            let start = text.offset(f.range.start);
            let end = text.offset(f.range.end);
            format!("{}→{}", &text.as_str()[start..end], f.replacement)
        })
    }

    #[test]
    fn the_fix_replaces_the_misspelled_name_only() {
        assert_eq!(
            fix(
                "`contact` has no field `emial`",
                "did you mean `email`?",
                "a: \"{{ steps.contact.contact.emial }}\"",
                "emial"
            )
            .as_deref(),
            Some("emial→email")
        );
        assert_eq!(
            fix(
                "input `contactid` is not declared",
                "did you mean `contactId`?",
                "a: \"{{ inputs.contactid }}\"",
                "inputs.contactid"
            )
            .as_deref(),
            Some("contactid→contactId")
        );
        assert_eq!(
            fix(
                "unknown key `actoin`",
                "did you mean `action`?",
                "  actoin: x",
                "actoin"
            )
            .as_deref(),
            Some("actoin→action")
        );
        assert_eq!(
            fix(
                "unknown key `actoin`",
                "the keys are: `a`",
                "  actoin: x",
                "actoin"
            ),
            None
        );
    }
}
