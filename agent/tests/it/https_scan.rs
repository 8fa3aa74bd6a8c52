//! `scan tls` adds the web checks to endpoints on port 443: a real HTTPS server of a test
//! CA on 127.0.81.1:443 and a redirecting HTTP server on 127.0.81.1:80, reached by name
//! through `--connect`. An endpoint on another port gets TLS findings only.
//!
//! Ports 443 and 80 need root (or CAP_NET_BIND_SERVICE); without it the test says so on
//! stderr and stops, as it cannot bind them.

use std::net::SocketAddr;
use std::time::Duration;

use vigie_model::{Report, Status};
use vigie_tests::http_server::{Answer, HttpServer, Site};
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::tls_server::TlsServer;

const BOUND: Duration = Duration::from_secs(60);
const HOST: &str = "www.lab.test";

#[tokio::test]
async fn scan_tls_grades_the_web_checks_of_port_443_and_its_port_80() {
    let ca = TestCa::new("Vigie agent HTTPS test CA");
    let issued = ca.issue(&LeafSpec::valid_for(&[HOST]));
    let https_addr: SocketAddr = "127.0.81.1:443".parse().unwrap();
    let http_addr: SocketAddr = "127.0.81.1:80".parse().unwrap();
    let https_site = Site::new().at(
        "/",
        Answer::reply(
            200,
            &[
                (
                    "Strict-Transport-Security",
                    "max-age=31536000; includeSubDomains",
                ),
                ("Server", "nginx/1.25.3"),
            ],
            "hello",
        ),
    );
    let https_server = match HttpServer::start_tls_at(https_addr, https_site, &issued).await {
        Ok(server) => server,
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("not run: binding {https_addr} needs root or CAP_NET_BIND_SERVICE");
            return;
        }
        Err(error) => panic!("bind {https_addr}: {error}"),
    };
    let http_site = Site::new().at("/", Answer::redirect(301, &format!("https://{HOST}/")));
    let http_server = HttpServer::start_at(http_addr, http_site)
        .await
        .expect("bind port 80 next to 443");
    // Another endpoint of the same name, not on 443: TLS checks only.
    let other = TlsServer::start("127.0.81.1".parse().unwrap(), &issued)
        .await
        .unwrap();
    let other_target = format!("{HOST}:{}", other.addr.port());

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let report = scan_tls(&[HOST, &other_target, "--connect", "127.0.81.1"], &ca_file).await;

    let target = format!("{HOST}:443");
    let status = |check: &str| {
        report
            .findings
            .iter()
            .find(|f| f.check.as_str() == check && f.target == target)
            .unwrap_or_else(|| panic!("no {check} finding for {target}: {report:#?}"))
            .status
    };
    assert_eq!(status("tls.connect"), Status::Pass);
    assert_eq!(status("https.redirect"), Status::Pass);
    assert_eq!(status("https.hsts"), Status::Pass);
    assert_eq!(status("https.hsts.subdomains"), Status::Pass);
    assert_eq!(status("https.hsts.preload"), Status::Info);
    assert_eq!(status("https.security_txt"), Status::Fail);
    assert_eq!(status("https.headers"), Status::Fail);
    assert_eq!(status("http.server_banner"), Status::Fail);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.target == other_target && f.check.as_str().starts_with("http")),
        "no web checks off port 443"
    );
    assert_eq!(report.observations.https.len(), 1);
    assert_eq!(report.observations.https[0].target, target.as_str());
    // Pinned: both servers saw the name, not the address.
    for request in https_server.seen().iter().chain(http_server.seen().iter()) {
        assert!(
            request
                .host
                .as_deref()
                .unwrap_or_default()
                .starts_with(HOST),
            "{request:?}"
        );
    }
    assert_eq!(http_server.seen().len(), 1);
    assert_eq!(https_server.seen().len(), 2, "/ and security.txt");

    // By address with --sni: the site is the SNI name at that address, findings name the
    // endpoint as scanned.
    let report = scan_tls(&["127.0.81.1", "--sni", HOST], &ca_file).await;
    let hsts = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "https.hsts")
        .expect("web checks on 443 by address");
    assert_eq!(hsts.target, "127.0.81.1:443");
    assert_eq!(hsts.status, Status::Pass, "{hsts:#?}");
    let seen = https_server.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[2].sni.as_deref(), Some(HOST));
    assert!(seen[2]
        .host
        .as_deref()
        .unwrap_or_default()
        .starts_with(HOST));
}

/// `vigie-agent scan tls ARGS --ca-file CA` as JSON, with a resolver that answers nothing.
async fn scan_tls(args: &[&str], ca_file: &std::path::Path) -> Report {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .args(["scan", "tls"])
        .args(args)
        .arg("--ca-file")
        .arg(ca_file)
        .args(["--resolver", "127.0.0.1:9", "--timeout", "5s"])
        .args(["--format", "json"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run).await.unwrap().unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
