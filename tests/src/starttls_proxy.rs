//! A mail server's plaintext front on loopback: it speaks the real SMTP, IMAP or POP3
//! dialogue up to the STARTTLS answer, then hands the connection to a TLS server (the lab's
//! rustls server, or `openssl s_server`) by copying bytes both ways. Each connection must
//! say the preamble: a ClientHello sent first is not forwarded. Stopped on drop.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long one client may take, preamble and TLS together.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Which dialogue the front speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProtocol {
    Smtp,
    Imap,
    Pop3,
}

/// A STARTTLS front; `upgrades` counts the connections that reached TLS.
pub struct StarttlsProxy {
    pub addr: SocketAddr,
    upgrades: Arc<AtomicU32>,
    task: JoinHandle<()>,
}

impl Drop for StarttlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StarttlsProxy {
    /// Listens on `ip:0` (a loopback address) and forwards upgraded connections to
    /// `backend`. With `offer` false, the server refuses the upgrade as its protocol does
    /// (no STARTTLS in EHLO, `BAD`, `-ERR`).
    pub async fn start(
        ip: IpAddr,
        protocol: MailProtocol,
        backend: SocketAddr,
        offer: bool,
    ) -> std::io::Result<StarttlsProxy> {
        if !ip.is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the lab serves on loopback addresses only, not {ip}"),
            ));
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        let addr = listener.local_addr()?;
        let upgrades = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&upgrades);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let counter = Arc::clone(&counter);
                            connections.spawn(async move {
                                let _ = tokio::time::timeout(
                                    CLIENT_TIMEOUT,
                                    serve(stream, protocol, backend, offer, counter),
                                )
                                .await;
                            });
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(StarttlsProxy {
            addr,
            upgrades,
            task,
        })
    }

    /// Connections that completed the preamble and were handed to the TLS server.
    pub fn upgrades(&self) -> u32 {
        self.upgrades.load(Ordering::SeqCst)
    }
}

async fn serve(
    stream: TcpStream,
    protocol: MailProtocol,
    backend: SocketAddr,
    offer: bool,
    upgrades: Arc<AtomicU32>,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    // Reads one client line; anything else than a text line (a ClientHello) ends the session.
    macro_rules! read_line {
        () => {{
            line.clear();
            let n = (&mut stream).take(1024).read_line(&mut line).await?;
            if n == 0 || !line.ends_with('\n') || !line.is_ascii() {
                return Ok(());
            }
            line.trim_end().to_ascii_uppercase()
        }};
    }
    match protocol {
        MailProtocol::Smtp => {
            stream
                .write_all(b"220 mail.lab.test ESMTP ready\r\n")
                .await?;
            let ehlo = read_line!();
            if !ehlo.starts_with("EHLO ") {
                stream.write_all(b"500 5.5.1 EHLO first\r\n").await?;
                return Ok(());
            }
            if offer {
                stream
                    .write_all(
                        b"250-mail.lab.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                    )
                    .await?;
            } else {
                stream
                    .write_all(b"250-mail.lab.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                    .await?;
            }
            let command = read_line!();
            if command != "STARTTLS" {
                stream.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            stream
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await?;
        }
        MailProtocol::Imap => {
            stream
                .write_all(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
                .await?;
            let command = read_line!();
            let Some((tag, verb)) = command.split_once(' ') else {
                return Ok(());
            };
            let tag = tag.to_ascii_lowercase();
            if verb != "STARTTLS" || !offer {
                stream
                    .write_all(format!("{tag} BAD command unknown or disabled\r\n").as_bytes())
                    .await?;
                return Ok(());
            }
            stream
                .write_all(format!("{tag} OK Begin TLS negotiation now\r\n").as_bytes())
                .await?;
        }
        MailProtocol::Pop3 => {
            stream.write_all(b"+OK POP3 ready\r\n").await?;
            let command = read_line!();
            if command != "STLS" || !offer {
                stream.write_all(b"-ERR command not available\r\n").await?;
                return Ok(());
            }
            stream.write_all(b"+OK Begin TLS negotiation\r\n").await?;
        }
    }
    if !stream.buffer().is_empty() {
        // The client must wait for our answer before its hello.
        return Ok(());
    }
    upgrades.fetch_add(1, Ordering::SeqCst);
    let mut client = stream.into_inner();
    let mut server = TcpStream::connect(backend).await?;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    Ok(())
}
