//! What a report changes in `latest`, decided in memory, the same for both backends.
//!
//! Most findings of a report repeat the verdict of the agent's previous report; rewriting
//! their rows would cost a write per finding for nothing. The backend reads the agent's
//! current rows in one range query (and the rows of keys the agent does not own now, if
//! any), and [`plan_with`] returns only what differs: rows to write, status transitions to
//! record, and the agent's rows the report no longer carries (to retire: they stop being
//! current state). The current-state views take `observed_at` and `report_id` from the
//! agent's newest report (migration 0008), so an unchanged row needs no write to stay
//! current.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::IncomingReport;

/// Whether a stored time (`agents.last_report_at`, `latest.observed_at`, as text) is later
/// than `incoming`'s `finished_at`: the rule that says which report is an agent's newest.
///
/// Compared as times, not as text (`+10000-…` sorts before `9999-…` as text). A stored
/// time that cannot be parsed, or that lies beyond what ingest accepts now (the time
/// received plus [`vigie_model::timestamps::MAX_CLOCK_SKEW`]), cannot be a real instant:
/// only a collector older than that bound stored it, from an agent whose clock was wrong.
/// It counts as older than any report, so that the next honest report becomes current and
/// overwrites it: otherwise every later report of the agent would be "late" for ever, and
/// the agent-silent alert, which reads that time, could never fire.
pub(super) fn stored_is_newer(stored: &str, incoming: &IncomingReport) -> bool {
    let Ok(stored_at) = DateTime::parse_from_rfc3339(stored) else {
        tracing::warn!(
            stored = ?stored.chars().take(64).collect::<String>(),
            report_id = %incoming.report().report_id,
            "an unreadable newest-report time is stored for this agent or verdict; the report replaces it"
        );
        return false;
    };
    let stored_at = stored_at.with_timezone(&Utc);
    if stored_at > vigie_model::timestamps::latest(incoming.received_at) {
        tracing::warn!(
            stored = %stored,
            report_id = %incoming.report().report_id,
            "a newest-report time in the future is stored for this agent or verdict (an older collector accepted it); the report replaces it"
        );
        return false;
    }
    stored_at > incoming.report().finished_at
}

/// Whether `incoming` arrives late: its agent's newest stored report (`last_report_at`, if
/// any) finished after it. A late report is kept but changes nothing newer.
pub(super) fn is_late(last_report_at: Option<&str>, incoming: &IncomingReport) -> bool {
    last_report_at.is_some_and(|stored| stored_is_newer(stored, incoming))
}

/// `(target, check_id)`: a row of `latest` within one organization.
pub(super) type Key = (String, String);

/// A stored `latest` row as the planner compares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Stored {
    pub status: String,
    pub severity: String,
    pub summary: String,
    pub remediation: Option<String>,
    /// The serialized evidence, compared as text: the same map serializes to the same text
    /// (serde_json's maps are sorted), and text needs no parsing.
    pub evidence: String,
    pub since: String,
    /// When the verdict was last observed: for a current row, the finished_at of its agent's
    /// newest report (or earlier); for a retired one, that of the last report that carried it.
    pub observed_at: String,
    /// A current row of the reporting agent (read by the range query): it needs no write
    /// when the report says the same, and is retired when the report does not carry it.
    pub agent_current: bool,
    /// Carried by the report being planned (the planner sets it; start with `false`).
    pub seen: bool,
    /// Its entry in [`Plan::writes`], if the report changes it (the planner sets it).
    pub write: Option<usize>,
}

/// The stored rows a report is compared with, by target then check: looked up by `&str`,
/// without building a key per finding.
#[derive(Debug, Default)]
pub(super) struct StoredRows {
    by_target: HashMap<String, HashMap<String, Stored>>,
}

impl StoredRows {
    pub(super) fn insert(&mut self, target: String, check: String, row: Stored) {
        self.by_target.entry(target).or_default().insert(check, row);
    }

    pub(super) fn contains(&self, target: &str, check: &str) -> bool {
        self.by_target
            .get(target)
            .is_some_and(|checks| checks.contains_key(check))
    }

    fn get_mut(&mut self, target: &str, check: &str) -> Option<&mut Stored> {
        self.by_target.get_mut(target)?.get_mut(check)
    }
}

/// A row to insert or overwrite, from `report.findings[finding]`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Write {
    pub finding: usize,
    pub evidence: String,
    pub since: String,
}

