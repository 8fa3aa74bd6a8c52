//! DMARC records (RFC 7489, and the tags DMARCbis adds: `np`, `t`, `psd`).
//!
//! Parsed the way receivers read them: tag names and values are case-insensitive, spaces
//! around `;` and `=` are ignored, a trailing `;` is fine. Problems that receivers skip over
//! (an unknown tag, a bad `pct`) do not reject the record; they are listed in
//! [`DmarcRecord::problems`] so the report can show them.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DmarcError {
    /// The text does not start with `v=DMARC1`: receivers ignore it.
    #[error("the record does not start with `v=DMARC1`")]
    NotDmarc,
    /// A `v=DMARC1` tag exists but is not first (RFC 7489 §6.4): receivers ignore it.
    #[error("`v=DMARC1` must be the first tag")]
    VersionNotFirst,
}

/// One thing wrong in a record that receivers nevertheless use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DmarcProblem {
    UnknownTag {
        tag: String,
    },
    BadValue {
        tag: String,
        value: String,
    },
    DuplicateTag {
        tag: String,
    },
    MissingPolicy,
    /// Text that is not `tag=value`.
    Malformed {
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    fn parse(s: &str) -> Option<Policy> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    Relaxed,
    Strict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicSuffixDomain {
    Yes,
    No,
    Unknown,
}

/// A `rua`/`ruf` destination: `mailto:dmarc@example.net!10m`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUri {
    pub uri: String,
    /// The size limit suffix as written (`10m`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<String>,
}

impl ReportUri {
    /// The domain of a `mailto:` address, lowercased; `None` for other schemes.
    pub fn mailto_domain(&self) -> Option<String> {
        let (scheme, rest) = self.uri.split_once(':')?;
        if !scheme.eq_ignore_ascii_case("mailto") {
            return None;
        }
        let address = rest.split('?').next().unwrap_or(rest);
        let (_, domain) = address.rsplit_once('@')?;
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        (!domain.is_empty()).then_some(domain)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DmarcRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdomain_policy: Option<Policy>,
    /// `np`: policy for non-existent subdomains (DMARCbis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonexistent_policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pct: Option<u8>,
    pub rua: Vec<ReportUri>,
    pub ruf: Vec<ReportUri>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adkim: Option<Alignment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspf: Option<Alignment>,
    pub fo: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ri: Option<u32>,
    /// `t=y`: testing mode (DMARCbis), the DMARCbis replacement for `pct=0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub testing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psd: Option<PublicSuffixDomain>,
    pub problems: Vec<DmarcProblem>,
}

/// Splits `v = DMARC1 ; p=…` into trimmed `(tag, value)` pairs; `None` value for text
/// without `=`.
fn tags(txt: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    txt.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (t, None),
        })
}

/// Whether a TXT string is a DMARC record (first tag `v=DMARC1`).
pub fn is_dmarc(txt: &str) -> bool {
    matches!(tags(txt).next(), Some((k, Some(v))) if k.eq_ignore_ascii_case("v") && v.eq_ignore_ascii_case("DMARC1"))
}

