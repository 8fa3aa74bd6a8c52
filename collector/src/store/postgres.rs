//! Every SQL statement of the collector, for PostgreSQL (`--database-url postgres://…`).
//!
//! The same tables, views and values as [`super::sqlite`] (times are the same fixed-width
//! RFC 3339 text), so the two stores answer the same and the conformance tests
//! (`collector/tests/it/store_conformance.rs`) run one suite against both.
//!
//! Concurrency: a pool of connections, one transaction per report. Writers of one
//! organization take a transaction-scoped advisory lock on it, so that two reports of one
//! agent (or two collectors receiving the same report) apply one after the other; writers of
//! different organizations do not wait for each other. Reads run in read-only repeatable-read
//! transactions, so each answer is one consistent snapshot.
//! Durability is PostgreSQL's: with `synchronous_commit = on` (its default), an acknowledged
//! report is on disk (and on a synchronous standby if one is configured).

use std::collections::HashMap;
use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};
use vigie_matrix::{Answer, FindingFact};
use vigie_model::{Status, TlsProbeResult};

use super::audit::{fingerprint, AuditAction, AuditEntry, AuditRecord};
use super::decode;
use super::plan;
use super::sqlite::{
    certificate_time_text, latest_values, parse_date, parse_evidence, parse_severity, parse_status,
    parse_time, time_text, transition_values,
};
use super::{
    AgentRow, FindingCounts, IncomingReport, IngestOutcome, LatestFinding, MatrixState,
    MetricsSnapshot, OrgDetail, OrgSummary, PastLevels, StoreError, TlsCertificateRow,
};
use crate::auth::{Principal, TokenKind};

/// The migrations in PostgreSQL's dialect: the same numbers, names and meaning as SQLite's
/// (a unit test of `store` checks that both lists agree).
pub(super) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "assessments",
        include_str!("../../migrations/postgres/0002_assessments.sql"),
    ),
    (
        3,
        "audit",
        include_str!("../../migrations/postgres/0003_audit.sql"),
    ),
    (
        4,
        "current_state",
        include_str!("../../migrations/postgres/0004_current_state.sql"),
    ),
    (
        5,
        "retention",
        include_str!("../../migrations/postgres/0005_retention.sql"),
    ),
    (
        6,
        "org_meta",
        include_str!("../../migrations/postgres/0006_org_meta.sql"),
    ),
    (
        7,
        "matrix_snapshots",
        include_str!("../../migrations/postgres/0007_matrix_snapshots.sql"),
    ),
    (
        8,
        "latest_by_agent",
        include_str!("../../migrations/postgres/0008_latest_by_agent.sql"),
    ),
    (
        9,
        "report_compression",
        include_str!("../../migrations/postgres/0009_report_compression.sql"),
    ),
    (
        10,
        "scraper_tokens",
        include_str!("../../migrations/postgres/0010_scraper_tokens.sql"),
    ),
    (
        11,
        "org_report_bytes",
        include_str!("../../migrations/postgres/0011_org_report_bytes.sql"),
    ),
];

/// Connections held at most by one collector. PostgreSQL's default `max_connections` is
/// 100: a few collectors fit beside psql sessions and backups.
const POOL_SIZE: usize = 16;

/// How long a request waits for a connection (or to open one) before the store is called
/// unavailable (503), rather than piling up behind a database that does not answer.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The advisory lock key that serializes migrations between collectors started together.
const MIGRATION_LOCK: i64 = 0x5649_4749_4500_0001;

type Params<'a> = [&'a (dyn ToSql + Sync)];

pub(super) fn pg(operation: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |error| StoreError::Postgres { operation, error }
}

/// A column read that fails with an error, not a panic, when the database holds a type or a
/// NULL this build does not expect (a schema changed behind the collector's back).
trait RowExt {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        index: usize,
    ) -> Result<T, StoreError>;
}

/// A `latest` row read for the ingest plan: target, check, status, severity, summary,
/// remediation, evidence, since and observed_at, in that order.
fn stored_verdict(
    row: &Row,
    agent_current: bool,
) -> Result<(String, String, plan::Stored), StoreError> {
    Ok((
        row.col(0)?,
        row.col(1)?,
        plan::Stored {
            status: row.col(2)?,
            severity: row.col(3)?,
            summary: row.col(4)?,
            remediation: row.col(5)?,
            evidence: row.col(6)?,
            since: row.col(7)?,
            observed_at: row.col(8)?,
            agent_current,
            ..plan::Stored::default()
        },
    ))
}

impl RowExt for Row {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        index: usize,
    ) -> Result<T, StoreError> {
        self.try_get(index).map_err(pg("reading a column"))
    }
}

