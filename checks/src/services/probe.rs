//! All the I/O of a service scan: resolve names once, check every address against the
//! scope, TCP-connect each port (bounded concurrency, per-host pacing, connect timeout),
//! then make open ports speak with read-only requests and hand the bytes to
//! [`identify`](super::identify).
//!
//! Politeness: at most `concurrency` connections in flight for the whole run, connection
//! attempts to one address spaced by [`pacing`](super::pacing) (starting at
//! `per_host_interval`, tightening towards `min_per_host_interval` only while the address
//! answers at once), a timeout on every connect and read, at most [`READ_CAP`] bytes read per exchange, no credentials, nothing
//! written to a service but the requests of [`identify::requests`](super::identify::requests).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::identify::{self, requests, Auth, Identification, Service};
use super::observation::{
    HostObservation, PortObservation, PortState, ServicesObservation, Unresolved,
};
use super::pacing::{Outcome, Pacer};
use super::ports::{service_hint, PortSet};
use super::scope::{expand, ScanHost, Scope, ScopeError, ServiceTarget, DEFAULT_MAX_ADDRESSES};
use crate::dns::Resolver;
use crate::tls::client::RecordingClient;

/// The most bytes read from a service in one exchange.
pub const READ_CAP: usize = 16 * 1024;

/// The most connections in flight at once, whatever `concurrency` asks (file descriptors).
pub const MAX_CONCURRENCY: usize = 4096;

/// The polite pacing of one address: 10 ms between two connection attempts.
pub const DEFAULT_PER_HOST_INTERVAL: Duration = Duration::from_millis(10);

/// How far pacing tightens while an address answers at once: 100 µs, 10,000 attempts/s.
pub const DEFAULT_MIN_PER_HOST_INTERVAL: Duration = Duration::from_micros(100);

/// The longest wait for a greeting on a port whose usual service waits for the client
/// (HTTP, Redis, …) before sending it the first request.
const SPEAKS_SECOND_GREETING_WAIT: Duration = Duration::from_millis(500);

/// Called after each port is done, so that a caller can draw a progress bar.
pub type ProgressFn = Arc<dyn Fn(ScanProgress) + Send + Sync>;

/// How far a scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Ports (address × port) finished.
    pub done: usize,
    /// Ports to scan in all.
    pub total: usize,
}

/// How to scan.
#[derive(Clone)]
pub struct ScanOptions {
    pub ports: PortSet,
    /// How long a TCP connect may take before the port counts as filtered.
    pub connect_timeout: Duration,
    /// How long to wait for a greeting or an answer to one request.
    pub read_timeout: Duration,
    /// Connections in flight at once, for the whole run (1 to [`MAX_CONCURRENCY`]).
    pub concurrency: usize,
    /// The polite time between two connection attempts to the same address: where pacing
    /// starts and what any sign of strain (a timeout, a slow answer) returns it to.
    pub per_host_interval: Duration,
    /// How far pacing may tighten while the address answers every attempt at once; equal to
    /// `per_host_interval` for fixed pacing.
    pub min_per_host_interval: Duration,
    /// The most addresses one run may scan ([`DEFAULT_MAX_ADDRESSES`] by default).
    pub max_addresses: usize,
    /// Make open ports speak (greeting, read-only requests); false = connect scan only.
    pub identify: bool,
    /// DNS servers for host name targets; empty = the system's.
    pub resolvers: Vec<SocketAddr>,
    /// How long one DNS query may take.
    pub dns_timeout: Duration,
    pub progress: Option<ProgressFn>,
}

impl ScanOptions {
    /// Defaults: 1.5 s connect and 2 s read timeouts, 64 connections in flight, 10 ms between
    /// two connections to one address tightening to 100 µs while it answers at once, 1,024
    /// addresses at most, identification on.
    pub fn new(ports: PortSet) -> ScanOptions {
        ScanOptions {
            ports,
            connect_timeout: Duration::from_millis(1500),
            read_timeout: Duration::from_secs(2),
            concurrency: 64,
            per_host_interval: DEFAULT_PER_HOST_INTERVAL,
            min_per_host_interval: DEFAULT_MIN_PER_HOST_INTERVAL,
            max_addresses: DEFAULT_MAX_ADDRESSES,
            identify: true,
            resolvers: Vec::new(),
            dns_timeout: Duration::from_secs(5),
            progress: None,
        }
    }
}

