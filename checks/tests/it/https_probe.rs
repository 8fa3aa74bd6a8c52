//! The HTTPS probe against real servers on loopback: an HTTPS server with a leaf of a test
//! CA (trusted through `HttpsOptions::ca_pem`) and a plain-HTTP server standing for port 80,
//! both reached by name through `--connect` (Host and SNI kept), serving chosen headers and
//! security.txt; and hostile servers with an endless header or body.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use vigie_checks::https::{self, FetchStage, HttpsObservation, HttpsOptions, RedirectStop};
use vigie_checks::tls::TlsTarget;
use vigie_model::{Check, Status};
use vigie_tests::http_server::{Answer, HttpServer, Site};
use vigie_tests::pki::{LeafSpec, TestCa};

const HOST: &str = "www.vigie.test";
const TIMEOUT: Duration = Duration::from_secs(5);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn security_txt_body() -> String {
    let expires = (Utc::now() + chrono::Duration::days(180)).to_rfc3339();
    format!("# lab\nContact: mailto:security@{HOST}\nExpires: {expires}\n")
}

struct Lab {
    ca: TestCa,
    https: HttpServer,
    http: HttpServer,
    connect: IpAddr,
}

impl Lab {
    async fn start(connect: &str, https_site: Site, http_site: Site) -> Lab {
        let connect = ip(connect);
        let ca = TestCa::new("Vigie HTTPS lab CA");
        let issued = ca.issue(&LeafSpec::valid_for(&[HOST]));
        let https = HttpServer::start_tls(connect, https_site, &issued).await;
        let http = HttpServer::start(connect, http_site).await;
        Lab {
            ca,
            https,
            http,
            connect,
        }
    }

    fn target(&self) -> TlsTarget {
        format!("{HOST}:{}", self.https.addr.port())
            .parse()
            .unwrap()
    }

    fn options(&self) -> HttpsOptions {
        HttpsOptions {
            connect: Some(self.connect),
            http_port: Some(self.http.addr.port()),
            ca_pem: Some(self.ca.cert_pem().into_bytes()),
            timeout: TIMEOUT,
        }
    }

    async fn probe(&self) -> HttpsObservation {
        https::probe(&self.target(), &self.options()).await
    }
}

fn status_of(observation: &HttpsObservation, check: Check) -> Status {
    vigie_grade::https::evaluate(observation, Utc::now())
        .into_iter()
        .find(|v| v.check == check)
        .map(|v| v.status)
        .expect("graded")
}

#[tokio::test]
async fn a_well_configured_site_passes_and_is_reached_by_name_through_connect() {
    let https_site = Site::new()
        .at(
            "/",
            Answer::reply(
                200,
                &[
                    (
                        "Strict-Transport-Security",
                        "max-age=63072000; includeSubDomains; preload",
                    ),
                    ("Content-Security-Policy", "default-src 'self'"),
                    ("X-Content-Type-Options", "nosniff"),
                    ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "strict-origin-when-cross-origin"),
                    ("Server", "nginx"),
                ],
                "<html>hello</html>",
            ),
        )
        .at(
            "/.well-known/security.txt",
            Answer::reply(
                200,
                &[("Content-Type", "text/plain; charset=utf-8")],
                &security_txt_body(),
            ),
        );
    // The HTTPS port is known once its server runs; port 80 redirects by path first (same
    // origin, followed), then to that https URL.
    let connect = "127.0.80.1";
    let ca = TestCa::new("Vigie HTTPS lab CA");
    let issued = ca.issue(&LeafSpec::valid_for(&[HOST]));
    let https_server = HttpServer::start_tls(ip(connect), https_site, &issued).await;
    let https_url = format!("https://{HOST}:{}/", https_server.addr.port());
    let http_site = Site::new()
        .at("/", Answer::redirect(302, "/start"))
        .at("/start", Answer::redirect(301, &https_url));
    let http_server = HttpServer::start(ip(connect), http_site).await;
    let lab = Lab {
        ca,
        https: https_server,
        http: http_server,
        connect: ip(connect),
    };

    let observation = lab.probe().await;
    let verdicts = vigie_grade::https::evaluate(&observation, Utc::now());
    for verdict in &verdicts {
        assert_eq!(
            verdict.status,
            Status::Pass,
            "{verdict:#?}\n{observation:#?}"
        );
    }
    // Pinned to --connect, with the name in Host and SNI.
    let https_seen = lab.https.seen();
    assert_eq!(
        https_seen
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        ["/", "/.well-known/security.txt"]
    );
    for request in &https_seen {
        assert_eq!(request.sni.as_deref(), Some(HOST));
        let host = request.host.as_deref().unwrap_or_default();
        assert!(host.starts_with(HOST), "Host: {host}");
    }
    let redirect = observation.redirect.as_ref().expect("port 80 probed");
    assert_eq!(redirect.hops.len(), 2, "{redirect:#?}");
    assert_eq!(
        redirect.hops[1].location.as_deref(),
        Some(https_url.as_str())
    );
    assert_eq!(
        redirect.hops[0].address.as_deref(),
        Some(lab.http.addr.to_string().as_str())
    );
    assert_eq!(
        observation.https.hops[0].address.as_deref(),
        Some(lab.https.addr.to_string().as_str())
    );
    // Serializable, and what comes back grades the same.
    let json = serde_json::to_value(&observation).unwrap();
    let back: HttpsObservation = serde_json::from_value(json).unwrap();
    assert_eq!(vigie_grade::https::evaluate(&back, Utc::now()), verdicts);
}

