//! Compiled values: a flow's template trees turned, once at plan time, into something that
//! renders without parsing — literals, direct path lookups, or registered Handlebars templates.

use serde_json::Value;
use sluice_model::{Node, NodeKind};

use crate::error::StepError;
use crate::scope::Scope;
use crate::templates::Templates;

/// A piece of a [`Compiled::Concat`].
#[derive(Clone, Debug)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// A path whose value is written as text.
    Path(Vec<String>),
}

/// A value of a flow, ready to evaluate.
#[derive(Clone, Debug)]
pub enum Compiled {
    /// Written as is.
    Literal(Value),
    /// Exactly `{{ a.b.c }}`: looked up directly, keeps its JSON type.
    Path(Vec<String>),
    /// Exactly one helper expression, e.g. `{{ len steps.t.tasks }}`: rendered through the
    /// registered template `{{json (…)}}` and parsed back, so it keeps its JSON type.
    Typed(String),
    /// Text mixed with templates: always a string.
    Text(String),
    /// Text mixed only with plain paths (`"{{ a.b }} {{ c }}"`): joined from direct lookups,
    /// without building a Handlebars context.
    Concat(Vec<Part>),
    /// A list of values.
    Array(Vec<Compiled>),
    /// A map of values.
    Object(Vec<(String, Compiled)>),
}

impl Compiled {
    /// Compiles a value tree of the flow, registering its templates in `templates`.
    ///
    /// # Errors
    /// A template that does not compile (validation reports these first).
    pub fn compile(node: &Node, templates: &mut Templates) -> Result<Compiled, String> {
        Ok(match &node.kind {
            NodeKind::Str(s) => Self::compile_str(s, templates)?,
            NodeKind::Seq(items) => Compiled::Array(
                items
                    .iter()
                    .map(|n| Self::compile(n, templates))
                    .collect::<Result<_, _>>()?,
            ),
            NodeKind::Map(entries) => Compiled::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k
                            .as_str()
                            .map_or_else(|| k.to_json().to_string(), str::to_string);
                        Ok((key, Self::compile(v, templates)?))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            _ => {
                let json = node.to_json();
                if contains_template(&json) {
                    return Self::compile(node, templates);
                }
                Compiled::Literal(json)
            }
        })
    }

    /// Compiles one string.
    ///
    /// # Errors
    /// A template that does not compile.
    pub fn compile_str(text: &str, templates: &mut Templates) -> Result<Compiled, String> {
        if !text.contains("{{") {
            return Ok(Compiled::Literal(Value::String(text.to_string())));
        }
        if let Some(inner) = single_expression(text) {
            if let Some(path) = simple_path(inner) {
                return Ok(Compiled::Path(path));
            }
            let name = templates.register(&format!("{{{{json ({inner})}}}}"))?;
            return Ok(Compiled::Typed(name));
        }
        if let Some(parts) = plain_parts(text) {
            // Compile it anyway, so a template error is reported the same way.
            templates.register(text)?;
            return Ok(Compiled::Concat(parts));
        }
        Ok(Compiled::Text(templates.register(text)?))
    }

