//! The opt-in STARTTLS probe of MX hosts against SMTP responders on 127.0.0.1: one that
//! offers STARTTLS with a certificate from the test CA (valid, for another name, expired),
//! one that does not offer it, and a closed port. The responders record every command, to
//! prove the probe stays read-only (EHLO, STARTTLS, QUIT; never MAIL FROM).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vigie_checks::email::observation::StarttlsFacts;
use vigie_checks::email::{probe, MemoryZone, ProbeOptions, SmtpOptions};
use vigie_checks::tls::TrustStore;
use vigie_grade::email::evaluate;
use vigie_model::{Check, Status, Verdict};
use vigie_tests::pki::{Issued, LeafSpec, TestCa};

const LOOPBACK: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const MX: &str = "mx.mail.test";

/// What the responder offers.
#[derive(Clone)]
enum Mode {
    StartTls(Arc<rustls::ServerConfig>),
    Plain,
}

struct Responder {
    addr: SocketAddr,
    commands: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tls_config(issued: &Issued) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(issued.chain.clone(), issued.key.clone_key())
            .unwrap(),
    )
}

/// A minimal SMTP server: greeting, EHLO, STARTTLS (when offered), QUIT; anything else is
/// refused with 502 and recorded. Serves connections one after the other.
async fn start(mode: Mode) -> Responder {
    let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let commands = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&commands);
    let task = tokio::spawn(async move {
        // Bounded: a test makes a handful of connections.
        for _ in 0..16 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (mode, seen) = (mode.clone(), Arc::clone(&seen));
            let _ = tokio::time::timeout(Duration::from_secs(10), async move {
                let mut plain = BufReader::new(stream);
                let upgrade = converse(&mut plain, &mode, &seen, false).await;
                if let (Some(()), Mode::StartTls(config)) = (upgrade, &mode) {
                    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
                    if let Ok(tls) = acceptor.accept(plain.into_inner()).await {
                        let mut tls = BufReader::new(tls);
                        converse(&mut tls, &mode, &seen, true).await;
                    }
                }
            })
            .await;
        }
    });
    Responder {
        addr,
        commands,
        task,
    }
}

/// Answers commands until QUIT, end of stream, or STARTTLS accepted (`Some(())`).
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    mode: &Mode,
    seen: &Mutex<Vec<String>>,
    secure: bool,
) -> Option<()> {
    if !secure {
        stream
            .get_mut()
            .write_all(b"220 mx.mail.test ESMTP test responder\r\n")
            .await
            .ok()?;
    }
    for _ in 0..32 {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        seen.lock().unwrap().push(if secure {
            format!("tls:{verb}")
        } else {
            verb.clone()
        });
        let reply: &[u8] = match (verb.as_str(), mode) {
            ("EHLO", Mode::StartTls(_)) if !secure => {
                b"250-mx.mail.test greets you\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
            }
            ("EHLO", _) => b"250-mx.mail.test greets you\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
            ("STARTTLS", Mode::StartTls(_)) if !secure => {
                stream.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
                return Some(());
            }
            ("QUIT", _) => {
                let _ = stream.get_mut().write_all(b"221 bye\r\n").await;
                return None;
            }
            _ => b"502 not implemented\r\n",
        };
        stream.get_mut().write_all(reply).await.ok()?;
    }
    None
}

struct Setup {
    _ca_dir: tempfile::TempDir,
    trust: TrustStore,
    ca: TestCa,
}

fn setup() -> Setup {
    let ca = TestCa::new("Vigie STARTTLS test CA");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca.cert_pem()).unwrap();
    Setup {
        trust: TrustStore::only_ca_file(&path).unwrap(),
        _ca_dir: dir,
        ca,
    }
}

/// Probes `mail.test` (MX `mx.mail.test` → 127.0.0.1) with the STARTTLS probe on `port`.
async fn scan(setup: &Setup, port: u16) -> (StarttlsFacts, Verdict) {
    let zone = MemoryZone::new()
        .mx("mail.test", 10, MX)
        .ip(MX, IpAddr::V4(LOOPBACK));
    let options = ProbeOptions {
        common_selectors: false,
        smtp: Some(SmtpOptions {
            port,
            timeout: Duration::from_secs(5),
            ..SmtpOptions::new(setup.trust.clone())
        }),
        ..ProbeOptions::default()
    };
    let observation = probe("mail.test", &options, &zone).await;
    let hosts = observation
        .starttls
        .clone()
        .expect("the probe was requested");
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    let verdicts = evaluate(&observation, Utc::now());
    let verdict = verdicts
        .into_iter()
        .find(|v| v.check == Check::EmailStarttls)
        .expect("an email.starttls verdict");
    (hosts[0].clone(), verdict)
}

