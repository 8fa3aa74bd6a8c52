//! The collector's built-in web view (`/ui`) through real HTTP against a running
//! `vigie-collector serve`: no session or a wrong token gets the login page with 401, an
//! agent token is refused, a viewer signs in once with a form and then browses with an
//! HttpOnly, SameSite=Strict session cookie that never holds the token; the levels shown
//! are those of the JSON export; `?lang=fr` gives French headers; signing out and revoking
//! the viewer token both end the session.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use chrono::{Duration as Span, SecondsFormat, Utc};
use serde_json::{json, Value};
use vigie_tests::harness::{self, Collector};
use vigie_tests::scale::{read_answer, Answer};

/// One request on a new connection, with optional cookie and form body.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Answer {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(head.as_bytes()).unwrap();
    reader.get_mut().write_all(body.as_bytes()).unwrap();
    read_answer(&mut reader).unwrap()
}

fn finding(check: &str, target: &str, status: &str) -> Value {
    json!({
        "check": check, "target": target, "status": status, "severity": "high",
        "summary": format!("{check}: {status}"), "evidence": {},
    })
}

/// A report whose verdicts put C01, C03 and C05 at different levels per organization.
fn report(org: &str, n: u8, good: bool) -> String {
    let at = Utc::now() - Span::minutes(5);
    let www = format!("www.{org}.test:443");
    let domain = format!("{org}.test");
    let s = |ok: bool| if ok { "pass" } else { "fail" };
    json!({
        "schema": "vigie.report.v1",
        "report_id": format!("00000000-0000-4000-8000-0000000000{n:02}"),
        "agent": {"id": format!("agent-{org}"), "version": "0.1.0", "hostname": "srv"},
        "org": org,
        "started_at": (at - Span::seconds(5)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "finished_at": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "targets": [
            {"kind": "tls", "target": www},
            {"kind": "email", "target": domain},
            {"kind": "services", "target": "127.0.0.9"},
        ],
        "findings": [
            finding("tls.connect", &www, "pass"),
            finding("tls.protocol.sslv3", &www, "pass"),
            finding("tls.protocol.tls1_0", &www, s(good)),
            finding("tls.protocol.tls1_1", &www, s(good)),
            finding("tls.protocol.tls1_3", &www, "pass"),
            finding("https.redirect", &www, s(good)),
            finding("https.hsts", &www, s(good)),
            finding("tls.cert.expired", &www, "pass"),
            finding("tls.cert.untrusted", &www, "pass"),
            finding("email.dmarc.missing", &domain, s(good)),
            finding("email.dmarc.policy", &domain, s(good)),
            finding("email.spf.missing", &domain, "pass"),
            finding("email.spf.all", &domain, s(good)),
            finding("service.open", "127.0.0.9:443", "info"),
            finding("service.remote_desktop", "127.0.0.9:3389", s(good)),
        ],
        "profile": "modern",
    })
    .to_string()
}

/// `(capability, first word of the cell)` of every row of the page's matrix table.
fn levels_in_page(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in page.split("<tr data-capability=\"").skip(1) {
        let capability = row.split('"').next().unwrap().to_owned();
        let cell = row
            .split("<td class=\"v ")
            .nth(1)
            .and_then(|c| c.split_once('>'))
            .map(|(_, rest)| rest.split("</td>").next().unwrap().to_owned())
            .unwrap();
        // A level with findings behind it links to them: the link's text is the level.
        let cell = match cell.strip_prefix("<a ").and_then(|a| a.split_once('>')) {
            Some((_, inner)) => inner.split("</a>").next().unwrap().to_owned(),
            None => cell,
        };
        let text = cell.replace("&amp;", "&");
        out.push((capability, text));
    }
    out
}

fn session_cookie(answer: &Answer) -> String {
    let set = answer.header("set-cookie").expect("a Set-Cookie header");
    set.split(';').next().unwrap().trim().to_owned()
}

#[test]
fn the_web_view_needs_a_viewer_session_and_shows_the_levels_of_the_json_export() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path());
    let addr = collector.addr;
    for (n, (org, good)) in [("org-a", false), ("org-b", true), ("org-c", true)]
        .into_iter()
        .enumerate()
    {
        let token = collector.agent_token(org);
        let (status, body) = harness::http_post_json(
            &collector.url("/api/v1/reports"),
            Some(&token),
            &report(org, n as u8, good),
        )
        .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let viewer = collector.viewer_token();
    let agent = collector.agent_token("org-a");

    // No session: the login page, with 401, for every page.
    for path in [
        "/ui/matrix",
        "/ui/orgs",
        "/ui/orgs/org-a",
        "/ui/matrix?lang=fr",
    ] {
        let answer = send(addr, "GET", path, None, None);
        assert_eq!(answer.status, 401, "{path}");
        assert!(
            answer
                .body
                .contains("<form method=\"post\" action=\"/ui/login\""),
            "{path}"
        );
        assert!(!answer.body.contains("data-capability"), "{path}");
    }
    // A made-up session is no session.
    let answer = send(addr, "GET", "/ui/matrix", Some("vigie_session=AAAA"), None);
    assert_eq!(answer.status, 401);

    // A wrong token: 401 and no cookie; an agent token: 403 and no cookie.
    let answer = send(
        addr,
        "POST",
        "/ui/login",
        None,
        Some("token=vgv_wrong&lang=en"),
    );
    assert_eq!(answer.status, 401);
    assert!(answer.header("set-cookie").is_none());
    assert!(answer.body.contains("Unknown or revoked token"));
    let form = format!("token={}&lang=en", harness::url_encode(&agent));
    let answer = send(addr, "POST", "/ui/login", None, Some(&form));
    assert_eq!(answer.status, 403);
    assert!(answer.header("set-cookie").is_none());
    assert!(answer.body.contains("agent token"));

    // The viewer signs in once.
    let form = format!("token={}&lang=en", harness::url_encode(&viewer));
    let answer = send(addr, "POST", "/ui/login", None, Some(&form));
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.header("location"), Some("/ui/matrix?lang=en"));
    let set_cookie = answer.header("set-cookie").unwrap().to_owned();
    assert!(set_cookie.starts_with("vigie_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    // Plain HTTP here: a Secure cookie would never come back.
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    assert!(!set_cookie.contains(&viewer), "the cookie holds the token");
    let cookie = session_cookie(&answer);
    assert!(cookie.len() > "vigie_session=".len() + 40, "{cookie}");

    // The organization's page shows the JSON export's levels, capability by capability.
    let page = send(addr, "GET", "/ui/orgs/org-a", Some(&cookie), None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("<html lang=\"en\">"));
    let (status, json) = harness::http_get(
        &collector.url("/api/v1/matrix?view=org&org=org-a&format=json"),
        Some(&viewer),
    )
    .unwrap();
    assert_eq!(status, 200, "{json}");
    let json: Value = serde_json::from_str(&json).unwrap();
    let cells = json["orgs"][0]["cells"].as_array().unwrap();
    let shown = levels_in_page(&page.body);
    assert_eq!(shown.len(), 18, "{}", page.body);
    assert_eq!(shown.len(), cells.len());
    let mut known = 0;
    for ((capability, text), cell) in shown.iter().zip(cells) {
        assert_eq!(capability, cell["capability"].as_str().unwrap());
        let label = cell["label"].as_str().unwrap();
        assert!(
            text == label || text.starts_with(&format!("{label} ")),
            "{capability}: page shows `{text}`, JSON says `{label}`"
        );
        if label != "?" && label != "N/A" {
            known += 1;
        }
    }
    assert!(
        known >= 3,
        "the fixture grades several capabilities: {shown:?}"
    );

    // The aggregate page: the medians of the JSON export; no organization named.
    let page = send(addr, "GET", "/ui/matrix?lang=en", Some(&cookie), None);
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("org-a"));
    let (_, json) = harness::http_get(
        &collector.url("/api/v1/matrix?view=aggregate&format=json"),
        Some(&viewer),
    )
    .unwrap();
    let json: Value = serde_json::from_str(&json).unwrap();
    let rows = json["aggregate"].as_array().unwrap();
    let shown = levels_in_page(&page.body);
    assert_eq!(shown.len(), rows.len());
    for ((capability, text), row) in shown.iter().zip(rows) {
        assert_eq!(capability, row["capability"].as_str().unwrap());
        let median = row["median"]
            .as_u64()
            .map_or("?".to_owned(), |m| m.to_string());
        assert_eq!(*text, median, "{capability}");
    }
    assert!(page.body.contains("Sector aggregate"));

    // French: French page, French headers, no English ones.
    let page = send(addr, "GET", "/ui/matrix?lang=fr", Some(&cookie), None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html lang=\"fr\">"));
    for french in [
        "Agrégat du secteur",
        "Niveau médian",
        "Part au niveau 3 ou plus",
        "Matrice des capacités de cybersécurité",
    ] {
        assert!(page.body.contains(french), "missing {french}");
    }
    for english in ["Sector aggregate", "Cybersecurity capability matrix"] {
        assert!(
            !page.body.contains(english),
            "English `{english}` on the French page"
        );
    }

    // The list links every organization.
    let page = send(addr, "GET", "/ui/orgs?lang=en", Some(&cookie), None);
    assert_eq!(page.status, 200);
    for org in ["org-a", "org-b", "org-c"] {
        assert!(page
            .body
            .contains(&format!("href=\"/ui/orgs/{org}?lang=en\"")));
    }
    assert_eq!(
        send(addr, "GET", "/ui/orgs/nobody", Some(&cookie), None).status,
        404
    );

    // Signing out ends the session.
    let answer = send(addr, "POST", "/ui/logout", Some(&cookie), Some(""));
    assert_eq!(answer.status, 303);
    assert_eq!(
        send(addr, "GET", "/ui/matrix", Some(&cookie), None).status,
        401
    );

    // Revoking the viewer token ends its sessions at the next page.
    let answer = send(addr, "POST", "/ui/login", None, Some(&form));
    let cookie = session_cookie(&answer);
    assert_eq!(
        send(addr, "GET", "/ui/matrix", Some(&cookie), None).status,
        200
    );
    collector.manage(&["viewer", "revoke", "--name", "e2e"]);
    assert_eq!(
        send(addr, "GET", "/ui/matrix", Some(&cookie), None).status,
        401
    );
}
