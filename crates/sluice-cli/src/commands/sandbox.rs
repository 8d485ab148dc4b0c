//! The built-in GHL sandbox: `sluice sandbox` serves it; `sluice run --sandbox` and `sluice
//! serve --sandbox` start it in the same process and route every `ghl-contacts` and `ipinfo`
//! connection to it with its demo token (`--seed FILE`: with that data instead of the demo's).

use std::net::SocketAddr;
use std::path::Path;

use sluice_project::runtime::Routing;
use sluice_sandbox::{Sandbox, SandboxConfig, WebhookConfig};

use crate::args::SandboxArgs;
use crate::error::CliError;
use crate::exit::Exit;

/// The demo token with read and write scopes.
const TOKEN: &str = sluice_sandbox::DEMO_TOKEN;

/// Starts the sandbox on a free loopback port, with the data of `seed` (a seed file) or the
/// demo data.
pub(crate) async fn start_local(seed: Option<&Path>) -> Result<Sandbox, CliError> {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let config = config_with_seed(seed)?;
    let sandbox = Sandbox::start(config, addr)
        .await
        .map_err(|e| CliError::msg(format!("cannot start the sandbox: {e}")))?;
    tracing::info!(url = %sandbox.base_url(), "Sandbox started.");
    Ok(sandbox)
}

/// Every connector the sandbox stands in for, sent to it with its demo token.
pub(crate) fn routing(sandbox: &Sandbox) -> Routing {
    Routing {
        routes: sandbox
            .connector_urls()
            .into_iter()
            .map(|(connector, url)| (connector.to_string(), url))
            .collect(),
        token: TOKEN.to_string(),
    }
}

/// The sandbox's settings with the data of a seed file (the demo data without one).
fn config_with_seed(seed: Option<&Path>) -> Result<SandboxConfig, CliError> {
    let mut config = SandboxConfig::default();
    if let Some(path) = seed {
        let text = fs_err::read_to_string(path)?;
        config.seed = sluice_sandbox::seed_from_json(&text)
            .map_err(|e| CliError::msg(format!("{}: {e}", path.display())))?;
    }
    Ok(config)
}

/// `sluice sandbox`: serves until Ctrl-C.
pub(crate) fn serve(args: &SandboxArgs) -> Result<Exit, CliError> {
    let mut config = config_with_seed(args.seed.as_deref())?;
    if let Some(url) = &args.webhook_url {
        config.webhook = Some(WebhookConfig::new(url));
    }
    crate::block_on(async {
        let sandbox = Sandbox::start(config, args.addr)
            .await
            .map_err(|e| CliError::msg(format!("cannot listen on {}: {e}", args.addr)))?;
        let base = sandbox.base_url();
        outln!("GHL sandbox listening on {base}");
        outln!(
            "  GHL Contacts API:  {base}   (Authorization: Bearer {TOKEN}, Version: 2021-07-28)"
        );
        outln!(
            "  read-only token:   {}",
            sluice_sandbox::DEMO_READONLY_TOKEN
        );
        outln!("  IPinfo:            {base}/ipinfo");
        outln!(
            "  control:           {base}/__sandbox/state | /__sandbox/faults | /__sandbox/reset"
        );
        outln!(
            "  webhook key (Ed25519, verify x-ghl-signature):\n{}",
            sandbox.webhook_public_key_pem().trim_end()
        );
        outln!(
            "Run a flow against it:  sluice run FLOW --connection ghl.base_url={base}   (or simply --sandbox)"
        );
        let _ = tokio::signal::ctrl_c().await;
        sandbox.shutdown().await;
        Ok(Exit::Success)
    })
}