impl std::fmt::Debug for ScanOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanOptions")
            .field("ports", &self.ports.name())
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("concurrency", &self.concurrency)
            .field("per_host_interval", &self.per_host_interval)
            .field("min_per_host_interval", &self.min_per_host_interval)
            .field("max_addresses", &self.max_addresses)
            .field("identify", &self.identify)
            .field("resolvers", &self.resolvers)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Scans `targets` inside `scope`. Refuses the whole run (nothing sent) when an address,
/// given, inside a CIDR or resolved from a name, is outside the scope, or when there are
/// more than `options.max_addresses`. Names that do not resolve are recorded in the
/// observation and the other targets are scanned.
pub async fn probe(
    targets: &[ServiceTarget],
    options: &ScanOptions,
    scope: &Scope,
) -> Result<ServicesObservation, ScopeError> {
    let started_at = chrono::Utc::now();
    let (resolved, unresolved) = resolve_names(targets, options).await;
    let hosts = expand(targets, &resolved, scope, options.max_addresses)?;
    let scanned = scan(&hosts, options).await;
    Ok(ServicesObservation {
        targets: targets.iter().map(ToString::to_string).collect(),
        ports: options.ports.name().to_owned(),
        port_count: options.ports.len(),
        started_at,
        finished_at: chrono::Utc::now(),
        hosts: scanned,
        unresolved,
    })
}

