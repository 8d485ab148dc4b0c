//! Memory of a paged read: 100,000 contacts in pages of 100 from a local HTTP server, read by
//! one `pages: all` step, either gathered into its answer or streamed into a `for_each`.
//!
//! Run it with `cargo bench -p sluice-engine --bench paged`.
//!
//! The parent process re-executes this binary once per variant (`SLUICE_BENCH_VARIANT`), so each
//! variant's peak RSS (`VmHWM` of `/proc/self/status`) is its own. Each child starts a hyper
//! server on its own thread (127.0.0.1:0) that makes each page on the fly (a ~300-byte contact
//! per item), runs the flow once, and prints the wall time, the items the flow saw and its peak
//! RSS. Variants:
//!
//! - `gathered`: the step's answer holds every item; the output counts them.
//! - `streamed`: a `for_each` over the items (`value:` of two fields each) is the only reader,
//!   so the items stream into it page by page; nothing reads its results.
//! - `streamed-kept`: the same, with the `for_each` results read by the output (100,000 small
//!   values are kept; the contacts are not).
//! - `streamed-recorded`: `streamed`, recorded in a SQLite run store as `sluice run` records a
//!   run (each page's items and answer, for resume).
//!
//! `SLUICE_BENCH_ITEMS` changes the number of contacts (default 100,000).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sluice_engine::{Executable, NoObserver, Recorder, RunJournal, RunOptions, RunStatus, Runtime};
use sluice_model::Limits;

/// Items per page.
const PAGE: usize = 100;

const CONNECTOR: &str = r#"
name: bench-api
description: Contacts a page at a time.
base_url: "http://127.0.0.1:1"
operations:
  list:
    description: Contacts by offset.
    method: GET
    path: /contacts
    params:
      limit: { in: query, type: integer }
      skip: { in: query, type: integer }
    pagination: { kind: offset, items: $.contacts, limit_param: limit, offset_param: skip }
"#;

fn flow(variant: &str) -> String {
    let head = r#"
name: paged
connections:
  api: { connector: bench-api }
steps:
  all: { action: api.list, pages: all, with: { limit: 100, skip: 0 } }
"#;
    let each = r#"
  each:
    for_each: "{{ steps.all.contacts }}"
    value: { id: "{{ item.id }}", email: "{{ item.email }}" }
"#;
    match variant {
        "gathered" => format!("{head}output: \"{{{{ len steps.all.contacts }}}}\"\n"),
        "streamed-kept" => format!("{head}{each}output: \"{{{{ len steps.each }}}}\"\n"),
        _ => format!("{head}{each}"),
    }
}

/// Page `skip / PAGE` of `total` contacts.
fn page(skip: usize, total: usize) -> Bytes {
    let contacts: Vec<Value> = (skip..(skip + PAGE).min(total))
        .map(|n| {
            json!({
                "id": format!("contact-{n:08}"),
                "firstName": "Ada",
                "lastName": format!("Lovelace {n}"),
                "email": format!("ada.{n}@example.com"),
                "phone": "+44 20 7946 0000",
                "tags": ["customer", "newsletter"],
                "dateAdded": "2026-11-01T09:00:00.000Z",
                "customFields": [{ "id": "cf_1", "value": "Analytical engines" }]
            })
        })
        .collect();
    Bytes::from(serde_json::to_vec(&json!({ "contacts": contacts })).unwrap_or_default())
}

fn answer(req: &Request<hyper::body::Incoming>, total: usize) -> Response<Full<Bytes>> {
    let skip = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("skip="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut response = Response::new(Full::new(page(skip, total)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Starts the server on its own thread; its base URL.
fn start_server(total: usize) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let addr: SocketAddr = listener.local_addr().expect("local address");
            tx.send(addr).expect("report the address");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let response = answer(&req, total);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    format!("http://{}", rx.recv().expect("the server starts"))
}

/// A line of `/proc/self/status` in kB (`VmHWM`, `VmRSS`).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)
                    .and_then(|r| r.strip_prefix(':'))
                    .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn build(variant: &str) -> (Arc<Executable>, sluice_model::Catalog) {
    let mut catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let extra = sluice_model::Catalog::from_sources([("bench-api.yaml", CONNECTOR)])
        .expect("bench connector");
    for c in extra.iter() {
        catalog.insert(c.clone());
    }
    let source = flow(variant);
    let files = vec![("paged.yaml".to_string(), source.clone())];
    let checked = sluice_plan::validate_files(&files, &catalog, None, &Limits::default());
    let v = &checked[0];
    assert_eq!(v.report.error_count(), 0, "{}", v.report.render(false));
    let exec = Executable::build(
        v.document.as_ref().expect("doc"),
        v.plan.as_ref().expect("plan"),
        &catalog,
        &source,
    )
    .expect("build");
    (Arc::new(exec), catalog)
}

fn child(variant: &str, total: usize) {
    let url = start_server(total);
    let (exec, _) = build(variant);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rt = Runtime::builder(Arc::new(NoObserver), RunOptions::default());
    rt.base_url("bench-api", url);
    let rt = Arc::new(rt.build().expect("runtime"));
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = (variant == "streamed-recorded").then(|| {
        let recorder = runtime.block_on(async {
            let url = format!("sqlite://{}", dir.path().join("sluice.db").display());
            let store = sluice_store::Store::open(&url).await.expect("store");
            Recorder::start(store)
        });
        let new = sluice_store::NewRun::new("paged", b"", "manual", json!({})).running(
            sluice_store::Lease {
                owner: "bench".into(),
                duration: Duration::from_secs(600),
            },
        );
        Arc::new(RunJournal::start(recorder, new))
    });
    let rss_before = status_kb("VmRSS");
    let started = Instant::now();
    let report = runtime.block_on(async {
        let report = sluice_engine::run_with(exec, rt.clone(), json!({}), journal.clone()).await;
        if let Some(j) = &journal {
            j.finish(&report, rt.redactor()).await.expect("finish");
        }
        report
    });
    let wall = started.elapsed();
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    if let Some(count) = report.output.as_ref().and_then(Value::as_u64) {
        assert_eq!(count as usize, total, "every item was read");
    }
    println!(
        "result {} {} {}",
        wall.as_millis(),
        rss_before,
        status_kb("VmHWM")
    );
}

fn main() {
    let total = std::env::var("SLUICE_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if let Ok(variant) = std::env::var("SLUICE_BENCH_VARIANT") {
        child(&variant, total);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    println!(
        "{total} contacts in pages of {PAGE} ({} requests), one run per variant\n",
        total.div_ceil(PAGE) + 1
    );
    println!("| variant | wall (ms) | items/s | RSS before (MB) | peak RSS (MB) |");
    println!("|---|---:|---:|---:|---:|");
    for variant in ["gathered", "streamed", "streamed-kept", "streamed-recorded"] {
        let out = Command::new(&exe)
            .env("SLUICE_BENCH_VARIANT", variant)
            .env("SLUICE_BENCH_ITEMS", total.to_string())
            .output()
            .expect("run a variant");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("result ")) else {
            println!(
                "| {variant} | failed: {} |",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        };
        let n: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [wall, before, peak] = n[..] else {
            continue;
        };
        println!(
            "| {variant} | {wall} | {:.0} | {:.1} | {:.1} |",
            total as f64 / (wall as f64 / 1000.0),
            before as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
}
