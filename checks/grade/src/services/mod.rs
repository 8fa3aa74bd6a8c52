//! Exposed network services (`service.*`).
//!
//! - [`versions`]: the bundled table of maintained branches (`checks/data/service-versions.toml`);
//! - [`evaluate`]: the observation into verdicts.

pub mod evaluate;
pub mod versions;

pub use evaluate::evaluate;
pub use vigie_model::observation::services as observation;
