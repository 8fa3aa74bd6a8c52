//! DNSSEC and the email records against real servers: NSD serving zones signed at test
//! time, Unbound validating them (see `dns_lab`). Through the real `probe` + `evaluate`:
//! a signed zone is validated (AD), an unsigned one is unsigned, expired signatures and a
//! record edited after signing are bogus (the validating resolver's SERVFAIL becomes a
//! `dns.dnssec` failure or an `error`, never "no record"), SPF, DMARC and MX answers flow
//! through the same code, and answers too big for UDP come through TCP.

use crate::dns_lab;

use std::net::SocketAddr;
use std::time::Duration;

use dns_lab::{Lab, BIG_TXT_COUNT, BIG_TXT_LEN, DMARC, SPF};
use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};
use vigie_checks::email::lookup::{DnsLookup, DnssecFacts, MxRecord};
use vigie_checks::email::{
    probe, CachedLookups, DnssecValidation, EmailObservation, NetLookups, NetOptions, ProbeOptions,
    SmtpOptions,
};
use vigie_grade::email::evaluate;
use vigie_model::{Check, Severity, Status, Verdict};

fn lookups(resolver: SocketAddr) -> CachedLookups<NetLookups> {
    CachedLookups::new(
        NetLookups::new(&NetOptions {
            resolvers: vec![resolver],
            timeout: Duration::from_secs(5),
            ..NetOptions::default()
        })
        .expect("lookups"),
    )
}

fn options() -> ProbeOptions {
    ProbeOptions {
        dkim_selectors: vec!["default".into()],
        common_selectors: false,
        ..ProbeOptions::default()
    }
}

async fn scan(
    lookups: &CachedLookups<NetLookups>,
    domain: &str,
) -> (EmailObservation, Vec<Verdict>) {
    let observation = probe(domain, &options(), lookups).await;
    let verdicts = evaluate(&observation, chrono::Utc::now());
    (observation, verdicts)
}

fn verdict(verdicts: &[Verdict], check: Check) -> &Verdict {
    let found: Vec<&Verdict> = verdicts.iter().filter(|v| v.check == check).collect();
    assert_eq!(found.len(), 1, "{check}: {found:?}");
    found[0]
}

fn facts(observation: &EmailObservation, lab: &Lab) -> DnssecFacts {
    match &observation.dnssec {
        Ok(facts) => facts.clone(),
        Err(e) => panic!(
            "{}: DNSSEC facts missing: {e}\n{}",
            observation.domain,
            lab.logs()
        ),
    }
}

#[tokio::test]
async fn signed_unsigned_and_bogus_zones_as_a_validating_resolver_sees_them() {
    let lab = Lab::start(60);
    let lookups = lookups(lab.resolver);

    // Signed and validated; the mail records come from the real server.
    let (signed, verdicts) = scan(&lookups, "signed.test").await;
    let f = facts(&signed, &lab);
    assert!(f.authenticated && !f.bogus && f.dnskey && f.ds, "{f:?}");
    assert_eq!(f.zone, "signed.test");
    assert_eq!(verdict(&verdicts, Check::DnsDnssec).status, Status::Pass);
    assert_eq!(
        signed.mx.records,
        vec![MxRecord {
            preference: 10,
            exchange: "mx.signed.test".into()
        }]
    );
    assert_eq!(signed.spf.txt.records, vec![SPF.to_owned()]);
    assert_eq!(signed.dmarc.txt.records, vec![DMARC.to_owned()]);
    // Every question was asked: the resolver answered, so the health rule never stopped it.
    assert_eq!(signed.resolver_silent, None);
    for check in [
        Check::EmailSpfMissing,
        Check::EmailSpfAll,
        Check::EmailDmarcMissing,
        Check::EmailDmarcPolicy,
        Check::EmailMxMissing,
    ] {
        assert_eq!(
            verdict(&verdicts, check).status,
            Status::Pass,
            "{check}: {:?}",
            verdict(&verdicts, check)
        );
    }

    // Unsigned: no AD, no DNSKEY, no DS (a proven-insecure delegation, not an error).
    let (unsigned, verdicts) = scan(&lookups, "unsigned.test").await;
    let f = facts(&unsigned, &lab);
    assert!(!f.authenticated && !f.bogus && !f.dnskey && !f.ds, "{f:?}");
    let v = verdict(&verdicts, Check::DnsDnssec);
    assert_eq!(v.status, Status::Warn, "{v:?}");
    assert_eq!(v.summary.key, "dns.dnssec.unsigned");
    assert_eq!(unsigned.spf.txt.records, vec![SPF.to_owned()]);

    // Expired signatures: SERVFAIL from the validator, an answer with CD: bogus.
    let (expired, verdicts) = scan(&lookups, "expired.test").await;
    let f = facts(&expired, &lab);
    assert!(f.bogus && !f.authenticated && f.dnskey && f.ds, "{f:?}");
    let v = verdict(&verdicts, Check::DnsDnssec);
    assert_eq!(
        (v.status, v.severity),
        (Status::Fail, Severity::High),
        "{v:?}"
    );
    assert_eq!(v.summary.key, "dns.dnssec.bogus");
    // The zone's SPF record cannot be trusted: the check could not run, it is not "missing".
    assert!(expired.spf.txt.failed(), "{:?}", expired.spf.txt);
    let v = verdict(&verdicts, Check::EmailSpfMissing);
    assert_eq!(v.status, Status::Error, "{v:?}");
    // SERVFAIL for everything of the zone is an answer: the resolver is alive, each check
    // says why it is in error, and the probe is not cut short as for a silent resolver.
    assert_eq!(expired.resolver_silent, None);
    assert_eq!(v.summary.key, "email.error.dns");
}

