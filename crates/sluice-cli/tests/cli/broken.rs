//! The corpus of broken flows in `tests/broken/`: every file is invalid, every problem is
//! located (or explicitly about the whole file), nothing panics, and what the user sees is
//! snapshotted per file.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::common::{TIMEOUT, parse_json_diagnostics, repo_root, sluice, yaml_files};

/// Codes of diagnostics about the whole file, which have no line to point at.
const WHOLE_FILE_CODES: &[&str] = &["sluice::yaml::empty"];

/// The corpus files that are allowed to have no leading `# Mistake:` comment (empty files).
const WITHOUT_COMMENT: &[&str] = &["34-empty.yaml"];

#[test]
fn the_corpus_is_large_enough() {
    let files = yaml_files(&repo_root().join("tests/broken"));
    assert!(
        files.len() >= 35,
        "tests/broken/ holds {} flows; at least 35 are expected",
        files.len()
    );
}

#[test]
fn every_broken_flow_is_rejected_with_located_messages() {
    let root = repo_root();
    let files = yaml_files(&root.join("tests/broken"));
    let mut failures: Vec<String> = Vec::new();
    for name in &files {
        let rel = format!("tests/broken/{name}");
        let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
        let text = std::fs::read_to_string(root.join(&rel)).unwrap_or_default();
        let mistake = text.lines().next().unwrap_or_default().to_string();
        if !WITHOUT_COMMENT.contains(&name.as_str()) && !mistake.starts_with("# Mistake: ") {
            failures.push(format!(
                "{rel}: the first line must be a `# Mistake: ...` comment"
            ));
        }

        let human = sluice(&["validate", &rel], &root, TIMEOUT);
        if human.code != Some(1) {
            failures.push(format!(
                "{rel}: exit code {} (expected 1)\n{}",
                human.describe_exit(),
                human.stderr
            ));
        }
        if human.stderr.contains("panicked") || human.stdout.contains("panicked") {
            failures.push(format!(
                "{rel}: the output mentions a panic\n{}",
                human.stderr
            ));
        }
        if !human.stderr.contains(&format!("{rel}:")) {
            failures.push(format!(
                "{rel}: stderr never names `{rel}:`\n{}",
                human.stderr
            ));
        }
        if human.error_markers() == 0 {
            failures.push(format!("{rel}: no `×` error in stderr\n{}", human.stderr));
        }

        let json = sluice(&["validate", "--format", "json", &rel], &root, TIMEOUT);
        if json.code != Some(1) {
            failures.push(format!(
                "{rel}: --format json exit code {} (expected 1)",
                json.describe_exit()
            ));
        }
        match parse_json_diagnostics(&json.stdout) {
            Err(e) => failures.push(format!("{rel}: --format json: {e}\n{}", json.stdout)),
            Ok(items) => {
                let errors = items.iter().filter(|d| d["severity"] == "error").count();
                if errors != human.error_markers() {
                    failures.push(format!(
                        "{rel}: --format json has {errors} errors, the human output {}",
                        human.error_markers()
                    ));
                }
                for d in &items {
                    let code = d["code"].as_str().unwrap_or_default();
                    if d["file"] != rel.as_str() {
                        failures.push(format!("{rel}: diagnostic of another file: {d}"));
                    }
                    if d["line"].is_null() && !WHOLE_FILE_CODES.contains(&code) {
                        failures.push(format!("{rel}: diagnostic without a location: {d}"));
                    }
                }
            }
        }

        let snapshot = human.code_and_stderr();
        let result = catch_unwind(AssertUnwindSafe(|| {
            insta::with_settings!({
                description => format!("sluice validate {rel}\n{mistake}"),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(stem, snapshot);
            });
        }));
        if result.is_err() {
            failures.push(format!("{rel}: the snapshot does not match (see above)"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in the broken-flow corpus:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `--format json` of three corpus files: a located error, one with two errors, and the empty
/// file (no location).
#[test]
fn json_output_of_three_corpus_files() {
    let root = repo_root();
    for name in [
        "03-misspelled-step-reference.yaml",
        "09-unquoted-template.yaml",
        "34-empty.yaml",
    ] {
        let rel = format!("tests/broken/{name}");
        let run = sluice(&["validate", "--format", "json", &rel], &root, TIMEOUT);
        assert_eq!(run.code, Some(1), "{rel}: {}", run.stderr);
        let items = parse_json_diagnostics(&run.stdout).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!items.is_empty(), "{rel}: no diagnostics");
        let stem = name.trim_end_matches(".yaml");
        insta::with_settings!({
            description => format!("sluice validate --format json {rel}"),
            omit_expression => true,
        }, {
            insta::assert_json_snapshot!(format!("json__{stem}"), items);
        });
    }
}
