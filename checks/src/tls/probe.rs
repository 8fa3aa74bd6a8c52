//! The TLS probe: resolve, connect, handshake, one attempt; every failure is recorded in the
//! observation with its stage, never returned as an error.

use std::net::IpAddr;
use std::time::Duration;

use vigie_model::{ProbeStage, TlsObservation, TlsProbeResult};

use super::target::TlsTarget;
use super::verify::TrustStore;
use crate::dns::Resolver;

/// How to reach a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProbeOptions {
    /// The name sent in SNI and checked against the certificate; default: the target's host.
    pub sni: Option<String>,
    /// Connect to this address instead of resolving the host (`--connect`).
    pub connect: Option<IpAddr>,
    /// Bounds the connection and, separately, the handshake.
    pub timeout: Duration,
}

impl Default for TlsProbeOptions {
    fn default() -> Self {
        TlsProbeOptions {
            sni: None,
            connect: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// One attempt at `target`; never returns an error: failures are recorded in the observation
/// (stage and reason).
pub async fn probe(
    target: &TlsTarget,
    options: &TlsProbeOptions,
    resolver: &Resolver,
    trust: &TrustStore,
) -> TlsObservation {
    let _ = (resolver, trust);
    TlsObservation {
        target: target.to_string(),
        server_name: options.sni.clone().unwrap_or_else(|| target.host.clone()),
        address: None,
        observed_at: chrono::Utc::now(),
        result: TlsProbeResult::Failed {
            stage: ProbeStage::Resolve,
            error: "not implemented".to_owned(),
        },
    }
}
