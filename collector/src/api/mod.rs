//! The HTTP API: routes, authentication of requests, and the handlers.

mod card;
mod error;
mod ingest;
mod matrix;
mod ops;
mod page;
mod read;
mod triage;
pub mod web;

pub use error::{code, ApiError};

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{bearer, Principal};
use crate::scope::{Denial, Resource, Scope};
use crate::state::AppState;

/// The collector's routes over `state`. Tests drive it with `tower::ServiceExt::oneshot`
/// without a socket; [`crate::serve`] puts it on a listener.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/ui") }))
        .route("/api/v1/reports", post(ingest::post_report))
        .route("/api/v1/orgs", get(read::list_orgs))
        .route("/api/v1/orgs/{org}", get(read::get_org))
        .route("/api/v1/orgs/{org}/card", get(card::get_card))
        .route("/api/v1/matrix", get(matrix::get_matrix))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(web::routes())
        // Apart from `web::routes`, which they import: no module imports one that imports it.
        .merge(card::routes())
        .merge(triage::routes())
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(html_errors))
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

/// The longest JSON error body [`html_errors`] reads (an `ApiError` is a few hundred bytes).
const MAX_ERROR_BODY: usize = 16 * 1024;

/// A browser (a request that accepts `text/html`) gets the API's JSON errors as a bilingual
/// HTML page in the web view's layout: the status, what it means in English and French, the
/// English detail, and a link to the web view. The status and headers (`Retry-After`,
/// `WWW-Authenticate`) stay; scripts, which do not ask for HTML, keep the JSON.
async fn html_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let wants_html = request
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let status = response.status();
    if !wants_html || !is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let code = error["error"].as_str().unwrap_or_default();
    let detail = error["detail"].as_str().unwrap_or_default();
    let page = page::error_html(status, code, detail);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    web::harden(&mut parts.headers);
    axum::response::Response::from_parts(parts, axum::body::Body::from(page))
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
        )),
        Principal::Scraper { .. } => Err(ApiError::forbidden(
            "a scraper token can only read /metrics; use an agent token from `vigie-collector agent add`",
        )),
    }
}

/// A viewer: the token's name (for the audit log) and what it may see.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub name: String,
    pub scope: Scope,
}

impl Viewer {
    /// The audit log's actor.
    pub fn actor(&self) -> String {
        format!("viewer:{}", self.name)
    }

    /// Whether this viewer may see `resource`: 403 for a resource its role does not see, 404
    /// for another organization's (answered as an unknown one).
    pub fn may_see(&self, resource: Resource<'_>) -> Result<(), ApiError> {
        self.scope.check(resource).map_err(|denial| match denial {
            Denial::Hidden => unknown_org(),
            Denial::Forbidden => ApiError::forbidden(format!(
                "a viewer token of role `{}` cannot read this; ask the collector's operator for a token of the role that may (docs: the roles of the read API)",
                self.scope.role().as_str()
            )),
        })
    }
}

/// The 404 of an organization the collector does not know, or that the viewer may not see.
pub(crate) fn unknown_org() -> ApiError {
    ApiError::not_found("no such organization; GET /api/v1/orgs lists the ones you may read")
}

/// The viewer of the request's bearer token; 403 for an agent or scraper token.
async fn require_viewer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
    match authenticate(state, headers).await? {
        Principal::Viewer { name, scope } => Ok(Viewer { name, scope }),
        Principal::Agent { .. } => Err(ApiError::forbidden(
            "an agent token cannot read the API; use a viewer token from `vigie-collector viewer add`",
        )),
        Principal::Scraper { .. } => Err(ApiError::forbidden(
            "a scraper token can only read /metrics; use a viewer token from `vigie-collector viewer add`",
        )),
    }
}

/// Whether the request may read `/metrics`: a scraper token, or a `sector` viewer token
/// (it already reads every organization through the API, so scraping shows it nothing
/// new); 401 without a token, 403 for an agent token (an agent speaks for one organization
/// and must not read the others') and for an `org` or `committee` viewer (every series is
/// labelled with its organization).
async fn require_scraper(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match authenticate(state, headers).await? {
        Principal::Scraper { .. } => Ok(()),
        Principal::Viewer { name, scope } => Viewer { name, scope }.may_see(Resource::Metrics),
        Principal::Agent { .. } => Err(ApiError::forbidden(
            "an agent token cannot read /metrics; give Prometheus a token from `vigie-collector scraper add`",
        )),
    }
}
