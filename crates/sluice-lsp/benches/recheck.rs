//! Language server benchmark: the time from a `didChange` to its `publishDiagnostics` — one
//! whole re-check of the changed flow with the other flows of its folder — for flows of 200 and
//! 1,000 action steps, printed as a markdown table.
//!
//! Run it with `cargo bench -p sluice-lsp --bench recheck`. The server runs in this process on an
//! in-memory connection (`lsp_server::Connection::memory`: the same main loop as `sluice lsp`,
//! without the stdio pipes), in a temporary project whose `flows/` holds the generated flow and
//! the example flow contact-360. Each edit alternates the flow's `description` (so every change
//! is a real change and the flow stays valid) and is sent only after the previous change's
//! diagnostics arrived, so no change is coalesced with another. Steps are written like
//! `workflows/contact-360.yaml`: alternating `ghl.get_contact` and `ghl.list_notes`, each reading
//! the previous one's response field (`{{ steps.sK.contact.id }}`), every tenth with a `retry:` —
//! so connection, operation, parameter and response-field checks all run. One unmeasured edit,
//! then `EDITS` measured ones.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use lsp_server::{Message, Notification, Request, RequestId};
use serde_json::{Value, json};

const SIZES: [usize; 2] = [200, 1_000];
const EDITS: usize = 100;

/// A flow of `n` action steps.
fn generate(n: usize) -> String {
    let mut y = String::with_capacity(n * 120);
    let _ = writeln!(y, "name: bench-{n}");
    y.push_str("description: DESCRIPTION\n");
    y.push_str("on:\n  - manual: {}\n");
    y.push_str("inputs:\n  contactId: { type: string, description: GHL contact id }\n");
    y.push_str(
        "connections:\n  ghl: { connector: ghl-contacts, credential: ghl_main, read_only: true }\n",
    );
    y.push_str("steps:\n");
    y.push_str(
        "  s0:\n    action: ghl.get_contact\n    with: { contactId: \"{{ inputs.contactId }}\" }\n",
    );
    for i in 1..n {
        let (action, read) = if !i.is_multiple_of(2) {
            ("ghl.list_notes", format!("steps.s{}.contact.id", i - 1))
        } else {
            (
                "ghl.get_contact",
                format!("steps.s{}.notes.[0].contactId", i - 1),
            )
        };
        let retry = if i.is_multiple_of(10) {
            "\n    retry: { attempts: 3, backoff: exponential }"
        } else {
            ""
        };
        let _ = writeln!(
            y,
            "  s{i}:\n    action: {action}\n    with: {{ contactId: \"{{{{ {read} }}}}\" }}{retry}"
        );
    }
    let (contact, notes) = if (n - 1).is_multiple_of(2) {
        (n - 1, n - 2)
    } else {
        (n - 2, n - 1)
    };
    y.push_str("output:\n");
    let _ = writeln!(y, "  id: \"{{{{ steps.s{contact}.contact.id }}}}\"");
    let _ = writeln!(y, "  notes: \"{{{{ steps.s{notes}.notes }}}}\"");
    y
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Waits for the next diagnostics of `uri`; fails on anything else odd.
fn diagnostics(client: &lsp_server::Connection, uri: &str) -> Vec<Value> {
    loop {
        let message = client
            .receiver
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no diagnostics: {e}"));
        if let Message::Notification(n) = message
            && n.method == "textDocument/publishDiagnostics"
            && n.params["uri"] == uri
        {
            return n.params["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path();
    std::fs::write(
        root.join("sluice.toml"),
        "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\n",
    )
    .expect("sluice.toml");
    let flows = root.join("flows");
    std::fs::create_dir_all(&flows).expect("flows/");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows/contact-360.yaml");
    std::fs::copy(example, flows.join("contact-360.yaml")).expect("contact-360");

    let (server, client) = lsp_server::Connection::memory();
    let served = root.to_path_buf();
    let thread = std::thread::spawn(move || sluice_lsp::serve(server, &served));
    client
        .sender
        .send(Message::Request(Request::new(
            RequestId::from(1),
            "initialize".into(),
            json!({ "capabilities": {}, "rootUri": uri(root) }),
        )))
        .expect("send");
    let _ = client.receiver.recv().expect("initialize answered");
    client
        .sender
        .send(Notification::new("initialized".into(), json!({})).into())
        .expect("send");

    let mut table = String::from(
        "| flow | bytes | edits | median (ms) | p90 (ms) | max (ms) | mean (ms) |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for n in SIZES {
        let path = flows.join(format!("bench-{n}.yaml"));
        let uri = uri(&path);
        let text = generate(n);
        client
            .sender
            .send(
                Notification::new(
                    "textDocument/didOpen".into(),
                    json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": 1, "text": text.replace("DESCRIPTION", "first") } }),
                )
                .into(),
            )
            .expect("send");
        let first = diagnostics(&client, &uri);
        assert!(first.is_empty(), "the generated flow is valid: {first:?}");
        let mut times = Vec::with_capacity(EDITS);
        for version in 0..=EDITS {
            let changed = text.replace("DESCRIPTION", &format!("edit {version}"));
            let start = Instant::now();
            client
                .sender
                .send(
                    Notification::new(
                        "textDocument/didChange".into(),
                        json!({
                            "textDocument": { "uri": uri, "version": version + 2 },
                            "contentChanges": [{ "text": changed }]
                        }),
                    )
                    .into(),
                )
                .expect("send");
            let d = diagnostics(&client, &uri);
            let took = start.elapsed();
            assert!(d.is_empty(), "still valid: {d:?}");
            if version > 0 {
                times.push(took);
            }
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / u32::try_from(times.len()).expect("count");
        let _ = writeln!(
            table,
            "| {n} action steps | {} | {EDITS} | {} | {} | {} | {} |",
            text.len(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(times[times.len() - 1]),
            ms(mean)
        );
    }
    client
        .sender
        .send(Message::Request(Request::new(
            RequestId::from(2),
            "shutdown".into(),
            Value::Null,
        )))
        .expect("send");
    let _ = client.receiver.recv();
    client
        .sender
        .send(Notification::new("exit".into(), Value::Null).into())
        .expect("send");
    thread
        .join()
        .expect("the server thread")
        .expect("the server");
    println!("{table}");
}
