//! A test certificate authority and the leaves it issues, generated in memory (rcgen, ECDSA
//! P-256) with exactly the names and validity a test needs.

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::atomic::{AtomicU64, Ordering};

/// A certificate authority that exists only for a test.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    /// A self-signed CA named `common_name`, valid from a year ago to ten years ahead.
    pub fn new(common_name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = Utc::now();
        params.not_before = to_time(now - Duration::days(365));
        params.not_after = to_time(now + Duration::days(3650));
        params.serial_number = Some(next_serial());
        let key = KeyPair::generate().expect("generate the test CA key");
        let cert = params.self_signed(&key).expect("self-sign the test CA");
        TestCa { cert, key }
    }

    /// The CA certificate in PEM, to write a `--ca-file`.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate in DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A leaf for `spec`, signed by this CA. The chain is the leaf then this CA.
    pub fn issue(&self, spec: &LeafSpec) -> Issued {
        let key = KeyPair::generate().expect("generate a leaf key");
        let leaf = leaf_params(spec)
            .signed_by(&key, &self.cert, &self.key)
            .expect("sign the leaf with the test CA");
        let chain = vec![leaf.der().clone(), self.cert.der().clone()];
        let chain_pem = format!("{}{}", leaf.pem(), self.cert.pem());
        issued(chain, chain_pem, key)
    }
}

/// What a leaf certificate must say.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// DNS names or IP literals, put in the subjectAltName; the first is also the common name.
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl LeafSpec {
    /// Valid from a day ago to 90 days ahead for `names`.
    pub fn valid_for(names: &[&str]) -> LeafSpec {
        let now = Utc::now();
        LeafSpec {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(90),
        }
    }

    /// The same names with another validity window.
    pub fn between(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> LeafSpec {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }
}

/// A self-signed leaf for `spec` (subject = issuer, signed with its own key, not a CA).
pub fn self_signed(spec: &LeafSpec) -> Issued {
    let key = KeyPair::generate().expect("generate a leaf key");
    let leaf = leaf_params(spec)
        .self_signed(&key)
        .expect("self-sign the leaf");
    let chain_pem = leaf.pem();
    issued(vec![leaf.der().clone()], chain_pem, key)
}

/// A certificate chain and its private key, in DER (for rustls) and PEM (for files).
#[derive(Debug)]
pub struct Issued {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub chain_pem: String,
    pub key_pem: String,
}

impl Clone for Issued {
    fn clone(&self) -> Self {
        Issued {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            chain_pem: self.chain_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

fn leaf_params(spec: &LeafSpec) -> CertificateParams {
    let mut params =
        CertificateParams::new(spec.names.clone()).expect("leaf names must be DNS names or IPs");
    params.distinguished_name = name(spec.names.first().map(String::as_str).unwrap_or("leaf"));
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = to_time(spec.not_before);
    params.not_after = to_time(spec.not_after);
    params.serial_number = Some(next_serial());
    params
}

fn issued(chain: Vec<CertificateDer<'static>>, chain_pem: String, key: KeyPair) -> Issued {
    Issued {
        chain,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        chain_pem,
        key_pem: key.serialize_pem(),
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Vigie test lab");
    dn
}

/// Distinct serials within a process; the time part keeps them distinct across runs.
fn next_serial() -> SerialNumber {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = Utc::now().timestamp_micros() as u64;
    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&t.to_be_bytes());
    bytes.extend_from_slice(&n.to_be_bytes());
    SerialNumber::from_slice(&bytes)
}

fn to_time(at: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at.timestamp()).expect("a representable date")
}
