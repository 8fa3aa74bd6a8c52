//! Address resolution for probes: the one place that turns a host name into addresses.
//!
//! A thin layer over hickory so that the rest of the crate sees our own error type, with the
//! name that failed and whether it does not exist, timed out or failed otherwise.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};

/// The default DNS port of `--resolver IP`.
const DNS_PORT: u16 = 53;

/// Why a name could not be resolved, or a resolver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN) or has no address.
    #[error("{name}: no such name (no A or AAAA record); check the spelling or the resolver")]
    NotFound { name: String },
    /// No answer in time from any resolver.
    #[error(
        "{name}: no answer from the DNS resolver in time; check that the resolver is reachable"
    )]
    Timeout { name: String },
    /// The resolver answered with an error (SERVFAIL, REFUSED…) or the query could not be sent.
    #[error("{name}: DNS lookup failed: {reason}")]
    Failed { name: String, reason: String },
    /// A `--resolver` value that is not `IP[:PORT]`.
    #[error("`{text}` is not a resolver address: expected IP or IP:PORT, e.g. 192.0.2.53 or [2001:db8::53]:5353")]
    BadResolver { text: String },
    /// The system's resolver configuration could not be read.
    #[error("cannot read the system's DNS configuration ({reason}); pass --resolver IP")]
    SystemConfig { reason: String },
}

impl DnsError {
    /// The closed-set kind of this failure: a timeout is a `timeout`, every other failure to
    /// resolve a `name`, and a resolver that could not be set up `other`.
    pub fn kind(&self) -> vigie_model::FailureKind {
        use vigie_model::FailureKind;
        match self {
            DnsError::NotFound { .. } | DnsError::Failed { .. } => FailureKind::Name,
            DnsError::Timeout { .. } => FailureKind::Timeout,
            DnsError::BadResolver { .. } | DnsError::SystemConfig { .. } => FailureKind::Other,
        }
    }
}

/// Parses a `--resolver` value: `IP`, `IP:PORT`, `[v6]` or `[v6]:PORT`; the port defaults to 53.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, DnsError> {
    let bad = || DnsError::BadResolver {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(trimmed);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .map_err(|_| bad())
}

/// A DNS resolver for address lookups.
pub struct Resolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    /// `servers` empty = the system's configuration (/etc/resolv.conf); otherwise exactly
    /// these servers (UDP with TCP fallback). `timeout` bounds each query.
    pub fn new(servers: &[SocketAddr], timeout: Duration) -> Result<Resolver, DnsError> {
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        let builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| DnsError::SystemConfig {
                reason: e.to_string(),
            })?
        } else {
            let mut config = ResolverConfig::new();
            for addr in servers {
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
            }
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
        };
        Ok(Resolver {
            inner: builder.with_options(opts).build(),
        })
    }

    /// The addresses of `host`. IP literals (also `[v6]`) are returned as-is without any query.
    pub async fn lookup_ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match self.inner.lookup_ip(host).await {
            Ok(lookup) => {
                let mut addrs: Vec<IpAddr> = lookup.iter().collect();
                addrs.dedup();
                if addrs.is_empty() {
                    Err(DnsError::NotFound {
                        name: host.to_owned(),
                    })
                } else {
                    Ok(addrs)
                }
            }
            Err(error) => Err(classify(host, &error)),
        }
    }
}

/// Whether `name` has the syntax of a host name: letters, digits, `-` and `_` in
/// dot-separated labels of 1–63 bytes, 253 bytes at most. TLS targets and service scopes
/// both accept exactly these names.
pub(crate) fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn classify(name: &str, error: &ResolveError) -> DnsError {
    let name = name.to_owned();
    match error.proto().map(|p| p.kind()) {
        // SERVFAIL or REFUSED also arrive as "no records"; those are failures, not absence.
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. })
            if matches!(
                *response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            ) =>
        {
            DnsError::NotFound { name }
        }
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => DnsError::Failed {
            name,
            reason: format!("the resolver answered {response_code}"),
        },
        Some(ProtoErrorKind::Timeout) => DnsError::Timeout { name },
        _ => DnsError::Failed {
            name,
            reason: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_addresses_parse_with_default_port() {
        assert_eq!(
            parse_resolver("192.0.2.53").ok(),
            Some("192.0.2.53:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("192.0.2.53:5353").ok(),
            Some("192.0.2.53:5353".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("[2001:db8::53]:5353").ok(),
            Some("[2001:db8::53]:5353".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("2001:db8::53").ok(),
            Some("[2001:db8::53]:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("[2001:db8::53]").ok(),
            Some("[2001:db8::53]:53".parse().unwrap())
        );
        for bad in ["", "dns.example", "192.0.2.53:", "192.0.2.53:99999", "[::1"] {
            assert!(
                matches!(parse_resolver(bad), Err(DnsError::BadResolver { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[tokio::test]
    async fn ip_literals_need_no_query() {
        // A resolver pointing at a closed port would fail any real query.
        let resolver = Resolver::new(
            &["127.0.0.1:9".parse().unwrap()],
            Duration::from_millis(200),
        )
        .unwrap();
        assert_eq!(
            resolver.lookup_ip("127.0.0.9").await.unwrap(),
            vec!["127.0.0.9".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            resolver.lookup_ip("[::1]").await.unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
    }
}
