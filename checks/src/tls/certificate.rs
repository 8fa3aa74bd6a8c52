//! X.509 parsing into the model's [`CertificateInfo`].

use vigie_model::CertificateInfo;

/// Why a certificate could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("the server's certificate #{index} is not valid X.509 DER: {reason}")]
    Malformed { index: usize, reason: String },
}

/// Parses the `index`-th certificate of a chain.
pub fn parse(index: usize, der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    let _ = der;
    Err(CertificateError::Malformed {
        index,
        reason: "not implemented".to_owned(),
    })
}
