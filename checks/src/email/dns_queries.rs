//! Real DNS and HTTPS behind the [`DnsLookup`] and [`HttpsFetch`] traits.
//!
//! Uses hickory directly because `crate::dns` offers address lookups only; if it grows
//! TXT/MX/CAA/TLSA lookups, this module should delegate to it.
//!
//! DNSSEC is judged as docs/checks.md says (`dns.dnssec`): by a validating resolver's AD bit. The
//! resolver library hides the header of answers, so that one question goes out as a raw
//! UDP query (DO and AD set), once more with CD set when the first gets SERVFAIL, to tell
//! "bogus" from "the resolver is down"; a truncated answer is asked again over TCP.
//!
//! With [`NetLookups::with_dnssec_validation`] (`--dnssec-validate`), "signed and valid" and
//! "bogus" are decided by our own validation (hickory's, from a trust anchor: the root's, or
//! the DNSKEY records of a file) instead of the resolver's word, for resolvers that do not
//! validate or are not trusted to.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::dnssec::{Algorithm, PublicKeyBuf, TrustAnchors};
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};
use vigie_model::FailureKind;

use super::lookup::{
    normalize, DnsLookup, DnssecFacts, FetchError, HttpsFetch, LookupError, MxRecord, TlsaRecord,
};
use vigie_grade::email::orgdomain::organizational_domain;
use vigie_grade::email::records::CaaRecord;

/// Why the network lookups could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "cannot read the system resolver configuration: {0}; give --resolver or [dns] resolvers"
    )]
    SystemConfig(String),
    #[error("no DNS resolver configured; give --resolver or [dns] resolvers")]
    NoResolver,
    #[error("cannot build the HTTPS client: {0}")]
    Https(String),
    #[error("cannot read the extra CA certificates: {0}; check --ca-file or [tls] ca_file")]
    CaFile(String),
    /// The DNSSEC trust anchor file could not be read or holds no DNSKEY record.
    #[error("cannot use the DNSSEC trust anchor file {path}: {reason}")]
    TrustAnchor { path: PathBuf, reason: String },
}

/// Our own DNSSEC validation (`--dnssec-validate`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnssecValidation {
    /// DNSKEY records to trust (zone-file lines, `name [ttl] [IN] DNSKEY flags 3 alg key`);
    /// `None`: the root zone's keys built into hickory.
    pub trust_anchor: Option<PathBuf>,
}

/// How to reach DNS and HTTPS.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// Resolvers to ask (`--resolver`, `[dns] resolvers`); empty: the system's.
    pub resolvers: Vec<SocketAddr>,
    /// Per query and per HTTPS request.
    pub timeout: Duration,
    /// Extra trusted roots (PEM) for the MTA-STS policy fetch, beside the Mozilla roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Host name → address overrides for HTTPS (tests point `mta-sts.<domain>` at
    /// loopback with this).
    pub https_resolve: Vec<(String, SocketAddr)>,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            resolvers: Vec::new(),
            timeout: Duration::from_secs(5),
            ca_pem: None,
            https_resolve: Vec::new(),
        }
    }
}

/// DNS through hickory, HTTPS through reqwest (rustls, certificates validated).
pub struct NetLookups {
    resolver: TokioResolver,
    /// The same servers through hickory's DNSSEC validation, when asked for.
    validator: Option<TokioResolver>,
    servers: Vec<SocketAddr>,
    /// Where the raw DNSSEC questions go: the first configured resolver.
    dnssec_server: SocketAddr,
    timeout: Duration,
    http: reqwest::Client,
}

/// The largest MTA-STS policy accepted; real ones are a few hundred bytes.
const MAX_POLICY_BYTES: usize = 64 * 1024;

impl NetLookups {
    pub fn new(options: &NetOptions) -> Result<NetLookups, SetupError> {
        let servers: Vec<SocketAddr> = if options.resolvers.is_empty() {
            let (config, _) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| SetupError::SystemConfig(e.to_string()))?;
            let mut addrs: Vec<SocketAddr> = config
                .name_servers()
                .iter()
                .map(|ns| ns.socket_addr)
                .collect();
            addrs.dedup();
            addrs
        } else {
            options.resolvers.clone()
        };
        let dnssec_server = *servers.first().ok_or(SetupError::NoResolver)?;
        let resolver = build_resolver(&servers, options.timeout, None);

