//! Regressions of issue 17 ("reliability and security"), each named after the defect it
//! pins and run through the `sluice` binary where a user met it: data that panicked, waits
//! an API could make endless, a demo contact the main example failed for, audit records that
//! were not exact, secrets readable at rest.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use sluice_test_support::{GHL_MAIN_FROM_ENV, TempProject, output};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// A project with the `ghl_main` credential from `$GHL_TOKEN` and these flows.
fn project(flows: &[(&str, &str)]) -> TempProject {
    let project = TempProject::new(GHL_MAIN_FROM_ENV);
    for (name, text) in flows {
        project.write_flow(name, text);
    }
    project
}

/// `sluice ARGS` in the project, with a GHL token in its environment.
fn sluice(project: &TempProject, args: &[&str]) -> Command {
    let mut cmd = project.sluice(SLUICE);
    cmd.env("GHL_TOKEN", "test-token-0123456789").args(args);
    cmd
}

/// Runs `cmd`, bounded so that a regression that hangs fails instead of blocking the suite.
async fn run(cmd: Command, bound: Duration) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(bound, output(cmd))
        .await
        .unwrap_or_else(|_| panic!("still running after {bound:?}: it hangs"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked"),
        "a panic reached the user:\n{stderr}"
    );
}

/// The id in `run ID (see …)` of `sluice run`'s last lines.
fn run_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("run ")
                .or_else(|| l.split("Run recorded. run=").nth(1))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in:\n{stderr}"))
        .to_string()
}

