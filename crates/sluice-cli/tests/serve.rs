//! `sluice serve` through the binary, for what needs separate processes: it starts, answers
//! `/healthz` and stops on SIGTERM; a stopping runner hands back what it cannot finish; due
//! tasks, polled items and missed schedule ticks across restarts; `task_due` on a location with
//! 600 contacts and 1,500 tasks (each due task once, the API calls of a look counted); three runners sharing one
//! PostgreSQL while one is killed; a streamed output stored item by item across a hand-back
//! (on SQLite and PostgreSQL); a step that panics fails its run and the schedule goes on; and
//! `sluice schedule`. The HTTP API, webhooks, schedules,
//! reloads and the web view are tested in-process in `sluice-server`'s tests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::{
    ApiClient, GHL_MAIN_FROM_ENV, ServeProcess, TempProject, eventually, flows,
};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

const TOKEN: &str = "serve-test-token-0123456789";

/// A project folder: `flows/`, sluice.toml (API token from `$SERVE_TOKEN`, the credential the
/// example flows name from `$GHL_TOKEN`), its own SQLite store.
fn new_project(flows: &[(&str, &str)]) -> TempProject {
    let project = TempProject::new(&format!(
        "[serve]\ntoken = {{ env = \"SERVE_TOKEN\" }}\n\n{GHL_MAIN_FROM_ENV}"
    ));
    for (name, text) in flows {
        project.write_flow(name, text);
    }
    project
}

/// Starts `sluice serve flows --store STORE --tick 200ms ARGS` in the project (on 127.0.0.1:0 unless
/// ARGS say `--listen`), with the API token and the sandbox's GHL token in its environment.
fn start(project: &TempProject, store: &str, args: &[&str]) -> ServeProcess {
    ServeProcess::start(serve_command(project, store, args), Duration::from_secs(30))
}

