//! `POST /api/v1/reports`: one report from an agent.
//!
//! The checks run cheapest and least trusting first: the token (so that strangers cannot make
//! the collector buffer anything), the content type, the declared length, then the body read
//! up to the limit, the JSON, the report's shape and rules, the organization, and last the
//! store, which answers only after its transaction commits.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use http_body_util::BodyExt as _;
use vigie_model::Report;

use super::{require_agent, ApiError};
use crate::metrics::IngestResult;
use crate::state::{AppState, BodyBudget, BodyShare};
use crate::store::{IncomingReport, IngestOutcome};

pub(super) async fn post_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let answer = ingest(&state, &headers, body).await;
    let result = match &answer {
        Ok((StatusCode::CREATED, _)) => IngestResult::Stored,
        Ok(_) => IngestResult::Duplicate,
        Err(error) => error.ingest_result(),
    };
    state.ingest_metrics().record(result, started.elapsed());
    match answer {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn ingest(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let (token_org, token_agent) = require_agent(state, headers).await?;
    require_json(headers)?;
    let limit = state.max_body_bytes();
    // Held until the answer: the body, then the report parsed from it, stay in memory.
    let mut share = BodyShare::default();
    let bytes = read_body(
        headers,
        body,
        limit,
        state.body_timeout(),
        state.inflight_bodies(),
        &mut share,
    )
    .await?;

    // UTF-8 is checked once for the whole body, so that the parser need not check it again
    // string by string (`from_str` trusts it; `from_slice` does not).
    let body = String::from_utf8(bytes).map_err(|e| {
        ApiError::malformed(format!(
            "the body is not UTF-8 ({e}); send the report as written by vigie-agent"
        ))
    })?;
    // Parsed straight into a report: building a JSON tree first cost a third of the
    // collector's time under load. Whether the JSON itself is broken (400) or only not a
    // report (422) is told from the error, and on a shape error by parsing again.
    let report: Report = serde_json::from_str(&body).map_err(|e| {
        let syntax = !e.is_data()
            || serde_json::from_str::<serde::de::IgnoredAny>(&body).is_err_and(|e| !e.is_data());
        if syntax {
            ApiError::malformed(format!(
                "the body is not complete, valid JSON: {e}; send the report as written by vigie-agent"
            ))
        } else {
            ApiError::invalid_report(format!("not a vigie.report.v1 report: {e}"))
        }
    })?;
    vigie_model::validate::validate(&report)
        .map_err(|e| ApiError::invalid_report(format!("invalid report: {e}")))?;
    let received_at = Utc::now();
    check_times(&report, received_at)?;
    if report.org != token_org {
        return Err(ApiError::org_mismatch(format!(
            "the report is for organization `{}` but this agent token belongs to `{token_org}`; fix `org` in the agent's config or use that organization's token",
            report.org
        )));
    }
    check_agent(&report, &token_agent)?;
    check_limits(&report, state.report_limits())?;

    let report_id = report.report_id;
    let incoming = IncomingReport::new(report, body, received_at)
        .map_err(ApiError::internal)?
        .with_storage_budget(state.org_storage_bytes());
    let outcome = state.store().ingest(incoming).await.map_err(|error| {
        // A locked, read-only or unreachable database is the store being away (503,
        // retried by the agent); anything else is a fault of ours (500).
        if error.is_unavailable() {
            ApiError::unavailable(error)
        } else {
            ApiError::internal(error)
        }
    })?;
    match outcome {
        IngestOutcome::Stored { received_at } => {
            tracing::info!(%report_id, org = %token_org, "report stored");
            Ok((StatusCode::CREATED, ack(report_id, received_at)))
        }
        IngestOutcome::Duplicate { received_at } => {
            tracing::info!(%report_id, org = %token_org, "report already stored; acknowledged again");
            Ok((StatusCode::OK, ack(report_id, received_at)))
        }
        IngestOutcome::Conflict => Err(ApiError::report_id_conflict(format!(
            "report {report_id} is already stored with a different content; a new report needs a new report_id"
        ))),
        IngestOutcome::OverBudget { used, budget } => Err(ApiError::storage_budget(
            format!(
                "organization `{token_org}` has {used} bytes of stored reports and this one would take it over its budget of {budget} bytes; nothing was stored. Retention (`[retention] reports_days`, `vigie-collector prune`) frees room; the operator may raise --org-storage-bytes"
            ),
            STORAGE_BUDGET_RETRY_AFTER_SECONDS,
        )),
    }
}

/// 422 for a report whose clock is off by more than the store can sort (see
/// [`vigie_model::timestamps`]): checked here, against the instant of reception, so that
/// stored reports (and test fixtures written to the store directly) keep their dates.
fn check_times(report: &Report, received_at: chrono::DateTime<Utc>) -> Result<(), ApiError> {
    vigie_model::timestamps::check(report, received_at)
        .map_err(|e| ApiError::invalid_report(format!("invalid report: {e}")))
}

/// The `Retry-After` of a report over its organization's storage budget: room comes back
/// with the daily retention run or an operator's prune, not within seconds.
const STORAGE_BUDGET_RETRY_AFTER_SECONDS: u64 = 3600;

/// The `Retry-After` of a request refused because the in-flight budget is full: other
/// bodies are being read and stored, which takes milliseconds to seconds.
const BUSY_RETRY_AFTER_SECONDS: u64 = 2;

/// An agent token speaks for one agent: the one its name names.
fn check_agent(report: &Report, token_agent: &str) -> Result<(), ApiError> {
    if report.agent.id == token_agent {
        return Ok(());
    }
    Err(ApiError::agent_mismatch(format!(
        "the report is from agent `{}` but this agent token is for agent `{token_agent}` of organization `{}`; set `[agent] id = \"{token_agent}\"` in the agent's config, or enroll this agent under its own id with `vigie-collector agent add --org {} --name {}`",
        report.agent.id, report.org, report.org, report.agent.id
    )))
}

/// The collector's own bounds on one report (the schema's are checked by `validate`).
fn check_limits(
    report: &Report,
    limits: vigie_model::validate::ReportLimits,
) -> Result<(), ApiError> {
    use vigie_model::validate::OverLimit;
    vigie_model::validate::check_limits(report, limits).map_err(|e| {
        let setting = match e {
            OverLimit::Findings { .. } => "--max-findings (VIGIE_MAX_FINDINGS, max_findings)",
            OverLimit::Targets { .. } => "--max-targets (VIGIE_MAX_TARGETS, max_targets)",
        };
        ApiError::over_limit(format!(
            "{e}; nothing was stored. Split the scan into several reports, or ask the operator to raise {setting}"
        ))
    })
}

fn ack(report_id: uuid::Uuid, received_at: String) -> serde_json::Value {
    serde_json::json!({ "report_id": report_id, "received_at": received_at })
}

/// `application/json`, with or without parameters such as `charset=utf-8`.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(
            "send the report with `Content-Type: application/json`",
        ))
    }
}

