//! The collector's storage. [`Store`] is the only way in: it holds every SQL statement of
//! the crate, for SQLite (`sqlite/`, the default, embedded) and PostgreSQL (`postgres/`,
//! `--database-url postgres://…`, for several collectors over one database). The backend is
//! chosen once, when the store is opened; nothing above the store knows which one it is.
//!
//! Both backends run the same SQL texts (`sql`, one text for both dialects where they agree)
//! and read rows with the same decoders (`rows`); each backend's folder holds what only its
//! dialect or its concurrency needs, split by concern: `ingest`, `reads`, `matrix` and
//! `upkeep` (migrations, readiness, tokens, audit, regrade, retention). SQLite stores reports
//! on one writer thread with group commit; PostgreSQL on a pool of async connections, one
//! transaction per report, its statements pipelined.

/// Runs work written once over `db::Db` on either backend: `$sqlite` and `$postgres` name
/// how (a read snapshot, a write transaction and its `$steps`, a bare connection).
macro_rules! on_backend {
    ($store:expr, $sqlite:ident, $postgres:ident $(, $steps:expr)?; |$db:ident| $work:expr) => {
        match &$store.backend {
            Backend::Sqlite(s) => s.$sqlite($($steps,)? async move |$db| $work.await).await,
            Backend::Postgres(pg) => pg.$postgres($($steps,)? async move |$db| $work.await).await,
        }
    };
}

mod admin;
pub mod audit;
mod canonical;
mod card;
mod db;
mod decode;
mod evidence;
mod migrations;
pub mod orgmeta;
mod plan;
mod postgres;
mod queries;
mod rows;
mod snapshots;
mod sql;
mod sqlite;

pub use card::{
    AgentCadence, CardState, CertificateRow, OrgTransition, SevereFailure, TriageState,
};

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use vigie_model::{Report, Severity, Status};

use crate::auth::{Principal, TokenKind};
use crate::scope::Role;

/// Where the data lives, parsed from `--database-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: one file, created on first start.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: a PostgreSQL database, which must exist.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` (`sqlite:///abs/path` or `sqlite://relative/path`) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (libpq's URL form).
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadUrl {
                    url: url.to_owned(),
                    reason: "the path is empty; write sqlite://PATH, e.g. sqlite:///var/lib/vigie/vigie.db",
                });
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(StoreError::BadUrl {
            // The URL may hold a password: show only its scheme.
            url: url
                .split("://")
                .next()
                .unwrap_or_default()
                .chars()
                .take(32)
                .collect(),
            reason: "unknown database URL scheme; write sqlite://PATH or postgres://…",
        })
    }
}

