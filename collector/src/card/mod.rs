//! An organization's report card and the sector's triage tables, assembled from what the
//! store read ([`crate::store::CardState`], [`crate::store::TriageState`]) and the graded
//! matrix column: pure functions, tested without sockets. The pages (`api/card.rs`,
//! `api/triage.rs`) only lay these out.

pub mod triage;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use vigie_matrix::catalogue;
use vigie_model::{Lang, Severity, Status};

use crate::matrix::{OrgColumn, Trend};
use crate::store::{CardState, LatestFinding, OrgTransition};

/// Whether a status is one a card lists: something to act on.
pub fn is_open(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Warn)
}

/// One failing or warning finding, with how long it has been open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardFinding {
    pub check: String,
    pub target: String,
    pub status: Status,
    pub severity: Severity,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    pub evidence: serde_json::Value,
    /// When the current run of fail/warn began (from the status history).
    pub first_seen: DateTime<Utc>,
    /// Whole days since `first_seen`.
    pub open_days: i64,
    pub observed_at: DateTime<Utc>,
}

/// The open findings that feed one capability (the first, in catalogue order, that the
/// check feeds); `capability` is `None` for checks that feed none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingGroup {
    pub capability: Option<String>,
    pub findings: Vec<CardFinding>,
}

/// A status change made by an agent's newest report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub check: String,
    pub target: String,
    pub from: Option<Status>,
    pub to: Status,
    pub at: DateTime<Utc>,
}

/// A check on an asset that a capability's level is graded from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetBy {
    pub check: String,
    pub target: String,
    pub status: Status,
}

/// One capability level and what set it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelRow {
    pub capability: String,
    /// `3`, `2 H`, `?`: the matrix's label.
    pub label: String,
    pub level: Option<u8>,
    pub trend: Trend,
    /// Why the level is what it is, in the page's language.
    pub notes: Vec<String>,
    /// The verdicts of the checks that feed it, worst first.
    pub set_by: Vec<SetBy>,
}

/// One target of the organization, for the per-target pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSummary {
    pub target: String,
    pub open: usize,
    pub worst: Option<Severity>,
}

/// An organization's report card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    pub org: String,
    pub generated_at: DateTime<Utc>,
    /// The open findings, grouped by capability in catalogue order, the checks that feed
    /// none last; each group ordered by severity (worst first), fail before warn.
    pub groups: Vec<FindingGroup>,
    /// What the agents' newest reports changed, newest first.
    pub changes: Vec<Change>,
    pub levels: Vec<LevelRow>,
    pub targets: Vec<TargetSummary>,
}

/// When the current run of fail/warn of each (target, check) began: walking its history,
/// a change into fail/warn from anything else starts a run, a change out of them ends it.
fn open_since(history: &[OrgTransition]) -> HashMap<(&str, &str), DateTime<Utc>> {
    let mut since: HashMap<(&str, &str), DateTime<Utc>> = HashMap::new();
    for t in history {
        let key = (t.target.as_str(), t.check.as_str());
        if !is_open(t.to) {
            since.remove(&key);
        } else if !t.from.is_some_and(is_open) {
            since.insert(key, t.at);
        } else {
            // A history that begins inside a run (pruned before): its first change.
            since.entry(key).or_insert(t.at);
        }
    }
    since
}

/// Worst first: fail before warn, then by severity, then by check and target.
fn by_urgency(a: &CardFinding, b: &CardFinding) -> std::cmp::Ordering {
    let rank = |s: Status| u8::from(s != Status::Fail);
    rank(a.status)
        .cmp(&rank(b.status))
        .then(b.severity.cmp(&a.severity))
        .then_with(|| a.check.cmp(&b.check))
        .then_with(|| a.target.cmp(&b.target))
}

fn status_rank(status: Status) -> u8 {
    match status {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Error => 2,
        Status::Info => 3,
        Status::Skip => 4,
        Status::Pass => 5,
    }
}

/// The card finding of a latest finding, with its open run from `since`.
fn card_finding(
    f: &LatestFinding,
    since: &HashMap<(&str, &str), DateTime<Utc>>,
    now: DateTime<Utc>,
) -> CardFinding {
    // Without history (pruned, or written before it was kept): the latest status's start.
    let first_seen = since
        .get(&(f.target.as_str(), f.check.as_str()))
        .copied()
        .unwrap_or(f.since)
        .min(f.since);
    CardFinding {
        check: f.check.clone(),
        target: f.target.clone(),
        status: f.status,
        severity: f.severity,
        summary: f.summary.clone(),
        remediation: f.remediation.clone(),
        evidence: f.evidence.clone(),
        first_seen,
        open_days: (now - first_seen).num_days().max(0),
        observed_at: f.observed_at,
    }
}

