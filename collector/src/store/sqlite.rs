//! Every SQL statement of the collector, for SQLite.
//!
//! Durability: `journal_mode=WAL` with `synchronous=FULL`. WAL lets `/metrics` and the read
//! API run while a report is written; FULL syncs the WAL on every commit, so a report the
//! collector acknowledged survives a power loss (NORMAL would only keep the database
//! consistent, possibly losing the last acknowledged reports, and the agent would already
//! have deleted them from its outbox). One fsync per report is cheap at a sector's rate.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use vigie_model::{Severity, Status, TlsProbeResult};

use vigie_matrix::{Answer, FindingFact};

use super::decode;
use super::{
    AgentRow, FindingCounts, IncomingReport, IngestOutcome, LatestFinding, MatrixState,
    MetricsSnapshot, OrgDetail, OrgSummary, StoreError, TlsCertificateRow,
};
use crate::auth::{Principal, TokenKind};

/// The migrations, applied in order, each once; `schema_migrations` records them.
pub(super) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "assessments",
        include_str!("../../migrations/0002_assessments.sql"),
    ),
    (3, "audit", include_str!("../../migrations/0003_audit.sql")),
    (
        4,
        "current_state",
        include_str!("../../migrations/0004_current_state.sql"),
    ),
    (
        5,
        "retention",
        include_str!("../../migrations/0005_retention.sql"),
    ),
    (
        6,
        "org_meta",
        include_str!("../../migrations/0006_org_meta.sql"),
    ),
    (
        7,
        "matrix_snapshots",
        include_str!("../../migrations/0007_matrix_snapshots.sql"),
    ),
    (
        8,
        "latest_by_agent",
        include_str!("../../migrations/0008_latest_by_agent.sql"),
    ),
    (
        9,
        "report_compression",
        include_str!("../../migrations/0009_report_compression.sql"),
    ),
    (
        10,
        "scraper_tokens",
        include_str!("../../migrations/0010_scraper_tokens.sql"),
    ),
    (
        11,
        "org_report_bytes",
        include_str!("../../migrations/0011_org_report_bytes.sql"),
    ),
];

/// How long a statement waits for another connection's lock (the `migrate` command or a
/// readiness probe) before failing.
const BUSY_TIMEOUT_MS: u32 = 5_000;

pub(super) fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| StoreError::Sqlite { operation, error }
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
pub(super) fn certificate_time_text(time: DateTime<Utc>) -> String {
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

pub(super) fn parse_status(column: &'static str, value: &str) -> Result<Status, StoreError> {
    Status::ALL
        .into_iter()
        .find(|s| s.as_str() == value)
        .ok_or_else(|| StoreError::Corrupt {
            column,
            value: value.to_owned(),
        })
}

pub(super) fn parse_severity(column: &'static str, value: &str) -> Result<Severity, StoreError> {
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == value)
        .ok_or_else(|| StoreError::Corrupt {
            column,
            value: value.to_owned(),
        })
}

pub(super) fn parse_date(
    column: &'static str,
    value: &str,
) -> Result<chrono::NaiveDate, StoreError> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| StoreError::Corrupt {
        column,
        value: value.to_owned(),
    })
}

/// The parsed columns of a `current_latest` row: status, severity, evidence, observed_at
/// and since.
pub(super) type LatestValues = (
    Status,
    Severity,
    serde_json::Value,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Parses the columns of [`LatestValues`].
pub(super) fn latest_values(
    status: &str,
    severity: &str,
    evidence: &str,
    observed_at: &str,
    since: &str,
) -> Result<LatestValues, StoreError> {
    Ok((
        parse_status("latest.status", status)?,
        parse_severity("latest.severity", severity)?,
        serde_json::from_str(evidence).map_err(|_| StoreError::Corrupt {
            column: "latest.evidence",
            value: evidence.chars().take(64).collect(),
        })?,
        parse_time("latest.observed_at", observed_at)?,
        parse_time("latest.since", since)?,
    ))
}

/// The parsed columns of a `transitions` row: from_status, to_status and at.
pub(super) fn transition_values(
    from: Option<&str>,
    to: &str,
    at: &str,
) -> Result<(Option<Status>, Status, DateTime<Utc>), StoreError> {
    Ok((
        from.map(|f| parse_status("transitions.from_status", f))
            .transpose()?,
        parse_status("transitions.to_status", to)?,
        parse_time("transitions.at", at)?,
    ))
}

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
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY NOT NULL,
                 name       TEXT NOT NULL,
                 applied_at TEXT NOT NULL
             )",
        )
        .map_err(sql("creating schema_migrations"))?;
    let current = schema_version(connection)?;
    let Some(pending) = super::pending_migrations(MIGRATIONS, current, apply)? else {
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
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, time_text(Utc::now())],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version, name, "applied database migration");
    }
    Ok((current, pending.last().map_or(current, |m| m.0)))
}

pub(super) fn schema_version(connection: &Connection) -> Result<u32, StoreError> {
    connection
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(sql("reading the schema version"))
}

/// Reads every table the read paths read (see [`super::READINESS_READ`]).
pub(super) fn readiness_read(connection: &Connection) -> Result<(), StoreError> {
    connection
        .prepare_cached(super::READINESS_READ)
        .map_err(sql("preparing the readiness read"))?
        .query_row([], |_| Ok(()))
        .map_err(sql("reading the tables for the readiness check"))
}

/// How long a readiness probe waits for the write lock.
const PING_BUSY_TIMEOUT_MS: u64 = 1_000;

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
        .map_err(sql("setting busy_timeout"))?;
    schema_version(&connection)?;
    connection
        .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(sql("taking the write lock"))
}

