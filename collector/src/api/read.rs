//! The read API: the latest posture per organization, for viewer tokens within their scope
//! (`sector`: all; `org`: its own, filtered in SQL; `committee`: none).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;

use super::{require_viewer, unknown_org, ApiError};
use crate::scope::Resource;
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
    let viewer = require_viewer(&state, &headers).await?;
    viewer.may_see(Resource::OrgList)?;
    let orgs = state
        .store()
        .orgs(viewer.scope.org_filter())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(OrgList { orgs }))
}

pub(super) async fn get_org(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Json<OrgDetail>, ApiError> {
    let viewer = require_viewer(&state, &headers).await?;
    if !vigie_model::validate::is_valid_org(&org) {
        return Err(unknown_org());
    }
    viewer.may_see(Resource::Org(&org))?;
    match state.store().org(&org).await.map_err(ApiError::internal)? {
        Some(detail) => Ok(Json(detail)),
        None => Err(unknown_org()),
    }
}
