//! The layout `docs/architecture.md` promises, checked: the crates depend on each other one way
//! (and only as the table says), only the CLI (and test support) know clap, the sandbox is
//! reached only behind a cargo feature, no module of a crate imports a module that imports it
//! back, and every module says what it is for in a `//!` doc.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each crate may depend on (crates of ours, normal dependencies): the table of
/// `docs/architecture.md`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("sluice-model", &[]),
    ("sluice-template", &["sluice-model"]),
    ("sluice-plan", &["sluice-model", "sluice-template"]),
    ("sluice-connectors", &["sluice-model"]),
    ("sluice-store", &[]),
    (
        "sluice-engine",
        &[
            "sluice-model",
            "sluice-template",
            "sluice-plan",
            "sluice-connectors",
            "sluice-store",
        ],
    ),
    (
        "sluice-project",
        &[
            "sluice-model",
            "sluice-plan",
            "sluice-connectors",
            "sluice-engine",
            "sluice-store",
        ],
    ),
    (
        "sluice-server",
        &[
            "sluice-model",
            "sluice-connectors",
            "sluice-engine",
            "sluice-store",
            "sluice-project",
        ],
    ),
    (
        "sluice-flowtest",
        &[
            "sluice-model",
            "sluice-engine",
            "sluice-project",
            "sluice-sandbox",
        ],
    ),
    (
        "sluice-lsp",
        &[
            "sluice-model",
            "sluice-template",
            "sluice-plan",
            "sluice-connectors",
            "sluice-project",
            "sluice-flowtest",
        ],
    ),
    ("sluice-sandbox", &[]),
    ("sluice-openapi", &[]),
];

/// Crates that may use clap, and the sandbox without a feature.
const FRONT: &[&str] = &["sluice-cli", "sluice-test-support"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifest(krate: &str) -> toml::Table {
    let path = crates_dir().join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("Cargo.toml");
    text.parse::<toml::Table>().expect("Cargo.toml parses")
}

fn crates() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(crates_dir())
        .expect("crates/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// `(name, optional)` of a manifest's normal dependencies.
fn dependencies(m: &toml::Table) -> Vec<(String, bool)> {
    m.get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|deps| {
            deps.iter()
                .map(|(name, spec)| {
                    let optional = spec
                        .get("optional")
                        .and_then(toml::Value::as_bool)
                        .unwrap_or(false);
                    (name.clone(), optional)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn crates_depend_on_each_other_as_the_architecture_says() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for krate in crates() {
        let deps = dependencies(&manifest(&krate));
        for (dep, optional) in &deps {
            if dep == "clap" && !FRONT.contains(&krate.as_str()) {
                problems.push(format!("{krate} depends on clap (only the CLI may)"));
            }
            if dep == "sluice-sandbox" && !optional && !FRONT.contains(&krate.as_str()) {
                problems.push(format!(
                    "{krate} depends on the sandbox outside a cargo feature"
                ));
            }
            if !dep.starts_with("sluice-") || FRONT.contains(&krate.as_str()) {
                continue;
            }
            match allowed.get(krate.as_str()) {
                Some(ok) if ok.contains(&dep.as_str()) => {}
                Some(_) => problems.push(format!(
                    "{krate} depends on {dep}, which docs/architecture.md does not allow"
                )),
                None => problems.push(format!(
                    "{krate} is not in the architecture's table (add it there and here)"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `.rs` file under `dir`, with its module path (`a::b`; `""` for the crate root).
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("source");
            out.insert(parts.join("::"), text);
        }
    }
    out
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules of the crate that `module` names through `crate::…` or `super::…` paths.
fn imports(module: &str, text: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    let parent: Vec<&str> = match module.rsplit_once("::") {
        Some((p, _)) => p.split("::").collect(),
        None => Vec::new(),
    };
    let mut out = BTreeSet::new();
    let text = code(text);
    for (base, rest) in [("crate::", true), ("super::", false)] {
        for (i, _) in text.match_indices(base) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let path: Vec<&str> = text[i + base.len()..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut full: Vec<&str> = if rest { Vec::new() } else { parent.clone() };
            full.extend(path);
            for k in (1..=full.len()).rev() {
                let candidate = full[..k].join("::");
                if names.contains(&candidate) {
                    let nested = candidate.starts_with(&format!("{module}::"))
                        || module.starts_with(&format!("{candidate}::"));
                    if candidate != module && !nested {
                        out.insert(candidate);
                    }
                    break;
                }
            }
        }
    }
    out
}

/// A cycle in `edges`, as the modules on it, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut problems = Vec::new();
    for krate in crates() {
        let mods = modules(&crates_dir().join(&krate).join("src"));
        let names: BTreeSet<String> = mods.keys().filter(|m| !m.is_empty()).cloned().collect();
        let edges: BTreeMap<String, BTreeSet<String>> = mods
            .iter()
            .filter(|(m, _)| !m.is_empty())
            .map(|(m, text)| (m.clone(), imports(m, text, &names)))
            .collect();
        if let Some(c) = cycle(&edges) {
            problems.push(format!("{krate}: {}", c.join(" → ")));
        }
    }
    assert!(
        problems.is_empty(),
        "module import cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let names: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| (*s).to_string()).collect();
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), imports("a", "use crate::b::X;", &names));
    edges.insert(
        "b".to_string(),
        imports("b", "fn f() { super::c::g() }", &names),
    );
    edges.insert(
        "c".to_string(),
        imports("c", "use crate::a;\n// use crate::b;", &names),
    );
    assert_eq!(
        cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    edges.insert("c".to_string(), BTreeSet::new());
    assert_eq!(cycle(&edges), None);
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut missing = Vec::new();
    for krate in crates() {
        let src = crates_dir().join(&krate).join("src");
        for (module, text) in modules(&src) {
            if !text.trim_start().starts_with("//!") {
                missing.push(format!("{krate}::{module}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a `//!` doc:\n{}",
        missing.join("\n")
    );
}
