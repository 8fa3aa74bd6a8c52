//! Connections: a stranger who opens connections by the thousand and sends nothing must not
//! take the collector from the agents and the orchestrator's health checks.
//!
//! The attacker's connections come from 127.0.0.2 (bound before connecting), the honest
//! clients' from 127.0.0.1, so that the collector tells them apart by address as it would
//! on a network.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use chrono::Utc;
use socket2::{Domain, Protocol, Socket, Type};
use vigie_tests::harness;
use vigie_tests::scale::{self, Answer, Client};

use super::{Backend, Lab};

const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The collector's default `--max-connections-per-address`.
const PER_ADDRESS: usize = 64;

/// The bound on an answer under attack: a correctness bound (the answer comes at all, not
/// after a timeout), not a measure of speed.
const ANSWER_BOUND: Duration = Duration::from_secs(1);

const ORG: &str = "conn-org";

/// The agent whose reports the tests post; the token of that name speaks for it.
const AGENT: &str = "srv01";

fn nonce() -> u64 {
    Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64
}

/// Makes sure this process may open `needed` files, raising its soft limit up to the hard
/// one if it must; panics with what to do rather than let the attack fail half-way.
fn ensure_open_files(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given, which lives for the call.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(
        read,
        0,
        "cannot read the open-file limit: {}",
        std::io::Error::last_os_error()
    );
    if limit.rlim_cur >= needed {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: needed.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads only the struct it is given, which lives for the call.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    assert!(
        set == 0 && raised.rlim_cur >= needed,
        "this test opens {needed} sockets, but the open-file limit is {} (hard limit {}) and \
         cannot be raised: run it after `ulimit -n {needed}` (as root if the hard limit is lower)",
        limit.rlim_cur,
        limit.rlim_max
    );
}

/// A TCP connection from `from` (any port) to `to`.
fn connect_from(from: Ipv4Addr, to: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SocketAddr::from((from, 0)).into())?;
    socket.connect_timeout(&to.into(), timeout)?;
    Ok(socket.into())
}

