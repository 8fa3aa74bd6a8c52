//! Protocol and cipher enumeration against real servers on 127.0.0.0/8: `openssl s_server`
//! (which still speaks TLS 1.0/1.1 and weak suites at `@SECLEVEL=0`), the rustls server of the
//! loopback lab, and canned SSL 3.0 / SSL 2.0 answers (both are compiled out of OpenSSL 3).
//! Every s_server is killed by its handle on drop; readiness is a bounded poll.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigie_checks::dns::Resolver;
use vigie_checks::tls::enumerate::{enumerate, EnumerationOptions};
use vigie_checks::tls::wire::{self, ClientHello, FirstFlight, Randomness};
use vigie_checks::tls::{TlsProbeOptions, TlsTarget, TrustStore};
use vigie_grade::tls::ProtocolVersion;
use vigie_grade::tls::{posture, Profile};
use vigie_model::{Check, Lang, Status, TlsEnumeration, TlsProtocolSupport};
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::tls_server::{GarbageServer, SilentServer, TlsServer};

/// Bounds a whole enumeration in these tests.
const BOUND: Duration = Duration::from_secs(60);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An RSA-2048 self-signed certificate and key made by openssl, in `dir`.
fn rsa_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl req");
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// `openssl s_server` on `ip`, killed when dropped.
struct OpenSslServer {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl OpenSslServer {
    async fn start(ip: IpAddr, args: &[&str]) -> OpenSslServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = rsa_certificate(dir.path());
        // A free port: bind, read it, release it for s_server.
        let port = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::new(ip, port);
        let mut child = Command::new("openssl")
            .arg("s_server")
            .arg("-accept")
            .arg(addr.to_string())
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(["-www", "-quiet"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openssl s_server");
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("s_server {args:?} exited ({status}): {stderr}");
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return OpenSslServer {
                    child,
                    addr,
                    _dir: dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("s_server {args:?} not listening on {addr} after 5 s");
    }
}

impl Drop for OpenSslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn run(addr: SocketAddr, options: &EnumerationOptions) -> TlsEnumeration {
    tokio::time::timeout(BOUND, enumerate(addr, "localhost", options))
        .await
        .expect("the enumeration ends within its bound")
}

fn protocol<'a>(e: &'a TlsEnumeration, name: &str) -> &'a TlsProtocolSupport {
    e.protocols
        .iter()
        .find(|p| p.protocol == name)
        .unwrap_or_else(|| panic!("{name} not in {e:#?}"))
}

fn accepted(e: &TlsEnumeration) -> Vec<&str> {
    e.protocols
        .iter()
        .filter(|p| p.accepted)
        .map(|p| p.protocol.as_str())
        .collect()
}

#[tokio::test]
async fn a_legacy_openssl_server_shows_tls10_to_12_weak_suites_and_its_groups() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let server = OpenSslServer::start(
        ip(41),
        &[
            "-cipher",
            "ALL:@SECLEVEL=0",
            "-no_tls1_3",
            "-groups",
            "x25519:secp256r1:secp384r1",
        ],
    )
    .await;
    let e = run(server.addr, &EnumerationOptions::default()).await;
    assert_eq!(accepted(&e), ["TLSv1.0", "TLSv1.1", "TLSv1.2"], "{e:#?}");
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert!(!e.truncated);
    assert!(protocol(&e, "SSLv3").refusal.is_some());
    assert!(protocol(&e, "SSLv2").refusal.is_some(), "{e:#?}");
    assert!(protocol(&e, "TLSv1.3").refusal.is_some());
    let tls10 = protocol(&e, "TLSv1.0");
    assert!(tls10
        .cipher_suites
        .iter()
        .any(|s| s == "TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert!(!tls10.cipher_suites.iter().any(|s| s.contains("GCM")));
    let tls12 = protocol(&e, "TLSv1.2");
    for suite in [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ] {
        assert!(
            tls12.cipher_suites.iter().any(|s| s == suite),
            "{suite}: {tls12:#?}"
        );
    }
    // s_server follows the client's order unless -serverpref.
    assert_eq!(tls12.preference.as_deref(), Some("client"));
    let mut groups = tls12.groups.clone();
    groups.sort();
    assert_eq!(groups, ["secp256r1", "secp384r1", "x25519"]);
    assert!(tls12.dh_bits.is_some_and(|bits| bits >= 2048), "{tls12:#?}");
    assert_eq!(e.secure_renegotiation, Some(true));
    assert_eq!(e.extended_master_secret, Some(true));
    assert_eq!(e.compression, Some(false));
    assert_eq!(e.fallback_scsv, Some(true));
    // OpenSSL 3 has no heartbeat support: the probe on TLS 1.2 sees no extension.
    let heartbeat = e.heartbeat.as_ref().expect("the Heartbleed probe ran");
    assert_eq!(heartbeat.protocol, "TLSv1.2");
    assert!(!heartbeat.extension_offered);
    assert_eq!(heartbeat.vulnerable, Some(false));
    assert!(e.handshakes > 20 && e.handshakes < 400, "{}", e.handshakes);

    // Graded: the legacy protocols and suites fail, naming what is at fault.
    let verdicts = posture::evaluate_enumeration("localhost:443", &e, Profile::Modern);
    let status = |check: Check| {
        verdicts
            .iter()
            .find(|v| v.check == check)
            .map(|v| v.status)
            .unwrap_or_else(|| panic!("{}", check.id()))
    };
    for check in [
        Check::TlsProtocolTls10,
        Check::TlsProtocolTls11,
        Check::TlsCipherCbc,
        Check::TlsCipherNoForwardSecrecy,
        Check::TlsCipherAnon,
        Check::TlsPolicyItsp40062,
    ] {
        assert_eq!(status(check), Status::Fail, "{}", check.id());
    }
    for check in [
        Check::TlsProtocolSslv2,
        Check::TlsProtocolSslv3,
        Check::TlsCipherWeakDh,
        Check::TlsCompression,
        Check::TlsRenegotiation,
        Check::TlsExtendedMasterSecret,
        Check::TlsFallbackScsv,
        Check::TlsHeartbleed,
    ] {
        assert_eq!(status(check), Status::Pass, "{}", check.id());
    }
    assert_eq!(status(Check::TlsProtocolTls13), Status::Warn);
    let anon = verdicts
        .iter()
        .find(|v| v.check == Check::TlsCipherAnon)
        .unwrap();
    assert!(anon.summary.render(Lang::En).contains("_anon_"), "{anon:?}");
}

#[tokio::test]
async fn server_preference_order_is_reported_in_order() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let server = OpenSslServer::start(
        ip(42),
        &[
            "-tls1_2",
            "-serverpref",
            "-cipher",
            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256",
            "-groups",
            "secp384r1:secp256r1",
        ],
    )
    .await;
    let e = run(server.addr, &EnumerationOptions::default()).await;
    assert_eq!(accepted(&e), ["TLSv1.2"]);
    let tls12 = protocol(&e, "TLSv1.2");
    assert_eq!(
        tls12.cipher_suites,
        [
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_128_GCM_SHA256"
        ]
    );
    assert_eq!(tls12.preference.as_deref(), Some("server"));
    assert_eq!(tls12.groups, ["secp384r1", "secp256r1"]);
    assert_eq!(tls12.dh_bits, None);
    // A single protocol: no fallback to test.
    assert_eq!(e.fallback_scsv, None);
}

#[tokio::test]
async fn a_1024_bit_dh_group_is_measured_and_fails_weak_dh() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let params = dir.path().join("dh1024.pem");
    // A safe prime of 1024 bits: generated in about a second.
    let status = Command::new("openssl")
        .args(["dhparam", "-out"])
        .arg(&params)
        .arg("1024")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl dhparam");
    assert!(status.success());
    let params = params.to_string_lossy().into_owned();
    let server = OpenSslServer::start(
        ip(51),
        &[
            "-tls1_2",
            "-cipher",
            "DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
            "-dhparam",
            &params,
        ],
    )
    .await;
    let e = run(server.addr, &EnumerationOptions::default()).await;
    let tls12 = protocol(&e, "TLSv1.2");
    assert_eq!(tls12.dh_bits, Some(1024), "{e:#?}");
    let verdicts = posture::evaluate_enumeration("localhost:443", &e, Profile::Modern);
    let weak = verdicts
        .iter()
        .find(|v| v.check == Check::TlsCipherWeakDh)
        .expect("weak_dh verdict");
    assert_eq!(weak.status, Status::Fail);
    assert_eq!(weak.evidence["dh_bits"], 1024);
    assert_eq!(weak.evidence["protocol"], "TLSv1.2");
}

