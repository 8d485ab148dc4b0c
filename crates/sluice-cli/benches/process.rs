//! Whole-process benchmark: contact-360 for N contact ids through the `sluice` binary (a
//! release build: `cargo bench` builds it), next to a hand-written tokio + reqwest client, both
//! against the same fast local server. Prints wall time, requests/s, peak RSS and, for
//! `sluice`, the time from process start to its first request.
//!
//! Run it with `cargo bench -p sluice-cli --bench process` (sizes `1,1000,10000,100000`;
//! `SLUICE_BENCH_SIZES=1,1000` picks others, `SLUICE_BENCH_ROUNDS` the rounds, default 3, whose
//! median is shown; `SLUICE_BENCH_BIN=PATH` measures that `sluice` binary instead, e.g. one
//! built with other release settings).
//!
//! Per contact: GET the contact, then its notes and its tasks at once, then merge (the workload
//! of `cargo bench -p sluice-engine --bench contact360`, whose server and hand-written client
//! this shares: `sluice_test_support::contact360`). `sluice run` runs a flow whose one step is a
//! `for_each` (8 at a time) over the ids running the sub-flow `contact-360-one`, with no run
//! record (`--no-record`), once printing its output as one JSON document (`--output json`, the
//! results gathered) and once as JSON lines (`--output jsonl`, each result written as soon as it
//! and the ones before it are done). The connector is a project connector with GHL's paths and no
//! rate limit (GHL's 100 requests / 10 s would make this a benchmark of the limiter).
//!
//! Each measured process is started by a copy of this binary (`SLUICE_BENCH_ROLE=measure`) that
//! waits for it and reads its peak RSS from `getrusage(RUSAGE_CHILDREN)` (the only child), so
//! the figure is the process's own and exact. Outputs go to files; afterwards each output's
//! items are hashed, and the benchmark stops unless all three variants produced the same items.

use std::fs::File;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use serde_json::{Value, json};
use sluice_test_support::TempProject;
use sluice_test_support::contact360::{
    Hand, MERGE_STEP, PARENT_FLOW, Server, TOKEN, VERSION, contact_ids, start_server,
};

/// Contacts (and requests) in flight, in both clients.
const CONCURRENCY: usize = 8;

/// `contact-360-one` up to its merge step (the same as the engine benchmark's, on a project
/// connector without rate limits).
const ONE_FLOW_HEAD: &str = r#"
name: contact-360-one
inputs:
  contactId: { type: string }
connections:
  crm: { connector: bench-crm, credential: crm }
steps:
  contact:
    action: crm.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
  notes:
    action: crm.list_notes
    with: { contactId: "{{ steps.contact.contact.id }}" }
  tasks:
    action: crm.list_tasks
    with: { contactId: "{{ steps.contact.contact.id }}" }
"#;

/// GHL's contact, notes and tasks reads at `url`, without rate limits.
fn connector(url: &str) -> String {
    let op = |name: &str, path: &str| {
        format!(
            "  {name}:\n    description: \"GET {path}\"\n    method: GET\n    path: \"{path}\"\n    \
             params:\n      contactId: {{ in: path, type: string, required: true }}\n"
        )
    };
    format!(
        "name: bench-crm\ndescription: The contact-360 benchmark server (GHL's paths, no rate limits).\n\
         base_url: \"{url}\"\nheaders:\n  Version: \"{VERSION}\"\n  Accept: application/json\n\
         auth:\n  - kind: bearer\noperations:\n{}{}{}",
        op("get_contact", "/contacts/{contactId}"),
        op("list_notes", "/contacts/{contactId}/notes"),
        op("list_tasks", "/contacts/{contactId}/tasks"),
    )
}

// ---------------------------------------------------------------------------------------------
// Children

