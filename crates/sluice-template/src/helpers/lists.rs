//! List helpers: `len`, `join`, `first`, `last`, `reverse`, `take`, `sort_by`, `flatten`,
//! `unique`, `group_by`, `sum`, `min`, `max`, `count_where`, and `jsonpath`. Items are read by
//! a field name where one is given; an item that is not a map then is an error naming it.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};

use super::args::{arg, as_list, canonical, eq_loose, field, kind, short, text};
use super::dates::text_date;
use super::logic::order;

pub(super) fn len(a: &[Value]) -> Result<Value, String> {
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

pub(super) fn join(a: &[Value]) -> Result<Value, String> {
    let sep = a.get(1).map_or_else(|| ", ".to_string(), text);
    Ok(Value::String(
        as_list(arg(a, 0)?)?
            .iter()
            .map(text)
            .collect::<Vec<_>>()
            .join(&sep),
    ))
}

pub(super) fn first(a: &[Value]) -> Result<Value, String> {
    Ok(as_list(arg(a, 0)?)?.first().cloned().unwrap_or(Value::Null))
}

pub(super) fn last(a: &[Value]) -> Result<Value, String> {
    Ok(as_list(arg(a, 0)?)?.last().cloned().unwrap_or(Value::Null))
}

pub(super) fn reverse(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Array(
        as_list(arg(a, 0)?)?.iter().rev().cloned().collect(),
    ))
}

/// `take LIST N`: the first N items.
pub(super) fn take(a: &[Value]) -> Result<Value, String> {
    let n = arg(a, 1)?
        .as_u64()
        .ok_or("the count must be a whole number")?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    Ok(Value::Array(
        as_list(arg(a, 0)?)?.iter().take(n).cloned().collect(),
    ))
}

/// What `sort_by` orders an item by. Kinds sort in this order (numbers, dates, other text,
/// anything else, no value), so the order is total even when the kinds are mixed.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Number(TotalF64),
    Date(DateTime<Utc>),
    Text(String),
    Other(String),
    Missing,
}

/// An `f64` ordered by `total_cmp` (JSON numbers are never NaN).
#[derive(PartialEq)]
struct TotalF64(f64);

impl Eq for TotalF64 {}

impl PartialOrd for TotalF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TotalF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn sort_key(v: Option<&Value>) -> SortKey {
    match v {
        None | Some(Value::Null) => SortKey::Missing,
        Some(Value::Number(n)) => n.as_f64().map_or_else(
            || SortKey::Other(n.to_string()),
            |f| SortKey::Number(TotalF64(f)),
        ),
        Some(Value::String(s)) => {
            text_date(s).map_or_else(|| SortKey::Text(s.clone()), SortKey::Date)
        }
        Some(other) => SortKey::Other(text(other)),
    }
}

/// `sort_by LIST FIELD`: the items ordered by a field (numbers by value, dates as instants,
/// other text by character; items without it last). Stable.
pub(super) fn sort_by(a: &[Value]) -> Result<Value, String> {
    let name = text(arg(a, 1)?);
    let mut items = as_list(arg(a, 0)?)?.clone();
    items.sort_by_cached_key(|item| sort_key(item.get(&name)));
    Ok(Value::Array(items))
}

/// `flatten LIST`: items that are lists replaced by their items (one level).
pub(super) fn flatten(a: &[Value]) -> Result<Value, String> {
    let mut out = Vec::new();
    for item in as_list(arg(a, 0)?)? {
        match item {
            Value::Array(inner) => out.extend(inner.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    Ok(Value::Array(out))
}

/// The values a list gives: its items, or each item's FIELD (argument `at`) when one is given
/// (`None` where an item has no such field).
fn values(a: &[Value], at: usize) -> Result<Vec<Option<&Value>>, String> {
    let items = as_list(arg(a, 0)?)?;
    match a.get(at) {
        None => Ok(items.iter().map(Some).collect()),
        Some(name) => {
            let name = text(name);
            items
                .iter()
                .enumerate()
                .map(|(i, item)| field(item, &name, i))
                .collect()
        }
    }
}

/// `unique LIST [FIELD]`: the items without repeats (as `eq` compares), or the first item of
/// each value of FIELD; order kept.
pub(super) fn unique(a: &[Value]) -> Result<Value, String> {
    let items = as_list(arg(a, 0)?)?;
    let keys = values(a, 1)?;
    let mut seen = HashSet::new();
    Ok(Value::Array(
        items
            .iter()
            .zip(keys)
            .filter(|(_, key)| seen.insert(canonical(key.unwrap_or(&Value::Null))))
            .map(|(item, _)| item.clone())
            .collect(),
    ))
}

/// `group_by LIST FIELD`: a map from each value of FIELD (as text; `""` for items without it)
/// to the items that have it, in the order first seen.
pub(super) fn group_by(a: &[Value]) -> Result<Value, String> {
    let items = as_list(arg(a, 0)?)?;
    arg(a, 1)?;
    let keys = values(a, 1)?;
    let mut groups: Map<String, Value> = Map::new();
    for (item, key) in items.iter().zip(keys) {
        let key = key.map(text).unwrap_or_default();
        match groups.get_mut(&key) {
            Some(Value::Array(group)) => group.push(item.clone()),
            _ => {
                groups.insert(key, Value::Array(vec![item.clone()]));
            }
        }
    }
    Ok(Value::Object(groups))
}

/// A number to add: a JSON number, or text that reads as a (finite) number.
enum Addend {
    Int(i64),
    Float(f64),
}

fn addend(v: &Value, index: usize) -> Result<Addend, String> {
    let not_a_number = || {
        format!(
            "item {} is {} {}, not a number",
            index + 1,
            kind(v),
            short(v)
        )
    };
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Addend::Int)
            .or_else(|| n.as_f64().map(Addend::Float))
            .ok_or_else(not_a_number),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                return Ok(Addend::Int(i));
            }
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Addend::Float)
                .ok_or_else(not_a_number)
        }
        _ => Err(not_a_number()),
    }
}

