//! The one list of template helpers: for each its name, signature, arity, description,
//! example and function. The planner checks helper names against [`HELPERS`] and the registry
//! registers the functions from it. Each function takes and returns JSON values, so
//! `{{ len steps.t.tasks }}` is a number.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use handlebars::{
    Context, Handlebars, HelperDef, RenderContext, RenderError, RenderErrorReason, ScopedJson,
};
use serde_json::Value;

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
}

/// A helper's implementation, opaque outside this module.
#[derive(Clone, Copy)]
pub struct Function(fn(&[Value]) -> Result<Value, String>);

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
    /// How many arguments it takes (checked by validation: [`check_call`]).
    pub arity: Arity,
    /// What it gives, in one line.
    pub description: &'static str,
    /// A short example.
    pub example: &'static str,
    /// Missing arguments are `null` instead of an error (`default`).
    pub lenient: bool,
    /// Sluice's own function or a Handlebars built-in.
    pub kind: HelperKind,
}

const fn function(
    name: &'static str,
    signature: &'static str,
    arity: Arity,
    description: &'static str,
    example: &'static str,
    f: fn(&[Value]) -> Result<Value, String>,
) -> Helper {
    Helper {
        name,
        signature,
        arity,
        description,
        example,
        lenient: false,
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
        lenient: false,
        kind: HelperKind::Builtin,
    }
}