async fn resolve_names(
    targets: &[ServiceTarget],
    options: &ScanOptions,
) -> (BTreeMap<String, Vec<IpAddr>>, Vec<Unresolved>) {
    let mut names: Vec<&str> = Vec::new();
    for target in targets {
        if let ServiceTarget::Host(name) = target {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut resolved = BTreeMap::new();
    let mut unresolved = Vec::new();
    if names.is_empty() {
        return (resolved, unresolved);
    }
    let resolver = match Resolver::new(&options.resolvers, options.dns_timeout) {
        Ok(resolver) => resolver,
        Err(error) => {
            for name in names {
                unresolved.push(Unresolved {
                    target: name.to_owned(),
                    reason: error.to_string(),
                    kind: Some(error.kind()),
                });
            }
            return (resolved, unresolved);
        }
    };
    for name in names {
        match resolver.lookup_ip(name).await {
            Ok(addresses) => {
                resolved.insert(name.to_owned(), addresses);
            }
            Err(error) => unresolved.push(Unresolved {
                target: name.to_owned(),
                reason: error.to_string(),
                kind: Some(error.kind()),
            }),
        }
    }
    (resolved, unresolved)
}

/// What one task found at one port.
struct PortResult {
    host: usize,
    state: PortState,
    open: Option<PortObservation>,
}

async fn scan(hosts: &[ScanHost], options: &ScanOptions) -> Vec<HostObservation> {
    let ports = options.ports.ports();
    let total = hosts.len() * ports.len();
    let semaphore = Arc::new(Semaphore::new(
        options.concurrency.clamp(1, MAX_CONCURRENCY),
    ));
    let pacers: Vec<Arc<Pacer>> = hosts
        .iter()
        .map(|_| {
            Arc::new(Pacer::new(
                options.per_host_interval,
                options.min_per_host_interval,
            ))
        })
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let tls = tls_config();
    let mut observations: Vec<HostObservation> = hosts
        .iter()
        .map(|host| HostObservation {
            address: host.address,
            target: host.target.clone(),
            names: host.names.clone(),
            open: Vec::new(),
            closed: 0,
            filtered: 0,
        })
        .collect();
    let mut tasks: JoinSet<PortResult> = JoinSet::new();
    let record = |result: PortResult, observations: &mut Vec<HostObservation>| {
        let Some(host) = observations.get_mut(result.host) else {
            return;
        };
        match result.state {
            PortState::Open => host.open.extend(result.open),
            PortState::Closed => host.closed += 1,
            PortState::Filtered => host.filtered += 1,
        }
    };
    // Port-major order: each address sees its ports spread over the run, not in a burst.
    for &port in ports {
        for (index, host) in hosts.iter().enumerate() {
            let Ok(permit) = Arc::clone(&semaphore).acquire_owned().await else {
                break;
            };
            while let Some(finished) = tasks.try_join_next() {
                if let Ok(result) = finished {
                    record(result, &mut observations);
                }
            }
            let pacer = Arc::clone(&pacers[index]);
            let options = options.clone();
            let tls = tls.clone();
            let done = Arc::clone(&done);
            let address = SocketAddr::new(host.address, port);
            tasks.spawn(async move {
                let (state, open) = scan_one(address, &options, &pacer, tls.as_ref()).await;
                drop(permit);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(progress) = &options.progress {
                    progress(ScanProgress {
                        done: finished,
                        total,
                    });
                }
                PortResult {
                    host: index,
                    state,
                    open,
                }
            });
        }
    }
    while let Some(finished) = tasks.join_next().await {
        if let Ok(result) = finished {
            record(result, &mut observations);
        }
    }
    for host in &mut observations {
        host.open.sort_by_key(|port| port.port);
    }
    observations
}

async fn scan_one(
    address: SocketAddr,
    options: &ScanOptions,
    pacer: &Pacer,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> (PortState, Option<PortObservation>) {
    let (state, stream) = paced_connect(address, options.connect_timeout, pacer).await;
    let Some(stream) = stream else {
        return (state, None);
    };
    let observation = if options.identify {
        identify_port(address, stream, options, pacer, tls).await
    } else {
        PortObservation {
            port: address.port(),
            state: PortState::Open,
            tls: false,
            banner: None,
            identified: None,
        }
    };
    (PortState::Open, Some(observation))
}

/// One TCP connect: open (accepted), closed (reset), filtered (no answer in time, or the
/// network said unreachable).
pub async fn scan_port(address: SocketAddr, timeout: Duration) -> PortState {
    connect(address, timeout).await.0
}

/// A connection attempt in its slot, its outcome told to the pacer.
async fn paced_connect(
    address: SocketAddr,
    timeout: Duration,
    pacer: &Pacer,
) -> (PortState, Option<TcpStream>) {
    pacer.wait().await;
    let started = Instant::now();
    let (state, stream) = connect(address, timeout).await;
    pacer.record(match state {
        PortState::Open | PortState::Closed => Outcome::Answered(started.elapsed()),
        PortState::Filtered => Outcome::Unanswered,
    });
    (state, stream)
}

async fn connect(address: SocketAddr, timeout: Duration) -> (PortState, Option<TcpStream>) {
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => (PortState::Open, Some(stream)),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            (PortState::Closed, None)
        }
        Ok(Err(_)) | Err(_) => (PortState::Filtered, None),
    }
}

/// Reads until `complete` says so, the peer closes, `READ_CAP` bytes, or `timeout`.
async fn read_answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
    complete: fn(&[u8]) -> bool,
) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    while bytes.len() < READ_CAP {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                let room = READ_CAP - bytes.len();
                bytes.extend_from_slice(&buffer[..n.min(room)]);
                if complete(&bytes) {
                    break;
                }
            }
        }
    }
    bytes
}

/// Sends `request` and reads the answer; empty if the write failed.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    timeout: Duration,
    complete: fn(&[u8]) -> bool,
) -> Vec<u8> {
    match tokio::time::timeout(timeout, stream.write_all(request)).await {
        Ok(Ok(())) => read_answer(stream, timeout, complete).await,
        _ => Vec::new(),
    }
}

