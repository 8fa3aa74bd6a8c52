//! Certificate judgement, apart from the handshake.
//!
//! The handshake uses a verifier that records the chain instead of rejecting it (handshake
//! signatures are still verified with the provider's algorithms, so it is a real handshake);
//! the chain and the name are then validated here, each on its own, so that every
//! certificate check can be reported independently.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
};
use vigie_model::ChainValidation;

/// Why the trust store could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The `--ca-file` could not be read.
    #[error("cannot read the CA file {path}: {reason}")]
    CaFileUnreadable { path: PathBuf, reason: String },
    /// The `--ca-file` is not PEM or holds no certificate.
    #[error("the CA file {path} holds no PEM certificate ({reason}); give a file with -----BEGIN CERTIFICATE----- blocks")]
    CaFileNoCertificate { path: PathBuf, reason: String },
    /// A certificate of the `--ca-file` cannot serve as a trust anchor.
    #[error("certificate #{index} of the CA file {path} cannot be a trusted root: {reason}")]
    CaFileBadCertificate {
        path: PathBuf,
        index: usize,
        reason: String,
    },
}

/// The roots a chain must lead to.
#[derive(Debug, Clone)]
pub struct TrustStore {
    /// The public roots first, then the `--ca-file` ones.
    roots: Vec<TrustAnchor<'static>>,
    /// How many of `roots` are public (system, Mozilla or a public bundle).
    public: usize,
    label: String,
}

impl TrustStore {
    /// System roots (rustls-native-certs), falling back to Mozilla's (webpki-roots) when the
    /// system has none, plus every certificate of `ca_file` (PEM). An unreadable `ca_file`
    /// or one with no certificate is an error naming the file.
    pub fn load(ca_file: Option<&Path>) -> Result<TrustStore, TlsError> {
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!(%error, "skipping part of the system trust store");
        }
        let mut roots: Vec<TrustAnchor<'static>> = native
            .certs
            .iter()
            .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
            .map(|anchor| anchor.to_owned())
            .collect();
        let mut label = if roots.is_empty() {
            tracing::info!("no system trust store found; using Mozilla's roots (webpki-roots)");
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            "mozilla".to_owned()
        } else {
            "system".to_owned()
        };
        let public = roots.len();
        if let Some(path) = ca_file {
            roots.extend(read_ca_file(path)?);
            label.push_str("+ca-file");
        }
        Ok(TrustStore {
            roots,
            public,
            label,
        })
    }

    /// Only the certificates of `ca_file`, no system or Mozilla roots: for a private PKI
    /// whose endpoints must not pass on a public CA's word, and for hermetic tests.
    pub fn only_ca_file(ca_file: &Path) -> Result<TrustStore, TlsError> {
        Ok(TrustStore {
            roots: read_ca_file(ca_file)?,
            public: 0,
            label: "ca-file".to_owned(),
        })
    }

    /// The certificates of `bundle` taken as the public web PKI in place of the system's
    /// roots: for a curated public root bundle, and for tests of the checks that apply to
    /// publicly trusted certificates only (Certificate Transparency).
    pub fn public_bundle(bundle: &Path) -> Result<TrustStore, TlsError> {
        let roots = read_ca_file(bundle)?;
        Ok(TrustStore {
            public: roots.len(),
            roots,
            label: "bundle".to_owned(),
        })
    }

    /// Which roots are in the store, e.g. `system+ca-file`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The trust anchors.
    pub fn roots(&self) -> &[TrustAnchor<'static>] {
        &self.roots
    }

    /// Whether `anchor`, one of [`roots`](Self::roots) as path building returned it, is a
    /// public root. By position, as the same root may be in both parts.
    fn is_public(&self, anchor: &TrustAnchor<'_>) -> bool {
        self.roots[..self.public].iter().any(|root| {
            std::ptr::eq(
                root as *const _ as *const u8,
                anchor as *const _ as *const u8,
            )
        })
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<TrustAnchor<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::CaFileUnreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let no_certificate = |reason: String| TlsError::CaFileNoCertificate {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| no_certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(no_certificate("no certificate block found".to_owned()));
    }
    certs
        .iter()
        .enumerate()
        .map(|(index, der)| {
            webpki::anchor_from_trusted_cert(der)
                .map(|anchor| anchor.to_owned())
                .map_err(|e| TlsError::CaFileBadCertificate {
                    path: path.to_owned(),
                    index: index + 1,
                    reason: format!("{e:?}"),
                })
        })
        .collect()
}

/// The instant at which to judge the trust path: `now` when it is inside the leaf's
/// validity window, else the window's midpoint, so that expiry is reported by the expiry
/// checks and not as distrust.
pub fn judgement_time(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if not_before <= now && now <= not_after {
        now
    } else {
        not_before + (not_after - not_before) / 2
    }
}