/// The pooled PostgreSQL store.
#[derive(Clone)]
pub(super) struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects, checks the schema version and applies pending migrations when `migrate`.
    pub(super) async fn open(url: &str, migrate: bool) -> Result<(PgStore, u32, u32), StoreError> {
        // The URL may hold a password: errors name only what is wrong with it.
        let config = tokio_postgres::Config::from_str(url).map_err(|_| StoreError::BadUrl {
            url: "postgres://…".to_owned(),
            reason:
                "not a valid PostgreSQL URL; write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::PostgresPool(e.to_string()))?;
        let store = PgStore { pool };
        let (from, to) = store.migrate(migrate).await?;
        Ok((store, from, to))
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(error) => StoreError::Postgres {
                operation: "connecting to PostgreSQL",
                error,
            },
            other => StoreError::PostgresPool(other.to_string()),
        })
    }

    /// Creates `schema_migrations` and applies what is pending, all in one transaction under
    /// an advisory lock (PostgreSQL's DDL is transactional: a failed migration leaves the
    /// schema as it was). Returns the versions before and after.
    async fn migrate(&self, apply: bool) -> Result<(u32, u32), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the migration"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg("waiting for another collector's migration"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY NOT NULL,
                 name       TEXT NOT NULL,
                 applied_at TEXT NOT NULL
             )",
        )
        .await
        .map_err(pg("creating schema_migrations"))?;
        let current = version_in(&tx).await?;
        let Some(pending) = super::pending_migrations(MIGRATIONS, current, apply)? else {
            return Ok((current, current));
        };
        for &(version, name, text) in pending {
            let failed = |error| StoreError::PgMigrate {
                version,
                name,
                error,
            };
            tx.batch_execute(text).await.map_err(failed)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&(version as i32), &name, &time_text(Utc::now())],
            )
            .await
            .map_err(failed)?;
            tracing::info!(version, name, "applied database migration");
        }
        tx.commit().await.map_err(pg("committing the migrations"))?;
        Ok((current, pending.last().map_or(current, |m| m.0)))
    }

    pub(super) async fn schema_version(&self) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        version_in(&tx).await
    }

    /// Ready means a write could be done now (a new transaction that takes a row lock) and
    /// the read paths' tables can be read (see [`super::READINESS_READ`]).
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the readiness check"))?;
        tx.query_one(super::READINESS_READ, &[])
            .await
            .map_err(pg("reading the tables for the readiness check"))?;
        tx.execute(
            "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(pg("locking a row for the readiness check"))?;
        tx.rollback()
            .await
            .map_err(pg("ending the readiness check"))
    }

    pub(super) async fn insert_token(
        &self,
        hash: &str,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = time_text(at);
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the token transaction"))?;
        if let Some(org) = org {
            tx.execute(
                "INSERT INTO orgs (org, created_at) VALUES ($1, $2) ON CONFLICT (org) DO NOTHING",
                &[&org, &now],
            )
            .await
            .map_err(pg("creating the organization"))?;
        }
        tx.execute(
            "INSERT INTO tokens (hash, kind, org, name, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&hash, &kind.as_str(), &org, &name, &now],
        )
        .await
        .map_err(pg("storing the token hash"))?;
        record(
            &tx,
            AuditAction::TokenCreate,
            &AuditRecord {
                actor: "cli",
                kind: Some(kind),
                org,
                name: Some(name),
                token_hash: Some(hash),
                detail: None,
            },
            at,
        )
        .await?;
        tx.commit().await.map_err(pg("committing the token"))
    }

    pub(super) async fn find_token(&self, hash: &str) -> Result<Option<Principal>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT kind, org, name FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
            )
            .await
            .map_err(pg("looking up a token"))?;
        let Some(row) = client
            .query_opt(&statement, &[&hash])
            .await
            .map_err(pg("looking up a token"))?
        else {
            return Ok(None);
        };
        let (kind, org, name): (String, Option<String>, String) =
            (row.col(0)?, row.col(1)?, row.col(2)?);
        match (TokenKind::from_stored(&kind), org) {
            (Some(TokenKind::Agent), Some(org)) => Ok(Some(Principal::Agent { org, name })),
            (Some(TokenKind::Viewer), None) => Ok(Some(Principal::Viewer { name })),
            (Some(TokenKind::Scraper), None) => Ok(Some(Principal::Scraper { name })),
            _ => Err(StoreError::Corrupt {
                column: "tokens.kind",
                value: kind,
            }),
        }
    }

    /// Stores one report in its own transaction; see the module documentation.
    pub(super) async fn ingest(
        &self,
        incoming: &IncomingReport,
    ) -> Result<IngestOutcome, StoreError> {
        let report = &incoming.report;
        let report_id = report.report_id.to_string();
        let org = report.org.as_str();
        let finished_at = time_text(report.finished_at);
        let received_at = time_text(incoming.received_at);

        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the ingest transaction"))?;
        // The first statements go in one round trip, run in this order: the organization's
        // lock, the report, the agent's newest report and current rows. If the report is
        // already stored, all of it is rolled back below. The agent's update waits for the
        // newest report's time: whether this report is late is decided in Rust, as times
        // (`plan::is_late`), and the update goes with the writes of the latest state.
        let lock = cached(&tx, "SELECT pg_advisory_xact_lock(hashtext($1))").await?;
        // Read under the organization's lock, before this report's insert counts in it
        // (a trigger keeps the column, migration 0011).
        let stored_bytes = cached(&tx, "SELECT report_bytes FROM orgs WHERE org = $1").await?;
        let insert = cached(
            &tx,
            "INSERT INTO reports (report_id, org, agent_id, body_sha256, received_at,
                                  started_at, finished_at, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (report_id) DO NOTHING RETURNING report_id",
        )
        .await?;
        let agent_lookup = cached(
            &tx,
            "SELECT last_report_at, last_report_id FROM agents WHERE org = $1 AND agent_id = $2",
        )
        .await?;
        let mine = cached(
            &tx,
            "SELECT target, check_id, status, severity, summary, remediation, evidence, since,
                    observed_at
             FROM latest WHERE org = $1 AND agent_id = $2 AND retired = 0",
        )
        .await?;
        let agent_update = cached(
            &tx,
            "INSERT INTO agents (org, agent_id, hostname, version, last_report_at, last_report_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (org, agent_id) DO UPDATE SET
                 hostname = excluded.hostname,
                 version = excluded.version,
                 last_report_at = excluded.last_report_at,
                 last_report_id = excluded.last_report_id",
        )
        .await?;
        let started_at = time_text(report.started_at);
        let report_params: &Params = &[
            &report_id,
            &org,
            &report.agent.id,
            &incoming.body_sha256,
            &received_at,
            &started_at,
            &finished_at,
            &incoming.body,
        ];
        let agent_key: &Params = &[&org, &report.agent.id];
        let agent_params: &Params = &[
            &org,
            &report.agent.id,
            &report.agent.hostname,
            &report.agent.version,
            &finished_at,
            &report_id,
        ];
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
        if inserted.is_none() {
            let row = tx
                .query_one(
                    &cached(
                        &tx,
                        "SELECT body_sha256, received_at, body FROM reports WHERE report_id = $1",
                    )
                    .await?,
                    &[&report_id],
                )
                .await
                .map_err(pg("looking up the report id"))?;
            let (sha256, first_received_at): (String, String) = (row.col(0)?, row.col(1)?);
            let same = sha256 == incoming.body_sha256
                || super::canonical::same_report(&row.col::<String>(2)?, &incoming.body);
            // The transaction ends without a commit: nothing above stays written.
            return Ok(if same {
                IngestOutcome::Duplicate {
                    received_at: first_received_at,
                }
            } else {
                IngestOutcome::Conflict
            });
        }
        let used: i64 = match used {
            Some(row) => row.col(0)?,
            None => 0,
        };
        if let Some((used, budget)) = incoming.over_budget(u64::try_from(used).unwrap_or(0)) {
            // The transaction ends without a commit: the report's insert is undone.
            return Ok(IngestOutcome::OverBudget { used, budget });
        }

        // A report that finished before the agent's newest arrives late (an outbox backlog):
        // kept in `reports`, it changes nothing newer.
        let newest: Option<(String, Option<String>)> = match newest {
            Some(row) => Some((row.col(0)?, row.col(1)?)),
            None => None,
        };
        // Decided as times (see `plan::is_late`), under the organization's lock.
        let late = plan::is_late(newest.as_ref().map(|(at, _)| at.as_str()), incoming);
        let mut stored = plan::StoredRows::default();
        let mut unchanged = plan::Unchanged::new(incoming);
        for row in &mine {
            // Compared on the row's own text first: copied out only when it differs or goes.
            if !late
                && unchanged.matches(
                    row.col::<&str>(0)?,
                    row.col::<&str>(1)?,
                    row.col::<&str>(2)?,
                    row.col::<&str>(3)?,
                    row.col::<&str>(4)?,
                    row.col::<Option<&str>>(5)?,
                    row.col::<&str>(6)?,
                )
            {
                continue;
            }
            let (target, check, verdict) = stored_verdict(row, true)?;
            stored.insert(target, check, verdict);
        }
        // Keys the agent does not hold now: new, retired, or another agent's (observed at
        // that agent's newest report). None in the steady state, which then makes no
        // further round trip before the commit.
        let (mut missing_targets, mut missing_checks) = (Vec::new(), Vec::new());
        if !late {
            let mut asked = std::collections::HashSet::new();
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
        }
        let other_rows = if missing_targets.is_empty() {
            Vec::new()
        } else {
            let others = cached(
                &tx,
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
            tx.query(&others, &[&org, &missing_targets, &missing_checks])
                .await
                .map_err(pg("reading the latest state"))?
        };
        for row in &other_rows {
            let (target, check, verdict) = stored_verdict(row, false)?;
            stored.insert(target, check, verdict);
        }

        if !late {
            let plan = plan::plan_with(incoming, &finished_at, stored, Some(&unchanged));
            let transitions = cached(
                &tx,
                "INSERT INTO transitions (org, target, check_id, from_status, to_status, at,
                                          report_id)
                 SELECT $1, u.t, u.c, u.f, u.s, $2, $3
                 FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[])
                      WITH ORDINALITY AS u(t, c, f, s, n)
                 ORDER BY u.n",
            )
            .await?;
            let upsert = cached(
                &tx,
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
                &tx,
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

            let [ht, hc, hf, hs] = &history;
            let history_params: &Params = &[&org, &finished_at, &report_id, ht, hc, hf, hs];
            let [t, c, st, sev, sum, rem, ev, si] = &columns;
            let upsert_params: &Params = &[
                &org,
                &report_id,
                &finished_at,
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
            let retire_params: &Params =
                &[&org, &retired_targets, &retired_checks, &last_id, &last_at];
            // Pipelined: the four statements go in one round trip, run in this order.
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
        }

        for observation in &report.observations.tls {
            let TlsProbeResult::Handshake(handshake) = &observation.result else {
                continue;
            };
            // The server sends its leaf first (RFC 8446 §4.4.2).
            let Some(leaf) = handshake.certificates.first() else {
                continue;
            };
            tx.execute(
                &cached(
                    &tx,
                    "INSERT INTO tls_certificates (org, target, not_after, observed_at, report_id)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (org, target) DO UPDATE SET
                     not_after = excluded.not_after, observed_at = excluded.observed_at,
                     report_id = excluded.report_id
                 WHERE excluded.observed_at >= tls_certificates.observed_at",
                )
                .await?,
                &[
                    &org,
                    &observation.target,
                    &certificate_time_text(leaf.not_after),
                    &time_text(observation.observed_at),
                    &report_id,
                ],
            )
            .await
            .map_err(pg("recording a certificate expiry"))?;
        }
        tx.commit().await.map_err(pg("committing the report"))?;
        Ok(IngestOutcome::Stored { received_at })
    }

    /// A read-only snapshot transaction.
    async fn read<'c>(
        client: &'c mut deadpool_postgres::Object,
    ) -> Result<deadpool_postgres::Transaction<'c>, StoreError> {
        client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg("starting a read transaction"))
    }

    pub(super) async fn orgs(&self) -> Result<Vec<OrgSummary>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let mut summaries: Vec<OrgSummary> = org_ids(&tx)
            .await?
            .into_iter()
            .map(|id| OrgSummary {
                id,
                agents: 0,
                last_report_at: None,
                findings: FindingCounts::zero(),
            })
            .collect();
        let index = |summaries: &[OrgSummary], org: &str| {
            summaries.binary_search_by(|s| s.id.as_str().cmp(org)).ok()
        };
        for row in tx
            .query(
                "SELECT org, COUNT(*), MAX(last_report_at) FROM agents GROUP BY org",
                &[],
            )
            .await
            .map_err(pg("counting agents"))?
        {
            let (org, agents, last): (String, i64, String) =
                (row.col(0)?, row.col(1)?, row.col(2)?);
            if let Some(i) = index(&summaries, &org) {
                summaries[i].agents = u64::try_from(agents).unwrap_or(0);
                summaries[i].last_report_at = decode::row("agents", &org, || {
                    parse_time("agents.last_report_at", &last)
                })?;
            }
        }
        for (org, status, severity, count) in finding_counts(&tx).await? {
            if let Some(i) = index(&summaries, &org) {
                summaries[i].findings.add(status, severity, count);
            }
        }
        Ok(summaries)
    }

    pub(super) async fn org(&self, org: &str) -> Result<Option<OrgDetail>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        if tx
            .query_opt("SELECT 1 FROM orgs WHERE org = $1", &[&org])
            .await
            .map_err(pg("looking up the organization"))?
            .is_none()
        {
            return Ok(None);
        }
        let mut agents = Vec::new();
        for row in tx
            .query(
                "SELECT agent_id, hostname, version, last_report_at FROM agents
                 WHERE org = $1 ORDER BY agent_id",
                &[&org],
            )
            .await
            .map_err(pg("listing agents"))?
        {
            let (id, last): (String, String) = (row.col(0)?, row.col(3)?);
            let Some(last_report_at) = decode::row("agents", &(org, &id), || {
                parse_time("agents.last_report_at", &last)
            })?
            else {
                continue;
            };
            agents.push(AgentRow {
                id,
                hostname: row.col(1)?,
                version: row.col(2)?,
                last_report_at,
            });
        }
        let mut findings = Vec::new();
        for row in tx
            .query(
                "SELECT check_id, target, status, severity, summary, remediation, evidence,
                        report_id, observed_at, since
                 FROM current_latest WHERE org = $1 ORDER BY target, check_id",
                &[&org],
            )
            .await
            .map_err(pg("reading the latest findings"))?
        {
            let (status, severity, evidence, observed, since): (
                String,
                String,
                String,
                String,
                String,
            ) = (
                row.col(2)?,
                row.col(3)?,
                row.col(6)?,
                row.col(8)?,
                row.col(9)?,
            );
            let (check, target): (String, String) = (row.col(0)?, row.col(1)?);
            let Some((status, severity, evidence, observed_at, since)) =
                decode::row("latest", &(org, &target, &check), || {
                    latest_values(&status, &severity, &evidence, &observed, &since)
                })?
            else {
                continue;
            };
            findings.push(LatestFinding {
                check,
                target,
                status,
                severity,
                summary: row.col(4)?,
                remediation: row.col(5)?,
                evidence,
                report_id: row.col(7)?,
                observed_at,
                since,
            });
        }
        let tls_certificates = tls_rows(&tx, Some(org))
            .await?
            .into_iter()
            .map(|(_, target, not_after, observed_at)| TlsCertificateRow {
                target,
                not_after,
                observed_at,
            })
            .collect();
        Ok(Some(OrgDetail {
            id: org.to_owned(),
            agents,
            findings,
            tls_certificates,
        }))
    }

    pub(super) async fn metrics_snapshot(&self) -> Result<MetricsSnapshot, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs = org_ids(&tx).await?;
        let mut agents = Vec::new();
        for row in tx
            .query(
                "SELECT org, agent_id, last_report_at FROM agents ORDER BY org, agent_id",
                &[],
            )
            .await
            .map_err(pg("listing agents"))?
        {
            let (org, agent, last): (String, String, String) =
                (row.col(0)?, row.col(1)?, row.col(2)?);
            let Some(last) = decode::row("agents", &(&org, &agent), || {
                parse_time("agents.last_report_at", &last)
            })?
            else {
                continue;
            };
            agents.push((org, agent, last));
        }
        let mut checks = Vec::new();
        for row in tx
            .query(
                "SELECT org, target, check_id, status FROM current_latest
                 ORDER BY org, target, check_id",
                &[],
            )
            .await
            .map_err(pg("listing checks"))?
        {
            let (org, target, check, status): (String, String, String, String) =
                (row.col(0)?, row.col(1)?, row.col(2)?, row.col(3)?);
            let Some(status) = decode::row("latest", &(&org, &target, &check), || {
                parse_status("latest.status", &status)
            })?
            else {
                continue;
            };
            checks.push((org, target, check, status));
        }
        let finding_counts = finding_counts(&tx).await?;
        let tls_not_after = tls_rows(&tx, None)
            .await?
            .into_iter()
            .map(|(org, target, not_after, _)| (org, target, not_after))
            .collect();
        let mut family = Vec::new();
        for row in tx
            .query(
                "SELECT org, target, check_id, status, severity, evidence FROM current_latest
                 WHERE check_id LIKE 'tls.protocol.%' OR check_id LIKE 'service.%'
                    OR check_id IN ('email.dmarc.policy', 'email.dmarc.missing',
                                    'host.updates.security', 'host.os.eol')
                 ORDER BY org, target, check_id",
                &[],
            )
            .await
            .map_err(pg("listing the family verdicts"))?
        {
            let check: String = row.col(2)?;
            if !crate::family_metrics::wanted(&check) {
                continue;
            }
            let (org, target, status, severity, evidence): (
                String,
                String,
                String,
                String,
                String,
            ) = (
                row.col(0)?,
                row.col(1)?,
                row.col(3)?,
                row.col(4)?,
                row.col(5)?,
            );
            let Some((status, severity)) = decode::row("latest", &(&org, &target, &check), || {
                Ok((
                    parse_status("latest.status", &status)?,
                    parse_severity("latest.severity", &severity)?,
                ))
            })?
            else {
                continue;
            };
            family.push(crate::family_metrics::LatestFinding {
                org,
                target,
                check,
                status,
                severity,
                // Evidence only refines a gauge; unreadable evidence must not hide the verdict.
                evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
            });
        }
        Ok(MetricsSnapshot {
            orgs,
            agents,
            checks,
            finding_counts,
            tls_not_after,
            capability_levels: Vec::new(),
            family: crate::family_metrics::derive(&family),
        })
    }

    pub(super) async fn matrix_state(&self) -> Result<MatrixState, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs = org_ids(&tx).await?;
        let mut findings = Vec::new();
        for row in tx
            .query(
                "SELECT org, target, check_id, status, evidence, observed_at FROM current_latest
                 ORDER BY org, target, check_id",
                &[],
            )
            .await
            .map_err(pg("reading the latest verdicts"))?
        {
            let check: String = row.col(2)?;
            // A check this build does not know (a newer agent) grades nothing.
            let Some(check) = vigie_model::Check::from_id(&check) else {
                continue;
            };
            let (org, target, status, evidence, observed): (
                String,
                String,
                String,
                String,
                String,
            ) = (
                row.col(0)?,
                row.col(1)?,
                row.col(3)?,
                row.col(4)?,
                row.col(5)?,
            );
            let Some((status, evidence, observed_at)) =
                decode::row("latest", &(&org, &target, check), || {
                    Ok((
                        parse_status("latest.status", &status)?,
                        parse_evidence("latest.evidence", &evidence)?,
                        parse_time("latest.observed_at", &observed)?,
                    ))
                })?
            else {
                continue;
            };
            findings.push((
                org,
                FindingFact {
                    check,
                    target,
                    status,
                    evidence,
                    observed_at,
                },
            ));
        }
        let answers = answers(&tx).await?;
        Ok(MatrixState {
            orgs,
            findings,
            answers,
        })
    }

    pub(super) async fn matrix_state_at(
        &self,
        at: DateTime<Utc>,
    ) -> Result<MatrixState, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs = org_ids(&tx).await?;
        let rows = tx
            .query(
                "SELECT DISTINCT ON (org, target, check_id)
                        org, target, check_id, to_status, at, report_id
                 FROM transitions WHERE at <= $1
                 ORDER BY org, target, check_id, at DESC, id DESC",
                &[&time_text(at)],
            )
            .await
            .map_err(pg("reading history"))?;
        // Evidence comes from the report that set each status; each report is parsed once.
        let mut reports: HashMap<String, Option<vigie_model::Report>> = HashMap::new();
        let mut findings = Vec::new();
        for row in rows {
            let (org, target, check, status, changed_at, report_id): (
                String,
                String,
                String,
                String,
                String,
                String,
            ) = (
                row.col(0)?,
                row.col(1)?,
                row.col(2)?,
                row.col(3)?,
                row.col(4)?,
                row.col(5)?,
            );
            let Some(check_known) = vigie_model::Check::from_id(&check) else {
                continue;
            };
            if !reports.contains_key(&report_id) {
                let body: Option<String> = tx
                    .query_opt(
                        "SELECT body FROM reports WHERE report_id = $1",
                        &[&report_id],
                    )
                    .await
                    .map_err(pg("reading a stored report"))?
                    .map(|row| row.col(0))
                    .transpose()?;
                let parsed =
                    body.and_then(|b| serde_json::from_str::<vigie_model::Report>(&b).ok());
                reports.insert(report_id.clone(), parsed);
            }
            let evidence = reports
                .get(&report_id)
                .and_then(Option::as_ref)
                .and_then(|r| {
                    r.findings
                        .iter()
                        .find(|f| f.target == target && f.check.as_str() == check)
                })
                .map(|f| f.evidence.clone())
                .unwrap_or_default();
            let Some((status, observed_at)) =
                decode::row("transitions", &(&org, &target, &check, &changed_at), || {
                    Ok((
                        parse_status("transitions.to_status", &status)?,
                        parse_time("transitions.at", &changed_at)?,
                    ))
                })?
            else {
                continue;
            };
            findings.push((
                org,
                FindingFact {
                    check: check_known,
                    target,
                    status,
                    evidence,
                    observed_at,
                },
            ));
        }
        let answers = answers(&tx).await?;
        Ok(MatrixState {
            orgs,
            findings,
            answers,
        })
    }

    /// See `sqlite::past_levels`: the same fingerprint, in one repeatable-read snapshot.
    pub(super) async fn past_levels(
        &self,
        dates: &[DateTime<Utc>],
        grading: &str,
    ) -> Result<Vec<PastLevels>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let orgs: i64 = tx
            .query_one("SELECT COUNT(*) FROM orgs", &[])
            .await
            .map_err(pg("counting organizations"))?
            .col(0)?;
        let texts: Vec<String> = dates.iter().map(|at| time_text(*at)).collect();
        let mut parts = Vec::with_capacity(dates.len());
        for (i, after, up_to) in super::snapshots::history_ranges(&texts) {
            let row = tx
                .query_one(super::snapshots::HISTORY_RANGE, &[&after, &up_to])
                .await
                .map_err(pg("fingerprinting the history"))?;
            parts.push((i, (row.col::<i64>(0)?, row.col::<i64>(1)?)));
        }
        let history = super::snapshots::accumulate_history(dates.len(), parts);
        let mut out = Vec::with_capacity(dates.len());
        for ((at, at_text), (transitions, last_id)) in dates.iter().zip(&texts).zip(history) {
            let answers = tx
                .query_one(
                    super::snapshots::ANSWERS_UP_TO,
                    &[&at.date_naive().to_string()],
                )
                .await
                .map_err(pg("fingerprinting the answers"))?;
            let (answered, last_import): (i64, String) = (answers.col(0)?, answers.col(1)?);
            let inputs =
                super::snapshots::inputs((transitions, last_id), (answered, &last_import), orgs);
            let stored = tx
                .query_opt(super::snapshots::SNAPSHOT, &[at_text, &grading])
                .await
                .map_err(pg("reading a matrix snapshot"))?;
            let levels = match stored {
                Some(row) => {
                    let (was, levels): (String, String) = (row.col(0)?, row.col(1)?);
                    (was == inputs).then_some(levels)
                }
                None => None,
            };
            out.push(PastLevels { inputs, levels });
        }
        Ok(out)
    }

    pub(super) async fn save_past_levels(
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
                super::snapshots::SAVE_SNAPSHOT,
                &[&time_text(at), &grading, &inputs, &levels, &time_text(now)],
            )
            .await
            .map_err(pg("storing a matrix snapshot"))?;
        Ok(())
    }

    pub(super) async fn insert_answers(
        &self,
        answers: &[Answer],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now = time_text(now);
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the assessment import"))?;
        for answer in answers {
            // A typo in an organization id must not create a new organization.
            if tx
                .query_opt("SELECT 1 FROM orgs WHERE org = $1", &[&answer.org])
                .await
                .map_err(pg("looking up the organization"))?
                .is_none()
            {
                return Err(StoreError::UnknownOrg(answer.org.clone()));
            }
            tx.execute(
                "INSERT INTO assessments (org, question, answer, respondent_role, answered_on,
                                          evidence, imported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (org, question, answered_on) DO UPDATE SET
                     answer = excluded.answer, respondent_role = excluded.respondent_role,
                     evidence = excluded.evidence, imported_at = excluded.imported_at",
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

    pub(super) async fn row_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::read(&mut client).await?;
        let mut out = Vec::new();
        for table in super::sqlite::COUNTED_TABLES {
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

    pub(super) async fn transitions(
        &self,
        org: &str,
        target: &str,
        check: &str,
    ) -> Result<Vec<super::TransitionRow>, StoreError> {
        let client = self.client().await?;
        let mut out = Vec::new();
        for row in client
            .query(
                "SELECT from_status, to_status, at, report_id FROM transitions
                 WHERE org = $1 AND target = $2 AND check_id = $3 ORDER BY at, id",
                &[&org, &target, &check],
            )
            .await
            .map_err(pg("reading history"))?
        {
            let (from, to, at): (Option<String>, String, String) =
                (row.col(0)?, row.col(1)?, row.col(2)?);
            let Some((from, to, at)) =
                decode::row("transitions", &(org, target, check, &at), || {
                    transition_values(from.as_deref(), &to, &at)
                })?
            else {
                continue;
            };
            out.push((from, to, at, row.col(3)?));
        }
        Ok(out)
    }

    /// Revokes the active tokens of `kind`, `org`, `name` and, for a rotation, stores the new
    /// one, in one transaction; returns how many were revoked (none: nothing is changed).
    pub(super) async fn revoke_or_rotate(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        new_hash: Option<&str>,
    ) -> Result<usize, StoreError> {
        let now = Utc::now();
        let detail = if new_hash.is_some() {
            "rotated"
        } else {
            "revoked"
        };
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the revocation"))?;
        let hashes: Vec<String> = tx
            .query(
                "SELECT hash FROM tokens
                 WHERE kind = $1 AND org IS NOT DISTINCT FROM $2 AND name = $3
                   AND revoked_at IS NULL
                 FOR UPDATE",
                &[&kind.as_str(), &org, &name],
            )
            .await
            .map_err(pg("finding the tokens to revoke"))?
            .iter()
            .map(|row| row.col(0))
            .collect::<Result<_, _>>()?;
        if hashes.is_empty() {
            return Ok(0);
        }
        for hash in &hashes {
            tx.execute(
                "UPDATE tokens SET revoked_at = $1 WHERE hash = $2",
                &[&time_text(now), hash],
            )
            .await
            .map_err(pg("revoking a token"))?;
            record(
                &tx,
                AuditAction::TokenRevoke,
                &AuditRecord {
                    actor: "cli",
                    kind: Some(kind),
                    org,
                    name: Some(name),
                    token_hash: Some(hash),
                    detail: Some(detail),
                },
                now,
            )
            .await?;
        }
        if let Some(hash) = new_hash {
            tx.execute(
                "INSERT INTO tokens (hash, kind, org, name, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&hash, &kind.as_str(), &org, &name, &time_text(now)],
            )
            .await
            .map_err(pg("storing the new token hash"))?;
            record(
                &tx,
                AuditAction::TokenCreate,
                &AuditRecord {
                    actor: "cli",
                    kind: Some(kind),
                    org,
                    name: Some(name),
                    token_hash: Some(hash),
                    detail: Some("rotation"),
                },
                now,
            )
            .await?;
        }
        tx.commit().await.map_err(pg("committing the revocation"))?;
        Ok(hashes.len())
    }

    pub(super) async fn audit(
        &self,
        action: AuditAction,
        record_: &AuditRecord<'_>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the audit transaction"))?;
        record(&tx, action, record_, Utc::now()).await?;
        tx.commit().await.map_err(pg("writing the audit log"))
    }

    pub(super) async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT at, action, actor, kind, org, name, fingerprint, detail
                 FROM audit_log ORDER BY id",
                &[],
            )
            .await
            .map_err(pg("reading the audit log"))?
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: row.col(0)?,
                    action: row.col(1)?,
                    actor: row.col(2)?,
                    kind: row.col(3)?,
                    org: row.col(4)?,
                    name: row.col(5)?,
                    fingerprint: row.col(6)?,
                    detail: row.col(7)?,
                })
            })
            .collect::<Result<_, StoreError>>()
    }

    pub(super) async fn regrade_candidates(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        client
            .query(super::sqlite::REGRADE_CANDIDATES, &[])
            .await
            .map_err(pg("listing the reports to regrade"))?
            .iter()
            .map(|row| row.col(0))
            .collect::<Result<_, _>>()
    }

    pub(super) async fn report_body(&self, report_id: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT body FROM reports WHERE report_id = $1",
                &[&report_id],
            )
            .await
            .map_err(pg("reading a stored report"))?
            .map(|row| row.col(0))
            .transpose()
    }

    /// The same rules as SQLite's `apply_regrade`, under the organization's ingest lock.
    pub(super) async fn apply_regrade(
        &self,
        regrade: &super::Regrade,
    ) -> Result<(u64, u64), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the regrade"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&regrade.org],
        )
        .await
        .map_err(pg("locking the organization"))?;
        let at = time_text(regrade.at);
        let (mut changed, mut added) = (0, 0);
        for finding in &regrade.findings {
            let check = finding.check.as_str();
            let status = finding.status.as_str();
            let severity = finding.severity.as_str();
            let evidence = serde_json::to_string(&finding.evidence).map_err(|error| {
                StoreError::Serialize {
                    what: "finding evidence",
                    error,
                }
            })?;
            let current: Option<(String, String, String)> = tx
                .query_opt(
                    "SELECT l.status, l.severity,
                            CASE WHEN l.retired = 0 AND a.last_report_id IS NOT NULL
                                 THEN a.last_report_id ELSE l.report_id END
                     FROM latest l
                     LEFT JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
                     WHERE l.org = $1 AND l.target = $2 AND l.check_id = $3
                     FOR UPDATE OF l",
                    &[&regrade.org, &finding.target, &check],
                )
                .await
                .map_err(pg("reading the latest state"))?
                .map(|row| Ok::<_, StoreError>((row.col(0)?, row.col(1)?, row.col(2)?)))
                .transpose()?;
            match super::regrade_step(current.as_ref(), regrade, finding) {
                super::RegradeStep::Keep => {}
                super::RegradeStep::Add => {
                    tx.execute(
                        "INSERT INTO latest (org, target, check_id, status, severity, summary,
                                             remediation, evidence, report_id, observed_at, since,
                                             agent_id, retired)
                         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, r.agent_id, 0
                         FROM reports r WHERE r.report_id = $9",
                        &[
                            &regrade.org,
                            &finding.target,
                            &check,
                            &status,
                            &severity,
                            &finding.summary,
                            &finding.remediation,
                            &evidence,
                            &regrade.report_id,
                            &time_text(regrade.finished_at),
                            &at,
                        ],
                    )
                    .await
                    .map_err(pg("adding a regraded verdict"))?;
                    tx.execute(
                        "INSERT INTO transitions (org, target, check_id, from_status, to_status,
                                                  at, report_id)
                         VALUES ($1, $2, $3, NULL, $4, $5, $6)",
                        &[
                            &regrade.org,
                            &finding.target,
                            &check,
                            &status,
                            &at,
                            &regrade.report_id,
                        ],
                    )
                    .await
                    .map_err(pg("recording a regraded transition"))?;
                    added += 1;
                }
                super::RegradeStep::Update { from } => {
                    tx.execute(
                        "UPDATE latest SET status = $4, severity = $5, summary = $6,
                             remediation = $7, evidence = $8,
                             since = CASE WHEN status = $4 THEN since ELSE $9 END
                         WHERE org = $1 AND target = $2 AND check_id = $3",
                        &[
                            &regrade.org,
                            &finding.target,
                            &check,
                            &status,
                            &severity,
                            &finding.summary,
                            &finding.remediation,
                            &evidence,
                            &at,
                        ],
                    )
                    .await
                    .map_err(pg("updating a regraded verdict"))?;
                    if let Some(from) = from {
                        tx.execute(
                            "INSERT INTO transitions (org, target, check_id, from_status,
                                                      to_status, at, report_id)
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            &[
                                &regrade.org,
                                &finding.target,
                                &check,
                                &from,
                                &status,
                                &at,
                                &regrade.report_id,
                            ],
                        )
                        .await
                        .map_err(pg("recording a regraded transition"))?;
                    }
                    changed += 1;
                }
            }
        }
        tx.commit().await.map_err(pg("committing the regrade"))?;
        Ok((changed, added))
    }

    /// Deletes up to `limit` reports received before `before` that no current-state row
    /// points at; returns how many.
    pub(super) async fn prune(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM reports WHERE report_id IN (
                     SELECT r.report_id FROM reports r
                     WHERE r.received_at < $1
                       AND r.report_id NOT IN (SELECT last_report_id FROM agents
                                               WHERE last_report_id IS NOT NULL)
                       AND r.report_id NOT IN (SELECT report_id FROM latest WHERE retired = 1)
                       AND r.report_id NOT IN (SELECT report_id FROM tls_certificates)
                     LIMIT $2)",
                &[&time_text(before), &limit],
            )
            .await
            .map_err(pg("pruning old reports"))
    }
}

