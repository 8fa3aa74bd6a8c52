//! Everything on SQLite besides reports and reads: opening and migrating the file,
//! readiness, tokens and the audit log, regrade, retention and organization metadata.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, Transaction, TransactionBehavior};

use super::super::audit::{fingerprint, AuditAction, AuditRecord};
use super::super::orgmeta::OrgMetaUpdate;
use super::super::rows::{self, time_text};
use super::super::sql::{self, sqlite_text};
use super::super::{migrations, Regrade, RegradeStep, StoreError};
use super::{first, rows as query, sql as sql_error};
use crate::auth::TokenKind;

/// How long a statement waits for another connection's lock (the `migrate` command or a
/// readiness probe) before failing.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// How long a readiness probe waits for the write lock.
const PING_BUSY_TIMEOUT_MS: u64 = 1_000;

/// Opens (creating if needed), configures and migrates the database.
/// Returns the schema versions before and after.
pub(super) fn open(path: &Path, apply: bool) -> Result<(Connection, u32, u32), StoreError> {
    let open_error = |error| StoreError::Open {
        path: path.to_owned(),
        error,
    };
    let mut connection = Connection::open(path).map_err(open_error)?;
    configure(&connection).map_err(open_error)?;
    let (from, to) = migrate(&mut connection, apply)?;
    Ok((connection, from, to))
}

/// A second connection to the migrated database, for reads beside the writer.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |error| StoreError::Open {
        path: path.to_owned(),
        error,
    };
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    connection
        .busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
        .map_err(open_error)?;
    connection
        .execute_batch("PRAGMA query_only = ON;")
        .map_err(open_error)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))?;
    // journal_mode answers with a row, so it is read rather than executed.
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite refused WAL mode; reads will wait for writes");
    }
    // A 64 MiB page cache (the default is 2 MiB): the latest-state index of thousands of
    // agents stays in memory instead of being read back for every report.
    connection.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;",
    )?;
    Ok(())
}

fn migrate(connection: &mut Connection, apply: bool) -> Result<(u32, u32), StoreError> {
    connection
        .execute_batch(sql::CREATE_SCHEMA_MIGRATIONS)
        .map_err(sql_error("creating schema_migrations"))?;
    let current = schema_version(connection)?;
    let Some(pending) = migrations::pending(migrations::SQLITE, current, apply)? else {
        return Ok((current, current));
    };
    for &(version, name, text) in pending {
        let failed = |error| StoreError::Migrate {
            version,
            name,
            error,
        };
        // Each migration and its record commit together, so a crash leaves it applied
        // and recorded, or neither.
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        tx.execute_batch(text).map_err(failed)?;
        tx.execute(
            sqlite_text!(sql::RECORD_MIGRATION),
            params![version, name, time_text(Utc::now())],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version, name, "applied database migration");
    }
    Ok((current, pending.last().map_or(current, |m| m.0)))
}

pub(in super::super) fn schema_version(connection: &Connection) -> Result<u32, StoreError> {
    connection
        .query_row(sql::SCHEMA_VERSION, [], |row| row.get(0))
        .map_err(sql_error("reading the schema version"))
}

/// Reads every table the read paths read (see [`sql::READINESS_READ`]).
pub(super) fn readiness_read(connection: &Connection) -> Result<(), StoreError> {
    connection
        .prepare_cached(sql::READINESS_READ)
        .map_err(sql_error("preparing the readiness read"))?
        .query_row([], |_| Ok(()))
        .map_err(sql_error("reading the tables for the readiness check"))
}

/// Opens the file anew, without creating it, reads from it and takes the write lock for a
/// moment: ready means a report could be stored now.
pub(super) fn ping_file(path: &Path) -> Result<(), StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| StoreError::Open {
        path: path.to_owned(),
        error,
    })?;
    connection
        .busy_timeout(std::time::Duration::from_millis(PING_BUSY_TIMEOUT_MS))
        .map_err(sql_error("setting busy_timeout"))?;
    schema_version(&connection)?;
    connection
        .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(sql_error("taking the write lock"))
}

/// Writes one audit row with `connection` (inside the caller's transaction, if any).
pub(in super::super) fn record(
    connection: &Connection,
    action: AuditAction,
    record: &AuditRecord<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(sqlite_text!(sql::AUDIT))
        .and_then(|mut statement| {
            statement.execute(params![
                time_text(at),
                action.as_str(),
                record.actor,
                record.kind.map(TokenKind::as_str),
                record.org,
                record.name,
                record.token_hash.map(fingerprint),
                record.detail,
            ])
        })
        .map(drop)
        .map_err(sql_error("writing the audit log"))
}

/// Stores a token's hash, creating its organization if new, and audits it.
fn insert_token_in(
    tx: &Transaction<'_>,
    hash: &str,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        sqlite_text!(sql::INSERT_TOKEN),
        params![hash, kind.as_str(), org, name, time_text(at)],
    )
    .map_err(sql_error(match detail {
        Some(_) => "storing the new token hash",
        None => "storing the token hash",
    }))?;
    record(
        tx,
        AuditAction::TokenCreate,
        &AuditRecord {
            actor: "cli",
            kind: Some(kind),
            org,
            name: Some(name),
            token_hash: Some(hash),
            detail,
        },
        at,
    )
}

pub(in super::super) fn insert_token(
    connection: &mut Connection,
    hash: &str,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error("starting the token transaction"))?;
    if let Some(org) = org {
        tx.execute(sqlite_text!(sql::CREATE_ORG), params![org, time_text(at)])
            .map_err(sql_error("creating the organization"))?;
    }
    insert_token_in(&tx, hash, kind, org, name, None, at)?;
    tx.commit().map_err(sql_error("committing the token"))
}

