//! Resolver health during one domain's probe: a dead or hostile resolver must cost a few
//! timeouts per domain, not one per question (an email scan asks some thirty).
//!
//! The rule ([`Health`], pure): until the resolver has answered one question of the
//! domain, questions go out one at a time; after [`SILENT_AFTER`] of them in a row got no
//! answer at all (a timeout, a refused or dropped connection), the resolver is silent for
//! the rest of the domain and no further question is sent. Any answer, even SERVFAIL,
//! REFUSED or NXDOMAIN, proves the resolver alive, and from then on the rule no longer
//! applies: a resolver that answers then drops the odd question (a firewall that eats CAA
//! or TLSA queries) gives per-check errors, not a silent domain.
//!
//! A resolver that answers SERVFAIL (or REFUSED) to everything is alive by this rule: its
//! answers come at once, so it costs no time, and each check that needed an answer is
//! already an `error` naming the code (a SERVFAIL is never taken for "no such record").
//!
//! [`Guarded`] applies the rule in front of any [`DnsLookup`]; the probe wraps the run's
//! lookups in one per domain and records [`ResolverSilence`] in the observation, which
//! [`vigie_grade::email::evaluate`] turns into one error finding.

use std::net::IpAddr;
use std::sync::Mutex;

use super::lookup::{
    DnsLookup, DnssecFacts, FetchError, HttpsFetch, LookupError, MxRecord, TlsaRecord,
};
use vigie_grade::email::records::CaaRecord;

pub use vigie_model::observation::email::ResolverSilence;

/// Questions in a row without any answer, at the start of a domain, after which the
/// resolver is taken for silent.
pub const SILENT_AFTER: u32 = 3;

/// What one question got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A DNS answer, whatever its code.
    Answered,
    /// No answer at all: a timeout, or the question could not reach the resolver.
    NoAnswer,
}

impl Outcome {
    pub fn of<T>(result: &Result<T, LookupError>) -> Outcome {
        match result {
            Err(error) if error.no_answer => Outcome::NoAnswer,
            _ => Outcome::Answered,
        }
    }
}

/// The resolver's state for one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No answer yet; `unanswered` questions in a row got none.
    Unproven { unanswered: u32 },
    /// It answered a question of this domain.
    Alive,
    /// It answered none of the first `unanswered` questions: ask it nothing more.
    Silent { unanswered: u32 },
}

impl Default for Health {
    fn default() -> Self {
        Health::Unproven { unanswered: 0 }
    }
}

impl Health {
    /// The state after one more question's outcome. `Alive` and `Silent` are final.
    pub fn record(self, outcome: Outcome) -> Health {
        match (self, outcome) {
            (Health::Unproven { .. }, Outcome::Answered) => Health::Alive,
            (Health::Unproven { unanswered }, Outcome::NoAnswer) => {
                let unanswered = unanswered + 1;
                if unanswered >= SILENT_AFTER {
                    Health::Silent { unanswered }
                } else {
                    Health::Unproven { unanswered }
                }
            }
            (final_state, _) => final_state,
        }
    }

    /// Questions wait for the one in flight until the resolver has answered once, so that
    /// a dead resolver receives [`SILENT_AFTER`] questions, not every concurrent one.
    pub fn one_at_a_time(self) -> bool {
        matches!(self, Health::Unproven { .. })
    }
}

/// A [`DnsLookup`] that applies the [`Health`] rule for one domain in front of `inner`.
pub struct Guarded<'a, L> {
    inner: &'a L,
    health: Mutex<Health>,
    /// Held by the one question in flight while the resolver is unproven.
    gate: tokio::sync::Mutex<()>,
}

