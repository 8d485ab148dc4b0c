//! `sluice test` through the binary, on copies of the example in temporary folders: a passing
//! fixture, a readable diff, `--update`, `--record` (no secret in the cassette) and replay.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use sluice_test_support::repo_root;

/// `sluice` in the repository, with `home` as its `SLUICE_HOME`.
fn sluice(home: &Path) -> Command {
    let mut cmd = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.current_dir(repo_root()).env("SLUICE_HOME", home);
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    sluice(home).args(args).output().expect("sluice runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A temporary folder with a copy of contact-360, its fixture and cassette.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in [
        "contact-360.yaml",
        "contact-360.test.yaml",
        "contact-360.cassette.json",
    ] {
        std::fs::copy(repo_root().join("workflows").join(f), dir.path().join(f)).expect("copy");
    }
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn the_example_fixture_passes() {
    let dir = example();
    let flow = dir.path().join("contact-360.yaml");
    let out = run(dir.path(), &["test", path_str(&flow)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("test result: ok. 5 passed, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("  ok      replays a recording of the sandbox (cassette)"));
    // The folder form finds the fixture too.
    let out = run(dir.path(), &["test", path_str(dir.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);
}

#[test]
fn a_wrong_expectation_shows_a_diff_and_update_fixes_it() {
    let dir = example();
    let fixture = dir.path().join("contact-360.test.yaml");
    let original = std::fs::read_to_string(&fixture).expect("read");
    let broken = original
        .replacen(
            "        name: Ada Lovelace\n",
            "        name: Ada Byron\n",
            1,
        )
        .replacen("        overdueCount: 1\n", "        overdueCount: 2\n", 1)
        .replacen(
            "        - GET /contacts/ct_ada/notes\n",
            "        - GET /contacts/ct_ada/notes?limit=3\n",
            1,
        );
    assert_ne!(broken, original);
    std::fs::write(&fixture, &broken).expect("write");

    let out = run(dir.path(), &["test", path_str(&fixture)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout
            .contains("  FAILED  merges the profile, latest notes and open tasks (canned answers)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"output.name: expected "Ada Byron", got "Ada Lovelace""#),
        "{stdout}"
    );
    assert!(
        stdout.contains("output.overdueCount: expected 2, got 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("requests (- expected, + sent):"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- GET /contacts/ct_ada/notes?limit=3   (expected, not sent)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ GET /contacts/ct_ada/notes   (sent, not expected)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("test result: FAILED. 4 passed, 1 failed"),
        "{stdout}"
    );

    let out = run(dir.path(), &["test", path_str(&fixture), "--update"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 updated"), "{stdout}");
    let updated = std::fs::read_to_string(&fixture).expect("read");
    assert_eq!(
        updated, original,
        "--update restores what the flow does, comments kept"
    );

    let out = run(dir.path(), &["test", path_str(&fixture)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);
}

#[test]
fn record_writes_a_cassette_without_secrets_and_replay_needs_no_sandbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        sluice_test_support::workflow_path("contact-360"),
        dir.path().join("contact-360.yaml"),
    )
    .expect("copy");
    // A note that echoes the token, as a careless API might: the cassette must not keep it.
    let b64 = base64::engine::general_purpose::STANDARD.encode("sandbox-token");
    let seed = serde_json::json!({
        "locations": [{ "id": "loc_sandbox", "name": "Test" }],
        "contacts": [{ "id": "ct_x", "locationId": "loc_sandbox", "firstName": "Xe", "lastName": "Ng",
                       "email": "x@example.com", "phone": "+1555", "companyName": "X", "tags": [] }],
        "notes": [{ "id": "n1", "contactId": "ct_x", "body": format!("token sandbox-token or {b64}"), "dateAdded": "@now-1h" }],
        "tasks": [{ "id": "t1", "contactId": "ct_x", "title": "Later", "dueDate": "@now+3d" }]
    });
    std::fs::write(dir.path().join("seed.json"), seed.to_string()).expect("seed");
    let fixture = dir.path().join("contact-360.test.yaml");
    std::fs::write(
        &fixture,
        "cases:\n  - name: recorded\n    inputs: { contactId: ct_x }\n    seed: seed.json\n    cassette: contact-360.cassette.json\n",
    )
    .expect("fixture");

    // No cassette yet: a clear failure.
    let out = run(dir.path(), &["test", path_str(&fixture)]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("--record"), "{stdout}");

    let out = run(
        dir.path(),
        &["test", path_str(&fixture), "--record", "--update"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("recorded  recorded: 3 exchanges"),
        "{stdout}"
    );
    let cassette =
        std::fs::read_to_string(dir.path().join("contact-360.cassette.json")).expect("cassette");
    for secret in [
        "sandbox-token".to_string(),
        b64.clone(),
        base64::engine::general_purpose::STANDARD.encode("sandbox-token:"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("sandbox-token"),
    ] {
        assert!(
            !cassette.contains(&secret),
            "{secret} in the cassette:\n{cassette}"
        );
    }
    assert!(cassette.contains("[REDACTED]"), "{cassette}");
    assert!(cassette.contains("\"dueDate\": \"@now+3d\""), "{cassette}");
    let written = std::fs::read_to_string(&fixture).expect("fixture");
    assert!(
        written.contains("    expect:\n      status: succeeded\n"),
        "{written}"
    );
    assert!(written.contains("name: Xe Ng"), "{written}");

    // Replay: only the cassette answers (a request it lacks is not sent anywhere else).
    let out = run(dir.path(), &["test", path_str(&fixture)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let edited = cassette.replace("GET /contacts/ct_x/notes", "GET /contacts/ct_x/elsewhere");
    std::fs::write(dir.path().join("contact-360.cassette.json"), edited).expect("write");
    let out = run(dir.path(), &["test", path_str(&fixture)]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no answer for GET /contacts/ct_x/notes (step `notes`)"),
        "{stdout}"
    );
}

#[test]
fn a_bad_fixture_is_a_usage_error_with_its_line() {
    let dir = example();
    let fixture = dir.path().join("contact-360.test.yaml");
    std::fs::write(
        &fixture,
        "cases:\n  - name: typo\n    inptus: { contactId: ct_ada }\n",
    )
    .expect("write");
    let out = run(dir.path(), &["test", path_str(&fixture)]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("contact-360.test.yaml:3:5"), "{stderr}");
    assert!(stderr.contains("inptus"), "{stderr}");
    assert!(stderr.contains("inputs"), "a suggestion: {stderr}");
}

#[test]
fn a_request_without_an_answer_is_named() {
    let dir = example();
    let fixture = dir.path().join("contact-360.test.yaml");
    std::fs::write(
        &fixture,
        "cases:\n  - name: half answered\n    inputs: { contactId: ct_ada }\n    responses:\n      contact: { body: { contact: { id: ct_ada } } }\n    expect: { status: failed }\n",
    )
    .expect("write");
    let out = run(dir.path(), &["test", path_str(&fixture)]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "no answer for GET /contacts/ct_ada/notes (step `notes`): add `notes:` under `responses:`"
        ),
        "{stdout}"
    );
}
