//! The executor end to end against a local HTTP server (wiremock on 127.0.0.1): concurrency,
//! retries, timeouts, `for_each` limits, typed values, redaction, size limits, control flow.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_engine::http::AuthMaterial;
use sluice_engine::{
    ErrorKind, Event, Executable, Observer, RequestRecord, RunOptions, RunReport, RunStatus,
    Runtime, RuntimeBuilder, StepStatus,
};
use sluice_model::Limits;
use sluice_test_support::meeting::MeetingServer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<RequestRecord>>,
    retries: Mutex<Vec<Duration>>,
}

impl Observer for Recorder {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Request { request, .. } => {
                self.requests.lock().expect("lock").push((*request).clone())
            }
            Event::Retry { delay, .. } => self.retries.lock().expect("lock").push(*delay),
            _ => {}
        }
    }
}

fn build(flows: &[&str]) -> Vec<Arc<Executable>> {
    let catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let files: Vec<(String, String)> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("f{i}.yaml"), (*f).to_string()))
        .collect();
    let out = sluice_plan::validate_files(&files, &catalog, None, &Limits::default());
    out.into_iter()
        .zip(&files)
        .map(|(v, (_, src))| {
            assert_eq!(v.report.error_count(), 0, "{}", v.report.render(false));
            let plan = v.plan.as_ref().expect("plan");
            Arc::new(
                Executable::build(v.document.as_ref().expect("doc"), plan, &catalog, src)
                    .expect("build"),
            )
        })
        .collect()
}

async fn run_with(
    flows: &[&str],
    server: &MockServer,
    inputs: Value,
    setup: impl FnOnce(&mut RuntimeBuilder),
) -> (RunReport, Arc<Recorder>) {
    run_at(flows, &server.uri(), inputs, RunOptions::default(), setup).await
}

/// [`run_with`] against any server at `base`, with these options.
async fn run_at(
    flows: &[&str],
    base: &str,
    inputs: Value,
    options: RunOptions,
    setup: impl FnOnce(&mut RuntimeBuilder),
) -> (RunReport, Arc<Recorder>) {
    let execs = build(flows);
    let recorder = Arc::new(Recorder::default());
    let mut rt = Runtime::builder(recorder.clone(), options);
    rt.base_url("ghl-contacts", base);
    rt.flows(execs.iter().cloned());
    setup(&mut rt);
    let target = execs[0].clone();
    let Value::Object(given) = inputs else {
        panic!("inputs must be an object")
    };
    let inputs = sluice_engine::prepare_inputs(&target, given).expect("inputs");
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        sluice_engine::run(target, Arc::new(rt.build().expect("rt")), inputs),
    )
    .await
    .expect("the run ends");
    (report, recorder)
}

async fn run_flow(flow: &str, server: &MockServer, inputs: Value) -> (RunReport, Arc<Recorder>) {
    run_with(&[flow], server, inputs, |_| {}).await
}

/// contact-360 of `workflows/`, cut for these tests: its steps up to `open_tasks` (not
/// `overdue`, whose due dates the canned answers here leave out), then [`CONTACT_360_OUTPUT`].
fn contact_360() -> String {
    let file = sluice_test_support::workflow("contact-360");
    let (steps, _) = file
        .split_once("  overdue:\n")
        .expect("contact-360 has an `overdue` step");
    format!("{steps}{CONTACT_360_OUTPUT}")
}

/// An output for contact-360 that shows which types a lone path or helper keeps.
const CONTACT_360_OUTPUT: &str = r#"output:
  name: "{{ steps.contact.contact.firstName }} {{ steps.contact.contact.lastName }}"
  noteCount: "{{ len steps.notes.notes }}"
  notes: "{{ steps.notes.notes }}"
  openTasks: "{{ steps.open_tasks }}"
  firstOpen: "{{ steps.open_tasks.[0].title }}"
"#;