#[tokio::test]
async fn a_tls13_only_server_shows_its_suites_and_groups() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let server = OpenSslServer::start(
        ip(43),
        &[
            "-tls1_3",
            "-ciphersuites",
            "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
            "-groups",
            "secp384r1:x25519",
        ],
    )
    .await;
    let e = run(server.addr, &EnumerationOptions::default()).await;
    assert_eq!(accepted(&e), ["TLSv1.3"], "{e:#?}");
    let tls13 = protocol(&e, "TLSv1.3");
    let mut suites = tls13.cipher_suites.clone();
    suites.sort();
    assert_eq!(
        suites,
        ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
    );
    let mut groups = tls13.groups.clone();
    groups.sort();
    assert_eq!(groups, ["secp384r1", "x25519"]);
    assert_eq!(e.secure_renegotiation, None);
    assert_eq!(e.compression, None);
}

#[tokio::test]
async fn the_rustls_lab_server_speaks_tls12_and_13_with_modern_suites_only() {
    let ca = TestCa::new("Vigie Enumeration CA");
    let server = TlsServer::start(ip(44), &ca.issue(&LeafSpec::valid_for(&["localhost"])))
        .await
        .expect("start the lab server");
    let e = run(server.addr, &EnumerationOptions::default()).await;
    assert_eq!(accepted(&e), ["TLSv1.2", "TLSv1.3"], "{e:#?}");
    for p in e.protocols.iter().filter(|p| p.accepted) {
        for suite in &p.cipher_suites {
            assert!(
                suite.contains("GCM") || suite.contains("CHACHA20"),
                "{suite}"
            );
            assert!(
                p.protocol == "TLSv1.3" || suite.starts_with("TLS_ECDHE_"),
                "{suite}"
            );
        }
    }
    assert!(protocol(&e, "TLSv1.3").groups.iter().any(|g| g == "x25519"));
    // rustls ignores TLS_FALLBACK_SCSV but marks a TLS 1.2 answer with the 1.3 sentinel.
    assert_eq!(e.fallback_scsv, Some(true));
    assert_eq!(e.extended_master_secret, Some(true));
    assert_eq!(e.secure_renegotiation, Some(true));
    assert_eq!(e.compression, Some(false));
}

