//! Prepares the built-in connectors at build time: each `connectors/*.yaml` file's spanned
//! node tree is written to `$OUT_DIR/NAME.tree.json` (`sluice_model::prepared`), so the binary
//! reads a connector without the YAML parser. A built-in connector that does not load without
//! errors fails the build, with its report.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&manifest).join("../../connectors");
    println!("cargo::rerun-if-changed={}", dir.display());
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        let shown = format!("connectors/{name}.yaml");
        let root = match sluice_model::node::parse_yaml(&text, &sluice_model::Limits::default()) {
            Ok(root) => root,
            Err(e) => panic!("built-in connector {shown} is not valid YAML: {e}"),
        };
        let loaded = sluice_model::load_connector_tree(&shown, &text, &root);
        if loaded.connector.is_none() || loaded.report.error_count() > 0 {
            panic!(
                "built-in connector {shown} does not load: {:?}",
                loaded.report.diagnostics
            );
        }
        let tree = sluice_model::prepared::prepare(&root);
        let target = Path::new(&out).join(format!("{name}.tree.json"));
        if let Err(e) = std::fs::write(&target, tree) {
            panic!("cannot write {}: {e}", target.display());
        }
    }
}
