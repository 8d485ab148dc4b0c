//! Connections: the connector and credential each one names, and looking a connection up
//! by name from an action or trigger.

use sluice_model::suggest::{did_you_mean, list_names};
use sluice_model::{Connection, Diagnostic, Sp};

use super::{Checker, Scope};
use crate::codes;

impl<'a> Checker<'a> {
    pub(super) fn check_connections(&mut self) {
        for (name, conn) in &self.flow.connections {
            if self.ctx.catalog.get(&conn.connector).is_none() {
                let help = match did_you_mean(&conn.connector, self.ctx.catalog.names()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "installed connectors: {}",
                        list_names(self.ctx.catalog.names())
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CONNECTOR,
                        format!("connector `{}` is not installed", conn.connector.value),
                    )
                    .label(
                        conn.connector.span,
                        format!("used by connection `{}`", name.value),
                    )
                    .help(help),
                );
            }
            if let (Some(cred), Some(project)) = (&conn.credential, self.ctx.project)
                && !project.credentials.contains_key(cred.value.as_str())
            {
                let help = match did_you_mean(cred, project.credentials.keys().map(String::as_str))
                {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "credentials in sluice.toml: {}",
                        list_names(project.credentials.keys().map(String::as_str))
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CREDENTIAL,
                        format!("credential `{}` is not defined in sluice.toml", cred.value),
                    )
                    .label(cred.span, "")
                    .help(help),
                );
            }
            self.check_connection_settings(conn);
        }
    }

    /// `base_url` and `headers`, which may be templates of `inputs` and `secrets`.
    fn check_connection_settings(&mut self, conn: &Connection) {
        let scope = Scope {
            connection: true,
            ..Scope::default()
        };
        if let Some(url) = &conn.base_url {
            if sluice_template::detect::is_template(url) {
                self.check_template_str(url, url.span, scope);
            } else if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_BASE_URL,
                        format!("`{}` is not an absolute http(s) URL", url.value),
                    )
                    .label(url.span, "")
                    .help("write it whole, e.g. `https://hooks.example.com/T123`"),
                );
            }
        }
        for value in conn.headers.values() {
            self.check_template_str(value, value.span, scope);
        }
    }

    /// The connection of this name, reporting it when unknown.
    pub(super) fn connection(&mut self, name: &Sp<String>) -> Option<&'a Connection> {
        if let Some(c) = self.flow.connections.get(name.value.as_str()) {
            self.connections_used.insert(name.value.clone());
            return Some(c);
        }
        if self.dropped.contains("connections") {
            return None; // already reported where it is declared
        }
        let names = self.flow.connections.keys().map(|k| k.value.as_str());
        let help = match did_you_mean(name, names.clone()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if self.flow.connections.is_empty() => {
                "declare it under `connections:`, e.g. `ghl: { connector: ghl-contacts, credential: ghl_main }`".into()
            }
            None => format!("connections defined here are: {}", list_names(names)),
        };
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_CONNECTION,
                format!("connection `{}` is not defined", name.value),
            )
            .label(name.span, "")
            .help(help),
        );
        None
    }
}