#[tokio::test]
async fn probe_deep_adds_the_enumeration_to_the_observation_and_evaluate_grades_it() {
    let ca = TestCa::new("Vigie Deep CA");
    let server = TlsServer::start(ip(50), &ca.issue(&LeafSpec::valid_for(&["localhost"])))
        .await
        .expect("start the lab server");
    let target = TlsTarget {
        host: "localhost".to_owned(),
        port: server.addr.port(),
    };
    let probe_options = TlsProbeOptions {
        sni: None,
        connect: Some(server.addr.ip()),
        timeout: Duration::from_secs(5),
        starttls: None,
    };
    // Never asked: --connect gives the address.
    let resolver =
        Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap();
    let trust = TrustStore::load(None).expect("trust store");
    let observation = tokio::time::timeout(
        BOUND,
        vigie_checks::tls::probe_deep(
            &target,
            &probe_options,
            &EnumerationOptions::default(),
            &resolver,
            &trust,
        ),
    )
    .await
    .expect("bounded");
    let e = observation.enumeration.as_ref().expect("an enumeration");
    assert_eq!(accepted(e), ["TLSv1.2", "TLSv1.3"]);
    let verdicts = vigie_grade::tls::evaluate(&observation, chrono::Utc::now());
    let find = |check: Check| verdicts.iter().find(|v| v.check == check).map(|v| v.status);
    assert_eq!(find(Check::TlsConnect), Some(Status::Pass));
    assert_eq!(find(Check::TlsProtocolTls10), Some(Status::Pass));
    assert_eq!(find(Check::TlsProtocolTls13), Some(Status::Pass));
    assert_eq!(find(Check::TlsCipherCbc), Some(Status::Pass));
    assert_eq!(find(Check::TlsCipherNoForwardSecrecy), Some(Status::Pass));
    // rustls offers X25519 first: outside the strict ITSP view.
    assert_eq!(find(Check::TlsPolicyItsp40062), Some(Status::Fail));
    // The report format keeps it.
    let json = serde_json::to_value(&observation).unwrap();
    assert_eq!(json["enumeration"]["protocols"][4]["protocol"], "TLSv1.2");
}