/// `sum LIST [FIELD]`: the numbers added up (text that reads as a number counts; `null` and
/// missing fields are skipped); 0 for an empty list. Whole numbers stay whole.
pub(super) fn sum(a: &[Value]) -> Result<Value, String> {
    let mut whole: Option<i64> = Some(0);
    let mut float = 0.0_f64;
    for (i, v) in values(a, 1)?.into_iter().enumerate() {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            continue;
        };
        match addend(v, i)? {
            Addend::Int(n) => {
                whole = whole.and_then(|w| w.checked_add(n));
                float += n as f64;
            }
            Addend::Float(f) => {
                whole = None;
                float += f;
            }
        }
    }
    match whole {
        Some(w) => Ok(Value::from(w)),
        None => Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| "the sum is too large".to_string()),
    }
}

/// `min LIST [FIELD]` / `max LIST [FIELD]`: the smallest or largest value (numbers by value,
/// dates as instants, text by character; `null` and missing fields skipped); `null` when there
/// is none.
fn extreme(a: &[Value], want: Ordering) -> Result<Value, String> {
    let mut best: Option<(usize, &Value)> = None;
    for (i, v) in values(a, 1)?.into_iter().enumerate() {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            continue;
        };
        match best {
            None => best = Some((i, v)),
            Some((j, b)) => match order(v, b) {
                Some(o) if o == want => best = Some((i, v)),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "item {} ({}) and item {} ({}) cannot be compared",
                        j + 1,
                        short(b),
                        i + 1,
                        short(v)
                    ));
                }
            },
        }
    }
    Ok(best.map_or(Value::Null, |(_, v)| v.clone()))
}

pub(super) fn min(a: &[Value]) -> Result<Value, String> {
    extreme(a, Ordering::Less)
}

pub(super) fn max(a: &[Value]) -> Result<Value, String> {
    extreme(a, Ordering::Greater)
}

/// `count_where LIST FIELD VALUE`: how many items have FIELD equal to VALUE (as `eq`
/// compares; a missing field is `null`).
pub(super) fn count_where(a: &[Value]) -> Result<Value, String> {
    let wanted = arg(a, 2)?;
    arg(a, 1)?;
    let count = values(a, 1)?
        .into_iter()
        .filter(|v| eq_loose(v.unwrap_or(&Value::Null), wanted))
        .count();
    Ok(Value::from(count))
}

