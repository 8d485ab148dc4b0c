//! Diagnostics: what is wrong, where (file, span), and a hint — rendered like a compiler's
//! error (miette) or as JSON for CI and editors.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow may still run, but something looks wrong.
    Warning,
    /// The flow cannot run.
    Error,
}

/// A labelled span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What the label says under the underline (may be empty).
    pub text: String,
}

/// One problem found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `sluice::plan::unknown_step`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One sentence naming the offending thing in backticks.
    pub message: String,
    /// The primary location first, then related ones.
    pub labels: Vec<Label>,
    /// A hint: a suggestion or the valid names.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error.
    #[must_use]
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // A safety net for names echoed from hostile files: no message floods a terminal.
        let message = if message.chars().count() > MAX_MESSAGE {
            let cut: String = message.chars().take(MAX_MESSAGE).collect();
            format!("{cut}…")
        } else {
            message
        };
        Self {
            code,
            severity: Severity::Error,
            message,
            labels: Vec::new(),
            help: None,
        }
    }

    /// A new warning.
    #[must_use]
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// Adds a labelled span (the first one added is the primary location).
    #[must_use]
    pub fn label(mut self, span: Span, text: impl Into<String>) -> Self {
        if !span.is_unknown() {
            self.labels.push(Label {
                span,
                text: text.into(),
            });
        }
        self
    }

    /// Adds a hint.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a hint if there is one.
    #[must_use]
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// The primary span, if any.
    #[must_use]
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// A source file and what was found in it.
#[derive(Clone, Debug)]
pub struct FileReport {
    /// The path as the user gave it.
    pub path: String,
    /// The file's text (empty when it could not be read as text).
    pub source: Arc<str>,
    /// Everything found, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    /// A report with no diagnostics yet.
    #[must_use]
    pub fn new(path: impl Into<String>, source: impl Into<Arc<str>>) -> Self {
        Self {
            path: path.into(),
            source: source.into(),
            diagnostics: Vec::new(),
        }
    }

    /// Number of errors.
    #[must_use]
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    #[must_use]
    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// Sorts diagnostics by position (errors without position first) and drops exact repeats.
    pub fn sort(&mut self) {
        self.diagnostics
            .sort_by_key(|d| (d.primary_span().map(|s| s.offset), d.severity));
        self.diagnostics.dedup();
    }

    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        LineIndex::new(&self.source).line_col(&self.source, offset)
    }

    /// Keeps at most `max` diagnostics (errors first), adding one that says how many were left out.
    pub fn cap(&mut self, max: usize) {
        if self.diagnostics.len() <= max {
            return;
        }
        let left_out = self.diagnostics.len() - max;
        self.diagnostics
            .sort_by_key(|d| std::cmp::Reverse(d.severity));
        // The summary is as severe as the worst problem it stands for: warnings alone never
        // make a valid flow invalid.
        let worst = self.diagnostics[max..]
            .iter()
            .map(|d| d.severity)
            .max()
            .unwrap_or(Severity::Warning);
        self.diagnostics.truncate(max);
        self.sort();
        let summary = Diagnostic::error(
            "sluice::too_many_problems",
            format!("… and {left_out} more problems"),
        )
        .help("fix the ones above first; the rest are often the same mistake");
        self.diagnostics.push(Diagnostic {
            severity: worst,
            ..summary
        });
    }

    /// The diagnostics as JSON records.
    #[must_use]
    pub fn to_json(&self) -> Vec<JsonDiagnostic> {
        let index = LineIndex::new(&self.source);
        self.diagnostics
            .iter()
            .map(|d| {
                let (line, column, end_line, end_column) = match d.primary_span() {
                    Some(span) => {
                        let (l, c) = index.line_col(&self.source, span.offset);
                        let (el, ec) = index.line_col(&self.source, span.end());
                        (Some(l), Some(c), Some(el), Some(ec))
                    }
                    None => (None, None, None, None),
                };
                JsonDiagnostic {
                    file: self.path.clone(),
                    line,
                    column,
                    end_line,
                    end_column,
                    severity: d.severity,
                    code: d.code,
                    message: d.message.clone(),
                    hint: d.help.clone(),
                }
            })
            .collect()
    }

    /// Renders every diagnostic like a compiler does: `path:line:col`, the source line with
    /// an underline, the message and the hint. No colour when `color` is false.
    #[must_use]
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false)
            .with_context_lines(1);
        let mut out = String::new();
        let index = LineIndex::new(&self.source);
        for d in &self.diagnostics {
            // A snippet of a huge line (a minified or hostile file) would flood the terminal:
            // name the place instead of showing it.
            let flat;
            let d = match d.primary_span() {
                Some(span) if self.longest_line_around(&index, span) > MAX_SNIPPET_LINE => {
                    let (line, col) = index.line_col(&self.source, span.offset);
                    flat = Diagnostic {
                        labels: Vec::new(),
                        message: format!("{}:{line}:{col}: {}", self.path, d.message),
                        ..d.clone()
                    };
                    &flat
                }
                _ => d,
            };
            let shown = Shown { report: self, d };
            if handler.render_report(&mut out, &shown).is_err() {
                out.push_str(&format!("{}: {}\n", self.path, d.message));
            }
            out.push('\n');
        }
        out
    }
}

