//! One flow with six independent mistakes: one run reports every one of them.

use crate::common::{TIMEOUT, parse_json_diagnostics, repo_root, sluice};

const FLOW: &str = "tests/broken/several/several-mistakes.yaml";

/// The mistakes of the flow, in file order: (code, line).
const EXPECTED: &[(&str, u64)] = &[
    ("sluice::plan::invalid_cron", 4),
    ("sluice::plan::unknown_event", 5),
    ("sluice::plan::unknown_operation", 12),
    ("sluice::plan::unknown_input", 16),
    ("sluice::plan::misplaced_setting", 19),
    ("sluice::plan::unknown_helper", 25),
];

#[test]
fn every_mistake_is_reported_in_one_run() {
    let root = repo_root();
    let human = sluice(&["validate", FLOW], &root, TIMEOUT);
    assert_eq!(human.code, Some(1), "{}", human.stderr);
    assert_eq!(
        human.error_markers(),
        EXPECTED.len(),
        "expected {} `×` errors:\n{}",
        EXPECTED.len(),
        human.stderr
    );
    assert!(
        human
            .stderr
            .contains(&format!("{} errors, 0 warnings", EXPECTED.len())),
        "{}",
        human.stderr
    );
    for (code, line) in EXPECTED {
        assert!(
            human.stderr.contains(&format!("{code}\n")),
            "`{code}` missing:\n{}",
            human.stderr
        );
        assert!(
            human.stderr.contains(&format!("{FLOW}:{line}:")),
            "no location on line {line}:\n{}",
            human.stderr
        );
    }
    insta::with_settings!({
        description => format!("sluice validate {FLOW}"),
        omit_expression => true,
    }, {
        insta::assert_snapshot!("several_mistakes", human.code_and_stderr());
    });

    let json = sluice(&["validate", "--format", "json", FLOW], &root, TIMEOUT);
    assert_eq!(json.code, Some(1));
    let items = parse_json_diagnostics(&json.stdout).unwrap_or_else(|e| panic!("{e}"));
    let found: Vec<(&str, u64)> = items
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(found, EXPECTED, "{}", json.stdout);
}
