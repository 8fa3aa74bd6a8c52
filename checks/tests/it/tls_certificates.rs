//! Every certificate check against `openssl s_server`, in particular those that need
//! certificates rustls and rcgen cannot make or serve:
//! RSA-1024 keys, SHA-1 signatures, a chain missing its intermediate (named by the AIA
//! caIssuers URL), embedded SCTs and OCSP must-staple. A PKI made with the openssl CLI at
//! test time, served by `openssl s_server -cipher 'ALL:@SECLEVEL=0'` on 127.0.33.x; each
//! check has an endpoint where it must fail and one where it must pass.
//!
//! Expired, not yet valid, expiring, self-signed and wrong-name leaves are served here too;
//! `tls_probe.rs` has the same cases with rcgen certificates on the rustls lab server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Duration as Days, Utc};
use vigie_checks::dns::Resolver;
use vigie_checks::tls::{self, TlsProbeOptions, TlsTarget, TrustStore};
use vigie_model::{Check, Lang, Severity, Status, TlsProbeResult, Verdict};

const HOST: &str = "www.lab.test";
const AIA_URL: &str = "http://ca.lab.test/intermediate.crt";
/// Bounds each probe, far above what a working probe takes.
const PROBE_BOUND: Duration = Duration::from_secs(20);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 33, last))
}

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A two-level CA (root, then an intermediate whose leaves say where it is published) in a
/// temp dir.
struct Pki {
    dir: tempfile::TempDir,
    root: PathBuf,
}

