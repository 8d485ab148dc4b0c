//! `sluice serve` through the binary: the HTTP API and its refusals, signed webhooks (forged,
//! tampered, replayed, stale), schedules, hot reload, `task_due` and `poll` firing once
//! across restarts, graceful hand-back, and three runners sharing one PostgreSQL.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use serde_json::{Value, json};

const TOKEN: &str = "serve-test-token-0123456789";

/// The credential the example flows name, with the sandbox's token (`Serve::start` sets
/// `$GHL_TOKEN`).
const CREDENTIAL: &str = "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\nlocation_id = \"loc_sandbox\"\n";

/// A project folder: `flows/`, sluice.toml (API token from `$SERVE_TOKEN`, the webhook key from
/// `webhook.pem`), its own SQLite store.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(flows: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
        std::fs::write(
            dir.path().join("sluice.toml"),
            format!("[serve]\ntoken = {{ env = \"SERVE_TOKEN\" }}\n\n{CREDENTIAL}"),
        )
        .expect("toml");
        let p = Project { dir };
        for (name, text) in flows {
            p.write_flow(name, text);
        }
        p
    }

    fn write_flow(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(format!("flows/{name}.yaml")), text).expect("flow");
    }

    fn store(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("state/sluice.db").display()
        )
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A running `sluice serve`.
struct Serve {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(project: &Project, store: &str, args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .current_dir(project.path())
            .env("NO_COLOR", "1")
            .env("SERVE_TOKEN", TOKEN)
            .env("GHL_TOKEN", "sandbox-token")
            .env_remove("SLUICE_HOME")
            .env_remove("SLUICE_STORE")
            .env_remove("SLUICE_API_TOKEN")
            .args(["serve", "flows", "--store", store, "--tick", "200ms"])
            .args(if args.contains(&"--listen") {
                &[][..]
            } else {
                &["--listen", "127.0.0.1:0"][..]
            })
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
                lines.lock().expect("log").push(line);
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "serve did not start:\n{}",
                    log.lock().expect("log").join("\n")
                );
            }
        };
        Serve { child, base, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// SIGTERM, then waits for the exit (at most `within`).
    fn stop(mut self, within: Duration) -> (Option<i32>, Duration, String) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), started.elapsed(), self.log());
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("serve did not stop within {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn api(s: &Serve, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls `f` until it returns `Some`, or panics after `within`.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    within: Duration,
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn runs(s: &Serve, flow: &str) -> Vec<Value> {
    let (status, body) = api(
        s,
        reqwest::Method::GET,
        &format!("/api/runs?flow={flow}&limit=1000"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().cloned().unwrap_or_default()
}

fn contact_360() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows/contact-360.yaml"),
    )
    .expect("contact-360")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_runs_flows_and_refuses_what_it_must() {
    let project = Project::new(&[("contact-360", &contact_360())]);
    let serve = Serve::start(&project, &project.store(), &["--sandbox"]);
    let url = |p: &str| format!("{}{p}", serve.base);
    // Probes need no token; everything else does.
    assert_eq!(
        client()
            .get(url("/healthz"))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(url("/readyz"))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    for (method, path) in [
        (reqwest::Method::GET, "/api/flows"),
        (reqwest::Method::GET, "/api/runs"),
        (reqwest::Method::POST, "/api/flows/contact-360/runs"),
        (reqwest::Method::GET, "/metrics"),
    ] {
        let none = client()
            .request(method.clone(), url(path))
            .send()
            .await
            .expect("send");
        assert_eq!(none.status(), 401, "{path} without a token");
        let wrong = client()
            .request(method.clone(), url(path))
            .bearer_auth("serve-test-token-0123456780")
            .send()
            .await
            .expect("send");
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
    }
    // Run and wait for the output.
    let (status, body) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/contact-360/runs?wait=20s",
        Some(json!({"contactId": "ct_ada"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["output"]["name"], "Ada Lovelace");
    // Queue and look it up later.
    let (status, body) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/contact-360/runs",
        Some(json!({"contactId": "ct_grace"})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    let run = eventually(Duration::from_secs(20), "the queued run", || async {
        let (_, run) = api(
            &serve,
            reqwest::Method::GET,
            &format!("/api/runs/{id}"),
            None,
        )
        .await;
        (run["status"] == "succeeded").then_some(run)
    })
    .await;
    assert_eq!(run["trigger"], "api");
    assert!(
        run["steps"].as_array().is_some_and(|s| s.len() == 5),
        "{run}"
    );
    // Refusals with reasons.
    let (status, body) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/nope/runs",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/contact-360/runs",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("contactId")),
        "{body}"
    );
    let (status, _) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/contact-360/runs",
        Some(json!([1])),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = api(&serve, reqwest::Method::GET, "/api/runs/not-an-id", None).await;
    assert_eq!(status, 400);
    let huge = "x".repeat(2 * 1024 * 1024);
    let resp = client()
        .post(url("/api/flows/contact-360/runs"))
        .bearer_auth(TOKEN)
        .body(format!("{{\"contactId\": \"{huge}\"}}"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 413, "a 2 MB body is refused");
    // Metrics count what happened.
    let (status, metrics) = api(&serve, reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(status, 200);
    let text = metrics.as_str().expect("text");
    assert!(
        text.contains(r#"sluice_runs_total{flow="contact-360",status="succeeded"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"sluice_http_requests_total{code="200"}"#),
        "{text}"
    );
    assert!(text.contains("sluice_queue_depth"), "{text}");
    // GHL's 100 requests / 10 s spaces the sandbox calls: some waited.
    assert!(text.contains("sluice_rate_limit_waits "), "{text}");
    assert!(!text.contains("sluice_rate_limit_waits 0\n"), "{text}");
    // The token never shows up in the logs.
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

/// Signs `body` as GHL would.
fn sign(key: &ed25519_dalek::SigningKey, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.sign(body).to_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_deduplicated_and_queued() {
    let project = Project::new(&[("contact-360", &contact_360())]);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let pem = key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("pem");
    std::fs::write(project.path().join("webhook.pem"), pem).expect("pem");
    std::fs::write(
        project.path().join("sluice.toml"),
        format!(
            "[serve]\ntoken = {{ env = \"SERVE_TOKEN\" }}\nwebhook_public_key = {{ file = \"webhook.pem\" }}\n\n{CREDENTIAL}"
        ),
    )
    .expect("toml");
    let serve = Serve::start(&project, &project.store(), &["--sandbox"]);
    let hook = format!("{}/hooks/contact-360", serve.base);
    let post = |body: Vec<u8>, sig: Option<String>| {
        let mut req = client().post(hook.clone()).body(body);
        if let Some(s) = sig {
            req = req.header("x-ghl-signature", s);
        }
        async move { req.send().await.expect("send").status().as_u16() }
    };
    let event = |id: &str, ts: String| {
        serde_json::to_vec(&json!({
            "type": "ContactUpdate", "locationId": "loc_sandbox", "id": "ct_ada",
            "webhookId": id, "timestamp": ts,
        }))
        .expect("json")
    };
    let now = chrono::Utc::now().to_rfc3339();
    let good = event("wh_1", now.clone());
    assert_eq!(post(good.clone(), Some(sign(&key, &good))).await, 202);
    // The same delivery again (GHL retries, or someone replays it): acknowledged, not run.
    assert_eq!(post(good.clone(), Some(sign(&key, &good))).await, 200);
    // Forged: signed by another key; tampered: the body changed after signing; unsigned; stale.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let forged = event("wh_2", now.clone());
    assert_eq!(post(forged.clone(), Some(sign(&other, &forged))).await, 401);
    let tampered = event("wh_3", now.clone());
    let sig = sign(&key, &tampered);
    let mut changed = tampered.clone();
    let at = changed.iter().position(|b| *b == b'a').expect("an a");
    changed[at] = b'b';
    assert_eq!(post(changed, Some(sig)).await, 401);
    assert_eq!(post(event("wh_4", now.clone()), None).await, 401);
    assert_eq!(
        post(event("wh_5", now.clone()), Some("not base64!".into())).await,
        401
    );
    let old = event(
        "wh_6",
        (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339(),
    );
    assert_eq!(post(old.clone(), Some(sign(&key, &old))).await, 401);
    // An event the flow does not listen to is acknowledged and ignored.
    let note =
        serde_json::to_vec(&json!({"type": "NoteCreate", "webhookId": "wh_7", "timestamp": now}))
            .expect("json");
    assert_eq!(post(note.clone(), Some(sign(&key, &note))).await, 202);
    // Exactly one run, for Ada, with the contact id taken from the event.
    let run = eventually(Duration::from_secs(20), "the webhook's run", || async {
        let r = runs(&serve, "contact-360").await;
        r.first()
            .filter(|r| r["status"] == "succeeded")
            .cloned()
            .map(|first| (r.len(), first))
    })
    .await;
    assert_eq!(run.0, 1);
    assert_eq!(run.1["trigger"], "webhook:ContactUpdate");
    let (_, metrics) = api(&serve, reqwest::Method::GET, "/metrics", None).await;
    let text = metrics.as_str().expect("text");
    assert!(
        text.contains(r#"sluice_webhook_deliveries_total{result="refused"} 5"#),
        "{text}"
    );
    assert!(
        text.contains(r#"sluice_webhook_deliveries_total{result="duplicate"} 1"#),
        "{text}"
    );
    let log = serve.log();
    assert!(log.contains("refused") || log.contains("Refused"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_webhooks_reach_the_runner_end_to_end() {
    // The sandbox delivers to the runner's port, chosen beforehand; the runner checks the
    // sandbox's signatures with its public key.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let config = sluice_sandbox::SandboxConfig {
        webhook: Some(sluice_sandbox::WebhookConfig::new(&format!(
            "http://127.0.0.1:{port}/hooks/contact-360"
        ))),
        ..sluice_sandbox::SandboxConfig::default()
    };
    let sandbox = sluice_sandbox::Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let project = Project::new(&[("contact-360", &contact_360())]);
    std::fs::write(
        project.path().join("webhook.pem"),
        sandbox.webhook_public_key_pem(),
    )
    .expect("pem");
    // The flow's credential `ghl_main` is the sandbox token (Serve::start sets `$GHL_TOKEN`).
    std::fs::write(
        project.path().join("sluice.toml"),
        "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\nwebhook_public_key = { file = \"webhook.pem\" }\n\n\
         [credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\nlocation_id = \"loc_sandbox\"\n",
    )
    .expect("toml");
    let serve = Serve::start(
        &project,
        &project.store(),
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--connection",
            &format!("ghl.base_url={}", sandbox.base_url()),
        ],
    );
    // A change in GHL: Grace's phone number.
    let resp = client()
        .put(format!("{}/contacts/ct_grace", sandbox.base_url()))
        .bearer_auth("sandbox-token")
        .header("Version", "2021-07-28")
        .json(&json!({"phone": "+14155550199"}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 200);
    let run = eventually(Duration::from_secs(20), "the ContactUpdate run", || async {
        runs(&serve, "contact-360")
            .await
            .into_iter()
            .find(|r| r["status"] == "succeeded")
    })
    .await;
    let (_, detail) = api(
        &serve,
        reqwest::Method::GET,
        &format!("/api/runs/{}", run["id"].as_str().expect("id")),
        None,
    )
    .await;
    assert_eq!(detail["output"]["phone"], "+14155550199", "{detail}");
    let deliveries = sandbox.state().webhook_deliveries();
    assert!(
        deliveries
            .iter()
            .any(|d| d.delivered && d.status == Some(202)),
        "{deliveries:?}"
    );
    sandbox.shutdown().await;
}

const TICK: &str = r#"
name: tick
on:
  - schedule: { cron: "* * * * * *", overlap: allow }
inputs:
  fireTime: { type: string, required: false }
steps:
  at:
    value: "{{ inputs.fireTime }}"
output: "{{ steps.at }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_each_tick_and_the_folder_is_reloaded() {
    let project = Project::new(&[("tick", TICK)]);
    let serve = Serve::start(&project, &project.store(), &["--sandbox"]);
    let done = eventually(Duration::from_secs(20), "three ticks", || async {
        let r: Vec<Value> = runs(&serve, "tick")
            .await
            .into_iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        (r.len() >= 3).then_some(r)
    })
    .await;
    // One run per whole second, each with its own tick as input.
    let mut outputs = Vec::new();
    for r in &done {
        let (_, d) = api(
            &serve,
            reqwest::Method::GET,
            &format!("/api/runs/{}", r["id"].as_str().expect("id")),
            None,
        )
        .await;
        let t = d["output"].as_str().expect("fire time").to_string();
        assert!(t.contains(":00+00:00") || t.ends_with("+00:00"), "{t}");
        outputs.push(t);
    }
    let unique: std::collections::BTreeSet<_> = outputs.iter().collect();
    assert_eq!(
        unique.len(),
        outputs.len(),
        "no tick fired twice: {outputs:?}"
    );

    // A new flow appears without a restart.
    project.write_flow("contact-360", &contact_360());
    let flows = eventually(Duration::from_secs(20), "the new flow", || async {
        let (_, f) = api(&serve, reqwest::Method::GET, "/api/flows", None).await;
        (f["flows"].as_array().map(Vec::len) == Some(2)).then_some(f)
    })
    .await;
    assert_eq!(flows["not_served"], json!([]));
    // A bad edit: the last good version keeps running, and the API says why.
    project.write_flow(
        "contact-360",
        &contact_360().replace("ghl.get_contact", "ghl.get_contakt"),
    );
    let flows = eventually(Duration::from_secs(20), "the bad edit", || async {
        let (_, f) = api(&serve, reqwest::Method::GET, "/api/flows", None).await;
        (f["not_served"].as_array().map(Vec::len) == Some(1)).then_some(f)
    })
    .await;
    let c360 = flows["flows"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "contact-360"))
        .expect("still served");
    assert_eq!(c360["valid"], false);
    assert!(
        c360["problem"]
            .as_str()
            .is_some_and(|p| p.contains("get_contakt")),
        "{c360}"
    );
    let (status, body) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/contact-360/runs?wait=20s",
        Some(json!({"contactId": "ct_ada"})),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("succeeded")),
        "{body}"
    );
    let (code, took, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(log.contains("is not served"), "{log}");
}

#[test]
fn schedule_prints_the_next_fire_times_in_the_zone() {
    let project = Project::new(&[(
        "nightly",
        r#"
name: nightly
on:
  - schedule: { cron: "30 2 * * *", timezone: Europe/Berlin }
steps:
  x:
    value: 1
"#,
    )]);
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(project.path())
        .args([
            "schedule",
            "flows/nightly.yaml",
            "--next",
            "3",
            "--from",
            "2026-03-28T12:00:00Z",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "30 2 * * * (Europe/Berlin):");
    // The night the clocks go forward has no 02:30: that tick comes at 03:00 CEST.
    assert!(
        lines[1].contains("2026-03-29 03:00:00 CEST") && lines[1].ends_with("2026-03-29T01:00:00Z"),
        "{text}"
    );
    assert!(
        lines[2].contains("2026-03-30 02:30:00 CEST") && lines[2].ends_with("2026-03-30T00:30:00Z"),
        "{text}"
    );
    assert_eq!(lines.len(), 4);
}

const DUE: &str = r#"
name: due
on:
  - task_due: { connection: ghl, within: 1h, every: 1s }
inputs:
  task: { type: object }
connections:
  ghl: { connector: ghl-contacts }
steps:
  title:
    value: "{{ inputs.task.title }}"
output: "{{ steps.title }}"
"#;

const NEW_CONTACTS: &str = r#"
name: new-contacts
on:
  - poll: { action: ghl.get_contacts, with: { locationId: loc_sandbox }, items: "$.contacts[*]", key: "{{ item.id }}", every: 1s }
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  id:
    value: "{{ inputs.contactId }}"
output: "{{ steps.id }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_tasks_and_polled_items_fire_once_across_restarts() {
    let sandbox = sluice_sandbox::Sandbox::start(
        sluice_sandbox::SandboxConfig::default(),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .expect("sandbox");
    let project = Project::new(&[("due", DUE), ("new-contacts", NEW_CONTACTS)]);
    std::fs::write(
        project.path().join("sluice.toml"),
        "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\n\n[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\nlocation_id = \"loc_sandbox\"\n",
    )
    .expect("toml");
    for flow in ["due", "new-contacts"] {
        let path = project.path().join(format!("flows/{flow}.yaml"));
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(
            &path,
            text.replace(
                "{ connector: ghl-contacts }",
                "{ connector: ghl-contacts, credential: ghl_main }",
            ),
        )
        .expect("write");
    }
    let ghl = |method: reqwest::Method, path: &str, body: Value| {
        client()
            .request(method, format!("{}{path}", sandbox.base_url()))
            .bearer_auth("sandbox-token")
            .header("Version", "2021-07-28")
            .json(&body)
            .send()
    };
    // A task due in 30 minutes, one due in 3 hours (outside the window).
    let soon = (chrono::Utc::now() + chrono::TimeDelta::minutes(30)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::TimeDelta::hours(3)).to_rfc3339();
    for (title, due) in [("Call Ada back", &soon), ("Quarterly review", &later)] {
        let r = ghl(
            reqwest::Method::POST,
            "/contacts/ct_ada/tasks",
            json!({"title": title, "dueDate": due, "completed": false}),
        )
        .await
        .expect("task");
        assert_eq!(r.status(), 201);
    }
    let conn = format!("ghl.base_url={}", sandbox.base_url());
    let serve = Serve::start(&project, &project.store(), &["--connection", &conn]);
    let due_runs = eventually(Duration::from_secs(30), "the due task's run", || async {
        let r: Vec<Value> = runs(&serve, "due")
            .await
            .into_iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        r.iter().any(|r| r["trigger"] == "task_due").then_some(r)
    })
    .await;
    let outputs: Vec<String> = {
        let mut v = Vec::new();
        for r in &due_runs {
            let (_, d) = api(
                &serve,
                reqwest::Method::GET,
                &format!("/api/runs/{}", r["id"].as_str().expect("id")),
                None,
            )
            .await;
            v.push(d["output"].as_str().unwrap_or_default().to_string());
        }
        v
    };
    assert!(
        outputs.contains(&"Call Ada back".to_string()),
        "{outputs:?}"
    );
    assert!(
        !outputs.contains(&"Quarterly review".to_string()),
        "{outputs:?}"
    );
    // The poll's first look fired nothing; a contact created now fires once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(runs(&serve, "new-contacts").await.is_empty());
    let r = ghl(
        reqwest::Method::POST,
        "/contacts/",
        json!({"locationId": "loc_sandbox", "firstName": "Katherine", "email": "kj@example.com"}),
    )
    .await
    .expect("contact");
    assert!(r.status().is_success());
    let created: Value = r.json().await.expect("json");
    let new_id = created["contact"]["id"].as_str().expect("id").to_string();
    let polled = eventually(Duration::from_secs(20), "the new contact's run", || async {
        let r: Vec<Value> = runs(&serve, "new-contacts")
            .await
            .into_iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(polled.len(), 1);
    let due_count = runs(&serve, "due").await.len();
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    // Restarted: nothing fires again.
    let serve = Serve::start(&project, &project.store(), &["--connection", &conn]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(runs(&serve, "due").await.len(), due_count);
    let again = runs(&serve, "new-contacts").await;
    assert_eq!(again.len(), 1);
    let (_, d) = api(
        &serve,
        reqwest::Method::GET,
        &format!("/api/runs/{}", again[0]["id"].as_str().expect("id")),
        None,
    )
    .await;
    assert_eq!(d["output"], json!(new_id));
    sandbox.shutdown().await;
}

const SLOW: &str = r#"
name: slow
on:
  - manual: {}
  - schedule: { cron: "* * * * * *", overlap: allow }
connections:
  api: { connector: ghl-contacts, base_url: "http://127.0.0.1:1" }
steps:
  wait:
    action: api.get_contact
    with: { contactId: slow }
    timeout: 30s
    retry: { attempts: 1 }
output: "{{ steps.wait.contact.id }}"
"#;

async fn slow_server(delay: Duration) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_delay(delay)
                .set_body_json(json!({"contact": {"id": "slow"}})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_runner_hands_back_what_it_cannot_finish() {
    let server = slow_server(Duration::from_secs(4)).await;
    let flow = SLOW.replace(
        "  - schedule: { cron: \"* * * * * *\", overlap: allow }\n",
        "",
    );
    let project = Project::new(&[("slow", &flow)]);
    let conn = format!("api.base_url={}", server.uri());
    let serve = Serve::start(
        &project,
        &project.store(),
        &["--connection", &conn, "--shutdown-timeout", "1s"],
    );
    let (status, body) = api(
        &serve,
        reqwest::Method::POST,
        "/api/flows/slow/runs",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    eventually(Duration::from_secs(10), "the run to start", || async {
        let (_, r) = api(
            &serve,
            reqwest::Method::GET,
            &format!("/api/runs/{id}"),
            None,
        )
        .await;
        (r["status"] == "running").then_some(())
    })
    .await;
    let (code, took, log) = serve.stop(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{log}");
    assert!(
        took < Duration::from_secs(4),
        "stopped within the deadline: {took:?}\n{log}"
    );
    assert!(log.contains("1 run(s) handed back"), "{log}");
    // The next runner resumes it.
    let serve = Serve::start(&project, &project.store(), &["--connection", &conn]);
    let run = eventually(Duration::from_secs(20), "the resumed run", || async {
        let (_, r) = api(
            &serve,
            reqwest::Method::GET,
            &format!("/api/runs/{id}"),
            None,
        )
        .await;
        (r["status"] == "succeeded").then_some(r)
    })
    .await;
    assert_eq!(run["claims"], 2, "{run}");
    assert_eq!(run["output"], "slow");
}

/// A PostgreSQL schema of its own for one test.
async fn pg_schema() -> String {
    use sqlx::Connection as _;
    let base = std::env::var("SLUICE_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_POSTGRES is not set: the three-runner test needs PostgreSQL (scripts/test.sh starts one); it fails rather than skips")
    });
    let schema = format!("serve_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("PostgreSQL");
    sqlx::Executor::execute(
        &mut conn,
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}").as_str(),
    )
    .await
    .expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_share_postgres_every_tick_runs_once_even_when_one_dies() {
    let store = pg_schema().await;
    let server = slow_server(Duration::from_millis(1500)).await;
    let project = Project::new(&[("slow", SLOW)]);
    let conn = format!("api.base_url={}", server.uri());
    let args = ["--connection", conn.as_str(), "--lease", "3s"];
    let mut runners: Vec<Serve> = (0..3)
        .map(|i| {
            let name = format!("runner-{i}");
            let mut a = args.to_vec();
            a.extend(["--name", name.as_str()]);
            Serve::start(&project, &store, &a)
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    // One runner dies mid-way, with runs in its hands.
    let watcher = sluice_store::Store::open(&store).await.expect("store");
    eventually(Duration::from_secs(10), "runner-0 to hold a run", || {
        let w = watcher.clone();
        async move {
            let running = w
                .list_runs(&sluice_store::RunFilter {
                    status: Some(sluice_store::RunStatus::Running),
                    ..Default::default()
                })
                .await
                .expect("list");
            for r in running {
                let d = w.get_run(&r.id).await.expect("get")?;
                if d.owner.as_deref() == Some("runner-0") {
                    return Some(());
                }
            }
            None
        }
    })
    .await;
    runners.remove(0).kill();
    while started.elapsed() < Duration::from_secs(31) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stop firing: stop the runners gracefully once their runs are done.
    let detail_store = sluice_store::Store::open(&store).await.expect("store");
    for r in runners.drain(..) {
        let (code, _, log) = r.stop(Duration::from_secs(40));
        assert_eq!(code, Some(0), "{log}");
    }
    // Whatever the last runner handed back, a fresh runner finishes.
    let last = Serve::start(&project, &store, &args);
    let all = eventually(Duration::from_secs(30), "every run finished", || {
        let s = detail_store.clone();
        async move {
            let runs = s
                .list_runs(&sluice_store::RunFilter::default())
                .await
                .expect("list");
            runs.iter().all(|r| r.status.is_final()).then_some(runs)
        }
    })
    .await;
    let (code, _, log) = last.stop(Duration::from_secs(40));
    assert_eq!(code, Some(0), "{log}");
    let mut ticks = Vec::new();
    let mut takeovers = 0;
    for r in &all {
        let d = detail_store
            .get_run(&r.id)
            .await
            .expect("get")
            .expect("run");
        assert_eq!(d.status, sluice_store::RunStatus::Succeeded, "{d:?}");
        assert_eq!(d.output, Some(json!("slow")));
        ticks.push(d.inputs.clone());
        if d.claims > 1 {
            takeovers += 1;
        }
    }
    let seconds: Vec<i64> = {
        use sqlx::Connection as _;
        let mut c = sqlx::PgConnection::connect(&store).await.expect("pg");
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT CAST(EXTRACT(EPOCH FROM fire_time) AS BIGINT) FROM schedule_fires \
             WHERE flow = 'slow' AND run_id IS NOT NULL ORDER BY fire_time",
        )
        .fetch_all(&mut c)
        .await
        .expect("fires");
        rows.into_iter().map(|r| r.0).collect()
    };
    // The ticks fired are every second from the first to the last: none skipped, none twice.
    for pair in seconds.windows(2) {
        assert_eq!(pair[1] - pair[0], 1, "{seconds:?}");
    }
    let fires = i64::try_from(seconds.len()).expect("n");
    let distinct: std::collections::BTreeSet<String> =
        all.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(distinct.len(), all.len());
    assert_eq!(
        i64::try_from(all.len()).expect("n"),
        fires,
        "one run per fired tick"
    );
    assert!(
        all.len() >= 30,
        "at least 30 one-second ticks: {}",
        all.len()
    );
    assert!(takeovers >= 1, "the dead runner's runs were taken over");
    eprintln!(
        "{} ticks, {} runs, {takeovers} taken over",
        fires,
        all.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_missed_while_down_follow_the_missed_policy() {
    // `skip`: ticks older than a few seconds when the runner comes back are not run.
    let flow = TICK.replace("overlap: allow", "overlap: allow, missed: skip");
    let project = Project::new(&[("tick", &flow)]);
    let serve = Serve::start(&project, &project.store(), &["--sandbox"]);
    eventually(Duration::from_secs(20), "a first tick", || async {
        (!runs(&serve, "tick").await.is_empty()).then_some(())
    })
    .await;
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let serve = Serve::start(&project, &project.store(), &["--sandbox"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut seconds = Vec::new();
    for r in runs(&serve, "tick").await {
        let (_, d) = api(
            &serve,
            reqwest::Method::GET,
            &format!("/api/runs/{}", r["id"].as_str().expect("id")),
            None,
        )
        .await;
        if let Some(t) = d["output"].as_str() {
            let t: chrono::DateTime<chrono::Utc> = t.parse().expect("time");
            seconds.push(t.timestamp());
        }
    }
    seconds.sort_unstable();
    let longest_gap = seconds.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        longest_gap >= 4,
        "ticks older than the grace period were skipped: {seconds:?}"
    );
    // The ticks since the restart (and those within the grace period) all ran.
    let last = *seconds.last().expect("ticks");
    assert!(chrono::Utc::now().timestamp() - last <= 2, "{seconds:?}");
    let log = serve.log();
    assert!(log.contains("Missed schedule ticks skipped"), "{log}");
}
