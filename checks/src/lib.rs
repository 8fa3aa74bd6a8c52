//! Vigie probes: the I/O that gathers each family's observations. Their grading is in
//! `vigie-grade`, re-exported here at the old paths.
pub mod dns;
pub mod email;
pub mod host;
pub mod https;
pub mod services;
pub mod tls;

pub use vigie_grade::grade;
