//! The Heartbleed probe against small fake TLS 1.2 servers on 127.0.0.0/8 written here: one
//! that answers an over-long heartbeat as OpenSSL 1.0.1f did (with "memory" it was never sent),
//! one that discards it as RFC 6520 asks, and hostile ones (a truncated record, an absurd
//! length, silence). They speak just enough TLS for the enumeration: a ServerHello choosing
//! TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 when offered, then ServerHelloDone; an alert
//! otherwise. (Debian's openssl s_server has no heartbeat: see tls_enumerate.rs.)

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vigie_checks::tls::enumerate::{enumerate, EnumerationOptions};
use vigie_grade::tls::{posture, Profile};
use vigie_model::{Check, Severity, Status, TlsEnumeration, Verdict};

const BOUND: Duration = Duration::from_secs(60);
/// The bytes the vulnerable server leaks: they must never reach an observation.
const SECRET: &[u8] = b"PRIVATE-KEY-MATERIAL";
const SUITE: u16 = 0xc02f;
const HEARTBEAT_EXTENSION: u16 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Echoes the declared length, filling it with SECRET.
    Vulnerable,
    /// Offers the extension, drops malformed heartbeats without a word.
    Discards,
    /// Answers a heartbeat with 3 bytes of a record header, then closes.
    Truncated,
    /// Answers a heartbeat with a heartbeat record header of 65,535 bytes.
    AbsurdLength,
    /// Never answers a hello that carries the heartbeat extension.
    SilentOnHeartbeat,
}

/// A fake server task, aborted on drop.
struct FakeServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    async fn start(last: u8, mode: Mode) -> FakeServer {
        let listener = TcpListener::bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)),
            0,
        ))
        .await
        .unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            // Bounded: the enumeration makes well under 1,000 connections.
            for _ in 0..1000 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(BOUND, serve(stream, mode)).await;
                });
            }
        });
        FakeServer { addr, task }
    }
}

/// What we need of a ClientHello: its version, suites and extensions.
struct Hello {
    version: u16,
    suites: Vec<u16>,
    extensions: Vec<u16>,
}

fn parse_hello(record: &[u8]) -> Option<Hello> {
    // handshake header (4), version (2), random (32)
    let body = record.get(4..)?;
    let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let mut at = 2 + 32;
    let session = usize::from(*body.get(at)?);
    at += 1 + session;
    let suites_len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    at += 2;
    let suites = body
        .get(at..at + suites_len)?
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    at += suites_len;
    let compression = usize::from(*body.get(at)?);
    at += 1 + compression;
    let mut extensions = Vec::new();
    if let Some(len) = body.get(at..at + 2) {
        let end = at + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        at += 2;
        while at + 4 <= end.min(body.len()) {
            extensions.push(u16::from_be_bytes([body[at], body[at + 1]]));
            at += 4 + usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        }
    }
    Some(Hello {
        version,
        suites,
        extensions,
    })
}

async fn read_record(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await.ok()?;
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((header[0], body))
}

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 3, 3];
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn server_hello(heartbeat: bool) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0); // no session id
    body.extend_from_slice(&SUITE.to_be_bytes());
    body.push(0);
    let mut extensions = vec![0xff, 0x01, 0, 1, 0]; // renegotiation_info
    if heartbeat {
        extensions.extend_from_slice(&HEARTBEAT_EXTENSION.to_be_bytes());
        extensions.extend_from_slice(&[0, 1, 1]);
    }
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![2, 0, 0, body.len() as u8];
    handshake.extend_from_slice(&body);
    handshake.extend_from_slice(&[14, 0, 0, 0]); // ServerHelloDone
    record(22, &handshake)
}

