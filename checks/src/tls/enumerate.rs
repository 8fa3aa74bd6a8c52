//! Protocol, cipher-suite and group enumeration of one endpoint with our own ClientHellos
//! ([`super::wire`]): one hello per connection, the server's first flight read, then closed.
//!
//! Per protocol: offer every suite the registry knows, remove the one chosen, repeat: one
//! handshake per accepted suite, in the server's order when it has one (checked with one more
//! hello offering its top two in reverse). Groups the same way: ECDHE curves through
//! ServerKeyExchange below TLS 1.3, HelloRetryRequests with no key share in 1.3. Every
//! connection is bounded by a timeout; the whole by a handshake budget, a deadline, a
//! concurrency limit and a minimum interval between connection starts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use vigie_model::{
    ProbeStage, TlsEnumeration, TlsHeartbeat, TlsObservation, TlsProbeResult, TlsProtocolSupport,
};

use super::probe::{probe_reporting_preamble, TlsProbeOptions};
use super::starttls::{self, Starttls};
use super::target::TlsTarget;
use super::verify::TrustStore;
use super::wire::heartbeat::{self, HeartbeatAnswer};
use super::wire::{
    self, Alert, ClientHello, FirstFlight, KeyExchange, Randomness, ServerHello, WireError,
    TLS_FALLBACK_SCSV,
};
use crate::dns::Resolver;
use vigie_grade::tls::ciphers::{self, SuiteFamily};
use vigie_grade::tls::ProtocolVersion;

/// The most we read of one first flight (a long certificate chain fits).
const MAX_READ: usize = 256 * 1024;

/// Limits of one enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumerationOptions {
    /// Bounds each connection: connect, send, and reading the answer.
    pub timeout: Duration,
    /// The most connections to the endpoint in all.
    pub max_handshakes: u32,
    /// The most connections open at once to the endpoint.
    pub concurrency: usize,
    /// Protocols to try (default: all, SSL 2.0 to TLS 1.3).
    pub protocols: Vec<ProtocolVersion>,
    /// Bounds the whole enumeration: past it, no new connection is made and the result is
    /// marked truncated.
    pub total_timeout: Duration,
    /// The least time between two connection starts to the endpoint (politeness: 10 ms is
    /// at most 100 new connections a second).
    pub min_interval: Duration,
    /// Every connection speaks this protocol's STARTTLS preamble before its hello (each reply
    /// bounded by `timeout`); `None` is implicit TLS.
    pub starttls: Option<Starttls>,
}

impl Default for EnumerationOptions {
    fn default() -> Self {
        EnumerationOptions {
            timeout: Duration::from_secs(5),
            max_handshakes: 400,
            concurrency: 4,
            protocols: ProtocolVersion::ALL.to_vec(),
            total_timeout: Duration::from_secs(120),
            min_interval: Duration::from_millis(10),
            starttls: None,
        }
    }
}

/// What one connection gave.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Answer(FirstFlight),
    /// The server closed or reset the connection without a ServerHello: a refusal.
    Closed(String),
    /// Timeout, connection failure, malformed answer: we do not know.
    Failed(String),
    /// The handshake budget is spent.
    Budget,
}

struct Session {
    address: SocketAddr,
    deadline: Instant,
    /// Set when the deadline stopped a connection.
    late: AtomicBool,
    /// When the next connection may start.
    next_start: tokio::sync::Mutex<Instant>,
    server_name: String,
    options: EnumerationOptions,
    used: AtomicU32,
    slots: Semaphore,
    random: Randomness,
    errors: Mutex<Vec<String>>,
    /// Said in `EHLO` by the SMTP preamble.
    ehlo_name: String,
}

/// What a read of the first flight waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// The ServerHello (or an alert).
    Hello,
    /// Past the ServerHello, for ServerKeyExchange or ServerHelloDone.
    KeyExchange,
    /// Up to ServerHelloDone: the server then waits for us.
    Done,
}

