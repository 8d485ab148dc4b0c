//! Runs a sandbox until killed: `cargo run -p sluice-sandbox --example serve -- [ADDR] [SEED.json]`.
//! The first line on stdout is the base URL (GHL; IPinfo is under `/ipinfo`); the demo seed
//! and tokens (`sandbox-token`, `sandbox-readonly`) are used unless a seed file is given.

use std::io::Write as _;

use sluice_sandbox::{Sandbox, SandboxConfig, seed_from_json};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let Ok(addr) = addr.parse() else {
        eprintln!("serve: `{addr}` is not an address such as 127.0.0.1:0");
        return std::process::ExitCode::from(2);
    };
    let mut config = SandboxConfig::default();
    if let Some(path) = args.next() {
        let seed = std::fs::read_to_string(&path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|text| seed_from_json(&text).map_err(|e| format!("{path}: {e}")));
        match seed {
            Ok(seed) => config.seed = seed,
            Err(e) => {
                eprintln!("serve: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let sandbox = match Sandbox::start(config, addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("serve: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("{}", sandbox.base_url());
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
    std::process::ExitCode::SUCCESS
}
