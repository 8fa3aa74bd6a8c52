//! Truth tables of the email and DNS rules: a fixture domain that passes everything, then
//! one change per case, run through the real `probe` (over an in-memory zone) and the pure
//! `evaluate`. Each case asserts the status of the check it targets, so a rule that stops
//! firing, or fires on the wrong side of its boundary, fails here.

use vigie_checks::email::lookup::{DnssecFacts, TlsaRecord};
use vigie_checks::email::{probe, CachedLookups, EmailObservation, MemoryZone, ProbeOptions};
use vigie_grade::email::evaluate;
use vigie_model::{Check, Family, Lang, Severity, Status, Verdict};

use crate::dead_resolver;

const RSA_2048: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArRGE2iNsGFfjdwMkJOeJoHHrefgyYD/dKW5YyABmJc0nQMt6dhSeTvmZD8uW77h8ESyC47styLIb1LanYDCOt2VNRsHBhaHepxjKghKWHEIZlosF1ka9PmIUqQrO53RGLrgbiKVG70TPsZkzJpzg2nnrHOBTHDB5nO5j3QCtifJI/lOtJqhVpSESE5MWtz9RN/TvNrK0vDRSDRuyPZjK/weV3vC/aHrQk7+ETWLA/GS7Cd10NWF0yjcOIOPNJ+qL/2a+mT4xijZdDdbsV2t8Xx88u8Q4EAE1bkq29JUWSIfx86eL+SDc7iUFizyyQUR95PCrl8k8iGCAWqbXFcHBNQIDAQAB";
const RSA_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDo45KODYRwo/DYMeCEXM+pJxGmb3tgguYxCgfkSO6dozBPpugvBfqDui5ImGbQyk7PftSCsuUwcVOnyvOWUNbCUiStAupXN369+abvpURCSXXGqIdP+opVz0kBfeqoTPIkqzD8oFe/Bp3NlymU96l0bHvkzxg8//ykQ8aZUJgSDwIDAQAB";
const RSA_512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMY3YkyISTRTwUxHbTx77rFFPWTQoDnzIcR1r/yjtEBLJeTQCU0v5y3y+drrUlzfOXJj0KJAvdYYviTMXJ0UFssCAwEAAQ==";

const POLICY_URL: &str = "https://mta-sts.example.org/.well-known/mta-sts.txt";
const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mail.example.org\nmax_age: 604800\n";

/// The records of the fixture domain `example.org`, as editable text.
#[derive(Clone)]
struct Fixture {
    domain: String,
    txt: Vec<(String, String)>,
    mx: Vec<(u16, String)>,
    policy: Option<String>,
    caa: Vec<(String, String, String)>,
    tlsa: Vec<String>,
    dnssec: DnssecFacts,
    failing_txt: Vec<String>,
}

impl Fixture {
    fn good() -> Self {
        let txt = [
            (
                "example.org",
                "v=spf1 mx include:_spf.provider.example -all",
            ),
            ("example.org", "google-site-verification=abc"),
            (
                "_spf.provider.example",
                "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all",
            ),
            (
                "_dmarc.example.org",
                "v=DMARC1; p=reject; rua=mailto:dmarc@example.org",
            ),
            ("_mta-sts.example.org", "v=STSv1; id=20261122"),
            (
                "_smtp._tls.example.org",
                "v=TLSRPTv1; rua=mailto:tls@example.org",
            ),
            (
                "default._bimi.example.org",
                "v=BIMI1; l=https://example.org/logo.svg",
            ),
        ];
        let mut txt: Vec<(String, String)> = txt
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        txt.push((
            "selector1._domainkey.example.org".into(),
            format!("v=DKIM1; k=rsa; p={RSA_2048}"),
        ));
        Fixture {
            domain: "example.org".into(),
            txt,
            mx: vec![(10, "mail.example.org".into())],
            policy: Some(POLICY.into()),
            caa: vec![(
                "example.org".into(),
                "issue".into(),
                "letsencrypt.org".into(),
            )],
            tlsa: vec!["_25._tcp.mail.example.org".into()],
            dnssec: DnssecFacts {
                authenticated: true,
                bogus: false,
                dnskey: true,
                ds: true,
                zone: "example.org".into(),
            },
            failing_txt: Vec::new(),
        }
    }

