//! `--sandbox`: the built-in GHL sandbox started in this process, with every `ghl-contacts`
//! and `ipinfo` connection pointed at it.

use sluice_engine::Runtime;

/// A running sandbox; dropping it stops nothing until the process ends.
pub(crate) struct Attached;

/// Starts the sandbox and points the runtime at it.
pub(crate) async fn attach(_rt: &mut Runtime) -> Result<Attached, String> {
    Err("the built-in sandbox is not available in this build yet".into())
}
