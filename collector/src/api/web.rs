//! The built-in web view of the capability matrix, for people without Grafana: read-only,
//! server-rendered HTML (the HTML export's rendering, one language a page), behind a viewer
//! token.
//!
//! A browser cannot easily send a bearer header, so the token is given once to a login form
//! (`POST /ui/login`, form body, never a URL); the collector then sets a cookie holding a
//! random session value (`HttpOnly`, `SameSite=Strict`, `Path=/ui`, `Secure` when the
//! listener speaks TLS). Sessions are stored in the database (migration 0012), so that every
//! collector over it shares them; each page looks its session up with its token, so a
//! revoked viewer token closes its sessions at the next click.
//!
//! Pages, each in the one layout of [`super::page`] and within the viewer's
//! [`crate::scope::Scope`]: `/ui/matrix` (sector aggregate: sector and committee),
//! `/ui/orgs` (the organizations with their status: sector, and an `org` viewer's own),
//! `/ui/orgs/{org}` (one organization's column: sector, and that organization's viewers),
//! each with `?lang=en|fr`.
//!
//! The forms defend themselves: a POST whose `Origin` (or, without one, `Referer`) is not
//! the collector's own host is refused (403), failed logins are counted per source address
//! ([`crate::state::login_throttle`]: the sixth within a minute is answered 429) and each
//! one is written to the audit log with the address and the reason, never the token.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use vigie_matrix::catalogue::text as t;
use vigie_model::Lang;

use super::page::{self, Here, Marking, Page};
use super::Viewer;
use crate::auth::Principal;
use crate::export::html::{escape_html as escape, render_view};
use crate::matrix::{self, MatrixError, MatrixRequest, View};
use crate::scope::{Denial, Resource, Scope};
use crate::state::AppState;
use crate::store::audit::AuditAction;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vigie_session";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/matrix") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/matrix") }))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/matrix", get(aggregate))
        .route("/ui/orgs", get(org_list))
        .route("/ui/orgs/{org}", get(org_page))
}

pub(super) fn lang_of(params: &HashMap<String, String>) -> Lang {
    params
        .get("lang")
        .and_then(|l| l.parse().ok())
        .unwrap_or(Lang::En)
}

/// An HTML answer that no cache keeps (named organizations are sensitive) and no other
/// site may frame.
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    harden(response.headers_mut());
    response
}

/// The headers of every HTML answer: not cached, not framed, no script, no referrer.
pub(super) fn harden(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: with it, a browser sends `Origin: null` on the login form's
        // POST, which `same_origin` must refuse. `same-origin` sends nothing to another site.
        HeaderValue::from_static("same-origin"),
    );
}

/// The login page, with an optional message (already a locale key).
fn login_html(lang: Lang, message: Option<&str>) -> String {
    let message = message
        .map(|key| {
            format!(
                "<p role=\"alert\"><strong>{}</strong></p>\n",
                escape(&t(lang, key))
            )
        })
        .unwrap_or_default();
    let body = format!(
        "{message}<form method=\"post\" action=\"/ui/login\">\n<input type=\"hidden\" name=\"lang\" value=\"{code}\">\n<p><label for=\"token\">{token}</label><br>\n<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required size=\"60\" aria-describedby=\"token-help\"></p>\n<p class=\"meta\" id=\"token-help\">{help}</p>\n<p><button type=\"submit\">{submit}</button></p>\n</form>\n",
        code = lang.as_str(),
        token = escape(&t(lang, "web.login.token")),
        help = escape(&t(lang, "web.login.help")),
        submit = escape(&t(lang, "web.login.submit")),
    );
    page::render(&Page {
        lang,
        title: t(lang, "web.login.title"),
        path: "/ui/login",
        query: Vec::new(),
        here: Here::Elsewhere,
        marking: Marking::NoOrgNamed,
        scope: None,
        css: String::new(),
        body,
        body_has_main: false,
    })
}

