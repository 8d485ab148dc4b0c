//! What a case expects against what happened: every difference as one readable line, and the
//! `expect:` that `--update` writes.

use serde_json::{Map, Value, json};

use crate::compare::{self, SentRequest};
use crate::fixture::{Dates, Expect, ExpectedRequest, RunState, StepState};

/// What happened in a case.
pub(crate) struct Actual {
    pub(crate) status: RunState,
    pub(crate) output: Option<Value>,
    pub(crate) error: Option<String>,
    pub(crate) requests: Vec<SentRequest>,
    pub(crate) steps: Vec<(String, StepState)>,
    pub(crate) unanswered: Vec<String>,
}

/// The `expect:` written by `--update`.
pub(crate) fn new_expect(old: Option<&Expect>, actual: &Actual, dates: &Dates) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), json!(actual.status.as_str()));
    if actual.status == RunState::Succeeded {
        let out = dates.relativize(actual.output.as_ref().unwrap_or(&Value::Null));
        m.insert(
            "output".into(),
            compare::merge(old.and_then(|o| o.output.as_ref()), &out),
        );
    } else if let Some(error) = &actual.error {
        let kept = old
            .and_then(|o| o.error_contains.clone())
            .filter(|t| error.contains(t.as_str()));
        m.insert(
            "error_contains".into(),
            json!(kept.unwrap_or_else(|| error.clone())),
        );
    }
    let sent: Vec<SentRequest> = actual
        .requests
        .iter()
        .map(|r| SentRequest {
            line: r.line.clone(),
            body: r.body.as_ref().map(|b| dates.relativize(b)),
        })
        .collect();
    let old_requests = old.and_then(|o| o.requests.as_ref());
    let requests: Vec<Value> = match old_requests {
        Some(list)
            if compare::diff_requests(
                &resolve_requests(list, &mut dates.clone()),
                &actual.requests,
            )
            .is_empty() =>
        {
            list.iter().map(request_value).collect()
        }
        _ => {
            let mut v: Vec<Value> = sent
                .iter()
                .map(|s| {
                    request_value(&ExpectedRequest {
                        line: s.line.clone(),
                        body: s.body.clone(),
                    })
                })
                .collect();
            v.sort_by_key(|x| x.to_string());
            v
        }
    };
    m.insert("requests".into(), Value::Array(requests));
    if let Some(steps) = old.and_then(|o| o.steps.as_ref()) {
        let ok = steps_problems(steps, &actual.steps).is_empty();
        let map: Map<String, Value> = if ok {
            steps
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.as_str())))
                .collect()
        } else {
            actual
                .steps
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.as_str())))
                .collect()
        };
        m.insert("steps".into(), Value::Object(map));
    }
    Value::Object(m)
}

fn request_value(r: &ExpectedRequest) -> Value {
    match &r.body {
        Some(b) => json!({ "request": r.line, "body": b }),
        None => json!(r.line),
    }
}

/// Expected bodies may hold `@now…` tokens: they are compared resolved.
fn resolve_requests(list: &[ExpectedRequest], dates: &mut Dates) -> Vec<ExpectedRequest> {
    list.iter()
        .map(|r| ExpectedRequest {
            line: r.line.clone(),
            body: r.body.as_ref().map(|b| dates.resolve(b, true)),
        })
        .collect()
}

fn steps_problems(
    expected: &indexmap::IndexMap<String, StepState>,
    actual: &[(String, StepState)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, want) in expected {
        match actual.iter().find(|(n, _)| n == name) {
            Some((_, got)) if got == want => {}
            Some((_, got)) => out.push(format!(
                "steps.{name}: expected {}, got {}",
                want.as_str(),
                got.as_str()
            )),
            None => out.push(format!("steps.{name}: the flow has no such step")),
        }
    }
    out
}

/// Every way `actual` differs from `expect`, one readable line each.
pub(crate) fn check(expect: Option<&Expect>, actual: &Actual, dates: &mut Dates) -> Vec<String> {
    let mut out: Vec<String> = actual.unanswered.clone();
    let Some(expect) = expect else {
        out.push("no `expect:` yet: run with --update to write what happened".into());
        return out;
    };
    let want = expect.status.unwrap_or(RunState::Succeeded);
    if want != actual.status {
        let why = actual
            .error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        out.push(format!(
            "status: expected {}, got {}{why}",
            want.as_str(),
            actual.status.as_str()
        ));
    }
    if let Some(e) = &expect.output
        && actual.status == RunState::Succeeded
    {
        let e = dates.resolve(e, true);
        let a = actual.output.clone().unwrap_or(Value::Null);
        let mut lines = Vec::new();
        compare::diff("output", &e, &a, &mut lines);
        out.extend(lines);
    }
    if let Some(text) = &expect.error_contains {
        match &actual.error {
            Some(err) if err.contains(text.as_str()) => {}
            Some(err) => out.push(format!(
                "error: expected it to contain {}, got {}",
                json!(text),
                json!(err)
            )),
            None => out.push(format!(
                "error: expected one containing {}, but the run had none",
                json!(text)
            )),
        }
    }
    if let Some(list) = &expect.requests {
        let lines = compare::diff_requests(&resolve_requests(list, dates), &actual.requests);
        if !lines.is_empty() {
            out.push("requests (- expected, + sent):".into());
            out.extend(lines.into_iter().map(|l| format!("  {l}")));
        }
    }
    if let Some(steps) = &expect.steps {
        out.extend(steps_problems(steps, &actual.steps));
    }
    out
}
