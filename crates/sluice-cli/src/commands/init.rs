//! `sluice init DIR`: a new project folder — a first flow with the editor schema line, the
//! JSON Schemas it points at (the flow schema fitted to the project, one for test fixtures),
//! VS Code's schema mapping, a commented `sluice.toml` credentials template and a `.gitignore`
//! that keeps secrets and the local run store out of git.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sluice_project::schema::{Connections, flow_schema, to_text};

use super::schema::generate;
use crate::args::SchemaKind;
use crate::error::CliError;
use crate::exit::Exit;

/// The first flow: a contact's profile, notes and open tasks (read-only).
const HELLO: &str = r#"# yaml-language-server: $schema=../schemas/flow.schema.json
#
# hello — your first flow: one view of a GHL contact.
#
# Fetches the contact, then its notes and its tasks at the same time, and prints one JSON
# document: the contact's name and email, how many notes it has, and its open tasks.
# The connection is read-only: this flow cannot change anything in GHL.
#
# Try it against the built-in GHL sandbox (no account, no network):
#   sluice run workflows/hello.yaml --sandbox -i contactId=ct_ada
# Then against your own location: put a Private Integration token in the GHL_TOKEN
# environment variable (see sluice.toml) and run
#   sluice run workflows/hello.yaml -i contactId=YOUR_CONTACT_ID
# Check every flow after a change:  sluice validate
name: hello
description: A contact's name, email, note count and open tasks.
on:
  - manual: {}
inputs:
  contactId: { type: string, description: GHL contact id }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main, read_only: true }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
  notes:
    action: ghl.list_notes
    with: { contactId: "{{ steps.contact.contact.id }}" }
  tasks:
    action: ghl.list_tasks
    with: { contactId: "{{ steps.contact.contact.id }}" }
  open_tasks:
    select: "$.steps.tasks.tasks[?@.completed == false]"
output:
  name: "{{ steps.contact.contact.firstName }} {{ steps.contact.contact.lastName }}"
  email: "{{ default steps.contact.contact.email \"no email\" }}"
  notes: "{{ len steps.notes.notes }}"
  openTasks: "{{ steps.open_tasks }}"
"#;

/// The project file: credentials (where secrets come from, never the secrets) and run settings.
const PROJECT: &str = r#"# Sluice project file. Flows name credentials (`credential: ghl_main`); the secrets
# themselves never live here or in flows: each comes from an environment variable
# ({ env = "NAME" }), a file ({ file = "secrets/ghl.token" }, relative to this file) or the
# run store ({ store = "NAME" }, set with `sluice secrets set NAME < file`).
# `sluice run --sandbox` needs none of them.

# A GHL Private Integration token (Settings → Private Integrations in the sub-account).
[credentials.ghl_main]
kind = "bearer"
token = { env = "GHL_TOKEN" }
# location_id = "YOUR_LOCATION_ID"        # rate limits are counted per location
# scopes = ["contacts.readonly"]          # optional: validation then refuses operations needing more

# A GHL Marketplace app (OAuth 2.0). Refresh tokens rotate on every use; the new pair is saved
# in .sluice/tokens.json before it is used.
# [credentials.ghl_app]
# kind = "oauth2"
# client_id = { env = "GHL_CLIENT_ID" }
# client_secret = { env = "GHL_CLIENT_SECRET" }
# refresh_token = { store = "ghl_refresh" }
# location_id = "YOUR_LOCATION_ID"

# An IPinfo access token (https://ipinfo.io/account/token).
# [credentials.ipinfo_main]
# kind = "bearer"
# token = { env = "IPINFO_TOKEN" }

[runs]
# Finished runs older than this are removed by `sluice runs prune`.
retention = "30d"
"#;

/// What git must not see: secrets and the local run store.
const GITIGNORE: &str =
    "# Sluice: the local run store, saved OAuth tokens and secrets stay out of git.
.sluice/
*.token
.env
.env.*
secrets/
";

/// VS Code (YAML extension by Red Hat): which schema checks which files. Fixtures
/// (`*.test.yaml`) are test files, not flows: they get their own schema.
const VSCODE: &str = r#"{
  "yaml.schemas": {
    "./schemas/flow.schema.json": ["workflows/*.yaml", "workflows/*.yml", "!workflows/*.test.yaml", "!workflows/*.test.yml"],
    "./schemas/fixture.schema.json": ["workflows/*.test.yaml", "workflows/*.test.yml"],
    "./schemas/connector.schema.json": ["connectors/*.yaml", "connectors/*.yml"]
  }
}
"#;

/// The files of a new project, relative to its folder.
fn files() -> Result<Vec<(&'static str, String)>, CliError> {
    // The flow schema fits the new project: the connections of its first flow (and the other
    // built-in connectors under their usual names), as `sluice schema flow --write` makes it.
    let catalog = sluice_project::catalog(None)?;
    let connections = Connections::of_sources(
        &[("workflows/hello.yaml".to_string(), HELLO.to_string())],
        &catalog,
    );
    let flow_schema = flow_schema(&catalog, &connections, true)
        .and_then(|s| to_text(&s))
        .map_err(|e| CliError::msg(e.to_string()))?;
    Ok(vec![
        ("workflows/hello.yaml", HELLO.to_string()),
        ("schemas/flow.schema.json", flow_schema + "\n"),
        (
            "schemas/fixture.schema.json",
            generate(SchemaKind::Fixture)? + "\n",
        ),
        (
            "schemas/connector.schema.json",
            generate(SchemaKind::Connector)? + "\n",
        ),
        (".vscode/settings.json", VSCODE.to_string()),
        ("sluice.toml", PROJECT.to_string()),
        (".gitignore", GITIGNORE.to_string()),
    ])
}

/// `sluice init DIR`: writes the project's files; refuses (nothing written) when one exists.
pub(crate) fn init(dir: &Path) -> Result<Exit, CliError> {
    let files = files()?;
    let existing: Vec<PathBuf> = files
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.exists())
        .collect();
    if !existing.is_empty() {
        let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        return Err(CliError::msg(format!(
            "not overwriting {} (nothing was written); choose an empty folder or remove {}",
            names.join(", "),
            if names.len() == 1 { "it" } else { "them" }
        )));
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        // `create_new`: a file that appeared meanwhile is not overwritten either.
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(text.as_bytes())?;
    }
    let shown = dir.display();
    outln!("Created a Sluice project in {shown}:");
    for (rel, _) in &files {
        outln!("  {rel}");
    }
    outln!();
    outln!("Next:");
    outln!("  cd {shown}");
    outln!("  sluice validate                                              # check the flows");
    outln!(
        "  sluice run workflows/hello.yaml --sandbox -i contactId=ct_ada # run against the built-in sandbox"
    );
    outln!("Then set GHL_TOKEN (see sluice.toml) and run it against your own GHL location.");
    Ok(Exit::Success)
}
