//! Rules a report must satisfy beyond its JSON shape. The collector rejects a report that
//! breaks any of them (HTTP 422) and stores nothing of it.

pub use crate::catalogue::is_valid_check_id;
use crate::report::{Report, SCHEMA_V1};

/// Bounds that keep one report from exhausting the collector. Generous: a real report of a
/// large organization has a few thousand findings.
pub const MAX_FINDINGS: usize = 50_000;
pub const MAX_TARGETS: usize = 10_000;
pub const MAX_TEXT: usize = 4_096;
pub const MAX_ORG: usize = 64;
/// Agent ids, targets and service names become metric labels: bounded in length and alphabet.
/// The agent id rule is the agent's own (`[agent] id`, and the id it derives from the machine).
pub const MAX_AGENT_ID: usize = 128;
pub const MAX_TARGET: usize = 255;
pub const MAX_SERVICE: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReport {
    #[error("unsupported schema `{found}`: this collector reads `{SCHEMA_V1}`")]
    UnsupportedSchema { found: String },
    #[error("org `{0}` is not a valid organization id (1-64 of a-z, 0-9, '-', '_', '.')")]
    BadOrg(String),
    #[error("finished_at is before started_at")]
    TimeOrder,
    #[error("{what} has {count} entries, more than the {max} allowed")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("finding {index} ({check}): {field} is empty or longer than {MAX_TEXT} characters")]
    BadText {
        index: usize,
        check: String,
        field: &'static str,
    },
    #[error("agent.{field} is empty or longer than {MAX_TEXT} characters")]
    BadAgent { field: &'static str },
    #[error(
        "agent.id `{0}` is not a valid agent id (1-{MAX_AGENT_ID} of A-Z, a-z, 0-9, '-', '_', '.')"
    )]
    BadAgentId(String),
    #[error("{place}: target `{target}` is not a valid target (1-{MAX_TARGET} bytes of printable ASCII without spaces, quotes, backslashes or braces)")]
    BadTarget { place: String, target: String },
    #[error("finding {index} ({check}): evidence.port is not a port number (an integer from 0 to 65535)")]
    BadPort { index: usize, check: String },
    #[error("finding {index} ({check}): evidence.service is not a service name (1-{MAX_SERVICE} of a-z, 0-9, '.', '_', '+', '-')")]
    BadService { index: usize, check: String },
}

/// Organization ids are used in metric labels and file names: keep them to a safe alphabet.
pub fn is_valid_org(org: &str) -> bool {
    !org.is_empty()
        && org.len() <= MAX_ORG
        && org.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// An agent id: 1-128 of `[A-Za-z0-9._-]`, as `vigie-agent` accepts in `[agent] id` and
/// derives from the machine.
pub fn is_valid_agent_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_AGENT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A target as a metric label may carry it: `host:port`, `[v6]:port`, a domain, an address
/// or a CIDR block, at most 255 bytes of printable ASCII without spaces, quotes, backslashes
/// or braces (which a label, a CSV cell or a log line would have to escape).
pub fn is_valid_target(target: &str) -> bool {
    !target.is_empty()
        && target.len() <= MAX_TARGET
        && target.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'\'' | b'`' | b'{' | b'}')
        })
}

/// A service name in a finding's evidence (`redis`, `postgresql`, `unidentified`): 1-32 of
/// `[a-z0-9._+-]`.
pub fn is_valid_service(service: &str) -> bool {
    !service.is_empty()
        && service.len() <= MAX_SERVICE
        && service.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'+' | b'-')
        })
}

fn text_ok(text: &str) -> bool {
    !text.trim().is_empty() && text.len() <= MAX_TEXT
}

/// Checks every rule; the first broken one is returned.
pub fn validate(report: &Report) -> Result<(), InvalidReport> {
    if report.schema != SCHEMA_V1 {
        return Err(InvalidReport::UnsupportedSchema {
            found: report.schema.chars().take(64).collect(),
        });
    }
    if !is_valid_org(&report.org) {
        return Err(InvalidReport::BadOrg(report.org.chars().take(64).collect()));
    }
    if report.finished_at < report.started_at {
        return Err(InvalidReport::TimeOrder);
    }
    for (field, value) in [
        ("id", &report.agent.id),
        ("version", &report.agent.version),
        ("hostname", &report.agent.hostname),
    ] {
        if !text_ok(value) {
            return Err(InvalidReport::BadAgent { field });
        }
    }
    if report.findings.len() > MAX_FINDINGS {
        return Err(InvalidReport::TooMany {
            what: "findings",
            count: report.findings.len(),
            max: MAX_FINDINGS,
        });
    }
    if report.targets.len() > MAX_TARGETS {
        return Err(InvalidReport::TooMany {
            what: "targets",
            count: report.targets.len(),
            max: MAX_TARGETS,
        });
    }
    for (index, finding) in report.findings.iter().enumerate() {
        let check = finding.check.to_string();
        if !text_ok(&finding.target) {
            return Err(InvalidReport::BadText {
                index,
                check,
                field: "target",
            });
        }
        if !text_ok(&finding.summary) {
            return Err(InvalidReport::BadText {
                index,
                check,
                field: "summary",
            });
        }
    }
    validate_labels(report)
}

