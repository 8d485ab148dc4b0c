//! What people write in templates that templates do not do, recognised so that `validate` can
//! answer with the right spelling: date arithmetic such as `{{ now + 2 days }}` or
//! `{{ item.dueDate - 1h }}`, which is `{{ date_add (now) "2d" }}`.

use std::sync::LazyLock;

use regex::Regex;

/// `now + 2 days`, `(now)-1h`, `steps.x.dueDate - 30 minutes` (a path needs a space before the
/// sign: `follow-up-2d` is a name). String literals are blanked out before this runs.
static DATE_ARITHMETIC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?P<base> \(\s*now\s*\) | \bnow\b | [a-z_@][a-z0-9_.\[\]-]*(?:\s) )
        \s* (?P<op>[+-]) \s* (?P<n>\d{1,9}) \s*
        (?P<unit> seconds?|secs?|s | minutes?|mins?|m | hours?|hrs?|h | days?|d | weeks?|wks?|w
                | months?|years?|yrs?|y ) \b",
    )
    .ok()
});

/// Date arithmetic found in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateArithmetic {
    /// What was written, e.g. `now + 2 days`.
    pub written: String,
    /// Its byte offset in the template text.
    pub offset: usize,
    /// The `date_add` call that means it, e.g. `date_add (now) "2d"`.
    pub call: String,
    /// The whole `{{ … }}` with the call in place, e.g. `{{ date_add (now) "2d" }}`.
    pub corrected: String,
}

/// The first date arithmetic inside a `{{ … }}` of `text`, if any.
#[must_use]
pub fn date_arithmetic(text: &str) -> Option<DateArithmetic> {
    if !text.contains(['+', '-']) {
        return None;
    }
    let re = DATE_ARITHMETIC.as_ref()?;
    let mut from = 0;
    while let Some(open) = text
        .get(from..)
        .and_then(|t| t.find("{{"))
        .map(|i| i + from)
    {
        let inner_start = open + 2;
        let close = text.get(inner_start..)?.find("}}")? + inner_start;
        from = close + 2;
        let escaped = open > 0 && text.as_bytes().get(open - 1) == Some(&b'\\');
        let inner = text.get(inner_start..close)?;
        if escaped || inner.starts_with('!') {
            continue;
        }
        let masked = blank_strings(inner);
        let Some(caps) = re.captures(&masked) else {
            continue;
        };
        let (Some(whole), Some(base), Some(op), Some(n), Some(unit)) = (
            caps.get(0),
            caps.name("base"),
            caps.name("op"),
            caps.name("n"),
            caps.name("unit"),
        ) else {
            continue;
        };
        let base_text = base.as_str().trim();
        let base_call = if base_text.trim_matches(['(', ')', ' ']) == "now" {
            "(now)".to_string()
        } else {
            base_text.to_string()
        };
        let sign = if op.as_str() == "-" { "-" } else { "" };
        let amount = format!("{sign}{}{}", n.as_str(), short_unit(unit.as_str()));
        let call = format!("date_add {base_call} \"{amount}\"");
        let rest_is_empty = masked.get(..whole.start()).is_some_and(|s| {
            s.trim_start_matches(['~', ' ', '\t', '\n', '\r'])
                .is_empty()
        }) && masked
            .get(whole.end()..)
            .is_some_and(|s| s.trim_end_matches(['~', ' ', '\t', '\n', '\r']).is_empty());
        let in_place = if rest_is_empty {
            call.clone()
        } else {
            format!("({call})")
        };
        let corrected_inner = format!(
            "{}{in_place}{}",
            inner.get(..whole.start()).unwrap_or_default(),
            inner.get(whole.end()..).unwrap_or_default()
        );
        return Some(DateArithmetic {
            written: inner.get(whole.range())?.trim().to_string(),
            offset: inner_start + whole.start(),
            call,
            corrected: format!("{{{{{corrected_inner}}}}}"),
        });
    }
    None
}

/// `inner` with the contents of `"…"` and `'…'` literals replaced by spaces, byte for byte.
fn blank_strings(inner: &str) -> String {
    let mut out = Vec::with_capacity(inner.len());
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for &b in inner.as_bytes() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                    out.push(b);
                    continue;
                }
                out.push(b' ');
            }
            None => {
                if b == b'"' || b == b'\'' {
                    quote = Some(b);
                }
                out.push(b);
            }
        }
    }
    // Every byte of a multi-byte character inside quotes became a space; outside quotes
    // nothing changed, so this is valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// The unit as `date_add` reads it most plainly.
fn short_unit(unit: &str) -> &'static str {
    let u = unit.to_ascii_lowercase();
    match u.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "w" | "wk" | "wks" | "week" | "weeks" => "w",
        "month" | "months" => "months",
        "y" | "yr" | "yrs" | "year" | "years" => "y",
        _ => "d",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corrected(text: &str) -> Option<(String, String)> {
        date_arithmetic(text).map(|d| (d.written, d.corrected))
    }

    #[test]
    fn date_arithmetic_is_answered_with_date_add() {
        let cases = [
            (
                "{{ now + 2 days }}",
                "now + 2 days",
                "{{ date_add (now) \"2d\" }}",
            ),
            ("{{now - 1h}}", "now - 1h", "{{date_add (now) \"-1h\"}}"),
            (
                "{{ (now)+30 minutes }}",
                "(now)+30 minutes",
                "{{ date_add (now) \"30m\" }}",
            ),
            ("{{ now-1d }}", "now-1d", "{{ date_add (now) \"-1d\" }}"),
            (
                "{{ steps.t.task.dueDate + 30m }}",
                "steps.t.task.dueDate + 30m",
                "{{ date_add steps.t.task.dueDate \"30m\" }}",
            ),
            (
                "Due: {{ item.dueDate - 1 week }}!",
                "item.dueDate - 1 week",
                "{{ date_add item.dueDate \"-1w\" }}",
            ),
            (
                "{{ lt item.dueDate now - 30 days }}",
                "now - 30 days",
                "{{ lt item.dueDate (date_add (now) \"-30d\") }}",
            ),
            (
                "{{#if (gt now + 2 hours x)}}y{{/if}}",
                "now + 2 hours",
                "{{#if (gt (date_add (now) \"2h\") x)}}",
            ),
        ];
        for (text, written, fixed) in cases {
            assert_eq!(
                corrected(text),
                Some((written.to_string(), fixed.to_string())),
                "{text}"
            );
        }
        let found = date_arithmetic("ok {{ now + 2 days }}").expect("found");
        assert_eq!(found.offset, 6);
        assert_eq!(found.call, "date_add (now) \"2d\"");
    }

    #[test]
    fn ordinary_templates_are_left_alone() {
        for text in [
            "{{ date_add (now) \"2d\" }}",
            "{{ concat \"now + 2 days\" }}",
            "{{ concat 'a - 2 d' }}",
            "now + 2 days",
            "\\{{ now + 2 days }}",
            "{{! now + 2 days }}",
            "{{ inputs.follow-up-2d }}",
            "{{ steps.a.b }} - 2 days",
            "{{ take steps.a.b 2 }}",
            "{{ now }} + 2 days",
            "{{ sum steps.a.b }}",
            "{{ nowhere - 2 dollars }}",
        ] {
            assert_eq!(date_arithmetic(text), None, "{text}");
        }
    }
}