impl Session {
    /// Takes one connection of the budget, a concurrency slot and a start time: the bound of
    /// the connection, or why it must not be made.
    async fn start(&self) -> Result<(tokio::sync::SemaphorePermit<'_>, Duration), Outcome> {
        if self.used.fetch_add(1, Ordering::SeqCst) >= self.options.max_handshakes {
            self.used.fetch_sub(1, Ordering::SeqCst);
            return Err(Outcome::Budget);
        }
        let Ok(slot) = self.slots.acquire().await else {
            return Err(Outcome::Budget);
        };
        {
            let mut next = self.next_start.lock().await;
            let now = Instant::now();
            if *next > now {
                tokio::time::sleep_until((*next).into()).await;
            }
            *next = Instant::now().max(*next) + self.options.min_interval;
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.late.store(true, Ordering::SeqCst);
            return Err(Outcome::Budget);
        }
        Ok((slot, self.options.timeout.min(left)))
    }

    /// One hello, one answer. `want_key_exchange`: wait past the ServerHello for
    /// ServerKeyExchange or ServerHelloDone.
    async fn exchange(&self, mut hello: ClientHello, want_key_exchange: bool) -> Outcome {
        let (_slot, timeout) = match self.start().await {
            Ok(started) => started,
            Err(outcome) => return outcome,
        };
        hello.server_name = Some(self.server_name.clone());
        let bytes = hello.encode(&self.random);
        let wait = if want_key_exchange {
            Wait::KeyExchange
        } else {
            Wait::Hello
        };
        match tokio::time::timeout(timeout, self.talk(&bytes, wait)).await {
            Ok((outcome, stream)) => {
                if let Some(mut stream) = stream {
                    let _ = stream.shutdown().await;
                }
                outcome
            }
            Err(_) => Outcome::Failed(format!("no answer within {} s", timeout.as_secs_f64())),
        }
    }

    /// A TCP connection to the endpoint, ready for a ClientHello: after the STARTTLS
    /// preamble when there is one.
    async fn open(&self) -> Result<TcpStream, String> {
        let mut stream = TcpStream::connect(self.address)
            .await
            .map_err(|error| format!("connect: {error}"))?;
        if let Some(protocol) = self.options.starttls {
            starttls::upgrade(&mut stream, protocol, &self.ehlo_name, self.options.timeout)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(stream)
    }

    /// Sends `hello` on a new connection and reads the first flight; the stream comes back
    /// with an answer, for a caller that goes on talking.
    async fn talk(&self, hello: &[u8], wait: Wait) -> (Outcome, Option<TcpStream>) {
        let mut stream = match self.open().await {
            Ok(stream) => stream,
            Err(error) => return (Outcome::Failed(error), None),
        };
        if let Err(error) = stream.write_all(hello).await {
            return (
                Outcome::Closed(format!("the server closed before our hello: {error}")),
                None,
            );
        }
        let mut buffer = Vec::with_capacity(8192);
        let mut chunk = [0u8; 8192];
        loop {
            let read = match stream.read(&mut chunk).await {
                Ok(read) => read,
                Err(error) if buffer.is_empty() => {
                    return (
                        Outcome::Closed(format!("connection {}", describe_io(&error))),
                        None,
                    )
                }
                Err(_) => 0,
            };
            buffer.extend_from_slice(&chunk[..read]);
            let parsed = wire::parse_first_flight(&buffer);
            let at_end = read == 0 || buffer.len() >= MAX_READ;
            let outcome = match parsed {
                Ok(FirstFlight::Hello {
                    complete: false,
                    key_exchange,
                    ..
                }) if !at_end
                    && (wait == Wait::Done
                        || (wait == Wait::KeyExchange && key_exchange.is_none())) =>
                {
                    continue
                }
                Ok(flight) => Outcome::Answer(flight),
                Err(WireError::Incomplete) if !at_end => continue,
                Err(WireError::Incomplete) if buffer.is_empty() => {
                    Outcome::Closed("connection closed without an answer".to_owned())
                }
                Err(WireError::Incomplete) if read == 0 => {
                    Outcome::Closed("connection closed before a ServerHello".to_owned())
                }
                Err(error) => Outcome::Failed(error.to_string()),
            };
            return (outcome, Some(stream));
        }
    }

    fn note(&self, protocol: ProtocolVersion, error: &str) {
        if let Ok(mut errors) = self.errors.lock() {
            if errors.len() < 32 {
                errors.push(format!("{protocol}: {error}"));
            }
        }
    }
}

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionReset => "reset".to_owned(),
        std::io::ErrorKind::UnexpectedEof => "closed".to_owned(),
        _ => error.to_string(),
    }
}

