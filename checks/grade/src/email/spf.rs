//! SPF records (RFC 7208): a typed parse of one `v=spf1` TXT record.
//!
//! The parser is strict where receivers return `permerror` (unknown mechanisms, bad
//! macros, out-of-range CIDR lengths, duplicate `redirect`/`exp`) and tolerant where they
//! are (case of names, runs of spaces), so that a record we accept is one that receivers
//! accept too.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

pub use vigie_model::observation::email::SpfError;

/// The limits of RFC 7208 §4.6.4, past which receivers return `permerror`.
/// The limit of DNS-querying terms (§4.6.4).
pub const LOOKUP_LIMIT: u32 = 10;
/// The limit of void lookups (§4.6.4).
pub const VOID_LIMIT: u32 = 2;
/// The limit of MX names one `mx` term may return (§4.6.4).
pub const MX_LIMIT: usize = 10;

/// The result a directive gives when its mechanism matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Qualifier {
    /// `+` (the default): pass.
    Pass,
    /// `-`: fail.
    Fail,
    /// `~`: softfail.
    SoftFail,
    /// `?`: neutral.
    Neutral,
}

impl Qualifier {
    pub fn symbol(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

/// A `domain-spec`: a domain name that may contain macros (`%{d}`), validated per §7.1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DomainSpec(String);

impl DomainSpec {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name contains macros, so that it can only be known at evaluation time
    /// for a given message.
    pub fn has_macros(&self) -> bool {
        self.0.contains('%')
    }
}

impl fmt::Display for DomainSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The optional `/n` (IPv4) and `//n` (IPv6) prefix lengths of `a` and `mx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DualCidr {
    pub ip4: Option<u8>,
    pub ip6: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mechanism", rename_all = "snake_case")]
pub enum Mechanism {
    All,
    Include {
        domain: DomainSpec,
    },
    A {
        domain: Option<DomainSpec>,
        cidr: DualCidr,
    },
    Mx {
        domain: Option<DomainSpec>,
        cidr: DualCidr,
    },
    Ptr {
        domain: Option<DomainSpec>,
    },
    Ip4 {
        network: Ipv4Addr,
        prefix: Option<u8>,
    },
    Ip6 {
        network: Ipv6Addr,
        prefix: Option<u8>,
    },
    Exists {
        domain: DomainSpec,
    },
}

impl Mechanism {
    /// Whether evaluating this mechanism queries DNS, so that it counts towards the limit
    /// of 10 (§4.6.4). `redirect` counts too but is a modifier.
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include { .. }
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr { .. }
                | Mechanism::Exists { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "modifier", rename_all = "snake_case")]
pub enum Modifier {
    Redirect {
        domain: DomainSpec,
    },
    Exp {
        domain: DomainSpec,
    },
    /// Unknown modifiers are ignored by receivers (§6) but must be syntactically valid.
    Unknown {
        name: String,
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TermKind {
    Directive(Directive),
    Modifier(Modifier),
}

/// One term, with its text as published (for evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub text: String,
    #[serde(flatten)]
    pub kind: TermKind,
}

/// A parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpfRecord {
    pub terms: Vec<Term>,
}

/// Whether a TXT string is an SPF record at all (§4.5: `v=spf1` followed by a space or the
/// end), which decides whether it counts for "several records".
pub fn is_spf(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t.is_char_boundary(6)
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && t[6..].chars().next().is_none_or(|c| c == ' ')
}

impl SpfRecord {
    /// Parses a record; the whole TXT (strings already concatenated) is expected.
    pub fn parse(txt: &str) -> Result<SpfRecord, SpfError> {
        if !is_spf(txt) {
            return Err(SpfError::NotSpf);
        }
        let rest = &txt.trim_start()[6..];
        let mut terms = Vec::new();
        let mut seen_redirect = false;
        let mut seen_exp = false;
        // Receivers split on spaces; runs of spaces and trailing spaces are tolerated.
        for text in rest.split(' ').filter(|t| !t.is_empty()) {
            let kind = parse_term(text)?;
            match &kind {
                TermKind::Modifier(Modifier::Redirect { .. }) if seen_redirect => {
                    return Err(SpfError::DuplicateModifier {
                        name: "redirect".into(),
                    })
                }
                TermKind::Modifier(Modifier::Exp { .. }) if seen_exp => {
                    return Err(SpfError::DuplicateModifier { name: "exp".into() })
                }
                TermKind::Modifier(Modifier::Redirect { .. }) => seen_redirect = true,
                TermKind::Modifier(Modifier::Exp { .. }) => seen_exp = true,
                _ => {}
            }
            terms.push(Term {
                text: text.to_owned(),
                kind,
            });
        }
        Ok(SpfRecord { terms })
    }

    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.terms.iter().filter_map(|t| match &t.kind {
            TermKind::Directive(d) => Some(d),
            TermKind::Modifier(_) => None,
        })
    }

    /// The `redirect=` target, if any.
    pub fn redirect(&self) -> Option<&DomainSpec> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Redirect { domain }) => Some(domain),
            _ => None,
        })
    }

    /// The qualifier of the `all` mechanism, if the record has one. Terms after `all` are
    /// never reached, and `redirect` is ignored when `all` is present (§6.1).
    pub fn all(&self) -> Option<Qualifier> {
        self.directives().find_map(|d| match d.mechanism {
            Mechanism::All => Some(d.qualifier),
            _ => None,
        })
    }

    pub fn uses_ptr(&self) -> bool {
        self.directives()
            .any(|d| matches!(d.mechanism, Mechanism::Ptr { .. }))
    }
}

fn bad(term: &str, reason: impl Into<String>) -> SpfError {
    SpfError::BadTerm {
        term: term.to_owned(),
        reason: reason.into(),
    }
}

fn parse_term(text: &str) -> Result<TermKind, SpfError> {
    // A modifier is `name=value` where `=` comes before any `:` or `/` (§4.6.1).
    let sep = text.find([':', '/', '=']);
    if let Some(i) = sep {
        if text.as_bytes()[i] == b'=' {
            return parse_modifier(text, &text[..i], &text[i + 1..]).map(TermKind::Modifier);
        }
    }
    let (qualifier, body) = match text.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &text[1..]),
        Some(b'-') => (Qualifier::Fail, &text[1..]),
        Some(b'~') => (Qualifier::SoftFail, &text[1..]),
        Some(b'?') => (Qualifier::Neutral, &text[1..]),
        _ => (Qualifier::Pass, text),
    };
    let name_end = body.find([':', '/']).unwrap_or(body.len());
    let name = body[..name_end].to_ascii_lowercase();
    let after = &body[name_end..];
    // `after` is "", ":arg…" or "/cidr…".
    let arg = after.strip_prefix(':');
    let mechanism = match name.as_str() {
        "all" => {
            if !after.is_empty() {
                return Err(bad(text, "`all` takes no argument"));
            }
            Mechanism::All
        }
        "include" | "exists" => {
            let Some(arg) = arg else {
                return Err(bad(text, format!("`{name}` needs `:domain`")));
            };
            let domain = parse_domain_spec(text, arg)?;
            if name == "include" {
                Mechanism::Include { domain }
            } else {
                Mechanism::Exists { domain }
            }
        }
        "a" | "mx" => {
            let (domain, cidr) = match arg {
                Some(arg) => {
                    let (spec, cidr) = split_dual_cidr(text, arg)?;
                    (Some(parse_domain_spec(text, spec)?), cidr)
                }
                None => {
                    let (spec, cidr) = split_dual_cidr(text, after)?;
                    if !spec.is_empty() {
                        return Err(bad(text, "unexpected text after the mechanism name"));
                    }
                    (None, cidr)
                }
            };
            if name == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        "ptr" => {
            let domain = match arg {
                Some(arg) => Some(parse_domain_spec(text, arg)?),
                None if after.is_empty() => None,
                None => return Err(bad(text, "`ptr` takes no prefix length")),
            };
            Mechanism::Ptr { domain }
        }
        "ip4" => {
            let Some(arg) = arg else {
                return Err(bad(text, "`ip4` needs `:address`"));
            };
            let (addr, prefix) = split_prefix(text, arg, 32)?;
            let network = addr
                .parse::<Ipv4Addr>()
                .map_err(|_| bad(text, format!("`{addr}` is not an IPv4 address")))?;
            Mechanism::Ip4 { network, prefix }
        }
        "ip6" => {
            let Some(arg) = arg else {
                return Err(bad(text, "`ip6` needs `:address`"));
            };
            let (addr, prefix) = split_prefix(text, arg, 128)?;
            let network = addr
                .parse::<Ipv6Addr>()
                .map_err(|_| bad(text, format!("`{addr}` is not an IPv6 address")))?;
            Mechanism::Ip6 { network, prefix }
        }
        _ => {
            return Err(SpfError::UnknownMechanism {
                term: text.to_owned(),
            })
        }
    };
    Ok(TermKind::Directive(Directive {
        qualifier,
        mechanism,
    }))
}

fn parse_modifier(text: &str, name: &str, value: &str) -> Result<Modifier, SpfError> {
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(bad(text, format!("`{name}` is not a valid modifier name")));
    }
    match name.to_ascii_lowercase().as_str() {
        "redirect" => Ok(Modifier::Redirect {
            domain: parse_domain_spec(text, value)?,
        }),
        "exp" => Ok(Modifier::Exp {
            domain: parse_domain_spec(text, value)?,
        }),
        _ => {
            validate_macro_string(text, value, false)?;
            Ok(Modifier::Unknown {
                name: name.to_owned(),
                value: value.to_owned(),
            })
        }
    }
}

/// Splits `spec/24//64` into the domain-spec and the prefix lengths. A `/` cannot occur in
/// a domain-spec except inside a macro's delimiters, so the first `/` outside `%{…}` starts
/// the lengths.
fn split_dual_cidr<'a>(term: &str, arg: &'a str) -> Result<(&'a str, DualCidr), SpfError> {
    let mut in_macro = false;
    let mut split = arg.len();
    for (i, c) in arg.char_indices() {
        match c {
            '{' if i > 0 && arg.as_bytes()[i - 1] == b'%' => in_macro = true,
            '}' => in_macro = false,
            '/' if !in_macro => {
                split = i;
                break;
            }
            _ => {}
        }
    }
    let (spec, lengths) = arg.split_at(split);
    let mut cidr = DualCidr::default();
    if lengths.is_empty() {
        return Ok((spec, cidr));
    }
    // "/24", "//64" or "/24//64".
    let (v4, v6) = match lengths.strip_prefix("//") {
        Some(v6) => (None, Some(v6)),
        None => {
            let l = &lengths[1..];
            match l.split_once("//") {
                Some((v4, v6)) => (Some(v4), Some(v6)),
                None => (Some(l), None),
            }
        }
    };
    if let Some(v4) = v4 {
        cidr.ip4 = Some(parse_length(term, v4, 32)?);
    }
    if let Some(v6) = v6 {
        cidr.ip6 = Some(parse_length(term, v6, 128)?);
    }
    Ok((spec, cidr))
}

fn split_prefix<'a>(term: &str, arg: &'a str, max: u8) -> Result<(&'a str, Option<u8>), SpfError> {
    match arg.split_once('/') {
        Some((addr, len)) => Ok((addr, Some(parse_length(term, len, max)?))),
        None => Ok((arg, None)),
    }
}

