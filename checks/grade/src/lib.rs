//! Vigie grading: what a probe saw ([`vigie_model::observation`], the TLS types of
//! [`vigie_model::report`]) into verdicts, for every family. Pure: no I/O and no clock, every
//! time-dependent check is judged at the `now` it is given, so that the agent's grading and
//! the collector's `regrade` of a stored report are one computation.
//!
//! - [`grade`]: [`grade_observations`], a report's observations into findings;
//! - [`tls`], [`https`], [`email`], [`services`], [`host`]: each family's `evaluate` and the
//!   parsers and bundled data it grades with.

pub mod email;
pub mod grade;
pub mod host;
pub mod https;
pub mod services;
pub mod tls;

pub use grade::grade_observations;
