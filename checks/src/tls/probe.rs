//! The TLS probe: resolve, connect, handshake, one attempt; every failure is recorded in the
//! observation with its stage, never returned as an error.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::Utc;
use rustls::pki_types::ServerName;
use rustls::ProtocolVersion;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use vigie_model::{FailureKind, ProbeStage, TlsHandshake, TlsObservation, TlsProbeResult};

use super::certificate;
use super::client::RecordingClient;
use super::starttls::{self, Starttls};
use super::target::TlsTarget;
use super::verify::{self, TrustStore};
use crate::dns::Resolver;

/// A name resolving to more addresses than this is tried on its first ones only, so that a
/// probe's duration stays bounded.
const MAX_ADDRESSES: usize = 3;

/// The longest we wait for a polite close after the handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How to reach a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProbeOptions {
    /// The name sent in SNI and checked against the certificate; default: the target's host.
    pub sni: Option<String>,
    /// Connect to this address instead of resolving the host (`--connect`).
    pub connect: Option<IpAddr>,
    /// Bounds the connection and, separately, the handshake (and each reply of a STARTTLS
    /// preamble).
    pub timeout: Duration,
    /// Speak this protocol in clear and ask it for TLS before every handshake (`--starttls`,
    /// or the well-known port); `None` is implicit TLS.
    pub starttls: Option<Starttls>,
}

impl Default for TlsProbeOptions {
    fn default() -> Self {
        TlsProbeOptions {
            sni: None,
            connect: None,
            timeout: Duration::from_secs(10),
            starttls: None,
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
    probe_reporting_preamble(target, options, resolver, trust)
        .await
        .0
}

/// [`probe`], and whether the STARTTLS preamble failed (then no TLS can be spoken at all).
pub(crate) async fn probe_reporting_preamble(
    target: &TlsTarget,
    options: &TlsProbeOptions,
    resolver: &Resolver,
    trust: &TrustStore,
) -> (TlsObservation, bool) {
    let server_name = options
        .sni
        .as_deref()
        .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_else(|| target.host.clone());
    let mut observation = TlsObservation {
        target: target.to_string(),
        server_name: server_name.clone(),
        address: None,
        observed_at: Utc::now(),
        result: TlsProbeResult::Failed {
            stage: ProbeStage::Resolve,
            error: String::new(),
            kind: None,
        },
        enumeration: None,
    };
    let failed = |stage: ProbeStage, (kind, error): (FailureKind, String)| TlsProbeResult::Failed {
        stage,
        error,
        kind: Some(kind),
    };

    let addresses = match options.connect {
        Some(ip) => vec![ip],
        None => match resolver.lookup_ip(&target.host).await {
            Ok(addresses) => addresses,
            Err(error) => {
                tracing::debug!(%target, %error, "resolution failed");
                observation.result = failed(ProbeStage::Resolve, (error.kind(), error.to_string()));
                return (observation, false);
            }
        },
    };

    let mut stream = match connect(&addresses, target.port, options.timeout).await {
        Ok((stream, address)) => {
            observation.address = Some(address.to_string());
            stream
        }
        Err((address, error)) => {
            tracing::debug!(%target, kind = %error.0, error = %error.1, "connection failed");
            observation.address = address.map(|a| a.to_string());
            observation.result = failed(ProbeStage::Connect, error);
            return (observation, false);
        }
    };

    if let Some(protocol) = options.starttls {
        if let Err(error) = starttls::upgrade(
            &mut stream,
            protocol,
            &starttls::ehlo_name(),
            options.timeout,
        )
        .await
        {
            tracing::debug!(%target, %error, "STARTTLS failed");
            // The server answered in clear but not as the protocol says (a timeout inside the
            // preamble is reported by text only, and counted here).
            observation.result = failed(
                ProbeStage::Handshake,
                (FailureKind::Protocol, error.to_string()),
            );
            return (observation, true);
        }
    }
    observation.result = match handshake(stream, &server_name, options.timeout, trust).await {
        Ok(handshake) => TlsProbeResult::Handshake(handshake),
        Err(error) => {
            tracing::debug!(%target, kind = %error.0, error = %error.1, "handshake failed");
            failed(ProbeStage::Handshake, error)
        }
    };
    (observation, false)
}

/// Connects to the first address that answers, each attempt bounded by `timeout`. On
/// failure, the last address tried, the kind of its failure and why each failed.
async fn connect(
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), (Option<SocketAddr>, (FailureKind, String))> {
    let mut reasons = Vec::new();
    let mut last = None;
    // The kind of the last attempt, as the address reported is the last one tried.
    let mut kind = FailureKind::Name;
    for ip in addresses.iter().take(MAX_ADDRESSES) {
        let address = SocketAddr::new(*ip, port);
        last = Some(address);
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok((stream, address)),
            Ok(Err(error)) => {
                kind = FailureKind::of_io(error.kind());
                reasons.push(format!("{address}: {error}"));
            }
            Err(_) => {
                kind = FailureKind::Timeout;
                reasons.push(format!(
                    "{address}: no answer within {} s",
                    timeout.as_secs_f64()
                ));
            }
        }
    }
    if reasons.is_empty() {
        reasons.push("no address to connect to".to_owned());
    }
    Err((last, (kind, reasons.join("; "))))
}

async fn handshake(
    stream: TcpStream,
    server_name: &str,
    timeout: Duration,
    trust: &TrustStore,
) -> Result<TlsHandshake, (FailureKind, String)> {
    let other = |text: String| (FailureKind::Other, text);
    let name = ServerName::try_from(server_name.to_owned()).map_err(|_| {
        other(format!(
            "`{server_name}` is not a valid TLS server name (SNI)"
        ))
    })?;
    let client =
        RecordingClient::new().map_err(|e| other(format!("TLS client setup failed: {e}")))?;
    let (connector, verifier) = (client.connector(), client.verifier);
    let mut tls = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => return Err((io_kind(&error), describe_io(&error))),
        Err(_) => {
            return Err((
                FailureKind::Timeout,
                format!(
            "no TLS handshake within {} s: the server accepted the connection but did not answer",
            timeout.as_secs_f64()
        ),
            ))
        }
    };

