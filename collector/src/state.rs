//! What every request handler shares.

pub mod ratelimit;

use std::sync::Arc;
use std::time::Duration;

use self::ratelimit::RateLimiter;
use crate::metrics::{IngestMetrics, MetricsCache};
use crate::store::Store;

/// The default `--max-body-bytes`: 8 MiB, room for tens of thousands of findings.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The default `--body-timeout`: generous for a slow uplink with 8 MiB, short enough that
/// stalled connections do not pile up.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The default `--rate-limit`: requests per minute per token (an agent sends a report every
/// few hours; a backlog after an outage is paced by `Retry-After`).
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 120;

/// The per-request limits of [`AppState::with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The largest report body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// How long a client may take to send a report body (408 beyond).
    pub body_timeout: Duration,
    /// Requests per minute per token (429 beyond); `None` for no limit.
    pub rate_limit_per_minute: Option<u32>,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            rate_limit_per_minute: None,
        }
    }
}

/// The state behind the router: the store, the ingest counters and the request limits.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    ingest: IngestMetrics,
    metrics_cache: MetricsCache,
    max_body_bytes: usize,
    body_timeout: Duration,
    rate_limiter: Option<RateLimiter>,
}

impl AppState {
    /// State over `store`, refusing report bodies longer than `max_body_bytes` (HTTP 413).
    /// No rate limit and the default body timeout.
    pub fn new(store: Store, max_body_bytes: usize) -> AppState {
        AppState::with_limits(
            store,
            RequestLimits {
                max_body_bytes,
                ..RequestLimits::default()
            },
        )
    }

    /// State over `store` with every request limit given.
    pub fn with_limits(store: Store, limits: RequestLimits) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                ingest: IngestMetrics::default(),
                metrics_cache: MetricsCache::default(),
                max_body_bytes: limits.max_body_bytes,
                body_timeout: limits.body_timeout,
                rate_limiter: limits.rate_limit_per_minute.map(RateLimiter::new),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The ingest counters exported on `/metrics`.
    pub fn ingest_metrics(&self) -> &IngestMetrics {
        &self.inner.ingest
    }

    /// The rendered store part of `/metrics`, shared by scrapes until the data changes.
    pub fn metrics_cache(&self) -> &MetricsCache {
        &self.inner.metrics_cache
    }

    /// The largest report body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// How long a client may take to send a report body.
    pub fn body_timeout(&self) -> Duration {
        self.inner.body_timeout
    }

    /// The per-token limiter, if rate limiting is on.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.inner.rate_limiter.as_ref()
    }
}
