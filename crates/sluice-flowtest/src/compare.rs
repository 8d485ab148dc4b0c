//! Comparing what a case expects with what happened: JSON path by path (with the `@any`,
//! `@string`, `@number`, `@boolean`, `@date` matchers), and requests as an unordered list.

use serde_json::Value;

use crate::fixture::ExpectedRequest;

/// The longest value shown in a diff line.
const SHOWN: usize = 160;
/// The most diff lines per comparison.
const MAX_LINES: usize = 40;

/// A value as one line of JSON, cut when long.
pub(crate) fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > SHOWN {
        let cut: String = text.chars().take(SHOWN).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

/// Whether `expected` (with matchers) accepts `actual`.
pub(crate) fn matches(expected: &Value, actual: &Value) -> bool {
    let mut out = Vec::new();
    diff("", expected, actual, &mut out);
    out.is_empty()
}

fn matcher(expected: &str, actual: &Value) -> Option<bool> {
    Some(match expected {
        "@any" => true,
        "@string" => actual.is_string(),
        "@number" => actual.is_number(),
        "@boolean" => actual.is_boolean(),
        "@date" => actual
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        _ => return None,
    })
}

/// One line per difference: `output.openTasks[0].title: expected "A", got "B"`.
pub(crate) fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    if out.len() > MAX_LINES {
        return;
    }
    let here = if path.is_empty() { "(the value)" } else { path };
    match (expected, actual) {
        (Value::String(e), a) if e.starts_with('@') && !e.starts_with("@@") => {
            match matcher(e, a) {
                Some(true) => {}
                Some(false) => out.push(format!("{here}: expected {e}, got {}", show(a))),
                None => out.push(format!(
                    "{here}: `{e}` is not a matcher (use @any, @string, @number, @boolean, @date; write @@ for a literal @)"
                )),
            }
        }
        (Value::String(e), Value::String(a)) if e.starts_with("@@") && e[1..] == *a => {}
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => diff(&child(path, k), ev, av, out),
                    None => out.push(format!(
                        "{}: expected {}, got nothing (no such field)",
                        child(path, k),
                        show(ev)
                    )),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!(
                        "{}: not expected, got {}",
                        child(path, k),
                        show(av)
                    ));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), ev, av, out);
            }
            if e.len() != a.len() {
                out.push(format!(
                    "{here}: expected {} item{}, got {}",
                    e.len(),
                    if e.len() == 1 { "" } else { "s" },
                    a.len()
                ));
                for (i, ev) in e.iter().enumerate().skip(a.len()) {
                    out.push(format!("{path}[{i}]: expected {}, missing", show(ev)));
                }
                for (i, av) in a.iter().enumerate().skip(e.len()) {
                    out.push(format!("{path}[{i}]: not expected, got {}", show(av)));
                }
            }
        }
        (e, a) => {
            if e != a {
                out.push(format!("{here}: expected {}, got {}", show(e), show(a)));
            }
        }
    }
    if out.len() > MAX_LINES {
        out.truncate(MAX_LINES);
        out.push("… (more differences not shown)".into());
    }
}

/// A request that was sent, for comparison.
#[derive(Clone, Debug)]
pub(crate) struct SentRequest {
    pub(crate) line: String,
    pub(crate) body: Option<Value>,
}

impl SentRequest {
    fn show(&self) -> String {
        match &self.body {
            Some(b) => format!("{} {}", self.line, show(b)),
            None => self.line.clone(),
        }
    }
}

fn accepts(e: &ExpectedRequest, s: &SentRequest) -> bool {
    let line = if e.line.contains('*') {
        glob(&e.line, &s.line)
    } else {
        e.line == s.line
    };
    line && match &e.body {
        None => true,
        Some(b) => matches(b, s.body.as_ref().unwrap_or(&Value::Null)),
    }
}

