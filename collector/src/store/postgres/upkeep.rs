//! Migrations under an advisory lock, readiness, and the regrade under the organization's
//! lock. Tokens, the audit log and retention are `queries`, in this backend's transactions.

use chrono::Utc;
use deadpool_postgres::GenericClient;

use super::super::rows::time_text;
use super::super::sql;
use super::super::{migrations, queries, Regrade, StoreError};
use super::{pg, PgStore, ORG_LOCK};

/// The advisory lock key that serializes migrations between collectors started together.
const MIGRATION_LOCK: i64 = 0x5649_4749_4500_0001;

async fn version_in(client: &impl GenericClient) -> Result<u32, StoreError> {
    let version: i32 = client
        .query_one(sql::SCHEMA_VERSION, &[])
        .await
        .map_err(pg("reading the schema version"))?
        .get(0);
    Ok(u32::try_from(version).unwrap_or(0))
}

impl PgStore {
    /// Creates `schema_migrations` and applies what is pending, all in one transaction under
    /// an advisory lock (PostgreSQL's DDL is transactional: a failed migration leaves the
    /// schema as it was). Returns the versions before and after.
    pub(super) async fn migrate(&self, apply: bool) -> Result<(u32, u32), StoreError> {
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the migration").await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg("waiting for another collector's migration"))?;
        tx.batch_execute(sql::CREATE_SCHEMA_MIGRATIONS)
            .await
            .map_err(pg("creating schema_migrations"))?;
        let current = version_in(&tx).await?;
        let Some(pending) = migrations::pending(migrations::POSTGRES, current, apply)? else {
            return Ok((current, current));
        };
        for &(version, name, text) in pending {
            let failed = |error| StoreError::PgMigrate {
                version,
                name,
                error,
            };
            tx.batch_execute(text).await.map_err(failed)?;
            tx.execute(
                sql::RECORD_MIGRATION.postgres,
                &[&(version as i32), &name, &time_text(Utc::now())],
            )
            .await
            .map_err(failed)?;
            tracing::info!(version, name, "applied database migration");
        }
        tx.commit().await.map_err(pg("committing the migrations"))?;
        Ok((current, pending.last().map_or(current, |m| m.0)))
    }

    pub(in super::super) async fn schema_version(&self) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        version_in(&tx).await
    }

    /// Ready means a write could be done now (a new transaction that takes a row lock) and
    /// the read paths' tables can be read (see [`sql::READINESS_READ`]).
    pub(in super::super) async fn ping(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the readiness check").await?;
        tx.query_one(sql::READINESS_READ, &[])
            .await
            .map_err(pg("reading the tables for the readiness check"))?;
        tx.execute(
            "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(pg("locking a row for the readiness check"))?;
        tx.rollback()
            .await
            .map_err(pg("ending the readiness check"))
    }

    /// The same rules as SQLite's `apply_regrade`, under the organization's ingest lock.
    pub(in super::super) async fn apply_regrade(
        &self,
        regrade: &Regrade,
    ) -> Result<(u64, u64), StoreError> {
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the regrade").await?;
        tx.execute(ORG_LOCK, &[&regrade.org])
            .await
            .map_err(pg("locking the organization"))?;
        let counts = queries::apply_regrade(&tx, regrade).await?;
        tx.commit().await.map_err(pg("committing the regrade"))?;
        Ok(counts)
    }
}
