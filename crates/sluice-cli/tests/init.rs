//! `sluice init DIR` through the binary: the new project validates, its first flow runs
//! against the sandbox, its files say what they should, and nothing is ever overwritten.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// `sluice` in `cwd`, its runs recorded under `home`.
fn sluice(cwd: &Path, home: &Path) -> Command {
    let mut cmd = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.current_dir(cwd).env("SLUICE_HOME", home);
    cmd
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

#[test]
fn init_makes_a_project_that_validates_and_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let out = sluice(tmp.path(), &home)
        .args(["init", "my-flows"])
        .output()
        .expect("sluice init");
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("workflows/hello.yaml"), "{stdout}");
    let project = tmp.path().join("my-flows");

    // Every file, with what it must say.
    let read = |rel: &str| std::fs::read_to_string(project.join(rel)).expect(rel);
    let hello = read("workflows/hello.yaml");
    assert!(hello.starts_with("# yaml-language-server: $schema=../schemas/flow.schema.json\n"));
    let schema: Value = serde_json::from_str(&read("schemas/flow.schema.json")).expect("JSON");
    assert_eq!(
        schema["$id"], "https://sluice.dev/schemas/flow.schema.json",
        "the flow schema"
    );
    let connector: Value =
        serde_json::from_str(&read("schemas/connector.schema.json")).expect("JSON");
    assert_eq!(
        connector["$id"],
        "https://sluice.dev/schemas/connector.schema.json"
    );
    let vscode: Value = serde_json::from_str(&read(".vscode/settings.json")).expect("JSON");
    assert_eq!(
        vscode["yaml.schemas"]["./schemas/flow.schema.json"][0],
        "workflows/*.yaml"
    );
    let toml = read("sluice.toml");
    assert!(toml.contains("[credentials.ghl_main]"), "{toml}");
    assert!(toml.contains("token = { env = \"GHL_TOKEN\" }"), "{toml}");
    assert!(toml.contains("[runs]\n") && toml.contains("retention = \"30d\""));
    let gitignore = read(".gitignore");
    for entry in [".sluice/", "*.token", ".env"] {
        assert!(
            gitignore.lines().any(|l| l == entry),
            "{entry} in .gitignore"
        );
    }

    // `sluice validate` in the project (its default folder is `workflows`): clean.
    let out = sluice(&project, &home)
        .args(["validate", "--deny-warnings"])
        .output()
        .expect("validate");
    let stderr = ok(&out);
    assert!(
        stderr.contains("checked 1 flow: 0 errors, 0 warnings"),
        "{stderr}"
    );

    // The first flow runs against the sandbox, from outside the project too.
    let out = sluice(tmp.path(), &home)
        .args([
            "run",
            "my-flows/workflows/hello.yaml",
            "--sandbox",
            "-i",
            "contactId=ct_ada",
        ])
        .output()
        .expect("run");
    ok(&out);
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["name"], "Ada Lovelace");
    assert_eq!(json["email"], "ada@example.com");
    assert_eq!(json["notes"], 2);
    assert_eq!(json["openTasks"].as_array().map(Vec::len), Some(2));

    // The project's example is what the schema describes: the written schema accepts the
    // built-in operations it uses.
    assert!(
        schema.to_string().contains("ghl.list_notes"),
        "the schema lists the built-in operations"
    );
}

