//! Durable runs through the binary: every `sluice run` is recorded; a run killed with SIGKILL
//! at random points, again and again, is resumed by `sluice runs resume` until it ends — and
//! the sandbox holds exactly one copy of every write. Also `runs list/show/export/verify/prune`
//! and the secrets scan of the store file, the logs and the export.

use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use sluice_sandbox::{Fault, Sandbox, SandboxConfig};
use sluice_test_support::{GHL_MAIN_FROM_ENV, TempProject, output};

/// A project: sluice.toml with a bearer credential from `$GHL_TOKEN`, one flow, a store of its
/// own; and the base URL its `ghl` connection is sent to.
struct Project {
    temp: TempProject,
    base_url: String,
}

impl Project {
    fn new(flow_name: &str, flow: &str, base_url: String) -> Project {
        Project {
            temp: TempProject::new(GHL_MAIN_FROM_ENV).with_flow(flow_name, flow),
            base_url,
        }
    }

    /// `sluice` in the project, with `token` as `$GHL_TOKEN`.
    fn sluice(&self, token: &str) -> Command {
        let mut cmd = self.temp.sluice(env!("CARGO_BIN_EXE_sluice"));
        cmd.env("GHL_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn connection(&self) -> String {
        format!("ghl.base_url={}", self.base_url)
    }

    /// `sluice run flows/FLOW.yaml -i INPUT --connection …` started in the background, with
    /// `token` as `$GHL_TOKEN` (the caller kills it or waits for it).
    fn spawn_run(&self, token: &str, flow: &str, input: &str) -> std::process::Child {
        let mut cmd = self.sluice(token);
        cmd.args([
            "run",
            &format!("flows/{flow}.yaml"),
            "-i",
            input,
            "--connection",
        ])
        .arg(self.connection());
        cmd.spawn().expect("spawn")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PUSH_FLOW: &str = r#"
name: push-durable
inputs:
  contactId: { type: string }
  tasks: { type: array }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  create:
    action: ghl.create_task
    for_each: "{{ inputs.tasks }}"
    as: task
    with:
      contactId: "{{ inputs.contactId }}"
      title: "{{ task.title }}"
      dueDate: "{{ task.due }}"
      completed: false
  note:
    action: ghl.create_note
    for_each: "{{ steps.create }}"
    as: made
    with:
      contactId: "{{ inputs.contactId }}"
      body: "Pushed task {{ made.task.id }}"
  tag:
    action: ghl.add_tags
    after: [note]
    with:
      contactId: "{{ inputs.contactId }}"
      tags: [pushed]
output:
  tasks: "{{ steps.create }}"
  notes: "{{ steps.note }}"
  tags: "{{ steps.tag.tags }}"
"#;

/// The id of the run recorded most recently, if any.
async fn latest_run(project: &Project) -> Option<(String, String)> {
    let mut cmd = project.sluice("sandbox-token");
    cmd.args(["runs", "list", "--format", "json", "--limit", "1"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let run = runs.as_array()?.first()?;
    Some((
        run["id"].as_str()?.to_string(),
        run["status"].as_str()?.to_string(),
    ))
}

/// Starts `cmd` and kills it (SIGKILL) after `after`, unless it ended first. Returns whether it
/// was killed.
async fn kill_after(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd.spawn().expect("spawn");
    tokio::time::sleep(after).await;
    match child.try_wait().expect("try_wait") {
        Some(_) => false,
        None => {
            child.kill().expect("kill");
            let _ = child.wait();
            true
        }
    }
}

const PAGED_FLOW: &str = r#"
name: paged
inputs:
  locationId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  all:
    action: ghl.search_contacts_advanced
    pages: all
    with: { locationId: "{{ inputs.locationId }}", pageLimit: 2, page: 1 }
output:
  count: "{{ len steps.all.contacts }}"
  contacts: "{{ steps.all.contacts }}"
"#;

/// A search that answers six pages of two contacts, each after `delay`.
async fn paged_search(delay: Duration) -> wiremock::MockServer {
    use wiremock::matchers::{body_partial_json, method, path};
    let server = wiremock::MockServer::start().await;
    for page in 1..=6u64 {
        let contacts: Vec<Value> = (2 * page - 1..=2 * page)
            .map(|n| json!({"id": format!("c{n}"), "firstName": format!("N{n}")}))
            .collect();
        wiremock::Mock::given(method("POST"))
            .and(path("/contacts/search"))
            .and(body_partial_json(json!({"page": page})))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(json!({"contacts": contacts, "total": 12}))
                    .set_delay(delay),
            )
            .mount(&server)
            .await;
    }
    server
}

/// The page numbers of the searches `server` received, from the `from`-th request on.
async fn searched_pages(server: &wiremock::MockServer, from: usize) -> Vec<u64> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .skip(from)
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|b| b["page"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paged_read_killed_mid_way_resumes_at_its_next_page() {
    // Uninterrupted: the output to compare with.
    let fast = paged_search(Duration::ZERO).await;
    let whole = Project::new("paged", PAGED_FLOW, fast.uri());
    let mut cmd = whole.sluice("t");
    cmd.args([
        "run",
        "flows/paged.yaml",
        "-i",
        "locationId=loc_1",
        "--connection",
    ])
    .arg(whole.connection());
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(expected["count"], 12);
    assert_eq!(searched_pages(&fast, 0).await, [1, 2, 3, 4, 5, 6]);

    // Killed after some pages were recorded, then resumed.
    let slow = paged_search(Duration::from_millis(400)).await;
    let project = Project::new("paged", PAGED_FLOW, slow.uri());
    let mut child = project.spawn_run("t", "paged", "locationId=loc_1");
    let recorded =
        sluice_test_support::eventually(Duration::from_secs(30), "pages recorded", || {
            let project = &project;
            async move {
                let (id, _) = latest_run(project).await?;
                let mut show = project.sluice("t");
                show.args(["runs", "show", &id, "--format", "json"]);
                let out = output(show).await;
                let run: Value = serde_json::from_slice(&out.stdout).ok()?;
                let pages = run["steps"]
                    .as_array()?
                    .iter()
                    .filter(|s| s["step"] == "all" && s["item"].is_u64())
                    .count();
                (pages >= 3).then_some((id, pages))
            }
        })
        .await;
    child.kill().expect("kill");
    let _ = child.wait();
    let (id, pages_before) = recorded;
    let sent_before = slow.received_requests().await.unwrap_or_default().len();
    assert!(sent_before < 6, "the run was killed before its last page");

    let mut resume = project.sluice("t");
    resume
        .args(["runs", "resume", &id, "--connection"])
        .arg(project.connection());
    let out = output(resume).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let resumed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(resumed, expected, "the same output as an uninterrupted run");
    let after = searched_pages(&slow, sent_before).await;
    let first = after
        .first()
        .copied()
        .expect("the resume read the pages left");
    assert!(
        first > 1 && first as usize >= pages_before,
        "the resumed read starts at page {first}, after the {pages_before} recorded ones: {after:?}"
    );
    assert_eq!(after.last(), Some(&6));
}

const STREAMED_FLOW: &str = r#"
name: paged
inputs:
  locationId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  all:
    action: ghl.search_contacts_advanced
    pages: all
    with: { locationId: "{{ inputs.locationId }}", pageLimit: 2, page: 1 }
  noted:
    for_each: "{{ steps.all.contacts }}"
    action: ghl.create_note
    with: { contactId: "{{ item.id }}", body: "Hello {{ item.firstName }}" }
output:
  count: "{{ len steps.noted }}"
"#;

/// The paths of the notes `server` was asked to make.
async fn note_paths(server: &wiremock::MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/notes"))
        .map(|r| r.url.path().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_for_each_over_a_paged_read_killed_mid_way_writes_each_item_once() {
    use wiremock::matchers::{method, path_regex};
    let slow = paged_search(Duration::from_millis(400)).await;
    wiremock::Mock::given(method("POST"))
        .and(path_regex("^/contacts/c[0-9]+/notes$"))
        .respond_with(
            wiremock::ResponseTemplate::new(201).set_body_json(json!({"note": {"id": "n"}})),
        )
        .mount(&slow)
        .await;
    let project = Project::new("paged", STREAMED_FLOW, slow.uri());
    let mut child = project.spawn_run("t", "paged", "locationId=loc_1");
    // Killed once a few pages' items have been written.
    let id = sluice_test_support::eventually(Duration::from_secs(30), "notes written", || {
        let project = &project;
        let slow = &slow;
        async move {
            let (id, _) = latest_run(project).await?;
            (note_paths(slow).await.len() >= 4).then_some(id)
        }
    })
    .await;
    child.kill().expect("kill");
    let _ = child.wait();
    let written_before = note_paths(&slow).await.len();
    assert!(
        written_before < 12,
        "the run was killed before its last page"
    );

    let mut resume = project.sluice("t");
    resume
        .args(["runs", "resume", &id, "--connection"])
        .arg(project.connection());
    let out = output(resume).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let resumed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(resumed["count"], 12);
    let mut written = note_paths(&slow).await;
    written.sort();
    let mut expected: Vec<String> = (1..=12).map(|n| format!("/contacts/c{n}/notes")).collect();
    expected.sort();
    assert_eq!(written, expected, "every contact got one note, none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_and_every_write_is_made_once() {
    // A hundred-odd `sluice` processes in quick succession, each with its own rate budget
    // (only runners sharing a PostgreSQL store share one), and each bursting up to GHL's 100
    // per 10 s: together they would draw 429s, which fail this flow's steps (no `retry:`).
    // This test is about kills and resumes, so the sandbox counts no rate limit here; rate
    // limits have their own tests (sluice-connectors' ratelimit, sluice-cli's fleet).
    let config = SandboxConfig {
        rate_limit: None,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    // Each create and note is made at once and answered 60 ms later, so a scenario's writes
    // span a few hundred milliseconds after the process starts: a kill at a random moment of
    // the window below often falls between two writes, or between a write and its answer
    // (without the pause a fast start-up left most kills before the first write or after the
    // last, and the count of kills between writes depended on the machine's load).
    for route in [
        "POST /contacts/{contactId}/tasks",
        "POST /contacts/{contactId}/notes",
    ] {
        sandbox.set_fault(route, Fault::SlowAnswer(Duration::from_millis(60)));
    }
    let project = Project::new("push", PUSH_FLOW, sandbox.base_url());
    let state = sandbox.state().clone();
    let tasks_before = state.tasks().len();
    let notes_before = state.notes().len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut kills = 0;
    // Kills that left a scenario's writes half done (some tasks or notes made, not all).
    let mut mid_write_kills = 0;
    let mut scenario = 0;
    while kills < 24 {
        scenario += 1;
        let titles: Vec<String> = (0..6).map(|i| format!("S{scenario} task {i}")).collect();
        let tasks: Vec<Value> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"title": t, "due": format!("2026-12-0{}T09:00:00Z", i + 1)}))
            .collect();
        let inputs = project.temp.path().join(format!("inputs-{scenario}.json"));
        std::fs::write(
            &inputs,
            json!({"contactId": "ct_grace", "tasks": tasks}).to_string(),
        )
        .expect("inputs");
        let before = latest_run(&project).await.map(|r| r.0);
        // The first attempt: `sluice run`, killed at a random moment.
        let mut first = project.sluice("sandbox-token");
        first
            .args(["run", "flows/push.yaml", "--inputs"])
            .arg(&inputs)
            .args(["--connection", &project.connection()]);
        let prefix = format!("S{scenario} ");
        let half_done = |state: &sluice_sandbox::SandboxState| {
            let tasks: Vec<String> = state
                .tasks()
                .into_iter()
                .filter(|t| t.title.starts_with(&prefix))
                .map(|t| t.id)
                .collect();
            let notes = state
                .notes()
                .iter()
                .filter(|n| tasks.iter().any(|id| n.body == format!("Pushed task {id}")))
                .count();
            (1..12).contains(&(tasks.len() + notes))
        };
        if kill_after(
            first,
            Duration::from_millis(rng.random_range(KILL_WINDOW_MS)),
        )
        .await
        {
            kills += 1;
            mid_write_kills += usize::from(half_done(&state));
        }
        let Some((id, mut status)) = latest_run(&project)
            .await
            .filter(|r| Some(&r.0) != before.as_ref())
        else {
            // Killed before the run was recorded: nothing was sent, nothing to resume.
            assert_eq!(
                state
                    .tasks()
                    .iter()
                    .filter(|t| t.title.starts_with(&format!("S{scenario} ")))
                    .count(),
                0
            );
            continue;
        };
        // Resume, killing most resumes too, until the run ends.
        let mut resumes = 0;
        while status != "succeeded" {
            resumes += 1;
            assert!(resumes < 60, "run {id} never finished");
            let mut cmd = project.sluice("sandbox-token");
            cmd.args(["runs", "resume", &id, "--connection", &project.connection()]);
            if kills < 24 && rng.random_bool(0.7) {
                if kill_after(cmd, Duration::from_millis(rng.random_range(KILL_WINDOW_MS))).await {
                    kills += 1;
                    mid_write_kills += usize::from(half_done(&state));
                }
            } else {
                let out = output(cmd).await;
                assert!(
                    out.status.code() == Some(0) || out.status.code() == Some(1),
                    "resume: {}",
                    text(&out.stderr)
                );
            }
            status = latest_run(&project).await.expect("the run").1;
        }
        // Exactly one task per title, one note per task, and the output names them.
        let made: Vec<_> = state
            .tasks()
            .into_iter()
            .filter(|t| t.title.starts_with(&format!("S{scenario} ")))
            .collect();
        for title in &titles {
            assert_eq!(
                made.iter().filter(|t| &t.title == title).count(),
                1,
                "scenario {scenario}: `{title}` must exist exactly once"
            );
        }
        let mut show = project.sluice("sandbox-token");
        show.args(["runs", "show", &id, "--format", "json"]);
        let out = output(show).await;
        let detail: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let output_tasks = detail["output"]["tasks"].as_array().expect("tasks").clone();
        assert_eq!(output_tasks.len(), titles.len());
        for (made_task, title) in output_tasks.iter().zip(&titles) {
            assert_eq!(&made_task["task"]["title"], title);
            let id = made_task["task"]["id"].as_str().expect("id");
            assert!(
                made.iter().any(|t| t.id == id),
                "the output names task {id} of the sandbox"
            );
            assert_eq!(
                state
                    .notes()
                    .iter()
                    .filter(|n| n.body == format!("Pushed task {id}"))
                    .count(),
                1,
                "one note for task {id}"
            );
        }
        let tags = detail["output"]["tags"].as_array().expect("tags");
        assert_eq!(
            tags.iter().filter(|t| *t == "pushed").count(),
            1,
            "{tags:?}"
        );
    }
    assert!(kills >= 24, "{kills} kills");
    assert!(
        mid_write_kills >= 5,
        "only {mid_write_kills} kills fell between a scenario's first and last write"
    );
    // Nothing else was created: every task and note belongs to a scenario.
    let tasks_made = state.tasks().len() - tasks_before;
    let notes_made = state.notes().len() - notes_before;
    assert_eq!(tasks_made, notes_made);
    assert_eq!(tasks_made % 6, 0);
    eprintln!(
        "{kills} kills ({mid_write_kills} between writes) over {scenario} scenarios; \
         {tasks_made} tasks, {notes_made} notes"
    );
    // The audit log of all that is intact.
    let mut verify = project.sluice("sandbox-token");
    verify.args(["runs", "verify"]);
    let out = output(verify).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sandbox.shutdown().await;
}

/// When the test kills a `sluice` process, in milliseconds after it starts: from before its
/// first write to after its last (see `killed_runs_resume_and_every_write_is_made_once`).
const KILL_WINDOW_MS: std::ops::Range<u64> = 50..800;

/// The secrets of the scan test: characters that URL-encoding changes, long enough to be
/// unmistakable.
const GHL_SECRET: &str = "pit-7Hq/x+Zr=Secret_ghl~42";
const IPINFO_SECRET: &str = "ipi-Qz9/w+Vt=Secret-ipinfo.7";

/// Every form of `secret` that must never be stored or logged.
fn forms(secret: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let url_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let pct = |set| percent_encoding::utf8_percent_encode(secret, set).to_string();
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    vec![
        ("plain".into(), secret.to_string()),
        ("base64".into(), b64.encode(secret)),
        ("base64url".into(), url_b64.encode(secret)),
        (
            "url-encoded".into(),
            pct(percent_encoding::NON_ALPHANUMERIC),
        ),
        ("url-encoded (unreserved kept)".into(), pct(UNRESERVED)),
        (
            "Basic header".into(),
            format!("Basic {}", b64.encode(format!("{secret}:"))),
        ),
    ]
}

/// The places in `haystack` where a form of a secret appears.
fn leaks(name: &str, haystack: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in [GHL_SECRET, IPINFO_SECRET] {
        for (form, needle) in forms(secret) {
            if haystack
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(format!("{name}: {form} form of `{secret}`"));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_store_logs_or_export() {
    use base64::Engine as _;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let b64 = base64::engine::general_purpose::STANDARD;
    let echo = |s: &str| {
        json!({
            "plain": s,
            "base64": b64.encode(s),
            "url": format!("https://x.test/?token={}", percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)),
            "basic": format!("Basic {}", b64.encode(format!("{s}:"))),
        })
    };
    // An API that echoes its credentials back in every way it can: in answers and in errors.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "contact": {"id": "c1", "firstName": GHL_SECRET, "customFields": [echo(GHL_SECRET)]}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1/notes"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": format!("token {GHL_SECRET} is not valid ({})", b64.encode(GHL_SECRET))
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ipinfo/8.8.8.8"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ip": "8.8.8.8", "city": "Mountain View", "echo": echo(IPINFO_SECRET)
        })))
        .mount(&server)
        .await;
    let flow = r#"
name: leaky
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
  geo: { connector: ipinfo, credential: ipinfo_main }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
  where:
    action: geo.lookup_ip
    with: { ip: 8.8.8.8 }
  notes:
    action: ghl.list_notes
    with: { contactId: "{{ steps.contact.contact.id }}" }
    on_error: continue
output:
  name: "{{ steps.contact.contact.firstName }}"
  contact: "{{ steps.contact }}"
  where: "{{ steps.where }}"
  notes: "{{ steps.notes }}"
"#;
    let project = Project::new("leaky", flow, server.uri());
    std::fs::write(
        project.temp.path().join("sluice.toml"),
        "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\n\n\
         [credentials.ipinfo_main]\nkind = \"query\"\ntoken = { file = \"ipinfo.token\" }\n",
    )
    .expect("toml");
    std::fs::write(project.temp.path().join("ipinfo.token"), IPINFO_SECRET).expect("token");
    // A failing variant too: its error ends up in the run's error.
    std::fs::write(
        project.temp.path().join("flows/leaky-fails.yaml"),
        flow.replace("name: leaky", "name: leaky-fails")
            .replace("    on_error: continue\n", ""),
    )
    .expect("flow");
    let mut logs = Vec::new();
    for (file, code) in [("flows/leaky.yaml", 0), ("flows/leaky-fails.yaml", 1)] {
        for format in ["text", "json"] {
            let mut cmd = project.sluice(GHL_SECRET);
            cmd.args([
                "run",
                file,
                "-i",
                "contactId=c1",
                "-vv",
                "--log-format",
                format,
            ])
            .args(["--connection", &project.connection(), "--connection"])
            .arg(format!("geo.base_url={}/ipinfo", server.uri()));
            let out = output(cmd).await;
            assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
            logs.push((format!("{file} stdout ({format})"), out.stdout));
            logs.push((format!("{file} stderr ({format})"), out.stderr));
        }
    }
    // The echo reached the flow, so redaction had something to do.
    let first = String::from_utf8_lossy(&logs[0].1).into_owned();
    assert!(first.contains("[REDACTED]"), "{first}");
    assert!(first.contains("Mountain View"), "{first}");
    let mut found = Vec::new();
    for (name, bytes) in &logs {
        found.extend(leaks(name, bytes));
    }
    for args in [
        vec!["runs", "export", "--since", "1d"],
        vec!["runs", "list", "--format", "json"],
    ] {
        let mut cmd = project.sluice(GHL_SECRET);
        cmd.args(&args);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(!out.stdout.is_empty());
        found.extend(leaks(&args.join(" "), &out.stdout));
        if args[1] == "export" {
            let lines = out
                .stdout
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(lines, 4, "four runs exported");
            for id in String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| v["id"].as_str().map(str::to_string))
            {
                let mut show = project.sluice(GHL_SECRET);
                show.args(["runs", "show", &id]);
                let out = output(show).await;
                found.extend(leaks(&format!("runs show {id}"), &out.stdout));
            }
        }
    }
    // Every file of the store: the database, its WAL and shared memory.
    for entry in std::fs::read_dir(project.temp.path().join("state")).expect("state dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        found.extend(leaks(&path.display().to_string(), &bytes));
    }
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_listed_shown_verified_pruned_and_tampering_is_caught() {
    let project = Project::new(
        "contact-360",
        &sluice_test_support::workflow("contact-360"),
        String::new(),
    );
    for contact in ["ct_ada", "ct_grace"] {
        let mut cmd = project.sluice("unused");
        cmd.args(["run", "flows/contact-360.yaml", "--sandbox", "-i"])
            .arg(format!("contactId={contact}"));
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let run_cmd = |args: &[&str]| {
        let mut cmd = project.sluice("unused");
        cmd.args(args);
        output(cmd)
    };
    let list = run_cmd(&["runs", "list"]).await;
    let listed = text(&list.stdout);
    assert_eq!(
        listed.lines().count(),
        3,
        "a header and two runs:\n{listed}"
    );
    assert!(
        listed
            .lines()
            .skip(1)
            .all(|l| l.contains("contact-360") && l.contains("succeeded"))
    );
    let id = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("id");
    let show = run_cmd(&["runs", "show", id]).await;
    let shown = text(&show.stdout);
    assert!(shown.contains("contactId"), "{shown}");
    for step in ["contact", "notes", "tasks", "open_tasks", "overdue"] {
        assert!(
            shown.contains(&format!("\n  {step}  succeeded")),
            "{step} in:\n{shown}"
        );
    }
    assert!(shown.contains("request  GET http://127.0.0.1:"), "{shown}");
    assert!(
        shown.contains("Grace"),
        "the latest run is Grace's:\n{shown}"
    );
    let unknown = run_cmd(&["runs", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no run `01ARZ3NDEKTSV4RRFFQ69G5FAV`"));
    let bad = run_cmd(&["runs", "show", "nope"]).await;
    assert!(
        text(&bad.stderr).contains("is not a run id"),
        "{}",
        text(&bad.stderr)
    );

    let verify = run_cmd(&["runs", "verify"]).await;
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    assert!(text(&verify.stdout).starts_with("audit log intact: 4 records"));
    // Someone with the database file (and the will to drop the append-only triggers) edits the
    // record of the first run's end.
    {
        use sqlx::Connection as _;
        let mut db = sqlx::SqliteConnection::connect(&project.temp.store_url())
            .await
            .expect("connect");
        sqlx::raw_sql("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete")
            .execute(&mut db)
            .await
            .expect("drop triggers");
        sqlx::query("UPDATE audit_log SET payload = '{\"flow\":\"forged\"}' WHERE seq = 2")
            .execute(&mut db)
            .await
            .expect("tamper");
        db.close().await.expect("close");
    }
    let verify = run_cmd(&["runs", "verify"]).await;
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        text(&verify.stdout).contains("record 2 is the first bad one"),
        "{}",
        text(&verify.stdout)
    );

    // Retention: nothing is older than 30 days; everything is older than 0 s.
    let keep = run_cmd(&["runs", "prune"]).await;
    assert!(
        text(&keep.stdout).starts_with("removed 0 runs"),
        "{}",
        text(&keep.stdout)
    );
    let prune = run_cmd(&["runs", "prune", "--older-than", "0s"]).await;
    assert!(
        text(&prune.stdout).starts_with("removed 2 runs"),
        "{}",
        text(&prune.stdout)
    );
    let list = run_cmd(&["runs", "list", "--format", "json"]).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout).expect("JSON"),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_output_cap_and_the_retention_come_from_sluice_toml() {
    let project = Project::new(
        "contact-360",
        &sluice_test_support::workflow("contact-360"),
        String::new(),
    );
    let toml = project.temp.path().join("sluice.toml");
    let text_before = std::fs::read_to_string(&toml).expect("toml");
    std::fs::write(
        &toml,
        format!("{text_before}\n[runs]\nmax_output_bytes = 300\nretention = \"1s\"\n"),
    )
    .expect("toml");
    let mut cmd = project.sluice("unused");
    cmd.args([
        "run",
        "flows/contact-360.yaml",
        "--sandbox",
        "-i",
        "contactId=ct_ada",
    ]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The printed output is whole; the stored one is capped with a marker.
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed["name"], "Ada Lovelace");
    let mut list = project.sluice("unused");
    list.args(["runs", "list", "--format", "json"]);
    let runs: Value = serde_json::from_slice(&output(list).await.stdout).expect("JSON");
    let id = runs[0]["id"].as_str().expect("id").to_string();
    let mut show = project.sluice("unused");
    show.args(["runs", "show", &id, "--format", "json"]);
    let detail: Value = serde_json::from_slice(&output(show).await.stdout).expect("JSON");
    let contact = detail["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == "contact"))
        .expect("contact step");
    assert_eq!(contact["output"]["$truncated"], json!(true), "{contact}");
    assert!(
        contact["output"]["preview"]
            .as_str()
            .is_some_and(|p| p.len() <= 1024)
    );
    assert_eq!(detail["output"]["$truncated"], json!(true));
    // `[runs] retention = "1s"`: `runs prune` with no flag removes the run a moment later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut prune = project.sluice("unused");
    prune.args(["runs", "prune"]);
    let out = output(prune).await;
    assert!(
        text(&out.stdout).starts_with("removed 1 run "),
        "{}",
        text(&out.stdout)
    );
}

const READ_FLOW: &str = r#"
name: read
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
output: "{{ steps.contact.contact.id }}"
"#;

/// `runs show ID --format json` of `project`'s run `id`.
async fn show_json(project: &Project, id: &str) -> Value {
    let mut show = project.sluice("sandbox-token");
    show.args(["runs", "show", id, "--format", "json"]);
    let out = output(show).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// (attempt, status, error) of each recorded HTTP call of step `step`, in order.
fn calls_of(detail: &Value, step: &str) -> Vec<(u64, Value, Value)> {
    detail["http_calls"]
        .as_array()
        .expect("http_calls")
        .iter()
        .filter(|c| c["step"] == step)
        .map(|c| {
            (
                c["attempt"].as_u64().expect("attempt"),
                c["status"].clone(),
                c["error"].clone(),
            )
        })
        .collect()
}

/// Issue 17, "a killed first attempt is missing from the record": a read is recorded when it
/// is sent, so `kill -9` while it waits for its answer leaves it in the record as sent and
/// unanswered; the resumed run's read is attempt 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_first_attempt_is_not_missing_from_the_record() {
    let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let route = "GET /contacts/{contactId}";
    sandbox.set_fault(route, Fault::Latency(Duration::from_secs(60)));
    let project = Project::new("read", READ_FLOW, sandbox.base_url());
    let mut child = project.spawn_run("sandbox-token", "read", "contactId=ct_ada");
    // The attempt is in the record, unanswered, while the answer is awaited.
    let (id, calls) =
        sluice_test_support::eventually(Duration::from_secs(30), "the read recorded", || {
            let project = &project;
            async move {
                let (id, _) = latest_run(project).await?;
                let calls = calls_of(&show_json(project, &id).await, "contact");
                (!calls.is_empty()).then_some((id, calls))
            }
        })
        .await;
    assert_eq!(
        calls,
        [(1, Value::Null, json!(sluice_store::NO_ANSWER))],
        "while waiting"
    );
    child.kill().expect("kill");
    let _ = child.wait();

    let detail = show_json(&project, &id).await;
    assert_eq!(detail["status"], "running", "killed, not ended");
    assert_eq!(
        calls_of(&detail, "contact"),
        [(1, Value::Null, json!(sluice_store::NO_ANSWER))],
        "{detail}"
    );
    assert!(
        detail["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["step"] != "contact"),
        "the step did not finish: {detail}"
    );
    let mut show = project.sluice("sandbox-token");
    show.args(["runs", "show", &id]);
    let shown = text(&output(show).await.stdout);
    let line = shown
        .lines()
        .find(|l| l.trim_start().starts_with("contact #1"))
        .unwrap_or_else(|| panic!("no line of attempt 1:\n{shown}"));
    assert!(
        line.contains("GET ") && line.contains("→ no answer") && line.contains("no answer: sent"),
        "{line}"
    );

    // Resumed: the read is sent again, as attempt 2, and answered.
    sandbox.set_fault(route, Fault::None);
    let mut resume = project.sluice("sandbox-token");
    resume
        .args(["runs", "resume", &id, "--connection"])
        .arg(project.connection());
    let out = output(resume).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON"),
        "ct_ada"
    );
    let detail = show_json(&project, &id).await;
    assert_eq!(
        calls_of(&detail, "contact"),
        [
            (1, Value::Null, json!(sluice_store::NO_ANSWER)),
            (2, json!(200), Value::Null)
        ],
        "{detail}"
    );
    let step = detail["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == "contact"))
        .expect("contact step");
    assert_eq!(step["attempts"], 2, "{step}");
    assert_eq!(step["status"], "succeeded", "{step}");
    sandbox.shutdown().await;
}

/// Issue 17, "a resumed run's output says `created: 0` for creates it reconciled": killed
/// while the sandbox holds back the answers of creates it has made, `push-tasks-to-ghl`
/// resumes with what each task's `existing` read answered before the kill (the task absent),
/// so the reconciled creates count as created, and each task exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_counts_the_creates_it_reconciled_as_created() {
    let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let create = "POST /contacts/{contactId}/tasks";
    sandbox.set_fault(create, Fault::SlowAnswer(Duration::from_secs(60)));
    let project = Project {
        temp: TempProject::new(GHL_MAIN_FROM_ENV)
            .with_example("push-tasks-to-ghl")
            .with_example("push-task-to-ghl"),
        base_url: sandbox.base_url(),
    };
    let titles = ["Reconciled one", "Reconciled two", "Reconciled three"];
    let tasks: Vec<Value> = titles
        .iter()
        .zip(["ct_ada", "ct_grace", "ct_ada"])
        .enumerate()
        .map(|(i, (title, contact))| {
            json!({"contactId": contact, "externalId": format!("crm-{i}"), "title": title,
                   "dueDate": format!("2026-12-0{}T10:00:00Z", i + 1), "completed": false})
        })
        .collect();
    let inputs = project.temp.path().join("tasks.json");
    std::fs::write(&inputs, json!({ "tasks": tasks }).to_string()).expect("inputs");
    let state = sandbox.state().clone();
    let made = |title: &str| state.tasks().iter().filter(|t| t.title == title).count();
    let mut run = project.sluice("sandbox-token");
    run.args(["run", "flows/push-tasks-to-ghl.yaml", "--inputs"])
        .arg(&inputs)
        .args(["--connection", &project.connection()]);
    let mut child = run.spawn().expect("spawn");
    // Two at a time: the first two creates are made, their answers held back.
    sluice_test_support::eventually(Duration::from_secs(30), "two creates made", || {
        let n = titles.iter().map(|t| made(t)).sum::<usize>();
        async move { (n == 2).then_some(()) }
    })
    .await;
    child.kill().expect("kill");
    let _ = child.wait();
    let (id, status) = latest_run(&project).await.expect("the run");
    assert_eq!(status, "running", "killed, not ended");

    sandbox.set_fault(create, Fault::None);
    let mut resume = project.sluice("sandbox-token");
    resume
        .args(["runs", "resume", &id, "--connection"])
        .arg(project.connection());
    let out = output(resume).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for title in titles {
        assert_eq!(made(title), 1, "`{title}` exists exactly once");
    }
    assert_eq!(printed["created"], 3, "{printed}");
    assert_eq!(printed["unchanged"], 0, "{printed}");
    assert_eq!(printed["updated"], 0, "{printed}");
    let detail = show_json(&project, &id).await;
    assert_eq!(detail["output"]["created"], 3, "{detail}");
    sandbox.shutdown().await;
}
