//! The read API, `/metrics` and the other reads on SQLite: the shared texts of `sql`, the
//! shared decoders of `rows`, each answer in one read transaction.

use rusqlite::{params, Connection};

use super::super::audit::AuditEntry;
use super::super::orgmeta::OrgMeta;
use super::super::rows;
use super::super::sql::{self, sqlite_text};
use super::super::{MetricsSnapshot, OrgDetail, OrgSummary, StoreError, TransitionRow};
use super::{first, rows as query, sql as sql_error};
use crate::auth::Principal;

/// Starts a read transaction: the reads of one answer see the same state.
fn read(connection: &mut Connection) -> Result<rusqlite::Transaction<'_>, StoreError> {
    connection
        .transaction()
        .map_err(sql_error("starting a read transaction"))
}

pub(in super::super) fn find_token(
    connection: &Connection,
    hash: &str,
) -> Result<Option<Principal>, StoreError> {
    first(
        connection,
        sqlite_text!(sql::FIND_TOKEN),
        [hash],
        "looking up a token",
        rows::principal,
    )
}

pub(super) fn org_ids(connection: &Connection) -> Result<Vec<String>, StoreError> {
    query(
        connection,
        sql::ORG_IDS,
        [],
        "listing organizations",
        rows::first_text,
    )
}

fn finding_counts(connection: &Connection) -> Result<Vec<rows::FindingCount>, StoreError> {
    query(
        connection,
        sql::FINDING_COUNTS,
        [],
        "counting findings",
        rows::finding_count,
    )
}

fn tls_rows(connection: &Connection, org: Option<&str>) -> Result<Vec<rows::TlsRow>, StoreError> {
    query(
        connection,
        sqlite_text!(sql::TLS_ROWS),
        [org],
        "listing certificates",
        rows::tls_row,
    )
}

pub(in super::super) fn orgs(connection: &mut Connection) -> Result<Vec<OrgSummary>, StoreError> {
    let tx = read(connection)?;
    let agents = query(
        &tx,
        sql::AGENT_COUNTS,
        [],
        "counting agents",
        rows::agent_count,
    )?;
    Ok(rows::summaries(org_ids(&tx)?, agents, finding_counts(&tx)?))
}

pub(in super::super) fn org(
    connection: &mut Connection,
    org: &str,
) -> Result<Option<OrgDetail>, StoreError> {
    let tx = read(connection)?;
    let exists = first(
        &tx,
        sqlite_text!(sql::ORG_EXISTS),
        [org],
        "looking up the organization",
        |_| Ok(()),
    )?;
    if exists.is_none() {
        return Ok(None);
    }
    let agents = query(
        &tx,
        sqlite_text!(sql::ORG_AGENTS),
        [org],
        "listing agents",
        |row| rows::agent(org, row),
    )?;
    let findings = query(
        &tx,
        sqlite_text!(sql::ORG_FINDINGS),
        [org],
        "reading the latest findings",
        |row| rows::latest_finding(org, row),
    )?;
    let certificates = tls_rows(&tx, Some(org))?;
    Ok(Some(rows::org_detail(org, agents, findings, certificates)))
}

pub(in super::super) fn metrics_snapshot(
    connection: &mut Connection,
) -> Result<MetricsSnapshot, StoreError> {
    let tx = read(connection)?;
    Ok(rows::metrics_snapshot(
        org_ids(&tx)?,
        query(
            &tx,
            sql::AGENTS_SEEN,
            [],
            "listing agents",
            rows::agent_seen,
        )?,
        query(&tx, sql::CHECKS, [], "listing checks", rows::check_status)?,
        finding_counts(&tx)?,
        tls_rows(&tx, None)?,
        query(
            &tx,
            sql::FAMILY_FINDINGS,
            [],
            "listing the family verdicts",
            rows::family_finding,
        )?,
    ))
}

pub(in super::super) fn transitions(
    connection: &Connection,
    org: &str,
    target: &str,
    check: &str,
) -> Result<Vec<TransitionRow>, StoreError> {
    query(
        connection,
        sqlite_text!(sql::TRANSITIONS),
        params![org, target, check],
        "reading history",
        |row| rows::transition((org, target, check), row),
    )
}

pub(in super::super) fn regrade_candidates(
    connection: &mut Connection,
) -> Result<Vec<String>, StoreError> {
    query(
        connection,
        sql::REGRADE_CANDIDATES,
        [],
        "listing the reports to regrade",
        rows::first_text,
    )
}

pub(in super::super) fn report_body(
    connection: &Connection,
    report_id: &str,
) -> Result<Option<String>, StoreError> {
    first(
        connection,
        sqlite_text!(sql::REPORT_BODY),
        [report_id],
        "reading a stored report",
        |row| rows::Columns::text(row, 0),
    )
}

pub(in super::super) fn row_counts(
    connection: &mut Connection,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let tx = read(connection)?;
    sql::COUNTED_TABLES
        .iter()
        .map(|table| {
            // The table names are constants, never input.
            let count: i64 = tx
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
                .map_err(sql_error("counting rows"))?;
            Ok((*table, u64::try_from(count).unwrap_or(0)))
        })
        .collect()
}

pub(in super::super) fn audit_entries(
    connection: &mut Connection,
) -> Result<Vec<AuditEntry>, StoreError> {
    query(
        connection,
        sql::AUDIT_ENTRIES,
        [],
        "reading the audit log",
        rows::audit_entry,
    )
}

pub(in super::super) fn org_meta(connection: &mut Connection) -> Result<Vec<OrgMeta>, StoreError> {
    query(
        connection,
        sql::ORG_META,
        [],
        "reading organization metadata",
        rows::org_meta,
    )
}
