//! Email authentication and DNS security of a domain (`vigie-agent scan email`).
//!
//! - record parsers, pure: [`spf`], [`dmarc`], [`dkim`], [`mta_sts`], [`records`] (TLS-RPT,
//!   BIMI, CAA);

pub mod dkim;
pub mod dmarc;
pub mod lookup;
pub mod mta_sts;
pub mod records;
pub mod spf;
pub mod spf_eval;
