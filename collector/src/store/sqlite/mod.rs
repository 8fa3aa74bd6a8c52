//! The SQLite backend (`sqlite://PATH`, the default).
//!
//! One connection behind a mutex, which SQLite's one writer at a time asks for anyway:
//! reports are stored by a writer thread of their own, in batches taken from a bounded queue
//! (group commit, see `ingest`), and every other call runs on a blocking thread
//! (`tokio::task::spawn_blocking`); token lookups read on a second connection.
//!
//! Durability: `journal_mode=WAL` with `synchronous=FULL`. WAL lets `/metrics` and the read
//! API run while a report is written; FULL syncs the WAL on every commit, so a report the
//! collector acknowledged survives a power loss (NORMAL would only keep the database
//! consistent, possibly losing the last acknowledged reports, and the agent would already
//! have deleted them from its outbox). One fsync per report is cheap at a sector's rate.

mod body;
mod ingest;
mod matrix;
mod reads;
pub(super) mod upkeep;

pub(super) use matrix::matrix_state;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, Row};

use super::db::{run_now, Db, Param};
use super::rows::Columns;
use super::sql::Sql;
use super::StoreError;
use crate::auth::Principal;

pub(super) fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| StoreError::Sqlite { operation, error }
}

impl Columns for Row<'_> {
    fn str(&self, i: usize) -> Result<&str, StoreError> {
        self.get_ref(i)
            .and_then(|value| value.as_str().map_err(Into::into))
            .map_err(sql("reading a column"))
    }

    fn optional_str(&self, i: usize) -> Result<Option<&str>, StoreError> {
        self.get_ref(i)
            .and_then(|value| value.as_str_or_null().map_err(Into::into))
            .map_err(sql("reading a column"))
    }

    fn integer(&self, i: usize) -> Result<i64, StoreError> {
        self.get(i).map_err(sql("reading a column"))
    }

    fn body(&self, i: usize) -> Result<String, StoreError> {
        body::decode(self.get_ref(i).map_err(sql("reading a report body"))?)
    }
}

/// Runs a statement (prepared once per connection) and decodes each row with a decoder of
/// `rows`; the rows it skips are left out.
fn rows<T>(
    connection: &Connection,
    text: &str,
    params: impl rusqlite::Params,
    operation: &'static str,
    mut decode: impl FnMut(&dyn Columns) -> Result<Option<T>, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(text).map_err(sql(operation))?;
    let mut rows = statement.query(params).map_err(sql(operation))?;
    let mut out = Vec::new();
    // Bounded by the table.
    while let Some(row) = rows.next().map_err(sql(operation))? {
        if let Some(value) = decode(row)? {
            out.push(value);
        }
    }
    Ok(out)
}

/// The first row of a statement (prepared once per connection), decoded; `None` if there is
/// none.
fn first<T>(
    connection: &Connection,
    text: &str,
    params: impl rusqlite::Params,
    operation: &'static str,
    decode: impl FnOnce(&dyn Columns) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = connection.prepare_cached(text).map_err(sql(operation))?;
    let mut rows = statement.query(params).map_err(sql(operation))?;
    match rows.next().map_err(sql(operation))? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(text) => text.to_sql(),
            Param::Null => rusqlite::types::Null.to_sql(),
            Param::Integer(value) => value.to_sql(),
        }
    }
}

/// Every statement completes when called: the futures are ready at once (see `run_now`).
impl Db for Connection {
    async fn rows<T>(
        &self,
        text: &Sql,
        params: &[Param<'_>],
        operation: &'static str,
        decode: impl FnMut(&dyn Columns) -> Result<Option<T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let params = rusqlite::params_from_iter(params);
        rows(self, text.sqlite, params, operation, decode)
    }

    async fn first<T>(
        &self,
        text: &Sql,
        params: &[Param<'_>],
        operation: &'static str,
        decode: impl FnOnce(&dyn Columns) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let params = rusqlite::params_from_iter(params);
        first(self, text.sqlite, params, operation, decode)
    }

    async fn execute(
        &self,
        text: &Sql,
        params: &[Param<'_>],
        operation: &'static str,
    ) -> Result<u64, StoreError> {
        self.prepare_cached(text.sqlite)
            .and_then(|mut statement| statement.execute(rusqlite::params_from_iter(params)))
            .map(|changed| changed as u64)
            .map_err(sql(operation))
    }
}

/// The SQLite store: its file, the writer's connection and queue, the token reader.
#[derive(Clone)]
pub(super) struct SqliteStore {
    pub(super) path: Arc<PathBuf>,
    connection: Arc<Mutex<Connection>>,
    /// Reports waiting for the writer thread, which stores what is queued in one transaction
    /// (group commit, see `ingest`).
    writer: tokio::sync::mpsc::Sender<ingest::PendingIngest>,
    /// A second connection for token lookups: in WAL mode it reads while the first writes,
    /// so that authenticating a request never waits for a batch of reports being stored.
    reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed), configures and migrates the database, and starts the
    /// writer thread. Returns the schema versions before and after.
    pub(super) async fn open(
        path: PathBuf,
        apply: bool,
    ) -> Result<(SqliteStore, u32, u32), StoreError> {
        let opened_path = path.clone();
        let (connection, reader, from, to) = tokio::task::spawn_blocking(move || {
            let (connection, from, to) = upkeep::open(&opened_path, apply)?;
            Ok::<_, StoreError>((connection, upkeep::open_reader(&opened_path)?, from, to))
        })
        .await??;
        let connection = Arc::new(Mutex::new(connection));
        let store = SqliteStore {
            path: Arc::new(path),
            writer: ingest::spawn_writer(Arc::clone(&connection))?,
            connection,
            reader: Arc::new(Mutex::new(reader)),
        };
        Ok((store, from, to))
    }

    /// Runs `work` on a blocking thread with the connection.
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock unwound through any open transaction, whose Drop
            // rolled it back: the connection is consistent, so the poison can be ignored.
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await?
    }

    /// Runs `work` with the connection, outside a transaction.
    pub(super) async fn connected<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |c| run_now(work(c))).await
    }

    /// Runs `work` in a read transaction, so that its reads see one state.
    pub(super) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |c| {
            let tx = c
                .transaction()
                .map_err(sql("starting a read transaction"))?;
            run_now(work(&tx))
        })
        .await
    }

    /// Runs `work` in a write transaction (which takes the write lock at once) and commits;
    /// `starting` and `committing` name its steps in an error.
    pub(super) async fn write<T, F>(
        &self,
        [starting, committing]: [&'static str; 2],
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql(starting))?;
            let value = run_now(work(&tx))?;
            tx.commit().map_err(sql(committing))?;
            Ok(value)
        })
        .await
    }

    /// Who the token of this hash belongs to, read on the second connection.
    pub(super) async fn authenticate(&self, hash: String) -> Result<Option<Principal>, StoreError> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let guard = reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            reads::find_token(&guard, &hash)
        })
        .await?
    }

    /// Who the live web session of this hash belongs to, read on the second connection.
    pub(super) async fn find_session(
        &self,
        hash: String,
        now: String,
    ) -> Result<Option<Principal>, StoreError> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let guard = reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            reads::find_session(&guard, &hash, &now)
        })
        .await?
    }

    /// The schema and the read paths' tables on the open connection, then the file opened
    /// anew (see `Store::ping`).
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.run(|c| {
            upkeep::schema_version(c)?;
            upkeep::readiness_read(c)
        })
        .await?;
        let path = Arc::clone(&self.path);
        tokio::task::spawn_blocking(move || upkeep::ping_file(&path)).await?
    }
}
