//! A fleet of `sluice serve` runners on one PostgreSQL store against one sandbox: they share
//! each location's rate budget (the sandbox, which counts GHL's 100 per 10 s, answers no 429),
//! a 429 one runner is answered pauses them all, and each polled source is looked at by one
//! runner per period, not by every runner.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_sandbox::{Fault, Sandbox, SandboxConfig};
use sluice_test_support::{
    ApiClient, GHL_MAIN_FROM_ENV, ServeProcess, TempProject, eventually, flows, pg_schema,
};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const TOKEN: &str = "fleet-test-token-0123456789";

/// Reads one contact once per id, 10 at a time.
const FAN: &str = r#"
name: fan
inputs:
  ids: { type: array }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  contacts:
    for_each: "{{ inputs.ids }}"
    as: id
    concurrency: 10
    action: ghl.get_contact
    with: { contactId: "{{ id }}" }
output: "{{ len steps.contacts }}"
"#;

fn project(flows: &[(&str, &str)]) -> TempProject {
    let project = TempProject::new(&format!(
        "[serve]\ntoken = {{ env = \"SERVE_TOKEN\" }}\n\n{GHL_MAIN_FROM_ENV}"
    ));
    for (name, text) in flows {
        project.write_flow(name, text);
    }
    project
}

/// `sluice serve` runner `name` of the fleet: one run at a time, the sandbox as GHL.
fn runner(project: &TempProject, store: &str, sandbox: &Sandbox, name: &str) -> ServeProcess {
    let mut cmd = project.sluice(SLUICE);
    cmd.env("SERVE_TOKEN", TOKEN)
        .env("GHL_TOKEN", "sandbox-token")
        .args(["serve", "flows", "--store", store, "--tick", "200ms"])
        .args(["--listen", "127.0.0.1:0", "--workers", "1", "--name", name])
        .args([
            "--connection",
            &format!("ghl.base_url={}", sandbox.base_url()),
        ]);
    ServeProcess::start(cmd, Duration::from_secs(30))
}

fn statuses(sandbox: &Sandbox, route: &str) -> (usize, usize) {
    let requests: Vec<_> = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.route == route)
        .collect();
    let refused = requests.iter().filter(|r| r.status == 429).count();
    (requests.len(), refused)
}

/// Three runners each run 80 reads at one location at once: 240 calls, more than two of
/// GHL's windows. Each runner alone would send its 80 at once (its own budget of 100 allows
/// it), and the sandbox would refuse the calls past 100; sharing the budget in the store, the
/// fleet sends at most 100 per window and gets no 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_share_one_locations_budget_and_get_no_429() {
    let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let store = pg_schema("fleet_budget").await;
    let project = project(&[("fan", FAN)]);
    let runners: Vec<ServeProcess> = (0..3)
        .map(|i| runner(&project, &store, &sandbox, &format!("runner-{i}")))
        .collect();
    let ids: Vec<&str> = std::iter::repeat_n("ct_ada", 80).collect();
    let started = Instant::now();
    let calls: Vec<_> = runners
        .iter()
        .map(|r| {
            let api = ApiClient::new(r.base(), TOKEN);
            let ids = ids.clone();
            tokio::spawn(async move {
                api.call(
                    reqwest::Method::POST,
                    "/api/flows/fan/runs?wait=120s",
                    Some(json!({ "ids": ids })),
                )
                .await
            })
        })
        .collect();
    let mut run_ids = Vec::new();
    for call in calls {
        let (status, body) = call.await.expect("call");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "succeeded", "{body}");
        assert_eq!(body["output"], 80, "{body}");
        run_ids.push(body["id"].as_str().expect("run id").to_string());
    }
    let elapsed = started.elapsed();
    let (sent, refused) = statuses(&sandbox, "GET /contacts/{contactId}");
    assert_eq!(refused, 0, "no 429 from the sandbox");
    assert_eq!(sent, 240, "every read once, none retried");
    // Which runners ran them: with one worker each, the three runs were on several runners.
    let watcher = sluice_store::Store::open(&store).await.expect("store");
    let mut owners = std::collections::BTreeSet::new();
    for id in &run_ids {
        let id: sluice_store::RunId = id.parse().expect("id");
        let run = watcher.get_run(&id).await.expect("get").expect("run");
        owners.extend(run.run.owner);
    }
    assert!(owners.len() >= 2, "runs on several runners: {owners:?}");
    eprintln!(
        "240 calls from {} runners in {elapsed:?}, 0 refused",
        owners.len()
    );
    for r in runners {
        let (code, _, log) = r.stop(Duration::from_secs(30));
        assert_eq!(code, Some(0), "{log}");
    }
    sandbox.shutdown().await;
}

/// Reads one contact, and again after a 429.
const ONE: &str = r#"
name: one
inputs:
  id: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.id }}" }
    retry: { attempts: 3, delay: 100ms }
output: "{{ steps.contact.contact.id }}"
"#;

