//! What the end-to-end tests share: `sluice ARGS` with a time bound (wall time and peak memory
//! measured by `sluice-test-support`), YAML files of a folder, and JSON diagnostics checked.

use std::path::Path;
use std::time::Duration;

pub(crate) use sluice_test_support::{Run, repo_root};

/// The bound for one run of the binary; a run that takes longer is killed and fails the test.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `sluice ARGS` in `cwd` with a clean environment, killing it after `timeout`.
pub(crate) fn sluice(args: &[&str], cwd: &Path, timeout: Duration) -> Run {
    let mut cmd = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args).current_dir(cwd);
    sluice_test_support::run_timed(cmd, timeout)
}

/// The YAML files of a folder (not recursive), by name.
pub(crate) fn yaml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    names.sort();
    names
}

/// The diagnostics of `sluice validate --format json` output, checked to be a JSON array of
/// objects with the documented fields.
pub(crate) fn parse_json_diagnostics(stdout: &str) -> Result<Vec<serde_json::Value>, String> {
    let value: serde_json::Value =
        serde_json::from_str(stdout).map_err(|e| format!("stdout is not JSON: {e}"))?;
    let items = value
        .as_array()
        .ok_or_else(|| "the JSON output is not an array".to_string())?;
    for (i, item) in items.iter().enumerate() {
        let obj = item
            .as_object()
            .ok_or_else(|| format!("item {i} is not an object"))?;
        for field in ["file", "line", "column", "code", "message", "hint"] {
            if !obj.contains_key(field) {
                return Err(format!("item {i} has no field `{field}`: {item}"));
            }
        }
        for field in ["file", "code", "message"] {
            if !obj[field].is_string() {
                return Err(format!("item {i}: `{field}` is not a string: {item}"));
            }
        }
        for field in ["line", "column"] {
            if !(obj[field].is_null() || obj[field].is_u64()) {
                return Err(format!(
                    "item {i}: `{field}` is neither a number nor null: {item}"
                ));
            }
        }
        if !(obj["hint"].is_null() || obj["hint"].is_string()) {
            return Err(format!(
                "item {i}: `hint` is neither a string nor null: {item}"
            ));
        }
    }
    Ok(items.clone())
}