/// Every helper a template may call, Sluice's own first, then Handlebars' built-ins.
pub const HELPERS: &[Helper] = &[
    function(
        "json",
        "json VALUE",
        Arity::exactly(1),
        "the value as JSON text",
        "{{ json steps.contact.contact.tags }}",
        json,
    ),
    Helper {
        lenient: true,
        ..function(
            "default",
            "default VALUE [FALLBACK…]",
            Arity::at_least(1),
            "the first argument that is neither missing, null nor empty text",
            "{{ default steps.contact.contact.phone \"no phone\" }}",
            default,
        )
    },
    function(
        "eq",
        "eq A B",
        Arity::exactly(2),
        "whether A equals B (numbers by value: 3 equals 3.0)",
        "{{ eq inputs.status \"open\" }}",
        eq,
    ),
    function(
        "ne",
        "ne A B",
        Arity::exactly(2),
        "whether A differs from B",
        "{{ ne inputs.status \"closed\" }}",
        ne,
    ),
    function(
        "gt",
        "gt A B",
        Arity::exactly(2),
        "whether A is greater than B (numbers, or text such as RFC 3339 dates)",
        "{{ gt (len steps.tasks.tasks) 0 }}",
        gt,
    ),
    function(
        "gte",
        "gte A B",
        Arity::exactly(2),
        "whether A is greater than or equal to B",
        "{{ gte inputs.count 10 }}",
        gte,
    ),
    function(
        "lt",
        "lt A B",
        Arity::exactly(2),
        "whether A is less than B",
        "{{ lt item.dueDate (now) }}",
        lt,
    ),
    function(
        "lte",
        "lte A B",
        Arity::exactly(2),
        "whether A is less than or equal to B",
        "{{ lte inputs.count 10 }}",
        lte,
    ),
    function(
        "and",
        "and A B…",
        Arity::at_least(2),
        "whether every argument is true (not null, false, 0, empty text or an empty list)",
        "{{ and inputs.vip (gt inputs.count 0) }}",
        and,
    ),
    function(
        "or",
        "or A B…",
        Arity::at_least(2),
        "whether any argument is true",
        "{{ or inputs.vip inputs.staff }}",
        or,
    ),
    function(
        "not",
        "not VALUE",
        Arity::exactly(1),
        "whether the value is false",
        "{{ not item.completed }}",
        not,
    ),
    function(
        "len",
        "len VALUE",
        Arity::exactly(1),
        "the items of a list or map, or the characters of text (0 for null)",
        "{{ len steps.tasks.tasks }}",
        len,
    ),
    function(
        "join",
        "join LIST [SEPARATOR]",
        Arity::between(1, 2),
        "the items as text, separated by SEPARATOR (default `, `)",
        "{{ join steps.contact.contact.tags \", \" }}",
        join,
    ),
    function(
        "lower",
        "lower TEXT",
        Arity::exactly(1),
        "the text in lower case",
        "{{ lower inputs.email }}",
        lower,
    ),
    function(
        "upper",
        "upper TEXT",
        Arity::exactly(1),
        "the text in upper case",
        "{{ upper inputs.country }}",
        upper,
    ),
    function(
        "trim",
        "trim TEXT",
        Arity::exactly(1),
        "the text without spaces around it",
        "{{ trim inputs.name }}",
        trim,
    ),
    function(
        "concat",
        "concat TEXT…",
        Arity::at_least(1),
        "the arguments as text, joined",
        "{{ concat inputs.first \" \" inputs.last }}",
        concat,
    ),
    function(
        "now",
        "now",
        Arity::exactly(0),
        "the current time, RFC 3339 in UTC with milliseconds",
        "{{ now }}",
        now,
    ),
    function(
        "date_add",
        "date_add DATE OFFSET",
        Arity::exactly(2),
        "DATE moved by a duration such as `90m` or `-1d`",
        "{{ date_add (now) \"1d\" }}",
        date_add,
    ),
    function(
        "date_format",
        "date_format DATE [FORMAT] [TIME_ZONE]",
        Arity::between(1, 3),
        "DATE as text in a strftime FORMAT (default `%Y-%m-%d %H:%M`) and an IANA time zone",
        "{{ date_format item.dueDate \"%Y-%m-%d %H:%M\" \"Europe/Berlin\" }}",
        date_format,
    ),
    function(
        "jsonpath",
        "jsonpath VALUE PATH",
        Arity::exactly(2),
        "the nodes an RFC 9535 JSONPath selects from VALUE, as a list",
        "{{ jsonpath steps.tasks.tasks \"$[?@.completed == false]\" }}",
        jsonpath,
    ),
    function(
        "first",
        "first LIST",
        Arity::exactly(1),
        "the first item (null for an empty list)",
        "{{ first steps.notes.notes }}",
        first,
    ),
    function(
        "last",
        "last LIST",
        Arity::exactly(1),
        "the last item (null for an empty list)",
        "{{ last steps.notes.notes }}",
        last,
    ),
    function(
        "contains",
        "contains HAYSTACK NEEDLE",
        Arity::exactly(2),
        "whether a list holds the item, text holds the text, or a map has the key",
        "{{ contains steps.contact.contact.tags \"vip\" }}",
        contains,
    ),
    function(
        "sort_by",
        "sort_by LIST FIELD",
        Arity::exactly(2),
        "the items ordered by a field (numbers by value, items without it last)",
        "{{ sort_by steps.tasks.tasks \"dueDate\" }}",
        sort_by,
    ),
    function(
        "reverse",
        "reverse LIST",
        Arity::exactly(1),
        "the items in reverse order",
        "{{ reverse steps.notes.notes }}",
        reverse,
    ),
    function(
        "take",
        "take LIST N",
        Arity::exactly(2),
        "the first N items",
        "{{ take steps.notes.notes 3 }}",
        take,
    ),
    builtin(
        "if",
        "#if VALUE",
        Arity::exactly(1),
        "the block when VALUE is true, else the `{{else}}` part",
        "{{#if inputs.vip}}VIP{{else}}regular{{/if}}",
    ),
    builtin(
        "unless",
        "#unless VALUE",
        Arity::exactly(1),
        "the block when VALUE is false",
        "{{#unless item.completed}}open{{/unless}}",
    ),
    builtin(
        "each",
        "#each LIST [as |ITEM|]",
        Arity::exactly(1),
        "the block once per item",
        "{{#each steps.notes.notes as |n|}}{{n.body}} {{/each}}",
    ),
    builtin(
        "with",
        "#with VALUE [as |V|]",
        Arity::exactly(1),
        "the block with VALUE as its context",
        "{{#with steps.contact.contact as |c|}}{{c.email}}{{/with}}",
    ),
    builtin(
        "lookup",
        "lookup VALUE KEY",
        Arity::exactly(2),
        "VALUE's field or item KEY",
        "{{ lookup steps.contact.contact inputs.field }}",
    ),
];

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

