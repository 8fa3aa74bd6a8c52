//! What operators and Prometheus call: health, readiness, metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
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

/// The Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut snapshot = state
        .store()
        .metrics_snapshot()
        .await
        .map_err(ApiError::unavailable)?;
    snapshot.capability_levels = crate::matrix::current_levels(
        state.store(),
        chrono::Utc::now(),
        vigie_matrix::TlsProfile::default(),
    )
    .await
    .map_err(ApiError::unavailable)?;
    let text = crate::metrics::render(&snapshot, state.ingest_metrics());
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response())
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see the collector's API in DESIGN.md")
}