    fn set_txt(&mut self, name: &str, records: &[&str]) -> &mut Self {
        let is_kind = |t: &str| {
            let l = t.to_ascii_lowercase();
            name != self.domain || l.starts_with("v=spf1")
        };
        self.txt.retain(|(n, t)| !(n == name && is_kind(t)));
        for r in records {
            self.txt.push((name.into(), (*r).into()));
        }
        self
    }

    fn zone(&self) -> MemoryZone {
        let mut zone = MemoryZone::new().ip("mail.example.org", "192.0.2.25".parse().unwrap());
        for (name, text) in &self.txt {
            zone = zone.txt(name, text);
        }
        for (pref, host) in &self.mx {
            zone = zone.mx(&self.domain, *pref, host);
        }
        if let Some(policy) = &self.policy {
            zone = zone.https(POLICY_URL, policy);
        }
        for (name, tag, value) in &self.caa {
            zone = zone.caa(name, 0, tag, value);
        }
        for name in &self.tlsa {
            zone = zone.tlsa(
                name,
                TlsaRecord {
                    usage: 3,
                    selector: 1,
                    matching: 1,
                    data: "ab".repeat(32),
                },
            );
        }
        for name in &self.failing_txt {
            zone = zone.failing_txt(name);
        }
        zone.dnssec(&self.domain, self.dnssec.clone())
    }

    fn observe(&self) -> EmailObservation {
        let zone = self.zone();
        runtime().block_on(probe(&self.domain, &ProbeOptions::default(), &zone))
    }

