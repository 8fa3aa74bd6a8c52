//! Everything on PostgreSQL besides reports and reads: migrations under an advisory lock,
//! readiness, tokens and the audit log, regrade, retention and organization metadata.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};

use super::super::audit::{fingerprint, AuditAction, AuditRecord};
use super::super::orgmeta::OrgMetaUpdate;
use super::super::rows::{self, time_text};
use super::super::sql;
use super::super::{migrations, Regrade, RegradeStep, StoreError};
use super::{first, pg, rows as query, PgStore, ORG_LOCK};
use crate::auth::TokenKind;

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

/// Writes one audit row inside the caller's transaction.
async fn record(
    tx: &Transaction<'_>,
    action: AuditAction,
    record: &AuditRecord<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        sql::AUDIT,
        &[
            &time_text(at),
            &action.as_str(),
            &record.actor,
            &record.kind.map(TokenKind::as_str),
            &record.org,
            &record.name,
            &record.token_hash.map(fingerprint),
            &record.detail,
        ],
    )
    .await
    .map(drop)
    .map_err(pg("writing the audit log"))
}

/// Stores a token's hash and audits it.
async fn insert_token_in(
    tx: &Transaction<'_>,
    hash: &str,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        sql::INSERT_TOKEN,
        &[&hash, &kind.as_str(), &org, &name, &time_text(at)],
    )
    .await
    .map_err(pg(match detail {
        Some(_) => "storing the new token hash",
        None => "storing the token hash",
    }))?;
    let audited = AuditRecord {
        actor: "cli",
        kind: Some(kind),
        org,
        name: Some(name),
        token_hash: Some(hash),
        detail,
    };
    record(tx, AuditAction::TokenCreate, &audited, at).await
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
                sql::RECORD_MIGRATION,
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

    pub(in super::super) async fn insert_token(
        &self,
        hash: &str,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the token transaction").await?;
        if let Some(org) = org {
            tx.execute(sql::CREATE_ORG, &[&org, &time_text(at)])
                .await
                .map_err(pg("creating the organization"))?;
        }
        insert_token_in(&tx, hash, kind, org, name, None, at).await?;
        tx.commit().await.map_err(pg("committing the token"))
    }

    /// Revokes the active tokens of `kind`, `org`, `name` and, for a rotation, stores the new
    /// one, in one transaction; returns how many were revoked (none: nothing is changed).
    pub(in super::super) async fn revoke_or_rotate(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        new_hash: Option<&str>,
    ) -> Result<usize, StoreError> {
        let now = Utc::now();
        let detail = if new_hash.is_some() {
            "rotated"
        } else {
            "revoked"
        };
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the revocation").await?;
        let hashes = query(
            &tx,
            "SELECT hash FROM tokens
             WHERE kind = $1 AND org IS NOT DISTINCT FROM $2 AND name = $3
               AND revoked_at IS NULL
             FOR UPDATE",
            &[&kind.as_str(), &org, &name],
            "finding the tokens to revoke",
            rows::first_text,
        )
        .await?;
        if hashes.is_empty() {
            return Ok(0);
        }
        for hash in &hashes {
            tx.execute(sql::REVOKE_TOKEN, &[&time_text(now), hash])
                .await
                .map_err(pg("revoking a token"))?;
            let audited = AuditRecord {
                actor: "cli",
                kind: Some(kind),
                org,
                name: Some(name),
                token_hash: Some(hash),
                detail: Some(detail),
            };
            record(&tx, AuditAction::TokenRevoke, &audited, now).await?;
        }
        if let Some(hash) = new_hash {
            insert_token_in(&tx, hash, kind, org, name, Some("rotation"), now).await?;
        }
        tx.commit().await.map_err(pg("committing the revocation"))?;
        Ok(hashes.len())
    }

    pub(in super::super) async fn audit(
        &self,
        action: AuditAction,
        audited: &AuditRecord<'_>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the audit transaction").await?;
        record(&tx, action, audited, Utc::now()).await?;
        tx.commit().await.map_err(pg("writing the audit log"))
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
        let at = time_text(regrade.at);
        let (mut changed, mut added) = (0, 0);
        for finding in &regrade.findings {
            let check = finding.check.as_str();
            let status = finding.status.as_str();
            let severity = finding.severity.as_str();
            let evidence = serde_json::to_string(&finding.evidence).map_err(|error| {
                StoreError::Serialize {
                    what: "finding evidence",
                    error,
                }
            })?;
            let current = first(
                &tx,
                sql::REGRADE_CURRENT_FOR_UPDATE,
                &[&regrade.org, &finding.target, &check],
                "reading the latest state",
                rows::regrade_current,
            )
            .await?;
            let from = match super::super::regrade_step(current.as_ref(), regrade, finding) {
                RegradeStep::Keep => continue,
                RegradeStep::Add => {
                    tx.execute(
                        sql::REGRADE_ADD,
                        &[
                            &regrade.org,
                            &finding.target,
                            &check,
                            &status,
                            &severity,
                            &finding.summary,
                            &finding.remediation,
                            &evidence,
                            &regrade.report_id,
                            &time_text(regrade.finished_at),
                            &at,
                        ],
                    )
                    .await
                    .map_err(pg("adding a regraded verdict"))?;
                    added += 1;
                    // A transition from nothing.
                    Some(None)
                }
                RegradeStep::Update { from } => {
                    tx.execute(
                        sql::REGRADE_UPDATE,
                        &[
                            &regrade.org,
                            &finding.target,
                            &check,
                            &status,
                            &severity,
                            &finding.summary,
                            &finding.remediation,
                            &evidence,
                            &at,
                        ],
                    )
                    .await
                    .map_err(pg("updating a regraded verdict"))?;
                    changed += 1;
                    from.map(Some)
                }
            };
            if let Some(from) = from {
                tx.execute(
                    sql::INSERT_TRANSITION,
                    &[
                        &regrade.org,
                        &finding.target,
                        &check,
                        &from,
                        &status,
                        &at,
                        &regrade.report_id,
                    ],
                )
                .await
                .map_err(pg("recording a regraded transition"))?;
            }
        }
        tx.commit().await.map_err(pg("committing the regrade"))?;
        Ok((changed, added))
    }

    /// Deletes up to `limit` reports received before `before` that no current-state row
    /// points at; returns how many.
    pub(in super::super) async fn prune(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(sql::PRUNE, &[&time_text(before), &limit])
            .await
            .map_err(pg("pruning old reports"))
    }

    /// Stores organization metadata changes, all or none; every organization must exist.
    pub(in super::super) async fn set_org_meta(
        &self,
        updates: &[OrgMetaUpdate],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now = time_text(now);
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the metadata update").await?;
        for u in updates {
            let known = first(
                &tx,
                sql::ORG_EXISTS,
                &[&u.org],
                "looking up an organization",
                |_| Ok(()),
            )
            .await?;
            if known.is_none() {
                return Err(StoreError::UnknownOrg(u.org.chars().take(64).collect()));
            }
            tx.execute(
                sql::ORG_META_UPSERT,
                &[&u.org, &u.region, &u.size_band, &now],
            )
            .await
            .map_err(pg("storing organization metadata"))?;
        }
        tx.commit()
            .await
            .map_err(pg("committing organization metadata"))?;
        Ok(updates.len())
    }
}
