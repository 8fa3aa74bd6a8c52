//! Opening, configuring and migrating the SQLite file, and readiness. Tokens, the audit log,
//! regrade and retention are `queries`, in this backend's transactions.

use std::path::Path;

use chrono::Utc;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use super::super::rows::time_text;
use super::super::sql;
use super::super::{migrations, StoreError};
use super::sql as sql_error;

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
        if version == migrations::COMPRESS_BODIES {
            let compressed = super::body::compress_stored(&tx)?;
            tracing::info!(compressed, "compressed the stored report bodies");
        }
        tx.execute_batch(text).map_err(failed)?;
        tx.execute(
            sql::RECORD_MIGRATION.sqlite,
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
