//! What every request handler shares.

use std::sync::Arc;

use crate::metrics::IngestMetrics;
use crate::store::Store;

/// The default `--max-body-bytes`: 8 MiB, room for tens of thousands of findings.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

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
    max_body_bytes: usize,
}

impl AppState {
    /// State over `store`, refusing report bodies longer than `max_body_bytes` (HTTP 413).
    pub fn new(store: Store, max_body_bytes: usize) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                ingest: IngestMetrics::default(),
                max_body_bytes,
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

    /// The largest report body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }
}
