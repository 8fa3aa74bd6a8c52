//! `[email]`: the mail domains to check, and the syntax of domains and DKIM selectors.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::values::{de_concurrency, de_duration, default_probe_timeout, parse_list};
use super::{DEFAULT_EMAIL_CONCURRENCY, DEFAULT_PROBE_TIMEOUT};

/// `[email]`: mail domains whose SPF, DMARC, DKIM, MTA-STS, TLS-RPT, DNSSEC and CAA to check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Mail domains to check, e.g. `example.ca` (validated, lowercased, final dot dropped).
    #[serde(default, deserialize_with = "de_domains")]
    pub domains: Vec<String>,
    /// DKIM selectors to look up besides the common ones.
    #[serde(default, deserialize_with = "de_selectors")]
    pub dkim_selectors: Vec<String>,
    /// Whether to probe the MX hosts' STARTTLS on port 25 (often filtered). Default false.
    /// Not performed by this version (a warning says so).
    #[serde(default)]
    pub smtp_probe: bool,
    /// Bound on each DNS query and on the MTA-STS policy fetch. Default `5s`.
    #[serde(default = "default_probe_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// How many domains are probed at once (1–1024). Default 4.
    #[serde(
        default = "default_email_concurrency",
        deserialize_with = "de_concurrency"
    )]
    pub concurrency: usize,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            domains: Vec::new(),
            dkim_selectors: Vec::new(),
            smtp_probe: false,
            timeout: DEFAULT_PROBE_TIMEOUT,
            concurrency: DEFAULT_EMAIL_CONCURRENCY,
        }
    }
}

fn default_email_concurrency() -> usize {
    DEFAULT_EMAIL_CONCURRENCY
}

fn de_domains<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    parse_list(
        deserializer,
        parse_domain,
        "mail domains such as \"example.ca\"",
    )
}

fn de_selectors<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    parse_list(
        deserializer,
        parse_dkim_selector,
        "DKIM selectors such as \"selector1\"",
    )
}

/// A mail domain as written by a person: `example.ca` or `Example.CA.`, returned lowercased
/// without the final dot. Two labels at least, each 1–63 of `a-z 0-9 -` not starting or
/// ending with `-`, 253 characters at most. An address, a URL or an e-mail address is
/// refused with a hint.
pub fn parse_domain(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let name = trimmed
        .strip_suffix('.')
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    let hint = "give a domain name such as example.ca";
    if name.is_empty() {
        return Err(format!("the domain is empty: {hint}"));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "`{trimmed}` is an address, not a domain: {hint} (the mail domain, not a server)"
        ));
    }
    if name.contains("://") || name.contains('/') {
        return Err(format!("`{trimmed}` is a URL, not a domain: {hint}"));
    }
    if name.contains('@') {
        return Err(format!(
            "`{trimmed}` is an e-mail address: give only the part after @"
        ));
    }
    if !name.is_ascii() {
        return Err(format!(
            "`{trimmed}` has non-ASCII letters: give its ASCII form (xn--…), e.g. from `idn2`"
        ));
    }
    if name.len() > 253 {
        return Err(format!(
            "`{trimmed}` is longer than the 253 characters a domain name may have"
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        let valid = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "`{trimmed}` is not a valid domain name: each part between dots must be 1 to 63 letters, digits or `-`, not starting or ending with `-`; {hint}"
            ));
        }
    }
    if labels.len() < 2 {
        return Err(format!(
            "`{trimmed}` has a single label: {hint} (a name with at least one dot)"
        ));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{trimmed}` ends in a number: {hint} (the mail domain, not a server address)"
        ));
    }
    Ok(name)
}

/// A DKIM selector (RFC 6376 §3.1): one or more dot-separated labels of `a-z 0-9 - _`,
/// returned lowercased.
pub fn parse_dkim_selector(text: &str) -> Result<String, String> {
    let selector = text.trim().to_ascii_lowercase();
    let valid = !selector.is_empty()
        && selector.len() <= 200
        && selector.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    if valid {
        Ok(selector)
    } else {
        Err(format!(
            "`{text}` is not a DKIM selector: use letters, digits, `-` or `_`, in parts separated by dots, e.g. selector1 (the name before ._domainkey.)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_and_malformed_ones_refused() {
        assert_eq!(parse_domain("Example.CA."), Ok("example.ca".to_owned()));
        assert_eq!(
            parse_domain(" mail-1.example.org "),
            Ok("mail-1.example.org".to_owned())
        );
        for bad in [
            "",
            ".",
            "example",
            "192.0.2.1",
            "::1",
            "https://example.ca",
            "admin@example.ca",
            "exa mple.ca",
            "-bad.example.ca",
            "bad-.example.ca",
            "a..b",
            "étoile.ca",
            "example.123",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_domain(&format!("{}.ca", "a".repeat(64))).is_err());
        assert!(parse_domain("admin@example.ca")
            .unwrap_err()
            .contains("after @"));
    }

    #[test]
    fn dkim_selectors_are_dns_labels() {
        assert_eq!(parse_dkim_selector("Selector1"), Ok("selector1".to_owned()));
        assert_eq!(parse_dkim_selector("s1.eu_2"), Ok("s1.eu_2".to_owned()));
        for bad in ["", "a b", "a..b", "x._domainkey.example.ca/", "sel@"] {
            assert!(parse_dkim_selector(bad).is_err(), "{bad:?} accepted");
        }
    }
}