async fn mount_contact(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"contact": {"id": "c1", "firstName": "Ada", "lastName": "Lovelace"}}),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1/notes"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"notes": [{"id": "n1", "body": "call back"}, {"id": "n2", "body": "sent offer"}]})),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"tasks": [{"id": "t1", "title": "Call", "completed": false}, {"id": "t2", "title": "Mail", "completed": true}]}),
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn contact_360_merges_with_types_kept() {
    let server = MockServer::start().await;
    mount_contact(&server).await;
    let (report, rec) = run_flow(&contact_360(), &server, json!({"contactId": "c1"})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let out = report.output.expect("output");
    assert_eq!(out["name"], json!("Ada Lovelace"));
    assert_eq!(
        out["noteCount"],
        json!(2),
        "a lone helper expression keeps its number type"
    );
    assert_eq!(
        out["notes"].as_array().map(Vec::len),
        Some(2),
        "a lone path keeps its array type"
    );
    assert_eq!(
        out["openTasks"],
        json!([{"id": "t1", "title": "Call", "completed": false}])
    );
    assert_eq!(out["firstOpen"], json!("Call"));
    let requests = rec.requests.lock().expect("lock");
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0]
            .headers
            .iter()
            .find(|(k, _)| k == "Version")
            .map(|(_, v)| v.as_str()),
        Some("2021-07-28")
    );
}

#[tokio::test]
async fn independent_steps_overlap() {
    // notes and tasks are each held until both are in flight together: run one after the
    // other, each would wait out the patience alone.
    let server = MeetingServer::start(
        2,
        Duration::from_secs(10),
        Arc::new(|path: &str| match path {
            "/contacts/c1/notes" => (json!({"notes": [{"id": "n1", "body": "call back"}]}), true),
            "/contacts/c1/tasks" => (
                json!({"tasks": [{"id": "t1", "title": "Call", "completed": false}]}),
                true,
            ),
            _ => (
                json!({"contact": {"id": "c1", "firstName": "Ada", "lastName": "Lovelace"}}),
                false,
            ),
        }),
    )
    .await;
    let (report, _) = run_at(
        &[&contact_360()],
        &server.url,
        json!({"contactId": "c1"}),
        RunOptions::default(),
        |_| {},
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(
        server.most_at_once(),
        2,
        "notes and tasks were in flight together"
    );
    assert_eq!(server.lonely(), 0, "neither waited alone for the other");
}

const ONE_GET: &str = r#"
name: one-get
connections:
  ghl: { connector: ghl-contacts }
steps:
  task:
    action: ghl.get_task
    with: { contactId: c1, taskId: t1 }
    retry: { attempts: 3, backoff: exponential, delay: 50ms, max_delay: 200ms }
    timeout: 300ms
output: "{{ steps.task.task.title }}"
"#;

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"statusCode": 503, "message": "busy"})),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"task": {"title": "Call"}})))
        .mount(&server)
        .await;
    let (report, rec) = run_flow(ONE_GET, &server, json!({})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(report.output, Some(json!("Call")));
    assert_eq!(report.steps[0].attempts, 3);
    let retries = rec.retries.lock().expect("lock");
    assert_eq!(retries.len(), 2);
    assert!(
        retries.iter().all(|d| *d <= Duration::from_millis(200)),
        "capped by max_delay: {retries:?}"
    );
}

