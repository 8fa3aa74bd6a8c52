//! The HTTP API: routes, authentication of requests, and the handlers.

mod card;
mod error;
mod ingest;
mod matrix;
mod ops;
mod read;
mod triage;
pub mod web;

pub use error::{code, ApiError};

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{bearer, Principal};
use crate::state::AppState;

/// The collector's routes over `state`. Tests drive it with `tower::ServiceExt::oneshot`
/// without a socket; [`crate::serve`] puts it on a listener.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/reports", post(ingest::post_report))
        .route("/api/v1/orgs", get(read::list_orgs))
        .route("/api/v1/orgs/{org}", get(read::get_org))
        .route("/api/v1/orgs/{org}/card", get(card::get_card))
        .route("/api/v1/matrix", get(matrix::get_matrix))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(web::routes())
        .fallback(ops::not_found)
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            strict_transport_security,
        ))
        .with_state(state)
}

/// One year, the usual value; no `includeSubDomains`, which would bind the collector's
/// neighbours on its domain to HTTPS too.
const HSTS: &str = "max-age=31536000";

/// `Strict-Transport-Security` on every answer of a TLS listener: a browser that has seen
/// it never again sends the session cookie or a token over plain HTTP to this host. Not on
/// a plain listener (browsers ignore it there, and it could lock out a host that serves
/// HTTP behind a proxy).
async fn strict_transport_security(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if state.listener_tls() {
        response.headers_mut().insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// The principal of the request's bearer token; 401 if there is none or it is unknown.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers).map_err(|e| {
        ApiError::unauthenticated(format!(
            "{e}; send `Authorization: Bearer <token>` with a token from `vigie-collector agent add` or `viewer add`"
        ))
    })?;
    match state.store().authenticate(token).await {
        Ok(Some(principal)) => {
            // Limited after authentication, so that strangers do not fill the table.
            if let Some(limiter) = state.rate_limiter() {
                limiter
                    .check(&crate::auth::hash(token), std::time::Instant::now())
                    .map_err(ApiError::rate_limited)?;
            }
            Ok(principal)
        }
        Ok(None) => Err(ApiError::unauthenticated(
            "unknown or revoked token; ask the collector's operator for a new one",
        )),
        Err(error) => Err(ApiError::unavailable(error)),
    }
}

/// The organization and agent name of an agent token; 403 for a viewer token. The name is
/// the one agent id the token may post as.
async fn require_agent(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, String), ApiError> {
    match authenticate(state, headers).await? {
        Principal::Agent { org, name } => Ok((org, name)),
        Principal::Viewer { .. } => Err(ApiError::forbidden(
            "a viewer token cannot post reports; use an agent token from `vigie-collector agent add`",
        )),        Principal::Scraper { .. } => Err(ApiError::forbidden(
            "a scraper token can only read /metrics; use an agent token from `vigie-collector agent add`",
        )),
    }
}

/// The viewer token's name; 403 for an agent token.
async fn require_viewer(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    match authenticate(state, headers).await? {
        Principal::Viewer { name } => Ok(name),
        Principal::Agent { .. } => Err(ApiError::forbidden(
            "an agent token cannot read the API; use a viewer token from `vigie-collector viewer add`",
        )),        Principal::Scraper { .. } => Err(ApiError::forbidden(
            "a scraper token can only read /metrics; use a viewer token from `vigie-collector viewer add`",
        )),
    }
}

/// Whether the request may read `/metrics`: a scraper token, or a viewer token (a viewer
/// already reads every organization through the API, so scraping shows it nothing new);
/// 401 without a token, 403 for an agent token (an agent speaks for one organization and
/// must not read the others').
async fn require_scraper(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match authenticate(state, headers).await? {
        Principal::Scraper { .. } | Principal::Viewer { .. } => Ok(()),
        Principal::Agent { .. } => Err(ApiError::forbidden(
            "an agent token cannot read /metrics; give Prometheus a token from `vigie-collector scraper add`",
        )),
    }
}
