//! The read PostgreSQL runs its own way: token lookups, with a statement prepared once per
//! connection. The other reads are `queries`, over this backend's `Db`.

use super::super::rows;
use super::super::sql;
use super::super::StoreError;
use super::{pg, PgStore};
use crate::auth::Principal;

impl PgStore {
    pub(in super::super) async fn find_token(
        &self,
        hash: &str,
    ) -> Result<Option<Principal>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql::FIND_TOKEN.postgres)
            .await
            .map_err(pg("looking up a token"))?;
        client
            .query_opt(&statement, &[&hash])
            .await
            .map_err(pg("looking up a token"))?
            .map(|row| rows::principal(&row))
            .transpose()
    }

    pub(in super::super) async fn find_session(
        &self,
        hash: &str,
        now: &str,
    ) -> Result<Option<Principal>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql::FIND_SESSION.postgres)
            .await
            .map_err(pg("looking up a web session"))?;
        client
            .query_opt(&statement, &[&hash, &now])
            .await
            .map_err(pg("looking up a web session"))?
            .map(|row| rows::principal(&row))
            .transpose()
    }
}
