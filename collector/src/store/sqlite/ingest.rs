//! Storing reports on SQLite: one writer thread, group commit. A report is looked up
//! ([`ingest_in`]), planned (`plan`) and written ([`update_latest`]) inside a savepoint of
//! the batch's one transaction.

use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::super::plan::{self, StoredRows, Unchanged};
use super::super::rows::{self, time_text};
use super::super::sql;
use super::super::{IncomingReport, IngestOutcome, StoreError};
use super::{first, sql as sql_error, SqliteStore};

/// A report waiting for the writer, and where its answer goes.
/// The body comes compressed (`body::compress`), done on the request's thread rather than the
/// writer's.
pub(super) type PendingIngest = (
    IncomingReport,
    Vec<u8>,
    tokio::sync::oneshot::Sender<IngestAnswer>,
);

/// The writer's answer, with the report handed back: its ~200 findings are then freed on the
/// request's thread, not on the single writer's (freeing them was a tenth of its time).
type IngestAnswer = (Result<IngestOutcome, StoreError>, IncomingReport);

/// Reports stored in one transaction at most.
const MAX_BATCH: usize = 16;

/// Reports waiting for the SQLite writer at most; beyond, requests wait for room.
const WRITER_QUEUE: usize = 256;

impl SqliteStore {
    /// Group commit: the report joins the writer thread's queue; the writer takes up to
    /// [`MAX_BATCH`] queued reports into one transaction, each in its own savepoint, and
    /// answers each after the commit. Under load one fsync then covers many reports; alone,
    /// a report is a batch of one. The queue is bounded: when it is full, requests wait here.
    pub(in super::super) async fn ingest(
        &self,
        incoming: IncomingReport,
    ) -> Result<IngestOutcome, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let body = super::body::compress(&incoming.body)?;
        self.writer
            .send((incoming, body, answer))
            .await
            .map_err(|_| StoreError::BatchAborted)?;
        let (outcome, spent) = answered.await.map_err(|_| StoreError::BatchAborted)?;
        drop(spent);
        outcome
    }
}

/// The thread that stores reports on SQLite, one batch (one transaction) at a time. A thread
/// of its own rather than a blocking task per report: handing each report to the blocking
/// pool, and waking the tasks queued on the connection's lock, cost more than a tenth of the
/// collector's time under load. It ends when the last handle to the store is dropped.
pub(super) fn spawn_writer(
    connection: Arc<Mutex<Connection>>,
) -> Result<tokio::sync::mpsc::Sender<PendingIngest>, StoreError> {
    let (sender, mut queue) = tokio::sync::mpsc::channel::<PendingIngest>(WRITER_QUEUE);
    std::thread::Builder::new()
        .name("vigie-sqlite-writer".to_owned())
        .spawn(move || {
            // Bounded by the queue: it ends when every sender is dropped.
            while let Some(first) = queue.blocking_recv() {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                // A panic while storing drops that batch's answer channels (their requests
                // fail with `BatchAborted`) and leaves the thread serving the next batch;
                // the open transaction was rolled back by its Drop while unwinding.
                let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut guard = connection
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    ingest_batch(&mut guard, batch);
                }));
                if stored.is_err() {
                    tracing::error!("storing a batch of reports panicked; those reports were not stored and their agents will send them again");
                }
            }
        })
        .map_err(StoreError::Thread)?;
    Ok(sender)
}

/// Stores a batch of reports in one transaction (group commit: one fsync for all), each in
/// a savepoint of its own so that a report that fails leaves the others stored, and sends
/// each report's answer only once the transaction has committed.
fn ingest_batch(connection: &mut Connection, batch: Vec<PendingIngest>) {
    let fail_all = |batch: Vec<PendingIngest>, operation, error: &rusqlite::Error| {
        for (incoming, _, answer) in batch {
            let _ = answer.send((
                Err(StoreError::Sqlite {
                    operation,
                    error: copy_error(error),
                }),
                incoming,
            ));
        }
    };
    // IMMEDIATE takes the write lock now, so that the existence checks and the inserts
    // cannot interleave with another writer on the same file.
    let mut tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => return fail_all(batch, "starting the ingest transaction", &error),
    };
    let mut answers = Vec::with_capacity(batch.len());
    for (incoming, body, answer) in batch {
        let outcome = match tx.savepoint() {
            Ok(mut savepoint) => {
                // Dropped without commit, a savepoint rolls back.
                savepoint.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                ingest_in(&savepoint, &incoming, &body).and_then(|outcome| {
                    savepoint
                        .commit()
                        .map_err(sql_error("releasing the report's savepoint"))?;
                    Ok(outcome)
                })
            }
            Err(error) => Err(StoreError::Sqlite {
                operation: "starting the report's savepoint",
                error,
            }),
        };
        answers.push((answer, outcome, incoming));
    }
    match tx.commit() {
        Ok(()) => {
            for (answer, outcome, incoming) in answers {
                let _ = answer.send((outcome, incoming));
            }
        }
        Err(error) => {
            for (answer, outcome, incoming) in answers {
                let outcome = outcome.and(Err(StoreError::Sqlite {
                    operation: "committing the reports",
                    error: copy_error(&error),
                }));
                let _ = answer.send((outcome, incoming));
            }
        }
    }
}

