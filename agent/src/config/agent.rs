//! `[agent]` and the top-level `org`: who the agent is, and its schedule, outbox and retries.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::values::{de_duration, ParseWith};
use super::DEFAULT_OUTBOX;

/// `[agent]`: identity, schedule, outbox and retry policy of `run`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// A stable id for this installation (1–128 of `A-Z a-z 0-9 - _ .`). Default: derived
    /// from `/etc/machine-id` (hashed, never sent as is) or else the host name.
    #[serde(default, deserialize_with = "de_agent_id")]
    pub id: Option<String>,
    /// How often `run` scans. Default `6h`.
    #[serde(default = "default_schedule", deserialize_with = "de_duration")]
    pub schedule: Duration,
    /// Folder where reports wait until the collector acknowledges them. Default
    /// `/var/lib/vigie/outbox`. Relative paths are relative to the config file's folder.
    #[serde(default = "default_outbox")]
    pub outbox: PathBuf,
    /// First delay before retrying an upload. Default `1s`.
    #[serde(default = "default_retry_initial", deserialize_with = "de_duration")]
    pub retry_initial: Duration,
    /// Longest delay between upload retries. Default `5m`.
    #[serde(default = "default_retry_max", deserialize_with = "de_duration")]
    pub retry_max: Duration,
    /// How long `run --once` keeps retrying uploads before it gives up. Default `60s`.
    #[serde(default = "default_once_deadline", deserialize_with = "de_duration")]
    pub once_deadline: Duration,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            id: None,
            schedule: default_schedule(),
            outbox: default_outbox(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            once_deadline: default_once_deadline(),
        }
    }
}

fn default_schedule() -> Duration {
    Duration::from_secs(6 * 3600)
}

fn default_outbox() -> PathBuf {
    PathBuf::from(DEFAULT_OUTBOX)
}

fn default_retry_initial() -> Duration {
    Duration::from_secs(1)
}

fn default_retry_max() -> Duration {
    Duration::from_secs(300)
}

fn default_once_deadline() -> Duration {
    Duration::from_secs(60)
}

pub(super) fn de_org<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: parse_org,
        expecting: "an organization id such as \"example-org\"",
    })
}

/// An organization id: 1–64 of `a-z 0-9 - _ .` (the collector's rule).
pub fn parse_org(org: &str) -> Result<String, String> {
    if vigie_model::validate::is_valid_org(org) {
        Ok(org.to_owned())
    } else {
        Err(format!(
            "`{org}` is not a valid organization id: use 1 to 64 lowercase letters, digits, `-`, `_` or `.`, as given by the collector's operator (e.g. \"example-org\")"
        ))
    }
}

fn de_agent_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer
        .deserialize_str(ParseWith {
            parse: parse_agent_id,
            expecting: "an agent id such as \"web-01\"",
        })
        .map(Some)
}

fn parse_agent_id(id: &str) -> Result<String, String> {
    // The collector's rule, so that every id the agent accepts is one the collector takes.
    if vigie_model::validate::is_valid_agent_id(id) {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "`{id}` is not a valid agent id: use 1 to 128 letters, digits, `-`, `_` or `.`, or remove the key to derive one from the machine"
        ))
    }
}

/// An id stable across restarts that does not reveal the machine id (which systemd asks
/// applications not to expose): a hash of it under an application key, else the host name.
pub fn default_agent_id() -> String {
    use sha2::Digest;
    match std::fs::read_to_string("/etc/machine-id") {
        Ok(id) if !id.trim().is_empty() => {
            let digest = sha2::Sha256::digest(format!("vigie-agent:{}", id.trim()).as_bytes());
            format!("m-{}", &hex::encode(digest)[..20])
        }
        _ => sanitize_id(&crate::host_name::hostname()),
    }
}

fn sanitize_id(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if id.is_empty() {
        "unknown-host".to_owned()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_ids_keep_a_safe_alphabet() {
        assert_eq!(sanitize_id("web 01.example"), "web-01.example");
        assert_eq!(sanitize_id(""), "unknown-host");
    }
}