#[tokio::test]
async fn retries_stop_after_the_attempts() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"statusCode": 500, "message": "boom"})),
        )
        .expect(3)
        .mount(&server)
        .await;
    let (report, _) = run_flow(ONE_GET, &server, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    let err = report.steps[0].error.as_ref().expect("error");
    assert_eq!(err.status, Some(500));
    assert_eq!(err.message, "the API answered 500: boom");
    assert_eq!(report.steps[0].attempts, 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(422)
                .insert_header("x-request-id", "req-42")
                .set_body_json(json!({"statusCode": 422, "message": ["title must be a string"], "error": "Unprocessable Entity"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (report, _) = run_flow(ONE_GET, &server, json!({})).await;
    let err = report.steps[0].error.as_ref().expect("error");
    assert_eq!(
        err.to_string(),
        "the API answered 422: title must be a string (HTTP 422, request id req-42)"
    );
    assert_eq!(report.steps[0].attempts, 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"task": {"title": "Call"}})))
        .mount(&server)
        .await;
    let started = Instant::now();
    let (report, rec) = run_flow(ONE_GET, &server, json!({})).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(
        rec.retries.lock().expect("lock").as_slice(),
        &[Duration::from_secs(1)]
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(5))
                .set_body_json(json!({"task": {}})),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let (report, _) = run_flow(
        &ONE_GET.replace("attempts: 3", "attempts: 1"),
        &server,
        json!({}),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(
        report.steps[0].error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Timeout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 300 ms timeout fired"
    );
}

#[tokio::test]
async fn a_post_is_not_retried_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let flow = r#"
name: post
connections:
  ghl: { connector: ghl-contacts }
steps:
  create:
    action: ghl.create_note
    with: { contactId: c1, body: hello }
    retry: { attempts: 5, delay: 10ms }
"#;
    let (report, _) = run_flow(flow, &server, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(
        report.steps[0].attempts, 1,
        "a POST of unknown outcome is not repeated"
    );
}

#[tokio::test]
async fn for_each_fans_out_within_its_limit() {
    // Each request is held until two are in flight: the limit of 2 is reached (the items
    // overlap) and never passed.
    let server = MeetingServer::start(
        2,
        Duration::from_secs(10),
        Arc::new(|_: &str| (json!({"task": {"title": "x"}}), true)),
    )
    .await;
    let flow = r#"
name: fan
inputs:
  ids: { type: array }
connections:
  ghl: { connector: ghl-contacts }
steps:
  tasks:
    for_each: "{{ inputs.ids }}"
    as: id
    concurrency: 2
    action: ghl.get_task
    with: { contactId: c1, taskId: "{{ id }}" }
output: "{{ len steps.tasks }}"
"#;
    let (report, _) = run_at(
        &[flow],
        &server.url,
        json!({"ids": ["t1", "t2", "t3", "t4", "t5", "t6"]}),
        RunOptions::default(),
        |_| {},
    )
    .await;
    assert_eq!(report.output, Some(json!(6)), "{:?}", report.error);
    assert_eq!(server.most_at_once(), 2, "two items at a time, never more");
    assert_eq!(server.lonely(), 0, "every item had company");
}

#[tokio::test]
async fn secrets_are_redacted_from_errors_and_records() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "token pit-SECRET-123 is invalid"})),
        )
        .mount(&server)
        .await;
    let (report, rec) = run_with(&[ONE_GET], &server, json!({}), |rt| {
        rt.default_auth(
            "ghl-contacts",
            AuthMaterial::Bearer("pit-SECRET-123".to_string().into()),
        );
        rt.redact("pit-SECRET-123");
    })
    .await;
    let err = report.steps[0].error.as_ref().expect("error");
    assert_eq!(
        err.message,
        "the API answered 401: token [REDACTED] is invalid"
    );
    let all = format!("{:?} {:?}", report, rec.requests.lock().expect("lock"));
    assert!(!all.contains("pit-SECRET-123"), "{all}");
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
    assert_eq!(auth[0], "Bearer pit-SECRET-123", "the real token was sent");
}

#[tokio::test]
async fn answers_over_the_size_limit_are_refused() {
    let server = MockServer::start().await;
    let big = "x".repeat(64 * 1024);
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"task": {"title": big}})))
        .mount(&server)
        .await;
    let execs = build(&[ONE_GET]);
    let mut rt = Runtime::builder(
        Arc::new(Recorder::default()),
        RunOptions {
            max_response_bytes: 1024,
            ..RunOptions::default()
        },
    );
    rt.base_url("ghl-contacts", server.uri());
    let report = sluice_engine::run(
        execs[0].clone(),
        Arc::new(rt.build().expect("rt")),
        json!({}),
    )
    .await;
    assert_eq!(
        report.steps[0].error.as_ref().map(|e| e.kind),
        Some(ErrorKind::TooLarge)
    );
}

