//! Organization metadata (table `org_meta`, migration 6): the region and size band that the
//! matrix's aggregate view groups by (`--group-by region|size-band`). Both backends' SQL is
//! here, so that the feature stays in one file.

use chrono::Utc;
use rusqlite::OptionalExtension as _;

use super::sqlite::{sql, time_text};
use super::{Backend, Store, StoreError};

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

const UPSERT: &str = "INSERT INTO org_meta (org, region, size_band, updated_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (org) DO UPDATE SET
         region = COALESCE(excluded.region, org_meta.region),
         size_band = COALESCE(excluded.size_band, org_meta.size_band),
         updated_at = excluded.updated_at";

const SELECT: &str = "SELECT org, region, size_band FROM org_meta ORDER BY org";

impl Store {
    /// Stores the metadata changes, all or none. Every organization must exist
    /// ([`StoreError::UnknownOrg`] names the first that does not).
    pub async fn set_org_meta(&self, updates: Vec<OrgMetaUpdate>) -> Result<usize, StoreError> {
        let now = time_text(Utc::now());
        if let Backend::Postgres(pg) = &self.backend {
            let mut client = pg.client().await?;
            let tx = client
                .transaction()
                .await
                .map_err(super::postgres::pg("starting the metadata update"))?;
            for u in &updates {
                let known = tx
                    .query_opt("SELECT 1 FROM orgs WHERE org = $1", &[&u.org])
                    .await
                    .map_err(super::postgres::pg("looking up an organization"))?;
                if known.is_none() {
                    return Err(StoreError::UnknownOrg(u.org.chars().take(64).collect()));
                }
                tx.execute(UPSERT, &[&u.org, &u.region, &u.size_band, &now])
                    .await
                    .map_err(super::postgres::pg("storing organization metadata"))?;
            }
            tx.commit()
                .await
                .map_err(super::postgres::pg("committing organization metadata"))?;
            return Ok(updates.len());
        }
        self.with_connection(move |c| {
            let tx = c
                .transaction()
                .map_err(sql("starting the metadata update"))?;
            for u in &updates {
                let known: Option<i64> = tx
                    .query_row("SELECT 1 FROM orgs WHERE org = ?1", [&u.org], |r| r.get(0))
                    .optional()
                    .map_err(sql("looking up an organization"))?;
                if known.is_none() {
                    return Err(StoreError::UnknownOrg(u.org.chars().take(64).collect()));
                }
                tx.execute(UPSERT, rusqlite::params![u.org, u.region, u.size_band, now])
                    .map_err(sql("storing organization metadata"))?;
            }
            tx.commit()
                .map_err(sql("committing organization metadata"))?;
            Ok(updates.len())
        })
        .await
    }

    /// Every organization's stored metadata, by organization.
    pub async fn org_meta(&self) -> Result<Vec<OrgMeta>, StoreError> {
        if let Backend::Postgres(pg) = &self.backend {
            let client = pg.client().await?;
            return Ok(client
                .query(SELECT, &[])
                .await
                .map_err(super::postgres::pg("reading organization metadata"))?
                .iter()
                .map(|row| OrgMeta {
                    org: row.get(0),
                    region: row.get(1),
                    size_band: row.get(2),
                })
                .collect());
        }
        self.with_connection(|c| {
            let mut statement = c
                .prepare_cached(SELECT)
                .map_err(sql("reading organization metadata"))?;
            let rows = statement
                .query_map([], |row| {
                    Ok(OrgMeta {
                        org: row.get(0)?,
                        region: row.get(1)?,
                        size_band: row.get(2)?,
                    })
                })
                .map_err(sql("reading organization metadata"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(sql("reading organization metadata"))
        })
        .await
    }
}
