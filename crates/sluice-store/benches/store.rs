//! Run-store benchmark: step records committed per second on SQLite and on PostgreSQL, with 1
//! and with 8 runs recording at once. Each run: `create_run`, 20 × `record_step`, `finish_run`.
//!
//! Run it with `cargo bench -p sluice-store --bench store`. PostgreSQL is the server at
//! `$SLUICE_TEST_POSTGRES` (a fresh schema, dropped afterwards); without it only SQLite runs.
//! `SLUICE_BENCH_RUNS` (default 200) runs per measurement, split over the concurrent tasks;
//! `SLUICE_BENCH_REPS` (default 3) measurements per row, after one unmeasured warm-up; the
//! table shows the median. SQLite is a file in a temp folder (WAL, `synchronous=NORMAL`).

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use sluice_store::{NewRun, RunStatus, StepRecord, StepStatus, Store};
use sqlx::Connection;

const STEPS_PER_RUN: u32 = 20;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One run as the engine records it.
async fn one_run(store: &Store, owner: &str, latencies: &mut Vec<Duration>) {
    let new = NewRun::new(
        "contact-360",
        b"name: contact-360\n",
        "manual",
        json!({"contact_id": "c-1"}),
    )
    .running(sluice_store::Lease {
        owner: owner.to_string(),
        duration: Duration::from_secs(60),
    });
    let run = store.create_run(new).await.expect("create_run");
    let output = json!({
        "contact": {"id": "c-1", "firstName": "Ada", "lastName": "Lovelace",
                    "email": "ada@example.test", "tags": ["vip", "newsletter"],
                    "customFields": [{"id": "f1", "value": "x".repeat(600)}]},
    });
    for s in 0..STEPS_PER_RUN {
        let started = Utc::now();
        let record = StepRecord {
            step: format!("step_{s}"),
            item: None,
            status: StepStatus::Succeeded,
            attempts: 1,
            request: Some(json!({
                "method": "GET",
                "url": format!("https://services.example.test/contacts/c-1/{s}"),
                "headers": [["Authorization", "[REDACTED]"], ["Version", "2021-07-28"]],
            })),
            response_status: Some(200),
            output: Some(output.clone()),
            error: None,
            started_at: started,
            finished_at: Utc::now(),
        };
        let t = Instant::now();
        store.record_step(&run, &record).await.expect("record_step");
        latencies.push(t.elapsed());
    }
    store
        .finish_run(&run, RunStatus::Succeeded, Some(&output), None)
        .await
        .expect("finish_run");
}

/// A backend and a concurrency to measure.
struct Target {
    name: &'static str,
    concurrency: usize,
    url: String,
    /// PostgreSQL: the server URL and the schema to drop afterwards.
    pg_schema: Option<(String, String)>,
}

struct Measure {
    steps_per_s: f64,
    runs_per_s: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(store: &Store, concurrency: usize, runs: usize) -> Measure {
    let per_task = runs.div_ceil(concurrency);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for _ in 0..per_task {
                one_run(&store, &format!("bench-{t}"), &mut lat).await;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    let total_runs = (per_task * concurrency) as f64;
    Measure {
        steps_per_s: total_runs * f64::from(STEPS_PER_RUN) / elapsed,
        runs_per_s: total_runs / elapsed,
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

fn median_by(mut ms: Vec<Measure>) -> Measure {
    ms.sort_by(|a, b| a.steps_per_s.total_cmp(&b.steps_per_s));
    let mid = ms.len() / 2;
    ms.swap_remove(mid)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs = env_usize("SLUICE_BENCH_RUNS", 200).max(8);
    let reps = env_usize("SLUICE_BENCH_REPS", 3).max(1);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {} × {cpus}", cpu_model());
    println!(
        "{runs} runs per measurement ({STEPS_PER_RUN} step records each, ~1 KiB output), median of {reps}\n"
    );

    let mut rows = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut targets: Vec<Target> = Vec::new();
    for concurrency in [1, 8] {
        let file = dir.path().join(format!("bench-{concurrency}.db"));
        targets.push(Target {
            name: "SQLite",
            concurrency,
            url: format!("sqlite://{}", file.display()),
            pg_schema: None,
        });
    }
    match std::env::var("SLUICE_TEST_POSTGRES") {
        Ok(base) if !base.is_empty() => {
            for concurrency in [1, 8] {
                let schema = format!("bench_{concurrency}_{}", std::process::id());
                let mut conn = sqlx::PgConnection::connect(&base)
                    .await
                    .expect("reach SLUICE_TEST_POSTGRES");
                sqlx::raw_sql(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .execute(&mut conn)
                .await
                .expect("schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                targets.push(Target {
                    name: "PostgreSQL",
                    concurrency,
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    pg_schema: Some((base.clone(), schema)),
                });
            }
        }
        _ => println!("SLUICE_TEST_POSTGRES is not set: PostgreSQL rows skipped\n"),
    }

    let mut versions = Vec::new();
    for t in &targets {
        let (name, url, concurrency) = (t.name, &t.url, t.concurrency);
        let store = Store::open(url).await.expect("open");
        if concurrency == 1 {
            versions.push(version(name, url).await);
        }
        measure(&store, concurrency, runs.min(40)).await; // warm-up
        let mut ms = Vec::new();
        for _ in 0..reps {
            ms.push(measure(&store, concurrency, runs).await);
        }
        rows.push((name, concurrency, median_by(ms)));
        store.close().await;
        if let Some((base, schema)) = &t.pg_schema {
            let mut conn = sqlx::PgConnection::connect(base).await.expect("connect");
            sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop schema");
        }
    }

    println!("{}\n", versions.join("; "));
    println!(
        "| backend | concurrent runs | step records/s | runs/s | record_step p50 | record_step p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, c, m) in rows {
        println!(
            "| {name} | {c} | {:.0} | {:.0} | {:.2} ms | {:.2} ms |",
            m.steps_per_s,
            m.runs_per_s,
            m.p50.as_secs_f64() * 1e3,
            m.p99.as_secs_f64() * 1e3
        );
    }
}

async fn version(name: &str, url: &str) -> String {
    let v = if name == "SQLite" {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        let (v,): (String,) = sqlx::query_as("SELECT sqlite_version()")
            .fetch_one(&mut conn)
            .await
            .expect("version");
        v
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        let (v,): (String,) = sqlx::query_as("SHOW server_version")
            .fetch_one(&mut conn)
            .await
            .expect("version");
        v
    };
    format!("{name} {v}")
}
