//! The collector's security features with the real binary: TLS on the listener reloaded on
//! SIGHUP, token revocation and rotation, the per-token rate limit, and the audit log.

use std::io::{BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rustls_pki_types::{CertificateDer, ServerName};
use vigie_tests::harness;
use vigie_tests::pki::{Issued, LeafSpec, TestCa};
use vigie_tests::scale::{self, CollectorProcess};

const ORG: &str = "secure-org";

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to the collector trusting `ca` only, for 127.0.0.1.
fn tls_connect(addr: SocketAddr, ca: &TestCa) -> TlsStream {
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
    let mut stream = rustls::StreamOwned::new(connection, socket);
    // Completes the handshake (a verification failure is an error here).
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("TLS handshake with the collector");
    }
    stream
}

fn leaf(stream: &TlsStream) -> CertificateDer<'static> {
    stream
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("a server certificate")
        .clone()
        .into_owned()
}

fn healthz(stream: &mut TlsStream) -> u16 {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    stream.flush().unwrap();
    scale::read_answer(&mut BufReader::new(&mut *stream))
        .expect("an answer over TLS")
        .status
}

fn write_pair(dir: &Path, issued: &Issued) {
    // Written aside then renamed, as a certificate manager does, so that a reload never
    // reads half a file.
    std::fs::write(dir.join("cert.pem.new"), &issued.chain_pem).unwrap();
    std::fs::write(dir.join("key.pem.new"), &issued.key_pem).unwrap();
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).unwrap();
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).unwrap();
}

#[test]
fn tls_certificate_is_replaced_on_sighup_without_closing_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Vigie collector test CA");
    let a = ca.issue(&LeafSpec::valid_for(&["127.0.0.1"]));
    let b = ca.issue(&LeafSpec::valid_for(&["127.0.0.1"]));
    assert_ne!(a.chain[0], b.chain[0]);
    write_pair(dir.path(), &a);
    let cert = dir.path().join("cert.pem").display().to_string();
    let key = dir.path().join("key.pem").display().to_string();
    let collector = CollectorProcess::start(dir.path(), &["--tls-cert", &cert, "--tls-key", &key]);

    let mut before = tls_connect(collector.addr, &ca);
    assert_eq!(
        leaf(&before),
        a.chain[0],
        "the collector presents certificate A"
    );
    assert_eq!(healthz(&mut before), 200);
    // Plain HTTP on the TLS port is not served.
    assert!(
        harness::http_get(&collector.url("/healthz"), None).is_none_or(|(s, _)| s != 200),
        "plain HTTP answered on the TLS listener"
    );

    write_pair(dir.path(), &b);
    collector.signal("HUP");
    let switched = harness::wait_until(Duration::from_secs(10), || {
        leaf(&tls_connect(collector.addr, &ca)) == b.chain[0]
    });
    assert!(
        switched,
        "new connections still see certificate A after SIGHUP:\n{}",
        collector.log()
    );
    let mut after = tls_connect(collector.addr, &ca);
    assert_eq!(healthz(&mut after), 200);
    // The connection opened before the reload is still served: the listener was not closed.
    assert_eq!(healthz(&mut before), 200);
    assert_eq!(leaf(&before), a.chain[0]);

    // A broken pair on SIGHUP keeps the certificate in use.
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    collector.signal("HUP");
    let logged = harness::wait_until(Duration::from_secs(10), || {
        collector.log().contains("TLS reload failed")
    });
    assert!(logged, "a failed reload is logged:\n{}", collector.log());
    assert_eq!(leaf(&tls_connect(collector.addr, &ca)), b.chain[0]);
}