/// A status change of a key (`from` is `None` for the first verdict).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Transition {
    pub target: String,
    pub check: String,
    pub from: Option<String>,
    pub to: &'static str,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    pub writes: Vec<Write>,
    pub transitions: Vec<Transition>,
    /// The agent's current rows that the report does not carry.
    pub retire: Vec<Key>,
}

/// Which findings repeat the agent's current row exactly, told row by row while the backend
/// reads those rows, so that an unchanged row (nearly all of them in the steady state) is
/// compared where it lies and never copied out of the database.
pub(super) struct Unchanged<'r> {
    incoming: &'r IncomingReport,
    /// The finding of each key the report carries; `None` for a key carried twice (those go
    /// the ordinary way, last verdict wins).
    index: HashMap<(&'r str, &'r str), Option<usize>>,
    unchanged: Vec<bool>,
}

impl<'r> Unchanged<'r> {
    pub(super) fn new(incoming: &'r IncomingReport) -> Unchanged<'r> {
        let report = incoming.report();
        let mut index = HashMap::with_capacity(report.findings.len());
        for (i, finding) in report.findings.iter().enumerate() {
            index
                .entry((finding.target.as_str(), finding.check.as_str()))
                .and_modify(|at: &mut Option<usize>| *at = None)
                .or_insert(Some(i));
        }
        Unchanged {
            incoming,
            index,
            unchanged: vec![false; report.findings.len()],
        }
    }

    /// Whether the agent's current row of `(target, check)` holds exactly what the report
    /// says (the evidence compared as serialized text); the finding is then left out of the
    /// plan and the row needs no copy.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn matches(
        &mut self,
        target: &str,
        check: &str,
        status: &str,
        severity: &str,
        summary: &str,
        remediation: Option<&str>,
        evidence: &str,
    ) -> bool {
        let Some(&Some(i)) = self.index.get(&(target, check)) else {
            return false;
        };
        let Some(finding) = self.incoming.report().findings.get(i) else {
            return false;
        };
        if finding.status.as_str() != status
            || finding.severity.as_str() != severity
            || finding.summary != summary
            || finding.remediation.as_deref() != remediation
            || self.incoming.evidence_text(i) != evidence
        {
            return false;
        }
        self.unchanged[i] = true;
        true
    }

    /// Whether finding `i` was found to repeat its row.
    pub(super) fn is_unchanged(&self, i: usize) -> bool {
        self.unchanged.get(i).copied().unwrap_or(false)
    }
}

