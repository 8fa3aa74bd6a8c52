//! The I/O the email checks need, behind two small traits, so that evaluation logic is
//! tested against an in-memory zone ([`MemoryZone`]) and run against real DNS
//! ([`super::dns_queries::HickoryLookups`]) with the same code.
//!
//! The contract every implementation keeps: "no such record" (NXDOMAIN or an empty answer)
//! is an empty `Vec`, never an error. Errors are for queries that got no usable answer
//! (timeout, SERVFAIL, refused), because those make a check unjudgeable.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use vigie_model::FailureKind;

pub use vigie_model::observation::email::{Answer, CaaRecord, DnssecFacts, MxRecord, TlsaRecord};

/// A DNS query that got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("DNS {rtype} query for {name} failed: {reason}")]
pub struct LookupError {
    pub name: String,
    pub rtype: String,
    pub reason: String,
    /// The resolver gave no answer at all (a timeout, an unreachable server), as opposed to
    /// an answer that is an error (SERVFAIL, REFUSED): see [`super::health`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_answer: bool,
    /// The failure as a closed set, classified where it happened (a timeout, an answer
    /// SERVFAIL or REFUSED), for counting.
    #[serde(default = "other_kind")]
    pub kind: FailureKind,
}

fn other_kind() -> FailureKind {
    FailureKind::Other
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// An HTTPS fetch that did not give a 200 response with a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("fetching {url} failed: {reason}")]
pub struct FetchError {
    pub url: String,
    pub reason: String,
}

/// DNS queries, one method per record type the checks read.
pub trait DnsLookup: Sync {
    /// TXT records, each record's strings concatenated (RFC 7208 §3.3).
    fn txt(&self, name: &str) -> impl Future<Output = Result<Vec<String>, LookupError>> + Send;
    fn mx(&self, name: &str) -> impl Future<Output = Result<Vec<MxRecord>, LookupError>> + Send;
    /// A and AAAA addresses.
    fn ip(&self, name: &str) -> impl Future<Output = Result<Vec<IpAddr>, LookupError>> + Send;
    fn caa(&self, name: &str) -> impl Future<Output = Result<Vec<CaaRecord>, LookupError>> + Send;
    fn tlsa(&self, name: &str)
        -> impl Future<Output = Result<Vec<TlsaRecord>, LookupError>> + Send;
    fn dnssec(&self, name: &str) -> impl Future<Output = Result<DnssecFacts, LookupError>> + Send;
    /// The resolvers asked, `IP:PORT`, for messages about them; empty when not known.
    fn resolvers(&self) -> Vec<String> {
        Vec::new()
    }
}

/// HTTPS GET of a small text document, with certificate validation.
pub trait HttpsFetch: Sync {
    fn fetch_text(&self, url: &str) -> impl Future<Output = Result<String, FetchError>> + Send;
}

/// Normalizes a name for lookups and cache keys: lowercase, no trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Txt,
    Mx,
    Ip,
    Caa,
    Tlsa,
    Dnssec,
    Https,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Txt => "TXT",
            Kind::Mx => "MX",
            Kind::Ip => "A/AAAA",
            Kind::Caa => "CAA",
            Kind::Tlsa => "TLSA",
            Kind::Dnssec => "DNSKEY/DS",
            Kind::Https => "HTTPS",
        }
    }
}

/// An in-memory zone: for tests, and for anyone who wants to evaluate records they hold.
/// Names not present answer "no records". Every query is counted, so tests can prove how
/// many reached the "server".
#[derive(Debug, Default)]
pub struct MemoryZone {
    txt: HashMap<String, Vec<String>>,
    mx: HashMap<String, Vec<MxRecord>>,
    ip: HashMap<String, Vec<IpAddr>>,
    caa: HashMap<String, Vec<CaaRecord>>,
    tlsa: HashMap<String, Vec<TlsaRecord>>,
    dnssec: HashMap<String, DnssecFacts>,
    https: HashMap<String, String>,
    failing: Vec<(Kind, String)>,
    queries: Mutex<Vec<String>>,
}

