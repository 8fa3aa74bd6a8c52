//! The scope allowlist: the only addresses and names a service scan may touch.
//!
//! Entries are parsed once into addresses, networks, names and wildcards. Containment never
//! resolves a name: a host name is in scope only if a name entry covers it, and an address
//! only if a network entry does. A scan that resolves a name must check each address too.
//!
//! For a service scan the addresses decide, through one function, [`Scope::contains_ip`]:
//! [`expand`] turns targets (address, CIDR, host name) into the addresses to scan and
//! refuses the whole run, before any packet, if one of them is outside the allowlist
//! (given, inside a given CIDR, or resolved from a name) or if there are more than the cap.
//! A name entry never admits an address, because a DNS answer can point anywhere.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::dns::is_host_name;

/// Why a scope entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Neither an address, a CIDR, a host name nor a `*.` wildcard.
    #[error(
        "scope entry `{entry}` is not an address, CIDR, host name or *.domain wildcard: {reason}"
    )]
    Invalid { entry: String, reason: String },
    /// A service scan target that is neither an address, a CIDR nor a host name.
    #[error("service target `{target}` is not an address, CIDR or host name: {reason}")]
    InvalidTarget { target: String, reason: String },
    /// An address (given, or inside a given CIDR) that no network entry of the allowlist holds.
    #[error("{address} (from target `{target}`) is outside the scope allowlist; add it or its network to [scope] allow, or scan something inside it")]
    OutsideAllowlist { target: String, address: IpAddr },
    /// A host name that resolved to an address no network entry holds.
    #[error("{name} resolved to {address}, which is outside the scope allowlist; nothing was scanned. Add that address or its network to [scope] allow if it is yours")]
    ResolvedOutside { name: String, address: IpAddr },
    /// More addresses than one run may scan.
    #[error("the targets expand to at least {count} addresses, more than the cap of {cap} per run (first over the cap: {address}); scan smaller networks or raise the cap")]
    OverCap {
        count: u128,
        cap: usize,
        address: IpAddr,
    },
}

/// One entry of `[scope] allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeEntry {
    /// An address (as a /32 or /128) or a CIDR network.
    Network(IpNet),
    /// Exactly this host name (lowercase, no trailing dot).
    Host(String),
    /// Every name strictly below this domain, at any depth: `*.example.ca` holds
    /// `www.example.ca` and `a.b.example.ca`, not `example.ca` itself.
    Wildcard(String),
}

impl std::str::FromStr for ScopeEntry {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let entry = text.trim();
        let invalid = |reason: &str| ScopeError::Invalid {
            entry: text.to_owned(),
            reason: reason.to_owned(),
        };
        if entry.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some((address, prefix)) = entry.split_once('/') {
            let address: IpAddr = address
                .parse()
                .map_err(|_| invalid("the part before `/` is not an IP address"))?;
            let prefix: u8 = prefix
                .parse()
                .map_err(|_| invalid("the prefix length after `/` is not a number"))?;
            let net = IpNet::new(address, prefix).map_err(|_| {
                invalid("the prefix length is too long (at most 32 for IPv4, 128 for IPv6)")
            })?;
            if net.trunc() != net {
                return Err(invalid(&format!(
                    "host bits are set after the /{prefix}; did you mean {}?",
                    net.trunc()
                )));
            }
            return Ok(ScopeEntry::Network(net));
        }
        let bare = entry
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(entry);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(ScopeEntry::Network(IpNet::from(ip.to_canonical())));
        }
        let name = entry.trim_end_matches('.').to_ascii_lowercase();
        if let Some(domain) = name.strip_prefix("*.") {
            if !is_host_name(domain) {
                return Err(invalid("the part after `*.` is not a domain name"));
            }
            if !domain.contains('.') {
                return Err(invalid(
                    "a wildcard must name a domain with at least two labels, e.g. *.example.ca",
                ));
            }
            return Ok(ScopeEntry::Wildcard(domain.to_owned()));
        }
        if name.contains('*') {
            return Err(invalid(
                "`*` is only allowed as the first label, e.g. *.example.ca",
            ));
        }
        if !is_host_name(&name) {
            return Err(invalid(
                "a host name is made of letters, digits and `-` in dot-separated labels",
            ));
        }
        Ok(ScopeEntry::Host(name))
    }
}

impl std::fmt::Display for ScopeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeEntry::Network(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", net.addr())
            }
            ScopeEntry::Network(net) => write!(f, "{net}"),
            ScopeEntry::Host(name) => f.write_str(name),
            ScopeEntry::Wildcard(domain) => write!(f, "*.{domain}"),
        }
    }
}

/// The allowlist. Empty allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    entries: Vec<ScopeEntry>,
}

