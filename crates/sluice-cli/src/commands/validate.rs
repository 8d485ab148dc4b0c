//! `sluice validate`: every problem of every flow, like a compiler (or as JSON for CI and
//! editors); exit 1 when a flow is invalid.

use std::io::Write as _;
use std::path::PathBuf;

use sluice_model::{Catalog, FileReport, Limits};
use sluice_plan::Validated;
use sluice_project::FlowSet;

use crate::args::DiagFormat;
use crate::error::CliError;
use crate::exit::Exit;

/// `sluice validate PATHS…`.
pub(crate) fn validate(
    paths: Vec<PathBuf>,
    format: DiagFormat,
    deny_warnings: bool,
) -> Result<Exit, CliError> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        paths
    };
    let set = FlowSet::load(&paths)?;
    let results = check(&set);
    let reports: Vec<&FileReport> = results
        .iter()
        .filter(|(asked, _)| *asked)
        .map(|(_, v)| &v.report)
        .collect();
    let errors: usize = reports.iter().map(|r| r.error_count()).sum();
    let warnings: usize = reports.iter().map(|r| r.warning_count()).sum();
    match format {
        DiagFormat::Json => {
            let all: Vec<_> = reports.iter().flat_map(|r| r.to_json()).collect();
            let text =
                serde_json::to_string_pretty(&all).map_err(|e| CliError::msg(e.to_string()))?;
            outln!("{text}");
        }
        DiagFormat::Human => {
            let mut err = std::io::stderr().lock();
            for r in &reports {
                let _ = write!(err, "{}", r.render(crate::color()));
            }
            let flows = reports.len();
            let bad = reports.iter().filter(|r| r.error_count() > 0).count();
            let _ = writeln!(
                err,
                "checked {flows} flow{}: {errors} error{}, {warnings} warning{}{}",
                plural(flows),
                plural(errors),
                plural(warnings),
                if bad > 0 {
                    format!(" ({bad} invalid)")
                } else {
                    String::new()
                }
            );
        }
    }
    note_stale_schema(&set);
    let failed = errors > 0 || (deny_warnings && warnings > 0);
    Ok(if failed { Exit::Failure } else { Exit::Success })
}

/// Checks every flow of the set, `(asked for, result)` per file; an invalid connector file is
/// reported and the flows are checked against no connectors.
pub(crate) fn check(set: &FlowSet) -> Vec<(bool, Validated)> {
    let catalog = match set.catalog() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            Catalog::new()
        }
    };
    set.check(&catalog, &Limits::default())
        .into_iter()
        .map(|c| (c.asked, c.validated))
        .collect()
}

/// Says on stderr when the project's editor schema no longer fits its connectors and
/// connections (editors would flag valid actions, or miss new ones).
fn note_stale_schema(set: &FlowSet) {
    let Some(dir) = set.project_dir() else {
        return;
    };
    if let Ok(Some(path)) = sluice_project::schema::stale_flow_schema(dir) {
        eprintln!(
            "note: {} is out of date with this project's connectors and connections (editors check flows with it)\n  refresh it with `sluice schema flow --write`",
            path.display()
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