        let mut http = reqwest::Client::builder()
            .timeout(options.timeout)
            .https_only(true)
            // RFC 8461 §3.3: redirects must not be followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| SetupError::CaFile(e.to_string()))?;
            // A file of anything but certificates reads as none: refuse it rather than
            // scan without the roots the user asked for.
            if certificates.is_empty() {
                return Err(SetupError::CaFile(
                    "the file holds no -----BEGIN CERTIFICATE----- block".into(),
                ));
            }
            for cert in certificates {
                http = http.add_root_certificate(cert);
            }
        }
        for (host, addr) in &options.https_resolve {
            http = http.resolve(host, *addr);
        }
        let http = http.build().map_err(|e| SetupError::Https(e.to_string()))?;
        Ok(NetLookups {
            resolver,
            validator: None,
            servers,
            dnssec_server,
            timeout: options.timeout,
            http,
        })
    }

    async fn query(&self, name: &str, rtype: RecordType) -> Result<Vec<RData>, LookupError> {
        let fqdn = format!("{}.", normalize(name));
        let err = |reason: String, no_answer: bool, kind: FailureKind| LookupError {
            name: normalize(name),
            rtype: rtype.to_string(),
            reason,
            no_answer,
            kind,
        };
        let parsed = Name::from_ascii(&fqdn)
            .map_err(|e| err(format!("invalid name: {e}"), false, FailureKind::Other))?;
        match self.resolver.lookup(parsed, rtype).await {
            Ok(lookup) => Ok(lookup
                .records()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .map(|r| r.data().clone())
                .collect()),
            Err(e) if is_absent(&e) => Ok(Vec::new()),
            Err(e) => Err(err(describe(&e), is_unanswered(&e), failure_kind(&e))),
        }
    }

    /// One raw question to the resolver; the whole answer, header included.
    async fn raw(
        &self,
        name: &str,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> Result<Message, Failure> {
        let fqdn = Name::from_ascii(format!("{}.", normalize(name)))
            .map_err(|e| Failure::answered(e.to_string()))?;
        // Not a security boundary (we trust the configured resolver's answers anyway);
        // just distinct enough to pair answers with questions.
        let id = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 65_536) as u16;
        let mut message = Message::new();
        message
            .set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .set_authentic_data(true)
            .set_checking_disabled(checking_disabled)
            .add_query(Query::query(fqdn, rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.flags_mut().dnssec_ok = true;
        message.set_edns(edns);
        let bytes = message
            .to_vec()
            .map_err(|e| Failure::answered(e.to_string()))?;
        let bind: SocketAddr = if self.dnssec_server.is_ipv4() {
            (IpAddr::from([0, 0, 0, 0]), 0).into()
        } else {
            (IpAddr::from([0u16; 8]), 0).into()
        };
        // Failing to send, or an error instead of an answer (ICMP port unreachable), is no
        // answer from the resolver.
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| Failure::unanswered(e.to_string()))?;
        socket
            .connect(self.dnssec_server)
            .await
            .map_err(|e| Failure::unanswered(e.to_string()))?;
        socket
            .send(&bytes)
            .await
            .map_err(|e| Failure::unanswered(e.to_string()))?;
        let mut buf = vec![0u8; 4096];
        let deadline = tokio::time::Instant::now() + self.timeout;
        // Bounded: at most a few stray datagrams before the deadline.
        for _ in 0..8 {
            let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
                .await
                .map_err(|_| {
                    Failure::unanswered(format!(
                        "no answer from {} within {:?}",
                        self.dnssec_server, self.timeout
                    ))
                })?
                .map_err(|e| Failure::unanswered(e.to_string()))?;
            match Message::from_vec(&buf[..n]) {
                Ok(answer) if answer.id() == id => {
                    if answer.truncated() {
                        // RFC 7766: a truncated answer is asked again over TCP (a DNSKEY
                        // set with RSA keys and its signatures easily exceeds 1232 bytes).
                        return self.raw_tcp(&bytes, id).await;
                    }
                    return Ok(answer);
                }
                Ok(_) => {}
                // Our answer, but not one we can read (a malformed DNSKEY, say): say so now
                // rather than wait for the timeout.
                Err(e) if buf[..n.min(2)] == id.to_be_bytes() => {
                    return Err(Failure::answered(format!(
                        "unreadable answer from {}: {e}",
                        self.dnssec_server
                    )))
                }
                Err(_) => {}
            }
        }
        // Datagrams came back, none of them ours: something answers at that address.
        Err(Failure::answered("no matching answer".into()))
    }

    /// The same question over TCP (two-byte length prefix, RFC 1035 §4.2.2), one attempt
    /// bounded by the timeout.
    async fn raw_tcp(&self, question: &[u8], id: u16) -> Result<Message, Failure> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let server = self.dnssec_server;
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(server)
                .await
                .map_err(|e| format!("TCP to {server}: {e}"))?;
            let length = u16::try_from(question.len()).map_err(|_| "question too long")?;
            let mut framed = length.to_be_bytes().to_vec();
            framed.extend_from_slice(question);
            stream.write_all(&framed).await.map_err(|e| e.to_string())?;
            let mut length = [0u8; 2];
            stream
                .read_exact(&mut length)
                .await
                .map_err(|e| e.to_string())?;
            let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
            stream
                .read_exact(&mut answer)
                .await
                .map_err(|e| e.to_string())?;
            let answer = Message::from_vec(&answer).map_err(|e| e.to_string())?;
            if answer.id() != id {
                return Err(format!("TCP answer from {server} to another question"));
            }
            Ok(answer)
        };
        // Only reached after a truncated answer over UDP: the resolver is alive.
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no TCP answer from {server} within {:?}", self.timeout))
            .and_then(|answer| answer)
            .map_err(Failure::answered)
    }

    /// Judges DNSSEC with our own validation (hickory's, from `validation`'s trust anchor)
    /// instead of the resolver's AD bit: for resolvers that do not validate, or are not
    /// trusted to. The other lookups are unchanged.
    pub fn with_dnssec_validation(
        mut self,
        validation: &DnssecValidation,
    ) -> Result<NetLookups, SetupError> {
        let anchors = match &validation.trust_anchor {
            Some(path) => read_trust_anchor(path)?,
            None => TrustAnchors::default(),
        };
        self.validator = Some(build_resolver(
            &self.servers,
            self.timeout,
            Some(Arc::new(anchors)),
        ));
        Ok(self)
    }

    /// The SOA of `domain` through our own validation: (secure, bogus verdict).
    async fn validate_soa(
        &self,
        validator: &TokioResolver,
        domain: &str,
    ) -> Result<(bool, Option<Bogus>), Failure> {
        let fqdn =
            Name::from_ascii(format!("{domain}.")).map_err(|e| Failure::answered(e.to_string()))?;
        match validator.lookup(fqdn, RecordType::SOA).await {
            Ok(lookup) => {
                let proofs: Vec<_> = lookup
                    .records()
                    .iter()
                    .filter(|r| r.record_type() == RecordType::SOA)
                    .map(|r| r.proof())
                    .collect();
                if proofs.iter().any(|p| p.is_bogus()) {
                    return Ok((false, Some(Bogus::Proven)));
                }
                Ok((
                    !proofs.is_empty() && proofs.iter().all(|p| p.is_secure()),
                    None,
                ))
            }
            Err(e) => match e.proto().map(|p| p.kind()) {
                // A validating resolver upstream refused the answer: ask it with CD.
                Some(ProtoErrorKind::NoRecordsFound { response_code, .. })
                    if *response_code == ResponseCode::ServFail =>
                {
                    Ok((false, Some(Bogus::Unless)))
                }
                // No SOA at the name (not a zone apex): nothing proven either way.
                Some(ProtoErrorKind::NoRecordsFound { .. }) => Ok((false, None)),
                // A denial of existence that does not verify.
                Some(ProtoErrorKind::Nsec { proof, .. }) if proof.is_bogus() => {
                    Ok((false, Some(Bogus::Proven)))
                }
                Some(ProtoErrorKind::Timeout | ProtoErrorKind::Io(_)) | None => {
                    Err(Failure::of(&e))
                }
                // hickory drops the records it cannot validate, then fails on what is left
                // ("negative response missing SOA"): if the server does hold a SOA, it is
                // one our validation rejected.
                Some(_) => {
                    let unchecked = self.raw(domain, RecordType::SOA, true).await?;
                    if unchecked
                        .answers()
                        .iter()
                        .any(|r| r.record_type() == RecordType::SOA)
                    {
                        Ok((false, Some(Bogus::Proven)))
                    } else {
                        Err(Failure::of(&e))
                    }
                }
            },
        }
    }

    async fn has(&self, name: &str, rtype: RecordType) -> Result<bool, Failure> {
        let answer = self.raw(name, rtype, false).await?;
        match answer.response_code() {
            ResponseCode::NoError | ResponseCode::NXDomain => {
                Ok(answer.answers().iter().any(|r| r.record_type() == rtype))
            }
            code => Err(Failure {
                kind: if code == ResponseCode::Refused {
                    FailureKind::Refused
                } else {
                    FailureKind::Name
                },
                ..Failure::answered(format!("{rtype} query for {name}: {code}"))
            }),
        }
    }
}

