//! A TLS target as a user writes it: `host`, `host:port`, `1.2.3.4:443`, `[::1]:8443`, `::1`.

use std::net::IpAddr;

use crate::dns::is_host_name;

/// The port when a target names none.
pub const DEFAULT_PORT: u16 = 443;

/// Why a target could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the target is empty: expected HOST[:PORT], e.g. www.example.ca:443")]
    Empty,
    #[error("`{text}`: `{port}` is not a port (expected 1 to 65535)")]
    BadPort { text: String, port: String },
    #[error("`{text}`: `{host}` is not a host name or IP address")]
    BadHost { text: String, host: String },
    #[error("`{text}`: an IPv6 address with a port must be in brackets, e.g. [2001:db8::1]:443")]
    UnbracketedIpv6 { text: String },
}

/// An endpoint to probe: a host name or IP literal and a TCP port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsTarget {
    /// A DNS name (lowercase, without trailing dot) or an IP literal (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl TlsTarget {
    /// The host as an IP address, when it is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl std::str::FromStr for TlsTarget {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(TargetError::Empty);
        }
        let (host, port) = if let Some(rest) = trimmed.strip_prefix('[') {
            let Some((host, after)) = rest.split_once(']') else {
                return Err(TargetError::BadHost {
                    text: text.to_owned(),
                    host: trimmed.to_owned(),
                });
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => {
                        return Err(TargetError::BadHost {
                            text: text.to_owned(),
                            host: trimmed.to_owned(),
                        })
                    }
                },
            };
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(TargetError::BadHost {
                    text: text.to_owned(),
                    host: host.to_owned(),
                });
            }
            (host, port)
        } else if trimmed.parse::<std::net::Ipv6Addr>().is_ok() {
            (trimmed, None)
        } else if trimmed.matches(':').count() > 1 {
            return Err(TargetError::UnbracketedIpv6 {
                text: text.to_owned(),
            });
        } else {
            match trimmed.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (trimmed, None),
            }
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(TargetError::BadPort {
                        text: text.to_owned(),
                        port: p.to_owned(),
                    })
                }
            },
        };
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.parse::<IpAddr>().is_err() && !is_host_name(&host) {
            return Err(TargetError::BadHost {
                text: text.to_owned(),
                host,
            });
        }
        Ok(TlsTarget { host, port })
    }
}

impl std::fmt::Display for TlsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TlsTarget, TargetError> {
        text.parse()
    }

    fn target(host: &str, port: u16) -> TlsTarget {
        TlsTarget {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("www.example.ca"), Ok(target("www.example.ca", 443)));
        assert_eq!(
            parse("WWW.Example.CA.:8443"),
            Ok(target("www.example.ca", 8443))
        );
        assert_eq!(parse("192.0.2.1:443"), Ok(target("192.0.2.1", 443)));
        assert_eq!(parse("192.0.2.1"), Ok(target("192.0.2.1", 443)));
        assert_eq!(parse("[::1]:8443"), Ok(target("::1", 8443)));
        assert_eq!(parse("[2001:db8::1]"), Ok(target("2001:db8::1", 443)));
        assert_eq!(parse("::1"), Ok(target("::1", 443)));
        assert_eq!(
            parse(" mail.example.ca:587 "),
            Ok(target("mail.example.ca", 587))
        );
    }

    #[test]
    fn rejects_what_is_not_a_target_and_says_why() {
        assert_eq!(parse(""), Err(TargetError::Empty));
        assert!(matches!(parse("host:0"), Err(TargetError::BadPort { .. })));
        assert!(matches!(
            parse("host:65536"),
            Err(TargetError::BadPort { .. })
        ));
        assert!(matches!(
            parse("host:+443"),
            Err(TargetError::BadPort { .. })
        ));
        assert!(matches!(parse("host:"), Err(TargetError::BadPort { .. })));
        assert!(matches!(
            parse("2001:db8::1:443x"),
            Err(TargetError::UnbracketedIpv6 { .. })
        ));
        assert!(matches!(
            parse("[not-v6]:443"),
            Err(TargetError::BadHost { .. })
        ));
        assert!(matches!(
            parse("[::1]443"),
            Err(TargetError::BadHost { .. })
        ));
        assert!(matches!(
            parse("bad host:443"),
            Err(TargetError::BadHost { .. })
        ));
        assert!(matches!(
            parse("-bad.example"),
            Err(TargetError::BadHost { .. })
        ));
        assert!(matches!(parse("a..b"), Err(TargetError::BadHost { .. })));
        let message = parse("host:99999").unwrap_err().to_string();
        assert!(
            message.contains("99999") && message.contains("port"),
            "{message}"
        );
    }

    #[test]
    fn displays_as_host_port_with_brackets_for_ipv6() {
        assert_eq!(
            target("www.example.ca", 443).to_string(),
            "www.example.ca:443"
        );
        assert_eq!(target("::1", 8443).to_string(), "[::1]:8443");
        for text in ["www.example.ca:443", "[::1]:8443", "127.0.0.1:1"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }
}