#[tokio::test]
async fn a_record_edited_after_signing_is_an_error_not_an_absence() {
    let lab = Lab::start(64);
    let lookups = lookups(lab.resolver);
    let (tampered, verdicts) = scan(&lookups, "tampered.test").await;
    // The apex (SOA) still validates; only the edited TXT set is bogus.
    let f = facts(&tampered, &lab);
    assert!(f.authenticated && !f.bogus, "{f:?}");
    assert!(tampered.spf.txt.failed(), "{:?}", tampered.spf.txt);
    assert!(
        tampered.spf.txt.records.is_empty(),
        "the forged record never shows"
    );
    for check in [Check::EmailSpfMissing, Check::EmailSpfAll] {
        let v = verdict(&verdicts, check);
        assert_eq!(v.status, Status::Error, "{check}: {v:?}");
    }
    // The records around it are unaffected.
    assert_eq!(tampered.dmarc.txt.records, vec![DMARC.to_owned()]);
    assert_eq!(
        verdict(&verdicts, Check::EmailDmarcPolicy).status,
        Status::Pass
    );
}

/// One question over UDP without EDNS (so a 512-byte limit); whether the answer is truncated.
async fn truncated_over_plain_udp(server: SocketAddr, name: &str, rtype: RecordType) -> bool {
    let mut message = Message::new();
    message
        .set_id(4242)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    socket
        .send_to(&message.to_vec().expect("encode"), server)
        .await
        .expect("send");
    let mut buf = vec![0u8; 65_535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("an answer within 5 s")
        .expect("recv");
    Message::from_vec(&buf[..n]).expect("decode").truncated()
}

#[tokio::test]
async fn answers_too_big_for_udp_come_through_tcp() {
    let lab = Lab::start(68);
    // The premise: over UDP, these answers are truncated, at both servers.
    for server in [lab.resolver, lab.authoritative] {
        assert!(
            truncated_over_plain_udp(server, "big.signed.test.", RecordType::TXT).await,
            "the TXT set at big.signed.test must not fit in UDP at {server}"
        );
    }
    assert!(truncated_over_plain_udp(lab.resolver, "signed.test.", RecordType::DNSKEY).await);

    let expected: Vec<String> = (0..BIG_TXT_COUNT)
        .map(|i| std::iter::repeat_n(char::from(b'a' + i as u8), BIG_TXT_LEN).collect())
        .collect();
    // Through the validating resolver and straight from the authoritative server.
    for server in [lab.resolver, lab.authoritative] {
        let lookups = lookups(server);
        let mut records = lookups.txt("big.signed.test").await.unwrap_or_else(|e| {
            panic!("TXT through {server}: {e}\n{}", lab.logs());
        });
        records.sort();
        assert_eq!(records, expected, "through {server}");
    }
    // The raw DNSSEC questions too: the DNSKEY set (with three 4096-bit keys) is found.
    let lookups = lookups(lab.resolver);
    let f = lookups.dnssec("signed.test").await.expect("DNSSEC facts");
    assert!(f.authenticated && f.dnskey && f.ds, "{f:?}");
}

/// `--dnssec-validate`: hickory validates from the lab's key, asking the authoritative
/// server directly (which never sets AD) or the validating resolver.
#[tokio::test]
async fn our_own_validation_from_a_trust_anchor_file() {
    let lab = Lab::start(72);
    let validating = |server: SocketAddr, anchor: &std::path::Path| {
        NetLookups::new(&NetOptions {
            resolvers: vec![server],
            timeout: Duration::from_secs(5),
            ..NetOptions::default()
        })
        .expect("lookups")
        .with_dnssec_validation(&DnssecValidation {
            trust_anchor: Some(anchor.to_owned()),
        })
        .expect("the lab's trust anchor")
    };
    // The premise: NSD answers without AD, so the resolver's word alone says "not validated".
    let plain = lookups(lab.authoritative);
    let f = plain.dnssec("signed.test").await.expect("facts");
    assert!(!f.authenticated && f.dnskey && f.ds, "{f:?}");

    for server in [lab.authoritative, lab.resolver] {
        let ours = validating(server, &lab.trust_anchor_key);
        let f = ours
            .dnssec("signed.test")
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
        assert!(
            f.authenticated && !f.bogus && f.dnskey && f.ds,
            "{server}: {f:?}"
        );
        let f = ours.dnssec("expired.test").await.expect("facts");
        assert!(f.bogus && !f.authenticated, "{server}: {f:?}");
        let f = ours.dnssec("unsigned.test").await.expect("facts");
        assert!(!f.authenticated && !f.bogus && !f.dnskey, "{server}: {f:?}");
        // The other lookups are the plain ones.
        assert_eq!(
            ours.txt("signed.test").await.expect("TXT"),
            vec![SPF.to_owned()]
        );
    }

    // Another key than the zone's: nothing validates.
    let stranger = lab.dir().join("stranger.key");
    std::fs::write(
        &stranger,
        "test. IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n",
    )
    .unwrap();
    let f = validating(lab.authoritative, &stranger)
        .dnssec("signed.test")
        .await
        .expect("facts");
    assert!(!f.authenticated, "{f:?}");

    // A file without a DNSKEY record is refused when the lookups are set up.
    let empty = lab.dir().join("empty.key");
    std::fs::write(&empty, "; nothing\n").unwrap();
    let refused = NetLookups::new(&NetOptions {
        resolvers: vec![lab.authoritative],
        ..NetOptions::default()
    })
    .expect("lookups")
    .with_dnssec_validation(&DnssecValidation {
        trust_anchor: Some(empty),
    });
    assert!(refused.is_err());
}

/// The STARTTLS probe reaches the MX host the real records name: MX from NSD through
/// Unbound, its A record, then port `port` there (a server that does not offer STARTTLS).
#[tokio::test]
async fn the_starttls_probe_follows_the_real_mx_records() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let lab = Lab::start(76);
    let listener = tokio::net::TcpListener::bind((lab.mx_ip, 0))
        .await
        .expect("bind the MX address");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return Vec::new();
        };
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut seen = Vec::new();
        let _ = write.write_all(b"220 mx.signed.test ESMTP\r\n").await;
        for _ in 0..8 {
            let Ok(Some(line)) = lines.next_line().await else {
                break;
            };
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-mx.signed.test\r\n250 PIPELINING\r\n",
                "QUIT" => b"221 bye\r\n",
                _ => b"502 no\r\n",
            };
            let _ = write.write_all(reply).await;
            seen.push(verb.clone());
            if verb == "QUIT" {
                break;
            }
        }
        seen
    });
    let lookups = lookups(lab.resolver);
    let options = ProbeOptions {
        smtp: Some(SmtpOptions {
            port,
            ..SmtpOptions::new(vigie_checks::tls::TrustStore::load(None).expect("roots"))
        }),
        ..options()
    };
    let observation = probe("signed.test", &options, &lookups).await;
    let hosts = observation.starttls.clone().expect("probed");
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    assert_eq!(hosts[0].host, "mx.signed.test");
    assert_eq!(
        hosts[0].address.as_deref(),
        Some(&*format!("{}:{port}", lab.mx_ip))
    );
    assert!(!hosts[0].offered && hosts[0].error.is_none(), "{hosts:?}");
    let verdicts = evaluate(&observation, chrono::Utc::now());
    assert_eq!(
        verdict(&verdicts, Check::EmailStarttls).status,
        Status::Fail
    );
    let seen = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server finished")
        .expect("server task");
    assert_eq!(seen, vec!["EHLO", "QUIT"]);
}
