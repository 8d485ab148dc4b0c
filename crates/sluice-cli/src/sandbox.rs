//! The built-in GHL sandbox: `sluice sandbox` serves it; `sluice run --sandbox` starts it in
//! the same process and points every `ghl-contacts` and `ipinfo` connection at it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use secrecy::SecretString;
use sluice_engine::RuntimeBuilder;
use sluice_engine::http::AuthMaterial;
use sluice_sandbox::{Sandbox, SandboxConfig, WebhookConfig};

/// The demo token with read and write scopes.
const TOKEN: &str = "sandbox-token";

/// Options of `sluice sandbox`.
#[derive(clap::Args)]
pub(crate) struct SandboxArgs {
    /// Address to listen on (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Seed data (JSON: locations, contacts, tasks, notes, appointments). Default: the demo data.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// POST a signed GHL webhook event to this URL on every change.
    #[arg(long)]
    webhook_url: Option<String>,
}

/// Starts the sandbox on a free loopback port and points the runtime at it.
pub(crate) async fn attach(rt: &mut RuntimeBuilder) -> Result<Sandbox, String> {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sandbox = Sandbox::start(SandboxConfig::default(), addr)
        .await
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let base = sandbox.base_url();
    point_at(rt, &base);
    tracing::info!(url = %base, "Sandbox started.");
    Ok(sandbox)
}

/// Points every `ghl-contacts` and `ipinfo` connection of the runtime at the sandbox at `base`
/// with its demo token (configured credentials are not used).
pub(crate) fn point_at(rt: &mut RuntimeBuilder, base: &str) {
    rt.base_url("ghl-contacts", base);
    rt.base_url("ipinfo", format!("{base}/ipinfo"));
    let token = AuthMaterial::Bearer(SecretString::from(TOKEN.to_string()));
    rt.default_auth("ghl-contacts", token.clone());
    rt.default_auth("ipinfo", token);
    rt.clear_credentials();
}

/// `sluice sandbox`: serves until Ctrl-C.
pub(crate) fn serve(args: &SandboxArgs) -> Result<ExitCode, String> {
    let mut config = SandboxConfig::default();
    if let Some(path) = &args.seed {
        let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
        config.seed = sluice_sandbox::seed_from_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(url) = &args.webhook_url {
        config.webhook = Some(WebhookConfig::new(url));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config, args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let base = sandbox.base_url();
        println!("GHL sandbox listening on {base}");
        println!("  GHL Contacts API:  {base}   (Authorization: Bearer {TOKEN}, Version: 2021-07-28)");
        println!("  read-only token:   sandbox-readonly");
        println!("  IPinfo:            {base}/ipinfo");
        println!("  control:           {base}/__sandbox/state | /__sandbox/faults | /__sandbox/reset");
        println!("  webhook key (Ed25519, verify x-ghl-signature):\n{}", sandbox.webhook_public_key_pem().trim_end());
        println!("Run a flow against it:  sluice run FLOW --connection ghl.base_url={base}   (or simply --sandbox)");
        let _ = tokio::signal::ctrl_c().await;
        sandbox.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
