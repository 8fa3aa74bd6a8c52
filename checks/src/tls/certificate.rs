//! X.509 parsing into the model's [`CertificateInfo`].

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use vigie_model::CertificateInfo;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

/// Why a certificate could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Not DER-encoded X.509, or trailing bytes after it.
    #[error("the server's certificate #{index} is not valid X.509 DER: {reason}")]
    Malformed { index: usize, reason: String },
    /// A validity date outside what can be represented.
    #[error("the server's certificate #{index} has a validity date out of range")]
    DateOutOfRange { index: usize },
}

/// Parses the certificate at `index` of a chain (0 = leaf), for messages.
pub fn parse(index: usize, der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    let malformed = |reason: String| CertificateError::Malformed { index, reason };
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes after the certificate",
            rest.len()
        )));
    }
    let date = |t: ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
            .ok_or(CertificateError::DateOutOfRange { index })
    };
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let self_signed =
        cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_ok();
    let (key_type, key_bits) = key_type_and_bits(cert.public_key());
    Ok(CertificateInfo {
        subject,
        issuer,
        serial: hex::encode(cert.raw_serial()),
        not_before: date(cert.validity().not_before)?,
        not_after: date(cert.validity().not_after)?,
        subject_alt_names: subject_alt_names(&cert),
        self_signed,
        key_type,
        key_bits,
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        sha256: hex::encode(Sha256::digest(der)),
        ca_issuers: ca_issuers(&cert),
        must_staple: must_staple(&cert),
        sct_log_ids: sct_log_ids(&cert),
    })
}

/// `id-ad-caIssuers` (RFC 5280 §4.2.2.1).
const CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
/// `id-pe-tlsfeature` (RFC 7633).
const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
/// The TLS extension number of `status_request`, as the TLS feature extension lists it.
const STATUS_REQUEST: u32 = 5;

/// The `caIssuers` URLs of the Authority Information Access extension, in order.
fn ca_issuers(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.extensions()
        .iter()
        .filter_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => Some(aia),
            _ => None,
        })
        .flat_map(|aia| aia.accessdescs.iter())
        .filter(|desc| desc.access_method.to_id_string() == CA_ISSUERS)
        .filter_map(|desc| match desc.access_location {
            GeneralName::URI(uri) => Some(uri.to_owned()),
            _ => None,
        })
        .collect()
}

/// Whether the TLS feature extension lists `status_request`. x509-parser leaves this
/// extension unparsed; its value is a SEQUENCE OF INTEGER, read here with the DER parser,
/// and an unreadable value counts as no feature.
fn must_staple(cert: &X509Certificate<'_>) -> bool {
    use x509_parser::der_parser::ber::BerObjectContent;
    cert.extensions()
        .iter()
        .filter(|ext| ext.oid.to_id_string() == TLS_FEATURE)
        .any(|ext| {
            let Ok((_, object)) = x509_parser::der_parser::parse_der(ext.value) else {
                return false;
            };
            match object.content {
                BerObjectContent::Sequence(items) => {
                    items.iter().any(|item| item.as_u32() == Ok(STATUS_REQUEST))
                }
                _ => false,
            }
        })
}

/// The log ids of the embedded SCT list, base64 as in the CT log lists.
fn sct_log_ids(cert: &X509Certificate<'_>) -> Vec<String> {
    use base64::Engine as _;
    cert.extensions()
        .iter()
        .filter_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SCT(scts) => Some(scts),
            _ => None,
        })
        .flatten()
        .map(|sct| base64::engine::general_purpose::STANDARD.encode(sct.id.key_id))
        .collect()
}

/// DNS names and IP addresses, in the certificate's order; other kinds are not names a
/// client matches against.
fn subject_alt_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::Ipv4Addr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::Ipv6Addr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn key_type_and_bits(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    match spki.parsed() {
        // x509-parser's RSA size assumes a leading zero byte; count the modulus bits ourselves.
        Ok(PublicKey::RSA(rsa)) => ("RSA".to_owned(), Some(bit_length(rsa.modulus))),
        Ok(PublicKey::EC(point)) => (
            "EC".to_owned(),
            u32::try_from(point.key_size())
                .ok()
                .filter(|bits| *bits > 0),
        ),
        Ok(PublicKey::DSA(y)) => ("DSA".to_owned(), Some(bit_length(y))),
        _ => match oid_name(&spki.algorithm.algorithm).as_str() {
            "ED25519" | "Ed25519" => ("Ed25519".to_owned(), Some(256)),
            "ED448" | "Ed448" => ("Ed448".to_owned(), Some(456)),
            other => (other.to_owned(), None),
        },
    }
}

/// The number of significant bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> u32 {
    let Some(first) = bytes.iter().position(|b| *b != 0) else {
        return 0;
    };
    let significant = &bytes[first..];
    let len = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8);
    (len - 1) * 8 + (8 - significant[0].leading_zeros())
}

/// Signature algorithms x509-parser's registry does not name, which the weak-signature
/// check must recognise: without a name they would show as dotted OIDs and pass unnoticed.
const UNREGISTERED_NAMES: [(&str, &str); 6] = [
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10040.4.3", "dsa-with-SHA1"),
    ("1.3.14.3.2.29", "sha1WithRSASignature"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.3", "md4WithRSAEncryption"),
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
];

/// The short name of an OID (e.g. `sha256WithRSAEncryption`), or its dotted form.
fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| {
            let dotted = oid.to_id_string();
            UNREGISTERED_NAMES
                .iter()
                .find(|(id, _)| *id == dotted)
                .map(|(_, name)| (*name).to_owned())
                .unwrap_or(dotted)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zero_bytes() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0x00]), 9);
        assert_eq!(bit_length(&[0x00, 0x00]), 0);
        assert_eq!(bit_length(&[0xff; 256]), 2048);
    }

    #[test]
    fn weak_signature_oids_the_registry_lacks_are_named() {
        for (dotted, _) in UNREGISTERED_NAMES {
            let oid: x509_parser::der_parser::oid::Oid<'static> =
                dotted.parse().expect("a dotted OID");
            // The registry names some of them itself, in its own words: what matters is a
            // name that says the hash.
            let name = oid_name(&oid).to_ascii_lowercase();
            assert!(
                name.contains("sha1") || name.contains("md"),
                "{dotted}: {name}"
            );
        }
    }

    #[test]
    fn garbage_is_a_malformed_certificate_not_a_panic() {
        for bytes in [&b""[..], b"\x30\x82\xff\xff", b"not a certificate"] {
            assert!(matches!(
                parse(2, bytes),
                Err(CertificateError::Malformed { index: 2, .. })
            ));
        }
    }
}
