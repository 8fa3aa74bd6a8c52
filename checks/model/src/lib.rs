//! The Vigie data model: what an agent reports and what the collector stores.
//!
//! This crate is deliberately small (serde, no network, no crypto) so that the collector can
//! depend on it without compiling the probes. It owns:
//! - [`report`]: the `vigie.report.v1` wire format, its findings and observations;
//! - [`observation`]: the typed facts of the email, HTTPS, services and host probes;
//! - [`catalogue`]: the closed set of check ids (`docs/checks.md`);
//! - [`i18n`]: every user-facing text in English and French, one file per language;
//! - [`validate`]: the semantic rules a report must satisfy beyond its JSON shape;
//! - [`schema`]: the JSON Schema generated from the types;
//! - [`timestamps`]: the instants a collector accepts, relative to when it received the report;
//! - [`failure`]: why a probe could not reach or speak to its target, as a closed set;
//! - [`severity`]: how bad a failure is, shared by the catalogue and the report;
//! - [`verdict`]: a language-free verdict, rendered into a finding.

pub mod catalogue;
pub mod failure;
pub mod i18n;
pub mod observation;
pub mod report;
pub mod schema;
pub mod severity;
pub mod timestamps;
pub mod validate;
pub mod verdict;

pub use catalogue::{Check, Family};
pub use failure::FailureKind;
pub use i18n::{Catalogue, Lang, Message};
pub use report::*;
pub use verdict::Verdict;
