//! Template helpers: `json`, `default`, comparisons, logic, `len`, `join`, text, dates and
//! `jsonpath`. Each takes and returns JSON values, so `{{ len steps.t.tasks }}` is a number.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use handlebars::{
    Context, Handlebars, HelperDef, RenderContext, RenderError, RenderErrorReason, ScopedJson,
};
use serde_json::Value;

/// The helper names (besides Handlebars' `if`, `unless`, `each`, `with`, `lookup`).
pub const NAMES: &[&str] = &[
    "json",
    "default",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "join",
    "lower",
    "upper",
    "trim",
    "concat",
    "now",
    "date_add",
    "date_format",
    "jsonpath",
    "first",
    "last",
    "contains",
    "sort_by",
    "reverse",
    "take",
];

type HelperFn = fn(&[Value]) -> Result<Value, String>;

struct Helper {
    name: &'static str,
    f: HelperFn,
    /// Missing arguments are `null` instead of an error (`default`).
    lenient: bool,
}

#[derive(Debug)]
struct HelperFailed(String);

impl std::fmt::Display for HelperFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelperFailed {}

impl HelperDef for Helper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &handlebars::Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let mut args = Vec::with_capacity(h.params().len());
        for p in h.params() {
            if p.is_value_missing() && !self.lenient {
                let path = p.relative_path().cloned().unwrap_or_default();
                return Err(RenderErrorReason::MissingVariable(Some(path)).into());
            }
            args.push(p.value().clone());
        }
        (self.f)(&args).map(ScopedJson::Derived).map_err(|e| {
            RenderErrorReason::NestedError(Box::new(HelperFailed(format!("`{}`: {e}", self.name))))
                .into()
        })
    }
}

/// Registers every helper.
pub fn register(registry: &mut Handlebars<'_>) {
    let helpers: &[(&'static str, HelperFn, bool)] = &[
        ("json", json, false),
        ("default", default, true),
        (
            "eq",
            |a| Ok(Value::Bool(arg(a, 0)?.eq_loose(arg(a, 1)?))),
            false,
        ),
        (
            "ne",
            |a| Ok(Value::Bool(!arg(a, 0)?.eq_loose(arg(a, 1)?))),
            false,
        ),
        ("gt", |a| compare(a, |o| o.is_gt()), false),
        ("gte", |a| compare(a, |o| o.is_ge()), false),
        ("lt", |a| compare(a, |o| o.is_lt()), false),
        ("lte", |a| compare(a, |o| o.is_le()), false),
        (
            "and",
            |a| Ok(Value::Bool(!a.is_empty() && a.iter().all(truthy))),
            false,
        ),
        ("or", |a| Ok(Value::Bool(a.iter().any(truthy))), false),
        ("not", |a| Ok(Value::Bool(!truthy(arg(a, 0)?))), false),
        ("len", len, false),
        ("join", join, false),
        (
            "lower",
            |a| Ok(Value::String(text(arg(a, 0)?).to_lowercase())),
            false,
        ),
        (
            "upper",
            |a| Ok(Value::String(text(arg(a, 0)?).to_uppercase())),
            false,
        ),
        (
            "trim",
            |a| Ok(Value::String(text(arg(a, 0)?).trim().to_string())),
            false,
        ),
        (
            "concat",
            |a| Ok(Value::String(a.iter().map(text).collect())),
            false,
        ),
        (
            "now",
            |_| {
                Ok(Value::String(
                    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                ))
            },
            false,
        ),
        ("date_add", date_add, false),
        ("date_format", date_format, false),
        ("jsonpath", jsonpath, false),
        (
            "first",
            |a| Ok(as_list(arg(a, 0)?)?.first().cloned().unwrap_or(Value::Null)),
            false,
        ),
        (
            "last",
            |a| Ok(as_list(arg(a, 0)?)?.last().cloned().unwrap_or(Value::Null)),
            false,
        ),
        ("contains", contains, false),
        ("sort_by", sort_by, false),
        (
            "reverse",
            |a| {
                Ok(Value::Array(
                    as_list(arg(a, 0)?)?.iter().rev().cloned().collect(),
                ))
            },
            false,
        ),
        ("take", take, false),
    ];
    for &(name, f, lenient) in helpers {
        registry.register_helper(name, Box::new(Helper { name, f, lenient }));
    }
}

trait LooseEq {
    fn eq_loose(&self, other: &Value) -> bool;
}

impl LooseEq for Value {
    fn eq_loose(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => self == other,
        }
    }
}

