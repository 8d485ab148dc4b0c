//! The example flows in `workflows/` are valid, and the plan of `contact-360` is stable.

use crate::common::{TIMEOUT, repo_root, sluice, yaml_files};

#[test]
fn every_example_flow_validates() {
    let root = repo_root();
    let files = yaml_files(&root.join("workflows"));
    assert!(!files.is_empty(), "workflows/ holds no flows");
    let mut failures = Vec::new();
    // (`FLOW.test.yaml` files are `sluice test` fixtures, not flows.)
    for name in files.iter().filter(|n| !n.contains(".test.")) {
        let rel = format!("workflows/{name}");
        let run = sluice(&["validate", &rel], &root, TIMEOUT);
        if run.code != Some(0) || run.stderr.contains("panicked") {
            failures.push(format!(
                "{rel}: exit code {}\n{}",
                run.describe_exit(),
                run.stderr
            ));
        }
    }
    // The whole folder at once, as CI runs it.
    let run = sluice(&["validate", "workflows"], &root, TIMEOUT);
    if run.code != Some(0) {
        failures.push(format!(
            "workflows/: exit code {}\n{}",
            run.describe_exit(),
            run.stderr
        ));
    }
    // And the default path (`workflows`).
    let run = sluice(&["validate"], &root, TIMEOUT);
    if run.code != Some(0) {
        failures.push(format!(
            "(default path): exit code {}\n{}",
            run.describe_exit(),
            run.stderr
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn example_flows_give_valid_json_output() {
    let root = repo_root();
    let run = sluice(
        &["validate", "--format", "json", "workflows"],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let items = crate::common::parse_json_diagnostics(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert!(
        items.iter().all(|d| d["severity"] != "error"),
        "errors in workflows/: {}",
        run.stdout
    );
}

fn plan(format: &str) -> String {
    let root = repo_root();
    let run = sluice(
        &["plan", "workflows/contact-360.yaml", "--format", format],
        &root,
        TIMEOUT,
    );
    assert_eq!(
        run.code,
        Some(0),
        "sluice plan --format {format}: exit {}\n{}",
        run.describe_exit(),
        run.stderr
    );
    assert!(
        run.stderr.is_empty(),
        "sluice plan --format {format} wrote to stderr:\n{}",
        run.stderr
    );
    run.stdout
}

#[test]
fn plan_contact_360_text() {
    insta::with_settings!({
        description => "sluice plan workflows/contact-360.yaml --format text",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("plan__contact_360_text", plan("text"));
    });
}

#[test]
fn plan_contact_360_mermaid() {
    insta::with_settings!({
        description => "sluice plan workflows/contact-360.yaml --format mermaid",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("plan__contact_360_mermaid", plan("mermaid"));
    });
}

#[test]
fn plan_contact_360_dot() {
    insta::with_settings!({
        description => "sluice plan workflows/contact-360.yaml --format dot",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("plan__contact_360_dot", plan("dot"));
    });
}

#[test]
fn plan_of_a_broken_flow_exits_1() {
    let root = repo_root();
    let run = sluice(
        &["plan", "tests/broken/13-cycle-of-three.yaml"],
        &root,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "a broken flow has no plan: {}",
        run.stdout
    );
    assert!(run.stderr.contains("sluice::plan::cycle"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}