/// Whether `chain` (leaf first, as sent) builds to a root of `trust` at `at`, for server
/// authentication.
pub fn validate_chain(
    chain: &[CertificateDer<'static>],
    trust: &TrustStore,
    at: DateTime<Utc>,
) -> ChainValidation {
    let outcome = |error: Option<String>| ChainValidation {
        trusted: error.is_none(),
        error,
        trust_store: trust.label().to_owned(),
        public_root: None,
    };
    let Some((leaf, intermediates)) = chain.split_first() else {
        return outcome(Some("the server sent no certificate".to_owned()));
    };
    let leaf = match webpki::EndEntityCert::try_from(leaf) {
        Ok(leaf) => leaf,
        Err(e) => return outcome(Some(describe(&e))),
    };
    let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    match leaf.verify_for_usage(
        signature_algorithms(),
        trust.roots(),
        intermediates,
        time,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    ) {
        Ok(path) => ChainValidation {
            public_root: Some(trust.is_public(path.anchor())),
            ..outcome(None)
        },
        Err(e) => outcome(Some(describe(&e))),
    }
}

/// Whether the leaf is valid for `server_name` (a DNS name or an IP literal).
pub fn hostname_matches(leaf: &CertificateDer<'_>, server_name: &str) -> bool {
    let Ok(name) = ServerName::try_from(server_name.to_owned()) else {
        return false;
    };
    webpki::EndEntityCert::try_from(leaf)
        .and_then(|cert| cert.verify_is_valid_for_subject_name(&name))
        .is_ok()
}

/// The signature algorithms of the crypto provider the probe uses (ring).
fn signature_algorithms() -> &'static [&'static dyn SignatureVerificationAlgorithm] {
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
}

/// A reason a person can act on, with webpki's own name for it.
fn describe(error: &webpki::Error) -> String {
    let why = match error {
        webpki::Error::UnknownIssuer => {
            "no path to a trusted root: the issuer is not in the trust store and no intermediate the server sent leads to one"
        }
        webpki::Error::CertExpired { .. } => "a certificate of the chain has expired",
        webpki::Error::CertNotValidYet { .. } => "a certificate of the chain is not valid yet",
        webpki::Error::InvalidSignatureForPublicKey => "a signature in the chain does not verify",
        webpki::Error::UnsupportedSignatureAlgorithmContext(_)
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a signature algorithm of the chain is not supported"
        }
        webpki::Error::RequiredEkuNotFoundContext(_) => "the certificate is not for TLS server authentication",
        webpki::Error::CaUsedAsEndEntity => "the server presents a CA certificate as its own",
        webpki::Error::BadDer | webpki::Error::BadDerTime => "a certificate is malformed",
        _ => "the chain does not validate",
    };
    format!("{why} ({error:?})")
}

/// The handshake's certificate verifier: it accepts any chain and records it for our own
/// judgement, but verifies the handshake signatures with the provider's algorithms, so that
/// the server proves it holds the key of the certificate it sent.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Vec<CertificateDer<'static>>>,
    ocsp: AtomicBool,
    ocsp_response: Mutex<Vec<u8>>,
    key_proof_unverified: Mutex<Option<String>>,
}

impl RecordingVerifier {
    pub(crate) fn new(provider: &CryptoProvider) -> RecordingVerifier {
        RecordingVerifier {
            algorithms: provider.signature_verification_algorithms,
            seen: Mutex::new(Vec::new()),
            ocsp: AtomicBool::new(false),
            ocsp_response: Mutex::new(Vec::new()),
            key_proof_unverified: Mutex::new(None),
        }
    }

    /// The log ids of the SCTs in the stapled OCSP response, if any.
    pub(crate) fn stapled_sct_log_ids(&self) -> Vec<String> {
        self.ocsp_response
            .lock()
            .map(|response| super::certificate::stapled_sct_log_ids(&response))
            .unwrap_or_default()
    }

    /// Why the handshake signature was accepted unverified, when it was.
    pub(crate) fn key_proof_unverified(&self) -> Option<String> {
        self.key_proof_unverified
            .lock()
            .ok()
            .and_then(|reason| reason.clone())
    }

    /// A handshake signature the provider refused is accepted unverified only when the key
    /// is RSA under 2048 bits, which ring cannot verify at all: without this, a server with
    /// a weak key would give no handshake and so no `tls.cert.weak_key` finding. Any other
    /// failure stays a failed handshake.
    fn small_rsa_key_or(
        &self,
        cert: &CertificateDer<'_>,
        verified: Result<HandshakeSignatureValid, rustls::Error>,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let Err(error) = verified else {
            return verified;
        };
        let Ok(info) = super::certificate::parse(0, cert) else {
            return Err(error);
        };
        match info.key_bits {
            Some(bits) if info.key_type == "RSA" && bits < 2048 => {
                if let Ok(mut reason) = self.key_proof_unverified.lock() {
                    *reason = Some(format!(
                        "the server's {bits}-bit RSA key is below the 2048 bits our crypto library verifies ({error})"
                    ));
                }
                Ok(HandshakeSignatureValid::assertion())
            }
            _ => Err(error),
        }
    }

    /// Whether the server stapled a (non-empty) OCSP response.
    pub(crate) fn ocsp_stapled(&self) -> bool {
        self.ocsp.load(Ordering::SeqCst)
    }

    /// The chain the server sent, leaf first (empty before the certificate message).
    pub(crate) fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.seen
            .lock()
            .map(|chain| chain.clone())
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.ocsp.store(!ocsp_response.is_empty(), Ordering::SeqCst);
        if let Ok(mut stapled) = self.ocsp_response.lock() {
            *stapled = ocsp_response.to_vec();
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
            seen.push(end_entity.clone().into_owned());
            seen.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.small_rsa_key_or(
            cert,
            verify_tls12_signature(message, cert, dss, &self.algorithms),
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.small_rsa_key_or(
            cert,
            verify_tls13_signature(message, cert, dss, &self.algorithms),
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
