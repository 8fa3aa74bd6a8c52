//! The plaintext preambles that turn a mail connection into a TLS one: SMTP (`EHLO`,
//! `STARTTLS`, RFC 3207), IMAP (`STARTTLS`, RFC 9051 §6.2.1) and POP3 (`STLS`, RFC 2595).
//!
//! Every connection of a TLS probe of such an endpoint (the handshake and each hello of the
//! enumeration) runs its preamble first. The email family's MX probe uses the same SMTP
//! dialogue. Read-only: no login, no message; every reply bounded in size, pieces and time.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest reply read (a real EHLO or CAPABILITY answer is a few hundred bytes).
const MAX_REPLY_BYTES: usize = 16 * 1024;
/// The most reads spent on one reply.
const MAX_REPLY_READS: usize = 64;
/// The tag of our one IMAP command.
const IMAP_TAG: &str = "v1";

/// A protocol that upgrades to TLS in-band (`--starttls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Starttls {
    Smtp,
    Imap,
    Pop3,
}

impl Starttls {
    pub fn as_str(self) -> &'static str {
        match self {
            Starttls::Smtp => "smtp",
            Starttls::Imap => "imap",
            Starttls::Pop3 => "pop3",
        }
    }

    /// The protocol usually spoken in clear first on a well-known port: 25 and 587 (SMTP
    /// submission), 143 (IMAP), 110 (POP3). 465, 993 and 995 are implicit TLS, like any other
    /// port.
    pub fn for_port(port: u16) -> Option<Starttls> {
        match port {
            25 | 587 => Some(Starttls::Smtp),
            143 => Some(Starttls::Imap),
            110 => Some(Starttls::Pop3),
            _ => None,
        }
    }
}

impl std::fmt::Display for Starttls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Starttls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "smtp" => Ok(Starttls::Smtp),
            "imap" => Ok(Starttls::Imap),
            "pop3" => Ok(Starttls::Pop3),
            other => Err(format!(
                "unknown STARTTLS protocol `{other}` (expected smtp, imap or pop3)"
            )),
        }
    }
}

/// Why the connection could not be upgraded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StarttlsError {
    /// The server answered but does not offer the upgrade.
    #[error("STARTTLS was not offered: {0}")]
    NotOffered(String),
    /// The dialogue failed (timeout, closed connection, not the expected protocol).
    #[error("{protocol} STARTTLS preamble failed: {reason}")]
    Failed {
        protocol: &'static str,
        reason: String,
    },
}

