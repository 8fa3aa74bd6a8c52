//! The opt-in STARTTLS probe of MX hosts (`--smtp-probe`, `[email] smtp_probe`).
//!
//! Read-only SMTP, one attempt per host: greeting, `EHLO`, `STARTTLS` when offered, the TLS
//! handshake, then `QUIT`. Never `MAIL FROM`: no message is ever started. The certificate
//! is judged with the TLS family's own checks ([`crate::tls::verify`]): the chain must
//! build to a trusted root now, and the leaf must be valid for the MX host name (the name
//! a sending MTA that verifies, e.g. under MTA-STS, checks).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::lookup::DnsLookup;
use super::observation::StarttlsFacts;
use crate::tls::verify::{self, RecordingVerifier, TrustStore};

/// A host resolving to more addresses than this is tried on its first ones only.
const MAX_ADDRESSES: usize = 3;
/// The longest SMTP reply read (a real EHLO answer is a few hundred bytes).
const MAX_REPLY_BYTES: usize = 16 * 1024;
/// The most reads spent on one reply.
const MAX_REPLY_READS: usize = 64;

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
            ehlo_name: ehlo_name(),
            trust,
            connect: None,
        }
    }
}

/// The machine's host name when it is a plausible domain, else `localhost`.
fn ehlo_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| {
            !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
        .unwrap_or_else(|| "localhost".to_owned())
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
        address: None,
        certificate_error: None,
    };
    let addresses = match options.connect {
        Some(ip) => vec![ip],
        None => match lookups.ip(host).await {
            Ok(addresses) if addresses.is_empty() => {
                facts.error = Some(format!("{host} has no A or AAAA record"));
                return facts;
            }
            Ok(addresses) => addresses,
            Err(e) => {
                facts.error = Some(e.to_string());
                return facts;
            }
        },
    };
    let (stream, address) = match connect(&addresses, options.port, options.timeout).await {
        Ok(connected) => connected,
        Err(reason) => {
            facts.error = Some(reason);
            return facts;
        }
    };
    facts.address = Some(address.to_string());
    if let Err(reason) = session(stream, host, options, &mut facts).await {
        tracing::debug!(%host, %address, %reason, "STARTTLS probe failed");
        facts.error = Some(reason);
    }
    facts
}

async fn connect(
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), String> {
    let mut reasons = Vec::new();
    for ip in addresses.iter().take(MAX_ADDRESSES) {
        let address = SocketAddr::new(*ip, port);
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok((stream, address)),
            Ok(Err(e)) => reasons.push(format!("{address}: {e}")),
            Err(_) => reasons.push(format!(
                "{address}: no answer within {} s (port {port} filtered?)",
                timeout.as_secs_f64()
            )),
        }
    }
    Err(reasons.join("; "))
}

