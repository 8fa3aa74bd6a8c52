//! Past states of the matrix (the quarter ends of the Trends sheet, an export's `--since`).
//! Rebuilding one means walking the status history and re-reading old reports for their
//! evidence, which costs more than the rest of an export; yet a past date's levels change only
//! when data about that past arrives late. So each is graded once and kept in the store
//! (migration 0007) with a fingerprint of what it was graded from, and graded again only when
//! that fingerprint no longer matches (a late report, an answer dated before it, a new
//! organization) or the grading changed (TLS profile, rules version).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use vigie_matrix::grade::Value;
use vigie_matrix::{catalogue, TlsProfile};

use crate::store::{Store, StoreError};

/// Each organization's value per capability, in catalogue order.
pub(super) type Levels = BTreeMap<String, Vec<Value>>;

/// The stored form: one character per capability, so that a sector's quarter is a few
/// dozen kilobytes; the capability ids make a snapshot of another catalogue unreadable
/// rather than misread.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    capabilities: Vec<String>,
    orgs: BTreeMap<String, String>,
}

fn symbol(value: Value) -> char {
    match value {
        Value::Level(level) => char::from_digit(u32::from(level), 10).unwrap_or('?'),
        Value::NotApplicable => '-',
        Value::Unknown => '?',
    }
}

fn value(symbol: char) -> Option<Value> {
    match symbol {
        '-' => Some(Value::NotApplicable),
        '?' => Some(Value::Unknown),
        digit => digit
            .to_digit(10)
            .filter(|level| *level <= 4)
            .map(|level| Value::Level(level as u8)),
    }
}

fn capability_ids() -> Vec<String> {
    catalogue()
        .capabilities
        .iter()
        .map(|c| c.id.clone())
        .collect()
}

pub(super) fn encode(levels: &Levels) -> String {
    let stored = Stored {
        capabilities: capability_ids(),
        orgs: levels
            .iter()
            .map(|(org, values)| (org.clone(), values.iter().copied().map(symbol).collect()))
            .collect(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// `None` if the text is not a snapshot of this catalogue's capabilities: it is then graded
/// again, never half read.
pub(super) fn decode(text: &str) -> Option<Levels> {
    let stored: Stored = serde_json::from_str(text).ok()?;
    let capabilities = capability_ids();
    if stored.capabilities != capabilities {
        return None;
    }
    stored
        .orgs
        .into_iter()
        .map(|(org, symbols)| {
            let values = symbols.chars().map(value).collect::<Option<Vec<Value>>>()?;
            (values.len() == capabilities.len()).then_some((org, values))
        })
        .collect()
}

/// What the levels depend on besides the data.
fn grading(profile: TlsProfile) -> String {
    format!("{}/{}", profile.as_str(), catalogue().rules_version)
}

/// The levels of every organization at the start of each date, from the store's snapshots
/// where they still hold, else graded from the history and kept for the next export.
pub(super) async fn levels_at(
    store: &Store,
    dates: &[NaiveDate],
    profile: TlsProfile,
    now: DateTime<Utc>,
) -> Result<BTreeMap<NaiveDate, Levels>, StoreError> {
    let grading = grading(profile);
    let instants: Vec<DateTime<Utc>> = dates.iter().map(|d| super::start_of_day(*d)).collect();
    let stored = store.past_levels(&instants, &grading).await?;
    let mut out = BTreeMap::new();
    for ((date, at), stored) in dates.iter().zip(instants).zip(stored) {
        if let Some(levels) = stored.levels.as_deref().and_then(decode) {
            out.insert(*date, levels);
            continue;
        }
        let graded = super::grade_state(store.matrix_state_at(at).await?, at, profile);
        let levels: Levels = graded
            .into_iter()
            .map(|(org, graded)| (org, graded.cells.iter().map(|c| c.value).collect()))
            .collect();
        // Keeping it only saves time next export: a store that cannot take it (read-only
        // file, database busy) still gets its export.
        if let Err(error) = store
            .save_past_levels(at, &grading, &stored.inputs, &encode(&levels), now)
            .await
        {
            tracing::warn!(%error, %date, "could not keep the matrix state of a past date; it will be graded again next export");
        }
        out.insert(*date, levels);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_survive_their_text_form() {
        let n = catalogue().capabilities.len();
        let mut values = vec![Value::Unknown; n];
        values[0] = Value::Level(0);
        values[1] = Value::Level(4);
        values[2] = Value::NotApplicable;
        values[n - 1] = Value::Level(3);
        let levels: Levels = [
            ("org-a".to_owned(), values),
            ("org-b".to_owned(), vec![Value::Level(2); n]),
        ]
        .into_iter()
        .collect();
        assert_eq!(decode(&encode(&levels)), Some(levels));
    }

    #[test]
    fn a_snapshot_of_another_catalogue_or_a_damaged_one_is_not_read() {
        let n = catalogue().capabilities.len();
        let levels: Levels = [("org-a".to_owned(), vec![Value::Level(1); n])]
            .into_iter()
            .collect();
        let text = encode(&levels);
        // Another catalogue: one capability fewer.
        let mut stored: Stored = serde_json::from_str(&text).unwrap();
        stored.capabilities.pop();
        assert_eq!(decode(&serde_json::to_string(&stored).unwrap()), None);
        // A level out of the scale, a short row, a truncated text.
        for bad in ["5".repeat(n), "1".repeat(n - 1)] {
            let mut stored: Stored = serde_json::from_str(&text).unwrap();
            stored.orgs.insert("org-a".to_owned(), bad);
            assert_eq!(decode(&serde_json::to_string(&stored).unwrap()), None);
        }
        assert_eq!(decode(&text[..text.len() / 2]), None);
    }
}
