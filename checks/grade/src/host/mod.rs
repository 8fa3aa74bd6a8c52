//! Patch posture of the agent's host (`host.*`).
//!
//! - [`version`]: dpkg, rpm and apk version ordering;
//! - [`eol`]: the bundled end-of-life dataset (`checks/data/os-eol.toml`);
//! - [`evaluate`](mod@evaluate): the observation into verdicts.

pub mod eol;
pub mod evaluate;
pub mod version;

pub use evaluate::evaluate;
pub use vigie_model::observation::host as observation;
pub use vigie_model::observation::host::{OsFamily, PackageManager};
