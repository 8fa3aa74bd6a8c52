//! The one TLS client of the probes: it accepts any chain and records it for our own judgement
//! (the [`RecordingVerifier`]), still makes the server prove it holds the certificate's key,
//! and uses ring explicitly, never a process-wide default provider. The TLS, STARTTLS and
//! service identification probes all build it here.

use std::sync::Arc;

use rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use super::verify::RecordingVerifier;

/// A client configuration and the verifier that records what its handshakes saw.
///
/// One per handshake when its chain is read afterwards; one per scan is enough when, as for
/// service identification, TLS only carries the protocol to hear and the chain is not read.
pub(crate) struct RecordingClient {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) verifier: Arc<RecordingVerifier>,
}

impl RecordingClient {
    /// Fails only if the provider offers none of the default protocol versions.
    pub(crate) fn new() -> Result<RecordingClient, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(RecordingVerifier::new(&provider));
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&verifier) as _)
            .with_no_client_auth();
        Ok(RecordingClient {
            config: Arc::new(config),
            verifier,
        })
    }

    pub(crate) fn connector(&self) -> TlsConnector {
        TlsConnector::from(Arc::clone(&self.config))
    }
}
