//! The one error type of the HTTP API.
//!
//! Each error has a stable `error` code (part of the API contract: clients and agents branch
//! on it), a `detail` for the person reading the answer, and, for server faults, a cause for
//! the operator's log that never reaches the client. Details never repeat a token; logs
//! never hold a token or a report's content.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::metrics::IngestResult;

/// An API error: `{"error": "<code>", "detail": "<text>"}` with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    /// The cause, for the log only (server errors).
    cause: Option<String>,
    /// Seconds for the `Retry-After` header (429, 503).
    retry_after: Option<u64>,
}

/// The stable codes. This list may grow; a code never changes meaning.
pub mod code {
    pub const MALFORMED_JSON: &str = "malformed_json";
    pub const BAD_QUERY: &str = "bad_query";
    pub const BODY_UNREADABLE: &str = "body_unreadable";
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const ORG_MISMATCH: &str = "org_mismatch";
    pub const REPORT_ID_CONFLICT: &str = "report_id_conflict";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const INVALID_REPORT: &str = "invalid_report";
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    pub const INTERNAL: &str = "internal_error";
    pub const STORE_UNAVAILABLE: &str = "store_unavailable";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const OVERLOADED: &str = "overloaded";
    pub const AGENT_MISMATCH: &str = "agent_mismatch";
    pub const REPORT_OVER_LIMIT: &str = "report_over_limit";
    pub const STORAGE_BUDGET_EXCEEDED: &str = "storage_budget_exceeded";
    pub const COLLECTOR_BUSY: &str = "collector_busy";
}

/// The `Retry-After` of a 503: the store is often back within seconds (a lock released).
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            cause: None,
            retry_after: None,
        }
    }

    /// 429: this token sent more requests than `--rate-limit` allows; retry after `wait`.
    pub fn rate_limited(wait: std::time::Duration) -> ApiError {
        // Rounded up, so that a client waiting exactly that long is allowed.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError {
            retry_after: Some(seconds.max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::RATE_LIMITED,
                format!(
                    "too many requests with this token; retry in {} s",
                    seconds.max(1)
                ),
            )
        }
    }

    /// 400: the body is not JSON, or is cut short.
    pub fn malformed(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code::MALFORMED_JSON, detail)
    }

    /// 400: a query parameter is unknown or has a value the endpoint does not take.
    pub fn bad_query(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code::BAD_QUERY, detail)
    }

    /// 400: the body could not be read to its end.
    pub fn body_unreadable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code::BODY_UNREADABLE, detail)
    }

    /// 401: no token, or one the collector does not know.
    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code::UNAUTHENTICATED, detail)
    }

    /// 403: a valid token of the wrong kind.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code::FORBIDDEN, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code::NOT_FOUND, detail)
    }

    /// 408: the body did not arrive in time.
    pub fn timeout(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, code::REQUEST_TIMEOUT, detail)
    }

    /// 409: the report's organization is not the token's.
    pub fn org_mismatch(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code::ORG_MISMATCH, detail)
    }

    /// 409: the report id is already stored with another content.
    pub fn report_id_conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code::REPORT_ID_CONFLICT, detail)
    }

    /// 413.
    pub fn too_large(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::PAYLOAD_TOO_LARGE,
            detail,
        )
    }

    /// 415.
    pub fn unsupported_media_type(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            detail,
        )
    }

    /// 422: valid JSON, but not a valid `vigie.report.v1`.
    pub fn invalid_report(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::INVALID_REPORT,
            detail,
        )
    }

    /// 500: the collector failed; `cause` goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            cause: Some(format!("{cause:#}")),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL,
                "the collector could not complete the request; nothing was stored; retry later",
            )
        }
    }

    /// 503: the store does not answer; `cause` goes to the log only.
    pub fn unavailable(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            cause: Some(format!("{cause:#}")),
            retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::STORE_UNAVAILABLE,
                "the collector's store does not answer; retry later",
            )
        }
    }

    /// 503: every connection slot is taken, and this connection, from the reserve kept for
    /// health checks, serves only `/healthz` and `/readyz`.
    pub fn overloaded() -> ApiError {
        ApiError {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::OVERLOADED,
                "every connection of the collector is taken; this one serves only /healthz and /readyz; retry later",
            )
        }
    }

    /// 409: the report's agent id is not the token's agent name.
    pub fn agent_mismatch(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code::AGENT_MISMATCH, detail)
    }

    /// 413: more findings or targets in one report than this collector accepts.
    pub fn over_limit(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::REPORT_OVER_LIMIT,
            detail,
        )
    }

    /// 429: the organization's stored reports fill its budget; retried after `retry_after`
    /// seconds, by when retention may have freed room.
    pub fn storage_budget(detail: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::STORAGE_BUDGET_EXCEEDED,
                detail,
            )
        }
    }

    /// 503: the bodies other requests hold fill the in-flight budget; retry in a moment.
    /// Not a fault: logged as a refusal, not an error.
    pub fn busy(detail: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::COLLECTOR_BUSY,
                detail,
            )
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// How this error counts in `vigie_ingest_reports_total`.
    pub fn ingest_result(&self) -> IngestResult {
        if self.code == code::COLLECTOR_BUSY {
            return IngestResult::RejectedRateLimited;
        }
        match self.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => IngestResult::RejectedAuth,
            StatusCode::PAYLOAD_TOO_LARGE => IngestResult::RejectedTooLarge,
            StatusCode::CONFLICT => IngestResult::RejectedConflict,
            StatusCode::TOO_MANY_REQUESTS => IngestResult::RejectedRateLimited,
            s if s.is_server_error() => IngestResult::Error,
            _ => IngestResult::RejectedInvalid,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A server error with a cause is a fault an operator must look at; one without (the
        // collector refusing work it has no room for) is logged once where it is decided.
        if self.status.is_server_error() && self.cause.is_some() {
            tracing::error!(
                status = self.status.as_u16(),
                code = self.code,
                cause = self.cause.as_deref().unwrap_or(""),
                "request failed"
            );
        } else {
            // The detail may quote the client's report: it goes to the client, not the log.
            tracing::info!(
                status = self.status.as_u16(),
                code = self.code,
                "request refused"
            );
        }
        let body = serde_json::json!({ "error": self.code, "detail": self.detail });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