/// What went wrong in the store. Variants carry what an operator needs to act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL `{url}`: {reason}")]
    BadUrl { url: String, reason: &'static str },
    #[error("cannot open the SQLite database {path}: {error} (does its folder exist and is it writable?)")]
    Open {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("applying migration {version} ({name}) failed: {error}")]
    Migrate {
        version: u32,
        name: &'static str,
        error: rusqlite::Error,
    },
    #[error("the database is at schema version {found}, newer than this collector knows ({known}); run a newer vigie-collector")]
    SchemaTooNew { found: u32, known: u32 },
    /// The driver's error and its causes are in the message, not chained as a source:
    /// tokio-postgres says only "error connecting to server" and keeps the reason in its
    /// source, so a chained source printed the first part twice and logs of the message
    /// alone lost the reason.
    #[error("{operation} failed (PostgreSQL): {}", with_causes(error))]
    Postgres {
        operation: &'static str,
        error: tokio_postgres::Error,
    },
    #[error("cannot get a PostgreSQL connection: {0} (is the server up, the database created and the URL right?)")]
    PostgresPool(String),
    #[error(
        "applying migration {version} ({name}) to PostgreSQL failed: {}",
        with_causes(error)
    )]
    PgMigrate {
        version: u32,
        name: &'static str,
        error: tokio_postgres::Error,
    },
    #[error("{0} is not available on a PostgreSQL store yet; use sqlite://PATH for it")]
    SqliteOnly(&'static str),
    #[error("{operation} failed: {error}")]
    Sqlite {
        operation: &'static str,
        error: rusqlite::Error,
    },
    #[error("the database holds `{value}` in {column}, which this collector cannot read")]
    Corrupt { column: &'static str, value: String },
    #[error("organization id `{0}` is invalid (1-64 of a-z, 0-9, '-', '_', '.')")]
    InvalidOrg(String),
    #[error("organization `{0}` is not known to this collector; check the id, or create it with `vigie-collector agent add --org {0}`")]
    UnknownOrg(String),
    #[error("an agent token and an `org` viewer token need an organization (--org); a sector or committee viewer and a scrape token must not have one")]
    TokenOrg,
    #[error("token name is empty or longer than 128 characters")]
    InvalidName,
    #[error("serializing {what} failed: {error}")]
    Serialize {
        what: &'static str,
        error: serde_json::Error,
    },
    #[error("the storage thread stopped: {0}")]
    Join(tokio::task::JoinError),
    #[error("no active {kind} token named `{name}`{}; check --org and --name (`vigie-collector audit show` lists the tokens created)", org.as_ref().map(|o| format!(" for organization `{o}`")).unwrap_or_default())]
    NoSuchToken {
        kind: &'static str,
        org: Option<String>,
        name: String,
    },
    #[error("the storage thread stopped before storing this report; it was not stored, and the agent sends it again from its outbox (the collector's log says why)")]
    BatchAborted,
    #[error("starting the storage thread failed: {0}; the system refused a new thread, check the collector's process and memory limits")]
    Thread(std::io::Error),
    #[error("agent token name `{0}` is not an agent id: the name is the id the agent reports as (its config's `[agent] id`), 1-128 of A-Z, a-z, 0-9, '-', '_', '.'")]
    InvalidAgentName(String),
}

// Each variant's message shows its cause, so the cause is not also the error's `source()`
// (`{:#}` would print it twice); `?` still converts a join error.
impl From<tokio::task::JoinError> for StoreError {
    fn from(error: tokio::task::JoinError) -> Self {
        StoreError::Join(error)
    }
}

impl StoreError {
    /// Whether the database is away rather than the request or the collector at fault: locked
    /// by another process beyond the busy timeout, read-only, full, or its file unreachable.
    /// The API answers 503 (retry later) for these.
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode::*;
        let source = match self {
            StoreError::Open { .. } | StoreError::PostgresPool(_) => return true,
            StoreError::Sqlite { error, .. } => error,
            StoreError::Postgres { error, .. } => return postgres_unavailable(error),
            _ => return false,
        };
        matches!(
            source.sqlite_error_code(),
            Some(
                DatabaseBusy
                    | DatabaseLocked
                    | ReadOnly
                    | DiskFull
                    | SystemIoFailure
                    | CannotOpen
                    | FileLockingProtocolFailed
            )
        )
    }
}

/// `error: cause: cause…`, each cause once.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let part = next.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = next.source();
    }
    text
}

/// Whether a PostgreSQL error means the server is away or refusing work for now: the
/// connection is lost, or the error is of class 08 (connection), 53 (insufficient resources),
/// 57P (shutting down, cannot connect now) or a read-only transaction (a standby).
fn postgres_unavailable(source: &tokio_postgres::Error) -> bool {
    if source.is_closed() {
        return true;
    }
    match source.as_db_error() {
        // Not an answer of the server: the connection itself failed.
        None => source.code().is_none(),
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "25006"
        }
    }
}

