//! Logic and comparison helpers: `default`, `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `and`, `or`,
//! `not`, and the one ordering of two values they share with `min`, `max` and `sort_by`
//! (numbers by value, dates as instants, other text by character).

use std::cmp::Ordering;

use chrono::DateTime;
use serde_json::Value;

use super::args::{arg, eq_loose, short};
use super::dates::text_date;
use super::truthy;

/// How two values compare: numbers by value; two texts that both read as dates as instants
/// (whatever their offsets), and a text date with a number as epoch milliseconds; other texts
/// by character. `None` for anything else.
pub(super) fn order(x: &Value, y: &Value) -> Option<Ordering> {
    match (x, y) {
        (Value::Number(p), Value::Number(q)) => p.as_f64()?.partial_cmp(&q.as_f64()?),
        (Value::String(p), Value::String(q)) => match (text_date(p), text_date(q)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(p.cmp(q)),
        },
        (Value::String(p), Value::Number(q)) => {
            Some(text_date(p)?.cmp(&DateTime::from_timestamp_millis(q.as_i64()?)?))
        }
        (Value::Number(_), Value::String(_)) => order(y, x).map(Ordering::reverse),
        _ => None,
    }
}

pub(super) fn default(a: &[Value]) -> Result<Value, String> {
    Ok(a.iter()
        .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .cloned()
        .unwrap_or(Value::Null))
}

pub(super) fn eq(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(eq_loose(arg(a, 0)?, arg(a, 1)?)))
}

pub(super) fn ne(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!eq_loose(arg(a, 0)?, arg(a, 1)?)))
}

pub(super) fn gt(a: &[Value]) -> Result<Value, String> {
    compare(a, Ordering::is_gt)
}

pub(super) fn gte(a: &[Value]) -> Result<Value, String> {
    compare(a, Ordering::is_ge)
}

pub(super) fn lt(a: &[Value]) -> Result<Value, String> {
    compare(a, Ordering::is_lt)
}

pub(super) fn lte(a: &[Value]) -> Result<Value, String> {
    compare(a, Ordering::is_le)
}

fn compare(a: &[Value], ok: fn(Ordering) -> bool) -> Result<Value, String> {
    let (x, y) = (arg(a, 0)?, arg(a, 1)?);
    order(x, y)
        .map(|o| Value::Bool(ok(o)))
        .ok_or_else(|| format!("cannot compare {} with {}", short(x), short(y)))
}

pub(super) fn and(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!a.is_empty() && a.iter().all(truthy)))
}

pub(super) fn or(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(a.iter().any(truthy)))
}

pub(super) fn not(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!truthy(arg(a, 0)?)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dates_compare_as_instants_whatever_their_offsets() {
        // 10:00 in Berlin (UTC+2 in summer) is 08:00 UTC: before 09:00 UTC, although the text
        // sorts after it.
        let berlin = json!("2026-07-01T10:00:00+02:00");
        let utc = json!("2026-07-01T09:00:00Z");
        assert_eq!(lt(&[berlin.clone(), utc.clone()]), Ok(json!(true)));
        assert_eq!(gt(&[utc.clone(), berlin.clone()]), Ok(json!(true)));
        assert_eq!(
            lte(&[json!("2026-07-01T08:00:00Z"), berlin.clone()]),
            Ok(json!(true))
        );
        assert_eq!(
            gte(&[json!("2026-07-01 08:00:00"), berlin]),
            Ok(json!(true))
        );
        // A date-only text is midnight UTC.
        assert_eq!(
            lt(&[json!("2026-07-01"), json!("2026-06-30T23:00:00-02:00")]),
            Ok(json!(true))
        );
        // Text that is not a date compares by character.
        assert_eq!(lt(&[json!("apple"), json!("banana")]), Ok(json!(true)));
        assert_eq!(lt(&[json!("2026-07-01"), json!("soon")]), Ok(json!(true)));
        assert_eq!(gt(&[json!(10), json!(9.5)]), Ok(json!(true)));
        // A number next to a text date is epoch milliseconds (1 767 261 600 000 is
        // 2026-01-01T10:00:00Z).
        assert_eq!(
            lt(&[
                json!(1_767_261_600_000_i64),
                json!("2026-01-01T11:00:00+00:00")
            ]),
            Ok(json!(true))
        );
        assert_eq!(
            gte(&[
                json!("2026-01-01T11:00:00+01:00"),
                json!(1_767_261_600_000_i64)
            ]),
            Ok(json!(true))
        );
    }

    #[test]
    fn values_of_different_kinds_do_not_compare() {
        assert_eq!(
            lt(&[json!("soon"), json!(3)]),
            Err("cannot compare \"soon\" with 3".to_string())
        );
        assert!(gt(&[json!(null), json!(1)]).is_err());
        assert_eq!(lt(&[json!(1)]), Err("argument 2 is missing".to_string()));
    }

    #[test]
    fn and_or_take_one_argument_or_more() {
        assert_eq!(and(&[json!(1)]), Ok(json!(true)));
        assert_eq!(and(&[json!(1), json!("")]), Ok(json!(false)));
        assert_eq!(or(&[json!(0)]), Ok(json!(false)));
        assert_eq!(or(&[json!(0), json!([1])]), Ok(json!(true)));
        assert_eq!(default(&[json!(null)]), Ok(json!(null)));
        assert_eq!(default(&[json!(""), json!(null), json!(0)]), Ok(json!(0)));
    }
}
