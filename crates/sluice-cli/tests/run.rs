//! `sluice run` through the binary against a local HTTP server (wiremock on 127.0.0.1):
//! output on stdout, exit codes, `--dry-run`, logs, and Ctrl-C.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::{TempProject, output};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// `sluice` in the repository; its runs are recorded in a store of the test process's own,
/// not in the repository.
fn sluice() -> Command {
    let mut cmd = sluice_test_support::sluice(SLUICE);
    let home = std::env::temp_dir().join(format!("sluice-run-tests-{}", std::process::id()));
    cmd.current_dir(sluice_test_support::repo_root())
        .env("SLUICE_HOME", home);
    cmd
}

async fn ghl(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({"contact": {
            "id": "c1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+15550100",
            "tags": ["vip"], "timezone": "Europe/London", "companyName": "Engines Ltd"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1/notes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"notes": [
            {"id": "n1", "body": "Call back on Monday", "dateAdded": "2026-11-20T10:00:00.000Z"},
            {"id": "n2", "body": "Sent the offer", "dateAdded": "2026-11-25T10:00:00.000Z"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tasks": [
            {"id": "t1", "title": "Call", "completed": false, "dueDate": "2020-01-01T00:00:00.000Z"},
            {"id": "t2", "title": "Mail", "completed": true, "dueDate": "2020-01-01T00:00:00.000Z"}
        ]})))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_360_prints_the_merged_contact() {
    let server = ghl(Duration::ZERO).await;
    let mut cmd = sluice();
    cmd.args([
        "run",
        "workflows/contact-360.yaml",
        "--input",
        "contactId=c1",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()));
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["id"], json!("c1"));
    assert_eq!(json["name"], json!("Ada Lovelace"));
    assert_eq!(json["openTasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_every_request() {
    let server = ghl(Duration::ZERO).await;
    let mut cmd = sluice();
    cmd.args([
        "run",
        "workflows/contact-360.yaml",
        "-i",
        "contactId=c1",
        "--dry-run",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()));
    let out = output(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&server.uri(), "http://[SERVER]");
    assert!(
        stdout.starts_with("1. contact: GET http://[SERVER]/contacts/c1\n"),
        "{stdout}"
    );
    assert!(stdout.contains("   Version: 2021-07-28\n"), "{stdout}");
    assert!(
        stdout.contains(": GET http://[SERVER]/contacts/c1/notes"),
        "{stdout}"
    );
    assert!(
        stdout.contains(": GET http://[SERVER]/contacts/c1/tasks"),
        "{stdout}"
    );
    assert!(stdout.contains("output:\n{"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_api_exits_1_with_the_api_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"statusCode": 404, "message": "Contact not found"})),
        )
        .mount(&server)
        .await;
    let mut cmd = sluice();
    cmd.args([
        "run",
        "workflows/contact-360.yaml",
        "-i",
        "contactId=nope",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()));
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: step `contact` failed: the API answered 404: Contact not found (HTTP 404)"
        ),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    for args in [
        vec!["run", "workflows/contact-360.yaml"],
        vec!["run", "workflows/contact-360.yaml", "-i", "contactID=c1"],
        vec![
            "run",
            "workflows/contact-360.yaml",
            "-i",
            "contactId=c1",
            "--connection",
            "ghl.url=http://127.0.0.1:9",
        ],
        vec!["run", "workflows/missing.yaml"],
    ] {
        let mut cmd = sluice();
        cmd.args(&args);
        let out = output(cmd).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_go_to_stderr() {
    let server = ghl(Duration::ZERO).await;
    let mut cmd = sluice();
    cmd.args([
        "run",
        "workflows/contact-360.yaml",
        "-i",
        "contactId=c1",
        "-v",
        "--log-format",
        "json",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()));
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    let finished: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == json!("Step finished."))
        .collect();
    assert_eq!(finished.len(), 5, "{stderr}");
    serde_json::from_slice::<Value>(&out.stdout).expect("stdout stays pure JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_and_exits_130() {
    let server = ghl(Duration::from_secs(20)).await;
    let mut cmd = sluice();
    cmd.args([
        "run",
        "workflows/contact-360.yaml",
        "-i",
        "contactId=c1",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    // Interrupt once the first request is in flight (the run is under way, its Ctrl-C handler
    // installed), however slowly the process started.
    let waited = Instant::now();
    while server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no request arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("cancelled after"), "{stderr}");
    assert!(
        stderr.contains("steps: 0 succeeded, 0 failed, 0 skipped, 5 cancelled"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "in-flight requests were dropped, not awaited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_refresh_rotate_and_persist_across_runs() {
    let sandbox = sluice_sandbox::Sandbox::start(
        sluice_sandbox::SandboxConfig::default(),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .expect("sandbox");
    let project = TempProject::new(
        "[credentials.ghl_oauth]\nkind = \"oauth2\"\nclient_id = { env = \"T_CLIENT_ID\" }\nclient_secret = { env = \"T_CLIENT_SECRET\" }\nrefresh_token = { env = \"T_REFRESH\" }\nlocation_id = \"loc_sandbox\"\n",
    );
    // contact-360 with the OAuth credential instead of its bearer token.
    project.write_flow(
        "contact-360",
        &sluice_test_support::workflow("contact-360")
            .replace("credential: ghl_main", "credential: ghl_oauth"),
    );
    let run = |project: &TempProject, base: &str| {
        let mut cmd = project.sluice(SLUICE);
        cmd.env("T_CLIENT_ID", "sandbox-client")
            .env("T_CLIENT_SECRET", "sandbox-secret")
            .env("T_REFRESH", "sandbox-refresh-token")
            .args([
                "run",
                "flows/contact-360.yaml",
                "-i",
                "contactId=ct_ada",
                "--connection",
            ])
            .arg(format!("ghl.base_url={base}"));
        cmd
    };
    let base = sandbox.base_url();
    let first = output(run(&project, &base)).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        sandbox.state().oauth_refresh_count(),
        1,
        "no access token was configured: one refresh"
    );
    // The rotated pair is in the run store (sealed), not in a file of the folder.
    assert!(!project.path().join(".sluice/tokens.json").exists());
    let stored: Vec<(String,)> = {
        use sqlx::Connection as _;
        let mut db = sqlx::SqliteConnection::connect(&project.store_url())
            .await
            .expect("the store");
        sqlx::query_as("SELECT pair FROM oauth_tokens WHERE credential = 'ghl_oauth'")
            .fetch_all(&mut db)
            .await
            .expect("oauth_tokens")
    };
    assert_eq!(stored.len(), 1, "the rotated pair was saved");
    assert!(stored[0].0.starts_with("sluice:v1:"), "sealed at rest");
    assert!(!stored[0].0.contains("sbx-"), "sealed at rest");
    // The configured refresh token is spent now (the sandbox rejects reuse): the second run must
    // use the persisted pair, whose access token is still valid, so no second refresh happens.
    let second = output(run(&project, &base)).await;
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(sandbox.state().oauth_refresh_count(), 1);
    for out in [&first, &second] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("sandbox-secret")
                && !all.contains("sandbox-refresh-token")
                && !all.contains("sbx-at-"),
            "{all}"
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_come_from_a_json_file_and_the_sandbox_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("inputs.json");
    std::fs::write(&file, r#"{"contactId": "ct_ada"}"#).expect("write");
    let mut cmd = sluice();
    cmd.args(["run", "workflows/contact-360.yaml", "--sandbox", "--inputs"])
        .arg(&file);
    let out = output(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["name"], json!("Ada Lovelace"));
    assert_eq!(
        json["overdueCount"],
        json!(1),
        "the demo seed has one overdue open task for Ada"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_can_come_from_the_store() {
    let server = ghl(Duration::ZERO).await;
    let project = TempProject::new(
        "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { store = \"ghl_pit\" }\n",
    )
    .with_example("contact-360");
    let store = project.store_url();
    let run = |store: &str| {
        let mut cmd = project.sluice(SLUICE);
        cmd.args([
            "run",
            "flows/contact-360.yaml",
            "-i",
            "contactId=c1",
            "--store",
            store,
            "--connection",
        ])
        .arg(format!("ghl.base_url={}", server.uri()));
        cmd
    };
    // Not stored yet: a usage error that says how to store it.
    let missing = output(run(&store)).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains(
        "secret `ghl_pit` is not in the store; set it with `sluice secrets set ghl_pit`"
    ));
    let mut set = project.sluice(SLUICE);
    set.args(["secrets", "set", "ghl_pit", "--store", &store])
        .stdin(Stdio::piped());
    let mut child = set.spawn().expect("spawn");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"pit-store-secret-1\n")
            .expect("write");
    }
    assert!(child.wait().expect("wait").success());
    let out = output(run(&store)).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let auth: Vec<String> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .collect();
    assert_eq!(auth.len(), 3);
    assert!(auth.iter().all(|a| a == "Bearer pit-store-secret-1"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("pit-store-secret-1"));
}

/// A flow posting to a webhook whose URL and token come from `[secrets]`, and one whose URL is
/// an input.
const HOOK_FLOW: &str = r#"
name: hook
inputs:
  text: { type: string }
connections:
  hook:
    connector: webhook
    base_url: "{{ secrets.hook_url }}"
    headers: { X-Hook-Token: "{{ secrets.hook_token }}" }
steps:
  post:
    action: hook.post_json
    with: { body: { text: "{{ inputs.text }}" } }
output: "{{ steps.post }}"
"#;

const URL_FLOW: &str = r#"
name: by-input
inputs:
  url: { type: string }
connections:
  hook: { connector: webhook, base_url: "{{ inputs.url }}" }
steps:
  post:
    action: hook.post_json
    with: { body: { ping: true } }
output: "{{ steps.post }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_base_url_and_headers_come_from_secrets_and_inputs() {
    use wiremock::matchers::header;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/T123"))
        .and(header("x-hook-token", "tok-secret-42"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let toml =
        "[secrets]\nhook_url = { env = \"HOOK_URL\" }\nhook_token = { env = \"HOOK_TOKEN\" }\n";
    let project = TempProject::new(toml)
        .with_flow("hook", HOOK_FLOW)
        .with_flow("by-input", URL_FLOW);
    let validate = output({
        let mut c = project.sluice(SLUICE);
        c.args(["validate", "flows"]);
        c
    })
    .await;
    let text = String::from_utf8_lossy(&validate.stderr).to_string();
    assert_eq!(validate.status.code(), Some(0), "{text}");
    assert!(
        text.contains("0 warnings"),
        "inputs read by a base_url are used: {text}"
    );

    let secret_url = format!("{}/hooks/T123", server.uri());
    let mut cmd = project.sluice(SLUICE);
    cmd.args([
        "run",
        "flows/hook.yaml",
        "--no-record",
        "-i",
        "text=hi",
        "-v",
    ])
    .env("HOOK_URL", &secret_url)
    .env("HOOK_TOKEN", "tok-secret-42");
    let out = output(cmd).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "\"ok\"");
    assert!(
        !stderr.contains("tok-secret-42"),
        "the header secret is masked: {stderr}"
    );

    // An input that is no URL fails the run at its start, naming the connection.
    let mut cmd = project.sluice(SLUICE);
    cmd.args([
        "run",
        "flows/by-input.yaml",
        "--no-record",
        "-i",
        "url=not-a-url",
    ]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "connection `hook`: its `base_url` gave `not-a-url`, not an absolute http(s) URL"
        ),
        "{stderr}"
    );

    // An undeclared secret is a validation error.
    let bad = TempProject::new("").with_flow("hook", HOOK_FLOW);
    let out = output({
        let mut c = bad.sluice(SLUICE);
        c.args(["validate", "flows"]);
        c
    })
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("secret `hook_url` is not declared in sluice.toml"),
        "{stderr}"
    );
}

/// A task is created, then a note reads the new task's id: a dry run goes on past the write.
const WRITES_FLOW: &str = r#"
name: writes
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  task:
    action: ghl.create_task
    with: { contactId: "{{ inputs.contactId }}", title: Call back, dueDate: "2030-01-01T00:00:00Z", completed: false }
  note:
    action: ghl.create_note
    with: { contactId: "{{ inputs.contactId }}", body: "Task {{ steps.task.task.id }} is due" }
output:
  task: "{{ steps.task }}"
  note: "{{ steps.note.note.body }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_goes_on_past_writes_with_placeholders() {
    let project =
        TempProject::new(sluice_test_support::GHL_MAIN_FROM_ENV).with_flow("writes", WRITES_FLOW);
    let mut cmd = project.sluice(SLUICE);
    cmd.args([
        "run",
        "flows/writes.yaml",
        "--sandbox",
        "--dry-run",
        "-i",
        "contactId=ct_ada",
    ]);
    let out = output(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both writes are shown, neither is sent; the second renders with the first's placeholder.
    assert!(stdout.contains("1. task: POST "), "{stdout}");
    assert!(stdout.contains("2. note: POST "), "{stdout}");
    assert_eq!(
        stdout.matches("(write: not sent in a dry run)").count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""body":"Task (dry run) is due""#),
        "{stdout}"
    );
    let output_json = stdout.split("output:\n").nth(1).expect("the output");
    let value: Value = serde_json::from_str(output_json).expect("JSON output");
    assert_eq!(value["task"]["dry_run"], true);
    assert_eq!(value["task"]["task"]["id"], "(dry run)");
    assert_eq!(value["note"], "(dry run)");
}

/// A `for_each` over contact ids whose results are the flow's output.
const LINES_FLOW: &str = r#"
name: contacts-lines
inputs:
  ids: { type: array }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main, read_only: true }
steps:
  contacts:
    for_each: "{{ inputs.ids }}"
    as: id
    concurrency: 4
    action: ghl.get_contact
    with: { contactId: "{{ id }}" }
output: "{{ steps.contacts }}"
"#;

/// `/contacts/cK` answers `{"contact": {"id": "cK"}}` after `delays[K]`.
async fn contacts_server(delays: &[Duration]) -> MockServer {
    let server = MockServer::start().await;
    for (k, delay) in delays.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path(format!("/contacts/c{k}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_delay(*delay)
                    .set_body_json(json!({ "contact": { "id": format!("c{k}") } })),
            )
            .mount(&server)
            .await;
    }
    server
}

fn lines_project() -> TempProject {
    TempProject::new(
        "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\nlocation_id = \"loc1\"\n",
    )
    .with_flow("contacts-lines", LINES_FLOW)
}

fn lines_run(project: &TempProject, server: &MockServer, ids: usize) -> Command {
    let ids: Vec<String> = (0..ids).map(|k| format!("c{k}")).collect();
    project.write("ids.json", json!({ "ids": ids }).to_string());
    let mut cmd = project.sluice(SLUICE);
    cmd.env("GHL_TOKEN", "pit-lines-secret-7")
        .args([
            "run",
            "flows/contacts-lines.yaml",
            "--inputs",
            "ids.json",
            "--output",
            "jsonl",
            "--connection",
        ])
        .arg(format!("ghl.base_url={}", server.uri()));
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_jsonl_writes_each_item_as_soon_as_it_and_those_before_it_are_done() {
    use std::io::BufRead as _;
    // c0 is slower than c1..c3, so their order is the input's, not the answers'; c4 is held
    // (far longer than the test waits), so every line read before it is streamed, not printed
    // at the end.
    let mut delays = vec![Duration::from_millis(400)];
    delays.extend([Duration::ZERO; 3]);
    delays.push(Duration::from_secs(120));
    let server = contacts_server(&delays).await;
    let project = lines_project();
    let mut cmd = lines_run(&project, &server, 5);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .take(4)
            .map(|l| l.expect("a line"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("reader");
    let still_running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    let ids: Vec<Value> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("each line is JSON")["contact"]["id"].clone()
        })
        .collect();
    assert_eq!(
        ids,
        vec![json!("c0"), json!("c1"), json!("c2"), json!("c3")]
    );
    assert!(
        still_running,
        "the first four results were printed while the fifth was still being fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_jsonl_records_each_streamed_item_and_prints_other_outputs_as_lines() {
    let server = contacts_server(&[Duration::ZERO; 3]).await;
    let project = lines_project();
    let out = output(lines_run(&project, &server, 3)).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (k, line) in lines.iter().enumerate() {
        assert_eq!(line["contact"]["id"], json!(format!("c{k}")));
    }
    // The run record keeps each item's result as an item of its output, and says so in its
    // output; `runs show --output` prints them as they were printed.
    let export = output({
        let mut c = project.sluice(SLUICE);
        c.args(["runs", "export", "--since", "1d"]);
        c
    })
    .await;
    let text = String::from_utf8_lossy(&export.stdout).to_string();
    let run: Value = serde_json::from_str(text.lines().next().expect("one run")).expect("JSON");
    assert_eq!(run["output"], json!({"$items": 3}), "{text}");
    let shown = output({
        let mut c = project.sluice(SLUICE);
        c.args(["runs", "show", run["id"].as_str().expect("id"), "--output"]);
        c
    })
    .await;
    assert_eq!(String::from_utf8_lossy(&shown.stdout), stdout);
    assert!(!text.contains("pit-lines-secret-7") && !stdout.contains("pit-lines-secret-7"));

    // An output that is not a `for_each` step's results: an object is one line, a list one
    // line per item.
    let object = output({
        let mut c = sluice();
        c.args([
            "run",
            "workflows/contact-360.yaml",
            "--sandbox",
            "-i",
            "contactId=ct_ada",
            "--output",
            "jsonl",
        ]);
        c
    })
    .await;
    let printed = String::from_utf8_lossy(&object.stdout).to_string();
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let merged: Value = serde_json::from_str(printed.trim()).expect("one JSON line");
    assert_eq!(merged["name"], json!("Ada Lovelace"));
    project.write_flow(
        "list",
        "name: list\nsteps:\n  three:\n    value: [1, {\"a\": 2}, \"x\"]\noutput: \"{{ steps.three }}\"\n",
    );
    let list = output({
        let mut c = project.sluice(SLUICE);
        c.args(["run", "flows/list.yaml", "--output", "jsonl"]);
        c
    })
    .await;
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "1\n{\"a\":2}\n\"x\"\n"
    );
}
