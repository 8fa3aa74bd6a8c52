//! The latest verdicts for the capability matrix, read from PostgreSQL's `current_latest`
//! view; the matrix's other reads (history, answers, kept states) are `queries`.

use vigie_matrix::FindingFact;

use super::super::rows::{parse_evidence, parse_status, parse_time, Columns};
use super::super::{decode, queries, MatrixState, StoreError};
use super::{rows as query, PgStore};

/// A row of the `current_latest` view: `(org, target, check, status, evidence,
/// observed_at)`; a check this build does not know (a newer agent) grades nothing.
fn current_fact(row: &dyn Columns) -> Result<Option<(String, FindingFact)>, StoreError> {
    let Some(check) = vigie_model::Check::from_id(row.str(2)?) else {
        return Ok(None);
    };
    let (org, target) = (row.text(0)?, row.text(1)?);
    let (status, evidence, observed) = (row.str(3)?, row.str(4)?, row.str(5)?);
    let Some((status, evidence, observed_at)) =
        decode::row("latest", &(&org, &target, check), || {
            Ok((
                parse_status("latest.status", status)?,
                parse_evidence("latest.evidence", evidence)?,
                parse_time("latest.observed_at", observed)?,
            ))
        })?
    else {
        return Ok(None);
    };
    Ok(Some((
        org,
        FindingFact {
            check,
            target,
            status,
            evidence,
            observed_at,
        },
    )))
}

impl PgStore {
    pub(in super::super) async fn matrix_state(&self) -> Result<MatrixState, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs = queries::org_ids(&tx, None).await?;
        let findings = query(
            &tx,
            "SELECT org, target, check_id, status, evidence, observed_at FROM current_latest
             ORDER BY org, target, check_id",
            &[],
            "reading the latest verdicts",
            current_fact,
        )
        .await?;
        Ok(MatrixState {
            orgs,
            findings,
            answers: queries::answers(&tx).await?,
        })
    }
}
