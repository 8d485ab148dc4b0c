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