/// The whole body, refusing it as soon as it is known to exceed `limit`: from the declared
/// Content-Length before reading, or while reading when the length is not declared or lies.
///
/// The bytes are taken from `budget` into `share` before they are read: the declared length
/// at once, or frame by frame; when the budget has not enough left, the request is refused
/// (503) without reading further.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
    budget: &BodyBudget,
    share: &mut BodyShare,
) -> Result<Vec<u8>, ApiError> {
    let busy = || {
        ApiError::busy(
            format!(
                "the collector is reading as many report bodies as it holds at once ({} bytes, --max-inflight-body-bytes); nothing was stored; retry in a moment",
                budget.bytes()
            ),
            BUSY_RETRY_AFTER_SECONDS,
        )
    };
    let too_large = || {
        ApiError::too_large(format!(
            "the report is larger than this collector accepts ({limit} bytes); split the scan or raise --max-body-bytes"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let capacity = declared.map_or(0, |n| n as usize);
    if !budget.try_grow(share, capacity) {
        return Err(busy());
    }
    let read = async move {
        let mut body = body;
        let mut buffer = Vec::with_capacity(capacity);
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::body_unreadable(format!("reading the body failed: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if buffer.len() + data.len() > limit {
                    return Err(too_large());
                }
                if !budget.try_grow(share, buffer.len() + data.len()) {
                    return Err(busy());
                }
                buffer.extend_from_slice(&data);
            }
        }
        Ok(buffer)
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| {
        ApiError::timeout(format!(
            "the body did not arrive within {} s",
            timeout.as_secs_f64()
        ))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_essence() {
        let mut headers = HeaderMap::new();
        assert!(require_json(&headers).is_err());
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(require_json(&headers).is_ok());
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(require_json(&headers).is_err());
    }
}
