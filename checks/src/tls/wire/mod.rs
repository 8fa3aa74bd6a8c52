//! A pure codec for the first flight of a TLS (or SSL 2.0) handshake: we build our own
//! ClientHello and read what the server answers (ServerHello, HelloRetryRequest,
//! ServerKeyExchange, alerts, SSL 2.0 SERVER-HELLO). rustls cannot do this: it never offers
//! SSL 3.0, TLS 1.0/1.1 or weak suites, and enumeration needs hellos it would refuse to send.
//!
//! No I/O here: [`client_hello`] produces bytes, [`server`] consumes them; [`heartbeat`]
//! writes the Heartbleed probe's request and judges the answer's record header. Every length read
//! from the wire is checked against what is left, so hostile input yields an error, never a
//! panic or an unbounded allocation.

pub mod client_hello;
pub mod heartbeat;
pub mod server;

use vigie_grade::tls::ProtocolVersion;

pub use client_hello::{ClientHello, Randomness};
pub use server::{
    parse_first_flight, Alert, FirstFlight, HelloRetryRequest, KeyExchange, ServerHello,
    Ssl2ServerHello, WireError,
};

/// Named groups (IANA "TLS Supported Groups") the enumeration offers, with their names.
pub const GROUPS: &[(u16, &str)] = &[
    (0x0017, "secp256r1"),
    (0x0018, "secp384r1"),
    (0x0019, "secp521r1"),
    (0x001d, "x25519"),
    (0x001e, "x448"),
    (0x0100, "ffdhe2048"),
    (0x0101, "ffdhe3072"),
    (0x0102, "ffdhe4096"),
    (0x0103, "ffdhe6144"),
    (0x0104, "ffdhe8192"),
    (0x0015, "secp224r1"),
    (0x0016, "secp256k1"),
    (0x001a, "brainpoolP256r1"),
    (0x001b, "brainpoolP384r1"),
    (0x001c, "brainpoolP512r1"),
    (0x0013, "secp192r1"),
    (0x0009, "sect283k1"),
    (0x000a, "sect283r1"),
    (0x000b, "sect409k1"),
    (0x000c, "sect409r1"),
    (0x000d, "sect571k1"),
    (0x000e, "sect571r1"),
    (0x11ec, "X25519MLKEM768"),
];

/// The name of a named group, or `0x….` when we do not know it.
pub fn group_name(code: u16) -> String {
    GROUPS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("0x{code:04x}"))
}

pub fn group_code(name: &str) -> Option<u16> {
    GROUPS.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
}

/// Extension numbers we send or read.
pub mod extension {
    pub const SERVER_NAME: u16 = 0;
    pub const STATUS_REQUEST: u16 = 5;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const EC_POINT_FORMATS: u16 = 11;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const HEARTBEAT: u16 = 15;
    pub const ALPN: u16 = 16;
    pub const SIGNED_CERTIFICATE_TIMESTAMP: u16 = 18;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SESSION_TICKET: u16 = 35;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    pub const KEY_SHARE: u16 = 51;
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// Signalling cipher suite values.
pub const TLS_EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
pub const TLS_FALLBACK_SCSV: u16 = 0x5600;