/// The command [`start`] starts.
fn serve_command(project: &TempProject, store: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = project.sluice(SLUICE);
    cmd.env("SERVE_TOKEN", TOKEN)
        .env("GHL_TOKEN", "sandbox-token")
        .args(["serve", "flows", "--store", store, "--tick", "200ms"])
        .args(if args.contains(&"--listen") {
            &[][..]
        } else {
            &["--listen", "127.0.0.1:0"][..]
        })
        .args(args);
    cmd
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// The runner's API, called with [`TOKEN`].
fn api(serve: &ServeProcess) -> ApiClient {
    ApiClient::new(serve.base(), TOKEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_answers_healthz_runs_on_the_sandbox_and_stops_on_sigterm() {
    let project = new_project(&[("contact-360", &sluice_test_support::workflow("contact-360"))]);
    let serve = start(&project, &project.store_url(), &["--sandbox"]);
    let health = client()
        .get(serve.url("/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), 200);
    // The token from the environment and `--sandbox` are wired up: a run succeeds.
    let (status, body) = api(&serve)
        .call(
            reqwest::Method::POST,
            "/api/flows/contact-360/runs?wait=20s",
            Some(json!({"contactId": "ct_ada"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["name"], "Ada Lovelace", "{body}");
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("1 flow(s) from flows"), "{log}");
    assert!(
        log.contains("stopped (0 run(s) handed back to the queue)"),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn schedule_prints_the_next_fire_times_in_the_zone() {
    let project = new_project(&[(
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
    let out = project
        .sluice(SLUICE)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_tasks_and_polled_items_fire_once_across_restarts() {
    let sandbox = sluice_sandbox::Sandbox::start(
        sluice_sandbox::SandboxConfig::default(),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .expect("sandbox");
    let project = new_project(&[("due", flows::DUE), ("new-contacts", flows::NEW_CONTACTS)]);
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
    let serve = start(&project, &project.store_url(), &["--connection", &conn]);
    let due_runs = eventually(Duration::from_secs(30), "the due task's run", || async {
        let r: Vec<Value> = api(&serve)
            .runs("due")
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
            let (_, d) = api(&serve)
                .call(
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
    assert!(api(&serve).runs("new-contacts").await.is_empty());
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
        let r: Vec<Value> = api(&serve)
            .runs("new-contacts")
            .await
            .into_iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(polled.len(), 1);
    let due_count = api(&serve).runs("due").await.len();
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    // Restarted: nothing fires again.
    let serve = start(&project, &project.store_url(), &["--connection", &conn]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(api(&serve).runs("due").await.len(), due_count);
    let again = api(&serve).runs("new-contacts").await;
    assert_eq!(again.len(), 1);
    let (_, d) = api(&serve)
        .call(
            reqwest::Method::GET,
            &format!("/api/runs/{}", again[0]["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(d["output"], json!(new_id));
    sandbox.shutdown().await;
}

const DUE_IDS: &str = r#"
name: due-ids
on:
  - task_due: { connection: ghl, within: 1h, every: 1h }
inputs:
  task: { type: object }
connections:
  ghl: { connector: ghl-locations, credential: ghl_main }
steps:
  id:
    value: "{{ inputs.task.id }}"
output: "{{ steps.id }}"
"#;

/// The sandbox's route of the location task search.
const TASK_SEARCH: &str = "POST /locations/{locationId}/tasks/search";

/// The task ids the succeeded runs of `flow` output.
async fn run_outputs(api: &ApiClient, flow: &str) -> Vec<String> {
    let mut out = Vec::new();
    for r in api.runs(flow).await {
        let id = r["id"].as_str().expect("id");
        let (_, d) = api
            .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
            .await;
        assert_eq!(d["status"], "succeeded", "{d}");
        out.push(d["output"].as_str().unwrap_or_default().to_string());
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_due_fires_once_for_each_due_task_of_a_large_location() {
    // 600 contacts, 1,500 tasks: 150 open and due in 30 minutes, 150 completed and due then,
    // 1,200 open and due in days. The search pages through the 1,350 open tasks.
    let scale = sluice_sandbox::Scale {
        contacts: 600,
        tasks: 1_500,
        due_every: 10,
    };
    let config = sluice_sandbox::SandboxConfig {
        seed: scale.seed(chrono::Utc::now()),
        ..sluice_sandbox::SandboxConfig::default()
    };
    let sandbox = sluice_sandbox::Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let project = new_project(&[("due-ids", DUE_IDS)]);
    let conn = format!("ghl.base_url={}", sandbox.base_url());
    let serve = start(&project, &project.store_url(), &["--connection", &conn]);
    let mut expected = scale.due_ids();
    expected.sort();
    assert_eq!(expected.len(), 150);
    eventually(
        Duration::from_secs(60),
        "a run for each due task",
        || async {
            let runs = api(&serve).runs("due-ids").await;
            let done = runs.iter().filter(|r| r["status"] == "succeeded").count();
            (done >= expected.len()).then_some(())
        },
    )
    .await;
    // Each due task fired exactly once (none twice, none missed), the completed ones not.
    assert_eq!(run_outputs(&api(&serve), "due-ids").await, expected);
    // One look: 100 tasks a call, 14 calls for 1,350 open tasks (the search answers the soonest
    // first, so the runs can be done before the look is).
    let pages = scale.open_tasks() / 100 + 1;
    assert_eq!(pages, 14);
    eventually(Duration::from_secs(30), "the first look", || async {
        (sandbox.state().request_count(TASK_SEARCH) >= pages as u64).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sandbox.state().request_count(TASK_SEARCH), pages as u64);
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    // Restarted within the hour, the runner does not look again: the store records that this
    // hour's look was taken (by any runner of the fleet). Should the hour have turned since the
    // first look, it looks once more — every task is seen again and none fires again.
    let serve = start(&project, &project.store_url(), &["--connection", &conn]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let searches = sandbox.state().request_count(TASK_SEARCH);
    assert!(
        searches == pages as u64 || searches == 2 * pages as u64,
        "{searches} task searches: not one look per hour"
    );
    assert_eq!(run_outputs(&api(&serve), "due-ids").await, expected);
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
    let project = new_project(&[("slow", &flow)]);
    let conn = format!("api.base_url={}", server.uri());
    let serve = start(
        &project,
        &project.store_url(),
        &["--connection", &conn, "--shutdown-timeout", "1s"],
    );
    let (status, body) = api(&serve)
        .call(
            reqwest::Method::POST,
            "/api/flows/slow/runs",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    eventually(Duration::from_secs(10), "the run to start", || async {
        let (_, r) = api(&serve)
            .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
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
    let serve = start(&project, &project.store_url(), &["--connection", &conn]);
    let run = eventually(Duration::from_secs(20), "the resumed run", || async {
        let (_, r) = api(&serve)
            .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
            .await;
        (r["status"] == "succeeded").then_some(r)
    })
    .await;
    assert_eq!(run["claims"], 2, "{run}");
    assert_eq!(run["output"], "slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_share_postgres_every_tick_runs_once_even_when_one_dies() {
    let store = sluice_test_support::pg_schema("serve").await;
    let server = slow_server(Duration::from_millis(1500)).await;
    let project = new_project(&[("slow", SLOW)]);
    let conn = format!("api.base_url={}", server.uri());
    let args = ["--connection", conn.as_str(), "--lease", "3s"];
    let mut runners: Vec<ServeProcess> = (0..3)
        .map(|i| {
            let name = format!("runner-{i}");
            let mut a = args.to_vec();
            a.extend(["--name", name.as_str()]);
            start(&project, &store, &a)
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    // One runner dies mid-way, with runs in its hands.
    let watcher = sluice_store::Store::open(&store).await.expect("store");
    eventually(Duration::from_secs(30), "runner-0 to hold a run", || {
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
                if d.run.owner.as_deref() == Some("runner-0") {
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
    // Whatever the last runner handed back, a fresh runner finishes. Its flow has no schedule,
    // so it fires no tick of its own while the test counts runs against fired ticks.
    let unscheduled = SLOW.replace(
        "  - schedule: { cron: \"* * * * * *\", overlap: allow }\n",
        "",
    );
    assert_ne!(unscheduled, SLOW);
    let finisher = new_project(&[("slow", &unscheduled)]);
    let last = start(&finisher, &store, &args);
    let all = eventually(Duration::from_secs(90), "every run finished", || {
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
        assert_eq!(d.run.status, sluice_store::RunStatus::Succeeded, "{d:?}");
        assert_eq!(d.run.output, Some(json!("slow")));
        ticks.push(d.run.inputs.clone());
        if d.run.claims > 1 {
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
    // About 31 s of ticks, less the runners' start-up (seconds on a loaded machine): the
    // count only shows the test saw many ticks; contiguity and one run each are checked above.
    assert!(
        all.len() >= 20,
        "at least 20 one-second ticks: {}",
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
    let flow =
        sluice_test_support::flows::TICK.replace("overlap: allow", "overlap: allow, missed: skip");
    let project = new_project(&[("tick", &flow)]);
    let serve = start(&project, &project.store_url(), &["--sandbox"]);
    eventually(Duration::from_secs(20), "a first tick", || async {
        (!api(&serve).runs("tick").await.is_empty()).then_some(())
    })
    .await;
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let serve = start(&project, &project.store_url(), &["--sandbox"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut seconds = Vec::new();
    for r in api(&serve).runs("tick").await {
        let (_, d) = api(&serve)
            .call(
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

/// A flow whose output is a `for_each`'s results: the runner streams it to the store.
const MANY: &str = r#"
name: many
inputs:
  ids: { type: array }
connections:
  crm: { connector: echo-crm, credential: crm }
steps:
  contacts:
    for_each: "{{ inputs.ids }}"
    as: id
    concurrency: 8
    action: crm.get_contact
    with: { contactId: "{{ id }}" }
    retry: { attempts: 1 }
output: "{{ steps.contacts }}"
"#;

/// A flow with an output kept whole.
const ONE: &str = r#"
name: one
steps:
  merged:
    value: { a: 1, b: [2, 3] }
output: "{{ steps.merged }}"
"#;

/// Answers `/contacts/ID` with `{"contact": {"id": ID, "note": …}}` after `delay`, the note
/// echoing the credential's token (as an API that echoes a request's header can).
async fn echo_server(delay: Duration) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(move |req: &wiremock::Request| {
            let id = req.url.path().rsplit('/').next().unwrap_or_default();
            wiremock::ResponseTemplate::new(200)
                .set_delay(delay)
                .set_body_json(json!({"contact": {"id": id, "note": "token sandbox-token"}}))
        })
        .mount(&server)
        .await;
    server
}

/// `GET /api/runs/{id}/output`: its content type and body.
async fn run_output(serve: &ServeProcess, id: &str) -> (String, String) {
    let r = client()
        .get(serve.url(&format!("/api/runs/{id}/output")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get output");
    assert_eq!(r.status(), 200);
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (kind, r.text().await.expect("body"))
}

/// A run of `for_each` over 2,000 ids through `sluice serve`, on `store`: its items reach the
/// store while it runs; a runner that stops mid-way hands it back and the next one resumes it
/// without storing any item twice; `GET /api/runs/{id}/output` then streams every item once, in
/// order, as JSON lines, with the token the API echoed redacted; the run's stored output is
/// `{"$items": 2000}`; `sluice runs show ID --output` prints the same lines. A run whose output
/// is not streamed answers with its output as JSON.
async fn streamed_output_is_stored_item_by_item(store: &str) {
    const N: usize = 2000;
    let server = echo_server(Duration::from_millis(15)).await;
    let project = TempProject::new(
        "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\n\n\
         [credentials.crm]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\n",
    )
    .with_flow("many", MANY)
    .with_flow("one", ONE);
    project.write(
        "connectors/echo-crm.yaml",
        flows::contact_reader("echo-crm", "http://127.0.0.1:1"),
    );
    let conn = format!("crm.base_url={}", server.uri());
    let args = ["--connection", conn.as_str(), "--shutdown-timeout", "1s"];
    let serve = start(&project, store, &args);
    let ids: Vec<String> = (0..N).map(|k| format!("c{k}")).collect();
    let (status, body) = api(&serve)
        .call(
            reqwest::Method::POST,
            "/api/flows/many/runs",
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    // Items are in the store (and served as lines) while the run goes; before the first, the
    // output is `null`.
    let partial = eventually(Duration::from_secs(30), "the first items", || async {
        let (kind, text) = run_output(&serve, &id).await;
        match kind.as_str() {
            "application/x-ndjson" => Some(text),
            _ => {
                assert_eq!(text, "null");
                None
            }
        }
    })
    .await;
    let first: Value =
        serde_json::from_str(partial.lines().next().unwrap_or_default()).expect("a JSON line");
    assert_eq!(first["contact"]["id"], "c0", "{partial}");
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("1 run(s) handed back"), "{log}");

    // The next runner resumes it: the for_each runs its items again, the stored ones stay.
    let serve = start(&project, store, &args);
    let run = eventually(Duration::from_secs(120), "the resumed run", || async {
        let (_, r) = api(&serve)
            .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
            .await;
        (r["status"] == "succeeded").then_some(r)
    })
    .await;
    assert_eq!(run["claims"], 2, "taken over once");
    assert_eq!(run["output"], json!({"$items": N}));
    let (kind, text) = run_output(&serve, &id).await;
    assert_eq!(kind, "application/x-ndjson");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), N, "each item once");
    for (k, line) in lines.iter().enumerate() {
        let item: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(item["contact"]["id"], json!(format!("c{k}")), "line {k}");
        assert_eq!(item["contact"]["note"], "token [REDACTED]", "line {k}");
    }
    assert!(!text.contains("sandbox-token"));

    let shown = project
        .sluice(SLUICE)
        .args(["runs", "show", &id, "--output", "--store", store])
        .output()
        .expect("runs show");
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&shown.stdout), text);
    // The web view's run page links to them instead of showing the marker.
    let page = client()
        .get(serve.url(&format!("/runs/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("run page")
        .text()
        .await
        .expect("page");
    assert!(
        page.contains(&format!("href=\"/api/runs/{id}/output\"")) && page.contains("2000 items"),
        "{page}"
    );

    // `?wait=` answers a streamed run with the marker, not the items.
    let (status, body) = api(&serve)
        .call(
            reqwest::Method::POST,
            "/api/flows/many/runs?wait=20s",
            Some(json!({ "ids": ["c7", "c8", "c9"] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"], json!({"$items": 3}), "{body}");
    // An output that is not a `for_each`'s results is kept, and served, whole.
    let (status, body) = api(&serve)
        .call(
            reqwest::Method::POST,
            "/api/flows/one/runs?wait=20s",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let one = body["id"].as_str().expect("id").to_string();
    let (kind, text) = run_output(&serve, &one).await;
    assert_eq!(kind, "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("JSON"),
        json!({"a": 1, "b": [2, 3]})
    );
    let shown = project
        .sluice(SLUICE)
        .args(["runs", "show", &one, "--output", "--store", store])
        .output()
        .expect("runs show");
    assert_eq!(
        serde_json::from_slice::<Value>(&shown.stdout).expect("JSON"),
        json!({"a": 1, "b": [2, 3]})
    );
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_output_is_stored_item_by_item_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("sluice.db").display());
    streamed_output_is_stored_item_by_item(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_output_is_stored_item_by_item_on_postgres() {
    let store = sluice_test_support::pg_schema("streamed").await;
    streamed_output_is_stored_item_by_item(&store).await;
}

/// A flow fired every second, `overlap: skip`, whose first step panics (through the debug
/// builds' `SLUICE_TEST_PANIC_STEP` hook) with the GHL token in the panic's message.
const PANICS: &str = r#"
name: panics
on:
  - schedule: { cron: "* * * * * *", overlap: skip }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  boom:
    value: "never reached"
  contact:
    after: [boom]
    action: ghl.get_contact
    with: { contactId: ct_ada }
output: "{{ steps.contact.contact.id }}"
"#;

/// Issue 17, "a panic from data leaves a run stuck", through `sluice serve`: a step that
/// panics fails its run with the panic's message redacted, the run's lease is released (no
/// runner takes it over after the lease), and the `overlap: skip` schedule keeps firing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_panics_fails_its_run_through_serve_and_the_schedule_goes_on() {
    const SECRET: &str = "pit-panic-secret-0123456789";
    let project = new_project(&[("panics", PANICS)]);
    // (`contact` is never reached; were it, it would find nothing listening on port 9.)
    let args = [
        "--connection",
        "ghl.base_url=http://127.0.0.1:9",
        "--lease",
        "2s",
    ];
    let mut cmd = serve_command(&project, &project.store_url(), &args);
    cmd.env("GHL_TOKEN", SECRET)
        .env("SLUICE_TEST_PANIC_STEP", format!("boom:a bug met {SECRET}"));
    let serve = ServeProcess::start(cmd, Duration::from_secs(30));
    let failed = |runs: &[Value]| runs.iter().filter(|r| r["status"] == "failed").count();
    let first = eventually(Duration::from_secs(30), "three failed runs", || async {
        let runs = api(&serve).runs("panics").await;
        (failed(&runs) >= 3).then_some(runs)
    })
    .await;
    // Past the 2 s lease: no run is running (a held lease would keep the skip schedule from
    // firing; an expired one would be taken over), and the schedule fired again meanwhile.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs = api(&serve).runs("panics").await;
    assert!(
        failed(&runs) >= failed(&first) + 2,
        "the schedule kept firing: {} failed then {}",
        failed(&first),
        failed(&runs)
    );
    for (i, r) in runs.iter().enumerate() {
        let id = r["id"].as_str().expect("id");
        let (_, d) = api(&serve)
            .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
            .await;
        if i == 0 && d["status"] != "failed" {
            // The tick of this very second, on its way.
            continue;
        }
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["lease_until"], Value::Null, "the lease is released: {d}");
        assert_eq!(d["claims"], 1, "no runner took it over: {d}");
        let error = d["error"].as_str().expect("error");
        assert!(error.contains("the step panicked"), "{error}");
        assert!(error.contains("[REDACTED]"), "{error}");
        assert!(!error.contains(SECRET), "{error}");
    }
    let (code, _, log) = serve.stop(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(SECRET), "{log}");
    // `runs list` shows them failed, none running (a tick's run the stopping runner had not
    // finished is handed back to the queue).
    let mut list = project.sluice(SLUICE);
    list.args(["runs", "list", "--flow", "panics", "--format", "json"]);
    let out = sluice_test_support::output(list).await;
    assert_eq!(out.status.code(), Some(0));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let listed = listed.as_array().expect("runs");
    assert!(failed(listed) >= runs.len() - 1, "{listed:?}");
    assert!(
        listed.iter().all(|r| r["status"] != "running"),
        "{listed:?}"
    );
}