fn parse_length(term: &str, digits: &str, max: u8) -> Result<u8, SpfError> {
    // §5.6: no leading zeros, decimal, at most `max`.
    let valid = !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    let value = if valid {
        digits.parse::<u16>().ok()
    } else {
        None
    };
    match value {
        Some(v) if v <= u16::from(max) => Ok(v as u8),
        _ => Err(bad(
            term,
            format!("`/{digits}` is not a prefix length between 0 and {max}"),
        )),
    }
}

/// Validates a `domain-spec` (§7.1): a macro-string ending in a top label or a macro.
fn parse_domain_spec(term: &str, spec: &str) -> Result<DomainSpec, SpfError> {
    if spec.is_empty() {
        return Err(bad(term, "empty domain"));
    }
    validate_macro_string(term, spec, false)?;
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    if !trimmed.ends_with('}') {
        // domain-end = "." toplabel: the last label must be a host name label that is not
        // all digits, and there must be at least two labels.
        let Some((_, top)) = trimmed.rsplit_once('.') else {
            return Err(bad(
                term,
                format!("`{spec}` is not a fully qualified domain"),
            ));
        };
        let label_ok = !top.is_empty()
            && top.len() <= 63
            && top.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !top.starts_with('-')
            && !top.ends_with('-')
            && top.bytes().any(|b| b.is_ascii_alphabetic());
        if !label_ok {
            return Err(bad(
                term,
                format!("`{spec}` does not end in a valid top label"),
            ));
        }
    }
    if trimmed.split('.').any(|label| label.is_empty()) {
        return Err(bad(term, format!("`{spec}` has an empty label")));
    }
    Ok(DomainSpec(spec.to_owned()))
}

