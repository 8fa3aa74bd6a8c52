//! Storing a report on PostgreSQL: one transaction on its own pooled connection, under the
//! organization's advisory lock, in pipelined round trips: [`lookup`] (lock, budget, insert,
//! the agent and its rows in one), [`plan`] (another only for keys the agent does not
//! hold), [`write`] (the agent and the latest state in one), then the certificates.

use std::collections::HashSet;

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::super::plan::{self, Plan, StoredRows, Unchanged};
use super::super::rows::{self, time_text, Columns as _};
use super::super::sql;
use super::super::{IncomingReport, IngestOutcome, StoreError};
use super::{cached, pg, Params, PgStore, ORG_LOCK};

/// The report's values that several statements bind.
struct Texts {
    report_id: String,
    finished_at: String,
    received_at: String,
}

/// What the first round trip found.
struct Found {
    /// Whether this report is new (its insert took): otherwise everything is rolled back.
    inserted: bool,
    /// The organization's stored report bytes before this report.
    used: i64,
    /// The agent's newest report before this one: `(last_report_at, last_report_id)`.
    newest: Option<(String, Option<String>)>,
    /// The agent's current rows ([`sql::AGENT_ROWS`]).
    mine: Vec<Row>,
}

impl PgStore {
    /// Stores one report in its own transaction; see the module documentation.
    pub(in super::super) async fn ingest(
        &self,
        incoming: &IncomingReport,
    ) -> Result<IngestOutcome, StoreError> {
        let report = &incoming.report;
        let texts = Texts {
            report_id: report.report_id.to_string(),
            finished_at: time_text(report.finished_at),
            received_at: time_text(incoming.received_at),
        };
        let mut client = self.client().await?;
        let tx = Self::write(&mut client, "starting the ingest transaction").await?;
        let found = lookup(&tx, incoming, &texts).await?;
        if !found.inserted {
            // The transaction ends without a commit: nothing above stays written.
            return same_or_conflict(&tx, incoming, &texts.report_id).await;
        }
        if let Some((used, budget)) = incoming.over_budget(u64::try_from(found.used).unwrap_or(0)) {
            // The transaction ends without a commit: the report's insert is undone.
            return Ok(IngestOutcome::OverBudget { used, budget });
        }
        // A report that finished before the agent's newest arrives late (an outbox backlog):
        // kept in `reports`, it changes nothing newer. Decided as times (see
        // `plan::is_late`), under the organization's lock.
        let newest = found.newest.as_ref().map(|(at, _)| at.as_str());
        if !plan::is_late(newest, incoming) {
            let plan = plan(&tx, incoming, &texts, &found.mine).await?;
            write(&tx, incoming, &texts, plan, found.newest).await?;
        }
        record_certificates(&tx, incoming, &texts.report_id).await?;
        tx.commit().await.map_err(pg("committing the report"))?;
        Ok(IngestOutcome::Stored {
            received_at: texts.received_at,
        })
    }
}

/// The first statements, in one round trip, run in this order: the organization's lock, its
/// stored bytes, the report's insert, the agent's newest report and current rows. If the
/// report is already stored, all of it is rolled back by the caller.
async fn lookup(
    tx: &Transaction<'_>,
    incoming: &IncomingReport,
    texts: &Texts,
) -> Result<Found, StoreError> {
    let report = &incoming.report;
    let org = report.org.as_str();
    let lock = cached(tx, ORG_LOCK).await?;
    // Read under the organization's lock, before this report's insert counts in it
    // (a trigger keeps the column, migration 0011).
    let stored_bytes = cached(tx, sql::STORED_BYTES.postgres).await?;
    let insert = cached(
        tx,
        "INSERT INTO reports (report_id, org, agent_id, body_sha256, received_at,
                              started_at, finished_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (report_id) DO NOTHING RETURNING report_id",
    )
    .await?;
    let agent_lookup = cached(tx, sql::AGENT_NEWEST.postgres).await?;
    let mine = cached(tx, sql::AGENT_ROWS.postgres).await?;
    let started_at = time_text(report.started_at);
    let report_params: &Params = &[
        &texts.report_id,
        &org,
        &report.agent.id,
        &incoming.body_sha256,
        &texts.received_at,
        &started_at,
        &texts.finished_at,
        &incoming.body,
    ];
    let agent_key: &Params = &[&org, &report.agent.id];
    // Each statement keeps its own context: the first to fail is the one reported.
    let (_, used, inserted, newest, mine) = tokio::try_join!(
        async {
            tx.execute(&lock, &[&org])
                .await
                .map_err(pg("locking the organization"))
        },
        async {
            tx.query_opt(&stored_bytes, &[&org])
                .await
                .map_err(pg("reading the organization's stored bytes"))
        },
        async {
            tx.query_opt(&insert, report_params)
                .await
                .map_err(pg("storing the report"))
        },
        async {
            tx.query_opt(&agent_lookup, agent_key)
                .await
                .map_err(pg("looking up the agent"))
        },
        async {
            tx.query(&mine, agent_key)
                .await
                .map_err(pg("reading the agent's latest state"))
        },
    )?;
    Ok(Found {
        inserted: inserted.is_some(),
        used: used.map(|row| row.integer(0)).transpose()?.unwrap_or(0),
        newest: newest
            .map(|row| Ok::<_, StoreError>((row.text(0)?, row.optional_text(1)?)))
            .transpose()?,
        mine,
    })
}

