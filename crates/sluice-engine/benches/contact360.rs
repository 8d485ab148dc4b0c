//! Executor benchmark: the contact-360 workload for 1,000 contacts, run by the engine and by a
//! hand-written tokio + reqwest client, against a fast local HTTP server.
//!
//! Run it with `cargo bench -p sluice-engine --bench contact360`.
//!
//! Per contact: GET the contact, then GET its notes and GET its tasks at the same time, then
//! merge. The engine runs a parent flow whose one step is a `for_each` over the 1,000 ids
//! (`concurrency: 8`) running the sub-flow `contact-360-one` (get contact → notes ‖ tasks →
//! `value:` merge step), with the runtime's global and per-connection limits at 8. The
//! hand-written client makes the same 3,000 GETs with one `reqwest::Client`, 8 contacts in
//! flight and at most 8 requests in flight (a semaphore, like the engine's global limit), sends
//! the same headers (`Version`, `Accept`, `Authorization: Bearer …`), parses every answer into a
//! `serde_json::Value` like the engine, and builds the same merged object with `serde_json`.
//! Both results are hashed, and the benchmark fails unless the two hashes are equal.
//!
//! Processes and threads. The parent process only orchestrates: it re-executes this binary
//! with `SLUICE_BENCH_VARIANT=engine|hand` (alternating, `SLUICE_BENCH_ROUNDS` rounds, default
//! 3), so each variant's peak RSS (`VmHWM` of `/proc/self/status`, read at the end of the child)
//! is its own. Each child starts the HTTP server (hyper, HTTP/1.1, 127.0.0.1:0) on a dedicated
//! OS thread with its own current-thread tokio runtime, and runs the client on a multi-thread
//! tokio runtime with `nproc - 1` workers (at least 1; `SLUICE_BENCH_CLIENT_THREADS` overrides):
//! on a 2-core machine the server has one core and the client the other. The client's work is
//! spawned onto that runtime (not run inside `block_on`), so the calling thread does not add a
//! second client thread. Each child runs the workload once unmeasured, then
//! `SLUICE_BENCH_REPS` times (default 7); the tables show the best and the median of all
//! measured runs of a variant. CPU time is read from `/proc/self/task/*/schedstat`
//! (nanoseconds) and split into the server thread's and the rest (the client's).
//!
//! The engine runs with `Runtime::builder`'s defaults otherwise: no observer (`NoObserver`), no
//! client-side rate limits (the CLI loads GHL's 100 requests / 10 s, which would make this a
//! 5-minute benchmark of the limiter), no read cache; the server's answers carry GHL's
//! `X-RateLimit-*` headers with plenty remaining, so the engine reads them and never waits.
//!
//! `cargo bench … -- ablations` (or `SLUICE_BENCH_ABLATIONS=1`) also runs the engine on altered
//! flows, to measure in place what two of the proposed fixes would gain: the merge step without
//! its one Handlebars text template (`name: "{{ …firstName }}"`, so no Handlebars context is
//! built), the parent flow without `output:` (so the 1,000 results are not copied), and both. Their results differ from the real workload's, so they are not compared.
//!
//! Recording. The variants `runs` and `runs-recorded` run the same work as 1,000 top-level
//! runs of `contact-360-one` (8 at a time, as `sluice serve` would for 1,000 webhook
//! deliveries), the second recording each in a SQLite run store in a temp folder exactly as
//! `sluice run` does: the run created, an audit record at its start and end, every step and
//! HTTP call committed (group commit), the run finished with its output. The table compares
//! the two: recording's cost on the contact-360 throughput.
//!
//! `cargo bench … -- phases` (or `SLUICE_BENCH_VARIANT=phases`) times the engine's pieces
//! one by one: JSON parsing, request preparation and records, the Handlebars context, the
//! merge step, the output copy (in a loop, best of 10 batches); then, in place on the same
//! runtimes and server, the engine's per-step cost without HTTP (a sub-flow of 4 `value:`
//! steps) and its HTTP layer against plain reqwest, one request at a time.

use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use secrecy::SecretString;
use serde_json::{Value, json};
use sluice_engine::exec::ExecKind;
use sluice_engine::http::AuthMaterial;
use sluice_engine::{Executable, NoObserver, Recorder, RunJournal, RunOptions, RunStatus, Runtime};
use sluice_model::Limits;
use sluice_template::Scope;
use sluice_test_support::contact360::{
    Canned, Hand, MERGE_STEP, PARENT_FLOW, Server, TOKEN, VERSION, contact_body, contact_ids,
    hand_run, merge, notes_body, start_server, tasks_body,
};