#[test]
fn init_never_overwrites_a_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    std::fs::write(tmp.path().join("sluice.toml"), "# mine\n").expect("write");
    let out = sluice(tmp.path(), &home)
        .args(["init", "."])
        .output()
        .expect("sluice init");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not overwriting") && stderr.contains("sluice.toml"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("sluice.toml")).expect("read"),
        "# mine\n",
        "untouched"
    );
    assert!(
        !tmp.path().join("workflows").exists(),
        "nothing was written"
    );

    // A second init of a fresh project refuses too, and names every file.
    let out = sluice(tmp.path(), &home)
        .args(["init", "p"])
        .output()
        .expect("init");
    ok(&out);
    let out = sluice(tmp.path(), &home)
        .args(["init", "p"])
        .output()
        .expect("init again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for name in [
        "hello.yaml",
        ".gitignore",
        "settings.json",
        "flow.schema.json",
    ] {
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

#[test]
fn init_writes_the_project_schemas_and_maps_fixtures_to_their_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    ok(&sluice(tmp.path(), &home)
        .args(["init", "p"])
        .output()
        .expect("init"));
    let project = tmp.path().join("p");
    let read = |rel: &str| std::fs::read_to_string(project.join(rel)).expect(rel);

    // Flows and fixtures each have their schema; fixtures are kept out of the flow schema's files.
    let vscode: Value = serde_json::from_str(&read(".vscode/settings.json")).expect("JSON");
    let schemas = &vscode["yaml.schemas"];
    assert_eq!(
        schemas["./schemas/flow.schema.json"],
        serde_json::json!([
            "workflows/*.yaml",
            "workflows/*.yml",
            "!workflows/*.test.yaml",
            "!workflows/*.test.yml"
        ])
    );
    assert_eq!(
        schemas["./schemas/fixture.schema.json"],
        serde_json::json!(["workflows/*.test.yaml", "workflows/*.test.yml"])
    );
    let fixture: Value = serde_json::from_str(&read("schemas/fixture.schema.json")).expect("JSON");
    assert_eq!(
        fixture["$id"],
        "https://sluice.dev/schemas/fixture.schema.json"
    );
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            sluice_test_support::repo_root().join("schemas/fixture.schema.json"),
        )
        .expect("the committed fixture schema"),
    )
    .expect("JSON");
    assert_eq!(fixture, committed);

    // The flow schema is the project's: only its connections' actions pass.
    let flow: Value = serde_json::from_str(&read("schemas/flow.schema.json")).expect("JSON");
    let action = &flow["$defs"]["Step"]["properties"]["action"];
    let pattern = action["pattern"]
        .as_str()
        .expect("a closed list of actions");
    assert!(pattern.starts_with("^(ghl\\.get_contact|"), "{pattern}");
    assert!(
        action["patternErrorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("sluice schema flow --write")
    );
    // `sluice schema flow --project` prints the same; the generic one differs.
    let out = sluice(&project, &home)
        .args(["schema", "flow", "--project"])
        .output()
        .expect("schema");
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        read("schemas/flow.schema.json")
    );
    let out = sluice(&project, &home)
        .args(["schema", "flow"])
        .output()
        .expect("schema");
    let generic: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        generic["$defs"]["Step"]["properties"]["action"]["pattern"]
            .as_str()
            .is_some_and(|p| p.starts_with("^[A-Za-z0-9_-]+"))
    );
}

#[test]
fn validate_says_when_the_schema_is_stale_and_schema_write_refreshes_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    ok(&sluice(tmp.path(), &home)
        .args(["init", "p"])
        .output()
        .expect("init"));
    let project = tmp.path().join("p");
    let validate = |project: &Path| {
        let out = sluice(project, &home)
            .args(["validate", "--format", "json"])
            .output()
            .expect("validate");
        let stderr = ok(&out);
        let _: Value = serde_json::from_slice(&out.stdout).expect("stdout stays JSON");
        stderr
    };
    assert!(
        !validate(&project).contains("out of date"),
        "fresh after init"
    );

    // A flow with a connection named `crm`: the written schema does not know its actions.
    let hello = std::fs::read_to_string(project.join("workflows/hello.yaml")).expect("hello");
    let crm = hello
        .replace("name: hello", "name: crm-hello")
        .replace("  ghl: {", "  crm: {")
        .replace("action: ghl.", "action: crm.");
    std::fs::write(project.join("workflows/crm-hello.yaml"), crm).expect("write");
    let stderr = validate(&project);
    assert!(
        stderr.contains("schemas/flow.schema.json is out of date")
            && stderr.contains("sluice schema flow --write"),
        "{stderr}"
    );

    // Refreshed from a subfolder of the project: written where the project keeps it.
    let out = sluice(&project.join("workflows"), &home)
        .args(["schema", "flow", "--write"])
        .output()
        .expect("schema --write");
    ok(&out);
    let written = project.join("schemas/flow.schema.json");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&written.display().to_string()),
        "says what it wrote"
    );
    assert!(
        std::fs::read_to_string(&written)
            .expect("schema")
            .contains("crm\\\\.get_contact")
    );
    assert!(!validate(&project).contains("out of date"));

    // Outside a project: a clear error.
    let out = sluice(tmp.path(), &home)
        .args(["schema", "flow", "--write"])
        .output()
        .expect("schema --write");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no sluice.toml in this folder or above"),
        "{stderr}"
    );
}
