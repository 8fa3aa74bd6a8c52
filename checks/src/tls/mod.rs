//! TLS endpoint checks: connect, handshake, and judge the certificate the server presents.
//!
//! - [`target`]: `host[:port]` as typed by a user;
//! - [`probe`]: all the I/O (resolve, connect, handshake), one attempt, into a
//!   [`TlsObservation`](vigie_model::TlsObservation);
//! - [`verify`]: the recording certificate verifier and our own chain and name validation;
//! - [`client`]: the one rustls client of the probes, built around that verifier;
//! - [`certificate`]: X.509 parsing into [`CertificateInfo`](vigie_model::CertificateInfo);
//! - [`evaluate`]: pure grading of an observation into verdicts;
//! - [`wire`]: our own ClientHello and a bounded parser of the server's first flight;
//! - [`ciphers`]: the cipher-suite registry (data: `checks/data/tls-ciphers.csv`);
//! - [`enumerate`]: protocols, suites, groups with our own hellos, into a
//!   [`TlsEnumeration`](vigie_model::TlsEnumeration) that joins the observation;
//! - [`starttls`]: the SMTP, IMAP and POP3 preambles before TLS (`--starttls`);
//! - [`posture`]: pure grading of the enumeration (`tls.protocol.*`, `tls.cipher.*`…).

pub mod certificate;
pub(crate) mod client;
pub mod enumerate;
pub mod probe;
pub mod starttls;
pub mod target;
pub mod verify;
pub mod wire;

pub use enumerate::{enumerate, probe_deep, EnumerationOptions};
pub use probe::{probe, TlsProbeOptions};
pub use starttls::Starttls;
pub use target::{TargetError, TlsTarget};
pub use verify::{TlsError, TrustStore};
