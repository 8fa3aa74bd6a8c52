//! DKIM key records (RFC 6376 §3.6.1, RFC 8463 for Ed25519) at `<selector>._domainkey.<domain>`.
//!
//! The key size is read from the key itself, not trusted from any tag: `p=` holds a DER
//! SubjectPublicKeyInfo for RSA (some publishers put a bare PKCS#1 RSAPublicKey, which
//! receivers also accept), or the 32 raw bytes of an Ed25519 key.

use base64::Engine as _;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DkimError {
    #[error("`v={version}` is not DKIM1")]
    BadVersion { version: String },
    #[error("the record has no `p=` tag")]
    MissingKey,
    #[error("`p=` is not valid base64")]
    BadBase64,
    #[error("the public key cannot be read: {reason}")]
    BadKey { reason: String },
    #[error("unknown key type `k={key_type}`")]
    UnknownKeyType { key_type: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    Rsa,
    Ed25519,
}

/// A parsed DKIM key record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimKey {
    pub key_type: KeyType,
    /// Size of the key in bits (RSA modulus; 256 for Ed25519); `None` when revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    /// `p=` is empty: the key was revoked (§3.6.1).
    pub revoked: bool,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `t=s`: the `i=` domain must equal `d=`.
    pub strict_subdomains: bool,
    /// `h=`: acceptable hash algorithms (empty: all).
    pub hashes: Vec<String>,
    /// `s=`: service types (empty: `*`).
    pub services: Vec<String>,
}

fn tags(txt: &str) -> impl Iterator<Item = (String, &str)> {
    txt.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
            None => (t.to_ascii_lowercase(), ""),
        })
}

/// Whether a TXT string looks like a DKIM key record (so that an unrelated TXT at the
/// selector name, e.g. a wildcard, is not mistaken for a broken key).
pub fn looks_like_dkim(txt: &str) -> bool {
    tags(txt).any(|(k, _)| k == "p" || k == "k") || txt.trim_start().starts_with("v=DKIM1")
}