/// An error page in the layout, for a signed-in viewer: `message` is a locale key.
pub(super) fn error_page(
    status: StatusCode,
    lang: Lang,
    viewer: &Viewer,
    path: &str,
    message: &str,
) -> Response {
    let body = format!(
        "<p>{}</p>\n<p><a href=\"{}\">{}</a></p>\n",
        escape(&t(lang, message)),
        escape(&format!("{}?lang={}", viewer.scope.home(), lang.as_str())),
        escape(&t(lang, "web.error.home"))
    );
    html(
        status,
        page::render(&Page {
            lang,
            title: vigie_matrix::catalogue::render(
                lang,
                "web.error.title",
                &[("status", status.as_u16().to_string())],
            ),
            path,
            query: Vec::new(),
            here: Here::Elsewhere,
            marking: Marking::NoOrgNamed,
            scope: Some(&viewer.scope),
            css: String::new(),
            body,
            body_has_main: false,
        }),
    )
}

/// The answer to a page the viewer's role may not see: 403, or 404 for another
/// organization's (as for an unknown one, so that its name is not confirmed).
pub(super) fn denied(denial: Denial, lang: Lang, viewer: &Viewer, path: &str) -> Response {
    match denial {
        Denial::Forbidden => error_page(StatusCode::FORBIDDEN, lang, viewer, path, "web.forbidden"),
        Denial::Hidden => error_page(StatusCode::NOT_FOUND, lang, viewer, path, "web.not_found"),
    }
}

async fn login_page(Query(params): Query<HashMap<String, String>>) -> Response {
    html(StatusCode::OK, login_html(lang_of(&params), None))
}

#[derive(serde::Deserialize)]
pub(super) struct LoginForm {
    token: String,
    #[serde(default)]
    lang: Option<String>,
}

