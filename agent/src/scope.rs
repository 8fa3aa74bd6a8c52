//! The scope allowlist: the only addresses and names a service scan may touch.
//!
//! The allowlist and its rules live in `vigie-checks` (`vigie_checks::services::scope`),
//! next to the service scan that enforces them before sending a packet. This module wraps
//! it so that the agent's config can read `[scope]` (serde's orphan rule wants a local type);
//! it dereferences to the library's [`vigie_checks::services::Scope`], so one definition
//! serves both.

use std::ops::Deref;

pub use vigie_checks::services::scope::{ScopeEntry, ScopeError};

/// The `[scope] allow` list of the agent's config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(vigie_checks::services::Scope);

impl Scope {
    /// Parses entries such as `203.0.113.0/28`, `example.ca`, `*.example.ca`; the first bad
    /// one is an error that names it and says why.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Scope, ScopeError> {
        vigie_checks::services::Scope::parse(items).map(Scope)
    }

    /// A scope of already parsed entries.
    pub fn from_entries(entries: Vec<ScopeEntry>) -> Scope {
        Scope(vigie_checks::services::Scope::from_entries(entries))
    }

    /// The library's allowlist, as the service scan takes it.
    pub fn as_checks(&self) -> &vigie_checks::services::Scope {
        &self.0
    }
}

impl Deref for Scope {
    type Target = vigie_checks::services::Scope;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