/// Clips text quoted in an error message, so that a huge value is not sent back whole.
fn quoted(text: &str) -> String {
    const MAX_QUOTED: usize = 80;
    if text.chars().count() <= MAX_QUOTED {
        text.to_owned()
    } else {
        let mut clipped: String = text.chars().take(MAX_QUOTED).collect();
        clipped.push('…');
        clipped
    }
}

/// The values that become metric labels: the agent id, every target, and the port and
/// service of a finding's evidence.
fn validate_labels(report: &Report) -> Result<(), InvalidReport> {
    if !is_valid_agent_id(&report.agent.id) {
        return Err(InvalidReport::BadAgentId(quoted(&report.agent.id)));
    }
    for (index, target) in report.targets.iter().enumerate() {
        if !is_valid_target(&target.target) {
            return Err(InvalidReport::BadTarget {
                place: format!("targets[{index}]"),
                target: quoted(&target.target),
            });
        }
    }
    for (index, observation) in report.observations.tls.iter().enumerate() {
        if !is_valid_target(&observation.target) {
            return Err(InvalidReport::BadTarget {
                place: format!("observations.tls[{index}]"),
                target: quoted(&observation.target),
            });
        }
    }
    for (index, finding) in report.findings.iter().enumerate() {
        if !is_valid_target(&finding.target) {
            return Err(InvalidReport::BadTarget {
                place: format!("finding {index} ({})", finding.check),
                target: quoted(&finding.target),
            });
        }
        let port_ok = match finding.evidence.get("port") {
            None => true,
            Some(serde_json::Value::Number(n)) => n.as_u64().is_some_and(|p| p <= 65_535),
            Some(serde_json::Value::String(s)) => s.parse::<u16>().is_ok(),
            Some(_) => false,
        };
        if !port_ok {
            return Err(InvalidReport::BadPort {
                index,
                check: finding.check.to_string(),
            });
        }
        let service_ok = match finding.evidence.get("service") {
            None => true,
            Some(serde_json::Value::String(s)) => is_valid_service(s),
            Some(_) => false,
        };
        if !service_ok {
            return Err(InvalidReport::BadService {
                index,
                check: finding.check.to_string(),
            });
        }
    }
    Ok(())
}

/// The per-report bounds a collector sets (`--max-findings`, `--max-targets`), below the
/// schema's own [`MAX_FINDINGS`] and [`MAX_TARGETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLimits {
    /// Findings in one report.
    pub max_findings: usize,
    /// Distinct targets in one report: those of `targets` and of the findings together.
    pub max_targets: usize,
}

/// A report over a collector's [`ReportLimits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverLimit {
    #[error(
        "the report has {count} findings, more than the {max} this collector accepts in one report"
    )]
    Findings { count: usize, max: usize },
    #[error("the report names {count} distinct targets, more than the {max} this collector accepts in one report")]
    Targets { count: usize, max: usize },
}

/// Checks a report against a collector's limits. Distinct targets are counted up to the
/// limit plus one, so that the cost stays bounded by the limit.
pub fn check_limits(report: &Report, limits: ReportLimits) -> Result<(), OverLimit> {
    if report.findings.len() > limits.max_findings {
        return Err(OverLimit::Findings {
            count: report.findings.len(),
            max: limits.max_findings,
        });
    }
    let mut distinct: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let names = report
        .targets
        .iter()
        .map(|t| t.target.as_str())
        .chain(report.findings.iter().map(|f| f.target.as_str()));
    for name in names {
        distinct.insert(name);
        if distinct.len() > limits.max_targets {
            // The exact count, for the message: bounded, as the findings are within their
            // limit and the targets within the schema's.
            let count = count_distinct(report);
            return Err(OverLimit::Targets {
                count,
                max: limits.max_targets,
            });
        }
    }
    Ok(())
}

