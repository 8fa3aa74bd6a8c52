//! Vigie probes and their pure evaluation.
pub mod email;
pub mod host;
