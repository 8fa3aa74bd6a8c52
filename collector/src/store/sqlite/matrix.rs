//! What the capability matrix reads and keeps on SQLite: the latest verdicts, the verdicts at
//! a date, the answers, the kept past states.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vigie_matrix::{Answer, FindingFact};

use super::super::evidence::ReportEvidence;
use super::super::rows::{self, parse_evidence, parse_status, time_text};
use super::super::sql::{self, sqlite_text};
use super::super::{decode, snapshots, MatrixState, PastLevels, StoreError};
use super::reads::org_ids;
use super::{first, rows as query, sql as sql_error};

fn answers(connection: &Connection) -> Result<Vec<Answer>, StoreError> {
    query(
        connection,
        sql::ANSWERS,
        [],
        "reading answers",
        rows::answer,
    )
}

/// The latest verdict of every (org, target, check) of a known check, and every answer.
pub(in super::super) fn matrix_state(
    connection: &mut Connection,
) -> Result<MatrixState, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql_error("starting a read transaction"))?;
    let orgs = org_ids(&tx)?;
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
    let answers = answers(&tx)?;
    Ok(MatrixState {
        orgs,
        findings,
        answers,
    })
}

/// The verdicts as they stood at `at`: for each key, the last status transition at or
/// before `at`, with the evidence of the report that made it. Answers are all returned; the
/// grading ignores those given after `at`.
pub(in super::super) fn matrix_state_at(
    connection: &mut Connection,
    at: DateTime<Utc>,
) -> Result<MatrixState, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql_error("starting a read transaction"))?;
    let orgs = org_ids(&tx)?;
    let history = query(
        &tx,
        "SELECT t.org, t.target, t.check_id, t.to_status, t.at, t.report_id
         FROM transitions t
         WHERE t.at <= ?1 AND t.id = (
             SELECT t2.id FROM transitions t2
             WHERE t2.org = t.org AND t2.target = t.target AND t2.check_id = t.check_id
               AND t2.at <= ?1
             ORDER BY t2.at DESC, t2.id DESC LIMIT 1)
         ORDER BY t.org, t.target, t.check_id",
        [time_text(at)],
        "reading history",
        rows::history,
    )?;
    // Evidence comes from the report that set each status; each report is parsed once.
    let mut reports = HashMap::new();
    for report_id in rows::reports_needed(&history) {
        let body = super::reads::report_body(&tx, report_id)?;
        reports.insert(
            report_id.to_owned(),
            body.and_then(|b| ReportEvidence::parse(&b)),
        );
    }
    let findings = rows::facts_at(history, &reports)?;
    let answers = answers(&tx)?;
    Ok(MatrixState {
        orgs,
        findings,
        answers,
    })
}

/// The fingerprint of what a grading at each date reads (see `snapshots`), with the stored
/// levels that match it.
pub(in super::super) fn past_levels(
    connection: &mut Connection,
    dates: &[DateTime<Utc>],
    grading: &str,
) -> Result<Vec<PastLevels>, StoreError> {
    let tx = connection
        .transaction()
        .map_err(sql_error("starting a read transaction"))?;
    let orgs: i64 = tx
        .query_row(sql::COUNT_ORGS, [], |row| row.get(0))
        .map_err(sql_error("counting organizations"))?;
    let texts: Vec<String> = dates.iter().map(|at| time_text(*at)).collect();
    let history = {
        let mut range = tx
            .prepare_cached(snapshots::HISTORY_RANGE)
            .map_err(sql_error("preparing the history fingerprint"))?;
        let mut parts = Vec::with_capacity(dates.len());
        for (i, after, up_to) in snapshots::history_ranges(&texts) {
            let part: (i64, i64) = range
                .query_row([after, up_to], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(sql_error("fingerprinting the history"))?;
            parts.push((i, part));
        }
        snapshots::accumulate_history(dates.len(), parts)
    };
    let mut out = Vec::with_capacity(dates.len());
    {
        let mut answers = tx
            .prepare_cached(snapshots::ANSWERS_UP_TO)
            .map_err(sql_error("preparing the answers fingerprint"))?;
        let mut stored = tx
            .prepare_cached(snapshots::SNAPSHOT)
            .map_err(sql_error("preparing the snapshot lookup"))?;
        for ((at, at_text), (transitions, last_id)) in dates.iter().zip(&texts).zip(history) {
            let (answered, last_import): (i64, String) = answers
                .query_row([at.date_naive().to_string()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(sql_error("fingerprinting the answers"))?;
            let inputs = snapshots::inputs((transitions, last_id), (answered, &last_import), orgs);
            let levels = stored
                .query_row(params![at_text, grading], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .optional()
                .map_err(sql_error("reading a matrix snapshot"))?
                .and_then(|(was, levels)| (was == inputs).then_some(levels));
            out.push(PastLevels { inputs, levels });
        }
    }
    Ok(out)
}

pub(in super::super) fn save_past_levels(
    connection: &mut Connection,
    at: DateTime<Utc>,
    grading: &str,
    inputs: &str,
    levels: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .execute(
            snapshots::SAVE_SNAPSHOT,
            params![time_text(at), grading, inputs, levels, time_text(now)],
        )
        .map_err(sql_error("storing a matrix snapshot"))?;
    Ok(())
}

/// Stores self-assessment answers in one transaction: all or none. An answer to the same
/// question on the same date replaces the earlier import. Every organization must exist.
pub(in super::super) fn insert_answers(
    connection: &mut Connection,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = time_text(now);
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error("starting the assessment import"))?;
    {
        let mut insert = tx
            .prepare_cached(sqlite_text!(sql::INSERT_ANSWER))
            .map_err(sql_error("preparing the assessment insert"))?;
        for answer in answers {
            // A typo in an organization id must not create a new organization.
            let known = first(
                &tx,
                sqlite_text!(sql::ORG_EXISTS),
                [&answer.org],
                "looking up the organization",
                |_| Ok(()),
            )?;
            if known.is_none() {
                return Err(StoreError::UnknownOrg(answer.org.clone()));
            }
            insert
                .execute(params![
                    answer.org,
                    answer.question,
                    answer.answer,
                    answer.respondent_role,
                    answer.answered_on.to_string(),
                    answer.evidence,
                    now
                ])
                .map_err(sql_error("storing an answer"))?;
        }
    }
    tx.commit()
        .map_err(sql_error("committing the assessment import"))?;
    Ok(answers.len())
}