fn line_complete(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\r\n")
}

fn ftp_complete(bytes: &[u8]) -> bool {
    identify::parse_ftp_feat(bytes).is_some()
}

fn pop3_complete(bytes: &[u8]) -> bool {
    identify::parse_pop3_capa(bytes).is_some()
}

fn imap_complete(bytes: &[u8]) -> bool {
    identify::parse_imap_capability(bytes).is_some()
}

fn single_byte(bytes: &[u8]) -> bool {
    !bytes.is_empty()
}

fn tpkt_complete(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes.len() >= usize::from(u16::from_be_bytes([bytes[2], bytes[3]]))
}

fn nbss_complete(bytes: &[u8]) -> bool {
    bytes.len() >= 4
        && bytes.len()
            >= 4 + (usize::from(bytes[1]) << 16
                | usize::from(bytes[2]) << 8
                | usize::from(bytes[3]))
}

fn tds_complete(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes.len() >= usize::from(u16::from_be_bytes([bytes[2], bytes[3]]))
}

fn ber_complete(bytes: &[u8]) -> bool {
    identify::parse_ldap(bytes).is_some()
}

/// A read-only request for a port that stays silent after connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Http,
    Tls,
    Redis,
    Memcached,
    Postgres,
    Mssql,
    Mongodb,
    Rdp,
    Smb,
    Ldap,
    Nfs,
}

const DEFAULT_ORDER: [Probe; 11] = [
    Probe::Http,
    Probe::Tls,
    Probe::Redis,
    Probe::Memcached,
    Probe::Postgres,
    Probe::Mssql,
    Probe::Mongodb,
    Probe::Rdp,
    Probe::Smb,
    Probe::Ldap,
    Probe::Nfs,
];

/// The probe for the service usually found under `hint` (a name of `checks/data/ports.toml`),
/// when it is not HTTP.
fn hinted_probe(hint: &str) -> Option<Probe> {
    match hint {
        "redis" | "redis-alt" => Some(Probe::Redis),
        "memcached" => Some(Probe::Memcached),
        "postgresql" | "postgresql-alt" => Some(Probe::Postgres),
        "mssql" => Some(Probe::Mssql),
        "mongodb" | "mongodb-shard" => Some(Probe::Mongodb),
        "rdp" => Some(Probe::Rdp),
        "smb" | "netbios-ssn" => Some(Probe::Smb),
        "ldap" | "globalcatalog" => Some(Probe::Ldap),
        "nfs" => Some(Probe::Nfs),
        "https" | "https-alt" | "imaps" | "pop3s" | "smtps" | "ldaps" | "ftps" | "ircs"
        | "sips" | "amqps" => Some(Probe::Tls),
        hint if hint.ends_with("-tls") => Some(Probe::Tls),
        _ => None,
    }
}

/// Services usually under these names speak HTTP, so they wait for the client.
const HTTP_HINTS: &[&str] = &[
    "alertmanager",
    "consul",
    "couchdb",
    "cpanel",
    "cwmp",
    "cwmp-alt",
    "docker",
    "elasticsearch",
    "etcd",
    "ethereum-rpc",
    "glassfish",
    "home-assistant",
    "http",
    "http-admin",
    "http-alt",
    "http-dev",
    "http-proxy",
    "influxdb",
    "intel-amt",
    "ipp",
    "kibana",
    "kubelet",
    "kubelet-ro",
    "kubernetes-api",
    "metasploit-web",
    "mongodb-http",
    "neo4j",
    "nessus",
    "nexpose",
    "odoo",
    "plex",
    "proxmox",
    "rabbitmq-admin",
    "solr",
    "splunk",
    "tvheadend",
    "upnp-http",
    "usermin",
    "vault",
    "vnc-http",
    "webdav",
    "webmail",
    "weblogic",
    "webmin",
    "whm",
    "winrm",
    "winrm-alt",
    "wsus",
    "zimbra-admin",
];

