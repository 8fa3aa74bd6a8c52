//! Organization metadata (table `org_meta`, migration 6): the region and size band that the
//! matrix's aggregate view groups by (`--group-by region|size-band`). The SQL is in `sql`,
//! read by `rows::org_meta`.

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
