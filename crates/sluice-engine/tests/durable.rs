//! Durable runs in the executor, against wiremock and a SQLite run store in a temp folder:
//! steps are recorded as they finish, a resumed run skips them, and a write whose outcome is
//! unknown is reconciled through the API, refused, or sent again on request — never blindly.

use std::sync::Arc;

use serde_json::{Value, json};
use sluice_engine::{
    Executable, NoObserver, Recorder, RunJournal, RunOptions, RunStatus, Runtime, StepStatus,
};
use sluice_model::Limits;
use sluice_store::{Lease, NewRun, RunId, Store, WriteState};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn build(flow: &str) -> Arc<Executable> {
    let catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let files = vec![("f.yaml".to_string(), flow.to_string())];
    let v = sluice_plan::validate_files(&files, &catalog, None, &Limits::default())
        .pop()
        .expect("one");
    assert_eq!(v.report.error_count(), 0, "{}", v.report.render(false));
    Arc::new(
        Executable::build(
            v.document.as_ref().expect("doc"),
            v.plan.as_ref().expect("plan"),
            &catalog,
            flow,
        )
        .expect("build"),
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    recorder: Arc<Recorder>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .expect("store");
    let recorder = Recorder::start(store.clone());
    Setup {
        _dir: dir,
        store,
        recorder,
    }
}

async fn new_run(s: &Setup, exec: &Executable) -> RunId {
    s.store
        .create_run(
            NewRun::new(&exec.name, b"", "manual", json!({})).running(Lease {
                owner: "test".into(),
                duration: std::time::Duration::from_secs(60),
            }),
        )
        .await
        .expect("run")
}

async fn go(
    exec: &Arc<Executable>,
    server: &MockServer,
    inputs: Value,
    journal: RunJournal,
) -> sluice_engine::RunReport {
    let mut rt = Runtime::builder(Arc::new(NoObserver), RunOptions::default());
    rt.base_url("ghl-contacts", server.uri());
    let Value::Object(given) = inputs else {
        panic!("object")
    };
    let inputs = sluice_engine::prepare_inputs(exec, given).expect("inputs");
    sluice_engine::run_with(
        exec.clone(),
        Arc::new(rt.build().expect("rt")),
        inputs,
        Some(Arc::new(journal)),
    )
    .await
}

const CREATE_TASK: &str = r#"
name: make-task
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
  create:
    action: ghl.create_task
    with:
      contactId: "{{ steps.contact.contact.id }}"
      title: Call back
      dueDate: "2026-12-01T09:00:00Z"
      completed: false
output: "{{ steps.create.task.id }}"
"#;

/// A read-only sub-flow: its steps are not recorded (a resume runs it again).
const READ_CONTACT: &str = r#"
name: read-contact
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
output: "{{ steps.contact.contact.id }}"
"#;

async fn mock_contact(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contact": {"id": "c1"}})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn steps_are_recorded_and_a_resumed_run_skips_finished_ones() {
    let s = setup().await;
    let exec = build(CREATE_TASK);
    let server = MockServer::start().await;
    mock_contact(&server).await;
    // The first run: the create fails with a 503 (not retried: a POST), after the contact
    // step finished.
    Mock::given(method("POST"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let id = new_run(&s, &exec).await;
    let report = go(
        &exec,
        &server,
        json!({"contactId": "c1"}),
        RunJournal::new(s.recorder.clone(), id.clone()),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    s.recorder.flush().await.expect("flush");
    let detail = s.store.get_run(&id).await.expect("get").expect("run");
    let steps: Vec<(&str, sluice_store::StepStatus)> = detail
        .steps
        .iter()
        .map(|st| (st.step.as_str(), st.status))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("contact", sluice_store::StepStatus::Succeeded),
            ("create", sluice_store::StepStatus::Failed)
        ]
    );
    assert_eq!(detail.steps[0].response_status, Some(200));
    assert_eq!(
        detail.steps[0]
            .request
            .as_ref()
            .map(|r| r["method"].clone()),
        Some(json!("GET"))
    );
    assert_eq!(detail.http_calls.len(), 2);
    assert_eq!(detail.http_calls[1].status, Some(503));
    // The 503 left the write's outcome unknown: the intent stays, pending.
    let key = format!("{id}:create");
    assert_eq!(
        s.store
            .write_intent(&id, &key, &json!({}))
            .await
            .expect("intent"),
        WriteState::Pending
    );

    // Resumed: the contact step is not fetched again; the create is reconciled (the 503 did
    // not create it: the list is empty) and then sent.
    Mock::given(method("GET"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tasks": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"task": {"id": "t9", "title": "Call back"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let journal = RunJournal::resume(s.recorder.clone(), id.clone(), false)
        .await
        .expect("resume");
    assert_eq!(journal.replayed_steps(), 1);
    let report = go(&exec, &server, json!({"contactId": "c1"}), journal).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(report.output, Some(json!("t9")));
    let gets = server
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .filter(|r| r.url.path() == "/contacts/c1")
        .count();
    assert_eq!(gets, 1, "the finished step was not run again");
    assert_eq!(
        s.store
            .write_intent(&id, &key, &json!({}))
            .await
            .expect("intent"),
        WriteState::Done(json!({"task": {"id": "t9", "title": "Call back"}}))
    );

    // A third go reuses the recorded answer: nothing is sent (the POST mock expects 1).
    let journal = RunJournal::resume(s.recorder.clone(), id.clone(), false)
        .await
        .expect("resume");
    // Both steps succeeded and are recorded: nothing runs at all.
    assert_eq!(journal.replayed_steps(), 2);
    let report = go(&exec, &server, json!({"contactId": "c1"}), journal).await;
    assert_eq!(report.output, Some(json!("t9")));
    assert!(
        report
            .steps
            .iter()
            .all(|r| r.status == Some(StepStatus::Succeeded))
    );
}

#[tokio::test]
async fn an_unknown_write_found_by_reconcile_is_not_sent_again() {
    let s = setup().await;
    let exec = build(CREATE_TASK);
    let server = MockServer::start().await;
    mock_contact(&server).await;
    // The task was created before the crash (GHL writes dates with milliseconds).
    Mock::given(method("GET"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tasks": [
            {"id": "t0", "title": "Other", "dueDate": "2026-12-01T09:00:00.000Z"},
            {"id": "t1", "title": "Call back", "dueDate": "2026-12-01T09:00:00.000Z"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    let id = new_run(&s, &exec).await;
    let key = format!("{id}:create");
    s.store
        .write_intent(&id, &key, &json!({"method": "POST"}))
        .await
        .expect("intent");
    let journal = RunJournal::resume(s.recorder.clone(), id.clone(), false)
        .await
        .expect("resume");
    let report = go(&exec, &server, json!({"contactId": "c1"}), journal).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(report.output, Some(json!("t1")));
    assert!(s.store.verify_audit().await.expect("verify").is_ok());
}

const CREATE_CONTACT: &str = r#"
name: make-contact
connections:
  ghl: { connector: ghl-contacts }
steps:
  create:
    action: ghl.create_contact
    with: { locationId: loc1, firstName: Ada }
output: "{{ steps.create.contact.id }}"
"#;

#[tokio::test]
async fn an_unknown_write_without_a_check_stops_until_the_operator_says_resend() {
    let s = setup().await;
    let exec = build(CREATE_CONTACT);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts/"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"contact": {"id": "new1"}})))
        .expect(1)
        .mount(&server)
        .await;
    let id = new_run(&s, &exec).await;
    s.store
        .write_intent(&id, &format!("{id}:create"), &json!({}))
        .await
        .expect("intent");
    let journal = RunJournal::resume(s.recorder.clone(), id.clone(), false)
        .await
        .expect("resume");
    let report = go(&exec, &server, json!({}), journal).await;
    assert_eq!(report.status, RunStatus::Failed);
    let why = report.error.unwrap_or_default();
    assert!(why.contains("outcome is unknown"), "{why}");
    assert!(
        why.contains(&format!("sluice runs resume {id} --resend-unknown")),
        "{why}"
    );
    let journal = RunJournal::resume(s.recorder.clone(), id.clone(), true)
        .await
        .expect("resume");
    let report = go(&exec, &server, json!({}), journal).await;
    assert_eq!(report.output, Some(json!("new1")));
}

#[tokio::test]
async fn every_attempt_of_every_item_and_sub_flow_is_recorded() {
    let s = setup().await;
    let parent = r#"
name: fan
connections:
  ghl: { connector: ghl-contacts }
steps:
  each:
    for_each: [c1, c1]
    action: ghl.get_contact
    with: { contactId: "{{ item }}" }
  sub:
    flow: make-task
    with: { contactId: c1 }
  look:
    flow: read-contact
    with: { contactId: c1 }
"#;
    let catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let files = vec![
        ("p.yaml".to_string(), parent.to_string()),
        ("c.yaml".to_string(), CREATE_TASK.to_string()),
        ("r.yaml".to_string(), READ_CONTACT.to_string()),
    ];
    let execs: Vec<Arc<Executable>> =
        sluice_plan::validate_files(&files, &catalog, None, &Limits::default())
            .into_iter()
            .zip(&files)
            .map(|(v, (_, src))| {
                assert_eq!(v.report.error_count(), 0, "{}", v.report.render(false));
                Arc::new(
                    Executable::build(
                        v.document.as_ref().expect("doc"),
                        v.plan.as_ref().expect("plan"),
                        &catalog,
                        src,
                    )
                    .expect("build"),
                )
            })
            .collect();
    let server = MockServer::start().await;
    mock_contact(&server).await;
    Mock::given(method("POST"))
        .and(path("/contacts/c1/tasks"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"task": {"id": "t1"}})))
        .expect(1)
        .mount(&server)
        .await;
    let id = new_run(&s, &execs[0]).await;
    let mut rt = Runtime::builder(Arc::new(NoObserver), RunOptions::default());
    rt.base_url("ghl-contacts", server.uri());
    rt.flows([execs[1].clone(), execs[2].clone()]);
    let journal = Arc::new(RunJournal::new(s.recorder.clone(), id.clone()));
    let report = sluice_engine::run_with(
        execs[0].clone(),
        Arc::new(rt.build().expect("rt")),
        json!({}),
        Some(journal),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    s.recorder.flush().await.expect("flush");
    let detail = s.store.get_run(&id).await.expect("get").expect("run");
    let mut calls: Vec<(String, Option<u32>, String)> = detail
        .http_calls
        .iter()
        .map(|c| (c.step.clone(), c.item, c.method.clone()))
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            ("each".into(), Some(0), "GET".into()),
            ("each".into(), Some(1), "GET".into()),
            ("look/contact".into(), None, "GET".into()),
            ("sub/contact".into(), None, "GET".into()),
            ("sub/create".into(), None, "POST".into()),
        ]
    );
    // The run's own steps have step records, and so have the API steps of the sub-flow that
    // writes, under their path (a resumed run reuses them); the read-only sub-flow's have none
    // (a resume runs it again); the sub-flow's write has its key.
    let mut steps: Vec<&str> = detail.steps.iter().map(|s| s.step.as_str()).collect();
    steps.sort_unstable();
    assert_eq!(
        steps,
        ["each", "look", "sub", "sub/contact", "sub/create"],
        "{steps:?}"
    );
    assert_eq!(
        s.store
            .write_intent(&id, &format!("{id}:sub/create"), &json!({}))
            .await
            .expect("intent"),
        WriteState::Done(json!({"task": {"id": "t1"}}))
    );
}