fn arg(args: &[Value], i: usize) -> Result<&Value, String> {
    args.get(i)
        .ok_or_else(|| format!("argument {} is missing", i + 1))
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

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn as_list(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected a list, found {}", short(v)))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

fn json(a: &[Value]) -> Result<Value, String> {
    serde_json::to_string(arg(a, 0)?)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn default(a: &[Value]) -> Result<Value, String> {
    Ok(a.iter()
        .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .cloned()
        .unwrap_or(Value::Null))
}

fn compare(a: &[Value], ok: fn(std::cmp::Ordering) -> bool) -> Result<Value, String> {
    let (x, y) = (arg(a, 0)?, arg(a, 1)?);
    let ord = match (x, y) {
        (Value::Number(p), Value::Number(q)) => p.as_f64().partial_cmp(&q.as_f64()),
        (Value::String(p), Value::String(q)) => Some(p.cmp(q)),
        _ => None,
    };
    ord.map(|o| Value::Bool(ok(o)))
        .ok_or_else(|| format!("cannot compare {} with {}", short(x), short(y)))
}

fn len(a: &[Value]) -> Result<Value, String> {
    Ok(Value::from(match arg(a, 0)? {
        Value::Array(v) => v.len(),
        Value::Object(m) => m.len(),
        Value::String(s) => s.chars().count(),
        Value::Null => 0,
        other => {
            return Err(format!(
                "`len` needs a list, map or text, found {}",
                short(other)
            ));
        }
    }))
}

fn join(a: &[Value]) -> Result<Value, String> {
    let sep = a.get(1).map_or_else(|| ", ".to_string(), text);
    Ok(Value::String(
        as_list(arg(a, 0)?)?
            .iter()
            .map(text)
            .collect::<Vec<_>>()
            .join(&sep),
    ))
}

/// `sort_by LIST FIELD`: the items ordered by a field (numbers numerically, the rest as text;
/// items without the field last). Stable.
fn sort_by(a: &[Value]) -> Result<Value, String> {
    let field = text(arg(a, 1)?);
    let mut items = as_list(arg(a, 0)?)?.clone();
    items.sort_by(|x, y| {
        let (p, q) = (x.get(&field), y.get(&field));
        match (p, q) {
            (Some(Value::Number(m)), Some(Value::Number(n))) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            (Some(m), Some(n)) => text(m).cmp(&text(n)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
    Ok(Value::Array(items))
}

/// `take LIST N`: the first N items.
fn take(a: &[Value]) -> Result<Value, String> {
    let n = arg(a, 1)?
        .as_u64()
        .ok_or("the count must be a whole number")?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    Ok(Value::Array(
        as_list(arg(a, 0)?)?.iter().take(n).cloned().collect(),
    ))
}

fn contains(a: &[Value]) -> Result<Value, String> {
    let (hay, needle) = (arg(a, 0)?, arg(a, 1)?);
    Ok(Value::Bool(match hay {
        Value::Array(items) => items.iter().any(|i| i.eq_loose(needle)),
        Value::String(s) => s.contains(&text(needle)),
        Value::Object(m) => m.contains_key(&text(needle)),
        _ => false,
    }))
}

/// Reads a date: RFC 3339, `YYYY-MM-DD HH:MM:SS` (GHL appointments), `YYYY-MM-DD`, or epoch milliseconds.
pub fn parse_date(v: &Value) -> Result<DateTime<Utc>, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("{n} is not a time in epoch milliseconds")),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                return Ok(d.with_timezone(&Utc));
            }
            if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
                return Ok(d.and_utc());
            }
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(d
                    .and_hms_opt(0, 0, 0)
                    .map(|d| d.and_utc())
                    .unwrap_or_default());
            }
            Err(format!(
                "`{s}` is not a date (use e.g. 2026-01-02T10:00:00Z)"
            ))
        }
        other => Err(format!("{} is not a date", short(other))),
    }
}

fn date_add(a: &[Value]) -> Result<Value, String> {
    let date = parse_date(arg(a, 0)?)?;
    let amount = text(arg(a, 1)?);
    let (negative, magnitude) = match amount.trim().strip_prefix('-') {
        Some(rest) => (true, rest.trim().to_string()),
        None => (false, amount.trim().to_string()),
    };
    let d = humantime::parse_duration(&magnitude)
        .map_err(|e| format!("`{amount}` is not a duration ({e})"))?;
    let d = ChronoDuration::from_std(d).map_err(|e| e.to_string())?;
    let result = if negative { date - d } else { date + d };
    Ok(Value::String(
        result.to_rfc3339_opts(SecondsFormat::Millis, true),
    ))
}

fn date_format(a: &[Value]) -> Result<Value, String> {
    let date = parse_date(arg(a, 0)?)?;
    let format = a.get(1).map_or_else(|| "%Y-%m-%d %H:%M".to_string(), text);
    let tz = a.get(2).map(text).unwrap_or_default();
    let mut out = String::new();
    let written = if tz.is_empty() || tz == "UTC" {
        write_date(&mut out, date.format(&format))
    } else {
        let zone: chrono_tz::Tz = tz
            .parse()
            .map_err(|_| format!("`{tz}` is not a time zone"))?;
        write_date(&mut out, date.with_timezone(&zone).format(&format))
    };
    written.map_err(|()| format!("`{format}` is not a date format"))?;
    Ok(Value::String(out))
}

