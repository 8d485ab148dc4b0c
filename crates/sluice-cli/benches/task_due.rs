//! `task_due` at scale: a sandbox location with 12,000 contacts and 30,000 tasks (1,500 open
//! and due within the hour, 1,500 completed and due then, the rest due in days), watched by
//! `sluice serve` (the release binary, SQLite store) with a `task_due` trigger. Prints the
//! task-search calls of one look, the runs fired against the due tasks, the 429s the sandbox
//! answered (GHL's real limits: 100 requests / 10 s), how long the look took, and how long
//! until every due task's run had succeeded. Prints figures; never fails on a number.
//!
//! Run it with `cargo bench -p sluice-cli --bench task_due` (`SLUICE_BENCH_TASKS` and
//! `SLUICE_BENCH_CONTACTS` pick other sizes).

use std::time::{Duration, Instant};

use sluice_sandbox::{Sandbox, SandboxConfig, Scale};
use sluice_test_support::{GHL_MAIN_FROM_ENV, ServeProcess, TempProject};

const TOKEN: &str = "bench-token-0123456789abcdef";
const TASK_SEARCH: &str = "POST /locations/{locationId}/tasks/search";
const FLOW: &str = r#"
name: due
on:
  - task_due: { connection: ghl, within: 1h, every: 1h }
inputs:
  task: { type: object }
connections:
  ghl: { connector: ghl-locations, credential: ghl_main }
steps:
  id:
    value: "{{ inputs.task.id }}"
output: "{{ steps.id }}"
"#;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() {
    let scale = Scale {
        contacts: size("SLUICE_BENCH_CONTACTS", 12_000),
        tasks: size("SLUICE_BENCH_TASKS", 30_000),
        due_every: 20,
    };
    let due = scale.due_ids().len() as u64;
    let config = SandboxConfig {
        seed: scale.seed(chrono::Utc::now()),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let project = TempProject::new(&format!(
        "[serve]\ntoken = {{ env = \"SERVE_TOKEN\" }}\n\n{GHL_MAIN_FROM_ENV}"
    ))
    .with_flow("due", FLOW);
    let store_url = project.store_url();
    let mut cmd = project.sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.env("SERVE_TOKEN", TOKEN)
        .env("GHL_TOKEN", "sandbox-token")
        .args(["serve", "flows", "--listen", "127.0.0.1:0", "--store"])
        .arg(&store_url)
        .args(["--tick", "200ms", "--connection"])
        .arg(format!("ghl.base_url={}", sandbox.base_url()));
    let started = Instant::now();
    let serve = ServeProcess::start(cmd, Duration::from_secs(60));
    let store = sluice_store::Store::open(&store_url).await.expect("store");
    // A look ends at the first page shorter than 100 (an empty one when 100 divides them).
    let pages = (scale.open_tasks() / 100 + 1) as u64;
    let (mut look_done, mut runs_done) = (None, None);
    while started.elapsed() < Duration::from_secs(900)
        && (look_done.is_none() || runs_done.is_none())
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let searched = sandbox
            .state()
            .requests()
            .iter()
            .filter(|r| r.route == TASK_SEARCH && r.status == 200)
            .count() as u64;
        if look_done.is_none() && searched >= pages {
            look_done = Some(started.elapsed());
        }
        let succeeded = store
            .count_runs(sluice_store::RunStatus::Succeeded, Some("due"))
            .await
            .expect("count");
        if runs_done.is_none() && succeeded >= due {
            runs_done = Some(started.elapsed());
        }
    }
    // A moment more: a look that went on would show here.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = sandbox.state().requests();
    let search: Vec<_> = requests.iter().filter(|r| r.route == TASK_SEARCH).collect();
    let ok = search.iter().filter(|r| r.status == 200).count();
    let limited = search.iter().filter(|r| r.status == 429).count();
    let mut fired = 0;
    for status in [
        sluice_store::RunStatus::Succeeded,
        sluice_store::RunStatus::Failed,
        sluice_store::RunStatus::Queued,
        sluice_store::RunStatus::Running,
    ] {
        fired += store.count_runs(status, Some("due")).await.expect("count");
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let secs = |d: Option<Duration>| {
        d.map_or("not within 900 s".to_string(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        })
    };
    println!("task_due at scale ({cores} cores; sandbox, runner and SQLite on this machine)\n");
    println!("| figure | value |");
    println!("|---|---:|");
    println!(
        "| contacts / tasks | {} / {} |",
        scale.contacts, scale.tasks
    );
    println!(
        "| open tasks / due within the hour | {} / {due} |",
        scale.open_tasks()
    );
    println!(
        "| task-search calls answered 200 in the look (100 tasks each) | {ok} (expected {pages}) |"
    );
    println!("| 429 answers to the task search | {limited} |");
    println!("| runs fired / due tasks | {fired} / {due} |");
    println!("| serve start → look done | {} |", secs(look_done));
    println!(
        "| serve start → every due task's run succeeded | {} |",
        secs(runs_done)
    );
    let _ = serve.stop(Duration::from_secs(60));
    sandbox.shutdown().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}
