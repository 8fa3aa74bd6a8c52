//! The PostgreSQL backend (`--database-url postgres://…`).
//!
//! The same tables, views and values as the SQLite backend (times are the same fixed-width
//! RFC 3339 text), so the two stores answer the same and the conformance tests
//! (`collector/tests/it/store_conformance.rs`) run one suite against both.
//!
//! Concurrency: a pool of connections, one transaction per report. Writers of one
//! organization take a transaction-scoped advisory lock on it, so that two reports of one
//! agent (or two collectors receiving the same report) apply one after the other; writers of
//! different organizations do not wait for each other. Reads run in read-only repeatable-read
//! transactions, so each answer is one consistent snapshot.
//! Durability is PostgreSQL's: with `synchronous_commit = on` (its default), an acknowledged
//! report is on disk (and on a synchronous standby if one is configured).

mod ingest;
mod matrix;
mod reads;
mod upkeep;

use std::str::FromStr as _;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::db::{Db, Param};
use super::rows::Columns;
use super::sql::Sql;
use super::StoreError;

/// Connections held at most by one collector. PostgreSQL's default `max_connections` is
/// 100: a few collectors fit beside psql sessions and backups.
const POOL_SIZE: usize = 16;

/// How long a request waits for a connection (or to open one) before the store is called
/// unavailable (503), rather than piling up behind a database that does not answer.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serializes the writers of one organization (ingest, regrade) until their commit.
const ORG_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext($1))";

type Params<'a> = [&'a (dyn ToSql + Sync)];

fn pg(operation: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |error| StoreError::Postgres { operation, error }
}

/// A column read fails with an error, not a panic, when the database holds a type or a NULL
/// this build does not expect (a schema changed behind the collector's back).
impl Columns for Row {
    fn str(&self, i: usize) -> Result<&str, StoreError> {
        self.try_get(i).map_err(pg("reading a column"))
    }

    fn optional_str(&self, i: usize) -> Result<Option<&str>, StoreError> {
        self.try_get(i).map_err(pg("reading a column"))
    }

    fn integer(&self, i: usize) -> Result<i64, StoreError> {
        self.try_get(i).map_err(pg("reading a column"))
    }
}

/// Runs a statement and decodes each row with a decoder of `rows`; the rows it skips are
/// left out.
async fn rows<T>(
    client: &impl GenericClient,
    text: &str,
    params: &Params<'_>,
    operation: &'static str,
    mut decode: impl FnMut(&dyn Columns) -> Result<Option<T>, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in client.query(text, params).await.map_err(pg(operation))? {
        if let Some(value) = decode(&row)? {
            out.push(value);
        }
    }
    Ok(out)
}

/// The one row of a statement, decoded; `None` if there is none.
async fn first<T>(
    client: &impl GenericClient,
    text: &str,
    params: &Params<'_>,
    operation: &'static str,
    decode: impl FnOnce(&dyn Columns) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    client
        .query_opt(text, params)
        .await
        .map_err(pg(operation))?
        .map(|row| decode(&row))
        .transpose()
}

/// The parameters as tokio-postgres takes them; a NULL is a NULL text, the only NULL the
/// statements bind.
fn pg_params<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    static NULL_TEXT: Option<&str> = None;
    params
        .iter()
        .map(|param| -> &'p (dyn ToSql + Sync) {
            match param {
                Param::Text(text) => text,
                Param::Null => &NULL_TEXT,
                Param::Integer(value) => value,
            }
        })
        .collect()
}

/// [`Db`] over a pooled connection and over a transaction: the same statements, prepared
/// by the server at each call (only the ingest's are cached, see [`cached`]).
macro_rules! postgres_db {
    ($type:ty) => {
        impl Db for $type {
            async fn rows<T>(
                &self,
                text: &Sql,
                params: &[Param<'_>],
                operation: &'static str,
                decode: impl FnMut(&dyn Columns) -> Result<Option<T>, StoreError>,
            ) -> Result<Vec<T>, StoreError> {
                rows(self, text.postgres, &pg_params(params), operation, decode).await
            }

            async fn first<T>(
                &self,
                text: &Sql,
                params: &[Param<'_>],
                operation: &'static str,
                decode: impl FnOnce(&dyn Columns) -> Result<T, StoreError>,
            ) -> Result<Option<T>, StoreError> {
                first(self, text.postgres, &pg_params(params), operation, decode).await
            }

            async fn execute(
                &self,
                text: &Sql,
                params: &[Param<'_>],
                operation: &'static str,
            ) -> Result<u64, StoreError> {
                GenericClient::execute(self, text.postgres, &pg_params(params))
                    .await
                    .map_err(pg(operation))
            }
        }
    };
}
postgres_db!(Object);
postgres_db!(Transaction<'_>);

/// A statement prepared once per pooled connection: the ingest path runs the same few
/// statements for every report, so they are parsed and planned once, not every time.
async fn cached(tx: &Transaction<'_>, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
    tx.prepare_cached(sql)
        .await
        .map_err(pg("preparing a statement"))
}

/// The pooled PostgreSQL store.
#[derive(Clone)]
pub(super) struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects, checks the schema version and applies pending migrations when `migrate`.
    pub(super) async fn open(url: &str, migrate: bool) -> Result<(PgStore, u32, u32), StoreError> {
        // The URL may hold a password: errors name only what is wrong with it.
        let config = tokio_postgres::Config::from_str(url).map_err(|_| StoreError::BadUrl {
            url: "postgres://…".to_owned(),
            reason:
                "not a valid PostgreSQL URL; write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::PostgresPool(e.to_string()))?;
        let store = PgStore { pool };
        let (from, to) = store.migrate(migrate).await?;
        Ok((store, from, to))
    }

    /// Runs `work` on a pooled connection, outside a transaction.
    pub(super) async fn connected<T>(
        &self,
        work: impl AsyncFnOnce(&Object) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        work(&self.client().await?).await
    }

    /// Runs `work` in a read-only snapshot.
    pub(super) async fn snapshot<T>(
        &self,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        work(&tx).await
    }

    /// Runs `work` in a transaction and commits; `starting` and `committing` name its steps
    /// in an error.
    pub(super) async fn transact<T>(
        &self,
        [starting, committing]: [&'static str; 2],
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, starting).await?;
        let value = work(&tx).await?;
        tx.commit().await.map_err(pg(committing))?;
        Ok(value)
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(error) => StoreError::Postgres {
                operation: "connecting to PostgreSQL",
                error,
            },
            other => StoreError::PostgresPool(other.to_string()),
        })
    }

    /// A read-write transaction; `operation` names its start in an error.
    async fn write<'c>(
        client: &'c mut Object,
        operation: &'static str,
    ) -> Result<Transaction<'c>, StoreError> {
        client.transaction().await.map_err(pg(operation))
    }

    /// A read-only snapshot transaction.
    async fn read(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
        client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg("starting a read transaction"))
    }
}
