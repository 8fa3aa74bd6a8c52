//! Who may read: `/metrics` needs a scrape (or viewer) token unless the operator chose
//! `--metrics-public`, and the web view's login form throttles failures per source address,
//! audits them, refuses forms posted from another site and, over TLS, tells browsers to
//! stay on HTTPS.

use std::io::{BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rustls_pki_types::ServerName;
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::scale::{self, Answer, CollectorProcess};

use super::{Backend, Lab};

const ORG: &str = "secret-clinic";
const AGENT: &str = "srv01";

/// Stores one report of [`ORG`], so that `/metrics` has something to name.
fn seed(lab: &Lab) -> String {
    let agent = lab.agent_token(ORG, AGENT);
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let body = scale::report_json(
        &scale::report_id(run, 1, 1),
        ORG,
        AGENT,
        "t-",
        20,
        Utc::now(),
    );
    let answer = get_or_post(lab, "POST", "/api/v1/reports", Some(&agent), Some(&body));
    assert_eq!(answer.status, 201, "{}", answer.body);
    agent
}

fn get_or_post(
    lab: &Lab,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Answer {
    scale::request(lab.collector.addr, method, path, token, body).expect("the collector answers")
}

fn metrics(lab: &Lab, token: Option<&str>) -> Answer {
    get_or_post(lab, "GET", "/metrics", token, None)
}

#[test]
fn metrics_need_a_scrape_token_and_it_opens_nothing_else() {
    for backend in Backend::ALL {
        let lab = Lab::start(backend, &[]);
        let agent = seed(&lab);

        let anonymous = metrics(&lab, None);
        assert_eq!(anonymous.status, 401, "{backend:?}: {}", anonymous.body);
        assert!(
            !anonymous.body.contains(ORG),
            "{backend:?}: a refusal names no organization: {}",
            anonymous.body
        );
        let unknown = metrics(&lab, Some("vgs_not-a-real-token"));
        assert_eq!(unknown.status, 401, "{backend:?}");

        let scraper = lab.collector.scraper_token("prometheus");
        assert!(scraper.starts_with("vgs_"), "{scraper}");
        let scraped = metrics(&lab, Some(&scraper));
        assert_eq!(scraped.status, 200, "{backend:?}: {}", scraped.body);
        assert!(
            scraped.body.contains(&format!("org=\"{ORG}\"")),
            "{backend:?}"
        );

        // Least privilege: the scrape token reads neither the API nor posts reports.
        let orgs = get_or_post(&lab, "GET", "/api/v1/orgs", Some(&scraper), None);
        assert_eq!(orgs.status, 403, "{backend:?}: {}", orgs.body);
        assert!(!orgs.body.contains(ORG), "{backend:?}");
        let run = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        let body = scale::report_json(
            &scale::report_id(run, 2, 1),
            ORG,
            AGENT,
            "t-",
            20,
            Utc::now(),
        );
        let posted = get_or_post(&lab, "POST", "/api/v1/reports", Some(&scraper), Some(&body));
        assert_eq!(posted.status, 403, "{backend:?}: {}", posted.body);

        // An agent speaks for its own organization: it reads no one's metrics.
        let by_agent = metrics(&lab, Some(&agent));
        assert_eq!(by_agent.status, 403, "{backend:?}: {}", by_agent.body);
        assert!(!by_agent.body.contains(ORG), "{backend:?}");

        // A viewer reads every organization through the API anyway: it may scrape.
        let viewer = lab.viewer_token("analyst");
        assert_eq!(metrics(&lab, Some(&viewer)).status, 200, "{backend:?}");

        // Revoked: refused at once; the audit log names the token's kind, never the token.
        lab.collector
            .manage_ok(&["scraper", "revoke", "--name", "prometheus"]);
        assert_eq!(metrics(&lab, Some(&scraper)).status, 401, "{backend:?}");
        let audit = lab.collector.manage_ok(&["audit", "show"]);
        assert!(
            audit.contains("\"kind\":\"scraper\""),
            "{backend:?}: {audit}"
        );
        assert!(
            !audit.contains(&scraper[4..]),
            "{backend:?}: a token in the audit log"
        );
    }
}

#[test]
fn metrics_public_is_an_explicit_choice_and_logged() {
    let lab = Lab::start(Backend::Sqlite, &["--metrics-public"]);
    seed(&lab);
    let anonymous = metrics(&lab, None);
    assert_eq!(anonymous.status, 200, "{}", anonymous.body);
    assert!(anonymous.body.contains(&format!("org=\"{ORG}\"")));
    let log = lab.collector.log();
    assert!(
        log.contains("WARN") && log.contains("--metrics-public"),
        "the choice is logged as a warning:\n{log}"
    );
}

/// A TCP connection to `to` from the loopback address `source`, so that a test can speak
/// as two different clients.
fn connect_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::from((source, 0)))
            .expect("bind a loopback source address");
        let stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(to))
            .await
            .expect("connect in time")
            .expect("connect to the collector");
        stream.into_std().expect("a blocking stream")
    });
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// A POST of a form to the collector from `source`, with extra header lines.
fn post_form(
    lab: &Lab,
    source: Ipv4Addr,
    path: &str,
    form: &str,
    extra_headers: &[(&str, &str)],
) -> Answer {
    let addr = lab.collector.addr;
    let mut stream = connect_from(source, addr);
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n",
        form.len()
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    stream
        .write_all(format!("{head}\r\n{form}").as_bytes())
        .unwrap();
    stream.flush().unwrap();
    scale::read_answer(&mut BufReader::new(stream)).expect("an answer")
}

