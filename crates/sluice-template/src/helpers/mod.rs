//! The one list of template helpers ([`HELPERS`], in `table.rs`): for each its name, signature,
//! arity, description, example and function, one file per kind (text, patterns, lists, dates,
//! logic). The planner checks calls against the list and the registry registers the functions
//! from it. Each function takes and returns JSON values, so `{{ len steps.t.tasks }}` is a number.

mod args;
mod dates;
mod lists;
mod logic;
mod patterns;
mod table;
mod text;

use handlebars::{
    Context, Handlebars, HelperDef, RenderContext, RenderError, RenderErrorReason, ScopedJson,
};
use serde_json::Value;

pub use patterns::{PATTERN_SIZE_LIMIT, PatternError, compile_pattern};
pub use table::HELPERS;

/// A helper's function: its arguments in, its value or a message out.
type HelperFn = fn(&[Value]) -> Result<Value, String>;

/// How many arguments a helper takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arity {
    /// The fewest.
    pub min: usize,
    /// The most; `None` when any number is taken.
    pub max: Option<usize>,
}

impl Arity {
    const fn exactly(n: usize) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }

    const fn between(min: usize, max: usize) -> Self {
        Self {
            min,
            max: Some(max),
        }
    }

    const fn at_least(min: usize) -> Self {
        Self { min, max: None }
    }

    /// Whether a call with `n` arguments fits.
    #[must_use]
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }

    /// The count in words: `no arguments`, `1 argument`, `1 or 2 arguments`, `at least 2
    /// arguments`.
    #[must_use]
    pub fn describe(&self) -> String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max {
            Some(0) => "no arguments".to_string(),
            Some(max) if max == self.min => format!("{max} {}", plural(max)),
            Some(max) if max == self.min + 1 => {
                format!("{} or {max} {}", self.min, plural(max))
            }
            Some(max) => format!("{} to {max} {}", self.min, plural(max)),
            None => format!("at least {} {}", self.min, plural(self.min)),
        }
    }
}

/// A helper's implementation, opaque outside this module.
#[derive(Clone, Copy)]
pub struct Function(HelperFn);

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Function")
    }
}

/// Where a helper comes from.
#[derive(Clone, Copy, Debug)]
pub enum HelperKind {
    /// One of Sluice's own, registered from this list.
    Function(Function),
    /// One of Handlebars' built-ins (the blocks `if`, `unless`, `each`, `with`, and `lookup`):
    /// Handlebars registers it, the planner accepts it.
    Builtin,
}

/// A template helper.
#[derive(Clone, Copy, Debug)]
pub struct Helper {
    /// Its name, as written in a template.
    pub name: &'static str,
    /// How it is called, for people: `date_add DATE OFFSET`.
    pub signature: &'static str,
    /// How many arguments it takes (`sluice validate` checks every call against it).
    pub arity: Arity,
    /// What it gives, in one line.
    pub description: &'static str,
    /// A short example.
    pub example: &'static str,
    /// Sluice's own function or a Handlebars built-in.
    pub kind: HelperKind,
}

const fn function(
    name: &'static str,
    signature: &'static str,
    arity: Arity,
    description: &'static str,
    example: &'static str,
    f: HelperFn,
) -> Helper {
    Helper {
        name,
        signature,
        arity,
        description,
        example,
        kind: HelperKind::Function(Function(f)),
    }
}

const fn builtin(
    name: &'static str,
    signature: &'static str,
    arity: Arity,
    description: &'static str,
    example: &'static str,
) -> Helper {
    Helper {
        name,
        signature,
        arity,
        description,
        example,
        kind: HelperKind::Builtin,
    }
}

/// The helper of that name.
#[must_use]
pub fn find(name: &str) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.name == name)
}

/// Whether a template may call a helper of that name.
#[must_use]
pub fn is_helper(name: &str) -> bool {
    find(name).is_some()
}

/// Every helper's name, in the list's order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    HELPERS.iter().map(|h| h.name)
}

/// JavaScript-like truth: `null`, `false`, `0`, `""` and `[]` are false.
#[must_use]
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// A helper's failure, carried through Handlebars' render error.
#[derive(Debug)]
pub(crate) struct HelperFailed {
    pub(crate) name: &'static str,
    pub(crate) message: String,
}

impl std::fmt::Display for HelperFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.name, self.message)
    }
}

impl std::error::Error for HelperFailed {}

/// A Sluice helper as Handlebars calls it: a missing argument is `null`.
struct Registered {
    name: &'static str,
    f: HelperFn,
}

impl HelperDef for Registered {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &handlebars::Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let args: Vec<Value> = h.params().iter().map(|p| p.value().clone()).collect();
        (self.f)(&args).map(ScopedJson::Derived).map_err(|message| {
            RenderErrorReason::NestedError(Box::new(HelperFailed {
                name: self.name,
                message,
            }))
            .into()
        })
    }
}