/// Runs the preamble of `protocol` on `stream`; on success the next bytes are our
/// ClientHello. Each reply is bounded by `timeout`.
pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    protocol: Starttls,
    ehlo_name: &str,
    timeout: Duration,
) -> Result<(), StarttlsError> {
    let failed = |reason: String| StarttlsError::Failed {
        protocol: match protocol {
            Starttls::Smtp => "SMTP",
            Starttls::Imap => "IMAP",
            Starttls::Pop3 => "POP3",
        },
        reason,
    };
    let mut reader = Replies::default();
    match protocol {
        Starttls::Smtp => match smtp_upgrade(stream, &mut reader, ehlo_name, timeout)
            .await
            .map_err(failed)?
        {
            SmtpUpgrade::Ready => {}
            SmtpUpgrade::NotOffered => {
                return Err(StarttlsError::NotOffered(
                    "the SMTP server's EHLO reply does not list STARTTLS".to_owned(),
                ))
            }
        },
        Starttls::Imap => {
            let greeting = reader.line(stream, timeout).await.map_err(failed)?;
            if !greeting.starts_with("* OK") && !greeting.starts_with("* PREAUTH") {
                return Err(failed(format!(
                    "greeting {:?} instead of `* OK`",
                    truncate(&greeting)
                )));
            }
            send(stream, &format!("{IMAP_TAG} STARTTLS\r\n"), timeout)
                .await
                .map_err(failed)?;
            // Untagged lines (capabilities) may come first; the tagged one decides.
            let mut answer = None;
            for _ in 0..MAX_REPLY_READS {
                let line = reader.line(stream, timeout).await.map_err(failed)?;
                if let Some(rest) = line
                    .strip_prefix(IMAP_TAG)
                    .and_then(|r| r.strip_prefix(' '))
                {
                    answer = Some(rest.to_owned());
                    break;
                }
            }
            let answer = answer.ok_or_else(|| failed("no tagged answer".to_owned()))?;
            if !answer.to_ascii_uppercase().starts_with("OK") {
                return Err(StarttlsError::NotOffered(format!(
                    "the IMAP server answered STARTTLS with {:?}",
                    truncate(&answer)
                )));
            }
        }
        Starttls::Pop3 => {
            let greeting = reader.line(stream, timeout).await.map_err(failed)?;
            if !greeting.starts_with("+OK") {
                return Err(failed(format!(
                    "greeting {:?} instead of `+OK`",
                    truncate(&greeting)
                )));
            }
            send(stream, "STLS\r\n", timeout).await.map_err(failed)?;
            let answer = reader.line(stream, timeout).await.map_err(failed)?;
            if !answer.starts_with("+OK") {
                return Err(StarttlsError::NotOffered(format!(
                    "the POP3 server answered STLS with {:?}",
                    truncate(&answer)
                )));
            }
        }
    }
    if !reader.buffered.is_empty() {
        // Bytes before our handshake would be read as if they came over TLS (CVE-2011-0411).
        return Err(failed(
            "the server sent data after its STARTTLS reply, before TLS".to_owned(),
        ));
    }
    Ok(())
}

/// Where the SMTP dialogue stands after [`smtp_upgrade`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpUpgrade {
    /// `STARTTLS` was answered 220: TLS comes next.
    Ready,
    /// EHLO did not list STARTTLS; we said QUIT.
    NotOffered,
}