#[tokio::test]
async fn a_tls10_only_server_fails_the_rustls_probe_yet_the_enumeration_names_the_protocol() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let server = OpenSslServer::start(ip(52), &["-tls1", "-cipher", "ALL:@SECLEVEL=0"]).await;
    let target = TlsTarget {
        host: "localhost".to_owned(),
        port: server.addr.port(),
    };
    let probe_options = TlsProbeOptions {
        sni: None,
        connect: Some(server.addr.ip()),
        timeout: Duration::from_secs(5),
        starttls: None,
    };
    let resolver =
        Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap();
    let trust = TrustStore::load(None).expect("trust store");
    let observation = tokio::time::timeout(
        BOUND,
        vigie_checks::tls::probe_deep(
            &target,
            &probe_options,
            &EnumerationOptions::default(),
            &resolver,
            &trust,
        ),
    )
    .await
    .expect("bounded");
    let verdicts = vigie_grade::tls::evaluate(&observation, chrono::Utc::now());
    let find = |check: Check| {
        verdicts
            .iter()
            .find(|v| v.check == check)
            .unwrap_or_else(|| panic!("{}", check.id()))
    };
    // rustls speaks TLS 1.2 and 1.3 only: no handshake, hence no certificate checks…
    assert_eq!(find(Check::TlsConnect).status, Status::Error);
    // …but the enumeration still says why.
    let tls10 = find(Check::TlsProtocolTls10);
    assert_eq!(tls10.status, Status::Fail);
    assert!(tls10.evidence["cipher_suites"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(find(Check::TlsProtocolTls12).status, Status::Fail);
    assert_eq!(find(Check::TlsProtocolTls13).status, Status::Warn);
    assert_eq!(find(Check::TlsExtendedMasterSecret).status, Status::Skip);
}

#[tokio::test]
async fn a_stapled_ocsp_response_is_recorded_by_the_probe() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    // The smallest OCSPResponse: status malformedRequest, no body. s_server staples it as is.
    let dir = tempfile::tempdir().expect("temp dir");
    let response = dir.path().join("ocsp.der");
    std::fs::write(&response, [0x30, 0x03, 0x0a, 0x01, 0x01]).expect("write");
    let response = response.to_string_lossy().into_owned();
    for (last, stapled, args) in [
        (54, true, vec!["-status_file", response.as_str()]),
        (55, false, vec![]),
    ] {
        let server = OpenSslServer::start(ip(last), &args).await;
        let target = TlsTarget {
            host: "localhost".to_owned(),
            port: server.addr.port(),
        };
        let probe_options = TlsProbeOptions {
            sni: None,
            connect: Some(server.addr.ip()),
            timeout: Duration::from_secs(5),
            starttls: None,
        };
        let resolver =
            Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap();
        let trust = TrustStore::load(None).expect("trust store");
        let observation =
            vigie_checks::tls::probe(&target, &probe_options, &resolver, &trust).await;
        let verdicts = vigie_grade::tls::evaluate(&observation, chrono::Utc::now());
        let ocsp = verdicts
            .iter()
            .find(|v| v.check == Check::TlsOcspStapling)
            .unwrap_or_else(|| panic!("no OCSP verdict: {observation:#?}"));
        let expected = if stapled { Status::Pass } else { Status::Info };
        assert_eq!(ocsp.status, expected, "{args:?}");
        assert_eq!(ocsp.evidence["ocsp_stapled"], stapled);
    }
}