/// `SLUICE_BENCH_ROLE=measure`: runs the command given as arguments (as role
/// `SLUICE_BENCH_CHILD_ROLE`, if set), waits, and writes `START_NS WALL_NS MAXRSS_KB` to
/// `SLUICE_BENCH_REPORT`.
fn measure_child() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report = std::env::var("SLUICE_BENCH_REPORT").expect("SLUICE_BENCH_REPORT");
    let start_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let started = Instant::now();
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    match std::env::var("SLUICE_BENCH_CHILD_ROLE") {
        Ok(role) => cmd.env("SLUICE_BENCH_ROLE", role),
        Err(_) => cmd.env_remove("SLUICE_BENCH_ROLE"),
    };
    let status = cmd.status().expect("the command starts");
    let wall = started.elapsed();
    assert!(status.success(), "{args:?} failed: {status}");
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    std::fs::write(
        report,
        format!("{start_ns} {} {}", wall.as_nanos(), usage.max_rss()),
    )
    .expect("write the report");
}

/// `SLUICE_BENCH_ROLE=hand`: the hand-written client for the ids of file `$1` against `$2`,
/// one merged object per line on stdout, in order.
fn hand_child() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ids: Value =
        serde_json::from_slice(&std::fs::read(&args[0]).expect("the ids")).expect("JSON ids");
    let ids: Vec<String> = ids["contactIds"]
        .as_array()
        .expect("contactIds")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let hand = Arc::new(Hand::new(&args[1], CONCURRENCY));
        let mut out = BufWriter::new(std::io::stdout().lock());
        let mut results = futures::stream::iter(ids)
            .map(|id| {
                let hand = hand.clone();
                async move { hand.one(&id).await }
            })
            .buffered(CONCURRENCY);
        while let Some(v) = results.next().await {
            serde_json::to_writer(&mut out, &v).expect("write");
            out.write_all(b"\n").expect("write");
        }
        out.flush().expect("flush");
    });
}

// ---------------------------------------------------------------------------------------------
// The parent

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Json,
    Jsonl,
    Hand,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Json => "sluice run --output json",
            Variant::Jsonl => "sluice run --output jsonl",
            Variant::Hand => "hand-written tokio + reqwest",
        }
    }
}

/// One measured process.
struct Sample {
    wall: Duration,
    rss_kb: u64,
    /// From the process's start to the server's first request.
    first_request: Option<Duration>,
    /// The hash of the items of the output.
    items: (usize, u64),
}

struct Bench {
    project: TempProject,
    server: Server,
    out: PathBuf,
}

impl Bench {
    fn run(&self, variant: Variant, ids: &Path) -> Sample {
        let me = std::env::current_exe().expect("this binary");
        let report = self.project.path().join("report.txt");
        let mut cmd = Command::new(&me);
        cmd.env("SLUICE_BENCH_ROLE", "measure")
            .env("SLUICE_BENCH_REPORT", &report)
            .current_dir(self.project.path())
            .env("SLUICE_HOME", self.project.path().join(".sluice"))
            .env("BENCH_TOKEN", TOKEN)
            .env_remove("RUST_LOG")
            .stdout(File::create(&self.out).expect("the output file"))
            .stderr(Stdio::inherit());
        match variant {
            Variant::Json | Variant::Jsonl => {
                let sluice = std::env::var("SLUICE_BENCH_BIN")
                    .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sluice").to_string());
                cmd.arg(sluice).args([
                    "run",
                    "flows/contact-360-all.yaml",
                    "--no-record",
                    "--inputs",
                ]);
                cmd.arg(ids).args([
                    "--output",
                    if variant == Variant::Json {
                        "json"
                    } else {
                        "jsonl"
                    },
                ]);
            }
            Variant::Hand => {
                cmd.env("SLUICE_BENCH_CHILD_ROLE", "hand")
                    .arg(&me)
                    .arg(ids)
                    .arg(&self.server.url);
            }
        }
        let _ = self.server.take_first_request();
        let status = cmd.status().expect("the measuring child starts");
        assert!(status.success(), "{}: {status}", variant.label());
        let first = self.server.take_first_request();
        let text = std::fs::read_to_string(&report).expect("the report");
        let f: Vec<u128> = text
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect();
        let start = UNIX_EPOCH + Duration::from_nanos(u64::try_from(f[0]).unwrap_or(u64::MAX));
        Sample {
            wall: Duration::from_nanos(u64::try_from(f[1]).unwrap_or(u64::MAX)),
            rss_kb: u64::try_from(f[2]).unwrap_or(u64::MAX),
            first_request: first.and_then(|t| t.duration_since(start).ok()),
            items: items_hash(&self.out, variant == Variant::Json),
        }
    }
}

