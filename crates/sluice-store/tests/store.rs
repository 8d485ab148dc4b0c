//! The run store's behaviour. Every test is written once and run twice: on a fresh SQLite file
//! in a temp folder and on PostgreSQL at `$SLUICE_TEST_POSTGRES` (each test in its own schema).
//! Without that variable the PostgreSQL tests fail with a message: they never skip.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Timelike as _, Utc};
use serde_json::{Value, json};
use sluice_store::{
    HttpCall, Lease, NewRun, Omitted, Record, RunDetail, RunFilter, RunId, RunStatus, StepRecord,
    StepStatus, Store, StoreError, VerifyReport, WriteState, is_truncated,
};
use sqlx::Connection;

/// A fresh database for one test.
struct TestDb {
    /// The URL the store opens.
    url: String,
    /// The SQLite file's folder (removed on drop).
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL and the test's schema.
    pg: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("nested/sluice.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    async fn postgres() -> TestDb {
        let base = match std::env::var("SLUICE_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => panic!(
                "SLUICE_TEST_POSTGRES is not set{}: the PostgreSQL half of the run-store tests \
                 needs a server. scripts/test.sh starts a throw-away one on 127.0.0.1; or export \
                 SLUICE_TEST_POSTGRES=postgres://USER@HOST:PORT/DB. These tests fail rather than \
                 skip.",
                if std::env::var_os("CI").is_some() {
                    " (CI is set)"
                } else {
                    ""
                }
            ),
        };
        let schema = format!("t_{}", RunId::new().as_str().to_lowercase());
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach PostgreSQL at SLUICE_TEST_POSTGRES={base}: {e}")
            });
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.expect("close");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        TestDb {
            url,
            _dir: None,
            pg: Some((base, schema)),
        }
    }

    fn is_pg(&self) -> bool {
        self.pg.is_some()
    }

    async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open store")
    }

    /// Runs SQL directly on the test's database, as someone with file or server access could.
    async fn exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        if self.is_pg() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await
        }
    }

    /// A single integer from SQL.
    async fn count(&self, sql: &str) -> i64 {
        if self.is_pg() {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut conn).await.expect(sql);
            n
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut conn).await.expect(sql);
            n
        }
    }

    /// A single text value from SQL.
    async fn text(&self, sql: &str) -> String {
        if self.is_pg() {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            let (s,): (String,) = sqlx::query_as(sql).fetch_one(&mut conn).await.expect(sql);
            s
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            let (s,): (String,) = sqlx::query_as(sql).fetch_one(&mut conn).await.expect(sql);
            s
        }
    }

    /// Drops the test's schema (PostgreSQL); the SQLite folder goes with `self`.
    async fn cleanup(self) {
        if let Some((base, schema)) = &self.pg {
            let mut conn = sqlx::PgConnection::connect(base).await.expect("connect");
            sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop schema");
        }
    }
}

/// Runs each named test on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = super::TestDb::sqlite().await;
                super::$name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = super::TestDb::postgres().await;
                super::$name(&db).await;
                db.cleanup().await;
            }
        }
    )*};
}

on_both_backends!(
    run_lifecycle_list_and_show,
    steps_upsert_and_finished_steps,
    http_calls_are_recorded_in_order,
    a_detail_within_a_limit_lists_the_first_and_what_went_wrong,
    large_outputs_are_capped_with_a_marker,
    export_writes_json_lines_since_a_time,
    prune_removes_old_finished_runs_only,
    audit_verify_detects_edits_deletions_and_reordering,
    audit_concurrent_appends_keep_one_chain,
    write_intent_new_pending_done,
    claim_runs_concurrently_never_twice,
    expired_lease_is_taken_over_and_renewal_checks_owner,
    schedule_tick_fires_once,
    reopen_keeps_data_and_migrates_once,
    rate_permits_are_shared_within_the_window,
    a_paused_budget_grants_no_permit_to_any_runner_until_the_pause_ends,
    each_look_is_taken_by_one_runner,
    output_items_are_kept_once_in_order_and_paged,
);

fn new_run(flow: &str, trigger: &str) -> NewRun {
    NewRun::new(
        flow,
        format!("name: {flow}\n").as_bytes(),
        trigger,
        json!({"contact": "c1"}),
    )
}

fn lease(owner: &str, secs: u64) -> Lease {
    Lease {
        owner: owner.into(),
        duration: Duration::from_secs(secs),
    }
}

fn step(name: &str, item: Option<u32>, status: StepStatus, output: Value) -> StepRecord {
    let now = Utc::now();
    StepRecord {
        step: name.into(),
        item,
        status,
        attempts: 1,
        request: Some(json!({"method": "GET", "url": "https://x.test/contacts/c1",
                             "headers": [["Authorization", "[REDACTED]"]]})),
        response_status: Some(200),
        output: Some(output),
        error: None,
        started_at: now,
        finished_at: now + chrono::TimeDelta::milliseconds(5),
    }
}

async fn get(store: &Store, id: &RunId) -> RunDetail {
    store
        .get_run(id)
        .await
        .expect("get_run")
        .expect("run exists")
}

