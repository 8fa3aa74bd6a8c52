//! The built-in web view of the capability matrix, for people without Grafana: read-only,
//! server-rendered HTML (the HTML export's rendering, one language a page), behind a viewer
//! token.
//!
//! A browser cannot easily send a bearer header, so the token is given once to a login form
//! (`POST /ui/login`, form body, never a URL); the collector then sets a cookie holding a
//! random session value (`HttpOnly`, `SameSite=Strict`, `Path=/ui`, `Secure` when the
//! listener speaks TLS). Sessions live in memory ([`crate::state::WebSessions`]) and each
//! page authenticates the token behind its session again, so a revoked viewer token closes
//! its sessions at the next click.
//!
//! Pages: `/ui/matrix` (sector aggregate, the committee's default), `/ui/orgs` (the list),
//! `/ui/orgs/{org}` (one organization's column), each with `?lang=en|fr`.
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

use crate::auth::Principal;
use crate::export::html::{escape_html as escape, render_view, style};
use crate::matrix::{self, MatrixError, MatrixRequest, View};
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
        .route("/ui/orgs/{org}/matrix", get(org_page))
        .merge(super::card::routes())
        .merge(super::triage::routes())
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
    let headers = response.headers_mut();
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
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The login page, with an optional message (already a locale key).
fn login_html(lang: Lang, message: Option<&str>) -> String {
    let other = match lang {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    };
    let message = message
        .map(|key| {
            format!(
                "<p role=\"alert\"><strong>{}</strong></p>\n",
                escape(&t(lang, key))
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>\n{css}</style>\n</head>\n<body>\n<main>\n<p><a href=\"/ui/login?lang={other_code}\" lang=\"{other_code}\">{other_name}</a></p>\n<h1>{title}</h1>\n{message}<form method=\"post\" action=\"/ui/login\">\n<input type=\"hidden\" name=\"lang\" value=\"{code}\">\n<p><label for=\"token\">{token}</label><br>\n<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required size=\"60\"></p>\n<p class=\"meta\">{help}</p>\n<p><button type=\"submit\">{submit}</button></p>\n</form>\n</main>\n</body>\n</html>\n",
        code = lang.as_str(),
        other_code = other.as_str(),
        other_name = escape(&t(other, "lang.name")),
        title = escape(&t(lang, "web.login.title")),
        css = style(),
        token = escape(&t(lang, "web.login.token")),
        help = escape(&t(lang, "web.login.help")),
        submit = escape(&t(lang, "web.login.submit")),
    )
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
        Ok(Some(Principal::Viewer { .. })) => {
            let session = state.web_sessions().open(token.to_owned());
            let mut cookie = format!(
                "{SESSION_COOKIE}={session}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
                crate::state::WEB_SESSION_LIFETIME.as_secs()
            );
            if state.listener_tls() {
                cookie.push_str("; Secure");
            }
            let mut response =
                Redirect::to(&format!("/ui/matrix?lang={}", lang.as_str())).into_response();
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
        state.web_sessions().close(session);
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
) -> Result<String, Response> {
    let needed = || {
        html(
            StatusCode::UNAUTHORIZED,
            login_html(lang, Some("web.login.needed")),
        )
    };
    let Some(token) = session_of(headers).and_then(|s| state.web_sessions().token(s)) else {
        return Err(needed());
    };
    match state.store().authenticate(&token).await {
        Ok(Some(Principal::Viewer { name })) => Ok(name),
        // Revoked since the login (or no longer a viewer): the session is over.
        Ok(_) => {
            if let Some(session) = session_of(headers) {
                state.web_sessions().close(session);
            }
            Err(needed())
        }
        Err(error) => Err(super::ApiError::unavailable(error).into_response()),
    }
}

/// The links above every page: the views, the other language, sign out.
pub(super) fn nav(lang: Lang, here: &str) -> String {
    let other = match lang {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    };
    format!(
        "<nav><a href=\"/ui/matrix?lang={code}\">{aggregate}</a><a href=\"/ui/orgs?lang={code}\">{orgs}</a><a href=\"/ui/triage?lang={code}\">{triage}</a><a href=\"{here}?lang={other_code}\" lang=\"{other_code}\">{other_name}</a><form method=\"post\" action=\"/ui/logout\" style=\"display:inline\"><button type=\"submit\">{logout}</button></form></nav>",
        code = lang.as_str(),
        other_code = other.as_str(),
        aggregate = escape(&t(lang, "web.nav.aggregate")),
        orgs = escape(&t(lang, "web.nav.orgs")),
        triage = escape(&t(lang, "web.nav.triage")),
        here = escape(here),
        other_name = escape(&t(other, "lang.name")),
        logout = escape(&t(lang, "web.nav.logout")),
    )
}

async fn matrix_page(
    state: &AppState,
    viewer: &str,
    lang: Lang,
    org: Option<String>,
    here: &str,
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
    let computed = match matrix::compute(state.store(), &request).await {
        Ok(computed) => computed,
        Err(MatrixError::UnknownOrg(_)) => {
            return html(
                StatusCode::NOT_FOUND,
                format!(
                    "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>404</title></head><body>{}<p>{}</p></body></html>\n",
                    lang.as_str(),
                    nav(lang, "/ui/orgs"),
                    escape(&t(lang, "web.not_found"))
                ),
            )
        }
        Err(MatrixError::Store(error)) => return super::ApiError::unavailable(error).into_response(),
        Err(error) => return super::ApiError::internal(error).into_response(),
    };
    // Seeing a named organization's matrix is an export to a screen: it leaves a trace too.
    if let Err(error) = state
        .store()
        .audit(
            AuditAction::MatrixExport,
            &format!("viewer:{viewer}"),
            &format!(
                "web view={}{} lang={}",
                view.as_str(),
                org.map(|o| format!(" org={o}")).unwrap_or_default(),
                lang.as_str()
            ),
        )
        .await
    {
        return super::ApiError::unavailable(error).into_response();
    }
    html(StatusCode::OK, render_view(&computed, &nav(lang, here)))
}

async fn aggregate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    match viewer(&state, &headers, lang).await {
        Ok(name) => matrix_page(&state, &name, lang, None, "/ui/matrix").await,
        Err(response) => response,
    }
}

async fn org_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    let name = match viewer(&state, &headers, lang).await {
        Ok(name) => name,
        Err(response) => return response,
    };
    if !vigie_model::validate::is_valid_org(&org) {
        return matrix_page(&state, &name, lang, Some(String::new()), "/ui/orgs").await;
    }
    let here = format!("/ui/orgs/{org}");
    matrix_page(&state, &name, lang, Some(org), &here).await
}

async fn org_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&params);
    if let Err(response) = viewer(&state, &headers, lang).await {
        return response;
    }
    let orgs = match state.store().orgs().await {
        Ok(orgs) => orgs,
        Err(error) => return super::ApiError::unavailable(error).into_response(),
    };
    let mut list = String::new();
    for org in &orgs {
        list.push_str(&format!(
            "<li><a href=\"/ui/orgs/{id}?lang={code}\">{id}</a></li>\n",
            id = escape(&org.id),
            code = lang.as_str()
        ));
    }
    if orgs.is_empty() {
        list = format!("<li>{}</li>\n", escape(&t(lang, "web.orgs.none")));
    }
    html(
        StatusCode::OK,
        format!(
            "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n{css}</style>\n</head>\n<body>\n{nav}\n<main>\n<h1>{title}</h1>\n<ul>\n{list}</ul>\n</main>\n</body>\n</html>\n",
            code = lang.as_str(),
            title = escape(&t(lang, "web.orgs.title")),
            css = style(),
            nav = nav(lang, "/ui/orgs"),
        ),
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
