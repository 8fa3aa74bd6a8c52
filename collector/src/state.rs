//! What every request handler shares.

pub mod login_throttle;
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

/// The default `--max-findings`: a large organization's report has a few thousand.
pub const DEFAULT_MAX_FINDINGS: usize = 5_000;

/// The default `--max-targets`: distinct targets (endpoints, domains, hosts) in one report.
pub const DEFAULT_MAX_TARGETS: usize = 1_000;

/// The default `--org-storage-bytes`: stored report bodies per organization, 1 GiB (a report
/// of 2,000 findings is about 600 KB: several a day for a year of retention).
pub const DEFAULT_ORG_STORAGE_BYTES: u64 = 1024 * 1024 * 1024;

/// The default `--max-inflight-body-bytes`: report bodies held in memory at once, 256 MiB
/// (32 bodies of the largest size).
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 256 * 1024 * 1024;

/// The per-request limits of [`AppState::with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The largest report body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// How long a client may take to send a report body (408 beyond).
    pub body_timeout: Duration,
    /// Requests per minute per token (429 beyond); `None` for no limit.
    pub rate_limit_per_minute: Option<u32>,
    /// Findings and distinct targets in one report (413 beyond).
    pub report_limits: vigie_model::validate::ReportLimits,
    /// Stored report bytes per organization (429 beyond); `None` for no budget.
    pub org_storage_bytes: Option<u64>,
    /// Report body bytes held at once by all requests (503 beyond).
    pub max_inflight_body_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            rate_limit_per_minute: None,
            report_limits: vigie_model::validate::ReportLimits {
                max_findings: DEFAULT_MAX_FINDINGS,
                max_targets: DEFAULT_MAX_TARGETS,
            },
            org_storage_bytes: Some(DEFAULT_ORG_STORAGE_BYTES),
            max_inflight_body_bytes: DEFAULT_MAX_INFLIGHT_BODY_BYTES,
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
    listener_tls: std::sync::atomic::AtomicBool,
    max_body_bytes: usize,
    body_timeout: Duration,
    rate_limiter: Option<RateLimiter>,
    metrics_public: std::sync::atomic::AtomicBool,
    login_throttle: login_throttle::LoginThrottle,
    report_limits: vigie_model::validate::ReportLimits,
    org_storage_bytes: Option<u64>,
    inflight: BodyBudget,
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
                listener_tls: std::sync::atomic::AtomicBool::new(false),
                max_body_bytes: limits.max_body_bytes,
                body_timeout: limits.body_timeout,
                rate_limiter: limits.rate_limit_per_minute.map(RateLimiter::new),
                metrics_public: std::sync::atomic::AtomicBool::new(false),
                login_throttle: login_throttle::LoginThrottle::default(),
                report_limits: limits.report_limits,
                org_storage_bytes: limits.org_storage_bytes,
                inflight: BodyBudget::new(limits.max_inflight_body_bytes),
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

    /// Whether the listener speaks TLS (the web view's cookie is then `Secure`).
    pub fn listener_tls(&self) -> bool {
        self.inner
            .listener_tls
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Set by [`crate::server::serve_with`] from its options.
    pub fn set_listener_tls(&self, tls: bool) {
        self.inner
            .listener_tls
            .store(tls, std::sync::atomic::Ordering::Relaxed);
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

    /// Whether `/metrics` answers without a token (`--metrics-public`); off by default.
    pub fn metrics_public(&self) -> bool {
        self.inner
            .metrics_public
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Serve `/metrics` without a token (or stop doing so).
    pub fn set_metrics_public(&self, public: bool) {
        self.inner
            .metrics_public
            .store(public, std::sync::atomic::Ordering::Relaxed);
    }

    /// The web view's failed logins per source address.
    pub fn login_throttle(&self) -> &login_throttle::LoginThrottle {
        &self.inner.login_throttle
    }

    /// Findings and distinct targets accepted in one report.
    pub fn report_limits(&self) -> vigie_model::validate::ReportLimits {
        self.inner.report_limits
    }

    /// Stored report bytes allowed per organization; `None` for no budget.
    pub fn org_storage_bytes(&self) -> Option<u64> {
        self.inner.org_storage_bytes
    }

    /// The budget of report body bytes held in memory at once.
    pub fn inflight_bodies(&self) -> &BodyBudget {
        &self.inner.inflight
    }
}

/// The bytes of report bodies all requests may hold at once: a request takes its share
/// before reading (from Content-Length, or frame by frame when the length is not declared)
/// and gives it back when it ends. Without it, many large bodies at once, each under
/// `--max-body-bytes`, could take the collector's memory.
#[derive(Debug)]
pub struct BodyBudget {
    /// Counted in KiB, so that any budget fits the semaphore's `u32` requests.
    semaphore: Arc<tokio::sync::Semaphore>,
    bytes: usize,
}

/// A request's share of the [`BodyBudget`], given back when dropped.
#[derive(Debug, Default)]
pub struct BodyShare {
    permits: Vec<tokio::sync::OwnedSemaphorePermit>,
    kib: usize,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> BodyBudget {
        let kib = bytes
            .div_ceil(1024)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        BodyBudget {
            semaphore: Arc::new(tokio::sync::Semaphore::new(kib)),
            bytes,
        }
    }

    /// The budget, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Grows `share` to cover `bytes` at once, without waiting: `false` when the budget
    /// has not that much left (the share keeps what it had).
    pub fn try_grow(&self, share: &mut BodyShare, bytes: usize) -> bool {
        let wanted = bytes.div_ceil(1024);
        if wanted <= share.kib {
            return true;
        }
        let Ok(more) = u32::try_from(wanted - share.kib) else {
            return false;
        };
        match Arc::clone(&self.semaphore).try_acquire_many_owned(more) {
            Ok(permit) => {
                share.permits.push(permit);
                share.kib = wanted;
                true
            }
            Err(_) => false,
        }
    }
}

/// How long a web view session lasts after its login. Sessions are stored in the database
/// (migration 0012), so that every collector over it knows them.
pub const WEB_SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