pub(super) fn insert_token(
    connection: &mut Connection,
    hash: &str,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = time_text(at);
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the token transaction"))?;
    if let Some(org) = org {
        tx.execute(
            "INSERT INTO orgs (org, created_at) VALUES (?1, ?2) ON CONFLICT (org) DO NOTHING",
            params![org, now],
        )
        .map_err(sql("creating the organization"))?;
    }
    tx.execute(
        "INSERT INTO tokens (hash, kind, org, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash, kind.as_str(), org, name, now],
    )
    .map_err(sql("storing the token hash"))?;
    super::audit::record(
        &tx,
        super::audit::AuditAction::TokenCreate,
        &super::audit::AuditRecord {
            actor: "cli",
            kind: Some(kind),
            org,
            name: Some(name),
            token_hash: Some(hash),
            detail: None,
        },
        at,
    )?;
    tx.commit().map_err(sql("committing the token"))
}

pub(super) fn find_token(
    connection: &Connection,
    hash: &str,
) -> Result<Option<Principal>, StoreError> {
    let row: Option<(String, Option<String>, String)> = connection
        .query_row(
            "SELECT kind, org, name FROM tokens WHERE hash = ?1 AND revoked_at IS NULL",
            [hash],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(sql("looking up a token"))?;
    let Some((kind, org, name)) = row else {
        return Ok(None);
    };
    match (TokenKind::from_stored(&kind), org) {
        (Some(TokenKind::Agent), Some(org)) => Ok(Some(Principal::Agent { org, name })),
        (Some(TokenKind::Viewer), None) => Ok(Some(Principal::Viewer { name })),
        (Some(TokenKind::Scraper), None) => Ok(Some(Principal::Scraper { name })),
        _ => Err(StoreError::Corrupt {
            column: "tokens.kind",
            value: kind,
        }),
    }
}

/// Stores a batch of reports in one transaction (group commit: one fsync for all), each in
/// a savepoint of its own so that a report that fails leaves the others stored, and sends
/// each report's answer only once the transaction has committed.
pub(super) fn ingest_batch(connection: &mut Connection, batch: Vec<super::PendingIngest>) {
    let fail_all = |batch: Vec<super::PendingIngest>, operation, error: &rusqlite::Error| {
        for (incoming, answer) in batch {
            let _ = answer.send((
                Err(StoreError::Sqlite {
                    operation,
                    error: copy_error(error),
                }),
                incoming,
            ));
        }
    };
    // IMMEDIATE takes the write lock now, so that the existence checks and the inserts
    // cannot interleave with another writer on the same file.
    let mut tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => return fail_all(batch, "starting the ingest transaction", &error),
    };
    let mut answers = Vec::with_capacity(batch.len());
    for (incoming, answer) in batch {
        let outcome = match tx.savepoint() {
            Ok(mut savepoint) => {
                // Dropped without commit, a savepoint rolls back.
                savepoint.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                ingest_in(&savepoint, &incoming).and_then(|outcome| {
                    savepoint
                        .commit()
                        .map_err(sql("releasing the report's savepoint"))?;
                    Ok(outcome)
                })
            }
            Err(error) => Err(StoreError::Sqlite {
                operation: "starting the report's savepoint",
                error,
            }),
        };
        answers.push((answer, outcome, incoming));
    }
    match tx.commit() {
        Ok(()) => {
            for (answer, outcome, incoming) in answers {
                let _ = answer.send((outcome, incoming));
            }
        }
        Err(error) => {
            for (answer, outcome, incoming) in answers {
                let outcome = outcome.and(Err(StoreError::Sqlite {
                    operation: "committing the reports",
                    error: copy_error(&error),
                }));
                let _ = answer.send((outcome, incoming));
            }
        }
    }
}

/// The same error for each report of a failed batch (rusqlite's error is not `Clone`).
fn copy_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// [`IngestOutcome::OverBudget`] when the report would take its organization past its
/// storage budget: one read of `orgs.report_bytes`, which triggers keep (migration 0011).
fn over_storage_budget(
    tx: &Connection,
    incoming: &IncomingReport,
) -> Result<Option<IngestOutcome>, StoreError> {
    if incoming.storage_budget.is_none() {
        return Ok(None);
    }
    let used: i64 = tx
        .prepare_cached("SELECT report_bytes FROM orgs WHERE org = ?1")
        .map_err(sql("preparing the storage lookup"))?
        .query_row([&incoming.report.org], |row| row.get(0))
        .optional()
        .map_err(sql("reading the organization's stored bytes"))?
        .unwrap_or(0);
    Ok(incoming
        .over_budget(u64::try_from(used).unwrap_or(0))
        .map(|(used, budget)| IngestOutcome::OverBudget { used, budget }))
}

