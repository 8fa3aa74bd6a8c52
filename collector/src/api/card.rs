//! An organization's report card: `GET /api/v1/orgs/{org}/card` (JSON) and the pages
//! `/ui/orgs/{org}/card` (the card), `/ui/orgs/{org}/targets/{target}` (one target's
//! findings) and `/ui/orgs/{org}/findings?check=&target=` (the matrix's drill-down), in the
//! one layout of [`super::page`]. Assembled by [`crate::card`]; this module reads, checks
//! who asks (the viewer's [`Scope`] made a [`Reader`]), and lays out (printable: the pages
//! carry a print style sheet).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use vigie_matrix::catalogue::{self, render, text as t};
use vigie_model::Lang;

use super::page::{self, Here, Marking, Page};
use super::web::{denied, html, kept_query, lang_of, viewer};
use super::{require_viewer, unknown_org, ApiError, Viewer};
use crate::card::{self, Card, CardFinding};
use crate::export::html::{escape_html as escape, style};
use crate::matrix::{self, MatrixRequest, View};
use crate::scope::{Denial, Resource, Scope};
use crate::state::AppState;
use crate::store::CardState;

/// Who reads: the sector sees every organization, an organization's viewer only its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reader {
    Sector,
    Org(String),
}

impl Reader {
    /// The reader a viewer's scope makes; the committee reads no organization (403).
    pub(super) fn of(scope: &Scope) -> Result<Reader, Denial> {
        match scope {
            Scope::Sector => Ok(Reader::Sector),
            Scope::Org(org) => Ok(Reader::Org(org.clone())),
            Scope::Committee => Err(Denial::Forbidden),
        }
    }

    /// Whether the reader may see `org` (another organization is answered as unknown).
    pub(super) fn may_see(&self, org: &str) -> bool {
        match self {
            Reader::Sector => true,
            Reader::Org(own) => own == org,
        }
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/orgs/{org}/card", get(card_page))
        .route("/ui/orgs/{org}/targets/{target}", get(target_page))
        .route("/ui/orgs/{org}/findings", get(findings_page))
}

/// Characters left as they are in a path segment or query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` encoded for a path segment or a query value.
pub(super) fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// The card's state and the organization's graded column, or `None` for an unknown (or
/// hidden) organization.
async fn read_card(
    state: &AppState,
    reader: &Reader,
    org: &str,
    lang: Lang,
) -> Result<Option<(CardState, Card)>, ApiError> {
    if !vigie_model::validate::is_valid_org(org) || !reader.may_see(org) {
        return Ok(None);
    }
    let Some(card_state) = state
        .store()
        .card_state(org)
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Ok(None);
    };
    let now = chrono::Utc::now();
    let request = MatrixRequest {
        view: View::Org,
        lang,
        since: None,
        org: Some(org.to_owned()),
        profile: vigie_matrix::TlsProfile::Modern,
        now,
        group_by: None,
    };
    let column = match matrix::compute(state.store(), &request).await {
        Ok(mut computed) => computed.orgs.pop(),
        Err(matrix::MatrixError::Store(error)) => return Err(ApiError::unavailable(error)),
        // Deleted between the two reads: shown without levels.
        Err(_) => None,
    };
    let card = card::assemble(&card_state, column.as_ref(), lang, now);
    Ok(Some((card_state, card)))
}

