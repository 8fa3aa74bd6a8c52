//! The `vigie.report.v1` wire format.
//!
//! Tolerant on the wire: unknown fields are accepted and ignored, so an older collector takes
//! a newer agent's report. Strict where a value is part of the contract: statuses,
//! severities and target kinds are closed sets, check ids have a fixed syntax.
//! This list of fields may expand over time; fields are never removed or repurposed
//! within `v1`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::{is_valid_check_id, Check};
pub use crate::severity::Severity;

/// The only schema version this crate reads and writes.
pub const SCHEMA_V1: &str = "vigie.report.v1";

/// One run of an agent: what it scanned, the verdicts, and the facts they were graded from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "Vigie report v1")]
pub struct Report {
    /// Always `vigie.report.v1`.
    #[schemars(extend("const" = "vigie.report.v1"))]
    pub schema: String,
    /// Idempotency key: the collector stores a report id once.
    pub report_id: Uuid,
    /// The agent that produced the report.
    pub agent: AgentInfo,
    /// The organization the report is for; the collector checks it against the agent's token.
    pub org: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Every target the run was asked to scan, including those that failed.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// The verdicts.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The raw facts the findings were graded from.
    #[serde(default)]
    pub observations: Observations,
    /// The grading profile that produced the verdicts, e.g. `modern`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Who produced a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentInfo {
    /// A stable identifier of this agent installation.
    pub id: String,
    /// The agent's version (semver).
    pub version: String,
    pub hostname: String,
}

/// The kinds of target, one per check family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Tls,
    Email,
    Services,
    Host,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Tls => "tls",
            TargetKind::Email => "email",
            TargetKind::Services => "services",
            TargetKind::Host => "host",
        }
    }
}

/// Something a run was asked to scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    pub kind: TargetKind,
    /// `host:port` for TLS, a domain for email, an address or CIDR for services.
    pub target: String,
}

/// The outcome of one check on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The condition the check looks for is absent.
    Pass,
    /// The condition is present.
    Fail,
    /// The condition is present but not (yet) a failure.
    Warn,
    /// A fact, not a verdict.
    Info,
    /// The check could not run; the summary says why.
    Error,
    /// The check does not apply to this target.
    Skip,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::Info,
        Status::Error,
        Status::Skip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Info => "info",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }

    /// The value of `vigie_check_status`: 0 pass, 1 warn, 2 fail, 3 error; `None` for
    /// statuses that are not verdicts (info, skip).
    pub fn metric_value(self) -> Option<u8> {
        match self {
            Status::Pass => Some(0),
            Status::Warn => Some(1),
            Status::Fail => Some(2),
            Status::Error => Some(3),
            Status::Info | Status::Skip => None,
        }
    }
}

/// A dotted check id such as `tls.cert.expired`: lowercase ASCII letters, digits and `_`,
/// in at least two dot-separated parts. It may name a check this build does not know
/// (a newer agent); [`CheckId::known`] says whether it does.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String", extend("pattern" = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"))]
pub struct CheckId(String);

impl CheckId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The catalogue entry, if this build knows the id.
    pub fn known(&self) -> Option<Check> {
        Check::from_id(&self.0)
    }
}

impl TryFrom<String> for CheckId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_valid_check_id(&value) {
            Ok(CheckId(value))
        } else {
            Err(format!(
                "`{}` is not a check id (expected dotted lowercase words such as tls.cert.expired)",
                value.chars().take(80).collect::<String>()
            ))
        }
    }
}

impl From<CheckId> for String {
    fn from(value: CheckId) -> Self {
        value.0
    }
}

impl From<Check> for CheckId {
    fn from(check: Check) -> Self {
        CheckId(check.id().to_owned())
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verdict: one check on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub check: CheckId,
    pub target: String,
    pub status: Status,
    pub severity: Severity,
    /// One line for a person, in the report's language.
    pub summary: String,
    /// What to do about it, in the report's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// The facts behind the verdict.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

/// The raw facts of a run, per family.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Observations {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsObservation>,
    /// Web endpoints (`https.*`, `http.server_banner`): what the HTTPS probe of
    /// `vigie-checks` saw at a TLS endpoint on port 443 and at port 80 of its host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub https: Vec<crate::observation::HttpsObservation>,
    /// Mail domains (`email.*`, `dns.*`), one per domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<crate::observation::EmailObservation>,
    /// Exposed services (`service.*`), one per run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::observation::ServicesObservation>,
    /// The agent's host (`host.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::observation::host::HostObservation>,
}

/// What one TLS probe saw at one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TlsObservation {
    /// The target as scanned, `host:port`.
    pub target: String,
    /// The server name sent in SNI and checked against the certificate.
    pub server_name: String,
    /// The address actually connected to, `ip:port`, when one was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub observed_at: DateTime<Utc>,
    /// What happened.
    pub result: TlsProbeResult,
    /// Protocols, cipher suites and groups enumerated with Vigie's own ClientHellos, when
    /// the deep scan ran (absent with `--quick`, and in reports of older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<TlsEnumeration>,
}