/// A resolver asking `servers` (UDP, then TCP for truncated answers), one attempt per
/// question, no cache; validating DNSSEC from `anchors` when given.
fn build_resolver(
    servers: &[SocketAddr],
    timeout: Duration,
    anchors: Option<Arc<TrustAnchors>>,
) -> TokioResolver {
    let mut config = ResolverConfig::new();
    for addr in servers {
        config.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
        config.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
    }
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    // hickory counts retries, not tries: 0 is the one attempt per question this module
    // promises (1 sent every question twice, so a dead resolver cost two timeouts each).
    opts.attempts = 0;
    opts.edns0 = true;
    // Our own per-run cache dedupes; hickory's would only hide TTL-expired answers.
    opts.cache_size = 0;
    opts.validate = anchors.is_some();
    let mut builder =
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts);
    if let Some(anchors) = anchors {
        builder = builder.with_trust_anchor(anchors);
    }
    builder.build()
}

/// How an answer's DNSSEC state was judged bogus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bogus {
    /// Our own validation found signatures that do not verify.
    Proven,
    /// The validating resolver answered SERVFAIL: bogus unless it also fails with CD set.
    Unless,
}

/// DNSKEY records of a zone-file-like text: `name [ttl] [IN] DNSKEY flags protocol
/// algorithm key…` (the key may be split by spaces); comments after `;`.
fn read_trust_anchor(path: &Path) -> Result<TrustAnchors, SetupError> {
    use base64::Engine;
    let fail = |reason: String| SetupError::TrustAnchor {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut anchors = TrustAnchors::empty();
    for (number, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("");
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = fields.iter().position(|f| f.eq_ignore_ascii_case("DNSKEY")) else {
            continue;
        };
        let bad = |what: &str| fail(format!("line {}: {what}", number + 1));
        let (Some(algorithm), Some(_)) = (fields.get(at + 3), fields.get(at + 4)) else {
            return Err(bad(
                "a DNSKEY record needs flags, protocol, algorithm and key",
            ));
        };
        let algorithm: u8 = algorithm.parse().map_err(|_| bad("bad algorithm number"))?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(fields[at + 4..].concat())
            .map_err(|_| bad("the key is not base64"))?;
        anchors.insert(&PublicKeyBuf::new(key, Algorithm::from_u8(algorithm)));
    }
    if anchors.is_empty() {
        return Err(fail("no DNSKEY record in the file".to_owned()));
    }
    Ok(anchors)
}

/// Why a question failed, and whether the resolver answered at all (see
/// [`super::health`]).
#[derive(Debug)]
struct Failure {
    reason: String,
    no_answer: bool,
    kind: FailureKind,
}

impl Failure {
    /// The resolver answered, with something that is not what was asked for.
    fn answered(reason: String) -> Failure {
        Failure {
            reason,
            no_answer: false,
            kind: FailureKind::Protocol,
        }
    }

    /// No answer came back: a timeout, or the question could not reach the resolver.
    fn unanswered(reason: String) -> Failure {
        Failure {
            reason,
            no_answer: true,
            kind: FailureKind::Timeout,
        }
    }

    fn of(error: &ResolveError) -> Failure {
        Failure {
            reason: error.to_string(),
            no_answer: is_unanswered(error),
            kind: failure_kind(error),
        }
    }
}

/// hickory words a SERVFAIL or REFUSED answer "no records found for Query { … }", which
/// reads like absence: say which answer came back instead.
fn describe(e: &ResolveError) -> String {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => format!(
            "the resolver answered {}",
            format!("{response_code:?}").to_uppercase()
        ),
        _ => e.to_string(),
    }
}

