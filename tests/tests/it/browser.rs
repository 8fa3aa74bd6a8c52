//! The web view in a real browser: Debian's chromium driven by its chromedriver over
//! WebDriver (`fantoccini`), against a real `vigie-collector serve` on loopback. Each role
//! signs in through the form and sees what it may and nothing else; the language toggle
//! keeps the page and its query; a browser gets an HTML error page; the keyboard reaches the
//! skip link first; and axe-core (vendored in `tests/vendor/`, injected into each page)
//! finds no serious or critical violation of WCAG 2.1 A and AA on any page.
//!
//! chromedriver is started by the test on a free loopback port and stopped by its handle;
//! chromium runs headless with a fresh profile and no network beyond loopback.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use fantoccini::actions::InputSource as _;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use vigie_tests::harness::{free_port, wait_until, Process};
use vigie_tests::scale;

use crate::hostile::{Backend, Lab};

const OWN: &str = "rowan-clinic";
const OTHER: &str = "birch-school";

/// chromedriver and one chromium session; the session is ended and chromedriver stopped
/// when dropped, whatever the test did.
struct Browser {
    client: Option<Client>,
    session: Option<String>,
    port: u16,
    // After the session: chromedriver stops last.
    _driver: Process,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port(Ipv4Addr::LOCALHOST);
        let driver = Process::spawn(
            "chromedriver",
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        );
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            wait_until(Duration::from_secs(20), || {
                TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
            }),
            "chromedriver did not listen on {address} within 20 s"
        );
        let profile = tempfile::tempdir().expect("a profile folder");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://{address}"))
            .await
            .unwrap_or_else(|e| panic!("a chromium session through chromedriver: {e}"));
        let session = client.session_id().await.ok().flatten();
        Browser {
            client: Some(client),
            session,
            port,
            _driver: driver,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a live session")
    }

    /// Ends the session (chromium quits) and stops chromedriver.
    async fn quit(mut self) {
        if let Some(client) = self.client.take() {
            if client.close().await.is_ok() {
                self.session = None;
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked left the session open: end it over WebDriver, so that
        // chromium quits before chromedriver is killed.
        if let Some(session) = self.session.take() {
            if let Ok(mut stream) = TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
                Duration::from_secs(2),
            ) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    stream,
                    "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let _ = std::io::Read::read(&mut stream, &mut [0u8; 512]);
            }
        }
    }
}

/// The serious and critical violations axe-core finds on the current page, for WCAG 2.1
/// A and AA: `id (impact): nodes`.
async fn axe_violations(client: &Client) -> Vec<String> {
    let axe =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/axe.min.js"))
            .expect("tests/vendor/axe.min.js");
    client
        .execute(&format!("{axe}\n;return typeof axe;"), vec![])
        .await
        .expect("axe-core injected");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))))
                .catch(e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));",
            vec![],
        )
        .await
        .expect("axe-core ran");
    result
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| format!("{} ({}): {}", v["id"], v["impact"], v["nodes"]))
        .collect()
}

