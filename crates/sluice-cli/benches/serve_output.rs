//! Streamed output through `sluice serve`: a run of a `for_each` over N contact ids (one GET
//! each, 8 at a time, against the local contact-360 server) through a runner with a SQLite
//! store, once with the flow's output the `for_each`'s results (streamed: each item stored as it
//! is done) and once with an output that reads them (gathered: every result kept until the
//! end). Prints the run's wall time and the runner's peak RSS (`VmHWM` of its process, read
//! after the run ended), and checks the streamed run's items came back whole from
//! `GET /api/runs/{id}/output`. The run is polled every 100 ms with `GET /api/runs/{id}`, as an
//! API user would, so the runner's peak includes answering those.
//!
//! Run it with `cargo bench -p sluice-cli --bench serve_output` (sizes `10000,100000`;
//! `SLUICE_BENCH_SIZES` picks others). Each size and variant gets a fresh runner and store.
//! `SLUICE_BENCH_WRAP=PROGRAM` starts the runner as `PROGRAM serve …` instead of `sluice serve
//! …`: a script that runs `sluice` under a profiler, e.g. `exec heaptrack -o /tmp/ht
//! target/release/sluice "$@"` (its runner then ends with a signal, which the bench reports).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::contact360::{TOKEN, start_server};
use sluice_test_support::{ApiClient, ServeProcess, TempProject, flows};

const API_TOKEN: &str = "bench-token-0123456789abcdef";

/// The flow whose output is streamed.
const STREAMED: &str = r#"
name: lookup
inputs:
  ids: { type: array }
connections:
  crm: { connector: bench-crm, credential: crm }
steps:
  contacts:
    for_each: "{{ inputs.ids }}"
    as: id
    concurrency: 8
    action: crm.get_contact
    with: { contactId: "{{ id }}" }
output: "{{ steps.contacts }}"
"#;

/// Peak resident set of process `pid`, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One run of `n` ids: wall time (s), peak RSS (MB), and for a streamed run the lines served.
async fn measure(url: &str, n: usize, streamed: bool) -> (f64, f64, Option<usize>) {
    let flow = if streamed {
        STREAMED.to_string()
    } else {
        STREAMED.replace(
            "output: \"{{ steps.contacts }}\"",
            "output: \"{{ len steps.contacts }}\"",
        )
    };
    let project = TempProject::new(
        "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\n\n\
         [credentials.crm]\nkind = \"bearer\"\ntoken = { env = \"BENCH_TOKEN\" }\n",
    )
    .with_flow("lookup", &flow);
    project.write(
        "connectors/bench-crm.yaml",
        flows::contact_reader("bench-crm", url),
    );
    let bin = std::env::var("SLUICE_BENCH_WRAP")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sluice").to_string());
    let mut cmd = project.sluice(bin);
    cmd.env("SERVE_TOKEN", API_TOKEN)
        .env("BENCH_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .args(["serve", "flows", "--listen", "127.0.0.1:0"])
        .args(["--store", &project.store_url()]);
    let serve = ServeProcess::start(cmd, Duration::from_secs(60));
    let api = ApiClient::new(serve.base(), API_TOKEN);
    // Short ids (`c0`…): 100,000 of them fit the API's 1 MiB body limit.
    let ids: Vec<String> = (0..n).map(|k| format!("c{k}")).collect();
    let started = Instant::now();
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/api/flows/lookup/runs",
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    // Polled as an API user would, with `GET /api/runs/{id}` (a bounded detail: at most 1,000
    // HTTP calls of the run's N, however large N is).
    loop {
        let (status, run) = api
            .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
            .await;
        assert_eq!(status, 200, "{run}");
        assert!(
            run["http_calls"]
                .as_array()
                .is_some_and(|c| c.len() <= 1000),
            "a bounded detail"
        );
        match run["status"].as_str() {
            Some("succeeded") => break,
            Some("queued" | "running") => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => panic!("the run did not succeed: {}", run["status"]),
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let rss = peak_rss_mb(serve.pid());
    let lines = if streamed {
        let text = reqwest::Client::new()
            .get(serve.url(&format!("/api/runs/{id}/output")))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("output")
            .text()
            .await
            .expect("body");
        let lines = text.lines().count();
        let last: Value =
            serde_json::from_str(text.lines().last().unwrap_or("null")).expect("JSON");
        assert!(last.get("contact").is_some(), "{last}");
        Some(lines)
    } else {
        None
    };
    let (code, _, log) = serve.stop(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
    (wall, rss, lines)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let sizes: Vec<usize> = std::env::var("SLUICE_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let server = start_server();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "sluice serve, a for_each of one GET per id (8 at a time), SQLite store; machine: {cores} cores\n"
    );
    println!("| N | output | wall (s) | runner peak RSS (MB) | lines served |");
    println!("|---|---|---:|---:|---:|");
    for &n in &sizes {
        for streamed in [true, false] {
            let (wall, rss, lines) = rt.block_on(measure(&server.url, n, streamed));
            println!(
                "| {n} | {} | {wall:.1} | {rss:.1} | {} |",
                if streamed { "streamed" } else { "gathered" },
                lines.map_or("–".into(), |l| l.to_string()),
            );
            if let Some(l) = lines {
                assert_eq!(l, n, "every item served");
            }
        }
    }
}