/// Stores one report inside the caller's transaction (or savepoint).
fn ingest_in(tx: &Connection, incoming: &IncomingReport) -> Result<IngestOutcome, StoreError> {
    let report = &incoming.report;
    let report_id = report.report_id.to_string();
    let org = report.org.as_str();
    let finished_at = time_text(report.finished_at);
    let received_at = time_text(incoming.received_at);

    // Every statement of the ingest is prepared once per connection: parsing and planning
    // them anew showed in the profile of the load test.
    let existing: Option<(String, String)> = tx
        .prepare_cached("SELECT body_sha256, received_at FROM reports WHERE report_id = ?1")
        .map_err(sql("preparing the report lookup"))?
        .query_row([&report_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(sql("looking up the report id"))?;
    if let Some((sha256, first_received_at)) = existing {
        // Nothing was written.
        let same = sha256 == incoming.body_sha256 || {
            let body: String = tx
                .query_row(
                    "SELECT body FROM reports WHERE report_id = ?1",
                    [&report_id],
                    |row| row.get(0),
                )
                .map_err(sql("reading the stored report"))?;
            super::canonical::same_report(&body, &incoming.body)
        };
        return Ok(if same {
            IngestOutcome::Duplicate {
                received_at: first_received_at,
            }
        } else {
            IngestOutcome::Conflict
        });
    }
    if let Some(over) = over_storage_budget(tx, incoming)? {
        return Ok(over);
    }

    tx.prepare_cached(
        "INSERT INTO reports (report_id, org, agent_id, body_sha256, received_at, started_at,
                              finished_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(sql("preparing the report insert"))?
    .execute(params![
        report_id,
        org,
        report.agent.id,
        incoming.body_sha256,
        received_at,
        time_text(report.started_at),
        finished_at,
        incoming.body,
    ])
    .map_err(sql("storing the report"))?;

    // The agent's newest report before this one: a report that finished earlier arrives late
    // (an outbox backlog) and is kept in `reports` but changes nothing newer.
    let newest: Option<(String, Option<String>)> = tx
        .prepare_cached(
            "SELECT last_report_at, last_report_id FROM agents WHERE org = ?1 AND agent_id = ?2",
        )
        .map_err(sql("preparing the agent lookup"))?
        .query_row(params![org, report.agent.id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(sql("looking up the agent"))?;
    // Decided in Rust, as times (see `plan::is_late`); the writer thread is the only writer.
    let late = super::plan::is_late(newest.as_ref().map(|(at, _)| at.as_str()), incoming);
    if !late {
        tx.prepare_cached(
            "INSERT INTO agents (org, agent_id, hostname, version, last_report_at,
                                 last_report_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, agent_id) DO UPDATE SET
                 hostname = excluded.hostname,
                 version = excluded.version,
                 last_report_at = excluded.last_report_at,
                 last_report_id = excluded.last_report_id",
        )
        .map_err(sql("preparing the agent update"))?
        .execute(params![
            org,
            report.agent.id,
            report.agent.hostname,
            report.agent.version,
            finished_at,
            report_id
        ])
        .map_err(sql("recording the agent"))?;
        update_latest(tx, incoming, &report_id, &finished_at, newest)?;
    }

    {
        let mut certificate = tx
            .prepare_cached(
                "INSERT INTO tls_certificates (org, target, not_after, observed_at, report_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (org, target) DO UPDATE SET
                     not_after = excluded.not_after, observed_at = excluded.observed_at,
                     report_id = excluded.report_id
                 WHERE excluded.observed_at >= tls_certificates.observed_at",
            )
            .map_err(sql("preparing the certificate update"))?;
        for observation in &report.observations.tls {
            let TlsProbeResult::Handshake(handshake) = &observation.result else {
                continue;
            };
            // The server sends its leaf first (RFC 8446 §4.4.2).
            let Some(leaf) = handshake.certificates.first() else {
                continue;
            };
            certificate
                .execute(params![
                    org,
                    observation.target,
                    certificate_time_text(leaf.not_after),
                    time_text(observation.observed_at),
                    report_id
                ])
                .map_err(sql("recording a certificate expiry"))?;
        }
    }

    Ok(IngestOutcome::Stored { received_at })
}

/// A text column of `latest`, borrowed from the row.
fn text<'a>(row: &'a rusqlite::Row<'_>, column: usize) -> Result<&'a str, StoreError> {
    row.get_ref(column)
        .map_err(sql("reading the agent's latest state"))?
        .as_str()
        .map_err(|_| corrupt_column("latest"))
}

fn corrupt_column(column: &'static str) -> StoreError {
    StoreError::Corrupt {
        column,
        value: "a value that is not text".to_owned(),
    }
}

/// Brings `latest` to what a report that is not late says, writing only what changed (see
/// [`super::plan`]). `previous_report` is the agent's newest report before this one
/// (`finished_at`, `report_id`): the report that last carried the rows this one retires.
fn update_latest(
    tx: &Connection,
    incoming: &IncomingReport,
    report_id: &str,
    finished_at: &str,
    previous_report: Option<(String, Option<String>)>,
) -> Result<(), StoreError> {
    use super::plan::{self, Stored};
    let report = &incoming.report;
    let org = report.org.as_str();
    let mut stored = plan::StoredRows::default();
    let mut unchanged = plan::Unchanged::new(incoming);
    {
        let mut mine = tx
            .prepare_cached(
                "SELECT target, check_id, status, severity, summary, remediation, evidence,
                        since, observed_at
                 FROM latest WHERE org = ?1 AND agent_id = ?2 AND retired = 0",
            )
            .map_err(sql("preparing the agent's latest state"))?;
        let mut rows = mine
            .query(params![org, report.agent.id])
            .map_err(sql("reading the agent's latest state"))?;
        // Bounded by the agent's rows.
        while let Some(row) = rows
            .next()
            .map_err(sql("reading the agent's latest state"))?
        {
            // Compared in place first: copied out only when it differs or goes.
            if unchanged.matches(
                text(row, 0)?,
                text(row, 1)?,
                text(row, 2)?,
                text(row, 3)?,
                text(row, 4)?,
                row.get_ref(5)
                    .map_err(sql("reading the agent's latest state"))?
                    .as_str_or_null()
                    .map_err(|_| corrupt_column("latest.remediation"))?,
                text(row, 6)?,
            ) {
                continue;
            }
            let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(String, String, Stored)> {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    Stored {
                        status: row.get(2)?,
                        severity: row.get(3)?,
                        summary: row.get(4)?,
                        remediation: row.get(5)?,
                        evidence: row.get(6)?,
                        since: row.get(7)?,
                        observed_at: row.get(8)?,
                        agent_current: true,
                        ..Stored::default()
                    },
                ))
            };
            let (target, check, row) =
                read(row).map_err(sql("reading the agent's latest state"))?;
            stored.insert(target, check, row);
        }
    }
    {
        // Keys the agent does not hold now: new, retired, or another agent's (whose verdict
        // counts as observed at that agent's newest report). None in the steady state.
        let mut other = tx
            .prepare_cached(
                "SELECT l.status, l.severity, l.summary, l.remediation, l.evidence, l.since,
                        CASE WHEN l.retired = 0 AND a.last_report_at IS NOT NULL
                             THEN a.last_report_at ELSE l.observed_at END
                 FROM latest l
                 LEFT JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
                 WHERE l.org = ?1 AND l.target = ?2 AND l.check_id = ?3",
            )
            .map_err(sql("preparing the latest-state lookup"))?;
        for (i, finding) in report.findings.iter().enumerate() {
            let (target, check) = (finding.target.as_str(), finding.check.as_str());
            if unchanged.is_unchanged(i) || stored.contains(target, check) {
                continue;
            }
            let row = other
                .query_row(params![org, target, check], |row| {
                    Ok(Stored {
                        status: row.get(0)?,
                        severity: row.get(1)?,
                        summary: row.get(2)?,
                        remediation: row.get(3)?,
                        evidence: row.get(4)?,
                        since: row.get(5)?,
                        observed_at: row.get(6)?,
                        agent_current: false,
                        ..Stored::default()
                    })
                })
                .optional()
                .map_err(sql("reading the latest state"))?;
            if let Some(row) = row {
                stored.insert(target.to_owned(), check.to_owned(), row);
            }
        }
    }
    let plan = plan::plan_with(incoming, finished_at, stored, Some(&unchanged));

    let mut transition = tx
        .prepare_cached(
            "INSERT INTO transitions (org, target, check_id, from_status, to_status, at,
                                      report_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(sql("preparing the history insert"))?;
    for change in &plan.transitions {
        transition
            .execute(params![
                org,
                change.target,
                change.check,
                change.from,
                change.to,
                finished_at,
                report_id
            ])
            .map_err(sql("recording a status transition"))?;
    }
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO latest (org, target, check_id, status, severity, summary, remediation,
                                 evidence, report_id, observed_at, since, agent_id, retired)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0)
             ON CONFLICT (org, target, check_id) DO UPDATE SET
                 status = excluded.status, severity = excluded.severity,
                 summary = excluded.summary, remediation = excluded.remediation,
                 evidence = excluded.evidence, report_id = excluded.report_id,
                 observed_at = excluded.observed_at, since = excluded.since,
                 agent_id = excluded.agent_id, retired = 0",
        )
        .map_err(sql("preparing the latest-state update"))?;
    for write in &plan.writes {
        let Some(finding) = report.findings.get(write.finding) else {
            continue;
        };
        upsert
            .execute(params![
                org,
                finding.target,
                finding.check.as_str(),
                finding.status.as_str(),
                finding.severity.as_str(),
                finding.summary,
                finding.remediation,
                write.evidence,
                report_id,
                finished_at,
                write.since,
                report.agent.id
            ])
            .map_err(sql("updating the latest state"))?;
    }
    if !plan.retire.is_empty() {
        let (last_at, last_id) = previous_report.unzip();
        let last_id = last_id.flatten();
        let mut retire = tx
            .prepare_cached(
                "UPDATE latest SET retired = 1,
                     report_id = COALESCE(?4, report_id), observed_at = COALESCE(?5, observed_at)
                 WHERE org = ?1 AND target = ?2 AND check_id = ?3",
            )
            .map_err(sql("preparing the retirement of a verdict"))?;
        for (target, check) in &plan.retire {
            retire
                .execute(params![org, target, check, last_id, last_at])
                .map_err(sql("retiring a verdict the report no longer carries"))?;
        }
    }
    Ok(())
}

fn finding_counts(
    connection: &Connection,
) -> Result<Vec<(String, Status, Severity, u64)>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT org, status, severity, COUNT(*) FROM current_latest
             GROUP BY org, status, severity ORDER BY org, status, severity",
        )
        .map_err(sql("preparing the finding counts"))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })
        .map_err(sql("counting findings"))?;
    let mut counts = Vec::new();
    for row in rows {
        let (org, status, severity, count) = row.map_err(sql("counting findings"))?;
        let Some((status, severity)) = decode::row("latest", &(&org, &status, &severity), || {
            Ok((
                parse_status("latest.status", &status)?,
                parse_severity("latest.severity", &severity)?,
            ))
        })?
        else {
            continue;
        };
        counts.push((org, status, severity, u64::try_from(count).unwrap_or(0)));
    }
    Ok(counts)
}

