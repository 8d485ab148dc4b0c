//! The official JSONPath compliance suite (RFC 9535, 703 cases) through Sluice's own JSONPath
//! evaluation. Reads `../shared/reference/jsonpath/cts.json`; where that folder is absent the
//! test says so and skips (the only kind of skip allowed).

use std::path::Path;

use serde_json::Value;

#[test]
fn every_compliance_case_passes() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/jsonpath/cts.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: the JSONPath compliance suite is not at {}",
            path.display()
        );
        return;
    };
    let suite: Value = serde_json::from_str(&text).expect("cts.json is JSON");
    let tests = suite["tests"].as_array().expect("a list of tests");
    let mut failures = Vec::new();
    for case in tests {
        let name = case["name"].as_str().unwrap_or("?");
        let selector = case["selector"].as_str().unwrap_or_default();
        let invalid = case["invalid_selector"].as_bool().unwrap_or(false);
        let document = case.get("document").cloned().unwrap_or(Value::Null);
        match sluice_template::jsonpath::evaluate(selector, &document) {
            Err(_) if invalid => {}
            Err(e) => failures.push(format!("{name}: `{selector}` rejected: {e}")),
            Ok(got) if invalid => failures.push(format!(
                "{name}: `{selector}` should be invalid, got {got:?}"
            )),
            Ok(got) => {
                let got = Value::Array(got);
                let ok = match (case.get("result"), case.get("results")) {
                    (Some(r), _) => r == &got,
                    (None, Some(Value::Array(any))) => any.contains(&got),
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{name}: `{selector}` gave {got}"));
                }
            }
        }
    }
    assert_eq!(tests.len(), 703, "the suite has 703 cases");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        tests.len(),
        failures.join("\n")
    );
}
