//! Holding a run while it goes: its lease in the run store is renewed every third of its
//! length, and losing it (another process took the run over) cancels this copy.

use std::time::Duration;

use sluice_store::{RunId, Store};
use tokio_util::sync::CancellationToken;

/// Renews `run`'s lease for `owner` until dropped; cancels `lost` when the lease is gone.
#[must_use = "the lease is renewed only while the guard lives"]
pub fn keep(
    store: Store,
    run: RunId,
    owner: String,
    lease: Duration,
    lost: CancellationToken,
) -> LeaseGuard {
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease / 3).await;
            match store.renew_lease(&run, &owner, lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!(run = %run, "Lost the run's lease (another process took it over); stopping this copy.");
                    lost.cancel();
                    return;
                }
                Err(e) => tracing::warn!(run = %run, error = %e, "Cannot renew the run's lease."),
            }
        }
    });
    LeaseGuard(task)
}

/// Stops renewing a lease when dropped.
pub struct LeaseGuard(tokio::task::JoinHandle<()>);

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