#[tokio::test]
async fn a_value_that_is_not_there_is_null() {
    let server = MockServer::start().await;
    mount_contact(&server).await;
    // An item past the list's end, and a field the answer does not have.
    let flow = contact_360()
        .replace(
            "firstOpen: \"{{ steps.open_tasks.[0].title }}\"",
            "firstOpen: \"{{ steps.open_tasks.[5].title }}\"\n  nickname: \"{{ steps.open_tasks.[0].nickname }}\"",
        );
    let (report, _) = run_flow(&flow, &server, json!({"contactId": "c1"})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let output = report.output.expect("output");
    assert_eq!(output["firstOpen"], Value::Null);
    assert_eq!(output["nickname"], Value::Null);
}

#[tokio::test]
async fn skipped_steps_give_null_and_errors_can_continue() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Task not found"})),
        )
        .mount(&server)
        .await;
    let flow = r#"
name: control
inputs:
  go: { type: boolean }
connections:
  ghl: { connector: ghl-contacts }
steps:
  maybe:
    if: "{{ inputs.go }}"
    value: ran
  task:
    action: ghl.get_task
    with: { contactId: c1, taskId: t1 }
    on_error: continue
output:
  maybe: "{{ steps.maybe }}"
  status: "{{ steps.task.error.status }}"
"#;
    let (report, _) = run_flow(flow, &server, json!({"go": false})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(report.output, Some(json!({"maybe": null, "status": 404})));
    assert_eq!(report.steps[0].status, Some(StepStatus::Skipped));
    assert_eq!(report.steps[1].status, Some(StepStatus::Failed));
}

#[tokio::test]
async fn missing_values_are_false_in_conditions_and_null_in_values() {
    let server = MockServer::start().await;
    let flow = r#"
name: missing
inputs:
  go: { type: boolean, default: false }
steps:
  maybe:
    if: "{{ inputs.go }}"
    value: { city: Paris }
  city_known:
    if: "{{ steps.maybe.city }}"
    value: "known"
  read:
    value: "{{ default steps.maybe.city \"nowhere\" }}"
output:
  known: "{{ steps.city_known }}"
  city: "{{ steps.read }}"
  raw: "{{ steps.maybe.city }}"
"#;
    let (report, _) = run_flow(flow, &server, json!({})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(
        report.output,
        Some(json!({"known": null, "city": "nowhere", "raw": null}))
    );
    assert_eq!(report.steps[1].status, Some(StepStatus::Skipped));
    let (report, _) = run_flow(flow, &server, json!({"go": true})).await;
    assert_eq!(
        report.output,
        Some(json!({"known": "known", "city": "Paris", "raw": "Paris"}))
    );
}

#[tokio::test]
async fn for_each_filters_with_where_and_asks_if_per_item() {
    let server = MockServer::start().await;
    let flow = r#"
name: items
inputs:
  people: { type: array }
steps:
  open:
    for_each: "{{ inputs.people }}"
    as: p
    where: "{{ not p.done }}"
    value: "{{ loop.index }}:{{ p.name }}"
  shout:
    for_each: "{{ inputs.people }}"
    if: "{{ p.vip }}"
    as: p
    value: "{{ upper p.name }}"
  never:
    for_each: "{{ inputs.people }}"
    if: "{{ inputs.nothing_here }}"
    value: "{{ item.name }}"
output:
  open: "{{ steps.open }}"
  shout: "{{ steps.shout }}"
  never: "{{ steps.never }}"
"#;
    let flow = flow.replace("inputs.nothing_here", "steps.open.[99]");
    let people = json!([
        {"name": "ada", "done": false, "vip": true},
        {"name": "grace", "done": true},
        {"name": "alan", "done": false, "vip": false}
    ]);
    let (report, _) = run_flow(&flow, &server, json!({"people": people})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(
        report.output,
        Some(json!({
            // `where` keeps the open ones; `loop.index` is the position in the whole list.
            "open": ["0:ada", "2:alan"],
            // A per-item `if` skips an item: its result is null, the positions stay.
            "shout": ["ADA", null, null],
            // An `if` that does not read the item is asked once: the whole step is skipped.
            "never": null
        }))
    );
    assert_eq!(report.steps[2].status, Some(StepStatus::Skipped));
}

#[tokio::test]
async fn sub_flows_run_with_their_inputs() {
    let server = MockServer::start().await;
    let parent = r#"
name: parent
steps:
  greet:
    flow: child
    with: { who: Ada }
output: "{{ steps.greet }}"
"#;
    let child = r#"
name: child
inputs:
  who: { type: string }
steps:
  hello: { value: "Hello, {{ upper inputs.who }}!" }
output: "{{ steps.hello }}"
"#;
    let (report, _) = run_with(&[parent, child], &server, json!({}), |_| {}).await;
    assert_eq!(
        report.output,
        Some(json!("Hello, ADA!")),
        "{:?}",
        report.error
    );
}

#[tokio::test]
async fn dry_run_sends_reads_but_not_writes() {
    let server = MockServer::start().await;
    mount_contact(&server).await;
    let flow = r#"
name: writer
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
  tag:
    action: ghl.add_tags
    with: { contactId: "{{ steps.contact.contact.id }}", tags: [vip] }
"#;
    let execs = build(&[flow]);
    let rec = Arc::new(Recorder::default());
    let mut rt = Runtime::builder(
        rec.clone(),
        RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    );
    rt.base_url("ghl-contacts", server.uri());
    let report = sluice_engine::run(
        execs[0].clone(),
        Arc::new(rt.build().expect("rt")),
        json!({"contactId": "c1"}),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let requests = rec.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].sent && !requests[1].sent);
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].body, Some(json!({"tags": ["vip"]})));
    let received = server.received_requests().await.unwrap_or_default();
    assert!(
        received.iter().all(|r| r.method.as_str() == "GET"),
        "no write reached the server"
    );
}

