//! Servers on loopback for probes to meet: a real TLS server, one that never answers and one
//! that answers garbage. Each binds `ip:0`, is ready when `start` returns (the listener is
//! bound, so connections queue), and stops when its handle is dropped.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::pki::Issued;

/// How long a server waits on one client before giving up on it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

async fn bind(ip: IpAddr) -> std::io::Result<TcpListener> {
    if !ip.is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the lab serves on loopback addresses only, not {ip}"),
        ));
    }
    TcpListener::bind(SocketAddr::new(ip, 0)).await
}

/// Accepts connections on `listener` and runs `serve` for each, until the returned task is
/// aborted; aborting it drops the JoinSet, which aborts every connection task too.
fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> JoinHandle<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve(stream));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

/// A rustls server presenting a certificate chain; after the handshake it reads the request
/// (if any, briefly) and answers a minimal `HTTP/1.1 200`, then closes.
pub struct TlsServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TlsServer {
    /// Serves `issued` on `ip:0`; `ip` must be a loopback address.
    pub async fn start(ip: IpAddr, issued: &Issued) -> std::io::Result<TlsServer> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(issued.chain.clone(), issued.key.clone_key())
            .map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = bind(ip).await?;
        let addr = listener.local_addr()?;
        let task = accept_loop(listener, move |stream| {
            let acceptor = acceptor.clone();
            async move {
                let _ = tokio::time::timeout(CLIENT_TIMEOUT, async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    let _ = tokio::time::timeout(Duration::from_millis(200), tls.read(&mut buf))
                        .await;
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                })
                .await;
            }
        });
        Ok(TlsServer { addr, task })
    }
}

impl TlsServer {
    /// Presents `chain` but signs the handshake with `key`, which need not match the leaf: a
    /// server that cannot prove it holds the certificate's key (an impostor). rustls' own
    /// key check is bypassed on purpose.
    pub async fn start_impostor(
        ip: IpAddr,
        chain: Vec<rustls_pki_types::CertificateDer<'static>>,
        key: rustls_pki_types::PrivateKeyDer<'static>,
    ) -> std::io::Result<TlsServer> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(std::io::Error::other)?;
        let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, signing_key));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(AlwaysPresent(certified)));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = bind(ip).await?;
        let addr = listener.local_addr()?;
        let task = accept_loop(listener, move |stream| {
            let acceptor = acceptor.clone();
            async move {
                let _ = tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(stream)).await;
            }
        });
        Ok(TlsServer { addr, task })
    }
}

/// Presents the same certificate and key to every client.
#[derive(Debug)]
struct AlwaysPresent(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for AlwaysPresent {
    fn resolve(
        &self,
        _client_hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts TCP connections and never writes a byte (keeps them open until dropped).
pub struct SilentServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentServer {
    /// Listens on `ip:0`; `ip` must be a loopback address.
    pub async fn start(ip: IpAddr) -> std::io::Result<SilentServer> {
        let listener = bind(ip).await?;
        let addr = listener.local_addr()?;
        let task = accept_loop(listener, |mut stream| async move {
            // Drain what the client sends, answer nothing, until the client gives up.
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(CLIENT_TIMEOUT * 6, async {
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        });
        Ok(SilentServer { addr, task })
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts TCP connections, writes bytes that are not TLS, then closes.
pub struct GarbageServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl GarbageServer {
    /// Answers every connection with a text banner that is not a TLS record.
    pub async fn start(ip: IpAddr) -> std::io::Result<GarbageServer> {
        Self::start_with(
            ip,
            b"SSH-2.0-NotTLS\r\n\x00\xff\xfe garbage garbage\r\n".to_vec(),
        )
        .await
    }

    /// Answers every connection with `payload` (e.g. a TLS record header announcing an absurd
    /// length, then nothing), then closes.
    pub async fn start_with(ip: IpAddr, payload: Vec<u8>) -> std::io::Result<GarbageServer> {
        let listener = bind(ip).await?;
        let addr = listener.local_addr()?;
        let payload = Arc::new(payload);
        let task = accept_loop(listener, move |mut stream| {
            let payload = Arc::clone(&payload);
            async move {
                let mut buf = [0u8; 4096];
                // Let the ClientHello arrive first, so the client is mid-handshake.
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
                let _ = stream.write_all(&payload).await;
                let _ = stream.shutdown().await;
            }
        });
        Ok(GarbageServer { addr, task })
    }
}

impl Drop for GarbageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