async fn run_lifecycle_list_and_show(db: &TestDb) {
    let store = db.open().await;
    let t0 = Utc::now() - chrono::TimeDelta::seconds(1);
    let a = store
        .create_run(new_run("contact-360", "manual"))
        .await
        .expect("create a");
    let b = store
        .create_run(new_run("nightly", "schedule"))
        .await
        .expect("create b");
    let c = store
        .create_run(new_run("contact-360", "webhook:ContactUpdate").running(lease("cli", 60)))
        .await
        .expect("create c");

    let ra = get(&store, &a).await;
    assert_eq!(ra.run.status, RunStatus::Queued);
    assert_eq!(ra.run.flow, "contact-360");
    assert_eq!(ra.run.trigger, "manual");
    assert_eq!(ra.run.inputs, json!({"contact": "c1"}));
    assert_eq!(
        ra.run.flow_hash,
        NewRun::content_hash(b"name: contact-360\n")
    );
    assert_eq!(ra.run.flow_hash.len(), 64);
    assert!(ra.run.started_at.is_none() && ra.run.owner.is_none() && ra.run.claims == 0);
    let rc = get(&store, &c).await;
    assert_eq!(rc.run.status, RunStatus::Running);
    assert_eq!(rc.run.owner.as_deref(), Some("cli"));
    assert!(rc.run.lease_until.is_some_and(|t| t > Utc::now()));

    assert!(
        store
            .start_run(&a, "cli", Duration::from_secs(60))
            .await
            .expect("start")
    );
    assert!(
        !store
            .start_run(&c, "other", Duration::from_secs(60))
            .await
            .expect("start c"),
        "a run held under a live lease is not started by another owner"
    );
    assert!(
        store
            .start_run(&c, "cli", Duration::from_secs(60))
            .await
            .expect("restart c")
    );
    store
        .finish_run(&a, RunStatus::Succeeded, Some(&json!({"ok": true})), None)
        .await
        .expect("finish a");
    store
        .finish_run(&c, RunStatus::Failed, None, Some("step `get` failed: 500"))
        .await
        .expect("finish c");
    assert!(
        !store
            .start_run(&a, "cli", Duration::from_secs(60))
            .await
            .expect("start again"),
        "a finished run is not started again"
    );

    let ra = get(&store, &a).await;
    assert_eq!(ra.run.status, RunStatus::Succeeded);
    assert_eq!(ra.run.output, Some(json!({"ok": true})));
    assert!(ra.run.lease_until.is_none());
    assert!(ra.run.finished_at >= ra.run.started_at);
    let rc = get(&store, &c).await;
    assert_eq!(rc.run.error.as_deref(), Some("step `get` failed: 500"));

    let all = store.list_runs(&RunFilter::default()).await.expect("list");
    let ids: Vec<&RunId> = all.iter().map(|r| &r.id).collect();
    assert_eq!(ids, vec![&c, &b, &a], "newest first");
    let sa = &all[2];
    assert_eq!(
        (sa.flow.as_str(), sa.trigger.as_str(), sa.status),
        ("contact-360", "manual", RunStatus::Succeeded)
    );
    assert!(sa.duration().is_some() && sa.started_at.is_some());
    assert!(all[1].duration().is_none(), "a queued run has no duration");

    let by_flow = store
        .list_runs(&RunFilter {
            flow: Some("contact-360".into()),
            ..RunFilter::default()
        })
        .await
        .expect("by flow");
    assert_eq!(by_flow.len(), 2);
    let by_status = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Queued),
            ..RunFilter::default()
        })
        .await
        .expect("by status");
    assert_eq!(
        by_status.iter().map(|r| &r.id).collect::<Vec<_>>(),
        vec![&b]
    );
    let limited = store
        .list_runs(&RunFilter {
            limit: Some(1),
            ..RunFilter::default()
        })
        .await
        .expect("limit");
    assert_eq!(limited.len(), 1);
    let since_later = store
        .list_runs(&RunFilter {
            since: Some(Utc::now() + chrono::TimeDelta::seconds(5)),
            ..RunFilter::default()
        })
        .await
        .expect("since");
    assert!(since_later.is_empty());
    let since_before = store
        .list_runs(&RunFilter {
            since: Some(t0),
            flow: Some("nightly".into()),
            status: Some(RunStatus::Queued),
            limit: Some(10),
        })
        .await
        .expect("all filters");
    assert_eq!(since_before.len(), 1);

    assert!(store.get_run(&RunId::new()).await.expect("get").is_none());
    assert!(matches!(
        store.finish_run(&a, RunStatus::Running, None, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .finish_run(&RunId::new(), RunStatus::Failed, None, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(a.as_str().parse::<RunId>().expect("parse id"), a);
    assert_eq!(
        a.as_str()
            .to_lowercase()
            .parse::<RunId>()
            .expect("any case"),
        a
    );
    assert!("not-an-id".parse::<RunId>().is_err());
    store.close().await;
}

async fn steps_upsert_and_finished_steps(db: &TestDb) {
    let store = db.open().await;
    let run = store
        .create_run(new_run("f", "manual").running(lease("r1", 60)))
        .await
        .expect("create");
    // Key order of outputs is kept as written (not sorted).
    let out = json!({"zeta": 1, "alpha": {"y": 2, "b": [3, {"k": "v"}]}});
    store
        .record_step(&run, &step("get", None, StepStatus::Succeeded, out.clone()))
        .await
        .expect("get");
    for i in 0..3 {
        store
            .record_step(
                &run,
                &step("each", Some(i), StepStatus::Succeeded, json!(i)),
            )
            .await
            .expect("item");
    }
    store
        .record_step(
            &run,
            &step("skipped", None, StepStatus::Skipped, Value::Null),
        )
        .await
        .expect("skipped");
    store
        .record_step(
            &run,
            &step("halted", None, StepStatus::Cancelled, Value::Null),
        )
        .await
        .expect("cancelled");
    // Upsert: a second record of the same (run, step, item) replaces the first.
    let mut again = step("each", Some(1), StepStatus::Failed, json!("x"));
    again.attempts = 3;
    again.response_status = Some(503);
    again.output = None;
    again.error = Some(json!({"kind": "http", "status": 503}));
    store.record_step(&run, &again).await.expect("upsert");

    let done = store.finished_steps(&run).await.expect("finished");
    let keys: BTreeSet<(String, Option<u32>)> =
        done.iter().map(|s| (s.step.clone(), s.item)).collect();
    let expected: BTreeSet<(String, Option<u32>)> = [
        ("get", None),
        ("each", Some(0)),
        ("each", Some(1)),
        ("each", Some(2)),
        ("skipped", None),
    ]
    .into_iter()
    .map(|(s, i)| (s.to_string(), i))
    .collect();
    assert_eq!(keys, expected, "cancelled steps are not finished");
    assert_eq!(done.len(), 5, "one record per (step, item)");
    let get_step = done.iter().find(|s| s.step == "get").expect("get");
    assert_eq!(
        serde_json::to_string(get_step.output.as_ref().expect("output")).expect("json"),
        serde_json::to_string(&out).expect("json"),
        "output kept byte for byte, key order included"
    );
    assert_eq!(get_step.response_status, Some(200));
    assert_eq!(
        get_step.request.as_ref().expect("request")["headers"][0][1],
        "[REDACTED]"
    );
    let item1 = done
        .iter()
        .find(|s| s.step == "each" && s.item == Some(1))
        .expect("item 1");
    assert_eq!(
        (item1.status, item1.attempts, item1.response_status),
        (StepStatus::Failed, 3, Some(503))
    );
    assert_eq!(item1.output, None);
    assert_eq!(item1.error, Some(json!({"kind": "http", "status": 503})));
    assert!(item1.finished_at > item1.started_at);

    let detail = get(&store, &run).await;
    assert_eq!(detail.steps.len(), 6, "show lists cancelled steps too");
    assert!(
        store
            .finished_steps(&RunId::new())
            .await
            .expect("none")
            .is_empty(),
        "an unknown run has no finished steps"
    );
    store.close().await;
}

async fn http_calls_are_recorded_in_order(db: &TestDb) {
    let store = db.open().await;
    let run = store
        .create_run(new_run("f", "manual"))
        .await
        .expect("create");
    let at = Utc::now();
    let first = HttpCall {
        step: "update".into(),
        item: Some(4),
        attempt: 1,
        method: "PUT".into(),
        url: "https://services.example.test/contacts/c1".into(),
        headers: vec![
            ("Authorization".into(), "[REDACTED]".into()),
            ("Version".into(), "2021-07-28".into()),
        ],
        body: Some(json!({"tags": ["vip"]})),
        status: None,
        elapsed_ms: 30_000,
        at,
        error: Some("timed out after 30s".into()),
    };
    let second = HttpCall {
        attempt: 2,
        status: Some(200),
        elapsed_ms: 87,
        at: at + chrono::TimeDelta::seconds(31),
        error: None,
        ..first.clone()
    };
    store.record_http_call(&run, &first).await.expect("first");
    store.record_http_call(&run, &second).await.expect("second");
    let detail = get(&store, &run).await;
    assert_eq!(detail.http_calls.len(), 2);
    let got = &detail.http_calls[0];
    assert_eq!(got.attempt, 1);
    assert_eq!(got.status, None);
    assert_eq!(got.error.as_deref(), Some("timed out after 30s"));
    assert_eq!(got.headers, first.headers);
    assert_eq!(got.body, first.body);
    assert_eq!(got.item, Some(4));
    assert_eq!(
        got.at.timestamp_micros(),
        at.timestamp_micros(),
        "times kept to the microsecond"
    );
    assert_eq!(detail.http_calls[1].status, Some(200));
    assert_eq!(detail.http_calls[1].elapsed_ms, 87);
    store.close().await;
}

/// A run of 30 items read within 10: the first 10 step records and calls, then the failed item
/// and the failed calls that come later; `omitted` counts the rest. Within 100, everything, as
/// `get_run` reads it, and no `omitted`.
async fn a_detail_within_a_limit_lists_the_first_and_what_went_wrong(db: &TestDb) {
    let store = db.open().await;
    let run = store
        .create_run(new_run("f", "manual"))
        .await
        .expect("create");
    let t0 = Utc::now();
    let mut records = Vec::new();
    for i in 0..30u32 {
        let mut s = step("contacts", Some(i), StepStatus::Succeeded, json!({"i": i}));
        s.started_at = t0 + chrono::TimeDelta::milliseconds(i64::from(i));
        if i == 25 {
            s.status = StepStatus::Failed;
            s.error = Some("HTTP 404".into());
        }
        records.push(Record::Step(run.clone(), s));
        let call = HttpCall {
            step: "contacts".into(),
            item: Some(i),
            attempt: 1,
            method: "GET".into(),
            url: format!("https://x.test/contacts/c{i}"),
            headers: vec![],
            body: None,
            status: match i {
                25 => Some(404),
                27 => None,
                _ => Some(200),
            },
            elapsed_ms: 3,
            at: t0,
            error: (i == 27).then(|| "timed out".to_string()),
        };
        records.push(Record::Http(run.clone(), call));
    }
    store.record_batch(&records).await.expect("record");

    let within = store
        .get_run_within(&run, 10)
        .await
        .expect("read")
        .expect("run");
    let items: Vec<Option<u32>> = within.steps.iter().map(|s| s.item).collect();
    let mut expected: Vec<Option<u32>> = (0..10).map(Some).collect();
    expected.push(Some(25));
    assert_eq!(items, expected, "the first ten, then the failed one");
    let calls: Vec<Option<u32>> = within.http_calls.iter().map(|c| c.item).collect();
    expected.push(Some(27));
    assert_eq!(
        calls, expected,
        "the first ten, then the 404 and the unanswered"
    );
    assert_eq!(
        within.omitted,
        Some(Omitted {
            steps: 19,
            http_calls: 18
        })
    );
    assert_eq!(within.run, get(&store, &run).await.run);

    let whole = store
        .get_run_within(&run, 100)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(whole.omitted, None, "nothing left out");
    assert_eq!(whole, get(&store, &run).await);
    let counts = store
        .get_run_within(&run, 0)
        .await
        .expect("read")
        .expect("run");
    assert!(counts.steps.is_empty() && counts.http_calls.is_empty());
    assert_eq!(
        counts.omitted,
        Some(Omitted {
            steps: 30,
            http_calls: 30
        }),
        "within 0: only how many"
    );
    assert!(
        store
            .get_run_within(&RunId::new(), 10)
            .await
            .expect("read")
            .is_none()
    );
    store.close().await;
}

async fn large_outputs_are_capped_with_a_marker(db: &TestDb) {
    let store = db.open().await;
    let run = store
        .create_run(new_run("f", "manual"))
        .await
        .expect("create");
    // The default cap is 256 KiB of JSON text.
    let big = json!({"blob": "x".repeat(300 * 1024)});
    let fits = json!({"blob": "y".repeat(100 * 1024)});
    store
        .record_step(&run, &step("big", None, StepStatus::Succeeded, big.clone()))
        .await
        .expect("big");
    store
        .record_step(
            &run,
            &step("fits", None, StepStatus::Succeeded, fits.clone()),
        )
        .await
        .expect("fits");
    let done = store.finished_steps(&run).await.expect("finished");
    let big_out = done
        .iter()
        .find(|s| s.step == "big")
        .and_then(|s| s.output.clone())
        .expect("big output");
    assert!(is_truncated(&big_out), "{big_out}");
    assert_eq!(big_out["$truncated"], json!(true));
    assert_eq!(
        big_out["bytes"],
        json!(serde_json::to_string(&big).expect("json").len())
    );
    assert!(
        big_out["preview"]
            .as_str()
            .is_some_and(|p| p.starts_with("{\"blob\":\"xxx"))
    );
    let fits_out = done
        .iter()
        .find(|s| s.step == "fits")
        .and_then(|s| s.output.clone())
        .expect("fits output");
    assert_eq!(fits_out, fits);

    // The cap is configurable (and applies to run outputs and HTTP bodies too).
    let small = db.open().await.with_output_cap(Some(64));
    small
        .finish_run(&run, RunStatus::Succeeded, Some(&fits), None)
        .await
        .expect("finish");
    let detail = get(&small, &run).await;
    assert!(detail.run.output.as_ref().is_some_and(is_truncated));
    let unlimited = db.open().await.with_output_cap(None);
    unlimited
        .record_step(&run, &step("big", None, StepStatus::Succeeded, big.clone()))
        .await
        .expect("uncapped");
    let done = unlimited.finished_steps(&run).await.expect("finished");
    assert_eq!(
        done.iter()
            .find(|s| s.step == "big")
            .and_then(|s| s.output.clone()),
        Some(big)
    );
    store.close().await;
}

async fn export_writes_json_lines_since_a_time(db: &TestDb) {
    let store = db.open().await;
    let old = store.create_run(new_run("f", "manual")).await.expect("old");
    store
        .record_step(&old, &step("s", None, StepStatus::Succeeded, json!(1)))
        .await
        .expect("step");
    db.exec(&format!(
        "UPDATE runs SET created_at = '2020-01-01T00:00:00.000000Z' WHERE id = '{old}'"
    ))
    .await
    .expect("age run");
    let since = Utc::now() - chrono::TimeDelta::hours(1);
    let mut recent = Vec::new();
    for i in 0..3 {
        let id = store
            .create_run(new_run("f", "schedule"))
            .await
            .expect("recent");
        store
            .record_step(&id, &step("s", None, StepStatus::Succeeded, json!(i)))
            .await
            .expect("step");
        store
            .record_http_call(
                &id,
                &HttpCall {
                    step: "s".into(),
                    item: None,
                    attempt: 1,
                    method: "GET".into(),
                    url: "https://x.test/".into(),
                    headers: vec![],
                    body: None,
                    status: Some(200),
                    elapsed_ms: 1,
                    at: Utc::now(),
                    error: None,
                },
            )
            .await
            .expect("call");
        recent.push(id);
    }

    let mut out = Vec::new();
    let n = store.export_since(since, &mut out).await.expect("export");
    assert_eq!(n, 3);
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let runs: Vec<RunDetail> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a line is one run"))
        .collect();
    assert_eq!(
        runs.iter().map(|r| r.run.id.clone()).collect::<Vec<_>>(),
        recent,
        "oldest first"
    );
    assert!(
        runs.iter()
            .all(|r| r.steps.len() == 1 && r.http_calls.len() == 1)
    );
    assert_eq!(runs[2].steps[0].output, Some(json!(2)));

    let mut all = Vec::new();
    let n = store
        .export_since(chrono::DateTime::UNIX_EPOCH, &mut all)
        .await
        .expect("export all");
    assert_eq!(n, 4);
    let first: RunDetail = serde_json::from_str(
        String::from_utf8(all)
            .expect("utf-8")
            .lines()
            .next()
            .expect("line"),
    )
    .expect("parse");
    assert_eq!(first.run.id, old);
    store.close().await;
}

async fn prune_removes_old_finished_runs_only(db: &TestDb) {
    let store = db.open().await;
    store
        .audit("run.created", None, &json!({"n": 1}))
        .await
        .expect("audit");
    let old_done = store.create_run(new_run("f", "manual")).await.expect("a");
    let old_running = store
        .create_run(new_run("f", "manual").running(lease("r", 600)))
        .await
        .expect("b");
    let new_done = store.create_run(new_run("f", "manual")).await.expect("c");
    for id in [&old_done, &old_running, &new_done] {
        store
            .record_step(id, &step("s", None, StepStatus::Succeeded, json!(1)))
            .await
            .expect("step");
        store
            .write_intent(id, &format!("{id}/s/-"), &json!({"w": 1}))
            .await
            .expect("intent");
    }
    store
        .finish_run(&old_done, RunStatus::Succeeded, None, None)
        .await
        .expect("finish");
    store
        .finish_run(&new_done, RunStatus::Failed, None, Some("x"))
        .await
        .expect("finish");
    store
        .schedule_fire("f", Utc::now() - chrono::TimeDelta::days(90))
        .await
        .expect("old tick");
    store
        .schedule_fire("f", Utc::now())
        .await
        .expect("new tick");
    let long_ago = "'2000-01-01T00:00:00.000000Z'";
    db.exec(&format!(
        "UPDATE runs SET created_at = {long_ago}, finished_at = {long_ago} WHERE id = '{old_done}'; \
         UPDATE runs SET created_at = {long_ago} WHERE id = '{old_running}'"
    ))
    .await
    .expect("age runs");

    let removed = store
        .prune_older_than(Duration::from_secs(30 * 86_400))
        .await
        .expect("prune");
    assert_eq!(removed, 1);
    assert!(store.get_run(&old_done).await.expect("get").is_none());
    assert!(
        store.get_run(&old_running).await.expect("get").is_some(),
        "a run still going is kept"
    );
    assert!(store.get_run(&new_done).await.expect("get").is_some());
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM steps WHERE run_id = '{old_done}'"
        ))
        .await,
        0
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM steps").await, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM write_intents").await, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM schedule_fires").await, 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM audit_log WHERE kind = 'pruned'")
            .await,
        1
    );
    let payload = db
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'pruned' AND payload LIKE '%{old_done}%'"
        ))
        .await;
    assert_eq!(payload, 1, "the pruned record names the removed run");
    assert_eq!(
        store.verify_audit().await.expect("verify"),
        VerifyReport::Ok {
            records: 2,
            head_hash: db.text("SELECT hash FROM audit_head").await
        }
    );
    // Nothing older left: pruning again removes nothing and writes no record.
    assert_eq!(
        store
            .prune_older_than(Duration::from_secs(30 * 86_400))
            .await
            .expect("prune"),
        0
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM audit_log").await, 2);
    store.close().await;
}

