//! The sector's triage page, `/ui/triage` (sector role only): four tables
//! ([`crate::card::triage`]), each sorted server-side (`?<table>_sort=<column>` and
//! `?<table>_order=desc`), filtered (`?<table>_q=`) and downloadable as CSV
//! (`?csv=<table>`, with the same sort and filter). No script: the page's CSP allows none.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use vigie_matrix::catalogue::{render, text as t};
use vigie_model::Lang;

use super::card::{encode, Reader};
use super::page::{self, Here, Marking, Page};
use super::web::{denied, html, kept_query, lang_of, viewer};
use super::ApiError;
use crate::card::triage::{self, Table, TableId};
use crate::export::html::{escape_html as escape, style};
use crate::matrix::{self, MatrixRequest, View};
use crate::scope::Denial;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/ui/triage", get(triage_page))
}

/// Every table, sorted and filtered as the query asks.
async fn tables(
    state: &AppState,
    params: &HashMap<String, String>,
    lang: Lang,
) -> Result<Vec<Table>, ApiError> {
    let now = chrono::Utc::now();
    let store = state.store();
    let horizon = now + chrono::Duration::days(triage::EXPIRY_HORIZON_DAYS);
    let triage_state = store
        .triage_state(horizon)
        .await
        .map_err(ApiError::unavailable)?;
    let request = MatrixRequest {
        view: View::Org,
        lang,
        since: None,
        org: None,
        profile: vigie_matrix::TlsProfile::Modern,
        now,
        group_by: None,
    };
    let computed = match matrix::compute(store, &request).await {
        Ok(computed) => computed,
        Err(matrix::MatrixError::Store(error)) => return Err(ApiError::unavailable(error)),
        Err(error) => return Err(ApiError::internal(error)),
    };
    let meta: BTreeMap<String, (Option<String>, Option<String>)> = store
        .org_meta()
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .map(|m| (m.org, (m.region, m.size_band)))
        .collect();
    let mut all = vec![
        triage::certificates(&triage_state, now),
        triage::failures(&triage_state),
        triage::silent(&triage_state, now),
        triage::ranking(&computed, &meta),
    ];
    for table in &mut all {
        let name = table.id.as_str();
        if let Some(q) = params.get(&format!("{name}_q")) {
            table.filter(q);
        }
        if let Some(column) = params.get(&format!("{name}_sort")) {
            let descending = params
                .get(&format!("{name}_order"))
                .is_some_and(|o| o == "desc");
            table.sort(column, descending);
        }
    }
    Ok(all)
}

fn headers_of(id: TableId, lang: Lang) -> Vec<String> {
    id.columns()
        .iter()
        .map(|c| t(lang, &format!("triage.col.{c}")))
        .collect()
}

/// The query of the page with `changes` applied (a `None` value removes the key).
fn query_with(params: &HashMap<String, String>, changes: &[(String, Option<String>)]) -> String {
    let mut kept: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "csv")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in changes {
        match value {
            Some(value) => {
                kept.insert(key.clone(), value.clone());
            }
            None => {
                kept.remove(key);
            }
        }
    }
    kept.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&amp;")
}

