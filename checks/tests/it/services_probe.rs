//! The service scan against real peers on loopback: tokio servers for HTTP, an SSH banner,
//! silent and filtered ports; a real redis-server with and without a password; a real
//! PostgreSQL; a loopback DNS responder for host name targets; every scope refusal.
//!
//! Each test uses its own 127.0.x.0/24 so that tests running in parallel never meet.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use vigie_checks::services::{
    probe, scan_port, Auth, PortSet, PortState, ScanOptions, ScanProgress, Scope, ScopeError,
    Service, ServiceTarget, ServicesObservation,
};
use vigie_grade::services::evaluate;
use vigie_model::{Check, Status};

/// Aborts a server task when the test ends, however it ends.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn options(ports: &[u16]) -> ScanOptions {
    let mut options = ScanOptions::new(PortSet::from_ports(ports));
    options.connect_timeout = Duration::from_millis(800);
    options.read_timeout = Duration::from_millis(400);
    options.per_host_interval = Duration::from_millis(1);
    options.concurrency = 8;
    options
}

fn targets(items: &[&str]) -> Vec<ServiceTarget> {
    items.iter().map(|item| item.parse().unwrap()).collect()
}

/// A server that answers each of at most 50 connections with `reply` once it has read
/// `until` (or at once when `until` is empty), then closes; it counts connections.
async fn canned(
    ip: &str,
    until: &'static [u8],
    reply: Vec<u8>,
) -> (SocketAddr, Task, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let task = tokio::spawn(async move {
        for _ in 0..50 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 2048];
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                while !until.is_empty() && !seen.windows(until.len()).any(|w| w == until) {
                    match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
                        Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buffer[..n]),
                        _ => return,
                    }
                }
                let _ = stream.write_all(&reply).await;
                let _ = stream.shutdown().await;
                // Linger so that the client reads before the reset of unread data.
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
        }
    });
    (addr, Task(task), count)
}

/// Accepts connections and never says a word (an open port nothing we know answers on).
async fn silent(ip: &str) -> (SocketAddr, Task) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..50 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            held.push(stream);
        }
    });
    (addr, Task(task))
}

/// A port whose SYNs are dropped: a listener that never accepts, with its accept queue
/// filled by our own connections. Returns the held connections with it.
async fn filtered(ip: &str) -> (SocketAddr, TcpListenerHold) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => {
                return (
                    addr,
                    TcpListenerHold {
                        _listener: listener,
                        _held: held,
                    },
                );
            }
        }
    }
    panic!("the accept queue of {addr} never filled: cannot make a filtered port");
}

struct TcpListenerHold {
    _listener: TcpListener,
    _held: Vec<TcpStream>,
}

/// A free port on `ip` (bound then released).
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn status(verdicts: &[vigie_model::Verdict], check: Check, target: &str) -> Option<Status> {
    verdicts
        .iter()
        .find(|v| v.check == check && v.target == target)
        .map(|v| v.status)
}

fn open_port(obs: &ServicesObservation, port: u16) -> &vigie_checks::services::PortObservation {
    obs.hosts[0]
        .open
        .iter()
        .find(|p| p.port == port)
        .unwrap_or_else(|| panic!("port {port} not open in {:#?}", obs.hosts[0]))
}