/// The answer to an ingest, decided inside the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// First time this report_id is seen: stored and committed.
    Stored { received_at: String },
    /// The same report (same canonical body) was already stored; nothing changed.
    Duplicate { received_at: String },
    /// This report_id is already stored with another body; nothing changed.
    Conflict,
    /// Storing the report would take its organization's stored report bytes (`used`) past
    /// its budget; nothing changed.
    OverBudget { used: u64, budget: u64 },
}

/// A report accepted by the API, ready to store: everything the single SQLite writer would
/// otherwise compute is computed here, on the request's own thread, by [`IncomingReport::new`].
#[derive(Debug, Clone)]
pub struct IncomingReport {
    /// The parsed report, already validated.
    report: Report,
    /// The body as received (UTF-8 JSON).
    body: String,
    /// SHA-256 (hex) of the body as received (a report_id sent again with another hash is
    /// compared with the stored body in canonical JSON, see `canonical`).
    body_sha256: String,
    /// When the collector received it.
    received_at: DateTime<Utc>,
    /// Each finding's evidence serialized, as `latest.evidence` holds it: the planner
    /// compares and writes this text.
    evidence: Vec<String>,
    /// The organization's budget of stored report bytes (`orgs.report_bytes`, kept by
    /// triggers); `None`: no budget.
    storage_budget: Option<u64>,
}

impl IncomingReport {
    /// A report and the body it was parsed from.
    pub fn new(
        report: Report,
        body: String,
        received_at: DateTime<Utc>,
    ) -> Result<IncomingReport, StoreError> {
        use sha2::{Digest, Sha256};
        let evidence = report
            .findings
            .iter()
            .map(|finding| {
                serde_json::to_string(&finding.evidence).map_err(|error| StoreError::Serialize {
                    what: "finding evidence",
                    error,
                })
            })
            .collect::<Result<Vec<String>, StoreError>>()?;
        Ok(IncomingReport {
            body_sha256: hex::encode(Sha256::digest(body.as_bytes())),
            report,
            body,
            received_at,
            evidence,
            storage_budget: None,
        })
    }

    /// The same report, refused ([`IngestOutcome::OverBudget`]) if storing it would take
    /// its organization's stored report bytes past `budget`.
    pub fn with_storage_budget(mut self, budget: Option<u64>) -> IncomingReport {
        self.storage_budget = budget;
        self
    }

    /// `Some((used, budget))` when a body of this size on top of `used` bytes is over the
    /// budget.
    pub(crate) fn over_budget(&self, used: u64) -> Option<(u64, u64)> {
        let budget = self.storage_budget?;
        (used.saturating_add(self.body.len() as u64) > budget).then_some((used, budget))
    }

    /// The parsed report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Finding `i`'s evidence as stored text; empty if there is no such finding.
    pub(crate) fn evidence_text(&self, i: usize) -> &str {
        self.evidence.get(i).map_or("", String::as_str)
    }
}

/// Counts of an organization's latest findings. Every status and severity is present, zero
/// when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FindingCounts {
    pub total: u64,
    pub by_status: std::collections::BTreeMap<&'static str, u64>,
    pub by_severity: std::collections::BTreeMap<&'static str, u64>,
    /// `status → severity → count`.
    pub by_status_and_severity:
        std::collections::BTreeMap<&'static str, std::collections::BTreeMap<&'static str, u64>>,
}

impl FindingCounts {
    fn zero() -> FindingCounts {
        let severities = || Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        FindingCounts {
            total: 0,
            by_status: Status::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            by_severity: severities(),
            by_status_and_severity: Status::ALL
                .iter()
                .map(|s| (s.as_str(), severities()))
                .collect(),
        }
    }

    fn add(&mut self, status: Status, severity: Severity, count: u64) {
        self.total += count;
        *self.by_status.entry(status.as_str()).or_default() += count;
        *self.by_severity.entry(severity.as_str()).or_default() += count;
        *self
            .by_status_and_severity
            .entry(status.as_str())
            .or_default()
            .entry(severity.as_str())
            .or_default() += count;
    }
}

