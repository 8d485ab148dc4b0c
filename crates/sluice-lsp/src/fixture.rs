//! A fixture next to its flow: the names a fixture writes that only the flow can confirm —
//! canned answers and expected states by step name, inputs by name — checked (a misspelled
//! step name would never match and the case would call the real API's stand-in instead) and
//! completed.

use std::path::{Path, PathBuf};

use lsp_types::{CompletionItem, CompletionItemKind};
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Diagnostic, Flow, Limits, Node, NodeKind};

use crate::context::cursor;

/// Code of a name the flow does not have.
const UNKNOWN_STEP: &str = "sluice::test::unknown_step";
/// Code of an input the flow does not declare.
const UNKNOWN_INPUT: &str = "sluice::test::unknown_input";

/// The flow file a fixture tests: its `flow:`, else its own name without `.test`.
pub(crate) fn flow_path(fixture: &Path, root: Option<&Node>) -> Option<PathBuf> {
    let dir = fixture.parent()?;
    if let Some(flow) = root.and_then(|r| r.get("flow")).and_then(Node::as_str) {
        return Some(dir.join(flow));
    }
    let name = fixture.file_name()?.to_str()?;
    let (stem, ext) = name
        .strip_suffix(".test.yaml")
        .map(|s| (s, "yaml"))
        .or_else(|| name.strip_suffix(".test.yml").map(|s| (s, "yml")))?;
    Some(dir.join(format!("{stem}.{ext}")))
}

/// The flow of a fixture's text, read from `flow_text`.
pub(crate) fn read_flow(path: &Path, flow_text: &str) -> Option<Flow> {
    sluice_model::load_flow(&path.display().to_string(), flow_text, &Limits::default())
        .document
        .map(|d| d.flow)
}

/// Warnings for the step and input names of `fixture` (its tree) that `flow` does not have.
pub(crate) fn check_names(fixture: &Node, flow: &Flow) -> Vec<Diagnostic> {
    let steps: Vec<&str> = flow.steps.keys().map(|k| k.value.as_str()).collect();
    let inputs: Vec<&str> = flow.inputs.keys().map(|k| k.value.as_str()).collect();
    let mut out = Vec::new();
    let Some(NodeKind::Seq(cases)) = fixture.get("cases").map(|c| &c.kind) else {
        return out;
    };
    for case in cases {
        for key in keys(case.get("responses")) {
            // `METHOD /path` answers a request, not a step.
            if let Some(name) = key.as_str()
                && !name.contains(' ')
            {
                unknown(&mut out, key, name, &steps, UNKNOWN_STEP, "step");
            }
        }
        for key in keys(case.get("expect").and_then(|e| e.get("steps"))) {
            if let Some(name) = key.as_str() {
                unknown(&mut out, key, name, &steps, UNKNOWN_STEP, "step");
            }
        }
        for key in keys(case.get("inputs")) {
            if let Some(name) = key.as_str() {
                unknown(&mut out, key, name, &inputs, UNKNOWN_INPUT, "input");
            }
        }
    }
    out
}

fn keys(map: Option<&Node>) -> impl Iterator<Item = &Node> {
    map.and_then(Node::as_map)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
}

fn unknown(
    out: &mut Vec<Diagnostic>,
    key: &Node,
    name: &str,
    known: &[&str],
    code: &'static str,
    what: &str,
) {
    if known.contains(&name) {
        return;
    }
    let help = match did_you_mean(name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("the flow's {what}s: {}", list_names(known.iter().copied())),
    };
    out.push(
        Diagnostic::warning(code, format!("the flow has no {what} `{name}`"))
            .label(key.span, "")
            .help(help),
    );
}

/// Completions in a fixture: step names under `responses:` and `expect: steps:`, input names
/// under `inputs:`.
/// `flow` reads the fixture's flow, only when a name is being written where one goes.
pub(crate) fn complete(
    text: &str,
    offset: usize,
    flow: impl FnOnce() -> Option<Flow>,
) -> Vec<CompletionItem> {
    let at = cursor(text, offset);
    let wanted = match at.keys.as_slice() {
        [.., last] if last == "responses" || last == "inputs" => true,
        [.., expect, last] => expect == "expect" && last == "steps",
        _ => false,
    };
    if !at.at_key || !wanted {
        return Vec::new();
    }
    let Some(flow) = flow() else {
        return Vec::new();
    };
    let steps = || {
        flow.steps
            .iter()
            .map(|(name, step)| CompletionItem {
                label: name.value.clone(),
                kind: Some(CompletionItemKind::VARIABLE),
                detail: step
                    .action
                    .as_ref()
                    .map(|a| a.value.clone())
                    .or_else(|| step.kinds().first().map(|k| format!("{k} step"))),
                insert_text: Some(format!("{}: ", name.value)),
                ..CompletionItem::default()
            })
            .collect()
    };
    match at.keys.as_slice() {
        [.., last] if last == "responses" => steps(),
        [.., expect, last] if expect == "expect" && last == "steps" => steps(),
        [.., last] if last == "inputs" => flow
            .inputs
            .iter()
            .map(|(name, input)| CompletionItem {
                label: name.value.clone(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(input.kind.as_str().to_string()),
                documentation: input
                    .description
                    .clone()
                    .map(lsp_types::Documentation::String),
                insert_text: Some(format!("{}: ", name.value)),
                ..CompletionItem::default()
            })
            .collect(),
        _ => Vec::new(),
    }
}
