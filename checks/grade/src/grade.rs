//! Grading a report's observations into findings: the agent grades every scan with it, from
//! the observations it records, and `vigie-collector regrade` grades stored observations with
//! it again, so that a verdict recomputed from a stored report is the one the agent would
//! give today (one grading path, not two kept in step).
//!
//! Time-dependent checks (certificate expiry, stale DMARC reports, end-of-life dates) are
//! graded at the scan's own time, not at the regrade's: a certificate valid when it was
//! observed must not turn "expired" because the grading ran later.

use chrono::{DateTime, Utc};
use vigie_model::{Finding, Lang, Observations, Verdict};

use crate::tls::Profile;

/// The findings of every observation of a report, graded at `now` (pass the report's
/// `finished_at`) with `profile` for TLS, texts in `lang`.
pub fn grade_observations(
    observations: &Observations,
    profile: Profile,
    now: DateTime<Utc>,
    lang: Lang,
) -> Vec<Finding> {
    let Observations {
        tls,
        https,
        email,
        services,
        host,
    } = observations;
    let verdicts = tls
        .iter()
        .flat_map(|o| crate::tls::evaluate_with_profile(o, now, profile))
        .chain(https.iter().flat_map(|o| crate::https::evaluate(o, now)))
        .chain(email.iter().flat_map(|o| crate::email::evaluate(o, now)))
        .chain(host.iter().flat_map(|o| crate::host::evaluate(o, now)))
        .chain(
            services
                .iter()
                .flat_map(|o| crate::services::evaluate(o, now)),
        );
    verdicts
        .map(|verdict: Verdict| verdict.into_finding(lang))
        .collect()
}
