//! `[scope]`: what service scans may touch, read into the agent's [`Scope`].

use serde::{Deserialize, Deserializer};

use super::values::parse_list;
use crate::scope::{Scope, ScopeEntry};

fn de_scope_entries<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ScopeEntry>, D::Error> {
    parse_list(
        deserializer,
        |text| text.parse::<ScopeEntry>().map_err(|e| e.to_string()),
        "addresses, CIDRs, host names or *.domain wildcards",
    )
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// `[scope]` as written.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ScopeSection {
            /// Addresses, CIDRs, host names and `*.` wildcards.
            #[serde(default, deserialize_with = "de_scope_entries")]
            allow: Vec<ScopeEntry>,
        }
        let section = ScopeSection::deserialize(deserializer)?;
        Ok(Scope::from_entries(section.allow))
    }
}