fn count_distinct(report: &Report) -> usize {
    let mut all: Vec<&str> = report
        .targets
        .iter()
        .map(|t| t.target.as_str())
        .chain(report.findings.iter().map(|f| f.target.as_str()))
        .collect();
    all.sort_unstable();
    all.dedup();
    all.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::{AgentInfo, CheckId, Finding, Severity, Status, Target, TargetKind};

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            schema: SCHEMA_V1.to_owned(),
            report_id: uuid::Uuid::nil(),
            agent: AgentInfo {
                id: "srv01".to_owned(),
                version: "0.1.0".to_owned(),
                hostname: "srv01".to_owned(),
            },
            org: "maple".to_owned(),
            started_at: chrono::DateTime::UNIX_EPOCH,
            finished_at: chrono::DateTime::UNIX_EPOCH,
            targets: vec![Target {
                kind: TargetKind::Services,
                target: "10.0.0.0/24".to_owned(),
            }],
            findings,
            observations: Default::default(),
            profile: None,
        }
    }

    fn finding(target: &str, evidence: serde_json::Value) -> Finding {
        Finding {
            check: CheckId::try_from("service.open".to_owned()).unwrap(),
            target: target.to_owned(),
            status: Status::Info,
            severity: Severity::Info,
            summary: "open".to_owned(),
            remediation: None,
            evidence: evidence.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn agent_ids_are_what_the_agent_accepts() {
        for good in ["srv01", "m-0123abcd", "WEB.Host_1", &"x".repeat(128)] {
            assert!(is_valid_agent_id(good), "{good:?}");
        }
        for bad in ["", "a b", "a\"b", "é", "a/b", &"x".repeat(129)] {
            assert!(!is_valid_agent_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_short_printable_ascii() {
        for good in [
            "www.example.ca:443",
            "[2001:db8::1]:8443",
            "10.0.0.0/24",
            "example.ca",
        ] {
            assert!(is_valid_target(good), "{good:?}");
        }
        for bad in ["", "a b", "a\nb", "a\"b", "a{b}", "é.ca", &"x".repeat(256)] {
            assert!(!is_valid_target(bad), "{bad:?}");
        }
    }

    #[test]
    fn ports_and_services_in_evidence_are_bounded() {
        let ok = report(vec![finding(
            "10.0.0.5:6379",
            serde_json::json!({"port": 6379, "service": "redis"}),
        )]);
        assert_eq!(validate(&ok), Ok(()));
        let port = report(vec![finding(
            "10.0.0.5",
            serde_json::json!({"port": 70000}),
        )]);
        assert!(matches!(
            validate(&port),
            Err(InvalidReport::BadPort { index: 0, .. })
        ));
        let negative = report(vec![finding("10.0.0.5", serde_json::json!({"port": -1}))]);
        assert!(matches!(
            validate(&negative),
            Err(InvalidReport::BadPort { .. })
        ));
        let long = report(vec![
            finding("10.0.0.5", serde_json::json!({})),
            finding("10.0.0.5", serde_json::json!({"service": "x".repeat(33)})),
        ]);
        let error = validate(&long).unwrap_err();
        assert!(matches!(error, InvalidReport::BadService { index: 1, .. }));
        assert!(
            error.to_string().contains("finding 1 (service.open)"),
            "{error}"
        );
        let upper = report(vec![finding("h", serde_json::json!({"service": "Redis"}))]);
        assert!(matches!(
            validate(&upper),
            Err(InvalidReport::BadService { .. })
        ));
    }

    #[test]
    fn a_huge_value_is_not_quoted_back_whole() {
        let mut r = report(Vec::new());
        r.targets[0].target = "x".repeat(1 << 20);
        let message = validate(&r).unwrap_err().to_string();
        assert!(message.len() < 400, "{}", message.len());
        assert!(message.contains("targets[0]"), "{message}");
    }

    #[test]
    fn collector_limits_count_findings_and_distinct_targets() {
        let limits = ReportLimits {
            max_findings: 3,
            max_targets: 2,
        };
        let two = report(vec![finding("a", serde_json::json!({})); 3]);
        assert_eq!(check_limits(&two, limits), Ok(()), "10.0.0.0/24 and a");
        let four = report(vec![finding("a", serde_json::json!({})); 4]);
        assert_eq!(
            check_limits(&four, limits),
            Err(OverLimit::Findings { count: 4, max: 3 })
        );
        let spread = report(vec![
            finding("a", serde_json::json!({})),
            finding("b", serde_json::json!({})),
            finding("a", serde_json::json!({})),
        ]);
        assert_eq!(
            check_limits(&spread, limits),
            Err(OverLimit::Targets { count: 3, max: 2 })
        );
    }

    #[test]
    fn org_alphabet() {
        assert!(is_valid_org("maple-settlement_01.on"));
        for bad in ["", "Maple", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!is_valid_org(bad), "{bad:?}");
        }
    }
}
