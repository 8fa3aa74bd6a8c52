//! The probes' integration tests: loopback TLS, SMTP, HTTP and DNS servers (NSD, Unbound), host
//! fixtures, and the unreached targets graded end to end.
//!
//! One test binary for the crate (a module per area) rather than one per file: the
//! workspace links one executable per crate instead of dozens.

mod dead_resolver;
mod dns_lab;

mod email_dns_wire;
mod email_dnssec_real;
mod email_evaluate;
mod email_mta_sts_https;
mod email_starttls;
mod failure_kind;
mod host_corrupt;
mod host_evaluate;
mod host_fixtures;
mod host_live;
mod host_vulndb;
mod https_probe;
mod services_parsers;
mod services_probe;
mod tls_certificates;
mod tls_enumerate;
mod tls_heartbleed;
mod tls_probe;
mod tls_starttls;
mod unreached;