/// The facts of one protocol, before they become a [`TlsProtocolSupport`].
#[derive(Debug, Default)]
struct ProtocolFacts {
    support: TlsProtocolSupport,
    /// The first ServerHello of this protocol.
    hello: Option<ServerHello>,
    /// Codes of the accepted suites, in enumeration order.
    suites: Vec<u16>,
}

/// The probe of [`probe`], then, when it reached the server over TCP, the enumeration at the
/// same address and with the same server name: what `vigie-agent scan tls` runs by default.
pub async fn probe_deep(
    target: &TlsTarget,
    probe_options: &TlsProbeOptions,
    options: &EnumerationOptions,
    resolver: &Resolver,
    trust: &TrustStore,
) -> TlsObservation {
    let (mut observation, preamble_failed) =
        probe_reporting_preamble(target, probe_options, resolver, trust).await;
    // A server that refuses STARTTLS would refuse it to every hello as well.
    let reached = !preamble_failed
        && !matches!(
            observation.result,
            TlsProbeResult::Failed {
                stage: ProbeStage::Resolve | ProbeStage::Connect,
                ..
            }
        );
    let address = observation
        .address
        .as_deref()
        .and_then(|a| a.parse::<SocketAddr>().ok());
    if let (true, Some(address)) = (reached, address) {
        let options = EnumerationOptions {
            starttls: probe_options.starttls,
            ..options.clone()
        };
        observation.enumeration =
            Some(enumerate(address, &observation.server_name, &options).await);
    }
    observation
}

/// Enumerates `address`, sending `server_name` in SNI (unless it is an IP address).
pub async fn enumerate(
    address: SocketAddr,
    server_name: &str,
    options: &EnumerationOptions,
) -> TlsEnumeration {
    let session = Arc::new(Session {
        address,
        deadline: Instant::now() + options.total_timeout,
        late: AtomicBool::new(false),
        next_start: tokio::sync::Mutex::new(Instant::now()),
        server_name: server_name.to_owned(),
        options: options.clone(),
        used: AtomicU32::new(0),
        slots: Semaphore::new(options.concurrency.max(1)),
        random: Randomness::default(),
        errors: Mutex::new(Vec::new()),
        ehlo_name: starttls::ehlo_name(),
    });

    let mut tasks = tokio::task::JoinSet::new();
    for (index, protocol) in options.protocols.iter().copied().enumerate() {
        let session = Arc::clone(&session);
        tasks.spawn(async move { (index, probe_protocol(&session, protocol).await) });
    }
    let mut facts: Vec<(usize, ProtocolFacts)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => facts.push(result),
            Err(error) => session
                .errors
                .lock()
                .map(|mut e| e.push(format!("internal error: {error}")))
                .unwrap_or_default(),
        }
    }
    facts.sort_by_key(|(index, _)| *index);
    let mut facts: Vec<ProtocolFacts> = facts.into_iter().map(|(_, f)| f).collect();

    let mut enumeration = TlsEnumeration::default();
    // Below TLS 1.3, the best protocol accepted answers the extension questions.
    let best_legacy = facts
        .iter()
        .rposition(|f| f.support.accepted && is_legacy(&f.support.protocol));
    if let Some(index) = best_legacy {
        let protocol = protocol_of(&facts[index]);
        if let Some(hello) = &facts[index].hello {
            enumeration.secure_renegotiation = Some(hello.secure_renegotiation);
        }
        let suites = facts[index].suites.clone();
        enumeration.compression = compression(&session, protocol, &suites).await;
        let (groups, dh_bits) = legacy_groups(&session, protocol, &suites).await;
        facts[index].support.groups = groups;
        facts[index].support.dh_bits = dh_bits;
    }
    if let Some(tls12) = facts
        .iter()
        .find(|f| f.support.protocol == ProtocolVersion::Tls12.name() && f.support.accepted)
    {
        enumeration.extended_master_secret = tls12.hello.as_ref().map(|h| h.extended_master_secret);
    }
    enumeration.fallback_scsv = fallback_scsv(&session, &facts).await;
    if let Some(best) = facts.iter().rev().find(|f| {
        f.support.accepted
            && matches!(
                ProtocolVersion::from_name(&f.support.protocol),
                Some(ProtocolVersion::Tls10 | ProtocolVersion::Tls11 | ProtocolVersion::Tls12)
            )
    }) {
        enumeration.heartbeat = Some(heartbleed(&session, protocol_of(best), &best.suites).await);
    }

    enumeration.protocols = facts.into_iter().map(|f| f.support).collect();
    enumeration.handshakes = session.used.load(Ordering::SeqCst);
    enumeration.truncated =
        enumeration.handshakes >= options.max_handshakes || session.late.load(Ordering::SeqCst);
    enumeration.errors = session
        .errors
        .lock()
        .map(|errors| errors.clone())
        .unwrap_or_default();
    enumeration
}

