//! The grading crate's integration tests: golden verdicts, parser robustness, truth tables,
//! and its dependency tree.
//!
//! One test binary for the crate (a module per area) rather than one per file: the
//! workspace links one executable per crate instead of dozens.

mod dependencies;
mod email_parsers_robust;
mod golden;
mod host_versions;
mod https_evaluate;
mod https_parsers_robust;