fn commands(responder: &Responder) -> Vec<String> {
    responder.commands.lock().unwrap().clone()
}

#[tokio::test]
async fn starttls_with_a_valid_certificate_passes_and_stays_read_only() {
    let setup = setup();
    let responder = start(Mode::StartTls(tls_config(
        &setup.ca.issue(&LeafSpec::valid_for(&[MX])),
    )))
    .await;
    let (facts, verdict) = scan(&setup, responder.addr.port()).await;
    assert!(facts.offered, "{facts:?}");
    assert_eq!(facts.certificate_valid, Some(true), "{facts:?}");
    assert_eq!(facts.error, None);
    assert_eq!(facts.address.as_deref(), Some(&*responder.addr.to_string()));
    assert_eq!(verdict.status, Status::Pass, "{verdict:?}");
    assert_eq!(commands(&responder), vec!["EHLO", "STARTTLS", "tls:QUIT"]);
}

#[tokio::test]
async fn a_server_without_starttls_fails() {
    let setup = setup();
    let responder = start(Mode::Plain).await;
    let (facts, verdict) = scan(&setup, responder.addr.port()).await;
    assert!(!facts.offered && facts.error.is_none(), "{facts:?}");
    assert_eq!(facts.certificate_valid, None);
    assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
    assert_eq!(verdict.summary.key, "email.starttls.fail");
    assert_eq!(commands(&responder), vec!["EHLO", "QUIT"]);
}

#[tokio::test]
async fn a_certificate_for_another_name_or_expired_fails() {
    let setup = setup();
    let wrong_name = setup
        .ca
        .issue(&LeafSpec::valid_for(&["smtp.elsewhere.test"]));
    let expired = setup.ca.issue(&LeafSpec::valid_for(&[MX]).between(
        Utc::now() - chrono::Duration::days(90),
        Utc::now() - chrono::Duration::days(1),
    ));
    let responder = start(Mode::StartTls(tls_config(&wrong_name))).await;
    let (facts, verdict) = scan(&setup, responder.addr.port()).await;
    assert!(facts.offered, "{facts:?}");
    assert_eq!(facts.certificate_valid, Some(false), "{facts:?}");
    let reason = facts.certificate_error.clone().unwrap_or_default();
    assert!(reason.contains("not valid for the name"), "{reason}");
    assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
    assert_eq!(commands(&responder), vec!["EHLO", "STARTTLS", "tls:QUIT"]);
    // Expired: the probe records the window and trusts the path inside it; the grading
    // finds it expired at the scan's instant (so a regrade would too).
    let responder = start(Mode::StartTls(tls_config(&expired))).await;
    let (facts, verdict) = scan(&setup, responder.addr.port()).await;
    assert!(facts.offered, "{facts:?}");
    assert_eq!(facts.certificate_valid, Some(true), "{facts:?}");
    assert!(facts.not_after.is_some_and(|t| t < Utc::now()), "{facts:?}");
    assert!(!facts.certificate_ok_at(Utc::now()), "{facts:?}");
    assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
    assert_eq!(commands(&responder), vec!["EHLO", "STARTTLS", "tls:QUIT"]);
    // A certificate from a CA the trust store does not hold.
    let other_ca = TestCa::new("Someone else's CA");
    let responder = start(Mode::StartTls(tls_config(
        &other_ca.issue(&LeafSpec::valid_for(&[MX])),
    )))
    .await;
    let (facts, verdict) = scan(&setup, responder.addr.port()).await;
    assert_eq!(facts.certificate_valid, Some(false), "{facts:?}");
    assert_eq!(verdict.status, Status::Fail);
}

#[tokio::test]
async fn a_closed_port_is_an_error_not_a_pass_or_a_fail() {
    let setup = setup();
    let port = vigie_tests::harness::free_port(LOOPBACK);
    let (facts, verdict) = scan(&setup, port).await;
    assert!(!facts.offered, "{facts:?}");
    assert!(facts.error.is_some(), "{facts:?}");
    assert_eq!(verdict.status, Status::Error, "{verdict:?}");
}

#[tokio::test]
async fn without_the_option_nothing_connects() {
    let responder = start(Mode::Plain).await;
    let zone = MemoryZone::new()
        .mx("mail.test", 10, MX)
        .ip(MX, IpAddr::V4(LOOPBACK));
    let observation = probe("mail.test", &ProbeOptions::default(), &zone).await;
    assert_eq!(observation.starttls, None);
    let verdicts = evaluate(&observation, Utc::now());
    let verdict = verdicts
        .iter()
        .find(|v| v.check == Check::EmailStarttls)
        .unwrap();
    assert_eq!(verdict.status, Status::Skip, "{verdict:?}");
    assert!(commands(&responder).is_empty());
}
