//! The loopback lab used by the checks' integration tests, the end-to-end tests and the demo.
//!
//! - [`pki`]: a test certificate authority and leaf certificates with the validity a test needs;
//! - [`tls_server`]: TLS servers presenting those certificates, and hostile servers (silent,
//!   garbage), all on loopback addresses, each stopped when its handle is dropped;
//! - [`starttls_proxy`]: an SMTP, IMAP or POP3 front that speaks the plaintext preamble, then
//!   hands each upgraded connection to a TLS server;
//! - [`postgres`]: a throwaway PostgreSQL server, one database per test;
//! - [`scale`]: a collector with any flags, reports of many findings and a keep-alive HTTP
//!   client, for the fault and security tests and the load generator.
//!
//! Test support code: it panics (with a message) when the machine cannot do what a test asks.

pub mod harness;
pub mod http_server;
pub mod pki;
pub mod postgres;
pub mod scale;
pub mod starttls_proxy;
pub mod tls_server;
