//! A language server client for tests: starts `sluice lsp` (or any command) with pipes and
//! speaks JSON-RPC to it as an editor does — `Content-Length` framing, requests answered by id,
//! `publishDiagnostics` collected per document, requests from the server answered with `null`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a test waits for one answer.
const WAIT: Duration = Duration::from_secs(30);

/// A language server child and the messages it sent.
pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    next_id: i64,
    /// Responses read while waiting for something else, by id.
    responses: HashMap<i64, Value>,
    /// The latest diagnostics of each URI, and how many times each was published.
    diagnostics: HashMap<String, (Value, usize)>,
    /// Every message the server sent, as text.
    transcript: Vec<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

/// The `file:` URI of an absolute path (spaces and `#` escaped, as editors send them).
#[must_use]
pub fn file_uri(path: &Path) -> String {
    let text = path.display().to_string();
    let mut out = String::from("file://");
    for c in text.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '#' => out.push_str("%23"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

impl LspClient {
    /// Starts `cmd` (its stdin and stdout become the connection) and initializes it with
    /// `root` as the workspace folder.
    ///
    /// # Panics
    /// When the server cannot be started or does not answer `initialize`.
    #[must_use]
    pub fn start(mut cmd: Command, root: &Path) -> LspClient {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("the language server did not start: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, rx) = channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        let mut client = LspClient {
            stdin: child.stdin.take(),
            child,
            messages: rx,
            next_id: 1,
            responses: HashMap::new(),
            diagnostics: HashMap::new(),
            transcript: Vec::new(),
            stderr: Some(stderr),
        };
        let uri = file_uri(root);
        let result = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri,
                "workspaceFolders": [{ "uri": uri, "name": "project" }],
                "capabilities": {
                    "textDocument": {
                        "completion": { "completionItem": { "documentationFormat": ["markdown"] } },
                        "hover": { "contentFormat": ["markdown"] },
                        "publishDiagnostics": { "relatedInformation": true }
                    }
                }
            }),
        );
        assert!(
            result.get("capabilities").is_some(),
            "initialize answered {result}"
        );
        client.notify("initialized", json!({}));
        client
    }

    /// Sends a notification.
    ///
    /// # Panics
    /// When the server's stdin is closed.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its result (`null` for an error: see [`Self::request_raw`]).
    ///
    /// # Panics
    /// When no answer comes in time, or the answer is an error.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response.get("result").cloned().unwrap_or(Value::Null)
    }

    /// Sends a request and waits for the whole response (`result` or `error`).
    ///
    /// # Panics
    /// When no answer comes in time.
    pub fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(r) = self.responses.remove(&id) {
                return r;
            }
            self.read_one(deadline, &format!("the answer to {method}"));
        }
    }

    /// Opens a document and waits for its diagnostics.
    pub fn open(&mut self, path: &Path, text: &str) -> Vec<Value> {
        let uri = file_uri(path);
        let before = self.published(&uri);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": 1, "text": text } }),
        );
        self.diagnostics_after(&uri, before)
    }

    /// Replaces a document's text and waits for its diagnostics.
    pub fn change(&mut self, path: &Path, version: i32, text: &str) -> Vec<Value> {
        let uri = file_uri(path);
        let before = self.published(&uri);
        self.change_only(path, version, text);
        self.diagnostics_after(&uri, before)
    }

    /// Replaces a document's text without waiting.
    pub fn change_only(&mut self, path: &Path, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": file_uri(path), "version": version },
                "contentChanges": [{ "text": text }]
            }),
        );
    }

    /// How many times diagnostics of `uri` were published so far.
    #[must_use]
    pub fn published(&self, uri: &str) -> usize {
        self.diagnostics.get(uri).map_or(0, |(_, n)| *n)
    }

    /// Waits until diagnostics of `uri` are published after the `before`-th time; returns them.
    ///
    /// # Panics
    /// When none come in time.
    pub fn diagnostics_after(&mut self, uri: &str, before: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((d, n)) = self.diagnostics.get(uri)
                && *n > before
            {
                return d.as_array().cloned().unwrap_or_default();
            }
            self.read_one(deadline, &format!("diagnostics of {uri}"));
        }
    }

    /// A request at a position of a document: completion, hover, definition.
    pub fn at(&mut self, method: &str, path: &Path, line: u32, character: u32) -> Value {
        self.request(
            method,
            json!({
                "textDocument": { "uri": file_uri(path) },
                "position": { "line": line, "character": character }
            }),
        )
    }

    /// Says `shutdown` and `exit`, and waits for the server to end; returns its exit code and
    /// what it wrote on stderr.
    ///
    /// # Panics
    /// When it does not end in time.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let _ = self.request_raw("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.stdin.take();
        let deadline = Instant::now() + WAIT;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    panic!("the language server did not exit after `exit`");
                }
            }
        };
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        (code, stderr.unwrap_or_default())
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("the server's stdin is closed"));
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write to the language server: {e}"));
    }

    /// Reads one message and files it.
    fn read_one(&mut self, deadline: Instant, waiting_for: &str) {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(message) => self.file(message),
            Err(RecvTimeoutError::Timeout) => panic!("no {waiting_for} within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the language server closed stdout while waiting for {waiting_for}")
            }
        }
    }

    /// Every message the server sent so far, as JSON text.
    #[must_use]
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    fn file(&mut self, message: Value) {
        self.transcript.push(message.to_string());
        let id = message.get("id").cloned();
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        match (id, method) {
            (Some(id), None) => {
                if let Some(id) = id.as_i64() {
                    self.responses.insert(id, message);
                }
            }
            (Some(id), Some(_)) => {
                // A request from the server (configuration, registration): answer it.
                self.send(&json!({ "jsonrpc": "2.0", "id": id, "result": null }));
            }
            (None, Some(method)) if method == "textDocument/publishDiagnostics" => {
                let uri = message["params"]["uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let diagnostics = message["params"]["diagnostics"].clone();
                let entry = self.diagnostics.entry(uri).or_insert((Value::Null, 0));
                entry.0 = diagnostics;
                entry.1 += 1;
            }
            _ => {}
        }
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one `Content-Length`-framed JSON message; `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length: Option<usize> = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line
            .to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().to_string())
        {
            length = v.parse().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}
