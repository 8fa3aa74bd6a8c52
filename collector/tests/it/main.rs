//! The collector's integration tests: the router in process, the store on both backends, the CLI.
//!
//! One test binary for the crate (a module per area) rather than one per file: the
//! workspace links one executable per crate instead of dozens.

mod common;

mod card;
mod cli;
mod current_state;
mod docs;
mod group_commit;
mod ingest;
mod matrix;
mod matrix_cli;
mod matrix_snapshots;
mod ops;
mod org_groups;
mod read_api;
mod regrade_reports;
mod retention;
mod store_conformance;
mod upgrade;