/// Where each line of a text starts: line/column look-ups in O(log n).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(source.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = source.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }
}

/// The longest message kept, in characters.
const MAX_MESSAGE: usize = 400;

/// Lines longer than this are not shown in a rendered diagnostic.
const MAX_SNIPPET_LINE: usize = 500;

impl FileReport {
    /// The longest of the lines a span touches (and the lines around it that miette shows).
    fn longest_line_around(&self, index: &LineIndex, span: Span) -> usize {
        let (first, _) = index.line_col(&self.source, span.offset);
        let (last, _) = index.line_col(&self.source, span.end());
        let lines = index.starts.len();
        (first.saturating_sub(1).max(1)..=(last + 1).min(lines))
            .map(|l| {
                let start = index.starts[l - 1];
                let end = index.starts.get(l).copied().unwrap_or(self.source.len());
                end - start
            })
            .max()
            .unwrap_or(0)
    }
}

/// 1-based line and column (in characters) of a byte offset in `source`.
#[must_use]
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// A diagnostic as JSON, for `--format json`.
#[derive(Clone, Debug, Serialize)]
pub struct JsonDiagnostic {
    /// The file.
    pub file: String,
    /// 1-based line of the start, when located.
    pub line: Option<usize>,
    /// 1-based column (characters) of the start.
    pub column: Option<usize>,
    /// 1-based line of the end.
    pub end_line: Option<usize>,
    /// 1-based column of the end.
    pub end_column: Option<usize>,
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable code.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The hint, when there is one.
    pub hint: Option<String>,
}

struct Shown<'a> {
    report: &'a FileReport,
    d: &'a Diagnostic,
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.d.primary_span() {
            Some(_) => f.write_str(&self.d.message),
            // Without a location miette shows no file name: put it in the message.
            None if self.d.message.starts_with(&self.report.path) => f.write_str(&self.d.message),
            None => write!(f, "{}: {}", self.report.path, self.d.message),
        }
    }
}

impl std::error::Error for Shown<'_> {}

impl miette::Diagnostic for Shown<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.d.labels.is_empty() {
            None
        } else {
            Some(self)
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.d.labels.is_empty() {
            return None;
        }
        let len = self.report.source.len();
        Some(Box::new(self.d.labels.iter().enumerate().map(
            move |(i, l)| {
                let offset = l.span.offset.min(len);
                let span_len = l.span.len.min(len - offset);
                let text = if l.text.is_empty() {
                    None
                } else {
                    Some(l.text.clone())
                };
                if i == 0 {
                    miette::LabeledSpan::new_primary_with_span(text, (offset, span_len))
                } else {
                    miette::LabeledSpan::new_with_span(text, (offset, span_len))
                }
            },
        )))
    }
}

impl miette::SourceCode for Shown<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let inner = self.report.source.as_ref().read_span(
            span,
            context_lines_before,
            context_lines_after,
        )?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.report.path.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_keeps_errors_and_never_turns_warnings_into_an_error() {
        let mut warnings = FileReport::new("f.yaml", "a: 1\n");
        warnings.diagnostics = (0..150)
            .map(|i| Diagnostic::warning("w", format!("w{i}")))
            .collect();
        warnings.cap(100);
        assert_eq!((warnings.error_count(), warnings.warning_count()), (0, 101));
        assert_eq!(
            warnings.diagnostics.last().map(|d| d.message.as_str()),
            Some("… and 50 more problems")
        );

        let mut mixed = FileReport::new("f.yaml", "a: 1\n");
        mixed.diagnostics = (0..150)
            .map(|i| Diagnostic::warning("w", format!("w{i}")))
            .collect();
        mixed.diagnostics.push(Diagnostic::error("e", "the error"));
        mixed.cap(100);
        assert!(
            mixed.diagnostics.iter().any(|d| d.message == "the error"),
            "errors are kept first"
        );
        assert_eq!(mixed.error_count(), 1);
    }

    #[test]
    fn line_and_column_count_characters() {
        let report = FileReport::new("f.yaml", "a: 1\nrésumé: x\n");
        assert_eq!(report.line_col(0), (1, 1));
        assert_eq!(report.line_col(5), (2, 1));
        assert_eq!(report.line_col("a: 1\nrésumé".len()), (2, 7));
    }
}
