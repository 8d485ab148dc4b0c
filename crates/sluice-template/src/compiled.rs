//! Compiled values: a flow's template trees turned, once at plan time, into something that
//! renders without parsing — literals, direct path lookups, or registered Handlebars templates.

use serde_json::Value;
use sluice_model::{Node, NodeKind};

use crate::detect::{self, Piece};
use crate::error::TemplateError;
use crate::registry::Templates;
use crate::scope::Scope;

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
    pub fn compile(node: &Node, templates: &mut Templates) -> Result<Compiled, TemplateError> {
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
                    .collect::<Result<_, TemplateError>>()?,
            ),
            NodeKind::Null | NodeKind::Bool(_) | NodeKind::Number(_) => {
                Compiled::Literal(node.to_json())
            }
        })
    }

    /// Compiles one string.
    ///
    /// # Errors
    /// A template that does not compile.
    pub fn compile_str(text: &str, templates: &mut Templates) -> Result<Compiled, TemplateError> {
        if !detect::is_template(text) {
            return Ok(Compiled::Literal(Value::String(text.to_string())));
        }
        if let Some(inner) = detect::single_expression(text) {
            if let Some(path) = detect::plain_path(inner) {
                return Ok(Compiled::Path(path));
            }
            let name = templates.register(&format!("{{{{json ({inner})}}}}"))?;
            return Ok(Compiled::Typed(name));
        }
        if let Some(pieces) = detect::plain_pieces(text) {
            // Compile it anyway, so a template error is reported the same way.
            templates.register(text)?;
            let parts = pieces
                .into_iter()
                .map(|piece| match piece {
                    Piece::Text(t) => Part::Text(t.to_string()),
                    Piece::Path { segments, .. } => Part::Path(segments),
                })
                .collect();
            return Ok(Compiled::Concat(parts));
        }
        Ok(Compiled::Text(templates.register(text)?))
    }

    /// Evaluates in a scope.
    ///
    /// # Errors
    /// A missing value (naming its path) or a helper failure.
    pub fn eval(&self, scope: &Scope<'_>, templates: &Templates) -> Result<Value, TemplateError> {
        match self {
            Compiled::Literal(v) => Ok(v.clone()),
            Compiled::Path(path) => scope.lookup(path).cloned(),
            Compiled::Typed(name) => {
                let text = templates.render(name, scope)?;
                serde_json::from_str(&text).map_err(|e| TemplateError::NotJson(e.to_string()))
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
    ) -> Result<Value, TemplateError> {
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
    ) -> Result<Value, TemplateError> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(text: &str) -> Compiled {
        Compiled::compile_str(text, &mut Templates::default()).expect("compiles")
    }

    #[test]
    fn each_kind_of_string_compiles_to_its_form() {
        assert!(matches!(
            compile("plain"),
            Compiled::Literal(Value::String(_))
        ));
        assert!(
            matches!(compile("  {{ steps.t.[0].id }} "), Compiled::Path(p) if p == ["steps", "t", "0", "id"])
        );
        assert!(matches!(compile("{{~ inputs.a ~}}"), Compiled::Path(p) if p == ["inputs", "a"]));
        assert!(matches!(compile("{{ len steps.a }}"), Compiled::Typed(_)));
        assert!(matches!(compile("{{ now }}"), Compiled::Typed(_)));
        assert!(matches!(compile("Hi {{ inputs.a }}!"), Compiled::Concat(p) if p.len() == 3));
        assert!(matches!(compile("x {{~ inputs.a }}"), Compiled::Text(_)));
        assert!(matches!(
            compile("{{#if inputs.a}}y{{/if}}"),
            Compiled::Text(_)
        ));
    }

    #[test]
    fn plain_text_renders_as_handlebars_renders_it() {
        let inputs =
            json!({"a": "x", "n": 2, "nul": null, "list": [1], "obj": {"k": 1}, "b": true});
        let flow = json!({"name": "t"});
        let scope = Scope::new(&inputs, &flow, Vec::new());
        for text in [
            // (Not a list: a `Concat` writes `[object]` where Handlebars writes `[1]`; kept as it was.)
            "<{{ inputs.a }}|{{ inputs.n }}|{{ inputs.nul }}|{{ inputs.obj }}|{{ inputs.b }}>",
            "{{ inputs.a }}}",
            "a/{{inputs/a}}/{{ inputs.[a] }}",
        ] {
            let mut templates = Templates::default();
            let plain = Compiled::compile_str(text, &mut templates).expect("compiles");
            assert!(matches!(plain, Compiled::Concat(_)), "{text}");
            let name = templates.register(text).expect("compiles");
            assert_eq!(
                plain.eval(&scope, &templates).ok(),
                templates.render(&name, &scope).ok().map(Value::String),
                "{text}"
            );
        }
    }
}
