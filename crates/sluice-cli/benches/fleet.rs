//! Fleet benchmark: three `sluice serve` runners on one PostgreSQL store
//! (`SLUICE_TEST_POSTGRES`, as scripts/test.sh starts one) against one sandbox, which counts
//! GHL's 100 requests per 10 s per token and location and answers 429 past it. Prints:
//! - one location: each runner runs `FLEET_CALLS` (default 1,000) reads at once — the 429s,
//!   the most requests in any 10 s window (from the sandbox's answer times), the wall time
//!   next to the ideal (the budget's windows, with the fleet's 1/50 margin);
//! - three budgets (three credentials, counted apart as three locations would be), one runner
//!   each, 300 reads each: whether each goes at full speed while the others do.
//!
//! Run it with `cargo bench -p sluice-cli --bench fleet`. It prints; it does not fail on a number.

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_test_support::{ApiClient, ServeProcess, TempProject};

const TOKEN: &str = "fleet-bench-token-0123456789";
const CREDENTIALS: [&str; 3] = ["ghl_a", "ghl_b", "ghl_c"];

fn flow(credential: &str) -> String {
    format!(
        r#"
name: fan-{credential}
inputs:
  ids: {{ type: array }}
connections:
  ghl: {{ connector: ghl-contacts, credential: {credential} }}
steps:
  contacts:
    for_each: "{{{{ inputs.ids }}}}"
    as: id
    concurrency: 20
    action: ghl.get_contact
    with: {{ contactId: "{{{{ id }}}}" }}
output: "{{{{ len steps.contacts }}}}"
"#
    )
}

fn project() -> TempProject {
    let mut toml = "[serve]\ntoken = { env = \"SERVE_TOKEN\" }\n".to_string();
    for c in CREDENTIALS {
        toml.push_str(&format!(
            "\n[credentials.{c}]\nkind = \"bearer\"\ntoken = {{ env = \"TOKEN_{}\" }}\nlocation_id = \"loc_sandbox\"\n",
            c.to_uppercase()
        ));
    }
    let project = TempProject::new(&toml);
    for c in CREDENTIALS {
        project.write_flow(&format!("fan-{c}"), &flow(c));
    }
    project
}

fn runner(project: &TempProject, store: &str, sandbox: &Sandbox, name: &str) -> ServeProcess {
    let mut cmd = project.sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.env("SERVE_TOKEN", TOKEN);
    for c in CREDENTIALS {
        cmd.env(format!("TOKEN_{}", c.to_uppercase()), format!("token-{c}"));
    }
    cmd.args(["serve", "flows", "--store", store, "--tick", "200ms"])
        .args(["--listen", "127.0.0.1:0", "--workers", "1", "--name", name])
        .args([
            "--connection",
            &format!("ghl.base_url={}", sandbox.base_url()),
        ]);
    ServeProcess::start(cmd, Duration::from_secs(60))
}

/// Starts `flow` with `calls` reads on `runner` and waits for it.
async fn fan(runner: &ServeProcess, flow: &str, calls: usize) -> Duration {
    let started = Instant::now();
    let ids: Vec<&str> = std::iter::repeat_n("ct_ada", calls).collect();
    let (status, body) = ApiClient::new(runner.base(), TOKEN)
        .call(
            reqwest::Method::POST,
            &format!("/api/flows/{flow}/runs?wait=1h"),
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "succeeded", "{body}");
    started.elapsed()
}

/// The most answers of `times` in any 10 s window.
fn most_in_a_window(times: &mut [SystemTime]) -> usize {
    times.sort();
    let mut most = 0;
    let mut end = 0;
    for start in 0..times.len() {
        while end < times.len()
            && times[end]
                .duration_since(times[start])
                .is_ok_and(|d| d < Duration::from_secs(10))
        {
            end += 1;
        }
        most = most.max(end - start);
    }
    most
}

async fn pg_store(name: &str) -> String {
    sluice_test_support::pg_schema(name).await
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var("SLUICE_TEST_POSTGRES").is_err() {
        println!(
            "fleet benchmark: set SLUICE_TEST_POSTGRES (scripts/test.sh starts a server); nothing measured"
        );
        return;
    }
    let calls: usize = std::env::var("FLEET_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    rt.block_on(async {
        let mut config = SandboxConfig::default();
        let grant = config.tokens[0].clone();
        for c in CREDENTIALS {
            let mut g = grant.clone();
            g.token = format!("token-{c}");
            config.tokens.push(g);
        }
        let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("sandbox");
        let project = project();

        // One location (one credential), three runners.
        let store = pg_store("fleet_bench_one").await;
        let runners: Vec<ServeProcess> = (0..3)
            .map(|i| runner(&project, &store, &sandbox, &format!("runner-{i}")))
            .collect();
        let started = Instant::now();
        let runs = runners.iter().map(|r| fan(r, "fan-ghl_a", calls));
        futures::future::join_all(runs).await;
        let wall = started.elapsed();
        let records = sandbox.state().requests();
        let reads: Vec<_> = records
            .iter()
            .filter(|r| r.route == "GET /contacts/{contactId}")
            .collect();
        let refused = reads.iter().filter(|r| r.status == 429).count();
        let mut times: Vec<SystemTime> = reads.iter().map(|r| r.at).collect();
        let total = 3 * calls;
        let windows = total.div_ceil(100).saturating_sub(1);
        let ideal = Duration::from_millis(10_200) * u32::try_from(windows).unwrap_or(u32::MAX);
        println!("one location, 3 runners, {total} reads (1 worker each, 20 in flight per run)");
        println!("| reads answered | 429s | most in any 10 s | wall (s) | ideal (s) |");
        println!("|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {refused} | {} | {:.1} | {:.1} |\n",
            reads.len(),
            most_in_a_window(&mut times),
            wall.as_secs_f64(),
            ideal.as_secs_f64()
        );
        for r in runners {
            r.stop(Duration::from_secs(60));
        }

        // Three budgets, one runner each: one alone, then all three at once. Each phase
        // starts once the windows of the one before have passed.
        let store = pg_store("fleet_bench_three").await;
        let runners: Vec<ServeProcess> = (0..3)
            .map(|i| runner(&project, &store, &sandbox, &format!("three-{i}")))
            .collect();
        tokio::time::sleep(Duration::from_secs(11)).await;
        let alone = fan(&runners[0], "fan-ghl_a", 300).await;
        tokio::time::sleep(Duration::from_secs(11)).await;
        let since = SystemTime::now();
        let flows: Vec<String> = CREDENTIALS.iter().map(|c| format!("fan-{c}")).collect();
        let together =
            futures::future::join_all(runners.iter().zip(&flows).map(|(r, f)| fan(r, f, 300)))
                .await;
        let refused = sandbox
            .state()
            .requests()
            .iter()
            .filter(|r| r.at >= since && r.status == 429)
            .count();
        println!("three budgets (credentials), one runner each, 300 reads each");
        println!("alone (ghl_a, one runner): {:.1} s", alone.as_secs_f64());
        println!("| budget | wall with the others (s) |");
        println!("|---|---:|");
        for (c, t) in CREDENTIALS.iter().zip(&together) {
            println!("| {c} | {:.1} |", t.as_secs_f64());
        }
        println!("429s with the three at once: {refused}");
        for r in runners {
            r.stop(Duration::from_secs(60));
        }
        sandbox.shutdown().await;
    });
}
