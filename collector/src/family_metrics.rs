//! The per-family gauges of docs/api.md (`vigie_tls_protocol_accepted`,
//! `vigie_email_dmarc_policy`, `vigie_exposed_service`, `vigie_host_pending_security_updates`,
//! `vigie_host_os_eol`, `vigie_probe_failures`), derived from the latest verdicts rather than from raw observations:
//! the verdicts are the one graded truth, stable across agent versions, while observation
//! shapes may grow.
//!
//! Pure: latest findings in, samples out. Cardinality is bounded by what agents reported:
//! one series per TLS endpoint and protocol, per mail domain, per open port and per host;
//! probe failures are counted per organization over closed sets of families and kinds.

use std::collections::BTreeMap;

use vigie_model::{Check, FailureKind, Severity, Status};

/// One latest verdict, as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestFinding {
    pub org: String,
    pub target: String,
    pub check: String,
    pub status: Status,
    pub severity: Severity,
    pub evidence: serde_json::Value,
}

/// Whether a protocol was accepted at an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProtocolAccepted {
    pub org: String,
    pub target: String,
    /// `sslv2`, `sslv3`, `tls1_0`, `tls1_1`, `tls1_2` or `tls1_3` (the check id's suffix).
    pub protocol: String,
    pub accepted: bool,
}

/// The DMARC policy of a domain: 0 none or missing, 1 quarantine, 2 reject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DmarcPolicy {
    pub org: String,
    pub domain: String,
    pub level: u8,
}

/// An open port, with the worst risk a `service.*` rule found on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExposedService {
    pub org: String,
    pub target: String,
    pub port: String,
    pub service: String,
    /// The severity of the worst failing rule on the port, `info` when none fails.
    pub risk: Severity,
}

/// Patch posture of one host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPosture {
    pub org: String,
    pub host: String,
    pub pending_security_updates: Option<u64>,
    pub os_eol: Option<bool>,
}

/// How many latest `error` verdicts of an organization's family say its probe failed in one
/// way (their evidence's `failure`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProbeFailures {
    pub org: String,
    /// The check's family (`tls`, `email`, `services`, `host`), `other` for a check this build
    /// does not know.
    pub family: &'static str,
    pub kind: FailureKind,
    pub count: u64,
}

/// Every family gauge of one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyMetrics {
    pub protocols: Vec<ProtocolAccepted>,
    pub dmarc: Vec<DmarcPolicy>,
    pub services: Vec<ExposedService>,
    pub hosts: Vec<HostPosture>,
    pub failures: Vec<ProbeFailures>,
}

/// The checks whose `error` verdicts carry a probe's failure kind (the store's family query
/// reads the same ones).
const FAILURE_CHECKS: [&str; 7] = [
    "tls.connect",
    "https.redirect",
    "https.hsts",
    "https.security_txt",
    "email.spf.missing",
    "email.starttls",
    "service.open",
];

/// The checks this module reads, so that the store can select just these rows.
pub fn wanted(check: &str) -> bool {
    FAILURE_CHECKS.contains(&check)
        || check.starts_with("tls.protocol.")
        || check == "email.dmarc.policy"
        || check == "email.dmarc.missing"
        || check.starts_with("service.")
        || check == "host.updates.security"
        || check == "host.os.eol"
}

fn protocol_accepted(protocol: &str, finding: &LatestFinding) -> Option<bool> {
    // An explicit fact from the probe wins over reading it back from the grade.
    if let Some(accepted) = finding.evidence.get("accepted").and_then(|v| v.as_bool()) {
        return Some(accepted);
    }
    match (protocol, finding.status) {
        // These checks fail exactly when the old protocol is accepted.
        ("sslv2" | "sslv3" | "tls1_0" | "tls1_1", Status::Fail | Status::Warn) => Some(true),
        ("sslv2" | "sslv3" | "tls1_0" | "tls1_1", Status::Pass) => Some(false),
        // This one passes when TLS 1.3 is accepted and warns when it is not.
        ("tls1_3", Status::Pass) => Some(true),
        ("tls1_3", Status::Warn | Status::Fail) => Some(false),
        // tls1_2 is graded on the pair (1.2, 1.3): only the evidence says which.
        _ => None,
    }
}

