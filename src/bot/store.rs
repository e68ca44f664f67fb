//! Shared state for duplicate suppression: "claim this key once" and "count within a window".
//!
//! In memory by default. The trait exists so several replicas can share the same state through
//! Redis (see `IMDSBOT_REDIS_URL`); the adapters only ever see `dyn Store`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A boxed future, so the trait stays object safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Keys with an expiry. Errors are the store's problem: an unreachable store answers
/// "first" for `claim` (better one duplicate than a lost answer) and logs.
pub trait Store: Send + Sync + 'static {
    /// Marks `key` as taken for `ttl`. Returns true for the first caller only.
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;
    /// Adds one to the counter `key` (created with `ttl` when absent) and returns the new value.
    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, u64>;
    /// Releases a claim (when the work it guarded failed before producing anything).
    fn release<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
    /// Short name for logs and metrics.
    fn kind(&self) -> &'static str;
}

/// Entries kept before expired ones are swept.
const SWEEP_EVERY: usize = 4096;

/// The in-memory store: one process, no sharing.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, (Instant, u64)>,
    inserts: usize,
}

impl Inner {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (Instant, u64)> {
        let expired = self.entries.get(key).is_some_and(|(exp, _)| *exp <= now);
        if expired {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: (Instant, u64), now: Instant) {
        self.inserts += 1;
        if self.inserts.is_multiple_of(SWEEP_EVERY) {
            self.entries.retain(|_, (exp, _)| *exp > now);
        }
        self.entries.insert(key.to_string(), value);
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, Instant) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner, Instant::now())
    }
}

impl Store for MemoryStore {
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        let first = self.with(|inner, now| {
            if inner.live(key, now).is_some() {
                false
            } else {
                inner.insert(key, (now + ttl, 1), now);
                true
            }
        });
        Box::pin(std::future::ready(first))
    }

    fn incr<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, u64> {
        let n = self.with(|inner, now| {
            if let Some(entry) = inner.live(key, now) {
                entry.1 += 1;
                entry.1
            } else {
                inner.insert(key, (now + ttl, 1), now);
                1
            }
        });
        Box::pin(std::future::ready(n))
    }

    fn release<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.with(|inner, _| inner.entries.remove(key));
        Box::pin(std::future::ready(()))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_once_until_expiry() {
        let s = MemoryStore::new();
        assert!(s.claim("a", Duration::from_millis(30)).await);
        assert!(!s.claim("a", Duration::from_millis(30)).await);
        assert!(s.claim("b", Duration::from_secs(5)).await);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(s.claim("a", Duration::from_secs(5)).await);
        s.release("a").await;
        assert!(s.claim("a", Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn counts_within_window() {
        let s = MemoryStore::new();
        assert_eq!(s.incr("c", Duration::from_secs(5)).await, 1);
        assert_eq!(s.incr("c", Duration::from_secs(5)).await, 2);
        assert_eq!(s.incr("d", Duration::from_secs(5)).await, 1);
    }
}