#[tokio::test]
async fn open_closed_silent_and_filtered_ports_are_told_apart_and_identified() {
    let ip = "127.0.61.1";
    let body = "<html><head><title>Lab page</title></head></html>";
    let http_reply = format!(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.10.3\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (http, _http, _) = canned(ip, b"\r\n\r\n", http_reply.into_bytes()).await;
    let (ssh, _ssh, _) = canned(ip, b"", b"SSH-2.0-OpenSSH_7.4\r\n".to_vec()).await;
    let (quiet, _quiet) = silent(ip).await;
    let (dropped, _dropped) = filtered(ip).await;
    let closed = free_port(ip);

    assert_eq!(
        scan_port(http, Duration::from_millis(800)).await,
        PortState::Open
    );
    assert_eq!(
        scan_port(
            SocketAddr::new(http.ip(), closed),
            Duration::from_millis(800)
        )
        .await,
        PortState::Closed
    );
    assert_eq!(
        scan_port(dropped, Duration::from_millis(500)).await,
        PortState::Filtered
    );

    let ports = [
        http.port(),
        ssh.port(),
        quiet.port(),
        dropped.port(),
        closed,
    ];
    let mut options = options(&ports);
    let progress = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&progress);
    options.progress = Some(Arc::new(move |step: ScanProgress| {
        assert_eq!(step.total, 5);
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    let scope = Scope::parse(&["127.0.61.0/24"]).unwrap();
    let started = Instant::now();
    let obs = probe(&targets(&[ip]), &options, &scope).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(
        progress.load(Ordering::SeqCst),
        5,
        "one progress call per port"
    );

    let host = &obs.hosts[0];
    assert_eq!(host.open.len(), 3, "{host:#?}");
    assert_eq!(host.closed, 1);
    assert_eq!(host.filtered, 1);

    let web = open_port(&obs, http.port()).identified.clone().unwrap();
    assert_eq!(web.service, Service::Http);
    assert_eq!(web.product.as_deref(), Some("nginx"));
    assert_eq!(web.version.as_deref(), Some("1.10.3"));
    assert_eq!(web.title.as_deref(), Some("Lab page"));

    let shell = open_port(&obs, ssh.port());
    let found = shell.identified.clone().unwrap();
    assert_eq!(found.service, Service::Ssh);
    assert_eq!(found.version.as_deref(), Some("7.4"));
    assert_eq!(shell.banner.as_deref(), Some("SSH-2.0-OpenSSH_7.4\\r\\n"));

    assert_eq!(
        open_port(&obs, quiet.port()).identified,
        None,
        "nothing answered"
    );

    let verdicts = evaluate(&obs, obs.finished_at);
    let ssh_target = format!("{ip}:{}", ssh.port());
    let http_target = format!("{ip}:{}", http.port());
    assert_eq!(
        status(&verdicts, Check::ServiceOutdated, &ssh_target),
        Some(Status::Fail)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceOutdated, &http_target),
        Some(Status::Fail)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceOpen, &http_target),
        Some(Status::Info)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceDatabase, ip),
        Some(Status::Pass)
    );
    let json = obs.to_json();
    assert_eq!(json["hosts"][0]["filtered"], 1);
}

#[tokio::test]
async fn ipv6_loopback_is_scanned() {
    let listener = match TcpListener::bind("[::1]:0").await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("SKIP: no IPv6 loopback on this machine ({error})");
            return;
        }
    };
    let addr = listener.local_addr().unwrap();
    let task = Task(tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6p1\r\n").await;
        }
    }));
    let scope = Scope::parse(&["::1"]).unwrap();
    let obs = probe(&targets(&["::1"]), &options(&[addr.port()]), &scope)
        .await
        .unwrap();
    let found = open_port(&obs, addr.port()).identified.clone().unwrap();
    assert_eq!(found.service, Service::Ssh);
    let verdicts = evaluate(&obs, obs.finished_at);
    let target = format!("[::1]:{}", addr.port());
    assert_eq!(
        status(&verdicts, Check::ServiceOpen, &target),
        Some(Status::Info)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceOutdated, "::1"),
        Some(Status::Pass)
    );
    drop(task);
}

/// A child process killed (and reaped) when the test ends.
struct Server {
    child: Child,
    name: &'static str,
}

impl Server {
    /// Asks for a clean stop (SIGTERM via kill(1) on our own child's id), then kills.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        eprintln!("stopped {}", self.name);
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut candidates: Vec<PathBuf> = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            candidates.push(entry.path().join("bin").join(name));
        }
    }
    candidates.into_iter().find(|candidate| candidate.is_file())
}

/// Waits (at most 10 s) until `addr` accepts a connection.
async fn wait_listening(addr: SocketAddr, server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "{} exited before listening on {addr}: {status}",
                server.name
            );
        }
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not listen on {addr} within 10 s", server.name);
}

