//! The store's work that does not depend on the dialect, written once over [`Db`]: the
//! reads, the matrix's history and kept states, tokens and the audit log, regrade, retention
//! and imports. Each backend opens the transaction (its own kind: SQLite's immediate write
//! lock, PostgreSQL's read-only snapshot) and commits it.

use chrono::{DateTime, Utc};
use vigie_matrix::Answer;

use super::audit::{fingerprint, AuditAction, AuditEntry, AuditRecord};
use super::db::{params, Db};
use super::evidence::ReportEvidence;
use super::orgmeta::{OrgMeta, OrgMetaUpdate};
use super::rows::{self, time_text};
use super::{snapshots, sql};
use super::{
    MatrixState, MetricsSnapshot, OrgDetail, OrgSummary, PastLevels, Regrade, RegradeStep,
    StoreError, TlsCertificateRow, TransitionRow,
};
use crate::auth::TokenKind;
use crate::scope::Role;

/// Every organization's id, or only `only`'s.
pub(super) async fn org_ids(db: &impl Db, only: Option<&str>) -> Result<Vec<String>, StoreError> {
    db.rows(
        &sql::ORG_IDS,
        &params![only],
        "listing organizations",
        rows::first_text,
    )
    .await
}

async fn finding_counts(
    db: &impl Db,
    only: Option<&str>,
) -> Result<Vec<rows::FindingCount>, StoreError> {
    db.rows(
        &sql::FINDING_COUNTS,
        &params![only],
        "counting findings",
        rows::finding_count,
    )
    .await
}

async fn tls_rows(db: &impl Db, org: Option<&str>) -> Result<Vec<rows::TlsRow>, StoreError> {
    let params = params![org];
    db.rows(
        &sql::TLS_ROWS,
        &params,
        "listing certificates",
        rows::tls_row,
    )
    .await
}

/// Every organization with its counts, or only `only` (filtered in SQL).
pub(super) async fn orgs(db: &impl Db, only: Option<&str>) -> Result<Vec<OrgSummary>, StoreError> {
    let ids = org_ids(db, only).await?;
    let agents = db
        .rows(
            &sql::AGENT_COUNTS,
            &params![only],
            "counting agents",
            rows::agent_count,
        )
        .await?;
    Ok(rows::summaries(
        ids,
        agents,
        finding_counts(db, only).await?,
    ))
}

pub(super) async fn org(db: &impl Db, org: &str) -> Result<Option<OrgDetail>, StoreError> {
    let key = params![org];
    let exists = db
        .first(
            &sql::ORG_EXISTS,
            &key,
            "looking up the organization",
            |_| Ok(()),
        )
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let agents = db
        .rows(&sql::ORG_AGENTS, &key, "listing agents", |row| {
            rows::agent(org, row)
        })
        .await?;
    let findings = db
        .rows(
            &sql::ORG_FINDINGS,
            &key,
            "reading the latest findings",
            |row| rows::latest_finding(org, row),
        )
        .await?;
    let tls_certificates = tls_rows(db, Some(org)).await?.into_iter();
    Ok(Some(OrgDetail {
        id: org.to_owned(),
        agents,
        findings,
        tls_certificates: tls_certificates
            .map(|(_, target, not_after, observed_at)| TlsCertificateRow {
                target,
                not_after,
                observed_at,
            })
            .collect(),
    }))
}

pub(super) async fn metrics_snapshot(db: &impl Db) -> Result<MetricsSnapshot, StoreError> {
    let orgs = org_ids(db, None).await?;
    let agents = db.rows(&sql::AGENTS_SEEN, &[], "listing agents", rows::agent_seen);
    let agents = agents.await?;
    let check_counts = "counting findings per check";
    let check_counts = db.rows(&sql::CHECK_COUNTS, &[], check_counts, rows::check_count);
    let check_counts = check_counts.await?;
    let finding_counts = finding_counts(db, None).await?;
    let tls_not_after = tls_rows(db, None).await?.into_iter();
    let family = "listing the family verdicts";
    let family = db.rows(&sql::FAMILY_FINDINGS, &[], family, rows::family_finding);
    let family = crate::family_metrics::derive(&family.await?);
    Ok(MetricsSnapshot {
        orgs,
        agents,
        check_counts,
        finding_counts,
        tls_not_after: tls_not_after
            .map(|(org, target, not_after, _)| (org, target, not_after))
            .collect(),
        capability_levels: Vec::new(),
        family,
    })
}

