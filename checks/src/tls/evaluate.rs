//! Pure grading of a TLS observation: no I/O, time only from `now`.

use chrono::{DateTime, Utc};
use vigie_model::{TlsObservation, Verdict};

/// The verdicts of every certificate and connection check for one observation.
pub fn evaluate(observation: &TlsObservation, now: DateTime<Utc>) -> Vec<Verdict> {
    let _ = (observation, now);
    Vec::new()
}