/// A statement prepared once per pooled connection: the ingest path runs the same few
/// statements for every report, so they are parsed and planned once, not every time.
async fn cached(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
) -> Result<tokio_postgres::Statement, StoreError> {
    tx.prepare_cached(sql)
        .await
        .map_err(pg("preparing a statement"))
}

async fn version_in(client: &tokio_postgres::Transaction<'_>) -> Result<u32, StoreError> {
    let version: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg("reading the schema version"))?
        .get(0);
    Ok(u32::try_from(version).unwrap_or(0))
}

/// Writes one audit row with `client` (inside the caller's transaction, if any).
async fn record(
    client: &tokio_postgres::Transaction<'_>,
    action: AuditAction,
    record: &AuditRecord<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO audit_log (at, action, actor, kind, org, name, fingerprint, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &time_text(at),
                &action.as_str(),
                &record.actor,
                &record.kind.map(TokenKind::as_str),
                &record.org,
                &record.name,
                &record.token_hash.map(fingerprint),
                &record.detail,
            ],
        )
        .await
        .map(drop)
        .map_err(pg("writing the audit log"))
}

async fn org_ids(tx: &tokio_postgres::Transaction<'_>) -> Result<Vec<String>, StoreError> {
    tx.query("SELECT org FROM orgs ORDER BY org", &[])
        .await
        .map_err(pg("listing organizations"))?
        .iter()
        .map(|row| row.col(0))
        .collect::<Result<_, _>>()
}

