//! `vigie-collector regrade`: recomputes the verdicts of the current state from the stored
//! observations with this build's grading rules (the agent's own code, `vigie_grade`),
//! and records what changed as status transitions. Run it after upgrading to a version whose
//! rules changed, so that the posture shown does not wait for every agent's next scan.
//!
//! What is regraded: each agent's newest stored report, the one its current state comes from
//! (older reports are history; their verdicts stay as they were). Each report is graded at its
//! own scan time with the TLS profile it names, in the language its findings were written in.

use chrono::{DateTime, Utc};
use vigie_grade::tls::Profile;
use vigie_model::{Lang, Report};

use crate::store::{Regrade, Store, StoreError};

/// What a regrade did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegradeSummary {
    /// Reports regraded.
    pub reports: u64,
    /// Verdicts whose status or severity changed.
    pub changed: u64,
    /// Verdicts of checks the stored state did not have.
    pub added: u64,
    /// Reports that could not be read or graded (logged, left as they were).
    pub skipped: u64,
}

/// Regrades the newest report of every agent; transitions are recorded at `at`.
pub async fn regrade(store: &Store, at: DateTime<Utc>) -> Result<RegradeSummary, StoreError> {
    let mut summary = RegradeSummary::default();
    for report_id in store.regrade_candidates().await? {
        let Some(body) = store.report_body(&report_id).await? else {
            summary.skipped += 1;
            continue;
        };
        let report: Report = match serde_json::from_str(&body) {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%report_id, %error, "a stored report is not readable; not regraded");
                summary.skipped += 1;
                continue;
            }
        };
        let findings = grade(&report);
        let (changed, added) = store
            .apply_regrade(Regrade {
                org: report.org.clone(),
                report_id,
                finished_at: report.finished_at,
                at,
                findings,
            })
            .await?;
        summary.reports += 1;
        summary.changed += changed;
        summary.added += added;
    }
    Ok(summary)
}

/// The text without the spaces (ordinary, no-break or narrow no-break) that French
/// typography sets before `:` `;` `?` `!` `»` and after `«`.
pub fn untypeset(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let space = |c: char| matches!(c, ' ' | '\u{a0}' | '\u{202f}');
    chars
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !(space(**c)
                && (chars
                    .get(i + 1)
                    .is_some_and(|n| matches!(n, ':' | ';' | '?' | '!' | '»'))
                    || i.checked_sub(1).is_some_and(|p| chars[p] == '«')))
        })
        .map(|(_, c)| *c)
        .collect()
}

/// The report's findings graded anew, in the language of its stored findings (the one
/// whose texts match more of them).
pub fn grade(report: &Report) -> Vec<vigie_model::Finding> {
    let profile = report
        .profile
        .as_deref()
        .and_then(|p| p.parse::<Profile>().ok())
        .unwrap_or_default();
    let graded = |lang| {
        vigie_grade::grade_observations(&report.observations, profile, report.finished_at, lang)
    };
    let english = graded(Lang::En);
    let french = graded(Lang::Fr);
    // Compared without the spaces of French typography, which the catalogues have since
    // made no-break: a report stored before stays French.
    let stored: Vec<String> = report
        .findings
        .iter()
        .map(|f| untypeset(&f.summary))
        .collect();
    let matches = |findings: &[vigie_model::Finding]| {
        findings
            .iter()
            .filter(|f| stored.contains(&untypeset(&f.summary)))
            .count()
    };
    if matches(&french) > matches(&english) {
        french
    } else {
        english
    }
}
