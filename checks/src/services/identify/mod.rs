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

pub use client_first::{
    mongodb_complete, parse_ldap, parse_memcached, parse_mongodb_hello,
    parse_mongodb_list_databases, parse_mssql, parse_nfs, parse_postgres, parse_rdp,
    parse_redis_info, parse_redis_ping, parse_smb, redis_info_complete, rpc_complete,
};
pub use greeting::{
    greeting_complete, parse_ftp_feat, parse_greeting, parse_imap_capability, parse_pop3_capa,
};
pub use http::{http_complete, parse_http, parse_server_header};

pub use vigie_model::observation::services::{Auth, Identification, Service, Software};

/// The builders the parsers chain on an [`Identification`].
trait Build {
    fn product(self, product: &str, version: Option<String>) -> Identification;
    fn detail(self, detail: impl Into<String>) -> Identification;
}

impl Build for Identification {
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