/// The kind of a failed query, from hickory's own error: no answer in time is `timeout`, an
/// answer REFUSED is `refused`, SERVFAIL or another error code is `name` (the name could not
/// be resolved), anything else `other`.
fn failure_kind(e: &ResolveError) -> FailureKind {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::Timeout) => FailureKind::Timeout,
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => match *response_code {
            ResponseCode::Refused => FailureKind::Refused,
            _ => FailureKind::Name,
        },
        Some(ProtoErrorKind::Io(_) | ProtoErrorKind::NoConnections) => FailureKind::Timeout,
        _ => FailureKind::Other,
    }
}

/// No DNS answer came back at all: a timeout, or no way to reach the server (connection
/// refused, unreachable). Any answer, even SERVFAIL, is not this.
fn is_unanswered(e: &ResolveError) -> bool {
    matches!(
        e.proto().map(|p| p.kind()),
        Some(ProtoErrorKind::Timeout | ProtoErrorKind::Io(_) | ProtoErrorKind::NoConnections)
    )
}

/// "No such record": NXDOMAIN, or NOERROR with an empty answer. hickory also reports a
/// SERVFAIL or REFUSED answer as "no records found", with the code inside; those are
/// failures, not absence (a broken zone must not look like a missing SPF record).
fn is_absent(e: &ResolveError) -> bool {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => {
            matches!(
                *response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            )
        }
        _ => false,
    }
}