/// Validates a macro-string (§7.1). `exp` allows the letters `c`, `r`, `t`, which are
/// only meaningful in explanation strings; everywhere else they are a permerror.
pub(crate) fn validate_macro_string(
    term: &str,
    s: &str,
    explanation: bool,
) -> Result<(), SpfError> {
    let macro_err = |reason: String| SpfError::BadMacro {
        term: term.to_owned(),
        reason,
    };
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            match bytes.get(i + 1) {
                Some(b'%' | b'_' | b'-') => i += 2,
                Some(b'{') => {
                    let Some(close) = s[i + 2..].find('}') else {
                        return Err(macro_err("unterminated `%{`".into()));
                    };
                    let body = &s[i + 2..i + 2 + close];
                    let mut chars = body.chars();
                    let letter = chars.next().map(|c| c.to_ascii_lowercase());
                    match letter {
                        Some('s' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'v') => {}
                        Some('c' | 'r' | 't') if explanation => {}
                        Some(c) => return Err(macro_err(format!("unknown macro letter `{c}`"))),
                        None => return Err(macro_err("empty `%{}`".into())),
                    }
                    let rest: &str = chars.as_str();
                    let digits_end = rest
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(rest.len());
                    let (digits, rest) = rest.split_at(digits_end);
                    if digits.len() > 3 || (!digits.is_empty() && digits.parse::<u32>() == Ok(0)) {
                        return Err(macro_err(format!("bad label count `{digits}`")));
                    }
                    let rest = rest
                        .strip_prefix('r')
                        .or_else(|| rest.strip_prefix('R'))
                        .unwrap_or(rest);
                    if let Some(c) = rest.chars().find(|c| !".-+,/_=".contains(*c)) {
                        return Err(macro_err(format!("bad delimiter `{c}`")));
                    }
                    i += 2 + close + 1;
                }
                Some(c) => {
                    return Err(macro_err(format!(
                        "`%` must be followed by `{{`, `%`, `_` or `-`, not `{}`",
                        char::from(*c)
                    )))
                }
                None => return Err(macro_err("`%` at the end".into())),
            }
        } else if (0x21..=0x7e).contains(&b) {
            i += 1;
        } else {
            return Err(bad(term, format!("byte 0x{b:02x} is not allowed")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SpfRecord {
        SpfRecord::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn big_provider_shapes_parse() {
        let google = parse("v=spf1 include:_netblocks.google.com include:_netblocks2.google.com include:_netblocks3.google.com ~all");
        assert_eq!(google.terms.len(), 4);
        assert_eq!(google.all(), Some(Qualifier::SoftFail));

        let netblocks = parse("v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ~all");
        assert_eq!(
            netblocks.terms[2].kind,
            TermKind::Directive(Directive {
                qualifier: Qualifier::Pass,
                mechanism: Mechanism::Ip6 {
                    network: "2001:4860:4000::".parse().unwrap(),
                    prefix: Some(36)
                }
            })
        );

        let microsoft = parse("v=spf1 include:spf.protection.outlook.com -all");
        assert_eq!(microsoft.all(), Some(Qualifier::Fail));

        let redirect = parse("v=spf1 redirect=_spf.facebook.com");
        assert_eq!(
            redirect.redirect().map(DomainSpec::as_str),
            Some("_spf.facebook.com")
        );
        assert_eq!(redirect.all(), None);
    }

    #[test]
    fn case_and_spaces_are_tolerated() {
        let r = parse("V=SPF1   MX  A:Mail.Example.COM/24//64 Include:_spf.example.net   -ALL ");
        assert_eq!(r.terms.len(), 4);
        assert_eq!(
            r.terms[1].kind,
            TermKind::Directive(Directive {
                qualifier: Qualifier::Pass,
                mechanism: Mechanism::A {
                    domain: Some(DomainSpec("Mail.Example.COM".into())),
                    cidr: DualCidr {
                        ip4: Some(24),
                        ip6: Some(64)
                    }
                }
            })
        );
        assert_eq!(r.all(), Some(Qualifier::Fail));
    }

    #[test]
    fn bare_a_and_mx_with_cidr() {
        let r = parse("v=spf1 a/24 mx//64 ?all");
        let mechs: Vec<_> = r.directives().map(|d| d.mechanism.clone()).collect();
        assert_eq!(
            mechs[0],
            Mechanism::A {
                domain: None,
                cidr: DualCidr {
                    ip4: Some(24),
                    ip6: None
                }
            }
        );
        assert_eq!(
            mechs[1],
            Mechanism::Mx {
                domain: None,
                cidr: DualCidr {
                    ip4: None,
                    ip6: Some(64)
                }
            }
        );
        assert_eq!(r.all(), Some(Qualifier::Neutral));
    }

    #[test]
    fn macros_are_validated() {
        let r = parse("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} include:%{d2}.example.com -all");
        assert!(r.directives().all(|d| match &d.mechanism {
            Mechanism::Exists { domain } | Mechanism::Include { domain } => domain.has_macros(),
            _ => true,
        }));
        parse("v=spf1 exp=explain._spf.%{d} -all");
        for bad in [
            "v=spf1 exists:%{x}.example.com",
            "v=spf1 exists:%{d.example.com",
            "v=spf1 include:%.example.com",
            "v=spf1 exists:%{c}.example.com",
            "v=spf1 exists:%{d0}.example.com",
            "v=spf1 exists:%{d2!}.example.com",
        ] {
            assert!(
                matches!(SpfRecord::parse(bad), Err(SpfError::BadMacro { .. })),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn errors_name_the_term() {
        let cases = [
            ("v=spf1 ip4:300.1.1.1 -all", "ip4:300.1.1.1"),
            ("v=spf1 ip4:192.0.2.0/33 -all", "ip4:192.0.2.0/33"),
            ("v=spf1 ip6:2001:db8::/129 -all", "ip6:2001:db8::/129"),
            ("v=spf1 a/024 -all", "a/024"),
            ("v=spf1 include -all", "include"),
            ("v=spf1 include:example -all", "include:example"),
            ("v=spf1 include:example.123 -all", "include:example.123"),
            ("v=spf1 all:foo", "all:foo"),
            ("v=spf1 include:a..example.com", "include:a..example.com"),
        ];
        for (record, term) in cases {
            match SpfRecord::parse(record) {
                Err(SpfError::BadTerm { term: t, .. }) => assert_eq!(t, term, "{record}"),
                other => panic!("{record}: {other:?}"),
            }
        }
        assert_eq!(
            SpfRecord::parse("v=spf1 ipv4:192.0.2.1 -all"),
            Err(SpfError::UnknownMechanism {
                term: "ipv4:192.0.2.1".into()
            })
        );
        assert_eq!(
            SpfRecord::parse("v=spf1 redirect=a.example.com redirect=b.example.com"),
            Err(SpfError::DuplicateModifier {
                name: "redirect".into()
            })
        );
        assert_eq!(SpfRecord::parse("v=spf10 -all"), Err(SpfError::NotSpf));
    }

    #[test]
    fn unknown_modifiers_are_kept_and_ptr_is_seen() {
        let r = parse("v=spf1 ptr:example.com foo=bar.%{d} -all");
        assert!(r.uses_ptr());
        assert!(r.terms.iter().any(|t| matches!(
            &t.kind,
            TermKind::Modifier(Modifier::Unknown { name, .. }) if name == "foo"
        )));
        assert!(!parse("v=spf1 -all").uses_ptr());
    }

    #[test]
    fn is_spf_needs_a_space_or_the_end() {
        assert!(is_spf("v=spf1"));
        assert!(is_spf("v=spf1 -all"));
        assert!(!is_spf("v=spf1-all"));
        assert!(!is_spf("spf2.0/pra -all"));
        assert!(!is_spf("v=spé"));
    }
}
