//! `sluice connector import` through the binary: a public non-GHL OpenAPI 3.1 document
//! (OAI's Tic Tac Toe example, `tests/data/tictactoe.openapi.yaml`) becomes a connector whose
//! flow validates, has its template references type-checked and runs against a local stub;
//! problems of the document are reported at their JSON pointer; a URL is read; the same input
//! writes the same file; a file edited by hand is not overwritten without `--force`.

use std::path::PathBuf;

use serde_json::json;
use sluice_test_support::{TempProject, output};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn document() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tictactoe.openapi.yaml")
}

const TOML: &str = "[credentials.ttt]\nkind = \"bearer\"\ntoken = { env = \"TTT_TOKEN\" }\n";

const FLOW: &str = r#"
name: play
connections:
  game: { connector: tictactoe, credential: ttt }
steps:
  mark:
    action: game.put_square
    with: { row: 1, column: 2, body: X }
  square:
    action: game.get_square
    after: [mark]
    with: { row: 1, column: 2 }
output:
  winner: "{{ steps.mark.winner }}"
  firstRow: "{{ steps.mark.board.[0] }}"
  square: "{{ steps.square }}"
"#;

async fn import(project: &TempProject, args: &[&str]) -> std::process::Output {
    let mut cmd = project.sluice(SLUICE);
    cmd.args(["connector", "import"]).args(args);
    output(cmd).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn an_openapi_31_document_becomes_a_connector_whose_flow_is_checked_and_runs() {
    let project = TempProject::new(TOML).with_flow("play", FLOW);
    let doc = document().display().to_string();
    let out = import(&project, &[&doc, "--name", "tictactoe"]).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        text(&out.stdout).contains("wrote connectors/tictactoe.yaml (3 operation(s))"),
        "{}",
        text(&out.stdout)
    );
    // The document's problems, each at its JSON pointer; the rest is imported.
    assert!(
        stderr.contains("tictactoe.openapi.yaml#/servers: no absolute server URL"),
        "{stderr}"
    );
    assert!(
        stderr.contains("#/components/securitySchemes/defaultApiKey: security scheme `defaultApiKey` (apiKey) has no Sluice auth kind"),
        "{stderr}"
    );
    let connector = project.read("connectors/tictactoe.yaml");
    assert!(connector.starts_with("# yaml-language-server: $schema=../schemas/connector.schema.json\n# sluice connector import: fingerprint "));
    assert!(
        connector.contains("Tic Tac Toe, version 1.0.0 (OpenAPI 3.1.0)"),
        "{connector}"
    );
    for expected in [
        "  get_board:",
        "  put_square:",
        "    scopes: [\"board:write\"]",
        "      row: { in: path, type: integer, required: true, description: Board row (vertical coordinate) }",
        "      body:\n        in: body_root\n        type: string\n        required: true",
        "token_url: \"https://learn.openapis.org/oauth/2.0/token\"",
    ] {
        assert!(
            connector.contains(expected),
            "`{expected}` not in:\n{connector}"
        );
    }

    // The flow validates: its references are checked against the imported response schemas.
    let mut validate = project.sluice(SLUICE);
    validate.args(["validate", "flows/play.yaml"]);
    let out = output(validate).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    project.write_flow(
        "typo",
        &FLOW
            .replace("name: play", "name: typo")
            .replace("steps.mark.winner", "steps.mark.winer"),
    );
    let mut validate = project.sluice(SLUICE);
    validate.args(["validate", "flows/typo.yaml"]);
    let out = output(validate).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`mark` has no field `winer`"), "{stderr}");
    assert!(stderr.contains("did you mean `winner`?"), "{stderr}");
    project.write_flow(
        "typo",
        "name: typo\nsteps:\n  x:\n    value: 1\noutput: \"{{ steps.x }}\"\n",
    );

    // It runs against a local stub, with the credential as a bearer token.
    let stub = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/board/1/2"))
        .and(header("authorization", "Bearer ttt-secret"))
        .and(body_json(json!("X")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "winner": ".", "board": [[".", "X", "."], [".", ".", "."], [".", ".", "."]]
        })))
        .expect(1)
        .mount(&stub)
        .await;
    Mock::given(method("GET"))
        .and(path("/board/1/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!("X")))
        .expect(1)
        .mount(&stub)
        .await;
    let mut run = project.sluice(SLUICE);
    run.args(["run", "flows/play.yaml", "--no-record", "--connection"])
        .arg(format!("game.base_url={}", stub.uri()))
        .env("TTT_TOKEN", "ttt-secret");
    let out = output(run).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(
        result,
        json!({"winner": ".", "firstRow": [".", "X", "."], "square": "X"})
    );
}

#[tokio::test]
async fn importing_again_is_deterministic_and_keeps_hand_edits() {
    let project = TempProject::new(TOML);
    let doc = document().display().to_string();
    let out = import(&project, &[&doc, "--name", "tictactoe"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = project.read("connectors/tictactoe.yaml");

    let out = import(&project, &[&doc, "--name", "tictactoe"]).await;
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("is up to date"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(project.read("connectors/tictactoe.yaml"), first);
    let out = import(&project, &[&doc, "--name", "tictactoe", "--check"]).await;
    assert_eq!(out.status.code(), Some(0));

    // Only the operations of a tag or a path glob.
    let out = import(
        &project,
        &[&doc, "--name", "board-only", "--include", "/board"],
    )
    .await;
    assert!(
        text(&out.stdout).contains("1 operation(s), 2 left out by --include"),
        "{}",
        text(&out.stdout)
    );

    // Edited by hand: neither a check nor an import replaces it.
    let edited = first.replace("Get the whole board.", "The board, as I like it.");
    project.write("connectors/tictactoe.yaml", &edited);
    let out = import(&project, &[&doc, "--name", "tictactoe", "--check"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = import(&project, &[&doc, "--name", "tictactoe"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("was edited by hand since it was imported; it is left as it is"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(project.read("connectors/tictactoe.yaml"), edited);
    let out = import(&project, &[&doc, "--name", "tictactoe", "--force"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(project.read("connectors/tictactoe.yaml"), first);

    // A bad name is refused before anything is read.
    let out = import(&project, &[&doc, "--name", "../escape"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a connector name"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn a_url_is_read_and_broken_operations_are_reported_and_skipped() {
    let mut doc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(document()).expect("document"))
            .expect("YAML");
    // Break one operation: its response points at nothing.
    doc["paths"]["/board"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] =
        json!("#/components/schemas/nothing");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/ttt.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&doc))
        .mount(&server)
        .await;
    let project = TempProject::new(TOML);
    let url = format!("{}/api/ttt.json", server.uri());
    let out = import(&project, &[&url, "--name", "ttt"]).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{url}#/paths/~1board/get/responses/200/content/application~1json/schema/$ref: `$ref: #/components/schemas/nothing` points at nothing — operation left out"
        )),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("(2 operation(s))"),
        "{}",
        text(&out.stdout)
    );
    let connector = project.read("connectors/ttt.yaml");
    assert!(!connector.contains("get_board:"));

    // Not OpenAPI 3 at all.
    project.write("swagger.json", r#"{"swagger": "2.0", "paths": {}}"#);
    let out = import(&project, &["swagger.json", "--name", "old"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not an OpenAPI 3.0 or 3.1 document: it is Swagger 2.0"),
        "{}",
        text(&out.stderr)
    );
}