impl DmarcRecord {
    pub fn parse(txt: &str) -> Result<DmarcRecord, DmarcError> {
        if !is_dmarc(txt) {
            let later = tags(txt).skip(1).any(|(k, v)| {
                k.eq_ignore_ascii_case("v") && v.is_some_and(|v| v.eq_ignore_ascii_case("DMARC1"))
            });
            return Err(if later {
                DmarcError::VersionNotFirst
            } else {
                DmarcError::NotDmarc
            });
        }
        let mut record = DmarcRecord::default();
        let mut seen: Vec<String> = Vec::new();
        for (tag, value) in tags(txt).skip(1) {
            let Some(value) = value else {
                record
                    .problems
                    .push(DmarcProblem::Malformed { text: tag.into() });
                continue;
            };
            let name = tag.to_ascii_lowercase();
            if seen.contains(&name) {
                record
                    .problems
                    .push(DmarcProblem::DuplicateTag { tag: name.clone() });
                continue;
            }
            seen.push(name.clone());
            let bad = || DmarcProblem::BadValue {
                tag: name.clone(),
                value: value.into(),
            };
            let lower = value.to_ascii_lowercase();
            let ok = match name.as_str() {
                "p" => set(&mut record.policy, Policy::parse(value)),
                "sp" => set(&mut record.subdomain_policy, Policy::parse(value)),
                "np" => set(&mut record.nonexistent_policy, Policy::parse(value)),
                "pct" => set(
                    &mut record.pct,
                    value.parse::<u8>().ok().filter(|p| *p <= 100),
                ),
                "adkim" => set(&mut record.adkim, alignment(&lower)),
                "aspf" => set(&mut record.aspf, alignment(&lower)),
                "ri" => set(&mut record.ri, value.parse::<u32>().ok()),
                "t" => set(
                    &mut record.testing,
                    match lower.as_str() {
                        "y" => Some(true),
                        "n" => Some(false),
                        _ => None,
                    },
                ),
                "psd" => set(
                    &mut record.psd,
                    match lower.as_str() {
                        "y" => Some(PublicSuffixDomain::Yes),
                        "n" => Some(PublicSuffixDomain::No),
                        "u" => Some(PublicSuffixDomain::Unknown),
                        _ => None,
                    },
                ),
                "fo" => {
                    let options: Vec<String> =
                        lower.split(':').map(|o| o.trim().to_owned()).collect();
                    let valid = options
                        .iter()
                        .all(|o| matches!(o.as_str(), "0" | "1" | "d" | "s"));
                    if valid {
                        record.fo = options;
                    }
                    valid
                }
                "rua" | "ruf" => match parse_uris(value) {
                    Some(uris) => {
                        if name == "rua" {
                            record.rua = uris;
                        } else {
                            record.ruf = uris;
                        }
                        true
                    }
                    None => false,
                },
                // `rf` (RFC 7489, removed by DMARCbis): only `afrf` was ever defined.
                "rf" => lower.split(':').all(|f| f.trim() == "afrf"),
                _ => {
                    record
                        .problems
                        .push(DmarcProblem::UnknownTag { tag: name.clone() });
                    true
                }
            };
            if !ok {
                record.problems.push(bad());
            }
        }
        if record.policy.is_none() && !seen.iter().any(|t| t == "p") {
            record.problems.push(DmarcProblem::MissingPolicy);
        }
        Ok(record)
    }

    /// The policy that applies to mail from a subdomain of the domain that published this
    /// record: `sp`, or `p` when `sp` is absent.
    pub fn effective_subdomain_policy(&self) -> Option<Policy> {
        self.subdomain_policy.or(self.policy)
    }

