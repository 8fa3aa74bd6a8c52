//! The latest verdicts for the capability matrix, read SQLite's faster way; the matrix's
//! other reads (history, answers, kept states) are `queries`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use vigie_matrix::FindingFact;

use super::super::db::run_now;
use super::super::rows::{self, parse_evidence, parse_status};
use super::super::{decode, queries, MatrixState, StoreError};
use super::{rows as query, sql as sql_error};

/// The latest verdict of every (org, target, check) of a known check, and every answer.
pub(in super::super) fn matrix_state(
    connection: &mut Connection,
) -> Result<MatrixState, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql_error("starting a read transaction"))?;
    let orgs = run_now(queries::org_ids(&*tx, None))?;
    // What the `current_latest` view (migration 0008) says, read the cheaper way for a
    // sector's worth of rows: `latest` in its own order (the grading does not depend on it)
    // and each agent's newest report time once, instead of the view's ordered scan and
    // per-row join, which took twice as long.
    let newest: HashMap<(String, String), DateTime<Utc>> = query(
        &tx,
        "SELECT org, agent_id, last_report_at FROM agents",
        [],
        "reading the agents",
        rows::agent_seen,
    )?
    .into_iter()
    .map(|(org, agent, at)| ((org, agent), at))
    .collect();
    let mut findings: Vec<(String, FindingFact)> = Vec::new();
    {
        let mut statement = tx
            .prepare_cached(
                "SELECT org, target, check_id, status, evidence, agent_id FROM latest
                 WHERE retired = 0",
            )
            .map_err(sql_error("preparing the latest verdicts"))?;
        let mut rows = statement
            .query([])
            .map_err(sql_error("reading the latest verdicts"))?;
        let mut key = (String::new(), String::new());
        while let Some(row) = rows
            .next()
            .map_err(sql_error("reading the latest verdicts"))?
        {
            // Borrowed, not copied: most rows are dropped or keep only their target.
            let text = |i| -> Result<Option<&str>, StoreError> {
                row.get_ref(i)
                    .and_then(|value| value.as_str_or_null().map_err(Into::into))
                    .map_err(sql_error("reading the latest verdicts"))
            };
            let column = |i, name| {
                text(i)?.ok_or(StoreError::Corrupt {
                    column: name,
                    value: "NULL".to_owned(),
                })
            };
            // A check this build does not know (a newer agent) grades nothing.
            let Some(check) = vigie_model::Check::from_id(column(2, "latest.check_id")?) else {
                continue;
            };
            let org = column(0, "latest.org")?;
            // Not carried by any agent's report: not current (as in the view).
            let Some(agent) = text(5)? else {
                continue;
            };
            if key.0 != org || key.1 != agent {
                key = (org.to_owned(), agent.to_owned());
            }
            let Some(observed_at) = newest.get(&key).copied() else {
                continue;
            };
            let Some(fact) = decode::row("latest", &(&key, text(1)?, check), || {
                Ok(FindingFact {
                    check,
                    target: column(1, "latest.target")?.to_owned(),
                    status: parse_status("latest.status", column(3, "latest.status")?)?,
                    evidence: parse_evidence("latest.evidence", column(4, "latest.evidence")?)?,
                    observed_at,
                })
            })?
            else {
                continue;
            };
            findings.push((key.0.clone(), fact));
        }
    }
    let answers = run_now(queries::answers(&*tx))?;
    Ok(MatrixState {
        orgs,
        findings,
        answers,
    })
}
