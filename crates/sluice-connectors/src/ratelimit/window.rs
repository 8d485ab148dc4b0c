//! The two counters of a rate limit's budget, on tokio's clock: a sliding-window log (a rate
//! limit: a burst goes at once, no window ever holds more) and a count in slots (a quota:
//! spent means fail, not wait).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Quota windows are counted in this many slots (plus the current one): the count never
/// lets more than `requests` through in any window of `per`, and a spent quota frees up at
/// most `per / QUOTA_SLOTS` later than an exact sliding log would (14.4 minutes of a day).
const QUOTA_SLOTS: u64 = 100;

/// A sliding-window log: the instants of the requests of the last window. A request is let
/// through when fewer than `limit` were let through in the window ending now, so a burst of
/// `limit` goes at once and no window of `per` ever holds more than `limit`.
#[derive(Debug)]
pub(super) struct WindowLog {
    limit: usize,
    per: Duration,
    /// Oldest first; at most `limit` instants, none older than `per`.
    sent: VecDeque<Instant>,
}

impl WindowLog {
    pub(super) fn new(limit: u64, per: Duration) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            per,
            sent: VecDeque::new(),
        }
    }

    /// Counts one request at `now`, or says how long until one is allowed.
    pub(super) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        // An instant `t` is counted in every window `(now - per, now]` with `t > now - per`.
        while let Some(&t) = self.sent.front() {
            if t.checked_add(self.per).is_some_and(|end| end <= now) {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        if self.sent.len() < self.limit {
            self.sent.push_back(now);
            return Ok(());
        }
        let oldest = self.sent.front().copied().unwrap_or(now);
        let free_at = oldest.checked_add(self.per).unwrap_or(now);
        Err(free_at.saturating_duration_since(now))
    }
}

/// Requests counted in slots of `per / QUOTA_SLOTS`: a request is allowed when the slots of
/// the last window (and the current slot) hold fewer than `limit`.
#[derive(Debug)]
pub(super) struct SlidingCount {
    limit: u64,
    slot: Duration,
    origin: Instant,
    /// `(slot index, requests)`, oldest first, only slots still counted.
    slots: VecDeque<(u64, u64)>,
    total: u64,
}

impl SlidingCount {
    pub(super) fn new(limit: u64, per: Duration, origin: Instant) -> Self {
        let slot = per / u32::try_from(QUOTA_SLOTS).unwrap_or(u32::MAX);
        Self {
            limit,
            slot: slot.max(Duration::from_nanos(1)),
            origin,
            slots: VecDeque::new(),
            total: 0,
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.slot.as_nanos()).unwrap_or(u64::MAX)
    }

    /// When the slot `index` stops being counted.
    fn expiry(&self, index: u64) -> Instant {
        let nanos = self.slot.as_nanos() * u128::from(index.saturating_add(QUOTA_SLOTS + 1));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.origin.checked_add(offset).unwrap_or(self.origin)
    }

    fn prune(&mut self, now: Instant) {
        let current = self.index(now);
        while let Some(&(index, count)) = self.slots.front() {
            if index.saturating_add(QUOTA_SLOTS) >= current {
                break;
            }
            self.total -= count;
            self.slots.pop_front();
        }
    }

    /// `None` when one more request is allowed, else how long until it is.
    pub(super) fn spent_for(&mut self, now: Instant) -> Option<Duration> {
        self.prune(now);
        if self.total < self.limit {
            return None;
        }
        let must_free = self.total - self.limit + 1;
        let mut freed = 0;
        for &(index, count) in &self.slots {
            freed += count;
            if freed >= must_free {
                return Some(self.expiry(index).saturating_duration_since(now));
            }
        }
        // Unreachable while `total` is the sum of the slots; a full window is the safe answer.
        Some(self.slot * u32::try_from(QUOTA_SLOTS + 1).unwrap_or(u32::MAX))
    }

    /// Counts one request, or says how long until one is allowed.
    pub(super) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(wait) = self.spent_for(now) {
            return Err(wait);
        }
        let current = self.index(now);
        match self.slots.back_mut() {
            Some((index, count)) if *index == current => *count += 1,
            _ => self.slots.push_back((current, 1)),
        }
        self.total += 1;
        Ok(())
    }
}