impl<'a, L: DnsLookup> Guarded<'a, L> {
    pub fn new(inner: &'a L) -> Self {
        Guarded {
            inner,
            health: Mutex::new(Health::default()),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    pub fn health(&self) -> Health {
        // A poisoned lock means a task panicked while updating a Copy value; the value is
        // still whole.
        match self.health.lock() {
            Ok(health) => *health,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// The silence to record, when the rule stopped the probe.
    pub fn silence(&self) -> Option<ResolverSilence> {
        match self.health() {
            Health::Silent { unanswered } => Some(ResolverSilence {
                resolvers: self.inner.resolvers(),
                unanswered,
                kind: Some(vigie_model::FailureKind::Timeout),
            }),
            _ => None,
        }
    }

    fn record(&self, outcome: Outcome) {
        match self.health.lock() {
            Ok(mut health) => *health = health.record(outcome),
            Err(poisoned) => {
                let mut health = poisoned.into_inner();
                *health = health.record(outcome);
            }
        }
    }

    fn not_asked(&self, name: &str, rtype: &str) -> Option<LookupError> {
        match self.health() {
            Health::Silent { unanswered } => Some(LookupError {
                name: name.to_owned(),
                rtype: rtype.to_owned(),
                reason: format!(
                    "not asked: the resolver did not answer the {unanswered} questions before it"
                ),
                no_answer: true,
                kind: vigie_model::FailureKind::Timeout,
            }),
            _ => None,
        }
    }

    async fn ask<T, F>(&self, name: &str, rtype: &str, question: F) -> Result<T, LookupError>
    where
        F: std::future::Future<Output = Result<T, LookupError>>,
    {
        if let Some(error) = self.not_asked(name, rtype) {
            return Err(error);
        }
        let mut turn = None;
        if self.health().one_at_a_time() {
            turn = Some(self.gate.lock().await);
            // The state may have changed while this question waited for its turn.
            if let Some(error) = self.not_asked(name, rtype) {
                return Err(error);
            }
            if !self.health().one_at_a_time() {
                turn = None;
            }
        }
        let result = question.await;
        self.record(Outcome::of(&result));
        drop(turn);
        result
    }
}

impl<L: DnsLookup> DnsLookup for Guarded<'_, L> {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        self.ask(name, "TXT", self.inner.txt(name)).await
    }
    async fn mx(&self, name: &str) -> Result<Vec<MxRecord>, LookupError> {
        self.ask(name, "MX", self.inner.mx(name)).await
    }
    async fn ip(&self, name: &str) -> Result<Vec<IpAddr>, LookupError> {
        self.ask(name, "A/AAAA", self.inner.ip(name)).await
    }
    async fn caa(&self, name: &str) -> Result<Vec<CaaRecord>, LookupError> {
        self.ask(name, "CAA", self.inner.caa(name)).await
    }
    async fn tlsa(&self, name: &str) -> Result<Vec<TlsaRecord>, LookupError> {
        self.ask(name, "TLSA", self.inner.tlsa(name)).await
    }
    async fn dnssec(&self, name: &str) -> Result<DnssecFacts, LookupError> {
        self.ask(name, "DNSSEC", self.inner.dnssec(name)).await
    }
    fn resolvers(&self) -> Vec<String> {
        self.inner.resolvers()
    }
}

/// HTTPS goes its own way (reqwest resolves names itself): passed through untouched.
impl<L: HttpsFetch> HttpsFetch for Guarded<'_, L> {
    async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        self.inner.fetch_text(url).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::lookup::MemoryZone;

    fn after(outcomes: &[Outcome]) -> Health {
        outcomes
            .iter()
            .fold(Health::default(), |health, outcome| health.record(*outcome))
    }

    use Outcome::{Answered, NoAnswer};

    #[test]
    fn three_unanswered_questions_in_a_row_make_the_resolver_silent() {
        assert_eq!(after(&[NoAnswer]), Health::Unproven { unanswered: 1 });
        assert_eq!(
            after(&[NoAnswer, NoAnswer]),
            Health::Unproven { unanswered: 2 }
        );
        assert_eq!(
            after(&[NoAnswer, NoAnswer, NoAnswer]),
            Health::Silent { unanswered: 3 }
        );
        assert!(!after(&[NoAnswer, NoAnswer, NoAnswer]).one_at_a_time());
    }

    #[test]
    fn one_answer_proves_the_resolver_alive_for_the_rest_of_the_domain() {
        assert_eq!(after(&[Answered]), Health::Alive);
        assert_eq!(after(&[NoAnswer, NoAnswer, Answered]), Health::Alive);
        // Later timeouts are the checks' own errors, never a silent domain.
        assert_eq!(
            after(&[NoAnswer, Answered, NoAnswer, NoAnswer, NoAnswer, NoAnswer]),
            Health::Alive
        );
        assert!(!Health::Alive.one_at_a_time());
    }

    #[test]
    fn silence_is_final() {
        assert_eq!(
            after(&[NoAnswer, NoAnswer, NoAnswer, Answered]),
            Health::Silent { unanswered: 3 }
        );
    }

    #[test]
    fn an_error_answer_is_an_answer_and_a_timeout_is_not() {
        let servfail: Result<(), LookupError> = Err(LookupError {
            name: "example.com".into(),
            rtype: "TXT".into(),
            reason: "SERVFAIL".into(),
            no_answer: false,
            kind: vigie_model::FailureKind::Name,
        });
        let timeout: Result<(), LookupError> = Err(LookupError {
            no_answer: true,
            ..servfail.clone().unwrap_err()
        });
        assert_eq!(Outcome::of(&servfail), Answered);
        assert_eq!(Outcome::of(&timeout), NoAnswer);
        assert_eq!(Outcome::of(&Ok::<(), LookupError>(())), Answered);
    }

    /// A zone that never answers: every question is a timeout, counted.
    struct Dead {
        asked: std::sync::atomic::AtomicU32,
    }

    impl DnsLookup for Dead {
        async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::task::yield_now().await;
            Err(LookupError {
                name: name.into(),
                rtype: "TXT".into(),
                reason: "timed out".into(),
                no_answer: true,
                kind: vigie_model::FailureKind::Timeout,
            })
        }
        async fn mx(&self, _: &str) -> Result<Vec<MxRecord>, LookupError> {
            Ok(Vec::new())
        }
        async fn ip(&self, _: &str) -> Result<Vec<IpAddr>, LookupError> {
            Ok(Vec::new())
        }
        async fn caa(&self, _: &str) -> Result<Vec<CaaRecord>, LookupError> {
            Ok(Vec::new())
        }
        async fn tlsa(&self, _: &str) -> Result<Vec<TlsaRecord>, LookupError> {
            Ok(Vec::new())
        }
        async fn dnssec(&self, _: &str) -> Result<DnssecFacts, LookupError> {
            Ok(DnssecFacts::default())
        }
    }

