//! Reading flow and connector files: YAML → spanned tree → typed model, collecting every
//! problem of the file (not only the first) as [`Diagnostic`]s.

use std::collections::HashSet;

use serde::de::DeserializeOwned;

use crate::connector::Connector;
use crate::de::{DeError, from_node};
use crate::diagnostic::{Diagnostic, FileReport};
use crate::flow::{Connection, Flow, FlowDocument, Input, Step, Trigger};
use crate::node::{Limits, Node, NodeKind, YamlError, find_duplicate_keys, parse_yaml};
use crate::span::{Sp, Span};
use crate::suggest::did_you_mean;
use crate::value::{Duration, TemplateValue};

/// A flow file after reading: the flow (when its structure is sound) and what was found.
#[derive(Debug)]
pub struct LoadedFlow {
    /// The flow, when it could be read. Steps with structural errors are left out.
    pub document: Option<FlowDocument>,
    /// Steps left out because they could not be read; later checks ignore references to them.
    pub broken_steps: HashSet<String>,
    /// Top-level sections left out (or partly broken) because they could not be read
    /// (`inputs`, `connections`, ...): later checks do not report what they would have declared.
    pub dropped_sections: HashSet<String>,
    /// The file and its diagnostics so far.
    pub report: FileReport,
}

/// Keys a flow file may have at its top level.
pub const FLOW_KEYS: &[&str] = &[
    "name",
    "description",
    "on",
    "inputs",
    "connections",
    "steps",
    "output",
    "timeout",
    "concurrency",
];

/// Reads a flow from YAML text. `path` is only used in messages.
#[must_use]
pub fn load_flow(path: &str, source: &str, limits: &Limits) -> LoadedFlow {
    let mut report = FileReport::new(path, source);
    let mut broken_steps = HashSet::new();
    let root = match parse_yaml(source, limits) {
        Ok(root) => root,
        Err(e) => {
            report.diagnostics.push(yaml_diagnostic(e));
            return LoadedFlow {
                document: None,
                broken_steps,
                dropped_sections: HashSet::new(),
                report,
            };
        }
    };

    let mut structural = structural_checks(&root, source);
    let unquoted: Vec<Span> = structural
        .iter()
        .filter(|d| d.code == UNQUOTED_TEMPLATE)
        .filter_map(Diagnostic::primary_span)
        .collect();

    let mut dropped_sections = HashSet::new();
    let document = match from_node::<Flow>(&root) {
        Ok(flow) => Some(FlowDocument { flow, root }),
        Err(first) => {
            let mut errors = Vec::new();
            let mut pruned = root.clone();
            probe_flow_sections(
                &root,
                &mut errors,
                &mut pruned,
                &mut broken_steps,
                &mut dropped_sections,
            );
            // The section-by-section errors say it better; keep the first error only when it
            // points somewhere they do not.
            if !errors.iter().any(|e| e.span == first.span) {
                errors.insert(0, first);
            }
            for e in errors {
                let inside_unquoted = e.span.is_some_and(|s| {
                    unquoted
                        .iter()
                        .any(|u| s.offset >= u.offset && s.offset <= u.end())
                });
                if !inside_unquoted {
                    structural.push(de_diagnostic(e));
                }
            }
            // Check what could be read, so one run reports the other problems too.
            from_node::<Flow>(&pruned)
                .ok()
                .map(|flow| FlowDocument { flow, root: pruned })
        }
    };
    report.diagnostics.extend(structural);
    LoadedFlow {
        document,
        broken_steps,
        dropped_sections,
        report,
    }
}

/// A connector file after reading.
#[derive(Debug)]
pub struct LoadedConnector {
    /// The connector, when it could be read.
    pub connector: Option<Connector>,
    /// The file and its diagnostics.
    pub report: FileReport,
}

