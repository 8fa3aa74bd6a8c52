//! Web endpoints (`https.*`, `http.server_banner`).
//!
//! - [`hsts`], [`security_txt`], [`banner`]: parsers of what the server sent;
//! - [`evaluate`]: the observation into verdicts.

pub mod banner;
pub mod evaluate;
pub mod hsts;
pub mod security_txt;

pub use evaluate::{evaluate, MAX_BODY_BYTES};
pub use vigie_model::observation::https as observation;