/// What the server accepts, found with our own ClientHellos (one protocol, suite list or
/// group offer per connection).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TlsEnumeration {
    /// Each protocol tried, oldest first.
    pub protocols: Vec<TlsProtocolSupport>,
    /// The server chose DEFLATE when offered it with null (CRIME); unknown when no
    /// protocol below TLS 1.3 was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<bool>,
    /// The server answered `renegotiation_info` (RFC 5746) on its best protocol below 1.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_renegotiation: Option<bool>,
    /// The server answered `extended_master_secret` (RFC 7627) on TLS 1.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_master_secret: Option<bool>,
    /// A hello below the best version with TLS_FALLBACK_SCSV was refused
    /// (`inappropriate_fallback`), or answered with the TLS 1.3 downgrade sentinel (RFC 8446
    /// §4.1.3); unknown when a single protocol is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scsv: Option<bool>,
    /// The Heartbleed probe (CVE-2014-0160) on the best protocol from TLS 1.0 to 1.2; absent
    /// when none of them is accepted, and in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<TlsHeartbeat>,
    /// Connections made.
    pub handshakes: u32,
    /// The handshake budget ran out: the lists may be incomplete.
    #[serde(default)]
    pub truncated: bool,
    /// Connections that failed for another reason than a refusal (timeouts, resets), for a
    /// person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// What the Heartbleed probe saw: never the bytes a server leaked, only whether it did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TlsHeartbeat {
    /// The protocol of the probe's handshake, e.g. `TLSv1.2`.
    pub protocol: String,
    /// The server's hello carried the heartbeat extension (RFC 6520); without it the server
    /// does not process heartbeats and is not vulnerable.
    pub extension_offered: bool,
    /// The server answered a heartbeat request declaring more bytes than it carried: it sent
    /// memory it was never given. Absent when the probe could not tell (see `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerable: Option<bool>,
    /// How the server treated the over-long request: `alert`, `closed`, `no answer`,
    /// `ignored`, or the length of its heartbeat response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Why the probe could not decide (timeout before the hello, a malformed answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One protocol version as the server treated it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TlsProtocolSupport {
    /// `SSLv2`, `SSLv3`, `TLSv1.0`, `TLSv1.1`, `TLSv1.2` or `TLSv1.3`.
    pub protocol: String,
    pub accepted: bool,
    /// The probe of this protocol failed (timeout, malformed answer): `accepted` is then
    /// unknown, and the protocol's check an `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How the server refused, e.g. the alert `protocol_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// IANA names of the suites accepted, in the server's order of preference when
    /// `preference` is `server`, else in our offer order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    /// `server` (it picks by its own order), `client` (it follows ours), or absent when fewer
    /// than two suites were accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<String>,
    /// Named groups accepted for the key exchange (ECDHE below 1.3, key shares in 1.3), in the
    /// server's order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The smallest finite-field DHE prime seen, in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dh_bits: Option<u32>,
}

/// Either a completed handshake with what it showed, or the stage at which the probe failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TlsProbeResult {
    Handshake(TlsHandshake),
    Failed {
        stage: ProbeStage,
        /// The reason, for a person.
        error: String,
        /// The reason as a closed set, for counting; absent in reports of older agents.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<crate::FailureKind>,
    },
}

/// Where a probe stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStage {
    Resolve,
    Connect,
    Handshake,
}

impl ProbeStage {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStage::Resolve => "resolve",
            ProbeStage::Connect => "connect",
            ProbeStage::Handshake => "handshake",
        }
    }
}

/// A completed TLS handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TlsHandshake {
    /// e.g. `TLSv1.3`.
    pub protocol: String,
    /// IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The certificates as the server sent them, leaf first.
    pub certificates: Vec<CertificateInfo>,
    /// Whether the chain builds to a trusted root, judged apart from expiry and name.
    pub chain: ChainValidation,
    /// Whether the leaf is valid for `server_name`.
    pub hostname_matches: bool,
    /// The server stapled an OCSP response to the handshake (we always ask); absent in
    /// reports of agents that did not record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocsp_stapled: Option<bool>,
    /// Why the server's handshake signature could not be verified, when it could not: its
    /// key is too small for our crypto library (RSA under 2048 bits). The certificate is
    /// judged all the same; absent when the signature verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_proof_unverified: Option<String>,
    /// The log ids (base64) of the SCTs in the stapled OCSP response (RFC 6962 §3.3), the
    /// other place besides the certificate where the probe can see them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocsp_sct_log_ids: Vec<String>,
}

/// The outcome of path building from the leaf to a trusted root.
///
/// The path is judged at an instant inside the leaf's validity period, so that an expired
/// certificate from a trusted CA is reported as expired, not as untrusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainValidation {
    pub trusted: bool,
    /// Why the chain does not validate, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The trust store used, e.g. `system+mozilla+ca-file`.
    pub trust_store: String,
    /// Whether the root reached is one of the public (system or Mozilla) roots rather than a
    /// `--ca-file` one; absent when the chain is not trusted and in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_root: Option<bool>,
}

/// One certificate, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// Hex, as printed by most tools.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// DNS names and IP addresses of the subjectAltName extension.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    /// Subject equals issuer and the signature verifies with the certificate's own key.
    pub self_signed: bool,
    /// e.g. `RSA`, `EC`, `Ed25519`.
    pub key_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_bits: Option<u32>,
    /// e.g. `sha256WithRSAEncryption`.
    pub signature_algorithm: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// The Authority Information Access `caIssuers` URLs: where the issuer's certificate is
    /// published, the hint that names an intermediate a server forgot to send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_issuers: Vec<String>,
    /// The TLS feature extension asks for `status_request` (OCSP must-staple, RFC 7633).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_staple: bool,
    /// The log ids (base64, as CT log lists print them) of the SCTs embedded in the
    /// certificate (RFC 6962).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sct_log_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_from_info_to_critical() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Low > Severity::Info);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn check_id_rejects_malformed_ids() {
        assert!(CheckId::try_from("tls.cert.expired".to_owned()).is_ok());
        for bad in [
            "",
            "tls",
            "TLS.connect",
            "tls..connect",
            "tls.connect.",
            "tls.con nect",
            "tls.é",
        ] {
            assert!(
                CheckId::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
