//! The reads behind an organization's report card and the sector's triage tables
//! ([`crate::card`]): one organization's status history, and the cross-organization lists
//! (certificates, severe failures, agents' cadence). Each read runs in one snapshot.

use chrono::{DateTime, Utc};
use serde::Serialize;
use vigie_model::{Severity, Status};

use super::db::{params, Db};
use super::rows::{self, parse_severity, parse_status, parse_time, time_text, Columns};
use super::sql::{shared, Sql};
use super::{decode, queries, Backend, OrgDetail, Store, StoreError};

/// One status change of one (target, check) of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgTransition {
    pub target: String,
    pub check: String,
    pub from: Option<Status>,
    pub to: Status,
    pub at: DateTime<Utc>,
    pub report_id: String,
}

/// What an organization's report card is assembled from, read in one snapshot.
#[derive(Debug, Clone)]
pub struct CardState {
    pub detail: OrgDetail,
    /// Every status change of the organization, oldest first.
    pub history: Vec<OrgTransition>,
    /// The newest report of each of its agents: the changes they made are "since the
    /// previous report".
    pub newest_reports: Vec<String>,
}

/// One failing check of one organization at a severity (triage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SevereFailure {
    pub org: String,
    pub check: String,
    pub severity: Severity,
    /// Targets failing it.
    pub targets: u64,
}

/// An agent's last two reports (triage: silent agents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentCadence {
    pub org: String,
    pub agent: String,
    pub last_report_at: DateTime<Utc>,
    /// The report before its newest, if still stored.
    pub previous_report_at: Option<DateTime<Utc>>,
}

/// A certificate of a current TLS endpoint (triage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRow {
    pub org: String,
    pub target: String,
    pub not_after: DateTime<Utc>,
}

/// Read by [`transition_row`].
const ORG_HISTORY: Sql = shared!(
    "SELECT target, check_id, from_status, to_status, at, report_id FROM transitions
     WHERE org = $1 ORDER BY at, id"
);
const NEWEST_REPORTS: Sql = shared!(
    "SELECT last_report_id FROM agents WHERE org = $1 AND last_report_id IS NOT NULL
     ORDER BY agent_id"
);
/// Read by [`severe_failure`].
const SEVERE_FAILURES: Sql = shared!(
    "SELECT org, check_id, severity, COUNT(*) FROM current_latest
     WHERE status = 'fail' AND severity IN ('critical', 'high')
     GROUP BY org, check_id, severity ORDER BY org, check_id, severity"
);
/// Read by [`agent_cadence`]: `reports_by_org` (org, finished_at) finds the previous one.
const AGENT_CADENCE: Sql = shared!(
    "SELECT a.org, a.agent_id, a.last_report_at,
            (SELECT MAX(r.finished_at) FROM reports r
             WHERE r.org = a.org AND r.agent_id = a.agent_id
               AND r.finished_at < a.last_report_at)
     FROM agents a ORDER BY a.org, a.agent_id"
);
/// Read by [`certificate_row`]: certificates whose `not_after` is before `$1`.
const CERTIFICATES_BEFORE: Sql = shared!(
    "SELECT org, target, not_after FROM current_tls_certificates
     WHERE not_after < $1 ORDER BY not_after, org, target"
);

fn transition_row(org: &str, row: &dyn Columns) -> Result<Option<OrgTransition>, StoreError> {
    let (target, check) = (row.text(0)?, row.text(1)?);
    let (from, to, at) = (row.optional_str(2)?, row.str(3)?, row.str(4)?);
    let Some((from, to, at)) = decode::row("transitions", &(org, &target, &check, at), || {
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
    Ok(Some(OrgTransition {
        target,
        check,
        from,
        to,
        at,
        report_id: row.text(5)?,
    }))
}

fn severe_failure(row: &dyn Columns) -> Result<Option<SevereFailure>, StoreError> {
    let (org, check, severity) = (row.text(0)?, row.text(1)?, row.str(2)?);
    let Some(severity) = decode::row("latest", &(&org, &check), || {
        parse_severity("latest.severity", severity)
    })?
    else {
        return Ok(None);
    };
    Ok(Some(SevereFailure {
        org,
        check,
        severity,
        targets: u64::try_from(row.integer(3)?).unwrap_or(0),
    }))
}

fn agent_cadence(row: &dyn Columns) -> Result<Option<AgentCadence>, StoreError> {
    let (org, agent) = (row.text(0)?, row.text(1)?);
    let (last, previous) = (row.str(2)?, row.optional_str(3)?);
    let Some((last_report_at, previous_report_at)) =
        decode::row("agents", &(&org, &agent), || {
            Ok((
                parse_time("agents.last_report_at", last)?,
                previous
                    .map(|p| parse_time("reports.finished_at", p))
                    .transpose()?,
            ))
        })?
    else {
        return Ok(None);
    };
    Ok(Some(AgentCadence {
        org,
        agent,
        last_report_at,
        previous_report_at,
    }))
}

fn certificate_row(row: &dyn Columns) -> Result<Option<CertificateRow>, StoreError> {
    let (org, target, not_after) = (row.text(0)?, row.text(1)?, row.str(2)?);
    let Some(not_after) = decode::row("tls_certificates", &(&org, &target), || {
        parse_time("tls_certificates.not_after", not_after)
    })?
    else {
        return Ok(None);
    };
    Ok(Some(CertificateRow {
        org,
        target,
        not_after,
    }))
}

async fn card_state(db: &impl Db, org: &str) -> Result<Option<CardState>, StoreError> {
    let Some(detail) = queries::org(db, org).await? else {
        return Ok(None);
    };
    let key = params![org];
    let history = db
        .rows(&ORG_HISTORY, &key, "reading the status history", |row| {
            transition_row(org, row)
        })
        .await?;
    let newest_reports = db
        .rows(
            &NEWEST_REPORTS,
            &key,
            "reading the agents' newest reports",
            rows::first_text,
        )
        .await?;
    Ok(Some(CardState {
        detail,
        history,
        newest_reports,
    }))
}

/// What the sector's triage tables read, in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct TriageState {
    pub certificates: Vec<CertificateRow>,
    pub failures: Vec<SevereFailure>,
    pub agents: Vec<AgentCadence>,
}

async fn triage_state(db: &impl Db, before: DateTime<Utc>) -> Result<TriageState, StoreError> {
    let before = time_text(before);
    let certificates = db
        .rows(
            &CERTIFICATES_BEFORE,
            &params![&before],
            "listing expiring certificates",
            certificate_row,
        )
        .await?;
    let failures = db
        .rows(
            &SEVERE_FAILURES,
            &[],
            "listing severe failures",
            severe_failure,
        )
        .await?;
    let agents = db
        .rows(&AGENT_CADENCE, &[], "listing agents", agent_cadence)
        .await?;
    Ok(TriageState {
        certificates,
        failures,
        agents,
    })
}

impl Store {
    /// One organization's latest state, status history and agents' newest reports; `None`
    /// if the organization does not exist.
    pub async fn card_state(&self, org: &str) -> Result<Option<CardState>, StoreError> {
        let org = org.to_owned();
        on_backend!(self, read, snapshot; |db| card_state(db, &org))
    }

    /// The triage lists: current certificates expiring before `before`, critical and high
    /// failures by organization and check, every agent's last two reports.
    pub async fn triage_state(&self, before: DateTime<Utc>) -> Result<TriageState, StoreError> {
        on_backend!(self, read, snapshot; |db| triage_state(db, before))
    }
}
