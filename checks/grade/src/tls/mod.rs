//! TLS endpoints: the handshake's certificate and the enumeration's posture.
//!
//! - [`evaluate`]: the observation into verdicts (`tls.connect`, `tls.cert.*`…);
//! - [`posture`]: the enumeration into verdicts (`tls.protocol.*`, `tls.cipher.*`…) and the
//!   grading [`Profile`];
//! - [`ciphers`]: the cipher-suite registry (data: `checks/data/tls-ciphers.csv`);
//! - [`protocol`]: protocol versions by wire code and report name.

pub mod ciphers;
pub mod evaluate;
pub mod posture;
pub mod protocol;

pub use evaluate::{evaluate, evaluate_with_profile};
pub use posture::Profile;
pub use protocol::ProtocolVersion;