/// Assembles the card of `state`, with the levels of `column` (the organization's graded
/// matrix column, if it was computed) and their notes in `lang`.
pub fn assemble(
    state: &CardState,
    column: Option<&OrgColumn>,
    lang: Lang,
    now: DateTime<Utc>,
) -> Card {
    let since = open_since(&state.history);
    let capabilities = &catalogue().capabilities;
    // The first capability each check feeds.
    let mut home: HashMap<&str, usize> = HashMap::new();
    for (i, capability) in capabilities.iter().enumerate() {
        for check in &capability.feeds {
            home.entry(check.as_str()).or_insert(i);
        }
    }
    let mut groups: BTreeMap<usize, Vec<CardFinding>> = BTreeMap::new();
    for f in state.detail.findings.iter().filter(|f| is_open(f.status)) {
        let slot = home
            .get(f.check.as_str())
            .copied()
            .unwrap_or(capabilities.len());
        groups
            .entry(slot)
            .or_default()
            .push(card_finding(f, &since, now));
    }
    let groups = groups
        .into_iter()
        .map(|(slot, mut findings)| {
            findings.sort_by(by_urgency);
            FindingGroup {
                capability: capabilities.get(slot).map(|c| c.id.clone()),
                findings,
            }
        })
        .collect();

    let newest: HashSet<&str> = state.newest_reports.iter().map(String::as_str).collect();
    let mut changes: Vec<Change> = state
        .history
        .iter()
        .filter(|t| newest.contains(t.report_id.as_str()))
        .map(|t| Change {
            check: t.check.clone(),
            target: t.target.clone(),
            from: t.from,
            to: t.to,
            at: t.at,
        })
        .collect();
    changes.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.target.cmp(&b.target))
    });

    let levels = column
        .map(|column| {
            column
                .cells
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let feeds: HashSet<&str> = catalogue()
                        .capability(&cell.capability)
                        .map(|c| c.feeds.iter().map(String::as_str).collect())
                        .unwrap_or_default();
                    let mut set_by: Vec<SetBy> = state
                        .detail
                        .findings
                        .iter()
                        .filter(|f| feeds.contains(f.check.as_str()))
                        .map(|f| SetBy {
                            check: f.check.clone(),
                            target: f.target.clone(),
                            status: f.status,
                        })
                        .collect();
                    set_by.sort_by(|a, b| {
                        status_rank(a.status)
                            .cmp(&status_rank(b.status))
                            .then_with(|| a.check.cmp(&b.check))
                            .then_with(|| a.target.cmp(&b.target))
                    });
                    LevelRow {
                        capability: cell.capability.clone(),
                        label: cell.label(),
                        level: cell.value.level(),
                        trend: column.trends.get(i).copied().unwrap_or(Trend::None),
                        notes: cell.notes.iter().map(|n| n.render(lang)).collect(),
                        set_by,
                    }
                })
                .collect()
        })
        .unwrap_or_default();

    let mut targets: BTreeMap<&str, TargetSummary> = BTreeMap::new();
    for f in &state.detail.findings {
        let entry = targets
            .entry(f.target.as_str())
            .or_insert_with(|| TargetSummary {
                target: f.target.clone(),
                open: 0,
                worst: None,
            });
        if is_open(f.status) {
            entry.open += 1;
            entry.worst = entry.worst.max(Some(f.severity));
        }
    }

    Card {
        org: state.detail.id.clone(),
        generated_at: now,
        groups,
        changes,
        levels,
        targets: targets.into_values().collect(),
    }
}

/// The findings of the organization that match `check` and `target` (either may be
/// absent), every status, worst first: the matrix's drill-down and the per-target page.
pub fn select(
    state: &CardState,
    check: Option<&str>,
    target: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<CardFinding> {
    let since = open_since(&state.history);
    let mut found: Vec<CardFinding> = state
        .detail
        .findings
        .iter()
        .filter(|f| check.is_none_or(|c| c == f.check))
        .filter(|f| target.is_none_or(|t| t == f.target))
        .map(|f| {
            let mut finding = card_finding(f, &since, now);
            if !is_open(f.status) {
                // Not open: "first seen" is when the current status began.
                finding.first_seen = f.since;
                finding.open_days = 0;
            }
            finding
        })
        .collect();
    found.sort_by(|a, b| {
        status_rank(a.status)
            .cmp(&status_rank(b.status))
            .then(b.severity.cmp(&a.severity))
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.target.cmp(&b.target))
    });
    found
}

#[cfg(test)]
mod tests;
