//! What a service scan saw: the facts `evaluate` grades, serialized as they are into the
//! report's `observations.services` (one JSON value per run).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::identify::{Identification, Service};

/// What a TCP connect told about a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    /// The connection was accepted.
    Open,
    /// The host answered with a reset (connection refused).
    Closed,
    /// No answer within the connect timeout, or the network said unreachable: something
    /// drops the packets.
    Filtered,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
        }
    }
}

/// One open port and what speaks on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortObservation {
    pub port: u16,
    pub state: PortState,
    /// The service spoke TLS (the identification is of what ran inside it).
    #[serde(default)]
    pub tls: bool,
    /// The first bytes the service sent, escaped and at most
    /// [`BANNER_MAX`](super::identify::BANNER_MAX) characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// What the protocol told (service, product, version, authentication…); absent when
    /// nothing we know answered.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub identified: Option<Identification>,
}

impl PortObservation {
    pub fn service(&self) -> Option<Service> {
        self.identified.as_ref().map(|found| found.service)
    }
}

/// One scanned address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostObservation {
    pub address: IpAddr,
    /// The target that named this address, as typed.
    pub target: String,
    /// Host name targets that resolved to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// The open ports, ascending.
    #[serde(default)]
    pub open: Vec<PortObservation>,
    /// How many of the scanned ports answered closed.
    pub closed: usize,
    /// How many of the scanned ports gave no answer.
    pub filtered: usize,
}

/// A host name target that could not be resolved (its addresses were not scanned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unresolved {
    pub target: String,
    pub reason: String,
}

/// One service scan run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesObservation {
    /// The targets as given.
    pub targets: Vec<String>,
    /// The port set, as named (`top100`, `22,80`).
    pub ports: String,
    /// How many ports were tried per host.
    pub port_count: usize,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub hosts: Vec<HostObservation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<Unresolved>,
}

impl ServicesObservation {
    /// The observation as the report's `observations.services` entry.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
