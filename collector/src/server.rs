//! Putting the API on a socket, and stopping it cleanly.
//!
//! The accept loop is ours rather than `axum::serve`, for what a server facing many agents
//! needs and `axum::serve` does not offer:
//! - a limit on open connections (`--max-connections`): beyond it the loop stops accepting
//!   and new connections wait in the kernel's backlog;
//! - a header read timeout (`--header-timeout`): a client that does not send its request
//!   head in time (slowloris, a half-open connection, an idle keep-alive) is disconnected;
//!   the body has its own timeout in the ingest handler;
//! - TLS with rustls (`--tls-cert`, `--tls-key`), whose certificate is read again on SIGHUP
//!   without closing the listener: connections accepted after the reload see the new one.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::Layer as _;

use crate::state::AppState;

/// The default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The default `--header-timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How the listener treats connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections open at once; the accept loop waits beyond.
    pub max_connections: usize,
    /// How long a client has to send a request head (and, with TLS, to finish the
    /// handshake) before it is disconnected.
    pub header_timeout: Duration,
    /// TLS on the listener, if configured.
    pub tls: Option<Arc<TlsReloader>>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tls: None,
        }
    }
}

/// Why the TLS certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {path}: {reason} (--tls-cert, a PEM chain with the server's certificate first)")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read the TLS key file {path}: {reason} (--tls-key, a PEM private key: PKCS#8, PKCS#1 or SEC1)")]
    Key { path: PathBuf, reason: String },
    #[error(
        "the TLS certificate {cert} and key {key} do not make a server configuration: {reason}"
    )]
    Config {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The TLS configuration of the listener, read from two PEM files and read again on
/// [`TlsReloader::reload`] (SIGHUP). A failed reload keeps the configuration in use.
#[derive(Debug)]
pub struct TlsReloader {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl TlsReloader {
    /// Reads the certificate chain and key; fails if they are unreadable or do not match.
    pub fn load(cert: &Path, key: &Path) -> Result<TlsReloader, TlsError> {
        let config = server_config(cert, key)?;
        Ok(TlsReloader {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Reads the files again; on success new connections use them, on failure the
    /// configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.cert, &self.key)?);
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = config;
        Ok(())
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tokio_rustls::TlsAcceptor::from(Arc::clone(&config))
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate {
        path: cert.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no CERTIFICATE block in the file".to_owned()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    // The provider named, not the process default, so that another crate of the build
    // enabling a second provider cannot make this ambiguous.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config {
            cert: cert.to_owned(),
            key: key.to_owned(),
            reason: e.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| TlsError::Config {
            cert: cert.to_owned(),
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves [`crate::app`] on `listener` with the default options and no TLS until
/// `shutdown` completes, then lets requests in flight finish (the caller bounds how long it
/// waits for them).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ServeOptions::default(), shutdown).await
}

/// Serves [`crate::app`] on `listener` with `options` until `shutdown` completes, then waits
/// for the connections in flight to finish their current request.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.set_listener_tls(options.tls.is_some());
    let router = crate::app(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    let mut limit_logged = false;
    tokio::pin!(shutdown);
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                limit_logged = false;
                permit
            }
            Err(_) => {
                if !limit_logged {
                    tracing::warn!(
                        max_connections = options.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    limit_logged = true;
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    permit = Arc::clone(&slots).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        // The semaphore is never closed.
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // The peer address, for what counts per source (the web view's failed logins).
        let service = TowerToHyperService::new(
            axum::Extension(axum::extract::ConnectInfo(peer)).layer(router.clone()),
        );
        let http = http.clone();
        let watcher = graceful.watcher();
        let tls = options.tls.as_ref().map(|tls| tls.acceptor());
        let handshake_timeout = options.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(stream, &http, service, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, &http, service, watcher).await,
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The router with the connection's [`axum::extract::ConnectInfo`] in every request.
type PeerRouter =
    <axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>> as tower::Layer<
        axum::Router,
    >>::Service;

async fn serve_connection<S>(
    stream: S,
    http: &hyper::server::conn::http1::Builder,
    service: TowerToHyperService<PeerRouter>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        // Timeouts and clients that go away are routine; nothing an operator must act on.
        tracing::debug!(%error, "connection closed with an error");
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM (what systemd and `docker stop` send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Reloads the TLS files on every SIGHUP until the process ends (Unix only).
pub fn reload_on_sighup(tls: Arc<TlsReloader>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; TLS files will not be reloaded");
                return;
            }
        };
        while hangup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: TLS reload failed; the previous certificate stays in use")
                }
            }
        }
    });
    #[cfg(not(unix))]
    drop(tls);
}
