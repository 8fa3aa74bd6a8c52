//! The failure kind each probe records, classified where the failure happens: against real
//! peers on loopback (127.0.0.0/8 only) and a DNS responder on loopback that knows no name.
//! No test needs the internet.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use vigie_checks::dns::Resolver;
use vigie_checks::email::{smtp, MemoryZone, SmtpOptions};
use vigie_checks::https::{self, FetchStage, HttpExchange, HttpsOptions};
use vigie_checks::services::{self, PortSet, ScanOptions, Scope, ServiceTarget};
use vigie_checks::tls::{self, TlsProbeOptions, TlsTarget, TrustStore};
use vigie_model::{Check, FailureKind, ProbeStage, Status, TlsObservation, TlsProbeResult};
use vigie_tests::tls_server::{GarbageServer, SilentServer};

/// Bounds every probe of these tests, far above what a working probe takes.
const PROBE_BOUND: Duration = Duration::from_secs(20);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A resolver that must not be asked: nothing answers DNS on this port.
fn unused_resolver() -> Resolver {
    Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap()
}

async fn probe_tls(target: &str, timeout: Duration, resolver: &Resolver) -> TlsObservation {
    let target: TlsTarget = target.parse().expect("a valid target");
    let options = TlsProbeOptions {
        timeout,
        ..TlsProbeOptions::default()
    };
    let trust = TrustStore::load(None).expect("the trust store");
    tokio::time::timeout(PROBE_BOUND, tls::probe(&target, &options, resolver, &trust))
        .await
        .expect("the probe returned within its bound")
}

/// The stage and kind of a failed probe; its `tls.connect` error carries the kind as evidence.
fn failure(observation: &TlsObservation) -> (ProbeStage, Option<FailureKind>) {
    let TlsProbeResult::Failed { stage, kind, error } = &observation.result else {
        panic!("expected a failure, got a handshake");
    };
    assert!(!error.is_empty(), "the text for a person stays");
    let verdicts = vigie_grade::tls::evaluate(&observation.clone(), chrono::Utc::now());
    let connect = verdicts
        .iter()
        .find(|v| v.check == Check::TlsConnect)
        .expect("a tls.connect verdict");
    assert_eq!(connect.status, Status::Error);
    assert_eq!(
        connect.evidence.get("failure").and_then(|v| v.as_str()),
        kind.map(FailureKind::as_str),
        "{error}"
    );
    (*stage, *kind)
}

/// A UDP DNS responder on 127.0.0.1:0 answering every query with one response code (NXDOMAIN
/// by default), or never answering (`None`); stops when dropped.
struct NoSuchNameDns {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NoSuchNameDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn no_such_name_dns() -> NoSuchNameDns {
    answering_dns(Some(hickory_proto::op::ResponseCode::NXDomain)).await
}

async fn answering_dns(code: Option<hickory_proto::op::ResponseCode>) -> NoSuchNameDns {
    use hickory_proto::op::{Message, MessageType};

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(code) = code else {
                continue; // silent: read every question, answer none
            };
            let mut response = Message::new();
            response
                .set_id(request.id())
                .set_message_type(MessageType::Response)
                .set_op_code(request.op_code())
                .set_recursion_desired(request.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true)
                .set_response_code(code)
                .add_queries(request.queries().to_vec());
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    NoSuchNameDns { addr, task }
}

#[tokio::test]
async fn a_refused_connection_is_refused() {
    // Bind then release a port: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 151), 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let observation = probe_tls(
        &format!("127.0.0.151:{port}"),
        Duration::from_secs(5),
        &unused_resolver(),
    )
    .await;
    assert_eq!(
        failure(&observation),
        (ProbeStage::Connect, Some(FailureKind::Refused))
    );
}