#[test]
fn revoked_and_rotated_tokens_are_refused_at_once_and_the_audit_log_names_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let collector = CollectorProcess::start(dir.path(), &[]);
    let old = collector.agent_token(ORG, "web-1");
    let viewer = collector.manage_ok(&["viewer", "add", "--name", "committee", "--role", "sector"]);
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let post = |token: &str, n: u64| {
        let id = scale::report_id(run, 0, n);
        let body = scale::report_json(&id, ORG, "web-1", "t-", 20, Utc::now());
        scale::request(
            collector.addr,
            "POST",
            "/api/v1/reports",
            Some(token),
            Some(&body),
        )
        .unwrap()
        .status
    };
    assert_eq!(post(&old, 1), 201);

    let rotated = collector.manage(&["agent", "rotate", "--org", ORG, "--name", "web-1"]);
    assert!(rotated.status.success());
    let new = String::from_utf8(rotated.stdout).unwrap().trim().to_owned();
    assert!(
        new.starts_with("vga_") && !new.contains('\n'),
        "stdout is the new token alone"
    );
    assert_ne!(new, old);
    assert_eq!(
        post(&old, 2),
        401,
        "the rotated-out token is refused at once"
    );
    assert_eq!(post(&new, 3), 201, "the new token works");

    collector.manage_ok(&["agent", "revoke", "--org", ORG, "--name", "web-1"]);
    assert_eq!(post(&new, 4), 401, "the revoked token is refused at once");
    let again = collector.manage(&["agent", "revoke", "--org", ORG, "--name", "web-1"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "nothing left to revoke is a usage error"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("no active agent token named `web-1`"));

    // Exports, by the CLI and by the API, are audited with who made them.
    let out = dir.path().join("matrix.csv");
    collector.manage_ok(&[
        "matrix",
        "export",
        "--view",
        "org",
        "--format",
        "csv",
        "--lang",
        "fr",
        "--out",
        &out.display().to_string(),
    ]);
    let answer = scale::request(
        collector.addr,
        "GET",
        "/api/v1/matrix?format=json",
        Some(&viewer),
        None,
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);

    let audit = collector.manage_ok(&["audit", "show"]);
    let entries: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let actions: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["detail"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("token.create", "cli", None),
            ("token.create", "cli", Some("role=sector")),
            ("token.revoke", "cli", Some("rotated")),
            ("token.create", "cli", Some("rotation")),
            ("token.revoke", "cli", Some("revoked")),
            ("matrix.export", "cli", Some("view=org format=csv lang=fr")),
            (
                "matrix.export",
                "viewer:committee",
                Some("view=aggregate format=json lang=en")
            ),
        ],
        "{audit}"
    );
    assert_eq!(entries[0]["org"], ORG);
    assert_eq!(entries[0]["name"], "web-1");
    assert_eq!(entries[1]["kind"], "viewer");
    assert_eq!(
        entries[0]["fingerprint"], entries[2]["fingerprint"],
        "the revocation names the token it revoked"
    );
    assert_eq!(entries[3]["fingerprint"], entries[4]["fingerprint"]);
    assert_ne!(entries[0]["fingerprint"], entries[3]["fingerprint"]);

    // No token anywhere but with its holder: not in the audit log, the server's log, or
    // the database (which holds hashes).
    let mut database = std::fs::read(collector.db_path()).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("vigie.db-wal")) {
        database.extend(wal);
    }
    let database = String::from_utf8_lossy(&database);
    for token in [&old, &new, &viewer] {
        let secret = &token[4..];
        assert!(!audit.contains(secret), "a token in the audit log");
        assert!(
            !collector.log().contains(secret),
            "a token in the collector's log"
        );
        assert!(!database.contains(secret), "a token stored in clear");
    }
}

#[test]
fn requests_beyond_the_rate_limit_get_429_with_retry_after_per_token() {
    let dir = tempfile::tempdir().unwrap();
    let collector = CollectorProcess::start(dir.path(), &["--rate-limit", "3"]);
    let busy = collector.manage_ok(&["viewer", "add", "--name", "busy", "--role", "sector"]);
    let calm = collector.manage_ok(&["viewer", "add", "--name", "calm", "--role", "sector"]);
    let get = |token: &str| {
        scale::request(collector.addr, "GET", "/api/v1/orgs", Some(token), None).unwrap()
    };
    for n in 0..3 {
        assert_eq!(get(&busy).status, 200, "request {n} within the burst");
    }
    let refused = get(&busy);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["error"], "rate_limited");
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    // 3 per minute: the next request is allowed within 20 s.
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(get(&calm).status, 200, "another token has its own budget");
    // Unknown tokens are refused as such, not counted.
    assert_eq!(get("vgv_unknown").status, 401);

    // An agent is limited the same way, and told when to come back.
    let agent = collector.agent_token(ORG, "a");
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let statuses: Vec<u16> = (0..4)
        .map(|n| {
            let id = scale::report_id(run, 1, n);
            let body = scale::report_json(&id, ORG, "a", "t-", 20, Utc::now());
            scale::request(
                collector.addr,
                "POST",
                "/api/v1/reports",
                Some(&agent),
                Some(&body),
            )
            .unwrap()
            .status
        })
        .collect();
    assert_eq!(statuses, vec![201, 201, 201, 429]);
    let scraper = collector.scraper_token("security");
    let metrics = scale::request(collector.addr, "GET", "/metrics", Some(&scraper), None).unwrap();
    assert_eq!(
        harness::metric_value(
            &metrics.body,
            "vigie_ingest_reports_total",
            &[("result", "rejected_rate_limited")]
        ),
        Some(1.0),
        "the operator sees agents being held back"
    );
}