#[tokio::test]
async fn a_neglected_site_fails_each_check_with_its_evidence() {
    let https_site = Site::new()
        .at(
            "/",
            Answer::reply(
                200,
                &[
                    ("Strict-Transport-Security", "max-age=300"),
                    ("Server", "Apache/2.4.41 (Ubuntu)"),
                    ("X-Powered-By", "PHP/7.4.3"),
                ],
                "<html>hello</html>",
            ),
        )
        .at(
            "/.well-known/security.txt",
            Answer::reply(
                200,
                &[("Content-Type", "text/plain")],
                &format!("Contact: mailto:security@{HOST}\nExpires: 2020-01-01T00:00:00Z\n"),
            ),
        );
    let http_site = Site::new().at(
        "/",
        Answer::reply(200, &[("Server", "Apache/2.4.41 (Ubuntu)")], "plain"),
    );
    let lab = Lab::start("127.0.80.2", https_site, http_site).await;
    let observation = lab.probe().await;
    let expected = [
        (Check::HttpsRedirect, Status::Fail),
        (Check::HttpsHsts, Status::Pass),
        (Check::HttpsHstsMaxAge, Status::Fail),
        (Check::HttpsHstsSubdomains, Status::Fail),
        (Check::HttpsHstsPreload, Status::Info),
        (Check::HttpsSecurityTxt, Status::Fail),
        (Check::HttpsHeaders, Status::Fail),
        (Check::HttpServerBanner, Status::Fail),
    ];
    let got: Vec<(Check, Status)> = vigie_grade::https::evaluate(&observation, Utc::now())
        .into_iter()
        .map(|v| (v.check, v.status))
        .collect();
    assert_eq!(got, expected, "{observation:#?}");
}

#[tokio::test]
async fn redirects_are_followed_on_the_same_origin_only_and_a_loop_is_bounded() {
    let https_site = Site::new().at("/", Answer::redirect(301, "https://elsewhere.vigie.test/"));
    let http_site = Site::new()
        .at("/", Answer::redirect(302, "/loop"))
        .at("/loop", Answer::redirect(302, "/loop"));
    let lab = Lab::start("127.0.80.3", https_site, http_site).await;
    let observation = lab.probe().await;

    let redirect = observation.redirect.as_ref().unwrap();
    assert_eq!(
        redirect.stop,
        Some(RedirectStop::TooMany {
            limit: https::probe::MAX_REDIRECTS
        })
    );
    assert_eq!(redirect.hops.len(), https::probe::MAX_REDIRECTS + 1);
    assert_eq!(status_of(&observation, Check::HttpsRedirect), Status::Fail);

    // The HTTPS origin sends the browser to another host: not followed, nothing sent there.
    assert_eq!(
        observation.https.stop,
        Some(RedirectStop::OtherOrigin {
            location: "https://elsewhere.vigie.test/".into()
        })
    );
    assert_eq!(status_of(&observation, Check::HttpsHeaders), Status::Skip);
    assert_eq!(lab.https.seen().len(), 2, "/ and security.txt only");
}