/// Revokes the active tokens of `kind`, `org`, `name` and, for a rotation, stores the new
/// one, in one transaction, auditing each; returns how many were revoked (none: nothing is
/// changed).
pub(in super::super) fn revoke_or_rotate(
    connection: &mut Connection,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    new_hash: Option<&str>,
) -> Result<usize, StoreError> {
    let now = Utc::now();
    let (detail, starting, committing) = match new_hash {
        Some(_) => (
            "rotated",
            "starting the rotation",
            "committing the rotation",
        ),
        None => (
            "revoked",
            "starting the revocation",
            "committing the revocation",
        ),
    };
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error(starting))?;
    let hashes = query(
        &tx,
        "SELECT hash FROM tokens
         WHERE kind = ?1 AND org IS ?2 AND name = ?3 AND revoked_at IS NULL",
        params![kind.as_str(), org, name],
        "finding the tokens to revoke",
        rows::first_text,
    )?;
    if hashes.is_empty() {
        return Ok(0);
    }
    for hash in &hashes {
        tx.execute(
            sqlite_text!(sql::REVOKE_TOKEN),
            params![time_text(now), hash],
        )
        .map_err(sql_error("revoking a token"))?;
        record(
            &tx,
            AuditAction::TokenRevoke,
            &AuditRecord {
                actor: "cli",
                kind: Some(kind),
                org,
                name: Some(name),
                token_hash: Some(hash),
                detail: Some(detail),
            },
            now,
        )?;
    }
    if let Some(hash) = new_hash {
        insert_token_in(&tx, hash, kind, org, name, Some("rotation"), now)?;
    }
    tx.commit().map_err(sql_error(committing))?;
    Ok(hashes.len())
}

/// Applies regraded findings of one report; see [`super::super::Store::apply_regrade`].
pub(in super::super) fn apply_regrade(
    connection: &mut Connection,
    regrade: &Regrade,
) -> Result<(u64, u64), StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error("starting the regrade"))?;
    let at = time_text(regrade.at);
    let (mut changed, mut added) = (0, 0);
    for finding in &regrade.findings {
        let (check, status) = (finding.check.as_str(), finding.status.as_str());
        let evidence =
            serde_json::to_string(&finding.evidence).map_err(|error| StoreError::Serialize {
                what: "finding evidence",
                error,
            })?;
        let current = first(
            &tx,
            sqlite_text!(sql::REGRADE_CURRENT),
            params![regrade.org, finding.target, check],
            "reading the latest state",
            rows::regrade_current,
        )?;
        let from = match super::super::regrade_step(current.as_ref(), regrade, finding) {
            RegradeStep::Keep => continue,
            RegradeStep::Add => {
                tx.execute(
                    sqlite_text!(sql::REGRADE_ADD),
                    params![
                        regrade.org,
                        finding.target,
                        check,
                        status,
                        finding.severity.as_str(),
                        finding.summary,
                        finding.remediation,
                        evidence,
                        regrade.report_id,
                        time_text(regrade.finished_at),
                        at
                    ],
                )
                .map_err(sql_error("adding a regraded verdict"))?;
                added += 1;
                // A transition from nothing.
                Some(None)
            }
            RegradeStep::Update { from } => {
                tx.execute(
                    sqlite_text!(sql::REGRADE_UPDATE),
                    params![
                        regrade.org,
                        finding.target,
                        check,
                        status,
                        finding.severity.as_str(),
                        finding.summary,
                        finding.remediation,
                        evidence,
                        at
                    ],
                )
                .map_err(sql_error("updating a regraded verdict"))?;
                changed += 1;
                from.map(Some)
            }
        };
        if let Some(from) = from {
            tx.execute(
                sqlite_text!(sql::INSERT_TRANSITION),
                params![
                    regrade.org,
                    finding.target,
                    check,
                    from,
                    status,
                    at,
                    regrade.report_id
                ],
            )
            .map_err(sql_error("recording a regraded transition"))?;
        }
    }
    tx.commit().map_err(sql_error("committing the regrade"))?;
    Ok((changed, added))
}

/// Deletes up to `limit` reports received before `before` that no current-state row points
/// at, in one transaction; returns how many. Small batches keep the writer free for ingests.
pub(in super::super) fn prune(
    connection: &mut Connection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error("starting the pruning"))?;
    let deleted = tx
        .execute(sqlite_text!(sql::PRUNE), params![time_text(before), limit])
        .map_err(sql_error("pruning old reports"))?;
    tx.commit().map_err(sql_error("committing the pruning"))?;
    Ok(deleted as u64)
}

/// Stores organization metadata changes, all or none; every organization must exist.
pub(in super::super) fn set_org_meta(
    connection: &mut Connection,
    updates: &[OrgMetaUpdate],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = time_text(now);
    let tx = connection
        .transaction()
        .map_err(sql_error("starting the metadata update"))?;
    for u in updates {
        let known = first(
            &tx,
            sqlite_text!(sql::ORG_EXISTS),
            [&u.org],
            "looking up an organization",
            |_| Ok(()),
        )?;
        if known.is_none() {
            return Err(StoreError::UnknownOrg(u.org.chars().take(64).collect()));
        }
        tx.execute(
            sqlite_text!(sql::ORG_META_UPSERT),
            params![u.org, u.region, u.size_band, now],
        )
        .map_err(sql_error("storing organization metadata"))?;
    }
    tx.commit()
        .map_err(sql_error("committing organization metadata"))?;
    Ok(updates.len())
}
