//! The real network lookups (`NetLookups`: hickory resolver, raw DNSSEC queries) against a
//! DNS responder on 127.0.0.1, started by the test. The responder answers from a table and
//! plays a validating resolver's part for DNSSEC: AD set for names of a "signed" zone,
//! SERVFAIL unless CD is set for a "bogus" one. It proves the wire handling: TXT strings
//! concatenated, null MX, CAA and TLSA decoding, NXDOMAIN and NODATA as "no records",
//! SERVFAIL as an error, and the AD/CD logic of `dns.dnssec`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_resolver::proto::rr::rdata::{CAA, MX, NULL, TLSA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use vigie_checks::email::lookup::DnsLookup;
use vigie_checks::email::{probe, CachedLookups, NetLookups, NetOptions, ProbeOptions};
use vigie_grade::email::evaluate;
use vigie_model::{Check, Status};

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

struct Zone {
    records: HashMap<(Name, RecordType), Vec<RData>>,
    /// Names that exist (for NODATA vs NXDOMAIN).
    names: Vec<Name>,
    signed_suffix: Name,
    bogus_suffix: Name,
    servfail: Vec<Name>,
}

impl Zone {
    fn add(&mut self, owner: &str, rdata: RData) {
        let owner = name(owner);
        self.names.push(owner.clone());
        self.records
            .entry((owner, rdata.record_type()))
            .or_default()
            .push(rdata);
    }

    fn answer(&self, query: &Message) -> Message {
        let mut response = Message::new();
        response
            .set_id(query.id())
            .set_message_type(MessageType::Response)
            .set_op_code(query.op_code())
            .set_recursion_desired(query.recursion_desired())
            .set_recursion_available(true);
        let Some(q) = query.queries().first() else {
            response.set_response_code(ResponseCode::FormErr);
            return response;
        };
        response.add_query(q.clone());
        let qname = q.name().to_lowercase();
        if self.servfail.contains(&qname)
            || (self.bogus_suffix.zone_of(&qname) && !query.checking_disabled())
        {
            response.set_response_code(ResponseCode::ServFail);
            return response;
        }
        if self.signed_suffix.zone_of(&qname) && query.authentic_data() {
            response.set_authentic_data(true);
        }
        match self.records.get(&(qname.clone(), q.query_type())) {
            Some(rdatas) => {
                for rdata in rdatas {
                    response.add_answer(Record::from_rdata(qname.clone(), 300, rdata.clone()));
                }
            }
            None if self.names.iter().any(|n| qname.zone_of(n)) => {}
            None => {
                response.set_response_code(ResponseCode::NXDomain);
            }
        }
        response
    }
}