/// Contacts in the workload.
const CONTACTS: usize = 1_000;
/// Contacts (and requests) in flight.
const CONCURRENCY: usize = 8;
/// Steps the engine executes: the parent's `for_each` step, and 4 steps per contact.
const STEPS: usize = CONTACTS * 4 + 1;
/// HTTP requests of one run.
const REQUESTS: usize = CONTACTS * 3;

/// `contact-360-one`: `workflows/contact-360.yaml` up to its `tasks` step (get the contact,
/// then its notes ‖ its tasks), then [`MERGE_STEP`] instead of its `select`, `for_each` and
/// helper output, so that the hand-written client can build the same object.
fn one_flow() -> String {
    let file = sluice_test_support::workflow("contact-360");
    let (head, _) = file
        .split_once("  open_tasks:\n")
        .expect("contact-360 has an `open_tasks` step");
    let head = head.replacen("\nname: contact-360\n", "\nname: contact-360-one\n", 1);
    format!("{head}{MERGE_STEP}")
}

/// [`PARENT_FLOW`] without its output, which copies the 1,000 results (ablation only).
fn parent_flow_no_output() -> String {
    let without = PARENT_FLOW.replacen("output: \"{{ steps.contacts }}\"\n", "", 1);
    assert_ne!(without, PARENT_FLOW, "PARENT_FLOW has an output line");
    without
}

/// [`one_flow`] with the name as a plain path in its merge step: no Handlebars template, so
/// no Handlebars context (phases table and ablation only).
fn one_flow_paths_only() -> String {
    one_flow().replacen(
        "name: \"{{ steps.contact.contact.firstName }} {{ steps.contact.contact.lastName }}\"",
        "name: \"{{ steps.contact.contact.firstName }}\"",
        1,
    )
}

// ---------------------------------------------------------------------------------------------
// Measuring

fn schedstat_ns(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// CPU time so far: (server thread, every other thread of the process), in nanoseconds.
fn cpu_ns(server_tid: &str) -> (u64, u64) {
    let mut server = 0;
    let mut rest = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let tid = task.file_name().to_string_lossy().into_owned();
            let ns = schedstat_ns(&format!("/proc/self/task/{tid}/schedstat"));
            if tid == server_tid {
                server += ns;
            } else {
                rest += ns;
            }
        }
    }
    (server, rest)
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

/// One measured run.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    client_cpu: Duration,
    server_cpu: Duration,
}

fn measure<F: std::future::Future<Output = Value> + Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    make: impl Fn() -> F,
) -> (Sample, Value) {
    let (s0, c0) = cpu_ns(&server.tid);
    let started = Instant::now();
    let out = runtime
        .block_on(runtime.spawn(make()))
        .expect("the run's task ends");
    let wall = started.elapsed();
    let (s1, c1) = cpu_ns(&server.tid);
    (
        Sample {
            wall,
            client_cpu: Duration::from_nanos(c1.saturating_sub(c0)),
            server_cpu: Duration::from_nanos(s1.saturating_sub(s0)),
        },
        out,
    )
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    env_usize(
        "SLUICE_BENCH_CLIENT_THREADS",
        cores.saturating_sub(1).max(1),
    )
}

fn digest(v: &Value) -> String {
    use sha2::Digest as _;
    let text = serde_json::to_vec(v).expect("serialize");
    sha2::Sha256::digest(&text)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The engine variant

fn build_flows(sources: &[&str]) -> Vec<Arc<Executable>> {
    let catalog = sluice_connectors::builtin_catalog().expect("the built-in catalog loads");
    let files: Vec<(String, String)> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("flow{i}.yaml"), (*s).to_string()))
        .collect();
    sluice_plan::validate_files(&files, &catalog, None, &Limits::default())
        .into_iter()
        .zip(&files)
        .map(|(v, (_, src))| {
            assert_eq!(v.report.error_count(), 0, "{}", v.report.render(false));
            let plan = v.plan.as_ref().expect("planned");
            let doc = v.document.as_ref().expect("parsed");
            Arc::new(Executable::build(doc, plan, &catalog, src).expect("built"))
        })
        .collect()
}

fn engine_runtime(flows: &[Arc<Executable>], server: &Server) -> Arc<Runtime> {
    let mut rt = Runtime::builder(
        Arc::new(NoObserver),
        RunOptions {
            concurrency: CONCURRENCY,
            connection_concurrency: CONCURRENCY,
            ..Default::default()
        },
    );
    rt.base_url("ghl-contacts", server.url.clone())
        .credential("ghl_main", AuthMaterial::Bearer(SecretString::from(TOKEN)))
        .redact(TOKEN)
        .flows(flows.iter().cloned());
    Arc::new(rt.build().expect("runtime"))
}

