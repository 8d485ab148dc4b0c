//! The read cache: answers of operations marked `cacheable`, kept for a while per credential
//! and keyed by the rendered request, so the same read in a burst of runs is sent once.
//! Expiry follows tokio's clock (virtual in paused tests); the size is bounded.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A rendered request: who asks, and exactly what.
///
/// Two requests share a cached answer only when all four parts are equal, so answers never
/// cross credentials (nor the locations a URL names).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    credential: String,
    method: String,
    url: String,
    body: Vec<u8>,
}

impl CacheKey {
    /// The key of a request: the credential's name, the method, the full URL (with its query)
    /// and the body (empty for none).
    #[must_use]
    pub fn new(credential: &str, method: &str, url: &str, body: &[u8]) -> Self {
        Self {
            credential: credential.to_string(),
            method: method.to_ascii_uppercase(),
            url: url.to_string(),
            body: body.to_vec(),
        }
    }

    /// The credential's name.
    #[must_use]
    pub fn credential(&self) -> &str {
        &self.credential
    }
}

impl fmt::Debug for CacheKey {
    // The URL may carry a query token (IPinfo); the body may carry anything: neither is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheKey")
            .field("credential", &self.credential)
            .field("method", &self.method)
            .field("url_len", &self.url.len())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A cached answer and when it goes stale.
struct Entry<V> {
    expires: Instant,
    value: Arc<V>,
}

impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Self {
            expires: self.expires,
            value: Arc::clone(&self.value),
        }
    }
}

/// An in-memory cache of answers, each kept for `ttl`, at most `capacity` of them (the least
/// useful are evicted first, by `quick_cache`'s CLOCK-Pro policy).
///
/// `V` is whatever the executor keeps of an answer (status and JSON body, say); it is shared,
/// not copied, on a hit.
pub struct ReadCache<V> {
    entries: quick_cache::sync::Cache<CacheKey, Entry<V>>,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V> fmt::Debug for ReadCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadCache")
            .field("len", &self.entries.len())
            .field("ttl", &self.ttl)
            .field("hits", &self.hits.load(Ordering::Relaxed))
            .field("misses", &self.misses.load(Ordering::Relaxed))
            .finish()
    }
}

impl<V: Send + Sync + 'static> ReadCache<V> {
    /// A cache of at most `capacity` answers (at least 1), each fresh for `ttl`.
    #[must_use]
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The fresh answer to this request, if one is cached; counts a hit or a miss.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<V>> {
        let now = Instant::now();
        match self.entries.get(key) {
            Some(entry) if entry.expires > now => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(entry.value)
            }
            Some(_) => {
                self.entries.remove_if(key, |entry| entry.expires <= now);
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Keeps an answer for `ttl` from now, replacing any older one; returns it, shared.
    pub fn insert(&self, key: CacheKey, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if !self.ttl.is_zero() {
            let entry = Entry {
                expires: Instant::now() + self.ttl,
                value: Arc::clone(&value),
            };
            self.entries.insert(key, entry);
        }
        value
    }

    /// Forgets one request's answer.
    pub fn remove(&self, key: &CacheKey) {
        self.entries.remove(key);
    }

    /// Forgets every answer of a credential, e.g. after it wrote.
    pub fn invalidate_credential(&self, credential: &str) {
        self.entries.retain(|key, _| key.credential != credential);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// How many `get`s found a fresh answer.
    #[must_use]
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many `get`s did not.
    #[must_use]
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// How many answers are kept (stale ones included until they are evicted or read).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no answer is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How long an answer stays fresh.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}