fn first_bad(report: &VerifyReport) -> u64 {
    match report {
        VerifyReport::FirstBad { seq, .. } => *seq,
        VerifyReport::Ok { .. } => panic!("tampering went unnoticed: {report:?}"),
    }
}

async fn audit_verify_detects_edits_deletions_and_reordering(db: &TestDb) {
    let store = db.open().await;
    assert!(matches!(
        store.verify_audit().await.expect("verify empty"),
        VerifyReport::Ok { records: 0, .. }
    ));
    let run = store.create_run(new_run("f", "manual")).await.expect("run");
    for i in 1..=6 {
        store
            .audit(
                "step.finished",
                Some(&run),
                &json!({"i": i, "z": "last", "a": {"nested": [i]}}),
            )
            .await
            .expect("audit");
    }
    let report = store.verify_audit().await.expect("verify");
    assert!(report.is_ok(), "{report:?}");
    assert!(matches!(report, VerifyReport::Ok { records: 6, .. }));
    assert_eq!(
        db.count("SELECT COUNT(*) FROM audit_log WHERE payload LIKE '{\"a\":%'")
            .await,
        6,
        "payloads are stored canonical (sorted keys)"
    );

    // The log refuses edits through SQL until its triggers are dropped.
    assert!(
        db.exec("UPDATE audit_log SET kind = 'x' WHERE seq = 2")
            .await
            .is_err()
    );
    assert!(
        db.exec("DELETE FROM audit_log WHERE seq = 2")
            .await
            .is_err()
    );
    if db.is_pg() {
        db.exec("DROP TRIGGER audit_log_append_only ON audit_log")
            .await
    } else {
        db.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete")
            .await
    }
    .expect("drop triggers");

    // An edited payload.
    let original = db
        .count("SELECT COUNT(*) FROM audit_log WHERE seq = 3 AND payload = '{\"a\":{\"nested\":[3]},\"i\":3,\"z\":\"last\"}'")
        .await;
    assert_eq!(original, 1);
    db.exec("UPDATE audit_log SET payload = '{\"a\":{\"nested\":[3]},\"i\":30,\"z\":\"last\"}' WHERE seq = 3")
        .await
        .expect("edit");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(first_bad(&report), 3, "{report:?}");
    db.exec("UPDATE audit_log SET payload = '{\"a\":{\"nested\":[3]},\"i\":3,\"z\":\"last\"}' WHERE seq = 3")
        .await
        .expect("restore");
    assert!(store.verify_audit().await.expect("verify").is_ok());

    // An edited time or run id.
    db.exec("UPDATE audit_log SET run_id = NULL WHERE seq = 4")
        .await
        .expect("edit run");
    assert_eq!(first_bad(&store.verify_audit().await.expect("verify")), 4);
    db.exec(&format!(
        "UPDATE audit_log SET run_id = '{run}' WHERE seq = 4"
    ))
    .await
    .expect("restore");
    assert!(store.verify_audit().await.expect("verify").is_ok());

    // Two hashes swapped.
    let h2 = db.text("SELECT hash FROM audit_log WHERE seq = 2").await;
    let h5 = db.text("SELECT hash FROM audit_log WHERE seq = 5").await;
    let set = |a: &str, b: &str| {
        format!(
            "UPDATE audit_log SET hash = '{a}' WHERE seq = 2; \
             UPDATE audit_log SET hash = '{b}' WHERE seq = 5"
        )
    };
    db.exec(&set(&h5, &h2)).await.expect("swap hashes");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(first_bad(&report), 2, "{report:?}");
    db.exec(&set(&h2, &h5)).await.expect("swap back");
    assert!(store.verify_audit().await.expect("verify").is_ok());

    // Two records reordered (their seq numbers swapped).
    let reorder = "UPDATE audit_log SET seq = -2 WHERE seq = 2; \
                   UPDATE audit_log SET seq = 2 WHERE seq = 3; \
                   UPDATE audit_log SET seq = 3 WHERE seq = -2";
    db.exec(reorder).await.expect("reorder");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(first_bad(&report), 2, "{report:?}");
    db.exec(reorder).await.expect("order back");
    assert!(store.verify_audit().await.expect("verify").is_ok());

    // The last record deleted: the chain head still names it.
    db.exec("DELETE FROM audit_log WHERE seq = 6")
        .await
        .expect("cut tail");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(first_bad(&report), 6, "{report:?}");

    // A middle record deleted.
    db.exec("DELETE FROM audit_log WHERE seq = 3")
        .await
        .expect("delete");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(first_bad(&report), 3, "{report:?}");
    let VerifyReport::FirstBad { reason, .. } = report else {
        unreachable!()
    };
    assert!(reason.contains("missing"), "{reason}");
    store.close().await;
}