/// Reads a connector from YAML text.
#[must_use]
pub fn load_connector(path: &str, source: &str, limits: &Limits) -> LoadedConnector {
    match parse_yaml(source, limits) {
        Ok(root) => load_connector_tree(path, source, &root),
        Err(e) => {
            let mut report = FileReport::new(path, source);
            report.diagnostics.push(yaml_diagnostic(e));
            LoadedConnector {
                connector: None,
                report,
            }
        }
    }
}

/// Reads a connector from the node tree of its file `source` (parsed already, or prepared
/// at build time: [`crate::prepared`]).
#[must_use]
pub fn load_connector_tree(path: &str, source: &str, root: &Node) -> LoadedConnector {
    let mut report = FileReport::new(path, source);
    report.diagnostics.extend(structural_checks(root, source));
    let connector = match from_node::<Connector>(root) {
        Ok(c) => Some(c),
        Err(e) => {
            report.diagnostics.push(de_diagnostic(e));
            None
        }
    };
    LoadedConnector { connector, report }
}

const UNQUOTED_TEMPLATE: &str = "sluice::yaml::unquoted_template";

/// Problems visible in the tree itself: duplicate keys, unquoted templates.
fn structural_checks(root: &Node, source: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (first, again) in find_duplicate_keys(root) {
        let name = again
            .as_str()
            .map_or_else(|| "this key".to_string(), |s| format!("`{s}`"));
        out.push(
            Diagnostic::error(
                "sluice::yaml::duplicate_key",
                format!("key {name} is given twice in the same map"),
            )
            .label(again.span, "given again here")
            .label(first.span, "first given here")
            .help("YAML keeps only one of them; remove or rename one"),
        );
    }
    root.walk(&mut |node| {
        if is_unquoted_template(node) {
            out.push(
                Diagnostic::error(UNQUOTED_TEMPLATE, "a `{{ ... }}` template must be quoted")
                    .label(
                        braces_span(source, node.span),
                        "YAML reads this as a map, not as text",
                    )
                    .help("put quotes around the whole value: \"{{ inputs.contactId }}\""),
            );
        }
    });
    out
}

/// From the first `{{` to its `}}` on the same line (or the node's span).
fn braces_span(source: &str, span: Span) -> Span {
    let Some(rest) = source.get(span.offset..) else {
        return span;
    };
    let line = rest.split('\n').next().unwrap_or_default();
    match line.find("}}") {
        Some(end) => Span::new(span.offset, end + 2),
        None => span,
    }
}

/// `{{ a.b }}` written without quotes parses as a flow map whose only key is a map.
fn is_unquoted_template(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Map(entries) if entries.len() == 1 => {
            matches!(&entries[0].0.kind, NodeKind::Map(inner) if inner.len() == 1)
                && matches!(entries[0].1.kind, NodeKind::Null)
        }
        _ => false,
    }
}