/// One organization in `GET /api/v1/orgs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgSummary {
    pub id: String,
    /// How many agents have reported for it.
    pub agents: u64,
    /// The finished_at of its newest report, if any.
    pub last_report_at: Option<DateTime<Utc>>,
    pub findings: FindingCounts,
}

/// An agent as its newest report described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    pub id: String,
    pub hostname: String,
    pub version: String,
    pub last_report_at: DateTime<Utc>,
}

/// The newest verdict of one check on one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestFinding {
    pub check: String,
    pub target: String,
    pub status: Status,
    pub severity: Severity,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    pub evidence: serde_json::Value,
    /// The report it came from.
    pub report_id: String,
    /// The finished_at of that report.
    pub observed_at: DateTime<Utc>,
    /// Since when the status has been this one.
    pub since: DateTime<Utc>,
}

/// The leaf certificate expiry of one TLS endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsCertificateRow {
    pub target: String,
    pub not_after: DateTime<Utc>,
    pub observed_at: DateTime<Utc>,
}

/// `GET /api/v1/orgs/{org}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgDetail {
    pub id: String,
    pub agents: Vec<AgentRow>,
    pub findings: Vec<LatestFinding>,
    pub tls_certificates: Vec<TlsCertificateRow>,
}

/// What `/metrics` reads from the store, in one consistent snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Every organization, so that finding counts of zero are explicit.
    pub orgs: Vec<String>,
    /// `(org, agent_id, last_report_at)`.
    pub agents: Vec<(String, String, DateTime<Utc>)>,
    /// `(org, check, status, severity, targets)`: how many targets of each organization
    /// have each check at each status and severity.
    pub check_counts: Vec<(String, String, Status, Severity, u64)>,
    /// `(org, status, severity, count)` of latest findings.
    pub finding_counts: Vec<(String, Status, Severity, u64)>,
    /// `(org, target, not_after)`.
    pub tls_not_after: Vec<(String, String, DateTime<Utc>)>,
    /// `(org, capability, level)`: filled by the caller from the matrix grading, not by
    /// the store.
    pub capability_levels: Vec<(String, String, u8)>,
    /// The per-family gauges, derived from the latest verdicts.
    pub family: crate::family_metrics::FamilyMetrics,
}

/// What the capability matrix is graded from, for every organization.
#[derive(Debug, Clone, Default)]
pub struct MatrixState {
    /// Every organization, sorted.
    pub orgs: Vec<String>,
    /// `(org, verdict)`.
    pub findings: Vec<(String, vigie_matrix::FindingFact)>,
    /// Every stored self-assessment answer.
    pub answers: Vec<vigie_matrix::Answer>,
}

/// A stored past state of the matrix (migration 0007) and what it must have been graded from
/// to still hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastLevels {
    /// The fingerprint of the data up to that date, as it is now: the transitions, answers
    /// and organizations a grading of that date reads. Opaque; equal means unchanged.
    pub inputs: String,
    /// The levels stored for that date and grading, if they were graded from `inputs`;
    /// `None` if none were stored or the data has changed since.
    pub levels: Option<String>,
}

/// The collector's store. Cheap to clone; clones share one connection (SQLite) or one pool
/// (PostgreSQL).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// One status change of a key: `(from_status, to_status, at, report_id)`.
pub(crate) type TransitionRow = (Option<Status>, Status, DateTime<Utc>, String);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location())
            .finish()
    }
}

impl Store {
    /// Opens the database named by `database_url` (`sqlite://PATH` or `postgres://…`),
    /// creating the SQLite file and applying pending migrations on first start.
    pub async fn open(database_url: &str) -> Result<Store, StoreError> {
        Ok(Store::open_with(database_url, true).await?.0)
    }

