//! MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy file served at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MtaStsError {
    #[error("the record does not start with `v=STSv1`")]
    NotMtaSts,
    #[error("`id` is missing or not 1 to 32 letters and digits")]
    BadId,
    #[error("policy field `{field}` is missing")]
    MissingField { field: String },
    #[error("policy field `{field}` has an invalid value `{value}`")]
    BadField { field: String, value: String },
    #[error("policy line `{line}` is not `key: value`")]
    BadLine { line: String },
}

/// The `_mta-sts.<domain>` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsRecord {
    pub id: String,
}

pub fn is_mta_sts(txt: &str) -> bool {
    txt.split(';')
        .next()
        .and_then(|t| t.split_once('='))
        .is_some_and(|(k, v)| k.trim() == "v" && v.trim() == "STSv1")
}

impl MtaStsRecord {
    pub fn parse(txt: &str) -> Result<MtaStsRecord, MtaStsError> {
        if !is_mta_sts(txt) {
            return Err(MtaStsError::NotMtaSts);
        }
        let id = txt
            .split(';')
            .filter_map(|t| t.split_once('='))
            .find(|(k, _)| k.trim() == "id")
            .map(|(_, v)| v.trim())
            .filter(|v| {
                !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            .ok_or(MtaStsError::BadId)?;
        Ok(MtaStsRecord { id: id.to_owned() })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// The policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsPolicy {
    pub mode: Mode,
    /// `mx:` patterns: a host name, or `*.` and a domain (matching exactly one more label).
    pub mx: Vec<String>,
    pub max_age: u32,
}

/// The largest `max_age` allowed (§3.2: about one year).
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

impl MtaStsPolicy {
    pub fn parse(text: &str) -> Result<MtaStsPolicy, MtaStsError> {
        let mut version = None;
        let mut mode = None;
        let mut mx = Vec::new();
        let mut max_age = None;
        // Lines end in CRLF or LF (§3.2); blank lines are tolerated.
        for line in text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
        {
            let Some((key, value)) = line.split_once(':') else {
                return Err(MtaStsError::BadLine { line: line.into() });
            };
            let (key, value) = (key.trim(), value.trim());
            let bad = || MtaStsError::BadField {
                field: key.into(),
                value: value.into(),
            };
            match key {
                "version" if version.is_none() => {
                    if value != "STSv1" {
                        return Err(bad());
                    }
                    version = Some(());
                }
                "mode" if mode.is_none() => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        _ => return Err(bad()),
                    })
                }
                "mx" => {
                    if value.is_empty() || value.contains(char::is_whitespace) {
                        return Err(bad());
                    }
                    mx.push(value.to_ascii_lowercase())
                }
                "max_age" if max_age.is_none() => {
                    let age = value
                        .parse::<u32>()
                        .ok()
                        .filter(|a| *a <= MAX_AGE_LIMIT && value.len() <= 10)
                        .ok_or_else(bad)?;
                    max_age = Some(age);
                }
                // Unknown fields, and repeats of single fields, are ignored (§3.2).
                _ => {}
            }
        }
        let missing = |field: &str| MtaStsError::MissingField {
            field: field.into(),
        };
        version.ok_or_else(|| missing("version"))?;
        let mode = mode.ok_or_else(|| missing("mode"))?;
        let max_age = max_age.ok_or_else(|| missing("max_age"))?;
        if mx.is_empty() && mode != Mode::None {
            return Err(missing("mx"));
        }
        Ok(MtaStsPolicy { mode, mx, max_age })
    }

    /// Whether an MX host name matches one of the policy's `mx` patterns (§4.1).
    pub fn matches_mx(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|pattern| {
            let pattern = pattern.trim_end_matches('.');
            match pattern.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => host == pattern,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record() {
        assert_eq!(
            MtaStsRecord::parse("v=STSv1; id=20160831085700Z;"),
            Ok(MtaStsRecord {
                id: "20160831085700Z".into()
            })
        );
        assert_eq!(
            MtaStsRecord::parse("v=STSv1; id=a-b"),
            Err(MtaStsError::BadId)
        );
        assert_eq!(MtaStsRecord::parse("v=STSv1"), Err(MtaStsError::BadId));
        assert_eq!(
            MtaStsRecord::parse("id=1; v=STSv1"),
            Err(MtaStsError::NotMtaSts)
        );
    }

    #[test]
    fn policy_and_patterns() {
        let p = MtaStsPolicy::parse(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\nextension: ignored\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604800);
        assert!(p.matches_mx("MAIL.example.com."));
        assert!(p.matches_mx("mx1.example.net"));
        assert!(
            !p.matches_mx("a.b.example.net"),
            "wildcard covers one label only"
        );
        assert!(!p.matches_mx("example.net"));
        assert!(!p.matches_mx("mail.example.org"));
    }

    #[test]
    fn policy_errors() {
        assert_eq!(
            MtaStsPolicy::parse("version: STSv1\nmode: enforce\nmax_age: 86400\n"),
            Err(MtaStsError::MissingField { field: "mx".into() })
        );
        assert!(MtaStsPolicy::parse("version: STSv1\nmode: none\nmax_age: 86400\n").is_ok());
        assert!(matches!(
            MtaStsPolicy::parse("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1"),
            Err(MtaStsError::BadField { .. })
        ));
        assert!(matches!(
            MtaStsPolicy::parse(
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999"
            ),
            Err(MtaStsError::BadField { .. })
        ));
        assert!(matches!(
            MtaStsPolicy::parse("<html>not found</html>"),
            Err(MtaStsError::BadLine { .. })
        ));
    }
}
