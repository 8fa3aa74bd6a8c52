//! The instants a collector accepts in a report, relative to when it received it.
//!
//! Every instant an agent reads from its own clock (`started_at`, `finished_at`, each TLS
//! observation's `observed_at`) is stored, sorted on and compared with other agents' times.
//! One absurd date (`+10000-01-01`, a clock never set, a year typo) would sort before or
//! after every honest report for ever, so the collector refuses it at the door, while the
//! agent can still be told to fix its clock. Certificate dates are the server's, not the
//! agent's: any date X.509 can encode is accepted (a hostile server must not get an
//! organization's reports refused), and the store keeps them in a form its readers parse.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::report::Report;

/// How far ahead of the collector's clock an agent's clock may be: a day covers time zones
/// set wrong and slow NTP, while a report from the far future is refused.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::days(1);

/// The earliest instant accepted, 2000-01-01T00:00:00Z (Unix time): no Vigie agent ran
/// before; an earlier date is a machine whose clock was never set (1970).
pub const EARLIEST_UNIX_SECONDS: i64 = 946_684_800;

/// The earliest instant accepted, as a time.
pub fn earliest() -> DateTime<Utc> {
    DateTime::from_timestamp(EARLIEST_UNIX_SECONDS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant accepted in a report received at `received_at`.
pub fn latest(received_at: DateTime<Utc>) -> DateTime<Utc> {
    received_at
        .checked_add_signed(MAX_CLOCK_SKEW)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An instant of the report outside `earliest ..= latest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} {} is outside the accepted range {} to {} (the collector's time plus {} hours); check the agent machine's clock",
    text(*value, SecondsFormat::AutoSi),
    text(*earliest, SecondsFormat::Secs),
    text(*latest, SecondsFormat::Secs),
    MAX_CLOCK_SKEW.num_hours()
)]
pub struct TimeOutOfRange {
    /// Where in the report, e.g. `finished_at` or `observations.tls[2].observed_at`.
    pub field: String,
    pub value: DateTime<Utc>,
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

/// The value as sent (to its nanosecond), the range to the second.
fn text(time: DateTime<Utc>, format: SecondsFormat) -> String {
    time.to_rfc3339_opts(format, true)
}

/// Checks every instant the agent's clock gave the report against the range accepted for a
/// report received at `received_at`; the first one outside is returned.
pub fn check(report: &Report, received_at: DateTime<Utc>) -> Result<(), TimeOutOfRange> {
    let (earliest, latest) = (earliest(), latest(received_at));
    let within = |field: &dyn Fn() -> String, value: DateTime<Utc>| {
        if value < earliest || value > latest {
            return Err(TimeOutOfRange {
                field: field(),
                value,
                earliest,
                latest,
            });
        }
        Ok(())
    };
    within(&|| "started_at".to_owned(), report.started_at)?;
    within(&|| "finished_at".to_owned(), report.finished_at)?;
    for (i, observation) in report.observations.tls.iter().enumerate() {
        within(
            &|| format!("observations.tls[{i}].observed_at"),
            observation.observed_at,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a test time")
            .with_timezone(&Utc)
    }

    fn report(started_at: &str, finished_at: &str, observed_at: &[&str]) -> Report {
        let tls: Vec<serde_json::Value> = observed_at
            .iter()
            .map(|observed_at| {
                serde_json::json!({
                    "target": "a.example:443", "server_name": "a.example",
                    "observed_at": observed_at,
                    "result": {"outcome": "failed", "stage": "connect", "error": "refused"},
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema": "vigie.report.v1",
            "report_id": "6d1f7c2e-8f4b-4c8e-9a57-3a2f9d1b0c11",
            "agent": {"id": "a", "version": "0.1.0", "hostname": "h"},
            "org": "o",
            "started_at": started_at,
            "finished_at": finished_at,
            "observations": {"tls": tls},
        }))
        .expect("a test report")
    }

    const RECEIVED: &str = "2026-12-07T12:00:00Z";

    fn checked(started_at: &str, finished_at: &str, observed_at: &[&str]) -> Option<String> {
        check(&report(started_at, finished_at, observed_at), at(RECEIVED))
            .err()
            .map(|e| e.field)
    }

    #[test]
    fn the_bounds_themselves_are_accepted() {
        assert_eq!(
            checked("2000-01-01T00:00:00Z", "2026-12-08T12:00:00Z", &[]),
            None
        );
        assert_eq!(
            checked(
                "2026-12-07T11:59:00Z",
                "2026-12-07T12:00:00Z",
                &["2000-01-01T00:00:00Z", "2026-12-08T12:00:00Z"]
            ),
            None
        );
    }

    #[test]
    fn one_second_past_either_bound_is_refused() {
        assert_eq!(
            checked("1999-12-31T23:59:59Z", "2026-12-07T12:00:00Z", &[]).as_deref(),
            Some("started_at")
        );
        assert_eq!(
            checked("2026-12-07T11:00:00Z", "2026-12-08T12:00:01Z", &[]).as_deref(),
            Some("finished_at")
        );
        assert_eq!(
            checked(
                "2026-12-07T11:00:00Z",
                "2026-12-07T12:00:00Z",
                &["2026-12-07T11:00:00Z", "2026-12-08T12:00:01Z"]
            )
            .as_deref(),
            Some("observations.tls[1].observed_at")
        );
        assert_eq!(
            checked(
                "2026-12-07T11:00:00Z",
                "2026-12-07T12:00:00Z",
                &["1999-12-31T23:59:59Z"]
            )
            .as_deref(),
            Some("observations.tls[0].observed_at")
        );
    }

    #[test]
    fn the_message_names_the_value_and_the_range() {
        let error = check(
            &report("2026-12-07T11:00:00Z", "+10000-01-01T00:00:00Z", &[]),
            at(RECEIVED),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert_eq!(
            error,
            "finished_at +10000-01-01T00:00:00Z is outside the accepted range \
             2000-01-01T00:00:00Z to 2026-12-08T12:00:00Z (the collector's time plus 24 hours); \
             check the agent machine's clock"
        );
    }
}