async fn engine_run(exec: Arc<Executable>, rt: Arc<Runtime>, inputs: Value) -> Value {
    let report = sluice_engine::run(exec, rt, inputs).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    report.output.expect("an output")
}

/// A run of `flow` with `inputs`, recorded through `recorder` when given, as `sluice run`
/// records one: created, every step and HTTP call, finished with its output.
async fn recorded_run(
    flow: Arc<Executable>,
    rt: Arc<Runtime>,
    inputs: Value,
    recorder: Option<Arc<Recorder>>,
) -> Value {
    let journal = recorder.map(|recorder| {
        let new = sluice_store::NewRun::new(&flow.name, b"", "manual", inputs.clone()).running(
            sluice_store::Lease {
                owner: "bench".into(),
                duration: Duration::from_secs(60),
            },
        );
        Arc::new(RunJournal::start(recorder, new))
    });
    let report = sluice_engine::run_with(flow, rt.clone(), inputs, journal.clone()).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    if let Some(j) = journal {
        j.finish(&report, rt.redactor()).await.expect("finish");
    }
    report.output.expect("an output")
}

/// The work as one top-level run per contact, 8 at a time, each recorded when `recorder` is
/// given.
async fn separate_runs(
    one: Arc<Executable>,
    rt: Arc<Runtime>,
    ids: Arc<Vec<String>>,
    recorder: Option<Arc<Recorder>>,
) -> Value {
    let outputs: Vec<Value> = futures::stream::iter(ids.iter().cloned())
        .map(|id| {
            recorded_run(
                one.clone(),
                rt.clone(),
                json!({ "contactId": id }),
                recorder.clone(),
            )
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    Value::Array(outputs)
}

/// A recorder writing to a fresh SQLite store in `dir`.
fn sqlite_recorder(runtime: &tokio::runtime::Runtime, dir: &std::path::Path) -> Arc<Recorder> {
    runtime.block_on(async {
        let url = format!("sqlite://{}", dir.join("sluice.db").display());
        let store = sluice_store::Store::open(&url).await.expect("store");
        Recorder::start(store)
    })
}

// ---------------------------------------------------------------------------------------------
// A child: one variant

/// Runs the workload once unmeasured, then `reps` times; returns the samples and the last
/// result. The previous result is dropped before each run, so at most one is alive at a time.
fn repeat<F: std::future::Future<Output = Value> + Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    reps: usize,
    make: impl Fn() -> F,
) -> (Vec<Sample>, Value) {
    let mut samples = Vec::with_capacity(reps);
    let mut out = Value::Null;
    for rep in 0..=reps {
        drop(std::mem::take(&mut out));
        let (sample, value) = measure(runtime, server, &make);
        if rep > 0 {
            samples.push(sample);
        }
        out = value;
    }
    (samples, out)
}

fn child(variant: &str) {
    let reps = env_usize("SLUICE_BENCH_REPS", 7).max(1);
    let server = start_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads())
        .enable_all()
        .build()
        .expect("client runtime");
    let ids = Arc::new(contact_ids(CONTACTS));
    let rss_before;
    let (samples, out) = match variant {
        "engine" | "engine-paths-only" | "engine-no-output" | "engine-both" => {
            let (one, paths_only) = (one_flow(), one_flow_paths_only());
            let no_output = parent_flow_no_output();
            let sources = match variant {
                "engine" => [PARENT_FLOW, one.as_str()],
                "engine-paths-only" => [PARENT_FLOW, paths_only.as_str()],
                "engine-no-output" => [no_output.as_str(), one.as_str()],
                _ => [no_output.as_str(), paths_only.as_str()],
            };
            let flows = build_flows(&sources);
            let rt = engine_runtime(&flows, &server);
            let parent = flows[0].clone();
            let Value::Object(given) = json!({ "contactIds": *ids }) else {
                unreachable!()
            };
            let inputs = sluice_engine::prepare_inputs(&parent, given).expect("inputs");
            rss_before = status_kb("VmRSS");
            repeat(&runtime, &server, reps, move || {
                engine_run(parent.clone(), rt.clone(), inputs.clone())
            })
        }
        "runs" | "runs-recorded" => {
            let flows = build_flows(&[PARENT_FLOW, &one_flow()]);
            let rt = engine_runtime(&flows, &server);
            let one = flows[1].clone();
            let dir = tempfile::tempdir().expect("temp dir");
            let recorder =
                (variant == "runs-recorded").then(|| sqlite_recorder(&runtime, dir.path()));
            rss_before = status_kb("VmRSS");
            repeat(&runtime, &server, reps, move || {
                separate_runs(one.clone(), rt.clone(), ids.clone(), recorder.clone())
            })
        }
        "engine-recorded" => {
            let flows = build_flows(&[PARENT_FLOW, &one_flow()]);
            let rt = engine_runtime(&flows, &server);
            let parent = flows[0].clone();
            let dir = tempfile::tempdir().expect("temp dir");
            let recorder = sqlite_recorder(&runtime, dir.path());
            let inputs = json!({ "contactIds": *ids });
            rss_before = status_kb("VmRSS");
            repeat(&runtime, &server, reps, move || {
                recorded_run(
                    parent.clone(),
                    rt.clone(),
                    inputs.clone(),
                    Some(recorder.clone()),
                )
            })
        }
        "hand" => {
            let hand = Arc::new(Hand::new(&server.url, CONCURRENCY));
            rss_before = status_kb("VmRSS");
            repeat(&runtime, &server, reps, move || {
                hand_run(hand.clone(), ids.clone(), CONCURRENCY)
            })
        }
        other => panic!("unknown SLUICE_BENCH_VARIANT `{other}` (engine, hand, phases)"),
    };
    if !matches!(variant, "engine-no-output" | "engine-both") {
        assert_eq!(
            out.as_array().map(Vec::len),
            Some(CONTACTS),
            "one merged object per contact"
        );
    }
    let hwm = status_kb("VmHWM");
    // One line per sample, then the summary; the parent reads these.
    for s in &samples {
        println!(
            "sample {} {} {}",
            s.wall.as_nanos(),
            s.client_cpu.as_nanos(),
            s.server_cpu.as_nanos()
        );
    }
    println!("rss {rss_before} {hwm}");
    println!("digest {}", digest(&out));
}