fn write_date(out: &mut String, f: impl std::fmt::Display) -> Result<(), ()> {
    use std::fmt::Write;
    write!(out, "{f}").map_err(|_| ())
}

fn jsonpath(a: &[Value]) -> Result<Value, String> {
    let doc = arg(a, 0)?;
    let path = text(arg(a, 1)?);
    crate::select::evaluate(&path, doc)
        .map(Value::Array)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::scope::Scope;
    use crate::templates::Templates;
    use crate::value::Compiled;

    fn eval(text: &str, inputs: Value) -> Result<Value, String> {
        let mut t = Templates::default();
        let c = Compiled::compile_str(text, &mut t)?;
        let flow = json!({"name": "t"});
        let scope = Scope::new(&inputs, &flow, Vec::new());
        c.eval(&scope, &t).map_err(|e| e.message)
    }

    #[test]
    fn helpers_return_typed_values() {
        let i = json!({"n": 3, "list": [1, 2, 3], "name": " Ada ", "missing": null, "due": "2026-01-02T10:00:00Z"});
        assert_eq!(eval("{{ len inputs.list }}", i.clone()), Ok(json!(3)));
        assert_eq!(eval("{{ gt inputs.n 2 }}", i.clone()), Ok(json!(true)));
        assert_eq!(eval("{{ eq inputs.n 3.0 }}", i.clone()), Ok(json!(true)));
        assert_eq!(
            eval("{{ and (gt inputs.n 1) (lt inputs.n 5) }}", i.clone()),
            Ok(json!(true))
        );
        assert_eq!(eval("{{ not inputs.missing }}", i.clone()), Ok(json!(true)));
        assert_eq!(
            eval("{{ default inputs.missing \"x\" }}", i.clone()),
            Ok(json!("x"))
        );
        assert_eq!(
            eval("{{ join inputs.list \"-\" }}", i.clone()),
            Ok(json!("1-2-3"))
        );
        assert_eq!(
            eval("{{ upper (trim inputs.name) }}", i.clone()),
            Ok(json!("ADA"))
        );
        assert_eq!(
            eval("{{ json inputs.list }}", i.clone()),
            Ok(json!("[1,2,3]"))
        );
        assert_eq!(eval("{{ first inputs.list }}", i.clone()), Ok(json!(1)));
        assert_eq!(
            eval("{{ contains inputs.list 2 }}", i.clone()),
            Ok(json!(true))
        );
        assert_eq!(
            eval("{{ jsonpath inputs.list \"$[?@ > 1]\" }}", i.clone()),
            Ok(json!([2, 3]))
        );
        assert_eq!(
            eval("{{ date_add inputs.due \"90m\" }}", i.clone()),
            Ok(json!("2026-01-02T11:30:00.000Z"))
        );
        assert_eq!(
            eval("{{ date_add inputs.due \"-1d\" }}", i.clone()),
            Ok(json!("2026-01-01T10:00:00.000Z"))
        );
        assert_eq!(
            eval(
                "{{ date_format inputs.due \"%Y-%m-%d %H:%M %Z\" \"Europe/Berlin\" }}",
                i.clone()
            ),
            Ok(json!("2026-01-02 11:00 CET"))
        );
        assert_eq!(
            eval("Due {{ date_format inputs.due \"%H:%M\" }}!", i.clone()),
            Ok(json!("Due 10:00!"))
        );
        let now = eval("{{ now }}", i.clone()).expect("now");
        assert!(
            now.as_str()
                .is_some_and(|s| s.ends_with('Z') && s.len() == 24),
            "{now}"
        );
    }

    #[test]
    fn the_planner_knows_every_helper() {
        for name in super::NAMES {
            assert!(
                sluice_plan::template::HELPERS.contains(name),
                "`{name}` is missing from sluice_plan::template::HELPERS"
            );
        }
    }

    #[test]
    fn missing_values_and_bad_arguments_are_clear_errors() {
        let i = json!({"a": {"b": 1}});
        assert_eq!(
            eval("{{ inputs.a.c }}", i.clone()),
            Err("`inputs.a.c` is missing (no such field)".into())
        );
        assert_eq!(
            eval("x {{ inputs.a.c }}", i.clone()),
            Err("`inputs.a.c` is missing (no such field)".into())
        );
        assert_eq!(
            eval("x {{ upper inputs.a.c }}", i.clone()),
            Err("`inputs.a.c` is missing (no such value when the step ran)".into())
        );
        let e = eval("{{ date_add inputs.a \"1h\" }}", i.clone()).expect_err("not a date");
        assert!(
            e.contains("`date_add`") && e.contains("is not a date"),
            "{e}"
        );
        let e = eval("{{ len 5 }}", i).expect_err("len of a number");
        assert!(e.contains("`len` needs a list"), "{e}");
    }
}