/// What a leaf must be.
struct Leaf<'a> {
    file: &'a str,
    /// `openssl req -newkey` argument: `ec`, `rsa:1024`, `rsa:2048`.
    key: &'a str,
    /// `sha256`, `sha1`.
    digest: &'a str,
    /// Signed by the intermediate (true) or the root.
    by_intermediate: bool,
    /// Extra `x509v3` lines.
    extensions: &'a [&'a str],
    /// The name in the subject and subjectAltName.
    name: &'a str,
    /// Valid from now for this many days…
    days: u32,
    /// …unless given here (notBefore, notAfter): then issued with `openssl ca`, the only
    /// openssl 3.0 command that sets both dates.
    dates: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl<'a> Leaf<'a> {
    fn new(file: &'a str) -> Leaf<'a> {
        Leaf {
            file,
            key: "ec",
            digest: "sha256",
            by_intermediate: true,
            extensions: &[],
            name: HOST,
            days: 90,
            dates: None,
        }
    }
}

/// Paths of an issued leaf: the leaf alone, the leaf then the intermediate, the key.
struct Issued {
    leaf: PathBuf,
    intermediate: Option<PathBuf>,
    key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let root = d.join("root.pem");
        let root_key = d.join("root.key");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=Vigie Cert Test Root",
            "-keyout",
            path_str(&root_key),
            "-out",
            path_str(&root),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        let int_csr = d.join("int.csr");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=Vigie Cert Test Intermediate",
            "-keyout",
            path_str(&d.join("int.key")),
            "-out",
            path_str(&int_csr),
        ]);
        let ext = d.join("int.ext");
        std::fs::write(
            &ext,
            "[v3]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )
        .expect("write");
        openssl(&[
            "x509",
            "-req",
            "-in",
            path_str(&int_csr),
            "-CA",
            path_str(&root),
            "-CAkey",
            path_str(&root_key),
            "-CAcreateserial",
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            path_str(&ext),
            "-extensions",
            "v3",
            "-out",
            path_str(&d.join("int.pem")),
        ]);
        Pki { dir, root }
    }

    fn issue(&self, spec: &Leaf<'_>) -> Issued {
        let d = self.dir.path();
        let key = d.join(format!("{}.key", spec.file));
        let csr = d.join(format!("{}.csr", spec.file));
        let leaf = d.join(format!("{}.pem", spec.file));
        let mut req = vec!["req", "-new", "-newkey", spec.key, "-nodes"];
        if spec.key == "ec" {
            req.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
        }
        let subject = format!("/CN={}", spec.name);
        req.extend([
            "-subj",
            &subject,
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&csr),
        ]);
        openssl(&req);
        let mut lines = vec![
            "[v3]".to_owned(),
            "basicConstraints=critical,CA:FALSE".to_owned(),
            format!("subjectAltName=DNS:{}", spec.name),
            "extendedKeyUsage=serverAuth".to_owned(),
            "authorityKeyIdentifier=keyid".to_owned(),
        ];
        lines.extend(spec.extensions.iter().map(|l| (*l).to_owned()));
        let ext = d.join(format!("{}.ext", spec.file));
        std::fs::write(&ext, lines.join("\n") + "\n").expect("write");
        let (ca, ca_key) = if spec.by_intermediate {
            (d.join("int.pem"), d.join("int.key"))
        } else {
            (self.root.clone(), d.join("root.key"))
        };
        let digest = format!("-{}", spec.digest);
        if let Some((not_before, not_after)) = spec.dates {
            let stamp = |at: DateTime<Utc>| at.format("%Y%m%d%H%M%SZ").to_string();
            let (start, end) = (stamp(not_before), stamp(not_after));
            let db = d.join("ca-db");
            std::fs::create_dir_all(&db).expect("create the CA database");
            let index = db.join("index.txt");
            if !index.exists() {
                std::fs::write(&index, "").expect("write index");
                std::fs::write(db.join("serial"), "1000\n").expect("write serial");
            }
            let config = d.join("ca.cnf");
            std::fs::write(
                &config,
                format!(
                    "[ca]\ndefault_ca = lab\n[lab]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\n\
                     serial = {db}/serial\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n",
                    db = path_str(&db)
                ),
            )
            .expect("write ca.cnf");
            openssl(&[
                "ca",
                "-batch",
                "-notext",
                "-config",
                path_str(&config),
                "-cert",
                path_str(&ca),
                "-keyfile",
                path_str(&ca_key),
                "-in",
                path_str(&csr),
                "-md",
                spec.digest,
                "-startdate",
                &start,
                "-enddate",
                &end,
                "-extfile",
                path_str(&ext),
                "-extensions",
                "v3",
                "-out",
                path_str(&leaf),
            ]);
            return Issued {
                leaf,
                intermediate: spec.by_intermediate.then_some(ca),
                key,
            };
        }
        let days = spec.days.to_string();
        openssl(&[
            "x509",
            "-req",
            "-in",
            path_str(&csr),
            "-CA",
            path_str(&ca),
            "-CAkey",
            path_str(&ca_key),
            "-CAcreateserial",
            "-days",
            &days,
            &digest,
            "-extfile",
            path_str(&ext),
            "-extensions",
            "v3",
            "-out",
            path_str(&leaf),
        ]);
        Issued {
            leaf,
            intermediate: spec.by_intermediate.then_some(ca),
            key,
        }
    }

    /// A self-signed leaf for `name` (subject = issuer, signed with its own key).
    fn self_signed(&self, file: &str, name: &str) -> Issued {
        let d = self.dir.path();
        let key = d.join(format!("{file}.key"));
        let leaf = d.join(format!("{file}.pem"));
        let subject = format!("/CN={name}");
        let san = format!("subjectAltName=DNS:{name}");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "90",
            "-subj",
            &subject,
            "-addext",
            &san,
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&leaf),
        ]);
        Issued {
            leaf,
            intermediate: None,
            key,
        }
    }

    /// Only the root, as `--ca-file`.
    fn private_trust(&self) -> TrustStore {
        TrustStore::only_ca_file(&self.root).expect("the root as CA file")
    }

    /// The root taken as a public root, for the checks that apply to the web PKI only.
    fn public_trust(&self) -> TrustStore {
        TrustStore::public_bundle(&self.root).expect("the root as a public bundle")
    }
}

/// `openssl s_server` on `ip`, killed when dropped.
struct OpenSslServer {
    child: Child,
    addr: SocketAddr,
}

