//! Sluice's rate limiter against the sandbox enforcing the same GHL limit, in tokio's paused
//! (virtual) time: 1,000 calls through the 100-per-10 s limiter never see a 429 and take
//! ≈ 100 virtual seconds. The router is called in-process, so no socket breaks virtual time.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use sluice_connectors::{LimitKey, RateLimits};
use sluice_sandbox::{SandboxConfig, SandboxState, router};
use tower::ServiceExt as _;

#[tokio::test(start_paused = true)]
async fn a_thousand_calls_through_the_limiter_get_no_429() {
    let catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let limits = RateLimits::from_catalog(&catalog).expect("GHL limits load");
    let app = router(SandboxState::new(SandboxConfig::default()).expect("state"));
    let key = LimitKey::new("ghl-contacts", "sandbox-token", Some("loc_sandbox".into()));
    let started = tokio::time::Instant::now();
    let mut too_many = 0;
    for _ in 0..1000 {
        limits.acquire(&key).await.expect("no quota is spent");
        let req = Request::get("/contacts/ct_ada")
            .header("authorization", "Bearer sandbox-token")
            .header("version", "2021-07-28")
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("answer");
        let status = resp.status().as_u16();
        limits.observe(&key, status, resp.headers());
        if status == 429 {
            too_many += 1;
        }
        assert!(status == 200 || status == 429, "unexpected status {status}");
    }
    let elapsed = started.elapsed();
    assert_eq!(too_many, 0, "the limiter let the sandbox answer 429");
    assert!(
        elapsed >= Duration::from_secs(90) && elapsed <= Duration::from_secs(110),
        "1,000 calls at 100 per 10 s took {elapsed:?} of virtual time (expected 100 s ± 10%)"
    );
}