    /// The percentage of mail the policy applies to (default 100).
    pub fn effective_pct(&self) -> u8 {
        self.pct.unwrap_or(100)
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match value {
        Some(v) => {
            *slot = Some(v);
            true
        }
        None => false,
    }
}

fn alignment(s: &str) -> Option<Alignment> {
    match s {
        "r" => Some(Alignment::Relaxed),
        "s" => Some(Alignment::Strict),
        _ => None,
    }
}

/// `uri[!size[kmgt]], …`; `None` if any element is not a URI.
fn parse_uris(value: &str) -> Option<Vec<ReportUri>> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (uri, max_size) = match part.rsplit_once('!') {
            Some((uri, size)) => {
                let digits = size.trim_end_matches(|c: char| "kmgtKMGT".contains(c));
                let unit_len = size.len() - digits.len();
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || unit_len > 1
                {
                    return None;
                }
                (uri, Some(size.to_ascii_lowercase()))
            }
            None => (part, None),
        };
        let (scheme, rest) = uri.split_once(':')?;
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok || rest.is_empty() || uri.contains(char::is_whitespace) {
            return None;
        }
        if scheme.eq_ignore_ascii_case("mailto") && !rest.contains('@') {
            return None;
        }
        out.push(ReportUri {
            uri: uri.to_owned(),
            max_size,
        });
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_record() {
        let r = DmarcRecord::parse(
            "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:dmarc@example.com,mailto:x@vendor.example!10m; ruf=mailto:f@example.com; adkim=s; aspf=r; fo=1:d; ri=3600",
        )
        .unwrap();
        assert_eq!(r.policy, Some(Policy::Reject));
        assert_eq!(r.subdomain_policy, Some(Policy::Quarantine));
        assert_eq!(r.effective_pct(), 50);
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[1].max_size.as_deref(), Some("10m"));
        assert_eq!(r.rua[1].mailto_domain().as_deref(), Some("vendor.example"));
        assert_eq!(r.adkim, Some(Alignment::Strict));
        assert_eq!(r.fo, vec!["1", "d"]);
        assert_eq!(r.ri, Some(3600));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn odd_spacing_and_case_are_tolerated() {
        let r =
            DmarcRecord::parse("v = dmarc1 ;P = Quarantine;  RUA=MAILTO:Reports@Example.COM ; ;")
                .unwrap();
        assert_eq!(r.policy, Some(Policy::Quarantine));
        assert_eq!(r.rua[0].mailto_domain().as_deref(), Some("example.com"));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.effective_subdomain_policy(), Some(Policy::Quarantine));
    }

    #[test]
    fn dmarcbis_tags() {
        let r = DmarcRecord::parse("v=DMARC1; p=reject; np=reject; t=y; psd=n").unwrap();
        assert_eq!(r.nonexistent_policy, Some(Policy::Reject));
        assert_eq!(r.testing, Some(true));
        assert_eq!(r.psd, Some(PublicSuffixDomain::No));
        assert!(r.problems.is_empty());
    }

    #[test]
    fn problems_are_listed_not_fatal() {
        let r = DmarcRecord::parse(
            "v=DMARC1; p=rejet; pct=150; foo=bar; rua=dmarc@example.com; adkim=x; junk; p=none",
        )
        .unwrap();
        assert_eq!(r.policy, None);
        assert_eq!(r.pct, None);
        assert!(r.rua.is_empty());
        let expected = [
            DmarcProblem::BadValue {
                tag: "p".into(),
                value: "rejet".into(),
            },
            DmarcProblem::BadValue {
                tag: "pct".into(),
                value: "150".into(),
            },
            DmarcProblem::UnknownTag { tag: "foo".into() },
            DmarcProblem::BadValue {
                tag: "rua".into(),
                value: "dmarc@example.com".into(),
            },
            DmarcProblem::BadValue {
                tag: "adkim".into(),
                value: "x".into(),
            },
            DmarcProblem::Malformed {
                text: "junk".into(),
            },
            DmarcProblem::DuplicateTag { tag: "p".into() },
        ];
        assert_eq!(r.problems, expected);
        let r = DmarcRecord::parse("v=DMARC1; rua=mailto:a@example.com").unwrap();
        assert_eq!(r.problems, vec![DmarcProblem::MissingPolicy]);
    }

    #[test]
    fn version_must_come_first() {
        assert_eq!(
            DmarcRecord::parse("p=reject; v=DMARC1"),
            Err(DmarcError::VersionNotFirst)
        );
        assert_eq!(DmarcRecord::parse("v=spf1 -all"), Err(DmarcError::NotDmarc));
        assert_eq!(
            DmarcRecord::parse("v=DMARC2; p=reject"),
            Err(DmarcError::NotDmarc)
        );
        assert!(!is_dmarc(""));
    }

    #[test]
    fn size_suffix_must_be_a_number_and_one_unit() {
        assert!(parse_uris("mailto:a@example.com!10mm").is_none());
        assert!(parse_uris("mailto:a@example.com!m").is_none());
        assert!(parse_uris("mailto:a@example.com!50").is_some());
        assert!(parse_uris("https://reports.example.com/dmarc").is_some());
    }
}
