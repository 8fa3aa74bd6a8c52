//! API tokens: how they are made, how they are recognised, and who they name.
//!
//! A token is a kind prefix (`vga_` for agents, `vgv_` for viewers, `vgs_` for scrapers)
//! followed by 32 bytes from
//! the operating system's random generator, base64url without padding. Only the SHA-256 of
//! the whole token string is stored; a request is authenticated by looking that hash up.
//! Tokens are never logged: nothing in this crate formats one except [`generate`]'s caller,
//! which prints it once on stdout.

use axum::http::{header::AUTHORIZATION, HeaderMap};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};

/// Random bytes in a token: 256 bits, beyond any guessing.
const TOKEN_BYTES: usize = 32;

/// Longer than any token this crate makes; a longer header is refused before it is hashed.
const MAX_TOKEN_LEN: usize = 256;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Posts reports for the one organization it is bound to.
    Agent,
    /// Reads the posture, within its role ([`crate::scope::Role`]).
    Viewer,
    /// Reads `/metrics` only: what Prometheus is given, so that its credentials file opens
    /// neither the read API, nor the web view, nor the ingest.
    Scraper,
}

impl TokenKind {
    /// The value stored in the `tokens.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Agent => "agent",
            TokenKind::Viewer => "viewer",
            TokenKind::Scraper => "scraper",
        }
    }

    /// The prefix of tokens of this kind, so that a person can tell them apart (and secret
    /// scanners can find a leaked one).
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Agent => "vga_",
            TokenKind::Viewer => "vgv_",
            TokenKind::Scraper => "vgs_",
        }
    }

    /// The kind named by a `tokens.kind` value.
    pub fn from_stored(value: &str) -> Option<TokenKind> {
        match value {
            "agent" => Some(TokenKind::Agent),
            "viewer" => Some(TokenKind::Viewer),
            "scraper" => Some(TokenKind::Scraper),
            _ => None,
        }
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An agent token, bound to `org`.
    Agent { org: String, name: String },
    /// A viewer token: the read API, the matrix and the web view, within its scope.
    Viewer {
        name: String,
        scope: crate::scope::Scope,
    },
    /// A `/metrics`-only token.
    Scraper { name: String },
}

/// A new random token of `kind` and the hash to store for it.
pub fn generate(kind: TokenKind) -> (String, String) {
    let mut bytes = [0u8; TOKEN_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let token = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    (token, hash)
}

/// A new random web session value (32 bytes, base64url) and the hash to store for it.
pub fn session_value() -> (String, String) {
    let mut bytes = [0u8; TOKEN_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&value);
    (value, hash)
}

/// The stored form of a token: SHA-256 of the token string, lowercase hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a request carries no usable token. The variants never include the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("no Authorization header")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    Malformed,
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers.get(AUTHORIZATION).ok_or(BearerError::Missing)?;
    let value = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(BearerError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let (agent, agent_hash) = generate(TokenKind::Agent);
        let (again, _) = generate(TokenKind::Agent);
        let (viewer, _) = generate(TokenKind::Viewer);
        let (scraper, _) = generate(TokenKind::Scraper);
        assert!(agent.starts_with("vga_"));
        assert!(viewer.starts_with("vgv_"));
        assert!(scraper.starts_with("vgs_"));
        for kind in [TokenKind::Agent, TokenKind::Viewer, TokenKind::Scraper] {
            assert_eq!(TokenKind::from_stored(kind.as_str()), Some(kind));
        }
        assert_ne!(agent, again);
        // 32 bytes in base64url without padding are 43 characters.
        assert_eq!(agent.len(), 4 + 43);
        assert_eq!(agent_hash, hash(&agent));
        assert_eq!(agent_hash.len(), 64);
        assert!(!agent_hash.contains(&agent[4..]));
    }

    #[test]
    fn bearer_header_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), Err(BearerError::Missing));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), Err(BearerError::Malformed));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), Err(BearerError::Malformed));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer vga_x"));
        assert_eq!(bearer(&headers), Ok("vga_x"));
    }
}