/// The rows of each counted table.
pub(super) async fn row_counts(db: &impl Db) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let mut out = Vec::with_capacity(sql::COUNTED_TABLES.len());
    for (table, count) in &sql::COUNTED_TABLES {
        let rows = db.first(count, &[], "counting rows", |row| row.integer(0));
        out.push((*table, u64::try_from(rows.await?.unwrap_or(0)).unwrap_or(0)));
    }
    Ok(out)
}

pub(super) async fn transitions(
    db: &impl Db,
    org: &str,
    target: &str,
    check: &str,
) -> Result<Vec<TransitionRow>, StoreError> {
    let params = params![org, target, check];
    db.rows(&sql::TRANSITIONS, &params, "reading history", |row| {
        rows::transition((org, target, check), row)
    })
    .await
}

pub(super) async fn regrade_candidates(db: &impl Db) -> Result<Vec<String>, StoreError> {
    db.rows(
        &sql::REGRADE_CANDIDATES,
        &[],
        "listing the reports to regrade",
        rows::first_text,
    )
    .await
}

pub(super) async fn report_body(
    db: &impl Db,
    report_id: &str,
) -> Result<Option<String>, StoreError> {
    let params = params![report_id];
    db.first(
        &sql::REPORT_BODY,
        &params,
        "reading a stored report",
        |row| row.body(0),
    )
    .await
}

pub(super) async fn audit_entries(db: &impl Db) -> Result<Vec<AuditEntry>, StoreError> {
    db.rows(
        &sql::AUDIT_ENTRIES,
        &[],
        "reading the audit log",
        rows::audit_entry,
    )
    .await
}

pub(super) async fn org_meta(db: &impl Db) -> Result<Vec<OrgMeta>, StoreError> {
    db.rows(
        &sql::ORG_META,
        &[],
        "reading organization metadata",
        rows::org_meta,
    )
    .await
}

pub(super) async fn answers(db: &impl Db) -> Result<Vec<Answer>, StoreError> {
    db.rows(&sql::ANSWERS, &[], "reading answers", rows::answer)
        .await
}

/// The verdicts as they stood at `at`: for each key, the last status transition at or
/// before `at`, with the evidence of the report that made it. Answers are all returned; the
/// grading ignores those given after `at`.
pub(super) async fn matrix_state_at(
    db: &impl Db,
    at: DateTime<Utc>,
) -> Result<MatrixState, StoreError> {
    let orgs = org_ids(db, None).await?;
    let at = time_text(at);
    let history = db
        .rows(
            &sql::HISTORY_AT,
            &params![&at],
            "reading history",
            rows::history,
        )
        .await?;
    // Evidence comes from the report that set each status; each report is parsed once.
    let mut reports = std::collections::HashMap::new();
    for report_id in rows::reports_needed(&history) {
        let body = report_body(db, report_id).await?;
        reports.insert(
            report_id.to_owned(),
            body.and_then(|b| ReportEvidence::parse(&b)),
        );
    }
    Ok(MatrixState {
        orgs,
        findings: rows::facts_at(history, &reports)?,
        answers: answers(db).await?,
    })
}