fn org_ids(connection: &Connection) -> Result<Vec<String>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT org FROM orgs ORDER BY org")
        .map_err(sql("preparing the organization list"))?;
    let rows = statement
        .query_map([], |row| row.get(0))
        .map_err(sql("listing organizations"))?;
    rows.collect::<Result<_, _>>()
        .map_err(sql("listing organizations"))
}

pub(super) fn orgs(connection: &mut Connection) -> Result<Vec<OrgSummary>, StoreError> {
    // One read transaction, so that the three queries see the same state.
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    let mut summaries: Vec<OrgSummary> = org_ids(&tx)?
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
    {
        let mut statement = tx
            .prepare_cached("SELECT org, COUNT(*), MAX(last_report_at) FROM agents GROUP BY org")
            .map_err(sql("preparing the agent counts"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(sql("counting agents"))?;
        for row in rows {
            let (org, agents, last) = row.map_err(sql("counting agents"))?;
            if let Some(i) = index(&summaries, &org) {
                summaries[i].agents = u64::try_from(agents).unwrap_or(0);
                summaries[i].last_report_at = decode::row("agents", &org, || {
                    parse_time("agents.last_report_at", &last)
                })?;
            }
        }
    }
    for (org, status, severity, count) in finding_counts(&tx)? {
        if let Some(i) = index(&summaries, &org) {
            summaries[i].findings.add(status, severity, count);
        }
    }
    Ok(summaries)
}

pub(super) fn org(connection: &mut Connection, org: &str) -> Result<Option<OrgDetail>, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    let exists = tx
        .query_row("SELECT 1 FROM orgs WHERE org = ?1", [org], |_| Ok(()))
        .optional()
        .map_err(sql("looking up the organization"))?;
    if exists.is_none() {
        return Ok(None);
    }

    let mut agents = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT agent_id, hostname, version, last_report_at FROM agents
                 WHERE org = ?1 ORDER BY agent_id",
            )
            .map_err(sql("preparing the agent list"))?;
        let rows = statement
            .query_map([org], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(sql("listing agents"))?;
        for row in rows {
            let (id, hostname, version, last) = row.map_err(sql("listing agents"))?;
            let Some(last_report_at) = decode::row("agents", &(org, &id), || {
                parse_time("agents.last_report_at", &last)
            })?
            else {
                continue;
            };
            agents.push(AgentRow {
                id,
                hostname,
                version,
                last_report_at,
            });
        }
    }

    let mut findings = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT check_id, target, status, severity, summary, remediation, evidence,
                        report_id, observed_at, since
                 FROM current_latest WHERE org = ?1 ORDER BY target, check_id",
            )
            .map_err(sql("preparing the latest findings"))?;
        let rows = statement
            .query_map([org], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                    row.get::<_, String>(9)?,
                ))
            })
            .map_err(sql("reading the latest findings"))?;
        for row in rows {
            let (
                check,
                target,
                status,
                severity,
                summary,
                remediation,
                evidence,
                report_id,
                observed,
                since,
            ) = row.map_err(sql("reading the latest findings"))?;
            let Some((status, severity, evidence, observed_at, since)) =
                decode::row("latest", &(org, &target, &check), || {
                    latest_values(&status, &severity, &evidence, &observed, &since)
                })?
            else {
                continue;
            };
            findings.push(LatestFinding {
                check,
                target,
                status,
                severity,
                summary,
                remediation,
                evidence,
                report_id,
                observed_at,
                since,
            });
        }
    }

    let tls_certificates = tls_rows(&tx, Some(org))?
        .into_iter()
        .map(|(_, target, not_after, observed_at)| TlsCertificateRow {
            target,
            not_after,
            observed_at,
        })
        .collect();

    Ok(Some(OrgDetail {
        id: org.to_owned(),
        agents,
        findings,
        tls_certificates,
    }))
}

