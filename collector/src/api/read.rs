//! The read API: the latest posture per organization, for viewer tokens.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;

use super::{require_viewer, ApiError};
use crate::state::AppState;
use crate::store::{OrgDetail, OrgSummary};

/// `GET /api/v1/orgs`.
#[derive(Debug, Serialize)]
pub struct OrgList {
    pub orgs: Vec<OrgSummary>,
}

pub(super) async fn list_orgs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<OrgList>, ApiError> {
    require_viewer(&state, &headers).await?;
    let orgs = state.store().orgs().await.map_err(ApiError::internal)?;
    Ok(Json(OrgList { orgs }))
}

pub(super) async fn get_org(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Json<OrgDetail>, ApiError> {
    require_viewer(&state, &headers).await?;
    let unknown = || ApiError::not_found("no such organization; GET /api/v1/orgs lists them");
    if !vigie_model::validate::is_valid_org(&org) {
        return Err(unknown());
    }
    match state.store().org(&org).await.map_err(ApiError::internal)? {
        Some(detail) => Ok(Json(detail)),
        None => Err(unknown()),
    }
}