/// A Sluice helper as Handlebars calls it.
struct Registered {
    name: &'static str,
    f: fn(&[Value]) -> Result<Value, String>,
    lenient: bool,
}

impl HelperDef for Registered {
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
        (self.f)(&args).map(ScopedJson::Derived).map_err(|message| {
            RenderErrorReason::NestedError(Box::new(HelperFailed {
                name: self.name,
                message,
            }))
            .into()
        })
    }
}

/// What `validate` can see wrong in a call of helper `name` whose positional arguments are
/// `args` (`Some(value)` for a literal, `None` for one computed at run time): the wrong number
/// of arguments, or a literal argument the helper refuses at run time — a JSONPath that does
/// not parse, an offset that is not a duration, an unknown time zone. `None`: nothing wrong can
/// be seen before a run (or the helper is not Sluice's own).
#[must_use]
pub fn check_call(name: &str, args: &[Option<Value>]) -> Option<String> {
    let helper = find(name)?;
    let HelperKind::Function(_) = helper.kind else {
        return None;
    };
    let arity = helper.arity;
    let n = args.len();
    if n < arity.min || arity.max.is_some_and(|max| n > max) {
        let count = |k: usize| {
            if k == 1 {
                "1 argument".to_string()
            } else {
                format!("{k} arguments")
            }
        };
        let wants = match arity.max {
            Some(max) if max == arity.min => count(max),
            Some(max) => format!("{} to {}", arity.min, count(max)),
            None => format!("at least {}", count(arity.min)),
        };
        return Some(format!(
            "`{name}` takes {wants}, not {n}: `{}`",
            helper.signature
        ));
    }
    let literal = |i: usize| args.get(i).and_then(Option::as_ref);
    match name {
        "jsonpath" => {
            if let Some(Value::String(path)) = literal(1)
                && let Err(e) = crate::jsonpath::compile(path)
            {
                return Some(format!("`{path}` is not a JSONPath: {e}"));
            }
        }
        "date_add" => {
            if let Some(amount) = literal(1) {
                let amount = text(amount);
                let magnitude = amount.trim().trim_start_matches('-').trim();
                if humantime::parse_duration(magnitude).is_err() {
                    return Some(format!(
                        "`{amount}` is not a duration (write e.g. `90m`, `-1d`, `2h 30m`)"
                    ));
                }
            }
        }
        "date_format" => {
            if let Some(Value::String(tz)) = literal(2)
                && !tz.is_empty()
                && tz != "UTC"
                && tz.parse::<chrono_tz::Tz>().is_err()
            {
                return Some(format!(
                    "`{tz}` is not a time zone (write e.g. `Europe/Berlin`)"
                ));
            }
        }
        _ => {}
    }
    None
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
                    lenient: helper.lenient,
                }),
            );
        }
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

fn eq(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(arg(a, 0)?.eq_loose(arg(a, 1)?)))
}

fn ne(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!arg(a, 0)?.eq_loose(arg(a, 1)?)))
}

fn gt(a: &[Value]) -> Result<Value, String> {
    compare(a, std::cmp::Ordering::is_gt)
}

fn gte(a: &[Value]) -> Result<Value, String> {
    compare(a, std::cmp::Ordering::is_ge)
}

fn lt(a: &[Value]) -> Result<Value, String> {
    compare(a, std::cmp::Ordering::is_lt)
}

fn lte(a: &[Value]) -> Result<Value, String> {
    compare(a, std::cmp::Ordering::is_le)
}

fn and(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!a.is_empty() && a.iter().all(truthy)))
}

fn or(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(a.iter().any(truthy)))
}