#[test]
fn full_jitter_backoff_stays_under_the_cap() {
    use sluice_model::flow::Backoff;
    for attempt in 1..10 {
        let d = sluice_engine::backoff(
            Backoff::Exponential,
            Duration::from_millis(100),
            Duration::from_secs(2),
            attempt,
            None,
        );
        let ceiling =
            Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
        assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
    }
    let honoured = sluice_engine::backoff(
        Backoff::Exponential,
        Duration::from_millis(100),
        Duration::from_secs(2),
        1,
        Some(Duration::from_secs(7)),
    );
    assert_eq!(honoured, Duration::from_secs(7));
}

#[tokio::test]
async fn cacheable_reads_are_served_from_the_cache() {
    let server = MockServer::start().await;
    Mock::given(path("/contacts/c1/tasks/t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"task": {"title": "Call"}})))
        .expect(1)
        .mount(&server)
        .await;
    let flow = r#"
name: cached
connections:
  ghl: { connector: ghl-contacts }
steps:
  first: { action: ghl.get_task, with: { contactId: c1, taskId: t1 } }
  second: { action: ghl.get_task, with: { contactId: c1, taskId: t1 }, after: [first] }
output: ["{{ steps.first.task.title }}", "{{ steps.second.task.title }}"]
"#;
    let execs = build(&[flow]);
    let options = RunOptions {
        cache_ttl: Some(Duration::from_secs(60)),
        ..RunOptions::default()
    };
    let mut rt = Runtime::builder(Arc::new(Recorder::default()), options);
    rt.base_url("ghl-contacts", server.uri());
    let rt = Arc::new(rt.build().expect("rt"));
    let report = sluice_engine::run(execs[0].clone(), rt.clone(), json!({})).await;
    assert_eq!(
        report.output,
        Some(json!(["Call", "Call"])),
        "{:?}",
        report.error
    );
    let cache = rt.cache().expect("cache on");
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
}

#[tokio::test]
async fn query_tokens_are_sent_and_masked() {
    let server = MockServer::start().await;
    Mock::given(path("/8.8.8.8"))
        .and(wiremock::matchers::query_param("token", "ipinfo-SECRET-9"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ip": "8.8.8.8", "country": "US"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let flow = r#"
name: enrich
connections:
  ip: { connector: ipinfo }
steps:
  look: { action: ip.lookup_ip, with: { ip: 8.8.8.8 } }
output: "{{ steps.look.country }}"
"#;
    let (report, rec) = run_with(&[flow], &server, json!({}), |rt| {
        rt.base_url("ipinfo", server.uri());
        rt.default_auth(
            "ipinfo",
            AuthMaterial::Query {
                param: "token".into(),
                token: "ipinfo-SECRET-9".to_string().into(),
            },
        );
        rt.redact("ipinfo-SECRET-9");
    })
    .await;
    assert_eq!(report.output, Some(json!("US")), "{:?}", report.error);
    let requests = rec.requests.lock().expect("lock").clone();
    assert!(
        requests[0].url.ends_with("/8.8.8.8?token=[REDACTED]"),
        "{}",
        requests[0].url
    );
}

#[tokio::test]
async fn path_parameters_are_url_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"task": {"title": "x"}})))
        .mount(&server)
        .await;
    let flow = r#"
