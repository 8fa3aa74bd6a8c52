//! HTTPS web endpoint checks (`https.*`, `http.server_banner`): what a browser meets at a
//! TLS endpoint serving HTTP, and at port 80 of the same host.
//!
//! - [`probe`]: all the I/O (reqwest, rustls, one client per probe pinned to `--connect`),
//!   `GET /` over HTTPS and plain HTTP and `GET /.well-known/security.txt`, same-origin
//!   redirects followed by hand, into an [`HttpsObservation`];
//! - [`hsts`], [`security_txt`], [`banner`]: pure parsers of what the server sent;
//! - [`evaluate`]: pure grading of an observation into verdicts.
//!
//! Certificates are validated (Mozilla roots plus `--ca-file`): a browser ignores HSTS
//! sent over a connection with certificate errors (RFC 6797 §8.1), so an untrusted
//! endpoint's headers are not graded; its `tls.cert.*` findings say why.

pub mod probe;

pub use observation::{
    FetchError, FetchStage, HttpExchange, HttpHop, HttpsObservation, RedirectStop,
};
pub use probe::{probe, HttpsOptions};
pub use vigie_model::observation::https as observation;
