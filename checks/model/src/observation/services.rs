//! What a service scan saw: the facts `evaluate` grades, serialized as they are into the
//! report's `observations.services` (one JSON value per run).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a TCP connect told about a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ServicesHostObservation")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Unresolved {
    pub target: String,
    pub reason: String,
    /// The reason as a closed set (`name`, `timeout`, `other`); absent in reports of older
    /// agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::FailureKind>,
}

/// One service scan run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// A service told apart by its protocol.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Ssh,
    Ftp,
    Smtp,
    Pop3,
    Imap,
    Http,
    Rdp,
    Smb,
    /// The NetBIOS session service (port 139) answering outside an SMB session.
    Netbios,
    /// An NFS server (ONC RPC program 100003).
    Nfs,
    Telnet,
    Vnc,
    Mysql,
    Postgresql,
    Mssql,
    Mongodb,
    Redis,
    Elasticsearch,
    Memcached,
    Ldap,
    Couchdb,
    /// TLS whose inner protocol said nothing we know.
    Tls,
}

impl Service {
    /// The wire and metric name (`"ssh"`, `"postgresql"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ssh => "ssh",
            Service::Ftp => "ftp",
            Service::Smtp => "smtp",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Http => "http",
            Service::Rdp => "rdp",
            Service::Smb => "smb",
            Service::Netbios => "netbios",
            Service::Nfs => "nfs",
            Service::Telnet => "telnet",
            Service::Vnc => "vnc",
            Service::Mysql => "mysql",
            Service::Postgresql => "postgresql",
            Service::Mssql => "mssql",
            Service::Mongodb => "mongodb",
            Service::Redis => "redis",
            Service::Elasticsearch => "elasticsearch",
            Service::Memcached => "memcached",
            Service::Ldap => "ldap",
            Service::Couchdb => "couchdb",
            Service::Tls => "tls",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the service answered a data request without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// It asked for authentication (Redis `-NOAUTH`, HTTP 401, MongoDB `Unauthorized`).
    Required,
    /// It answered (Redis `+PONG`, Elasticsearch's root JSON, memcached `VERSION`, MongoDB
    /// `listDatabases`).
    NotRequired,
}

/// A piece of software a banner names, e.g. `OpenSSH` `8.9p1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Software {
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What a parser learnt about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Identification {
    pub service: Service,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Further software the banner names (e.g. `OpenSSL/1.1.1f` in an HTTP `Server` header).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Software>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// FTP `AUTH TLS`, POP3 `STLS`, IMAP `STARTTLS` offered (None: not asked or no answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<bool>,
    /// HTTP asks for Basic authentication (`401` with `WWW-Authenticate: Basic`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub basic_auth: bool,
    /// HTTP page title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A protocol detail: RDP security protocol, SMB dialect, PostgreSQL TLS support…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Identification {
    pub fn new(service: Service) -> Identification {
        Identification {
            service,
            product: None,
            version: None,
            components: Vec::new(),
            auth: None,
            starttls: None,
            basic_auth: false,
            title: None,
            detail: None,
        }
    }
}
