//! Email authentication and DNS security of a domain (`email.*`, `dns.*`).
//!
//! - record parsers: [`spf`], [`dmarc`], [`dkim`], [`mta_sts`], [`records`] (TLS-RPT, BIMI,
//!   CAA);
//! - [`spf_eval`]: the expansion of an SPF record over the recorded answers, with lookup
//!   counting;
//! - [`orgdomain`]: organizational domains from the bundled Public Suffix List;
//! - [`evaluate`]: the observation into verdicts.

pub mod dkim;
pub mod dmarc;
pub mod evaluate;
pub mod mta_sts;
pub mod orgdomain;
pub mod records;
pub mod spf;
pub mod spf_eval;

pub use evaluate::evaluate;
pub use vigie_model::observation::email as observation;