name: enc
inputs:
  id: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  t: { action: ghl.get_task, with: { contactId: "{{ inputs.id }}", taskId: "a b" } }
output: "{{ steps.t.task.title }}"
"#;
    let (report, _) = run_flow(flow, &server, json!({"id": "c/1?x=#"})).await;
    assert_eq!(report.output, Some(json!("x")), "{:?}", report.error);
    let received = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        received[0].url.path(),
        "/contacts/c%2F1%3Fx%3D%23/tasks/a%20b"
    );
    assert_eq!(
        received[0].url.query(),
        None,
        "nothing leaked into the query"
    );
}

#[tokio::test]
async fn the_flow_timeout_stops_the_run() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(10))
                .set_body_json(json!({"task": {}})),
        )
        .mount(&server)
        .await;
    let flow = r#"
name: slow
timeout: 300ms
connections:
  ghl: { connector: ghl-contacts }
steps:
  t: { action: ghl.get_task, with: { contactId: c1, taskId: t1 } }
"#;
    let started = Instant::now();
    let (report, _) = run_flow(flow, &server, json!({})).await;
    assert_eq!(report.status, RunStatus::TimedOut);
    assert_eq!(
        report.error.as_deref(),
        Some("the flow did not finish within its timeout of 300ms")
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_global_concurrency_bounds_http_calls() {
    // notes and tasks would meet if both were in flight; with one call at a time, each waits
    // out the patience alone.
    let server = MeetingServer::start(
        2,
        Duration::from_millis(300),
        Arc::new(|path: &str| match path {
            "/contacts/c1/notes" => (json!({"notes": []}), true),
            "/contacts/c1/tasks" => (json!({"tasks": []}), true),
            _ => (json!({"contact": {"id": "c1", "firstName": "Ada"}}), false),
        }),
    )
    .await;
    let (report, _) = run_at(
        &[&contact_360()],
        &server.url,
        json!({"contactId": "c1"}),
        RunOptions {
            concurrency: 1,
            ..RunOptions::default()
        },
        |_| {},
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(server.most_at_once(), 1, "one call in flight at a time");
    assert_eq!(server.lonely(), 2);
}

/// A connector with one operation per pagination kind that the built-in ones do not use.
const PAGED_API: &str = r#"
name: paged-api
description: Test pages.
base_url: "http://127.0.0.1:1"
operations:
  by_url:
    description: Pages linked by URL.
    method: GET
    path: /rows
    pagination: { kind: next_url, items: $.data.rows, next: $.links.next }
  by_offset:
    description: Pages by offset.
    method: GET
    path: /items
    params:
      limit: { in: query, type: integer }
      skip: { in: query, type: integer }
    pagination: { kind: offset, items: $.items, limit_param: limit, offset_param: skip }
"#;

#[tokio::test]
async fn paged_reads_follow_next_urls_and_offsets_and_stop_at_max_items() {
    use wiremock::matchers::query_param;
    let server = MockServer::start().await;
    Mock::given(path("/rows"))
        .and(query_param("p", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"rows": [3]}, "links": {}})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/rows"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"rows": [1, 2]}, "links": {"next": "/rows?p=2"}})),
        )
        .mount(&server)
        .await;
    for (skip, items) in [
        ("0", json!([1, 2])),
        ("2", json!([3, 4])),
        ("4", json!([5])),
    ] {
        Mock::given(path("/items"))
            .and(query_param("skip", skip))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": items})))
            .mount(&server)
            .await;
    }
    let flow = r#"
name: paged
connections:
  api: { connector: paged-api }
steps:
  rows: { action: api.by_url, pages: all }
  items: { action: api.by_offset, pages: all, with: { limit: 2, skip: 0 } }
  some: { action: api.by_offset, max_items: 3, with: { limit: 2, skip: 0 } }
  first: { action: api.by_offset, pages: 1, with: { limit: 2, skip: 0 } }
output:
  rows: "{{ steps.rows.data.rows }}"
  items: "{{ steps.items.items }}"
  some: "{{ steps.some.items }}"
  first: "{{ steps.first.items }}"
"#;
    let report = run_paged(flow, &server, Arc::new(Recorder::default())).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(
        report.output,
        Some(json!({
            "rows": [1, 2, 3],
            "items": [1, 2, 3, 4, 5],
            "some": [1, 2, 3],
            "first": [1, 2]
        }))
    );
}