/// Whether the service usually on `port` waits for the client to speak first, so that a
/// silent port need not be given the whole read timeout to greet. Unknown ports get it.
fn speaks_second(port: u16) -> bool {
    service_hint(port)
        .is_some_and(|hint| hinted_probe(hint).is_some() || HTTP_HINTS.contains(&hint))
}

/// The probes for a silent port, the one its usual service suggests first.
fn probe_order(port: u16) -> Vec<Probe> {
    let first = service_hint(port).and_then(hinted_probe);
    let mut order: Vec<Probe> = first.into_iter().collect();
    order.extend(
        DEFAULT_ORDER
            .iter()
            .copied()
            .filter(|probe| Some(*probe) != first),
    );
    order
}

async fn identify_port(
    address: SocketAddr,
    mut stream: TcpStream,
    options: &ScanOptions,
    pacer: &Pacer,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> PortObservation {
    let mut observation = PortObservation {
        port: address.port(),
        state: PortState::Open,
        tls: false,
        banner: None,
        identified: None,
    };
    let greeting_wait = if speaks_second(address.port()) {
        options.read_timeout.min(SPEAKS_SECOND_GREETING_WAIT)
    } else {
        options.read_timeout
    };
    let greeting = read_answer(&mut stream, greeting_wait, identify::greeting_complete).await;
    if !greeting.is_empty() {
        observation.banner = Some(identify::escape_banner(&greeting, identify::BANNER_MAX));
        if let Some(found) = identify::parse_greeting(&greeting) {
            observation.identified =
                Some(follow_up(&mut stream, found, options.read_timeout).await);
        }
        return observation;
    }
    let mut stream = Some(stream);
    for probe in probe_order(address.port()) {
        let current = match stream.take() {
            Some(current) => current,
            None => match paced_connect(address, options.connect_timeout, pacer).await {
                (_, Some(next)) => next,
                _ => break,
            },
        };
        if let Some((found, banner, over_tls)) =
            run_probe(probe, current, address, options.read_timeout, tls).await
        {
            observation.identified = Some(found);
            observation.banner = banner;
            observation.tls = over_tls;
            return observation;
        }
    }
    observation
}

/// After a greeting: ask what the login offers (FTP `FEAT`, POP3 `CAPA`, IMAP `CAPABILITY`).
async fn follow_up<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    mut found: Identification,
    timeout: Duration,
) -> Identification {
    match found.service {
        Service::Ftp => {
            let answer = exchange(stream, requests::FTP_FEAT, timeout, ftp_complete).await;
            found.starttls = identify::parse_ftp_feat(&answer);
            let _ = tokio::time::timeout(timeout, stream.write_all(requests::FTP_QUIT)).await;
        }
        Service::Pop3 => {
            let answer = exchange(stream, requests::POP3_CAPA, timeout, pop3_complete).await;
            found.starttls = identify::parse_pop3_capa(&answer);
        }
        Service::Imap if found.starttls.is_none() => {
            let answer = exchange(stream, requests::IMAP_CAPABILITY, timeout, imap_complete).await;
            found.starttls = identify::parse_imap_capability(&answer);
        }
        _ => {}
    }
    found
}

type Found = (Identification, Option<String>, bool);

fn banner(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty()).then(|| identify::escape_banner(bytes, identify::BANNER_MAX))
}

