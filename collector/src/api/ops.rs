//! What operators and Prometheus call: health, readiness, metrics.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::ApiError;
use crate::state::AppState;

/// Always 200 while the process serves requests.
pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 200 only if the store answers a query.
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store().ping().await.map_err(ApiError::unavailable)?;
    Ok(Json(serde_json::json!({ "status": "ready" })).into_response())
}

/// The Prometheus text format: the store's part from the cache while no report was stored
/// since it was rendered (see [`crate::metrics::MetricsCache`]), the collector's own
/// counters live. It names every organization's exposed services and expiring certificates:
/// a scraper or viewer token is needed unless the operator chose `--metrics-public`.
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !state.metrics_public() {
        super::require_scraper(&state, &headers).await?;
    }
    // Read before rendering: a report stored during the render bumps it again, so the next
    // scrape renders anew rather than keeping a page that may lack it.
    let generation = state
        .ingest_metrics()
        .count(crate::metrics::IngestResult::Stored);
    let builder = state.clone();
    let store_part = state
        .metrics_cache()
        .get_or_render(generation, move || async move {
            let state = builder;
            let mut snapshot = state.store().metrics_snapshot().await?;
            snapshot.capability_levels = crate::matrix::current_levels(
                state.store(),
                chrono::Utc::now(),
                vigie_matrix::TlsProfile::default(),
            )
            .await?;
            // 22 MiB at 1,000 organizations: off the async workers.
            tokio::task::spawn_blocking(move || crate::metrics::render_state(&snapshot))
                .await
                .map_err(crate::store::StoreError::from)
        })
        .await
        .map_err(ApiError::unavailable)?;
    let ingest = crate::metrics::render_ingest(state.ingest_metrics());
    let mut page = Vec::with_capacity(store_part.len() + ingest.len());
    page.extend_from_slice(&store_part);
    page.extend_from_slice(ingest.as_bytes());
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        page,
    )
        .into_response())
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such endpoint; the web view is at /ui, the API's routes are under /api/v1",
    )
}
