//! Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.

use crate::common::{TIMEOUT, repo_root, sluice};

#[test]
fn a_nonexistent_path_is_a_usage_error() {
    let root = repo_root();
    let run = sluice(
        &["validate", "tests/broken/no-such-flow.yaml"],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("tests/broken/no-such-flow.yaml"),
        "the message names the path: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    insta::assert_snapshot!("nonexistent_path", run.code_and_stderr());
}

#[test]
fn a_nonexistent_plan_flow_is_a_usage_error() {
    let root = repo_root();
    let run = sluice(&["plan", "workflows/no-such-flow.yaml"], &root, TIMEOUT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    insta::assert_snapshot!("nonexistent_plan_flow", run.code_and_stderr());
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let root = repo_root();
    let run = sluice(&["valdate", "workflows"], &root, TIMEOUT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("valdate"), "{}", run.stderr);
    insta::assert_snapshot!("unknown_subcommand", run.code_and_stderr());
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let root = repo_root();
    let run = sluice(
        &["validate", "--format", "xml", "workflows"],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let root = repo_root();
    let run = sluice(&[], &root, TIMEOUT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn help_and_version_exit_0() {
    let root = repo_root();
    for args in [
        &["--help"][..],
        &["--version"][..],
        &["validate", "--help"][..],
    ] {
        let run = sluice(args, &root, TIMEOUT);
        assert_eq!(run.code, Some(0), "sluice {args:?}: {}", run.stderr);
        assert!(!run.stdout.is_empty(), "sluice {args:?} prints nothing");
    }
}

#[test]
fn valid_and_invalid_together_exit_1() {
    let root = repo_root();
    let run = sluice(
        &[
            "validate",
            "workflows/contact-360.yaml",
            "tests/broken/04-misspelled-operation.yaml",
        ],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("checked 2 flows: 1 error"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_output_is_an_array_with_the_documented_fields() {
    let root = repo_root();
    let run = sluice(
        &[
            "validate",
            "--format",
            "json",
            "tests/broken/07-wrong-indentation.yaml",
        ],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let items = crate::common::parse_json_diagnostics(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert!(items.len() >= 2, "{}", run.stdout);
    for d in &items {
        assert_eq!(d["file"], "tests/broken/07-wrong-indentation.yaml");
        assert!(d["line"].as_u64().is_some_and(|l| l > 0), "{d}");
        assert!(d["column"].as_u64().is_some_and(|c| c > 0), "{d}");
        assert!(
            d["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("sluice::")),
            "{d}"
        );
        assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
    }
    // A valid flow gives an empty array (or only warnings).
    let run = sluice(
        &["validate", "--format", "json", "workflows/contact-360.yaml"],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let items = crate::common::parse_json_diagnostics(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert!(
        items.iter().all(|d| d["severity"] == "warning"),
        "{}",
        run.stdout
    );
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let flow = "name: warn-only\ninputs:\n  unused: { type: string }\nsteps:\n  s:\n    value: 1\noutput: \"{{ steps.s }}\"\n";
    std::fs::write(dir.path().join("warn-only.yaml"), flow).expect("the flow is written");
    let run = sluice(&["validate", "warn-only.yaml"], dir.path(), TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("0 errors, 1 warning"), "{}", run.stderr);
    let run = sluice(
        &["validate", "--deny-warnings", "warn-only.yaml"],
        dir.path(),
        TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
}