/// A TLS 1.2 server intolerant of long hellos: it closes on any ClientHello record over 600
/// bytes, takes only TLS_RSA_WITH_AES_128_CBC_SHA and TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
/// (in the client's order), and refuses other versions with `protocol_version`.
struct IntolerantServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IntolerantServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IntolerantServer {
    async fn start(ip: IpAddr) -> IntolerantServer {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            // Bounded: far more connections than one enumeration makes.
            for _ in 0..500 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(5), Self::serve(&mut stream))
                        .await;
                });
            }
        });
        IntolerantServer { addr, task }
    }

    async fn serve(stream: &mut tokio::net::TcpStream) {
        let mut header = [0u8; 5];
        if stream.read_exact(&mut header).await.is_err() || header[0] != 22 {
            return;
        }
        let length = u16::from_be_bytes([header[3], header[4]]) as usize;
        if length > 600 {
            return; // closes without a word, as intolerant stacks do
        }
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() || body.len() < 40 {
            return;
        }
        let version = [body[4], body[5]];
        let alert = |description: u8| vec![21, 3, 3, 0, 2, 2, description];
        if version != [3, 3] {
            let _ = stream.write_all(&alert(70)).await;
            return;
        }
        let session_id = body[38] as usize;
        let at = 39 + session_id;
        let Some(suites_length) = body
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        else {
            return;
        };
        let Some(suites) = body.get(at + 2..at + 2 + suites_length) else {
            return;
        };
        let chosen = suites
            .chunks_exact(2)
            .map(|c| [c[0], c[1]])
            .find(|c| *c == [0x00, 0x2f] || *c == [0xc0, 0x2f]);
        let Some(chosen) = chosen else {
            let _ = stream.write_all(&alert(40)).await;
            return;
        };
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[0x42; 32]);
        hello.push(0);
        hello.extend_from_slice(&chosen);
        hello.push(0);
        hello.extend_from_slice(&[0, 5, 0xff, 0x01, 0, 1, 0]);
        let mut handshake = vec![2, 0, 0, hello.len() as u8];
        handshake.extend_from_slice(&hello);
        handshake.extend_from_slice(&[14, 0, 0, 0]);
        let mut record = vec![22, 3, 3, 0, handshake.len() as u8];
        record.extend_from_slice(&handshake);
        let _ = stream.write_all(&record).await;
    }
}

#[tokio::test]
async fn a_server_intolerant_of_long_hellos_is_enumerated_with_the_common_suites() {
    let server = IntolerantServer::start(ip(53)).await;
    let options = EnumerationOptions {
        protocols: vec![ProtocolVersion::Tls11, ProtocolVersion::Tls12],
        ..EnumerationOptions::default()
    };
    let e = run(server.addr, &options).await;
    assert_eq!(accepted(&e), ["TLSv1.2"], "{e:#?}");
    let tls12 = protocol(&e, "TLSv1.2");
    assert_eq!(
        tls12.cipher_suites,
        [
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
    );
    assert_eq!(tls12.preference.as_deref(), Some("client"));
    assert_eq!(
        protocol(&e, "TLSv1.1").refusal.as_deref(),
        Some("alert protocol_version")
    );
    assert_eq!(e.secure_renegotiation, Some(true));
    assert_eq!(e.extended_master_secret, Some(false));
}

/// An SSL 3.0 ServerHello choosing TLS_RSA_WITH_3DES_EDE_CBC_SHA, then ServerHelloDone.
fn ssl3_server_hello() -> Vec<u8> {
    let mut body = vec![3, 0];
    body.extend_from_slice(&[0x5a; 32]);
    body.push(0);
    body.extend_from_slice(&[0x00, 0x0a, 0]);
    let mut handshake = vec![2, 0, 0, body.len() as u8];
    handshake.extend_from_slice(&body);
    handshake.extend_from_slice(&[14, 0, 0, 0]);
    let mut record = vec![22, 3, 0, 0, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn a_canned_ssl3_server_is_detected_and_nothing_else_is_claimed() {
    let server = GarbageServer::start_with(ip(45), ssl3_server_hello())
        .await
        .expect("start the fake server");
    let e = run(server.addr, &EnumerationOptions::default()).await;
    assert_eq!(accepted(&e), ["SSLv3"], "{e:#?}");
    assert_eq!(
        protocol(&e, "SSLv3").cipher_suites,
        ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]
    );
    assert!(protocol(&e, "TLSv1.2")
        .refusal
        .as_deref()
        .is_some_and(|r| r.contains("SSLv3")));
}

#[tokio::test]
async fn a_canned_ssl2_server_is_detected() {
    // SERVER-HELLO: no session hit, X.509, version 2, 1-byte "certificate", two kinds.
    let mut body = vec![4, 0, 1, 0, 2, 0, 1, 0, 6, 0, 16, 0x30];
    body.extend_from_slice(&[0x02, 0x00, 0x80, 0x07, 0x00, 0xc0]);
    body.extend_from_slice(&[0x11; 16]);
    let mut hello = vec![0x80, body.len() as u8];
    hello.extend_from_slice(&body);
    let server = GarbageServer::start_with(ip(46), hello)
        .await
        .expect("start the fake server");
    let options = EnumerationOptions {
        protocols: vec![ProtocolVersion::Ssl2],
        ..EnumerationOptions::default()
    };
    let e = run(server.addr, &options).await;
    assert_eq!(accepted(&e), ["SSLv2"]);
    assert_eq!(
        protocol(&e, "SSLv2").cipher_suites,
        [
            "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
            "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
        ]
    );
}

#[tokio::test]
async fn a_silent_server_is_an_error_per_protocol_never_a_refusal() {
    let server = SilentServer::start(ip(47)).await.expect("start");
    let options = EnumerationOptions {
        timeout: Duration::from_millis(700),
        ..EnumerationOptions::default()
    };
    let e = run(server.addr, &options).await;
    assert!(accepted(&e).is_empty());
    for p in &e.protocols {
        assert!(p.error.is_some() && p.refusal.is_none(), "{p:#?}");
    }
    assert_eq!(e.handshakes, 6);
    assert_eq!(e.errors.len(), 6);
}

#[tokio::test]
async fn the_handshake_budget_bounds_the_enumeration() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let server = OpenSslServer::start(ip(48), &["-cipher", "ALL:@SECLEVEL=0"]).await;
    let options = EnumerationOptions {
        max_handshakes: 10,
        min_interval: Duration::from_millis(50),
        ..EnumerationOptions::default()
    };
    let started = std::time::Instant::now();
    let e = run(server.addr, &options).await;
    assert_eq!(e.handshakes, 10);
    assert!(e.truncated);
    // Paced: ten connection starts at least 50 ms apart.
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
}

/// Reads one first flight for `hello`, raw.
async fn first_flight(addr: SocketAddr, hello: &ClientHello) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(&hello.encode(&Randomness::default()))
        .await
        .expect("send");
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..64 {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap_or(0);
        buffer.extend_from_slice(&chunk[..read]);
        match wire::parse_first_flight(&buffer) {
            Ok(FirstFlight::Hello {
                complete: false, ..
            }) if read > 0 => continue,
            Err(wire::WireError::Incomplete) if read > 0 => continue,
            _ => break,
        }
    }
    buffer
}