    /// Opens the database, applying pending migrations when `apply`; refuses a schema newer
    /// than this build knows either way. Returns the schema versions before and after
    /// (`vigie-collector migrate` prints them).
    pub async fn open_with(
        database_url: &str,
        apply: bool,
    ) -> Result<(Store, u32, u32), StoreError> {
        let (backend, from, to) = match DatabaseUrl::parse(database_url)? {
            DatabaseUrl::Sqlite(path) => {
                let (store, from, to) = sqlite::SqliteStore::open(path, apply).await?;
                (Backend::Sqlite(store), from, to)
            }
            DatabaseUrl::Postgres(url) => {
                let (pg, from, to) = postgres::PgStore::open(&url, apply).await?;
                (Backend::Postgres(pg), from, to)
            }
        };
        Ok((Store { backend }, from, to))
    }

    /// Where the data is, for messages: the SQLite file, or `PostgreSQL` (never its URL,
    /// which may hold a password).
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.path.display().to_string(),
            Backend::Postgres(_) => "PostgreSQL".to_owned(),
        }
    }

    /// The SQLite file; `None` on PostgreSQL.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.backend {
            Backend::Sqlite(s) => Some(&s.path),
            Backend::Postgres(_) => None,
        }
    }

    /// The backend's name: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The newest schema version this build knows.
    pub fn known_schema_version() -> u32 {
        migrations::SQLITE.last().map_or(0, |m| m.0)
    }

    /// The highest migration applied.
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(|c| sqlite::upkeep::schema_version(c)).await,
            Backend::Postgres(pg) => pg.schema_version().await,
        }
    }

    /// Makes a new token of `kind` and stores its hash; returns the token, which exists
    /// nowhere else afterwards. An agent token needs `org` (the organization is created if
    /// new); a scraper token has none. A viewer token is made by [`Store::create_viewer`].
    pub async fn create_token(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
    ) -> Result<String, StoreError> {
        let role = match kind {
            TokenKind::Viewer => Some(Role::Sector),
            TokenKind::Agent | TokenKind::Scraper => None,
        };
        self.insert_token(kind, org, name, role).await
    }

    /// Makes a new viewer token of `role`: an `org` viewer needs `org`, an organization the
    /// collector knows; the other roles have none.
    pub async fn create_viewer(
        &self,
        role: Role,
        org: Option<&str>,
        name: &str,
    ) -> Result<String, StoreError> {
        self.insert_token(TokenKind::Viewer, org, name, Some(role))
            .await
    }

    async fn insert_token(
        &self,
        kind: TokenKind,
        org: Option<&str>,
        name: &str,
        role: Option<Role>,
    ) -> Result<String, StoreError> {
        match (kind, org, role) {
            (TokenKind::Agent | TokenKind::Viewer, Some(org), _)
                if !vigie_model::validate::is_valid_org(org) =>
            {
                return Err(StoreError::InvalidOrg(org.chars().take(64).collect()))
            }
            (TokenKind::Agent, Some(_), None)
            | (TokenKind::Viewer, Some(_), Some(Role::Org))
            | (TokenKind::Viewer, None, Some(Role::Sector | Role::Committee))
            | (TokenKind::Scraper, None, None) => {}
            _ => return Err(StoreError::TokenOrg),
        }
        if name.trim().is_empty() || name.chars().count() > 128 {
            return Err(StoreError::InvalidName);
        }
        // The name of an agent token is the one agent id it may post as.
        if kind == TokenKind::Agent && !vigie_model::validate::is_valid_agent_id(name) {
            return Err(StoreError::InvalidAgentName(
                name.chars().take(128).collect(),
            ));
        }
        let (token, hash) = crate::auth::generate(kind);
        let (org, name) = (org.map(str::to_owned), name.to_owned());
        let steps = ["starting the token transaction", "committing the token"];
        on_backend!(self, write, transact, steps; |db| {
            queries::insert_token(db, &hash, kind, org.as_deref(), &name, role, Utc::now())
        })?;
        Ok(token)
    }

    /// Who `token` belongs to, or `None` for an unknown or revoked token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let hash = crate::auth::hash(token);
        match &self.backend {
            Backend::Sqlite(store) => store.authenticate(hash).await,
            Backend::Postgres(pg) => pg.find_token(&hash).await,
        }
    }

    /// Opens a web session for `token` (already authenticated) until `now + lifetime`;
    /// returns the random value to put in the cookie, which is stored only hashed. Sessions
    /// already expired are deleted on the way.
    pub async fn open_session(
        &self,
        token: &str,
        now: DateTime<Utc>,
        lifetime: std::time::Duration,
    ) -> Result<String, StoreError> {
        let (value, session_hash) = crate::auth::session_value();
        let token_hash = crate::auth::hash(token);
        let expires_at = now
            + chrono::Duration::from_std(lifetime).unwrap_or_else(|_| chrono::Duration::hours(8));
        let steps = ["starting the session transaction", "committing the session"];
        on_backend!(self, write, transact, steps; |db| {
            queries::open_session(db, &session_hash, &token_hash, now, expires_at)
        })?;
        Ok(value)
    }

    /// Who the live session of cookie value `session` belongs to at `now`: `None` when it
    /// is unknown, expired, closed, or its token revoked.
    pub async fn session(
        &self,
        session: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, StoreError> {
        let hash = crate::auth::hash(session);
        let now = rows::time_text(now);
        match &self.backend {
            Backend::Sqlite(store) => store.find_session(hash, now).await,
            Backend::Postgres(pg) => pg.find_session(&hash, &now).await,
        }
    }

    /// Ends the session of cookie value `session` (nothing if there is none).
    pub async fn close_session(&self, session: &str) -> Result<(), StoreError> {
        let hash = crate::auth::hash(session);
        let steps = ["starting the logout", "committing the logout"];
        on_backend!(self, write, transact, steps; |db| queries::close_session(db, &hash))
    }

    /// Stores a validated report: the raw report, the agent, the latest state, the status
    /// transitions and the TLS expiry, all or nothing. Returns only after the commit.
    ///
    /// On SQLite the report joins the writer thread's queue and is stored with the others
    /// queued, in one transaction (group commit); on PostgreSQL each report is its own
    /// transaction on its own pooled connection: PostgreSQL's writers work in parallel, so
    /// there is nothing to batch.
    pub async fn ingest(&self, incoming: IncomingReport) -> Result<IngestOutcome, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.ingest(incoming).await,
            Backend::Postgres(pg) => pg.ingest(&incoming).await,
        }
    }

    /// Every organization with its counts, or only `only`'s (an `org` viewer's scope,
    /// [`crate::Scope::org_filter`]), filtered in SQL.
    pub async fn orgs(&self, only: Option<&str>) -> Result<Vec<OrgSummary>, StoreError> {
        let only = only.map(str::to_owned);
        on_backend!(self, read, snapshot; |db| queries::orgs(db, only.as_deref()))
    }

    /// One organization's agents, latest findings and certificate expiries; `None` if the
    /// organization does not exist.
    pub async fn org(&self, org: &str) -> Result<Option<OrgDetail>, StoreError> {
        let org = org.to_owned();
        on_backend!(self, read, snapshot; |db| queries::org(db, &org))
    }

    /// What `/metrics` exposes from the store.
    pub async fn metrics_snapshot(&self) -> Result<MetricsSnapshot, StoreError> {
        on_backend!(self, read, snapshot; |db| queries::metrics_snapshot(db))
    }

    /// The latest verdicts and every answer, for the capability matrix.
    pub async fn matrix_state(&self) -> Result<MatrixState, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(sqlite::matrix_state).await,
            Backend::Postgres(pg) => pg.matrix_state().await,
        }
    }

    /// The verdicts as they stood at `at`, rebuilt from the status history.
    pub async fn matrix_state_at(&self, at: DateTime<Utc>) -> Result<MatrixState, StoreError> {
        on_backend!(self, read, snapshot; |db| queries::matrix_state_at(db, at))
    }

    /// For each date, the fingerprint of the data up to it and the levels stored for it
    /// under `grading` if they still match (one read, one consistent snapshot).
    pub async fn past_levels(
        &self,
        dates: &[DateTime<Utc>],
        grading: &str,
    ) -> Result<Vec<PastLevels>, StoreError> {
        let (dates, grading) = (dates.to_vec(), grading.to_owned());
        on_backend!(self, read, snapshot; |db| queries::past_levels(db, &dates, &grading))
    }

    /// Keeps the levels graded at `at` from data whose fingerprint was `inputs`, replacing
    /// any stored before for that date and grading.
    pub async fn save_past_levels(
        &self,
        at: DateTime<Utc>,
        grading: &str,
        inputs: &str,
        levels: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (grading, inputs, levels) = (grading.to_owned(), inputs.to_owned(), levels.to_owned());
        on_backend!(self, connected, connected; |db| {
            queries::save_past_levels(db, at, &grading, &inputs, &levels, now)
        })
    }

    /// Stores self-assessment answers, all or none; returns how many.
    pub async fn import_answers(
        &self,
        answers: Vec<vigie_matrix::Answer>,
    ) -> Result<usize, StoreError> {
        let steps = [
            "starting the assessment import",
            "committing the assessment import",
        ];
        on_backend!(self, write, transact, steps; |db| {
            queries::insert_answers(db, &answers, Utc::now())
        })
    }

    /// Succeeds if the store answers a query, both on the open connection and on a new one
    /// to the same file: a database file deleted or replaced under a running collector
    /// would otherwise go unnoticed while writes land in an unlinked file. It also reads
    /// every table the read paths read (`sql::READINESS_READ`): a database that takes writes
    /// but whose reads fail (a table gone, a privilege revoked) is not ready either.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.ping().await,
            Backend::Postgres(pg) => pg.ping().await,
        }
    }

    /// Counts the rows of each table, for tests and diagnostics.
    pub async fn row_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        on_backend!(self, read, snapshot; |db| queries::row_counts(db))
    }

    /// The transitions of one key, oldest first: `(from_status, to_status, at, report_id)`.
    pub async fn transitions(
        &self,
        org: &str,
        target: &str,
        check: &str,
    ) -> Result<Vec<TransitionRow>, StoreError> {
        let (org, target, check) = (org.to_owned(), target.to_owned(), check.to_owned());
        on_backend!(self, connected, connected; |db| {
            queries::transitions(db, &org, &target, &check)
        })
    }

    /// The newest stored report of every agent, which its current state comes from: what
    /// `regrade` recomputes.
    pub async fn regrade_candidates(&self) -> Result<Vec<String>, StoreError> {
        on_backend!(self, connected, connected; |db| queries::regrade_candidates(db))
    }

    /// The body of a stored report, as received; `None` if it is not (or no longer) stored.
    pub async fn report_body(&self, report_id: &str) -> Result<Option<String>, StoreError> {
        let report_id = report_id.to_owned();
        on_backend!(self, connected, connected; |db| queries::report_body(db, &report_id))
    }

    /// Writes the regraded findings of one report into the latest state, in one transaction:
    /// a changed status updates the row (its `since` becomes `regrade.at`) and records a
    /// transition at `regrade.at`; a changed severity alone updates the row only; a key
    /// the rules did not have is added; a row another report wrote since is left alone.
    /// The stored report itself is never changed. Returns `(changed, added)`.
    pub async fn apply_regrade(&self, regrade: Regrade) -> Result<(u64, u64), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                let steps = ["starting the regrade", "committing the regrade"];
                s.write(steps, async move |db| {
                    queries::apply_regrade(db, &regrade).await
                })
                .await
            }
            Backend::Postgres(pg) => pg.apply_regrade(&regrade).await,
        }
    }

    /// Deletes the raw reports received before `before`, except each agent's newest (the
    /// current state's, which regrade reads), those retired `latest` rows and
    /// `tls_certificates` point at; transitions stay. Works in batches of
    /// [`PRUNE_BATCH`] reports, one transaction each, so that ingests go on meanwhile.
    /// Returns how many reports were deleted.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut total = 0;
        // Bounded: each round deletes a full batch or ends the loop.
        for _ in 0..PRUNE_MAX_ROUNDS {
            let deleted = match &self.backend {
                Backend::Sqlite(s) => {
                    let steps = ["starting the pruning", "committing the pruning"];
                    s.write(steps, async move |db| {
                        queries::prune(db, before, PRUNE_BATCH).await
                    })
                    .await?
                }
                Backend::Postgres(pg) => {
                    pg.connected(async |db| queries::prune(db, before, PRUNE_BATCH).await)
                        .await?
                }
            };
            total += deleted;
            if deleted < PRUNE_BATCH as u64 {
                break;
            }
        }
        Ok(total)
    }
}

