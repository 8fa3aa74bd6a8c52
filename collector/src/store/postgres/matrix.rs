//! What the capability matrix reads and keeps on PostgreSQL: the latest verdicts, the
//! verdicts at a date, the answers, the kept past states.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use vigie_matrix::{Answer, FindingFact};

use super::super::evidence::ReportEvidence;
use super::super::rows::{self, parse_evidence, parse_status, parse_time, time_text, Columns};
use super::super::sql;
use super::super::{decode, snapshots, MatrixState, PastLevels, StoreError};
use super::reads::org_ids;
use super::{first, pg, rows as query, PgStore};

async fn answers(client: &impl GenericClient) -> Result<Vec<Answer>, StoreError> {
    query(client, sql::ANSWERS, &[], "reading answers", rows::answer).await
}

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
        let orgs = org_ids(&tx).await?;
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
            answers: answers(&tx).await?,
        })
    }

    pub(in super::super) async fn matrix_state_at(
        &self,
        at: DateTime<Utc>,
    ) -> Result<MatrixState, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs = org_ids(&tx).await?;
        let history = query(
            &tx,
            "SELECT DISTINCT ON (org, target, check_id)
                    org, target, check_id, to_status, at, report_id
             FROM transitions WHERE at <= $1
             ORDER BY org, target, check_id, at DESC, id DESC",
            &[&time_text(at)],
            "reading history",
            rows::history,
        )
        .await?;
        // Evidence comes from the report that set each status; each report is parsed once.
        let mut reports = HashMap::new();
        for report_id in rows::reports_needed(&history) {
            let body = first(
                &tx,
                sql::REPORT_BODY,
                &[&report_id],
                "reading a stored report",
                |row| row.text(0),
            )
            .await?;
            reports.insert(
                report_id.to_owned(),
                body.and_then(|b| ReportEvidence::parse(&b)),
            );
        }
        let findings = rows::facts_at(history, &reports)?;
        Ok(MatrixState {
            orgs,
            findings,
            answers: answers(&tx).await?,
        })
    }

    /// See the SQLite backend's `past_levels`: the same fingerprint, in one repeatable-read
    /// snapshot.
    pub(in super::super) async fn past_levels(
        &self,
        dates: &[DateTime<Utc>],
        grading: &str,
    ) -> Result<Vec<PastLevels>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs = tx
            .query_one(sql::COUNT_ORGS, &[])
            .await
            .map_err(pg("counting organizations"))?
            .integer(0)?;
        let texts: Vec<String> = dates.iter().map(|at| time_text(*at)).collect();
        let mut parts = Vec::with_capacity(dates.len());
        for (i, after, up_to) in snapshots::history_ranges(&texts) {
            let row = tx
                .query_one(snapshots::HISTORY_RANGE, &[&after, &up_to])
                .await
                .map_err(pg("fingerprinting the history"))?;
            parts.push((i, (row.integer(0)?, row.integer(1)?)));
        }
        let history = snapshots::accumulate_history(dates.len(), parts);
        let mut out = Vec::with_capacity(dates.len());
        for ((at, at_text), (transitions, last_id)) in dates.iter().zip(&texts).zip(history) {
            let answers = tx
                .query_one(snapshots::ANSWERS_UP_TO, &[&at.date_naive().to_string()])
                .await
                .map_err(pg("fingerprinting the answers"))?;
            let (answered, last_import) = (answers.integer(0)?, answers.str(1)?);
            let inputs = snapshots::inputs((transitions, last_id), (answered, last_import), orgs);
            let stored = first(
                &tx,
                snapshots::SNAPSHOT,
                &[at_text, &grading],
                "reading a matrix snapshot",
                |row| (row.str(0)? == inputs).then(|| row.text(1)).transpose(),
            )
            .await?;
            out.push(PastLevels {
                inputs,
                levels: stored.flatten(),
            });
        }
        Ok(out)
    }

    pub(in super::super) async fn save_past_levels(
        &self,
        at: DateTime<Utc>,
        grading: &str,
        inputs: &str,
        levels: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                snapshots::SAVE_SNAPSHOT,
                &[&time_text(at), &grading, &inputs, &levels, &time_text(now)],
            )
            .await
            .map_err(pg("storing a matrix snapshot"))?;
        Ok(())
    }

    pub(in super::super) async fn insert_answers(
        &self,
        answers: &[Answer],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now = time_text(now);
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the assessment import").await?;
        for answer in answers {
            // A typo in an organization id must not create a new organization.
            let known = first(
                &tx,
                sql::ORG_EXISTS,
                &[&answer.org],
                "looking up the organization",
                |_| Ok(()),
            )
            .await?;
            if known.is_none() {
                return Err(StoreError::UnknownOrg(answer.org.clone()));
            }
            tx.execute(
                sql::INSERT_ANSWER,
                &[
                    &answer.org,
                    &answer.question,
                    &answer.answer,
                    &answer.respondent_role,
                    &answer.answered_on.to_string(),
                    &answer.evidence,
                    &now,
                ],
            )
            .await
            .map_err(pg("storing an answer"))?;
        }
        tx.commit()
            .await
            .map_err(pg("committing the assessment import"))?;
        Ok(answers.len())
    }
}