type TlsRow = (String, String, DateTime<Utc>, DateTime<Utc>);

fn tls_rows(connection: &Connection, org: Option<&str>) -> Result<Vec<TlsRow>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT org, target, not_after, observed_at FROM current_tls_certificates
             WHERE ?1 IS NULL OR org = ?1 ORDER BY org, target",
        )
        .map_err(sql("preparing the certificate list"))?;
    let rows = statement
        .query_map([org], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .map_err(sql("listing certificates"))?;
    let mut out = Vec::new();
    for row in rows {
        let (org, target, not_after, observed) = row.map_err(sql("listing certificates"))?;
        let Some((not_after, observed_at)) =
            decode::row("tls_certificates", &(&org, &target), || {
                Ok((
                    parse_time("tls_certificates.not_after", &not_after)?,
                    parse_time("tls_certificates.observed_at", &observed)?,
                ))
            })?
        else {
            continue;
        };
        out.push((org, target, not_after, observed_at));
    }
    Ok(out)
}

pub(super) fn metrics_snapshot(connection: &mut Connection) -> Result<MetricsSnapshot, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    let orgs = org_ids(&tx)?;

    let mut agents = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT org, agent_id, last_report_at FROM agents ORDER BY org, agent_id",
            )
            .map_err(sql("preparing the agent list"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(sql("listing agents"))?;
        for row in rows {
            let (org, agent, last) = row.map_err(sql("listing agents"))?;
            let Some(last) = decode::row("agents", &(&org, &agent), || {
                parse_time("agents.last_report_at", &last)
            })?
            else {
                continue;
            };
            agents.push((org, agent, last));
        }
    }

    let mut checks = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT org, target, check_id, status FROM current_latest ORDER BY org, target, check_id",
            )
            .map_err(sql("preparing the check list"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(sql("listing checks"))?;
        for row in rows {
            let (org, target, check, status) = row.map_err(sql("listing checks"))?;
            let Some(status) = decode::row("latest", &(&org, &target, &check), || {
                parse_status("latest.status", &status)
            })?
            else {
                continue;
            };
            checks.push((org, target, check, status));
        }
    }

    let finding_counts = finding_counts(&tx)?;
    let tls_not_after = tls_rows(&tx, None)?
        .into_iter()
        .map(|(org, target, not_after, _)| (org, target, not_after))
        .collect();
    Ok(MetricsSnapshot {
        orgs,
        agents,
        checks,
        finding_counts,
        tls_not_after,
        capability_levels: Vec::new(),
        family: crate::family_metrics::derive(&family_findings(&tx)?),
    })
}

/// The latest verdicts the per-family gauges are derived from, with their evidence.
fn family_findings(
    connection: &Connection,
) -> Result<Vec<crate::family_metrics::LatestFinding>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT org, target, check_id, status, severity, evidence FROM current_latest \
             WHERE check_id LIKE 'tls.protocol.%' OR check_id LIKE 'service.%' \
             OR check_id IN ('email.dmarc.policy', 'email.dmarc.missing', \
                             'host.updates.security', 'host.os.eol') \
             ORDER BY org, target, check_id",
        )
        .map_err(sql("preparing the family verdicts"))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
            ))
        })
        .map_err(sql("listing the family verdicts"))?;
    let mut findings = Vec::new();
    for row in rows {
        let (org, target, check, status, severity, evidence) =
            row.map_err(sql("listing the family verdicts"))?;
        if !crate::family_metrics::wanted(&check) {
            continue;
        }
        let Some((status, severity)) = decode::row("latest", &(&org, &target, &check), || {
            Ok((
                parse_status("latest.status", &status)?,
                parse_severity("latest.severity", &severity)?,
            ))
        })?
        else {
            continue;
        };
        findings.push(crate::family_metrics::LatestFinding {
            org,
            target,
            check,
            status,
            severity,
            // Evidence only refines a gauge; unreadable evidence must not hide the verdict.
            evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
        });
    }
    Ok(findings)
}