fn is_legacy(name: &str) -> bool {
    matches!(
        ProtocolVersion::from_name(name),
        Some(
            ProtocolVersion::Ssl3
                | ProtocolVersion::Tls10
                | ProtocolVersion::Tls11
                | ProtocolVersion::Tls12
        )
    )
}

fn protocol_of(facts: &ProtocolFacts) -> ProtocolVersion {
    ProtocolVersion::from_name(&facts.support.protocol).unwrap_or(ProtocolVersion::Tls12)
}

/// The suites we offer for a protocol: every registry suite that can run on it.
fn candidate_suites(protocol: ProtocolVersion) -> Vec<u16> {
    let family = if protocol == ProtocolVersion::Tls13 {
        SuiteFamily::Tls13
    } else {
        SuiteFamily::Tls
    };
    ciphers::family(family)
        .filter(|s| s.source == "iana" || protocol < ProtocolVersion::Tls13)
        .filter_map(|s| u16::try_from(s.code).ok())
        .collect()
}

/// The common suites below TLS 1.3 (92 codes, under the 128 some old servers take): RSA, DHE
/// and ECDHE key exchange (and anonymous DH), AES, 3DES, DES, RC4, ChaCha20, NULL, SEED, IDEA,
/// and the CBC Camellia suites of RSA and DHE.
fn compact_suites() -> Vec<u16> {
    ciphers::family(SuiteFamily::Tls)
        .filter(|s| s.source == "iana")
        .filter(|s| {
            matches!(
                (s.key_exchange, s.authentication),
                ("RSA" | "DHE" | "ECDHE", "RSA" | "ECDSA" | "DSS") | ("DH" | "ECDH", "anon")
            )
        })
        .filter(|s| {
            !s.encryption.starts_with("ARIA")
                && (!s.encryption.starts_with("CAMELLIA")
                    || (s.mode == ciphers::CipherMode::Cbc
                        && s.mac == "SHA1"
                        && matches!(s.key_exchange, "RSA" | "DHE")
                        && s.authentication == "RSA"))
        })
        .filter_map(|s| u16::try_from(s.code).ok())
        .collect()
}

fn hello(protocol: ProtocolVersion, suites: &[u16]) -> ClientHello {
    let mut hello = ClientHello::new(protocol, suites.iter().map(|&c| u32::from(c)).collect());
    hello.groups = wire::GROUPS.iter().map(|(code, _)| *code).collect();
    hello
}

/// The version an answer negotiated, if it is a hello.
fn negotiated(flight: &FirstFlight) -> Option<u16> {
    match flight {
        FirstFlight::Hello { hello, .. } => Some(hello.version),
        FirstFlight::RetryRequest(retry) => Some(retry.version),
        FirstFlight::Ssl2(hello) => Some(hello.version),
        _ => None,
    }
}

