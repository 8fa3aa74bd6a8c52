//! What the email probe saw for one domain: raw records and DNS facts, not verdicts.
//!
//! Records are kept as published text (parsed again when graded) so that the
//! collector can re-grade history with newer rules; the SPF expansion too is kept as the raw
//! answers of every branch (reports of older agents carry it computed). Goes into the report's
//! `observations.email` as JSON; unknown fields are accepted on the way back in.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The answer to one query: the records, or why there is no answer. "No such record" is
/// an empty list without error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Answer<T> {
    /// The name queried.
    pub name: String,
    #[serde(default = "Vec::<T>::new")]
    pub records: Vec<T>,
    /// The failure, when the query got no usable answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` as a closed set (`timeout`, `refused` for an answer REFUSED, `name` for
    /// SERVFAIL), for counting; absent in reports of older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::FailureKind>,
}

impl<T> Answer<T> {
    pub fn records(name: impl Into<String>, records: Vec<T>) -> Self {
        Answer {
            name: name.into(),
            records,
            error: None,
            kind: None,
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpfFacts {
    /// Every TXT record at the domain (SPF or not: "several SPF records" is judged on it).
    pub txt: Answer<String>,
    /// The answers below the domain's own record, when it has exactly one SPF record: what
    /// every branch of it queries. Grading walks and counts them (`vigie-grade`'s
    /// `email::spf_eval`), so a regrade revisits the counting rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<SpfBranches>,
    /// The expansion as agents before `branches` computed it in the probe; read only when
    /// `branches` is absent. Current agents leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<SpfEvaluation>,
}

/// The raw answers the expansion of an SPF record reads, each name once, in the order the
/// probe asked. A name the expansion needs and these lack (a probe stopped at its bound)
/// grades as a DNS failure of that name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SpfBranches {
    /// TXT records at each `include` and `redirect` target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub txt: Vec<Answer<String>>,
    /// A and AAAA addresses of each name an `a` term names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip: Vec<Answer<std::net::IpAddr>>,
    /// MX records of each name an `mx` term names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mx: Vec<Answer<MxRecord>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DkimSelectorFacts {
    pub selector: String,
    /// TXT records at `<selector>._domainkey.<domain>`.
    pub txt: Answer<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FetchedPolicy {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MtaStsFacts {
    /// TXT records at `_mta-sts.<domain>`.
    pub txt: Answer<String>,
    /// The policy file, fetched when the TXT record exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<FetchedPolicy>,
}

/// The STARTTLS probe of one MX host (opt-in: outbound port 25 is often filtered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StarttlsFacts {
    pub host: String,
    /// The server listed STARTTLS in its EHLO answer.
    pub offered: bool,
    /// The chain built to a trusted root and the leaf is valid for the host name, judged at an
    /// instant inside the leaf's validity window; whether it is current is graded from
    /// `not_before`/`not_after` (see [`StarttlsFacts::certificate_ok_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_valid: Option<bool>,
    /// Why the SMTP dialogue or the handshake failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` as a closed set, for counting; absent in reports of older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::FailureKind>,
    /// The address and port the probe spoke to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Why the certificate is not valid (chain or name), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_error: Option<String>,
    /// The leaf certificate's validity window, when it could be read. The probe judges the
    /// trust path at an instant inside it; whether the certificate is current is judged by
    /// the grading at the scan's instant, so that a regrade revisits it. Reports of agents
    /// before this field carry the probe's own judgement in `certificate_valid` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<DateTime<Utc>>,
}

impl StarttlsFacts {
    /// Whether the certificate validated for the host name and is current at `now`.
    pub fn certificate_ok_at(&self, now: DateTime<Utc>) -> bool {
        self.certificate_valid == Some(true)
            && self.not_before.is_none_or(|not_before| not_before <= now)
            && self.not_after.is_none_or(|not_after| now <= not_after)
    }
}

/// Everything the email probe saw for one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MxRecord {
    pub preference: u16,
    /// The host name, lowercase, without the trailing dot; `""` for a null MX (RFC 7505).
    pub exchange: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TlsaRecord {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    /// The certificate association data, hex.
    pub data: String,
}

/// What a validating resolver says about a name's DNSSEC state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DnssecFacts {
    /// The resolver set the AD (authentic data) bit on the answer for the name.
    pub authenticated: bool,
    /// The resolver answered SERVFAIL, but answered when asked not to validate (CD bit):
    /// the signatures are bogus.
    pub bogus: bool,
    /// The zone apex of the name publishes DNSKEY records.
    pub dnskey: bool,
    /// The parent publishes DS records for the zone.
    pub ds: bool,
    /// The zone apex the facts are about.
    pub zone: String,
}

/// One CAA resource record as DNS returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaaRecord {
    pub flags: u8,
    pub tag: String,
    pub value: String,
}

impl CaaRecord {
    pub fn critical(&self) -> bool {
        self.flags & 0x80 != 0
    }

    /// For `issue`/`issuewild`: the CA domain allowed, or `None` for `;` (no CA allowed).
    pub fn issuer(&self) -> Option<&str> {
        let domain = self.value.split(';').next().unwrap_or("").trim();
        (!domain.is_empty()).then_some(domain)
    }
}

/// Why a record is not a valid SPF record. Each variant names the offending term, so that
/// a report can quote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpfError {
    #[error("the record does not start with `v=spf1`")]
    NotSpf,
    #[error("unknown mechanism in term `{term}`")]
    UnknownMechanism { term: String },
    #[error("term `{term}`: {reason}")]
    BadTerm { term: String, reason: String },
    #[error("term `{term}`: bad macro: {reason}")]
    BadMacro { term: String, reason: String },
    #[error("modifier `{name}` appears more than once")]
    DuplicateModifier { name: String },
}

/// Something that makes receivers return `permerror` (or that we could not judge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpfProblem {
    /// An include or redirect leads back to a record already being evaluated.
    Loop {
        domain: String,
    },
    /// An include or redirect target has no SPF record.
    NoRecord {
        domain: String,
    },
    /// A domain in the tree has several SPF records.
    MultipleRecords {
        domain: String,
        count: usize,
    },
    Syntax {
        domain: String,
        error: SpfError,
    },
    /// A DNS query failed (not "no such record"): that part of the tree is unknown.
    Dns {
        domain: String,
        reason: String,
    },
    TooManyMx {
        domain: String,
        count: usize,
    },
    /// The expansion stopped early (over the limits already).
    Truncated {
        domain: String,
    },
}

/// One term of an evaluated record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluatedTerm {
    pub term: String,
    /// DNS-querying terms this term counts for itself (0 or 1).
    pub lookups: u32,
    /// This term plus everything below it.
    pub subtotal: u32,
    /// The term's lookup found nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub void: bool,
    /// Why the term was not expanded, e.g. it depends on macros of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<Box<SpfNode>>,
}

/// One SPF record in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpfNode {
    pub domain: String,
    /// The record as published, when exactly one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub terms: Vec<EvaluatedTerm>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpfEvaluation {
    /// DNS-querying terms, counted over the whole tree.
    pub lookups: u32,
    pub void_lookups: u32,
    pub problems: Vec<SpfProblem>,
    pub tree: SpfNode,
}

/// The fact recorded in the observation when the rule stopped a domain's probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolverSilence {
    /// The resolvers asked (`IP:PORT`); empty when the lookups do not say.
    #[serde(default)]
    pub resolvers: Vec<String>,
    /// Questions in a row that got no answer before the probe stopped asking.
    pub unanswered: u32,
    /// Always `timeout` from current agents; absent in reports of older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::FailureKind>,
}
