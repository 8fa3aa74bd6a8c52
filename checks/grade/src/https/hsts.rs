//! `Strict-Transport-Security` (RFC 6797 §6.1) parsed into a type.
//!
//! ```text
//! Strict-Transport-Security = directive *( ";" [ directive ] )
//! directive = directive-name [ "=" directive-value ]    ; value: token / quoted-string
//! ```
//! Directive names are case-insensitive; each may appear once (§6.1.5), `max-age` is
//! required and is a non-negative integer of seconds (§6.1.1); unknown directives are
//! ignored (§6.1). A header that breaks these rules is ignored by browsers, so it is an
//! error here, not a partial policy.

/// A well-formed HSTS policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    /// Seconds the browser remembers to use HTTPS only; `0` removes the policy.
    pub max_age: u64,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// Why a header is not a usable HSTS policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HstsError {
    #[error("no max-age directive")]
    MissingMaxAge,
    #[error("max-age `{value}` is not a number of seconds")]
    BadMaxAge { value: String },
    #[error("the directive `{name}` appears more than once")]
    Duplicate { name: String },
    #[error("the directive `{name}` takes no value")]
    UnexpectedValue { name: String },
    #[error("malformed directive `{text}`")]
    Malformed { text: String },
}

/// Parses one header value.
pub fn parse(value: &str) -> Result<Hsts, HstsError> {
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    let mut seen = std::collections::BTreeSet::new();
    for directive in split_directives(value)? {
        let directive = directive.trim();
        if directive.is_empty() {
            continue;
        }
        let (name, raw_value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (directive, None),
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HstsError::Malformed {
                text: directive.to_owned(),
            });
        }
        let name = name.to_ascii_lowercase();
        if !seen.insert(name.clone()) {
            return Err(HstsError::Duplicate { name });
        }
        let value = match raw_value {
            None => None,
            Some(raw) => Some(unquote(raw).ok_or_else(|| HstsError::Malformed {
                text: directive.to_owned(),
            })?),
        };
        match name.as_str() {
            "max-age" => {
                let text = value.unwrap_or_default();
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HstsError::BadMaxAge { value: text });
                }
                // Digits only: the one failure left is overflow, which we cap.
                max_age = Some(text.parse::<u64>().unwrap_or(u64::MAX));
            }
            "includesubdomains" | "preload" => {
                if value.is_some() {
                    return Err(HstsError::UnexpectedValue { name });
                }
                if name == "preload" {
                    preload = true;
                } else {
                    include_subdomains = true;
                }
            }
            _ => {}
        }
    }
    Ok(Hsts {
        max_age: max_age.ok_or(HstsError::MissingMaxAge)?,
        include_subdomains,
        preload,
    })
}

/// Splits on `;` outside quoted strings.
fn split_directives(value: &str) -> Result<Vec<&str>, HstsError> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            parts.push(&value[start..index]);
            start = index + 1;
        }
    }
    if quoted {
        return Err(HstsError::Malformed {
            text: value.trim().to_owned(),
        });
    }
    parts.push(&value[start..]);
    Ok(parts)
}

/// A token as is, or the content of a quoted-string; `None` when it is neither.
fn unquote(raw: &str) -> Option<String> {
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    } else if raw.bytes().all(is_token_byte) {
        Some(raw.to_owned())
    } else {
        None
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hsts(max_age: u64, include_subdomains: bool, preload: bool) -> Hsts {
        Hsts {
            max_age,
            include_subdomains,
            preload,
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        let cases = [
            ("max-age=31536000", hsts(31536000, false, false)),
            (
                "max-age=63072000; includeSubDomains; preload",
                hsts(63072000, true, true),
            ),
            ("MAX-AGE=\"300\";INCLUDESUBDOMAINS", hsts(300, true, false)),
            ("  max-age = 10 ; ", hsts(10, false, false)),
            ("max-age=0", hsts(0, false, false)),
            (";;max-age=5;;preload", hsts(5, false, true)),
            ("max-age=5; unknown=\"a;b\"; other", hsts(5, false, false)),
            (
                "max-age=99999999999999999999999",
                hsts(u64::MAX, false, false),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn reports_malformed_headers_as_such() {
        assert_eq!(parse(""), Err(HstsError::MissingMaxAge));
        assert_eq!(parse("includeSubDomains"), Err(HstsError::MissingMaxAge));
        assert!(matches!(
            parse("max-age=-1"),
            Err(HstsError::BadMaxAge { .. })
        ));
        assert!(matches!(
            parse("max-age=1y"),
            Err(HstsError::BadMaxAge { .. })
        ));
        assert!(matches!(parse("max-age"), Err(HstsError::BadMaxAge { .. })));
        assert!(matches!(
            parse("max-age=1; max-age=2"),
            Err(HstsError::Duplicate { .. })
        ));
        assert!(matches!(
            parse("max-age=1; preload; PRELOAD"),
            Err(HstsError::Duplicate { .. })
        ));
        assert!(matches!(
            parse("max-age=1; preload=yes"),
            Err(HstsError::UnexpectedValue { .. })
        ));
        assert!(matches!(
            parse("max-age=\"1"),
            Err(HstsError::Malformed { .. })
        ));
        assert!(matches!(
            parse("max age=1"),
            Err(HstsError::Malformed { .. })
        ));
        assert!(matches!(
            parse("max-age=1 2"),
            Err(HstsError::Malformed { .. })
        ));
    }
}
