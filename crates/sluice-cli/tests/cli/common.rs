//! Running the `sluice` binary with a time bound, measuring wall time and peak memory.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The bound for one run of the binary; a run that takes longer is killed and fails the test.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// The repository root (the working directory of every run, so paths print as `tests/...`).
pub(crate) fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code, when the process exited normally.
    pub(crate) code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub(crate) signal: Option<i32>,
    /// Whether the run was killed for taking longer than its bound.
    pub(crate) timed_out: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Wall time from spawn to exit.
    pub(crate) wall: Duration,
    /// The largest `VmHWM` (peak resident set) seen in `/proc/PID/status`, in kB.
    pub(crate) peak_rss_kb: Option<u64>,
}

impl Run {
    /// Exit code and stderr, as snapshotted.
    pub(crate) fn code_and_stderr(&self) -> String {
        format!("exit code: {}\n\n{}", self.describe_exit(), self.stderr)
    }

    /// `1`, `signal 9`, `timed out`.
    pub(crate) fn describe_exit(&self) -> String {
        match (self.code, self.signal, self.timed_out) {
            (_, _, true) => "timed out".to_string(),
            (Some(code), _, _) => code.to_string(),
            (None, Some(sig), _) => format!("signal {sig}"),
            (None, None, _) => "unknown".to_string(),
        }
    }

    /// Number of errors miette printed (`  × message` headers).
    pub(crate) fn error_markers(&self) -> usize {
        self.stderr
            .lines()
            .filter(|l| l.trim_start().starts_with('×'))
            .count()
    }
}

/// Runs `sluice ARGS` in `cwd` with `NO_COLOR=1`, killing it after `timeout`.
pub(crate) fn sluice(args: &[&str], cwd: &Path, timeout: Duration) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sluice binary starts");
    let start = Instant::now();
    let pid = child.id();
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    // Read both pipes while waiting, so a large output cannot block the child.
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let mut peak: Option<u64> = None;
    let mut timed_out = false;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = Some(peak.map_or(kb, |p| p.max(kb)));
        }
        match child.try_wait().expect("waiting for sluice works") {
            Some(status) => break status,
            None if start.elapsed() > timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("the killed child can be reaped");
            }
            None => thread::sleep(Duration::from_millis(2)),
        }
    };
    let wall = start.elapsed();
    let stdout = out_reader.join().expect("the stdout reader ends");
    let stderr = err_reader.join().expect("the stderr reader ends");
    Run {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        wall,
        peak_rss_kb: peak,
    }
}

/// `VmHWM` of a running process, in kB (absent once it has exited).
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
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