#[tokio::test]
async fn a_server_that_never_answers_the_handshake_is_a_timeout() {
    let server = SilentServer::start(ip(152)).await.unwrap();
    let observation = probe_tls(
        &server.addr.to_string(),
        Duration::from_millis(500),
        &unused_resolver(),
    )
    .await;
    assert_eq!(
        failure(&observation),
        (ProbeStage::Handshake, Some(FailureKind::Timeout))
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_name() {
    let dns = no_such_name_dns().await;
    let resolver = Resolver::new(&[dns.addr], Duration::from_secs(2)).unwrap();
    let observation = probe_tls("gone.invalid:443", Duration::from_secs(5), &resolver).await;
    assert_eq!(
        failure(&observation),
        (ProbeStage::Resolve, Some(FailureKind::Name))
    );
}

/// Plain text on a TLS port is `protocol` (the peer does not speak TLS at all); a TLS alert
/// is `tls` (the peer speaks TLS and refuses).
#[tokio::test]
async fn plain_text_is_protocol_and_a_tls_alert_is_tls() {
    let plain = GarbageServer::start(ip(153)).await.unwrap();
    let observation = probe_tls(
        &plain.addr.to_string(),
        Duration::from_secs(5),
        &unused_resolver(),
    )
    .await;
    assert_eq!(
        failure(&observation),
        (ProbeStage::Handshake, Some(FailureKind::Protocol))
    );

    // A fatal handshake_failure alert.
    let alert = GarbageServer::start_with(ip(154), b"\x15\x03\x03\x00\x02\x02\x28".to_vec())
        .await
        .unwrap();
    let observation = probe_tls(
        &alert.addr.to_string(),
        Duration::from_secs(5),
        &unused_resolver(),
    )
    .await;
    assert_eq!(
        failure(&observation),
        (ProbeStage::Handshake, Some(FailureKind::Tls))
    );
}

#[tokio::test]
async fn a_service_target_that_does_not_resolve_is_name() {
    let dns = no_such_name_dns().await;
    let mut options = ScanOptions::new(PortSet::from_ports(&[9]));
    options.resolvers = vec![dns.addr];
    options.dns_timeout = Duration::from_secs(2);
    let scope = Scope::parse(&["127.0.0.155", "gone.invalid"]).unwrap();
    let targets: Vec<ServiceTarget> = vec!["gone.invalid".parse().unwrap()];
    let observation =
        tokio::time::timeout(PROBE_BOUND, services::probe(&targets, &options, &scope))
            .await
            .expect("the scan returned within its bound")
            .expect("the target is in scope");
    assert_eq!(observation.unresolved.len(), 1, "{observation:?}");
    assert_eq!(observation.unresolved[0].kind, Some(FailureKind::Name));
    let verdicts = vigie_grade::services::evaluate(&observation, chrono::Utc::now());
    let error = verdicts
        .iter()
        .find(|v| v.status == Status::Error && v.target == "gone.invalid")
        .expect("an error verdict for the name");
    assert_eq!(error.evidence["failure"], "name");
}

/// The HTTPS probe records the same kinds: a refused port 80, plain text on the HTTPS port
/// (`protocol`, as for the TLS probe), a silent HTTPS port (`timeout`).
#[tokio::test]
async fn the_https_probe_records_the_kind_beside_its_stage() {
    let kind = |exchange: &HttpExchange| {
        let error = exchange.error.as_ref().expect("a failed fetch");
        (error.stage, error.kind)
    };
    let closed_port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 156), 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let plain = GarbageServer::start(ip(156)).await.unwrap();
    let target: TlsTarget = format!("www.lab.test:{}", plain.addr.port())
        .parse()
        .unwrap();
    let options = HttpsOptions {
        connect: Some(ip(156)),
        http_port: Some(closed_port),
        ca_pem: None,
        timeout: Duration::from_secs(5),
    };
    let observation = tokio::time::timeout(PROBE_BOUND, https::probe(&target, &options))
        .await
        .expect("the probe returned within its bound");
    assert_eq!(
        kind(&observation.https),
        (FetchStage::Tls, Some(FailureKind::Protocol))
    );
    assert_eq!(
        kind(observation.redirect.as_ref().expect("port 80 was tried")),
        (FetchStage::Refused, Some(FailureKind::Refused))
    );

    let silent = SilentServer::start(ip(157)).await.unwrap();
    let target: TlsTarget = format!("www.lab.test:{}", silent.addr.port())
        .parse()
        .unwrap();
    let options = HttpsOptions {
        connect: Some(ip(157)),
        http_port: None,
        ca_pem: None,
        timeout: Duration::from_millis(500),
    };
    let observation = tokio::time::timeout(PROBE_BOUND, https::probe(&target, &options))
        .await
        .expect("the probe returned within its bound");
    assert_eq!(
        kind(&observation.https),
        (FetchStage::Timeout, Some(FailureKind::Timeout))
    );
}

/// The STARTTLS probe of an MX host records the kind beside its error: a refused port 25, a
/// peer that does not speak SMTP (`protocol`), a host name without address (`name`).
#[tokio::test]
async fn the_mx_starttls_probe_records_the_kind_beside_its_error() {
    let closed_port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 158), 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = |ip: Option<IpAddr>, port: u16| SmtpOptions {
        port,
        timeout: Duration::from_secs(5),
        connect: ip,
        ..SmtpOptions::new(TrustStore::load(None).expect("the trust store"))
    };
    let zone = MemoryZone::new();
    let probe = |options: SmtpOptions| probe_mx(options, &zone);
    let refused = probe(options(Some(ip(158)), closed_port)).await;
    assert!(refused.error.is_some());
    assert_eq!(refused.kind, Some(FailureKind::Refused), "{refused:?}");

    let garbage = GarbageServer::start(ip(159)).await.unwrap();
    let not_smtp = probe(options(Some(ip(159)), garbage.addr.port())).await;
    assert!(!not_smtp.offered);
    assert_eq!(not_smtp.kind, Some(FailureKind::Protocol), "{not_smtp:?}");

    // No address in the zone for the name.
    let unknown = probe(options(None, 25)).await;
    assert_eq!(unknown.kind, Some(FailureKind::Name), "{unknown:?}");
}