// ---------------------------------------------------------------------------------------------
// The parent: runs the children, prints the tables

#[derive(Default)]
struct Collected {
    samples: Vec<Sample>,
    rss_before_kb: u64,
    hwm_kb: u64,
    digest: String,
}

fn run_child(variant: &str, into: &mut Collected) {
    let exe = std::env::current_exe().expect("the benchmark's path");
    let output = Command::new(exe)
        .env("SLUICE_BENCH_VARIANT", variant)
        .output()
        .expect("run a child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the {variant} child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        let nums = |w: &mut std::str::SplitWhitespace<'_>| -> Vec<u64> {
            w.filter_map(|n| n.parse().ok()).collect()
        };
        match words.next() {
            Some("sample") => {
                let n = nums(&mut words);
                into.samples.push(Sample {
                    wall: Duration::from_nanos(n[0]),
                    client_cpu: Duration::from_nanos(n[1]),
                    server_cpu: Duration::from_nanos(n[2]),
                });
            }
            Some("rss") => {
                let n = nums(&mut words);
                into.rss_before_kb = into.rss_before_kb.max(n[0]);
                into.hwm_kb = into.hwm_kb.max(n[1]);
            }
            Some("digest") => {
                let d = words.next().unwrap_or_default().to_string();
                assert!(
                    into.digest.is_empty() || into.digest == d,
                    "the {variant} runs disagree"
                );
                into.digest = d;
            }
            _ => {}
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

struct Summary {
    best: Duration,
    median: Duration,
    client_cpu: Duration,
    server_cpu: Duration,
}

fn summarize(c: &Collected) -> Summary {
    let walls: Vec<Duration> = c.samples.iter().map(|s| s.wall).collect();
    Summary {
        best: best(&walls),
        median: median(walls),
        client_cpu: median(c.samples.iter().map(|s| s.client_cpu).collect()),
        server_cpu: median(c.samples.iter().map(|s| s.server_cpu).collect()),
    }
}

fn rate(d: Duration) -> f64 {
    REQUESTS as f64 / d.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn parent() {
    let rounds = env_usize("SLUICE_BENCH_ROUNDS", 3).max(1);
    let reps = env_usize("SLUICE_BENCH_REPS", 7).max(1);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "contact-360 × {CONTACTS} contacts, concurrency {CONCURRENCY}: {REQUESTS} GETs, {STEPS} engine steps a run"
    );
    println!(
        "machine: {} ({cores} cores), load average {}; server: 1 thread (current-thread runtime), client: {} tokio worker(s)",
        cpu_model(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        client_threads()
    );
    println!(
        "{rounds} round(s) × {reps} measured run(s) per variant (after one unmeasured run per child process)\n"
    );
    let ablations = std::env::var("SLUICE_BENCH_ABLATIONS").is_ok_and(|v| v == "1")
        || std::env::args().any(|a| a == "ablations");
    let mut engine = Collected::default();
    let mut hand = Collected::default();
    let mut paths_only = Collected::default();
    let mut no_output = Collected::default();
    let mut both = Collected::default();
    let mut engine_recorded = Collected::default();
    let mut runs = Collected::default();
    let mut recorded = Collected::default();
    for _ in 0..rounds {
        run_child("hand", &mut hand);
        run_child("engine", &mut engine);
        run_child("engine-recorded", &mut engine_recorded);
        run_child("runs", &mut runs);
        run_child("runs-recorded", &mut recorded);
        if ablations {
            run_child("engine-paths-only", &mut paths_only);
            run_child("engine-no-output", &mut no_output);
            run_child("engine-both", &mut both);
        }
    }
    assert_eq!(
        engine.digest, hand.digest,
        "the engine and the hand-written client built different results"
    );
    let (e, h) = (summarize(&engine), summarize(&hand));
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| variant | best (ms) | median (ms) | req/s (best) | req/s (median) | client CPU (ms, median) | server CPU (ms, median) | RSS before runs (MB) | peak RSS (MB) |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, s, c) in [("engine", &e, &engine), ("hand-written", &h, &hand)] {
        let _ = writeln!(
            t,
            "| {name} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |",
            ms(s.best),
            ms(s.median),
            rate(s.best),
            rate(s.median),
            ms(s.client_cpu),
            ms(s.server_cpu),
            c.rss_before_kb as f64 / 1024.0,
            c.hwm_kb as f64 / 1024.0,
        );
    }
    let ratio_best = rate(e.best) / rate(h.best);
    let ratio_median = rate(e.median) / rate(h.median);
    let per_step =
        |a: Duration, b: Duration| (a.as_secs_f64() - b.as_secs_f64()) * 1e6 / STEPS as f64;
    let _ = writeln!(t);
    let _ = writeln!(t, "| figure | best | median |");
    let _ = writeln!(t, "|---|---:|---:|");
    let _ = writeln!(
        t,
        "| ratio engine ÷ hand-written (req/s) | {ratio_best:.2} | {ratio_median:.2} |"
    );
    let _ = writeln!(
        t,
        "| engine overhead per step, wall (µs; (engine − hand) ÷ {STEPS}) | {:.1} | {:.1} |",
        per_step(e.best, h.best),
        per_step(e.median, h.median)
    );
    let _ = writeln!(
        t,
        "| engine overhead per step, client CPU (µs) | – | {:.1} |",
        per_step(e.client_cpu, h.client_cpu)
    );
    let _ = writeln!(
        t,
        "| peak RSS engine / hand-written (MB) | {:.1} / {:.1} | |",
        engine.hwm_kb as f64 / 1024.0,
        hand.hwm_kb as f64 / 1024.0
    );
    print!("{t}");
    println!(
        "\ntargets: ratio ≥ 0.8: {} (median {ratio_median:.2}); engine peak RSS < 64 MB: {} ({:.1} MB)",
        if ratio_median >= 0.8 {
            "met"
        } else {
            "NOT met"
        },
        if engine.hwm_kb < 64 * 1024 {
            "met"
        } else {
            "NOT met"
        },
        engine.hwm_kb as f64 / 1024.0
    );
    println!("results identical (sha-256 prefix): {}", engine.digest);
    assert_eq!(
        runs.digest, engine.digest,
        "separate runs built a different result"
    );
    assert_eq!(
        engine_recorded.digest, engine.digest,
        "the recorded run built a different result"
    );
    assert_eq!(
        recorded.digest, engine.digest,
        "recorded runs built a different result"
    );
    let (r, rr) = (summarize(&runs), summarize(&recorded));
    let er = summarize(&engine_recorded);
    println!("\nRecording in a SQLite run store (group commit):\n");
    println!(
        "| variant | best (ms) | median (ms) | runs/s (median) | req/s (median) | client CPU (ms, median) | peak RSS (MB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, s, c, runs_per) in [
        ("contact-360 (one run), not recorded", &e, &engine, 1.0),
        (
            "contact-360 (one run), recorded",
            &er,
            &engine_recorded,
            1.0,
        ),
        (
            "1,000 separate runs, not recorded",
            &r,
            &runs,
            CONTACTS as f64,
        ),
        (
            "1,000 separate runs, recorded",
            &rr,
            &recorded,
            CONTACTS as f64,
        ),
    ] {
        println!(
            "| {name} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} | {:.1} |",
            ms(s.best),
            ms(s.median),
            runs_per / s.median.as_secs_f64(),
            rate(s.median),
            ms(s.client_cpu),
            c.hwm_kb as f64 / 1024.0
        );
    }
    let cost = 1.0 - rate(er.median) / rate(e.median);
    let cost_best = 1.0 - rate(er.best) / rate(e.best);
    let separate = 1.0 - rate(rr.median) / rate(r.median);
    println!(
        "\nrecording costs {:.1}% of the contact-360 throughput (median; best {:.1}%): target < 15%: {}",
        cost * 100.0,
        cost_best * 100.0,
        if cost < 0.15 { "met" } else { "NOT met" }
    );
    println!(
        "as 1,000 separate recorded runs (each created, its 5 steps and 3 calls, finished, 2 audit records): {:.1}% of the throughput",
        separate * 100.0
    );
    if ablations {
        println!(
            "\nAblations (what two fixes would gain, measured by changing the flow, not the engine):\n"
        );
        println!(
            "| variant | best (ms) | median (ms) | req/s (median) | ratio (median) | client CPU (ms, median) | client CPU vs engine (µs per contact) | peak RSS (MB) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, c) in [
            ("engine", &engine),
            (
                "engine, merge without a Handlebars template (no context built)",
                &paths_only,
            ),
            ("engine, parent flow without `output:`", &no_output),
            ("engine, both of the above", &both),
            ("hand-written", &hand),
        ] {
            let s = summarize(c);
            println!(
                "| {name} | {:.1} | {:.1} | {:.0} | {:.2} | {:.1} | {:+.1} | {:.1} |",
                ms(s.best),
                ms(s.median),
                rate(s.median),
                rate(s.median) / rate(h.median),
                ms(s.client_cpu),
                (s.client_cpu.as_secs_f64() - e.client_cpu.as_secs_f64()) * 1e6 / CONTACTS as f64,
                c.hwm_kb as f64 / 1024.0
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Phases: the engine's pieces, timed one by one

/// Time per call: the best of 10 batches of `iterations / 10` calls (after one unmeasured
/// batch), so that other processes on the machine disturb it less.
fn time_per_call<R>(iterations: usize, mut f: impl FnMut() -> R) -> Duration {
    let batch = (iterations / 10).max(1);
    let mut best = Duration::MAX;
    for round in 0..=10 {
        let started = Instant::now();
        for _ in 0..batch {
            std::hint::black_box(f());
        }
        if round > 0 {
            best = best.min(started.elapsed());
        }
    }
    best / u32::try_from(batch).unwrap_or(u32::MAX)
}

fn phases() {
    const N: usize = 20_000;
    let flows = build_flows(&[PARENT_FLOW, &one_flow()]);
    let paths_only = build_flows(&[PARENT_FLOW, &one_flow_paths_only()]);
    let one = &flows[1];
    let id = "benchcontact00000042";
    let contact_text =
        String::from_utf8(Canned::new(&contact_body()).render(id).to_vec()).expect("utf-8");
    let notes_text =
        String::from_utf8(Canned::new(&notes_body()).render(id).to_vec()).expect("utf-8");
    let tasks_text =
        String::from_utf8(Canned::new(&tasks_body()).render(id).to_vec()).expect("utf-8");
    let parse = |t: &str| -> Value { serde_json::from_slice(t.as_bytes()).expect("JSON") };
    let contact = Arc::new(parse(&contact_text));
    let notes = Arc::new(parse(&notes_text));
    let tasks = Arc::new(parse(&tasks_text));
    let inputs = json!({ "contactId": id });
    let flow_value = json!({ "name": one.name });
    let three = || {
        vec![
            ("contact", contact.clone()),
            ("notes", notes.clone()),
            ("tasks", tasks.clone()),
        ]
    };
    let merge_of = |e: &Executable| match &e.steps[3].kind {
        ExecKind::Value(c) => c.clone(),
        _ => unreachable!("step 3 is the merge"),
    };
    let merged_c = merge_of(one);
    let merged_paths = merge_of(&paths_only[1]);
    let (op, with) = match &one.steps[1].kind {
        ExecKind::Action {
            operation, with, ..
        } => (operation.as_ref().clone(), with.clone()),
        _ => unreachable!("step 1 is list_notes"),
    };
    let headers = [("Version", VERSION)];
    let mut redactor = sluice_engine::Redactor::new();
    redactor.add(TOKEN);
    let auth = AuthMaterial::Bearer(SecretString::from(TOKEN));
    let scope_contact = Scope::new(&inputs, &flow_value, vec![("contact", contact.clone())]);
    let mut params = serde_json::Map::new();
    for (k, c) in &with {
        params.insert(
            k.clone(),
            c.eval(&scope_contact, &one.templates).expect("eval"),
        );
    }
    let prepared =
        sluice_engine::http::prepare(&op, "http://127.0.0.1:1", &headers, &params).expect("prep");
    let merged_value = {
        let s = Scope::new(&inputs, &flow_value, three());
        merged_c.eval(&s, &one.templates).expect("merge")
    };
    let merged_arc = Arc::new(merged_value);

    let rows: Vec<(&str, &str, Duration)> = vec![
        (
            "parse the contact answer (serde_json → Value)",
            "3 per contact, both variants",
            time_per_call(N, || parse(&contact_text)),
        ),
        (
            "parse the notes answer",
            "",
            time_per_call(N, || parse(&notes_text)),
        ),
        (
            "parse the tasks answer",
            "",
            time_per_call(N, || parse(&tasks_text)),
        ),
        (
            "Scope::new + evaluate `with` (a path lookup, cloned)",
            "4 per contact",
            time_per_call(N, || {
                let s = Scope::new(&inputs, &flow_value, vec![("contact", contact.clone())]);
                with.iter()
                    .map(|(_, c)| c.eval(&s, &one.templates).expect("eval"))
                    .collect::<Vec<_>>()
            }),
        ),
        (
            "http::prepare (list_notes)",
            "3 per contact",
            time_per_call(N, || {
                sluice_engine::http::prepare(&op, "http://127.0.0.1:1", &headers, &params)
                    .expect("prep")
            }),
        ),
        (
            "Prepared::record (redacted copy for observers; made even with NoObserver)",
            "3 per contact",
            time_per_call(N, || prepared.record(&auth, &redactor, false, true)),
        ),
        (
            "Scope::context (clone inputs, flow and the 3 step results into a Handlebars Context)",
            "1 per contact (merge step)",
            time_per_call(N, || {
                let s = Scope::new(&inputs, &flow_value, three());
                s.context();
            }),
        ),
        (
            "merge step: evaluate the `value:` (one `{{a}} {{b}}` text template + 7 paths)",
            "1 per contact",
            time_per_call(N, || {
                let s = Scope::new(&inputs, &flow_value, three());
                merged_c.eval(&s, &one.templates).expect("merge")
            }),
        ),
        (
            "merge step with paths only (no template, so no context)",
            "for comparison",
            time_per_call(N, || {
                let s = Scope::new(&inputs, &flow_value, three());
                merged_paths
                    .eval(&s, &paths_only[1].templates)
                    .expect("merge")
            }),
        ),
        (
            "sub-flow output `{{ steps.merged }}` (deep clone of the merged object)",
            "1 per contact",
            time_per_call(N, || {
                let s = Scope::new(&inputs, &flow_value, vec![("merged", merged_arc.clone())]);
                one.output
                    .as_ref()
                    .expect("output")
                    .eval(&s, &one.templates)
                    .expect("output")
            }),
        ),
        (
            "hand-written merge (serde_json, values moved)",
            "1 per contact, hand-written",
            time_per_call(N, || {
                let (mut c, mut n, mut t) = (
                    contact.as_ref().clone(),
                    notes.as_ref().clone(),
                    tasks.as_ref().clone(),
                );
                merge(&mut c["contact"], &mut n, &mut t)
            }),
        ),
        (
            "  of which: cloning the three parsed answers (setup of the line above)",
            "",
            time_per_call(N, || {
                (
                    contact.as_ref().clone(),
                    notes.as_ref().clone(),
                    tasks.as_ref().clone(),
                )
            }),
        ),
    ];
    println!("| phase | how often | µs per call |");
    println!("|---|---|---:|");
    for (name, often, d) in rows {
        println!("| {name} | {often} | {:.2} |", d.as_secs_f64() * 1e6);
    }
    println!();
    in_situ(&op);
}

/// A sub-flow of 4 `value:` steps shaped like contact-360-one (a → b ‖ c → d), no HTTP.
const NOOP_ONE_FLOW: &str = r#"
name: noop-one
inputs:
  contactId: { type: string }
steps:
  a: { value: "{{ inputs.contactId }}" }
  b: { value: "{{ steps.a }}" }
  c: { value: "{{ steps.a }}" }
  d:
    value: { b: "{{ steps.b }}", c: "{{ steps.c }}" }
output: "{{ steps.d }}"
"#;

const NOOP_PARENT_FLOW: &str = r#"
name: noop-all
inputs:
  contactIds: { type: array }
steps:
  contacts:
    for_each: "{{ inputs.contactIds }}"
    as: contactId
    concurrency: 8
    flow: noop-one
    with: { contactId: "{{ contactId }}" }
output: "{{ steps.contacts }}"
"#;

/// Pieces measured in place, on the benchmark's runtimes and server: the engine's cost per
/// step without HTTP, and its HTTP layer against plain reqwest, one request at a time.
fn in_situ(op: &sluice_model::Operation) {
    let server = start_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads())
        .enable_all()
        .build()
        .expect("client runtime");
    let ids = Arc::new(contact_ids(CONTACTS));
    let reps = env_usize("SLUICE_BENCH_REPS", 7).max(1);
    let best_of = |samples: Vec<Sample>| -> (Duration, Duration) {
        (
            best(&samples.iter().map(|s| s.wall).collect::<Vec<_>>()),
            median(samples.iter().map(|s| s.client_cpu).collect()),
        )
    };
    let mut rows: Vec<(String, Duration, Duration, usize)> = Vec::new();

    // 1. Orchestration only.
    let flows = build_flows(&[NOOP_PARENT_FLOW, NOOP_ONE_FLOW]);
    let rt = engine_runtime(&flows, &server);
    let parent = flows[0].clone();
    let Value::Object(given) = json!({ "contactIds": *ids }) else {
        unreachable!()
    };
    let inputs = sluice_engine::prepare_inputs(&parent, given).expect("inputs");
    let (samples, _) = repeat(&runtime, &server, reps, move || {
        engine_run(parent.clone(), rt.clone(), inputs.clone())
    });
    let (wall, cpu) = best_of(samples);
    rows.push((
        format!("engine, for_each over a sub-flow of 4 `value:` steps (no HTTP), {CONTACTS} items: per step"),
        wall,
        cpu,
        STEPS,
    ));

    // 2. The HTTP layer, one GET of a contact at a time.
    let client = reqwest::Client::builder()
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let base = server.url.clone();
    let op = Arc::new(op.clone());
    {
        let (client, base, op, ids) = (client.clone(), base.clone(), op.clone(), ids.clone());
        let (samples, _) = repeat(&runtime, &server, reps, move || {
            let (client, base, op, ids) = (client.clone(), base.clone(), op.clone(), ids.clone());
            async move {
                let mut redactor = sluice_engine::Redactor::new();
                redactor.add(TOKEN);
                let auth = AuthMaterial::Bearer(SecretString::from(TOKEN));
                let headers = [("Version", VERSION)];
                let limits = sluice_engine::http::CallLimits {
                    max_response_bytes: 10 * 1024 * 1024,
                    timeout: Duration::from_secs(60),
                };
                let mut n = 0;
                for id in ids.iter() {
                    let mut params = serde_json::Map::new();
                    params.insert("contactId".into(), Value::String(id.clone()));
                    let prepared = sluice_engine::http::prepare(&op, &base, &headers, &params)
                        .expect("prepare");
                    std::hint::black_box(prepared.record(&auth, &redactor, false, true));
                    let answer = sluice_engine::http::send(
                        &client,
                        &prepared,
                        &auth,
                        limits,
                        &redactor,
                        &|_, _| {},
                    )
                    .await
                    .expect("answer");
                    n += usize::from(answer.body.is_object());
                }
                json!(n)
            }
        });
        let (wall, cpu) = best_of(samples);
        rows.push((
            format!(
                "engine HTTP layer: `http::prepare` + `Prepared::record` + `http::send`, {CONTACTS} GETs one at a time: per request"
            ),
            wall,
            cpu,
            CONTACTS,
        ));
    }
    let hand = Arc::new(Hand::new(&base, CONCURRENCY));
    let (samples, _) = repeat(&runtime, &server, reps, move || {
        let (hand, ids) = (hand.clone(), ids.clone());
        async move {
            let mut n = 0;
            for id in ids.iter() {
                let v = hand.get(format!("{}/contacts/{id}", hand.base())).await;
                n += usize::from(v.is_object());
            }
            json!(n)
        }
    });
    let (wall, cpu) = best_of(samples);
    rows.push((
        format!(
            "hand-written `get` (reqwest + serde_json), {CONTACTS} GETs one at a time: per request"
        ),
        wall,
        cpu,
        CONTACTS,
    ));
    println!("| measured in place | wall (µs, best) | client CPU (µs, median) |");
    println!("|---|---:|---:|");
    for (name, wall, cpu, per) in rows {
        println!(
            "| {name} | {:.1} | {:.1} |",
            wall.as_secs_f64() * 1e6 / per as f64,
            cpu.as_secs_f64() * 1e6 / per as f64
        );
    }
}

fn main() {
    match std::env::var("SLUICE_BENCH_VARIANT") {
        Ok(v) if v == "phases" => phases(),
        Ok(v) => child(&v),
        Err(_) if std::env::args().any(|a| a == "phases") => phases(),
        Err(_) => parent(),
    }
}