impl OpenSslServer {
    /// Serves `issued`; `send_intermediate` adds the intermediate to the chain sent.
    async fn start(ip: IpAddr, issued: &Issued, send_intermediate: bool, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::new(ip, port);
        let mut command = Command::new("openssl");
        command
            .arg("s_server")
            .arg("-accept")
            .arg(addr.to_string())
            .arg("-cert")
            .arg(&issued.leaf)
            .arg("-key")
            .arg(&issued.key)
            // Never complete the chain from a store: the test decides what is sent.
            .args(["-no-CAfile", "-no-CApath", "-no-CAstore"])
            .args(["-cipher", "ALL:@SECLEVEL=0", "-www", "-quiet"]);
        if send_intermediate {
            command.arg("-cert_chain").arg(
                issued
                    .intermediate
                    .as_ref()
                    .expect("a leaf of the intermediate"),
            );
        }
        let mut child = command
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
                return OpenSslServer { child, addr };
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

/// Probes `www.lab.test:PORT` pinned to the server and grades it.
async fn probe(server: &OpenSslServer, trust: &TrustStore) -> Vec<Verdict> {
    let target = TlsTarget {
        host: HOST.to_owned(),
        port: server.addr.port(),
    };
    let options = TlsProbeOptions {
        sni: None,
        connect: Some(server.addr.ip()),
        timeout: Duration::from_secs(5),
        starttls: None,
    };
    // Nothing answers DNS there: the probe must not resolve.
    let resolver =
        Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap();
    let observation =
        tokio::time::timeout(PROBE_BOUND, tls::probe(&target, &options, &resolver, trust))
            .await
            .expect("the probe returned within its bound");
    assert!(
        matches!(observation.result, TlsProbeResult::Handshake(_)),
        "no handshake: {observation:#?}"
    );
    vigie_grade::tls::evaluate(&observation, Utc::now())
}

fn find(verdicts: &[Verdict], check: Check) -> &Verdict {
    verdicts
        .iter()
        .find(|v| v.check == check)
        .unwrap_or_else(|| panic!("no verdict for {}", check.id()))
}

fn status(verdicts: &[Verdict], check: Check) -> Status {
    find(verdicts, check).status
}

macro_rules! require_openssl {
    () => {
        if !openssl_available() {
            eprintln!("not run: the openssl CLI is not installed (Debian package openssl)");
            return;
        }
    };
}

#[tokio::test]
async fn a_good_chain_passes_every_certificate_check() {
    require_openssl!();
    let pki = Pki::new();
    let issued = pki.issue(&Leaf::new("good"));
    let server = OpenSslServer::start(ip(1), &issued, true, &[]).await;
    let verdicts = probe(&server, &pki.private_trust()).await;
    for check in vigie_grade::tls::evaluate::CERTIFICATE_CHECKS {
        let verdict = find(&verdicts, check);
        let expected = if check == Check::TlsCertTransparency {
            // A private root: CT does not apply.
            Status::Skip
        } else {
            Status::Pass
        };
        assert_eq!(
            verdict.status,
            expected,
            "{}: {}",
            check.id(),
            verdict.summary.render(Lang::En)
        );
    }
    let key = find(&verdicts, Check::TlsCertWeakKey);
    assert_eq!(key.evidence["certificates"][0]["key_type"], "EC");
    assert_eq!(key.evidence["certificates"][0]["key_bits"], 256);
    assert_eq!(
        key.evidence["certificates"][1]["subject"],
        "CN=Vigie Cert Test Intermediate"
    );
    let signature = find(&verdicts, Check::TlsCertWeakSignature);
    assert_eq!(
        signature.evidence["certificates"][0]["signature_algorithm"],
        "ecdsa-with-SHA256"
    );
    assert!(signature.evidence["certificates"][0]["serial"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(
        signature.evidence["certificates"][0]["issuer"],
        "CN=Vigie Cert Test Intermediate"
    );
    assert_eq!(
        find(&verdicts, Check::TlsCertIncompleteChain).evidence["certificates_sent"],
        2
    );
}

#[tokio::test]
async fn a_leaf_sent_without_its_intermediate_fails_incomplete_chain_naming_it_and_its_url() {
    require_openssl!();
    let pki = Pki::new();
    let aia = format!("authorityInfoAccess=caIssuers;URI:{AIA_URL}");
    let issued = pki.issue(&Leaf {
        extensions: &[aia.as_str()],
        ..Leaf::new("aia")
    });
    let trust = pki.private_trust();

    let without = OpenSslServer::start(ip(2), &issued, false, &[]).await;
    let verdicts = probe(&without, &trust).await;
    let verdict = find(&verdicts, Check::TlsCertIncompleteChain);
    assert_eq!(verdict.status, Status::Fail);
    assert_eq!(verdict.severity, Severity::Medium);
    assert_eq!(
        verdict.evidence["missing_issuer"],
        "CN=Vigie Cert Test Intermediate"
    );
    assert_eq!(verdict.evidence["ca_issuers"], serde_json::json!([AIA_URL]));
    assert_eq!(verdict.evidence["certificates_sent"], 1);
    assert!(verdict.summary.render(Lang::En).contains(AIA_URL));
    assert!(verdict.remediation.is_some());
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Fail);

    let with = OpenSslServer::start(ip(3), &issued, true, &[]).await;
    let verdicts = probe(&with, &trust).await;
    assert_eq!(
        status(&verdicts, Check::TlsCertIncompleteChain),
        Status::Pass
    );
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Pass);
}

#[tokio::test]
async fn an_rsa_1024_leaf_fails_weak_key_and_rsa_2048_passes() {
    require_openssl!();
    let pki = Pki::new();
    let trust = pki.private_trust();
    let weak = pki.issue(&Leaf {
        key: "rsa:1024",
        ..Leaf::new("rsa1024")
    });
    let server = OpenSslServer::start(ip(4), &weak, true, &[]).await;
    let verdicts = probe(&server, &trust).await;
    let verdict = find(&verdicts, Check::TlsCertWeakKey);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.severity, Severity::High);
    assert_eq!(verdict.evidence["certificates"][0]["key_type"], "RSA");
    assert_eq!(verdict.evidence["certificates"][0]["key_bits"], 1024);
    assert!(verdict.summary.render(Lang::Fr).contains("RSA 1024"));
    // ring verifies no RSA key under 2048 bits: the probe says so instead of failing.
    assert!(verdict.evidence["key_proof_unverified"]
        .as_str()
        .is_some_and(|r| r.contains("1024")));
    // The rest of the certificate is judged as usual.
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Pass);