async fn audit_concurrent_appends_keep_one_chain(db: &TestDb) {
    let one = db.open().await;
    let two = db.open().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = if t % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                store
                    .audit("tick", None, &json!({"task": t, "i": i}))
                    .await
                    .expect("audit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert!(matches!(
        one.verify_audit().await.expect("verify"),
        VerifyReport::Ok { records: 80, .. }
    ));
    assert_eq!(
        db.count("SELECT COUNT(DISTINCT prev_hash) FROM audit_log")
            .await,
        80
    );
    one.close().await;
    two.close().await;
}

async fn write_intent_new_pending_done(db: &TestDb) {
    let store = db.open().await;
    let run = store.create_run(new_run("f", "manual")).await.expect("run");
    let key = format!("{run}/create_note/3");
    let request = json!({"method": "POST", "body": {"note": "hi"}});
    assert_eq!(
        store
            .write_intent(&run, &key, &request)
            .await
            .expect("first"),
        WriteState::New
    );
    assert_eq!(
        store
            .write_intent(&run, &key, &request)
            .await
            .expect("second"),
        WriteState::Pending,
        "sent before, answer unknown"
    );
    let answer = json!({"id": "note-9", "status": 201});
    store.write_done(&key, &answer).await.expect("done");
    assert_eq!(
        store
            .write_intent(&run, &key, &request)
            .await
            .expect("third"),
        WriteState::Done(answer)
    );
    store.write_forget(&key).await.expect("forget");
    assert_eq!(
        store
            .write_intent(&run, &key, &request)
            .await
            .expect("after forget"),
        WriteState::New
    );
    assert!(matches!(
        store.write_done("no/such/key", &json!(1)).await,
        Err(StoreError::NotFound(_))
    ));

    // Concurrent callers with one key: exactly one is told to send.
    let other = db.open().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = if t % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            store
                .write_intent(&run, "race/key/-", &json!({"t": t}))
                .await
                .expect("intent")
        }));
    }
    let mut news = 0;
    for t in tasks {
        if t.await.expect("task") == WriteState::New {
            news += 1;
        }
    }
    assert_eq!(news, 1);
    store.close().await;
    other.close().await;
}