/// Opens `path`, checks it with axe-core, and returns its HTML.
async fn visit(client: &Client, base: &str, path: &str, violations: &mut Vec<String>) -> String {
    client
        .goto(&format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    for violation in axe_violations(client).await {
        violations.push(format!("{path}: {violation}"));
    }
    client.source().await.expect("the page source")
}

/// Signs in through the form with `token`; returns the path the collector sent it to.
async fn sign_in(client: &Client, base: &str, token: &str) -> String {
    client
        .goto(&format!("{base}/ui/login"))
        .await
        .expect("the login page");
    let field = client
        .find(Locator::Css("input#token"))
        .await
        .expect("a token field");
    field.send_keys(token).await.expect("typing the token");
    client
        .find(Locator::Css("form[action='/ui/login'] button[type=submit]"))
        .await
        .expect("a submit button")
        .click()
        .await
        .expect("submitting");
    // The answer replaces the login page: wait (bounded) for the form to go.
    for _ in 0..100 {
        let url = client.current_url().await.expect("the page's URL");
        if url.path() != "/ui/login" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = client.current_url().await.expect("the page's URL");
    if url.path() == "/ui/login" {
        let page = client.source().await.unwrap_or_default();
        panic!("signing in failed: {page}");
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

async fn sign_out(client: &Client) {
    client
        .find(Locator::Css("form[action='/ui/logout'] button"))
        .await
        .expect("a sign-out button")
        .click()
        .await
        .expect("signing out");
}

fn lab_with_two_orgs() -> (Lab, [String; 3]) {
    let lab = Lab::start(Backend::Sqlite, &[]);
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    for (n, org) in [OWN, OTHER].into_iter().enumerate() {
        let token = lab.agent_token(org, "srv01");
        let id = scale::report_id(run, n as u64, 1);
        let body = scale::report_json(&id, org, "srv01", "t-", 40, Utc::now());
        assert_eq!(lab.post_report(&token, &body).status, 201);
    }
    let c = &lab.collector;
    let tokens = [
        c.manage_ok(&["viewer", "add", "--name", "lead", "--role", "sector"]),
        c.manage_ok(&[
            "viewer", "add", "--name", "it", "--role", "org", "--org", OWN,
        ]),
        c.manage_ok(&[
            "viewer",
            "add",
            "--name",
            "committee",
            "--role",
            "committee",
        ]),
    ];
    (lab, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_its_pages_in_chromium_and_axe_finds_no_serious_violation() {
    let (lab, [sector, org, committee]) = lab_with_two_orgs();
    let base = format!("http://{}", lab.collector.addr);
    let browser = Browser::start().await;
    let client = browser.client();
    let mut violations = Vec::new();

    // The checker checks: a page with an image without text is a critical violation.
    client
        .goto("data:text/html,<!DOCTYPE html><html lang=en><title>t</title><main><img src=x.png></main></html>")
        .await
        .expect("a bad page");
    let found = axe_violations(client).await;
    assert!(
        found.iter().any(|v| v.starts_with("\"image-alt\"")),
        "axe-core did not report the missing alt text: {found:?}"
    );

    // Nobody signed in: `/` leads to the login page, which is accessible too.
    client.goto(&format!("{base}/")).await.expect("/");
    let url = client.current_url().await.expect("a URL");
    assert_eq!(
        url.path(),
        "/ui/matrix",
        "/ → /ui → /ui/matrix (the login page, 401)"
    );
    let page = visit(client, &base, "/ui/login?lang=fr", &mut violations).await;
    assert!(page.contains("<html lang=\"fr\">"), "{page}");

    // The sector lead: every page, both organizations.
    assert_eq!(sign_in(client, &base, &sector).await, "/ui/matrix?lang=en");
    for path in [
        "/ui/matrix",
        "/ui/matrix?lang=fr",
        "/ui/orgs",
        "/ui/orgs?lang=fr",
    ] {
        let page = visit(client, &base, path, &mut violations).await;
        assert!(
            page.contains("PROTECTED A") || page.contains("TLP:AMBER"),
            "{path}: no marking"
        );
        if path.starts_with("/ui/orgs") {
            assert!(page.contains(OWN) && page.contains(OTHER), "{path}");
        } else {
            assert!(
                !page.contains(OWN) && !page.contains(OTHER),
                "{path} names an organization"
            );
        }
    }
    let page = visit(client, &base, &format!("/ui/orgs/{OTHER}"), &mut violations).await;
    assert!(page.contains(OTHER));
    // The current page is marked in the navigation.
    client
        .goto(&format!("{base}/ui/orgs?lang=en"))
        .await
        .expect("orgs");
    let current = client
        .find(Locator::Css("nav a[aria-current=page]"))
        .await
        .expect("a current link")
        .text()
        .await
        .expect("its text");
    assert_eq!(current, "Organizations");

    // The language toggle keeps the page and its query.
    client
        .goto(&format!("{base}/ui/orgs?view=x&lang=en"))
        .await
        .expect("orgs with a query");
    client
        .find(Locator::Css("nav a[hreflang=fr]"))
        .await
        .expect("the toggle")
        .click()
        .await
        .expect("toggling");
    let url = client.current_url().await.expect("a URL");
    assert_eq!(url.path(), "/ui/orgs");
    assert_eq!(url.query(), Some("view=x&lang=fr"));
    let html_lang = client
        .execute("return document.documentElement.lang;", vec![])
        .await
        .expect("the page's language");
    assert_eq!(html_lang, json!("fr"));

    // The keyboard reaches the skip link first, and it leads to the content.
    client
        .goto(&format!("{base}/ui/matrix?lang=en"))
        .await
        .expect("matrix");
    let first = client
        .execute("document.activeElement.blur(); return null;", vec![])
        .await;
    assert!(first.is_ok());
    let actions = fantoccini::actions::KeyActions::new("keyboard".to_owned())
        .then(fantoccini::actions::KeyAction::Down {
            value: fantoccini::key::Key::Tab.into(),
        })
        .then(fantoccini::actions::KeyAction::Up {
            value: fantoccini::key::Key::Tab.into(),
        });
    client.perform_actions(actions).await.expect("Tab");
    let focused = client
        .execute(
            "return document.activeElement.className + ' ' + document.activeElement.getAttribute('href');",
            vec![],
        )
        .await
        .expect("the focused element");
    assert_eq!(focused, json!("skip #content"));
    sign_out(client).await;

    // An organization's IT person: its own organization only.
    assert_eq!(
        sign_in(client, &base, &org).await,
        format!("/ui/orgs/{OWN}?lang=en")
    );
    for path in [
        format!("/ui/orgs/{OWN}"),
        "/ui/orgs".to_owned(),
        format!("/ui/orgs/{OWN}?lang=fr"),
    ] {
        let page = visit(client, &base, &path, &mut violations).await;
        assert!(page.contains(OWN), "{path}");
        assert!(!page.contains(OTHER), "{path} names the other organization");
    }
    let page = visit(client, &base, &format!("/ui/orgs/{OTHER}"), &mut violations).await;
    assert!(!page.contains(OTHER), "a 404 that names it");
    assert!(page.contains("No such organization"), "{page}");
    client
        .goto(&format!("{base}/ui/matrix"))
        .await
        .expect("matrix");
    let url = client.current_url().await.expect("a URL");
    assert_eq!(
        url.path(),
        format!("/ui/orgs/{OWN}"),
        "no aggregate for an org viewer"
    );
    sign_out(client).await;

    // The committee: the aggregate, no organization named anywhere.
    assert_eq!(
        sign_in(client, &base, &committee).await,
        "/ui/matrix?lang=en"
    );
    for path in [
        "/ui/matrix",
        "/ui/matrix?lang=fr",
        "/ui/orgs",
        &format!("/ui/orgs/{OWN}"),
    ] {
        let page = visit(client, &base, path, &mut violations).await;
        assert!(
            !page.contains(OWN) && !page.contains(OTHER),
            "{path} names an organization"
        );
    }
    client
        .goto(&format!("{base}/ui/matrix"))
        .await
        .expect("matrix");
    let links: Value = client
        .execute(
            "return Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'));",
            vec![],
        )
        .await
        .expect("the navigation");
    assert!(
        !links.to_string().contains("/ui/orgs"),
        "the committee's navigation offers the organizations: {links}"
    );
    sign_out(client).await;

    // A browser asking the API without a token gets a bilingual HTML page, not JSON.
    let page = visit(client, &base, "/api/v1/orgs", &mut violations).await;
    assert!(
        page.contains("Error 401") && page.contains("Erreur 401"),
        "{page}"
    );
    let page = visit(client, &base, "/no-such-page", &mut violations).await;
    assert!(
        page.contains("Error 404") && page.contains("Erreur 404"),
        "{page}"
    );

    assert!(
        violations.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        violations.join("\n")
    );
    browser.quit().await;
}