    let strong = pki.issue(&Leaf {
        key: "rsa:2048",
        ..Leaf::new("rsa2048")
    });
    let server = OpenSslServer::start(ip(5), &strong, true, &[]).await;
    let verdicts = probe(&server, &trust).await;
    let verdict = find(&verdicts, Check::TlsCertWeakKey);
    assert_eq!(verdict.status, Status::Pass);
    assert_eq!(verdict.evidence["certificates"][0]["key_bits"], 2048);
    assert!(verdict.evidence.get("key_proof_unverified").is_none());
}

#[tokio::test]
async fn a_sha1_signed_leaf_fails_weak_signature() {
    require_openssl!();
    let pki = Pki::new();
    let trust = pki.private_trust();
    let sha1 = pki.issue(&Leaf {
        digest: "sha1",
        ..Leaf::new("sha1")
    });
    let server = OpenSslServer::start(ip(6), &sha1, true, &[]).await;
    let verdicts = probe(&server, &trust).await;
    let verdict = find(&verdicts, Check::TlsCertWeakSignature);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.severity, Severity::High);
    assert_eq!(
        verdict.evidence["certificates"][0]["signature_algorithm"],
        "ecdsa-with-SHA1"
    );
    assert!(verdict.summary.render(Lang::En).contains("ecdsa-with-SHA1"));

    let sha256 = pki.issue(&Leaf::new("sha256"));
    let server = OpenSslServer::start(ip(7), &sha256, true, &[]).await;
    let verdicts = probe(&server, &trust).await;
    assert_eq!(status(&verdicts, Check::TlsCertWeakSignature), Status::Pass);
}

