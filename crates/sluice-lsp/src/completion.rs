//! Completion: inside `{{ … }}` the roots (`steps`, `inputs`, the `for_each` item), step names,
//! response fields at any depth, inputs and helpers with their signatures (from the one helper
//! table); outside templates `action:` values, `with:` parameters, `after:` steps, connectors and
//! credentials.

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat,
    MarkupContent, MarkupKind, TextEdit,
};
use sluice_model::Span;
use sluice_template::{HELPERS, HelperKind};

use crate::context::{TemplatePath, cursor};
use crate::flowinfo::{Scope, fields, type_name};
use crate::markdown::{
    action_markdown, helper_markdown, param_kind, param_markdown, step_markdown,
};
use crate::workspace::{Document, Workspace};

/// The completions at byte `offset` of a flow document.
pub(crate) fn complete(ws: &Workspace, doc: &Document, offset: usize) -> Vec<CompletionItem> {
    let Some((flow_doc, _)) = &doc.flow else {
        return Vec::new();
    };
    let at = cursor(doc.text.as_str(), offset);
    let flow = &flow_doc.flow;
    let scope = Scope::at(flow, &ws.catalog, &at.keys);
    let edit =
        |start: usize, end: usize| doc.text.range(Span::new(start, end.saturating_sub(start)));
    if let Some(t) = &at.template {
        let range = edit(t.segment_start, t.segment_start + t.segment.len());
        return template_items(&scope, t)
            .into_iter()
            .map(|item| with_edit(item, range))
            .collect();
    }
    let range = edit(at.word.0, at.word.1);
    let items = match (at.keys.as_slice(), at.at_key) {
        ([.., last], false) if last == "action" => action_items(ws, flow),
        ([first, step, last], true) if first == "steps" && last == "with" => {
            with_items(ws, &scope, step)
        }
        ([first, _, last, ..], _) if first == "steps" && last == "after" => {
            step_items(&scope, false)
        }
        ([first, _, last], false) if first == "connections" && last == "connector" => ws
            .catalog
            .iter()
            .map(|c| {
                item(
                    &c.name.value,
                    CompletionItemKind::MODULE,
                    c.description.clone(),
                    None,
                )
            })
            .collect(),
        ([first, _, last], false) if first == "connections" && last == "credential" => ws
            .project()
            .map(|p| {
                p.credentials
                    .keys()
                    .map(|k| {
                        item(
                            k,
                            CompletionItemKind::VALUE,
                            Some("a credential of sluice.toml".into()),
                            None,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    items.into_iter().map(|i| with_edit(i, range)).collect()
}

fn with_edit(mut item: CompletionItem, range: lsp_types::Range) -> CompletionItem {
    let new_text = item
        .insert_text
        .take()
        .unwrap_or_else(|| item.label.clone());
    item.filter_text = Some(item.label.clone());
    item.text_edit = Some(CompletionTextEdit::Edit(TextEdit::new(range, new_text)));
    item
}

fn item(
    label: &str,
    kind: CompletionItemKind,
    detail: Option<String>,
    docs: Option<String>,
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        documentation: docs.map(|value| {
            Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            })
        }),
        ..CompletionItem::default()
    }
}

/// Completions of a template path.
fn template_items(scope: &Scope<'_>, t: &TemplatePath) -> Vec<CompletionItem> {
    match t.before.as_slice() {
        [] => {
            let mut out = Vec::new();
            if !t.block {
                out.push(item(
                    "steps",
                    CompletionItemKind::MODULE,
                    Some("the results of the flow's steps".into()),
                    None,
                ));
                out.push(item(
                    "inputs",
                    CompletionItemKind::MODULE,
                    Some("the flow's inputs".into()),
                    None,
                ));
                if let Some(name) = scope.item {
                    out.push(item(
                        name,
                        CompletionItemKind::VARIABLE,
                        Some("the current item of `for_each`".into()),
                        None,
                    ));
                }
            }
            if t.head {
                out.extend(helper_items(t.block));
            }
            out
        }
        [root] if root == "steps" => step_items(scope, true),
        [root] if root == "inputs" => scope
            .flow
            .inputs
            .iter()
            .map(|(name, input)| {
                item(
                    &name.value,
                    CompletionItemKind::FIELD,
                    Some(input.kind.as_str().to_string()),
                    input.description.clone(),
                )
            })
            .collect(),
        before => match scope.schema_of(before) {
            Some(schema) => fields(&schema)
                .into_iter()
                .map(|f| {
                    item(
                        &f.name,
                        CompletionItemKind::FIELD,
                        Some(f.kind),
                        f.description,
                    )
                })
                .collect(),
            None => Vec::new(),
        },
    }
}

/// The helpers (only the block helpers after `{{#`), from the one helper table.
fn helper_items(block: bool) -> Vec<CompletionItem> {
    HELPERS
        .iter()
        .filter(|h| {
            !block || (matches!(h.kind, HelperKind::Builtin) && h.signature.starts_with('#'))
        })
        .map(|h| {
            let mut i = item(
                h.name,
                CompletionItemKind::FUNCTION,
                Some(h.signature.to_string()),
                Some(helper_markdown(h)),
            );
            if !block && h.arity.max != Some(0) {
                i.insert_text = Some(format!("{} ", h.name));
            }
            i
        })
        .collect()
}

/// The flow's steps (without the one being written, which cannot read itself), each with
/// what it does.
fn step_items(scope: &Scope<'_>, with_docs: bool) -> Vec<CompletionItem> {
    scope
        .flow
        .steps
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != scope.step)
        .map(|(_, (name, step))| {
            let detail = step
                .action
                .as_ref()
                .map(|a| a.value.clone())
                .or_else(|| step.kinds().first().map(|k| format!("{k} step")));
            let docs = with_docs.then(|| step_markdown(scope, &name.value, step));
            item(&name.value, CompletionItemKind::VARIABLE, detail, docs)
        })
        .collect()
}

/// Every `connection.operation` the flow's connections offer.
fn action_items(ws: &Workspace, flow: &sluice_model::Flow) -> Vec<CompletionItem> {
    let mut out = Vec::new();
    for (conn_name, conn) in &flow.connections {
        let Some(connector) = ws.catalog.get(&conn.connector) else {
            continue;
        };
        for (op_name, op) in &connector.operations {
            let label = format!("{}.{}", conn_name.value, op_name.value);
            let mut i = item(
                &label,
                CompletionItemKind::METHOD,
                Some(format!("{} {}", op.method.as_str(), op.path)),
                Some(action_markdown(&label, &connector.name.value, op)),
            );
            i.deprecated = op.deprecated.then_some(true);
            out.push(i);
        }
    }
    out
}

/// The parameters of the step's action that `with:` does not give yet.
fn with_items(ws: &Workspace, scope: &Scope<'_>, step: &str) -> Vec<CompletionItem> {
    let Some(step) = scope.flow.steps.get(step) else {
        return Vec::new();
    };
    let Some(action) = &step.action else {
        return Vec::new();
    };
    let Some((conn, op_name)) = action.split_once('.') else {
        return Vec::new();
    };
    let Some(op) = scope
        .flow
        .connections
        .get(conn)
        .and_then(|c| ws.catalog.operation(&c.connector, op_name))
    else {
        return Vec::new();
    };
    op.params
        .iter()
        .filter(|(name, _)| !step.with.contains_key(name.as_str()))
        .map(|(name, param)| {
            let mut i = item(
                name,
                CompletionItemKind::PROPERTY,
                Some(format!(
                    "{}{}",
                    type_name(&serde_json::json!({ "type": param_kind(param) })),
                    if param.required { ", required" } else { "" }
                )),
                Some(param_markdown(name, param)),
            );
            i.insert_text = Some(format!("{name}: "));
            i.insert_text_format = Some(InsertTextFormat::PLAIN_TEXT);
            // Required parameters first.
            i.sort_text = Some(format!("{}{name}", if param.required { 0 } else { 1 }));
            i
        })
        .collect()
}