/// The regraded findings of one stored report, for [`Store::apply_regrade`].
#[derive(Debug, Clone)]
pub struct Regrade {
    pub org: String,
    pub report_id: String,
    /// The report's finished_at: the observed_at of a verdict a new rule adds.
    pub finished_at: DateTime<Utc>,
    /// When the regrade ran: the time of the transitions it records.
    pub at: DateTime<Utc>,
    pub findings: Vec<vigie_model::Finding>,
}

/// What one regraded finding does to the latest state.
#[derive(Debug, PartialEq, Eq)]
enum RegradeStep {
    /// Same verdict, or a row that another report wrote since: nothing.
    Keep,
    /// No row for the key (a check the rules did not have): insert it, with a transition
    /// from nothing.
    Add,
    /// The status (then `from` is the old one, and a transition is recorded) or the severity,
    /// summary or remediation changed: update the row.
    Update { from: Option<String> },
}

/// The rule of [`RegradeStep`]; `current` is the row's `(status, severity, report_id)`.
fn regrade_step(
    current: Option<&(String, String, String)>,
    regrade: &Regrade,
    finding: &vigie_model::Finding,
) -> RegradeStep {
    match current {
        None => RegradeStep::Add,
        Some((_, _, report_id)) if *report_id != regrade.report_id => RegradeStep::Keep,
        Some((status, _, _)) if status != finding.status.as_str() => RegradeStep::Update {
            from: Some(status.clone()),
        },
        Some((_, severity, _)) if severity != finding.severity.as_str() => {
            RegradeStep::Update { from: None }
        }
        Some(_) => RegradeStep::Keep,
    }
}

/// Reports deleted per transaction by [`Store::prune`].
const PRUNE_BATCH: i64 = 500;
/// At most this many batches per call (50 million reports); a later call goes on.
const PRUNE_MAX_ROUNDS: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/vigie.db").ok(),
            Some(DatabaseUrl::Sqlite(PathBuf::from("/var/lib/vigie.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://vigie.db").ok(),
            Some(DatabaseUrl::Sqlite(PathBuf::from("vigie.db")))
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert_eq!(
            DatabaseUrl::parse("postgres://user:secret@db/vigie").ok(),
            Some(DatabaseUrl::Postgres(
                "postgres://user:secret@db/vigie".to_owned()
            ))
        );
        let error = DatabaseUrl::parse("mysql://u:secret@h")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!error.contains("secret"), "{error}");
    }
}

#[cfg(test)]
mod message_tests {
    use super::with_causes;

    #[derive(Debug, thiserror::Error)]
    #[error("error connecting to server")]
    struct Connect(#[source] std::io::Error);

    #[test]
    fn a_driver_error_says_its_reason_once() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        assert_eq!(
            with_causes(&Connect(refused)),
            "error connecting to server: Connection refused"
        );
    }
}
