//! Every ```yaml block in `docs/*.md` that is a flow (it has `name:` and `steps:`) is valid,
//! and so is every connector snippet (`name:`, `base_url:` and `operations:`, no `steps:`).

use std::path::Path;

use sluice_model::Limits;

#[test]
fn every_flow_snippet_in_the_docs_is_valid() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let catalog = sluice_connectors::builtin_catalog().expect("built-in connectors");
    let mut checked = 0;
    let mut connectors = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&docs)
        .expect("docs/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(path).expect("readable doc");
        for (i, block) in text.split("```yaml\n").skip(1).enumerate() {
            let Some((yaml, _)) = block.split_once("```") else {
                continue;
            };
            let has = |key: &str| yaml.starts_with(key) || yaml.contains(&format!("\n{key}"));
            let name = format!("{}#{}", path.display(), i + 1);
            if has("name:") && has("base_url:") && has("operations:") && !has("steps:") {
                let loaded = sluice_model::load_connector(&name, yaml, &Limits::default());
                connectors += 1;
                if !loaded.report.diagnostics.is_empty() || loaded.connector.is_none() {
                    failures.push(loaded.report.render(false));
                }
                continue;
            }
            if !has("name:") || !has("steps:") {
                continue;
            }
            let out = sluice_plan::validate_files(
                &[(name.clone(), yaml.to_string())],
                &catalog,
                None,
                &Limits::default(),
            );
            checked += 1;
            if !out[0].report.diagnostics.is_empty() {
                failures.push(out[0].report.render(false));
            }
        }
    }
    assert!(
        checked >= 3,
        "expected flow snippets in docs/, found {checked}"
    );
    assert!(
        connectors >= 3,
        "expected connector snippets in docs/connectors.md, found {connectors}"
    );
    assert!(
        failures.is_empty(),
        "invalid snippets:\n{}",
        failures.join("\n")
    );
}

/// The rows of the helper table in docs/flow-language.md: signature, example, result.
fn helper_rows(doc: &str) -> Vec<(String, String, String)> {
    let section = doc
        .split("### Helpers")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_default();
    let code = |cell: &str| {
        cell.trim()
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .map(|c| c.replace("\\|", "|"))
    };
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        // Cells split at `|` that is not escaped as `\|`.
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'|') => {
                    cell.push_str("\\|");
                    chars.next();
                }
                '|' => cells.push(std::mem::take(&mut cell)),
                other => cell.push(other),
            }
        }
        if let [_, signature, _, example, result, ..] = cells.as_slice()
            && let (Some(s), Some(e), Some(r)) = (code(signature), code(example), code(result))
        {
            rows.push((s, e, r));
        }
    }
    rows
}

/// Every helper of the one helper table has a row in docs/flow-language.md with its signature,
/// and every row's example renders to the result the row shows.
#[test]
fn every_helper_is_documented_with_an_example_that_renders_as_shown() {
    use sluice_template::{Compiled, HELPERS, Scope, Templates};

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/flow-language.md");
    let doc = std::fs::read_to_string(path).expect("docs/flow-language.md");
    let rows = helper_rows(&doc);
    let mut failures = Vec::new();
    for helper in HELPERS {
        let documented = rows
            .iter()
            .filter(|(signature, _, _)| signature == helper.signature)
            .count();
        if documented != 1 {
            failures.push(format!(
                "`{}` has {documented} rows in the helper table (expected 1 with the signature `{}`)",
                helper.name, helper.signature
            ));
        }
    }
    if rows.len() != HELPERS.len() {
        failures.push(format!(
            "the helper table has {} rows, the helper list {} helpers",
            rows.len(),
            HELPERS.len()
        ));
    }
    let inputs = serde_json::json!({});
    let flow = serde_json::json!({"name": "docs"});
    for (signature, example, result) in &rows {
        let name = signature.trim_start_matches('#');
        let name = name.split_whitespace().next().unwrap_or_default();
        if !example.contains(name) {
            failures.push(format!(
                "the example of `{signature}` does not call it: {example}"
            ));
        }
        let expected: serde_json::Value = match serde_json::from_str(result) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "`{signature}`: the result `{result}` is not JSON: {e}"
                ));
                continue;
            }
        };
        let mut templates = Templates::default();
        let got = Compiled::compile_str(example, &mut templates)
            .map_err(|e| e.to_string())
            .and_then(|c| {
                c.eval(&Scope::new(&inputs, &flow, Vec::new()), &templates)
                    .map_err(|e| e.to_string())
            });
        if got.as_ref() != Ok(&expected) {
            failures.push(format!(
                "{example}\n  documented: {expected}\n  gives:      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
