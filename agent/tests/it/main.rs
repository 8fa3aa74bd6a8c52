//! The agent's integration tests: the real binary against loopback servers, DNS labs and a
//! collector.
//!
//! One test binary for the crate (a module per area) rather than one per file: the
//! workspace links one executable per crate instead of dozens.

mod support;

mod cli;
mod config_files;
mod configuration_doc;
mod email_dead_resolver;
mod email_dnssec;
mod email_host;
mod email_smtp;
mod https_nginx;
mod https_scan;
mod lab;
mod services;
mod tls_politeness;
mod tls_profile;
mod tls_starttls;
mod unreached;
mod upload;