impl Scope {
    /// Parses entries such as `203.0.113.0/28`, `192.0.2.7`, `2001:db8::/48`, `example.ca`,
    /// `*.example.ca`; the first bad one is an error that names it and says why.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Scope, ScopeError> {
        let entries = items
            .iter()
            .map(|item| item.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scope::from_entries(entries))
    }

    /// A scope of already parsed entries.
    pub fn from_entries(entries: Vec<ScopeEntry>) -> Scope {
        Scope { entries }
    }

    /// The entries, in the order given.
    pub fn entries(&self) -> &[ScopeEntry] {
        &self.entries
    }

    /// Whether the allowlist is empty (and so allows nothing).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a network entry holds this address (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.entries.iter().any(|entry| match entry {
            ScopeEntry::Network(net) => net.contains(&ip),
            _ => false,
        })
    }

    /// Whether a whole network lies inside one network entry.
    pub fn contains_network(&self, network: &IpNet) -> bool {
        self.entries.iter().any(|entry| match entry {
            ScopeEntry::Network(net) => net.contains(network),
            _ => false,
        })
    }

    /// Whether a host is in scope: an IP literal by [`Scope::contains_ip`], a name by an
    /// exact or wildcard name entry (case-insensitive, trailing dot ignored). Names are never
    /// resolved here.
    pub fn contains_host(&self, host: &str) -> bool {
        let bare = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.contains_ip(ip);
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        if !is_host_name(&name) {
            return false;
        }
        self.entries.iter().any(|entry| match entry {
            ScopeEntry::Host(allowed) => *allowed == name,
            ScopeEntry::Wildcard(domain) => name
                .strip_suffix(domain.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
            ScopeEntry::Network(_) => false,
        })
    }
}

/// How many addresses one run may scan unless the caller says otherwise.
pub const DEFAULT_MAX_ADDRESSES: usize = 1024;

/// One target of a service scan, as typed: an address, a CIDR or a host name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServiceTarget {
    Address(IpAddr),
    Network(IpNet),
    /// Lowercase, without a trailing dot.
    Host(String),
}

impl std::str::FromStr for ServiceTarget {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| ScopeError::InvalidTarget {
            target: text.to_owned(),
            reason,
        };
        match text.parse::<ScopeEntry>() {
            Ok(ScopeEntry::Network(net))
                if net.prefix_len() == net.max_prefix_len() && !text.contains('/') =>
            {
                Ok(ServiceTarget::Address(net.addr()))
            }
            Ok(ScopeEntry::Network(net)) => Ok(ServiceTarget::Network(net)),
            Ok(ScopeEntry::Host(name)) => Ok(ServiceTarget::Host(name)),
            Ok(ScopeEntry::Wildcard(_)) => Err(invalid(
                "a wildcard cannot be scanned: name the hosts or give their network".to_owned(),
            )),
            Err(ScopeError::Invalid { reason, .. }) => Err(invalid(reason)),
            Err(other) => Err(other),
        }
    }
}

impl std::fmt::Display for ServiceTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceTarget::Address(ip) => write!(f, "{ip}"),
            ServiceTarget::Network(net) => write!(f, "{net}"),
            ServiceTarget::Host(name) => f.write_str(name),
        }
    }
}

/// One address to scan, with the names that resolved to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanHost {
    pub address: IpAddr,
    /// The target that first named this address, as typed.
    pub target: String,
    /// Host names given as targets that resolved to this address.
    pub names: Vec<String>,
}

/// The addresses to scan for `targets`, in order and without duplicates, each checked by
/// [`Scope::contains_ip`]. `resolved` holds the addresses of each host name target (names
/// missing from it are skipped: the caller reports them as unresolved). Refuses the whole
/// list on the first address outside the scope or when there are more than `cap`.
pub fn expand(
    targets: &[ServiceTarget],
    resolved: &BTreeMap<String, Vec<IpAddr>>,
    scope: &Scope,
    cap: usize,
) -> Result<Vec<ScanHost>, ScopeError> {
    let mut hosts: Vec<ScanHost> = Vec::new();
    let mut seen: HashSet<IpAddr> = HashSet::new();
    let over_cap = |count: u128, address: IpAddr| ScopeError::OverCap {
        count,
        cap,
        address,
    };
    for target in targets {
        let label = target.to_string();
        match target {
            ServiceTarget::Address(ip) => {
                let ip = ip.to_canonical();
                if !scope.contains_ip(ip) {
                    return Err(ScopeError::OutsideAllowlist {
                        target: label,
                        address: ip,
                    });
                }
                if seen.insert(ip) {
                    if hosts.len() >= cap {
                        return Err(over_cap(hosts.len() as u128 + 1, ip));
                    }
                    hosts.push(ScanHost {
                        address: ip,
                        target: label,
                        names: Vec::new(),
                    });
                }
            }
            ServiceTarget::Network(net) => {
                // Refuse a network that cannot fit before walking it: a /8 is 16 million.
                let size = network_size(net);
                let room = cap.saturating_sub(hosts.len()) as u128;
                if size > room {
                    let first = net.hosts().next().unwrap_or(net.addr());
                    return Err(over_cap(hosts.len() as u128 + size, first));
                }
                for ip in net.hosts() {
                    if !scope.contains_ip(ip) {
                        return Err(ScopeError::OutsideAllowlist {
                            target: label,
                            address: ip,
                        });
                    }
                    if seen.insert(ip) {
                        hosts.push(ScanHost {
                            address: ip,
                            target: label.clone(),
                            names: Vec::new(),
                        });
                    }
                }
            }
            ServiceTarget::Host(name) => {
                let Some(addresses) = resolved.get(name) else {
                    continue;
                };
                for ip in addresses {
                    let ip = ip.to_canonical();
                    if !scope.contains_ip(ip) {
                        return Err(ScopeError::ResolvedOutside {
                            name: name.clone(),
                            address: ip,
                        });
                    }
                    if let Some(host) = hosts.iter_mut().find(|host| host.address == ip) {
                        if !host.names.contains(name) {
                            host.names.push(name.clone());
                        }
                        continue;
                    }
                    if hosts.len() >= cap {
                        return Err(over_cap(hosts.len() as u128 + 1, ip));
                    }
                    seen.insert(ip);
                    hosts.push(ScanHost {
                        address: ip,
                        target: label.clone(),
                        names: vec![name.clone()],
                    });
                }
            }
        }
    }
    Ok(hosts)
}

