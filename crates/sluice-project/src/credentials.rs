//! Credentials of `sluice.toml` made ready for the engine: each secret read from the
//! environment, a file or the run store, registered for redaction, and turned into the auth
//! the connector asks for (a bearer token, a query parameter, an OAuth token with refresh whose
//! rotated pairs live in the run store, shared by every runner — `oauth_store.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use sluice_engine::exec::ConnectionSpec;
use sluice_engine::http::AuthMaterial;
use sluice_engine::{Executable, RuntimeBuilder};
use sluice_model::connector::AuthKind;
use sluice_model::{Credential, Project, SecretSource};

use crate::connection::ConnectionOverride;
use crate::error::ProjectError;
use crate::files::FlowSet;
use crate::store::store_url;

/// Where `{ store = "…" }` secrets are read: a store opened for the purpose (by URL, or the
/// default), or one already open.
#[derive(Clone, Copy)]
pub enum SecretStore<'a> {
    /// Open this store (`None`: the default one) when a secret needs it.
    Url(Option<&'a str>),
    /// A store that is open already.
    Open(&'a sluice_store::Store),
}

/// The credentials a set of flows uses, ready for the engine.
#[derive(Default)]
pub struct Credentials {
    /// Auth by credential name.
    pub auth: Vec<(String, AuthMaterial)>,
    /// The location each credential works for (rate limits count per location).
    pub locations: Vec<(String, String)>,
    /// Every secret value read, to be redacted.
    pub secrets: Vec<SecretString>,
    /// `[secrets]` the flows' connection settings read, by name.
    pub named: Vec<(String, SecretString)>,
}

/// Reads the credentials of the connections of `execs` (each credential once).
///
/// # Errors
/// A secret that cannot be read, a credential missing what its kind needs.
pub async fn read(
    files: &FlowSet,
    execs: &[&Executable],
    overrides: &[ConnectionOverride],
    store: SecretStore<'_>,
) -> Result<Credentials, ProjectError> {
    let mut out = Credentials::default();
    let Some(project) = files.project() else {
        return Ok(out);
    };
    let (stored, store) = load_store_secrets(project, execs, store).await?;
    let reader = Reader {
        dir: files.project_dir(),
        stored: &stored,
        store: store.as_ref(),
    };
    out.named = named(project, execs, &reader)?;
    let mut seeds = Vec::new();
    for conn in execs.iter().flat_map(|e| e.connections.iter()) {
        let Some(name) = &conn.credential else {
            continue;
        };
        if out.auth.iter().any(|(n, _)| n == name) {
            continue;
        }
        let Some(cred) = project.credentials.get(name) else {
            continue;
        };
        let auth = auth_of(
            name,
            cred,
            conn,
            overrides,
            &reader,
            &mut out.secrets,
            &mut seeds,
        )?;
        if let Some(location) = &cred.location_id {
            out.locations.push((name.clone(), location.clone()));
        }
        out.auth.push((name.clone(), auth));
    }
    if let (Some(store), false) = (&store, seeds.is_empty()) {
        let dir = files.project_dir().unwrap_or_else(|| Path::new("."));
        crate::oauth_store::migrate_token_file(store, dir, project, &seeds).await?;
    }
    Ok(out)
}

/// Reads only the `[secrets]` the flows' connection settings read (a run against the sandbox
/// uses no credential, but a connection's settings may still need a secret).
///
/// # Errors
/// A secret that is not declared or cannot be read.
pub async fn read_named(
    files: &FlowSet,
    execs: &[&Executable],
    store: SecretStore<'_>,
) -> Result<Credentials, ProjectError> {
    let mut out = Credentials::default();
    let Some(project) = files.project() else {
        return Ok(out);
    };
    let (stored, store) = load_store_secrets(project, execs, store).await?;
    let reader = Reader {
        dir: files.project_dir(),
        stored: &stored,
        store: store.as_ref(),
    };
    out.named = named(project, execs, &reader)?;
    Ok(out)
}

/// The `[secrets]` the connections of `execs` read, each once.
fn named(
    project: &Project,
    execs: &[&Executable],
    reader: &Reader<'_>,
) -> Result<Vec<(String, SecretString)>, ProjectError> {
    let mut out: Vec<(String, SecretString)> = Vec::new();
    for secret in execs
        .iter()
        .flat_map(|e| e.connections.iter())
        .flat_map(|c| c.secrets.iter())
    {
        if out.iter().any(|(n, _)| n == secret) {
            continue;
        }
        let source = project.secrets.get(secret).ok_or_else(|| {
            ProjectError::Secret(format!(
                "secret `{secret}` is not declared in sluice.toml's `[secrets]`"
            ))
        })?;
        let value = reader.read(source, &format!("secret `{secret}`"))?;
        out.push((secret.clone(), SecretString::from(value)));
    }
    Ok(out)
}

/// Reads a secret that must not come from the store (it is needed before the store opens):
/// `[serve] token`, `[serve] webhook_public_key`.
///
/// # Errors
/// The variable is not set, the file cannot be read, or the source is the store.
pub fn read_setting(
    source: &SecretSource,
    dir: Option<&Path>,
    what: &str,
) -> Result<String, ProjectError> {
    match source {
        SecretSource::Env(var) => std::env::var(var).map_err(|_| {
            ProjectError::Secret(format!("{what}: environment variable `{var}` is not set"))
        }),
        SecretSource::File(path) => {
            let p = dir.map_or_else(|| PathBuf::from(path), |d| d.join(path));
            fs_err::read_to_string(&p).map_err(|e| ProjectError::Secret(format!("{what}: {e}")))
        }
        SecretSource::Store(_) => Err(ProjectError::Secret(format!(
            "{what}: read it from `env` or `file` (the store is opened after it)"
        ))),
    }
}

/// Reads secrets from the environment, files (relative to the project) and the store.
struct Reader<'a> {
    dir: Option<&'a Path>,
    stored: &'a HashMap<String, String>,
    /// The run store, open when a credential needs it (stored secrets, OAuth pairs).
    store: Option<&'a sluice_store::Store>,
}