    #[tokio::test]
    async fn concurrent_questions_to_a_dead_resolver_stop_after_three() {
        let dead = Dead {
            asked: std::sync::atomic::AtomicU32::new(0),
        };
        let guarded = Guarded::new(&dead);
        let names: Vec<String> = (0..20).map(|i| format!("s{i}.example.com")).collect();
        let answers =
            futures_util_join_all(names.iter().map(|name| guarded.txt(name)).collect()).await;
        assert!(answers.iter().all(Result::is_err));
        assert_eq!(
            dead.asked.load(std::sync::atomic::Ordering::SeqCst),
            SILENT_AFTER
        );
        assert_eq!(
            guarded.silence(),
            Some(ResolverSilence {
                resolvers: Vec::new(),
                unanswered: SILENT_AFTER,
                kind: Some(vigie_model::FailureKind::Timeout),
            })
        );
    }

    #[tokio::test]
    async fn a_live_resolver_answers_everything_through_the_guard() {
        let zone = MemoryZone::new().txt("example.com", "v=spf1 -all");
        let guarded = Guarded::new(&zone);
        let names = ["example.com", "a.example.com", "b.example.com"];
        let answers =
            futures_util_join_all(names.iter().map(|name| guarded.txt(name)).collect()).await;
        assert_eq!(answers[0], Ok(vec!["v=spf1 -all".to_owned()]));
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(guarded.health(), Health::Alive);
        assert_eq!(guarded.silence(), None);
        assert_eq!(zone.queries().len(), 3);
    }

    /// Runs the futures concurrently on one task.
    async fn futures_util_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut pending: Vec<_> = futures.into_iter().map(Box::pin).map(Some).collect();
        let mut outputs: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut done = true;
            for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
                if let Some(future) = slot {
                    match future.as_mut().poll(cx) {
                        std::task::Poll::Ready(value) => {
                            *output = Some(value);
                            *slot = None;
                        }
                        std::task::Poll::Pending => done = false,
                    }
                }
            }
            if done {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        outputs.into_iter().flatten().collect()
    }
}