/// The same error for each report of a failed batch (rusqlite's error is not `Clone`).
fn copy_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// [`IngestOutcome::OverBudget`] when the report would take its organization past its
/// storage budget: one read of `orgs.report_bytes`, which triggers keep (migration 0011).
fn over_storage_budget(
    tx: &Connection,
    incoming: &IncomingReport,
) -> Result<Option<IngestOutcome>, StoreError> {
    if incoming.storage_budget.is_none() {
        return Ok(None);
    }
    let used = first(
        tx,
        sql::STORED_BYTES.sqlite,
        [&incoming.report.org],
        "reading the organization's stored bytes",
        |row| rows::Columns::integer(row, 0),
    )?
    .unwrap_or(0);
    Ok(incoming
        .over_budget(u64::try_from(used).unwrap_or(0))
        .map(|(used, budget)| IngestOutcome::OverBudget { used, budget }))
}

/// Stores one report inside the caller's transaction (or savepoint): looks up the report
/// and the agent, then brings the latest state and the certificates up to date.
fn ingest_in(
    tx: &Connection,
    incoming: &IncomingReport,
    body: &[u8],
) -> Result<IngestOutcome, StoreError> {
    let report = &incoming.report;
    let report_id = report.report_id.to_string();
    let org = report.org.as_str();
    let finished_at = time_text(report.finished_at);
    let received_at = time_text(incoming.received_at);

    // Every statement of the ingest is prepared once per connection: parsing and planning
    // them anew showed in the profile of the load test.
    let existing: Option<(String, String)> = tx
        .prepare_cached("SELECT body_sha256, received_at FROM reports WHERE report_id = ?1")
        .map_err(sql_error("preparing the report lookup"))?
        .query_row([&report_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(sql_error("looking up the report id"))?;
    if let Some((sha256, first_received_at)) = existing {
        // Nothing was written.
        let same = sha256 == incoming.body_sha256 || {
            let stored = tx
                .query_row(sql::REPORT_BODY.sqlite, [&report_id], |row| {
                    Ok(super::body::decode(row.get_ref(0)?))
                })
                .map_err(sql_error("reading the stored report"))??;
            super::super::canonical::same_report(&stored, &incoming.body)
        };
        return Ok(if same {
            IngestOutcome::Duplicate {
                received_at: first_received_at,
            }
        } else {
            IngestOutcome::Conflict
        });
    }
    if let Some(over) = over_storage_budget(tx, incoming)? {
        return Ok(over);
    }

    tx.prepare_cached(
        "INSERT INTO reports (report_id, org, agent_id, body_sha256, received_at, started_at,
                              finished_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(sql_error("preparing the report insert"))?
    .execute(params![
        report_id,
        org,
        report.agent.id,
        incoming.body_sha256,
        received_at,
        time_text(report.started_at),
        finished_at,
        body,
    ])
    .map_err(sql_error("storing the report"))?;

    // The agent's newest report before this one: a report that finished earlier arrives late
    // (an outbox backlog) and is kept in `reports` but changes nothing newer.
    let newest: Option<(String, Option<String>)> = tx
        .prepare_cached(sql::AGENT_NEWEST.sqlite)
        .map_err(sql_error("preparing the agent lookup"))?
        .query_row(params![org, report.agent.id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(sql_error("looking up the agent"))?;
    // Decided in Rust, as times (see `plan::is_late`); the writer thread is the only writer.
    let late = plan::is_late(newest.as_ref().map(|(at, _)| at.as_str()), incoming);
    if !late {
        tx.prepare_cached(sql::RECORD_AGENT.sqlite)
            .map_err(sql_error("preparing the agent update"))?
            .execute(params![
                org,
                report.agent.id,
                report.agent.hostname,
                report.agent.version,
                finished_at,
                report_id
            ])
            .map_err(sql_error("recording the agent"))?;
        update_latest(tx, incoming, &report_id, &finished_at, newest)?;
    }

    {
        let mut certificate = tx
            .prepare_cached(sql::RECORD_CERTIFICATE.sqlite)
            .map_err(sql_error("preparing the certificate update"))?;
        for (target, not_after, observed_at) in rows::certificates(report) {
            certificate
                .execute(params![org, target, not_after, observed_at, report_id])
                .map_err(sql_error("recording a certificate expiry"))?;
        }
    }

    Ok(IngestOutcome::Stored { received_at })
}

/// The rows a report's plan needs: the agent's current rows that differ from the report
/// (those that match are only counted, in `unchanged`), and the rows of keys the agent does
/// not hold now.
fn lookup(
    tx: &Connection,
    incoming: &IncomingReport,
    unchanged: &mut Unchanged<'_>,
) -> Result<StoredRows, StoreError> {
    let report = &incoming.report;
    let org = report.org.as_str();
    let mut stored = StoredRows::default();
    {
        let mut mine = tx
            .prepare_cached(sql::AGENT_ROWS.sqlite)
            .map_err(sql_error("preparing the agent's latest state"))?;
        let mut rows = mine
            .query(params![org, report.agent.id])
            .map_err(sql_error("reading the agent's latest state"))?;
        // Bounded by the agent's rows.
        while let Some(row) = rows
            .next()
            .map_err(sql_error("reading the agent's latest state"))?
        {
            // Compared in place first: copied out only when it differs or goes.
            if rows::is_unchanged(unchanged, row)? {
                continue;
            }
            let (target, check, row) = rows::stored_verdict(row, true)?;
            stored.insert(target, check, row);
        }
    }
    // Keys the agent does not hold now: new, retired, or another agent's (whose verdict
    // counts as observed at that agent's newest report). None in the steady state.
    let mut other = tx
        .prepare_cached(
            "SELECT l.target, l.check_id, l.status, l.severity, l.summary, l.remediation,
                    l.evidence, l.since,
                    CASE WHEN l.retired = 0 AND a.last_report_at IS NOT NULL
                         THEN a.last_report_at ELSE l.observed_at END
             FROM latest l
             LEFT JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
             WHERE l.org = ?1 AND l.target = ?2 AND l.check_id = ?3",
        )
        .map_err(sql_error("preparing the latest-state lookup"))?;
    for (i, finding) in report.findings.iter().enumerate() {
        let (target, check) = (finding.target.as_str(), finding.check.as_str());
        if unchanged.is_unchanged(i) || stored.contains(target, check) {
            continue;
        }
        let mut rows = other
            .query(params![org, target, check])
            .map_err(sql_error("reading the latest state"))?;
        if let Some(row) = rows.next().map_err(sql_error("reading the latest state"))? {
            let (target, check, row) = rows::stored_verdict(row, false)?;
            stored.insert(target, check, row);
        }
    }
    Ok(stored)
}

/// Brings `latest` to what a report that is not late says, writing only what changed (see
/// [`plan`]). `previous_report` is the agent's newest report before this one
/// (`finished_at`, `report_id`): the report that last carried the rows this one retires.
fn update_latest(
    tx: &Connection,
    incoming: &IncomingReport,
    report_id: &str,
    finished_at: &str,
    previous_report: Option<(String, Option<String>)>,
) -> Result<(), StoreError> {
    let report = &incoming.report;
    let org = report.org.as_str();
    let mut unchanged = Unchanged::new(incoming);
    let stored = lookup(tx, incoming, &mut unchanged)?;
    let plan = plan::plan_with(incoming, finished_at, stored, Some(&unchanged));

    let mut transition = tx
        .prepare_cached(sql::INSERT_TRANSITION.sqlite)
        .map_err(sql_error("preparing the history insert"))?;
    for change in &plan.transitions {
        transition
            .execute(params![
                org,
                change.target,
                change.check,
                change.from,
                change.to,
                finished_at,
                report_id
            ])
            .map_err(sql_error("recording a status transition"))?;
    }
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO latest (org, target, check_id, status, severity, summary, remediation,
                                 evidence, report_id, observed_at, since, agent_id, retired)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0)
             ON CONFLICT (org, target, check_id) DO UPDATE SET
                 status = excluded.status, severity = excluded.severity,
                 summary = excluded.summary, remediation = excluded.remediation,
                 evidence = excluded.evidence, report_id = excluded.report_id,
                 observed_at = excluded.observed_at, since = excluded.since,
                 agent_id = excluded.agent_id, retired = 0",
        )
        .map_err(sql_error("preparing the latest-state update"))?;
    for write in &plan.writes {
        let Some(finding) = report.findings.get(write.finding) else {
            continue;
        };
        upsert
            .execute(params![
                org,
                finding.target,
                finding.check.as_str(),
                finding.status.as_str(),
                finding.severity.as_str(),
                finding.summary,
                finding.remediation,
                write.evidence,
                report_id,
                finished_at,
                write.since,
                report.agent.id
            ])
            .map_err(sql_error("updating the latest state"))?;
    }
    if !plan.retire.is_empty() {
        let (last_at, last_id) = previous_report.unzip();
        let last_id = last_id.flatten();
        let mut retire = tx
            .prepare_cached(
                "UPDATE latest SET retired = 1,
                     report_id = COALESCE(?4, report_id), observed_at = COALESCE(?5, observed_at)
                 WHERE org = ?1 AND target = ?2 AND check_id = ?3",
            )
            .map_err(sql_error("preparing the retirement of a verdict"))?;
        for (target, check) in &plan.retire {
            retire
                .execute(params![org, target, check, last_id, last_at])
                .map_err(sql_error("retiring a verdict the report no longer carries"))?;
        }
    }
    Ok(())
}
