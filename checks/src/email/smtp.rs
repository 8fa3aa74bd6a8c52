//! The opt-in STARTTLS probe of MX hosts (`--smtp-probe`, `[email] smtp_probe`).
//!
//! Read-only SMTP, one attempt per host: greeting, `EHLO`, `STARTTLS` when offered (the
//! dialogue of [`crate::tls::starttls`], shared with `scan tls --starttls smtp`), the TLS
//! handshake, then `QUIT`. Never `MAIL FROM`: no message is ever started. The certificate
//! is judged with the TLS family's own checks ([`crate::tls::verify`]): the chain must
//! build to a trusted root now, and the leaf must be valid for the MX host name (the name
//! a sending MTA that verifies, e.g. under MTA-STS, checks).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::Utc;
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::lookup::DnsLookup;
use super::observation::StarttlsFacts;
use crate::tls::certificate;
use crate::tls::client::RecordingClient;
use crate::tls::starttls::{self, Replies, SmtpUpgrade};
use crate::tls::verify::{self, TrustStore};
use vigie_model::FailureKind;

/// A host resolving to more addresses than this is tried on its first ones only.
const MAX_ADDRESSES: usize = 3;

/// How to probe the MX hosts.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// The SMTP port: 25 in real use; tests point it elsewhere.
    pub port: u16,
    /// Bounds the connection, each reply and the handshake, separately.
    pub timeout: Duration,
    /// The name sent in `EHLO`.
    pub ehlo_name: String,
    /// The roots a certificate must lead to.
    pub trust: TrustStore,
    /// Connect here instead of resolving the MX host (tests).
    pub connect: Option<IpAddr>,
}

impl SmtpOptions {
    /// Port 25, 10-second steps, `EHLO` with this machine's name.
    pub fn new(trust: TrustStore) -> SmtpOptions {
        SmtpOptions {
            port: 25,
            timeout: Duration::from_secs(10),
            ehlo_name: starttls::ehlo_name(),
            trust,
            connect: None,
        }
    }
}

/// Probes one MX host; never fails as a whole: what went wrong is in `error`.
pub async fn probe_mx<L: DnsLookup>(
    host: &str,
    options: &SmtpOptions,
    lookups: &L,
) -> StarttlsFacts {
    let mut facts = StarttlsFacts {
        host: host.to_owned(),
        offered: false,
        certificate_valid: None,
        error: None,
        kind: None,
        address: None,
        certificate_error: None,
        not_before: None,
        not_after: None,
    };
    let addresses = match options.connect {
        Some(ip) => vec![ip],
        None => match lookups.ip(host).await {
            Ok(addresses) if addresses.is_empty() => {
                facts.error = Some(format!("{host} has no A or AAAA record"));
                facts.kind = Some(FailureKind::Name);
                return facts;
            }
            Ok(addresses) => addresses,
            Err(e) => {
                facts.error = Some(e.to_string());
                facts.kind = Some(if e.no_answer {
                    FailureKind::Timeout
                } else {
                    FailureKind::Name
                });
                return facts;
            }
        },
    };
    let (stream, address) = match connect(&addresses, options.port, options.timeout).await {
        Ok(connected) => connected,
        Err((kind, reason)) => {
            facts.error = Some(reason);
            facts.kind = Some(kind);
            return facts;
        }
    };
    facts.address = Some(address.to_string());
    if let Err((kind, reason)) = session(stream, host, options, &mut facts).await {
        tracing::debug!(%host, %address, %kind, %reason, "STARTTLS probe failed");
        facts.error = Some(reason);
        facts.kind = Some(kind);
    }
    facts
}

async fn connect(
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), (FailureKind, String)> {
    let mut reasons = Vec::new();
    // The kind of the last attempt, as the TLS probe reports it.
    let mut kind = FailureKind::Name;
    for ip in addresses.iter().take(MAX_ADDRESSES) {
        let address = SocketAddr::new(*ip, port);
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok((stream, address)),
            Ok(Err(e)) => {
                kind = FailureKind::of_io(e.kind());
                reasons.push(format!("{address}: {e}"));
            }
            Err(_) => {
                kind = FailureKind::Timeout;
                reasons.push(format!(
                    "{address}: no answer within {} s (port {port} filtered?)",
                    timeout.as_secs_f64()
                ));
            }
        }
    }
    Err((kind, reasons.join("; ")))
}

/// The SMTP dialogue; fills `facts` as it goes. On failure, its kind: the SMTP dialogue's own
/// errors are text, counted as `protocol` (its timeouts included).
async fn session(
    mut stream: TcpStream,
    host: &str,
    options: &SmtpOptions,
    facts: &mut StarttlsFacts,
) -> Result<(), (FailureKind, String)> {
    let protocol = |reason: String| (FailureKind::Protocol, reason);
    let other = |reason: String| (FailureKind::Other, reason);
    let mut reader = Replies::default();
    let upgrade = starttls::smtp_upgrade(
        &mut stream,
        &mut reader,
        &options.ehlo_name,
        options.timeout,
    )
    .await
    .map_err(protocol)?;
    facts.offered = upgrade == SmtpUpgrade::Ready;
    if !facts.offered {
        return Ok(());
    }
    if !reader.buffered.is_empty() {
        // Bytes before our handshake would be read as if they came over TLS (CVE-2011-0411).
        return Err(protocol(
            "the server sent data after its STARTTLS reply, before TLS".to_owned(),
        ));
    }

    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| other(format!("`{host}` is not a valid TLS server name")))?;
    let client =
        RecordingClient::new().map_err(|e| other(format!("TLS client setup failed: {e}")))?;
    let (connector, verifier) = (client.connector(), client.verifier);
    let mut tls = match tokio::time::timeout(options.timeout, connector.connect(name, stream)).await
    {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            return Err((
                crate::tls::probe::io_kind(&e),
                format!("TLS handshake after STARTTLS failed: {e}"),
            ))
        }
        Err(_) => {
            return Err((
                FailureKind::Timeout,
                format!(
                    "no TLS handshake within {} s after STARTTLS",
                    options.timeout.as_secs_f64()
                ),
            ))
        }
    };
    let chain = verifier.chain();
    let problem = match chain.first() {
        None => Some("the server sent no certificate".to_owned()),
        Some(leaf) => {
            // Trust is judged at an instant inside the leaf's validity, as the TLS probe
            // does: whether the certificate is current is the grading's call, at the scan's
            // instant, so that a regrade can revisit it.
            let mut at = Utc::now();
            if let Ok(info) = certificate::parse(0, leaf) {
                at = verify::judgement_time(info.not_before, info.not_after, at);
                facts.not_before = Some(info.not_before);
                facts.not_after = Some(info.not_after);
            }
            let validation = verify::validate_chain(&chain, &options.trust, at);
            if let Some(error) = validation.error {
                Some(error)
            } else if !verify::hostname_matches(leaf, host) {
                Some(format!("the certificate is not valid for the name {host}"))
            } else {
                None
            }
        }
    };
    facts.certificate_valid = Some(problem.is_none());
    facts.certificate_error = problem;
    // Polite end inside TLS; its answer does not matter.
    let mut reader = Replies::default();
    starttls::smtp_quit(&mut tls, &mut reader, options.timeout).await;
    let _ = tokio::time::timeout(options.timeout, tls.shutdown()).await;
    Ok(())
}
