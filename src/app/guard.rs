//! Admission state shared by every request of one instance: whether the
//! database answered its last health check, a per-key request-rate limit, and
//! a short-lived cache of API-key rows.
//!
//! The key cache saves one database round trip per call (on a point read
//! such as `GetDisclosure`, half of them). It holds only keys that were valid
//! when read, for `key_cache_ttl` (default 1 s): a key revoked with
//! `gongshi keys revoke` stops working on every instance within that time.
//! The secret is still checked against the stored hash on every call, and
//! expiry against the clock.
//!
//! Both are per instance (in memory). The database flag lets requests fail
//! fast with `UNAVAILABLE` while the database is known to be down, instead of
//! each one waiting out the pool's acquire timeout. The rate limit is a token
//! bucket per API key id: `rate` requests per second on average, bursts up to
//! `burst`; N instances behind a balancer allow up to N× the rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::store::KeyRow;

/// Per-key request-rate limit. `rate_per_second == 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyRate {
    /// Sustained requests per second per key.
    pub rate_per_second: f64,
    /// Requests a key may make at once after being idle.
    pub burst: u32,
}

impl KeyRate {
    /// No limit.
    pub const OFF: KeyRate = KeyRate {
        rate_per_second: 0.0,
        burst: 0,
    };
}

impl Default for KeyRate {
    /// 100 requests per second per key, bursts of 1000: far above what a
    /// puller or the portal needs, low enough that one runaway client cannot
    /// take the instance's whole capacity.
    fn default() -> Self {
        KeyRate {
            rate_per_second: 100.0,
            burst: 1000,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Admission state of one instance.
#[derive(Debug)]
pub struct Guard {
    db_up: AtomicBool,
    rate: Mutex<KeyRate>,
    buckets: Mutex<HashMap<String, Bucket>>,
    key_ttl: Mutex<Duration>,
    keys: Mutex<HashMap<String, (KeyRow, Instant)>>,
}

/// Default lifetime of a cached key row.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(1);

impl Default for Guard {
    fn default() -> Self {
        Guard {
            db_up: AtomicBool::new(true),
            rate: Mutex::new(KeyRate::default()),
            buckets: Mutex::new(HashMap::new()),
            key_ttl: Mutex::new(DEFAULT_KEY_CACHE_TTL),
            keys: Mutex::new(HashMap::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Guard {
    /// Whether the database answered the last health check.
    pub fn db_up(&self) -> bool {
        self.db_up.load(Ordering::Relaxed)
    }

    /// Records the outcome of a database health check; returns whether it
    /// changed.
    pub fn set_db_up(&self, up: bool) -> bool {
        self.db_up.swap(up, Ordering::Relaxed) != up
    }

    /// Sets the per-key rate limit (and forgets the buckets).
    pub fn set_key_rate(&self, rate: KeyRate) {
        *lock(&self.rate) = rate;
        lock(&self.buckets).clear();
    }

    /// The per-key rate limit in force.
    pub fn key_rate(&self) -> KeyRate {
        *lock(&self.rate)
    }

    /// Sets how long a key row is cached (zero turns the cache off).
    pub fn set_key_cache_ttl(&self, ttl: Duration) {
        *lock(&self.key_ttl) = ttl;
        lock(&self.keys).clear();
    }

    /// A key row read less than the cache lifetime ago.
    pub fn cached_key(&self, id: &str) -> Option<KeyRow> {
        let ttl = *lock(&self.key_ttl);
        let keys = lock(&self.keys);
        match keys.get(id) {
            Some((row, at)) if at.elapsed() < ttl => Some(row.clone()),
            _ => None,
        }
    }

    /// Remembers a key row that was valid when read.
    pub fn cache_key(&self, row: &KeyRow) {
        if lock(&self.key_ttl).is_zero() {
            return;
        }
        let now = Instant::now();
        let mut keys = lock(&self.keys);
        if keys.len() >= 10_000 {
            let ttl = *lock(&self.key_ttl);
            keys.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
        }
        keys.insert(row.id.clone(), (row.clone(), now));
    }

    /// Forgets a key (after this instance revoked it).
    pub fn forget_key(&self, id: &str) {
        lock(&self.keys).remove(id);
    }

    /// Counts one request of `key_id`; `Err(wait)` when the key is over its
    /// rate, `wait` being when the next request would be admitted.
    pub fn admit(&self, key_id: &str) -> Result<(), Duration> {
        self.admit_at(key_id, Instant::now())
    }

    fn admit_at(&self, key_id: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.key_rate();
        if rate.rate_per_second <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(rate.burst.max(1));
        let mut buckets = lock(&self.buckets);
        if buckets.len() > 100_000 {
            // Keys idle long enough to have refilled carry no state worth keeping.
            let full = Duration::from_secs_f64(burst / rate.rate_per_second);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full);
        }
        let b = buckets
            .entry(key_id.to_string())
            .or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate.rate_per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate.rate_per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let g = Guard::default();
        g.set_key_rate(KeyRate {
            rate_per_second: 10.0,
            burst: 5,
        });
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(g.admit_at("a", t0).is_ok());
        }
        let wait = g.admit_at("a", t0).expect_err("over the burst");
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // Another key has its own bucket.
        assert!(g.admit_at("b", t0).is_ok());
        // 100 ms later one more request is admitted, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert!(g.admit_at("a", t1).is_ok());
        assert!(g.admit_at("a", t1).is_err());
    }

    #[test]
    fn zero_rate_is_off_and_db_flag_reports_changes() {
        let g = Guard::default();
        g.set_key_rate(KeyRate::OFF);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(g.admit_at("a", t0).is_ok());
        }
        assert!(g.db_up());
        assert!(g.set_db_up(false));
        assert!(!g.set_db_up(false));
        assert!(!g.db_up());
        assert!(g.set_db_up(true));
    }
}
