//! The one layout of every `/ui` page and of the HTML error pages: a skip link, the
//! classification marking, the navigation of the viewer's role (links apart, the current
//! page marked with `aria-current`), a language toggle that keeps the page and its query,
//! sign-out, then the page's own content in `<main id="content">`.
//!
//! Colours meet WCAG 2.1 AA (4.5:1 for text): the darkest text on white, links `#0b4f8a`
//! (8.2:1), the marking white on `#7a1a00` (10:1); focus is always visible (a 3 px outline).

use std::fmt::Write as _;

use vigie_matrix::catalogue::text as t;
use vigie_model::Lang;

use crate::export::html::escape_html as escape;
use crate::scope::Scope;

/// Which classification marking a page carries: the one of the exports that show the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marking {
    /// The page names organizations (`marking.org`).
    NamesOrgs,
    /// The page names none (`marking.aggregate`): the aggregate, the login and error pages.
    NoOrgNamed,
}

impl Marking {
    fn key(self) -> &'static str {
        match self {
            Marking::NamesOrgs => "marking.org",
            Marking::NoOrgNamed => "marking.aggregate",
        }
    }
}

/// The navigation entry a page is, to mark it current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Here {
    Aggregate,
    Orgs,
    /// The sector's triage.
    Triage,
    OwnOrg,
    /// A page that is no entry of the navigation (an organization's page for the sector,
    /// login, errors).
    Elsewhere,
}

/// One page, before layout.
pub(crate) struct Page<'a> {
    pub lang: Lang,
    /// The `<title>` and `<h1>`, plain text.
    pub title: String,
    /// The path of this page, for the language toggle.
    pub path: &'a str,
    /// The query of this page without `lang`, kept by the language toggle.
    pub query: Vec<(String, String)>,
    pub here: Here,
    pub marking: Marking,
    /// The signed-in viewer's scope; `None` on the login and error pages of no session.
    pub scope: Option<&'a Scope>,
    /// Style sheet rules of the page's own (trusted).
    pub css: String,
    /// The content (trusted HTML made by the caller), without `<main>` unless
    /// `body_has_main`.
    pub body: String,
    /// The body brings its own `<main>` (the matrix's); it is then wrapped in a `<div>`.
    pub body_has_main: bool,
}

