//! What the API's answers say about its limits: GHL's `X-RateLimit-*` headers and a 429's
//! `Retry-After` (seconds or an HTTP date).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// A header's value as a whole number, if it is one.
pub(super) fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` as seconds or as an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        // A number too large for u64, or with a fraction: as long as can be said.
        return value
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s.max(0.0)).ok())
            .or(Some(Duration::MAX));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// `X-RateLimit-Daily-Reset`: milliseconds until the daily quota resets (the official SDK's
/// `dailyResetMs`); a value that looks like a Unix time in milliseconds is read as one.
pub(super) fn daily_reset(headers: &HeaderMap) -> Option<Duration> {
    let ms = u64::try_from(header_i64(headers, "x-ratelimit-daily-reset")?).ok()?;
    const UNIX_MS_2001: u64 = 1_000_000_000_000;
    if ms >= UNIX_MS_2001 {
        let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
        return Some(at.duration_since(SystemTime::now()).unwrap_or_default());
    }
    Some(Duration::from_millis(ms))
}
