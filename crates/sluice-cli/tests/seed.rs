//! The sandbox's seed format: `sluice schema seed` prints the committed schema, the documented
//! example (`docs/examples/seed.json`, shown in docs/testing.md) is valid under it and is read
//! by the sandbox, the schema refuses what the reader refuses, and the documented fixture runs
//! `contact-360` on the example through `sluice test`.

use std::process::Output;

use serde_json::{Value, json};
use sluice_test_support::repo_root;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The fenced block of `lang` in docs/testing.md's "Seed data" section, `n`th (0-based).
fn seed_section_block(lang: &str, n: usize) -> String {
    let doc = read("docs/testing.md");
    let section = doc
        .split("## Seed data")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/testing.md has a `## Seed data` section");
    section
        .split(&format!("```{lang}\n"))
        .nth(n + 1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("no ```{lang} block {n} in the seed section"))
        .to_string()
}

fn schema() -> Value {
    serde_json::from_str(&read("schemas/seed.schema.json")).expect("the seed schema is JSON")
}

/// The schema's complaints about a seed (empty when it is valid).
fn schema_errors(seed: &Value) -> Vec<String> {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("the seed schema compiles");
    validator
        .iter_errors(seed)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn sluice_schema_seed_prints_the_committed_schema() {
    let out = sluice_test_support::sluice(SLUICE)
        .args(["schema", "seed"])
        .output()
        .expect("sluice runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim_end(),
        read("schemas/seed.schema.json").trim_end(),
        "run scripts/gen-schemas.sh"
    );
    assert_eq!(
        schema()["$id"],
        "https://sluice.dev/schemas/seed.schema.json"
    );
}

#[test]
fn the_documented_example_is_valid_and_read_by_the_sandbox() {
    let text = read("docs/examples/seed.json");
    assert_eq!(
        seed_section_block("json", 0),
        text,
        "docs/testing.md must show docs/examples/seed.json as it is"
    );
    let value: Value = serde_json::from_str(&text).expect("the example is JSON");
    assert_eq!(schema_errors(&value), Vec::<String>::new());
    let seed = sluice_sandbox::seed_from_json(&text).expect("the sandbox reads the example");
    assert_eq!(seed.contacts.len(), 2);
    assert_eq!(seed.tasks.len(), 3);
    assert_eq!(seed.contacts[0].str_field("firstName"), Some("Maria"));
    // `@now-1d` became an ISO date when the seed was read.
    assert!(
        seed.tasks[0].due_date.ends_with('Z'),
        "{}",
        seed.tasks[0].due_date
    );
}

/// Mistakes in a seed: the schema refuses each, and so does the sandbox's reader.
#[test]
fn the_schema_refuses_what_the_sandbox_refuses() {
    let good: Value = serde_json::from_str(&read("docs/examples/seed.json")).expect("JSON");
    type Change = fn(&mut Value);
    let mistakes: [(&str, Change); 6] = [
        ("an unknown top-level list", |s| {
            s["contact"] = json!([]);
        }),
        ("a task field that does not exist", |s| {
            s["tasks"][0]["due"] = json!("@now");
        }),
        ("a task without a title", |s| {
            if let Some(t) = s["tasks"][0].as_object_mut() {
                t.remove("title");
            }
        }),
        ("a contact without a location", |s| {
            if let Some(c) = s["contacts"][0].as_object_mut() {
                c.remove("locationId");
            }
        }),
        ("tags that are not text", |s| {
            s["contacts"][0]["tags"] = json!([1, 2]);
        }),
        ("completed as text", |s| {
            s["tasks"][0]["completed"] = json!("yes");
        }),
    ];
    for (what, change) in mistakes {
        let mut seed = good.clone();
        change(&mut seed);
        assert!(
            !schema_errors(&seed).is_empty(),
            "the schema accepts {what}"
        );
        assert!(
            sluice_sandbox::seed_from_json(&seed.to_string()).is_err(),
            "the sandbox accepts {what}"
        );
    }
    // Any other contact field is allowed by both.
    let mut seed = good;
    seed["contacts"][0]["favouriteColour"] = json!("teal");
    assert_eq!(schema_errors(&seed), Vec::<String>::new());
    assert!(sluice_sandbox::seed_from_json(&seed.to_string()).is_ok());
}

#[test]
fn the_documented_fixture_runs_contact_360_on_the_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("workflows")).expect("mkdir");
    std::fs::create_dir_all(root.join("docs/examples")).expect("mkdir");
    std::fs::write(
        root.join("workflows/contact-360.yaml"),
        sluice_test_support::workflow("contact-360"),
    )
    .expect("flow");
    std::fs::write(
        root.join("workflows/contact-360.test.yaml"),
        seed_section_block("yaml", 0),
    )
    .expect("fixture");
    std::fs::copy(
        repo_root().join("docs/examples/seed.json"),
        root.join("docs/examples/seed.json"),
    )
    .expect("seed");
    let out = sluice_test_support::sluice(SLUICE)
        .current_dir(root)
        .env("SLUICE_HOME", root)
        .args(["test", "workflows/contact-360.yaml"])
        .output()
        .expect("sluice runs");
    let text = format!("{}\n{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("test result: ok. 1 passed, 0 failed"),
        "{text}"
    );
    assert!(
        text.contains("ok      Maria's profile from our own data"),
        "{text}"
    );
    // The same case fails on the demo data (the seed is really what it ran on).
    let fixture =
        seed_section_block("yaml", 0).replace("    seed: ../docs/examples/seed.json\n", "");
    std::fs::write(root.join("workflows/contact-360.test.yaml"), fixture).expect("fixture");
    let out = sluice_test_support::sluice(SLUICE)
        .current_dir(root)
        .env("SLUICE_HOME", root)
        .args(["test", "workflows/contact-360.yaml"])
        .output()
        .expect("sluice runs");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