/// An SCT list extension value (RFC 6962 §3.3) with `count` SCTs from made-up logs: the
/// OCTET STRING around the TLS-encoded list, as `DER:` hex for openssl's config.
fn sct_extension(count: u8) -> String {
    let mut list = Vec::new();
    for n in 0..count {
        let mut sct = vec![0u8]; // v1
        sct.extend([n + 1; 32]); // log id
        sct.extend(1_700_000_000_000u64.to_be_bytes());
        sct.extend([0, 0]); // no extensions
        sct.extend([4, 3]); // sha256, ecdsa
        sct.extend([0, 8]);
        sct.extend([0xab; 8]);
        list.extend(u16::try_from(sct.len()).unwrap().to_be_bytes());
        list.extend(sct);
    }
    let mut tls = u16::try_from(list.len()).unwrap().to_be_bytes().to_vec();
    tls.extend(list);
    let der = tlv(0x04, &tls);
    format!("1.3.6.1.4.1.11129.2.4.2=DER:{}", hex::encode(der))
}

#[tokio::test]
async fn a_publicly_trusted_leaf_without_scts_fails_transparency_and_with_scts_passes() {
    require_openssl!();
    let pki = Pki::new();
    let public = pki.public_trust();
    let bare = pki.issue(&Leaf::new("nosct"));
    let server = OpenSslServer::start(ip(8), &bare, true, &[]).await;
    let verdicts = probe(&server, &public).await;
    let verdict = find(&verdicts, Check::TlsCertTransparency);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.severity, Severity::Low);
    assert_eq!(verdict.evidence["sct_count"], 0);
    assert_eq!(verdict.evidence["publicly_trusted"], true);

    let sct = sct_extension(2);
    let logged = pki.issue(&Leaf {
        extensions: &[sct.as_str()],
        ..Leaf::new("sct")
    });
    let server = OpenSslServer::start(ip(9), &logged, true, &[]).await;
    let verdicts = probe(&server, &public).await;
    let verdict = find(&verdicts, Check::TlsCertTransparency);
    assert_eq!(verdict.status, Status::Pass);
    assert_eq!(verdict.evidence["sct_count"], 2);
    use base64::Engine as _;
    let first_log = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
    assert_eq!(verdict.evidence["sct_log_ids"][0], first_log.as_str());

    // The same certificate under a private root: not graded.
    let verdicts = probe(&server, &pki.private_trust()).await;
    assert_eq!(status(&verdicts, Check::TlsCertTransparency), Status::Skip);
}

#[tokio::test]
async fn a_must_staple_leaf_fails_without_a_stapled_response_and_passes_with_one() {
    require_openssl!();
    let pki = Pki::new();
    let trust = pki.private_trust();
    let issued = pki.issue(&Leaf {
        extensions: &["tlsfeature=status_request"],
        ..Leaf::new("muststaple")
    });

    let server = OpenSslServer::start(ip(10), &issued, true, &[]).await;
    let verdicts = probe(&server, &trust).await;
    let verdict = find(&verdicts, Check::TlsOcspStapling);
    assert_eq!(verdict.status, Status::Fail);
    assert_eq!(verdict.severity, Severity::High);
    assert_eq!(verdict.evidence["must_staple"], true);
    assert_eq!(verdict.evidence["ocsp_stapled"], false);

    // The smallest OCSPResponse (malformedRequest, no body): the probe records that one was
    // stapled; judging its content is not part of this check.
    let response = pki.dir.path().join("ocsp.der");
    std::fs::write(&response, [0x30, 0x03, 0x0a, 0x01, 0x01]).expect("write");
    let server = OpenSslServer::start(
        ip(11),
        &issued,
        true,
        &["-status_file", path_str(&response)],
    )
    .await;
    let verdicts = probe(&server, &trust).await;
    let verdict = find(&verdicts, Check::TlsOcspStapling);
    assert_eq!(verdict.status, Status::Pass);
    assert_eq!(verdict.evidence["must_staple"], true);

    // Without must-staple, no staple is only a fact.
    let plain = pki.issue(&Leaf::new("plain"));
    let server = OpenSslServer::start(ip(12), &plain, true, &[]).await;
    let verdicts = probe(&server, &trust).await;
    let verdict = find(&verdicts, Check::TlsOcspStapling);
    assert_eq!(verdict.status, Status::Info);
    assert_eq!(verdict.evidence["must_staple"], false);
}

