//! Organization metadata (table `org_meta`, migration 6): the region and size band that the
//! matrix's aggregate view groups by (`--group-by region|size-band`). The SQL is in `sql`,
//! read by `rows::org_meta`.

use chrono::Utc;

use super::{queries, Backend, Store, StoreError};

/// One organization's metadata; `None` when not set.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct OrgMeta {
    pub org: String,
    pub region: Option<String>,
    pub size_band: Option<String>,
}

/// One change: a field left `None` keeps its stored value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgMetaUpdate {
    pub org: String,
    pub region: Option<String>,
    pub size_band: Option<String>,
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
