//! Runner benchmark: `sluice serve` (the release binary) under load from a Rust client on the
//! same machine. Prints:
//! - runs queued per second through `POST /api/flows/{name}/runs` (32 clients, 5 s), and how
//!   fast the runner then finishes them;
//! - the latency from a webhook delivery's receipt to its run's start (p50/p99 of 300
//!   deliveries, 20 a second), read from the store's `started_at`;
//! - both again with two runners sharing PostgreSQL (`SLUICE_TEST_POSTGRES`; left out, with a
//!   note, when it is not set).
//!
//! Run it with `cargo bench -p sluice-cli --bench serve`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use serde_json::json;
use sluice_test_support::{ServeProcess, TempProject};

const TOKEN: &str = "bench-token-0123456789abcdef";
const FLOW: &str = r#"
name: echo
on:
  - manual: {}
  - webhook: { event: ContactUpdate, connection: ghl }
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  echo:
    value: "{{ inputs.contactId }}"
output: "{{ steps.echo }}"
"#;

/// `sluice serve` of the project's `flows/`, 16 workers, named `name`, on a free port.
fn start(project: &TempProject, store: &str, name: &str) -> ServeProcess {
    let mut cmd = project.sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.env("SERVE_TOKEN", TOKEN)
        .args([
            "serve",
            "flows",
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--name",
            name,
        ])
        .args(["--workers", "16"]);
    ServeProcess::start(cmd, Duration::from_secs(60))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn finished(store: &sluice_store::Store) -> (u64, u64) {
    let done = store
        .count_runs(sluice_store::RunStatus::Succeeded, Some("echo"))
        .await
        .expect("count");
    let queued = store
        .count_runs(sluice_store::RunStatus::Queued, Some("echo"))
        .await
        .expect("count")
        + store
            .count_runs(sluice_store::RunStatus::Running, Some("echo"))
            .await
            .expect("count");
    (done, queued)
}

/// API load: 32 clients posting runs for 5 s against the runners in turn.
async fn api_load(runners: &[String], store: &sluice_store::Store) -> (f64, f64) {
    let client = reqwest::Client::new();
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let window = Duration::from_secs(5);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (client, accepted, base) = (
            client.clone(),
            accepted.clone(),
            runners[i % runners.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < window {
                let r = client
                    .post(format!("{base}/api/flows/echo/runs"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"contactId": "ct_ada"}))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 202) {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let posted = accepted.load(Ordering::Relaxed);
    assert!(
        posted > 0,
        "the runner accepted no run: is the flow served?"
    );
    let queued_rate = posted as f64 / started.elapsed().as_secs_f64();
    loop {
        let (_, pending) = finished(store).await;
        if pending == 0 || started.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done_rate = posted as f64 / started.elapsed().as_secs_f64();
    (queued_rate, done_rate)
}

/// Webhook latency: 300 signed deliveries, 20 a second; receipt → run start, from the store.
async fn webhook_latency(
    runners: &[String],
    store: &sluice_store::Store,
    key: &ed25519_dalek::SigningKey,
) -> (f64, f64) {
    let client = reqwest::Client::new();
    let mut sent = Vec::new();
    for i in 0..300 {
        let body = serde_json::to_vec(&json!({
            "type": "ContactUpdate", "id": format!("ct_{i}"), "locationId": "loc_sandbox",
            "webhookId": format!("bench-{}-{}-{i}", std::process::id(), runners.len()),
            "timestamp": chrono::Utc::now().to_rfc3339(),
        }))
        .expect("json");
        let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&body).to_bytes());
        let at = chrono::Utc::now();
        let r = client
            .post(format!("{}/hooks/echo", runners[i % runners.len()]))
            .header("x-ghl-signature", sig)
            .body(body)
            .send()
            .await
            .expect("deliver");
        let v: serde_json::Value = r.json().await.expect("json");
        if let Some(id) = v["id"].as_str() {
            sent.push((id.parse::<sluice_store::RunId>().expect("id"), at));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut ms = Vec::new();
    for (id, at) in sent {
        if let Some(d) = store.get_run(&id).await.expect("get")
            && let Some(started) = d.run.started_at
        {
            ms.push((started - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99))
}

async fn scenario(label: &str, store_url: &str, runners: usize) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let pem = key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("pem");
    let project = TempProject::new(
        "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\nwebhook_public_key = { file = \"webhook.pem\" }\n",
    )
    .with_flow("echo", FLOW);
    project.write("webhook.pem", pem);
    let store_url = if store_url.is_empty() {
        project.store_url()
    } else {
        store_url.to_string()
    };
    let procs: Vec<ServeProcess> = (0..runners)
        .map(|i| start(&project, &store_url, &format!("bench-{i}")))
        .collect();
    let bases: Vec<String> = procs.iter().map(|r| r.base().to_string()).collect();
    let store = sluice_store::Store::open(&store_url).await.expect("store");
    let (queued, done) = api_load(&bases, &store).await;
    let (p50, p99) = webhook_latency(&bases, &store, &key).await;
    println!("| {label} | {runners} | {queued:.0} | {done:.0} | {p50:.1} | {p99:.1} |");
    for runner in procs {
        let _ = runner.stop(Duration::from_secs(60));
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "sluice serve under load ({cores} cores; client, runners and database on this machine)\n"
    );
    println!(
        "| store | runners | API runs queued/s | runs finished/s (queued → done) | webhook → run start p50 (ms) | p99 (ms) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    rt.block_on(scenario("SQLite", "", 1));
    match std::env::var("SLUICE_TEST_POSTGRES") {
        Ok(base) if !base.trim().is_empty() => {
            for runners in [1, 2] {
                let schema = format!("bench_{}_{runners}", std::process::id());
                rt.block_on(async {
                    use sqlx::Connection as _;
                    let mut c = sqlx::PgConnection::connect(&base)
                        .await
                        .expect("PostgreSQL");
                    sqlx::Executor::execute(&mut c, format!("CREATE SCHEMA {schema}").as_str())
                        .await
                        .expect("schema");
                });
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                rt.block_on(scenario("PostgreSQL", &url, runners));
            }
        }
        _ => println!("\n(PostgreSQL rows left out: set SLUICE_TEST_POSTGRES to a server)"),
    }
}
