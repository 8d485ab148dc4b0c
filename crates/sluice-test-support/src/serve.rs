//! A `sluice serve` child process: started from a command, ready once it prints `listening
//! on`, its stderr kept as its log, stopped with SIGTERM (or killed) and reaped.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A running `sluice serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServeProcess {
    /// Starts `cmd` (`sluice serve …`, stdin and stdout closed, stderr read) and waits until
    /// it says where it listens.
    ///
    /// # Panics
    /// When it does not start, or says nothing of listening within `within` (its log is shown).
    #[must_use]
    pub fn start(mut cmd: Command, within: Duration) -> ServeProcess {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("sluice serve does not start: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let lines = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let _ = tx.send(addr.trim().to_string());
                    }
                    lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                }
            });
        }
        let mut serve = ServeProcess {
            child,
            base: String::new(),
            log,
        };
        match rx.recv_timeout(within) {
            Ok(base) => serve.base = base,
            Err(_) => panic!("serve did not start:\n{}", serve.log()),
        }
        serve
    }

    /// The process's id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on it.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What it printed on stderr so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// SIGTERM, then waits for the exit: its code, how long it took and its whole log.
    ///
    /// # Panics
    /// When it has not exited within `within` (it is killed; its log is shown).
    pub fn stop(mut self, within: Duration) -> (Option<i32>, Duration, String) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The last lines of stderr are still being read.
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), started.elapsed(), self.log());
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("serve did not stop within {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would, and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