impl MemoryZone {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn txt(mut self, name: &str, text: &str) -> Self {
        self.txt
            .entry(normalize(name))
            .or_default()
            .push(text.to_owned());
        self
    }

    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        self.mx.entry(normalize(name)).or_default().push(MxRecord {
            preference,
            exchange: normalize(exchange),
        });
        self
    }

    pub fn ip(mut self, name: &str, ip: IpAddr) -> Self {
        self.ip.entry(normalize(name)).or_default().push(ip);
        self
    }

    pub fn caa(mut self, name: &str, flags: u8, tag: &str, value: &str) -> Self {
        self.caa
            .entry(normalize(name))
            .or_default()
            .push(CaaRecord {
                flags,
                tag: tag.into(),
                value: value.into(),
            });
        self
    }

    pub fn tlsa(mut self, name: &str, record: TlsaRecord) -> Self {
        self.tlsa.entry(normalize(name)).or_default().push(record);
        self
    }

    pub fn dnssec(mut self, name: &str, facts: DnssecFacts) -> Self {
        self.dnssec.insert(normalize(name), facts);
        self
    }

    /// A document served at an HTTPS URL.
    pub fn https(mut self, url: &str, body: &str) -> Self {
        self.https.insert(url.to_owned(), body.to_owned());
        self
    }

    /// Makes TXT queries for `name` fail like a SERVFAIL would.
    pub fn failing_txt(mut self, name: &str) -> Self {
        self.failing.push((Kind::Txt, normalize(name)));
        self
    }

    /// Makes MX queries for `name` fail like a SERVFAIL would.
    pub fn failing_mx(mut self, name: &str) -> Self {
        self.failing.push((Kind::Mx, normalize(name)));
        self
    }

    /// Every query so far, as `TYPE name`.
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().map(|q| q.clone()).unwrap_or_default()
    }

    fn answer<T: Clone>(
        &self,
        kind: Kind,
        map: &HashMap<String, Vec<T>>,
        name: &str,
    ) -> Result<Vec<T>, LookupError> {
        let name = normalize(name);
        if let Ok(mut q) = self.queries.lock() {
            q.push(format!("{} {name}", kind.as_str()));
        }
        if self.failing.contains(&(kind, name.clone())) {
            return Err(LookupError {
                name,
                rtype: kind.as_str().into(),
                reason: "SERVFAIL".into(),
                no_answer: false,
                kind: FailureKind::Name,
            });
        }
        Ok(map.get(&name).cloned().unwrap_or_default())
    }
}

impl DnsLookup for MemoryZone {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        self.answer(Kind::Txt, &self.txt, name)
    }
    async fn mx(&self, name: &str) -> Result<Vec<MxRecord>, LookupError> {
        self.answer(Kind::Mx, &self.mx, name)
    }
    async fn ip(&self, name: &str) -> Result<Vec<IpAddr>, LookupError> {
        self.answer(Kind::Ip, &self.ip, name)
    }
    async fn caa(&self, name: &str) -> Result<Vec<CaaRecord>, LookupError> {
        self.answer(Kind::Caa, &self.caa, name)
    }
    async fn tlsa(&self, name: &str) -> Result<Vec<TlsaRecord>, LookupError> {
        self.answer(Kind::Tlsa, &self.tlsa, name)
    }
    async fn dnssec(&self, name: &str) -> Result<DnssecFacts, LookupError> {
        let name = normalize(name);
        if let Ok(mut q) = self.queries.lock() {
            q.push(format!("{} {name}", Kind::Dnssec.as_str()));
        }
        Ok(self.dnssec.get(&name).cloned().unwrap_or(DnssecFacts {
            zone: name,
            ..DnssecFacts::default()
        }))
    }
}

impl HttpsFetch for MemoryZone {
    async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        if let Ok(mut q) = self.queries.lock() {
            q.push(format!("{} {url}", Kind::Https.as_str()));
        }
        self.https.get(url).cloned().ok_or_else(|| FetchError {
            url: url.into(),
            reason: "404 Not Found".into(),
        })
    }
}

#[derive(Debug, Clone)]
enum Cached {
    Txt(Result<Vec<String>, LookupError>),
    Mx(Result<Vec<MxRecord>, LookupError>),
    Ip(Result<Vec<IpAddr>, LookupError>),
    Caa(Result<Vec<CaaRecord>, LookupError>),
    Tlsa(Result<Vec<TlsaRecord>, LookupError>),
    Dnssec(Result<DnssecFacts, LookupError>),
    Https(Result<String, FetchError>),
}

/// One cached answer, filled once by whichever asker comes first.
type Slot = Arc<OnceCell<Cached>>;

/// A per-run cache in front of real lookups: 1,000 domains that include the same
/// provider's SPF record cost one query for it. Concurrent askers of the same name wait
/// for the one query in flight instead of sending their own. Failures are cached too, so
/// that one run gives one answer for a name (and does not hammer a failing server).
#[derive(Debug)]
pub struct CachedLookups<L> {
    inner: L,
    cells: Mutex<HashMap<(Kind, String), Slot>>,
}

