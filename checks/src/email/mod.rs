//! Email authentication and DNS security of a domain (`vigie-agent scan email`).
//!
//! Probe, then evaluate:
//! ```text
//! let lookups = CachedLookups::new(NetLookups::new(&NetOptions { resolvers, .. })?); // once per run
//! let observation = probe(domain, &ProbeOptions::default(), &lookups).await;        // all the I/O
//! let verdicts = evaluate(&observation, now);                                       // pure
//! ```
//! The observation goes into the report's `observations.email` (typed in `vigie-model`),
//! the verdicts into `findings` (`Verdict::into_finding(lang)`).
//!
//! Modules:
//! - record parsers, pure: [`spf`], [`dmarc`], [`dkim`], [`mta_sts`], [`records`] (TLS-RPT,
//!   BIMI, CAA);
//! - [`lookup`]: the I/O traits, an in-memory zone and the per-run cache;
//! - [`health`]: a dead resolver costs a few timeouts per domain, not one per question;
//! - [`spf_fetch`]: the answers every branch of an SPF record reads (counted when graded);
//! - [`orgdomain`]: organizational domains from the bundled Public Suffix List;
//! - [`observation`], [`probe`], [`evaluate`]: facts, how they are gathered, how they are graded;
//! - [`dns_queries`]: the real DNS (hickory) and HTTPS (reqwest, rustls) implementation;
//! - [`smtp`]: the opt-in STARTTLS probe of MX hosts (read-only SMTP, then the TLS
//!   family's certificate checks).

pub mod dns_queries;
pub mod health;
pub mod lookup;
pub mod probe;
pub mod smtp;
pub mod spf_fetch;

pub use dns_queries::{DnssecValidation, NetLookups, NetOptions, SetupError};
pub use lookup::{CachedLookups, DnsLookup, HttpsFetch, MemoryZone};
pub use observation::EmailObservation;
pub use probe::{probe, ProbeOptions, COMMON_SELECTORS};
pub use smtp::SmtpOptions;
pub use vigie_model::observation::email as observation;
