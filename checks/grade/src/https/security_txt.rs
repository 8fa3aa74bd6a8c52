//! `/.well-known/security.txt` (RFC 9116) parsed into a type.
//!
//! Lines are `Field-Name: value` (names case-insensitive), `#` comments and blank lines; an
//! OpenPGP cleartext signature around the fields is unwrapped (§2.3). A valid file has at
//! least one `Contact` (§2.5.3) and exactly one `Expires`, an RFC 3339 date-time (§2.5.5),
//! that is not in the past. This parser records problems instead of stopping at the first.

use chrono::{DateTime, Utc};

/// The fields Vigie reads, and what is wrong with the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityTxt {
    /// `Contact` values, in order (URIs: `mailto:`, `https:`, `tel:`).
    pub contacts: Vec<String>,
    /// The `Expires` date, when there is exactly one and it parses.
    pub expires: Option<DateTime<Utc>>,
    /// What makes the file invalid regardless of the date (missing or repeated fields,
    /// unparsable lines), in file order.
    pub problems: Vec<SecurityTxtProblem>,
}

/// One reason a security.txt file is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityTxtProblem {
    #[error("no Contact field")]
    NoContact,
    #[error("no Expires field")]
    NoExpires,
    #[error("{count} Expires fields (exactly one allowed)")]
    SeveralExpires { count: usize },
    #[error("Expires `{value}` is not an RFC 3339 date-time")]
    BadExpires { value: String },
    #[error("line {line} is not `Field: value`")]
    BadLine { line: usize },
    #[error("the OpenPGP signed message is not terminated")]
    UnterminatedSignature,
}

/// The most lines read, so that a hostile file costs bounded work.
const MAX_LINES: usize = 2_000;

impl SecurityTxt {
    /// Valid at `now`: no problem and an `Expires` strictly in the future.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.problems.is_empty() && self.expires.is_some_and(|expires| expires > now)
    }
}

/// Parses the body of a security.txt file.
pub fn parse(text: &str) -> SecurityTxt {
    let mut file = SecurityTxt::default();
    let mut expires_values = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().take(MAX_LINES).enumerate().peekable();
    let signed = lines
        .peek()
        .is_some_and(|(_, line)| line.trim_end() == "-----BEGIN PGP SIGNED MESSAGE-----");
    if signed {
        lines.next();
        // Armor headers (`Hash: SHA256`) up to the first blank line.
        for (_, line) in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
        }
    }
    let mut terminated = !signed;
    for (index, line) in lines {
        let mut line = line.trim_end_matches('\r');
        if signed {
            if line.trim_end() == "-----BEGIN PGP SIGNATURE-----" {
                terminated = true;
                break;
            }
            // Dash-escaped lines (RFC 4880 §7.1).
            line = line.strip_prefix("- ").unwrap_or(line);
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            file.problems
                .push(SecurityTxtProblem::BadLine { line: index + 1 });
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            file.problems
                .push(SecurityTxtProblem::BadLine { line: index + 1 });
            continue;
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("contact") {
            if !value.is_empty() {
                file.contacts.push(value.to_owned());
            }
        } else if name.eq_ignore_ascii_case("expires") {
            expires_values.push(value.to_owned());
        }
    }
    if !terminated {
        file.problems
            .push(SecurityTxtProblem::UnterminatedSignature);
    }
    if file.contacts.is_empty() {
        file.problems.push(SecurityTxtProblem::NoContact);
    }
    match expires_values.as_slice() {
        [] => file.problems.push(SecurityTxtProblem::NoExpires),
        [value] => match DateTime::parse_from_rfc3339(value) {
            Ok(date) => file.expires = Some(date.with_timezone(&Utc)),
            Err(_) => file.problems.push(SecurityTxtProblem::BadExpires {
                value: value.chars().take(64).collect(),
            }),
        },
        several => file.problems.push(SecurityTxtProblem::SeveralExpires {
            count: several.len(),
        }),
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn reads_contact_and_expires() {
        let file = parse(
            "# Our security contact\r\nContact: mailto:security@example.ca\r\n\
             contact: https://example.ca/security\r\nEXPIRES: 2027-01-01T00:00:00Z\r\n\
             Preferred-Languages: en, fr\r\n",
        );
        assert_eq!(
            file.contacts,
            ["mailto:security@example.ca", "https://example.ca/security"]
        );
        assert_eq!(file.expires, Some(at(2027, 1, 1)));
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        assert!(file.is_valid_at(at(2026, 11, 30)));
        assert!(!file.is_valid_at(at(2027, 1, 1)), "expired at its Expires");
        assert!(!file.is_valid_at(at(2027, 6, 1)));
    }

    #[test]
    fn accepts_offsets_in_expires() {
        let file = parse("Contact: mailto:a@b.c\nExpires: 2027-01-01T02:00:00+02:00\n");
        assert_eq!(file.expires, Some(at(2027, 1, 1)));
    }

    #[test]
    fn unwraps_an_openpgp_signed_file() {
        let file = parse(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
             Contact: mailto:security@example.ca\nExpires: 2027-01-01T00:00:00Z\n\
             - # dash-escaped comment\n\
             -----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCAAQBQJ\n-----END PGP SIGNATURE-----\n",
        );
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        assert_eq!(file.contacts.len(), 1);
        let unterminated = parse(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
             Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\n",
        );
        assert_eq!(
            unterminated.problems,
            [SecurityTxtProblem::UnterminatedSignature]
        );
    }

    #[test]
    fn lists_every_problem() {
        assert_eq!(
            parse("").problems,
            [SecurityTxtProblem::NoContact, SecurityTxtProblem::NoExpires]
        );
        assert_eq!(
            parse("<html>not found</html>\n").problems,
            [
                SecurityTxtProblem::BadLine { line: 1 },
                SecurityTxtProblem::NoContact,
                SecurityTxtProblem::NoExpires
            ]
        );
        assert_eq!(
            parse("Contact: mailto:a@b.c\nExpires: tomorrow\n").problems,
            [SecurityTxtProblem::BadExpires {
                value: "tomorrow".into()
            }]
        );
        assert_eq!(
            parse(
                "Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\n\
                 Expires: 2028-01-01T00:00:00Z\n"
            )
            .problems,
            [SecurityTxtProblem::SeveralExpires { count: 2 }]
        );
        assert_eq!(
            parse("Contact:\nExpires: 2027-01-01T00:00:00Z\n").problems,
            [SecurityTxtProblem::NoContact]
        );
    }
}
