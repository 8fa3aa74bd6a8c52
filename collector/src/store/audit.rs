//! The token lifecycle after creation (revocation, rotation) and the audit log; each
//! backend's statements are in its `upkeep`. A token itself is never stored, logged or
//! audited, only its hash (and, in the audit log, the first 12 hex digits of that hash).

use serde::Serialize;

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