    /// Evaluates in a scope.
    ///
    /// # Errors
    /// A missing value (naming its path) or a helper failure.
    pub fn eval(&self, scope: &Scope<'_>, templates: &Templates) -> Result<Value, StepError> {
        match self {
            Compiled::Literal(v) => Ok(v.clone()),
            Compiled::Path(path) => scope.lookup(path).cloned(),
            Compiled::Typed(name) => {
                let text = templates.render(name, scope)?;
                serde_json::from_str(&text)
                    .map_err(|e| StepError::template(format!("a helper gave no JSON value: {e}")))
            }
            Compiled::Text(name) => templates.render(name, scope).map(Value::String),
            Compiled::Concat(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Path(p) => match scope.lookup(p)? {
                            Value::String(s) => out.push_str(s),
                            Value::Null => {}
                            // As Handlebars writes them.
                            Value::Array(_) | Value::Object(_) => out.push_str("[object]"),
                            other => out.push_str(&other.to_string()),
                        },
                    }
                }
                Ok(Value::String(out))
            }
            Compiled::Array(items) => items
                .iter()
                .map(|c| c.eval(scope, templates))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Compiled::Object(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (k, c) in entries {
                    map.insert(k.clone(), c.eval(scope, templates)?);
                }
                Ok(Value::Object(map))
            }
        }
    }

    /// Evaluates like [`eval`](Self::eval), but moves step results out of the scope instead of
    /// copying them where that is safe: a path no other path of this value overlaps, of a
    /// result the scope holds alone. Values needing Handlebars are evaluated normally.
    ///
    /// # Errors
    /// As [`eval`](Self::eval).
    pub fn eval_moving(
        &self,
        scope: &mut Scope<'_>,
        templates: &Templates,
    ) -> Result<Value, StepError> {
        if self.needs_context() {
            return self.eval(scope, templates);
        }
        let mut paths = Vec::new();
        self.collect_paths(&mut paths);
        self.eval_moving_inner(scope, templates, &paths)
    }

    fn collect_paths<'s>(&'s self, out: &mut Vec<&'s [String]>) {
        match self {
            Compiled::Path(p) => out.push(p),
            Compiled::Concat(parts) => out.extend(parts.iter().filter_map(|p| match p {
                Part::Path(p) => Some(p.as_slice()),
                Part::Text(_) => None,
            })),
            Compiled::Array(items) => items.iter().for_each(|c| c.collect_paths(out)),
            Compiled::Object(entries) => entries.iter().for_each(|(_, c)| c.collect_paths(out)),
            Compiled::Literal(_) | Compiled::Typed(_) | Compiled::Text(_) => {}
        }
    }

    fn eval_moving_inner(
        &self,
        scope: &mut Scope<'_>,
        templates: &Templates,
        paths: &[&[String]],
    ) -> Result<Value, StepError> {
        match self {
            Compiled::Path(p) => {
                let overlapping = paths
                    .iter()
                    .filter(|q| q.starts_with(p) || p.starts_with(q))
                    .count();
                if overlapping == 1
                    && let Some(v) = scope.take_step_path(p)
                {
                    return Ok(v);
                }
                self.eval(scope, templates)
            }
            Compiled::Array(items) => items
                .iter()
                .map(|c| c.eval_moving_inner(scope, templates, paths))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Compiled::Object(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (k, c) in entries {
                    map.insert(k.clone(), c.eval_moving_inner(scope, templates, paths)?);
                }
                Ok(Value::Object(map))
            }
            other => other.eval(scope, templates),
        }
    }

    /// Whether evaluating this needs a Handlebars context (not only direct lookups).
    #[must_use]
    pub fn needs_context(&self) -> bool {
        match self {
            Compiled::Literal(_) | Compiled::Path(_) | Compiled::Concat(_) => false,
            Compiled::Typed(_) | Compiled::Text(_) => true,
            Compiled::Array(items) => items.iter().any(Compiled::needs_context),
            Compiled::Object(entries) => entries.iter().any(|(_, c)| c.needs_context()),
        }
    }
}

/// Splits text into literal parts and plain `{{ path }}` parts; `None` when any expression is
/// more than a plain path (a helper, a block, a comment) or the text has escapes.
fn plain_parts(text: &str) -> Option<Vec<Part>> {
    if text.contains('\\') {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let inner = after[..close]
            .trim_start_matches('~')
            .trim_end_matches('~')
            .trim();
        if inner.starts_with(['#', '/', '!', '>', '^', '{', '&', '@']) {
            return None;
        }
        parts.push(Part::Path(simple_path(inner)?));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Some(parts)
}

fn contains_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(contains_template),
        Value::Object(o) => o.values().any(contains_template),
        _ => false,
    }
}

/// The inside of a string that is exactly one `{{ … }}` (not a block, not a comment).
fn single_expression(text: &str) -> Option<&str> {
    let t = text.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('~').trim_end_matches('~').trim();
    if inner.is_empty()
        || inner.contains("{{")
        || inner.contains("}}")
        || inner.starts_with(['#', '/', '!', '>', '^', '{', '&'])
    {
        return None;
    }
    Some(inner)
}

/// `a.b.[0].c` → `["a","b","0","c"]` when the expression is a plain path (no helper call).
fn simple_path(expr: &str) -> Option<Vec<String>> {
    if expr.contains(char::is_whitespace)
        || expr.contains('(')
        || expr.contains('"')
        || expr.contains('\'')
        || expr.starts_with('@')
        || expr.starts_with("this")
        || expr.starts_with("..")
    {
        return None;
    }
    let mut segments = Vec::new();
    let mut rest = expr;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            segments.push(r[..end].to_string());
            rest = &r[end + 1..];
        } else {
            let end = rest.find(['.', '/', '[']).unwrap_or(rest.len());
            if end > 0 {
                segments.push(rest[..end].to_string());
            }
            rest = &rest[end..];
        }
        rest = rest
            .strip_prefix('.')
            .or_else(|| rest.strip_prefix('/'))
            .unwrap_or(rest);
    }
    // A lone name may be a helper without arguments (`{{ now }}`).
    if segments.len() == 1 && crate::helpers::NAMES.contains(&segments[0].as_str()) {
        return None;
    }
    (!segments.is_empty()).then_some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_like_handlebars() {
        assert_eq!(
            simple_path("steps.a.b"),
            Some(vec!["steps".into(), "a".into(), "b".into()])
        );
        assert_eq!(
            simple_path("steps.t.[0].id"),
            Some(vec!["steps".into(), "t".into(), "0".into(), "id".into()])
        );
        assert_eq!(simple_path("len steps.a"), None);
        assert_eq!(simple_path("now"), None);
        assert_eq!(single_expression("  {{ steps.a }} "), Some("steps.a"));
        assert_eq!(single_expression("a {{ steps.a }}"), None);
        assert_eq!(single_expression("{{ a }} {{ b }}"), None);
    }
}
