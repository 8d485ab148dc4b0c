//! Hover: an action shows its request, scopes and parameters; a template path shows what it
//! reads (a step, an input, the item, or a response field with its type and description); a
//! helper shows its signature and an example; a `with:` key its parameter; an `after:` entry its
//! step.

use std::fmt::Write as _;

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use sluice_model::Span;

use crate::context::cursor;
use crate::flowinfo::{Scope, description, type_name};
use crate::markdown::{action_markdown, helper_markdown, param_markdown, step_markdown};
use crate::workspace::{Document, Workspace};

/// The hover at byte `offset` of a flow document.
pub(crate) fn hover(ws: &Workspace, doc: &Document, offset: usize) -> Option<Hover> {
    let (flow_doc, _) = doc.flow.as_ref()?;
    let text = doc.text.as_str();
    let at = cursor(text, offset);
    let flow = &flow_doc.flow;
    let scope = Scope::at(flow, &ws.catalog, &at.keys);
    let (markdown, range) = if let Some(t) = &at.template {
        let mut path = t.before.clone();
        path.push(t.segment.clone());
        let range = (t.range.0, t.segment_start + t.segment.len());
        (template_markdown(&scope, &path)?, range)
    } else {
        let word = text.get(at.word.0..at.word.1)?;
        let md = match at.keys.as_slice() {
            [.., last] if last == "action" && !at.at_key => {
                let (conn, op) = word.split_once('.')?;
                let connector = &flow.connections.get(conn)?.connector.value;
                action_markdown(word, connector, ws.catalog.operation(connector, op)?)
            }
            [first, step, last] if first == "steps" && last == "with" && at.at_key => {
                let action = flow.steps.get(step.as_str())?.action.as_ref()?;
                let (conn, op) = action.split_once('.')?;
                let connector = &flow.connections.get(conn)?.connector.value;
                let param = ws.catalog.operation(connector, op)?.params.get(word)?;
                param_markdown(word, param)
            }
            [first, _, last, ..] if first == "steps" && last == "after" => {
                step_markdown(&scope, word, flow.steps.get(word)?)
            }
            _ => return None,
        };
        (md, at.word)
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: markdown,
        }),
        range: Some(
            doc.text
                .range(Span::new(range.0, range.1.saturating_sub(range.0))),
        ),
    })
}

/// What a template path (up to the segment under the cursor) reads.
fn template_markdown(scope: &Scope<'_>, path: &[String]) -> Option<String> {
    let joined = path.join(".");
    match path {
        [one] if one == "steps" => {
            Some("`steps` — the results of this flow's steps, by name".into())
        }
        [one] if one == "inputs" => Some("`inputs` — the values the flow was started with".into()),
        [one] if Some(one.as_str()) == scope.item => {
            let step = scope.current_step()?;
            let list = step
                .for_each
                .as_ref()
                .and_then(|v| v.0.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut md = format!("`{one}` — the current item of `for_each: {list}`");
            if let Some(schema) = scope.schema_of(path) {
                let _ = write!(md, "\n\n{}", type_name(&schema));
            }
            Some(md)
        }
        [one] => sluice_template::helpers::find(one).map(helper_markdown),
        [root, name] if root == "steps" => {
            let step = scope.flow.steps.get(name.as_str())?;
            Some(step_markdown(scope, name, step))
        }
        [root, name] if root == "inputs" => {
            let input = scope.flow.inputs.get(name.as_str())?;
            let required = input.required.unwrap_or(input.default.is_none());
            let mut md = format!("`inputs.{name}`: {}", input.kind.as_str());
            if let Some(d) = &input.description {
                let _ = write!(md, " — {d}");
            }
            md.push_str(if required {
                "\n\nrequired"
            } else {
                "\n\noptional"
            });
            if let Some(default) = &input.default {
                let _ = write!(md, ", default `{default}`");
            }
            Some(md)
        }
        _ => {
            let schema = scope.schema_of(path)?;
            let mut md = format!("`{joined}`: {}", type_name(&schema));
            if let Some(d) = description(&schema) {
                let _ = write!(md, "\n\n{d}");
            }
            Some(md)
        }
    }
}