/// The address failed logins count under: the TCP peer (behind a reverse proxy, the
/// proxy), or `0.0.0.0` for a request without one (the router driven in process).
fn source_address(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// Whether a form was posted from one of the collector's own pages: its `Origin`, or its
/// `Referer` when a browser sent no `Origin`, names the host the request was sent to (and
/// `https` when the listener speaks TLS). A request with neither is let through: it does
/// not come from a browser page of another site (browsers send `Origin` on a cross-site
/// POST), and the session cookie is `SameSite=Strict` besides.
fn same_origin(headers: &HeaderMap, tls: bool) -> bool {
    let claimed = match (headers.get(header::ORIGIN), headers.get(header::REFERER)) {
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => return true,
    };
    let (Ok(claimed), Some(host)) = (
        claimed.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    // `Origin: null` (a sandboxed frame, a redirect across sites) has no `://`: refused.
    let Some((scheme, rest)) = claimed.split_once("://") else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    if !(scheme == "https" || (scheme == "http" && !tls)) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let strip = |a: &str| {
        a.strip_suffix(default_port)
            .unwrap_or(a)
            .to_ascii_lowercase()
    };
    !authority.is_empty() && strip(authority) == strip(host.trim())
}

/// The answer to a form posted from another site.
fn cross_origin(lang: Lang) -> Response {
    html(
        StatusCode::FORBIDDEN,
        login_html(lang, Some("web.login.cross_origin")),
    )
}

/// Counts a failed login from `address`, writes it to the audit log (the address and the
/// reason; never the token) and answers with the login page and `message`.
async fn login_failed(
    state: &AppState,
    address: IpAddr,
    reason: &str,
    status: StatusCode,
    lang: Lang,
    message: &str,
) -> Response {
    if state
        .login_throttle()
        .fail(address, std::time::Instant::now())
    {
        tracing::warn!(
            %address,
            failures = crate::state::login_throttle::MAX_FAILURES,
            "web view: too many failed logins from this address; its logins are refused for a minute"
        );
    }
    if let Err(error) = state
        .store()
        .audit(
            AuditAction::LoginFailure,
            "web",
            &format!("address={address} reason={reason}"),
        )
        .await
    {
        // The refusal stands; only its trace is missing.
        tracing::warn!(%error, %address, reason, "cannot write a failed web login to the audit log");
    }
    html(status, login_html(lang, Some(message)))
}

async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = form
        .lang
        .as_deref()
        .and_then(|l| l.parse().ok())
        .unwrap_or(Lang::En);
    if !same_origin(&headers, state.listener_tls()) {
        return cross_origin(lang);
    }
    let address = source_address(&extensions);
    // Before the token is looked at: during a lockout a right token is refused too.
    if let Err(wait) = state
        .login_throttle()
        .check(address, std::time::Instant::now())
    {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = html(
            StatusCode::TOO_MANY_REQUESTS,
            login_html(lang, Some("web.login.throttled")),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        return response;
    }
    let token = form.token.trim();
    if token.is_empty() || token.len() > 256 {
        return login_failed(
            &state,
            address,
            "malformed",
            StatusCode::UNAUTHORIZED,
            lang,
            "web.login.wrong",
        )
        .await;
    }
    match state.store().authenticate(token).await {
        Ok(Some(Principal::Viewer { scope, .. })) => {
            let session = match state
                .store()
                .open_session(
                    token,
                    chrono::Utc::now(),
                    crate::state::WEB_SESSION_LIFETIME,
                )
                .await
            {
                Ok(session) => session,
                Err(error) => return super::ApiError::unavailable(error).into_response(),
            };
            let mut cookie = format!(
                "{SESSION_COOKIE}={session}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
                crate::state::WEB_SESSION_LIFETIME.as_secs()
            );
            if state.listener_tls() {
                cookie.push_str("; Secure");
            }
            let mut response =
                Redirect::to(&format!("{}?lang={}", scope.home(), lang.as_str())).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(Some(Principal::Agent { .. })) => {
            login_failed(
                &state,
                address,
                "agent_token",
                StatusCode::FORBIDDEN,
                lang,
                "web.login.agent",
            )
            .await
        }
        Ok(Some(Principal::Scraper { .. })) => {
            login_failed(
                &state,
                address,
                "scraper_token",
                StatusCode::FORBIDDEN,
                lang,
                "web.login.scraper",
            )
            .await
        }
        Ok(None) => {
            login_failed(
                &state,
                address,
                "unknown_token",
                StatusCode::UNAUTHORIZED,
                lang,
                "web.login.wrong",
            )
            .await
        }
        Err(error) => super::ApiError::unavailable(error).into_response(),
    }
}

/// The session value of the request's cookie, if any.
fn session_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers, state.listener_tls()) {
        return cross_origin(Lang::En);
    }
    if let Some(session) = session_of(&headers) {
        if let Err(error) = state.store().close_session(session).await {
            return super::ApiError::unavailable(error).into_response();
        }
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vigie_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

/// The viewer behind the request's session, or the login page to answer with (401).
pub(super) async fn viewer(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Viewer, Response> {
    let needed = || {
        html(
            StatusCode::UNAUTHORIZED,
            login_html(lang, Some("web.login.needed")),
        )
    };
    let Some(session) = session_of(headers) else {
        return Err(needed());
    };
    match state.store().session(session, chrono::Utc::now()).await {
        Ok(Some(Principal::Viewer { name, scope })) => Ok(Viewer { name, scope }),
        // Unknown, expired, closed, or its token revoked since the login.
        Ok(_) => Err(needed()),
        Err(error) => Err(super::ApiError::unavailable(error).into_response()),
    }
}

/// The query of a page, without `lang`, for the language toggle.
pub(super) fn kept_query(params: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name.as_str() != "lang")
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    query.sort();
    query
}

async fn matrix_page(
    state: &AppState,
    viewer: &Viewer,
    lang: Lang,
    org: Option<String>,
    path: &str,
    query: Vec<(String, String)>,
) -> Response {
    let view = if org.is_some() {
        View::Org
    } else {
        View::Aggregate
    };
    let request = MatrixRequest {
        view,
        lang,
        since: None,
        org: org.clone(),
        profile: vigie_matrix::TlsProfile::Modern,
        now: chrono::Utc::now(),
        group_by: None,
    };
    let mut computed = match matrix::compute(state.store(), &request).await {
        Ok(computed) => computed,
        Err(MatrixError::UnknownOrg(_)) => return denied(Denial::Hidden, lang, viewer, "/ui/orgs"),
        Err(MatrixError::Store(error)) => {
            return super::ApiError::unavailable(error).into_response()
        }
        Err(error) => return super::ApiError::internal(error).into_response(),
    };
    computed.trim_for(&viewer.scope);
    // Seeing a named organization's matrix is an export to a screen: it leaves a trace too.
    if let Err(error) = state
        .store()
        .audit(
            AuditAction::MatrixExport,
            &viewer.actor(),
            &format!(
                "web view={}{} lang={}",
                view.as_str(),
                org.as_ref()
                    .map(|o| format!(" org={o}"))
                    .unwrap_or_default(),
                lang.as_str()
            ),
        )
        .await
    {
        return super::ApiError::unavailable(error).into_response();
    }
    let (css, body) = render_view(&computed);
    let (title, here, marking) = match (&org, &viewer.scope) {
        (Some(_), Scope::Org(_)) => (t(lang, "title.matrix"), Here::OwnOrg, Marking::NamesOrgs),
        (Some(_), _) => (t(lang, "title.matrix"), Here::Elsewhere, Marking::NamesOrgs),
        (None, _) => (
            t(lang, "title.matrix"),
            Here::Aggregate,
            Marking::NoOrgNamed,
        ),
    };
    html(
        StatusCode::OK,
        page::render(&Page {
            lang,
            title,
            path,
            query,
            here,
            marking,
            scope: Some(&viewer.scope),
            css,
            body,
            body_has_main: true,
        }),
    )
}

async fn aggregate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let viewer = match viewer(&state, &headers, lang).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    // An organization's viewer may not see the aggregate: its first page is its own.
    if let Scope::Org(_) = viewer.scope {
        return Redirect::to(&format!("{}?lang={}", viewer.scope.home(), lang.as_str()))
            .into_response();
    }
    if let Err(denial) = viewer.scope.check(Resource::Aggregate(false)) {
        return denied(denial, lang, &viewer, "/ui/matrix");
    }
    matrix_page(
        &state,
        &viewer,
        lang,
        None,
        "/ui/matrix",
        kept_query(&params),
    )
    .await
}

async fn org_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let viewer = match viewer(&state, &headers, lang).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    if !vigie_model::validate::is_valid_org(&org) {
        return denied(Denial::Hidden, lang, &viewer, "/ui/orgs");
    }
    if let Err(denial) = viewer.scope.check(Resource::Org(&org)) {
        // Not even the name typed is sent back: the toggle leads to the list's path.
        return denied(denial, lang, &viewer, "/ui/orgs");
    }
    let path = format!("/ui/orgs/{org}");
    matrix_page(&state, &viewer, lang, Some(org), &path, kept_query(&params)).await
}

/// An organization is silent when its newest report is older than this: twice a daily
/// schedule.
const SILENT_AFTER_HOURS: i64 = 48;

async fn org_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let viewer = match viewer(&state, &headers, lang).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    if let Err(denial) = viewer.scope.check(Resource::OrgList) {
        return denied(denial, lang, &viewer, "/ui/orgs");
    }
    let orgs = match state.store().orgs(viewer.scope.org_filter()).await {
        Ok(orgs) => orgs,
        Err(error) => return super::ApiError::unavailable(error).into_response(),
    };
    let now = chrono::Utc::now();
    let mut body = String::new();
    if orgs.is_empty() {
        body = format!("<p>{}</p>\n", escape(&t(lang, "web.orgs.none")));
    } else {
        body.push_str(&format!(
            "<table class=\"list\">\n<caption>{}</caption>\n<thead><tr>",
            escape(&vigie_matrix::catalogue::render(
                lang,
                "web.orgs.caption",
                &[("hours", SILENT_AFTER_HOURS.to_string())]
            ))
        ));
        for key in [
            "web.orgs.col.org",
            "web.orgs.col.agents",
            "web.orgs.col.last_report",
            "web.orgs.col.state",
            "web.orgs.col.fail",
            "web.orgs.col.critical_high",
            "web.orgs.col.warn",
            "web.orgs.col.error",
            "web.orgs.col.pass",
        ] {
            body.push_str(&format!("<th scope=\"col\">{}</th>", escape(&t(lang, key))));
        }
        body.push_str("</tr></thead>\n<tbody>\n");
        for org in &orgs {
            let (state_key, class) = match org.last_report_at {
                None => ("web.orgs.never", " class=\"silent\""),
                Some(at) if (now - at).num_hours() >= SILENT_AFTER_HOURS => {
                    ("web.orgs.silent", " class=\"silent\"")
                }
                Some(_) => ("web.orgs.reporting", ""),
            };
            let count = |status: &str| org.findings.by_status.get(status).copied().unwrap_or(0);
            let failing_severe = org
                .findings
                .by_status_and_severity
                .get("fail")
                .map(|by| {
                    by.get("critical").copied().unwrap_or(0) + by.get("high").copied().unwrap_or(0)
                })
                .unwrap_or(0);
            body.push_str(&format!(
                "<tr><th scope=\"row\"><a href=\"/ui/orgs/{id}?lang={code}\">{id}</a></th><td class=\"n\">{agents}</td><td>{last}</td><td{class}>{state}</td><td class=\"n\">{fail}</td><td class=\"n\">{severe}</td><td class=\"n\">{warn}</td><td class=\"n\">{error}</td><td class=\"n\">{pass}</td></tr>\n",
                id = escape(&org.id),
                code = lang.as_str(),
                agents = org.agents,
                last = org
                    .last_report_at
                    .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "—".to_owned()),
                state = escape(&t(lang, state_key)),
                fail = count("fail"),
                severe = failing_severe,
                warn = count("warn"),
                error = count("error"),
                pass = count("pass"),
            ));
        }
        body.push_str("</tbody>\n</table>\n");
    }
    html(
        StatusCode::OK,
        page::render(&Page {
            lang,
            title: t(lang, "web.orgs.title"),
            path: "/ui/orgs",
            query: kept_query(&params),
            here: Here::Orgs,
            marking: Marking::NamesOrgs,
            scope: Some(&viewer.scope),
            css: String::new(),
            body,
            body_has_main: false,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_form_from_another_site_is_not_same_origin() {
        use header::{HOST, ORIGIN, REFERER};
        let host = (HOST, "vigie.example:8443");
        let same = |pairs: &[(header::HeaderName, &str)], tls| same_origin(&headers(pairs), tls);
        assert!(
            same(std::slice::from_ref(&host), true),
            "no Origin nor Referer"
        );
        assert!(same(
            &[host.clone(), (ORIGIN, "https://vigie.example:8443")],
            true
        ));
        assert!(same(
            &[host.clone(), (ORIGIN, "https://VIGIE.example:8443")],
            true
        ));
        assert!(!same(
            &[host.clone(), (ORIGIN, "https://evil.example")],
            true
        ));
        assert!(
            !same(&[host.clone(), (ORIGIN, "http://vigie.example:8443")], true),
            "TLS listener, http page"
        );
        assert!(!same(&[host.clone(), (ORIGIN, "null")], true));
        assert!(
            !same(&[(ORIGIN, "https://vigie.example:8443")], true),
            "no Host"
        );
        assert!(same(
            &[
                host.clone(),
                (REFERER, "https://vigie.example:8443/ui/login?lang=fr")
            ],
            true
        ));
        assert!(!same(
            &[
                host.clone(),
                (REFERER, "https://vigie.example:8443.evil.example/ui")
            ],
            true
        ));
        assert!(!same(
            &[
                host.clone(),
                (REFERER, "https://evil.example/?vigie.example:8443")
            ],
            true
        ));
        // Default ports, and a plain listener behind a TLS proxy.
        assert!(same(
            &[
                (HOST, "vigie.example"),
                (ORIGIN, "https://vigie.example:443")
            ],
            false
        ));
        assert!(same(
            &[
                (HOST, "vigie.example:443"),
                (ORIGIN, "https://vigie.example")
            ],
            false
        ));
        assert!(same(
            &[(HOST, "127.0.0.1:8080"), (ORIGIN, "http://127.0.0.1:8080")],
            false
        ));
    }
}