async fn redis(ip: &str, password: Option<&str>, dir: &Path) -> (SocketAddr, Server) {
    let program = find_program("redis-server").expect(
        "redis-server is needed by this test: apt-get install redis-server (scripts/test installs it)",
    );
    let port = free_port(ip);
    let mut command = Command::new(program);
    command
        .args(["--bind", ip, "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--dir", &dir.display().to_string(), "--logfile", ""])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(password) = password {
        command.args(["--requirepass", password]);
    }
    let child = command.spawn().expect("start redis-server");
    let mut server = Server {
        child,
        name: "redis-server",
    };
    let addr = SocketAddr::new(ip.parse().unwrap(), port);
    wait_listening(addr, &mut server).await;
    (addr, server)
}

#[tokio::test]
async fn redis_without_a_password_is_unauthenticated_and_with_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.62.1";
    let (open, _open_server) = redis(ip, None, dir.path()).await;
    let (locked, _locked_server) = redis(ip, Some("lab-only-password"), dir.path()).await;

    let scope = Scope::parse(&["127.0.62.0/24"]).unwrap();
    let obs = probe(
        &targets(&[ip]),
        &options(&[open.port(), locked.port()]),
        &scope,
    )
    .await
    .unwrap();

    let found = open_port(&obs, open.port()).identified.clone().unwrap();
    assert_eq!(found.service, Service::Redis);
    assert_eq!(found.auth, Some(Auth::NotRequired));
    assert!(
        found
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
        "{found:?}"
    );
    let found = open_port(&obs, locked.port()).identified.clone().unwrap();
    assert_eq!(found.service, Service::Redis);
    assert_eq!(found.auth, Some(Auth::Required));
    assert_eq!(found.version, None, "nothing read behind the password");

    let verdicts = evaluate(&obs, obs.finished_at);
    let open_target = format!("{ip}:{}", open.port());
    let locked_target = format!("{ip}:{}", locked.port());
    assert_eq!(
        status(&verdicts, Check::ServiceUnauthenticated, &open_target),
        Some(Status::Fail)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceUnauthenticated, &locked_target),
        None
    );
    assert_eq!(
        status(&verdicts, Check::ServiceDatabase, &open_target),
        Some(Status::Fail)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceDatabase, &locked_target),
        Some(Status::Fail)
    );
    let critical = verdicts
        .iter()
        .find(|v| v.check == Check::ServiceUnauthenticated && v.status == Status::Fail)
        .unwrap();
    assert_eq!(critical.severity, vigie_model::Severity::Critical);
}

#[tokio::test]
async fn postgresql_is_identified_by_its_ssl_request_answer() {
    // The shared helper: initdb and postgres on a fresh folder (as `nobody` when root),
    // stopped when `server` is dropped.
    let server = vigie_tests::postgres::PostgresServer::start("127.0.63.1");
    let ip = "127.0.63.1";
    let port = server.port;

    let scope = Scope::parse(&["127.0.63.1"]).unwrap();
    let obs = probe(&targets(&[ip]), &options(&[port]), &scope)
        .await
        .unwrap();
    let found = open_port(&obs, port).identified.clone().unwrap();
    assert_eq!(found.service, Service::Postgresql);
    assert_eq!(found.detail.as_deref(), Some("TLS not offered"));
    let verdicts = evaluate(&obs, obs.finished_at);
    let target = format!("{ip}:{port}");
    assert_eq!(
        status(&verdicts, Check::ServiceDatabase, &target),
        Some(Status::Fail)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceUnauthenticated, ip),
        Some(Status::Pass)
    );
    drop(server);
}