/// The number of output items and a hash over them in order (each parsed, so layout does not
/// count): a JSON array document, or JSON lines.
fn items_hash(path: &Path, document: bool) -> (usize, u64) {
    let mut hasher = DefaultHasher::new();
    let mut n = 0;
    let mut add = |v: &Value| {
        serde_json::to_string(v)
            .expect("serialize")
            .hash(&mut hasher);
        n += 1;
    };
    if document {
        let v: Value = serde_json::from_reader(BufReader::new(File::open(path).expect("output")))
            .expect("the output is JSON");
        for item in v.as_array().expect("an array") {
            add(item);
        }
    } else {
        for line in BufReader::new(File::open(path).expect("output")).lines() {
            let v: Value = serde_json::from_str(&line.expect("a line")).expect("a JSON line");
            add(&v);
        }
    }
    (n, hasher.finish())
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort_unstable();
    v[v.len() / 2]
}

fn parent() {
    let sizes: Vec<usize> = std::env::var("SLUICE_BENCH_SIZES")
        .unwrap_or_else(|_| "1,1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rounds: usize = std::env::var("SLUICE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let server = start_server();
    let project = TempProject::new(
        "[credentials.crm]\nkind = \"bearer\"\ntoken = { env = \"BENCH_TOKEN\" }\n",
    )
    .with_flow("contact-360-all", PARENT_FLOW)
    .with_flow("contact-360-one", &format!("{ONE_FLOW_HEAD}{MERGE_STEP}"));
    project.write("connectors/bench-crm.yaml", connector(&server.url));
    let out = project.path().join("out.txt");
    let bench = Bench {
        project,
        server,
        out,
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "contact-360 through whole processes, {CONCURRENCY} contacts in flight; machine: {cores} cores; \
         server: 1 thread in the benchmark's process; median of {rounds} round(s)\n"
    );
    println!(
        "| N | variant | wall (ms) | requests/s | peak RSS (MB) | start → first request (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    let variants = [Variant::Json, Variant::Jsonl, Variant::Hand];
    // Warm the page cache and the server's connections' allocations once.
    let warm = bench.project.path().join("ids-warm.json");
    std::fs::write(&warm, json!({ "contactIds": contact_ids(100) }).to_string()).expect("ids");
    for v in variants {
        let _ = bench.run(v, &warm);
    }
    for &n in &sizes {
        let ids = bench.project.path().join(format!("ids-{n}.json"));
        std::fs::write(&ids, json!({ "contactIds": contact_ids(n) }).to_string()).expect("ids");
        let mut hashes = Vec::new();
        for v in variants {
            let samples: Vec<Sample> = (0..rounds).map(|_| bench.run(v, &ids)).collect();
            for s in &samples {
                assert_eq!(s.items.0, n, "{}: {} items, not {n}", v.label(), s.items.0);
            }
            hashes.push(samples[0].items.1);
            let wall = median(samples.iter().map(|s| s.wall).collect());
            let rss = median(samples.iter().map(|s| s.rss_kb).collect());
            let first = samples
                .iter()
                .filter_map(|s| s.first_request)
                .collect::<Vec<_>>();
            let first = if v == Variant::Hand || first.is_empty() {
                "–".to_string()
            } else {
                format!("{:.1}", median(first).as_secs_f64() * 1e3)
            };
            #[allow(clippy::cast_precision_loss)]
            let rps = (n * 3) as f64 / wall.as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let mb = rss as f64 / 1024.0;
            println!(
                "| {n} | {} | {:.1} | {rps:.0} | {mb:.1} | {first} |",
                v.label(),
                wall.as_secs_f64() * 1e3,
            );
        }
        assert!(
            hashes.iter().all(|h| *h == hashes[0]),
            "the variants' outputs differ for N = {n}"
        );
    }
}

fn main() {
    match std::env::var("SLUICE_BENCH_ROLE").as_deref() {
        Ok("measure") => measure_child(),
        Ok("hand") => hand_child(),
        _ => parent(),
    }
}