/// The tables whose rows tests count before and after a refused request.
pub(super) const COUNTED_TABLES: [&str; 9] = [
    "orgs",
    "tokens",
    "reports",
    "latest",
    "transitions",
    "agents",
    "tls_certificates",
    "assessments",
    "matrix_snapshots",
];

pub(super) fn row_counts(
    connection: &mut Connection,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    COUNTED_TABLES
        .iter()
        .map(|table| {
            // The table names are constants of this file, never input.
            let count: i64 = tx
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
                .map_err(sql("counting rows"))?;
            Ok((*table, u64::try_from(count).unwrap_or(0)))
        })
        .collect()
}

use super::TransitionRow;

/// The newest stored report of every agent (the one its current state comes from).
pub(super) const REGRADE_CANDIDATES: &str = "SELECT r.report_id FROM reports r
     JOIN agents a ON a.org = r.org AND a.agent_id = r.agent_id
     WHERE r.finished_at = a.last_report_at ORDER BY r.org, r.agent_id, r.report_id";

pub(super) fn regrade_candidates(connection: &mut Connection) -> Result<Vec<String>, StoreError> {
    let mut statement = connection
        .prepare(REGRADE_CANDIDATES)
        .map_err(sql("listing the reports to regrade"))?;
    let rows = statement
        .query_map([], |row| row.get(0))
        .map_err(sql("listing the reports to regrade"))?;
    rows.collect::<Result<_, _>>()
        .map_err(sql("listing the reports to regrade"))
}

pub(super) fn report_body(
    connection: &mut Connection,
    report_id: &str,
) -> Result<Option<String>, StoreError> {
    connection
        .query_row(
            "SELECT body FROM reports WHERE report_id = ?1",
            [report_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql("reading a stored report"))
}

/// Applies regraded findings of one report; see [`super::Store::apply_regrade`].
pub(super) fn apply_regrade(
    connection: &mut Connection,
    regrade: &super::Regrade,
) -> Result<(u64, u64), StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the regrade"))?;
    let at = time_text(regrade.at);
    let (mut changed, mut added) = (0, 0);
    for finding in &regrade.findings {
        let check = finding.check.as_str();
        let evidence =
            serde_json::to_string(&finding.evidence).map_err(|error| StoreError::Serialize {
                what: "finding evidence",
                error,
            })?;
        let current: Option<(String, String, String)> = tx
            .query_row(
                "SELECT l.status, l.severity,
                        CASE WHEN l.retired = 0 AND a.last_report_id IS NOT NULL
                             THEN a.last_report_id ELSE l.report_id END
                 FROM latest l
                 LEFT JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
                 WHERE l.org = ?1 AND l.target = ?2 AND l.check_id = ?3",
                params![regrade.org, finding.target, check],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(sql("reading the latest state"))?;
        match super::regrade_step(current.as_ref(), regrade, finding) {
            super::RegradeStep::Keep => {}
            super::RegradeStep::Add => {
                tx.execute(
                    "INSERT INTO latest (org, target, check_id, status, severity, summary,
                                         remediation, evidence, report_id, observed_at, since,
                                         agent_id, retired)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, r.agent_id, 0
                     FROM reports r WHERE r.report_id = ?9",
                    params![
                        regrade.org,
                        finding.target,
                        check,
                        finding.status.as_str(),
                        finding.severity.as_str(),
                        finding.summary,
                        finding.remediation,
                        evidence,
                        regrade.report_id,
                        time_text(regrade.finished_at),
                        at
                    ],
                )
                .map_err(sql("adding a regraded verdict"))?;
                tx.execute(
                    "INSERT INTO transitions (org, target, check_id, from_status, to_status, at,
                                              report_id)
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
                    params![
                        regrade.org,
                        finding.target,
                        check,
                        finding.status.as_str(),
                        at,
                        regrade.report_id
                    ],
                )
                .map_err(sql("recording a regraded transition"))?;
                added += 1;
            }
            super::RegradeStep::Update { from } => {
                tx.execute(
                    "UPDATE latest SET status = ?4, severity = ?5, summary = ?6,
                         remediation = ?7, evidence = ?8,
                         since = CASE WHEN status = ?4 THEN since ELSE ?9 END
                     WHERE org = ?1 AND target = ?2 AND check_id = ?3",
                    params![
                        regrade.org,
                        finding.target,
                        check,
                        finding.status.as_str(),
                        finding.severity.as_str(),
                        finding.summary,
                        finding.remediation,
                        evidence,
                        at
                    ],
                )
                .map_err(sql("updating a regraded verdict"))?;
                if let Some(from) = from {
                    tx.execute(
                        "INSERT INTO transitions (org, target, check_id, from_status, to_status,
                                                  at, report_id)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            regrade.org,
                            finding.target,
                            check,
                            from,
                            finding.status.as_str(),
                            at,
                            regrade.report_id
                        ],
                    )
                    .map_err(sql("recording a regraded transition"))?;
                }
                changed += 1;
            }
        }
    }
    tx.commit().map_err(sql("committing the regrade"))?;
    Ok((changed, added))
}

