//! The observations of the families whose facts are more than a TLS handshake, typed so that
//! the report's JSON Schema describes them. Each is what one probe saw, not verdicts: the
//! records and answers as received, so that grading them again with newer rules (the
//! collector's `regrade`) needs nothing else. Unknown fields are accepted on the way in.

pub mod email;
pub mod host;
pub mod https;
pub mod services;

pub use email::EmailObservation;
pub use https::HttpsObservation;
pub use services::ServicesObservation;