impl Reader<'_> {
    fn read(&self, source: &SecretSource, what: &str) -> Result<String, ProjectError> {
        match source {
            SecretSource::Env(var) => std::env::var(var).map_err(|_| {
                ProjectError::Secret(format!("{what}: environment variable `{var}` is not set"))
            }),
            SecretSource::File(path) => {
                let p = self
                    .dir
                    .map_or_else(|| PathBuf::from(path), |d| d.join(path));
                fs_err::read_to_string(&p)
                    .map(|s| s.trim().to_string())
                    .map_err(|e| ProjectError::Secret(format!("{what}: {e}")))
            }
            SecretSource::Store(key) => self.stored.get(key).cloned().ok_or_else(|| {
                ProjectError::Secret(format!("{what}: secret `{key}` is not in the store"))
            }),
        }
    }
}

/// The `{ store = "…" }` secrets of the credentials the flows use, and the store (opened
/// only when a secret or an OAuth credential needs it).
async fn load_store_secrets(
    project: &Project,
    execs: &[&Executable],
    store: SecretStore<'_>,
) -> Result<(HashMap<String, String>, Option<sluice_store::Store>), ProjectError> {
    let used: Vec<&Credential> = execs
        .iter()
        .flat_map(|e| e.connections.iter())
        .filter_map(|c| c.credential.as_ref())
        .filter_map(|name| project.credentials.get(name))
        .collect();
    let keys: Vec<&str> = used
        .iter()
        .flat_map(|c| [&c.token, &c.client_id, &c.client_secret, &c.refresh_token])
        .filter_map(|s| match s {
            Some(SecretSource::Store(key)) => Some(key.as_str()),
            _ => None,
        })
        .chain(
            execs
                .iter()
                .flat_map(|e| e.connections.iter())
                .flat_map(|c| c.secrets.iter())
                .filter_map(|name| match project.secrets.get(name) {
                    Some(SecretSource::Store(key)) => Some(key.as_str()),
                    _ => None,
                }),
        )
        .collect();
    let oauth = used.iter().any(|c| c.kind == AuthKind::Oauth2);
    if keys.is_empty() && !oauth {
        return Ok((HashMap::new(), None));
    }
    let store = match store {
        SecretStore::Open(store) => store.clone(),
        SecretStore::Url(url) => sluice_store::Store::open(&store_url(url))
            .await
            .map_err(|e| ProjectError::Secret(format!("cannot open the run store: {e}")))?,
    };
    let mut out = HashMap::new();
    for key in keys {
        match store.get_secret(key).await? {
            Some(value) => {
                out.insert(key.to_string(), value);
            }
            None => {
                return Err(ProjectError::Secret(format!(
                    "secret `{key}` is not in the store; set it with `sluice secrets set {key}` (the value is read from standard input)"
                )));
            }
        }
    }
    Ok((out, Some(store)))
}

