//! The read API, `/metrics` and the other reads on PostgreSQL: the shared texts of `sql`, the
//! shared decoders of `rows`, each answer in one read-only snapshot.

use deadpool_postgres::GenericClient;

use super::super::audit::AuditEntry;
use super::super::orgmeta::OrgMeta;
use super::super::rows;
use super::super::sql;
use super::super::{MetricsSnapshot, OrgDetail, OrgSummary, StoreError, TransitionRow};
use super::{first, pg, rows as query, PgStore};
use crate::auth::Principal;

pub(super) async fn org_ids(client: &impl GenericClient) -> Result<Vec<String>, StoreError> {
    query(
        client,
        sql::ORG_IDS,
        &[],
        "listing organizations",
        rows::first_text,
    )
    .await
}

async fn finding_counts(
    client: &impl GenericClient,
) -> Result<Vec<rows::FindingCount>, StoreError> {
    query(
        client,
        sql::FINDING_COUNTS,
        &[],
        "counting findings",
        rows::finding_count,
    )
    .await
}

async fn tls_rows(
    client: &impl GenericClient,
    org: Option<&str>,
) -> Result<Vec<rows::TlsRow>, StoreError> {
    query(
        client,
        sql::TLS_ROWS,
        &[&org],
        "listing certificates",
        rows::tls_row,
    )
    .await
}

impl PgStore {
    pub(in super::super) async fn find_token(
        &self,
        hash: &str,
    ) -> Result<Option<Principal>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql::FIND_TOKEN)
            .await
            .map_err(pg("looking up a token"))?;
        client
            .query_opt(&statement, &[&hash])
            .await
            .map_err(pg("looking up a token"))?
            .map(|row| rows::principal(&row))
            .transpose()
    }

    pub(in super::super) async fn orgs(&self) -> Result<Vec<OrgSummary>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let ids = org_ids(&tx).await?;
        let agents = query(
            &tx,
            sql::AGENT_COUNTS,
            &[],
            "counting agents",
            rows::agent_count,
        )
        .await?;
        Ok(rows::summaries(ids, agents, finding_counts(&tx).await?))
    }

    pub(in super::super) async fn org(&self, org: &str) -> Result<Option<OrgDetail>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let exists = first(
            &tx,
            sql::ORG_EXISTS,
            &[&org],
            "looking up the organization",
            |_| Ok(()),
        )
        .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let agents = query(&tx, sql::ORG_AGENTS, &[&org], "listing agents", |row| {
            rows::agent(org, row)
        })
        .await?;
        let findings = query(
            &tx,
            sql::ORG_FINDINGS,
            &[&org],
            "reading the latest findings",
            |row| rows::latest_finding(org, row),
        )
        .await?;
        let certificates = tls_rows(&tx, Some(org)).await?;
        Ok(Some(rows::org_detail(org, agents, findings, certificates)))
    }

    pub(in super::super) async fn metrics_snapshot(&self) -> Result<MetricsSnapshot, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        Ok(rows::metrics_snapshot(
            org_ids(&tx).await?,
            query(
                &tx,
                sql::AGENTS_SEEN,
                &[],
                "listing agents",
                rows::agent_seen,
            )
            .await?,
            query(&tx, sql::CHECKS, &[], "listing checks", rows::check_status).await?,
            finding_counts(&tx).await?,
            tls_rows(&tx, None).await?,
            query(
                &tx,
                sql::FAMILY_FINDINGS,
                &[],
                "listing the family verdicts",
                rows::family_finding,
            )
            .await?,
        ))
    }

    pub(in super::super) async fn transitions(
        &self,
        org: &str,
        target: &str,
        check: &str,
    ) -> Result<Vec<TransitionRow>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            sql::TRANSITIONS,
            &[&org, &target, &check],
            "reading history",
            |row| rows::transition((org, target, check), row),
        )
        .await
    }

    pub(in super::super) async fn regrade_candidates(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            sql::REGRADE_CANDIDATES,
            &[],
            "listing the reports to regrade",
            rows::first_text,
        )
        .await
    }

    pub(in super::super) async fn report_body(
        &self,
        report_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        first(
            &client,
            sql::REPORT_BODY,
            &[&report_id],
            "reading a stored report",
            |row| row.text(0),
        )
        .await
    }

    pub(in super::super) async fn row_counts(
        &self,
    ) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let mut out = Vec::new();
        for table in sql::COUNTED_TABLES {
            // The table names are constants, never input.
            let count: i64 = tx
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .await
                .map_err(pg("counting rows"))?
                .get(0);
            out.push((table, u64::try_from(count).unwrap_or(0)));
        }
        Ok(out)
    }

    pub(in super::super) async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            sql::AUDIT_ENTRIES,
            &[],
            "reading the audit log",
            rows::audit_entry,
        )
        .await
    }

    pub(in super::super) async fn org_meta(&self) -> Result<Vec<OrgMeta>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            sql::ORG_META,
            &[],
            "reading organization metadata",
            rows::org_meta,
        )
        .await
    }
}
