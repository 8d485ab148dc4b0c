//! Action steps: resolving `connection.operation`, the parameters given against those the
//! operation takes (names, required ones, literal types and allowed values), deprecation,
//! read-only connections and credential scopes.

use indexmap::IndexMap;
use serde_json::Value;
use sluice_model::connector::{Operation, ParamType};
use sluice_model::flow::Step;
use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Connection, Diagnostic, Node, Param, Sp, Span, TemplateValue};

use super::{Checker, StepKind};
use crate::codes;
use sluice_template::detect::contains_template;

impl<'a> Checker<'a> {
    /// Resolves `connection.operation`, reporting what is wrong.
    pub(super) fn resolve_action(
        &mut self,
        action: &Sp<String>,
    ) -> Option<(&'a Connection, &'a Operation)> {
        let Some((conn_name, op_name)) = action.split_once('.') else {
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_OPERATION,
                    format!(
                        "`{}` does not name a connection and an operation",
                        action.value
                    ),
                )
                .label(action.span, "")
                .help("write actions as `CONNECTION.OPERATION`, e.g. `ghl.get_contact`"),
            );
            return None;
        };
        let conn_span = Span::new(action.span.offset, conn_name.len());
        let conn_sp = Sp::new(
            conn_name.to_string(),
            if action.span.is_unknown() {
                action.span
            } else {
                conn_span
            },
        );
        if !self.flow.connections.contains_key(conn_name)
            && !self.dropped.contains("connections")
            && let Some(suggestion) = self.similar_action(&action.value, op_name)
        {
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_CONNECTION,
                    format!("connection `{conn_name}` is not defined"),
                )
                .label(conn_sp.span, "")
                .help(format!("did you mean `{suggestion}`?")),
            );
            return None;
        }
        let conn = self.connection(&conn_sp)?;
        let connector = self.ctx.catalog.get(&conn.connector)?;
        let op_span = if action.span.is_unknown() {
            action.span
        } else {
            Span::new(action.span.offset + conn_name.len() + 1, op_name.len())
        };
        if let Some(op) = connector.operation(op_name) {
            return Some((conn, op));
        }
        let names = connector.operations.keys().map(|k| k.value.as_str());
        let help = match did_you_mean(op_name, names.clone()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => match self.operation_elsewhere(conn_name, op_name) {
                Some(help) => help,
                None => format!(
                    "operations of `{}`: {}",
                    connector.name.value,
                    list_names(names)
                ),
            },
        };
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_OPERATION,
                format!(
                    "connector `{}` has no operation `{op_name}`",
                    connector.name.value
                ),
            )
            .label(op_span, "")
            .help(help),
        );
        None
    }

    /// Every `connection.operation` the flow's connections offer.
    fn flow_actions(&self) -> Vec<(String, &'a str)> {
        let mut out = Vec::new();
        for (name, conn) in &self.flow.connections {
            if let Some(connector) = self.ctx.catalog.get(&conn.connector) {
                for op in connector.operations.keys() {
                    out.push((format!("{}.{}", name.value, op.value), op.value.as_str()));
                }
            }
        }
        out
    }

    /// For an action whose connection is not defined: the action of a defined connection it
    /// most likely means — the one connection offering `op_name`, or the closest spelling.
    fn similar_action(&self, action: &str, op_name: &str) -> Option<String> {
        let actions = self.flow_actions();
        let exact: Vec<&String> = actions
            .iter()
            .filter(|(_, op)| *op == op_name)
            .map(|(full, _)| full)
            .collect();
        if let [only] = exact.as_slice() {
            return Some((*only).clone());
        }
        did_you_mean(action, actions.iter().map(|(full, _)| full.as_str())).map(str::to_string)
    }

    /// For an operation the connection's connector lacks: where it (or its closest spelling)
    /// is — another connection of the flow, or an installed connector no connection uses.
    fn operation_elsewhere(&self, conn_name: &str, op_name: &str) -> Option<String> {
        let others: Vec<(String, &str)> = self
            .flow_actions()
            .into_iter()
            .filter(|(full, _)| full.split_once('.').is_some_and(|(c, _)| c != conn_name))
            .collect();
        let found = others
            .iter()
            .find(|(_, op)| *op == op_name)
            .map(|(full, _)| full.as_str())
            .or_else(|| {
                let ops = others.iter().map(|(_, op)| *op);
                let close = did_you_mean(op_name, ops)?;
                others
                    .iter()
                    .find(|(_, op)| *op == close)
                    .map(|(full, _)| full.as_str())
            });
        if let Some(full) = found {
            let (other, op) = full.split_once('.').unwrap_or((full, ""));
            return Some(format!(
                "did you mean `{full}`? (`{op}` is an operation of connection `{other}`)"
            ));
        }
        let used: Vec<&str> = self
            .flow
            .connections
            .values()
            .map(|c| c.connector.value.as_str())
            .collect();
        let connector = self
            .ctx
            .catalog
            .iter()
            .find(|c| !used.contains(&c.name.as_str()) && c.operation(op_name).is_some())?;
        Some(format!(
            "`{op_name}` is an operation of connector `{name}`, which no connection of this flow \
             uses: add one under `connections:`, e.g. `{name}: {{ connector: {name} }}`, and write \
             `{name}.{op_name}`",
            name = connector.name.value
        ))
    }

    pub(super) fn check_params(
        &mut self,
        action: &Sp<String>,
        op: &Operation,
        given: &[&Sp<String>],
        values: &IndexMap<Sp<String>, TemplateValue>,
    ) {
        for key in given {
            match op.params.get(key.value.as_str()) {
                None => {
                    let names = op.params.keys().map(String::as_str);
                    let help = match did_you_mean(key, names.clone()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("`{}` takes: {}", action.value, list_names(names)),
                    };
                    self.diags.push(
                        Diagnostic::error(
                            codes::UNKNOWN_PARAMETER,
                            format!("`{}` has no parameter `{}`", action.value, key.value),
                        )
                        .label(key.span, "")
                        .help(help),
                    );
                }
                Some(param) => {
                    if let Some(value) = values.get(key.value.as_str()) {
                        self.check_literal_param(key, param, &value.0);
                    }
                }
            }
        }
        let missing: Vec<&str> = op
            .params
            .iter()
            .filter(|(name, p)| p.required && !given.iter().any(|g| g.value == **name))
            .map(|(name, _)| name.as_str())
            .collect();
        for name in missing {
            let what = op.params.get(name).and_then(|p| p.description.clone());
            self.diags.push(
                Diagnostic::error(
                    codes::MISSING_PARAMETER,
                    format!("`{}` needs parameter `{name}`", action.value),
                )
                .label(action.span, "")
                .help(match what {
                    Some(w) => format!("add `{name}:` under `with:` ({w})"),
                    None => format!("add `{name}:` under `with:`"),
                }),
            );
        }
    }

    fn check_literal_param(&mut self, key: &Sp<String>, param: &Param, node: &Node) {
        if contains_template(node) {
            return;
        }
        let value = node.to_json();
        let type_ok = match param.kind {
            ParamType::Any => true,
            ParamType::String => value.is_string() || value.is_number(),
            ParamType::Number => value.is_number(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::Boolean => value.is_boolean(),
            ParamType::Array => value.is_array(),
            ParamType::Object => value.is_object(),
        };
        if !type_ok {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_PARAMETER,
                    format!(
                        "parameter `{}` must be {}, found {}",
                        key.value,
                        type_name(param.kind),
                        node.kind.describe()
                    ),
                )
                .label(node.span, ""),
            );
            return;
        }
        if let Some(allowed) = &param.allowed
            && !allowed.contains(&value)
        {
            let shown: Vec<String> = allowed
                .iter()
                .map(|v| {
                    format!(
                        "`{}`",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    )
                })
                .collect();
            let help = value
                .as_str()
                .and_then(|s| did_you_mean(s, allowed.iter().filter_map(Value::as_str)))
                .map_or_else(
                    || format!("allowed values: {}", shown.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_PARAMETER,
                    format!("{value} is not an allowed value of `{}`", key.value),
                )
                .label(node.span, "")
                .help(help),
            );
        }
    }

    /// `pages:` and `max_items:` need an operation whose connector says how it pages.
    fn check_paging(&mut self, action: &Sp<String>, op: &Operation, step: &Step) {
        let asked = step
            .pages
            .as_ref()
            .map(|p| p.span)
            .or_else(|| step.max_items.as_ref().map(|m| m.span));
        let Some(span) = asked else {
            return;
        };
        match &op.pagination {
            None => self.diags.push(
                Diagnostic::error(
                    codes::NOT_PAGINATED,
                    format!("`{}` does not page: its connector declares no `pagination`", action.value),
                )
                .label(span, "")
                .label(action.span, "this operation answers once")
                .help("remove `pages:`/`max_items:`, or declare `pagination:` for the operation in its connector (docs/connectors.md)"),
            ),
            Some(p) if p.items_path().is_none() => self.diags.push(
                Diagnostic::error(
                    codes::NOT_PAGINATED,
                    format!(
                        "the pagination of `{}` names its items as `{}`, which is not a plain path like `$.contacts`",
                        action.value, p.items
                    ),
                )
                .label(span, ""),
            ),
            Some(_) => {}
        }
    }

    pub(super) fn check_action_step(&mut self, action: &Sp<String>, step: &Step) -> StepKind {
        let (conn_name, op_name) = action.split_once('.').unwrap_or((action.as_str(), ""));
        let mut kind = StepKind::Action {
            connection: conn_name.to_string(),
            operation: op_name.to_string(),
            request: None,
            writes: false,
        };
        let Some((conn, op)) = self.resolve_action(action) else {
            return kind;
        };
        if let StepKind::Action {
            request, writes, ..
        } = &mut kind
        {
            *request = Some((op.method.as_str().to_string(), op.path.clone()));
            *writes = op.is_write();
        }
        let keys: Vec<&Sp<String>> = step.with.keys().collect();
        self.check_params(action, op, &keys, &step.with);
        self.check_paging(action, op, step);
        if op.deprecated {
            self.diags.push(
                Diagnostic::warning(
                    codes::DEPRECATED_OPERATION,
                    format!("`{}` is deprecated by the API", action.value),
                )
                .label(action.span, ""),
            );
        }
        if op.is_write()
            && let Some(ro) = &conn.read_only
            && ro.value
        {
            self.diags.push(
                Diagnostic::error(
                    codes::WRITE_ON_READ_ONLY,
                    format!(
                        "`{}` changes data, but connection `{conn_name}` is read-only",
                        action.value
                    ),
                )
                .label(action.span, "this operation writes")
                .label(ro.span, "read-only set here")
                .help(
                    "remove `read_only: true` from the connection when the flow is ready to write",
                ),
            );
        }
        if let (Some(cred_name), Some(project)) = (&conn.credential, self.ctx.project)
            && let Some(cred) = project.credentials.get(cred_name.value.as_str())
            && let Some(granted) = &cred.scopes
            && !op.scopes.is_empty()
            && !op.scopes.iter().any(|s| granted.contains(s))
        {
            self.diags.push(
                Diagnostic::error(
                    codes::MISSING_SCOPE,
                    format!(
                        "`{}` needs scope `{}`, which credential `{}` does not grant",
                        action.value,
                        op.scopes.join("` or `"),
                        cred_name.value
                    ),
                )
                .label(action.span, "")
                .label(cred_name.span, "credential used here")
                .help(format!(
                    "grant `{}` to the credential (and list it under `scopes` in sluice.toml), or use another operation",
                    op.scopes.first().map_or("", String::as_str)
                )),
            );
        }
        kind
    }
}

fn type_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "text",
        ParamType::Number => "a number",
        ParamType::Integer => "a whole number",
        ParamType::Boolean => "`true` or `false`",
        ParamType::Array => "a list",
        ParamType::Object => "a map",
        ParamType::Any => "anything",
    }
}