async fn run_probe(
    probe: Probe,
    mut stream: TcpStream,
    address: SocketAddr,
    timeout: Duration,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Option<Found> {
    let plain = |found: Identification, bytes: &[u8]| Some((found, banner(bytes), false));
    match probe {
        Probe::Http => {
            let answer = exchange(
                &mut stream,
                &requests::http_get(&address.to_string()),
                timeout,
                identify::http_complete,
            )
            .await;
            let found = identify::parse_http(&answer)?;
            plain(found, &answer)
        }
        Probe::Tls => {
            let config = tls?;
            let name = ServerName::IpAddress(address.ip().into());
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
            let mut inner = tokio::time::timeout(timeout, connector.connect(name, stream))
                .await
                .ok()?
                .ok()?;
            let greeting = read_answer(&mut inner, timeout, identify::greeting_complete).await;
            if let Some(found) = identify::parse_greeting(&greeting) {
                let found = follow_up(&mut inner, found, timeout).await;
                return Some((found, banner(&greeting), true));
            }
            if !greeting.is_empty() {
                return Some((Identification::new(Service::Tls), banner(&greeting), true));
            }
            let answer = exchange(
                &mut inner,
                &requests::http_get(&address.to_string()),
                timeout,
                identify::http_complete,
            )
            .await;
            match identify::parse_http(&answer) {
                Some(found) => Some((found, banner(&answer), true)),
                None => Some((Identification::new(Service::Tls), banner(&answer), true)),
            }
        }
        Probe::Redis => {
            let answer = exchange(&mut stream, requests::REDIS_PING, timeout, line_complete).await;
            let mut found = identify::parse_redis_ping(&answer)?;
            if found.auth == Some(Auth::NotRequired) {
                let info = exchange(
                    &mut stream,
                    requests::REDIS_INFO,
                    timeout,
                    identify::redis_info_complete,
                )
                .await;
                found.version = identify::parse_redis_info(&info);
            }
            plain(found, &answer)
        }
        Probe::Memcached => {
            let answer = exchange(
                &mut stream,
                requests::MEMCACHED_VERSION,
                timeout,
                line_complete,
            )
            .await;
            let found = identify::parse_memcached(&answer)?;
            plain(found, &answer)
        }
        Probe::Postgres => {
            let answer = exchange(
                &mut stream,
                requests::POSTGRES_SSL_REQUEST,
                timeout,
                single_byte,
            )
            .await;
            let found = identify::parse_postgres(&answer)?;
            plain(found, &answer)
        }
        Probe::Mssql => {
            let answer = exchange(
                &mut stream,
                &requests::mssql_prelogin(),
                timeout,
                tds_complete,
            )
            .await;
            let found = identify::parse_mssql(&answer)?;
            plain(found, &answer)
        }
        Probe::Mongodb => {
            let hello = requests::mongodb_command(1, "hello", &[]);
            let answer = exchange(&mut stream, &hello, timeout, identify::mongodb_complete).await;
            let mut found = identify::parse_mongodb_hello(&answer)?;
            let list = requests::mongodb_command(2, "listDatabases", &["nameOnly"]);
            let listed = exchange(&mut stream, &list, timeout, identify::mongodb_complete).await;
            found.auth = identify::parse_mongodb_list_databases(&listed);
            plain(found, &answer)
        }
        Probe::Rdp => {
            let answer = exchange(
                &mut stream,
                requests::RDP_CONNECTION_REQUEST,
                timeout,
                tpkt_complete,
            )
            .await;
            let found = identify::parse_rdp(&answer)?;
            plain(found, &answer)
        }
        Probe::Smb => {
            let answer = exchange(
                &mut stream,
                &requests::smb_negotiate(),
                timeout,
                nbss_complete,
            )
            .await;
            let found = identify::parse_smb(&answer)?;
            plain(found, &answer)
        }
        Probe::Nfs => {
            let answer = exchange(
                &mut stream,
                requests::NFS_NULL_CALL,
                timeout,
                identify::rpc_complete,
            )
            .await;
            let found = identify::parse_nfs(&answer)?;
            plain(found, &answer)
        }
        Probe::Ldap => {
            let answer = exchange(
                &mut stream,
                &requests::ldap_root_dse(),
                timeout,
                ber_complete,
            )
            .await;
            let found = identify::parse_ldap(&answer)?;
            plain(found, &answer)
        }
    }
}

/// The TLS client of the identification probe: any certificate is accepted (the TLS checks
/// judge certificates; here TLS only carries the protocol we want to hear).
fn tls_config() -> Option<Arc<rustls::ClientConfig>> {
    RecordingClient::new().ok().map(|client| client.config)
}