/// Serves `zone` on 127.0.0.1 (UDP); returns its address. The task ends with the runtime.
async fn serve(zone: Zone) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind loopback");
    let addr = socket.local_addr().expect("local addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let response = zone.answer(&query);
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

/// A well-formed DNSKEY (the validating build of hickory parses it): flags 257, protocol 3,
/// algorithm 13 (ECDSA P-256), a 64-byte key.
fn dnskey() -> RData {
    RData::Unknown {
        code: RecordType::DNSKEY,
        rdata: NULL::with([&[1, 1, 3, 13][..], &[7; 64]].concat()),
    }
}

fn txt(parts: &[&str]) -> RData {
    RData::TXT(TXT::new(parts.iter().map(|s| s.to_string()).collect()))
}

fn fixture() -> Zone {
    let mut zone = Zone {
        records: HashMap::new(),
        names: Vec::new(),
        signed_suffix: name("signed.test."),
        bogus_suffix: name("bogus.test."),
        servfail: vec![name("broken.signed.test.")],
    };
    // A long SPF split in two strings, as zone files do past 255 bytes.
    zone.add(
        "signed.test.",
        txt(&["v=spf1 mx include:_spf.provider.test ", "-all"]),
    );
    zone.add(
        "_spf.provider.test.",
        txt(&["v=spf1 ip4:192.0.2.0/24 -all"]),
    );
    zone.add(
        "signed.test.",
        RData::MX(MX::new(10, name("mail.signed.test."))),
    );
    zone.add(
        "mail.signed.test.",
        RData::A(Ipv4Addr::new(192, 0, 2, 25).into()),
    );
    zone.add(
        "_dmarc.signed.test.",
        txt(&["v=DMARC1; p=reject; rua=mailto:d@signed.test"]),
    );
    zone.add(
        "signed.test.",
        RData::CAA(CAA::new_issue(false, Some(name("letsencrypt.org")), vec![])),
    );
    zone.add("signed.test.", dnskey());
    zone.add(
        "signed.test.",
        RData::Unknown {
            code: RecordType::DS,
            // key tag, algorithm 13, digest type 2 (SHA-256), a 32-byte digest
            rdata: NULL::with([&[0x12, 0x34, 13, 2][..], &[9; 32]].concat()),
        },
    );
    zone.add(
        "_25._tcp.mail.signed.test.",
        RData::TLSA(TLSA::new(
            CertUsage::DaneEe,
            Selector::Spki,
            Matching::Sha256,
            vec![0xab; 32],
        )),
    );
    zone.add("parked.test.", RData::MX(MX::new(0, Name::root())));
    zone.add("parked.test.", txt(&["v=spf1 -all"]));
    zone.add("bogus.test.", txt(&["v=spf1 -all"]));
    // A DNSKEY too short to be one.
    zone.add(
        "malformed.test.",
        RData::Unknown {
            code: RecordType::DNSKEY,
            rdata: NULL::with(vec![1]),
        },
    );
    zone.add("bogus.test.", dnskey());
    zone
}

fn lookups(addr: SocketAddr) -> NetLookups {
    NetLookups::new(&NetOptions {
        resolvers: vec![addr],
        timeout: Duration::from_secs(2),
        ..NetOptions::default()
    })
    .expect("lookups")
}

#[tokio::test]
async fn records_decode_and_absence_is_not_an_error() {
    let addr = serve(fixture()).await;
    let dns = lookups(addr);
    assert_eq!(
        dns.txt("signed.test").await,
        Ok(vec!["v=spf1 mx include:_spf.provider.test -all".to_owned()])
    );
    let mx = dns.mx("signed.test").await.expect("mx");
    assert_eq!(
        (mx[0].preference, mx[0].exchange.as_str()),
        (10, "mail.signed.test")
    );
    let null = dns.mx("parked.test").await.expect("null mx");
    assert_eq!(null[0].exchange, "", "null MX is the root name");
    let caa = dns.caa("signed.test").await.expect("caa");
    assert_eq!(
        (caa[0].tag.as_str(), caa[0].value.as_str()),
        ("issue", "letsencrypt.org")
    );
    let tlsa = dns.tlsa("_25._tcp.mail.signed.test").await.expect("tlsa");
    assert_eq!(
        (tlsa[0].usage, tlsa[0].selector, tlsa[0].matching),
        (3, 1, 1)
    );
    assert_eq!(tlsa[0].data, "ab".repeat(32));
    // NXDOMAIN and NODATA: empty, not errors.
    assert_eq!(dns.txt("nothing-here.test").await, Ok(vec![]));
    assert_eq!(dns.caa("mail.signed.test").await, Ok(vec![]));
    // SERVFAIL: an error that names the query.
    let error = dns.txt("broken.signed.test").await.expect_err("servfail");
    assert_eq!(error.name, "broken.signed.test");
    // Said as the answer it is (hickory's own words, "no records found", read as absence),
    // and an answer, not silence: the resolver is alive.
    assert_eq!(error.reason, "the resolver answered SERVFAIL");
    assert!(!error.no_answer);
}

#[tokio::test]
async fn dnssec_facts_from_the_ad_and_cd_bits() {
    let addr = serve(fixture()).await;
    let dns = lookups(addr);
    let signed = dns.dnssec("signed.test").await.expect("signed");
    assert!(
        signed.authenticated && signed.dnskey && signed.ds && !signed.bogus,
        "{signed:?}"
    );
    assert_eq!(signed.zone, "signed.test");
    let sub = dns.dnssec("mail.signed.test").await.expect("sub");
    assert_eq!(sub.zone, "signed.test", "the apex is found by walking up");
    let bogus = dns.dnssec("bogus.test").await.expect("bogus");
    assert!(
        bogus.bogus && bogus.dnskey && !bogus.authenticated,
        "{bogus:?}"
    );
    let unsigned = dns.dnssec("parked.test").await.expect("unsigned");
    assert!(!unsigned.authenticated && !unsigned.dnskey && !unsigned.ds);
    // An answer that cannot be read is an error at once, not a wait for the timeout (2 s).
    let started = std::time::Instant::now();
    let error = dns.dnssec("malformed.test").await.expect_err("unreadable");
    assert!(error.reason.contains("unreadable answer"), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn probe_and_evaluate_over_the_wire() {
    let addr = serve(fixture()).await;
    let dns = CachedLookups::new(lookups(addr));
    let options = ProbeOptions {
        common_selectors: false,
        ..ProbeOptions::default()
    };
    let obs = probe("signed.test", &options, &dns).await;
    let verdicts = evaluate(&obs, chrono::Utc::now());
    let status = |check: Check| verdicts.iter().find(|v| v.check == check).map(|v| v.status);
    assert_eq!(status(Check::EmailSpfAll), Some(Status::Pass));
    assert_eq!(status(Check::EmailSpfLookupLimit), Some(Status::Pass));
    assert_eq!(status(Check::EmailDmarcPolicy), Some(Status::Pass));
    assert_eq!(status(Check::DnsDnssec), Some(Status::Pass));
    assert_eq!(status(Check::DnsCaa), Some(Status::Pass));
    assert_eq!(status(Check::EmailDane), Some(Status::Pass));
    assert_eq!(status(Check::EmailMtaSts), Some(Status::Fail));

    let parked = evaluate(
        &probe("parked.test", &options, &dns).await,
        chrono::Utc::now(),
    );
    let parked_status = parked
        .iter()
        .find(|v| v.check == Check::EmailParked)
        .map(|v| v.status);
    assert_eq!(
        parked_status,
        Some(Status::Fail),
        "null MX and -all but no DMARC reject"
    );
    let bogus = evaluate(
        &probe("bogus.test", &options, &dns).await,
        chrono::Utc::now(),
    );
    let dnssec = bogus
        .iter()
        .find(|v| v.check == Check::DnsDnssec)
        .map(|v| v.status);
    assert_eq!(dnssec, Some(Status::Fail));
}