/// Requests compared as an unordered list: `- missing` and `+ unexpected` lines.
pub(crate) fn diff_requests(expected: &[ExpectedRequest], sent: &[SentRequest]) -> Vec<String> {
    let mut used = vec![false; sent.len()];
    let mut missing = Vec::new();
    for e in expected {
        // A request with a body expectation first takes a sent request that satisfies it.
        match (0..sent.len()).find(|&i| !used[i] && accepts(e, &sent[i])) {
            Some(i) => used[i] = true,
            None => missing.push(e),
        }
    }
    let mut out = Vec::new();
    for e in &missing {
        let near = sent
            .iter()
            .enumerate()
            .find(|(i, s)| !used[*i] && (s.line == e.line || glob(&e.line, &s.line)));
        match (&e.body, near) {
            (Some(b), Some((_, s))) => {
                let mut lines = Vec::new();
                diff(
                    "body",
                    b,
                    s.body.as_ref().unwrap_or(&Value::Null),
                    &mut lines,
                );
                out.push(format!("- {} sent with another body:", e.line));
                out.extend(lines.into_iter().map(|l| format!("    {l}")));
            }
            (Some(b), None) => out.push(format!("- {} {}   (expected, not sent)", e.line, show(b))),
            (None, _) => out.push(format!("- {}   (expected, not sent)", e.line)),
        }
    }
    for (i, s) in sent.iter().enumerate() {
        let explained = missing
            .iter()
            .any(|e| e.body.is_some() && (s.line == e.line || glob(&e.line, &s.line)));
        if !used[i] && !explained {
            out.push(format!("+ {}   (sent, not expected)", s.show()));
        }
    }
    out
}

/// What `--update` writes for a value: the expectation where it still holds (its matchers
/// kept), what happened elsewhere.
pub(crate) fn merge(expected: Option<&Value>, actual: &Value) -> Value {
    let Some(expected) = expected else {
        return actual.clone();
    };
    if matches(expected, actual) {
        return expected.clone();
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .map(|(k, av)| (k.clone(), merge(e.get(k), av)))
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, av)| merge(e.get(i), av))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// `*` matches any text within one path segment (not `/`, `?`, `&`).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star
            && !matches!(t[st], b'/' | b'?' | b'&')
        {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_matchers() {
        let mut out = Vec::new();
        diff(
            "output",
            &json!({"a": [{"t": "A"}], "id": "@string", "n": "@any", "gone": 1}),
            &json!({"a": [{"t": "B"}], "id": "x", "n": null, "extra": true}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "output.a[0].t: expected \"A\", got \"B\"",
                "output.gone: expected 1, got nothing (no such field)",
                "output.extra: not expected, got true",
            ]
        );
    }

    #[test]
    fn requests_are_unordered() {
        let e = |l: &str| ExpectedRequest {
            line: l.into(),
            body: None,
        };
        let s = |l: &str| SentRequest {
            line: l.into(),
            body: None,
        };
        assert!(diff_requests(&[e("GET /b"), e("GET /a")], &[s("GET /a"), s("GET /b")]).is_empty());
        assert_eq!(
            diff_requests(&[e("GET /a")], &[s("GET /c")]),
            vec![
                "- GET /a   (expected, not sent)",
                "+ GET /c   (sent, not expected)"
            ]
        );
    }

    #[test]
    fn merge_keeps_matchers() {
        let m = merge(
            Some(&json!({"id": "@string", "x": 1})),
            &json!({"id": "q", "x": 2}),
        );
        assert_eq!(m, json!({"id": "@string", "x": 2}));
    }

    #[test]
    fn globs_stay_in_a_segment() {
        assert!(glob("/contacts/*/tasks", "/contacts/ct_ada/tasks"));
        assert!(!glob("/contacts/*", "/contacts/ct_ada/tasks"));
        assert!(glob(
            "/contacts/*/tasks/*/completed",
            "/contacts/a/tasks/t1/completed"
        ));
        assert!(!glob("/a", "/b"));
    }
}
