//! A resolver that answers nothing, for the tests of a mail domain that was not reached:
//! every DNS query fails as a dead resolver's would (a timeout), every HTTPS fetch fails.

use vigie_checks::email::lookup::{DnssecFacts, FetchError, LookupError, MxRecord, TlsaRecord};
use vigie_checks::email::records::CaaRecord;
use vigie_checks::email::{DnsLookup, HttpsFetch};

/// Every query times out, every fetch fails.
pub struct DeadResolver;

fn dead<T>(name: &str, rtype: &str) -> Result<T, LookupError> {
    Err(LookupError {
        name: name.to_owned(),
        rtype: rtype.to_owned(),
        reason: "no answer within 2 s".to_owned(),
        no_answer: false,
    })
}

impl DnsLookup for DeadResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        dead(name, "TXT")
    }
    async fn mx(&self, name: &str) -> Result<Vec<MxRecord>, LookupError> {
        dead(name, "MX")
    }
    async fn ip(&self, name: &str) -> Result<Vec<std::net::IpAddr>, LookupError> {
        dead(name, "A")
    }
    async fn caa(&self, name: &str) -> Result<Vec<CaaRecord>, LookupError> {
        dead(name, "CAA")
    }
    async fn tlsa(&self, name: &str) -> Result<Vec<TlsaRecord>, LookupError> {
        dead(name, "TLSA")
    }
    async fn dnssec(&self, name: &str) -> Result<DnssecFacts, LookupError> {
        dead(name, "DNSKEY")
    }
}

impl HttpsFetch for DeadResolver {
    async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        Err(FetchError {
            url: url.to_owned(),
            reason: "the name could not be resolved".to_owned(),
        })
    }
}
