//! The engine's runtime for a project's flows: run options, base-URL overrides, the sandbox
//! (or any local stand-in) in place of the real APIs, rate limits, and the credentials of the
//! flows that run.

use std::sync::Arc;

use sluice_connectors::RateLimits;
use sluice_engine::http::AuthMaterial;
use sluice_engine::{Executable, Observer, RunOptions, Runtime};

use crate::connection::ConnectionOverride;
use crate::credentials::{self, SecretStore};
use crate::error::ProjectError;
use crate::files::FlowSet;

/// Connections of some connectors sent to a local stand-in (the built-in sandbox) with its
/// token; configured credentials are not used.
#[derive(Clone, Debug)]
pub struct Routing {
    /// `(connector, base URL)`.
    pub routes: Vec<(String, String)>,
    /// The bearer token every routed connection sends.
    pub token: String,
}

/// How a runtime is set up, beyond the flows it runs.
#[derive(Clone, Debug, Default)]
pub struct RuntimeSettings {
    /// The engine's options.
    pub options: RunOptions,
    /// `--connection CONN.base_url=URL`.
    pub connections: Vec<ConnectionOverride>,
    /// A local stand-in for the APIs, instead of credentials.
    pub routing: Option<Routing>,
}

/// The flows a runtime serves, and whose credentials it needs.
pub struct Flows<'a> {
    /// The files they came from (the project's credentials and folder).
    pub files: &'a FlowSet,
    /// Every flow that a `flow:` step may run.
    pub callable: Vec<Arc<Executable>>,
    /// The flows whose connections' credentials are read.
    pub credentials_of: Vec<&'a Executable>,
}

impl RuntimeSettings {
    /// Builds the runtime: options, flows, limits, base URLs, and the routing or the
    /// credentials (secrets from `secrets` for `{ store = … }`).
    ///
    /// # Errors
    /// A credential that cannot be read; the HTTP client cannot be built.
    pub async fn build(
        &self,
        observer: Arc<dyn Observer>,
        limits: Arc<RateLimits>,
        flows: &Flows<'_>,
        secrets: SecretStore<'_>,
    ) -> Result<Runtime, ProjectError> {
        let mut rt = Runtime::builder(observer, self.options.clone());
        rt.flows(flows.callable.iter().cloned()).rate_limits(limits);
        for o in &self.connections {
            rt.base_url(o.connection.clone(), o.base_url.clone());
        }
        match &self.routing {
            Some(routing) => {
                let token = AuthMaterial::Bearer(routing.token.clone().into());
                for (connector, url) in &routing.routes {
                    rt.base_url(connector.clone(), url.clone())
                        .default_auth(connector.clone(), token.clone());
                }
                rt.clear_credentials();
                credentials::read_named(flows.files, &flows.credentials_of, secrets)
                    .await?
                    .apply(&mut rt);
            }
            None => {
                let read = credentials::read(
                    flows.files,
                    &flows.credentials_of,
                    &self.connections,
                    secrets,
                )
                .await?;
                read.apply(&mut rt);
            }
        }
        Ok(rt.build()?)
    }
}