async fn probe_mx(
    options: SmtpOptions,
    zone: &MemoryZone,
) -> vigie_model::observation::email::StarttlsFacts {
    tokio::time::timeout(PROBE_BOUND, smtp::probe_mx("mx.lab.test", &options, zone))
        .await
        .expect("the probe returned within its bound")
}

/// End to end for email: an MX whose port 25 refuses gives an `email.starttls` error whose
/// evidence carries the kind.
#[tokio::test]
async fn an_unreachable_mx_is_an_email_starttls_error_with_its_kind() {
    use vigie_checks::email::{self, ProbeOptions};
    let closed_port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 160), 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let zone = MemoryZone::new()
        .mx("mail.test", 10, "mx.mail.test")
        .ip("mx.mail.test", ip(160));
    let options = ProbeOptions {
        common_selectors: false,
        smtp: Some(SmtpOptions {
            port: closed_port,
            timeout: Duration::from_secs(5),
            ..SmtpOptions::new(TrustStore::load(None).expect("the trust store"))
        }),
        ..ProbeOptions::default()
    };
    let observation = tokio::time::timeout(PROBE_BOUND, email::probe("mail.test", &options, &zone))
        .await
        .expect("the probe returned within its bound");
    let verdict = vigie_grade::email::evaluate(&observation, chrono::Utc::now())
        .into_iter()
        .find(|v| v.check == Check::EmailStarttls)
        .expect("an email.starttls verdict");
    assert_eq!(verdict.status, Status::Error, "{verdict:?}");
    assert_eq!(verdict.evidence["failure"], "refused", "{verdict:?}");
}

/// Email DNS answers carry their kind, and `email.spf.missing` counts the domain's failure
/// once: a resolver on loopback that answers REFUSED, one that answers SERVFAIL, and one that
/// never answers (the probe stops asking and records the silence).
#[tokio::test]
async fn email_dns_failures_carry_their_kind() {
    use hickory_proto::op::ResponseCode;
    use vigie_checks::email::{self, NetLookups, NetOptions, ProbeOptions};
    for (code, kind) in [
        (Some(ResponseCode::Refused), FailureKind::Refused),
        (Some(ResponseCode::ServFail), FailureKind::Name),
        (None, FailureKind::Timeout),
    ] {
        let dns = answering_dns(code).await;
        let lookups = NetLookups::new(&NetOptions {
            resolvers: vec![dns.addr],
            timeout: Duration::from_millis(500),
            ..NetOptions::default()
        })
        .expect("the lookups");
        let options = ProbeOptions {
            common_selectors: false,
            ..ProbeOptions::default()
        };
        let observation =
            tokio::time::timeout(PROBE_BOUND, email::probe("mail.test", &options, &lookups))
                .await
                .expect("the probe returned within its bound");
        match code {
            Some(_) => {
                assert_eq!(observation.spf.txt.kind, Some(kind), "{code:?}");
                assert_eq!(observation.mx.kind, Some(kind), "{code:?}");
            }
            None => {
                let silence = observation.resolver_silent.as_ref().expect("the silence");
                assert_eq!(silence.kind, Some(kind));
            }
        }
        let verdicts = vigie_grade::email::evaluate(&observation, chrono::Utc::now());
        let counted: Vec<_> = verdicts
            .iter()
            .filter(|v| v.evidence.contains_key("failure"))
            .collect();
        assert_eq!(counted.len(), 1, "{code:?}: {counted:?}");
        assert_eq!(counted[0].check, Check::EmailSpfMissing);
        assert_eq!(counted[0].status, Status::Error);
        assert_eq!(counted[0].evidence["failure"], kind.as_str(), "{code:?}");
    }
}
