//! `GET /api/v1/matrix?view=org|aggregate&format=json|csv|xlsx|html|pdf&lang=en|fr
//! [&since=YYYY-MM-DD][&org=ORG][&profile=modern|itsp-strict][&table=dictionary]
//! [&group_by=region|size-band]`, viewer
//! token. Defaults: the aggregate view (the committee's default), JSON, English, since the
//! start of the current quarter. `table=dictionary` (CSV only) returns the data dictionary.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use vigie_matrix::TlsProfile;
use vigie_model::Lang;

use super::{require_viewer, unknown_org, ApiError};
use crate::export::{self, Format};
use crate::matrix::{self, MatrixError, MatrixRequest, View};
use crate::scope::{Resource, Scope};
use crate::state::AppState;

fn parse<T>(
    params: &HashMap<String, String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(value) => parse(value).ok_or_else(|| {
            ApiError::bad_query(format!(
                "`{name}` must be {expected}; got `{}`",
                value.chars().take(32).collect::<String>()
            ))
        }),
    }
}

pub(super) async fn get_matrix(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let viewer = require_viewer(&state, &headers).await?;
    let known = [
        "view", "format", "lang", "since", "org", "profile", "table", "group_by",
    ];
    if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_query(format!(
            "unknown parameter `{}`; known: {}",
            unknown.chars().take(32).collect::<String>(),
            known.join(", ")
        )));
    }
    // The aggregate is the default; an `org` viewer, who may not read it, gets its column.
    let default_view = match viewer.scope {
        Scope::Org(_) => View::Org,
        Scope::Sector | Scope::Committee => View::Aggregate,
    };
    let view = parse(
        &params,
        "view",
        default_view,
        |v| match v {
            "org" => Some(View::Org),
            "aggregate" => Some(View::Aggregate),
            _ => None,
        },
        "org or aggregate",
    )?;
    let format = parse(
        &params,
        "format",
        Format::Json,
        |v| match v {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "html" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            _ => None,
        },
        "json, csv, xlsx, html or pdf",
    )?;
    let lang = parse(&params, "lang", Lang::En, |v| v.parse().ok(), "en or fr")?;
    let profile = parse(
        &params,
        "profile",
        TlsProfile::Modern,
        |v| v.parse().ok(),
        "modern or itsp-strict",
    )?;
    let since = match params.get("since") {
        None => None,
        Some(v) => Some(
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| ApiError::bad_query("`since` must be a date YYYY-MM-DD"))?,
        ),
    };
    let dictionary = match params.get("table").map(String::as_str) {
        None | Some("matrix") => false,
        Some("dictionary") if format == Format::Csv => true,
        Some(_) => {
            return Err(ApiError::bad_query(
                "`table` is matrix or dictionary, and dictionary needs format=csv",
            ))
        }
    };
    if dictionary {
        return Ok(attachment(
            Format::Csv,
            "vigie-matrix-dictionary.csv".to_owned(),
            export::dictionary_csv(lang),
        ));
    }
    let group_by = match params.get("group_by") {
        None => None,
        Some(v) => Some(
            matrix::GroupBy::parse(v)
                .ok_or_else(|| ApiError::bad_query("`group_by` must be region or size-band"))?,
        ),
    };
    if group_by.is_some() && view == View::Org {
        return Err(ApiError::bad_query("`group_by` needs view=aggregate"));
    }
    let mut org = params.get("org").cloned();
    if org.is_some() && view == View::Aggregate {
        return Err(ApiError::bad_query("`org` needs view=org"));
    }
    // An `org` viewer's org view is its own column, named or not.
    if let (View::Org, None, Some(own)) = (view, &org, viewer.scope.org_filter()) {
        org = Some(own.to_owned());
    }
    if let Some(name) = &org {
        if !vigie_model::validate::is_valid_org(name) {
            return Err(unknown_org());
        }
    }
    viewer.may_see(match (view, org.as_deref()) {
        (View::Aggregate, _) => Resource::Aggregate(group_by.is_some()),
        (View::Org, Some(org)) => Resource::Org(org),
        (View::Org, None) => Resource::AllOrgColumns,
    })?;
    let request = MatrixRequest {
        view,
        lang,
        since,
        org,
        profile,
        now: chrono::Utc::now(),
        group_by,
    };
    let mut computed = matrix::compute(state.store(), &request)
        .await
        .map_err(|e| match e {
            MatrixError::Store(e) => ApiError::unavailable(e),
            MatrixError::UnknownOrg(_) => unknown_org(),
            e @ MatrixError::SinceInFuture { .. } => ApiError::bad_query(e.to_string()),
        })?;
    computed.trim_for(&viewer.scope);
    let bytes = export::render(&computed, format).map_err(ApiError::internal)?;
    // Nothing leaves without a trace: an export that cannot be audited is not served.
    state
        .store()
        .audit(
            crate::store::audit::AuditAction::MatrixExport,
            &viewer.actor(),
            &format!(
                "view={} format={} lang={}",
                view.as_str(),
                format.extension(),
                lang.as_str()
            ),
        )
        .await
        .map_err(ApiError::unavailable)?;
    let name = format!(
        "vigie-matrix-{}-{}-{}.{}",
        view.as_str(),
        lang.as_str(),
        computed.generated_at.format("%Y-%m-%d"),
        format.extension()
    );
    Ok(attachment(format, name, bytes))
}

fn attachment(format: Format, name: String, bytes: Vec<u8>) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        bytes,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    // Named-organization matrices are sensitive: never cache them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
