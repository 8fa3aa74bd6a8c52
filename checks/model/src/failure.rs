//! Why a probe could not reach or speak to its target, as a closed set that dashboards can
//! count. The probe classifies at the source (an I/O error kind, an elapsed timer, a resolver
//! answer, a TLS library error), never by reading its own English text back; the text stays
//! beside the kind for a person.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of a probe failure. The set is small on purpose; `other` is the honest catch-all.
/// This list may expand over time within `vigie.report.v1`: a reader that meets a kind it does
/// not know treats it as `other` (see [`FailureKind::from_label`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The peer refused the TCP connection (RST): nothing listens there.
    Refused,
    /// No answer in time: to the connection, the handshake, a reply, or a DNS query.
    Timeout,
    /// The name could not be resolved: no such name, no address, or the resolver failed.
    Name,
    /// The peer speaks TLS but the handshake failed (an alert, no common protocol or suite,
    /// a certificate the TLS library rejects outright).
    Tls,
    /// The peer answered, but not in the expected protocol: plain text on a TLS port, a
    /// malformed message, a refused STARTTLS, a connection closed or reset mid-exchange.
    Protocol,
    /// Anything else (a local setup error, an invalid server name). A kind this build does
    /// not know reads as `other`, so a newer agent's report is never refused for it.
    #[serde(other)]
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Refused,
        FailureKind::Timeout,
        FailureKind::Name,
        FailureKind::Tls,
        FailureKind::Protocol,
        FailureKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Refused => "refused",
            FailureKind::Timeout => "timeout",
            FailureKind::Name => "name",
            FailureKind::Tls => "tls",
            FailureKind::Protocol => "protocol",
            FailureKind::Other => "other",
        }
    }

    /// The kind a label names; `other` for any label this build does not know (a newer
    /// agent's, or stored junk), so that a metric labelled by kind stays in this closed set.
    pub fn from_label(label: &str) -> FailureKind {
        FailureKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == label)
            .unwrap_or(FailureKind::Other)
    }

    /// The kind of a failed socket operation, from its [`std::io::ErrorKind`].
    pub fn of_io(kind: std::io::ErrorKind) -> FailureKind {
        use std::io::ErrorKind;
        match kind {
            ErrorKind::ConnectionRefused => FailureKind::Refused,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => FailureKind::Timeout,
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::InvalidData => FailureKind::Protocol,
            _ => FailureKind::Other,
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_unknown_ones_are_other() {
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::from_label(kind.as_str()), kind);
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::json!(kind.as_str()));
        }
        assert_eq!(FailureKind::from_label("quantum"), FailureKind::Other);
        let newer: FailureKind = serde_json::from_value(serde_json::json!("quantum")).unwrap();
        assert_eq!(
            newer,
            FailureKind::Other,
            "a newer agent's kind is not an error"
        );
        assert_eq!(FailureKind::from_label("Refused"), FailureKind::Other);
    }

    #[test]
    fn io_errors_are_classified_by_kind() {
        use std::io::ErrorKind;
        assert_eq!(
            FailureKind::of_io(ErrorKind::ConnectionRefused),
            FailureKind::Refused
        );
        assert_eq!(
            FailureKind::of_io(ErrorKind::TimedOut),
            FailureKind::Timeout
        );
        assert_eq!(
            FailureKind::of_io(ErrorKind::ConnectionReset),
            FailureKind::Protocol
        );
        assert_eq!(
            FailureKind::of_io(ErrorKind::PermissionDenied),
            FailureKind::Other
        );
    }
}
