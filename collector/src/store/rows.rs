//! Reading rows, the same way on both backends: one decoder per row shape of [`super::sql`],
//! over [`Columns`], which rusqlite's and tokio-postgres's rows both implement. Times are
//! stored as fixed-width RFC 3339 text in both dialects, so one parser serves both. A value
//! a decoder cannot parse skips its row and is logged (see `decode`); a driver error fails
//! the read.

use chrono::{DateTime, SecondsFormat, Utc};
use vigie_matrix::Answer;
use vigie_model::{Severity, Status};

use super::audit::AuditEntry;
use super::decode;
use super::orgmeta::OrgMeta;
use super::plan::{Stored, Unchanged};
use super::{AgentRow, FindingCounts, LatestFinding, OrgSummary, StoreError, TransitionRow};
use crate::auth::{Principal, TokenKind};
use crate::scope::{Role, Scope};

/// The columns of one row, borrowed from the driver's row.
pub(super) trait Columns {
    fn str(&self, i: usize) -> Result<&str, StoreError>;
    fn optional_str(&self, i: usize) -> Result<Option<&str>, StoreError>;
    fn integer(&self, i: usize) -> Result<i64, StoreError>;

    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.str(i).map(str::to_owned)
    }

    fn optional_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.optional_str(i)?.map(str::to_owned))
    }

    /// A stored report body as JSON text (SQLite compresses it, see `sqlite/body.rs`).
    fn body(&self, i: usize) -> Result<String, StoreError> {
        self.text(i)
    }
}

/// Times as fixed-width text, so that text order is time order (see the migration).
pub(super) fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A certificate date as stored. X.509 encodes the years 0000 to 9999, the only ones the
/// fixed-width text holds (and readers parse); a date beyond (a time-zone offset in a forged
/// certificate, a hostile agent) is kept at the nearest end, which means the same to every
/// reader: never expires, or expired long ago. Certificate dates are the server's, not the
/// agent's clock, so they are not refused at ingest: a hostile server must not get an
/// organization's reports refused.
fn certificate_time_text(time: DateTime<Utc>) -> String {
    let earliest = DateTime::parse_from_rfc3339("0000-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let latest = DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999999999Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    time_text(time.clamp(earliest, latest))
}

pub(super) fn parse_time(column: &'static str, value: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt {
            column,
            value: value.to_owned(),
        })
}

/// The one of `all` named `value`.
fn parse_named<T: Copy>(
    column: &'static str,
    value: &str,
    all: &[T],
    name: fn(&T) -> &'static str,
) -> Result<T, StoreError> {
    all.iter()
        .find(|known| name(known) == value)
        .copied()
        .ok_or_else(|| StoreError::Corrupt {
            column,
            value: value.to_owned(),
        })
}

pub(super) fn parse_status(column: &'static str, value: &str) -> Result<Status, StoreError> {
    parse_named(column, value, &Status::ALL, |s| s.as_str())
}

pub(super) fn parse_severity(column: &'static str, value: &str) -> Result<Severity, StoreError> {
    parse_named(column, value, &Severity::ALL, |s| s.as_str())
}

fn parse_date(column: &'static str, value: &str) -> Result<chrono::NaiveDate, StoreError> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| StoreError::Corrupt {
        column,
        value: value.to_owned(),
    })
}

pub(super) fn parse_evidence(
    column: &'static str,
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    // Most verdicts carry no evidence; the matrix reads a sector's worth of them.
    if text == "{}" {
        return Ok(serde_json::Map::new());
    }
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
        column,
        value: text.chars().take(64).collect(),
    })
}

fn count(row: &dyn Columns, i: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.integer(i)?).unwrap_or(0))
}