fn table_html(table: &Table, params: &HashMap<String, String>, lang: Lang) -> String {
    let name = table.id.as_str();
    let headers = headers_of(table.id, lang);
    let sorted = params.get(&format!("{name}_sort"));
    let descending = params
        .get(&format!("{name}_order"))
        .is_some_and(|o| o == "desc");
    let mut out = format!(
        "<section id=\"{name}\">\n<h2>{}</h2>\n",
        escape(&t(lang, &format!("triage.{name}")))
    );
    // The filter: a GET form keeping the other tables' parameters.
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k.as_str() != format!("{name}_q") && k.as_str() != "csv")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    out.push_str(&format!(
        "<form method=\"get\" action=\"/ui/triage#{name}\" class=\"noprint\">{hidden}<label for=\"{name}_q\">{filter}</label> <input type=\"search\" id=\"{name}_q\" name=\"{name}_q\" value=\"{value}\"> <button type=\"submit\">{filter}</button> <a href=\"/ui/triage?{csv}\">{download}</a></form>\n",
        filter = escape(&t(lang, "triage.filter")),
        value = escape(params.get(&format!("{name}_q")).map_or("", String::as_str)),
        csv = query_with(params, &[("csv".to_owned(), Some(name.to_owned()))]),
        download = escape(&t(lang, "triage.csv")),
    ));
    out.push_str("<table>\n<thead><tr>");
    for (column, header) in table.id.columns().iter().zip(&headers) {
        let here = sorted.is_some_and(|s| s == column);
        let next = if here && !descending { "desc" } else { "asc" };
        let aria = match (here, descending) {
            (true, false) => " aria-sort=\"ascending\"",
            (true, true) => " aria-sort=\"descending\"",
            _ => "",
        };
        out.push_str(&format!(
            "<th scope=\"col\"{aria}><a href=\"/ui/triage?{}#{name}\" title=\"{}\">{}</a></th>",
            query_with(
                params,
                &[
                    (format!("{name}_sort"), Some((*column).to_owned())),
                    (format!("{name}_order"), Some(next.to_owned())),
                ]
            ),
            escape(&render(lang, "triage.sort", &[("column", header.clone())])),
            escape(header),
        ));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (column, value) in table.id.columns().iter().zip(row) {
            let text = escape(&value.text());
            if *column == "org" {
                out.push_str(&format!(
                    "<td><a href=\"/ui/orgs/{}/card?lang={}\">{text}</a></td>",
                    encode(&value.text()),
                    lang.as_str()
                ));
            } else {
                out.push_str(&format!("<td>{text}</td>"));
            }
        }
        out.push_str("</tr>\n");
    }
    if table.rows.is_empty() {
        out.push_str(&format!(
            "<tr><td colspan=\"{}\">{}</td></tr>\n",
            headers.len(),
            escape(&t(lang, "triage.empty"))
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    if table.id == TableId::Silent {
        out.push_str(&format!(
            "<p class=\"meta\">{}</p>\n",
            escape(&t(lang, "triage.schedule_note"))
        ));
    }
    out.push_str("</section>\n");
    out
}

async fn triage_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let viewer = match viewer(&state, &headers, lang).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    // The sector's only: it ranks and names every organization.
    match Reader::of(&viewer.scope) {
        Ok(Reader::Sector) => {}
        Ok(Reader::Org(_)) => return denied(Denial::Forbidden, lang, &viewer, "/ui/triage"),
        Err(denial) => return denied(denial, lang, &viewer, "/ui/triage"),
    }
    let all = match tables(&state, &params, lang).await {
        Ok(all) => all,
        Err(error) => return error.into_response(),
    };
    if let Some(wanted) = params.get("csv") {
        let Some(table) = TableId::parse(wanted).and_then(|id| all.iter().find(|t| t.id == id))
        else {
            return ApiError::not_found(
                "no such table; csv= takes certificates, failures, silent or ranking",
            )
            .into_response();
        };
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            table.csv(&headers_of(table.id, lang)),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&format!(
            "attachment; filename=\"vigie-triage-{}.csv\"",
            table.id.as_str()
        )) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        return response;
    }
    let body: String = all.iter().map(|t| table_html(t, &params, lang)).collect();
    html(
        StatusCode::OK,
        page::render(&Page {
            lang,
            title: t(lang, "triage.title"),
            path: "/ui/triage",
            query: kept_query(&params),
            here: Here::Triage,
            marking: Marking::NamesOrgs,
            scope: Some(&viewer.scope),
            css: format!(
                "{}@media print {{ nav, form, .noprint {{ display: none }} }}\n",
                style()
            ),
            body,
            body_has_main: false,
        }),
    )
}