async fn serve(mut stream: TcpStream, mode: Mode) {
    let Some((22, hello)) = read_record(&mut stream).await else {
        return;
    };
    let Some(hello) = parse_hello(&hello) else {
        return;
    };
    let tls13 = hello.extensions.contains(&43);
    if hello.version != 0x0303 || tls13 {
        let _ = stream.write_all(&record(21, &[2, 70])).await; // protocol_version
        return;
    }
    if !hello.suites.contains(&SUITE) {
        let _ = stream.write_all(&record(21, &[2, 40])).await; // handshake_failure
        return;
    }
    let heartbeat = hello.extensions.contains(&HEARTBEAT_EXTENSION);
    if heartbeat && mode == Mode::SilentOnHeartbeat {
        tokio::time::sleep(BOUND).await;
        return;
    }
    if stream.write_all(&server_hello(heartbeat)).await.is_err() {
        return;
    }
    let Some((24, request)) = read_record(&mut stream).await else {
        return;
    };
    let declared = usize::from(u16::from_be_bytes([request[1], request[2]]));
    match mode {
        Mode::Vulnerable => {
            // What OpenSSL 1.0.1f did: copy `declared` bytes from the request onwards, plus
            // 16 of padding, reading past the end of what was received.
            let mut body = vec![2];
            body.extend_from_slice(&(declared as u16).to_be_bytes());
            let leaked: Vec<u8> = request[3..]
                .iter()
                .chain(SECRET.iter().cycle())
                .take(declared + 16)
                .copied()
                .collect();
            body.extend_from_slice(&leaked);
            let _ = stream.write_all(&record(24, &body)).await;
        }
        Mode::Discards | Mode::SilentOnHeartbeat => {
            tokio::time::sleep(BOUND).await;
        }
        Mode::Truncated => {
            let _ = stream.write_all(&[24, 3, 3]).await;
        }
        Mode::AbsurdLength => {
            let mut bytes = vec![24, 3, 3, 0xff, 0xff];
            bytes.extend_from_slice(SECRET);
            let _ = stream.write_all(&bytes).await;
            tokio::time::sleep(BOUND).await;
        }
    }
}

async fn probe(mode: Mode, last: u8) -> (TlsEnumeration, Verdict) {
    let server = FakeServer::start(last, mode).await;
    let options = EnumerationOptions {
        timeout: Duration::from_secs(3),
        ..EnumerationOptions::default()
    };
    let e = tokio::time::timeout(BOUND, enumerate(server.addr, "localhost", &options))
        .await
        .expect("the enumeration ends within its bound");
    let tls12 = e
        .protocols
        .iter()
        .find(|p| p.protocol == "TLSv1.2")
        .unwrap();
    assert!(tls12.accepted, "{e:#?}");
    let verdict = posture::evaluate_enumeration("localhost:443", &e, Profile::Modern)
        .into_iter()
        .find(|v| v.check == Check::TlsHeartbleed)
        .expect("a tls.heartbleed verdict");
    // Whatever the server did, nothing it sent after our heartbeat is kept.
    let finding = verdict.clone().into_finding(vigie_model::Lang::En);
    let json = serde_json::to_string(&e).unwrap() + &serde_json::to_string(&finding).unwrap();
    assert!(!json.contains("PRIVATE"), "{json}");
    (e, verdict)
}

#[tokio::test]
async fn a_server_echoing_an_over_long_heartbeat_fails_critical() {
    let (e, verdict) = probe(Mode::Vulnerable, 61).await;
    let heartbeat = e.heartbeat.unwrap();
    assert!(heartbeat.extension_offered);
    assert_eq!(heartbeat.vulnerable, Some(true));
    assert_eq!(
        (verdict.status, verdict.severity),
        (Status::Fail, Severity::Critical)
    );
    assert!(verdict.remediation.is_some());
}

#[tokio::test]
async fn a_server_discarding_the_heartbeat_passes() {
    let (e, verdict) = probe(Mode::Discards, 62).await;
    let heartbeat = e.heartbeat.unwrap();
    assert!(heartbeat.extension_offered);
    assert_eq!(heartbeat.vulnerable, Some(false));
    assert_eq!(heartbeat.answer.as_deref(), Some("no answer"));
    assert_eq!(verdict.status, Status::Pass);
}

#[tokio::test]
async fn hostile_answers_are_errors_never_a_verdict_or_a_hang() {
    for (mode, last, says) in [
        (Mode::Truncated, 63, "3 of the 5 bytes"),
        (Mode::AbsurdLength, 64, "65535 bytes"),
        (Mode::SilentOnHeartbeat, 65, "no ServerHello within"),
    ] {
        let (e, verdict) = probe(mode, last).await;
        let heartbeat = e.heartbeat.unwrap();
        assert_eq!(heartbeat.vulnerable, None, "{mode:?}");
        let error = heartbeat.error.unwrap_or_default();
        assert!(error.contains(says), "{mode:?}: {error}");
        assert_eq!(verdict.status, Status::Error, "{mode:?}");
    }
}
