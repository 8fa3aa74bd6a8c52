//! Resolvers that never give a record, for the tests of a mail domain that was not reached:
//! [`DeadResolver`] answers nothing (every query times out), [`ServfailResolver`] answers
//! every query with SERVFAIL (alive, so the domain's checks are each graded as a DNS error);
//! every HTTPS fetch fails.

use vigie_checks::email::lookup::{DnssecFacts, FetchError, LookupError, MxRecord, TlsaRecord};
use vigie_checks::email::{DnsLookup, HttpsFetch};
use vigie_grade::email::records::CaaRecord;

/// A resolver that fails every query the same way, and every fetch.
pub struct FailingResolver {
    reason: &'static str,
    no_answer: bool,
    kind: vigie_model::FailureKind,
}

/// Every query times out, every fetch fails.
#[allow(non_upper_case_globals, dead_code)] // used as a value, like a unit struct; not every test binary uses both
pub const DeadResolver: FailingResolver = FailingResolver {
    reason: "no answer within 2 s",
    no_answer: true,
    kind: vigie_model::FailureKind::Timeout,
};

/// Every query is answered SERVFAIL, every fetch fails.
#[allow(non_upper_case_globals, dead_code)] // not every test binary uses both
pub const ServfailResolver: FailingResolver = FailingResolver {
    reason: "the resolver answered SERVFAIL",
    no_answer: false,
    kind: vigie_model::FailureKind::Name,
};

impl FailingResolver {
    fn fail<T>(&self, name: &str, rtype: &str) -> Result<T, LookupError> {
        Err(LookupError {
            name: name.to_owned(),
            rtype: rtype.to_owned(),
            reason: self.reason.to_owned(),
            no_answer: self.no_answer,
            kind: self.kind,
        })
    }
}

impl DnsLookup for FailingResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        self.fail(name, "TXT")
    }
    async fn mx(&self, name: &str) -> Result<Vec<MxRecord>, LookupError> {
        self.fail(name, "MX")
    }
    async fn ip(&self, name: &str) -> Result<Vec<std::net::IpAddr>, LookupError> {
        self.fail(name, "A")
    }
    async fn caa(&self, name: &str) -> Result<Vec<CaaRecord>, LookupError> {
        self.fail(name, "CAA")
    }
    async fn tlsa(&self, name: &str) -> Result<Vec<TlsaRecord>, LookupError> {
        self.fail(name, "TLSA")
    }
    async fn dnssec(&self, name: &str) -> Result<DnssecFacts, LookupError> {
        self.fail(name, "DNSKEY")
    }
}

impl HttpsFetch for FailingResolver {
    async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        Err(FetchError {
            url: url.to_owned(),
            reason: "the name could not be resolved".to_owned(),
        })
    }
}