async fn claim_runs_concurrently_never_twice(db: &TestDb) {
    let setup = db.open().await;
    let mut all = BTreeSet::new();
    for _ in 0..100 {
        all.insert(
            setup
                .create_run(new_run("f", "webhook:ContactCreate"))
                .await
                .expect("run"),
        );
    }
    let mut tasks = Vec::new();
    for owner in ["runner-a", "runner-b"] {
        let store = db.open().await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_runs(owner, Duration::from_secs(60), 7)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    break;
                }
                assert!(got.len() <= 7);
                mine.extend(got);
                tokio::task::yield_now().await;
            }
            store.close().await;
            (owner, mine)
        }));
    }
    let mut seen = BTreeSet::new();
    let mut counts = Vec::new();
    for t in tasks {
        let (owner, mine) = t.await.expect("task");
        counts.push(mine.len());
        for id in mine {
            assert_eq!(get(&setup, &id).await.run.owner.as_deref(), Some(owner));
            assert!(seen.insert(id.clone()), "run {id} claimed twice");
        }
    }
    assert_eq!(seen, all, "together the claimers got every run");
    assert_eq!(counts.iter().sum::<usize>(), 100);
    assert!(
        setup
            .claim_runs("runner-c", Duration::from_secs(60), 10)
            .await
            .expect("claim")
            .is_empty(),
        "runs under live leases are not claimed"
    );
    assert!(
        setup
            .claim_runs("runner-c", Duration::from_secs(60), 0)
            .await
            .expect("claim none")
            .is_empty()
    );
    setup.close().await;
}

async fn expired_lease_is_taken_over_and_renewal_checks_owner(db: &TestDb) {
    let store = db.open().await;
    let run = store.create_run(new_run("f", "manual")).await.expect("run");
    let short = Duration::from_millis(200);
    assert_eq!(
        store.claim_runs("dead", short, 10).await.expect("claim"),
        vec![run.clone()]
    );
    assert!(
        store
            .renew_lease(&run, "dead", short)
            .await
            .expect("renew own")
    );
    assert!(
        store
            .claim_runs("alive", short, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a live lease is respected"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    // The lease expired: another runner takes the run over.
    assert_eq!(
        store
            .claim_runs("alive", Duration::from_secs(60), 10)
            .await
            .expect("take over"),
        vec![run.clone()]
    );
    let detail = get(&store, &run).await;
    assert_eq!(detail.run.owner.as_deref(), Some("alive"));
    assert_eq!(detail.run.claims, 2);
    assert_eq!(detail.run.status, RunStatus::Running);
    assert!(
        !store.renew_lease(&run, "dead", short).await.expect("renew"),
        "the old owner cannot renew a run taken from it"
    );
    assert!(
        store
            .renew_lease(&run, "alive", Duration::from_secs(60))
            .await
            .expect("renew")
    );
    assert!(
        !store
            .start_run(&run, "dead", Duration::from_secs(60))
            .await
            .expect("start"),
        "nor start it"
    );
    store
        .finish_run(&run, RunStatus::Succeeded, None, None)
        .await
        .expect("finish");
    assert!(
        !store
            .renew_lease(&run, "alive", Duration::from_secs(60))
            .await
            .expect("renew finished")
    );
    // A run created running with an expired lease (its process died) is taken over too.
    let crashed = store
        .create_run(new_run("f", "manual").running(Lease {
            owner: "cli".into(),
            duration: Duration::from_millis(1),
        }))
        .await
        .expect("crashed");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        store
            .start_run(&crashed, "resumer", Duration::from_secs(60))
            .await
            .expect("resume")
    );
    assert_eq!(get(&store, &crashed).await.run.claims, 2);
    store.close().await;
}

async fn schedule_tick_fires_once(db: &TestDb) {
    let one = db.open().await;
    let two = db.open().await;
    let tick = Utc::now();
    let mut tasks = Vec::new();
    for t in 0..10 {
        let store = if t % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            store.schedule_fire("nightly", tick).await.expect("fire")
        }));
    }
    let mut firsts = 0;
    for t in tasks {
        if t.await.expect("task") {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "each tick fires exactly once");
    assert!(
        one.schedule_fire("nightly", tick + chrono::TimeDelta::microseconds(1))
            .await
            .expect("next tick"),
        "another tick (a microsecond later) fires"
    );
    assert!(one.schedule_fire("other", tick).await.expect("other flow"));

    // The tick and its queued run in one transaction.
    let tick2 = tick + chrono::TimeDelta::seconds(60);
    let mut tasks = Vec::new();
    for t in 0..10 {
        let store = if t % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .schedule_fire_run("nightly", tick2, new_run("nightly", "schedule"))
                .await
                .expect("fire run")
        }));
    }
    let mut runs = Vec::new();
    for t in tasks {
        runs.extend(t.await.expect("task"));
    }
    assert_eq!(runs.len(), 1);
    assert_eq!(get(&one, &runs[0]).await.run.status, RunStatus::Queued);
    assert_eq!(db.count("SELECT COUNT(*) FROM runs").await, 1);
    assert!(
        !one.schedule_fire("nightly", tick2).await.expect("again"),
        "a tick fired with its run counts as fired"
    );
    one.close().await;
    two.close().await;
}

