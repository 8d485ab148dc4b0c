//! Rate limits in virtual time: the limiter waits on tokio's clock, so with the clock paused
//! minutes of waiting take milliseconds, and every assertion is on exact virtual instants.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sluice_connectors::builtin_catalog;
use sluice_connectors::ratelimit::{LimitError, LimitKey, RateLimits};
use sluice_model::connector::{LimitScope, RateLimit};
use tokio::time::Instant;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn limit(name: &str, requests: u64, per: Duration, quota: bool) -> RateLimit {
    RateLimit {
        name: name.to_string(),
        requests,
        per: sluice_model::Duration(per),
        scope: vec![LimitScope::Credential, LimitScope::Location],
        quota,
        shared: None,
    }
}

/// GHL's limits as `connectors/ghl-contacts.yaml` states them, under the name `ghl`.
fn ghl_like(daily: u64) -> RateLimits {
    let limits = [
        limit("burst", 100, Duration::from_secs(10), false),
        limit("daily", daily, DAY, true),
    ];
    match RateLimits::new().with_connector("ghl", &limits) {
        Ok(limits) => limits,
        Err(e) => panic!("{e}"),
    }
}

fn key(location: &str) -> LimitKey {
    LimitKey::new("ghl", "ghl_main", Some(location.to_string()))
}

async fn acquire(limits: &RateLimits, key: &LimitKey) {
    if let Err(e) = limits.acquire(key).await {
        panic!("acquire failed: {e}");
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

/// Asserts that no half-open window `[t, t + window)` holds more than `max` of `times`.
fn assert_no_window_exceeds(times: &mut [Duration], window: Duration, max: usize) {
    times.sort();
    let mut end = 0;
    for start in 0..times.len() {
        while end < times.len() && times[end] < times[start] + window {
            end += 1;
        }
        assert!(
            end - start <= max,
            "{} requests in the window starting at {:?} (max {max})",
            end - start,
            times[start]
        );
    }
}

/// 1,000 calls on 100 per 10 s: a sliding-window log lets each window's 100 go at once, so the
/// 1,000th call goes at 90 s (not the 99.9 s of evenly spaced calls), and never more than 100
/// fall in any 10 s window.
#[tokio::test(start_paused = true)]
async fn a_thousand_calls_on_100_per_10s_take_90_virtual_seconds() {
    let limits = ghl_like(200_000);
    let key = key("loc-a");
    let start = Instant::now();
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        acquire(&limits, &key).await;
        times.push(start.elapsed());
    }
    let elapsed = start.elapsed();
    println!("1,000 acquires took {elapsed:?} of virtual time");
    assert_eq!(elapsed, Duration::from_secs(90));
    assert_no_window_exceeds(&mut times, Duration::from_secs(10), 100);
}

/// The first 100 calls of a location go out at once: no wait while under budget. The 101st
/// waits exactly until the first leaves the window.
#[tokio::test(start_paused = true)]
async fn the_first_100_calls_go_out_without_waiting() {
    let limits = ghl_like(200_000);
    let key = key("loc-a");
    let start = Instant::now();
    for _ in 0..100 {
        acquire(&limits, &key).await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(limits.waits().0, 0, "no call waited");
    acquire(&limits, &key).await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(limits.waits(), (1, Duration::from_secs(10)));
}

/// Calls spread out in time are let through as soon as the window has room: a call at 9.5 s
/// after 99 at 0 s goes at once; the next waits only until the 0 s calls leave (10 s).
#[tokio::test(start_paused = true)]
async fn waits_only_as_long_as_the_window_says() {
    let limits = ghl_like(200_000);
    let key = key("loc-a");
    let start = Instant::now();
    for _ in 0..99 {
        acquire(&limits, &key).await;
    }
    tokio::time::sleep(Duration::from_millis(9_500)).await;
    acquire(&limits, &key).await;
    assert_eq!(start.elapsed(), Duration::from_millis(9_500));
    acquire(&limits, &key).await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

/// 300 tasks ask at once; the instants they are let through never put more than 100 into any
/// 10 s window, and all of them get through (the last 100 at 20 s).
#[tokio::test(start_paused = true)]
async fn three_hundred_concurrent_tasks_never_exceed_100_in_any_10s_window() {
    let limits = Arc::new(ghl_like(200_000));
    let start = Instant::now();
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let limits = Arc::clone(&limits);
            tokio::spawn(async move {
                acquire(&limits, &key("loc-a")).await;
                start.elapsed()
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.push(task.await.expect("task"));
    }
    assert_eq!(times.len(), 300);
    assert_no_window_exceeds(&mut times, Duration::from_secs(10), 100);
    assert_eq!(times.iter().max(), Some(&Duration::from_secs(20)));
}

/// Each location has its own budget (FACTS §6): a second location is not slowed by the first.
#[tokio::test(start_paused = true)]
async fn two_locations_have_independent_budgets() {
    let limits = Arc::new(ghl_like(200_000));
    let start = Instant::now();
    let a = {
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            for _ in 0..100 {
                acquire(&limits, &key("loc-a")).await;
            }
            start.elapsed()
        })
    };
    let b = {
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            for _ in 0..100 {
                acquire(&limits, &key("loc-b")).await;
            }
            start.elapsed()
        })
    };
    // Each location alone: its 100 calls fit its window at once. Shared, the second 100 would
    // wait 10 s.
    assert_eq!(a.await.expect("a"), Duration::ZERO);
    assert_eq!(b.await.expect("b"), Duration::ZERO);
    acquire(&limits, &key("loc-a")).await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));

    // A location whose budget is spent does not delay another one at all.
    let before = Instant::now();
    acquire(&limits, &key("loc-c")).await;
    assert_eq!(before.elapsed(), Duration::ZERO);
}