impl DnsLookup for NetLookups {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        Ok(self
            .query(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|rdata| match rdata {
                // §3.3: the strings of one record are concatenated without separator.
                RData::TXT(txt) => Some(
                    txt.txt_data()
                        .iter()
                        .map(|s| String::from_utf8_lossy(s))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    async fn mx(&self, name: &str) -> Result<Vec<MxRecord>, LookupError> {
        let mut out: Vec<MxRecord> = self
            .query(name, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|rdata| match rdata {
                RData::MX(mx) => Some(MxRecord {
                    preference: mx.preference(),
                    exchange: normalize(&mx.exchange().to_ascii()),
                }),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
        Ok(out)
    }

    async fn ip(&self, name: &str) -> Result<Vec<IpAddr>, LookupError> {
        let mut out = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            for rdata in self.query(name, rtype).await? {
                match rdata {
                    RData::A(a) => out.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) => out.push(IpAddr::V6(a.0)),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    async fn caa(&self, name: &str) -> Result<Vec<CaaRecord>, LookupError> {
        Ok(self
            .query(name, RecordType::CAA)
            .await?
            .into_iter()
            .filter_map(|rdata| match rdata {
                RData::CAA(caa) => Some(CaaRecord {
                    flags: caa.flags(),
                    tag: caa.tag().as_str().to_owned(),
                    value: String::from_utf8_lossy(caa.raw_value()).into_owned(),
                }),
                _ => None,
            })
            .collect())
    }

    async fn tlsa(&self, name: &str) -> Result<Vec<TlsaRecord>, LookupError> {
        Ok(self
            .query(name, RecordType::TLSA)
            .await?
            .into_iter()
            .filter_map(|rdata| match rdata {
                RData::TLSA(t) => Some(TlsaRecord {
                    usage: u8::from(t.cert_usage()),
                    selector: u8::from(t.selector()),
                    matching: u8::from(t.matching()),
                    data: t.cert_data().iter().map(|b| format!("{b:02x}")).collect(),
                }),
                _ => None,
            })
            .collect())
    }

    async fn dnssec(&self, name: &str) -> Result<DnssecFacts, LookupError> {
        let err = |failure: Failure| LookupError {
            name: normalize(name),
            rtype: "DNSSEC".into(),
            reason: failure.reason,
            no_answer: failure.no_answer,
            kind: failure.kind,
        };
        let domain = normalize(name);
        let (authenticated, verdict) = match &self.validator {
            Some(validator) => self.validate_soa(validator, &domain).await.map_err(err)?,
            None => {
                let answer = self
                    .raw(&domain, RecordType::SOA, false)
                    .await
                    .map_err(err)?;
                let servfail = answer.response_code() == ResponseCode::ServFail;
                (answer.authentic_data(), servfail.then_some(Bogus::Unless))
            }
        };
        let mut facts = DnssecFacts {
            authenticated,
            bogus: verdict == Some(Bogus::Proven),
            ..DnssecFacts::default()
        };
        if verdict == Some(Bogus::Unless) {
            // SERVFAIL with validation, an answer without: the signatures are bogus.
            let unchecked = self
                .raw(&domain, RecordType::SOA, true)
                .await
                .map_err(err)?;
            if unchecked.response_code() == ResponseCode::ServFail {
                return Err(err(Failure::answered(format!(
                    "the resolver {} answers SERVFAIL",
                    self.dnssec_server
                ))));
            }
            facts.bogus = true;
        }
        // The zone apex: the name itself or the nearest parent with DNSKEY records, up to
        // the organizational domain.
        let org = organizational_domain(&domain).unwrap_or_else(|| domain.clone());
        let mut zone = domain.clone();
        loop {
            let found = if facts.bogus {
                // Ask without validation, or a bogus zone would look unsigned.
                self.raw(&zone, RecordType::DNSKEY, true)
                    .await
                    .map(|m| {
                        m.answers()
                            .iter()
                            .any(|r| r.record_type() == RecordType::DNSKEY)
                    })
                    .map_err(err)?
            } else {
                self.has(&zone, RecordType::DNSKEY).await.map_err(err)?
            };
            if found {
                facts.dnskey = true;
                break;
            }
            match zone.split_once('.') {
                Some((_, parent)) if zone != org && parent.len() >= org.len() => {
                    zone = parent.to_owned()
                }
                _ => break,
            }
        }
        if !facts.dnskey {
            zone = org;
        }
        facts.ds = if facts.bogus {
            self.raw(&zone, RecordType::DS, true)
                .await
                .map(|m| {
                    m.answers()
                        .iter()
                        .any(|r| r.record_type() == RecordType::DS)
                })
                .map_err(err)?
        } else {
            self.has(&zone, RecordType::DS).await.map_err(err)?
        };
        facts.zone = zone;
        Ok(facts)
    }

    fn resolvers(&self) -> Vec<String> {
        self.servers.iter().map(SocketAddr::to_string).collect()
    }
}

impl HttpsFetch for NetLookups {
    async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        let err = |reason: String| FetchError {
            url: url.to_owned(),
            reason,
        };
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| err(error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(err(format!("HTTP status {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| err(error_chain(&e)))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_POLICY_BYTES {
                return Err(err(format!("larger than {MAX_POLICY_BYTES} bytes")));
            }
        }
        String::from_utf8(body).map_err(|_| err("not UTF-8 text".into()))
    }
}

/// reqwest's top-level message is often just "error sending request"; the cause (a
/// certificate error, a refused connection) is what a person needs.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    let mut depth = 0;
    while let Some(cause) = source {
        if depth >= 6 {
            break;
        }
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
        depth += 1;
    }
    out
}