/// Two stores (two runners) claiming from one budget of 5 per minute at once: exactly 5
/// granted, the others told to wait about a minute; another budget has its own 5.
/// A budget paused by one runner (a 429's `Retry-After`) grants no permit to any runner of
/// the store until the pause ends, however empty its window; a shorter pause asked later does
/// not end it sooner; other budgets are not paused.
async fn a_paused_budget_grants_no_permit_to_any_runner_until_the_pause_ends(db: &TestDb) {
    use sluice_store::Permit;
    use std::time::Duration;
    let one = db.open().await;
    let two = db.open().await;
    let per = Duration::from_secs(10);
    one.pause_budget("ghl/burst|app|loc-1", Duration::from_millis(400))
        .await
        .expect("pause");
    one.pause_budget("ghl/burst|app|loc-1", Duration::from_millis(10))
        .await
        .expect("shorter pause");
    match two
        .claim_permit("ghl/burst|app|loc-1", 100, per)
        .await
        .expect("claim")
    {
        Permit::Wait(wait) => assert!(
            wait > Duration::from_millis(200) && wait <= Duration::from_millis(400),
            "waits out the longer pause: {wait:?}"
        ),
        Permit::Granted => panic!("a permit of a paused budget was granted"),
    }
    assert_eq!(
        two.claim_permit("ghl/burst|app|loc-2", 100, per)
            .await
            .expect("claim"),
        Permit::Granted,
        "another budget is not paused"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        two.claim_permit("ghl/burst|app|loc-1", 100, per)
            .await
            .expect("claim"),
        Permit::Granted,
        "granted once the pause has ended"
    );
    one.close().await;
    two.close().await;
}

async fn rate_permits_are_shared_within_the_window(db: &TestDb) {
    use sluice_store::Permit;
    let one = db.open().await;
    let two = db.open().await;
    let per = std::time::Duration::from_secs(60);
    let mut tasks = Vec::new();
    for t in 0..12 {
        let store = if t % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .claim_permit("ghl/burst|app|loc-1", 5, per)
                .await
                .expect("claim")
        }));
    }
    let mut granted = 0;
    for t in tasks {
        match t.await.expect("task") {
            Permit::Granted => granted += 1,
            Permit::Wait(wait) => assert!(
                wait > std::time::Duration::from_secs(50) && wait <= per,
                "waits until the first permit leaves the window: {wait:?}"
            ),
        }
    }
    assert_eq!(granted, 5, "at most 5 in the window, across runners");
    assert_eq!(
        one.claim_permit("ghl/burst|app|loc-2", 5, per)
            .await
            .expect("claim"),
        Permit::Granted
    );
    // A short window frees up: 1 per 50 ms.
    let short = std::time::Duration::from_millis(50);
    assert_eq!(
        one.claim_permit("tiny", 1, short).await.expect("claim"),
        Permit::Granted
    );
    assert!(matches!(
        two.claim_permit("tiny", 1, short).await.expect("claim"),
        Permit::Wait(_)
    ));
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    assert_eq!(
        two.claim_permit("tiny", 1, short).await.expect("claim"),
        Permit::Granted
    );
    one.close().await;
    two.close().await;
}

/// Ten claims of one period by two runners: one look. The next period is another look.
async fn each_look_is_taken_by_one_runner(db: &TestDb) {
    let one = db.open().await;
    let two = db.open().await;
    let mut tasks = Vec::new();
    for t in 0..10 {
        let (store, name) = if t % 2 == 0 {
            (one.clone(), "a")
        } else {
            (two.clone(), "b")
        };
        tasks.push(tokio::spawn(async move {
            store
                .claim_look("task_due:remind", 42, name)
                .await
                .expect("look")
        }));
    }
    let mut taken = 0;
    for t in tasks {
        if t.await.expect("task") {
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
    assert!(
        two.claim_look("task_due:remind", 43, "b")
            .await
            .expect("look")
    );
    assert!(one.claim_look("poll:other", 42, "a").await.expect("look"));
    // Old periods are forgotten as new ones are taken.
    assert!(
        one.claim_look("task_due:remind", 500, "a")
            .await
            .expect("look")
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM trigger_looks WHERE trigger = 'task_due:remind'")
            .await,
        1
    );
    one.close().await;
    two.close().await;
}

async fn reopen_keeps_data_and_migrates_once(db: &TestDb) {
    let (a, b) = tokio::join!(Store::open(&db.url), Store::open(&db.url));
    let (a, b) = (a.expect("open a"), b.expect("open b"));
    let id = a.create_run(new_run("f", "manual")).await.expect("run");
    a.audit("hello", Some(&id), &json!({}))
        .await
        .expect("audit");
    a.close().await;
    b.close().await;
    let c = db.open().await;
    assert!(c.get_run(&id).await.expect("get").is_some());
    assert!(c.verify_audit().await.expect("verify").is_ok());
    assert_eq!(
        c.backend_name(),
        if db.is_pg() { "postgres" } else { "sqlite" }
    );
    // One row per migration file of the backend (a file left out of migrate.rs's list is
    // caught here), each applied once despite two openers.
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(if db.is_pg() { "postgres" } else { "sqlite" });
    let files = std::fs::read_dir(&folder)
        .expect("the migrations folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM sluice_migrations").await,
        i64::try_from(files).expect("count")
    );
    c.close().await;
}

#[test]
fn default_sqlite_path_follows_sluice_home() {
    // Only this test touches SLUICE_HOME.
    let path = Store::default_sqlite_path();
    match std::env::var_os("SLUICE_HOME") {
        Some(home) if !home.is_empty() => {
            assert_eq!(path, std::path::Path::new(&home).join("sluice.db"))
        }
        _ => assert_eq!(path, std::path::Path::new(".sluice/sluice.db")),
    }
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let err = Store::open("mysql://localhost/db")
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("unsupported store URL"), "{err}");
    let err = Store::open("sqlite::memory:").await.expect_err("refused");
    assert!(err.to_string().contains("needs a file path"), "{err}");
}

on_both_backends!(secrets_are_stored_and_audited_by_name_only);