/// Whether the collector has closed `stream` (end of stream or reset), without waiting.
fn closed_by_collector(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let closed = match (&*stream).read(&mut byte) {
        Ok(0) => true,
        // The collector wrote something (it never does to a silent client): still open.
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    let _ = stream.set_nonblocking(false);
    closed
}

/// How many of `streams` the collector still holds open.
fn still_open(streams: &[TcpStream]) -> usize {
    streams.iter().filter(|s| !closed_by_collector(s)).count()
}

/// How long after now the collector closes `stream`; `None` if it is still open after
/// `limit`.
fn closed_within(stream: &TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let closed = harness::wait_until(limit, || closed_by_collector(stream));
    closed.then(|| started.elapsed())
}

/// One request from 127.0.0.1 on a new connection, and how long it took, connection
/// included; the connection and read timeouts are the bound itself, so that a collector
/// that does not answer fails the test at once.
fn timed_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> (std::io::Result<Answer>, Duration) {
    let started = Instant::now();
    let answer = Client::connect(addr, ANSWER_BOUND)
        .and_then(|mut client| client.request(method, path, bearer, body));
    (answer, started.elapsed())
}

/// A small valid report of [`AGENT`].
fn report() -> String {
    let id = scale::report_id(nonce(), 14, 1);
    scale::report_json(&id, ORG, AGENT, "conn-", 20, Utc::now())
}

#[test]
fn one_address_holding_idle_connections_leaves_health_checks_and_agents_served() {
    const ATTACK: usize = 1_500;
    // The attacker's sockets, the collector's (it inherits the limit), and some room.
    ensure_open_files(2 * ATTACK as u64 + 1_000);
    for backend in Backend::ALL {
        // A long header timeout, so that the collector does not shed the attacker's
        // connections while the test runs (a real attacker opens them again).
        let lab = Lab::start(backend, &["--header-timeout", "120"]);
        let addr = lab.collector.addr;
        let token = lab.agent_token(ORG, AGENT);

        // 1,500 connections from one address, more than the 1,024 slots of the collector,
        // that send nothing. Bounded in count and in time.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut attack: Vec<TcpStream> = Vec::with_capacity(ATTACK);
        for _ in 0..ATTACK {
            if Instant::now() >= deadline {
                break;
            }
            if let Ok(stream) = connect_from(ATTACKER, addr, Duration::from_secs(1)) {
                attack.push(stream);
            }
        }
        assert!(
            attack.len() > 1_024,
            "{backend:?}: the attack opened only {} connections",
            attack.len()
        );

        let (health, took) = timed_request(addr, "GET", "/healthz", None, None);
        let health = health.unwrap_or_else(|e| {
            panic!("{backend:?}: /healthz did not answer under attack ({took:?}): {e}")
        });
        assert_eq!(health.status, 200, "{backend:?}: {}", health.body);
        assert!(took < ANSWER_BOUND, "{backend:?}: /healthz took {took:?}");

        let body = report();
        let (ingest, took) =
            timed_request(addr, "POST", "/api/v1/reports", Some(&token), Some(&body));
        let ingest = ingest.unwrap_or_else(|e| {
            panic!("{backend:?}: the agent's report was not answered under attack ({took:?}): {e}")
        });
        assert_eq!(ingest.status, 201, "{backend:?}: {}", ingest.body);
        assert!(took < ANSWER_BOUND, "{backend:?}: the ingest took {took:?}");

        // The collector keeps the first 64 of the attacker's connections and has closed the
        // rest, each at once.
        let mut open = still_open(&attack);
        let settled = harness::wait_until(Duration::from_secs(10), || {
            open = still_open(&attack);
            open <= PER_ADDRESS
        });
        assert!(
            settled,
            "{backend:?}: the collector still holds {open} connections of one address"
        );
        assert_eq!(open, PER_ADDRESS, "{backend:?}: the attacker's share");
        // Logged once, not once per connection refused.
        let log = lab.collector.log();
        assert_eq!(
            log.matches("connection limit per address reached").count(),
            1,
            "{backend:?}: {log}"
        );
        drop(attack);
    }
}

/// A connection from `from` that has sent a report's head and the start of its body,
/// authenticated with `token`: a request in flight until the body timeout.
fn upload_in_progress(from: Ipv4Addr, addr: SocketAddr, token: &str) -> TcpStream {
    let mut stream = connect_from(from, addr, Duration::from_secs(5)).expect("connect");
    write!(
        stream,
        "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{{\"schema\": \"vigie.report.v1\", "
    )
    .expect("send the head");
    stream
}

/// Ends an upload in progress (the body cut short) and waits, at most 5 s, until the
/// collector has answered and closed it.
fn give_up(mut upload: TcpStream) {
    let _ = upload.shutdown(std::net::Shutdown::Write);
    let _ = upload.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = Vec::new();
    let _ = upload.read_to_end(&mut answer);
}

#[test]
fn idle_connections_are_closed_sooner_under_pressure() {
    // 100 slots: pressure starts at 51 open connections.
    let lab = Lab::start(
        Backend::Sqlite,
        &[
            "--max-connections",
            "100",
            "--header-timeout",
            "60",
            "--body-timeout",
            "60",
        ],
    );
    let addr = lab.collector.addr;
    let token = lab.agent_token(ORG, AGENT);
    let idle = || connect_from(ATTACKER, addr, Duration::from_secs(5)).expect("connect");

    // Unloaded, an idle connection is left the whole header timeout.
    let early = idle();
    std::thread::sleep(Duration::from_millis(3_500));
    assert!(
        !closed_by_collector(&early),
        "an idle connection was closed with no pressure"
    );

    // Agents' uploads in progress take 55 slots: 56 of 100 open.
    let uploads: Vec<TcpStream> = (0..55)
        .map(|_| upload_in_progress(Ipv4Addr::LOCALHOST, addr, &token))
        .collect();
    let probe = idle();
    let closed_after = closed_within(&probe, Duration::from_secs(15)).expect(
        "a connection opened under pressure was still open after 15 s (header timeout 60 s)",
    );
    assert!(
        closed_after >= Duration::from_millis(1_500),
        "closed after {closed_after:?}, before the short timeout"
    );
    assert!(
        closed_after < Duration::from_secs(10),
        "closed after {closed_after:?}: not the short timeout"
    );
    // The connection idle since before the pressure went too; the uploads, busy, stay.
    assert!(
        closed_within(&early, Duration::from_secs(3)).is_some(),
        "a connection idle since before the pressure is still open"
    );
    assert_eq!(
        still_open(&uploads),
        uploads.len(),
        "an upload in progress was cut"
    );
    uploads.into_iter().for_each(give_up);

    // Idle connections alone are closed until no more than half the slots are taken, not
    // all of them.
    let load: Vec<TcpStream> = (0..60).map(|_| idle()).collect();
    let mut open = load.len();
    let shed = harness::wait_until(Duration::from_secs(10), || {
        open = still_open(&load);
        open <= 50
    });
    assert!(
        shed,
        "{open} of 60 idle connections still open under pressure"
    );
    std::thread::sleep(Duration::from_secs(3));
    let open = still_open(&load);
    assert!(
        (25..=50).contains(&open),
        "{open} of 60 idle connections left once the pressure is gone"
    );
    drop(load);

    let (health, _) = timed_request(addr, "GET", "/healthz", None, None);
    assert_eq!(health.expect("/healthz answers").status, 200);
}

#[test]
fn health_checks_are_answered_while_every_slot_is_taken() {
    const SLOTS: usize = 20;
    for backend in Backend::ALL {
        let lab = Lab::start(
            backend,
            &[
                "--max-connections",
                &SLOTS.to_string(),
                "--body-timeout",
                "60",
            ],
        );
        let addr = lab.collector.addr;
        let token = lab.agent_token(ORG, AGENT);

        // Every slot taken by an upload in progress (a head, and a tenth of the body it
        // announces): a collector that is busy, not broken.
        let uploads: Vec<TcpStream> = (0..SLOTS)
            .map(|_| upload_in_progress(ATTACKER, addr, &token))
            .collect();

        for path in ["/healthz", "/readyz"] {
            let (answer, took) = timed_request(addr, "GET", path, None, None);
            let answer = answer.unwrap_or_else(|e| {
                panic!("{backend:?}: {path} did not answer with every slot taken ({took:?}): {e}")
            });
            assert_eq!(answer.status, 200, "{backend:?} {path}: {}", answer.body);
            assert!(took < ANSWER_BOUND, "{backend:?}: {path} took {took:?}");
            // From the reserve: answered, then closed.
            assert_eq!(
                answer.header("connection"),
                Some("close"),
                "{backend:?} {path}"
            );
        }
        // The reserve serves nothing else.
        let body = report();
        let (refused, took) =
            timed_request(addr, "POST", "/api/v1/reports", Some(&token), Some(&body));
        let refused = refused.unwrap_or_else(|e| {
            panic!(
                "{backend:?}: a report sent with every slot taken was not answered ({took:?}): {e}"
            )
        });
        assert_eq!(refused.status, 503, "{backend:?}: {}", refused.body);
        assert_eq!(refused.json()["error"], "overloaded", "{backend:?}");
        assert!(refused.header("retry-after").is_some(), "{backend:?}");
        assert!(
            lab.collector
                .log()
                .contains("new connections serve only /healthz and /readyz"),
            "{backend:?}: {}",
            lab.collector.log()
        );

        // The uploads given up, their slots are free again and the report is taken.
        drop(uploads);
        let mut status = 0;
        let taken = harness::wait_until(Duration::from_secs(10), || {
            status = scale::request(addr, "POST", "/api/v1/reports", Some(&token), Some(&body))
                .map(|a| a.status)
                .unwrap_or(0);
            status == 201
        });
        assert!(
            taken,
            "{backend:?}: the report is refused ({status}) once the slots are free"
        );
    }
}
