//! A configurable HTTP/1.1 server on loopback for the HTTPS probe's tests: plain or TLS (a
//! leaf of the lab's test CA), answering by path with chosen status, headers and body, or
//! hostile (endless header, endless body). It records each request's path, `Host` and SNI,
//! binds `ip:0` (or a given loopback address, e.g. ports 443 and 80 for the agent's test),
//! is ready when `start` returns and stops when its handle is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pki::Issued;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The longest a connection lives, whatever the client does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(20);
/// The longest request head read.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Writes of a hostile answer stop after this many chunks (bounded loop); the client is
/// expected to give up long before.
const MAX_HOSTILE_CHUNKS: usize = 200_000;

/// What the server answers on one path.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A normal answer.
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A status line, then header lines forever.
    EndlessHeaders,
    /// A 200 with a body that never ends.
    EndlessBody,
}

impl Answer {
    pub fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        Answer::Reply {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn redirect(status: u16, location: &str) -> Answer {
        Answer::reply(status, &[("Location", location)], "")
    }
}

/// Path → answer; other paths get a 404.
#[derive(Debug, Clone, Default)]
pub struct Site {
    answers: HashMap<String, Answer>,
}

impl Site {
    pub fn new() -> Site {
        Site::default()
    }

    pub fn at(mut self, path: &str, answer: Answer) -> Site {
        self.answers.insert(path.to_owned(), answer);
        self
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub path: String,
    pub host: Option<String>,
    /// The TLS server name (SNI) the client sent, for HTTPS.
    pub sni: Option<String>,
}

pub struct HttpServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Plain HTTP on `ip:0`.
    pub async fn start(ip: IpAddr, site: Site) -> HttpServer {
        HttpServer::start_at(SocketAddr::new(ip, 0), site)
            .await
            .expect("bind a loopback port")
    }

    /// HTTPS on `ip:0` presenting `issued`.
    pub async fn start_tls(ip: IpAddr, site: Site, issued: &Issued) -> HttpServer {
        HttpServer::start_tls_at(SocketAddr::new(ip, 0), site, issued)
            .await
            .expect("bind a loopback port")
    }

    /// Plain HTTP on `addr` (a loopback address); fails when the port cannot be bound
    /// (taken, or below 1024 without the privilege).
    pub async fn start_at(addr: SocketAddr, site: Site) -> std::io::Result<HttpServer> {
        HttpServer::start_with(addr, site, None).await
    }

    /// HTTPS on `addr` presenting `issued`; fails like [`HttpServer::start_at`].
    pub async fn start_tls_at(
        addr: SocketAddr,
        site: Site,
        issued: &Issued,
    ) -> std::io::Result<HttpServer> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(issued.chain.clone(), issued.key.clone_key())
            .map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        HttpServer::start_with(addr, site, Some(acceptor)).await
    }

    async fn start_with(
        addr: SocketAddr,
        site: Site,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<HttpServer> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the lab serves on loopback addresses only, not {addr}"),
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let site = Arc::new(site);
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let site = Arc::clone(&site);
                        let log = Arc::clone(&log);
                        let acceptor = acceptor.clone();
                        connections.spawn(async move {
                            let _ = tokio::time::timeout(CONNECTION_LIFETIME, async move {
                                match acceptor {
                                    None => serve(stream, None, &site, &log).await,
                                    Some(acceptor) => {
                                        let Ok(tls) = acceptor.accept(stream).await else {
                                            return;
                                        };
                                        let sni = tls.get_ref().1.server_name().map(str::to_owned);
                                        serve(tls, sni, &site, &log).await
                                    }
                                }
                            })
                            .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(HttpServer { addr, seen, task })
    }

    /// The requests served so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head, answers it, closes.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    sni: Option<String>,
    site: &Site,
    log: &Mutex<Vec<SeenRequest>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let host = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("host")
            .then(|| value.trim().to_owned())
    });
    if let Ok(mut seen) = log.lock() {
        seen.push(SeenRequest {
            path: path.clone(),
            host,
            sni,
        });
    }
    let answer =
        site.answers.get(&path).cloned().unwrap_or_else(|| {
            Answer::reply(404, &[("Content-Type", "text/plain")], "not found\n")
        });
    match answer {
        Answer::Reply {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} Lab\r\n");
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            let _ = stream.write_all(&bytes).await;
        }
        Answer::EndlessHeaders => {
            if stream.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
                return;
            }
            let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
            for _ in 0..MAX_HOSTILE_CHUNKS {
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        Answer::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = "Contact: mailto:security@vigie.test\n".repeat(400);
            for _ in 0..MAX_HOSTILE_CHUNKS {
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}
