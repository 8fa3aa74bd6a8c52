//! What the HTTPS probe saw at one web endpoint: the raw answers, not verdicts.
//!
//! Header values are kept as sent (parsed again when graded) so that a later
//! re-grade applies newer rules. Serialized as JSON (`observations` of a report); unknown
//! fields are accepted on the way back in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The headers the probe records (lowercase); others are not kept.
pub const RECORDED_HEADERS: [&str; 10] = [
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "server",
    "x-powered-by",
    "content-type",
    "location",
    "permissions-policy",
];

/// One web endpoint: the HTTPS origin, its port-80 counterpart and its security.txt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpsObservation {
    /// The target as scanned, `host:port`.
    pub target: String,
    /// The host name sent in `Host` and SNI.
    pub host: String,
    pub observed_at: DateTime<Utc>,
    /// `GET /` over HTTPS, same-origin redirects followed.
    pub https: HttpExchange,
    /// `GET /` over plain HTTP (port 80 by default), same-origin `http:` redirects followed;
    /// `None` when not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<HttpExchange>,
    /// `GET /.well-known/security.txt` over HTTPS; `None` when HTTPS was not reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_txt: Option<HttpExchange>,
}

/// A request and the redirects followed from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpExchange {
    /// The first URL requested.
    pub url: String,
    /// Each answer received, in order.
    #[serde(default)]
    pub hops: Vec<HttpHop>,
    /// Why the last redirect was not followed, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<RedirectStop>,
    /// The request that got no answer (after the hops), and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FetchError>,
    /// The body of the last answer, when it was read (security.txt only), at most
    /// [`super::probe::MAX_BODY_BYTES`] bytes, invalid UTF-8 replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body was longer than the bound and was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
}

impl HttpExchange {
    /// The last answer received.
    pub fn last(&self) -> Option<&HttpHop> {
        self.hops.last()
    }
}

/// One HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpHop {
    pub url: String,
    /// The address that answered, `ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub status: u16,
    /// The [`RECORDED_HEADERS`] present, lowercase name → values in order.
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    /// `Location` resolved against `url`, for a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl HttpHop {
    /// The values of a header (lowercase name).
    pub fn header(&self, name: &str) -> &[String] {
        self.headers.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A 3xx answer.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RedirectStop {
    /// Another scheme, host or port: the probe stays on the origin it was asked to scan.
    OtherOrigin { location: String },
    /// A 3xx without a usable `Location`.
    BadLocation { location: String },
    /// More redirects than the probe follows.
    TooMany { limit: usize },
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FetchError {
    pub url: String,
    pub stage: FetchStage,
    pub error: String,
    /// The reason as a closed set, for counting; absent in reports of older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::FailureKind>,
}

/// Where a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FetchStage {
    /// The name did not resolve.
    Resolve,
    /// The port is closed (connection refused).
    Refused,
    /// No answer within the timeout (connection or response).
    Timeout,
    /// Another connection failure.
    Connect,
    /// The TLS handshake or certificate validation failed.
    Tls,
    /// The server's answer is not valid HTTP (or too large a head).
    Http,
    /// The client could not be set up (e.g. an unreadable CA file).
    Setup,
}
