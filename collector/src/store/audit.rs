//! The token lifecycle after creation (revocation, rotation) and the audit log; each
//! backend's statements are in its `upkeep`. A token itself is never stored, logged or
//! audited, only its hash (and, in the audit log, the first 12 hex digits of that hash).

use chrono::Utc;
use serde::Serialize;

use super::{sqlite, Backend, Store, StoreError};
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
        match self.revoke_or_rotate(kind, org, name, None).await? {
            0 => Err(no_such_token(kind, org, name)),
            count => Ok(count),
        }
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
        match self.revoke_or_rotate(kind, org, name, Some(hash)).await? {
            0 => Err(no_such_token(kind, org, name)),
            _ => Ok(token),
        }
    }

    async fn revoke_or_rotate(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        new_hash: Option<String>,
    ) -> Result<usize, StoreError> {
        if let Backend::Postgres(pg) = &self.backend {
            return pg
                .revoke_or_rotate(kind, org, name, new_hash.as_deref())
                .await;
        }
        let (org, name) = (org.map(str::to_owned), name.to_owned());
        self.with_connection(move |c| {
            sqlite::upkeep::revoke_or_rotate(c, kind, org.as_deref(), &name, new_hash.as_deref())
        })
        .await
    }

    /// Appends one row to the audit log.
    pub async fn audit(
        &self,
        action: AuditAction,
        actor: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        if let Backend::Postgres(pg) = &self.backend {
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
            sqlite::upkeep::record(
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
        if let Backend::Postgres(pg) = &self.backend {
            return pg.audit_entries().await;
        }
        self.with_connection(sqlite::reads::audit_entries).await
    }
}

fn no_such_token(kind: TokenKind, org: Option<&str>, name: &str) -> StoreError {
    StoreError::NoSuchToken {
        kind: kind.as_str(),
        org: org.map(str::to_owned),
        name: name.to_owned(),
    }
}