/// Registers Sluice's helpers (Handlebars registers its built-ins itself).
pub(crate) fn register(registry: &mut Handlebars<'_>) {
    for helper in HELPERS {
        if let HelperKind::Function(Function(f)) = helper.kind {
            registry.register_helper(
                helper.name,
                Box::new(Registered {
                    name: helper.name,
                    f,
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Arity, HELPERS, HelperKind};

    /// Values at the edges of what a flow's data may hold.
    fn extreme_values() -> Vec<serde_json::Value> {
        use serde_json::json;
        vec![
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1e308),
            json!(-1e308),
            json!(""),
            json!("-"),
            json!("%"),
            json!("%Y-%m-%d %"),
            json!("99999999d"),
            json!("-99999999d"),
            json!("18446744073709551615s"),
            json!("9999-12-31T23:59:59Z"),
            json!("-262143-01-01T00:00:00Z"),
            json!("+262143-12-31T23:59:59Z"),
            json!("2026-02-30"),
            json!("Mars/Olympus"),
            json!("$[?(@.a"),
            json!("$..*"),
            json!("é".repeat(70)),
            json!([]),
            json!([1, "10", "1a", 2, null, {"a": 1}, [2]]),
            json!([{"a": 2}, {"a": "10"}, {"a": "1a"}, {"a": 10}, {"b": 1}, {"a": null}]),
            json!({}),
            json!({"a": "1a"}),
        ]
    }

    /// Every helper of the table, with every combination of up to three extreme arguments,
    /// returns a value or an error — never a panic.
    #[test]
    fn no_helper_panics_on_extreme_values() {
        let values = extreme_values();
        let mut calls = 0usize;
        for helper in HELPERS {
            let HelperKind::Function(super::Function(f)) = helper.kind else {
                continue;
            };
            let mut arg_lists: Vec<Vec<serde_json::Value>> = vec![vec![]];
            for a in &values {
                arg_lists.push(vec![a.clone()]);
                for b in &values {
                    arg_lists.push(vec![a.clone(), b.clone()]);
                    for c in values.iter().step_by(3) {
                        arg_lists.push(vec![a.clone(), b.clone(), c.clone()]);
                    }
                }
            }
            for args in arg_lists {
                calls += 1;
                let result = std::panic::catch_unwind(|| f(&args));
                assert!(
                    result.is_ok(),
                    "`{}` panicked on {}",
                    helper.name,
                    serde_json::Value::Array(args.clone())
                );
            }
        }
        assert!(calls > 10_000, "only {calls} calls were made");
    }

    #[test]
    fn the_list_is_whole() {
        for (i, h) in HELPERS.iter().enumerate() {
            assert!(
                HELPERS[..i].iter().all(|other| other.name != h.name),
                "`{}` is listed twice",
                h.name
            );
            assert!(
                h.signature.trim_start_matches('#').starts_with(h.name),
                "{}",
                h.signature
            );
            assert!(h.example.contains(h.name), "{}", h.example);
            assert!(
                h.arity.max.is_none_or(|max| max >= h.arity.min),
                "{}",
                h.name
            );
            assert!(!h.description.is_empty(), "{}", h.name);
        }
        let builtins: Vec<&str> = HELPERS
            .iter()
            .filter(|h| matches!(h.kind, HelperKind::Builtin))
            .map(|h| h.name)
            .collect();
        assert_eq!(builtins, ["if", "unless", "each", "with", "lookup"]);
    }

    /// The signature says what the arity says: one word per required argument, one `[…]` per
    /// optional one, `…` when any number is taken.
    #[test]
    fn signatures_agree_with_arities() {
        for h in HELPERS {
            let words: Vec<&str> = h
                .signature
                .split_whitespace()
                .skip(1)
                .take_while(|w| !w.trim_start_matches('[').starts_with("as"))
                .collect();
            let optional = words.iter().filter(|w| w.starts_with('[')).count();
            let required = words.len() - optional;
            let open = h.signature.contains('…');
            assert_eq!(h.arity.min, required, "{}", h.signature);
            if open {
                assert_eq!(h.arity.max, None, "{}", h.signature);
            } else {
                assert_eq!(h.arity.max, Some(words.len()), "{}", h.signature);
            }
        }
    }

    #[test]
    fn every_example_compiles() {
        for h in HELPERS {
            assert!(
                handlebars::Template::compile(&crate::literals::keep_backslashes(h.example))
                    .is_ok(),
                "{}",
                h.example
            );
        }
    }

    #[test]
    fn arities_read_as_words() {
        assert_eq!(Arity::exactly(0).describe(), "no arguments");
        assert_eq!(Arity::exactly(1).describe(), "1 argument");
        assert_eq!(Arity::exactly(2).describe(), "2 arguments");
        assert_eq!(Arity::between(1, 2).describe(), "1 or 2 arguments");
        assert_eq!(Arity::between(1, 3).describe(), "1 to 3 arguments");
        assert_eq!(Arity::at_least(1).describe(), "at least 1 argument");
        assert!(Arity::between(1, 2).accepts(2));
        assert!(!Arity::between(1, 2).accepts(3));
        assert!(!Arity::at_least(1).accepts(0));
        assert!(Arity::at_least(1).accepts(40));
    }
}