/// The fingerprint of what a grading at each date reads (see `snapshots`), with the stored
/// levels that match it.
pub(super) async fn past_levels(
    db: &impl Db,
    dates: &[DateTime<Utc>],
    grading: &str,
) -> Result<Vec<PastLevels>, StoreError> {
    let orgs = db
        .first(&sql::COUNT_ORGS, &[], "counting organizations", |row| {
            row.integer(0)
        })
        .await?
        .unwrap_or(0);
    let texts: Vec<String> = dates.iter().map(|at| time_text(*at)).collect();
    let mut parts = Vec::with_capacity(dates.len());
    for (i, after, up_to) in snapshots::history_ranges(&texts) {
        let part = db
            .first(
                &snapshots::HISTORY_RANGE,
                &params![after, up_to],
                "fingerprinting the history",
                |row| Ok((row.integer(0)?, row.integer(1)?)),
            )
            .await?
            .unwrap_or((0, 0));
        parts.push((i, part));
    }
    let history = snapshots::accumulate_history(dates.len(), parts);
    let mut out = Vec::with_capacity(dates.len());
    for ((at, at_text), (transitions, last_id)) in dates.iter().zip(&texts).zip(history) {
        let day = at.date_naive().to_string();
        let (answered, last_import) = db
            .first(
                &snapshots::ANSWERS_UP_TO,
                &params![&day],
                "fingerprinting the answers",
                |row| Ok((row.integer(0)?, row.text(1)?)),
            )
            .await?
            .unwrap_or_default();
        let inputs = snapshots::inputs((transitions, last_id), (answered, &last_import), orgs);
        let levels = db
            .first(
                &snapshots::SNAPSHOT,
                &params![at_text, grading],
                "reading a matrix snapshot",
                |row| (row.str(0)? == inputs).then(|| row.text(1)).transpose(),
            )
            .await?
            .flatten();
        out.push(PastLevels { inputs, levels });
    }
    Ok(out)
}

pub(super) async fn save_past_levels(
    db: &impl Db,
    at: DateTime<Utc>,
    grading: &str,
    inputs: &str,
    levels: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (at, now) = (time_text(at), time_text(now));
    let params = params![&at, grading, inputs, levels, &now];
    db.execute(
        &snapshots::SAVE_SNAPSHOT,
        &params,
        "storing a matrix snapshot",
    )
    .await
    .map(drop)
}

/// Whether organization `org` exists: imports must not create one from a typo.
async fn known_org(db: &impl Db, org: &str, operation: &'static str) -> Result<bool, StoreError> {
    let found = db
        .first(&sql::ORG_EXISTS, &params![org], operation, |_| Ok(()))
        .await?;
    Ok(found.is_some())
}

/// Stores self-assessment answers, in the caller's transaction. An answer to the same
/// question on the same date replaces the earlier import. Every organization must exist.
pub(super) async fn insert_answers(
    db: &impl Db,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = time_text(now);
    for answer in answers {
        if !known_org(db, &answer.org, "looking up the organization").await? {
            return Err(StoreError::UnknownOrg(answer.org.clone()));
        }
        let answered_on = answer.answered_on.to_string();
        let params = params![
            &answer.org,
            &answer.question,
            &answer.answer,
            &answer.respondent_role,
            &answered_on,
            answer.evidence.as_ref(),
            &now
        ];
        db.execute(&sql::INSERT_ANSWER, &params, "storing an answer")
            .await?;
    }
    Ok(answers.len())
}

/// Stores organization metadata changes, in the caller's transaction; every organization
/// must exist.
pub(super) async fn set_org_meta(
    db: &impl Db,
    updates: &[OrgMetaUpdate],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = time_text(now);
    for u in updates {
        if !known_org(db, &u.org, "looking up an organization").await? {
            return Err(StoreError::UnknownOrg(u.org.chars().take(64).collect()));
        }
        let params = params![&u.org, u.region.as_ref(), u.size_band.as_ref(), &now];
        db.execute(
            &sql::ORG_META_UPSERT,
            &params,
            "storing organization metadata",
        )
        .await?;
    }
    Ok(updates.len())
}