async fn show_run(project: &TempProject, id: &str) -> Value {
    let (code, stdout, stderr) = run(
        sluice(project, &["runs", "show", id, "--format", "json"]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

// ---- 2. A panic from data leaves a run stuck ----------------------------------------------

const DATE_ADD_FLOW: &str = r#"
name: far-date
inputs:
  offset: { type: string }
steps:
  due:
    value: "{{ date_add (now) inputs.offset }}"
output: "{{ steps.due }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_add_with_a_huge_offset_fails_the_run_instead_of_panicking() {
    let project = project(&[("far-date", DATE_ADD_FLOW)]);
    let cmd = sluice(
        &project,
        &["run", "flows/far-date.yaml", "-i", "offset=99999999d"],
    );
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    no_panic(&stderr);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`99999999d` moves the date out of range"),
        "{stderr}"
    );
    // The run is recorded as failed, not left running.
    let detail = show_run(&project, &run_id(&stderr)).await;
    assert_eq!(detail["status"], "failed", "{detail}");
    assert_eq!(detail["steps"][0]["status"], "failed", "{detail}");

    // A reasonable offset still works.
    let cmd = sluice(
        &project,
        &["run", "flows/far-date.yaml", "-i", "offset=-1d"],
    );
    let (code, stdout, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.trim().starts_with("\"20"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_seed_with_a_far_relative_date_is_refused_not_a_panic() {
    let project = project(&[]);
    project.write(
        "seed.json",
        json!({
            "locations": [{"id": "loc_x", "name": "X"}],
            "contacts": [{"id": "c1", "locationId": "loc_x"}],
            "tasks": [{"id": "t1", "contactId": "c1", "title": "x", "dueDate": "@now+99999999d"}]
        })
        .to_string(),
    );
    let cmd = sluice(
        &project,
        &["sandbox", "--seed", "seed.json", "--addr", "127.0.0.1:0"],
    );
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    no_panic(&stderr);
    assert_ne!(code, Some(101), "{stderr}");
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("`@now+99999999d` is further from now than any date"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_with_a_far_relative_date_is_an_error_not_a_panic() {
    let flow = r#"
name: tasks-of
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main, read_only: true }
steps:
  tasks:
    action: ghl.list_tasks
    with: { contactId: "{{ inputs.contactId }}" }
output: "{{ steps.tasks.tasks }}"
"#;
    let project = project(&[("tasks-of", flow)]);
    project.write(
        "flows/far-seed.json",
        json!({
            "locations": [{"id": "loc_sandbox", "name": "X"}],
            "contacts": [{"id": "c1", "locationId": "loc_sandbox"}],
            "tasks": [{"id": "t1", "contactId": "c1", "title": "x", "dueDate": "@now+99999999d"}]
        })
        .to_string(),
    );
    project.write(
        "flows/tasks-of.test.yaml",
        r#"
cases:
  - name: far
    inputs: { contactId: c1 }
    sandbox: true
    seed: far-seed.json
    expect:
      status: succeeded
"#,
    );
    let cmd = sluice(&project, &["test", "flows/tasks-of.yaml"]);
    let (code, stdout, stderr) = run(cmd, Duration::from_secs(120)).await;
    no_panic(&stderr);
    assert_ne!(code, Some(101), "{stdout}\n{stderr}");
    assert_ne!(code, Some(0), "{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    assert!(all.contains("@now+99999999d"), "{all}");
}

// ---- 3. A hostile Retry-After hangs a run --------------------------------------------------

const GET_CONTACT_FLOW: &str = r#"
name: one-contact
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main, read_only: true }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
    retry: { attempts: 3 }
output: "{{ steps.contact.contact.id }}"
"#;

async fn run_against(
    server: &MockServer,
    project: &TempProject,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = sluice(
        project,
        &["run", "flows/one-contact.yaml", "-i", "contactId=c1"],
    );
    cmd.arg("--connection")
        .arg(format!("ghl.base_url={}", server.uri()))
        .args(extra);
    run(cmd, Duration::from_secs(120)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_retry_after_fails_the_call_instead_of_hanging() {
    for retry_after in ["999999999", "Thu, 01 Jan 2099 00:00:00 GMT", "1e300"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/contacts/c1"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", retry_after)
                    .set_body_json(json!({"message": "Too many requests"})),
            )
            .mount(&server)
            .await;
        let project = project(&[("one-contact", GET_CONTACT_FLOW)]);
        let (code, _, stderr) = run_against(&server, &project, &[]).await;
        no_panic(&stderr);
        assert_eq!(code, Some(1), "{retry_after}: {stderr}");
        assert!(
            stderr.contains("longer than the `max_retry_after` of connector `ghl-contacts` (5m)"),
            "{retry_after}: {stderr}"
        );
        // Asked once: the call failed at the first such answer, without retries.
        let asked = server.received_requests().await.map_or(0, |r| r.len());
        assert_eq!(asked, 1, "{retry_after}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_the_log_states_the_wait_the_api_asked_for() {
    let server = MockServer::start().await;
    // The first answer is a 429 that also says the window is spent (10 s windows); its
    // Retry-After says 1 s: the pause is what the API said, and the log says so.
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-max", "100")
                .insert_header("x-ratelimit-interval-milliseconds", "10000")
                .set_body_json(json!({"message": "Too many requests"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contact": {"id": "c1"}})))
        .mount(&server)
        .await;
    let project = project(&[("one-contact", GET_CONTACT_FLOW)]);
    let (code, stdout, stderr) = run_against(&server, &project, &["-v"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "\"c1\"");
    let pause = stderr
        .lines()
        .find(|l| l.contains("the API answered 429, pausing the key"))
        .unwrap_or_else(|| panic!("no pause logged:\n{stderr}"));
    assert!(pause.contains("wait=1s"), "{pause}");
    let retry = stderr
        .lines()
        .find(|l| l.contains("Retrying."))
        .unwrap_or_else(|| panic!("no retry logged:\n{stderr}"));
    assert!(retry.contains("delay_ms=1000"), "{retry}");
}

// ---- 5. The main example fails for most demo contacts --------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_360_succeeds_for_every_demo_contact() {
    let project = project(&[("contact-360", &sluice_test_support::workflow("contact-360"))]);
    for contact in ["ct_ada", "ct_grace", "ct_alan", "ct_katherine", "ct_linus"] {
        let cmd = sluice(
            &project,
            &[
                "run",
                "flows/contact-360.yaml",
                "--sandbox",
                "-i",
                &format!("contactId={contact}"),
            ],
        );
        let (code, stdout, stderr) = run(cmd, Duration::from_secs(60)).await;
        assert_eq!(code, Some(0), "{contact}: {stderr}");
        let out: Value = serde_json::from_str(&stdout).expect("JSON output");
        assert_eq!(out["id"], contact, "{out}");
        for field in ["email", "phone", "company", "tags"] {
            let value = &out[field];
            assert!(
                value.is_null() || value.is_string() || value.is_array(),
                "{contact}.{field}: {value}"
            );
        }
        if contact == "ct_linus" {
            // Linus has no email and no company in the demo data: null, not a failure.
            assert_eq!(out["email"], Value::Null, "{out}");
            assert_eq!(out["company"], Value::Null, "{out}");
        }
    }
}

// ---- 9. Audit gaps ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_times_out_is_recorded_with_the_time_it_took() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(5))
                .set_body_json(json!({"contact": {"id": "c1"}})),
        )
        .mount(&server)
        .await;
    let flow = GET_CONTACT_FLOW.replace(
        "retry: { attempts: 3 }",
        "timeout: 700ms\n    retry: { attempts: 1 }",
    );
    let project = project(&[("one-contact", &flow)]);
    let (code, _, stderr) = run_against(&server, &project, &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    let detail = show_run(&project, &run_id(&stderr)).await;
    let calls = detail["http_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no http_calls: {detail}"));
    assert_eq!(calls.len(), 1, "{detail}");
    let elapsed = calls[0]["elapsed_ms"].as_u64().unwrap_or_default();
    assert!(
        elapsed >= 650,
        "a 700 ms timeout recorded as {elapsed} ms: {detail}"
    );
}

// ---- 1. OAuth credentials break with more than one runner, and a redeploy loses them -------

const OAUTH_TOML: &str = "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\n\n[credentials.ghl_oauth]\nkind = \"oauth2\"\nclient_id = { env = \"T_CLIENT_ID\" }\nclient_secret = { env = \"T_CLIENT_SECRET\" }\nrefresh_token = { env = \"T_REFRESH\" }\nlocation_id = \"loc_sandbox\"\n";
const SERVE_TOKEN: &str = "issue17-serve-token-0123456789";
const SECRET_KEY: &str = "m0hR3lFq6Xb0d2nQ2oQy9v1mZ7S8w4kT5uJ3aH6cL1E=";

/// A project whose contact-360 uses the OAuth credential `ghl_oauth`.
fn oauth_project() -> TempProject {
    let project = TempProject::new(OAUTH_TOML);
    project.write_flow(
        "contact-360",
        &sluice_test_support::workflow("contact-360")
            .replace("credential: ghl_main", "credential: ghl_oauth"),
    );
    project
}

/// `sluice ARGS` in an OAuth project: the sandbox app's id and secret, the configured
/// refresh token, the API token and the store's key in its environment.
fn oauth_sluice(project: &TempProject, refresh: &str, args: &[&str]) -> Command {
    let mut cmd = project.sluice(SLUICE);
    cmd.env("T_CLIENT_ID", "sandbox-client")
        .env("T_CLIENT_SECRET", "sandbox-secret")
        .env("T_REFRESH", refresh)
        .env("SERVE_TOKEN", SERVE_TOKEN)
        .env("SLUICE_SECRET_KEY", SECRET_KEY)
        .args(args);
    cmd
}

/// A sandbox whose demo app issues access tokens that live `ttl` and accepts `refresh`.
async fn oauth_sandbox(ttl: Duration, refresh: &[&str]) -> sluice_sandbox::Sandbox {
    let mut app = sluice_sandbox::OAuthClient::demo();
    app.access_token_ttl = ttl;
    app.refresh_tokens = refresh.iter().map(|r| (*r).to_string()).collect();
    let config = sluice_sandbox::SandboxConfig {
        oauth_clients: vec![app],
        ..Default::default()
    };
    sluice_sandbox::Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_move_from_tokens_json_into_the_store_and_the_file_is_gone() {
    // The configured refresh token was used up long ago; the live one is in the old file.
    let sandbox = oauth_sandbox(Duration::from_secs(3600), &["live-refresh-from-file"]).await;
    let project = oauth_project();
    project.write(
        ".sluice/tokens.json",
        json!({"credentials": {"ghl_oauth": {
            "access_token": "expired-access", "refresh_token": "live-refresh-from-file", "expires_at": 0
        }}})
        .to_string(),
    );
    let base = sandbox.base_url();
    let args = [
        "run",
        "flows/contact-360.yaml",
        "-i",
        "contactId=ct_ada",
        "--connection",
    ];
    let mut cmd = oauth_sluice(&project, "used-up-configured-refresh", &args);
    cmd.arg(format!("ghl.base_url={base}"));
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !project.path().join(".sluice/tokens.json").exists(),
        "the old token file is still there"
    );
    assert_eq!(sandbox.state().oauth_refresh_count(), 1);
    // The next run (a new process) uses the pair in the store: no refresh, no file.
    let mut cmd = oauth_sluice(&project, "used-up-configured-refresh", &args);
    cmd.arg(format!("ghl.base_url={base}"));
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(sandbox.state().oauth_refresh_count(), 1);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_says_how_to_give_a_new_refresh_token() {
    let sandbox = oauth_sandbox(Duration::from_secs(3600), &[]).await;
    let project = oauth_project();
    let mut cmd = oauth_sluice(
        &project,
        "already-used-refresh-token",
        &[
            "run",
            "flows/contact-360.yaml",
            "-i",
            "contactId=ct_ada",
            "--connection",
        ],
    );
    cmd.arg(format!("ghl.base_url={}", sandbox.base_url()));
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("authorize the app again and put the new refresh token in `$T_REFRESH`"),
        "{stderr}"
    );
    assert!(!stderr.contains("already-used-refresh-token"), "{stderr}");
    sandbox.shutdown().await;
}

fn start_runner(
    project: &TempProject,
    store: &str,
    base: &str,
    name: &str,
) -> sluice_test_support::ServeProcess {
    let mut cmd = oauth_sluice(
        project,
        "sandbox-refresh-token",
        &["serve", "flows", "--store", store],
    );
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--tick",
        "200ms",
        "--lease",
        "3s",
        "--name",
        name,
        "--connection",
    ])
    .arg(format!("ghl.base_url={base}"));
    sluice_test_support::ServeProcess::start(cmd, Duration::from_secs(30))
}

/// Two runners share one PostgreSQL store and one OAuth credential whose access tokens live
/// 65 s (refreshed 60 s before they expire: every few seconds) and whose refresh tokens the
/// sandbox rotates and refuses to take twice. 200 runs are queued through both; half-way one
/// runner is killed and started again from an empty folder (a redeploy). Every run succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_share_one_oauth_credential_through_the_store_and_a_redeploy() {
    let store = sluice_test_support::pg_schema("oauth_fleet").await;
    let sandbox = oauth_sandbox(Duration::from_secs(65), &["sandbox-refresh-token"]).await;
    let base = sandbox.base_url();
    let folder_a = oauth_project();
    let folder_b = oauth_project();
    let mut a = start_runner(&folder_a, &store, &base, "runner-a");
    let b = start_runner(&folder_b, &store, &base, "runner-b");
    let mut ids = Vec::new();
    let contacts = ["ct_ada", "ct_grace", "ct_alan", "ct_katherine", "ct_linus"];
    let mut folder_a2 = None;
    for i in 0..200 {
        if i == 100 {
            // A redeploy: runner A dies and comes back with an empty folder.
            a.kill();
            let fresh = oauth_project();
            a = start_runner(&fresh, &store, &base, "runner-a2");
            folder_a2 = Some(fresh);
        }
        let runner = if i % 2 == 0 { &a } else { &b };
        let api = sluice_test_support::ApiClient::new(runner.base(), SERVE_TOKEN);
        let (status, body) = api
            .call(
                reqwest::Method::POST,
                "/api/flows/contact-360/runs",
                Some(json!({"contactId": contacts[i % contacts.len()]})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().expect("id").to_string());
        if i % 10 == 9 {
            // Spread the runs over time, so that tokens expire and are refreshed meanwhile.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let watcher = sluice_store::Store::open(&store).await.expect("store");
    let finals =
        sluice_test_support::eventually(Duration::from_secs(180), "every run ended", || {
            let w = watcher.clone();
            let ids = ids.clone();
            async move {
                let mut out = Vec::new();
                for id in &ids {
                    let run_id: sluice_store::RunId = id.parse().ok()?;
                    let d = w.get_run(&run_id).await.ok()??;
                    if !d.run.status.is_final() {
                        return None;
                    }
                    out.push(d);
                }
                Some(out)
            }
        })
        .await;
    let failed: Vec<String> = finals
        .iter()
        .filter(|d| d.run.status != sluice_store::RunStatus::Succeeded)
        .map(|d| format!("{}: {:?} {:?}", d.run.id, d.run.status, d.run.error))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 200 failed: {failed:#?}",
        failed.len()
    );
    assert_eq!(finals.len(), 200);
    let refreshes = sandbox.state().oauth_refresh_count();
    assert!(
        refreshes >= 2,
        "only {refreshes} refresh(es): the test did not exercise rotation"
    );
    let (_, _, log_b) = b.stop(Duration::from_secs(30));
    let (_, _, log_a) = a.stop(Duration::from_secs(30));
    for log in [&log_a, &log_b] {
        assert!(!log.contains("invalid_grant"), "{log}");
        assert!(!log.contains("sandbox-secret"), "{log}");
    }
    drop(folder_a2);
    sandbox.shutdown().await;
}

// ---- 4. Secrets at rest, and a secret echoed back hex-encoded ------------------------------

/// Every form a secret may be echoed back in.
fn encodings(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    use std::fmt::Write as _;
    let hex = |upper: bool| {
        secret.bytes().fold(String::new(), |mut s, b| {
            let _ = if upper {
                write!(s, "{b:02X}")
            } else {
                write!(s, "{b:02x}")
            };
            s
        })
    };
    let e = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_string(),
        e.encode(secret),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
        base64::engine::general_purpose::URL_SAFE.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        hex(false),
        hex(true),
    ]
}

/// The bytes of every file under `dir`, as text (lossy).
fn files_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.push_str(&files_text(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_echoed_back_in_any_encoding_is_found_nowhere_and_the_store_is_sealed() {
    // A token with characters that encodings change (`/`, `+`, `=`).
    let secret = "pit-7f3a/9c+e1=d42b";
    let forms = encodings(secret);
    let server = MockServer::start().await;
    let echo: serde_json::Map<String, Value> = forms
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("echo{i}"), Value::String(f.clone())))
        .collect();
    let mut contact = json!({"id": "c1", "firstName": "Ada"});
    contact["customFields"] = json!([{"id": "debug", "value": Value::Object(echo.clone())}]);
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contact": contact})))
        .mount(&server)
        .await;
    let flow = GET_CONTACT_FLOW.replace(
        "output: \"{{ steps.contact.contact.id }}\"",
        "output: \"{{ steps.contact.contact }}\"",
    );
    let project = TempProject::new(
        "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { store = \"ghl_pit\" }\nlocation_id = \"loc_sandbox\"\n",
    )
    .with_flow("one-contact", &flow);
    // The secret goes into the store from standard input.
    let mut set = project.sluice(SLUICE);
    set.args(["secrets", "set", "ghl_pit"])
        .stdin(std::process::Stdio::piped());
    let mut child = set.spawn().expect("spawn");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(secret.as_bytes()).expect("write");
    }
    assert!(child.wait().expect("wait").success());

    let mut cmd = project.sluice(SLUICE);
    cmd.args([
        "run",
        "flows/one-contact.yaml",
        "-i",
        "contactId=c1",
        "-vv",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()));
    let (code, stdout, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{stderr}");
    // The API really received the secret (so the test would see a leak).
    let received = server.received_requests().await.unwrap_or_default();
    let auth = received[0]
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(auth, format!("Bearer {secret}"));
    let id = run_id(&stderr);
    let show = run(
        sluice(&project, &["runs", "show", &id, "--format", "json"]),
        Duration::from_secs(60),
    )
    .await;
    let text_show = run(
        sluice(&project, &["runs", "show", &id]),
        Duration::from_secs(60),
    )
    .await;
    let export = run(
        sluice(&project, &["runs", "export", "--since", "1d"]),
        Duration::from_secs(60),
    )
    .await;
    let store = files_text(&project.path().join("state"));
    let places = [
        ("stdout", stdout.as_str()),
        ("stderr and logs", stderr.as_str()),
        ("runs show --format json", show.1.as_str()),
        ("runs show", text_show.1.as_str()),
        ("runs export", export.1.as_str()),
        ("the store's files", store.as_str()),
    ];
    let mut hits = Vec::new();
    for (place, text) in places {
        for form in &forms {
            if text.contains(form.as_str()) {
                hits.push(format!("{place}: {form}"));
            }
        }
    }
    assert!(hits.is_empty(), "secrets found: {hits:#?}");
    assert!(stdout.contains("[REDACTED]"), "{stdout}");

    // The store file and its key are the owner's only.
    use std::os::unix::fs::PermissionsExt as _;
    for file in ["state/sluice.db", "state/secret.key"] {
        let mode = std::fs::metadata(project.path().join(file))
            .expect(file)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    // Without the key (the database copied elsewhere), the secret cannot be read.
    let thief = TempProject::new(
        "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { store = \"ghl_pit\" }\nlocation_id = \"loc_sandbox\"\n",
    )
    .with_flow("one-contact", &flow);
    std::fs::create_dir_all(thief.path().join("state")).expect("mkdir");
    std::fs::copy(
        project.path().join("state/sluice.db"),
        thief.path().join("state/sluice.db"),
    )
    .expect("copy");
    let _ = std::fs::copy(
        project.path().join("state/sluice.db-wal"),
        thief.path().join("state/sluice.db-wal"),
    );
    let mut cmd = thief.sluice(SLUICE);
    cmd.args([
        "run",
        "flows/one-contact.yaml",
        "-i",
        "contactId=c1",
        "--connection",
    ])
    .arg(format!("ghl.base_url={}", server.uri()));
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("no key is set"), "{stderr}");
}

// ---- 7. Unbounded input -------------------------------------------------------------------

const COUNT_FLOW: &str = r#"
name: count
inputs:
  n: { type: integer }
steps:
  twice:
    value: "{{ inputs.n }}"
output: "{{ steps.twice }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_or_huge_inputs_file_is_refused_at_8_mib() {
    let project = project(&[("count", COUNT_FLOW)]);
    // /dev/zero never ends: refused after 8 MiB, not read until memory runs out.
    let cmd = sluice(
        &project,
        &["run", "flows/count.yaml", "--inputs", "/dev/zero"],
    );
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    no_panic(&stderr);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("an inputs file may hold at most 8 MiB"),
        "{stderr}"
    );
    // An 18 MB file likewise, and nothing of it is echoed back.
    let value = "9".repeat(18 * 1024 * 1024);
    project.write("big.json", format!("{{\"n\": \"{value}\"}}"));
    let cmd = sluice(
        &project,
        &["run", "flows/count.yaml", "--inputs", "big.json"],
    );
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.len() < 4096, "{} bytes of error text", stderr.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_about_a_long_input_value_quotes_only_its_start() {
    let project = project(&[("count", COUNT_FLOW)]);
    // 6 MB inside the file limit, of the wrong type: the error quotes 80 characters of it.
    let value = "x".repeat(6 * 1024 * 1024);
    project.write("long.json", format!("{{\"n\": \"{value}\"}}"));
    let cmd = sluice(
        &project,
        &["run", "flows/count.yaml", "--inputs", "long.json"],
    );
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("must be of type `integer`"), "{stderr}");
    assert!(stderr.contains("bytes in all)"), "{stderr}");
    assert!(stderr.len() < 4096, "{} bytes of error text", stderr.len());
    // And through `--input` too.
    let long = format!("n={}", "y".repeat(100_000));
    let cmd = sluice(&project, &["run", "flows/count.yaml", "--input", &long]);
    let (code, _, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("must be a whole number"), "{stderr}");
    assert!(stderr.len() < 4096, "{} bytes of error text", stderr.len());
}

// ---- 6. `validate` and `run` disagree -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_what_run_would_refuse() {
    let flow = r#"
name: shapes
inputs:
  x: { type: string }
  list: { type: array }
steps:
  over_text:
    for_each: "{{ inputs.x }}"
    value: "{{ item }}"
  arity:
    value: "{{ date_add inputs.x }}"
  path:
    value: "{{ jsonpath inputs.list \"$[?(\" }}"
  hidden:
    for_each: "{{ inputs.list }}"
    as: inputs
    value: "{{ inputs }}"
  never:
    value: "{{ inputs.x }}"
    timeout: 0s
output: [ "{{ steps.over_text }}", "{{ steps.arity }}", "{{ steps.path }}", "{{ steps.hidden }}", "{{ steps.never }}" ]
"#;
    let project = project(&[("shapes", flow)]);
    let (code, _, stderr) = run(
        sluice(&project, &["validate", "flows/shapes.yaml"]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    for expected in [
        "`for_each` needs a list, and this is input `x`, declared `type: string`",
        "`date_add` takes 2 arguments, found 1",
        "`$[?(` is not valid JSONPath",
        "`as: inputs` would hide what `inputs` means in templates",
        "a `timeout` of zero",
    ] {
        assert!(stderr.contains(expected), "{expected}:\n{stderr}");
    }
    assert!(stderr.contains("5 errors"), "{stderr}");
}

// ---- 10. Schedules at daylight-saving changes ---------------------------------------------

fn schedule_flow(cron: &str, zone: &str) -> String {
    format!(
        "name: tick\non:\n  - schedule: {{ cron: \"{cron}\", timezone: {zone} }}\nsteps:\n  a:\n    value: 1\noutput: \"{{{{ steps.a }}}}\"\n"
    )
}

/// The UTC times of `sluice schedule`'s lines.
fn utc_times(stdout: &str) -> Vec<chrono::DateTime<chrono::Utc>> {
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter_map(|t| t.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_30_minutes_stays_every_30_minutes_at_fall_back() {
    for (cron, zone, from, step) in [
        (
            "*/30 * * * *",
            "America/New_York",
            "2026-11-01T04:00:00Z",
            30,
        ),
        ("0 * * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", 60),
    ] {
        let project = project(&[("tick", &schedule_flow(cron, zone))]);
        let cmd = sluice(
            &project,
            &["schedule", "flows/tick.yaml", "--from", from, "--next", "8"],
        );
        let (code, stdout, stderr) = run(cmd, Duration::from_secs(60)).await;
        assert_eq!(code, Some(0), "{stderr}");
        let times = utc_times(&stdout);
        assert_eq!(times.len(), 8, "{stdout}");
        for pair in times.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                chrono::TimeDelta::minutes(step),
                "`{cron}` in {zone}:\n{stdout}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_time_in_the_spring_forward_gap_fires_right_after_it() {
    let project = project(&[("tick", &schedule_flow("*/20 2 * * *", "America/New_York"))]);
    let cmd = sluice(
        &project,
        &[
            "schedule",
            "flows/tick.yaml",
            "--from",
            "2026-03-08T00:00:00Z",
            "--next",
            "2",
        ],
    );
    let (code, stdout, stderr) = run(cmd, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{stderr}");
    let times = utc_times(&stdout);
    assert_eq!(
        times.first().map(ToString::to_string).as_deref(),
        Some("2026-03-08 07:00:00 UTC"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_line_with_a_year_field_is_refused() {
    let project = project(&[("tick", &schedule_flow("0 0 0 * * * 2020", "UTC"))]);
    let (code, _, stderr) = run(
        sluice(&project, &["validate", "flows/tick.yaml"]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("has a seventh field (a year)"), "{stderr}");
    let (code, stdout, stderr) = run(
        sluice(&project, &["schedule", "flows/tick.yaml"]),
        Duration::from_secs(60),
    )
    .await;
    assert_ne!(code, Some(0), "{stdout}{stderr}");
}

// ---- 8. Misleading YAML messages ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undefined_or_forward_alias_is_named_as_such() {
    let undefined = "name: a\nsteps:\n  s:\n    value: *nope\noutput: 1\n";
    let forward =
        "name: b\nsteps:\n  s:\n    value: *later\n  t:\n    value: &later 3\noutput: 1\n";
    let project = project(&[("a", undefined), ("b", forward)]);
    let (code, _, stderr) = run(
        sluice(&project, &["validate", "flows/a.yaml"]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("the alias `*nope` names no anchor `&nope` above it"),
        "{stderr}"
    );
    assert!(!stderr.contains("expand to more than"), "{stderr}");
    let (code, _, stderr) = run(
        sluice(&project, &["validate", "flows/b.yaml"]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`&later` is defined further down"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclosed_quote_is_reported_where_it_opens() {
    let text = "name: a\ndescription: x\nsteps:\n  s:\n    value: 1\n  t:\n    value: 2\n  u:\n    value: 3\n  v:\n    value: 4\n  w:\n    value: \"open {{ inputs.x }}\n  x:\n    value: \"closed\"\noutput: 1\n";
    let project = project(&[("a", text)]);
    let (code, _, stderr) = run(
        sluice(&project, &["validate", "flows/a.yaml"]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("flows/a.yaml:13:12"), "{stderr}");
    assert!(
        stderr.contains("this quote is not closed on its line"),
        "{stderr}"
    );
    assert!(!stderr.contains("more values than"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_write_and_its_resend_are_both_in_the_record() {
    let server = MockServer::start().await;
    // The first PUT is answered too late: the run is killed while it waits.
    Mock::given(method("PUT"))
        .and(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(60))
                .set_body_json(json!({"task": {"id": "t1", "title": "late"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"task": {"id": "t1", "title": "Call"}})),
        )
        .mount(&server)
        .await;
    let flow = r#"
name: rename
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  rename:
    action: ghl.update_task
    with: { contactId: c1, taskId: t1, title: Call }
    timeout: 120s
output: "{{ steps.rename.task.title }}"
"#;
    let project = project(&[("rename", flow)]);
    let mut first = sluice(&project, &["run", "flows/rename.yaml", "--connection"]);
    first.arg(format!("ghl.base_url={}", server.uri()));
    let mut child = first
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    sluice_test_support::eventually(Duration::from_secs(30), "the PUT to be sent", || async {
        let n = server.received_requests().await.map_or(0, |r| r.len());
        (n >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().expect("kill -9");
    let _ = child.wait();
    // The killed run, resumed: the PUT (idempotent) is sent again.
    let (code, stdout, stderr) = run(
        sluice(
            &project,
            &["runs", "list", "--format", "json", "--limit", "1"],
        ),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let runs: Value = serde_json::from_str(&stdout).expect("JSON");
    let id = runs[0]["id"].as_str().expect("a run").to_string();
    let mut resume = sluice(&project, &["runs", "resume", &id, "--connection"]);
    resume.arg(format!("ghl.base_url={}", server.uri()));
    let (code, stdout, stderr) = run(resume, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "\"Call\"");
    let detail = show_run(&project, &id).await;
    let calls = detail["http_calls"].as_array().expect("http_calls");
    let attempts: Vec<(u64, Value)> = calls
        .iter()
        .map(|c| {
            (
                c["attempt"].as_u64().unwrap_or_default(),
                c["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        vec![(1, Value::Null), (2, json!(200))],
        "the killed attempt and the resend: {detail}"
    );
    assert!(
        calls[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("sent before the run stopped"),
        "{detail}"
    );
    assert_eq!(detail["steps"][0]["attempts"], 2, "{detail}");
}