#[tokio::test]
async fn an_expired_leaf_fails_expired_and_expiring_does_not_apply() {
    require_openssl!();
    let pki = Pki::new();
    let now = Utc::now();
    let issued = pki.issue(&Leaf {
        dates: Some((now - Days::days(100), now - Days::days(10))),
        ..Leaf::new("expired")
    });
    let server = OpenSslServer::start(ip(13), &issued, true, &[]).await;
    let verdicts = probe(&server, &pki.private_trust()).await;
    let verdict = find(&verdicts, Check::TlsCertExpired);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.severity, Severity::Critical);
    assert_eq!(verdict.evidence["days_since_expiry"], 10);
    assert_eq!(status(&verdicts, Check::TlsCertExpiring), Status::Skip);
    assert_eq!(status(&verdicts, Check::TlsCertNotYetValid), Status::Pass);
    assert_eq!(
        status(&verdicts, Check::TlsCertHostnameMismatch),
        Status::Pass
    );
    // The openssl CAs are made now, so the chain cannot be judged inside the leaf's past
    // validity: tls.cert.untrusted is not asserted here (tls_probe.rs does, with a
    // backdated CA).
}

#[tokio::test]
async fn a_leaf_valid_from_next_week_fails_not_yet_valid_only() {
    require_openssl!();
    let pki = Pki::new();
    let now = Utc::now();
    let issued = pki.issue(&Leaf {
        dates: Some((now + Days::days(7), now + Days::days(97))),
        ..Leaf::new("future")
    });
    let server = OpenSslServer::start(ip(14), &issued, true, &[]).await;
    let verdicts = probe(&server, &pki.private_trust()).await;
    let verdict = find(&verdicts, Check::TlsCertNotYetValid);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.severity, Severity::High);
    assert_eq!(status(&verdicts, Check::TlsCertExpired), Status::Pass);
    // Judged inside the validity window: the chain itself is fine.
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Pass);
}

#[tokio::test]
async fn a_leaf_expiring_in_3_days_fails_expiring_high() {
    require_openssl!();
    let pki = Pki::new();
    let issued = pki.issue(&Leaf {
        days: 3,
        ..Leaf::new("soon")
    });
    let server = OpenSslServer::start(ip(15), &issued, true, &[]).await;
    let verdicts = probe(&server, &pki.private_trust()).await;
    let verdict = find(&verdicts, Check::TlsCertExpiring);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.severity, Severity::High);
    assert_eq!(status(&verdicts, Check::TlsCertExpired), Status::Pass);
}

#[tokio::test]
async fn a_self_signed_leaf_fails_self_signed_and_untrusted_but_misses_no_intermediate() {
    require_openssl!();
    let pki = Pki::new();
    let issued = pki.self_signed("selfsigned", HOST);
    let server = OpenSslServer::start(ip(16), &issued, false, &[]).await;
    let verdicts = probe(&server, &pki.private_trust()).await;
    let verdict = find(&verdicts, Check::TlsCertSelfSigned);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(verdict.evidence["subject"], "CN=www.lab.test");
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Fail);
    assert_eq!(
        status(&verdicts, Check::TlsCertIncompleteChain),
        Status::Pass
    );
    assert_eq!(
        status(&verdicts, Check::TlsCertHostnameMismatch),
        Status::Pass
    );
    assert_eq!(status(&verdicts, Check::TlsCertWeakKey), Status::Pass);
}