async fn secrets_are_stored_and_audited_by_name_only(db: &TestDb) {
    let store = db.open().await;
    if db.is_pg() {
        // PostgreSQL has no key file: without a key, a secret is refused, saying how to set one.
        let err = store
            .put_secret("ghl_pit", "pit-first-value")
            .await
            .expect_err("no key");
        assert!(err.to_string().contains("SLUICE_SECRET_KEY"), "{err}");
    }
    let store = store
        .with_secret_key("m0hR3lFq6Xb0d2nQ2oQy9v1mZ7S8w4kT5uJ3aH6cL1E=")
        .expect("key");
    assert_eq!(store.get_secret("ghl_pit").await.expect("get"), None);
    store
        .put_secret("ghl_pit", "pit-first-value")
        .await
        .expect("put");
    store
        .put_secret("ghl_pit", "pit-second-value")
        .await
        .expect("replace");
    assert_eq!(
        store.get_secret("ghl_pit").await.expect("get").as_deref(),
        Some("pit-second-value")
    );
    let report = store.verify_audit().await.expect("verify");
    assert!(
        matches!(report, sluice_store::VerifyReport::Ok { .. }),
        "{report:?}"
    );
    let mut out = Vec::new();
    store
        .export_since(chrono::Utc::now() - chrono::Duration::days(1), &mut out)
        .await
        .expect("export");
    let exported = String::from_utf8_lossy(&out);
    assert!(!exported.contains("pit-second-value") && !exported.contains("pit-first-value"));
    // At rest the value is sealed: the table holds no plain text.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM secrets WHERE value LIKE '%pit-second-value%'")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM secrets WHERE value LIKE 'sluice:v1:%'")
            .await,
        1
    );
    // Another key cannot open it, and says which key it needs.
    let other = db
        .open()
        .await
        .with_secret_key(&"11".repeat(32))
        .expect("key");
    let err = other.get_secret("ghl_pit").await.expect_err("wrong key");
    assert!(err.to_string().contains("was encrypted with key"), "{err}");
}

on_both_backends!(
    batch_records_all_kinds_in_one_commit,
    take_over_from_a_gone_owner
);

async fn batch_records_all_kinds_in_one_commit(db: &TestDb) {
    let store = db.open().await;
    let id = store
        .create_run(
            new_run("batch", "manual")
                .at_path("/flows/batch.yaml")
                .running(lease("me", 30)),
        )
        .await
        .expect("create");
    assert!(matches!(
        store
            .write_intent(&id, "k1", &json!({"m": "POST"}))
            .await
            .expect("intent"),
        WriteState::New
    ));
    let call = HttpCall {
        step: "a".into(),
        item: Some(2),
        attempt: 1,
        method: "POST".into(),
        url: "https://x.test/t".into(),
        headers: vec![("Authorization".into(), "[REDACTED]".into())],
        body: Some(json!({"title": "t"})),
        status: Some(201),
        elapsed_ms: 4,
        // Stored with microseconds.
        at: Utc::now().with_nanosecond(123_000).expect("valid"),
        error: None,
    };
    let records = vec![
        sluice_store::Record::Step(
            id.clone(),
            step("a", None, StepStatus::Succeeded, json!([1])),
        ),
        sluice_store::Record::Http(id.clone(), call.clone()),
        sluice_store::Record::WriteDone {
            key: "k1".into(),
            response: json!({"task": {"id": "t1"}}),
        },
        sluice_store::Record::Audit {
            kind: "write.sent".into(),
            run: Some(id.clone()),
            payload: json!({"key": "k1"}),
        },
    ];
    store.record_batch(&records).await.expect("batch");
    let detail = get(&store, &id).await;
    assert_eq!(detail.run.flow_path.as_deref(), Some("/flows/batch.yaml"));
    assert_eq!(detail.steps.len(), 1);
    assert_eq!(detail.steps[0].output, Some(json!([1])));
    assert_eq!(detail.http_calls, vec![call.clone()]);
    assert_eq!(
        store
            .write_intent(&id, "k1", &json!({}))
            .await
            .expect("again"),
        WriteState::Done(json!({"task": {"id": "t1"}}))
    );
    assert!(store.verify_audit().await.expect("verify").is_ok());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM audit_log WHERE kind = 'write.sent'")
            .await,
        1
    );

    // A batch that fails midway leaves nothing behind: the step of an unknown run is refused
    // by the foreign key, and the HTTP call before it is rolled back with it.
    let ghost = RunId::new();
    let bad = vec![
        sluice_store::Record::Http(id.clone(), HttpCall { attempt: 2, ..call }),
        sluice_store::Record::Step(ghost, step("b", None, StepStatus::Succeeded, json!(1))),
    ];
    assert!(store.record_batch(&bad).await.is_err());
    assert_eq!(get(&store, &id).await.http_calls.len(), 1);
}

async fn take_over_from_a_gone_owner(db: &TestDb) {
    let store = db.open().await;
    let id = store
        .create_run(new_run("t", "manual").running(lease("cli:host:1", 3600)))
        .await
        .expect("create");
    // The lease has not expired: an ordinary start is refused.
    assert!(
        !store
            .start_run(&id, "cli:host:2", Duration::from_secs(30))
            .await
            .expect("start")
    );
    // Naming the wrong previous owner takes nothing.
    assert!(
        !store
            .take_over_run(&id, "cli:host:2", Duration::from_secs(30), "cli:host:9")
            .await
            .expect("take")
    );
    assert!(
        store
            .take_over_run(&id, "cli:host:2", Duration::from_secs(30), "cli:host:1")
            .await
            .expect("take")
    );
    let detail = get(&store, &id).await;
    assert_eq!(detail.run.owner.as_deref(), Some("cli:host:2"));
    assert_eq!(detail.run.claims, 2);
    // The old owner's renewals now fail: it must stop.
    assert!(
        !store
            .renew_lease(&id, "cli:host:1", Duration::from_secs(30))
            .await
            .expect("renew")
    );
}

on_both_backends!(
    trigger_keys_fire_once_with_their_run,
    release_and_counts_and_last_fire
);

async fn trigger_keys_fire_once_with_their_run(db: &TestDb) {
    let store = db.open().await;
    assert!(!store.trigger_has_keys("webhook:f").await.expect("has"));
    // Eight runners see the same delivery at once: one run is queued.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .fire_once(
                    "webhook:f",
                    "wh_1",
                    Some(new_run("f", "webhook:ContactUpdate")),
                )
                .await
                .expect("fire")
        }));
    }
    let mut fired = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.expect("join") {
            fired.push(id);
        }
    }
    assert_eq!(fired.len(), 1);
    let run = get(&store, &fired[0]).await;
    assert_eq!(run.run.status, RunStatus::Queued);
    assert_eq!(run.run.trigger, "webhook:ContactUpdate");
    assert!(store.trigger_has_keys("webhook:f").await.expect("has"));
    // A key recorded without a run (a poll's first look) still fires only once.
    assert!(
        store
            .fire_once("poll:f", "item1", None)
            .await
            .expect("fire")
            .is_some()
    );
    assert!(
        store
            .fire_once("poll:f", "item1", Some(new_run("f", "poll")))
            .await
            .expect("fire")
            .is_none()
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM runs").await, 1);
}