/// [`super::sql::FIND_TOKEN`], [`super::sql::FIND_SESSION`]: who a token belongs to.
pub(super) fn principal(row: &dyn Columns) -> Result<Principal, StoreError> {
    let (kind, org, name, role) = (
        row.text(0)?,
        row.optional_text(1)?,
        row.text(2)?,
        row.optional_text(3)?,
    );
    let corrupt = |column, value: String| StoreError::Corrupt { column, value };
    match (TokenKind::from_stored(&kind), org, role) {
        (Some(TokenKind::Agent), Some(org), None) => Ok(Principal::Agent { org, name }),
        (Some(TokenKind::Viewer), org, Some(role)) => {
            let scope = Role::from_stored(&role)
                .and_then(|role| Scope::from_stored(role, org))
                .ok_or_else(|| corrupt("tokens.role", role))?;
            Ok(Principal::Viewer { name, scope })
        }
        (Some(TokenKind::Scraper), None, None) => Ok(Principal::Scraper { name }),
        _ => Err(corrupt("tokens.kind", kind)),
    }
}

/// A token a revocation finds: `(hash, org, role)`.
pub(super) type TokenToRevoke = (String, Option<String>, Option<Role>);

/// [`super::sql::TOKENS_TO_REVOKE`].
pub(super) fn token_to_revoke(row: &dyn Columns) -> Result<Option<TokenToRevoke>, StoreError> {
    let role = match row.optional_text(2)? {
        Some(text) => Some(Role::from_stored(&text).ok_or(StoreError::Corrupt {
            column: "tokens.role",
            value: text,
        })?),
        None => None,
    };
    Ok(Some((row.text(0)?, row.optional_text(1)?, role)))
}

/// Each leaf certificate of a report's TLS handshakes: `(target, not_after, observed_at)`
/// as stored (see [`certificate_time_text`]).
pub(super) fn certificates(
    report: &vigie_model::Report,
) -> impl Iterator<Item = (&str, String, String)> {
    report.observations.tls.iter().filter_map(|observation| {
        let vigie_model::TlsProbeResult::Handshake(handshake) = &observation.result else {
            return None;
        };
        // The server sends its leaf first (RFC 8446 §4.4.2).
        let leaf = handshake.certificates.first()?;
        Some((
            observation.target.as_str(),
            certificate_time_text(leaf.not_after),
            time_text(observation.observed_at),
        ))
    })
}

/// A one-column text row: an organization id, a report id.
pub(super) fn first_text(row: &dyn Columns) -> Result<Option<String>, StoreError> {
    row.text(0).map(Some)
}

/// [`super::sql::AGENT_COUNTS`]: `(org, agents, newest report)`; an unreadable time is
/// `None` and the count still counts.
pub(super) type AgentCount = (String, u64, Option<DateTime<Utc>>);

pub(super) fn agent_count(row: &dyn Columns) -> Result<Option<AgentCount>, StoreError> {
    let (org, agents, last) = (row.text(0)?, count(row, 1)?, row.str(2)?);
    let last = decode::row("agents", &org, || parse_time("agents.last_report_at", last))?;
    Ok(Some((org, agents, last)))
}

/// [`super::sql::ORG_AGENTS`].
pub(super) fn agent(org: &str, row: &dyn Columns) -> Result<Option<AgentRow>, StoreError> {
    let id = row.text(0)?;
    let last = row.str(3)?;
    let Some(last_report_at) = decode::row("agents", &(org, &id), || {
        parse_time("agents.last_report_at", last)
    })?
    else {
        return Ok(None);
    };
    Ok(Some(AgentRow {
        id,
        hostname: row.text(1)?,
        version: row.text(2)?,
        last_report_at,
    }))
}