/// A report id stored before: the same report (same body, or the same in canonical JSON) is
/// a duplicate, another body a conflict.
async fn same_or_conflict(
    tx: &Transaction<'_>,
    incoming: &IncomingReport,
    report_id: &str,
) -> Result<IngestOutcome, StoreError> {
    let row = tx
        .query_one(
            &cached(
                tx,
                "SELECT body_sha256, received_at, body FROM reports WHERE report_id = $1",
            )
            .await?,
            &[&report_id],
        )
        .await
        .map_err(pg("looking up the report id"))?;
    let same = row.str(0)? == incoming.body_sha256
        || super::super::canonical::same_report(row.str(2)?, &incoming.body);
    Ok(if same {
        IngestOutcome::Duplicate {
            received_at: row.text(1)?,
        }
    } else {
        IngestOutcome::Conflict
    })
}

/// The plan of a report that is not late: the agent's rows that differ from it, and the rows
/// of keys the agent does not hold now (new, retired, or another agent's, observed at that
/// agent's newest report), read in one more round trip only when there are such keys (none
/// in the steady state).
async fn plan(
    tx: &Transaction<'_>,
    incoming: &IncomingReport,
    texts: &Texts,
    mine: &[Row],
) -> Result<Plan, StoreError> {
    let report = &incoming.report;
    let mut stored = StoredRows::default();
    let mut unchanged = Unchanged::new(incoming);
    for row in mine {
        // Compared on the row's own text first: copied out only when it differs or goes.
        if rows::is_unchanged(&mut unchanged, row)? {
            continue;
        }
        let (target, check, verdict) = rows::stored_verdict(row, true)?;
        stored.insert(target, check, verdict);
    }
    let (mut missing_targets, mut missing_checks) = (Vec::new(), Vec::new());
    let mut asked = HashSet::new();
    for (i, finding) in report.findings.iter().enumerate() {
        let (target, check) = (finding.target.as_str(), finding.check.as_str());
        if !unchanged.is_unchanged(i)
            && !stored.contains(target, check)
            && asked.insert((target, check))
        {
            missing_targets.push(target);
            missing_checks.push(check);
        }
    }
    if !missing_targets.is_empty() {
        let others = cached(
            tx,
            "SELECT l.target, l.check_id, l.status, l.severity, l.summary, l.remediation,
                    l.evidence, l.since,
                    CASE WHEN l.retired = 0 AND a.last_report_at IS NOT NULL
                         THEN a.last_report_at ELSE l.observed_at END
             FROM latest l
             JOIN UNNEST($2::text[], $3::text[]) AS k(t, c)
               ON l.target = k.t AND l.check_id = k.c
             LEFT JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
             WHERE l.org = $1",
        )
        .await?;
        let org = report.org.as_str();
        for row in tx
            .query(&others, &[&org, &missing_targets, &missing_checks])
            .await
            .map_err(pg("reading the latest state"))?
        {
            let (target, check, verdict) = rows::stored_verdict(&row, false)?;
            stored.insert(target, check, verdict);
        }
    }
    Ok(plan::plan_with(
        incoming,
        &texts.finished_at,
        stored,
        Some(&unchanged),
    ))
}