/// The changes a report that is not late (it finished no earlier than its agent's newest
/// report) makes to `stored`, which holds the agent's current rows and every other stored
/// row of a key the report carries. Findings that `unchanged` marks are left out: their rows
/// are current rows of the agent, equal to them, and absent from `stored`.
pub(super) fn plan_with(
    incoming: &IncomingReport,
    finished_at: &str,
    mut stored: StoredRows,
    unchanged: Option<&Unchanged<'_>>,
) -> Plan {
    let mut out = Plan::default();
    for (i, finding) in incoming.report().findings.iter().enumerate() {
        if unchanged.is_some_and(|u| u.is_unchanged(i)) {
            continue;
        }
        let (target, check) = (finding.target.as_str(), finding.check.as_str());
        let status = finding.status.as_str();
        let evidence = incoming.evidence_text(i);
        let Some(previous) = stored.get_mut(target, check) else {
            out.transitions.push(Transition {
                target: target.to_owned(),
                check: check.to_owned(),
                from: None,
                to: status,
            });
            let row = Stored {
                status: status.to_owned(),
                severity: finding.severity.as_str().to_owned(),
                summary: finding.summary.clone(),
                remediation: finding.remediation.clone(),
                evidence: evidence.to_owned(),
                since: finished_at.to_owned(),
                observed_at: finished_at.to_owned(),
                agent_current: true,
                seen: true,
                write: Some(out.writes.len()),
            };
            out.writes.push(Write {
                finding: i,
                evidence: row.evidence.clone(),
                since: row.since.clone(),
            });
            stored.insert(target.to_owned(), check.to_owned(), row);
            continue;
        };
        // Another agent's verdict observed after this report finished is newer: keep it.
        if stored_is_newer(&previous.observed_at, incoming) {
            continue;
        }
        previous.seen = true;
        if previous.status != status {
            out.transitions.push(Transition {
                target: target.to_owned(),
                check: check.to_owned(),
                from: Some(std::mem::replace(&mut previous.status, status.to_owned())),
                to: status,
            });
            previous.since = finished_at.to_owned();
        } else if previous.agent_current
            && previous.severity == finding.severity.as_str()
            && previous.summary == finding.summary
            && previous.remediation == finding.remediation
            && previous.evidence == evidence
        {
            continue;
        }
        previous.severity = finding.severity.as_str().to_owned();
        previous.summary = finding.summary.clone();
        previous.remediation = finding.remediation.clone();
        previous.evidence = evidence.to_owned();
        previous.observed_at = finished_at.to_owned();
        previous.agent_current = true;
        let write = Write {
            finding: i,
            evidence: previous.evidence.clone(),
            since: previous.since.clone(),
        };
        // A key twice in one report is written once, with its last verdict.
        match previous.write {
            Some(at) => out.writes[at] = write,
            None => {
                previous.write = Some(out.writes.len());
                out.writes.push(write);
            }
        }
    }
    for (target, checks) in stored.by_target {
        for (check, row) in checks {
            if row.agent_current && !row.seen {
                out.retire.push((target.clone(), check));
            }
        }
    }
    // A stable order, so that both backends write the same rows in the same order.
    out.retire.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(findings: &[(&str, &str, &str)]) -> IncomingReport {
        let findings: Vec<serde_json::Value> = findings
            .iter()
            .map(|(target, check, status)| {
                serde_json::json!({
                    "check": check, "target": target, "status": status, "severity": "info",
                    "summary": "s", "evidence": {"a": 1}
                })
            })
            .collect();
        let report: vigie_model::Report = serde_json::from_value(serde_json::json!({
            "schema": "vigie.report.v1",
            "report_id": "6d1f7c2e-8f4b-4c8e-9a57-3a2f9d1b0c11",
            "agent": {"id": "a", "version": "0.1.0", "hostname": "h"},
            "org": "o",
            "started_at": "2026-11-22T10:00:00Z",
            "finished_at": "2026-11-22T10:00:04Z",
            "targets": [],
            "findings": findings,
            "observations": {},
        }))
        .unwrap();
        let body = serde_json::to_string(&report).unwrap();
        IncomingReport::new(report, body, chrono::Utc::now()).unwrap()
    }

    fn stored(status: &str, agent_current: bool, observed_at: &str) -> Stored {
        Stored {
            status: status.to_owned(),
            severity: "info".to_owned(),
            summary: "s".to_owned(),
            remediation: None,
            evidence: r#"{"a":1}"#.to_owned(),
            since: "S".to_owned(),
            observed_at: observed_at.to_owned(),
            agent_current,
            ..Stored::default()
        }
    }

    /// Before and after the test report's finished_at (2026-11-22T10:00:04Z).
    const BEFORE: &str = "2026-11-22T10:00:00.000000000Z";
    const AFTER: &str = "2026-11-22T10:00:05.000000000Z";

    fn key(target: &str, check: &str) -> Key {
        (target.to_owned(), check.to_owned())
    }

    fn rows(rows: Vec<(Key, Stored)>) -> StoredRows {
        let mut out = StoredRows::default();
        for ((target, check), row) in rows {
            out.insert(target, check, row);
        }
        out
    }

    #[test]
    fn an_unchanged_row_is_not_written_and_a_missing_one_is_retired() {
        let r = report(&[
            ("t1", "tls.protocol.tls1_0", "pass"),
            ("t2", "tls.protocol.tls1_0", "fail"),
        ]);
        let rows = rows(vec![
            (
                key("t1", "tls.protocol.tls1_0"),
                stored("pass", true, BEFORE),
            ),
            (
                key("t2", "tls.protocol.tls1_0"),
                stored("pass", true, BEFORE),
            ),
            (
                key("t3", "tls.protocol.tls1_0"),
                stored("pass", true, BEFORE),
            ),
        ]);
        let plan = plan_with(&r, "1", rows, None);
        assert_eq!(plan.writes.len(), 1);
        assert_eq!(plan.writes[0].finding, 1);
        assert_eq!(plan.writes[0].since, "1");
        assert_eq!(plan.transitions.len(), 1);
        assert_eq!(plan.transitions[0].from.as_deref(), Some("pass"));
        assert_eq!(plan.retire, vec![key("t3", "tls.protocol.tls1_0")]);
    }

    #[test]
    fn other_rows_are_written_unless_observed_later() {
        let r = report(&[
            ("t1", "tls.protocol.tls1_0", "pass"),
            ("t2", "tls.protocol.tls1_0", "pass"),
        ]);
        let rows = rows(vec![
            // The same verdict, but another agent's (or retired): taken over, no transition.
            (
                key("t1", "tls.protocol.tls1_0"),
                stored("pass", false, BEFORE),
            ),
            // Another agent's verdict observed after this report: kept.
            (
                key("t2", "tls.protocol.tls1_0"),
                stored("fail", false, AFTER),
            ),
        ]);
        let plan = plan_with(&r, "1", rows, None);
        assert_eq!(plan.writes.len(), 1);
        assert_eq!(plan.writes[0].finding, 0);
        assert_eq!(plan.writes[0].since, "S");
        assert!(plan.transitions.is_empty());
        assert!(plan.retire.is_empty());
    }

    #[test]
    fn a_row_found_unchanged_is_neither_written_nor_retired() {
        let r = report(&[
            ("t1", "tls.protocol.tls1_0", "pass"),
            ("t2", "tls.protocol.tls1_0", "fail"),
            ("t3", "tls.protocol.tls1_0", "pass"),
            ("t3", "tls.protocol.tls1_0", "pass"),
        ]);
        let mut unchanged = Unchanged::new(&r);
        let same = |u: &mut Unchanged<'_>, target: &str, status: &str, evidence: &str| {
            u.matches(
                target,
                "tls.protocol.tls1_0",
                status,
                "info",
                "s",
                None,
                evidence,
            )
        };
        assert!(same(&mut unchanged, "t1", "pass", r#"{"a":1}"#));
        // Another status, other evidence text, a key carried twice: not unchanged.
        assert!(!same(&mut unchanged, "t2", "pass", r#"{"a":1}"#));
        assert!(!same(&mut unchanged, "t2", "fail", r#"{"a": 1}"#));
        assert!(!same(&mut unchanged, "t3", "pass", r#"{"a":1}"#));
        // t1 was matched, so it is absent from the stored rows.
        let rows = rows(vec![(
            key("t2", "tls.protocol.tls1_0"),
            stored("pass", true, BEFORE),
        )]);
        let plan = plan_with(&r, "1", rows, Some(&unchanged));
        assert_eq!(
            plan.writes.iter().map(|w| w.finding).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(plan.retire.is_empty());
        assert_eq!(plan.transitions.len(), 2);
    }

    #[test]
    fn the_newest_report_is_told_by_time_and_an_absurd_stored_time_does_not_count() {
        let r = report(&[]);
        // Finished 2026-11-22T10:00:04Z, received now.
        assert!(!is_late(None, &r));
        assert!(!is_late(Some(BEFORE), &r));
        assert!(is_late(Some(AFTER), &r));
        // Stored by a collector without the ingest bound: in the far future, or in a form
        // that sorts before every honest time as text.
        assert!(!is_late(Some("9999-12-31T00:00:00.000000000Z"), &r));
        assert!(!is_late(Some("+10000-01-01T00:00:00.000000000Z"), &r));
        assert!(!is_late(Some("not a time"), &r));
        // A verdict of another agent observed later is kept, unless its time is absurd.
        let row = |observed_at| {
            rows(vec![(
                key("t1", "tls.protocol.tls1_0"),
                stored("fail", false, observed_at),
            )])
        };
        let r = report(&[("t1", "tls.protocol.tls1_0", "pass")]);
        assert!(plan_with(&r, "1", row(AFTER), None).writes.is_empty());
        let far = plan_with(&r, "1", row("9999-12-31T00:00:00.000000000Z"), None);
        assert_eq!(far.writes.len(), 1);
        assert_eq!(far.transitions.len(), 1);
    }

    #[test]
    fn a_key_twice_is_written_once_with_the_last_verdict() {
        let r = report(&[
            ("t1", "tls.protocol.tls1_0", "fail"),
            ("t1", "tls.protocol.tls1_0", "pass"),
        ]);
        let plan = plan_with(&r, "1", StoredRows::default(), None);
        assert_eq!(plan.writes.len(), 1);
        assert_eq!(plan.writes[0].finding, 1);
        assert_eq!(plan.transitions.len(), 2);
    }
}