/// Writes one audit row (inside the caller's transaction, if any).
pub(super) async fn record(
    db: &impl Db,
    action: AuditAction,
    record: &AuditRecord<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (at, fingerprint) = (time_text(at), record.token_hash.map(fingerprint));
    let params = params![
        &at,
        action.as_str(),
        record.actor,
        record.kind.map(TokenKind::as_str),
        record.org,
        record.name,
        fingerprint.as_ref(),
        record.detail,
    ];
    db.execute(&sql::AUDIT, &params, "writing the audit log")
        .await
        .map(drop)
}

/// Stores a token's hash and audits it; `detail` is the audit's (a rotation's).
#[allow(clippy::too_many_arguments)]
async fn insert_token_in(
    db: &impl Db,
    hash: &str,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    role: Option<Role>,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let created_at = time_text(at);
    let params = params![
        hash,
        kind.as_str(),
        org,
        name,
        &created_at,
        role.map(Role::as_str)
    ];
    let operation = match detail {
        Some(_) => "storing the new token hash",
        None => "storing the token hash",
    };
    db.execute(&sql::INSERT_TOKEN, &params, operation).await?;
    let role_detail = role.map(|r| format!("role={}", r.as_str()));
    let detail = match (detail, &role_detail) {
        (Some(d), Some(r)) => Some(format!("{d} {r}")),
        (Some(d), None) => Some(d.to_owned()),
        (None, r) => r.clone(),
    };
    let audited = AuditRecord {
        actor: "cli",
        kind: Some(kind),
        org,
        name: Some(name),
        token_hash: Some(hash),
        detail: detail.as_deref(),
    };
    record(db, AuditAction::TokenCreate, &audited, at).await
}

/// Stores a new token's hash, in the caller's transaction; an agent token's organization is
/// created if new, an `org` viewer's must exist.
pub(super) async fn insert_token(
    db: &impl Db,
    hash: &str,
    kind: TokenKind,
    org: Option<&str>,
    name: &str,
    role: Option<Role>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Some(org) = org {
        if kind == TokenKind::Agent {
            let created_at = time_text(at);
            let params = params![org, &created_at];
            db.execute(&sql::CREATE_ORG, &params, "creating the organization")
                .await?;
        } else {
            let known = db
                .first(
                    &sql::ORG_EXISTS,
                    &params![org],
                    "looking up the organization",
                    |_| Ok(()),
                )
                .await?;
            if known.is_none() {
                return Err(StoreError::UnknownOrg(org.chars().take(64).collect()));
            }
        }
    }
    insert_token_in(db, hash, kind, org, name, role, None, at).await
}

/// Revokes the active tokens of `kind`, `name` (and `org`, when given) and, for a rotation,
/// stores the new one with the organization and role of the revoked ones, in the caller's
/// transaction, auditing each; the web sessions of a revoked token end with it. Returns how
/// many were revoked (none: nothing is changed).
pub(super) async fn revoke_or_rotate(
    db: &impl Db,
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
    let found = db
        .rows(
            &sql::TOKENS_TO_REVOKE,
            &params![kind.as_str(), org, name],
            "finding the tokens to revoke",
            rows::token_to_revoke,
        )
        .await?;
    let Some((_, kept_org, kept_role)) = found.first().cloned() else {
        return Ok(0);
    };
    let revoked_at = time_text(now);
    for (hash, token_org, _) in &found {
        let params = params![&revoked_at, hash];
        db.execute(&sql::REVOKE_TOKEN, &params, "revoking a token")
            .await?;
        db.execute(
            &sql::DELETE_TOKEN_SESSIONS,
            &params![hash],
            "ending the token's web sessions",
        )
        .await?;
        let audited = AuditRecord {
            actor: "cli",
            kind: Some(kind),
            org: token_org.as_deref(),
            name: Some(name),
            token_hash: Some(hash),
            detail: Some(detail),
        };
        record(db, AuditAction::TokenRevoke, &audited, now).await?;
    }
    if let Some(hash) = new_hash {
        let org = kept_org.as_deref();
        insert_token_in(db, hash, kind, org, name, kept_role, Some("rotation"), now).await?;
    }
    Ok(found.len())
}

