//! Who a connection or a request comes from, for what the collector counts per source (open
//! connections, failed logins).

use std::net::{IpAddr, Ipv6Addr};

/// The key a peer address is counted under: an IPv4 address (IPv4-mapped IPv6 included) as
/// is, an IPv6 address by its /64, the block one host or one home usually holds whole, so
/// that one client cannot escape a limit by walking its own block.
pub fn source_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}
