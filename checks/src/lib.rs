//! Vigie probes and their pure evaluation.
pub mod dns;
pub mod email;
pub mod grade;
pub mod host;
pub mod https;
pub mod services;
pub mod tls;
