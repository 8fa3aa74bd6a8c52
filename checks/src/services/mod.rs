//! Exposed network services: which TCP ports of in-scope hosts are open, what speaks on
//! them, and the risk each one carries.
//!
//! - [`scope`]: the allowlist and the expansion of targets into addresses, checked before
//!   any packet is sent;
//! - [`ports`]: port sets (`top100`, `top1000` from `checks/data/ports.toml`, lists, ranges);
//! - [`identify`]: pure parsers of what servers say (bytes in, [`Identification`] out) and
//!   the read-only requests that make them speak;
//! - [`pacing`]: per-address spacing of connection attempts that tightens while the address
//!   answers at once and backs off at any sign of strain;
//! - [`probe`]: all the I/O — TCP connect scan and identification — into a
//!   [`ServicesObservation`];
//! - [`versions`]: the bundled table of maintained branches (`checks/data/service-versions.toml`);
//! - [`evaluate`]: pure grading of an observation into `service.*` verdicts.

pub mod identify;
pub mod pacing;
pub mod ports;
pub mod probe;
pub mod scope;

pub use identify::{Auth, Identification, Service, Software};
pub use observation::{HostObservation, PortObservation, PortState, ServicesObservation};
pub use ports::{PortSet, PortSetError};
pub use probe::{probe, scan_port, ProgressFn, ScanOptions, ScanProgress};
pub use scope::{expand, ScanHost, Scope, ScopeEntry, ScopeError, ServiceTarget};
pub use vigie_model::observation::services as observation;
