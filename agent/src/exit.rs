//! Exit statuses, decided here and nowhere else.
//!
//! | status | meaning |
//! | --- | --- |
//! | 0 | the command completed; for `scan`, nothing failed the `--fail-on` gate; for `run --once`, every report was delivered (or moved aside as rejected) |
//! | 1 | `scan --fail-on SEVERITY`: a finding with status `fail` **or `error`** at that severity or above (an unreachable endpoint must not pass a gate) |
//! | 2 | usage, configuration or scope error, or a file that cannot be read or written; the message says what to fix |
//! | 3 | `run --once`: reports stay in the outbox because the collector could not be reached (or refused the token) before the deadline |

use vigie_model::{Finding, Report, Severity, Status};

use crate::daemon::RunOutcome;

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, nothing to report as a failure.
    Success,
    /// 1: findings at or above `--fail-on`.
    FindingsAtOrAbove,
    /// 2: usage, configuration or scope error.
    Usage,
    /// 3: `run --once` left reports in the outbox.
    Undelivered,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::FindingsAtOrAbove => 1,
            Exit::Usage => 2,
            Exit::Undelivered => 3,
        }
    }

    /// The status of a completed scan under an optional `--fail-on` gate.
    pub fn for_scan(report: &Report, fail_on: Option<Severity>) -> Exit {
        match fail_on {
            Some(threshold) if gate_failures(report, threshold).next().is_some() => {
                Exit::FindingsAtOrAbove
            }
            _ => Exit::Success,
        }
    }

    /// The status of `run --once`.
    pub fn for_run_once(outcome: &RunOutcome) -> Exit {
        if outcome.remaining == 0 {
            Exit::Success
        } else {
            Exit::Undelivered
        }
    }

    /// Every error that reaches `main` is one the operator fixes (flags, config, files).
    pub fn for_error(_error: &anyhow::Error) -> Exit {
        Exit::Usage
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// The findings that fail a `--fail-on` gate: status `fail` or `error`, severity at or above
/// the threshold. `warn` does not fail a gate.
pub fn gate_failures(report: &Report, threshold: Severity) -> impl Iterator<Item = &Finding> {
    report.findings.iter().filter(move |finding| {
        matches!(finding.status, Status::Fail | Status::Error) && finding.severity >= threshold
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::{AgentInfo, Observations};

    fn report(findings: &[(Status, Severity)]) -> Report {
        let now = chrono::Utc::now();
        Report {
            schema: vigie_model::SCHEMA_V1.to_owned(),
            report_id: uuid::Uuid::new_v4(),
            agent: AgentInfo {
                id: "a".into(),
                version: "0".into(),
                hostname: "h".into(),
            },
            org: "o".into(),
            started_at: now,
            finished_at: now,
            targets: vec![],
            findings: findings
                .iter()
                .map(|(status, severity)| Finding {
                    check: "tls.connect".to_owned().try_into().unwrap(),
                    target: "t:443".into(),
                    status: *status,
                    severity: *severity,
                    summary: "s".into(),
                    remediation: None,
                    evidence: Default::default(),
                })
                .collect(),
            observations: Observations::default(),
            profile: None,
        }
    }

    #[test]
    fn fail_and_error_at_or_above_the_threshold_fail_the_gate() {
        let error_high = report(&[(Status::Error, Severity::High)]);
        assert_eq!(Exit::for_scan(&error_high, None), Exit::Success);
        assert_eq!(
            Exit::for_scan(&error_high, Some(Severity::High)),
            Exit::FindingsAtOrAbove
        );
        assert_eq!(
            Exit::for_scan(&error_high, Some(Severity::Medium)),
            Exit::FindingsAtOrAbove
        );
        assert_eq!(
            Exit::for_scan(&error_high, Some(Severity::Critical)),
            Exit::Success
        );

        let fail_low = report(&[(Status::Fail, Severity::Low)]);
        assert_eq!(
            Exit::for_scan(&fail_low, Some(Severity::Low)),
            Exit::FindingsAtOrAbove
        );
        assert_eq!(
            Exit::for_scan(&fail_low, Some(Severity::Medium)),
            Exit::Success
        );

        let not_failures = report(&[
            (Status::Warn, Severity::Critical),
            (Status::Pass, Severity::Critical),
            (Status::Info, Severity::Critical),
            (Status::Skip, Severity::Critical),
        ]);
        assert_eq!(
            Exit::for_scan(&not_failures, Some(Severity::Info)),
            Exit::Success
        );
    }

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(
            [
                Exit::Success,
                Exit::FindingsAtOrAbove,
                Exit::Usage,
                Exit::Undelivered
            ]
            .map(Exit::code),
            [0, 1, 2, 3]
        );
        let delivered = RunOutcome::default();
        assert_eq!(Exit::for_run_once(&delivered), Exit::Success);
        let stuck = RunOutcome {
            remaining: 2,
            ..RunOutcome::default()
        };
        assert_eq!(Exit::for_run_once(&stuck), Exit::Undelivered);
    }
}