/// After the first structural error: reads each section (and each step) on its own, so every
/// structural error is reported, and prunes what cannot be read from `pruned`.
fn probe_flow_sections(
    root: &Node,
    errors: &mut Vec<DeError>,
    pruned: &mut Node,
    broken_steps: &mut HashSet<String>,
    dropped_sections: &mut HashSet<String>,
) {
    let Some(entries) = root.as_map() else {
        return;
    };
    let mut drop_keys: HashSet<String> = HashSet::new();
    let mut drop_steps: HashSet<String> = HashSet::new();
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            errors.push(DeError {
                message: "a key of a flow must be a name".into(),
                span: Some(key.span),
                help: None,
                code: "sluice::schema::wrong_type",
            });
            continue;
        };
        let mut section_errors = Vec::new();
        match name {
            "name" => probe::<Sp<String>>(value, &mut section_errors),
            "description" => probe::<Option<String>>(value, &mut section_errors),
            "on" => probe_items::<Sp<Trigger>>(value, &mut section_errors),
            "inputs" => probe_entries::<Input>(value, &mut section_errors, |_| {}),
            "connections" => probe_entries::<Connection>(value, &mut section_errors, |_| {}),
            "steps" => probe_entries::<Step>(value, &mut section_errors, |step| {
                drop_steps.insert(step.to_string());
            }),
            "output" => probe::<TemplateValue>(value, &mut section_errors),
            "timeout" => probe::<Sp<Duration>>(value, &mut section_errors),
            "concurrency" => probe::<Sp<u32>>(value, &mut section_errors),
            other => {
                let help = did_you_mean(other, FLOW_KEYS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
                section_errors.push(DeError {
                    message: format!("unknown key `{other}`"),
                    span: Some(key.span),
                    help: help.or_else(|| {
                        Some(format!(
                            "the keys of a flow are: {}",
                            crate::suggest::list_names(FLOW_KEYS.iter().copied())
                        ))
                    }),
                    code: "sluice::schema::unknown_field",
                });
            }
        }
        if !section_errors.is_empty() {
            dropped_sections.insert(name.to_string());
            if name != "steps" {
                drop_keys.insert(name.to_string());
            }
        }
        errors.extend(section_errors);
    }
    if root.get("name").is_none() || root.get("steps").is_none() {
        // `missing field` was the first error; it is already in `errors`.
    }
    errors.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    let mut seen = HashSet::new();
    errors.retain(|e| seen.insert((e.span, e.message.clone())));

    broken_steps.extend(drop_steps.iter().cloned());
    if let NodeKind::Map(entries) = &mut pruned.kind {
        entries.retain(|(k, _)| !k.as_str().is_some_and(|k| drop_keys.contains(k)));
        for (k, v) in entries.iter_mut() {
            if k.as_str() == Some("steps")
                && let NodeKind::Map(steps) = &mut v.kind
            {
                steps.retain(|(s, _)| !s.as_str().is_some_and(|s| drop_steps.contains(s)));
            }
        }
    }
}

fn probe<T: DeserializeOwned>(node: &Node, errors: &mut Vec<DeError>) {
    if let Err(e) = from_node::<T>(node) {
        errors.push(e);
    }
}

fn probe_items<T: DeserializeOwned>(node: &Node, errors: &mut Vec<DeError>) {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().for_each(|item| probe::<T>(item, errors)),
        _ => probe::<Vec<T>>(node, errors),
    }
}

fn probe_entries<T: DeserializeOwned>(
    node: &Node,
    errors: &mut Vec<DeError>,
    mut on_broken: impl FnMut(&str),
) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                let before = errors.len();
                probe::<Sp<String>>(key, errors);
                probe::<T>(value, errors);
                if errors.len() > before {
                    on_broken(key.as_str().unwrap_or_default());
                }
            }
        }
        NodeKind::Seq(_) => errors.push(DeError {
            message: "expected a map of names to settings, found a list".into(),
            span: Some(node.span),
            help: Some("write `name: { ... }` entries, without `- `".into()),
            code: "sluice::schema::wrong_type",
        }),
        _ => probe::<indexmap::IndexMap<String, T>>(node, errors),
    }
}

/// Turns a YAML-level error into a diagnostic.
#[must_use]
pub fn yaml_diagnostic(e: YamlError) -> Diagnostic {
    let d = Diagnostic::error(e.code, e.message).maybe_help(e.help);
    match e.span {
        Some(span) => d.label(span, ""),
        None => d,
    }
}

/// Turns a typed-read error into a diagnostic.
#[must_use]
pub fn de_diagnostic(e: DeError) -> Diagnostic {
    let d = Diagnostic::error(e.code, e.message).maybe_help(e.help);
    match e.span {
        Some(span) => d.label(span, ""),
        None => d,
    }
}

/// Reads any typed value from a tree, as a diagnostic on failure.
///
/// # Errors
/// The located problem.
pub fn read<T: DeserializeOwned>(node: &Node) -> Result<T, Box<Diagnostic>> {
    from_node::<T>(node).map_err(|e| Box::new(de_diagnostic(e)))
}