fn chosen_suite(flight: &FirstFlight) -> Option<u16> {
    match flight {
        FirstFlight::Hello { hello, .. } => Some(hello.cipher_suite),
        FirstFlight::RetryRequest(retry) => Some(retry.cipher_suite),
        _ => None,
    }
}

fn refusal(flight: &FirstFlight, protocol: ProtocolVersion) -> String {
    match flight {
        FirstFlight::Alert(alert) => format!("alert {}", alert.name()),
        FirstFlight::Ssl2Error(code) => format!("SSL 2.0 error {code}"),
        other => match negotiated(other).and_then(ProtocolVersion::from_code) {
            Some(version) => format!("answered with {version} instead of {protocol}"),
            None => "answered with another version".to_owned(),
        },
    }
}

async fn probe_protocol(session: &Session, protocol: ProtocolVersion) -> ProtocolFacts {
    let mut facts = ProtocolFacts {
        support: TlsProtocolSupport {
            protocol: protocol.name().to_owned(),
            ..TlsProtocolSupport::default()
        },
        ..ProtocolFacts::default()
    };
    if protocol == ProtocolVersion::Ssl2 {
        probe_ssl2(session, &mut facts).await;
        return facts;
    }
    let mut remaining = candidate_suites(protocol);
    // Some servers refuse a hello with hundreds of suites or unknown codes: a refusal of the
    // full list is retried once with the common suites only.
    let mut retried = protocol == ProtocolVersion::Tls13;
    // One handshake per accepted suite, the retry, and the refusal that ends the loop.
    let rounds = remaining.len() + 2;
    for _ in 0..rounds {
        if remaining.is_empty() {
            break;
        }
        let outcome = session.exchange(hello(protocol, &remaining), false).await;
        let flight = match outcome {
            Outcome::Answer(flight) => flight,
            Outcome::Closed(reason) => {
                if facts.suites.is_empty() {
                    if !retried {
                        retried = true;
                        remaining = compact_suites();
                        continue;
                    }
                    facts.support.refusal = Some(reason);
                }
                break;
            }
            Outcome::Failed(error) => {
                session.note(protocol, &error);
                if facts.suites.is_empty() {
                    facts.support.error = Some(error);
                }
                break;
            }
            Outcome::Budget => break,
        };
        let version_ok = negotiated(&flight) == Some(protocol.code());
        let Some(suite) = chosen_suite(&flight).filter(|_| version_ok) else {
            if facts.suites.is_empty() {
                let version_refusal = matches!(
                    flight,
                    FirstFlight::Alert(Alert {
                        description: Alert::PROTOCOL_VERSION,
                        ..
                    })
                ) || negotiated(&flight).is_some();
                if !retried && !version_refusal {
                    retried = true;
                    remaining = compact_suites();
                    continue;
                }
                facts.support.refusal = Some(refusal(&flight, protocol));
            }
            break;
        };
        if !remaining.contains(&suite) {
            session.note(
                protocol,
                &format!(
                    "the server chose {}, which we did not offer",
                    ciphers::name(suite)
                ),
            );
            break;
        }
        if facts.hello.is_none() {
            if let FirstFlight::Hello { hello, .. } = &flight {
                facts.hello = Some(hello.clone());
            }
        }
        facts.support.accepted = true;
        facts.suites.push(suite);
        remaining.retain(|&c| c != suite);
    }
    facts.support.cipher_suites = facts.suites.iter().map(|&c| ciphers::name(c)).collect();
    if facts.suites.len() >= 2 {
        facts.support.preference = preference(session, protocol, &facts.suites).await;
    }
    if protocol == ProtocolVersion::Tls13 && facts.support.accepted {
        facts.support.groups = tls13_groups(session).await;
    }
    facts
}

/// `server` when the server keeps its first choice with our offer reversed, else `client`.
async fn preference(
    session: &Session,
    protocol: ProtocolVersion,
    suites: &[u16],
) -> Option<String> {
    let [first, second, ..] = suites else {
        return None;
    };
    match session
        .exchange(hello(protocol, &[*second, *first]), false)
        .await
    {
        Outcome::Answer(flight) => match chosen_suite(&flight) {
            Some(chosen) if chosen == *first => Some("server".to_owned()),
            Some(chosen) if chosen == *second => Some("client".to_owned()),
            _ => None,
        },
        _ => None,
    }
}

