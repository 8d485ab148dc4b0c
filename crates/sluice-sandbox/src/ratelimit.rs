//! GHL's rate limits (FACTS §6): a burst window and a daily quota per key (token or OAuth
//! app, and location), as fixed windows that start at a key's first request, timed with
//! tokio's clock so tests with a paused clock can move time.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use crate::config::RateLimitConfig;

/// A fixed window: when it started and how many requests it has let through.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    used: u32,
}

impl Window {
    /// The window in force at `now` (a fresh one once `len` has passed).
    fn current(slot: &mut Option<Window>, now: Instant, len: Duration) -> &mut Window {
        let expired = slot.is_none_or(|w| now.duration_since(w.start) >= len);
        if expired {
            *slot = Some(Window {
                start: now,
                used: 0,
            });
        }
        slot.get_or_insert(Window {
            start: now,
            used: 0,
        })
    }

    fn left(&self, now: Instant, len: Duration) -> Duration {
        len.saturating_sub(now.duration_since(self.start))
    }
}

#[derive(Debug, Default)]
struct Bucket {
    burst: Option<Window>,
    daily: Option<Window>,
}

/// What the `X-RateLimit-*` headers say after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub(crate) limit_daily: u32,
    pub(crate) daily_remaining: u32,
    pub(crate) interval_ms: u128,
    pub(crate) max: u32,
    pub(crate) remaining: u32,
    /// Seconds to wait, for a refused request.
    pub(crate) retry_after: Option<u64>,
}

impl RateInfo {
    /// Adds the five `X-RateLimit-*` headers (FACTS §6), and `Retry-After` when refused.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        let pairs: [(&str, String); 5] = [
            ("x-ratelimit-limit-daily", self.limit_daily.to_string()),
            (
                "x-ratelimit-daily-remaining",
                self.daily_remaining.to_string(),
            ),
            (
                "x-ratelimit-interval-milliseconds",
                self.interval_ms.to_string(),
            ),
            ("x-ratelimit-max", self.max.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        if let Some(secs) = self.retry_after {
            headers.insert("retry-after", HeaderValue::from(secs));
        }
    }
}

/// The limiter of a sandbox.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimitConfig,
    buckets: HashMap<String, Bucket>,
}

impl Limiter {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: HashMap::new(),
        }
    }

    pub(crate) fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Counts a request of `key` at `now`: `Ok` with the headers when allowed, `Err` with
    /// the headers (and `retry_after`) when over a limit. A refused request is not counted.
    pub(crate) fn check(&mut self, key: &str, now: Instant) -> Result<RateInfo, RateInfo> {
        let c = &self.config;
        let bucket = self.buckets.entry(key.to_owned()).or_default();
        let daily = *Window::current(&mut bucket.daily, now, c.daily_window);
        let burst = *Window::current(&mut bucket.burst, now, c.burst_window);
        let info = |daily_used: u32, burst_used: u32, retry: Option<Duration>| RateInfo {
            limit_daily: c.daily,
            daily_remaining: c.daily.saturating_sub(daily_used),
            interval_ms: c.burst_window.as_millis(),
            max: c.burst,
            remaining: c.burst.saturating_sub(burst_used),
            retry_after: retry.map(ceil_secs),
        };
        if daily.used >= c.daily {
            return Err(info(
                daily.used,
                burst.used,
                Some(daily.left(now, c.daily_window)),
            ));
        }
        if burst.used >= c.burst {
            return Err(info(
                daily.used,
                burst.used,
                Some(burst.left(now, c.burst_window)),
            ));
        }
        if let Some(w) = bucket.daily.as_mut() {
            w.used += 1;
        }
        if let Some(w) = bucket.burst.as_mut() {
            w.used += 1;
        }
        Ok(info(daily.used + 1, burst.used + 1, None))
    }

    /// Forgets every window.
    pub(crate) fn clear(&mut self) {
        self.buckets.clear();
    }
}

/// Whole seconds, rounded up, at least 1 (a `Retry-After` of 0 invites a busy loop).
fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limiter {
        Limiter::new(RateLimitConfig {
            burst: 2,
            burst_window: Duration::from_secs(10),
            daily: 3,
            daily_window: Duration::from_secs(100),
        })
    }

    #[test]
    fn burst_then_daily() {
        let mut l = small();
        let t0 = Instant::now();
        assert_eq!(l.check("k", t0).map(|i| i.remaining), Ok(1));
        assert_eq!(l.check("k", t0).map(|i| i.remaining), Ok(0));
        let refused = l.check("k", t0 + Duration::from_millis(2500));
        assert_eq!(refused.err().and_then(|i| i.retry_after), Some(8));
        // Another key has its own budget.
        assert!(l.check("other", t0).is_ok());
        // After the window: one more fits the daily quota, then the day is over.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(l.check("k", t1).map(|i| i.daily_remaining), Ok(0));
        let refused = l.check("k", t1);
        assert_eq!(refused.err().and_then(|i| i.retry_after), Some(90));
    }
}
