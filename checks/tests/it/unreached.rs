//! Targets that were not reached, end to end without a network: their observations (a closed
//! TLS port, a server that does not speak TLS, a web origin that answered nothing, a mail
//! domain behind a dead resolver, an address where no port answered, an unreadable host root)
//! graded by `vigie_checks::grade` as the agent and `vigie-collector regrade` do, then by the
//! capability matrix as the collector does. No finding passes, and no capability gets a level.

use chrono::{DateTime, TimeZone, Utc};
use vigie_checks::https::{FetchError, FetchStage, HttpExchange, HttpsObservation};
use vigie_checks::services::{HostObservation, ServicesObservation};
use vigie_grade::tls::Profile;
use vigie_matrix::grade::{grade_org, FindingFact, Inputs, TlsProfile, Value};
use vigie_model::{
    Finding, Lang, Observations, ProbeStage, Status, TlsEnumeration, TlsObservation,
    TlsProbeResult, TlsProtocolSupport,
};

use crate::dead_resolver;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

fn tls(
    target: &str,
    result: TlsProbeResult,
    enumeration: Option<TlsEnumeration>,
) -> TlsObservation {
    TlsObservation {
        target: target.to_owned(),
        server_name: target.split(':').next().unwrap_or_default().to_owned(),
        address: Some("192.0.2.10:443".to_owned()),
        observed_at: now(),
        result,
        enumeration,
    }
}

/// What the deep TLS scan records of a server that closes every connection unanswered.
fn every_hello_closed() -> TlsEnumeration {
    TlsEnumeration {
        protocols: ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
            .into_iter()
            .map(|protocol| TlsProtocolSupport {
                protocol: protocol.to_owned(),
                refusal: Some("connection closed without an answer".to_owned()),
                ..TlsProtocolSupport::default()
            })
            .collect(),
        handshakes: 6,
        ..TlsEnumeration::default()
    }
}

fn timed_out(url: &str) -> HttpExchange {
    HttpExchange {
        url: url.to_owned(),
        error: Some(FetchError {
            url: url.to_owned(),
            stage: FetchStage::Timeout,
            error: "no answer within 5 s".to_owned(),
            kind: None,
        }),
        ..HttpExchange::default()
    }
}

fn unreached_observations(host_root: &std::path::Path) -> Observations {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let email = runtime.block_on(vigie_checks::email::probe(
        "example.ca",
        &vigie_checks::email::ProbeOptions::default(),
        &dead_resolver::DeadResolver,
    ));
    let web = HttpsObservation {
        target: "shop.example.ca:443".to_owned(),
        host: "shop.example.ca".to_owned(),
        observed_at: now(),
        https: timed_out("https://shop.example.ca/"),
        redirect: Some(timed_out("http://shop.example.ca/")),
        security_txt: None,
    };
    let services = ServicesObservation {
        targets: vec!["192.0.2.7".to_owned()],
        ports: "top100".to_owned(),
        port_count: 100,
        started_at: now(),
        finished_at: now(),
        hosts: vec![HostObservation {
            address: "192.0.2.7".parse().expect("an address"),
            target: "192.0.2.7".to_owned(),
            names: Vec::new(),
            open: Vec::new(),
            closed: 0,
            filtered: 100,
        }],
        unresolved: Vec::new(),
    };
    let host = vigie_checks::host::probe(host_root, now());
    Observations {
        tls: vec![
            tls(
                "www.example.ca:443",
                TlsProbeResult::Failed {
                    stage: ProbeStage::Connect,
                    error: "192.0.2.10:443: Connection refused (os error 111)".to_owned(),
                    kind: None,
                },
                None,
            ),
            tls(
                "mail.example.ca:443",
                TlsProbeResult::Failed {
                    stage: ProbeStage::Handshake,
                    error: "received corrupt message of type InvalidContentType".to_owned(),
                    kind: None,
                },
                Some(every_hello_closed()),
            ),
        ],
        https: vec![web],
        email: vec![email],
        services: vec![services],
        host: Some(host),
    }
}

fn facts(findings: &[Finding]) -> Vec<FindingFact> {
    findings
        .iter()
        .map(|f| FindingFact {
            check: f.check.known().expect("a check this build knows"),
            target: f.target.clone(),
            status: f.status,
            evidence: f.evidence.clone(),
            observed_at: now(),
        })
        .collect()
}

#[test]
fn unreached_targets_get_no_pass_and_every_capability_is_unknown() {
    let root = tempfile::tempdir().expect("an empty host root");
    let observations = unreached_observations(root.path());
    for profile in [Profile::Modern, Profile::ItspStrict] {
        for lang in Lang::ALL {
            let findings =
                vigie_grade::grade::grade_observations(&observations, profile, now(), lang);
            // Every family gave findings, and none claims a fact.
            for prefix in ["tls.", "https.", "email.", "dns.", "service.", "host."] {
                assert!(
                    findings
                        .iter()
                        .any(|f| f.check.as_str().starts_with(prefix)),
                    "no {prefix} finding"
                );
            }
            for finding in &findings {
                assert!(
                    matches!(finding.status, Status::Error | Status::Skip),
                    "{} {} is {:?}: {}",
                    finding.check,
                    finding.target,
                    finding.status,
                    finding.summary
                );
            }
        }
    }

    let findings =
        vigie_grade::grade::grade_observations(&observations, Profile::Modern, now(), Lang::En);
    let facts = facts(&findings);
    let lifetimes = Default::default();
    let cells = grade_org(Inputs {
        findings: &facts,
        answers: &[],
        now: now(),
        profile: TlsProfile::Modern,
        certificate_lifetimes: &lifetimes,
    });
    assert_eq!(cells.len(), 18);
    for cell in &cells {
        assert_eq!(
            cell.value,
            Value::Unknown,
            "{}: {:?}",
            cell.capability,
            cell.notes
        );
        assert_eq!(cell.coverage, None, "{}", cell.capability);
    }
    let note = |id: &str, lang: Lang| {
        cells
            .iter()
            .find(|c| c.capability == id)
            .map(|c| c.notes[0].render(lang))
            .unwrap_or_default()
    };
    assert_eq!(
        note("C02", Lang::En),
        "Unknown: the endpoint was not reached (mail.example.ca:443, www.example.ca:443)."
    );
    assert_eq!(
        note("C02", Lang::Fr),
        "Inconnu\u{a0}: le point d'accès n'a pas été joint (mail.example.ca:443, www.example.ca:443)."
    );
    assert!(note("C03", Lang::En).contains("example.ca"));
    assert!(note("C05", Lang::En).contains("192.0.2.7"));
    assert!(note("C07", Lang::Fr).starts_with("Inconnu\u{a0}: l'état de l'hôte"));
    assert!(note("C10", Lang::En).contains("shop.example.ca:443"));
}
