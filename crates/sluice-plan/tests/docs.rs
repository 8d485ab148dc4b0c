//! Every ```yaml block in `docs/*.md` that is a flow (it has `name:` and `steps:`) is valid.

use std::path::Path;

use sluice_model::Limits;

#[test]
fn every_flow_snippet_in_the_docs_is_valid() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let catalog = sluice_connectors::builtin_catalog().expect("built-in connectors");
    let mut checked = 0;
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
            if !(yaml.contains("\nname:") || yaml.starts_with("name:"))
                || !yaml.contains("\nsteps:")
            {
                continue;
            }
            let name = format!("{}#{}", path.display(), i + 1);
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
        failures.is_empty(),
        "invalid snippets:\n{}",
        failures.join("\n")
    );
}
