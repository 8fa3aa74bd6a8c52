//! The store's administrative operations — the token lifecycle after creation (revocation,
//! rotation), the audit log and organization metadata — as methods of [`Store`] over the
//! shared `queries`. Kept apart from the types of `audit` and `orgmeta`, which the row
//! decoders and the queries read, so that those stay leaves of the store's import graph.

use chrono::Utc;

use super::audit::{AuditAction, AuditEntry, AuditRecord};
use super::db::Db;
use super::orgmeta::{OrgMeta, OrgMetaUpdate};
use super::{queries, Backend, Store, StoreError};
use crate::auth::TokenKind;

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

impl Store {
    /// Stores the metadata changes, all or none. Every organization must exist
    /// ([`StoreError::UnknownOrg`] names the first that does not).
    pub async fn set_org_meta(&self, updates: Vec<OrgMetaUpdate>) -> Result<usize, StoreError> {
        let steps = [
            "starting the metadata update",
            "committing organization metadata",
        ];
        on_backend!(self, write, transact, steps; |db| {
            queries::set_org_meta(db, &updates, Utc::now())
        })
    }

    /// Every organization's stored metadata, by organization.
    pub async fn org_meta(&self) -> Result<Vec<OrgMeta>, StoreError> {
        on_backend!(self, connected, connected; |db| queries::org_meta(db))
    }
}
