//! The SQL texts both backends run, written once with PostgreSQL's `$N` parameters.
//! SQLite reads `$N` as a named parameter numbered by first appearance, not by `N`, so its
//! copy is rewritten to `?N` at compile time by [`sqlite_text!`]. A text only one dialect
//! has (an upsert from arrays, `RETURNING`, an advisory lock, a pragma) stays in its
//! backend's folder.

/// `text` with each `$` that starts a parameter (`$` then a digit) turned into `?`: the same
/// length, so it is computed at compile time into an array of that length.
pub(super) const fn question_marks<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if bytes[i] == b'$' && i + 1 < N && bytes[i + 1].is_ascii_digit() {
            b'?'
        } else {
            bytes[i]
        };
        i += 1;
    }
    out
}

/// A shared text in SQLite's parameter style, as a `&'static str` made at compile time.
macro_rules! sqlite_text {
    ($text:expr) => {{
        const BYTES: [u8; $text.len()] = $crate::store::sql::question_marks($text);
        const TEXT: &str = match std::str::from_utf8(&BYTES) {
            Ok(text) => text,
            Err(_) => panic!("an SQL text is not UTF-8"),
        };
        TEXT
    }};
}
pub(super) use sqlite_text;

/// One statement in both dialects' parameter styles.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sql {
    pub(super) postgres: &'static str,
    pub(super) sqlite: &'static str,
}

/// A text written once with `$N` parameters, for both dialects.
macro_rules! shared {
    ($text:expr) => {
        $crate::store::sql::Sql {
            postgres: $text,
            sqlite: $crate::store::sql::sqlite_text!($text),
        }
    };
}
pub(super) use shared;

// Schema and readiness.

pub(super) const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
     version    INTEGER PRIMARY KEY NOT NULL,
     name       TEXT NOT NULL,
     applied_at TEXT NOT NULL
 )";
pub(super) const RECORD_MIGRATION: Sql =
    shared!("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)");
pub(super) const SCHEMA_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

/// What readiness reads: whether each table or view that `/metrics`, the matrix and the read
/// API read has a row. Each `EXISTS` stops at its first row, so the query costs the same on
/// an empty database and on a sector's, as often as probes call it; what it proves is that
/// those reads are allowed and answer. Rows the readers cannot parse do not fail it: the
/// readers skip them (see `decode`).
pub(super) const READINESS_READ: &str =
    "SELECT EXISTS (SELECT 1 FROM orgs), EXISTS (SELECT 1 FROM agents),
     EXISTS (SELECT 1 FROM current_latest), EXISTS (SELECT 1 FROM current_tls_certificates),
     EXISTS (SELECT 1 FROM transitions), EXISTS (SELECT 1 FROM assessments),
     EXISTS (SELECT 1 FROM reports), EXISTS (SELECT 1 FROM web_sessions)";

// Tokens and the audit log.

pub(super) const CREATE_ORG: Sql =
    shared!("INSERT INTO orgs (org, created_at) VALUES ($1, $2) ON CONFLICT (org) DO NOTHING");
pub(super) const INSERT_TOKEN: Sql = shared!(
    "INSERT INTO tokens (hash, kind, org, name, created_at, role) VALUES ($1, $2, $3, $4, $5, $6)"
);
/// Read by [`super::rows::principal`].
pub(super) const FIND_TOKEN: Sql =
    shared!("SELECT kind, org, name, role FROM tokens WHERE hash = $1 AND revoked_at IS NULL");
/// The token behind a live web session, read by [`super::rows::principal`]: `$1` the
/// session's hash, `$2` now. A revoked token ends its sessions here too, whatever is left in
/// `web_sessions`.
pub(super) const FIND_SESSION: Sql = shared!(
    "SELECT t.kind, t.org, t.name, t.role FROM web_sessions s JOIN tokens t ON t.hash = s.token_hash
     WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL"
);
pub(super) const INSERT_SESSION: Sql = shared!(
    "INSERT INTO web_sessions (hash, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)"
);
pub(super) const DELETE_SESSION: Sql = shared!("DELETE FROM web_sessions WHERE hash = $1");
pub(super) const DELETE_EXPIRED_SESSIONS: Sql =
    shared!("DELETE FROM web_sessions WHERE expires_at <= $1");