/// Credentials have their own budgets too, and a limit counted per credential only (IPinfo's
/// monthly quota) is shared by every location of that credential.
#[tokio::test(start_paused = true)]
async fn budgets_follow_each_limits_scope() {
    let per_credential = RateLimit {
        scope: vec![LimitScope::Credential],
        ..limit("monthly", 2, Duration::from_secs(30 * 24 * 60 * 60), true)
    };
    let limits = RateLimits::new()
        .with_connector("ipinfo", &[per_credential])
        .expect("limits");
    let at = |credential: &str, location: &str| {
        LimitKey::new("ipinfo", credential, Some(location.to_string()))
    };
    acquire(&limits, &at("one", "x")).await;
    acquire(&limits, &at("one", "y")).await;
    // Two calls spent credential `one`'s quota, whatever the location.
    assert!(matches!(
        limits.acquire(&at("one", "z")).await,
        Err(LimitError::QuotaExhausted { .. })
    ));
    // Another credential has its own.
    acquire(&limits, &at("two", "x")).await;
}

/// A spent quota fails at once (no virtual time passes) with a clear error and `resets_in`,
/// and lets calls through again once its window has passed.
#[tokio::test(start_paused = true)]
async fn a_spent_daily_quota_errors_at_once_with_resets_in() {
    let limits = ghl_like(3);
    let key = key("loc-a");
    for _ in 0..3 {
        acquire(&limits, &key).await;
    }
    let before = Instant::now();
    let error = limits.acquire(&key).await.expect_err("the quota is spent");
    assert_eq!(before.elapsed(), Duration::ZERO, "failed without waiting");
    let LimitError::QuotaExhausted { limit, resets_in } = error.clone();
    assert_eq!(limit, "ghl/daily");
    // The first call leaves the count one day later, plus at most one counting slot (1/100).
    assert!(
        resets_in > DAY - Duration::from_secs(1) && resets_in <= DAY + DAY / 100,
        "resets_in = {resets_in:?}"
    );
    let message = error.to_string();
    assert!(message.contains("`ghl/daily` quota is spent"), "{message}");

    tokio::time::advance(resets_in).await;
    acquire(&limits, &key).await;
}