    fn verdicts(&self) -> Vec<Verdict> {
        evaluate(&self.observe(), chrono::Utc::now())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn verdict(verdicts: &[Verdict], check: Check) -> &Verdict {
    let found: Vec<&Verdict> = verdicts.iter().filter(|v| v.check == check).collect();
    assert_eq!(found.len(), 1, "{check}: {found:?}");
    found[0]
}

fn status_of(fixture: &Fixture, check: Check) -> (Status, Severity) {
    let verdicts = fixture.verdicts();
    let v = verdict(&verdicts, check);
    (v.status, v.severity)
}

fn assert_status(fixture: &Fixture, check: Check, expected: Status) -> Verdict {
    let verdicts = fixture.verdicts();
    let v = verdict(&verdicts, check).clone();
    assert_eq!(
        v.status,
        expected,
        "{check}: {}",
        v.summary.render(Lang::En)
    );
    v
}

#[test]
fn the_good_fixture_passes_every_check_and_gives_each_exactly_once() {
    let verdicts = Fixture::good().verdicts();
    for check in Check::ALL.iter().filter(|c| c.family() == Family::Email) {
        let v = verdict(&verdicts, *check);
        let expected = match check {
            Check::EmailBimi => Status::Info,
            Check::EmailStarttls | Check::EmailParked => Status::Skip,
            _ => Status::Pass,
        };
        assert_eq!(
            v.status,
            expected,
            "{check}: {}",
            v.summary.render(Lang::En)
        );
        assert!(
            v.summary.is_defined(),
            "{check}: undefined key {}",
            v.summary.key
        );
    }
    assert_eq!(
        verdicts.len(),
        Check::ALL
            .iter()
            .filter(|c| c.family() == Family::Email)
            .count()
    );
}

#[test]
fn every_text_produced_exists_in_both_languages_with_its_arguments() {
    // Run a wide set of fixtures so most message keys are produced at least once.
    let mut fixtures = vec![Fixture::good()];
    let mut f = Fixture::good();
    f.set_txt("example.org", &["v=spf1 +all", "v=spf1 -all"]);
    f.set_txt("_dmarc.example.org", &[]);
    f.mx.clear();
    f.policy = None;
    f.caa.clear();
    f.dnssec = DnssecFacts::default();
    fixtures.push(f);
    let mut f = Fixture::good();
    f.failing_txt = vec!["example.org".into(), "_dmarc.example.org".into()];
    fixtures.push(f);
    for fixture in fixtures {
        for v in fixture.verdicts() {
            for message in std::iter::once(&v.summary).chain(v.remediation.as_ref()) {
                assert!(message.is_defined(), "{}", message.key);
                for lang in Lang::ALL {
                    let template = vigie_model::i18n::text(lang, message.key).unwrap_or_default();
                    for name in vigie_model::i18n::placeholders(template) {
                        assert!(
                            message.args.iter().any(|(k, _)| *k == name),
                            "{}: no argument for {{{name}}}",
                            message.key
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn spf_missing_multiple_and_syntax() {
    let mut f = Fixture::good();
    f.set_txt("example.org", &[]);
    let v = assert_status(&f, Check::EmailSpfMissing, Status::Fail);
    assert!(v
        .remediation
        .unwrap()
        .render(Lang::En)
        .contains("v=spf1 mx -all"));

    let mut f = Fixture::good();
    f.set_txt("example.org", &["v=spf1 -all", "v=spf1 mx -all"]);
    assert_status(&f, Check::EmailSpfMultiple, Status::Fail);
    assert_status(&f, Check::EmailSpfMissing, Status::Pass);

    let mut f = Fixture::good();
    f.set_txt("example.org", &["v=spf1 mx ip4:192.0.2.300 -all"]);
    let v = assert_status(&f, Check::EmailSpfSyntax, Status::Fail);
    assert!(v.summary.render(Lang::En).contains("ip4:192.0.2.300"));

    // A broken include is a permerror too.
    let mut f = Fixture::good();
    f.set_txt(
        "_spf.provider.example",
        &["v=spf1 ip4:192.0.2.0/24 bogus -all"],
    );
    assert_status(&f, Check::EmailSpfSyntax, Status::Fail);
}

fn with_includes(n: usize) -> Fixture {
    let mut f = Fixture::good();
    let mut record = String::from("v=spf1");
    for i in 0..n {
        record.push_str(&format!(" include:s{i}.example.net"));
        f.txt.push((
            format!("s{i}.example.net"),
            "v=spf1 ip4:198.51.100.1 -all".into(),
        ));
    }
    record.push_str(" -all");
    f.set_txt("example.org", &[&record]);
    f
}

#[test]
fn spf_lookup_limit_boundary_is_ten() {
    assert_eq!(
        status_of(&with_includes(10), Check::EmailSpfLookupLimit).0,
        Status::Pass
    );
    let v = assert_status(&with_includes(11), Check::EmailSpfLookupLimit, Status::Fail);
    assert_eq!(v.evidence["lookups"], 11);
    assert!(v.evidence["tree"]["terms"].is_array());
}

#[test]
fn spf_void_lookup_boundary_is_two() {
    let mut f = Fixture::good();
    f.set_txt(
        "example.org",
        &["v=spf1 a:gone1.example.org a:gone2.example.org -all"],
    );
    assert_status(&f, Check::EmailSpfVoidLookups, Status::Pass);
    f.set_txt(
        "example.org",
        &["v=spf1 a:gone1.example.org a:gone2.example.org a:gone3.example.org -all"],
    );
    assert_status(&f, Check::EmailSpfVoidLookups, Status::Fail);
}

#[test]
fn spf_all_qualifiers() {
    let cases = [
        ("v=spf1 mx -all", Status::Pass, Severity::High),
        ("v=spf1 mx ~all", Status::Warn, Severity::High),
        ("v=spf1 mx ?all", Status::Fail, Severity::High),
        ("v=spf1 mx", Status::Fail, Severity::High),
        ("v=spf1 mx +all", Status::Fail, Severity::Critical),
        ("v=spf1 all", Status::Fail, Severity::Critical),
        (
            "v=spf1 redirect=_spf.provider.example",
            Status::Pass,
            Severity::High,
        ),
    ];
    for (record, status, severity) in cases {
        let mut f = Fixture::good();
        f.set_txt("example.org", &[record]);
        assert_eq!(
            status_of(&f, Check::EmailSpfAll),
            (status, severity),
            "{record}"
        );
    }
}

#[test]
fn spf_ptr_in_an_include_is_found() {
    let mut f = Fixture::good();
    f.set_txt("_spf.provider.example", &["v=spf1 ptr -all"]);
    assert_status(&f, Check::EmailSpfPtr, Status::Fail);
}

#[test]
fn spf_dns_failure_is_an_error_for_every_spf_check() {
    let mut f = Fixture::good();
    f.failing_txt = vec!["example.org".into()];
    let verdicts = f.verdicts();
    for check in [
        Check::EmailSpfMissing,
        Check::EmailSpfAll,
        Check::EmailSpfLookupLimit,
    ] {
        let v = verdict(&verdicts, check);
        assert_eq!(v.status, Status::Error, "{check}");
        assert!(v.summary.render(Lang::Fr).contains("SERVFAIL"));
    }
}

#[test]
fn dmarc_policy_pct_and_subdomain_policy() {
    let cases = [
        (
            "v=DMARC1; p=reject; rua=mailto:d@example.org",
            Check::EmailDmarcPolicy,
            Status::Pass,
        ),
        (
            "v=DMARC1; p=quarantine; rua=mailto:d@example.org",
            Check::EmailDmarcPolicy,
            Status::Warn,
        ),
        (
            "v=DMARC1; p=none; rua=mailto:d@example.org",
            Check::EmailDmarcPolicy,
            Status::Fail,
        ),
        (
            "v=DMARC1; rua=mailto:d@example.org",
            Check::EmailDmarcPolicy,
            Status::Fail,
        ),
        (
            "v=DMARC1; p=reject; pct=99",
            Check::EmailDmarcPct,
            Status::Fail,
        ),
        (
            "v=DMARC1; p=reject; pct=100",
            Check::EmailDmarcPct,
            Status::Pass,
        ),
        (
            "v=DMARC1; p=reject; t=y",
            Check::EmailDmarcPct,
            Status::Fail,
        ),
        (
            "v=DMARC1; p=reject; sp=quarantine",
            Check::EmailDmarcSubdomainPolicy,
            Status::Fail,
        ),
        (
            "v=DMARC1; p=quarantine; sp=reject",
            Check::EmailDmarcSubdomainPolicy,
            Status::Pass,
        ),
        ("v=DMARC1; p=reject", Check::EmailDmarcRua, Status::Fail),
        (
            "v = DMARC1 ; P = Reject ; RUA = mailto:d@example.org",
            Check::EmailDmarcSyntax,
            Status::Pass,
        ),
        (
            "v=DMARC1; p=reject; foo=bar",
            Check::EmailDmarcSyntax,
            Status::Fail,
        ),
    ];
    for (record, check, expected) in cases {
        let mut f = Fixture::good();
        f.set_txt("_dmarc.example.org", &[record]);
        assert_eq!(status_of(&f, check).0, expected, "{record} → {check}");
    }
}

#[test]
fn dmarc_missing_misplaced_and_several() {
    let mut f = Fixture::good();
    f.set_txt("_dmarc.example.org", &[]);
    assert_status(&f, Check::EmailDmarcMissing, Status::Fail);
    assert_status(&f, Check::EmailDmarcPolicy, Status::Fail);

    f.set_txt("_dmarc.example.org", &["p=reject; v=DMARC1"]);
    assert_status(&f, Check::EmailDmarcMissing, Status::Fail);
    assert_status(&f, Check::EmailDmarcSyntax, Status::Fail);

    f.set_txt(
        "_dmarc.example.org",
        &["v=DMARC1; p=reject", "v=DMARC1; p=none"],
    );
    assert_status(&f, Check::EmailDmarcSyntax, Status::Fail);
    assert_status(&f, Check::EmailDmarcPolicy, Status::Fail);
}

#[test]
fn dmarc_is_inherited_from_the_organizational_domain_with_sp() {
    let mut f = Fixture::good();
    f.domain = "shop.example.org".into();
    f.set_txt(
        "_dmarc.example.org",
        &["v=DMARC1; p=reject; sp=none; rua=mailto:d@example.org"],
    );
    let verdicts = f.verdicts();
    let missing = verdict(&verdicts, Check::EmailDmarcMissing);
    assert_eq!(missing.status, Status::Pass);
    assert_eq!(missing.evidence["name"], "_dmarc.example.org");
    let policy = verdict(&verdicts, Check::EmailDmarcPolicy);
    assert_eq!(
        policy.status,
        Status::Fail,
        "sp=none applies to the subdomain"
    );
    assert_eq!(policy.evidence["inherited"], true);
}

#[test]
fn dmarc_external_report_destinations_need_authorization() {
    let mut f = Fixture::good();
    f.set_txt(
        "_dmarc.example.org",
        &["v=DMARC1; p=reject; rua=mailto:d@example.org,mailto:x@reports.vendor.example"],
    );
    let v = assert_status(&f, Check::EmailDmarcRuaAuthorization, Status::Fail);
    assert_eq!(
        v.evidence["missing"][0],
        "example.org._report._dmarc.reports.vendor.example"
    );
    f.txt.push((
        "example.org._report._dmarc.reports.vendor.example".into(),
        "v=DMARC1".into(),
    ));
    assert_status(&f, Check::EmailDmarcRuaAuthorization, Status::Pass);
}

#[test]
fn dkim_rules() {
    let mut f = Fixture::good();
    f.txt
        .retain(|(n, _)| !n.ends_with("._domainkey.example.org"));
    let v = assert_status(&f, Check::EmailDkimMissing, Status::Warn);
    assert!(v.evidence["selectors_tried"]
        .as_array()
        .is_some_and(|a| a.len() >= 10));

    let key = |p: &str, extra: &str| {
        let mut f = Fixture::good();
        f.txt
            .retain(|(n, _)| !n.ends_with("._domainkey.example.org"));
        f.txt.push((
            "s1._domainkey.example.org".into(),
            format!("v=DKIM1; k=rsa;{extra} p={p}"),
        ));
        f
    };
    assert_eq!(
        status_of(&key(RSA_2048, ""), Check::EmailDkimWeakKey),
        (Status::Pass, Severity::High)
    );
    assert_eq!(
        status_of(&key(RSA_1024, ""), Check::EmailDkimWeakKey),
        (Status::Fail, Severity::High)
    );
    assert_eq!(
        status_of(&key(RSA_512, ""), Check::EmailDkimWeakKey),
        (Status::Fail, Severity::Critical)
    );
    assert_eq!(
        status_of(&key("AAAA", ""), Check::EmailDkimWeakKey).0,
        Status::Fail
    );
    assert_eq!(
        status_of(&key(RSA_2048, " t=y;"), Check::EmailDkimTesting).0,
        Status::Fail
    );
    let revoked = key("", "");
    assert_eq!(status_of(&revoked, Check::EmailDkimRevoked).0, Status::Info);
    assert_eq!(status_of(&revoked, Check::EmailDkimMissing).0, Status::Pass);

    // A configured selector is tried too.
    let mut f = Fixture::good();
    f.txt
        .retain(|(n, _)| !n.ends_with("._domainkey.example.org"));
    f.txt.push((
        "corp2026._domainkey.example.org".into(),
        format!("p={RSA_2048}"),
    ));
    let zone = f.zone();
    let options = ProbeOptions {
        dkim_selectors: vec!["corp2026".into()],
        ..ProbeOptions::default()
    };
    let obs = runtime().block_on(probe("example.org", &options, &zone));
    assert_eq!(
        verdict(&evaluate(&obs, chrono::Utc::now()), Check::EmailDkimMissing).status,
        Status::Pass
    );
}

#[test]
fn mx_null_mx_and_parked_domains() {
    // No MX but SPF authorizes senders: mail goes out, replies cannot come back.
    let mut f = Fixture::good();
    f.mx.clear();
    f.set_txt("example.org", &["v=spf1 ip4:192.0.2.1 -all"]);
    assert_status(&f, Check::EmailMxMissing, Status::Fail);
    let v = assert_status(&f, Check::EmailParked, Status::Fail);
    assert!(v.summary.render(Lang::En).contains("v=spf1 -all"));

    // Null MX, `v=spf1 -all`, `p=reject`: a correctly parked domain.
    let mut f = Fixture::good();
    f.mx = vec![(0, ".".into())];
    f.set_txt("example.org", &["v=spf1 -all"]);
    f.txt
        .retain(|(n, _)| !n.ends_with("._domainkey.example.org"));
    assert_status(&f, Check::EmailMxNull, Status::Info);
    assert_status(&f, Check::EmailParked, Status::Pass);
    assert_status(&f, Check::EmailMxMissing, Status::Pass);
    assert_status(&f, Check::EmailDane, Status::Skip);

    // Parked, no SPF at all: email.parked fails, spf.missing defers to it.
    f.set_txt("example.org", &[]);
    assert_status(&f, Check::EmailParked, Status::Fail);
    assert_status(&f, Check::EmailSpfMissing, Status::Skip);
    f.set_txt("_dmarc.example.org", &["v=DMARC1; p=quarantine"]);
    f.set_txt("example.org", &["v=spf1 -all"]);
    assert_status(&f, Check::EmailParked, Status::Fail);
}

#[test]
fn mta_sts_and_tlsrpt() {
    let mut f = Fixture::good();
    f.set_txt("_mta-sts.example.org", &[]);
    assert_status(&f, Check::EmailMtaSts, Status::Fail);
    assert_status(&f, Check::EmailMtaStsPolicy, Status::Skip);

    let mut f = Fixture::good();
    f.policy = None;
    let v = assert_status(&f, Check::EmailMtaStsPolicy, Status::Fail);
    assert!(v.summary.render(Lang::En).contains("404"));
    assert_status(&f, Check::EmailMtaStsMode, Status::Skip);

    let mut f = Fixture::good();
    f.policy = Some(POLICY.replace("enforce", "testing"));
    assert_status(&f, Check::EmailMtaStsMode, Status::Warn);

    let mut f = Fixture::good();
    f.policy = Some(POLICY.replace("mx: mail.example.org", "mx: *.mail.example.org"));
    let v = assert_status(&f, Check::EmailMtaStsMxMismatch, Status::Fail);
    assert_eq!(v.evidence["unmatched"][0], "mail.example.org");

    let mut f = Fixture::good();
    f.policy = Some("<html>hello</html>".into());
    assert_status(&f, Check::EmailMtaStsPolicy, Status::Fail);

    let mut f = Fixture::good();
    f.set_txt("_smtp._tls.example.org", &[]);
    assert_status(&f, Check::EmailTlsrpt, Status::Fail);
    f.set_txt(
        "_smtp._tls.example.org",
        &["v=TLSRPTv1; rua=ftp://x.example"],
    );
    assert_status(&f, Check::EmailTlsrpt, Status::Fail);
}

#[test]
fn dnssec_dane_and_caa() {
    let mut f = Fixture::good();
    f.dnssec = DnssecFacts::default();
    assert_status(&f, Check::DnsDnssec, Status::Warn);
    f.tlsa.clear();
    assert_status(&f, Check::EmailDane, Status::Info);
    f.dnssec = DnssecFacts {
        authenticated: true,
        dnskey: true,
        ds: true,
        ..DnssecFacts::default()
    };
    assert_status(&f, Check::EmailDane, Status::Warn);
    f.dnssec = DnssecFacts {
        bogus: true,
        dnskey: true,
        ds: true,
        ..DnssecFacts::default()
    };
    assert_eq!(
        status_of(&f, Check::DnsDnssec),
        (Status::Fail, Severity::High)
    );
    f.dnssec = DnssecFacts {
        dnskey: true,
        ds: true,
        ..DnssecFacts::default()
    };
    assert_status(&f, Check::DnsDnssec, Status::Error);

    let mut f = Fixture::good();
    f.caa.clear();
    assert_status(&f, Check::DnsCaa, Status::Fail);
    // On a subdomain, the organizational domain's CAA set applies.
    let mut f = Fixture::good();
    f.domain = "www.example.org".into();
    let v = assert_status(&f, Check::DnsCaa, Status::Pass);
    assert_eq!(v.evidence["name"], "example.org");
}

#[test]
fn observations_round_trip_and_regrade_identically() {
    let obs = Fixture::good().observe();
    let json = serde_json::to_value(&obs).unwrap();
    let back: EmailObservation = serde_json::from_value(json).unwrap();
    assert_eq!(back, obs);
    let now = chrono::Utc::now();
    assert_eq!(evaluate(&back, now), evaluate(&obs, now));
}

#[test]
fn a_shared_include_costs_one_query_for_many_domains() {
    let mut zone = MemoryZone::new().txt("_spf.provider.example", "v=spf1 ip4:192.0.2.0/24 -all");
    for i in 0..100 {
        zone = zone.txt(
            &format!("org{i}.example"),
            "v=spf1 include:_spf.provider.example -all",
        );
    }
    let cached = CachedLookups::new(zone);
    let rt = runtime();
    let options = ProbeOptions {
        common_selectors: false,
        ..ProbeOptions::default()
    };
    for i in 0..100 {
        let obs = rt.block_on(probe(&format!("org{i}.example"), &options, &cached));
        let lookups = obs.spf.branches.as_ref().map(|branches| {
            vigie_grade::email::spf_eval::expand(&obs.domain, &obs.spf.txt, branches)
                .evaluation
                .lookups
        });
        assert_eq!(lookups, Some(1));
        assert_eq!(
            obs.spf.evaluation, None,
            "the probe leaves the counting to grading"
        );
    }
    let include_queries = cached
        .inner()
        .queries()
        .iter()
        .filter(|q| q.as_str() == "TXT _spf.provider.example")
        .count();
    assert_eq!(include_queries, 1);
}

#[test]
fn a_domain_whose_records_could_not_be_read_gets_no_pass() {
    let trust = vigie_checks::tls::TrustStore::load(None).expect("the system roots load");
    for smtp in [None, Some(vigie_checks::email::SmtpOptions::new(trust))] {
        let options = ProbeOptions {
            smtp,
            ..ProbeOptions::default()
        };
        // SERVFAIL to every query: the resolver is alive, so each check is graded on its
        // own DNS error (a silent resolver is `a_silent_resolver_is_one_clear_error…`).
        let observation = runtime().block_on(probe(
            "example.org",
            &options,
            &dead_resolver::ServfailResolver,
        ));
        let verdicts = evaluate(&observation, chrono::Utc::now());
        assert!(!verdicts.is_empty());
        for v in &verdicts {
            assert!(
                matches!(v.status, Status::Error | Status::Skip),
                "{}: {:?} {}",
                v.check,
                v.status,
                v.summary.render(Lang::En)
            );
            assert!(v.summary.is_defined(), "{}", v.summary.key);
        }
        // MX could not be read: DANE is not "no MX", it is unknown.
        let dane = verdict(&verdicts, Check::EmailDane);
        assert_eq!(dane.status, Status::Error);
        assert!(dane
            .summary
            .render(Lang::Fr)
            .contains("the resolver answered SERVFAIL"));
        if options.smtp.is_some() {
            assert_eq!(
                verdict(&verdicts, Check::EmailStarttls).status,
                Status::Error
            );
        }
    }
}

#[test]
fn a_silent_resolver_is_one_clear_error_and_no_check_judged() {
    // Records the probe saw are not trusted once the resolver went silent: nothing passes,
    // nothing asks for a record to be published.
    let mut observation = Fixture::good().observe();
    observation.resolver_silent = Some(vigie_checks::email::health::ResolverSilence {
        resolvers: vec!["127.0.0.53:53".into()],
        unanswered: 3,
        kind: None,
    });
    let verdicts = evaluate(&observation, chrono::Utc::now());
    let family: Vec<Check> = Check::ALL
        .iter()
        .copied()
        .filter(|c| c.family() == Family::Email)
        .collect();
    assert_eq!(verdicts.iter().map(|v| v.check).collect::<Vec<_>>(), family);
    assert!(verdicts.iter().all(|v| v.status == Status::Error));
    let explained: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.summary.key == "email.error.resolver_silent")
        .collect();
    assert_eq!(explained.len(), 1);
    let en = explained[0].summary.render(Lang::En);
    assert!(
        en.contains("127.0.0.53:53") && en.contains("3 questions in a row"),
        "{en}"
    );
    let fix = explained[0].remediation.as_ref().expect("what to do");
    assert!(fix.render(Lang::Fr).contains("--resolver"));
    for v in &verdicts {
        for message in std::iter::once(&v.summary).chain(v.remediation.as_ref()) {
            assert!(message.is_defined(), "{}", message.key);
        }
        if v.summary.key != "email.error.resolver_silent" {
            assert_eq!(v.summary.key, "email.error.resolver_silent.not_checked");
            assert!(v.remediation.is_none());
        }
    }
}

#[test]
fn an_mx_certificate_is_judged_current_at_the_grading_instant() {
    // The probe records the leaf's validity window and judges the trust path inside it;
    // whether the certificate is current is decided by grading, so a regrade revisits it.
    let mut observation = Fixture::good().observe();
    let issued = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let expires = issued + chrono::Duration::days(90);
    observation.starttls = Some(vec![vigie_model::observation::email::StarttlsFacts {
        kind: None,
        host: "mx.example.org".into(),
        offered: true,
        certificate_valid: Some(true),
        error: None,
        address: Some("127.0.0.1:25".into()),
        certificate_error: None,
        not_before: Some(issued),
        not_after: Some(expires),
    }]);
    let at = |o: &EmailObservation, t| verdict(&evaluate(o, t), Check::EmailStarttls).status;
    assert_eq!(
        at(&observation, issued + chrono::Duration::days(30)),
        Status::Pass
    );
    assert_eq!(
        at(&observation, expires + chrono::Duration::seconds(1)),
        Status::Fail
    );
    assert_eq!(
        at(&observation, issued - chrono::Duration::seconds(1)),
        Status::Fail
    );
    // A report of an older agent has no window: its probe's judgement stands.
    let hosts = observation.starttls.as_mut().unwrap();
    hosts[0].not_before = None;
    hosts[0].not_after = None;
    assert_eq!(
        at(&observation, expires + chrono::Duration::days(365)),
        Status::Pass
    );
    hosts_invalid(&mut observation);
    assert_eq!(
        at(&observation, issued + chrono::Duration::days(30)),
        Status::Fail
    );
}

fn hosts_invalid(observation: &mut EmailObservation) {
    for host in observation.starttls.iter_mut().flatten() {
        host.certificate_valid = Some(false);
        host.certificate_error = Some("unknown issuer".into());
    }
}
