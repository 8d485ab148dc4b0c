//! Warnings for what a flow declares but never uses: inputs, connections, and steps whose
//! result nothing reads.

use sluice_model::Diagnostic;

use super::{Checker, StepKind};
use crate::codes;

impl<'a> Checker<'a> {
    pub(super) fn warn_unused(&mut self) {
        for (name, _) in &self.flow.inputs {
            if !self.inputs_read.contains(name.value.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        codes::UNUSED_INPUT,
                        format!("input `{}` is never used", name.value),
                    )
                    .label(name.span, "")
                    .help(format!(
                        "read it as `{{{{ inputs.{} }}}}`, or remove it",
                        name.value
                    )),
                );
            }
        }
        for (name, _) in &self.flow.connections {
            if !self.connections_used.contains(name.value.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        codes::UNUSED_CONNECTION,
                        format!("connection `{}` is never used", name.value),
                    )
                    .label(name.span, ""),
                );
            }
        }
        // Steps another step needs (by data or `after:`), computed once: O(steps + needs).
        let mut needed_by_order = vec![false; self.steps.len()];
        for s in &self.steps {
            for &j in s.needs.keys() {
                needed_by_order[j] = true;
            }
        }
        for (i, facts) in self.steps.iter().enumerate() {
            let changes_something = match &facts.kind {
                StepKind::Action {
                    writes, request, ..
                } => *writes || request.is_none(),
                StepKind::Flow(_) | StepKind::Invalid => true,
                StepKind::Select(_) | StepKind::Value => false,
            };
            if !self.read[i]
                && !needed_by_order[i]
                && !self.output_needs.contains(&i)
                && !changes_something
            {
                self.diags.push(
                    Diagnostic::warning(codes::UNUSED_STEP, format!("the result of step `{}` is never used", facts.name.value))
                        .label(facts.name.span, "")
                        .help(format!("read it as `{{{{ steps.{} }}}}` in a later step or the output, or remove the step", facts.name.value)),
                );
            }
        }
    }
}
