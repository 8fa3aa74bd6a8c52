//! The smaller records: TLS-RPT (RFC 8460), BIMI (draft-brand-indicators-for-message-identification)
//! and CAA (RFC 8659).

use serde::{Deserialize, Serialize};

pub use vigie_model::observation::email::CaaRecord;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordError {
    #[error("the record does not start with `v={expected}`")]
    WrongVersion { expected: String },
    #[error("tag `{tag}` is missing")]
    MissingTag { tag: String },
    #[error("tag `{tag}` has an invalid value `{value}`")]
    BadValue { tag: String, value: String },
}

fn tags(txt: &str) -> impl Iterator<Item = (&str, &str)> {
    txt.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (t, ""),
        })
}

fn first_is(txt: &str, version: &str) -> bool {
    tags(txt)
        .next()
        .is_some_and(|(k, v)| k == "v" && v == version)
}

/// `_smtp._tls.<domain>`: `v=TLSRPTv1; rua=mailto:…,https://…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRptRecord {
    pub rua: Vec<String>,
}

pub fn is_tlsrpt(txt: &str) -> bool {
    first_is(txt, "TLSRPTv1")
}

impl TlsRptRecord {
    pub fn parse(txt: &str) -> Result<TlsRptRecord, RecordError> {
        if !is_tlsrpt(txt) {
            return Err(RecordError::WrongVersion {
                expected: "TLSRPTv1".into(),
            });
        }
        let value = tags(txt)
            .find(|(k, _)| *k == "rua")
            .map(|(_, v)| v)
            .ok_or_else(|| RecordError::MissingTag { tag: "rua".into() })?;
        let mut rua = Vec::new();
        for uri in value.split(',').map(str::trim) {
            let lower = uri.to_ascii_lowercase();
            let valid = (lower.starts_with("mailto:") && uri.contains('@'))
                || (lower.starts_with("https://") && uri.len() > "https://".len());
            if !valid {
                return Err(RecordError::BadValue {
                    tag: "rua".into(),
                    value: uri.into(),
                });
            }
            rua.push(uri.to_owned());
        }
        Ok(TlsRptRecord { rua })
    }
}

/// `default._bimi.<domain>`: `v=BIMI1; l=<SVG URL>; a=<VMC URL>`. An empty `l=` declines
/// to publish a logo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BimiRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

impl BimiRecord {
    pub fn parse(txt: &str) -> Result<BimiRecord, RecordError> {
        if !first_is(txt, "BIMI1") {
            return Err(RecordError::WrongVersion {
                expected: "BIMI1".into(),
            });
        }
        let url = |tag: &str| -> Result<Option<String>, RecordError> {
            match tags(txt).find(|(k, _)| *k == tag).map(|(_, v)| v) {
                None | Some("") => Ok(None),
                Some(v) if v.to_ascii_lowercase().starts_with("https://") => Ok(Some(v.into())),
                Some(v) => Err(RecordError::BadValue {
                    tag: tag.into(),
                    value: v.into(),
                }),
            }
        };
        Ok(BimiRecord {
            logo: url("l")?,
            authority: url("a")?,
        })
    }
}

/// What the CAA set of a name allows, for evidence.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaaSummary {
    pub issue: Vec<String>,
    pub issuewild: Vec<String>,
    pub iodef: Vec<String>,
    /// Tags with the critical flag that this code does not know: CAs must then refuse to
    /// issue (RFC 8659 §4.1), which is worth showing.
    pub unknown_critical: Vec<String>,
}

pub fn summarize_caa(records: &[CaaRecord]) -> CaaSummary {
    let mut summary = CaaSummary::default();
    for r in records {
        let issuer = || r.issuer().unwrap_or(";").to_owned();
        match r.tag.to_ascii_lowercase().as_str() {
            "issue" => summary.issue.push(issuer()),
            "issuewild" => summary.issuewild.push(issuer()),
            "iodef" => summary.iodef.push(r.value.clone()),
            "issuemail" | "issuevmc" | "contactemail" | "contactphone" => {}
            other if r.critical() => summary.unknown_critical.push(other.to_owned()),
            _ => {}
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsrpt() {
        let r =
            TlsRptRecord::parse("v=TLSRPTv1; rua=mailto:tls@example.com, https://r.example.net/v1")
                .unwrap();
        assert_eq!(r.rua.len(), 2);
        assert!(matches!(
            TlsRptRecord::parse("v=TLSRPTv1;"),
            Err(RecordError::MissingTag { .. })
        ));
        assert!(matches!(
            TlsRptRecord::parse("v=TLSRPTv1; rua=http://r.example.net"),
            Err(RecordError::BadValue { .. })
        ));
        assert!(!is_tlsrpt("v=spf1 -all"));
    }

    #[test]
    fn bimi() {
        let r = BimiRecord::parse(
            "v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem",
        )
        .unwrap();
        assert_eq!(r.logo.as_deref(), Some("https://example.com/logo.svg"));
        assert_eq!(BimiRecord::parse("v=BIMI1; l=;").unwrap().logo, None);
        assert!(BimiRecord::parse("v=BIMI1; l=http://example.com/logo.svg").is_err());
        assert!(BimiRecord::parse("l=https://x.example/l.svg; v=BIMI1").is_err());
    }

    #[test]
    fn caa() {
        let records = [
            CaaRecord {
                flags: 0,
                tag: "issue".into(),
                value: "letsencrypt.org".into(),
            },
            CaaRecord {
                flags: 0,
                tag: "issuewild".into(),
                value: ";".into(),
            },
            CaaRecord {
                flags: 0,
                tag: "iodef".into(),
                value: "mailto:sec@example.com".into(),
            },
            CaaRecord {
                flags: 128,
                tag: "tbs".into(),
                value: "x".into(),
            },
            CaaRecord {
                flags: 0,
                tag: "future".into(),
                value: "x".into(),
            },
        ];
        let s = summarize_caa(&records);
        assert_eq!(s.issue, vec!["letsencrypt.org"]);
        assert_eq!(s.issuewild, vec![";"]);
        assert_eq!(s.iodef.len(), 1);
        assert_eq!(s.unknown_critical, vec!["tbs"]);
    }
}