/// `X-RateLimit-Remaining: 0` makes the next call wait `X-RateLimit-Interval-Milliseconds`,
/// though Sluice's own count would let it through; a positive Remaining changes nothing.
#[tokio::test(start_paused = true)]
async fn remaining_zero_delays_the_next_acquire_by_the_interval() {
    let limits = ghl_like(200_000);
    let key = key("loc-a");
    acquire(&limits, &key).await;
    tokio::time::advance(Duration::from_secs(1)).await;

    limits.observe(
        &key,
        200,
        &headers(&[
            ("X-RateLimit-Remaining", "5"),
            ("X-RateLimit-Max", "100"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
        ]),
    );
    let before = Instant::now();
    acquire(&limits, &key).await;
    assert_eq!(before.elapsed(), Duration::ZERO);

    tokio::time::advance(Duration::from_secs(1)).await;
    limits.observe(
        &key,
        200,
        &headers(&[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Max", "100"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
            ("X-RateLimit-Daily-Remaining", "199000"),
        ]),
    );
    let before = Instant::now();
    acquire(&limits, &key).await;
    // The window was first seen (Remaining 5) one second earlier: the pause ends 10 s after that.
    assert_eq!(before.elapsed(), Duration::from_secs(9));
    // Another location is not paused.
    let before = Instant::now();
    acquire(&limits, &self::key("loc-b")).await;
    assert_eq!(before.elapsed(), Duration::ZERO);
}

/// A 429 pauses the key for `Retry-After`, or for the interval when there is none.
#[tokio::test(start_paused = true)]
async fn a_429_pauses_for_retry_after_or_the_interval() {
    let limits = ghl_like(200_000);
    let key = key("loc-a");
    limits.observe(&key, 429, &headers(&[("Retry-After", "3")]));
    let before = Instant::now();
    acquire(&limits, &key).await;
    assert_eq!(before.elapsed(), Duration::from_secs(3));

    limits.observe(
        &key,
        429,
        &headers(&[("X-RateLimit-Interval-Milliseconds", "2500")]),
    );
    let before = Instant::now();
    acquire(&limits, &key).await;
    assert_eq!(before.elapsed(), Duration::from_millis(2500));

    // No header at all: the connector's burst window.
    limits.observe(&key, 429, &HeaderMap::new());
    let before = Instant::now();
    acquire(&limits, &key).await;
    assert_eq!(before.elapsed(), Duration::from_secs(10));
}

/// `X-RateLimit-Daily-Remaining: 0` makes later calls fail at once, until the reset the API
/// states (`X-RateLimit-Daily-Reset`, ms) or, without one, for the connector's quota window.
#[tokio::test(start_paused = true)]
async fn daily_remaining_zero_exhausts_the_quota() {
    let limits = ghl_like(200_000);
    let key = key("loc-a");
    limits.observe(
        &key,
        429,
        &headers(&[
            ("X-RateLimit-Daily-Remaining", "0"),
            ("X-RateLimit-Daily-Reset", "60000"),
        ]),
    );
    let before = Instant::now();
    match limits.acquire(&key).await {
        Err(LimitError::QuotaExhausted { limit, resets_in }) => {
            assert_eq!(limit, "ghl/daily");
            assert_eq!(resets_in, Duration::from_secs(60));
        }
        other => panic!("expected a spent quota, got {other:?}"),
    }
    assert_eq!(before.elapsed(), Duration::ZERO);
    tokio::time::advance(Duration::from_secs(60)).await;
    acquire(&limits, &key).await;

    let other = self::key("loc-b");
    limits.observe(
        &other,
        200,
        &headers(&[("X-RateLimit-Daily-Remaining", "0")]),
    );
    match limits.acquire(&other).await {
        Err(LimitError::QuotaExhausted { resets_in, .. }) => assert_eq!(resets_in, DAY),
        other => panic!("expected a spent quota, got {other:?}"),
    }
}

/// The built-in GHL connector's limits load and apply: the 101st call of a location within
/// 10 s waits; a connector without limits never waits.
#[tokio::test(start_paused = true)]
async fn builtin_catalog_limits_apply() {
    let catalog = builtin_catalog().expect("catalog");
    let limits = RateLimits::from_catalog(&catalog).expect("limits");
    let ghl = LimitKey::new("ghl-contacts", "ghl_main", Some("loc".to_string()));
    let start = Instant::now();
    for _ in 0..101 {
        acquire(&limits, &ghl).await;
    }
    assert_eq!(start.elapsed(), Duration::from_secs(10));

    let unknown = LimitKey::new("no-limits", "c", None);
    let start = Instant::now();
    for _ in 0..1000 {
        acquire(&limits, &unknown).await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// Limits that cannot be enforced are refused when the limits are built, naming both.
#[test]
fn unusable_limits_are_refused() {
    let error = RateLimits::new()
        .with_connector("x", &[limit("burst", 0, Duration::from_secs(1), false)])
        .expect_err("zero requests");
    assert_eq!(
        error.to_string(),
        "connector `x`: rate limit `burst` cannot be enforced: `requests` must be at least 1"
    );
    assert!(
        RateLimits::new()
            .with_connector("x", &[limit("burst", 1, Duration::ZERO, false)])
            .is_err()
    );
}

/// A small limit: 3 per 10 s never lets a 4th call into any 10 s window.
#[tokio::test(start_paused = true)]
async fn three_per_10s_never_lets_a_fourth_into_a_window() {
    let limits = RateLimits::new()
        .with_connector("x", &[limit("burst", 3, Duration::from_secs(10), false)])
        .expect("limits");
    let key = LimitKey::new("x", "c", None);
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..30 {
        acquire(&limits, &key).await;
        times.push(start.elapsed());
    }
    assert_no_window_exceeds(&mut times, Duration::from_secs(10), 3);
    assert_eq!(times.last(), Some(&Duration::from_secs(90)));
}

/// A budget kept outside the process, as the run store keeps it for a fleet of runners: one
/// sliding-window log per budget name, here in memory.
#[derive(Debug, Default)]
struct SharedLog {
    logs: parking_lot::Mutex<std::collections::HashMap<String, Vec<Instant>>>,
    paused: parking_lot::Mutex<std::collections::HashMap<String, Instant>>,
    claims: std::sync::atomic::AtomicUsize,
}

impl sluice_connectors::ratelimit::FleetBudget for SharedLog {
    fn claim<'a>(
        &'a self,
        budget: &'a str,
        requests: u64,
        per: Duration,
    ) -> sluice_connectors::ratelimit::Claim<'a> {
        Box::pin(async move {
            self.claims
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let now = Instant::now();
            if let Some(until) = self.paused.lock().get(budget).filter(|u| **u > now) {
                return Ok(Err(*until - now));
            }
            let mut logs = self.logs.lock();
            let log = logs.entry(budget.to_string()).or_default();
            log.retain(|t| *t + per > now);
            if (log.len() as u64) < requests {
                log.push(now);
                Ok(Ok(()))
            } else {
                Ok(Err(log[0] + per - now))
            }
        })
    }

    fn pause<'a>(
        &'a self,
        budget: &'a str,
        pause: Duration,
    ) -> sluice_connectors::ratelimit::PauseFuture<'a> {
        Box::pin(async move {
            let until = Instant::now() + pause;
            let mut paused = self.paused.lock();
            let at = paused.entry(budget.to_string()).or_insert(until);
            *at = (*at).max(until);
            Ok(())
        })
    }
}

