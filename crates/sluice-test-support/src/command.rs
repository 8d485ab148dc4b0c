//! The `sluice` binary as a command with a clean environment, run to its end from an async
//! test, or run under a time bound with its wall time and peak memory measured.

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The binary `bin` (the caller passes `env!("CARGO_BIN_EXE_sluice")`, which only the CLI's
/// own tests and benches have) as a command: `NO_COLOR=1`; every `SLUICE_*` variable of this
/// process and the backtrace switches removed, so nothing of the caller's shell leaks in;
/// stdin closed.
#[must_use]
pub fn sluice(bin: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SLUICE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Runs `cmd` to its end on a blocking thread, so an async test's runtime (and the servers
/// on it) keeps going meanwhile.
///
/// # Panics
/// When the command cannot be started.
pub async fn output(mut cmd: Command) -> Output {
    let run = tokio::task::spawn_blocking(move || cmd.output());
    match run.await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("the command did not start: {e}"),
        Err(e) => panic!("the thread running the command failed: {e}"),
    }
}

/// What one run under [`run_timed`] did.
#[derive(Debug)]
pub struct Run {
    /// The exit code, when the process exited normally.
    pub code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    /// Whether the run was killed for taking longer than its bound.
    pub timed_out: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// The largest `VmHWM` (peak resident set) seen in `/proc/PID/status`, in kB.
    pub peak_rss_kb: Option<u64>,
}

impl Run {
    /// Exit code and stderr, as snapshotted.
    #[must_use]
    pub fn code_and_stderr(&self) -> String {
        format!("exit code: {}\n\n{}", self.describe_exit(), self.stderr)
    }

    /// `1`, `signal 9`, `timed out`.
    #[must_use]
    pub fn describe_exit(&self) -> String {
        match (self.code, self.signal, self.timed_out) {
            (_, _, true) => "timed out".to_string(),
            (Some(code), _, _) => code.to_string(),
            (None, Some(sig), _) => format!("signal {sig}"),
            (None, None, _) => "unknown".to_string(),
        }
    }

    /// Number of errors miette printed (`  × message` headers).
    #[must_use]
    pub fn error_markers(&self) -> usize {
        self.stderr
            .lines()
            .filter(|l| l.trim_start().starts_with('×'))
            .count()
    }
}

/// Runs `cmd` with its output piped, killing it after `timeout`; samples its peak memory while
/// it runs.
///
/// # Panics
/// When the command cannot be started or waited for.
#[must_use]
pub fn run_timed(mut cmd: Command, timeout: Duration) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the command did not start: {e}"));
    let start = Instant::now();
    let pid = child.id();
    let out = child.stdout.take();
    let err = child.stderr.take();
    // Read both pipes while waiting, so a large output cannot block the child.
    let out_reader = thread::spawn(move || read_all(out));
    let err_reader = thread::spawn(move || read_all(err));
    let mut peak: Option<u64> = None;
    let mut timed_out = false;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = Some(peak.map_or(kb, |p| p.max(kb)));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                timed_out = true;
                let _ = child.kill();
                match child.wait() {
                    Ok(status) => break status,
                    Err(e) => panic!("the killed command cannot be reaped: {e}"),
                }
            }
            Ok(None) => thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("cannot wait for the command: {e}"),
        }
    };
    let wall = start.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
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

/// Everything a pipe gives until it closes.
fn read_all(pipe: Option<impl std::io::Read>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut buf);
    }
    buf
}

/// `VmHWM` of a running process, in kB (absent once it has exited).
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