#[tokio::test]
async fn a_closed_port_80_passes_and_an_untrusted_certificate_is_an_error() {
    let lab = Lab::start("127.0.80.4", Site::new(), Site::new()).await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.80.4:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = HttpsOptions {
        http_port: Some(closed_port),
        ca_pem: None,
        ..lab.options()
    };
    let observation = https::probe(&lab.target(), &options).await;
    let redirect = observation.redirect.as_ref().unwrap();
    assert_eq!(
        redirect.error.as_ref().map(|e| e.stage),
        Some(FetchStage::Refused),
        "{redirect:#?}"
    );
    assert_eq!(status_of(&observation, Check::HttpsRedirect), Status::Pass);
    // The lab CA is not trusted here: a browser would refuse, and ignore the headers.
    let error = observation.https.error.as_ref().expect("TLS refused");
    assert_eq!(error.stage, FetchStage::Tls, "{error:#?}");
    assert!(observation.security_txt.is_none());
    assert_eq!(status_of(&observation, Check::HttpsHsts), Status::Error);
    assert!(lab.https.seen().is_empty());
}

#[tokio::test]
async fn hostile_servers_cost_bounded_memory_and_time() {
    let https_site = Site::new()
        .at("/", Answer::EndlessHeaders)
        .at("/.well-known/security.txt", Answer::EndlessBody);
    let http_site = Site::new().at("/", Answer::EndlessHeaders);
    let lab = Lab::start("127.0.80.5", https_site, http_site).await;
    let started = Instant::now();
    let observation = lab.probe().await;
    assert!(started.elapsed() < TIMEOUT * 3, "{:?}", started.elapsed());
    let error = observation
        .https
        .error
        .as_ref()
        .expect("an endless head is refused");
    assert_eq!(error.stage, FetchStage::Http, "{error:#?}");
    assert!(observation.https.hops.is_empty());
    let redirect = observation.redirect.as_ref().unwrap();
    assert_eq!(
        redirect.error.as_ref().map(|e| e.stage),
        Some(FetchStage::Http)
    );
    assert_eq!(status_of(&observation, Check::HttpsRedirect), Status::Error);
    assert_eq!(status_of(&observation, Check::HttpsHsts), Status::Error);

    // The endless body, on a site whose home page answers.
    let https_site = Site::new()
        .at("/", Answer::reply(200, &[], "ok"))
        .at("/.well-known/security.txt", Answer::EndlessBody);
    let lab = Lab::start("127.0.80.6", https_site, Site::new()).await;
    let started = Instant::now();
    let observation = lab.probe().await;
    assert!(started.elapsed() < TIMEOUT * 3, "{:?}", started.elapsed());
    let security_txt = observation.security_txt.as_ref().unwrap();
    assert!(security_txt.body_truncated);
    assert_eq!(
        security_txt.body.as_ref().map(String::len),
        Some(vigie_grade::https::MAX_BODY_BYTES)
    );
    assert_eq!(
        status_of(&observation, Check::HttpsSecurityTxt),
        Status::Fail
    );
}

#[tokio::test]
async fn silent_servers_are_timeouts_within_the_bound() {
    use vigie_tests::tls_server::SilentServer;
    let https_silent = SilentServer::start(ip("127.0.80.7")).await.unwrap();
    let http_silent = SilentServer::start(ip("127.0.80.7")).await.unwrap();
    let target: TlsTarget = format!("{HOST}:{}", https_silent.addr.port())
        .parse()
        .unwrap();
    let timeout = Duration::from_millis(500);
    let options = HttpsOptions {
        connect: Some(ip("127.0.80.7")),
        http_port: Some(http_silent.addr.port()),
        ca_pem: None,
        timeout,
    };
    let started = Instant::now();
    let observation = https::probe(&target, &options).await;
    let elapsed = started.elapsed();
    // Both requests run side by side, each bounded; nothing else is attempted.
    assert!(elapsed >= timeout && elapsed < timeout * 4, "{elapsed:?}");
    let stage = |exchange: &https::HttpExchange| exchange.error.as_ref().map(|e| e.stage);
    assert_eq!(stage(&observation.https), Some(FetchStage::Timeout));
    assert_eq!(
        stage(observation.redirect.as_ref().unwrap()),
        Some(FetchStage::Timeout)
    );
    assert!(observation.security_txt.is_none());
    // A silent port 80 says "filtered" only of a host that answered over HTTPS: here
    // nothing answered at all, so no check passes.
    assert_eq!(status_of(&observation, Check::HttpsRedirect), Status::Error);
    assert_eq!(status_of(&observation, Check::HttpsHeaders), Status::Error);
}