/// The auth of credential `name` for connection `conn`.
fn auth_of(
    name: &str,
    cred: &Credential,
    conn: &ConnectionSpec,
    overrides: &[ConnectionOverride],
    reader: &Reader<'_>,
    secrets: &mut Vec<SecretString>,
    seeds: &mut Vec<(String, String)>,
) -> Result<AuthMaterial, ProjectError> {
    let what = format!("credential `{name}`");
    let mut secret = |source: &SecretSource| -> Result<SecretString, ProjectError> {
        let value = SecretString::from(reader.read(source, &what)?);
        secrets.push(value.clone());
        Ok(value)
    };
    let missing = |key: &str| ProjectError::Credential(format!("{what} has no `{key}`"));
    match cred.kind {
        AuthKind::Oauth2 => {
            let need = |s: &Option<SecretSource>, key: &str| {
                s.clone().ok_or_else(|| {
                    ProjectError::Credential(format!("{what} (oauth2) needs `{key}`"))
                })
            };
            let client_id = secret(&need(&cred.client_id, "client_id")?)?;
            let client_secret = secret(&need(&cred.client_secret, "client_secret")?)?;
            let refresh = secret(&need(&cred.refresh_token, "refresh_token")?)?;
            let access = match &cred.token {
                Some(t) => secret(t)?,
                None => SecretString::from(String::new()),
            };
            let store = reader.store.ok_or_else(|| {
                ProjectError::Credential(format!("{what} (oauth2) needs the run store"))
            })?;
            let seed = crate::oauth_store::seed(&refresh);
            seeds.push((name.to_string(), seed.clone()));
            oauth(
                name,
                cred,
                conn,
                overrides,
                crate::oauth_store::StoreTokens::new(store.clone(), seed),
                [client_id, client_secret, refresh, access],
            )
        }
        AuthKind::Query => {
            let token = secret(cred.token.as_ref().ok_or_else(|| missing("token"))?)?;
            let param = conn
                .connector
                .auth
                .iter()
                .find_map(|a| a.param.clone())
                .unwrap_or_else(|| "token".to_string());
            Ok(AuthMaterial::Query { param, token })
        }
        AuthKind::Bearer => {
            let token = secret(cred.token.as_ref().ok_or_else(|| missing("token"))?)?;
            Ok(AuthMaterial::Bearer(token))
        }
    }
}

/// An OAuth token for credential `name`: refreshed at the connector's token URL, the rotated
/// pair saved in the run store (under its lock, shared by every runner) before it is used.
fn oauth(
    name: &str,
    cred: &Credential,
    conn: &ConnectionSpec,
    overrides: &[ConnectionOverride],
    store: crate::oauth_store::StoreTokens,
    [client_id, client_secret, refresh, access]: [SecretString; 4],
) -> Result<AuthMaterial, ProjectError> {
    let token_url = conn
        .connector
        .auth
        .iter()
        .find_map(|a| a.token_url.clone())
        .ok_or_else(|| {
            ProjectError::Credential(format!(
                "connector `{}` has no OAuth token URL",
                conn.connector.name.value
            ))
        })?;
    let token_url = if token_url.starts_with("http") {
        token_url
    } else {
        let overridden = |key: &str| {
            overrides
                .iter()
                .find(|o| o.connection == key)
                .map(|o| o.base_url.clone())
        };
        let base = overridden(&conn.name)
            .or_else(|| overridden(conn.connector.name.as_str()))
            .or_else(|| conn.literal_base_url().map(str::to_string))
            .unwrap_or_else(|| conn.connector.base_url.clone());
        format!("{}{token_url}", base.trim_end_matches('/'))
    };
    // A configured access token of unknown age is tried; a 401 refreshes it.
    let expires = if cred.token.is_some() {
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600)
    } else {
        std::time::SystemTime::UNIX_EPOCH
    };
    let pair = sluice_connectors::oauth::TokenPair {
        access_token: access,
        refresh_token: refresh,
        expires_at: expires,
    };
    let hint = match &cred.refresh_token {
        Some(SecretSource::Store(key)) => {
            format!(" and store the new refresh token with `sluice secrets set {key}`")
        }
        Some(SecretSource::Env(var)) => format!(" and put the new refresh token in `${var}`"),
        Some(SecretSource::File(path)) => format!(" and write the new refresh token to `{path}`"),
        None => String::new(),
    };
    let client = sluice_connectors::oauth::OAuthClient::new(client_id, client_secret, token_url)
        .reauthorize_hint(hint);
    let token = sluice_connectors::oauth::OAuthToken::new(name, client, pair, Arc::new(store));
    Ok(AuthMaterial::OAuth(Arc::new(token)))
}

impl Credentials {
    /// Gives the runtime being built every credential, its location, and its secrets to
    /// redact.
    pub fn apply(self, rt: &mut RuntimeBuilder) {
        for s in &self.secrets {
            rt.redact(s.expose_secret());
        }
        for (name, value) in &self.named {
            rt.secret(name.clone(), value.expose_secret());
        }
        for (credential, location) in self.locations {
            rt.location(credential, location);
        }
        for (name, auth) in self.auth {
            rt.credential(name, auth);
        }
    }
}
