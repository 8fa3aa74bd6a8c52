//! Organization metadata (table `org_meta`, migration 6): the region and size band that the
//! matrix's aggregate view groups by (`--group-by region|size-band`). The SQL is in `sql`,
//! read by `rows::org_meta`.

use chrono::Utc;

use super::{sqlite, Backend, Store, StoreError};

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
        let now = Utc::now();
        if let Backend::Postgres(pg) = &self.backend {
            return pg.set_org_meta(&updates, now).await;
        }
        self.with_connection(move |c| sqlite::upkeep::set_org_meta(c, &updates, now))
            .await
    }

    /// Every organization's stored metadata, by organization.
    pub async fn org_meta(&self) -> Result<Vec<OrgMeta>, StoreError> {
        if let Backend::Postgres(pg) = &self.backend {
            return pg.org_meta().await;
        }
        self.with_connection(sqlite::reads::org_meta).await
    }
}
