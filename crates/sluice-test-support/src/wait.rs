//! Waiting for something that happens in the background (a queued run, a reload): poll until
//! it holds, or fail the test with what was awaited.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it returns `Some`, and returns that value.
///
/// # Panics
/// When `within` has passed: "timed out waiting for WHAT".
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    within: Duration,
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