/// Opens a web session: stores the hash of `session` for the token of `token_hash` until
/// `expires_at`, and deletes the sessions already expired, in the caller's transaction.
pub(super) async fn open_session(
    db: &impl Db,
    session_hash: &str,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now_text = time_text(now);
    db.execute(
        &sql::DELETE_EXPIRED_SESSIONS,
        &params![&now_text],
        "deleting expired web sessions",
    )
    .await?;
    let expires_text = time_text(expires_at);
    let params = params![session_hash, token_hash, &now_text, &expires_text];
    db.execute(&sql::INSERT_SESSION, &params, "storing a web session")
        .await
        .map(drop)
}

/// Ends a web session.
pub(super) async fn close_session(db: &impl Db, session_hash: &str) -> Result<(), StoreError> {
    db.execute(
        &sql::DELETE_SESSION,
        &params![session_hash],
        "deleting a web session",
    )
    .await
    .map(drop)
}

/// Applies regraded findings of one report, in the caller's transaction; see
/// [`super::Store::apply_regrade`].
pub(super) async fn apply_regrade(
    db: &impl Db,
    regrade: &Regrade,
) -> Result<(u64, u64), StoreError> {
    let at = time_text(regrade.at);
    let finished_at = time_text(regrade.finished_at);
    let (mut changed, mut added) = (0, 0);
    for finding in &regrade.findings {
        let (check, status) = (finding.check.as_str(), finding.status.as_str());
        let evidence =
            serde_json::to_string(&finding.evidence).map_err(|error| StoreError::Serialize {
                what: "finding evidence",
                error,
            })?;
        let key = params![&regrade.org, &finding.target, check];
        let current = db
            .first(
                &sql::REGRADE_CURRENT,
                &key,
                "reading the latest state",
                rows::regrade_current,
            )
            .await?;
        let verdict = params![
            &regrade.org,
            &finding.target,
            check,
            status,
            finding.severity.as_str(),
            &finding.summary,
            finding.remediation.as_ref(),
            &evidence,
        ];
        let from = match super::regrade_step(current.as_ref(), regrade, finding) {
            RegradeStep::Keep => continue,
            RegradeStep::Add => {
                let params = [
                    &verdict[..],
                    &params![&regrade.report_id, &finished_at, &at],
                ];
                db.execute(
                    &sql::REGRADE_ADD,
                    &params.concat(),
                    "adding a regraded verdict",
                )
                .await?;
                added += 1;
                // A transition from nothing.
                None
            }
            RegradeStep::Update { from } => {
                let params = [&verdict[..], &params![&at]];
                db.execute(
                    &sql::REGRADE_UPDATE,
                    &params.concat(),
                    "updating a regraded verdict",
                )
                .await?;
                changed += 1;
                match from {
                    Some(from) => Some(from),
                    None => continue,
                }
            }
        };
        let params = params![
            &regrade.org,
            &finding.target,
            check,
            from.as_ref(),
            status,
            &at,
            &regrade.report_id
        ];
        db.execute(
            &sql::INSERT_TRANSITION,
            &params,
            "recording a regraded transition",
        )
        .await?;
    }
    Ok((changed, added))
}

/// Deletes up to `limit` reports received before `before` that no current-state row points
/// at, and the matrix snapshots of dates before `before`; returns how many reports.
pub(super) async fn prune(
    db: &impl Db,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    let before = time_text(before);
    db.execute(
        &sql::PRUNE_MATRIX_SNAPSHOTS,
        &params![&before],
        "pruning old matrix snapshots",
    )
    .await?;
    db.execute(&sql::PRUNE, &params![&before, limit], "pruning old reports")
        .await
}
