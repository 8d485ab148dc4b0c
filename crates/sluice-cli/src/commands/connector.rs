//! `sluice connector import`: an OpenAPI document (file or URL) → `connectors/NAME.yaml`,
//! through `sluice-openapi`; the file is only replaced when it is stale and was not edited by
//! hand (or with `--force`); `--check` writes nothing and says whether it is up to date.

use std::time::Duration;

use sluice_openapi::{Existing, ImportError, ImportOptions, Loader, classify, is_url};

use crate::args::ImportArgs;
use crate::error::CliError;
use crate::exit::Exit;

/// Reads files, and `http(s)://` URLs with a GET (30 s, redirects followed).
struct CliLoader {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl CliLoader {
    fn new() -> Result<Self, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::msg(format!("cannot start the async runtime: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CliError::msg(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self { client, runtime })
    }
}

impl Loader for CliLoader {
    fn load(&self, location: &str) -> Result<String, String> {
        if !is_url(location) {
            return std::fs::read_to_string(location).map_err(|e| e.to_string());
        }
        self.runtime.block_on(async {
            let resp = self
                .client
                .get(location)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            resp.text().await.map_err(|e| e.to_string())
        })
    }
}

pub(crate) fn import(args: &ImportArgs) -> Result<Exit, CliError> {
    let loader = CliLoader::new()?;
    let options = ImportOptions {
        name: args.name.clone(),
        include: args.include.clone(),
        overrides: args.overrides.clone(),
    };
    let imported = match sluice_openapi::import(&args.source, &options, &loader) {
        Ok(imported) => imported,
        Err(ImportError::NoOperations {
            location,
            reason,
            problems,
        }) => {
            for p in &problems {
                eprintln!("warning: {p}");
            }
            return Err(CliError::msg(format!(
                "no operation of {location} could be imported ({reason})"
            )));
        }
        Err(e) => return Err(CliError::msg(e.to_string())),
    };
    for p in &imported.problems {
        eprintln!("warning: {p}");
    }
    let path = args.out_dir.join(format!("{}.yaml", args.name));
    let shown = path.display().to_string();
    let loaded =
        sluice_model::load_connector(&shown, &imported.text, &sluice_model::Limits::default());
    if loaded.connector.is_none() || !loaded.report.diagnostics.is_empty() {
        eprint!("{}", loaded.report.render(crate::color()));
        return Err(CliError::msg(format!(
            "the connector made from {} does not load (a bug of `sluice connector import`; please report it)",
            args.source
        )));
    }
    let current = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::msg(format!("cannot read {shown}: {e}"))),
    };
    let summary = format!(
        "{} operation(s){}",
        imported.operations,
        if imported.filtered > 0 {
            format!(", {} left out by --include", imported.filtered)
        } else {
            String::new()
        }
    );
    if current.as_deref() == Some(imported.text.as_str()) {
        outln!("{shown} is up to date ({summary})");
        return Ok(Exit::Success);
    }
    if args.check {
        eprintln!(
            "{shown} is not what `sluice connector import` writes from {}: import it again",
            args.source
        );
        return Ok(Exit::Failure);
    }
    match classify(current.as_deref()) {
        Existing::Missing | Existing::Generated => {}
        kind if !args.force => {
            let why = if kind == Existing::Edited {
                "was edited by hand since it was imported"
            } else {
                "was not written by `sluice connector import`"
            };
            return Err(CliError::msg(format!("{shown} {why}; it is left as it is"))
                .hint("move your changes into an override file (`--overrides`), or pass `--force` to overwrite it"));
        }
        _ => {}
    }
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&path, &imported.text)?;
    outln!("wrote {shown} ({summary})");
    Ok(Exit::Success)
}