async fn finding_counts(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<Vec<(String, Status, vigie_model::Severity, u64)>, StoreError> {
    let mut counts = Vec::new();
    for row in tx
        .query(
            "SELECT org, status, severity, COUNT(*) FROM current_latest
             GROUP BY org, status, severity ORDER BY org, status, severity",
            &[],
        )
        .await
        .map_err(pg("counting findings"))?
    {
        let (org, status, severity, count): (String, String, String, i64) =
            (row.col(0)?, row.col(1)?, row.col(2)?, row.col(3)?);
        let Some((status, severity)) = decode::row("latest", &(&org, &status, &severity), || {
            Ok((
                parse_status("latest.status", &status)?,
                parse_severity("latest.severity", &severity)?,
            ))
        })?
        else {
            continue;
        };
        counts.push((org, status, severity, u64::try_from(count).unwrap_or(0)));
    }
    Ok(counts)
}

type TlsRow = (String, String, DateTime<Utc>, DateTime<Utc>);

async fn tls_rows(
    tx: &tokio_postgres::Transaction<'_>,
    org: Option<&str>,
) -> Result<Vec<TlsRow>, StoreError> {
    let mut out = Vec::new();
    for row in tx
        .query(
            "SELECT org, target, not_after, observed_at FROM current_tls_certificates
             WHERE $1::text IS NULL OR org = $1 ORDER BY org, target",
            &[&org],
        )
        .await
        .map_err(pg("listing certificates"))?
    {
        let (org, target, not_after, observed): (String, String, String, String) =
            (row.col(0)?, row.col(1)?, row.col(2)?, row.col(3)?);
        let Some((not_after, observed_at)) =
            decode::row("tls_certificates", &(&org, &target), || {
                Ok((
                    parse_time("tls_certificates.not_after", &not_after)?,
                    parse_time("tls_certificates.observed_at", &observed)?,
                ))
            })?
        else {
            continue;
        };
        out.push((org, target, not_after, observed_at));
    }
    Ok(out)
}

async fn answers(tx: &tokio_postgres::Transaction<'_>) -> Result<Vec<Answer>, StoreError> {
    let rows: Vec<Row> = tx
        .query(
            "SELECT org, question, answer, respondent_role, answered_on, evidence
             FROM assessments ORDER BY org, question, answered_on",
            &[],
        )
        .await
        .map_err(pg("reading answers"))?;
    let mut out = Vec::new();
    for row in rows {
        let (org, question, answered_on): (String, String, String) =
            (row.col(0)?, row.col(1)?, row.col(4)?);
        let Some(answered_on) = decode::row("assessments", &(&org, &question), || {
            parse_date("assessments.answered_on", &answered_on)
        })?
        else {
            continue;
        };
        out.push(Answer {
            org,
            question,
            answer: row.col(2)?,
            respondent_role: row.col(3)?,
            answered_on,
            evidence: row.col(5)?,
        });
    }
    Ok(out)
}