impl DkimKey {
    pub fn parse(txt: &str) -> Result<DkimKey, DkimError> {
        let mut key_type = KeyType::Rsa;
        let mut p = None;
        let mut key = DkimKey {
            key_type,
            bits: None,
            revoked: false,
            testing: false,
            strict_subdomains: false,
            hashes: Vec::new(),
            services: Vec::new(),
        };
        for (tag, value) in tags(txt) {
            match tag.as_str() {
                "v" if value != "DKIM1" => {
                    return Err(DkimError::BadVersion {
                        version: value.into(),
                    })
                }
                "k" => {
                    key_type = match value.to_ascii_lowercase().as_str() {
                        "rsa" => KeyType::Rsa,
                        "ed25519" => KeyType::Ed25519,
                        other => {
                            return Err(DkimError::UnknownKeyType {
                                key_type: other.into(),
                            })
                        }
                    }
                }
                "p" => p = Some(value),
                "t" => {
                    for flag in value.split(':').map(str::trim) {
                        match flag {
                            "y" => key.testing = true,
                            "s" => key.strict_subdomains = true,
                            _ => {}
                        }
                    }
                }
                "h" => key.hashes = list(value),
                "s" => key.services = list(value),
                _ => {}
            }
        }
        key.key_type = key_type;
        let p = p.ok_or(DkimError::MissingKey)?;
        // Base64 in DNS is often split by whitespace (several TXT strings, folded zone lines).
        let b64: String = p.chars().filter(|c| !c.is_whitespace()).collect();
        if b64.is_empty() {
            key.revoked = true;
            return Ok(key);
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| DkimError::BadBase64)?;
        key.bits = Some(match key_type {
            KeyType::Ed25519 => {
                if der.len() != 32 {
                    return Err(DkimError::BadKey {
                        reason: format!("an Ed25519 key has 32 bytes, this one {}", der.len()),
                    });
                }
                256
            }
            KeyType::Rsa => {
                rsa_modulus_bits(&der).map_err(|reason| DkimError::BadKey { reason })?
            }
        });
        Ok(key)
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(':')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// One DER element: its tag, and its content.
fn der_element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER (tag)")?;
    let (&first, rest) = rest.split_first().ok_or("truncated DER (length)")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("unsupported DER length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("truncated DER (content)".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
/// 1.2.840.113549.1.1.1, DER-encoded.
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The size in bits of the modulus of a SubjectPublicKeyInfo or PKCS#1 RSAPublicKey.
fn rsa_modulus_bits(der: &[u8]) -> Result<u32, String> {
    let (tag, body, _) = der_element(der)?;
    if tag != TAG_SEQUENCE {
        return Err("not a DER SEQUENCE".into());
    }
    let (first_tag, first, after) = der_element(body)?;
    let rsa_public_key = match first_tag {
        // SubjectPublicKeyInfo: AlgorithmIdentifier, BIT STRING { RSAPublicKey }.
        TAG_SEQUENCE => {
            let (oid_tag, oid, _) = der_element(first)?;
            if oid_tag != TAG_OID || oid != OID_RSA_ENCRYPTION {
                return Err("the key is not an RSA key".into());
            }
            let (bits_tag, bits, _) = der_element(after)?;
            if bits_tag != TAG_BIT_STRING || bits.first() != Some(&0) {
                return Err("missing public key BIT STRING".into());
            }
            let (seq_tag, seq, _) = der_element(&bits[1..])?;
            if seq_tag != TAG_SEQUENCE {
                return Err("RSAPublicKey is not a SEQUENCE".into());
            }
            seq
        }
        // PKCS#1 RSAPublicKey directly: INTEGER modulus, INTEGER exponent.
        TAG_INTEGER => body,
        _ => return Err("unexpected DER structure".into()),
    };
    let (int_tag, modulus, _) = der_element(rsa_public_key)?;
    if int_tag != TAG_INTEGER {
        return Err("RSA modulus is not an INTEGER".into());
    }
    let significant: &[u8] = {
        let start = modulus
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(modulus.len());
        &modulus[start..]
    };
    let Some(first) = significant.first() else {
        return Err("RSA modulus is zero".into());
    };
    let bits = (significant.len() as u64) * 8 - u64::from(first.leading_zeros());
    u32::try_from(bits).map_err(|_| "RSA modulus too large".to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A syntactically valid SubjectPublicKeyInfo for an RSA modulus of `bits` bits (the
    /// numbers are not a real key: only the structure and sizes matter here).
    pub(crate) fn fake_rsa_spki(bits: usize) -> String {
        fn der(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let len = content.len();
            if len < 0x80 {
                out.push(len as u8);
            } else if len < 0x100 {
                out.extend([0x81, len as u8]);
            } else {
                out.extend([0x82, (len >> 8) as u8, len as u8]);
            }
            out.extend_from_slice(content);
            out
        }
        let mut modulus = vec![0u8]; // sign byte, as DER requires for a set top bit
        modulus.push(0x80 | 0x40);
        modulus.extend(std::iter::repeat_n(0xab, bits / 8 - 1));
        let rsa = der(
            TAG_SEQUENCE,
            &[der(TAG_INTEGER, &modulus), der(TAG_INTEGER, &[1, 0, 1])].concat(),
        );
        let alg = der(
            TAG_SEQUENCE,
            &[der(TAG_OID, OID_RSA_ENCRYPTION), vec![0x05, 0x00]].concat(),
        );
        let bit_string = der(TAG_BIT_STRING, &[vec![0u8], rsa].concat());
        let spki = der(TAG_SEQUENCE, &[alg, bit_string].concat());
        base64::engine::general_purpose::STANDARD.encode(spki)
    }

    #[test]
    fn real_rsa_2048_key_size() {
        // A real 2048-bit key (openssl genrsa 2048 | openssl rsa -pubout), as published.
        let p = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3GY5aHlYuXq5vzrR+c481s+/w5nY6VfkwQ32AodZWAM8c2GNNeWdIOR6D2zfdbUvChdct1gf+XN2s2Q45skRHWtOuHg7PrWpqT9ZqLBowk6SNzmTrFKdwk7qBIhX7vvYBavEaWIA0zfg4VZgIxmlUrGOyOAQF2h33oqxCsf6qTGuBbUuABzjv80Nsulpu2PaYk53SvMGPRfiV/JGVA2IaOWGpVZPnkPMiJ4nwSrsQJUR+MQVYh+I9fYLneWuSrm2gDLNfq+X9m5s5RABDaiAWbts5xEbR2IGdAhfnMugjKhaueXww+MfQ+iTDYX3G0A94mTQHW8DPvIoDaeB4kLlpwIDAQAB";
        let key = DkimKey::parse(&format!("v=DKIM1; k=rsa; p={p}")).unwrap();
        assert_eq!(key.bits, Some(2048));
        // A bare PKCS#1 RSAPublicKey of 1024 bits (openssl rsa -RSAPublicKey_out).
        let pkcs1 = "MIGJAoGBALdRCOcU5R8unkajwMjrNQVfOuOAOdoW+BewSAvSF9Sdg43W2iMkuVyUtXG+KnhaGTaNntsDns/ALrLWEAwGQlgM+FQyUHTq2CMtEWlGG3vYQuFSiWh5OKT/vkDN1tpog4FxyFaSTtXzpcv580I0ma756t28CEPvv9cGpMh7WoRZAgMBAAE=";
        assert_eq!(
            DkimKey::parse(&format!("p={pkcs1}")).unwrap().bits,
            Some(1024)
        );
        assert!(!key.revoked && !key.testing);
    }

    #[test]
    fn synthetic_sizes_and_split_base64() {
        for bits in [512usize, 1024, 2048, 4096] {
            let p = fake_rsa_spki(bits);
            let (a, b) = p.split_at(p.len() / 2);
            let key = DkimKey::parse(&format!("k=rsa; t=y:s; p={a} {b}")).unwrap();
            assert_eq!(key.bits, Some(bits as u32));
            assert!(key.testing && key.strict_subdomains);
        }
    }

    #[test]
    fn revoked_ed25519_and_errors() {
        let revoked = DkimKey::parse("v=DKIM1; k=rsa; p=").unwrap();
        assert!(revoked.revoked);
        assert_eq!(revoked.bits, None);

        let ed =
            DkimKey::parse("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .unwrap();
        assert_eq!((ed.key_type, ed.bits), (KeyType::Ed25519, Some(256)));

        assert_eq!(DkimKey::parse("v=DKIM1; k=rsa"), Err(DkimError::MissingKey));
        assert_eq!(DkimKey::parse("v=DKIM1; p=!!!"), Err(DkimError::BadBase64));
        assert!(matches!(
            DkimKey::parse("v=DKIM1; p=AAAA"),
            Err(DkimError::BadKey { .. })
        ));
        assert!(matches!(
            DkimKey::parse("v=DKIM2; p="),
            Err(DkimError::BadVersion { .. })
        ));
        assert!(matches!(
            DkimKey::parse("k=dsa; p="),
            Err(DkimError::UnknownKeyType { .. })
        ));
    }

    #[test]
    fn truncated_der_is_an_error_not_a_panic() {
        let full = base64::engine::general_purpose::STANDARD
            .decode(fake_rsa_spki(1024))
            .unwrap();
        for cut in 0..full.len() {
            assert!(rsa_modulus_bits(&full[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(rsa_modulus_bits(&full), Ok(1024));
    }
}
