//! Date helpers (`now`, `date_add`, `date_format`) and the one reading of a date that they and
//! the comparisons share: RFC 3339, `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD`, or epoch milliseconds.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::args::{arg, cut, short, text};

/// Reads a date: RFC 3339, `YYYY-MM-DD HH:MM:SS` (GHL appointments), `YYYY-MM-DD`, or epoch
/// milliseconds.
pub(super) fn parse_date(v: &Value) -> Result<DateTime<Utc>, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("{n} is not a time in epoch milliseconds")),
        Value::String(s) => text_date(s).ok_or_else(|| {
            format!(
                "`{}` is not a date (use e.g. 2026-01-02T10:00:00Z)",
                cut(s.trim())
            )
        }),
        other => Err(format!("{} is not a date", short(other))),
    }
}

/// Text that reads as a date, as an instant; `None` for any other text.
pub(super) fn text_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // Every form starts with four digits and a dash: most text is ruled out at once.
    if s.len() < 10 || s.as_bytes().get(4).is_none_or(|b| *b != b'-') {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(d.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn rfc3339(d: DateTime<Utc>) -> Value {
    Value::String(d.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub(super) fn now(_: &[Value]) -> Result<Value, String> {
    Ok(rfc3339(Utc::now()))
}

pub(super) fn date_add(a: &[Value]) -> Result<Value, String> {
    let date = parse_date(arg(a, 0)?)?;
    let amount = text(arg(a, 1)?);
    let (negative, magnitude) = match amount.trim().strip_prefix('-') {
        Some(rest) => (true, rest.trim().to_string()),
        None => (
            false,
            amount.trim().trim_start_matches('+').trim().to_string(),
        ),
    };
    let d = humantime::parse_duration(&magnitude)
        .map_err(|e| format!("`{amount}` is not a duration ({e})"))?;
    let out_of_range = || format!("`{amount}` moves the date out of range");
    let d = ChronoDuration::from_std(d).map_err(|_| out_of_range())?;
    let result = if negative {
        date.checked_sub_signed(d)
    } else {
        date.checked_add_signed(d)
    };
    result.map(rfc3339).ok_or_else(out_of_range)
}

pub(super) fn date_format(a: &[Value]) -> Result<Value, String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dates_read_in_every_form() {
        let t = |s: &str| text_date(s).map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true));
        assert_eq!(
            t("2026-01-02T10:00:00+02:00").as_deref(),
            Some("2026-01-02T08:00:00Z")
        );
        assert_eq!(
            t("2026-01-02 10:00:00").as_deref(),
            Some("2026-01-02T10:00:00Z")
        );
        assert_eq!(t(" 2026-01-02 ").as_deref(), Some("2026-01-02T00:00:00Z"));
        assert_eq!(t("2026-13-02"), None);
        assert_eq!(t("call back"), None);
        assert_eq!(t("10"), None);
        assert!(parse_date(&json!(0)).is_ok());
        assert!(parse_date(&json!(i64::MAX)).is_err());
        assert!(parse_date(&json!(true)).is_err());
    }

    #[test]
    fn date_add_never_overflows() {
        let e = date_add(&[json!("2026-01-01T00:00:00Z"), json!("99999999d")]);
        assert_eq!(
            e,
            Err("`99999999d` moves the date out of range".to_string())
        );
        let e = date_add(&[json!("2026-01-01T00:00:00Z"), json!("-99999999d")]);
        assert!(e.is_err());
        assert_eq!(
            date_add(&[json!("2026-01-01T00:00:00Z"), json!("+2d")]),
            Ok(json!("2026-01-03T00:00:00.000Z"))
        );
        assert!(date_add(&[json!("2026-01-01T00:00:00Z"), json!("two days")]).is_err());
    }
}