    let (_, connection) = tls.get_ref();
    let protocol = connection
        .protocol_version()
        .map(protocol_name)
        .unwrap_or_default();
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map(|suite| format!("{:?}", suite.suite()))
        .unwrap_or_default();
    let mut chain = verifier.chain();
    if chain.is_empty() {
        chain = connection
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT.min(timeout), tls.shutdown()).await;

    let Some(leaf_der) = chain.first() else {
        return Err((
            FailureKind::Tls,
            "the server completed the handshake without a certificate".to_owned(),
        ));
    };
    let leaf = certificate::parse(0, leaf_der).map_err(|e| (FailureKind::Tls, e.to_string()))?;
    let mut certificates = vec![leaf];
    for (index, der) in chain.iter().enumerate().skip(1) {
        match certificate::parse(index, der) {
            Ok(info) => certificates.push(info),
            Err(error) => tracing::warn!(%error, "skipping an unparsable chain certificate"),
        }
    }
    let at = verify::judgement_time(
        certificates[0].not_before,
        certificates[0].not_after,
        Utc::now(),
    );
    let chain_validation = verify::validate_chain(&chain, trust, at);
    let hostname_matches = verify::hostname_matches(leaf_der, server_name);
    Ok(TlsHandshake {
        protocol,
        cipher_suite,
        certificates,
        chain: chain_validation,
        hostname_matches,
        ocsp_stapled: Some(verifier.ocsp_stapled()),
        key_proof_unverified: verifier.key_proof_unverified(),
        ocsp_sct_log_ids: verifier.stapled_sct_log_ids(),
    })
}

/// `TLSv1.3` rather than rustls' `TLSv1_3`.
fn protocol_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".to_owned(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The kind of a failed handshake: a peer that does not speak TLS at all (plain text, a
/// malformed record) or hangs up is `protocol`; one that speaks TLS and refuses (an alert, no
/// common parameters, a certificate rustls rejects) is `tls`.
pub(crate) fn io_kind(error: &std::io::Error) -> FailureKind {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidMessage(_)) => FailureKind::Protocol,
        Some(_) => FailureKind::Tls,
        None => FailureKind::of_io(error.kind()),
    }
}

/// The TLS error inside an I/O error when there is one, with a hint for the common cases.
fn describe_io(error: &std::io::Error) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return match tls {
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => format!(
                "the server does not speak TLS on this port ({tls}); is it plain text or STARTTLS?"
            ),
            rustls::Error::InvalidMessage(_) => {
                format!("the server sent a malformed TLS message ({tls})")
            }
            _ => format!("TLS handshake failed: {tls}"),
        };
    }
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".to_owned()
        }
        std::io::ErrorKind::ConnectionReset => {
            "the server reset the connection during the TLS handshake".to_owned()
        }
        _ => format!("TLS handshake failed: {error}"),
    }
}