fn not(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!truthy(arg(a, 0)?)))
}

fn lower(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(arg(a, 0)?).to_lowercase()))
}

fn upper(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(arg(a, 0)?).to_uppercase()))
}

fn trim(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(arg(a, 0)?).trim().to_string()))
}

fn concat(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(a.iter().map(text).collect()))
}

fn now(_: &[Value]) -> Result<Value, String> {
    Ok(Value::String(
        Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    ))
}

fn first(a: &[Value]) -> Result<Value, String> {
    Ok(as_list(arg(a, 0)?)?.first().cloned().unwrap_or(Value::Null))
}

fn last(a: &[Value]) -> Result<Value, String> {
    Ok(as_list(arg(a, 0)?)?.last().cloned().unwrap_or(Value::Null))
}

fn reverse(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Array(
        as_list(arg(a, 0)?)?.iter().rev().cloned().collect(),
    ))
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
///
/// The order is total whatever the data (numbers before the rest when a list mixes them), as
/// the standard sort requires: a list of numbers and texts must not make it panic.
fn sort_by(a: &[Value]) -> Result<Value, String> {
    use std::cmp::Ordering;
    let field = text(arg(a, 1)?);
    let mut items = as_list(arg(a, 0)?)?.clone();
    items.sort_by(|x, y| match (x.get(&field), y.get(&field)) {
        (Some(Value::Number(m)), Some(Value::Number(n))) => m
            .as_f64()
            .unwrap_or_default()
            .total_cmp(&n.as_f64().unwrap_or_default()),
        (Some(Value::Number(_)), Some(_)) => Ordering::Less,
        (Some(_), Some(Value::Number(_))) => Ordering::Greater,
        (Some(m), Some(n)) => text(m).cmp(&text(n)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
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

/// Reads a date: RFC 3339, `YYYY-MM-DD HH:MM:SS` (GHL appointments), `YYYY-MM-DD`, or epoch
/// milliseconds.
fn parse_date(v: &Value) -> Result<DateTime<Utc>, String> {
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
    let out_of_range = || {
        format!(
            "`{amount}` from {} is outside the dates Sluice can represent",
            date.to_rfc3339_opts(SecondsFormat::Millis, true)
        )
    };
    let d = ChronoDuration::from_std(d).map_err(|_| out_of_range())?;
    let result = if negative {
        date.checked_sub_signed(d)
    } else {
        date.checked_add_signed(d)
    };
    let result = result.ok_or_else(out_of_range)?;
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
    crate::jsonpath::evaluate(&path, doc)
        .map(Value::Array)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::{HELPERS, HelperKind};

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
    fn date_add_out_of_range_is_an_error_not_a_panic() {
        use serde_json::json;
        let Some(helper) = super::find("date_add") else {
            panic!("date_add is in the table");
        };
        let HelperKind::Function(super::Function(f)) = helper.kind else {
            panic!("date_add is a function");
        };
        let err = f(&[json!("2026-01-01T00:00:00Z"), json!("99999999d")])
            .expect_err("99999999 days is past the last date");
        assert!(err.contains("outside the dates"), "{err}");
        assert_eq!(
            f(&[json!("2026-01-01T00:00:00Z"), json!("-1d")]),
            Ok(json!("2025-12-31T00:00:00.000Z"))
        );
    }

    #[test]
    fn sort_by_mixed_numbers_and_texts_is_ordered_numbers_first() {
        use serde_json::json;
        let list = json!([{"a": "1a"}, {"a": 10}, {"a": "b"}, {"a": 2}, {}]);
        assert_eq!(
            super::sort_by(&[list, json!("a")]),
            Ok(json!([{"a": 2}, {"a": 10}, {"a": "1a"}, {"a": "b"}, {}]))
        );
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

    #[test]
    fn every_example_compiles() {
        for h in HELPERS {
            assert!(
                handlebars::Template::compile(h.example).is_ok(),
                "{}",
                h.example
            );
        }
    }
}