/// Refreshes checks/testdata/tls-wire/ from the local openssl (VIGIE_CAPTURE=1); the unit
/// tests of the parser read those files.
#[tokio::test]
async fn capture_server_hellos() {
    if std::env::var_os("VIGIE_CAPTURE").is_none() || !openssl_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls-wire");
    std::fs::create_dir_all(&dir).expect("testdata dir");
    let server = OpenSslServer::start(ip(49), &["-cipher", "ALL:@SECLEVEL=0"]).await;
    let cases: Vec<(&str, ClientHello)> = vec![
        ("openssl3-tls12-ecdhe-rsa.bin", {
            let mut h = ClientHello::new(ProtocolVersion::Tls12, vec![0xc02f]);
            h.groups = vec![0x0017];
            h
        }),
        (
            "openssl3-tls12-dhe-rsa.bin",
            ClientHello::new(ProtocolVersion::Tls12, vec![0x009e]),
        ),
        (
            "openssl3-tls10-rsa-cbc.bin",
            ClientHello::new(ProtocolVersion::Tls10, vec![0x002f]),
        ),
        (
            "openssl3-tls13-aes256.bin",
            ClientHello::new(ProtocolVersion::Tls13, vec![0x1302]),
        ),
        ("openssl3-tls13-hrr-secp384r1.bin", {
            let mut h = ClientHello::new(ProtocolVersion::Tls13, vec![0x1301]);
            h.groups = vec![0x0018];
            h.key_shares = vec![];
            h
        }),
        (
            "openssl3-alert-ssl3.bin",
            ClientHello::new(ProtocolVersion::Ssl3, vec![0x000a]),
        ),
        (
            "openssl3-answer-to-ssl2.bin",
            ClientHello::new(ProtocolVersion::Ssl2, vec![0x0700c0]),
        ),
    ];
    for (name, hello) in cases {
        let bytes = first_flight(server.addr, &hello).await;
        std::fs::write(dir.join(name), bytes).expect("write capture");
    }
}