/// `GET /api/v1/orgs/{org}/card[?lang=]`.
pub(super) async fn get_card(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Card>, ApiError> {
    let viewer = require_viewer(&state, &headers).await?;
    if !vigie_model::validate::is_valid_org(&org) {
        return Err(unknown_org());
    }
    // The committee: 403; another organization's viewer: 404, as for an unknown one.
    viewer.may_see(Resource::Org(&org))?;
    let reader = Reader::of(&viewer.scope).map_err(|_| unknown_org())?;
    match read_card(&state, &reader, &org, lang_of(&params)).await? {
        Some((_, card)) => Ok(Json(card)),
        None => Err(unknown_org()),
    }
}

/// The print style: no navigation, tables kept whole where they fit, links as text.
const PRINT_CSS: &str = "@media print { nav, form, .noprint { display: none } \
     table { page-break-inside: auto } tr, h2 { page-break-inside: avoid; page-break-after: auto } \
     a { color: inherit; text-decoration: none } body { font-size: 10pt } }\n\
     td.evidence { font-family: monospace; font-size: 85%; word-break: break-all }\n";

/// A page of an organization's in the one layout, its print style after the export's.
fn page(
    lang: Lang,
    viewer: &Viewer,
    title: String,
    path: &str,
    params: &HashMap<String, String>,
    body: String,
) -> Response {
    let here = match viewer.scope {
        Scope::Org(_) => Here::OwnOrg,
        Scope::Sector | Scope::Committee => Here::Elsewhere,
    };
    html(
        StatusCode::OK,
        page::render(&Page {
            lang,
            title,
            path,
            query: kept_query(params),
            here,
            marking: Marking::NamesOrgs,
            scope: Some(&viewer.scope),
            css: format!("{}{PRINT_CSS}", style()),
            body,
            body_has_main: false,
        }),
    )
}

/// The page of an organization this viewer may not see, or of none: the committee 403,
/// anyone else 404 naming nothing (the language toggle leads to the list's path).
fn hidden(denial: Denial, lang: Lang, viewer: &Viewer) -> Response {
    denied(denial, lang, viewer, "/ui/orgs")
}

/// The session's viewer and its reader of `org`, or the page to answer with.
async fn session_reader(
    state: &AppState,
    headers: &HeaderMap,
    org: &str,
    lang: Lang,
) -> Result<(Viewer, Reader), Response> {
    let viewer = viewer(state, headers, lang).await?;
    if !vigie_model::validate::is_valid_org(org) {
        return Err(hidden(Denial::Hidden, lang, &viewer));
    }
    let checked = viewer
        .scope
        .check(Resource::Org(org))
        .and_then(|()| Reader::of(&viewer.scope));
    match checked {
        Ok(reader) => Ok((viewer, reader)),
        Err(denial) => Err(hidden(denial, lang, &viewer)),
    }
}

pub(super) fn status_text(lang: Lang, status: vigie_model::Status) -> String {
    let key = format!("agent.text.status.{}", status.as_str());
    vigie_model::i18n::text(lang, &key).map_or_else(|| status.as_str().to_owned(), str::to_owned)
}

pub(super) fn severity_text(lang: Lang, severity: vigie_model::Severity) -> String {
    let key = format!("agent.text.severity.{}", severity.as_str());
    vigie_model::i18n::text(lang, &key).map_or_else(|| severity.as_str().to_owned(), str::to_owned)
}

fn header_row(lang: Lang, keys: &[&str]) -> String {
    let cells: String = keys
        .iter()
        .map(|k| {
            format!(
                "<th scope=\"col\">{}</th>",
                escape(&t(lang, &format!("card.col.{k}")))
            )
        })
        .collect();
    format!("<thead><tr>{cells}</tr></thead>\n")
}

fn target_link(org: &str, target: &str, lang: Lang) -> String {
    format!(
        "<a href=\"/ui/orgs/{}/targets/{}?lang={}\">{}</a>",
        encode(org),
        encode(target),
        lang.as_str(),
        escape(target)
    )
}

/// The findings table: check, target, status, severity, summary, evidence, remediation,
/// first seen and open days.
fn findings_table(org: &str, findings: &[CardFinding], lang: Lang) -> String {
    let mut out = String::from("<table>\n");
    out.push_str(&header_row(
        lang,
        &[
            "check",
            "target",
            "status",
            "severity",
            "summary",
            "evidence",
            "remediation",
            "first_seen",
            "open_days",
        ],
    ));
    out.push_str("<tbody>\n");
    for f in findings {
        out.push_str(&format!(
            "<tr><td><code>{check}</code></td><td>{target}</td><td>{status}</td><td>{severity}</td><td>{summary}</td><td class=\"evidence\">{evidence}</td><td>{remediation}</td><td>{first_seen}</td><td>{open_days}</td></tr>\n",
            check = escape(&f.check),
            target = target_link(org, &f.target, lang),
            status = escape(&status_text(lang, f.status)),
            severity = escape(&severity_text(lang, f.severity)),
            summary = escape(&f.summary),
            evidence = escape(&f.evidence.to_string()),
            remediation = escape(f.remediation.as_deref().unwrap_or("")),
            first_seen = f.first_seen.format("%Y-%m-%d"),
            open_days = f.open_days,
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn capability_name(lang: Lang, id: &str) -> String {
    catalogue::catalogue()
        .capability(id)
        .map_or_else(|| id.to_owned(), |c| format!("{id} {}", c.name(lang)))
}

/// The card's body.
fn card_body(card: &Card, lang: Lang) -> String {
    let org = &card.org;
    let mut out = format!(
        "<p class=\"meta\">{}</p>\n<h2>{}</h2>\n",
        card.generated_at.format("%Y-%m-%d %H:%M UTC"),
        escape(&t(lang, "card.open"))
    );
    if card.groups.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(&t(lang, "card.none_open"))));
    }
    for group in &card.groups {
        let title = match &group.capability {
            Some(id) => capability_name(lang, id),
            None => t(lang, "card.other"),
        };
        out.push_str(&format!("<h3>{}</h3>\n", escape(&title)));
        out.push_str(&findings_table(org, &group.findings, lang));
    }

    out.push_str(&format!("<h2>{}</h2>\n", escape(&t(lang, "card.changes"))));
    if card.changes.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(&t(lang, "card.no_changes"))));
    } else {
        out.push_str("<table>\n");
        out.push_str(&header_row(lang, &["check", "target", "from", "to", "at"]));
        out.push_str("<tbody>\n");
        for c in &card.changes {
            out.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&c.check),
                target_link(org, &c.target, lang),
                c.from
                    .map(|s| escape(&status_text(lang, s)))
                    .unwrap_or_default(),
                escape(&status_text(lang, c.to)),
                c.at.format("%Y-%m-%d %H:%M"),
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }

    out.push_str(&format!(
        "<h2>{}</h2>\n<table>\n",
        escape(&t(lang, "card.levels"))
    ));
    out.push_str(&header_row(
        lang,
        &["capability", "level", "trend", "notes", "set_by"],
    ));
    out.push_str("<tbody>\n");
    for level in &card.levels {
        let set_by: Vec<String> = level
            .set_by
            .iter()
            .map(|s| {
                format!(
                    "<a href=\"/ui/orgs/{}/findings?check={}&amp;target={}&amp;lang={}\"><code>{}</code> {} ({})</a>",
                    encode(org),
                    encode(&s.check),
                    encode(&s.target),
                    lang.as_str(),
                    escape(&s.check),
                    escape(&s.target),
                    escape(&status_text(lang, s.status)),
                )
            })
            .collect();
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&capability_name(lang, &level.capability)),
            escape(&level.label),
            escape(&t(lang, level.trend.text_key())),
            level.trend.symbol(),
            escape(&level.notes.join(" ")),
            set_by.join("<br>"),
        ));
    }
    out.push_str("</tbody>\n</table>\n");

    out.push_str(&format!(
        "<h2>{}</h2>\n<table>\n",
        escape(&t(lang, "card.targets"))
    ));
    out.push_str(&header_row(lang, &["target", "open", "worst"]));
    out.push_str("<tbody>\n");
    for target in &card.targets {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            target_link(org, &target.target, lang),
            target.open,
            target
                .worst
                .map(|s| escape(&severity_text(lang, s)))
                .unwrap_or_default(),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

async fn card_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let (viewer, reader) = match session_reader(&state, &headers, &org, lang).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match read_card(&state, &reader, &org, lang).await {
        Ok(Some((_, card))) => {
            let title = render(lang, "card.title", &[("org", org.clone())]);
            let here = format!("/ui/orgs/{}/card", encode(&org));
            page(lang, &viewer, title, &here, &params, card_body(&card, lang))
        }
        Ok(None) => hidden(Denial::Hidden, lang, &viewer),
        Err(error) => error.into_response(),
    }
}