/// The SMTP dialogue; fills `facts` as it goes.
async fn session(
    mut stream: TcpStream,
    host: &str,
    options: &SmtpOptions,
    facts: &mut StarttlsFacts,
) -> Result<(), String> {
    let mut reader = Replies::default();
    let (code, _) = reader.read(&mut stream, options.timeout).await?;
    if code != 220 {
        return Err(format!("greeting {code} instead of 220"));
    }
    send(
        &mut stream,
        &format!("EHLO {}\r\n", options.ehlo_name),
        options.timeout,
    )
    .await?;
    let (code, lines) = reader.read(&mut stream, options.timeout).await?;
    if code != 250 {
        return Err(format!("EHLO answered {code} instead of 250"));
    }
    // RFC 5321 §4.1.1.1: the first line is the greeting, then one keyword per line.
    facts.offered = lines.iter().skip(1).any(|line| {
        line.split_ascii_whitespace()
            .next()
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("STARTTLS"))
    });
    if !facts.offered {
        quit(&mut stream, &mut reader, options.timeout).await;
        return Ok(());
    }
    send(&mut stream, "STARTTLS\r\n", options.timeout).await?;
    let (code, _) = reader.read(&mut stream, options.timeout).await?;
    if code != 220 {
        return Err(format!("STARTTLS answered {code} instead of 220"));
    }
    if !reader.buffered.is_empty() {
        // Bytes before our handshake would be read as if they came over TLS (CVE-2011-0411).
        return Err("the server sent data after its STARTTLS reply, before TLS".to_owned());
    }

    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| format!("`{host}` is not a valid TLS server name"))?;
    // Explicitly ring: never depend on a process-wide default provider.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RecordingVerifier::new(&provider));
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as _)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = match tokio::time::timeout(options.timeout, connector.connect(name, stream)).await
    {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(format!("TLS handshake after STARTTLS failed: {e}")),
        Err(_) => {
            return Err(format!(
                "no TLS handshake within {} s after STARTTLS",
                options.timeout.as_secs_f64()
            ))
        }
    };
    let chain = verifier.chain();
    let problem = match chain.first() {
        None => Some("the server sent no certificate".to_owned()),
        Some(leaf) => {
            let validation = verify::validate_chain(&chain, &options.trust, Utc::now());
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
    quit(&mut tls, &mut reader, options.timeout).await;
    let _ = tokio::time::timeout(options.timeout, tls.shutdown()).await;
    Ok(())
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    line: &str,
    timeout: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, stream.write_all(line.as_bytes())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("sending {}: {e}", line.trim_end())),
        Err(_) => Err(format!("sending {} timed out", line.trim_end())),
    }
}

async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut Replies,
    timeout: Duration,
) {
    if send(stream, "QUIT\r\n", timeout).await.is_ok() {
        let _ = reader.read(stream, timeout).await;
    }
}

/// Reads SMTP replies, keeping bytes that arrived after the last one.
#[derive(Default)]
struct Replies {
    buffered: Vec<u8>,
}

impl Replies {
    /// One reply (RFC 5321 §4.2: `ddd-text` lines then `ddd text`): its code and lines.
    async fn read<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        timeout: Duration,
    ) -> Result<(u16, Vec<String>), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut lines = Vec::new();
        let mut chunk = [0u8; 4096];
        for _ in 0..MAX_REPLY_READS {
            while let Some(end) = self.buffered.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buffered.drain(..=end).collect();
                let line = String::from_utf8_lossy(&raw).trim_end().to_owned();
                let code = line
                    .get(..3)
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| format!("not an SMTP reply: {:?}", truncate(&line)))?;
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line.get(4..).unwrap_or("").to_owned());
                if last {
                    return Ok((code, lines));
                }
            }
            if self.buffered.len() > MAX_REPLY_BYTES {
                return Err(format!("SMTP reply longer than {MAX_REPLY_BYTES} bytes"));
            }
            let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
                .await
                .map_err(|_| format!("no SMTP reply within {} s", timeout.as_secs_f64()))?
                .map_err(|e| format!("reading the SMTP reply: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_owned());
            }
            self.buffered.extend_from_slice(&chunk[..n]);
        }
        Err("SMTP reply in too many pieces".to_owned())
    }
}

fn truncate(line: &str) -> &str {
    match line.char_indices().nth(80) {
        Some((index, _)) => &line[..index],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn multi_line_replies_and_what_follows_them() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        server
            .write_all(b"250-mx.example Hello\r\n250-SIZE 1000\r\n250 STARTTLS\r\n220 next")
            .await
            .unwrap();
        let mut reader = Replies::default();
        let (code, lines) = reader
            .read(&mut client, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(code, 250);
        assert_eq!(lines, vec!["mx.example Hello", "SIZE 1000", "STARTTLS"]);
        assert_eq!(reader.buffered, b"220 next");
        drop(server);
        assert!(reader
            .read(&mut client, Duration::from_secs(1))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn garbage_is_not_a_reply() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        server.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await.unwrap();
        let mut reader = Replies::default();
        let error = reader
            .read(&mut client, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(error.contains("not an SMTP reply"), "{error}");
    }
}