#[tokio::test]
async fn a_leaf_for_another_name_fails_hostname_mismatch_naming_it() {
    require_openssl!();
    let pki = Pki::new();
    let issued = pki.issue(&Leaf {
        name: "other.lab.test",
        ..Leaf::new("wrongname")
    });
    let server = OpenSslServer::start(ip(17), &issued, true, &[]).await;
    let verdicts = probe(&server, &pki.private_trust()).await;
    let verdict = find(&verdicts, Check::TlsCertHostnameMismatch);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    assert_eq!(
        verdict.evidence["subject_alt_names"],
        serde_json::json!(["other.lab.test"])
    );
    assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Pass);
    assert_eq!(status(&verdicts, Check::TlsCertSelfSigned), Status::Pass);
}

/// A DER TLV; lengths in long form when needed.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap());
    } else {
        let bytes = u32::try_from(len).unwrap().to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(4 - skip).unwrap());
        out.extend(&bytes[skip..]);
    }
    out.extend(content);
    out
}

/// A successful OCSP response for one certificate, "good", whose single response carries
/// the SCT list extension (RFC 6962 §3.3) with `count` SCTs. The signature is made up: the
/// probe records SCTs, it does not judge the response.
fn ocsp_response_with_scts(count: u8) -> Vec<u8> {
    let seq = |parts: &[Vec<u8>]| tlv(0x30, &parts.concat());
    let oid = |content: &[u8]| tlv(0x06, content);
    let time = tlv(0x18, b"20261130000000Z");
    // The SCT list as a certificate carries it: the `DER:` hex of sct_extension, after `=DER:`.
    let sct_value = hex::decode(sct_extension(count).split("DER:").nth(1).unwrap()).unwrap();
    let sct_oid = [0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x05];
    let extension = seq(&[oid(&sct_oid), tlv(0x04, &sct_value)]);
    let cert_id = seq(&[
        seq(&[oid(&[0x2b, 0x0e, 0x03, 0x02, 0x1a]), vec![0x05, 0x00]]),
        tlv(0x04, &[0x11; 20]),
        tlv(0x04, &[0x22; 20]),
        tlv(0x02, &[0x01]),
    ]);
    let single = seq(&[
        cert_id,
        vec![0x80, 0x00],
        time.clone(),
        tlv(0xa1, &seq(&[extension])),
    ]);
    let response_data = seq(&[tlv(0xa2, &tlv(0x04, &[0x33; 20])), time, seq(&[single])]);
    let basic = seq(&[
        response_data,
        seq(&[oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]),
        tlv(0x03, &[0x00, 0xab, 0xcd]),
    ]);
    let response_bytes = seq(&[
        oid(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]),
        tlv(0x04, &basic),
    ]);
    seq(&[tlv(0x0a, &[0x00]), tlv(0xa0, &response_bytes)])
}

#[tokio::test]
async fn scts_in_the_stapled_ocsp_response_pass_transparency() {
    require_openssl!();
    let pki = Pki::new();
    let issued = pki.issue(&Leaf::new("ocspsct"));
    let response = pki.dir.path().join("ocsp-sct.der");
    std::fs::write(&response, ocsp_response_with_scts(3)).expect("write");
    let server = OpenSslServer::start(
        ip(18),
        &issued,
        true,
        &["-status_file", path_str(&response)],
    )
    .await;
    let verdicts = probe(&server, &pki.public_trust()).await;
    let verdict = find(&verdicts, Check::TlsCertTransparency);
    assert_eq!(verdict.status, Status::Pass, "{verdict:#?}");
    assert_eq!(verdict.evidence["sct_count"], 3);
    assert_eq!(verdict.evidence["sct_log_ids"], serde_json::json!([]));
    assert_eq!(
        verdict.evidence["ocsp_sct_log_ids"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}