/// [`super::sql::ORG_FINDINGS`].
pub(super) fn latest_finding(
    org: &str,
    row: &dyn Columns,
) -> Result<Option<LatestFinding>, StoreError> {
    let (check, target) = (row.text(0)?, row.text(1)?);
    let (status, severity, evidence) = (row.str(2)?, row.str(3)?, row.str(6)?);
    let (observed, since) = (row.str(8)?, row.str(9)?);
    let Some((status, severity, evidence, observed_at, since)) =
        decode::row("latest", &(org, &target, &check), || {
            Ok((
                parse_status("latest.status", status)?,
                parse_severity("latest.severity", severity)?,
                serde_json::from_str(evidence).map_err(|_| StoreError::Corrupt {
                    column: "latest.evidence",
                    value: evidence.chars().take(64).collect(),
                })?,
                parse_time("latest.observed_at", observed)?,
                parse_time("latest.since", since)?,
            ))
        })?
    else {
        return Ok(None);
    };
    Ok(Some(LatestFinding {
        check,
        target,
        status,
        severity,
        summary: row.text(4)?,
        remediation: row.optional_text(5)?,
        evidence,
        report_id: row.text(7)?,
        observed_at,
        since,
    }))
}

/// `(org, target, not_after, observed_at)` of one certificate.
pub(super) type TlsRow = (String, String, DateTime<Utc>, DateTime<Utc>);

/// [`super::sql::TLS_ROWS`].
pub(super) fn tls_row(row: &dyn Columns) -> Result<Option<TlsRow>, StoreError> {
    let (org, target) = (row.text(0)?, row.text(1)?);
    let (not_after, observed) = (row.str(2)?, row.str(3)?);
    let Some((not_after, observed_at)) = decode::row("tls_certificates", &(&org, &target), || {
        Ok((
            parse_time("tls_certificates.not_after", not_after)?,
            parse_time("tls_certificates.observed_at", observed)?,
        ))
    })?
    else {
        return Ok(None);
    };
    Ok(Some((org, target, not_after, observed_at)))
}

/// [`super::sql::AGENTS_SEEN`]: `(org, agent_id, last_report_at)`.
pub(super) fn agent_seen(
    row: &dyn Columns,
) -> Result<Option<(String, String, DateTime<Utc>)>, StoreError> {
    let (org, agent) = (row.text(0)?, row.text(1)?);
    let last = row.str(2)?;
    Ok(decode::row("agents", &(&org, &agent), || {
        parse_time("agents.last_report_at", last)
    })?
    .map(|last| (org, agent, last)))
}

/// `(org, check, status, severity, targets)` of latest findings.
pub(super) type CheckCount = (String, String, Status, Severity, u64);

/// [`super::sql::CHECK_COUNTS`].
pub(super) fn check_count(row: &dyn Columns) -> Result<Option<CheckCount>, StoreError> {
    let (org, check) = (row.text(0)?, row.text(1)?);
    let (status, severity) = (row.str(2)?, row.str(3)?);
    let count = count(row, 4)?;
    Ok(decode::row("latest", &(&org, &check, status), || {
        Ok((
            parse_status("latest.status", status)?,
            parse_severity("latest.severity", severity)?,
        ))
    })?
    .map(|(status, severity)| (org, check, status, severity, count)))
}

/// `(org, status, severity, count)` of latest findings.
pub(super) type FindingCount = (String, Status, Severity, u64);

/// [`super::sql::FINDING_COUNTS`].
pub(super) fn finding_count(row: &dyn Columns) -> Result<Option<FindingCount>, StoreError> {
    let org = row.text(0)?;
    let (status, severity) = (row.str(1)?, row.str(2)?);
    let count = count(row, 3)?;
    Ok(decode::row("latest", &(&org, status, severity), || {
        Ok((
            parse_status("latest.status", status)?,
            parse_severity("latest.severity", severity)?,
        ))
    })?
    .map(|(status, severity)| (org, status, severity, count)))
}

/// [`super::sql::FAMILY_FINDINGS`]; `None` for a check no gauge reads.
pub(super) fn family_finding(
    row: &dyn Columns,
) -> Result<Option<crate::family_metrics::LatestFinding>, StoreError> {
    let check = row.text(2)?;
    if !crate::family_metrics::wanted(&check) {
        return Ok(None);
    }
    let (org, target) = (row.text(0)?, row.text(1)?);
    let (status, severity) = (row.str(3)?, row.str(4)?);
    let Some((status, severity)) = decode::row("latest", &(&org, &target, &check), || {
        Ok((
            parse_status("latest.status", status)?,
            parse_severity("latest.severity", severity)?,
        ))
    })?
    else {
        return Ok(None);
    };
    Ok(Some(crate::family_metrics::LatestFinding {
        org,
        target,
        check,
        status,
        severity,
        // Evidence only refines a gauge; unreadable evidence must not hide the verdict.
        evidence: serde_json::from_str(row.str(5)?).unwrap_or(serde_json::Value::Null),
    }))
}