/// How many addresses [`IpNet::hosts`] yields: IPv4 leaves out the network and broadcast
/// addresses of networks larger than /31.
fn network_size(net: &IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let size = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
    match net {
        IpNet::V4(_) if bits >= 2 => size - 2,
        _ => size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn scope() -> Scope {
        Scope::parse(&[
            "203.0.113.0/28",
            "192.0.2.7",
            "2001:db8:1::/48",
            "Example.CA.",
            "*.example.org",
        ])
        .unwrap()
    }

    #[test]
    fn addresses_are_in_scope_only_inside_a_network_entry() {
        let scope = scope();
        assert!(scope.contains_ip(ip("203.0.113.0")));
        assert!(scope.contains_ip(ip("203.0.113.15")));
        assert!(!scope.contains_ip(ip("203.0.113.16")));
        assert!(scope.contains_ip(ip("192.0.2.7")));
        assert!(!scope.contains_ip(ip("192.0.2.8")));
        assert!(scope.contains_ip(ip("2001:db8:1:ffff::1")));
        assert!(!scope.contains_ip(ip("2001:db8:2::1")));
        assert!(scope.contains_ip(ip("::ffff:203.0.113.3")), "IPv4-mapped");
        assert!(
            !Scope::default().contains_ip(ip("127.0.0.1")),
            "empty allows nothing"
        );
    }

    #[test]
    fn networks_are_in_scope_only_when_wholly_inside_an_entry() {
        let scope = scope();
        assert!(scope.contains_network(&"203.0.113.8/29".parse().unwrap()));
        assert!(scope.contains_network(&"203.0.113.0/28".parse().unwrap()));
        assert!(!scope.contains_network(&"203.0.113.0/27".parse().unwrap()));
        assert!(!scope.contains_network(&"198.51.100.0/28".parse().unwrap()));
    }

    #[test]
    fn names_match_exactly_or_strictly_below_a_wildcard() {
        let scope = scope();
        assert!(scope.contains_host("example.ca"));
        assert!(scope.contains_host("EXAMPLE.ca."));
        assert!(!scope.contains_host("www.example.ca"), "exact entry only");
        assert!(scope.contains_host("www.example.org"));
        assert!(scope.contains_host("a.b.example.org"));
        assert!(
            !scope.contains_host("example.org"),
            "the wildcard's own domain"
        );
        assert!(!scope.contains_host("badexample.org"), "label boundary");
        assert!(!scope.contains_host("example.org.evil.test"));
        assert!(scope.contains_host("203.0.113.5"));
        assert!(scope.contains_host("[2001:db8:1::5]"));
        assert!(!scope.contains_host("198.51.100.1"));
        assert!(!scope.contains_host(""));
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        for (bad, hint) in [
            ("203.0.113.5/28", "203.0.113.0/28"),
            ("203.0.113.0/33", "too long"),
            ("203.0.113.0/x", "prefix length"),
            ("300.1.2.3/24", "IP address"),
            ("*", "domain"),
            ("*.ca", "two labels"),
            ("www.*.example.ca", "first label"),
            ("bad host", "host name"),
            ("", "empty"),
        ] {
            let error = Scope::parse(&[bad]).unwrap_err().to_string();
            assert!(error.contains(hint), "{bad:?}: {error}");
            assert!(error.contains(&format!("`{bad}`")), "{bad:?}: {error}");
        }
    }

    #[test]
    fn entries_display_as_written() {
        let shown: Vec<String> = scope().entries().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "203.0.113.0/28",
                "192.0.2.7",
                "2001:db8:1::/48",
                "example.ca",
                "*.example.org"
            ]
        );
    }
}