async fn probe_ssl2(session: &Session, facts: &mut ProtocolFacts) {
    let kinds: Vec<u32> = ciphers::family(SuiteFamily::Ssl2).map(|s| s.code).collect();
    let hello = ClientHello::new(ProtocolVersion::Ssl2, kinds);
    match session.exchange(hello, false).await {
        Outcome::Answer(FirstFlight::Ssl2(hello)) if !hello.cipher_kinds.is_empty() => {
            facts.support.accepted = true;
            facts.support.cipher_suites = hello
                .cipher_kinds
                .iter()
                .map(|&kind| {
                    ciphers::lookup_ssl2(kind)
                        .map(|s| s.name.to_owned())
                        .unwrap_or_else(|| format!("0x{kind:06X}"))
                })
                .collect();
        }
        Outcome::Answer(FirstFlight::Ssl2(_)) => {
            facts.support.refusal = Some("SSL 2.0 SERVER-HELLO with no cipher".to_owned())
        }
        Outcome::Answer(flight) => {
            facts.support.refusal = Some(refusal(&flight, ProtocolVersion::Ssl2))
        }
        Outcome::Closed(reason) => facts.support.refusal = Some(reason),
        // A TLS-only server often answers an SSL 2.0 hello with bytes we cannot read as
        // either protocol: that is a refusal, not an error.
        Outcome::Failed(reason) if reason.contains("does not speak TLS") => {
            facts.support.refusal = Some(reason)
        }
        Outcome::Failed(reason) => {
            session.note(ProtocolVersion::Ssl2, &reason);
            facts.support.error = Some(reason);
        }
        Outcome::Budget => facts.support.error = Some("handshake budget spent".to_owned()),
    }
}

/// Offers DEFLATE with null: did the server take it?
async fn compression(session: &Session, protocol: ProtocolVersion, suites: &[u16]) -> Option<bool> {
    let mut hello = hello(protocol, suites);
    hello.offer_compression = true;
    match session.exchange(hello, false).await {
        Outcome::Answer(FirstFlight::Hello { hello, .. }) => Some(hello.compression != 0),
        _ => None,
    }
}

/// ECDHE curves (from ServerKeyExchange, in server order) and the DHE prime size.
async fn legacy_groups(
    session: &Session,
    protocol: ProtocolVersion,
    suites: &[u16],
) -> (Vec<String>, Option<u32>) {
    let ecdhe: Vec<u16> = suites
        .iter()
        .copied()
        .filter(|&c| ciphers::lookup(c).is_some_and(|s| s.is_ecdhe()))
        .collect();
    let dhe: Vec<u16> = suites
        .iter()
        .copied()
        .filter(|&c| ciphers::lookup(c).is_some_and(|s| s.is_dhe()))
        .collect();
    let mut groups = Vec::new();
    if !ecdhe.is_empty() {
        let mut remaining: Vec<u16> = wire::GROUPS
            .iter()
            .map(|(code, _)| *code)
            .filter(|code| !(0x0100..=0x01ff).contains(code))
            .collect();
        for _ in 0..wire::GROUPS.len() {
            if remaining.is_empty() {
                break;
            }
            let mut hello = hello(protocol, &ecdhe);
            hello.groups = remaining.clone();
            let Outcome::Answer(FirstFlight::Hello {
                key_exchange: Some(params),
                ..
            }) = session.exchange(hello, true).await
            else {
                break;
            };
            let Some(KeyExchange::NamedCurve(group)) = KeyExchange::parse(&params, true) else {
                break;
            };
            if !remaining.contains(&group) {
                break;
            }
            groups.push(wire::group_name(group));
            remaining.retain(|&g| g != group);
        }
    }
    let mut dh_bits = None;
    if !dhe.is_empty() {
        // No ffdhe group offered: the server shows the prime it uses by default.
        let mut hello = hello(protocol, &dhe);
        hello
            .groups
            .retain(|code| !(0x0100..=0x01ff).contains(code));
        if let Outcome::Answer(FirstFlight::Hello {
            key_exchange: Some(params),
            ..
        }) = session.exchange(hello, true).await
        {
            if let Some(KeyExchange::FiniteField { prime_bits }) =
                KeyExchange::parse(&params, false)
            {
                dh_bits = Some(prime_bits);
            }
        }
    }
    (groups, dh_bits)
}