/// [`super::sql::TRANSITIONS`] of one key.
pub(super) fn transition(
    (org, target, check): (&str, &str, &str),
    row: &dyn Columns,
) -> Result<Option<TransitionRow>, StoreError> {
    let (from, to, at) = (row.optional_str(0)?, row.str(1)?, row.str(2)?);
    let Some((from, to, at)) = decode::row("transitions", &(org, target, check, at), || {
        Ok((
            from.map(|f| parse_status("transitions.from_status", f))
                .transpose()?,
            parse_status("transitions.to_status", to)?,
            parse_time("transitions.at", at)?,
        ))
    })?
    else {
        return Ok(None);
    };
    Ok(Some((from, to, at, row.text(3)?)))
}

/// [`super::sql::ANSWERS`].
pub(super) fn answer(row: &dyn Columns) -> Result<Option<Answer>, StoreError> {
    let (org, question) = (row.text(0)?, row.text(1)?);
    let answered_on = row.str(4)?;
    let Some(answered_on) = decode::row("assessments", &(&org, &question), || {
        parse_date("assessments.answered_on", answered_on)
    })?
    else {
        return Ok(None);
    };
    Ok(Some(Answer {
        org,
        question,
        answer: row.text(2)?,
        respondent_role: row.text(3)?,
        answered_on,
        evidence: row.optional_text(5)?,
    }))
}

/// [`super::sql::AUDIT_ENTRIES`].
pub(super) fn audit_entry(row: &dyn Columns) -> Result<Option<AuditEntry>, StoreError> {
    Ok(Some(AuditEntry {
        at: row.text(0)?,
        action: row.text(1)?,
        actor: row.text(2)?,
        kind: row.optional_text(3)?,
        org: row.optional_text(4)?,
        name: row.optional_text(5)?,
        fingerprint: row.optional_text(6)?,
        detail: row.optional_text(7)?,
    }))
}

/// [`super::sql::ORG_META`].
pub(super) fn org_meta(row: &dyn Columns) -> Result<Option<OrgMeta>, StoreError> {
    Ok(Some(OrgMeta {
        org: row.text(0)?,
        region: row.optional_text(1)?,
        size_band: row.optional_text(2)?,
    }))
}

/// [`super::sql::REGRADE_CURRENT`]: `(status, severity, report_id)`.
pub(super) fn regrade_current(row: &dyn Columns) -> Result<(String, String, String), StoreError> {
    Ok((row.text(0)?, row.text(1)?, row.text(2)?))
}

/// Whether a row of [`super::sql::AGENT_ROWS`] says what the report says, compared on the
/// row's own text: most rows of a steady agent are, and are then never copied out.
pub(super) fn is_unchanged(
    unchanged: &mut Unchanged<'_>,
    row: &dyn Columns,
) -> Result<bool, StoreError> {
    Ok(unchanged.matches(
        row.str(0)?,
        row.str(1)?,
        row.str(2)?,
        row.str(3)?,
        row.str(4)?,
        row.optional_str(5)?,
        row.str(6)?,
    ))
}

/// A `latest` row read for the ingest plan: target, check, status, severity, summary,
/// remediation, evidence, since and observed_at, in that order ([`super::sql::AGENT_ROWS`]
/// and each backend's lookup of other keys).
pub(super) fn stored_verdict(
    row: &dyn Columns,
    agent_current: bool,
) -> Result<(String, String, Stored), StoreError> {
    Ok((
        row.text(0)?,
        row.text(1)?,
        Stored {
            status: row.text(2)?,
            severity: row.text(3)?,
            summary: row.text(4)?,
            remediation: row.optional_text(5)?,
            evidence: row.text(6)?,
            since: row.text(7)?,
            observed_at: row.text(8)?,
            agent_current,
            ..Stored::default()
        },
    ))
}

