//! STARTTLS: SMTP, IMAP and POP3 fronts on 127.0.0.0/8 that speak the real plaintext
//! preamble, then hand each connection to the lab's rustls server. The handshake and every
//! hello of the enumeration go through the preamble; a server that refuses the upgrade is one
//! clear error, without an enumeration.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vigie_checks::dns::Resolver;
use vigie_checks::tls::enumerate::EnumerationOptions;
use vigie_checks::tls::{probe_deep, Starttls, TlsProbeOptions, TlsTarget, TrustStore};
use vigie_model::{Check, Lang, Status, TlsObservation, TlsProbeResult};
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::starttls_proxy::{MailProtocol, StarttlsProxy};
use vigie_tests::tls_server::TlsServer;

const BOUND: Duration = Duration::from_secs(90);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn deep(proxy: &StarttlsProxy, starttls: Starttls, ca: &TestCa) -> TlsObservation {
    let target: TlsTarget = format!("mail.lab.test:{}", proxy.addr.port())
        .parse()
        .unwrap();
    let options = TlsProbeOptions {
        connect: Some(proxy.addr.ip()),
        timeout: Duration::from_secs(5),
        starttls: Some(starttls),
        ..TlsProbeOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let trust = TrustStore::load(Some(&ca_file)).unwrap();
    // Never asked: --connect gives the address.
    let resolver =
        Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap();
    let enumeration = EnumerationOptions {
        timeout: Duration::from_secs(5),
        ..EnumerationOptions::default()
    };
    tokio::time::timeout(
        BOUND,
        probe_deep(&target, &options, &enumeration, &resolver, &trust),
    )
    .await
    .expect("the probe ends within its bound")
}

#[tokio::test]
async fn smtp_imap_and_pop3_starttls_carry_the_handshake_and_the_whole_enumeration() {
    let ca = TestCa::new("Vigie STARTTLS CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["mail.lab.test"]));
    let server = TlsServer::start(ip(71), &issued).await.unwrap();
    for (protocol, starttls, last) in [
        (MailProtocol::Smtp, Starttls::Smtp, 72),
        (MailProtocol::Imap, Starttls::Imap, 73),
        (MailProtocol::Pop3, Starttls::Pop3, 74),
    ] {
        let proxy = StarttlsProxy::start(ip(last), protocol, server.addr, true)
            .await
            .unwrap();
        let observation = deep(&proxy, starttls, &ca).await;
        let TlsProbeResult::Handshake(handshake) = &observation.result else {
            panic!("{starttls}: {observation:#?}");
        };
        assert!(handshake.chain.trusted, "{starttls}: {handshake:#?}");
        let e = observation.enumeration.as_ref().expect("an enumeration");
        let accepted: Vec<&str> = e
            .protocols
            .iter()
            .filter(|p| p.accepted)
            .map(|p| p.protocol.as_str())
            .collect();
        assert_eq!(accepted, ["TLSv1.2", "TLSv1.3"], "{starttls}: {e:#?}");
        assert!(e.errors.is_empty(), "{starttls}: {:?}", e.errors);
        // One preamble per connection: the rustls handshake and every hello.
        assert_eq!(proxy.upgrades(), e.handshakes + 1, "{starttls}");

        let verdicts = vigie_grade::tls::evaluate(&observation, chrono::Utc::now());
        let connect = verdicts
            .iter()
            .find(|v| v.check == Check::TlsConnect)
            .unwrap();
        assert_eq!(connect.status, Status::Pass, "{starttls}");
    }
}

#[tokio::test]
async fn a_server_refusing_starttls_is_one_clear_error() {
    let ca = TestCa::new("Vigie STARTTLS CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["mail.lab.test"]));
    let server = TlsServer::start(ip(75), &issued).await.unwrap();
    for (protocol, starttls, last) in [
        (MailProtocol::Smtp, Starttls::Smtp, 76),
        (MailProtocol::Imap, Starttls::Imap, 77),
        (MailProtocol::Pop3, Starttls::Pop3, 78),
    ] {
        let proxy = StarttlsProxy::start(ip(last), protocol, server.addr, false)
            .await
            .unwrap();
        let observation = deep(&proxy, starttls, &ca).await;
        let TlsProbeResult::Failed { error, .. } = &observation.result else {
            panic!("{starttls}: {observation:#?}");
        };
        assert!(
            error.contains("STARTTLS was not offered"),
            "{starttls}: {error}"
        );
        // No enumeration: every hello would meet the same refusal.
        assert!(observation.enumeration.is_none(), "{starttls}");
        assert_eq!(proxy.upgrades(), 0);
        let verdicts = vigie_grade::tls::evaluate(&observation, chrono::Utc::now());
        let connect = verdicts
            .iter()
            .find(|v| v.check == Check::TlsConnect)
            .unwrap();
        assert_eq!(connect.status, Status::Error);
        assert!(
            connect
                .summary
                .render(Lang::En)
                .contains("STARTTLS was not offered"),
            "{}",
            connect.summary.render(Lang::En)
        );
    }
}

#[tokio::test]
async fn without_starttls_a_mail_front_is_not_tls() {
    let ca = TestCa::new("Vigie STARTTLS CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["mail.lab.test"]));
    let server = TlsServer::start(ip(79), &issued).await.unwrap();
    let proxy = StarttlsProxy::start(ip(80), MailProtocol::Smtp, server.addr, true)
        .await
        .unwrap();
    let target: TlsTarget = format!("mail.lab.test:{}", proxy.addr.port())
        .parse()
        .unwrap();
    let options = TlsProbeOptions {
        connect: Some(proxy.addr.ip()),
        timeout: Duration::from_secs(3),
        ..TlsProbeOptions::default()
    };
    let trust = TrustStore::load(None).unwrap();
    let resolver =
        Resolver::new(&["127.0.0.1:9".parse().unwrap()], Duration::from_secs(1)).unwrap();
    let observation = tokio::time::timeout(
        BOUND,
        vigie_checks::tls::probe(&target, &options, &resolver, &trust),
    )
    .await
    .unwrap();
    assert!(
        matches!(observation.result, TlsProbeResult::Failed { .. }),
        "{observation:#?}"
    );
    assert_eq!(proxy.upgrades(), 0);
}
