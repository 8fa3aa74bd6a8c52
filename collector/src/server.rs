//! Putting the API on a socket, and stopping it cleanly.
//!
//! The accept loop is ours rather than `axum::serve`, for what a server facing many agents
//! (and anyone else who can reach the port) needs and `axum::serve` does not offer:
//! - a limit on open connections (`--max-connections`);
//! - a limit per source address (`--max-connections-per-address`, default 64; an IPv6
//!   address counts by its /64): a connection beyond it is closed at once, before a byte is
//!   read, and takes no slot. This is what keeps agents served while one address opens
//!   connections by the thousand: it can hold 64 slots of 1024, never all of them. Behind a
//!   reverse proxy every connection comes from the proxy: turn it off (0) there and limit
//!   per client in the proxy;
//! - a reserve for health checks ([`HEALTH_RESERVE`] connections beyond
//!   `--max-connections`): while every normal slot is taken, a new connection gets a reserve
//!   slot that answers `/healthz` and `/readyz` and closes, and answers anything else 503
//!   `overloaded`. So an orchestrator's probes are answered while the collector is only busy.
//!   Beyond the reserve too, the loop stops accepting and new connections wait in the
//!   kernel's backlog;
//! - a header read timeout (`--header-timeout`): a client that does not send its request
//!   head in time (slowloris, a half-open connection, an idle keep-alive) is disconnected;
//!   the body has its own timeout in the ingest handler;
//! - a shorter one under pressure: while more than half of `--max-connections` are open, a
//!   connection idle for [`PRESSURE_IDLE_TIMEOUT`] (2 s) is closed, whether it has not sent
//!   a complete request head yet or waits between requests (keep-alive). Idle connections go
//!   first, to leave room for those that send requests; a request in flight, its body and
//!   its answer are never cut by it;
//! - TLS with rustls (`--tls-cert`, `--tls-key`), whose certificate is read again on SIGHUP
//!   without closing the listener: connections accepted after the reload see the new one.
//!
//! Handlers find the peer's address in the request extension `ConnectInfo<SocketAddr>`
//! (`axum::extract::ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>` as an extractor);
//! it is absent when the router is driven without a socket (`oneshot` in tests): where that
//! must not be a 500, take `Option<axum::Extension<ConnectInfo<SocketAddr>>>`, or read
//! `request.extensions().get::<ConnectInfo<SocketAddr>>()`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::state::AppState;

mod admission;
mod connection;

pub use admission::HEALTH_RESERVE;
pub use connection::PRESSURE_IDLE_TIMEOUT;

use admission::{Admission, FreeSlot, SlotKind};
use connection::{idle_under_pressure, Activity, ConnectionService};

/// The default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The default `--header-timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The default `--max-connections-per-address`: far above what an organization behind one
/// NAT address opens (a few agents, each one connection at a time, and a browser's six),
/// far below `--max-connections`, so that one address cannot take the collector.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// How the listener treats connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections open at once serving every route; beyond, [`HEALTH_RESERVE`] more
    /// serve only the health checks, then the accept loop waits.
    pub max_connections: usize,
    /// How long a client has to send a request head (and, with TLS, to finish the
    /// handshake) before it is disconnected.
    pub header_timeout: Duration,
    /// TLS on the listener, if configured.
    pub tls: Option<Arc<TlsReloader>>,
    /// Connections open at once from one source address (IPv6: one /64); `None` for no
    /// limit. Beyond it, new connections from that address are closed at once.
    pub max_connections_per_address: Option<usize>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tls: None,
            max_connections_per_address: Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
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
    let admission = Admission::new(options.max_connections, options.max_connections_per_address);
    let idle_timeout = PRESSURE_IDLE_TIMEOUT.min(options.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    // A reserve slot is given back as soon as its one answer is written.
    let mut health_only_http = http.clone();
    health_only_http.keep_alive(false);
    let mut full_logged = false;
    let mut reserve_logged = false;
    // The slot of a connection closed for its address's limit, kept for the next one.
    let mut kept: Option<FreeSlot> = None;
    tokio::pin!(shutdown);
    loop {
        let slot = match kept.take().or_else(|| admission.try_slot()) {
            Some(slot) => {
                full_logged = false;
                slot
            }
            None => {
                if !full_logged {
                    tracing::warn!(
                        max_connections = options.max_connections,
                        health_reserve = HEALTH_RESERVE,
                        "every connection slot and the health reserve are taken; new connections wait until one closes"
                    );
                    full_logged = true;
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = admission.slot() => match slot {
                        Some(slot) => slot,
                        None => break,
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
                    kept = Some(slot);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match admission.admit(slot, peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                // Closed before a byte is read: the cheapest answer, and the same for TLS.
                drop(stream);
                kept = Some(refused.slot);
                continue;
            }
        };
        let health_only = slot.kind() == SlotKind::Reserve;
        if !health_only {
            reserve_logged = false;
        } else if !reserve_logged {
            tracing::warn!(
                max_connections = options.max_connections,
                "every connection slot is taken; new connections serve only /healthz and /readyz (503 overloaded otherwise) until some close"
            );
            reserve_logged = true;
        }
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let service = ConnectionService {
            router: router.clone(),
            peer,
            activity: Arc::clone(&activity),
            health_only,
        };
        let http = if health_only {
            health_only_http.clone()
        } else {
            http.clone()
        };
        let watcher = graceful.watcher();
        let tls = options.tls.as_ref().map(|tls| tls.acceptor());
        let handshake_timeout = options.header_timeout;
        let admission = Arc::clone(&admission);
        tokio::spawn(async move {
            let connection = async {
                match tls {
                    None => serve_connection(stream, &http, service, watcher).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        {
                            Ok(Ok(stream)) => {
                                serve_connection(stream, &http, service, watcher).await
                            }
                            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        }
                    }
                }
            };
            tokio::select! {
                // The connection first: a request head that has just arrived makes it busy
                // before the idle timer looks.
                biased;
                () = connection => {}
                () = idle_under_pressure(&activity, &admission, idle_timeout) => {
                    tracing::debug!(%peer, "closed a connection idle under pressure");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn serve_connection<S>(
    stream: S,
    http: &hyper::server::conn::http1::Builder,
    service: ConnectionService,
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