/// The layout's own style: after the page's, so that it wins where they meet.
const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 11pt; margin: 0; color: #1a1a1a; background: #fff; }
a { color: #0b4f8a; }
a:focus-visible, button:focus-visible, input:focus-visible, summary:focus-visible, [tabindex]:focus-visible { outline: 3px solid #0b4f8a; outline-offset: 2px; box-shadow: 0 0 0 5px #fff; }
.skip { position: absolute; left: 0.5em; top: -3em; background: #fff; color: #0b4f8a; padding: 0.4em 0.8em; border: 2px solid #0b4f8a; z-index: 10; }
.skip:focus { top: 0.5em; }
header.site { border-bottom: 1px solid #767676; }
.banner { margin: 0; padding: 0.25em 1em; background: #7a1a00; color: #fff; font-weight: bold; font-size: 9.5pt; text-align: center; }
nav.site { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5em 1.5em; padding: 0.5em 1em; }
nav.site ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.25em 0; margin: 0; padding: 0; }
nav.site li + li { border-left: 1px solid #767676; margin-left: 0.9em; padding-left: 0.9em; }
nav.site a[aria-current=page] { font-weight: bold; color: #1a1a1a; text-decoration: none; border-bottom: 3px solid #0b4f8a; }
nav.site .who { color: #1a1a1a; margin-left: auto; }
nav.site form { display: inline; margin: 0; }
nav.site button { font: inherit; color: #0b4f8a; background: #fff; border: 1px solid #0b4f8a; border-radius: 3px; padding: 0.1em 0.6em; cursor: pointer; }
#content { padding: 0 1em 2em; }
#content > main { margin-top: 1em; }
.marking { display: none; }
table.list { border-collapse: collapse; margin: 0.6em 0 1.4em; }
table.list caption { text-align: left; padding: 0.2em 0 0.4em; }
table.list th, table.list td { border: 1px solid #767676; padding: 3px 8px; text-align: left; vertical-align: top; }
table.list thead th { background: #f0f0f0; }
table.list td.n { text-align: right; font-variant-numeric: tabular-nums; }
.silent { color: #8a1c00; font-weight: bold; }
.meta { color: #333; }
td.stale { opacity: 1; }
@media print { .skip, nav.site { display: none; } .banner { background: none; color: #000; } }
";

/// The page laid out.
pub(crate) fn render(page: &Page<'_>) -> String {
    let lang = page.lang;
    let mut out = String::with_capacity(page.body.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} — Vigie</title>\n<style>\n{page_css}\n{CSS}</style>\n</head>\n<body>\n<a class=\"skip\" href=\"#content\">{skip}</a>\n<header class=\"site\">\n<p class=\"banner\" role=\"note\">{marking}</p>\n{nav}</header>\n",
        code = lang.as_str(),
        title = escape(&page.title),
        page_css = page.css,
        skip = escape(&t(lang, "web.skip")),
        marking = escape(&t(lang, page.marking.key())),
        nav = nav(page),
    );
    if page.body_has_main {
        let _ = write!(
            out,
            "<div id=\"content\" tabindex=\"-1\">\n{}</div>\n",
            page.body
        );
    } else {
        let _ = write!(
            out,
            "<main id=\"content\" tabindex=\"-1\">\n<h1>{}</h1>\n{}</main>\n",
            escape(&page.title),
            page.body
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// `path?query&lang=code`, the query's values escaped for a URL and the whole for HTML.
pub(crate) fn href(path: &str, query: &[(String, String)], lang: Lang) -> String {
    let mut url = String::from(path);
    let mut first = true;
    for (name, value) in query
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain([("lang", lang.as_str())])
    {
        url.push(if first { '?' } else { '&' });
        first = false;
        url.push_str(&url_encode(name));
        url.push('=');
        url.push_str(&url_encode(value));
    }
    escape(&url)
}

fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// The other language.
pub(crate) fn other(lang: Lang) -> Lang {
    match lang {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    }
}

fn nav(page: &Page<'_>) -> String {
    let lang = page.lang;
    let mut items: Vec<(Here, String, String)> = Vec::new();
    match page.scope {
        Some(Scope::Sector) => {
            items.push((
                Here::Aggregate,
                format!("/ui/matrix?lang={}", lang.as_str()),
                t(lang, "web.nav.aggregate"),
            ));
            items.push((
                Here::Orgs,
                format!("/ui/orgs?lang={}", lang.as_str()),
                t(lang, "web.nav.orgs"),
            ));
            items.push((
                Here::Triage,
                format!("/ui/triage?lang={}", lang.as_str()),
                t(lang, "web.nav.triage"),
            ));
        }
        Some(Scope::Committee) => items.push((
            Here::Aggregate,
            format!("/ui/matrix?lang={}", lang.as_str()),
            t(lang, "web.nav.aggregate"),
        )),
        Some(Scope::Org(org)) => items.push((
            Here::OwnOrg,
            format!("/ui/orgs/{}?lang={}", url_encode(org), lang.as_str()),
            t(lang, "web.nav.own"),
        )),
        None => items.push((
            Here::Elsewhere,
            format!("/ui/login?lang={}", lang.as_str()),
            t(lang, "web.login.submit"),
        )),
    }
    let mut out = format!(
        "<nav class=\"site\" aria-label=\"{}\">\n<ul>\n",
        escape(&t(lang, "web.nav.label"))
    );
    for (here, url, label) in items {
        let current = if here == page.here && here != Here::Elsewhere {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<li><a href=\"{}\"{current}>{}</a></li>",
            escape(&url),
            escape(&label)
        );
    }
    let other = other(lang);
    let _ = writeln!(
        out,
        "<li><a href=\"{}\" lang=\"{code}\" hreflang=\"{code}\">{}</a></li>\n</ul>",
        href(page.path, &page.query, other),
        escape(&t(other, "lang.name")),
        code = other.as_str(),
    );
    if let Some(scope) = page.scope {
        let role = match scope {
            Scope::Sector => t(lang, "web.role.sector"),
            Scope::Committee => t(lang, "web.role.committee"),
            Scope::Org(org) => {
                vigie_matrix::catalogue::render(lang, "web.role.org", &[("org", org.clone())])
            }
        };
        let _ = writeln!(
            out,
            "<span class=\"who\">{}</span>\n<form method=\"post\" action=\"/ui/logout\"><button type=\"submit\">{}</button></form>",
            escape(&role),
            escape(&t(lang, "web.nav.logout"))
        );
    }
    out.push_str("</nav>\n");
    out
}

/// The bilingual page of an API error for a browser: English first, then French, the
/// English detail of the API (details are English), and a link to the web view.
pub(crate) fn error_html(status: axum::http::StatusCode, code: &str, detail: &str) -> String {
    let key = match code {
        "unauthenticated" => "web.error.unauthenticated",
        "forbidden" => "web.error.forbidden",
        "not_found" => "web.error.not_found",
        "rate_limited" => "web.error.rate_limited",
        "store_unavailable" | "overloaded" | "collector_busy" => "web.error.unavailable",
        _ if status.is_server_error() => "web.error.server",
        _ => "web.error.request",
    };
    let mut body = String::new();
    for lang in [Lang::En, Lang::Fr] {
        let _ = write!(
            body,
            "<section lang=\"{code}\" aria-labelledby=\"e-{code}\">\n<h2 id=\"e-{code}\">{title}</h2>\n<p>{meaning}</p>\n<p><a href=\"/ui?lang={code}\">{home}</a></p>\n</section>\n",
            code = lang.as_str(),
            title = escape(&vigie_matrix::catalogue::render(
                lang,
                "web.error.title",
                &[("status", status.as_u16().to_string())]
            )),
            meaning = escape(&t(lang, key)),
            home = escape(&t(lang, "web.error.home")),
        );
    }
    if !detail.is_empty() {
        let _ = writeln!(
            body,
            "<p class=\"meta\" lang=\"en\"><code>{}</code>: {}</p>",
            escape(code),
            escape(detail)
        );
    }
    render(&Page {
        lang: Lang::En,
        title: format!(
            "{} / {}",
            vigie_matrix::catalogue::render(
                Lang::En,
                "web.error.title",
                &[("status", status.as_u16().to_string())]
            ),
            vigie_matrix::catalogue::render(
                Lang::Fr,
                "web.error.title",
                &[("status", status.as_u16().to_string())]
            )
        ),
        path: "/ui",
        query: Vec::new(),
        here: Here::Elsewhere,
        marking: Marking::NoOrgNamed,
        scope: None,
        css: String::new(),
        body,
        body_has_main: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(scope: Option<&Scope>, here: Here) -> String {
        render(&Page {
            lang: Lang::En,
            title: "T".into(),
            path: "/ui/orgs",
            query: vec![("sort".into(), "a b&c".into())],
            here,
            marking: Marking::NamesOrgs,
            scope,
            css: String::new(),
            body: "<p>x</p>".into(),
            body_has_main: false,
        })
    }

    #[test]
    fn the_toggle_keeps_the_page_and_its_query() {
        let html = page(Some(&Scope::Sector), Here::Orgs);
        assert!(
            html.contains("href=\"/ui/orgs?sort=a%20b%26c&amp;lang=fr\" lang=\"fr\""),
            "{html}"
        );
        assert!(html.contains("<a href=\"/ui/orgs?lang=en\" aria-current=\"page\">"));
        assert_eq!(html.matches("aria-current=\"page\"").count(), 1);
        assert!(html.contains("class=\"skip\" href=\"#content\""));
        assert!(html.contains("PROTECTED A"));
    }

    #[test]
    fn each_role_has_its_own_navigation() {
        let org = Scope::Org("rowan-clinic".into());
        let html = page(Some(&org), Here::OwnOrg);
        assert!(html.contains("/ui/orgs/rowan-clinic?lang=en"));
        assert!(!html.contains("/ui/matrix"));
        let html = page(Some(&Scope::Committee), Here::Aggregate);
        assert!(!html.contains("href=\"/ui/orgs?lang=en\""));
        assert!(html.contains("/ui/matrix"));
        let html = page(None, Here::Elsewhere);
        assert!(!html.contains("/ui/logout"));
    }
}