/// A DNS responder on loopback answering A queries from a fixed table.
async fn lab_dns(table: &'static [(&'static str, [u8; 4])]) -> (SocketAddr, Task) {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::{rdata::A, RData, Record, RecordType};

    let socket = tokio::net::UdpSocket::bind("127.0.64.53:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        for _ in 0..200 {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut response = Message::new();
            response
                .set_id(request.id())
                .set_message_type(MessageType::Response)
                .set_op_code(request.op_code())
                .set_recursion_desired(request.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true)
                .add_queries(request.queries().to_vec());
            if let Some(query) = request.queries().first() {
                let name = query.name().to_ascii().to_ascii_lowercase();
                match table
                    .iter()
                    .find(|(known, _)| *known == name.trim_end_matches('.'))
                {
                    Some((_, [a, b, c, d])) => {
                        if query.query_type() == RecordType::A {
                            response.add_answer(Record::from_rdata(
                                query.name().clone(),
                                60,
                                RData::A(A::new(*a, *b, *c, *d)),
                            ));
                        }
                    }
                    None => {
                        response.set_response_code(ResponseCode::NXDomain);
                    }
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    (addr, Task(task))
}

#[tokio::test]
async fn every_scope_refusal_sends_nothing_and_names_the_address() {
    // A server outside the scope that counts connections: it must see none.
    let (outside, _outside, outside_count) =
        canned("127.0.65.1", b"", b"SSH-2.0-x\r\n".to_vec()).await;
    let (inside, _inside, inside_count) =
        canned("127.0.64.1", b"", b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()).await;
    let (dns, _dns) = lab_dns(&[
        ("in.lab.test", [127, 0, 64, 1]),
        ("out.lab.test", [127, 0, 65, 1]),
    ])
    .await;
    let scope = Scope::parse(&["127.0.64.0/24"]).unwrap();
    let ports = [inside.port(), outside.port()];
    let mut options = options(&ports);
    options.resolvers = vec![dns];
    options.dns_timeout = Duration::from_secs(2);

    // Outside the allowlist, even next to an in-scope target.
    let error = probe(&targets(&["127.0.64.1", "127.0.65.1"]), &options, &scope)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ScopeError::OutsideAllowlist { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("127.0.65.1"));

    // A CIDR that reaches outside.
    let error = probe(&targets(&["127.0.64.0/23"]), &options, &scope)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("127.0.65.0"), "{error}");

    // A host name that resolves outside.
    let error = probe(&targets(&["out.lab.test"]), &options, &scope)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ScopeError::ResolvedOutside { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("out.lab.test") && text.contains("127.0.65.1"),
        "{text}"
    );

    // Over the cap.
    let mut capped = options.clone();
    capped.max_addresses = 8;
    let error = probe(&targets(&["127.0.64.0/24"]), &capped, &scope)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ScopeError::OverCap { cap: 8, .. }),
        "{error}"
    );

    assert_eq!(
        outside_count.load(Ordering::SeqCst),
        0,
        "a refused run sent nothing"
    );
    assert_eq!(
        inside_count.load(Ordering::SeqCst),
        0,
        "a refused run sent nothing, even in scope"
    );

    // A name inside the scope is scanned; a name that does not exist is reported.
    let obs = probe(
        &targets(&["in.lab.test", "gone.lab.test"]),
        &options,
        &scope,
    )
    .await
    .unwrap();
    assert_eq!(obs.hosts.len(), 1);
    assert_eq!(
        obs.hosts[0].address,
        "127.0.64.1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(obs.hosts[0].names, ["in.lab.test"]);
    assert_eq!(
        open_port(&obs, inside.port())
            .identified
            .as_ref()
            .unwrap()
            .service,
        Service::Ssh
    );
    assert_eq!(obs.unresolved.len(), 1);
    assert_eq!(obs.unresolved[0].target, "gone.lab.test");
    let verdicts = evaluate(&obs, obs.finished_at);
    assert_eq!(
        status(&verdicts, Check::ServiceOpen, "gone.lab.test"),
        Some(Status::Error)
    );
    assert_eq!(outside_count.load(Ordering::SeqCst), 0);
}

/// HTTPS on loopback (a self-signed certificate made now) answering every request with
/// `reply`, for at most 50 connections.
async fn https(ip: &str, reply: &'static [u8]) -> (SocketAddr, Task) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec![ip.to_owned()]).unwrap();
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for _ in 0..50 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut tls)) =
                    tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await
                else {
                    return;
                };
                let mut seen = Vec::new();
                let mut buffer = [0u8; 2048];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buffer)).await
                    {
                        Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buffer[..n]),
                        _ => return,
                    }
                }
                let _ = tls.write_all(reply).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, Task(task))
}