fn dmarc_level(status: Status) -> Option<u8> {
    match status {
        Status::Pass => Some(2),
        Status::Warn => Some(1),
        Status::Fail => Some(0),
        _ => None,
    }
}

fn evidence_string(evidence: &serde_json::Value, key: &str) -> Option<String> {
    match evidence.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The port of a finding's evidence, if it is a port number: rows stored before ports were
/// checked at ingest may hold anything.
fn evidence_port(evidence: &serde_json::Value) -> Option<String> {
    evidence_string(evidence, "port")?
        .parse::<u16>()
        .ok()
        .map(|p| p.to_string())
}

/// The service of a finding's evidence, if it is a service name (same reason).
fn evidence_service(evidence: &serde_json::Value) -> Option<String> {
    evidence_string(evidence, "service").filter(|s| vigie_model::validate::is_valid_service(s))
}

/// The port of a `address:port` or `[v6]:port` target.
fn target_port(target: &str) -> Option<String> {
    let (_, port) = target.rsplit_once(':')?;
    port.parse::<u16>().ok().map(|p| p.to_string())
}

/// The kind of probe failure an `error` verdict records, if it records one. A kind this build
/// does not know (a newer agent's, or stored junk) is `other`: labels stay in a closed set.
fn failure_kind(finding: &LatestFinding) -> Option<FailureKind> {
    if finding.status != Status::Error {
        return None;
    }
    let label = finding.evidence.get("failure")?;
    Some(
        label
            .as_str()
            .map_or(FailureKind::Other, FailureKind::from_label),
    )
}

/// Derives every family gauge from the latest findings.
pub fn derive(findings: &[LatestFinding]) -> FamilyMetrics {
    let mut protocols = Vec::new();
    let mut dmarc: BTreeMap<(String, String), u8> = BTreeMap::new();
    let mut missing_dmarc: Vec<(String, String)> = Vec::new();
    let mut services: BTreeMap<(String, String), ExposedService> = BTreeMap::new();
    let mut hosts: BTreeMap<(String, String), HostPosture> = BTreeMap::new();
    let mut failures: BTreeMap<(String, &'static str, FailureKind), u64> = BTreeMap::new();

    for f in findings {
        if let Some(kind) = failure_kind(f) {
            let family = Check::from_id(&f.check).map_or("other", |c| c.family().as_str());
            *failures.entry((f.org.clone(), family, kind)).or_default() += 1;
        }
        if let Some(protocol) = f.check.strip_prefix("tls.protocol.") {
            if let Some(accepted) = protocol_accepted(protocol, f) {
                protocols.push(ProtocolAccepted {
                    org: f.org.clone(),
                    target: f.target.clone(),
                    protocol: protocol.to_owned(),
                    accepted,
                });
            }
        } else if f.check == "email.dmarc.policy" {
            if let Some(level) = dmarc_level(f.status) {
                dmarc.insert((f.org.clone(), f.target.clone()), level);
            }
        } else if f.check == "email.dmarc.missing" {
            if f.status == Status::Fail {
                missing_dmarc.push((f.org.clone(), f.target.clone()));
            }
        } else if f.check.starts_with("service.") {
            let Some(port) = evidence_port(&f.evidence).or_else(|| target_port(&f.target)) else {
                continue;
            };
            let risky = matches!(f.status, Status::Fail | Status::Warn);
            if f.check != "service.open" && !risky {
                continue;
            }
            let entry = services
                .entry((f.org.clone(), f.target.clone()))
                .or_insert_with(|| ExposedService {
                    org: f.org.clone(),
                    target: f.target.clone(),
                    port: port.clone(),
                    service: String::new(),
                    risk: Severity::Info,
                });
            if let Some(service) = evidence_service(&f.evidence) {
                if entry.service.is_empty() {
                    entry.service = service;
                }
            }
            if risky && f.check != "service.open" && f.severity > entry.risk {
                entry.risk = f.severity;
            }
        } else if f.check == "host.updates.security" || f.check == "host.os.eol" {
            let entry = hosts
                .entry((f.org.clone(), f.target.clone()))
                .or_insert_with(|| HostPosture {
                    org: f.org.clone(),
                    host: f.target.clone(),
                    pending_security_updates: None,
                    os_eol: None,
                });
            if f.check == "host.os.eol" {
                entry.os_eol = match f.status {
                    Status::Fail => Some(true),
                    Status::Pass | Status::Warn => Some(false),
                    _ => None,
                };
            } else {
                entry.pending_security_updates = match f.status {
                    Status::Pass => Some(0),
                    Status::Fail | Status::Warn => f.evidence.get("count").and_then(|c| c.as_u64()),
                    _ => None,
                };
            }
        }
    }
    // A domain without any DMARC record is "none or missing": level 0.
    for key in missing_dmarc {
        dmarc.entry(key).or_insert(0);
    }
    for service in services.values_mut() {
        if service.service.is_empty() {
            service.service = "unknown".to_owned();
        }
    }
    protocols.sort();
    FamilyMetrics {
        protocols,
        dmarc: dmarc
            .into_iter()
            .map(|((org, domain), level)| DmarcPolicy { org, domain, level })
            .collect(),
        services: services.into_values().collect(),
        hosts: hosts.into_values().collect(),
        failures: failures
            .into_iter()
            .map(|((org, family, kind), count)| ProbeFailures {
                org,
                family,
                kind,
                count,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(
        target: &str,
        check: &str,
        status: Status,
        severity: Severity,
        evidence: serde_json::Value,
    ) -> LatestFinding {
        LatestFinding {
            org: "o".into(),
            target: target.into(),
            check: check.into(),
            status,
            severity,
            evidence,
        }
    }

    #[test]
    fn protocols_are_read_from_evidence_first_then_from_the_grade() {
        let m = derive(&[
            f(
                "a:443",
                "tls.protocol.tls1_0",
                Status::Fail,
                Severity::Medium,
                json!({}),
            ),
            f(
                "a:443",
                "tls.protocol.sslv3",
                Status::Pass,
                Severity::High,
                json!({}),
            ),
            f(
                "a:443",
                "tls.protocol.tls1_3",
                Status::Warn,
                Severity::Low,
                json!({}),
            ),
            f(
                "a:443",
                "tls.protocol.tls1_2",
                Status::Info,
                Severity::Info,
                json!({"accepted": true}),
            ),
            f(
                "b:443",
                "tls.protocol.tls1_2",
                Status::Info,
                Severity::Info,
                json!({}),
            ),
        ]);
        let got: Vec<(&str, &str, bool)> = m
            .protocols
            .iter()
            .map(|p| (p.target.as_str(), p.protocol.as_str(), p.accepted))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a:443", "sslv3", false),
                ("a:443", "tls1_0", true),
                ("a:443", "tls1_2", true),
                ("a:443", "tls1_3", false),
            ]
        );
    }

    #[test]
    fn dmarc_levels_and_missing_records() {
        let m = derive(&[
            f(
                "reject.test",
                "email.dmarc.policy",
                Status::Pass,
                Severity::High,
                json!({}),
            ),
            f(
                "quarantine.test",
                "email.dmarc.policy",
                Status::Warn,
                Severity::High,
                json!({}),
            ),
            f(
                "none.test",
                "email.dmarc.policy",
                Status::Fail,
                Severity::High,
                json!({}),
            ),
            f(
                "absent.test",
                "email.dmarc.missing",
                Status::Fail,
                Severity::High,
                json!({}),
            ),
            f(
                "absent.test",
                "email.dmarc.policy",
                Status::Skip,
                Severity::High,
                json!({}),
            ),
            f(
                "reject.test",
                "email.dmarc.missing",
                Status::Pass,
                Severity::High,
                json!({}),
            ),
        ]);
        let got: Vec<(&str, u8)> = m
            .dmarc
            .iter()
            .map(|d| (d.domain.as_str(), d.level))
            .collect();
        assert_eq!(
            got,
            vec![
                ("absent.test", 0),
                ("none.test", 0),
                ("quarantine.test", 1),
                ("reject.test", 2)
            ]
        );
    }

    #[test]
    fn ports_and_services_stored_out_of_bounds_are_not_labels() {
        let m = derive(&[
            f(
                "10.0.0.1:6379",
                "service.open",
                Status::Info,
                Severity::Info,
                json!({"port": 70000, "service": "x".repeat(6 << 20)}),
            ),
            f(
                "10.0.0.2",
                "service.open",
                Status::Info,
                Severity::Info,
                json!({"port": "nope", "service": "Bad Name"}),
            ),
        ]);
        assert_eq!(m.services.len(), 1, "{:?}", m.services.len());
        let s = &m.services[0];
        assert_eq!(
            (s.port.as_str(), s.service.as_str()),
            ("6379", "unknown"),
            "the target's port, and no service name"
        );
    }

    #[test]
    fn an_open_port_carries_the_worst_failing_rule() {
        let m = derive(&[
            f(
                "10.0.0.1:6379",
                "service.open",
                Status::Info,
                Severity::Info,
                json!({"port": 6379, "service": "redis"}),
            ),
            f(
                "10.0.0.1:6379",
                "service.database",
                Status::Fail,
                Severity::High,
                json!({"port": 6379, "service": "redis"}),
            ),
            f(
                "10.0.0.1:6379",
                "service.unauthenticated",
                Status::Fail,
                Severity::Critical,
                json!({"port": 6379}),
            ),
            f(
                "10.0.0.1:22",
                "service.open",
                Status::Info,
                Severity::Info,
                json!({"port": 22}),
            ),
            f(
                "10.0.0.1",
                "service.cleartext",
                Status::Pass,
                Severity::High,
                json!({}),
            ),
        ]);
        assert_eq!(m.services.len(), 2, "{:?}", m.services);
        let redis = m.services.iter().find(|s| s.port == "6379").unwrap();
        assert_eq!(
            (redis.service.as_str(), redis.risk),
            ("redis", Severity::Critical)
        );
        let ssh = m.services.iter().find(|s| s.port == "22").unwrap();
        assert_eq!(
            (ssh.service.as_str(), ssh.risk),
            ("unknown", Severity::Info)
        );
    }

    #[test]
    fn probe_failures_are_counted_per_family_and_kind_in_a_closed_set() {
        let error = |target: &str, check: &str, failure: serde_json::Value| {
            f(
                target,
                check,
                Status::Error,
                Severity::High,
                json!({ "failure": failure }),
            )
        };
        let m = derive(&[
            error("a:443", "tls.connect", json!("refused")),
            error("b:443", "tls.connect", json!("refused")),
            error("c:443", "tls.connect", json!("timeout")),
            error("h:443", "https.hsts", json!("timeout")),
            error("gone.invalid", "service.open", json!("name")),
            error("mail.test", "email.spf.missing", json!("timeout")),
            error("servfail.test", "email.spf.missing", json!("name")),
            // A newer agent's kind and stored junk are `other`, never a new label.
            error("d:443", "tls.connect", json!("quantum")),
            error("e:443", "tls.connect", json!({"nested": true})),
            // No kind (an older agent), or not an error: not counted.
            f(
                "f:443",
                "tls.connect",
                Status::Error,
                Severity::High,
                json!({}),
            ),
            f(
                "g:443",
                "tls.connect",
                Status::Pass,
                Severity::High,
                json!({"failure": "refused"}),
            ),
        ]);
        let got: Vec<(&str, &str, u64)> = m
            .failures
            .iter()
            .map(|p| (p.family, p.kind.as_str(), p.count))
            .collect();
        assert_eq!(
            got,
            vec![
                ("email", "timeout", 1),
                ("email", "name", 1),
                ("services", "name", 1),
                ("tls", "refused", 2),
                ("tls", "timeout", 2),
                ("tls", "other", 2),
            ]
        );
    }

    #[test]
    fn host_posture_counts_and_end_of_life() {
        let m = derive(&[
            f(
                "web1",
                "host.updates.security",
                Status::Fail,
                Severity::High,
                json!({"count": 7}),
            ),
            f(
                "web1",
                "host.os.eol",
                Status::Fail,
                Severity::Critical,
                json!({}),
            ),
            f(
                "web2",
                "host.updates.security",
                Status::Pass,
                Severity::High,
                json!({}),
            ),
            f(
                "web2",
                "host.os.eol",
                Status::Warn,
                Severity::Critical,
                json!({}),
            ),
        ]);
        assert_eq!(
            m.hosts,
            vec![
                HostPosture {
                    org: "o".into(),
                    host: "web1".into(),
                    pending_security_updates: Some(7),
                    os_eol: Some(true)
                },
                HostPosture {
                    org: "o".into(),
                    host: "web2".into(),
                    pending_security_updates: Some(0),
                    os_eol: Some(false)
                },
            ]
        );
    }
}