/// One process's limits (GHL's), sharing `fleet` with the others.
fn runner_of(fleet: &Arc<SharedLog>) -> Arc<RateLimits> {
    let mut limits = ghl_like(200_000);
    limits.share_with(fleet.clone());
    Arc::new(limits)
}

/// A 429 one process is answered pauses the budget for every process sharing it: the other
/// limiter, which saw no 429, lets its next call through only when the `Retry-After` of the
/// first has passed; a later, shorter pause does not end it sooner; another location is not
/// paused; a spent `X-RateLimit-Remaining` is shared the same way.
#[tokio::test(start_paused = true)]
async fn a_429_seen_by_one_process_pauses_every_process_sharing_the_budget() {
    let fleet = Arc::new(SharedLog::default());
    let (one, two) = (runner_of(&fleet), runner_of(&fleet));
    let start = Instant::now();
    acquire(&one, &key("loc-a")).await;
    one.observe(&key("loc-a"), 429, &headers(&[("Retry-After", "4")]));
    // The pause reaches the fleet in the background.
    tokio::time::sleep(Duration::from_millis(1)).await;
    one.observe(&key("loc-a"), 429, &headers(&[("Retry-After", "1")]));
    tokio::time::sleep(Duration::from_millis(1)).await;
    acquire(&two, &key("loc-b")).await;
    assert!(
        start.elapsed() < Duration::from_millis(10),
        "loc-b is not paused"
    );
    acquire(&two, &key("loc-a")).await;
    assert_eq!(start.elapsed(), Duration::from_secs(4));
    // A spent window (`X-RateLimit-Remaining: 0`) is the location's too.
    one.observe(
        &key("loc-c"),
        200,
        &headers(&[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
        ]),
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut paused: Vec<String> = fleet.paused.lock().keys().cloned().collect();
    paused.sort();
    assert_eq!(
        paused,
        vec![
            "ghl/burst|ghl_main|loc-a".to_string(),
            "ghl/burst|ghl_main|loc-c".to_string()
        ]
    );
}

/// Two processes' limiters sharing one budget (two `RateLimits` with one fleet budget): 300
/// calls between them never put more than 100 into any 10 s window, and the budget is named
/// by the limit and its scope.
#[tokio::test(start_paused = true)]
async fn limiters_sharing_a_fleet_budget_stay_within_it_together() {
    let fleet = Arc::new(SharedLog::default());
    let (one, two) = (runner_of(&fleet), runner_of(&fleet));
    let start = Instant::now();
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let limits = if i % 2 == 0 { one.clone() } else { two.clone() };
            tokio::spawn(async move {
                acquire(&limits, &key("loc-a")).await;
                start.elapsed()
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.push(task.await.expect("task"));
    }
    assert_no_window_exceeds(&mut times, Duration::from_secs(10), 100);
    // The fleet counts a permit for its window plus 1/50 (10.2 s): the third 100 at 20.4 s.
    assert_eq!(times.iter().max(), Some(&Duration::from_millis(20_400)));
    let names: Vec<String> = fleet.logs.lock().keys().cloned().collect();
    assert_eq!(names, vec!["ghl/burst|ghl_main|loc-a".to_string()]);
    // Alone, each would have let its 150 through in 10 s.
    assert!(fleet.claims.load(std::sync::atomic::Ordering::SeqCst) >= 300);
}

/// GHL counts its limits per app and location whichever of its APIs is called: connectors whose
/// limits say `shared: ghl` spend one budget per location, and a 429 of one pauses the others.
#[tokio::test(start_paused = true)]
async fn shared_limits_are_one_budget_across_connectors() {
    let shared = |daily: u64| {
        [
            RateLimit {
                shared: Some("ghl".into()),
                ..limit("burst", 100, Duration::from_secs(10), false)
            },
            RateLimit {
                shared: Some("ghl".into()),
                ..limit("daily", daily, DAY, true)
            },
        ]
    };
    let limits = RateLimits::new()
        .with_connector("ghl-contacts", &shared(3))
        .and_then(|l| l.with_connector("ghl-users", &shared(3)))
        .expect("limits");
    let key = |connector: &str, location: &str| {
        LimitKey::new(connector, "app", Some(location.to_string()))
    };
    acquire(&limits, &key("ghl-contacts", "loc1")).await;
    acquire(&limits, &key("ghl-users", "loc1")).await;
    acquire(&limits, &key("ghl-contacts", "loc1")).await;
    match limits.acquire(&key("ghl-users", "loc1")).await {
        Err(LimitError::QuotaExhausted { limit, .. }) => assert_eq!(limit, "ghl/daily"),
        other => panic!("the shared daily quota should be spent, got {other:?}"),
    }
    // Another location has its own budget.
    acquire(&limits, &key("ghl-users", "loc2")).await;

    // A 429 from one connector pauses the other at the same location.
    let limits = RateLimits::new()
        .with_connector("ghl-contacts", &shared(1000))
        .and_then(|l| l.with_connector("ghl-users", &shared(1000)))
        .expect("limits");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("retry-after", "5".parse().expect("header"));
    limits.observe(&key("ghl-contacts", "loc1"), 429, &headers);
    let start = Instant::now();
    acquire(&limits, &key("ghl-users", "loc1")).await;
    assert!(
        start.elapsed() >= Duration::from_secs(5),
        "waited {:?}",
        start.elapsed()
    );

    // Connectors that say `shared: ghl` must state the same limits.
    let err = RateLimits::new()
        .with_connector("ghl-contacts", &shared(1000))
        .and_then(|l| l.with_connector("ghl-users", &shared(5)))
        .expect_err("different shared limits");
    assert!(err.reason.contains("shared: ghl"), "{err}");
}

/// The built-in GHL connectors share one budget; IPinfo has its own.
#[tokio::test(start_paused = true)]
async fn builtin_ghl_connectors_share_their_budget() {
    let catalog = sluice_connectors::builtin_catalog().expect("catalog");
    let ghl: Vec<&str> = catalog.names().filter(|n| n.starts_with("ghl-")).collect();
    assert_eq!(ghl.len(), 7, "{ghl:?}");
    for name in &ghl {
        let connector = catalog.get(name).expect("connector");
        assert!(
            connector
                .rate_limits
                .iter()
                .all(|l| l.shared.as_deref() == Some("ghl")),
            "{name} does not share the ghl budget"
        );
    }
    RateLimits::from_catalog(&catalog).expect("the built-in limits agree");
}
