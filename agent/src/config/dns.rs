//! `[dns]`: the resolvers the probes ask.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::values::parse_list;

/// `[dns]`: resolvers for the probes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// `IP[:PORT]` of the resolvers to query (port 53 by default). Empty: the system's.
    #[serde(default, deserialize_with = "de_resolvers")]
    pub resolvers: Vec<SocketAddr>,
    /// Judge DNSSEC with our own validation instead of the resolvers' AD bit (for
    /// resolvers that do not validate). Default false.
    #[serde(default)]
    pub dnssec_validate: bool,
    /// DNSKEY records to trust for that validation instead of the root's (zone-file lines,
    /// every key of the zone); setting it turns `dnssec_validate` on.
    #[serde(default)]
    pub trust_anchor: Option<PathBuf>,
}

fn de_resolvers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SocketAddr>, D::Error> {
    parse_list(
        deserializer,
        |text| vigie_checks::dns::parse_resolver(text).map_err(|e| e.to_string()),
        "resolver addresses such as \"192.0.2.53\" or \"192.0.2.53:5353\"",
    )
}
