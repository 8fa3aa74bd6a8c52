//! Requests per token: a token bucket per token hash, in memory.
//!
//! Each token may make `per_minute` requests in a burst, then one every `60 / per_minute`
//! seconds. A request beyond is answered 429 with `Retry-After`; the agent keeps the report
//! and sends it again after that delay. The table is bounded: when it is full, buckets that
//! have refilled (their tokens idle for a minute) are forgotten, which changes nothing for
//! them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept at most; far more than a sector's agents and viewers.
const MAX_BUCKETS: usize = 100_000;

/// A token-bucket limiter keyed by token hash.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_minute` requests per minute per token, as a burst of that size; at least 1.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket at `now`; `Err(wait)` when it is empty, with
    /// how long until a request is allowed again.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| {
                b.available + now.saturating_duration_since(b.updated).as_secs_f64() * per_second
                    < capacity
            });
            if buckets.len() >= MAX_BUCKETS {
                // Every bucket is in use: refuse newcomers for a second rather than grow.
                return Err(Duration::from_secs(1));
            }
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            available: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.available = (bucket.available + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.available >= 1.0 {
            bucket.available -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.available) / per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate_per_key() {
        let limiter = RateLimiter::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a", start).is_ok());
        }
        let wait = limiter.check("a", start).unwrap_err();
        // 3 per minute: one every 20 s.
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(
            limiter.check("b", start).is_ok(),
            "another token has its own bucket"
        );
        assert!(limiter.check("a", start + Duration::from_secs(20)).is_ok());
        assert!(limiter.check("a", start + Duration::from_secs(21)).is_err());
    }
}
