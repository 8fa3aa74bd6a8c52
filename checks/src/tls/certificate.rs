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

/// The DER content of `1.3.6.1.4.1.11129.2.4.5`, the SCT list extension of an OCSP
/// single response (RFC 6962 §3.3).
const OCSP_SCT_LIST_OID: [u8; 10] = [0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x05];
/// The most elements read at one level of a stapled OCSP response: far above any real one,
/// it bounds the work a hostile server can cause.
const MAX_DER_CHILDREN: usize = 64;

/// The log ids (base64) of the SCTs in a stapled OCSP response's single-response
/// extensions. Read leniently: only the path to the extensions is followed, and anything
/// unreadable gives no SCT rather than an error, as the response is only a hint here.
pub fn stapled_sct_log_ids(ocsp: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};

    fn one(bytes: &[u8]) -> Option<Any<'_>> {
        Any::from_der(bytes).ok().map(|(_, any)| any)
    }
    fn children(data: &[u8]) -> Vec<Any<'_>> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() && out.len() < MAX_DER_CHILDREN {
            match Any::from_der(rest) {
                Ok((next, any)) => {
                    out.push(any);
                    rest = next;
                }
                Err(_) => break,
            }
        }
        out
    }
    let universal =
        |any: &Any<'_>, tag: Tag| any.header.class() == Class::Universal && any.header.tag() == tag;
    let context = |any: &Any<'_>, n: u32| {
        any.header.class() == Class::ContextSpecific && any.header.tag() == Tag(n)
    };

    // OCSPResponse → responseBytes [0] → ResponseBytes → response OCTET STRING.
    let Some(response) = one(ocsp) else {
        return Vec::new();
    };
    let Some(basic) = children(response.data)
        .iter()
        .find(|a| context(a, 0))
        .and_then(|explicit| one(explicit.data))
        .and_then(|bytes| {
            children(bytes.data)
                .into_iter()
                .find(|a| universal(a, Tag::OctetString))
        })
        .and_then(|octets| one(octets.data))
    else {
        return Vec::new();
    };
    // BasicOCSPResponse → tbsResponseData → the first untagged SEQUENCE is `responses`
    // (version and responderID are tagged).
    let Some(responses) = children(basic.data).into_iter().next().and_then(|tbs| {
        children(tbs.data)
            .into_iter()
            .find(|a| universal(a, Tag::Sequence))
    }) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for single in children(responses.data) {
        // singleExtensions [1] EXPLICIT Extensions.
        for explicit in children(single.data).iter().filter(|a| context(a, 1)) {
            let Some(extensions) = one(explicit.data) else {
                continue;
            };
            for extension in children(extensions.data) {
                let fields = children(extension.data);
                let is_sct = fields.first().is_some_and(|oid| {
                    universal(oid, Tag::Oid) && oid.data == OCSP_SCT_LIST_OID.as_slice()
                });
                let Some(value) = fields.last().filter(|_| is_sct) else {
                    continue;
                };
                if let Ok((_, scts)) =
                    x509_parser::extensions::parse_ct_signed_certificate_timestamp_list(value.data)
                {
                    ids.extend(scts.iter().map(|sct| {
                        base64::engine::general_purpose::STANDARD.encode(sct.id.key_id)
                    }));
                }
            }
        }
    }
    ids
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
    fn an_unreadable_ocsp_response_has_no_scts_and_no_panic() {
        // The minimal malformedRequest response, truncated DER, absurd lengths, deep nesting.
        let mut nested = vec![0x30, 0x80];
        for _ in 0..200 {
            nested.extend([0xa0, 0x02, 0x30, 0x00]);
        }
        for bytes in [
            &[0x30, 0x03, 0x0a, 0x01, 0x01][..],
            b"",
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x05, 0xa0, 0x03, 0x30, 0x01],
            &nested,
        ] {
            assert!(stapled_sct_log_ids(bytes).is_empty());
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