/// Deletes up to `limit` reports received before `before` that no current-state row points
/// at, in one transaction; returns how many. Small batches keep the writer free for ingests.
pub(super) fn prune(
    connection: &mut Connection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the pruning"))?;
    let deleted = tx
        .execute(
            "DELETE FROM reports WHERE report_id IN (
                 SELECT r.report_id FROM reports r
                 WHERE r.received_at < ?1
                   AND r.report_id NOT IN (SELECT last_report_id FROM agents
                                           WHERE last_report_id IS NOT NULL)
                   AND r.report_id NOT IN (SELECT report_id FROM latest WHERE retired = 1)
                   AND r.report_id NOT IN (SELECT report_id FROM tls_certificates)
                 LIMIT ?2)",
            params![time_text(before), limit],
        )
        .map_err(sql("pruning old reports"))?;
    tx.commit().map_err(sql("committing the pruning"))?;
    Ok(deleted as u64)
}

pub(super) fn transitions(
    connection: &Connection,
    org: &str,
    target: &str,
    check: &str,
) -> Result<Vec<TransitionRow>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT from_status, to_status, at, report_id FROM transitions
             WHERE org = ?1 AND target = ?2 AND check_id = ?3 ORDER BY at, id",
        )
        .map_err(sql("preparing the history query"))?;
    let rows = statement
        .query_map(params![org, target, check], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .map_err(sql("reading history"))?;
    let mut out = Vec::new();
    for row in rows {
        let (from, to, at, report_id) = row.map_err(sql("reading history"))?;
        let Some((from, to, at)) = decode::row("transitions", &(org, target, check, &at), || {
            transition_values(from.as_deref(), &to, &at)
        })?
        else {
            continue;
        };
        out.push((from, to, at, report_id));
    }
    Ok(out)
}

/// Stores self-assessment answers in one transaction: all or none. An answer to the same
/// question on the same date replaces the earlier import. Every organization must exist.
pub(super) fn insert_answers(
    connection: &mut Connection,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = time_text(now);
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the assessment import"))?;
    {
        let mut org = tx
            .prepare_cached("SELECT 1 FROM orgs WHERE org = ?1")
            .map_err(sql("preparing the organization lookup"))?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO assessments (org, question, answer, respondent_role, answered_on,
                                          evidence, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (org, question, answered_on) DO UPDATE SET
                     answer = excluded.answer, respondent_role = excluded.respondent_role,
                     evidence = excluded.evidence, imported_at = excluded.imported_at",
            )
            .map_err(sql("preparing the assessment insert"))?;
        for answer in answers {
            // A typo in an organization id must not create a new organization.
            let known = org
                .query_row([&answer.org], |_| Ok(()))
                .optional()
                .map_err(sql("looking up the organization"))?;
            if known.is_none() {
                return Err(StoreError::UnknownOrg(answer.org.clone()));
            }
            insert
                .execute(params![
                    answer.org,
                    answer.question,
                    answer.answer,
                    answer.respondent_role,
                    answer.answered_on.to_string(),
                    answer.evidence,
                    now
                ])
                .map_err(sql("storing an answer"))?;
        }
    }
    tx.commit()
        .map_err(sql("committing the assessment import"))?;
    Ok(answers.len())
}

fn answers(connection: &Connection) -> Result<Vec<Answer>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT org, question, answer, respondent_role, answered_on, evidence
             FROM assessments ORDER BY org, question, answered_on",
        )
        .map_err(sql("preparing the answer list"))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
            ))
        })
        .map_err(sql("reading answers"))?;
    let mut out = Vec::new();
    for row in rows {
        let (org, question, answer, respondent_role, answered_on, evidence) =
            row.map_err(sql("reading answers"))?;
        let Some(answered_on) = decode::row("assessments", &(&org, &question), || {
            parse_date("assessments.answered_on", &answered_on)
        })?
        else {
            continue;
        };
        out.push(Answer {
            org,
            question,
            answer,
            respondent_role,
            answered_on,
            evidence,
        });
    }
    Ok(out)
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

/// The latest verdict of every (org, target, check) of a known check, and every answer.
pub(super) fn matrix_state(connection: &mut Connection) -> Result<MatrixState, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    let orgs = org_ids(&tx)?;
    // What the `current_latest` view (migration 0008) says, read the cheaper way for a
    // sector's worth of rows: `latest` in its own order (the grading does not depend on it)
    // and each agent's newest report time once, instead of the view's ordered scan and
    // per-row join, which took twice as long.
    let mut newest: std::collections::HashMap<(String, String), DateTime<Utc>> =
        std::collections::HashMap::new();
    {
        let mut statement = tx
            .prepare_cached("SELECT org, agent_id, last_report_at FROM agents")
            .map_err(sql("preparing the agent list"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(sql("reading the agents"))?;
        for row in rows {
            let (org, agent, at) = row.map_err(sql("reading the agents"))?;
            // An agent whose time cannot be read has no current rows, as in the view.
            if let Some(at) = decode::row("agents", &(&org, &agent), || {
                parse_time("agents.last_report_at", &at)
            })? {
                newest.insert((org, agent), at);
            }
        }
    }
    let mut findings: Vec<(String, FindingFact)> = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT org, target, check_id, status, evidence, agent_id FROM latest
                 WHERE retired = 0",
            )
            .map_err(sql("preparing the latest verdicts"))?;
        let mut rows = statement
            .query([])
            .map_err(sql("reading the latest verdicts"))?;
        let mut key = (String::new(), String::new());
        while let Some(row) = rows.next().map_err(sql("reading the latest verdicts"))? {
            // Borrowed, not copied: most rows are dropped or keep only their target.
            let text = |i| -> Result<Option<&str>, StoreError> {
                row.get_ref(i)
                    .and_then(|value| value.as_str_or_null().map_err(Into::into))
                    .map_err(sql("reading the latest verdicts"))
            };
            let column = |i, name| {
                text(i)?.ok_or(StoreError::Corrupt {
                    column: name,
                    value: "NULL".to_owned(),
                })
            };
            // A check this build does not know (a newer agent) grades nothing.
            let Some(check) = vigie_model::Check::from_id(column(2, "latest.check_id")?) else {
                continue;
            };
            let org = column(0, "latest.org")?;
            // Not carried by any agent's report: not current (as in the view).
            let Some(agent) = text(5)? else {
                continue;
            };
            if key.0 != org || key.1 != agent {
                key = (org.to_owned(), agent.to_owned());
            }
            let Some(observed_at) = newest.get(&key).copied() else {
                continue;
            };
            let Some(fact) = decode::row("latest", &(&key, text(1)?, check), || {
                Ok(FindingFact {
                    check,
                    target: column(1, "latest.target")?.to_owned(),
                    status: parse_status("latest.status", column(3, "latest.status")?)?,
                    evidence: parse_evidence("latest.evidence", column(4, "latest.evidence")?)?,
                    observed_at,
                })
            })?
            else {
                continue;
            };
            findings.push((key.0.clone(), fact));
        }
    }
    let answers = answers(&tx)?;
    Ok(MatrixState {
        orgs,
        findings,
        answers,
    })
}

