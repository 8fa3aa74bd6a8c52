//! The token lifecycle after creation (revocation, rotation) and the audit log; each
//! backend's statements are in its `upkeep`. A token itself is never stored, logged or
//! audited, only its hash (and, in the audit log, the first 12 hex digits of that hash).

use chrono::Utc;
use serde::Serialize;

use super::db::Db;
use super::{queries, Backend, Store, StoreError};
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

/// The fingerprint of a token hash: its first 12 hex digits.
pub fn fingerprint(token_hash: &str) -> String {
    token_hash.chars().take(12).collect()
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
        self.revoke_or_rotate(kind, org, name, None).await
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
        self.revoke_or_rotate(kind, org, name, Some(hash)).await?;
        Ok(token)
    }

    async fn revoke_or_rotate(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        new_hash: Option<String>,
    ) -> Result<usize, StoreError> {
        let missing = StoreError::NoSuchToken {
            kind: kind.as_str(),
            org: org.map(str::to_owned),
            name: name.to_owned(),
        };
        let (org, name) = (org.map(str::to_owned), name.to_owned());
        // SQLite names the transaction after what it does; PostgreSQL always "revocation".
        let steps = match (&self.backend, &new_hash) {
            (Backend::Sqlite(_), Some(_)) => ["starting the rotation", "committing the rotation"],
            _ => ["starting the revocation", "committing the revocation"],
        };
        let revoked = on_backend!(self, write, transact, steps; |db| {
            queries::revoke_or_rotate(db, kind, org.as_deref(), &name, new_hash.as_deref())
        })?;
        // None: nothing was changed, and the error names what was looked for.
        match revoked {
            0 => Err(missing),
            count => Ok(count),
        }
    }

    /// Appends one row to the audit log.
    pub async fn audit(
        &self,
        action: AuditAction,
        actor: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let (actor, detail) = (actor.to_owned(), detail.to_owned());
        match &self.backend {
            Backend::Sqlite(s) => {
                s.connected(async move |db| audit_in(db, action, &actor, &detail).await)
                    .await
            }
            // PostgreSQL writes it in a transaction of its own.
            Backend::Postgres(pg) => {
                let steps = ["starting the audit transaction", "writing the audit log"];
                pg.transact(steps, async |db| {
                    audit_in(db, action, &actor, &detail).await
                })
                .await
            }
        }
    }

    /// The audit log, oldest first.
    pub async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        on_backend!(self, connected, connected; |db| queries::audit_entries(db))
    }
}

async fn audit_in(
    db: &impl Db,
    action: AuditAction,
    actor: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let record = AuditRecord {
        actor,
        detail: Some(detail),
        ..AuditRecord::default()
    };
    queries::record(db, action, &record, Utc::now()).await
}