/// Greeting, `EHLO`, and `STARTTLS` when offered (else `QUIT`).
pub(crate) async fn smtp_upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut Replies,
    ehlo_name: &str,
    timeout: Duration,
) -> Result<SmtpUpgrade, String> {
    let (code, _) = reader.read(stream, timeout).await?;
    if code != 220 {
        return Err(format!("greeting {code} instead of 220"));
    }
    send(stream, &format!("EHLO {ehlo_name}\r\n"), timeout).await?;
    let (code, lines) = reader.read(stream, timeout).await?;
    if code != 250 {
        return Err(format!("EHLO answered {code} instead of 250"));
    }
    // RFC 5321 §4.1.1.1: the first line is the greeting, then one keyword per line.
    let offered = lines.iter().skip(1).any(|line| {
        line.split_ascii_whitespace()
            .next()
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        smtp_quit(stream, reader, timeout).await;
        return Ok(SmtpUpgrade::NotOffered);
    }
    send(stream, "STARTTLS\r\n", timeout).await?;
    let (code, _) = reader.read(stream, timeout).await?;
    if code != 220 {
        return Err(format!("STARTTLS answered {code} instead of 220"));
    }
    Ok(SmtpUpgrade::Ready)
}

/// The machine's host name when it is a plausible domain, else `localhost`: what we say in
/// `EHLO`.
pub fn ehlo_name() -> String {
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

pub(crate) async fn send<S: AsyncWrite + Unpin>(
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

/// A polite SMTP end; its answer does not matter.
pub(crate) async fn smtp_quit<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut Replies,
    timeout: Duration,
) {
    if send(stream, "QUIT\r\n", timeout).await.is_ok() {
        let _ = reader.read(stream, timeout).await;
    }
}

/// Reads replies line by line, keeping bytes that arrived after the last one.
#[derive(Default)]
pub(crate) struct Replies {
    pub(crate) buffered: Vec<u8>,
}

impl Replies {
    /// One line, without its end.
    async fn line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut chunk = [0u8; 4096];
        for _ in 0..MAX_REPLY_READS {
            if let Some(end) = self.buffered.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buffered.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&raw).trim_end().to_owned());
            }
            if self.buffered.len() > MAX_REPLY_BYTES {
                return Err(format!("reply longer than {MAX_REPLY_BYTES} bytes"));
            }
            let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
                .await
                .map_err(|_| format!("no reply within {} s", timeout.as_secs_f64()))?
                .map_err(|e| format!("reading the reply: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_owned());
            }
            self.buffered.extend_from_slice(&chunk[..n]);
        }
        Err("reply in too many pieces".to_owned())
    }

    /// One SMTP reply (RFC 5321 §4.2: `ddd-text` lines then `ddd text`): its code and lines.
    pub(crate) async fn read<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        timeout: Duration,
    ) -> Result<(u16, Vec<String>), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_READS {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self
                .line(stream, left)
                .await
                .map_err(|e| e.replace("reply", "SMTP reply"))?;
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
        Err("SMTP reply in too many lines".to_owned())
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

    /// Plays `script` (what the server says after each of our lines) and runs the upgrade.
    async fn dialogue(
        protocol: Starttls,
        script: &'static [&'static str],
    ) -> Result<(), StarttlsError> {
        let (mut client, server) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move {
            let (mut read, mut write) = tokio::io::split(server);
            let mut buffer = [0u8; 512];
            for (i, said) in script.iter().enumerate() {
                if i > 0 && read.read(&mut buffer).await.unwrap_or(0) == 0 {
                    return;
                }
                if write.write_all(said.as_bytes()).await.is_err() {
                    return;
                }
            }
            // Hold the connection open until the client is done.
            let _ = read.read(&mut buffer).await;
        });
        let result = upgrade(
            &mut client,
            protocol,
            "scanner.test",
            Duration::from_secs(2),
        )
        .await;
        drop(client);
        let _ = server.await;
        result
    }

    #[tokio::test]
    async fn imap_and_pop3_upgrades_and_refusals() {
        assert_eq!(
            dialogue(
                Starttls::Imap,
                &[
                    "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
                    "v1 OK Begin TLS\r\n"
                ]
            )
            .await,
            Ok(())
        );
        let refused = dialogue(
            Starttls::Imap,
            &["* OK ready\r\n", "v1 BAD unknown command\r\n"],
        )
        .await;
        assert!(
            matches!(refused, Err(StarttlsError::NotOffered(_))),
            "{refused:?}"
        );
        assert_eq!(
            dialogue(Starttls::Pop3, &["+OK POP3 ready\r\n", "+OK Begin TLS\r\n"]).await,
            Ok(())
        );
        let refused = dialogue(Starttls::Pop3, &["+OK POP3 ready\r\n", "-ERR no\r\n"]).await;
        assert!(
            matches!(refused, Err(StarttlsError::NotOffered(_))),
            "{refused:?}"
        );
        let wrong = dialogue(Starttls::Pop3, &["220 smtp.example ESMTP\r\n"]).await;
        assert!(
            matches!(wrong, Err(StarttlsError::Failed { .. })),
            "{wrong:?}"
        );
        let refused = dialogue(
            Starttls::Smtp,
            &[
                "220 mx ESMTP\r\n",
                "250-mx\r\n250 SIZE 100\r\n",
                "221 bye\r\n",
            ],
        )
        .await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("STARTTLS was not offered")),
            "{refused:?}"
        );
    }

    #[test]
    fn well_known_ports() {
        assert_eq!(Starttls::for_port(25), Some(Starttls::Smtp));
        assert_eq!(Starttls::for_port(587), Some(Starttls::Smtp));
        assert_eq!(Starttls::for_port(143), Some(Starttls::Imap));
        assert_eq!(Starttls::for_port(110), Some(Starttls::Pop3));
        for implicit in [443, 465, 993, 995] {
            assert_eq!(Starttls::for_port(implicit), None);
        }
        assert_eq!("IMAP".parse::<Starttls>(), Ok(Starttls::Imap));
        assert!("ftp".parse::<Starttls>().is_err());
    }
}