pub(super) fn jsonpath(a: &[Value]) -> Result<Value, String> {
    let doc = arg(a, 0)?;
    let path = text(arg(a, 1)?);
    crate::jsonpath::evaluate(&path, doc)
        .map(Value::Array)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tasks() -> Value {
        json!([
            {"title": "Call", "assignedTo": "ann", "hours": 2, "dueDate": "2026-03-02T10:00:00+02:00", "done": false},
            {"title": "Mail", "assignedTo": "bob", "hours": 1.5, "dueDate": "2026-03-02T09:00:00Z", "done": true},
            {"title": "Visit", "assignedTo": "ann", "hours": "3", "dueDate": "2026-03-01", "done": false},
            {"title": "Note", "dueDate": null, "done": false}
        ])
    }

    #[test]
    fn flatten_takes_one_level() {
        assert_eq!(
            flatten(&[json!([[1, 2], 3, [], [[4]]])]),
            Ok(json!([1, 2, 3, [4]]))
        );
        assert!(flatten(&[json!("x")]).is_err());
    }

    #[test]
    fn unique_keeps_first_occurrences() {
        assert_eq!(
            unique(&[json!([1, "1", 1.0, {"a": 1}, {"a": 1}, null, null])]),
            Ok(json!([1, "1", {"a": 1}, null]))
        );
        let by_person = unique(&[tasks(), json!("assignedTo")]).expect("unique");
        let titles: Vec<&str> = by_person
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["title"].as_str())
            .collect();
        assert_eq!(titles, ["Call", "Mail", "Note"]);
        assert_eq!(
            unique(&[json!([{"a": 1}, 2]), json!("a")]),
            Err("item 2 is a number 2, so it has no field `a`".to_string())
        );
    }

    #[test]
    fn group_by_makes_a_map_of_lists() {
        let groups = group_by(&[tasks(), json!("assignedTo")]).expect("groups");
        let keys: Vec<&String> = groups
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .collect();
        assert_eq!(keys, ["ann", "bob", ""]);
        assert_eq!(groups["ann"].as_array().map(Vec::len), Some(2));
        assert_eq!(groups[""][0]["title"], json!("Note"));
        assert_eq!(
            group_by(&[json!([{"done": true}, {"done": false}]), json!("done")])
                .map(|g| g["true"].clone()),
            Ok(json!([{"done": true}]))
        );
        assert_eq!(
            group_by(&[json!([{"n": 1}, {"n": 1.0}]), json!("n")])
                .map(|g| g.as_object().map(Map::len)),
            Ok(Some(2))
        );
        assert!(group_by(&[json!([{"a": 1}, "x"]), json!("a")]).is_err());
        assert!(group_by(&[tasks()]).is_err());
    }

    #[test]
    fn sum_adds_numbers_and_numeric_text() {
        assert_eq!(sum(&[json!([1, 2, 3])]), Ok(json!(6)));
        assert_eq!(sum(&[json!([])]), Ok(json!(0)));
        assert_eq!(sum(&[tasks(), json!("hours")]), Ok(json!(6.5)));
        assert_eq!(sum(&[json!([1, null, " 2 "])]), Ok(json!(3)));
        assert_eq!(
            sum(&[json!([i64::MAX, 1])]),
            Ok(json!(9.223_372_036_854_776e18))
        );
        assert_eq!(
            sum(&[json!([1.0e308, 1.0e308])]),
            Err("the sum is too large".to_string())
        );
        assert_eq!(
            sum(&[json!([1, "two"])]),
            Err("item 2 is text \"two\", not a number".to_string())
        );
        assert!(sum(&[json!(["inf"])]).is_err());
        assert!(sum(&[json!([[1]])]).is_err());
        assert!(sum(&[json!(3)]).is_err());
    }

    #[test]
    fn min_and_max_compare_numbers_dates_and_text() {
        assert_eq!(max(&[json!([3, 10.5, -1])]), Ok(json!(10.5)));
        assert_eq!(min(&[json!([3, 10.5, -1])]), Ok(json!(-1)));
        assert_eq!(min(&[json!([])]), Ok(json!(null)));
        // 10:00+02:00 is 08:00Z: the earliest full timestamp, although its text sorts last.
        assert_eq!(
            max(&[tasks(), json!("dueDate")]),
            Ok(json!("2026-03-02T09:00:00Z"))
        );
        assert_eq!(
            min(&[json!(["2026-03-02T10:00:00+02:00", "2026-03-02T09:00:00Z"])]),
            Ok(json!("2026-03-02T10:00:00+02:00"))
        );
        assert_eq!(min(&[json!(["pear", "apple"])]), Ok(json!("apple")));
        assert_eq!(
            max(&[json!([1, "a"])]),
            Err("item 1 (1) and item 2 (\"a\") cannot be compared".to_string())
        );
    }

    #[test]
    fn count_where_counts_equal_fields() {
        assert_eq!(
            count_where(&[tasks(), json!("done"), json!(false)]),
            Ok(json!(3))
        );
        assert_eq!(
            count_where(&[tasks(), json!("assignedTo"), json!("ann")]),
            Ok(json!(2))
        );
        assert_eq!(
            count_where(&[tasks(), json!("assignedTo"), json!(null)]),
            Ok(json!(1))
        );
        assert_eq!(
            count_where(&[json!([{"n": 2}]), json!("n"), json!(2.0)]),
            Ok(json!(1))
        );
        assert!(count_where(&[tasks(), json!("done")]).is_err());
        assert!(count_where(&[json!([1]), json!("done"), json!(1)]).is_err());
    }

    #[test]
    fn sort_by_orders_dates_as_instants_and_is_total() {
        let sorted = sort_by(&[tasks(), json!("dueDate")]).expect("sorted");
        let titles: Vec<&str> = sorted
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["title"].as_str())
            .collect();
        assert_eq!(titles, ["Visit", "Call", "Mail", "Note"]);
        // Mixed kinds never break the sort.
        let mixed = json!([{"k": "b"}, {"k": 10}, {"k": "2026-01-01"}, {"k": 9}, {"k": [1]}, {}, {"k": "a"}, 5]);
        assert_eq!(
            sort_by(&[mixed, json!("k")]),
            Ok(
                json!([{"k": 9}, {"k": 10}, {"k": "2026-01-01"}, {"k": "a"}, {"k": "b"}, {"k": [1]}, {}, 5])
            )
        );
    }
}
