//! TLS endpoint checks: connect, handshake, and judge the certificate the server presents.
//!
//! - [`target`]: `host[:port]` as typed by a user;
//! - [`probe`]: all the I/O (resolve, connect, handshake), one attempt, into a
//!   [`TlsObservation`](vigie_model::TlsObservation);
//! - [`verify`]: the recording certificate verifier and our own chain and name validation;
//! - [`certificate`]: X.509 parsing into [`CertificateInfo`](vigie_model::CertificateInfo);
//! - [`evaluate`]: pure grading of an observation into verdicts.
//!
//! Deeper checks (protocol and cipher enumeration…) plug in as further probe modules whose
//! facts join the observation, and further arms of `evaluate`.

pub mod certificate;
pub mod ciphers;
pub mod enumerate;
pub mod evaluate;
pub mod probe;
pub mod target;
pub mod verify;

pub use evaluate::evaluate;
pub use probe::{probe, TlsProbeOptions};
pub use target::{TargetError, TlsTarget};
pub use verify::{TlsError, TrustStore};
pub mod wire;
