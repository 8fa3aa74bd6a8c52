//! Rules a report must satisfy beyond its JSON shape. The collector rejects a report that
//! breaks any of them (HTTP 422) and stores nothing of it.

use crate::report::{Report, SCHEMA_V1};

/// Bounds that keep one report from exhausting the collector. Generous: a real report of a
/// large organization has a few thousand findings.
pub const MAX_FINDINGS: usize = 50_000;
pub const MAX_TARGETS: usize = 10_000;
pub const MAX_TEXT: usize = 4_096;
pub const MAX_ORG: usize = 64;

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
}

/// Organization ids are used in metric labels and file names: keep them to a safe alphabet.
pub fn is_valid_org(org: &str) -> bool {
    !org.is_empty()
        && org.len() <= MAX_ORG
        && org.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// `word(.word)+` with words of `[a-z0-9_]`.
pub fn is_valid_check_id(id: &str) -> bool {
    id.len() <= 128
        && id.split('.').count() >= 2
        && id.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_alphabet() {
        assert!(is_valid_org("maple-settlement_01.on"));
        for bad in ["", "Maple", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!is_valid_org(bad), "{bad:?}");
        }
    }
}