/// One runner is answered 429 with `Retry-After: 1` (the sandbox's 429 storm of one). While
/// its only worker waits that second out, two runs taken by the other runners read five
/// contacts each: not one of their reads reaches the sandbox before the second has passed,
/// because the pause is the location's, kept in the store for the whole fleet. (Each runner
/// pausing alone, the others read at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_one_runner_is_answered_pauses_the_whole_fleet() {
    let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let store = pg_schema("fleet_pause").await;
    let project = project(&[("one", ONE), ("fan", FAN)]);
    let runners: Vec<ServeProcess> = (0..3)
        .map(|i| runner(&project, &store, &sandbox, &format!("pauser-{i}")))
        .collect();
    let route = "GET /contacts/{contactId}";
    sandbox.set_fault(route, Fault::RateLimitStorm { count: 1 });
    let api = |i: usize| ApiClient::new(runners[i].base(), TOKEN);
    let (status, body) = api(0)
        .call(
            reqwest::Method::POST,
            "/api/flows/one/runs",
            Some(json!({ "id": "ct_ada" })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let one: sluice_store::RunId = body["id"].as_str().expect("id").parse().expect("id");
    let refused_at = eventually(Duration::from_secs(20), "the 429", || async {
        sandbox
            .state()
            .requests()
            .into_iter()
            .find(|r| r.route == route && r.status == 429)
            .map(|r| r.at)
    })
    .await;
    // That runner records the pause in the background as the answer arrives: give it time even
    // on a slow machine, and still queue the runs well within the second (each runner alone
    // would read them at once, about 0.5 s after the 429).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let calls: Vec<_> = [1, 2]
        .into_iter()
        .map(|i| {
            let api = api(i);
            tokio::spawn(async move {
                api.call(
                    reqwest::Method::POST,
                    "/api/flows/fan/runs?wait=30s",
                    Some(json!({ "ids": ["ct_ada", "ct_grace", "ct_ada", "ct_grace", "ct_ada"] })),
                )
                .await
            })
        })
        .collect();
    // The runner answered the 429: whichever took the run (the store hands runs to any).
    let watcher = sluice_store::Store::open(&store).await.expect("store");
    let refused = watcher
        .run_head(&one)
        .await
        .expect("get")
        .and_then(|run| run.owner)
        .expect("the run's runner");
    for call in calls {
        let (status, body) = call.await.expect("call");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["output"], 5, "{body}");
        let id: sluice_store::RunId = body["id"].as_str().expect("id").parse().expect("id");
        let run = watcher.run_head(&id).await.expect("get").expect("run");
        assert_ne!(
            run.owner.as_ref(),
            Some(&refused),
            "read by a runner that was not answered the 429 (that one's worker is busy)"
        );
    }
    let reads: Vec<Duration> = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.route == route && r.status == 200)
        .map(|r| r.at.duration_since(refused_at).unwrap_or_default())
        .collect();
    assert_eq!(
        reads.len(),
        11,
        "runner 0's read again, and the ten: {reads:?}"
    );
    assert!(
        reads
            .iter()
            .all(|after| *after >= Duration::from_millis(900)),
        "a read within the second after the 429: {reads:?}"
    );
    for r in runners {
        let (code, _, log) = r.stop(Duration::from_secs(30));
        assert_eq!(code, Some(0), "{log}");
    }
    sandbox.shutdown().await;
}

/// Three runners serve an every-second poll and an every-second task search: each source is
/// looked at about once a second by the fleet, not three times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_look_at_each_polled_source_once_per_period() {
    let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let store = pg_schema("fleet_looks").await;
    let project = project(&[("new-contacts", flows::NEW_CONTACTS), ("due", flows::DUE)]);
    let first_period = unix_seconds();
    let runners: Vec<ServeProcess> = (0..3)
        .map(|i| runner(&project, &store, &sandbox, &format!("looker-{i}")))
        .collect();
    tokio::time::sleep(Duration::from_secs(6)).await;
    for r in runners {
        let (code, _, log) = r.stop(Duration::from_secs(30));
        assert_eq!(code, Some(0), "{log}");
    }
    // Every look of the fleet happened in one of the periods (whole seconds of the clock,
    // as the runners number them) from the start to now.
    let periods = unix_seconds() - first_period + 1;
    let (polls, _) = statuses(&sandbox, "GET /contacts/");
    let (searches, _) = statuses(&sandbox, "POST /locations/{locationId}/tasks/search");
    eprintln!("{periods} periods: {polls} polls, {searches} task searches");
    assert!(polls >= 2, "the fleet polled: {polls}");
    assert!(searches >= 2, "the fleet searched tasks: {searches}");
    // One look per period at most (a look may page, but these fit one page); three runners
    // each looking would make about three.
    let most = usize::try_from(periods).expect("periods");
    assert!(
        polls <= most,
        "{polls} polls in {periods} periods: more than one a period"
    );
    assert!(
        searches <= most,
        "{searches} task searches in {periods} periods: more than one a period"
    );
    sandbox.shutdown().await;
}

/// The clock's whole seconds since 1970: the number of the runners' current one-second period.
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}
