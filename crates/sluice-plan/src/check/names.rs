//! Names the flow declares — the flow's, its steps' and its inputs' — and input defaults;
//! and references to a step by name, which every other check resolves through here.

use serde_json::Value;
use sluice_model::suggest::{did_you_mean, list_names, shorten};
use sluice_model::{Diagnostic, Sp};

use super::Checker;
use crate::codes;

impl<'a> Checker<'a> {
    pub(super) fn check_names(&mut self) {
        let name = &self.flow.name;
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_NAME,
                    format!("`{}` is not a valid flow name", shorten(&name.value)),
                )
                .label(name.span, "")
                .help(
                    "use lowercase letters, digits, `-` and `_` (at most 64), e.g. `contact-360`",
                ),
            );
        }
        for key in self.flow.steps.keys() {
            if !valid_name(key, true) || key.len() > 64 {
                self.diags.push(
                    Diagnostic::error(codes::INVALID_NAME, format!("`{}` is not a valid step name", shorten(&key.value)))
                        .label(key.span, "")
                        .help("start with a letter or `_`, then letters, digits, `_` or `-` (templates read it as `steps.NAME`)"),
                );
            }
        }
    }

    pub(super) fn check_inputs(&mut self) {
        for (name, input) in &self.flow.inputs {
            if !valid_name(name, true) {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_NAME,
                        format!("`{}` is not a valid input name", shorten(&name.value)),
                    )
                    .label(name.span, "")
                    .help("start with a letter or `_`, then letters, digits, `_` or `-`"),
                );
            }
            if let Some(default) = &input.default
                && !json_matches(default, input.kind.as_str())
            {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_DEFAULT,
                        format!(
                            "the default of input `{}` is not of type `{}`",
                            name.value,
                            input.kind.as_str()
                        ),
                    )
                    .label(name.span, ""),
                );
            }
        }
    }

    /// A reference to another step by name; reports unknown names and self-references.
    pub(super) fn step_ref(&mut self, name: &Sp<String>, from: usize) -> Option<usize> {
        if self.broken.contains(name.value.as_str()) {
            return None;
        }
        match self.index.get(name.value.as_str()) {
            Some(&j) if j == from => {
                self.diags.push(
                    Diagnostic::error(
                        codes::CYCLE,
                        format!("step `{}` needs its own result", name.value),
                    )
                    .label(name.span, "")
                    .help("a step cannot read itself; read an earlier step"),
                );
                None
            }
            Some(&j) => {
                self.read[j] = true;
                Some(j)
            }
            None => {
                let names = self.flow.steps.keys().map(|k| k.value.as_str());
                let help = match did_you_mean(name, names.clone()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("steps defined here are: {}", list_names(names)),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_STEP,
                        format!("there is no step `{}`", name.value),
                    )
                    .label(name.span, "not defined in this flow")
                    .help(help),
                );
                None
            }
        }
    }
}

fn valid_name(name: &str, allow_dash: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (!allow_dash && c.is_ascii_digit()))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-'))
}

fn json_matches(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}
