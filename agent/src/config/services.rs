//! `[services]`: the hosts whose exposed services to check, and how attempts are paced.

use serde::{Deserialize, Deserializer};
use vigie_checks::services::scope::DEFAULT_MAX_ADDRESSES;
use vigie_checks::services::{PortSet, ServiceTarget};

use super::values::{parse_list, ParseWith};

/// `[services]`: hosts whose exposed TCP services to check. Every address (given, inside a
/// CIDR, or resolved from a name) must be inside `[scope] allow`, or the scan is refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// Hosts, addresses or CIDRs to scan, e.g. `"203.0.113.10"`, `"203.0.113.0/28"`.
    #[serde(default, deserialize_with = "de_service_targets")]
    pub targets: Vec<ServiceTarget>,
    /// Which ports: `top100` (the default), `top1000`, or a list with ranges such as
    /// `"22,80,8000-8100"`.
    #[serde(default, deserialize_with = "de_port_set")]
    pub ports: Option<PortSet>,
    /// The most addresses one scan may touch (default 1024).
    #[serde(default = "default_max_addresses")]
    pub max_addresses: usize,
    /// How connection attempts to one address are spaced (default adaptive).
    #[serde(default)]
    pub pacing: Pacing,
}

/// How a service scan spaces its connection attempts to one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pacing {
    /// 10 ms apart, tightening to 100 µs while the address answers every attempt at once and
    /// back to 10 ms at the first timeout or slow answer.
    #[default]
    Adaptive,
    /// Always 10 ms apart, for devices that answer fast but should not be hurried.
    Fixed,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            targets: Vec::new(),
            ports: None,
            max_addresses: DEFAULT_MAX_ADDRESSES,
            pacing: Pacing::default(),
        }
    }
}

fn default_max_addresses() -> usize {
    DEFAULT_MAX_ADDRESSES
}

fn de_service_targets<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ServiceTarget>, D::Error> {
    parse_list(
        deserializer,
        |text| text.parse::<ServiceTarget>().map_err(|e| e.to_string()),
        "addresses, CIDRs or host names such as \"203.0.113.10\" or \"203.0.113.0/28\"",
    )
}

fn de_port_set<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<PortSet>, D::Error> {
    deserializer
        .deserialize_str(ParseWith {
            parse: |text| text.parse::<PortSet>().map_err(|e| e.to_string()),
            expecting: "a port set such as \"top100\", \"top1000\" or \"22,80,8000-8100\"",
        })
        .map(Some)
}
