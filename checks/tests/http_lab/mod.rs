//! A configurable HTTP/1.1 server on loopback for the HTTPS probe's tests: plain or TLS (a
//! leaf of the lab's test CA), answering by path with chosen status, headers and body, or
//! hostile (endless header, endless body). It records each request's path and `Host`, binds
//! `ip:0`, is ready when `start` returns and stops when its handle is dropped.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use vigie_tests::pki::Issued;

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
        HttpServer::start_with(ip, site, None).await
    }

    /// HTTPS on `ip:0` presenting `issued`.
    pub async fn start_tls(ip: IpAddr, site: Site, issued: &Issued) -> HttpServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(issued.chain.clone(), issued.key.clone_key())
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        HttpServer::start_with(ip, site, Some(acceptor)).await
    }

    async fn start_with(
        ip: IpAddr,
        site: Site,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> HttpServer {
        assert!(
            ip.is_loopback(),
            "the lab serves on loopback only, not {ip}"
        );
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
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
        HttpServer { addr, seen, task }
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