async fn release_and_counts_and_last_fire(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(store.last_fire("nightly").await.expect("last"), None);
    let t1 = Utc::now() - chrono::TimeDelta::hours(2);
    let t2 = Utc::now() - chrono::TimeDelta::hours(1);
    assert!(store.schedule_fire("nightly", t2).await.expect("fire"));
    assert!(store.schedule_fire("nightly", t1).await.expect("fire"));
    let last = store
        .last_fire("nightly")
        .await
        .expect("last")
        .expect("some");
    assert_eq!(last.timestamp_micros(), t2.timestamp_micros());

    let id = store
        .create_run(new_run("f", "manual").running(lease("r1", 60)))
        .await
        .expect("create");
    store
        .create_run(new_run("f", "manual"))
        .await
        .expect("queued");
    store
        .create_run(new_run("g", "manual"))
        .await
        .expect("queued");
    assert_eq!(
        store
            .count_runs(RunStatus::Queued, None)
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        store
            .count_runs(RunStatus::Queued, Some("f"))
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        store
            .count_runs(RunStatus::Running, Some("f"))
            .await
            .expect("count"),
        1
    );
    assert!(!store.release_run(&id, "r2").await.expect("not the owner"));
    assert!(store.release_run(&id, "r1").await.expect("release"));
    let run = get(&store, &id).await;
    assert_eq!((run.run.status, run.run.owner), (RunStatus::Queued, None));
    // Another runner claims it and resumes it.
    let claimed = store
        .claim_runs("r2", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert!(claimed.contains(&id));
}

/// A streamed output's items: stored in batches, read back in index order a page at a time; an
/// index stored twice (a resumed run emitting it again) keeps the first value; an item over
/// the cap is its marker; pruning the run removes them.
async fn output_items_are_kept_once_in_order_and_paged(db: &TestDb) {
    let store = db.open().await;
    let run = store
        .create_run(new_run("f", "manual"))
        .await
        .expect("create");
    let other = store
        .create_run(new_run("f", "manual"))
        .await
        .expect("create");
    let item = |run: &RunId, index: u32, value: Value| Record::OutputItem {
        run: run.clone(),
        index,
        value,
    };
    // Written out of order, in one batch, with another run's item 0.
    let mut batch: Vec<Record> = (0..300u32)
        .rev()
        .map(|i| item(&run, i, json!({"i": i})))
        .collect();
    batch.push(item(&other, 0, json!("other")));
    store.record_batch(&batch).await.expect("items");
    // A resumed run emits items 0..10 again, with other values: the stored ones stay.
    let again: Vec<Record> = (0..10u32).map(|i| item(&run, i, json!("again"))).collect();
    store.record_batch(&again).await.expect("again");
    store
        .record_batch(&[item(&run, 300, json!({"blob": "x".repeat(300 * 1024)}))])
        .await
        .expect("big");

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.output_items(&run, after, 128).await.expect("page");
        assert!(page.len() <= 128);
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        seen.extend(page);
    }
    assert_eq!(seen.len(), 301);
    for (k, (index, value)) in seen.iter().take(300).enumerate() {
        assert_eq!(*index as usize, k);
        assert_eq!(value, &json!({"i": k}), "item {k}");
    }
    assert!(is_truncated(&seen[300].1), "{}", seen[300].1);
    assert_eq!(
        store.output_items(&other, None, 10).await.expect("other"),
        vec![(0, json!("other"))]
    );

    store
        .finish_run(
            &run,
            RunStatus::Succeeded,
            Some(&sluice_store::items_marker(301)),
            None,
        )
        .await
        .expect("finish");
    let detail = store.get_run(&run).await.expect("get").expect("run");
    assert_eq!(
        detail
            .run
            .output
            .as_ref()
            .and_then(sluice_store::streamed_items),
        Some(301)
    );
    db.exec(&format!(
        "UPDATE runs SET created_at = '2000-01-01T00:00:00.000000Z', \
         finished_at = '2000-01-01T00:00:00.000000Z' WHERE id = '{run}'"
    ))
    .await
    .expect("age run");
    assert_eq!(
        store
            .prune_older_than(Duration::from_secs(86_400))
            .await
            .expect("prune"),
        1
    );
    assert!(
        store
            .output_items(&run, None, 10)
            .await
            .expect("gone")
            .is_empty()
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM run_output_items").await, 1);
}

on_both_backends!(an_attempt_recorded_when_sent_is_completed_by_its_answer);

/// An HTTP attempt recorded when sent (unanswered) and again when answered is one call, in
/// the place of the first record — whether the two come in one batch or two; one left
/// unanswered is listed by `unanswered_calls` with the highest attempt of its step and item.
async fn an_attempt_recorded_when_sent_is_completed_by_its_answer(db: &TestDb) {
    let store = db.open().await;
    let id = store
        .create_run(new_run("sent", "manual").running(lease("me", 30)))
        .await
        .expect("create");
    let sent = |step: &str, attempt: u32| HttpCall {
        step: step.into(),
        item: None,
        attempt,
        method: "GET".into(),
        url: format!("https://x.test/{step}"),
        headers: Vec::new(),
        body: None,
        status: None,
        elapsed_ms: 0,
        at: Utc::now().with_nanosecond(0).expect("valid"),
        error: Some(sluice_store::NO_ANSWER.into()),
    };
    let answered = |call: HttpCall| HttpCall {
        status: Some(200),
        elapsed_ms: 12,
        error: None,
        ..call
    };
    let attempt = |sent: i64, call: HttpCall| sluice_store::Record::HttpAttempt {
        run: id.clone(),
        sent,
        call,
    };
    // Sent and answered in two batches, with another call recorded in between.
    store
        .record_batch(&[attempt(1, sent("a", 1))])
        .await
        .expect("sent");
    store
        .record_batch(&[sluice_store::Record::Http(
            id.clone(),
            answered(sent("other", 1)),
        )])
        .await
        .expect("other");
    store
        .record_batch(&[attempt(1, answered(sent("a", 1)))])
        .await
        .expect("answered");
    // In one batch.
    store
        .record_batch(&[attempt(2, sent("b", 1)), attempt(2, answered(sent("b", 1)))])
        .await
        .expect("both");
    // Left unanswered: attempt 1 answered with an error status, attempt 2 never answered.
    store
        .record_batch(&[
            attempt(3, sent("c", 1)),
            attempt(
                3,
                HttpCall {
                    status: Some(503),
                    ..answered(sent("c", 1))
                },
            ),
            attempt(4, sent("c", 2)),
        ])
        .await
        .expect("unanswered");
    let calls: Vec<(String, u32, Option<u16>)> = get(&store, &id)
        .await
        .http_calls
        .into_iter()
        .map(|c| (c.step, c.attempt, c.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("a".to_string(), 1, Some(200)),
            ("other".to_string(), 1, Some(200)),
            ("b".to_string(), 1, Some(200)),
            ("c".to_string(), 1, Some(503)),
            ("c".to_string(), 2, None),
        ]
    );
    assert_eq!(
        store.unanswered_calls(&id).await.expect("unanswered"),
        [("c".to_string(), None, 2)]
    );
}