/// TLS 1.3 groups: hellos without key shares make the server name its choice in a
/// HelloRetryRequest; remove it, repeat.
async fn tls13_groups(session: &Session) -> Vec<String> {
    let suites = candidate_suites(ProtocolVersion::Tls13);
    let mut remaining: Vec<u16> = wire::GROUPS.iter().map(|(code, _)| *code).collect();
    let mut groups = Vec::new();
    for _ in 0..wire::GROUPS.len() {
        if remaining.is_empty() {
            break;
        }
        let mut hello = hello(ProtocolVersion::Tls13, &suites);
        hello.groups = remaining.clone();
        hello.key_shares = Vec::new();
        let group = match session.exchange(hello, false).await {
            Outcome::Answer(FirstFlight::RetryRequest(retry)) => retry.selected_group,
            Outcome::Answer(FirstFlight::Hello { hello, .. }) => hello.key_share_group,
            _ => None,
        };
        let Some(group) = group.filter(|g| remaining.contains(g)) else {
            break;
        };
        groups.push(wire::group_name(group));
        remaining.retain(|&g| g != group);
    }
    groups
}

/// With several protocols accepted, a hello for the second best with TLS_FALLBACK_SCSV must be
/// refused with `inappropriate_fallback` (RFC 7507). A TLS 1.3 server that accepts it but
/// marks its random with the downgrade sentinel (RFC 8446 §4.1.3, what rustls does instead)
/// protects clients as well: that counts as honoured.
async fn fallback_scsv(session: &Session, facts: &[ProtocolFacts]) -> Option<bool> {
    let accepted: Vec<&ProtocolFacts> = facts
        .iter()
        .filter(|f| f.support.accepted && f.support.protocol != ProtocolVersion::Ssl2.name())
        .collect();
    let [.., lower, _best] = accepted.as_slice() else {
        return None;
    };
    let protocol = protocol_of(lower);
    let mut hello = hello(protocol, &lower.suites);
    hello.extra_suites.push(TLS_FALLBACK_SCSV);
    match session.exchange(hello, false).await {
        Outcome::Answer(FirstFlight::Alert(Alert {
            description: Alert::INAPPROPRIATE_FALLBACK,
            ..
        })) => Some(true),
        Outcome::Answer(FirstFlight::Hello { hello, .. }) => Some(hello.downgrade_sentinel),
        _ => None,
    }
}

/// The payload of our heartbeat request: what a correct server would echo.
const HEARTBEAT_PAYLOAD: &[u8] = b"vigie-heartbleed";
/// How long we wait for an answer to the over-long heartbeat: a fixed server says nothing
/// (RFC 6520 §4: discard silently), so this bounds every probe of a server that offers the
/// extension.
const HEARTBEAT_WAIT: Duration = Duration::from_secs(2);

