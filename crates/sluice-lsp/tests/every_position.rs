//! Completion, hover and definition at every position of the example flows and of a damaged
//! copy of each (cut at every tenth line, as a flow looks while it is typed): every request is
//! answered, none fails. The server runs in this process on an in-memory connection.

use std::path::Path;
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};

struct Client {
    conn: Connection,
    next: i32,
}

impl Client {
    fn request(&mut self, method: &str, params: Value) -> lsp_server::Response {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn
            .sender
            .send(Message::Request(Request::new(
                id.clone(),
                method.into(),
                params,
            )))
            .expect("send");
        loop {
            match self
                .conn
                .receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("an answer")
            {
                Message::Response(r) if r.id == id => return r,
                _ => {}
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn
            .sender
            .send(Notification::new(method.into(), params).into())
            .expect("send");
    }
}

#[test]
fn every_position_of_every_example_is_answered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
    let root = root.canonicalize().expect("workflows/");
    let (server, client) = Connection::memory();
    let served = root.clone();
    let thread = std::thread::spawn(move || sluice_lsp::serve(server, &served));
    let mut c = Client {
        conn: client,
        next: 0,
    };
    let init = c.request(
        "initialize",
        json!({ "capabilities": {}, "rootUri": format!("file://{}", root.display()) }),
    );
    assert!(init.response_result.is_ok());
    c.notify("initialized", json!({}));
    let mut answered = 0;
    for entry in std::fs::read_dir(&root)
        .expect("workflows/")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a flow");
        let lines: Vec<&str> = text.split('\n').collect();
        let uri = format!("file://{}", path.display());
        let mut versions = vec![text.clone()];
        for cut in (5..lines.len()).step_by(10) {
            versions.push(lines[..cut].join("\n") + "\n  x: \"{{ steps.");
        }
        for (v, version) in versions.iter().enumerate() {
            let params = json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": v, "text": version } });
            if v == 0 {
                c.notify("textDocument/didOpen", params);
            } else {
                c.notify(
                    "textDocument/didChange",
                    json!({ "textDocument": { "uri": uri, "version": v }, "contentChanges": [{ "text": version }] }),
                );
            }
            // Every character of the flows as written; a sample of the rest.
            let fixture = path.to_string_lossy().ends_with(".test.yaml");
            let step = if v == 0 && !fixture { 1 } else { 13 };
            for (line, content) in version.split('\n').enumerate() {
                for character in (0..=content.chars().count() + 1).step_by(step) {
                    for method in [
                        "textDocument/completion",
                        "textDocument/hover",
                        "textDocument/definition",
                    ] {
                        let r = c.request(
                            method,
                            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }),
                        );
                        assert!(
                            r.response_result.is_ok(),
                            "{method} at {}:{line}:{character}: {:?}",
                            path.display(),
                            r.response_result
                        );
                        answered += 1;
                    }
                }
            }
        }
    }
    assert!(answered > 5_000, "{answered} requests");
    let _ = c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    thread
        .join()
        .expect("the server thread")
        .expect("the server");
}
