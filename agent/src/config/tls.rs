//! `[tls]`: the TLS endpoints to check.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use vigie_checks::tls::TlsTarget;
use vigie_grade::tls::Profile;

use super::values::{de_concurrency, de_duration, default_probe_timeout, parse_list, ParseWith};
use super::{DEFAULT_CONCURRENCY, DEFAULT_PROBE_TIMEOUT};

/// `[tls]`: TLS endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// `HOST[:PORT]` endpoints (port 443 by default).
    #[serde(default, deserialize_with = "de_tls_targets")]
    pub targets: Vec<TlsTarget>,
    /// Extra trusted roots (PEM) for the scanned endpoints, e.g. an internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Bound on each probe step (resolve, connect, handshake). Default `5s`.
    #[serde(default = "default_probe_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// How many endpoints are probed at once (1–1024). Default 16.
    #[serde(default = "default_concurrency", deserialize_with = "de_concurrency")]
    pub concurrency: usize,
    /// The grading profile of the TLS findings: `modern` (default), `itsp-strict` or
    /// `mozilla-intermediate`.
    #[serde(default, deserialize_with = "de_profile")]
    pub profile: Profile,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            targets: Vec::new(),
            ca_file: None,
            timeout: DEFAULT_PROBE_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            profile: Profile::default(),
        }
    }
}

fn de_tls_targets<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<TlsTarget>, D::Error> {
    parse_list(
        deserializer,
        |text| text.parse::<TlsTarget>().map_err(|e| e.to_string()),
        "TLS endpoints such as \"www.example.ca\" or \"mail.example.ca:465\"",
    )
}

fn de_profile<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Profile, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: |text: &str| text.parse::<Profile>(),
        expecting: "a TLS profile: \"modern\", \"itsp-strict\" or \"mozilla-intermediate\"",
    })
}

fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}