fn login(lab: &Lab, source: Ipv4Addr, token: &str) -> Answer {
    post_form(
        lab,
        source,
        "/ui/login",
        &format!("token={token}&lang=en"),
        &[],
    )
}

/// The one address the tests below attack from, and a bystander's.
const ATTACKER: Ipv4Addr = Ipv4Addr::LOCALHOST;
const BYSTANDER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

#[test]
fn failed_logins_are_throttled_per_address_and_audited_without_the_token() {
    for backend in Backend::ALL {
        let lab = Lab::start(backend, &[]);
        let viewer = lab.viewer_token("analyst");
        let agent = lab.agent_token(ORG, AGENT);
        let guess = "vgv_GuessNumberOneAbcdefghijklmnopqrstuvwxyz0123";

        for n in 1..=4 {
            let answer = login(&lab, ATTACKER, guess);
            assert_eq!(
                answer.status, 401,
                "{backend:?}: failure {n}: {}",
                answer.body
            );
        }
        // An agent token given to the form is a failure too (403), the fifth.
        assert_eq!(login(&lab, ATTACKER, &agent).status, 403, "{backend:?}");

        // The sixth attempt within the minute is refused before the token is looked at.
        let throttled = login(&lab, ATTACKER, guess);
        assert_eq!(throttled.status, 429, "{backend:?}: {}", throttled.body);
        let retry: u64 = throttled
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!(
            (1..=60).contains(&retry),
            "{backend:?}: Retry-After {retry}"
        );
        // A right token from the locked-out address is refused as well: otherwise the
        // lockout would still tell a guesser when a guess is right.
        let right_but_locked = login(&lab, ATTACKER, &viewer);
        assert_eq!(right_but_locked.status, 429, "{backend:?}");
        assert!(
            right_but_locked.header("set-cookie").is_none(),
            "{backend:?}"
        );

        // Another address is not affected.
        let bystander = login(&lab, BYSTANDER, &viewer);
        assert_eq!(bystander.status, 303, "{backend:?}: {}", bystander.body);
        assert!(
            bystander
                .header("set-cookie")
                .is_some_and(|c| c.starts_with("vigie_session=")),
            "{backend:?}"
        );
        assert_eq!(login(&lab, BYSTANDER, guess).status, 401, "{backend:?}");

        // Each failure is in the audit log with its address and reason, never the token.
        let audit = lab.collector.manage_ok(&["audit", "show"]);
        let failures: Vec<serde_json::Value> = audit
            .lines()
            .map(|line| serde_json::from_str(line).expect("audit lines are JSON"))
            .filter(|entry: &serde_json::Value| entry["action"] == "login.failure")
            .collect();
        let details: Vec<&str> = failures
            .iter()
            .map(|e| e["detail"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            details,
            vec![
                "address=127.0.0.1 reason=unknown_token",
                "address=127.0.0.1 reason=unknown_token",
                "address=127.0.0.1 reason=unknown_token",
                "address=127.0.0.1 reason=unknown_token",
                "address=127.0.0.1 reason=agent_token",
                "address=127.0.0.2 reason=unknown_token",
            ],
            "{backend:?}: {audit}"
        );
        for secret in [guess, &agent, &viewer] {
            assert!(
                !audit.contains(&secret[4..]),
                "{backend:?}: a token in the audit log"
            );
            assert!(
                !lab.collector.log().contains(&secret[4..]),
                "{backend:?}: a token in the log"
            );
        }
    }
}

#[test]
fn forms_posted_from_another_site_are_refused() {
    let lab = Lab::start(Backend::Sqlite, &[]);
    let viewer = lab.viewer_token("analyst");
    let form = format!("token={viewer}&lang=en");
    let own = format!("http://{}", lab.collector.addr);

    let evil = post_form(
        &lab,
        ATTACKER,
        "/ui/login",
        &form,
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(evil.status, 403, "{}", evil.body);
    assert!(
        evil.header("set-cookie").is_none(),
        "no session for a forged form"
    );
    let referred = post_form(
        &lab,
        ATTACKER,
        "/ui/login",
        &form,
        &[("Referer", "https://evil.example/page")],
    );
    assert_eq!(
        referred.status, 403,
        "without Origin, the Referer is checked"
    );
    let sandboxed = post_form(&lab, ATTACKER, "/ui/login", &form, &[("Origin", "null")]);
    assert_eq!(sandboxed.status, 403);
    let logout = post_form(
        &lab,
        ATTACKER,
        "/ui/logout",
        "",
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(logout.status, 403, "{}", logout.body);

    // The collector's own page signs in, and a refused forgery was not a failed login.
    let mine = post_form(&lab, ATTACKER, "/ui/login", &form, &[("Origin", &own)]);
    assert_eq!(mine.status, 303, "{}", mine.body);
    let audit = lab.collector.manage_ok(&["audit", "show"]);
    assert!(!audit.contains("login.failure"), "{audit}");
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_get(addr: SocketAddr, ca: &TestCa, path: &str) -> Answer {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut stream: TlsStream = rustls::StreamOwned::new(connection, socket);
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    stream.flush().unwrap();
    scale::read_answer(&mut BufReader::new(stream)).expect("an answer over TLS")
}

#[test]
fn strict_transport_security_over_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Vigie readers test CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["127.0.0.1"]));
    std::fs::write(dir.path().join("cert.pem"), &issued.chain_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &issued.key_pem).unwrap();
    let cert = dir.path().join("cert.pem").display().to_string();
    let key = dir.path().join("key.pem").display().to_string();
    let tls = CollectorProcess::start(dir.path(), &["--tls-cert", &cert, "--tls-key", &key]);
    for path in [
        "/healthz",
        "/ui/login",
        "/metrics",
        "/api/v1/orgs",
        "/nowhere",
    ] {
        let answer = tls_get(tls.addr, &ca, path);
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path} over TLS ({})",
            answer.status
        );
    }

    let plain = Lab::start(Backend::Sqlite, &[]);
    for path in ["/healthz", "/ui/login", "/metrics"] {
        let answer = get_or_post(&plain, "GET", path, None, None);
        assert!(
            answer.header("strict-transport-security").is_none(),
            "{path} over plain HTTP"
        );
    }
}