#[tokio::test]
async fn basic_auth_is_cleartext_over_http_but_not_over_https() {
    let ip = "127.0.66.1";
    const LOGIN: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nServer: Apache/2.2.34 (Unix)\r\nWWW-Authenticate: Basic realm=\"admin\"\r\nContent-Length: 0\r\n\r\n";
    let (plain, _plain, _) = canned(ip, b"\r\n\r\n", LOGIN.to_vec()).await;
    let (secure, _secure) = https(ip, LOGIN).await;
    let scope = Scope::parse(&["127.0.66.0/24"]).unwrap();
    let obs = probe(
        &targets(&[ip]),
        &options(&[plain.port(), secure.port()]),
        &scope,
    )
    .await
    .unwrap();

    let over_tls = open_port(&obs, secure.port());
    assert!(over_tls.tls, "{over_tls:?}");
    let found = over_tls.identified.clone().unwrap();
    assert_eq!(found.service, Service::Http);
    assert!(found.basic_auth);
    assert_eq!(found.product.as_deref(), Some("Apache httpd"));
    let in_clear = open_port(&obs, plain.port());
    assert!(!in_clear.tls);
    assert!(in_clear.identified.as_ref().unwrap().basic_auth);

    let verdicts = evaluate(&obs, obs.finished_at);
    let plain_target = format!("{ip}:{}", plain.port());
    let secure_target = format!("{ip}:{}", secure.port());
    assert_eq!(
        status(&verdicts, Check::ServiceCleartext, &plain_target),
        Some(Status::Fail)
    );
    assert_eq!(
        status(&verdicts, Check::ServiceCleartext, &secure_target),
        None
    );
    assert_eq!(
        status(&verdicts, Check::ServiceOutdated, &secure_target),
        Some(Status::Fail),
        "Apache 2.2"
    );
}

#[tokio::test]
async fn concurrency_is_bounded_and_each_host_is_paced() {
    let ip = "127.0.67.1";
    let current = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut ports = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let (current, peak) = (Arc::clone(&current), Arc::clone(&peak));
        tasks.push(Task(tokio::spawn(async move {
            for _ in 0..5 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
                let mut buffer = [0u8; 64];
                // Held until the scanner closes (bounded by the timeout).
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
                current.fetch_sub(1, Ordering::SeqCst);
            }
        })));
    }
    let scope = Scope::parse(&["127.0.67.1"]).unwrap();
    let mut options = options(&ports);
    options.concurrency = 3;
    let obs = probe(&targets(&[ip]), &options, &scope).await.unwrap();
    assert_eq!(obs.hosts[0].open.len(), 12);
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 3, "at most 3 connections at once, saw {peak}");
    assert!(peak >= 2, "connections do run side by side, saw {peak}");

    // Fixed pacing: 5 connection attempts to one address 100 ms apart take at least 400 ms.
    let mut paced = self::options(&ports[..5]);
    paced.identify = false;
    paced.per_host_interval = Duration::from_millis(100);
    paced.min_per_host_interval = Duration::from_millis(100);
    let started = Instant::now();
    let obs = probe(&targets(&[ip]), &paced, &scope).await.unwrap();
    assert_eq!(obs.hosts[0].open.len(), 5);
    assert!(obs.hosts[0]
        .open
        .iter()
        .all(|port| port.identified.is_none()));
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    drop(tasks);
}

#[tokio::test]
async fn an_nfs_server_is_found_behind_the_other_probes() {
    let ip = "127.0.68.1";
    // The accepted reply to our NULL call (xid "VIGE", SUCCESS).
    let mut reply = 0x8000_0018u32.to_be_bytes().to_vec();
    for word in [0x5649_4745u32, 1, 0, 0, 0, 0] {
        reply.extend_from_slice(&word.to_be_bytes());
    }
    let (nfs, _nfs, _) = canned(
        ip,
        vigie_checks::services::identify::requests::NFS_NULL_CALL,
        reply,
    )
    .await;
    let scope = Scope::parse(&["127.0.68.1"]).unwrap();
    let obs = probe(&targets(&[ip]), &options(&[nfs.port()]), &scope)
        .await
        .unwrap();
    let found = open_port(&obs, nfs.port()).identified.clone().unwrap();
    assert_eq!(found.service, Service::Nfs);
    let verdicts = evaluate(&obs, obs.finished_at);
    let target = format!("{ip}:{}", nfs.port());
    assert_eq!(
        status(&verdicts, Check::ServiceFileSharing, &target),
        Some(Status::Fail)
    );
}
