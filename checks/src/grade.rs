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

/// Why a stored observation could not be graded.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error("the stored {family} observation is not one this version reads: {error}")]
    Observation {
        family: &'static str,
        error: serde_json::Error,
    },
}

/// The findings of every observation of a report, graded at `now` (pass the report's
/// `finished_at`) with `profile` for TLS, texts in `lang`.
pub fn grade_observations(
    observations: &Observations,
    profile: Profile,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<Vec<Finding>, GradeError> {
    let findings = |verdicts: Vec<Verdict>| -> Vec<Finding> {
        verdicts
            .into_iter()
            .map(|verdict| verdict.into_finding(lang))
            .collect()
    };
    let mut all = Vec::new();
    for observation in &observations.tls {
        all.extend(findings(crate::tls::evaluate_with_profile(
            observation,
            now,
            profile,
        )));
    }
    for value in &observations.https {
        let observation: crate::https::HttpsObservation = parse("https", value)?;
        all.extend(findings(crate::https::evaluate(&observation, now)));
    }
    for value in &observations.email {
        let observation: crate::email::EmailObservation = parse("email", value)?;
        all.extend(findings(crate::email::evaluate(&observation, now)));
    }
    if let Some(value) = &observations.host {
        let observation: crate::host::HostObservation = parse("host", value)?;
        all.extend(findings(crate::host::evaluate(&observation, now)));
    }
    for value in &observations.services {
        let observation: crate::services::ServicesObservation = parse("services", value)?;
        all.extend(findings(crate::services::evaluate(&observation)));
    }
    Ok(all)
}

fn parse<T: serde::de::DeserializeOwned>(
    family: &'static str,
    value: &serde_json::Value,
) -> Result<T, GradeError> {
    T::deserialize(value).map_err(|error| GradeError::Observation { family, error })
}
