//! End-to-end tests: the real binaries on loopback, a real PostgreSQL, Prometheus and
//! chromium, and the hostile-agent suite.
//!
//! One test binary for the crate (a module per area) rather than one per file: the
//! workspace links one executable per crate instead of dozens.

mod browser;
mod dashboards;
mod e2e;
mod error_messages;
mod faults;
mod first_run;
mod hostile;
mod import_cycles;
mod packages;
mod postgres_faults;
mod render;
mod roles;
mod security;
mod static_binary;
mod webview;
