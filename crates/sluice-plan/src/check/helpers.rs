//! Helper calls in templates: the helper exists, it gets as many arguments as its signature
//! says, and its literal arguments that can be checked before a run are sound — the pattern
//! and flags of `regex_*` helpers, the path of `jsonpath`, the offset of `date_add`, the time
//! zone of `date_format`.

use serde_json::Value;
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Diagnostic, Span};
use sluice_template::helpers::{self, Helper};
use sluice_template::jsonpath::{self, UnknownFunction};
use sluice_template::{Argument, HelperCall, PatternError, compile_pattern};

use super::Checker;
use crate::codes;

/// The help for a JSONPath that calls a function RFC 9535 does not have.
pub(super) const JSONPATH_FUNCTION_HELP: &str = "JSONPath compares with fixed values only; to \
     compare with a computed date, filter with a template instead: a `for_each` step over the \
     list with `where: \"{{ lt item.dueDate (now) }}\"`, or `{{ lt item.dueDate (now) }}` in a \
     template";

impl Checker<'_> {
    /// Checks the helper calls of one template.
    pub(super) fn check_helper_calls(&mut self, calls: &[HelperCall]) {
        for call in calls {
            match helpers::find(&call.name) {
                None => self.unknown_helper(call),
                Some(helper) if !helper.arity.accepts(call.args.len()) => {
                    self.wrong_argument_count(call, helper);
                }
                Some(helper) => self.check_literal_arguments(call, helper),
            }
        }
    }

    fn unknown_helper(&mut self, call: &HelperCall) {
        let help = match did_you_mean(&call.name, helpers::names()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("helpers: {}", list_names(helpers::names())),
        };
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_HELPER,
                format!("there is no helper `{}`", call.name),
            )
            .label(call.span, "")
            .help(help),
        );
    }

    fn wrong_argument_count(&mut self, call: &HelperCall, helper: &Helper) {
        self.diags.push(
            Diagnostic::error(
                codes::HELPER_ARGUMENTS,
                format!(
                    "`{}` takes {}, found {}",
                    helper.name,
                    helper.arity.describe(),
                    call.args.len()
                ),
            )
            .label(call.span, "")
            .help(format!(
                "write `{}`, e.g. `{}`",
                helper.signature, helper.example
            )),
        );
    }

    fn check_literal_arguments(&mut self, call: &HelperCall, helper: &Helper) {
        let (pattern_at, flags_at) = match helper.name {
            "regex_match" | "regex_find" => (1, 2),
            "regex_replace" => (1, 3),
            "jsonpath" => {
                if let Some((path, span)) = literal_text(call.args.get(1)) {
                    self.check_jsonpath_literal(path, span);
                }
                return;
            }
            "date_add" => {
                if let Some((amount, span)) = literal_text(call.args.get(1)) {
                    let magnitude = amount.trim().trim_start_matches(['-', '+']).trim();
                    if humantime::parse_duration(magnitude).is_err() {
                        self.invalid_argument(
                            span,
                            format!("`{amount}` is not a duration"),
                            "write e.g. `90m`, `-1d`, `2h 30m`",
                        );
                    }
                }
                return;
            }
            "date_format" => {
                if let Some((tz, span)) = literal_text(call.args.get(2))
                    && !tz.is_empty()
                    && tz != "UTC"
                    && tz.parse::<chrono_tz::Tz>().is_err()
                {
                    self.invalid_argument(
                        span,
                        format!("`{tz}` is not a time zone"),
                        "write an IANA name, e.g. `Europe/Berlin` or `America/New_York`",
                    );
                }
                return;
            }
            _ => return,
        };
        let Some((pattern, pattern_span)) = literal_text(call.args.get(pattern_at)) else {
            return;
        };
        let (flags, flags_span) = match call.args.get(flags_at) {
            None => ("", pattern_span),
            Some(arg) => match literal_text(Some(arg)) {
                Some(found) => found,
                // Flags computed at run time: the pattern alone can still be checked.
                None => ("", pattern_span),
            },
        };
        if let Err(e) = compile_pattern(pattern, flags) {
            let span = match e {
                PatternError::Flag(_) => flags_span,
                _ => pattern_span,
            };
            self.diags.push(
                Diagnostic::error(codes::INVALID_PATTERN, e.to_string())
                    .label(span, "")
                    .help(
                        "patterns are regular expressions as Rust's `regex` crate reads them \
                         (no look-around or back-references); write a backslash once: \
                         `\"\\d+\"`",
                    ),
            );
        }
    }

    fn invalid_argument(&mut self, span: Span, message: String, help: &str) {
        self.diags.push(
            Diagnostic::error(codes::INVALID_ARGUMENT, message)
                .label(span, "")
                .help(help),
        );
    }

    fn check_jsonpath_literal(&mut self, path: &str, span: Span) {
        let Err(e) = serde_json_path::JsonPath::parse(path) else {
            return;
        };
        let diagnostic = match jsonpath::unknown_function(path) {
            Some(f) => unknown_function(&f, within(span, path, f.offset, f.name.len())),
            None => Diagnostic::error(
                codes::INVALID_JSONPATH,
                format!("`{path}` is not valid JSONPath (RFC 9535)"),
            )
            .label(span, e.to_string())
            .help("a path starts at `$`, e.g. `$[?@.completed == false]`"),
        };
        self.diags.push(diagnostic);
    }
}

/// The diagnostic for a JSONPath that calls a function RFC 9535 does not have.
pub(super) fn unknown_function(f: &UnknownFunction, span: Span) -> Diagnostic {
    Diagnostic::error(codes::INVALID_JSONPATH, f.message())
        .label(span, "")
        .help(JSONPATH_FUNCTION_HELP)
}

/// `len` bytes at `offset` into `text`, written at `span` (the whole span when the text is not
/// written there as is, e.g. with escapes).
fn within(span: Span, text: &str, offset: usize, len: usize) -> Span {
    if span.is_unknown() || span.len != text.len() {
        span
    } else {
        Span::new(span.offset + offset, len)
    }
}

/// A literal text argument and where it is written.
fn literal_text(arg: Option<&Argument>) -> Option<(&str, Span)> {
    match arg? {
        Argument::Literal {
            value: Value::String(s),
            span,
        } => Some((s.as_str(), *span)),
        _ => None,
    }
}