/// Runs `flow` (which may use [`PAGED_API`]) against `server`.
async fn run_paged(flow: &str, server: &MockServer, observer: Arc<dyn Observer>) -> RunReport {
    let mut catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let extra = sluice_model::Catalog::from_sources([("paged-api.yaml", PAGED_API)])
        .expect("test connector");
    for c in extra.iter() {
        catalog.insert(c.clone());
    }
    let files = vec![("paged.yaml".to_string(), flow.to_string())];
    let checked = sluice_plan::validate_files(&files, &catalog, None, &Limits::default());
    let v = &checked[0];
    assert_eq!(v.report.error_count(), 0, "{}", v.report.render(false));
    let exec = Executable::build(
        v.document.as_ref().expect("doc"),
        v.plan.as_ref().expect("plan"),
        &catalog,
        flow,
    )
    .expect("build");
    let mut rt = Runtime::builder(observer, RunOptions::default());
    rt.base_url("paged-api", server.uri());
    sluice_engine::run(Arc::new(exec), Arc::new(rt.build().expect("rt")), json!({})).await
}

/// Which steps started and finished, in order.
#[derive(Default)]
struct Order(Mutex<Vec<String>>);

impl Observer for Order {
    fn event(&self, event: &Event<'_>) {
        let line = match event {
            Event::StepStarted { step } => format!("start {step}"),
            Event::StepFinished { step, status, .. } => format!("end {step} {status:?}"),
            _ => return,
        };
        self.0.lock().expect("lock").push(line);
    }
}