/// One row of a backend's history-at-a-date query: the last transition of a key at or
/// before the date, `(org, target, check, to_status, at, report_id)`.
pub(super) type HistoryRow = (String, String, String, String, String, String);

pub(super) fn history(row: &dyn Columns) -> Result<Option<HistoryRow>, StoreError> {
    Ok(Some((
        row.text(0)?,
        row.text(1)?,
        row.text(2)?,
        row.text(3)?,
        row.text(4)?,
        row.text(5)?,
    )))
}

/// The reports whose evidence [`facts_at`] needs, each once, in the order first needed.
pub(super) fn reports_needed(rows: &[HistoryRow]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    rows.iter()
        .filter(|row| vigie_model::Check::from_id(&row.2).is_some())
        .map(|row| row.5.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// The verdicts as they stood at a date: each key's last transition, with the evidence of
/// the report that made it (`reports`: each report of [`reports_needed`], parsed once).
pub(super) fn facts_at(
    rows: Vec<HistoryRow>,
    reports: &std::collections::HashMap<String, Option<super::evidence::ReportEvidence>>,
) -> Result<Vec<(String, vigie_matrix::FindingFact)>, StoreError> {
    let mut findings = Vec::new();
    for (org, target, check, status, changed_at, report_id) in rows {
        let Some(check_known) = vigie_model::Check::from_id(&check) else {
            continue;
        };
        let evidence = reports
            .get(&report_id)
            .and_then(Option::as_ref)
            .and_then(|r| r.get(&target, &check))
            .cloned()
            .unwrap_or_default();
        let Some((status, observed_at)) =
            decode::row("transitions", &(&org, &target, &check, &changed_at), || {
                Ok((
                    parse_status("transitions.to_status", &status)?,
                    parse_time("transitions.at", &changed_at)?,
                ))
            })?
        else {
            continue;
        };
        findings.push((
            org,
            vigie_matrix::FindingFact {
                check: check_known,
                target,
                status,
                evidence,
                observed_at,
            },
        ));
    }
    Ok(findings)
}

/// Every organization with its counts, from the three reads of `orgs`.
pub(super) fn summaries(
    ids: Vec<String>,
    agents: Vec<AgentCount>,
    counts: Vec<FindingCount>,
) -> Vec<OrgSummary> {
    let mut summaries: Vec<OrgSummary> = ids
        .into_iter()
        .map(|id| OrgSummary {
            id,
            agents: 0,
            last_report_at: None,
            findings: FindingCounts::zero(),
        })
        .collect();
    let index = |summaries: &[OrgSummary], org: &str| {
        summaries.binary_search_by(|s| s.id.as_str().cmp(org)).ok()
    };
    for (org, agents, last) in agents {
        if let Some(i) = index(&summaries, &org) {
            summaries[i].agents = agents;
            summaries[i].last_report_at = last;
        }
    }
    for (org, status, severity, count) in counts {
        if let Some(i) = index(&summaries, &org) {
            summaries[i].findings.add(status, severity, count);
        }
    }
    summaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_certificate_date_is_stored_in_a_form_readers_parse() {
        for (given, stored) in [
            ("2027-03-01T12:00:00Z", "2027-03-01T12:00:00.000000000Z"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000000000Z"),
            ("+10000-01-01T11:59:59Z", "9999-12-31T23:59:59.999999999Z"),
            ("-0001-06-01T00:00:00Z", "0000-01-01T00:00:00.000000000Z"),
        ] {
            let given: DateTime<Utc> = given.parse().expect("a test date");
            let text = certificate_time_text(given);
            assert_eq!(text, stored);
            assert!(parse_time("tls_certificates.not_after", &text).is_ok());
        }
    }
}
