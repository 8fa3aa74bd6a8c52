//! The TLS probe against real servers of the loopback lab (127.0.0.0/8 only): a test CA given
//! as `--ca-file`, leaves with the validity each case needs, hostile servers, and a minimal DNS
//! responder proving that `--resolver` is honoured. No test needs the internet.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use vigie_checks::dns::Resolver;
use vigie_checks::tls::{self, TlsProbeOptions, TlsTarget, TrustStore};
use vigie_model::{
    Check, Lang, ProbeStage, Severity, Status, TlsHandshake, TlsObservation, TlsProbeResult,
    Verdict,
};
use vigie_tests::pki::{self, Issued, LeafSpec, TestCa};
use vigie_tests::tls_server::{GarbageServer, SilentServer, TlsServer};

/// Bounds every probe of these tests, far above what a working probe takes.
const PROBE_BOUND: Duration = Duration::from_secs(20);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A test CA whose certificate is in a `--ca-file`, and the trust store loaded with it.
struct Lab {
    ca: TestCa,
    trust: TrustStore,
    _dir: tempfile::TempDir,
}

fn lab() -> Lab {
    let ca = TestCa::new("Vigie Test Root CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca.cert_pem()).expect("write the CA file");
    let trust = TrustStore::load(Some(&path)).expect("load the trust store");
    Lab {
        ca,
        trust,
        _dir: dir,
    }
}

/// A resolver that must not be asked: nothing answers DNS on this port.
fn unused_resolver() -> Resolver {
    Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap()
}

fn options(connect: Option<IpAddr>) -> TlsProbeOptions {
    TlsProbeOptions {
        sni: None,
        connect,
        timeout: Duration::from_secs(5),
        starttls: None,
    }
}

async fn run(
    target: &str,
    options: &TlsProbeOptions,
    resolver: &Resolver,
    trust: &TrustStore,
) -> (TlsObservation, Vec<Verdict>) {
    let target: TlsTarget = target.parse().expect("a valid target");
    let observation =
        tokio::time::timeout(PROBE_BOUND, tls::probe(&target, options, resolver, trust))
            .await
            .expect("the probe returned within its bound");
    let verdicts = vigie_grade::tls::evaluate(&observation, Utc::now());
    (observation, verdicts)
}

/// Serves `issued` on `127.0.0.{last}` and probes `www.lab.test:PORT` pinned to it.
async fn probe_pinned(lab: &Lab, last: u8, issued: &Issued) -> (TlsObservation, Vec<Verdict>) {
    let server = TlsServer::start(ip(last), issued)
        .await
        .expect("TLS server");
    let target = format!("www.lab.test:{}", server.addr.port());
    run(
        &target,
        &options(Some(ip(last))),
        &unused_resolver(),
        &lab.trust,
    )
    .await
}

fn handshake(observation: &TlsObservation) -> &TlsHandshake {
    match &observation.result {
        TlsProbeResult::Handshake(handshake) => handshake,
        TlsProbeResult::Failed { stage, error, .. } => {
            panic!("expected a handshake, got {stage:?}: {error}")
        }
    }
}

fn failure(observation: &TlsObservation) -> (ProbeStage, &str) {
    match &observation.result {
        TlsProbeResult::Failed { stage, error, .. } => (*stage, error.as_str()),
        TlsProbeResult::Handshake(_) => panic!("expected a failure, got a handshake"),
    }
}

fn verdict(verdicts: &[Verdict], check: Check) -> &Verdict {
    verdicts
        .iter()
        .find(|v| v.check == check)
        .unwrap_or_else(|| panic!("no verdict for {}", check.id()))
}

fn status(verdicts: &[Verdict], check: Check) -> Status {
    verdict(verdicts, check).status
}

/// Every check but `except` passes; `tls.ocsp_stapling` is a fact (info) for the lab
/// servers, which staple nothing, and `tls.cert.transparency` does not apply to the lab's
/// private CA (skip).
fn assert_others_pass(verdicts: &[Verdict], except: &[Check]) {
    for v in verdicts {
        if v.check == Check::TlsOcspStapling {
            assert_eq!(v.status, Status::Info, "the lab staples no OCSP response");
        } else if v.check == Check::TlsCertTransparency && !except.contains(&v.check) {
            assert_eq!(v.status, Status::Skip, "the lab's CA is not a public root");
        } else if !except.contains(&v.check) {
            assert_eq!(
                v.status,
                Status::Pass,
                "{}: {}",
                v.check.id(),
                v.summary.render(Lang::En)
            );
        }
    }
}

fn assert_connect_error(verdicts: &[Verdict], stage: ProbeStage) {
    assert_eq!(
        verdicts.len(),
        1 + vigie_grade::tls::evaluate::CERTIFICATE_CHECKS.len()
    );
    let connect = verdict(verdicts, Check::TlsConnect);
    assert_eq!(connect.status, Status::Error);
    assert_eq!(connect.evidence["stage"], stage.as_str());
    for v in verdicts {
        assert_eq!(v.status, Status::Error, "{}", v.check.id());
        assert!(v.summary.is_defined());
    }
}

#[tokio::test]
async fn a_valid_leaf_from_the_ca_file_passes_every_check() {
    let lab = lab();
    let issued = lab.ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let (observation, verdicts) = probe_pinned(&lab, 2, &issued).await;
    // tls.connect, tls.ocsp_stapling and every certificate check.
    assert_eq!(
        verdicts.len(),
        2 + vigie_grade::tls::evaluate::CERTIFICATE_CHECKS.len()
    );
    assert_others_pass(&verdicts, &[]);

    let hs = handshake(&observation);
    assert_eq!(hs.protocol, "TLSv1.3");
    assert!(hs.cipher_suite.starts_with("TLS13_"), "{}", hs.cipher_suite);
    assert!(hs.chain.trusted);
    assert!(
        hs.chain.trust_store.ends_with("+ca-file"),
        "{}",
        hs.chain.trust_store
    );
    assert_eq!(hs.certificates.len(), 2, "leaf and CA as sent");
    let leaf = &hs.certificates[0];
    assert_eq!(leaf.subject_alt_names, vec!["www.lab.test"]);
    assert!(leaf.subject.contains("CN=www.lab.test"), "{}", leaf.subject);
    assert!(
        leaf.issuer.contains("Vigie Test Root CA"),
        "{}",
        leaf.issuer
    );
    assert!(!leaf.self_signed);
    assert_eq!(leaf.key_type, "EC");
    assert_eq!(leaf.key_bits, Some(256));
    assert_eq!(leaf.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(leaf.sha256.len(), 64);
    assert_eq!(
        leaf.sha256,
        sha256_hex(issued.chain[0].as_ref()),
        "the fingerprint is of the certificate served"
    );
    assert!(hs.certificates[1].self_signed, "the CA is self-signed");
    assert_eq!(
        (leaf.not_after - leaf.not_before).num_days(),
        91,
        "validity as issued"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn connect_pins_the_address_and_sni_names_the_certificate() {
    let lab = lab();
    let issued = lab.ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let server = TlsServer::start(ip(3), &issued).await.unwrap();
    let port = server.addr.port();

    // A DNS name no resolver knows, pinned to the address: no DNS query is needed.
    let (observation, verdicts) = run(
        &format!("www.lab.test:{port}"),
        &options(Some(ip(3))),
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    assert_eq!(
        observation.address.as_deref(),
        Some(format!("127.0.0.3:{port}").as_str())
    );
    assert_eq!(observation.server_name, "www.lab.test");
    assert_others_pass(&verdicts, &[]);

    // An address as target with --sni: the name checked is the SNI, not the address.
    let mut with_sni = options(None);
    with_sni.sni = Some("WWW.lab.test.".to_owned());
    let (observation, verdicts) = run(
        &format!("127.0.0.3:{port}"),
        &with_sni,
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    assert_eq!(observation.server_name, "www.lab.test");
    assert_eq!(
        status(&verdicts, Check::TlsCertHostnameMismatch),
        Status::Pass
    );

    // The same address without --sni: the certificate does not name 127.0.0.3.
    let (_, verdicts) = run(
        &format!("127.0.0.3:{port}"),
        &options(None),
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    assert_eq!(
        status(&verdicts, Check::TlsCertHostnameMismatch),
        Status::Fail
    );
}

#[tokio::test]
async fn an_ip_literal_target_matches_an_ip_subject_alt_name() {
    let lab = lab();
    let issued = lab.ca.issue(&LeafSpec::valid_for(&["127.0.0.4"]));
    let server = TlsServer::start(ip(4), &issued).await.unwrap();
    let (observation, verdicts) = run(
        &server.addr.to_string(),
        &options(None),
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    assert_eq!(
        handshake(&observation).certificates[0].subject_alt_names,
        vec!["127.0.0.4"]
    );
    assert_others_pass(&verdicts, &[]);
}

#[tokio::test]
async fn an_expired_certificate_from_the_trusted_ca_is_expired_not_untrusted() {
    let lab = lab();
    let now = Utc::now();
    let spec =
        LeafSpec::valid_for(&["www.lab.test"]).between(now - Days::days(90), now - Days::days(1));
    let (observation, verdicts) = probe_pinned(&lab, 5, &lab.ca.issue(&spec)).await;
    let expired = verdict(&verdicts, Check::TlsCertExpired);
    assert_eq!(expired.status, Status::Fail);
    assert_eq!(expired.severity, Severity::Critical);
    assert_eq!(status(&verdicts, Check::TlsCertExpiring), Status::Skip);
    assert!(
        handshake(&observation).chain.trusted,
        "judged inside the validity window"
    );
    assert_others_pass(&verdicts, &[Check::TlsCertExpired, Check::TlsCertExpiring]);
}

#[tokio::test]
async fn a_certificate_not_yet_valid_fails_not_yet_valid_only() {
    let lab = lab();
    let now = Utc::now();
    let spec =
        LeafSpec::valid_for(&["www.lab.test"]).between(now + Days::days(2), now + Days::days(92));
    let (_, verdicts) = probe_pinned(&lab, 6, &lab.ca.issue(&spec)).await;
    let v = verdict(&verdicts, Check::TlsCertNotYetValid);
    assert_eq!(v.status, Status::Fail);
    assert_eq!(v.severity, Severity::High);
    assert_others_pass(&verdicts, &[Check::TlsCertNotYetValid]);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_hostname_mismatch() {
    let lab = lab();
    let issued = lab.ca.issue(&LeafSpec::valid_for(&["other.lab.test"]));
    let (_, verdicts) = probe_pinned(&lab, 7, &issued).await;
    let v = verdict(&verdicts, Check::TlsCertHostnameMismatch);
    assert_eq!(v.status, Status::Fail);
    assert!(v.summary.render(Lang::En).contains("other.lab.test"));
    assert_eq!(v.evidence["server_name"], "www.lab.test");
    assert_others_pass(&verdicts, &[Check::TlsCertHostnameMismatch]);
}

#[tokio::test]
async fn a_self_signed_leaf_is_self_signed_and_untrusted() {
    let lab = lab();
    let issued = pki::self_signed(&LeafSpec::valid_for(&["www.lab.test"]));
    let (observation, verdicts) = probe_pinned(&lab, 8, &issued).await;
    assert!(handshake(&observation).certificates[0].self_signed);
    assert_eq!(status(&verdicts, Check::TlsCertSelfSigned), Status::Fail);
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Fail);
    assert_others_pass(
        &verdicts,
        &[Check::TlsCertSelfSigned, Check::TlsCertUntrusted],
    );
}

#[tokio::test]
async fn a_leaf_from_an_unknown_ca_is_untrusted_but_not_self_signed() {
    let lab = lab();
    let stranger = TestCa::new("Unknown CA");
    let issued = stranger.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let (observation, verdicts) = probe_pinned(&lab, 9, &issued).await;
    let v = verdict(&verdicts, Check::TlsCertUntrusted);
    assert_eq!(v.status, Status::Fail);
    let error = handshake(&observation)
        .chain
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(v.remediation.is_some());
    assert_others_pass(&verdicts, &[Check::TlsCertUntrusted]);
}

#[tokio::test]
async fn a_leaf_expiring_in_3_days_fails_expiring_with_high_severity() {
    let lab = lab();
    let now = Utc::now();
    let spec =
        LeafSpec::valid_for(&["www.lab.test"]).between(now - Days::days(30), now + Days::days(3));
    let (_, verdicts) = probe_pinned(&lab, 10, &lab.ca.issue(&spec)).await;
    let v = verdict(&verdicts, Check::TlsCertExpiring);
    assert_eq!(v.status, Status::Fail);
    assert_eq!(v.severity, Severity::High);
    assert_eq!(
        v.evidence["days_left"], 2,
        "3 days minus the seconds elapsed"
    );
    assert_others_pass(&verdicts, &[Check::TlsCertExpiring]);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let lab = lab();
    // Bind then release a port: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 11), 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let (observation, verdicts) = run(
        &format!("127.0.0.11:{port}"),
        &options(None),
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    let (stage, error) = failure(&observation);
    assert_eq!(stage, ProbeStage::Connect);
    assert!(error.contains("127.0.0.11"), "{error}");
    assert_eq!(
        observation.address.as_deref(),
        Some(format!("127.0.0.11:{port}").as_str())
    );
    assert_connect_error(&verdicts, ProbeStage::Connect);
}

#[tokio::test]
async fn a_silent_server_times_out_in_the_handshake_quickly() {
    let lab = lab();
    let server = SilentServer::start(ip(12)).await.unwrap();
    let mut opts = options(None);
    opts.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let (observation, verdicts) = run(
        &server.addr.to_string(),
        &opts,
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(450),
        "gave up before its timeout: {elapsed:?}"
    );
    let (stage, error) = failure(&observation);
    assert_eq!(stage, ProbeStage::Handshake);
    assert!(error.contains("no TLS handshake within"), "{error}");
    assert_connect_error(&verdicts, ProbeStage::Handshake);
}

#[tokio::test]
async fn hostile_servers_give_a_handshake_error_never_a_panic_or_hang() {
    let lab = lab();
    let payloads: [(&str, Vec<u8>); 4] = [
        ("text banner", Vec::new()),
        // A handshake record announcing 65535 bytes, then the connection closes.
        (
            "absurd record length",
            b"\x16\x03\x03\xff\xff\x02\x00".to_vec(),
        ),
        // A ServerHello announcing a 16 MiB message inside a short record.
        (
            "absurd handshake length",
            b"\x16\x03\x03\x00\x04\x02\xff\xff\xff".to_vec(),
        ),
        // An alert: the server refuses the handshake.
        ("alert", b"\x15\x03\x03\x00\x02\x02\x28".to_vec()),
    ];
    for (what, payload) in payloads {
        let server = if payload.is_empty() {
            GarbageServer::start(ip(13)).await.unwrap()
        } else {
            GarbageServer::start_with(ip(13), payload).await.unwrap()
        };
        let started = Instant::now();
        let (observation, verdicts) = run(
            &server.addr.to_string(),
            &options(None),
            &unused_resolver(),
            &lab.trust,
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{what}: too slow"
        );
        let (stage, error) = failure(&observation);
        assert_eq!(stage, ProbeStage::Handshake, "{what}: {error}");
        assert!(!error.is_empty());
        assert_connect_error(&verdicts, ProbeStage::Handshake);
    }
}

#[test]
fn a_ca_file_without_certificates_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = TrustStore::load(Some(&empty)).unwrap_err().to_string();
    assert!(error.contains("empty.pem"), "{error}");
    let missing = dir.path().join("missing.pem");
    let error = TrustStore::load(Some(&missing)).unwrap_err().to_string();
    assert!(error.contains("missing.pem"), "{error}");
}

/// A DNS responder on UDP 127.0.0.1:0: `www.lab.test` A → 127.0.0.1, other names NXDOMAIN.
/// Counts the queries it answers; stops when dropped.
struct LabDns {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LabDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn lab_dns() -> LabDns {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::{rdata::A, RData, Record, RecordType};

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&queries);
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut response = Message::new();
            response
                .set_id(request.id())
                .set_message_type(MessageType::Response)
                .set_op_code(request.op_code())
                .set_recursion_desired(request.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true)
                .add_queries(request.queries().to_vec());
            if let Some(query) = request.queries().first() {
                let name = query.name().to_ascii().to_ascii_lowercase();
                if name.trim_end_matches('.') == "www.lab.test" {
                    if query.query_type() == RecordType::A {
                        response.add_answer(Record::from_rdata(
                            query.name().clone(),
                            60,
                            RData::A(A::new(127, 0, 0, 1)),
                        ));
                    }
                } else {
                    response.set_response_code(ResponseCode::NXDomain);
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    LabDns {
        addr,
        queries,
        task,
    }
}

#[tokio::test]
async fn the_resolver_option_is_honoured() {
    let lab = lab();
    let dns = lab_dns().await;
    let resolver = Resolver::new(&[dns.addr], Duration::from_secs(2)).unwrap();
    let issued = lab.ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let server = TlsServer::start(ip(1), &issued).await.unwrap();
    let port = server.addr.port();

    let (observation, verdicts) = run(
        &format!("www.lab.test:{port}"),
        &options(None),
        &resolver,
        &lab.trust,
    )
    .await;
    assert_eq!(
        observation.address.as_deref(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_others_pass(&verdicts, &[]);
    assert!(
        dns.queries.load(Ordering::SeqCst) >= 1,
        "the lab resolver was asked"
    );

    let (observation, verdicts) = run(
        &format!("nowhere.lab.test:{port}"),
        &options(None),
        &resolver,
        &lab.trust,
    )
    .await;
    let (stage, error) = failure(&observation);
    assert_eq!(stage, ProbeStage::Resolve);
    assert!(
        error.contains("nowhere.lab.test") && error.contains("no such name"),
        "{error}"
    );
    assert_eq!(observation.address, None);
    assert_connect_error(&verdicts, ProbeStage::Resolve);
}

#[tokio::test]
async fn a_server_without_the_certificates_key_fails_the_handshake() {
    // The recording verifier accepts any chain, but the handshake signature must still
    // verify with the leaf's key: an impostor presenting someone else's certificate fails.
    let lab = lab();
    let genuine = lab.ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let other = lab.ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let server = TlsServer::start_impostor(ip(14), genuine.chain.clone(), other.key)
        .await
        .unwrap();
    let (observation, verdicts) = run(
        &format!("www.lab.test:{}", server.addr.port()),
        &options(Some(ip(14))),
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    let (stage, error) = failure(&observation);
    assert_eq!(stage, ProbeStage::Handshake);
    assert!(error.to_lowercase().contains("signature"), "{error}");
    assert_connect_error(&verdicts, ProbeStage::Handshake);

    // The same server with the matching key completes: the failure above is the key's.
    let honest = TlsServer::start_impostor(ip(14), genuine.chain.clone(), genuine.key)
        .await
        .unwrap();
    let (_, verdicts) = run(
        &format!("www.lab.test:{}", honest.addr.port()),
        &options(Some(ip(14))),
        &unused_resolver(),
        &lab.trust,
    )
    .await;
    assert_others_pass(&verdicts, &[]);
}