/// Writes the agent and the plan, pipelined: the four statements go in one round trip, run
/// in this order. `newest` is the agent's newest report before this one, the report that
/// last carried the rows this one retires.
async fn write(
    tx: &Transaction<'_>,
    incoming: &IncomingReport,
    texts: &Texts,
    plan: Plan,
    newest: Option<(String, Option<String>)>,
) -> Result<(), StoreError> {
    let report = &incoming.report;
    let org = report.org.as_str();
    let agent_update = cached(tx, sql::RECORD_AGENT.postgres).await?;
    let transitions = cached(
        tx,
        "INSERT INTO transitions (org, target, check_id, from_status, to_status, at,
                                  report_id)
         SELECT $1, u.t, u.c, u.f, u.s, $2, $3
         FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[])
              WITH ORDINALITY AS u(t, c, f, s, n)
         ORDER BY u.n",
    )
    .await?;
    let upsert = cached(
        tx,
        "INSERT INTO latest (org, target, check_id, status, severity, summary,
                             remediation, evidence, report_id, observed_at, since,
                             agent_id, retired)
         SELECT $1, u.t, u.c, u.s, u.sev, u.sum, u.rem, u.ev, $2, $3, u.si, $12, 0
         FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[])
              AS u(t, c, s, sev, sum, rem, ev, si)
         ON CONFLICT (org, target, check_id) DO UPDATE SET
             status = excluded.status, severity = excluded.severity,
             summary = excluded.summary, remediation = excluded.remediation,
             evidence = excluded.evidence, report_id = excluded.report_id,
             observed_at = excluded.observed_at, since = excluded.since,
             agent_id = excluded.agent_id, retired = 0",
    )
    .await?;
    let retire = cached(
        tx,
        "UPDATE latest l SET retired = 1,
             report_id = COALESCE($4, l.report_id),
             observed_at = COALESCE($5, l.observed_at)
         FROM UNNEST($2::text[], $3::text[]) AS k(t, c)
         WHERE l.org = $1 AND l.target = k.t AND l.check_id = k.c",
    )
    .await?;

    let mut history: [Vec<Option<String>>; 4] = Default::default();
    for change in plan.transitions {
        history[0].push(Some(change.target));
        history[1].push(Some(change.check));
        history[2].push(change.from);
        history[3].push(Some(change.to.to_owned()));
    }
    let mut columns: [Vec<Option<String>>; 8] = Default::default();
    for write in plan.writes {
        let Some(finding) = report.findings.get(write.finding) else {
            continue;
        };
        columns[0].push(Some(finding.target.clone()));
        columns[1].push(Some(finding.check.as_str().to_owned()));
        columns[2].push(Some(finding.status.as_str().to_owned()));
        columns[3].push(Some(finding.severity.as_str().to_owned()));
        columns[4].push(Some(finding.summary.clone()));
        columns[5].push(finding.remediation.clone());
        columns[6].push(Some(write.evidence));
        columns[7].push(Some(write.since));
    }
    let (retired_targets, retired_checks): (Vec<String>, Vec<String>) =
        plan.retire.into_iter().unzip();
    let (last_at, last_id) = newest.unzip();
    let last_id = last_id.flatten();

    let (report_id, finished_at) = (&texts.report_id, &texts.finished_at);
    let agent_params: &Params = &[
        &org,
        &report.agent.id,
        &report.agent.hostname,
        &report.agent.version,
        finished_at,
        report_id,
    ];
    let [ht, hc, hf, hs] = &history;
    let history_params: &Params = &[&org, finished_at, report_id, ht, hc, hf, hs];
    let [t, c, st, sev, sum, rem, ev, si] = &columns;
    let upsert_params: &Params = &[
        &org,
        report_id,
        finished_at,
        t,
        c,
        st,
        sev,
        sum,
        rem,
        ev,
        si,
        &report.agent.id,
    ];
    let retire_params: &Params = &[&org, &retired_targets, &retired_checks, &last_id, &last_at];
    let record_agent = async { tx.execute(&agent_update, agent_params).await };
    let record_history = async {
        if ht.is_empty() {
            return Ok(0);
        }
        tx.execute(&transitions, history_params).await
    };
    let write_rows = async {
        if t.is_empty() {
            return Ok(0);
        }
        tx.execute(&upsert, upsert_params).await
    };
    let retire_rows = async {
        if retired_targets.is_empty() {
            return Ok(0);
        }
        tx.execute(&retire, retire_params).await
    };
    tokio::try_join!(record_agent, record_history, write_rows, retire_rows)
        .map_err(pg("updating the agent and its latest state"))?;
    Ok(())
}

/// The leaf certificate expiry of each TLS endpoint of the report, unless a later
/// observation is stored.
async fn record_certificates(
    tx: &Transaction<'_>,
    incoming: &IncomingReport,
    report_id: &str,
) -> Result<(), StoreError> {
    let org = incoming.report.org.as_str();
    for (target, not_after, observed_at) in rows::certificates(&incoming.report) {
        let params: &Params = &[&org, &target, &not_after, &observed_at, &report_id];
        tx.execute(&cached(tx, sql::RECORD_CERTIFICATE.postgres).await?, params)
            .await
            .map_err(pg("recording a certificate expiry"))?;
    }
    Ok(())
}
