//! What the email probe saw for one domain: raw records and DNS facts, not verdicts.
//!
//! Records are kept as published text (parsed again by [`super::evaluate`]) so that the
//! collector can re-grade history with newer rules. Only the SPF expansion is stored
//! already computed, because it needed many lookups. Goes into the report's
//! `observations.email` as JSON; unknown fields are accepted on the way back in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::health::ResolverSilence;
use super::lookup::{DnssecFacts, LookupError, MxRecord, TlsaRecord};
use super::records::CaaRecord;
use super::spf_eval::SpfEvaluation;

/// The answer to one query: the records, or why there is no answer. "No such record" is
/// an empty list without error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer<T> {
    /// The name queried.
    pub name: String,
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
    /// The failure, when the query got no usable answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl<T> Answer<T> {
    pub fn from_result(name: impl Into<String>, result: Result<Vec<T>, LookupError>) -> Self {
        match result {
            Ok(records) => Answer {
                name: name.into(),
                records,
                error: None,
            },
            Err(e) => Answer {
                name: name.into(),
                records: Vec::new(),
                error: Some(e.reason),
            },
        }
    }

    pub fn records(name: impl Into<String>, records: Vec<T>) -> Self {
        Answer {
            name: name.into(),
            records,
            error: None,
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfFacts {
    /// Every TXT record at the domain (SPF or not: "several SPF records" is judged on it).
    pub txt: Answer<String>,
    /// The recursive expansion, when the domain has exactly one SPF record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<SpfEvaluation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcFacts {
    /// TXT records at `_dmarc.<domain>`.
    pub txt: Answer<String>,
    /// TXT records at `_dmarc.<organizational domain>`, queried when the domain itself
    /// has no DMARC record and is not its own organizational domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_txt: Option<Answer<String>>,
    /// For each `rua`/`ruf` destination in another organizational domain: the TXT records
    /// at `<domain>._report._dmarc.<destination>`.
    #[serde(default)]
    pub authorizations: Vec<Answer<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimSelectorFacts {
    pub selector: String,
    /// TXT records at `<selector>._domainkey.<domain>`.
    pub txt: Answer<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedPolicy {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsFacts {
    /// TXT records at `_mta-sts.<domain>`.
    pub txt: Answer<String>,
    /// The policy file, fetched when the TXT record exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<FetchedPolicy>,
}

/// The STARTTLS probe of one MX host (opt-in: outbound port 25 is often filtered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarttlsFacts {
    pub host: String,
    /// The server listed STARTTLS in its EHLO answer.
    pub offered: bool,
    /// The certificate validated for the host name, when a handshake happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_valid: Option<bool>,
    /// Why the SMTP dialogue or the handshake failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The address and port the probe spoke to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Why the certificate is not valid (chain or name), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_error: Option<String>,
}

/// Everything the email probe saw for one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailObservation {
    /// The domain scanned, lowercase, without trailing dot.
    pub domain: String,
    pub observed_at: DateTime<Utc>,
    /// From the Public Suffix List bundled at build time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_domain: Option<String>,
    pub mx: Answer<MxRecord>,
    pub spf: SpfFacts,
    pub dmarc: DmarcFacts,
    /// Selectors tried (configured and well-known), with what each answered.
    pub dkim: Vec<DkimSelectorFacts>,
    pub mta_sts: MtaStsFacts,
    /// TXT records at `_smtp._tls.<domain>`.
    pub tlsrpt: Answer<String>,
    /// TXT records at `default._bimi.<domain>`.
    pub bimi: Answer<String>,
    /// CAA sets from the domain up towards its organizational domain, stopping at the
    /// first name that has one (RFC 8659 §3).
    pub caa: Vec<Answer<CaaRecord>>,
    /// TLSA records at `_25._tcp.<mx host>` for each MX host.
    pub tlsa: Vec<Answer<TlsaRecord>>,
    /// DNSSEC facts from the resolver, or why they could not be had.
    pub dnssec: Result<DnssecFacts, String>,
    /// `None` when the STARTTLS probe was not requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<Vec<StarttlsFacts>>,
    /// Set when the resolver answered none of the first questions about the domain and the
    /// probe stopped asking: every other fact of this observation is then unjudged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_silent: Option<ResolverSilence>,
}
