//! Exposed network services: which TCP ports of in-scope hosts are open, what speaks on
//! them, and the risk each one carries.
//!
//! - [`scope`]: the allowlist and the expansion of targets into addresses, checked before
//!   any packet is sent.

pub mod scope;

pub use scope::{Scope, ScopeEntry, ScopeError};
