//! Vigie probes: the I/O that gathers each family's observations. Their grading is in
//! `vigie-grade`, their types in `vigie-model`: import them from there.
pub mod dns;
pub mod email;
pub mod host;
pub mod https;
pub mod services;
pub mod tls;
