//! The markdown that hover shows and completion items carry as documentation: a step, an
//! action with its request, scopes and parameters, a parameter, a helper.

use std::fmt::Write as _;

use sluice_model::Param;
use sluice_model::connector::Operation;
use sluice_model::flow::Step;
use sluice_template::Helper;

use crate::flowinfo::Scope;

/// A step: what it does and its description.
pub(crate) fn step_markdown(scope: &Scope<'_>, name: &str, step: &Step) -> String {
    let mut md = format!("step `{name}`");
    if let Some(action) = &step.action {
        let _ = write!(md, ": calls `{}`", action.value);
        if let Some((conn, op)) = action.split_once('.')
            && let Some(c) = scope.flow.connections.get(conn)
            && let Some(op) = scope.catalog.operation(&c.connector, op)
        {
            let _ = write!(
                md,
                " ({} {}) — {}",
                op.method.as_str(),
                op.path,
                op.description
            );
        }
    } else if let Some(select) = &step.select {
        let _ = write!(md, ": selects `{}`", select.value);
    } else if step.value.is_some() {
        md.push_str(": builds a value");
    } else if let Some(sub) = &step.flow {
        let _ = write!(md, ": runs flow `{}`", sub.value);
    }
    if step.for_each.is_some() {
        md.push_str(", once per item of its `for_each` (its result is a list)");
    }
    if let Some(d) = &step.description {
        let _ = write!(md, "\n\n{d}");
    }
    md
}

/// An action: request, what it does, scopes, whether it writes, and its parameters.
pub(crate) fn action_markdown(action: &str, connector: &str, op: &Operation) -> String {
    let mut md = format!(
        "**{action}** — {}\n\n`{} {}` ({connector})",
        op.description,
        op.method.as_str(),
        op.path
    );
    if op.deprecated {
        md.push_str("\n\n**Deprecated** by the API.");
    }
    if op.is_write() {
        md.push_str("\n\nChanges data (refused on a `read_only` connection).");
    }
    if !op.scopes.is_empty() {
        let scopes: Vec<String> = op.scopes.iter().map(|s| format!("`{s}`")).collect();
        let _ = write!(md, "\n\nScopes: {}", scopes.join(" or "));
    }
    if op.params.is_empty() {
        md.push_str("\n\nNo parameters.");
    } else {
        md.push_str("\n\n| parameter | type | |\n|---|---|---|\n");
        for (name, p) in &op.params {
            let what = p
                .description
                .as_deref()
                .unwrap_or_default()
                .replace('|', "\\|")
                .replace('\n', " ");
            let _ = writeln!(
                md,
                "| `{name}`{} | {} | {what} |",
                if p.required { " (required)" } else { "" },
                param_kind(p)
            );
        }
    }
    md
}

/// A parameter of an action.
pub(crate) fn param_markdown(name: &str, param: &Param) -> String {
    let mut md = format!(
        "`{name}`: {}{}",
        param_kind(param),
        if param.required { ", required" } else { "" }
    );
    if let Some(d) = &param.description {
        let _ = write!(md, "\n\n{d}");
    }
    if let Some(allowed) = &param.allowed {
        let values: Vec<String> = allowed.iter().map(|v| format!("`{v}`")).collect();
        let _ = write!(md, "\n\nOne of: {}", values.join(", "));
    }
    if let Some(default) = &param.default {
        let _ = write!(md, "\n\nDefault: `{default}`");
    }
    md
}

/// A helper: signature, what it gives, an example.
pub(crate) fn helper_markdown(h: &Helper) -> String {
    format!(
        "`{}` — {}\n\n```handlebars\n{}\n```",
        h.signature, h.description, h.example
    )
}

/// A parameter's JSON type name.
pub(crate) fn param_kind(param: &sluice_model::Param) -> &'static str {
    use sluice_model::connector::ParamType;
    match param.kind {
        ParamType::String => "string",
        ParamType::Number => "number",
        ParamType::Integer => "integer",
        ParamType::Boolean => "boolean",
        ParamType::Array => "array",
        ParamType::Object => "object",
        ParamType::Any => "any",
    }
}
