//! What speaks on a port, told from the bytes it sends: pure parsers (bytes in, typed
//! [`Identification`] out) and the read-only requests that make servers speak.
//!
//! Nothing here touches a socket, so every parser is unit-tested on captured bytes and
//! fuzzed (`checks/fuzz`, target `service_banner`). Parsers never panic and never trust a
//! length field: every index is checked. A parser answers `None` when the bytes are not its
//! protocol (or not yet complete), never a guess from the port number.

mod client_first;
mod greeting;
mod http;
pub mod requests;

use serde::{Deserialize, Serialize};

pub use client_first::{
    mongodb_complete, parse_ldap, parse_memcached, parse_mongodb_hello,
    parse_mongodb_list_databases, parse_mssql, parse_nfs, parse_postgres, parse_rdp,
    parse_redis_info, parse_redis_ping, parse_smb, redis_info_complete, rpc_complete,
};
pub use greeting::{
    greeting_complete, parse_ftp_feat, parse_greeting, parse_imap_capability, parse_pop3_capa,
};
pub use http::{http_complete, parse_http, parse_server_header};

/// A service told apart by its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// It asked for authentication (Redis `-NOAUTH`, HTTP 401, MongoDB `Unauthorized`).
    Required,
    /// It answered (Redis `+PONG`, Elasticsearch's root JSON, memcached `VERSION`, MongoDB
    /// `listDatabases`).
    NotRequired,
}

/// A piece of software a banner names, e.g. `OpenSSH` `8.9p1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What a parser learnt about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    fn product(mut self, product: &str, version: Option<String>) -> Identification {
        self.product = Some(product.to_owned());
        self.version = version.filter(|v| !v.is_empty());
        self
    }

    fn detail(mut self, detail: impl Into<String>) -> Identification {
        self.detail = Some(detail.into());
        self
    }
}

/// The longest banner kept in an observation, in characters after escaping.
pub const BANNER_MAX: usize = 256;

/// The banner as text for a report: at most `max` characters, printable ASCII kept,
/// `\r`, `\n`, `\t` and other control or non-ASCII bytes escaped (`\x1b`), an ellipsis when cut.
pub fn escape_banner(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &byte in bytes {
        let piece = match byte {
            b'\r' => "\\r".to_owned(),
            b'\n' => "\\n".to_owned(),
            b'\t' => "\\t".to_owned(),
            b'\\' => "\\\\".to_owned(),
            0x20..=0x7e => (byte as char).to_string(),
            _ => format!("\\x{byte:02x}"),
        };
        if out.len() + piece.len() > max {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
    }
    out
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Runs every parser over bytes, for the fuzz target: none may panic.
pub fn parse_any(bytes: &[u8]) -> Vec<Identification> {
    let _ = greeting_complete(bytes);
    let _ = http_complete(bytes);
    let _ = mongodb_complete(bytes);
    let _ = redis_info_complete(bytes);
    let _ = rpc_complete(bytes);
    let _ = parse_ftp_feat(bytes);
    let _ = parse_pop3_capa(bytes);
    let _ = parse_imap_capability(bytes);
    let _ = parse_redis_info(bytes);
    let _ = parse_mongodb_list_databases(bytes);
    let _ = escape_banner(bytes, BANNER_MAX);
    [
        parse_greeting(bytes),
        parse_http(bytes),
        parse_redis_ping(bytes),
        parse_memcached(bytes),
        parse_postgres(bytes),
        parse_mssql(bytes),
        parse_mongodb_hello(bytes),
        parse_rdp(bytes),
        parse_smb(bytes),
        parse_ldap(bytes),
        parse_nfs(bytes),
    ]
    .into_iter()
    .flatten()
    .collect()
}