pub(super) const DELETE_TOKEN_SESSIONS: Sql =
    shared!("DELETE FROM web_sessions WHERE token_hash = $1");
pub(super) const REVOKE_TOKEN: Sql = shared!("UPDATE tokens SET revoked_at = $1 WHERE hash = $2");
pub(super) const AUDIT: Sql = shared!(
    "INSERT INTO audit_log (at, action, actor, kind, org, name, fingerprint, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);
/// The active tokens of a kind and name (and organization, when `$2` is not null):
/// `(hash, org, role)`. A viewer's organization is not part of its name: `viewer revoke
/// --name` finds an `org` viewer too. PostgreSQL locks them until the revocation commits;
/// SQLite has one writer.
pub(super) const TOKENS_TO_REVOKE: Sql = Sql {
    postgres: "SELECT hash, org, role FROM tokens
     WHERE kind = $1 AND (CAST($2 AS TEXT) IS NULL OR org = $2) AND name = $3
       AND revoked_at IS NULL
     FOR UPDATE",
    sqlite: "SELECT hash, org, role FROM tokens
     WHERE kind = ?1 AND (?2 IS NULL OR org = ?2) AND name = ?3 AND revoked_at IS NULL",
};
/// Read by [`super::rows::audit_entry`].
pub(super) const AUDIT_ENTRIES: Sql = shared!(
    "SELECT at, action, actor, kind, org, name, fingerprint, detail FROM audit_log ORDER BY id"
);

// The ingest.

/// The organization's stored report bytes, which triggers keep (migration 0011).
pub(super) const STORED_BYTES: Sql = shared!("SELECT report_bytes FROM orgs WHERE org = $1");
/// The agent's newest report before this one: `(last_report_at, last_report_id)`.
pub(super) const AGENT_NEWEST: Sql =
    shared!("SELECT last_report_at, last_report_id FROM agents WHERE org = $1 AND agent_id = $2");
/// The agent's current rows, read by [`super::rows::stored_verdict`].
pub(super) const AGENT_ROWS: Sql = shared!(
    "SELECT target, check_id, status, severity, summary, remediation, evidence, since,
            observed_at
     FROM latest WHERE org = $1 AND agent_id = $2 AND retired = 0"
);
pub(super) const RECORD_AGENT: Sql = shared!(
    "INSERT INTO agents (org, agent_id, hostname, version, last_report_at, last_report_id)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (org, agent_id) DO UPDATE SET
         hostname = excluded.hostname,
         version = excluded.version,
         last_report_at = excluded.last_report_at,
         last_report_id = excluded.last_report_id"
);
pub(super) const RECORD_CERTIFICATE: Sql = shared!(
    "INSERT INTO tls_certificates (org, target, not_after, observed_at, report_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (org, target) DO UPDATE SET
         not_after = excluded.not_after, observed_at = excluded.observed_at,
         report_id = excluded.report_id
     WHERE excluded.observed_at >= tls_certificates.observed_at"
);
/// One status change: org, target, check, from (NULL for a new key), to, at, report_id.
pub(super) const INSERT_TRANSITION: Sql = shared!(
    "INSERT INTO transitions (org, target, check_id, from_status, to_status, at, report_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)"
);

// Reads.

/// Every organization, or only `$1` when it is not null (an `org` viewer's scope).
pub(super) const ORG_IDS: Sql =
    shared!("SELECT org FROM orgs WHERE CAST($1 AS TEXT) IS NULL OR org = $1 ORDER BY org");
pub(super) const ORG_EXISTS: Sql = shared!("SELECT 1 FROM orgs WHERE org = $1");
pub(super) const COUNT_ORGS: Sql = shared!("SELECT COUNT(*) FROM orgs");
/// Read by [`super::rows::agent_count`].
pub(super) const AGENT_COUNTS: Sql = shared!(
    "SELECT org, COUNT(*), MAX(last_report_at) FROM agents
     WHERE CAST($1 AS TEXT) IS NULL OR org = $1 GROUP BY org"
);
/// Read by [`super::rows::agent`].
pub(super) const ORG_AGENTS: Sql = shared!(
    "SELECT agent_id, hostname, version, last_report_at
     FROM agents WHERE org = $1 ORDER BY agent_id"
);
/// Read by [`super::rows::latest_finding`].
pub(super) const ORG_FINDINGS: Sql = shared!(
    "SELECT check_id, target, status, severity, summary, remediation, evidence,
            report_id, observed_at, since
     FROM current_latest WHERE org = $1 ORDER BY target, check_id"
);
/// Read by [`super::rows::tls_row`]; `$1` NULL: every organization.
pub(super) const TLS_ROWS: Sql = shared!(
    "SELECT org, target, not_after, observed_at FROM current_tls_certificates
     WHERE CAST($1 AS TEXT) IS NULL OR org = $1 ORDER BY org, target"
);
/// Read by [`super::rows::agent_seen`].
pub(super) const AGENTS_SEEN: Sql =
    shared!("SELECT org, agent_id, last_report_at FROM agents ORDER BY org, agent_id");
/// Read by [`super::rows::check_count`]: how many targets of each organization have each
/// check at each status and severity (the metrics carry counts, not one series a target).
pub(super) const CHECK_COUNTS: Sql = shared!(
    "SELECT org, check_id, status, severity, COUNT(*) FROM current_latest
     GROUP BY org, check_id, status, severity ORDER BY org, check_id, status, severity"
);
/// Read by [`super::rows::finding_count`].
pub(super) const FINDING_COUNTS: Sql = shared!(
    "SELECT org, status, severity, COUNT(*) FROM current_latest
     WHERE CAST($1 AS TEXT) IS NULL OR org = $1
     GROUP BY org, status, severity ORDER BY org, status, severity"
);
/// The latest verdicts the per-family gauges are derived from, read by
/// [`super::rows::family_finding`].
pub(super) const FAMILY_FINDINGS: Sql = shared!(
    "SELECT org, target, check_id, status, severity, evidence FROM current_latest
     WHERE check_id LIKE 'tls.protocol.%' OR check_id LIKE 'service.%'
        OR check_id IN ('email.dmarc.policy', 'email.dmarc.missing',
                        'host.updates.security', 'host.os.eol')
        OR (check_id IN ('tls.connect', 'https.redirect', 'https.hsts', 'https.security_txt',
                         'email.spf.missing', 'email.starttls')
            AND status = 'error')
     ORDER BY org, target, check_id"
);
/// Read by [`super::rows::transition`].
pub(super) const TRANSITIONS: Sql = shared!(
    "SELECT from_status, to_status, at, report_id FROM transitions
     WHERE org = $1 AND target = $2 AND check_id = $3 ORDER BY at, id"
);
pub(super) const REPORT_BODY: Sql = shared!("SELECT body FROM reports WHERE report_id = $1");
/// The last transition of each key at or before `$1`, read by [`super::rows::history`]:
/// each dialect's fastest form.
pub(super) const HISTORY_AT: Sql = Sql {
    postgres: "SELECT DISTINCT ON (org, target, check_id)
            org, target, check_id, to_status, at, report_id
     FROM transitions WHERE at <= $1
     ORDER BY org, target, check_id, at DESC, id DESC",
    sqlite: "SELECT t.org, t.target, t.check_id, t.to_status, t.at, t.report_id
     FROM transitions t
     WHERE t.at <= ?1 AND t.id = (
         SELECT t2.id FROM transitions t2
         WHERE t2.org = t.org AND t2.target = t.target AND t2.check_id = t.check_id
           AND t2.at <= ?1
         ORDER BY t2.at DESC, t2.id DESC LIMIT 1)
     ORDER BY t.org, t.target, t.check_id",
};
/// Read by [`super::rows::answer`].
pub(super) const ANSWERS: Sql = shared!(
    "SELECT org, question, answer, respondent_role, answered_on, evidence
     FROM assessments ORDER BY org, question, answered_on"
);
pub(super) const INSERT_ANSWER: Sql = shared!(
    "INSERT INTO assessments (org, question, answer, respondent_role, answered_on, evidence,
                              imported_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (org, question, answered_on) DO UPDATE SET
         answer = excluded.answer, respondent_role = excluded.respondent_role,
         evidence = excluded.evidence, imported_at = excluded.imported_at"
);
pub(super) const ORG_META_UPSERT: Sql = shared!(
    "INSERT INTO org_meta (org, region, size_band, updated_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (org) DO UPDATE SET
         region = COALESCE(excluded.region, org_meta.region),
         size_band = COALESCE(excluded.size_band, org_meta.size_band),
         updated_at = excluded.updated_at"
);
/// Read by [`super::rows::org_meta`].
pub(super) const ORG_META: Sql =
    shared!("SELECT org, region, size_band FROM org_meta ORDER BY org");

/// `(table, SELECT COUNT(*) FROM table)`.
macro_rules! counted {
    ($($table:literal),*) => {
        [$(($table, shared!(concat!("SELECT COUNT(*) FROM ", $table)))),*]
    };
}

/// The tables whose rows tests count before and after a refused request.
pub(super) const COUNTED_TABLES: [(&str, Sql); 10] = counted!(
    "orgs",
    "tokens",
    "web_sessions",
    "reports",
    "latest",
    "transitions",
    "agents",
    "tls_certificates",
    "assessments",
    "matrix_snapshots"
);

// Upkeep: regrade and retention.

/// The newest stored report of every agent (the one its current state comes from).
pub(super) const REGRADE_CANDIDATES: Sql = shared!(
    "SELECT r.report_id FROM reports r
     JOIN agents a ON a.org = r.org AND a.agent_id = r.agent_id
     WHERE r.finished_at = a.last_report_at ORDER BY r.org, r.agent_id, r.report_id"
);

/// A key's `(status, severity, report_id)`, the report being the agent's newest while the
/// row is current (see `regrade_step`).
macro_rules! regrade_current {
    () => {
        "SELECT l.status, l.severity,
                CASE WHEN l.retired = 0 AND a.last_report_id IS NOT NULL
                     THEN a.last_report_id ELSE l.report_id END
         FROM latest l
         LEFT JOIN agents a ON a.org = l.org AND a.agent_id = l.agent_id
         WHERE l.org = $1 AND l.target = $2 AND l.check_id = $3"
    };
}
/// PostgreSQL locks the row until the regrade commits (its writers run in parallel; SQLite
/// has one).
pub(super) const REGRADE_CURRENT: Sql = Sql {
    postgres: concat!(regrade_current!(), " FOR UPDATE OF l"),
    sqlite: sqlite_text!(regrade_current!()),
};
pub(super) const REGRADE_ADD: Sql = shared!(
    "INSERT INTO latest (org, target, check_id, status, severity, summary, remediation,
                         evidence, report_id, observed_at, since, agent_id, retired)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, r.agent_id, 0
     FROM reports r WHERE r.report_id = $9"
);
pub(super) const REGRADE_UPDATE: Sql = shared!(
    "UPDATE latest SET status = $4, severity = $5, summary = $6, remediation = $7,
         evidence = $8, since = CASE WHEN status = $4 THEN since ELSE $9 END
     WHERE org = $1 AND target = $2 AND check_id = $3"
);
/// Deletes up to `$2` reports received before `$1` that no current-state row points at.
pub(super) const PRUNE: Sql = shared!(
    "DELETE FROM reports WHERE report_id IN (
     SELECT r.report_id FROM reports r
     WHERE r.received_at < $1
       AND r.report_id NOT IN (SELECT last_report_id FROM agents
                               WHERE last_report_id IS NOT NULL)
       AND r.report_id NOT IN (SELECT report_id FROM latest WHERE retired = 1)
       AND r.report_id NOT IN (SELECT report_id FROM tls_certificates)
     LIMIT $2)"
);

/// Matrix snapshots of dates before the retention cutoff go with the reports of that time:
/// they are a cache of levels graded from those reports and transitions, one row (every
/// organization's levels) per date an export asked for.
pub(super) const PRUNE_MATRIX_SNAPSHOTS: Sql =
    shared!("DELETE FROM matrix_snapshots WHERE at < $1");

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_become_question_marks_and_nothing_else_changes() {
        assert_eq!(
            sqlite_text!("SELECT '$', a FROM t WHERE b = $1 AND c = $12 OR d = $2"),
            "SELECT '$', a FROM t WHERE b = ?1 AND c = ?12 OR d = ?2"
        );
        assert_eq!(
            super::REGRADE_UPDATE.sqlite.matches('?').count(),
            super::REGRADE_UPDATE.postgres.matches('$').count()
        );
    }
}
