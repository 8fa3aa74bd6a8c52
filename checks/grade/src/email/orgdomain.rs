//! Organizational domains (RFC 7489 §3.2) from the Public Suffix List.
//!
//! The list is compiled into the `psl` crate, which republishes itself whenever the
//! upstream list changes (it is versioned `2.1.<n>`, one release per list update). To
//! refresh the list bundled in Vigie: `cargo update -p psl`, run the tests, commit
//! `Cargo.lock`. No list is downloaded at run time: the agent works offline.

/// The organizational domain of `domain`: its registrable domain (public suffix plus one
/// label), lowercase. `None` for a public suffix itself or a name that is not a domain.
pub fn organizational_domain(domain: &str) -> Option<String> {
    let name = normalize(domain);
    psl::domain_str(&name).map(str::to_owned)
}

/// Whether two names belong to different organizational domains, so that reports sent
/// from one to the other need the destination's consent (RFC 7489 §7.1). Names that have
/// no organizational domain are compared as written.
pub fn is_external(domain: &str, destination: &str) -> bool {
    let org = |d: &str| organizational_domain(d).unwrap_or_else(|| normalize(d));
    org(domain) != org(destination)
}

/// The TXT name at which `destination` authorizes reports about `domain`:
/// `<domain>._report._dmarc.<destination>`.
pub fn report_authorization_name(domain: &str, destination: &str) -> String {
    format!(
        "{}._report._dmarc.{}",
        normalize(domain),
        normalize(destination)
    )
}

/// A name as looked up: lowercase, no trailing dot.
fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizational_domains() {
        assert_eq!(
            organizational_domain("Mail.Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            organizational_domain("a.b.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(
            organizational_domain("www.city.gc.ca").as_deref(),
            Some("city.gc.ca")
        );
        assert_eq!(
            organizational_domain("example.qc.ca").as_deref(),
            Some("example.qc.ca")
        );
        assert_eq!(organizational_domain("co.uk"), None);
    }

    #[test]
    fn external_destinations_and_query_name() {
        assert!(!is_external("mail.example.com", "example.com"));
        assert!(is_external("example.com", "vendor.example.net"));
        assert_eq!(
            report_authorization_name("Example.com.", "reports.vendor.net"),
            "example.com._report._dmarc.reports.vendor.net"
        );
    }
}