/// Offset pages of two items: `pages` pages whose items are 1, 2, 3…; page `fail` (if any)
/// answers 400, and each page after the first takes 100 ms.
async fn mount_offset_pages(server: &MockServer, pages: u64, fail: Option<u64>) {
    use wiremock::matchers::query_param;
    for page in 0..pages {
        let items: Vec<u64> = (page * 2 + 1..=page * 2 + 2).collect();
        let answer = if fail == Some(page) {
            ResponseTemplate::new(400).set_body_json(json!({"message": "no"}))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({ "items": items }))
        };
        let delay = Duration::from_millis(if page == 0 { 0 } else { 100 });
        Mock::given(path("/items"))
            .and(query_param("skip", (page * 2).to_string()))
            .respond_with(answer.set_delay(delay))
            .mount(server)
            .await;
    }
    Mock::given(path("/items"))
        .and(query_param("skip", (pages * 2).to_string()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": [] })))
        .mount(server)
        .await;
}

const STREAMED: &str = r#"
name: streamed
connections:
  api: { connector: paged-api }
steps:
  items: { action: api.by_offset, pages: all, with: { limit: 2, skip: 0 } }
  doubled:
    for_each: "{{ steps.items.items }}"
    where: "{{ ne item 3 }}"
    concurrency: 3
    value: { n: "{{ item }}", at: "{{ loop.index }}" }
output: "{{ steps.doubled }}"
"#;

#[tokio::test]
async fn a_for_each_over_paged_items_starts_with_the_first_page_and_keeps_their_order() {
    let server = MockServer::start().await;
    mount_offset_pages(&server, 4, None).await;
    let order = Arc::new(Order::default());
    let report = run_paged(STREAMED, &server, order.clone()).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let got: Vec<(u64, u64)> = report
        .output
        .as_ref()
        .and_then(Value::as_array)
        .expect("a list")
        .iter()
        .map(|v| (v["n"].as_u64().unwrap_or(0), v["at"].as_u64().unwrap_or(99)))
        .collect();
    // Item 3 is left out by `where:`; the others keep their place in the stream.
    assert_eq!(
        got,
        [(1, 0), (2, 1), (4, 3), (5, 4), (6, 5), (7, 6), (8, 7)]
    );
    let order = order.0.lock().expect("lock").clone();
    let at = |line: &str| order.iter().position(|l| l == line);
    // The items flow into `doubled` as pages arrive: it starts before the read ends.
    assert!(at("start doubled") < at("end items Succeeded"), "{order:?}");
}

#[tokio::test]
async fn a_paged_read_that_fails_part_way_fails_the_run_and_its_reader_does_not_succeed() {
    let server = MockServer::start().await;
    mount_offset_pages(&server, 4, Some(2)).await;
    let order = Arc::new(Order::default());
    let report = run_paged(STREAMED, &server, order.clone()).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.clone().unwrap_or_default();
    assert!(error.contains("step `items` failed"), "{error}");
    let order = order.0.lock().expect("lock").clone();
    assert!(
        !order.iter().any(|l| l == "end doubled Succeeded"),
        "{order:?}"
    );
}

/// An observer that panics when step `contact` sends its request, with the secret in the
/// message: a stand-in for a bug inside a step.
struct PanicsInContact;

impl Observer for PanicsInContact {
    fn event(&self, event: &Event<'_>) {
        if let Event::Request {
            step: "contact", ..
        } = event
        {
            panic!("a bug met pit-panic-secret-42");
        }
    }
}

/// A step that panics (a bug, not bad data) fails its run, which ends with the panic's
/// message redacted, instead of hanging; the steps after it do not start.
#[tokio::test]
async fn a_step_that_panics_fails_its_run_instead_of_hanging() {
    let server = MockServer::start().await;
    mount_contact(&server).await;
    let execs = build(&[&contact_360()]);
    let mut rt = Runtime::builder(Arc::new(PanicsInContact), RunOptions::default());
    rt.base_url("ghl-contacts", server.uri());
    rt.secret("leaked", "pit-panic-secret-42");
    let inputs = sluice_engine::prepare_inputs(
        &execs[0],
        json!({"contactId": "c1"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
    .expect("inputs");
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        sluice_engine::run(execs[0].clone(), Arc::new(rt.build().expect("rt")), inputs),
    )
    .await
    .expect("the run ends");
    assert_eq!(report.status, RunStatus::Failed);
    let contact = report
        .steps
        .iter()
        .find(|s| s.name == "contact")
        .expect("contact step");
    let error = contact.error.as_ref().expect("the step failed");
    assert!(
        error.message.contains("internal error (the step panicked"),
        "{error:?}"
    );
    assert!(!error.message.contains("pit-panic-secret-42"), "{error:?}");
    assert!(error.message.contains("[REDACTED]"), "{error:?}");
    let notes = report
        .steps
        .iter()
        .find(|s| s.name == "notes")
        .expect("notes step");
    assert_eq!(
        notes.attempts, 0,
        "a step after the panicked one did not start"
    );
}