/// The Heartbleed probe on `protocol` (TLS 1.0 to 1.2) with the suites it accepts: a hello
/// with the heartbeat extension, the server's flight up to ServerHelloDone, then one heartbeat
/// request declaring 16 bytes more than it carries, sent in clear as testssl.sh does (a
/// vulnerable OpenSSL answers before the handshake ends). Only the 5-byte header of the answer
/// is read: leaked memory never reaches us.
async fn heartbleed(session: &Session, protocol: ProtocolVersion, suites: &[u16]) -> TlsHeartbeat {
    let mut result = TlsHeartbeat {
        protocol: protocol.name().to_owned(),
        ..TlsHeartbeat::default()
    };
    let (_slot, timeout) = match session.start().await {
        Ok(started) => started,
        Err(_) => {
            result.error = Some("handshake budget spent before the heartbeat probe".to_owned());
            return result;
        }
    };
    let mut hello = hello(protocol, suites);
    hello.server_name = Some(session.server_name.clone());
    hello.heartbeat = true;
    let bytes = hello.encode(&session.random);
    let (outcome, stream) =
        match tokio::time::timeout(timeout, session.talk(&bytes, Wait::Done)).await {
            Ok(answer) => answer,
            Err(_) => {
                result.error = Some(format!("no ServerHello within {} s", timeout.as_secs_f64()));
                return result;
            }
        };
    let (hello, mut stream) = match (outcome, stream) {
        (Outcome::Answer(FirstFlight::Hello { hello, .. }), Some(stream)) => (hello, stream),
        (Outcome::Answer(flight), _) => {
            result.error = Some(format!(
                "the hello with the heartbeat extension was refused ({})",
                refusal(&flight, protocol)
            ));
            return result;
        }
        (Outcome::Closed(reason) | Outcome::Failed(reason), _) => {
            result.error = Some(reason);
            return result;
        }
        (_, _) => {
            result.error = Some("no answer to the heartbeat probe's hello".to_owned());
            return result;
        }
    };
    result.extension_offered = hello.extensions.contains(&wire::extension::HEARTBEAT);
    if !result.extension_offered {
        // A server that does not acknowledge the extension does not process heartbeats.
        result.vulnerable = Some(false);
        let _ = stream.shutdown().await;
        return result;
    }
    let version = ProtocolVersion::from_code(hello.version).unwrap_or(protocol);
    let request = heartbeat::over_long_request(version, HEARTBEAT_PAYLOAD);
    if let Err(error) = stream.write_all(&request).await {
        result.vulnerable = Some(false);
        result.answer = Some(format!("closed before the heartbeat ({error})"));
        return result;
    }
    // Exactly a record header, never more: the bytes after it would be the server's memory.
    let mut header = [0u8; heartbeat::RECORD_HEADER];
    let mut got = 0usize;
    let wait = HEARTBEAT_WAIT.min(timeout);
    let read_header = async {
        while got < header.len() {
            match stream.read(&mut header[got..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    };
    let silent = tokio::time::timeout(wait, read_header).await.is_err();
    drop(stream);
    if silent && got == 0 {
        result.vulnerable = Some(false);
        result.answer = Some("no answer".to_owned());
        return result;
    }
    if got == 0 {
        result.vulnerable = Some(false);
        result.answer = Some("closed".to_owned());
        return result;
    }
    match heartbeat::judge_answer(&header[..got], HEARTBEAT_PAYLOAD.len()) {
        Ok(HeartbeatAnswer::OverRead { record_length }) => {
            result.vulnerable = Some(true);
            result.answer = Some(format!(
                "heartbeat response of {record_length} bytes to a request carrying {}",
                HEARTBEAT_PAYLOAD.len()
            ));
        }
        Ok(HeartbeatAnswer::Alert) => {
            result.vulnerable = Some(false);
            result.answer = Some("alert".to_owned());
        }
        Ok(HeartbeatAnswer::Ignored { content_type }) => {
            result.vulnerable = Some(false);
            result.answer = Some(format!("ignored (record type {content_type})"));
        }
        Err(error) => result.error = Some(error.to_string()),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_list_stays_under_128_suites_and_keeps_the_classics() {
        let compact = compact_suites();
        assert!(
            compact.len() <= 128 && compact.len() > 60,
            "{}",
            compact.len()
        );
        for code in [
            0x0005, 0x000a, 0x002f, 0xc02f, 0xc02b, 0xcca8, 0x009e, 0x0034,
        ] {
            assert!(compact.contains(&code), "0x{code:04x}");
        }
        let all = candidate_suites(ProtocolVersion::Tls12);
        assert!(compact.iter().all(|c| all.contains(c)));
        assert!(all.len() > 300);
        // The 1.3 list includes the integrity-only suites: a server taking one has no encryption.
        assert_eq!(candidate_suites(ProtocolVersion::Tls13).len(), 11);
    }
}
