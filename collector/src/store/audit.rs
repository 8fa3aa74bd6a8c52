//! The token lifecycle after creation (revocation, rotation) and the audit log, with their
//! SQLite statements (PostgreSQL's are in `postgres.rs`). Kept beside `sqlite.rs` rather than
//! in it; the same rules hold: every statement here runs inside the store's one connection, and a token itself is never stored, logged
//! or audited, only its hash (and, in the audit log, the first 12 hex digits of that hash).

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use serde::Serialize;

use super::{Store, StoreError};
use crate::auth::TokenKind;

/// What an audit row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A token was created (an agent or a viewer enrolled).
    TokenCreate,
    /// A token was revoked (by `revoke` or `rotate`).
    TokenRevoke,
    /// The capability matrix was exported (CLI or API).
    MatrixExport,
    /// A sign-in to the web view failed (never the token given: the source address and why).
    LoginFailure,
}

impl AuditAction {
    /// The value stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::MatrixExport => "matrix.export",
            AuditAction::LoginFailure => "login.failure",
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub action: String,
    pub actor: String,
    pub kind: Option<String>,
    pub org: Option<String>,
    pub name: Option<String>,
    pub fingerprint: Option<String>,
    pub detail: Option<String>,
}

/// What an audit row says, besides its action and time.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord<'a> {
    pub actor: &'a str,
    pub kind: Option<TokenKind>,
    pub org: Option<&'a str>,
    pub name: Option<&'a str>,
    /// The token's stored hash; only its first 12 hex digits are written.
    pub token_hash: Option<&'a str>,
    pub detail: Option<&'a str>,
}

fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| StoreError::Sqlite { operation, error }
}

fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The fingerprint of a token hash: its first 12 hex digits.
pub fn fingerprint(token_hash: &str) -> String {
    token_hash.chars().take(12).collect()
}

/// Writes one audit row with `connection` (inside the caller's transaction, if any).
pub(super) fn record(
    connection: &Connection,
    action: AuditAction,
    record: &AuditRecord<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO audit_log (at, action, actor, kind, org, name, fingerprint, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
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
        .map_err(sql("writing the audit log"))
}

/// Revokes every active token of `kind`, `org` and `name` in `tx`, auditing each; returns
/// how many.
fn revoke_in(
    tx: &Transaction<'_>,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let hashes: Vec<String> = {
        let mut statement = tx
            .prepare_cached(
                "SELECT hash FROM tokens
                 WHERE kind = ?1 AND org IS ?2 AND name = ?3 AND revoked_at IS NULL",
            )
            .map_err(sql("finding the tokens to revoke"))?;
        let rows = statement
            .query_map(params![kind.as_str(), org, name], |row| row.get(0))
            .map_err(sql("finding the tokens to revoke"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("finding the tokens to revoke"))?
    };
    for hash in &hashes {
        tx.execute(
            "UPDATE tokens SET revoked_at = ?1 WHERE hash = ?2",
            params![time_text(now), hash],
        )
        .map_err(sql("revoking a token"))?;
        record(
            tx,
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
    Ok(hashes.len())
}

impl Store {
    /// Revokes every active token of `kind` named `name` (for `org`, agent tokens): requests
    /// with them are refused (401) from the commit on. Returns how many; none is an error
    /// that names what was looked for.
    pub async fn revoke_tokens(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
    ) -> Result<usize, StoreError> {
        if let super::Backend::Postgres(pg) = &self.backend {
            return match pg.revoke_or_rotate(kind, org, name, None).await? {
                0 => Err(StoreError::NoSuchToken {
                    kind: kind.as_str(),
                    org: org.map(str::to_owned),
                    name: name.to_owned(),
                }),
                count => Ok(count),
            };
        }
        let org = org.map(str::to_owned);
        let name = name.to_owned();
        self.with_connection(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql("starting the revocation"))?;
            let count = revoke_in(&tx, kind, org.as_deref(), &name, "revoked", Utc::now())?;
            if count == 0 {
                return Err(StoreError::NoSuchToken {
                    kind: kind.as_str(),
                    org,
                    name,
                });
            }
            tx.commit().map_err(sql("committing the revocation"))?;
            Ok(count)
        })
        .await
    }

    /// Replaces the active tokens of `kind` named `name` (for `org`) by one new token of the
    /// same name, in one transaction: the old ones are refused from the commit on. Returns
    /// the new token, which exists nowhere else afterwards.
    pub async fn rotate_token(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
    ) -> Result<String, StoreError> {
        let (token, hash) = crate::auth::generate(kind);
        if let super::Backend::Postgres(pg) = &self.backend {
            return match pg.revoke_or_rotate(kind, org, name, Some(&hash)).await? {
                0 => Err(StoreError::NoSuchToken {
                    kind: kind.as_str(),
                    org: org.map(str::to_owned),
                    name: name.to_owned(),
                }),
                _ => Ok(token),
            };
        }
        let org = org.map(str::to_owned);
        let name = name.to_owned();
        self.with_connection(move |c| {
            let now = Utc::now();
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql("starting the rotation"))?;
            let count = revoke_in(&tx, kind, org.as_deref(), &name, "rotated", now)?;
            if count == 0 {
                return Err(StoreError::NoSuchToken {
                    kind: kind.as_str(),
                    org,
                    name,
                });
            }
            tx.execute(
                "INSERT INTO tokens (hash, kind, org, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, kind.as_str(), org, name, time_text(now)],
            )
            .map_err(sql("storing the new token hash"))?;
            record(
                &tx,
                AuditAction::TokenCreate,
                &AuditRecord {
                    actor: "cli",
                    kind: Some(kind),
                    org: org.as_deref(),
                    name: Some(&name),
                    token_hash: Some(&hash),
                    detail: Some("rotation"),
                },
                now,
            )?;
            tx.commit().map_err(sql("committing the rotation"))
        })
        .await?;
        Ok(token)
    }

    /// Appends one row to the audit log.
    pub async fn audit(
        &self,
        action: AuditAction,
        actor: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        if let super::Backend::Postgres(pg) = &self.backend {
            return pg
                .audit(
                    action,
                    &AuditRecord {
                        actor,
                        detail: Some(detail),
                        ..AuditRecord::default()
                    },
                )
                .await;
        }
        let actor = actor.to_owned();
        let detail = detail.to_owned();
        self.with_connection(move |c| {
            record(
                c,
                action,
                &AuditRecord {
                    actor: &actor,
                    detail: Some(&detail),
                    ..AuditRecord::default()
                },
                Utc::now(),
            )
        })
        .await
    }

    /// The audit log, oldest first.
    pub async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        if let super::Backend::Postgres(pg) = &self.backend {
            return pg.audit_entries().await;
        }
        self.with_connection(|c| {
            let mut statement = c
                .prepare(
                    "SELECT at, action, actor, kind, org, name, fingerprint, detail
                     FROM audit_log ORDER BY id",
                )
                .map_err(sql("reading the audit log"))?;
            let rows = statement
                .query_map([], |row| {
                    Ok(AuditEntry {
                        at: row.get(0)?,
                        action: row.get(1)?,
                        actor: row.get(2)?,
                        kind: row.get(3)?,
                        org: row.get(4)?,
                        name: row.get(5)?,
                        fingerprint: row.get(6)?,
                        detail: row.get(7)?,
                    })
                })
                .map_err(sql("reading the audit log"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql("reading the audit log"))
        })
        .await
    }
}
