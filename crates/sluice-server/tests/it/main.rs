//! The runner service in-process: `Server::start` on 127.0.0.1:0 in each test's own tokio
//! runtime, the GHL sandbox in-process behind the runtime's routing, a temp project whose
//! sluice.toml names its tokens' files. What needs separate processes (signals, restarts,
//! several runners) is tested through the binary in `sluice-cli`'s `tests/serve.rs`.

mod api;
mod harness;
mod schedules;
mod web;
mod webhooks;