/// The findings of one organization matching `check` and `target`, as a page.
async fn selection_page(
    state: &AppState,
    headers: &HeaderMap,
    org: &str,
    (check, target): (Option<&str>, Option<&str>),
    (lang, params): (Lang, &HashMap<String, String>),
    title: String,
    here: String,
) -> Response {
    let (viewer, reader) = match session_reader(state, headers, org, lang).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !reader.may_see(org) {
        return hidden(Denial::Hidden, lang, &viewer);
    }
    let card_state = match state.store().card_state(org).await {
        Ok(Some(card_state)) => card_state,
        Ok(None) => return hidden(Denial::Hidden, lang, &viewer),
        Err(error) => return ApiError::unavailable(error).into_response(),
    };
    let found = card::select(&card_state, check, target, chrono::Utc::now());
    let body = if found.is_empty() {
        format!("<p>{}</p>\n", escape(&t(lang, "card.findings_none")))
    } else {
        findings_table(org, &found, lang)
    };
    let back = format!(
        "<p class=\"noprint\"><a href=\"/ui/orgs/{}/card?lang={}\">{}</a></p>\n",
        encode(org),
        lang.as_str(),
        escape(&render(lang, "card.title", &[("org", org.to_owned())]))
    );
    page(lang, &viewer, title, &here, params, format!("{back}{body}"))
}

async fn target_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((org, target)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let title = render(
        lang,
        "card.target_title",
        &[("target", target.clone()), ("org", org.clone())],
    );
    let here = format!("/ui/orgs/{}/targets/{}", encode(&org), encode(&target));
    selection_page(
        &state,
        &headers,
        &org,
        (None, Some(&target)),
        (lang, &params),
        title,
        here,
    )
    .await
}

async fn findings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let check = params
        .get("check")
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let target = params
        .get("target")
        .map(String::as_str)
        .filter(|t| !t.is_empty());
    let title = render(lang, "card.findings_title", &[("org", org.clone())]);
    let here = format!("/ui/orgs/{}/findings", encode(&org));
    selection_page(
        &state,
        &headers,
        &org,
        (check, target),
        (lang, &params),
        title,
        here,
    )
    .await
}
