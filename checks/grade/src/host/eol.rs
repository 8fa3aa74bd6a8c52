//! End of security support of OS releases, from the bundled `checks/data/os-eol.toml`.

use std::sync::LazyLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One release's support dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EolEntry {
    pub id: String,
    pub version: String,
    pub name: String,
    /// Last day of security updates without a paid subscription.
    pub security_end: NaiveDate,
    /// End of paid or opt-in extended support (Ubuntu Pro ESM, SUSE LTSS, RHEL ELS).
    #[serde(default)]
    pub extended_end: Option<NaiveDate>,
    /// The vendor has not fixed the day yet.
    #[serde(default)]
    pub estimated: bool,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dataset {
    release: Vec<EolEntry>,
}

/// The raw dataset, compiled in.
pub const DATASET: &str = include_str!("../../../data/os-eol.toml");

/// Parses a dataset (the bundled one, or a newer file in tests).
pub fn parse_dataset(text: &str) -> Result<Vec<EolEntry>, toml::de::Error> {
    Ok(toml::from_str::<Dataset>(text)?.release)
}

static BUNDLED: LazyLock<Vec<EolEntry>> = LazyLock::new(|| {
    // The file is compiled in and parsed by a unit test, so a failure here is a build
    // defect; an empty table makes every release "unknown" rather than crash an agent.
    parse_dataset(DATASET).unwrap_or_else(|error| {
        tracing::error!(%error, "bundled os-eol.toml is invalid");
        Vec::new()
    })
});

pub fn bundled() -> &'static [EolEntry] {
    &BUNDLED
}

/// The entry for an os-release `ID` and `VERSION_ID`: exact version, or the longest entry
/// that is a dotted prefix of it ("9" for "9.4", "3.19" for "3.19.1").
pub fn lookup<'a>(entries: &'a [EolEntry], id: &str, version_id: &str) -> Option<&'a EolEntry> {
    entries
        .iter()
        .filter(|e| e.id == id)
        .filter(|e| {
            version_id == e.version
                || version_id
                    .strip_prefix(e.version.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .max_by_key(|e| e.version.len())
}

/// Whether the dataset knows this distribution at all (an unknown version of a known
/// distribution means the dataset needs a refresh).
pub fn knows_id(entries: &[EolEntry], id: &str) -> bool {
    entries.iter().any(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_dataset_parses_and_is_consistent() {
        let entries = parse_dataset(DATASET).unwrap();
        assert!(entries.len() > 40);
        for e in &entries {
            assert!(e.source.starts_with("https://"), "{} {}", e.id, e.version);
            if let Some(ext) = e.extended_end {
                assert!(ext > e.security_end, "{} {}", e.id, e.version);
            }
        }
        // No two entries for the same release.
        let mut keys: Vec<_> = entries.iter().map(|e| (&e.id, &e.version)).collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len());
    }

    #[test]
    fn prefix_lookup() {
        let entries = bundled();
        assert_eq!(lookup(entries, "rocky", "9.4").unwrap().version, "9");
        assert_eq!(lookup(entries, "alpine", "3.19.1").unwrap().version, "3.19");
        assert!(lookup(entries, "alpine", "3.1").is_none());
        assert_eq!(lookup(entries, "sles", "15.5").unwrap().version, "15.5");
        assert!(lookup(entries, "debian", "120").is_none());
    }
}