/// The verdicts as they stood at `at`: for each key, the last status transition at or
/// before `at`, with the evidence of the report that made it. Answers are all returned; the
/// grading ignores those given after `at`.
pub(super) fn matrix_state_at(
    connection: &mut Connection,
    at: DateTime<Utc>,
) -> Result<MatrixState, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    let orgs = org_ids(&tx)?;
    let at_text = time_text(at);
    let mut rows_out = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT t.org, t.target, t.check_id, t.to_status, t.at, t.report_id
                 FROM transitions t
                 WHERE t.at <= ?1 AND t.id = (
                     SELECT t2.id FROM transitions t2
                     WHERE t2.org = t.org AND t2.target = t.target AND t2.check_id = t.check_id
                       AND t2.at <= ?1
                     ORDER BY t2.at DESC, t2.id DESC LIMIT 1)
                 ORDER BY t.org, t.target, t.check_id",
            )
            .map_err(sql("preparing the history query"))?;
        let rows = statement
            .query_map([&at_text], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(sql("reading history"))?;
        for row in rows {
            rows_out.push(row.map_err(sql("reading history"))?);
        }
    }
    // Evidence comes from the report that set each status; each report is parsed once.
    let mut reports: std::collections::HashMap<String, Option<super::evidence::ReportEvidence>> =
        std::collections::HashMap::new();
    let mut findings = Vec::new();
    for (org, target, check, status, changed_at, report_id) in rows_out {
        let Some(check_known) = vigie_model::Check::from_id(&check) else {
            continue;
        };
        if !reports.contains_key(&report_id) {
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM reports WHERE report_id = ?1",
                    [&report_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql("reading a stored report"))?;
            let parsed = body.and_then(|b| super::evidence::ReportEvidence::parse(&b));
            reports.insert(report_id.clone(), parsed);
        }
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
            FindingFact {
                check: check_known,
                target,
                status,
                evidence,
                observed_at,
            },
        ));
    }
    let answers = answers(&tx)?;
    Ok(MatrixState {
        orgs,
        findings,
        answers,
    })
}

/// The fingerprint of what a grading at each date reads (see `snapshots`), with the stored
/// levels that match it.
pub(super) fn past_levels(
    connection: &mut Connection,
    dates: &[DateTime<Utc>],
    grading: &str,
) -> Result<Vec<super::PastLevels>, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql("starting a read transaction"))?;
    let orgs: i64 = tx
        .query_row("SELECT COUNT(*) FROM orgs", [], |row| row.get(0))
        .map_err(sql("counting organizations"))?;
    let texts: Vec<String> = dates.iter().map(|at| time_text(*at)).collect();
    let history = {
        let mut range = tx
            .prepare_cached(super::snapshots::HISTORY_RANGE)
            .map_err(sql("preparing the history fingerprint"))?;
        let mut parts = Vec::with_capacity(dates.len());
        for (i, after, up_to) in super::snapshots::history_ranges(&texts) {
            let part: (i64, i64) = range
                .query_row([after, up_to], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(sql("fingerprinting the history"))?;
            parts.push((i, part));
        }
        super::snapshots::accumulate_history(dates.len(), parts)
    };
    let mut out = Vec::with_capacity(dates.len());
    {
        let mut answers = tx
            .prepare_cached(super::snapshots::ANSWERS_UP_TO)
            .map_err(sql("preparing the answers fingerprint"))?;
        let mut stored = tx
            .prepare_cached(super::snapshots::SNAPSHOT)
            .map_err(sql("preparing the snapshot lookup"))?;
        for ((at, at_text), (transitions, last_id)) in dates.iter().zip(&texts).zip(history) {
            let (answered, last_import): (i64, String) = answers
                .query_row([at.date_naive().to_string()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(sql("fingerprinting the answers"))?;
            let inputs =
                super::snapshots::inputs((transitions, last_id), (answered, &last_import), orgs);
            let levels = stored
                .query_row(params![at_text, grading], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .optional()
                .map_err(sql("reading a matrix snapshot"))?
                .and_then(|(was, levels)| (was == inputs).then_some(levels));
            out.push(super::PastLevels { inputs, levels });
        }
    }
    Ok(out)
}

pub(super) fn save_past_levels(
    connection: &mut Connection,
    at: DateTime<Utc>,
    grading: &str,
    inputs: &str,
    levels: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .execute(
            super::snapshots::SAVE_SNAPSHOT,
            params![time_text(at), grading, inputs, levels, time_text(now)],
        )
        .map_err(sql("storing a matrix snapshot"))?;
    Ok(())
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