impl<L> CachedLookups<L> {
    pub fn new(inner: L) -> Self {
        CachedLookups {
            inner,
            cells: Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn cell(&self, kind: Kind, key: String) -> Arc<OnceCell<Cached>> {
        match self.cells.lock() {
            Ok(mut cells) => cells.entry((kind, key)).or_default().clone(),
            // A poisoned lock only means another task panicked mid-insert; answering
            // uncached is still correct.
            Err(_) => Arc::new(OnceCell::new()),
        }
    }
}

fn mismatch(name: &str, kind: Kind) -> LookupError {
    // Unreachable by construction (each kind stores its own variant); kept as an error
    // rather than a panic.
    LookupError {
        name: name.into(),
        rtype: kind.as_str().into(),
        reason: "internal cache type mismatch".into(),
        no_answer: false,
        kind: FailureKind::Other,
    }
}

macro_rules! cached {
    ($self:ident, $kind:expr, $variant:ident, $name:ident, $call:expr) => {{
        let cell = $self.cell($kind, normalize($name));
        match cell
            .get_or_init(|| async { Cached::$variant($call.await) })
            .await
        {
            Cached::$variant(result) => result.clone(),
            _ => Err(mismatch($name, $kind)),
        }
    }};
}

impl<L: DnsLookup + Send> DnsLookup for CachedLookups<L> {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        cached!(self, Kind::Txt, Txt, name, self.inner.txt(name))
    }
    async fn mx(&self, name: &str) -> Result<Vec<MxRecord>, LookupError> {
        cached!(self, Kind::Mx, Mx, name, self.inner.mx(name))
    }
    async fn ip(&self, name: &str) -> Result<Vec<IpAddr>, LookupError> {
        cached!(self, Kind::Ip, Ip, name, self.inner.ip(name))
    }
    async fn caa(&self, name: &str) -> Result<Vec<CaaRecord>, LookupError> {
        cached!(self, Kind::Caa, Caa, name, self.inner.caa(name))
    }
    async fn tlsa(&self, name: &str) -> Result<Vec<TlsaRecord>, LookupError> {
        cached!(self, Kind::Tlsa, Tlsa, name, self.inner.tlsa(name))
    }
    async fn dnssec(&self, name: &str) -> Result<DnssecFacts, LookupError> {
        cached!(self, Kind::Dnssec, Dnssec, name, self.inner.dnssec(name))
    }
    fn resolvers(&self) -> Vec<String> {
        self.inner.resolvers()
    }
}

impl<L: HttpsFetch + Send> HttpsFetch for CachedLookups<L> {
    async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        let cell = self.cell(Kind::Https, url.to_owned());
        match cell
            .get_or_init(|| async { Cached::Https(self.inner.fetch_text(url).await) })
            .await
        {
            Cached::Https(result) => result.clone(),
            _ => Err(FetchError {
                url: url.into(),
                reason: "internal cache type mismatch".into(),
            }),
        }
    }
}

/// The answer to one query as the observation records it: the records, or why there are none.
pub trait AnswerFrom<T>: Sized {
    fn from_result(name: impl Into<String>, result: Result<Vec<T>, LookupError>) -> Self;
}

impl<T> AnswerFrom<T> for Answer<T> {
    fn from_result(name: impl Into<String>, result: Result<Vec<T>, LookupError>) -> Self {
        match result {
            Ok(records) => Answer::records(name, records),
            Err(e) => Answer {
                name: name.into(),
                records: Vec::new(),
                error: Some(e.reason),
                kind: Some(e.kind),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cache_sends_one_query_per_name_and_type_even_concurrently() {
        let zone = MemoryZone::new()
            .txt("_spf.provider.example", "v=spf1 -all")
            .failing_txt("broken.example");
        let cached = CachedLookups::new(zone);
        let tasks: Vec<_> = (0..50)
            .map(|_| cached.txt("_SPF.provider.example."))
            .collect();
        let answers = futures_join_all(tasks).await;
        assert!(answers.iter().all(|a| a.as_ref().map(Vec::len) == Ok(1)));
        assert!(cached.txt("broken.example").await.is_err());
        assert!(cached.txt("broken.example").await.is_err());
        assert_eq!(cached.mx("_spf.provider.example").await, Ok(vec![]));
        assert_eq!(
            cached.inner().queries(),
            vec![
                "TXT _spf.provider.example",
                "TXT broken.example",
                "MX _spf.provider.example"
            ]
        );
    }

    /// Polls the futures together on one task (enough to exercise the single-flight path).
    async fn futures_join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut set = Vec::new();
        let joined = futures.into_iter().map(Box::pin).collect::<Vec<_>>();
        let mut pending: Vec<_> = joined.into_iter().map(Some).collect();
        let mut outputs: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut all = true;
            for (i, slot) in pending.iter_mut().enumerate() {
                if let Some(fut) = slot {
                    match fut.as_mut().poll(cx) {
                        std::task::Poll::Ready(out) => {
                            outputs[i] = Some(out);
                            *slot = None;
                        }
                        std::task::Poll::Pending => all = false,
                    }
                }
            }
            if all {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        set.extend(outputs.into_iter().flatten());
        set
    }
}
