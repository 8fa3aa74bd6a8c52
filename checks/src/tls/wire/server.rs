//! Reading the server's first flight: ServerHello (or HelloRetryRequest), the messages up to
//! ServerHelloDone (ServerKeyExchange is kept for its group), alerts, and the SSL 2.0
//! SERVER-HELLO.
//!
//! [`parse_first_flight`] is called again on a longer buffer while it answers
//! [`WireError::Incomplete`]; the caller bounds how much it reads.

use super::{extension, ProtocolVersion};

/// The largest TLS record payload allowed (2^14 plus the 2048 bytes of expansion TLS 1.2
/// allows for a ciphertext).
pub const MAX_RECORD: usize = 16384 + 2048;
/// The largest handshake message we accept to buffer (a certificate chain fits).
pub const MAX_HANDSHAKE_MESSAGE: usize = 1 << 18;
/// How many handshake messages of the first flight we look at.
const MAX_MESSAGES: usize = 16;
/// How many bytes of ServerKeyExchange we keep: enough for the group.
const KEY_EXCHANGE_PREFIX: usize = 16;

/// `SHA-256("HelloRetryRequest")`: the random of a HelloRetryRequest (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the answer is incomplete")]
    Incomplete,
    #[error("the server does not speak TLS (first bytes {first_bytes})")]
    NotTls { first_bytes: String },
    #[error("malformed {what}")]
    Malformed { what: &'static str },
    #[error("a TLS record of {length} bytes exceeds the protocol's limit")]
    RecordTooLong { length: usize },
    #[error("a handshake message of {length} bytes exceeds our limit")]
    MessageTooLong { length: usize },
    #[error("unexpected record type {content_type} before the ServerHello")]
    UnexpectedRecord { content_type: u8 },
    #[error("unexpected handshake message type {message_type} before the ServerHello")]
    UnexpectedMessage { message_type: u8 },
}

fn malformed(what: &'static str) -> WireError {
    WireError::Malformed { what }
}

/// A bounded reader over a byte slice: every read checks what is left.
#[derive(Debug, Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(malformed(what));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u8_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = self.u8(what)? as usize;
        self.take(n, what)
    }
    fn u16_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }
}

/// A TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub level: u8,
    pub description: u8,
}

impl Alert {
    pub const HANDSHAKE_FAILURE: u8 = 40;
    pub const PROTOCOL_VERSION: u8 = 70;
    pub const INSUFFICIENT_SECURITY: u8 = 71;
    pub const INAPPROPRIATE_FALLBACK: u8 = 86;

    /// The RFC name of the description, e.g. `handshake_failure`.
    pub fn name(&self) -> String {
        let name = match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            47 => "illegal_parameter",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            120 => "no_application_protocol",
            other => return format!("alert {other}"),
        };
        name.to_owned()
    }
}

/// A ServerHello (not a HelloRetryRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version` as sent.
    pub legacy_version: u16,
    /// The version negotiated: `supported_versions` when present, else `legacy_version`.
    pub version: u16,
    pub cipher_suite: u16,
    pub compression: u8,
    /// Extension numbers in the order sent.
    pub extensions: Vec<u16>,
    /// TLS 1.3 `key_share`: the group of the server's share.
    pub key_share_group: Option<u16>,
    /// RFC 5746 `renegotiation_info` present.
    pub secure_renegotiation: bool,
    /// RFC 7627 `extended_master_secret` present.
    pub extended_master_secret: bool,
    /// The TLS 1.3 downgrade sentinel in the random (RFC 8446 §4.1.3): the server supports a
    /// higher version than the one it chose.
    pub downgrade_sentinel: bool,
}

impl ServerHello {
    pub fn protocol(&self) -> Option<ProtocolVersion> {
        ProtocolVersion::from_code(self.version)
    }
}

/// A HelloRetryRequest: the server wants a key share for `selected_group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloRetryRequest {
    pub version: u16,
    pub cipher_suite: u16,
    pub selected_group: Option<u16>,
}

/// An SSL 2.0 SERVER-HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssl2ServerHello {
    pub version: u16,
    /// Three-byte cipher kinds the server accepts.
    pub cipher_kinds: Vec<u32>,
    pub certificate_length: usize,
}

/// The group of a TLS ≤ 1.2 ServerKeyExchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchange {
    /// ECDHE with a named curve.
    NamedCurve(u16),
    /// Finite-field DHE with a prime of this many bits.
    FiniteField { prime_bits: u32 },
}

impl KeyExchange {
    /// Reads the start of ServerKeyExchange params; `ecdhe` says which kind the cipher suite
    /// announced (the two cannot be told apart from the bytes alone).
    pub fn parse(params: &[u8], ecdhe: bool) -> Option<KeyExchange> {
        let mut reader = Reader::new(params);
        if ecdhe {
            // ECCurveType named_curve(3), NamedCurve
            (reader.u8("curve type").ok()? == 3)
                .then(|| reader.u16("named curve").ok().map(KeyExchange::NamedCurve))
                .flatten()
        } else {
            let length = reader.u16("dh_p length").ok()? as usize;
            let first = *reader.bytes.first()?;
            if length == 0 {
                return None;
            }
            // The prime's bit length: its byte length less the leading zero bits.
            let bits = (length as u32) * 8 - first.leading_zeros();
            Some(KeyExchange::FiniteField { prime_bits: bits })
        }
    }
}

/// What the server answered to one ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstFlight {
    Hello {
        hello: ServerHello,
        /// The first bytes of ServerKeyExchange, when one came (parse with
        /// [`KeyExchange::parse`]).
        key_exchange: Option<Vec<u8>>,
        /// ServerHelloDone was seen (TLS ≤ 1.2), or there is nothing more to wait for (1.3).
        complete: bool,
    },
    RetryRequest(HelloRetryRequest),
    Alert(Alert),
    Ssl2(Ssl2ServerHello),
    /// An SSL 2.0 ERROR message (e.g. no cipher).
    Ssl2Error(u16),
}

/// Parses what the server sent so far. [`WireError::Incomplete`] means: read more. A
/// ServerHello is returned as soon as it is complete, with `complete: false` until
/// ServerHelloDone: the caller decides whether the ServerKeyExchange is worth waiting for.
pub fn parse_first_flight(bytes: &[u8]) -> Result<FirstFlight, WireError> {
    let Some(&first) = bytes.first() else {
        return Err(WireError::Incomplete);
    };
    if first != 21 && first != 22 {
        return parse_ssl2(bytes);
    }
    let mut handshake = Vec::new();
    let mut rest = bytes;
    let mut hello: Option<ServerHello> = None;
    let mut key_exchange = None;
    let mut messages = 0usize;
    let mut consumed = 0usize; // of `handshake`
    loop {
        // Parse the complete handshake messages buffered so far.
        while messages < MAX_MESSAGES {
            let pending = &handshake[consumed..];
            if pending.len() < 4 {
                break;
            }
            let message_type = pending[0];
            let length = u32::from_be_bytes([0, pending[1], pending[2], pending[3]]) as usize;
            if length > MAX_HANDSHAKE_MESSAGE {
                return Err(WireError::MessageTooLong { length });
            }
            if pending.len() < 4 + length {
                break;
            }
            let body = &pending[4..4 + length];
            consumed += 4 + length;
            messages += 1;
            match (message_type, &hello) {
                (2, None) => match parse_server_hello(body)? {
                    Parsed::Hello(h) => {
                        let tls13 = h.version >= ProtocolVersion::Tls13.code();
                        if tls13 {
                            return Ok(FirstFlight::Hello {
                                hello: h,
                                key_exchange: None,
                                complete: true,
                            });
                        }
                        hello = Some(h);
                    }
                    Parsed::Retry(retry) => return Ok(FirstFlight::RetryRequest(retry)),
                },
                (message_type, None) => return Err(WireError::UnexpectedMessage { message_type }),
                (12, Some(_)) => {
                    key_exchange = Some(body[..body.len().min(KEY_EXCHANGE_PREFIX)].to_vec());
                }
                (14, Some(h)) => {
                    return Ok(FirstFlight::Hello {
                        hello: h.clone(),
                        key_exchange,
                        complete: true,
                    })
                }
                _ => {} // Certificate, CertificateStatus, CertificateRequest…
            }
        }
        if messages >= MAX_MESSAGES {
            break;
        }
        // Next record.
        if rest.is_empty() {
            break;
        }
        if rest.len() < 5 {
            break;
        }
        let content_type = rest[0];
        let length = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        if length > MAX_RECORD {
            return Err(WireError::RecordTooLong { length });
        }
        if rest.len() < 5 + length {
            break;
        }
        let payload = &rest[5..5 + length];
        rest = &rest[5 + length..];
        match content_type {
            22 => {
                if handshake.len() + payload.len() > MAX_HANDSHAKE_MESSAGE + 4 * MAX_MESSAGES {
                    return Err(WireError::MessageTooLong {
                        length: handshake.len() + payload.len(),
                    });
                }
                handshake.extend_from_slice(payload);
            }
            21 => {
                if hello.is_some() {
                    break; // an alert after the ServerHello: keep the hello
                }
                let mut reader = Reader::new(payload);
                let level = reader.u8("alert")?;
                let description = reader.u8("alert")?;
                // A warning (e.g. unrecognized_name) does not end the handshake.
                if level == 1 && description != 0 {
                    continue;
                }
                return Ok(FirstFlight::Alert(Alert { level, description }));
            }
            20 | 23 if hello.is_some() => break,
            content_type => return Err(WireError::UnexpectedRecord { content_type }),
        }
    }
    match hello {
        Some(hello) => Ok(FirstFlight::Hello {
            hello,
            key_exchange,
            complete: false,
        }),
        None => Err(WireError::Incomplete),
    }
}

enum Parsed {
    Hello(ServerHello),
    Retry(HelloRetryRequest),
}

fn parse_server_hello(body: &[u8]) -> Result<Parsed, WireError> {
    let mut reader = Reader::new(body);
    let legacy_version = reader.u16("ServerHello version")?;
    let random = reader.take(32, "ServerHello random")?;
    let session_id = reader.u8_prefixed("ServerHello session id")?;
    if session_id.len() > 32 {
        return Err(malformed("ServerHello session id"));
    }
    let cipher_suite = reader.u16("ServerHello cipher suite")?;
    let compression = reader.u8("ServerHello compression")?;
    let mut extensions = Vec::new();
    let mut version = legacy_version;
    let mut key_share_group = None;
    let mut secure_renegotiation = false;
    let mut extended_master_secret = false;
    let retry = random == HELLO_RETRY_REQUEST_RANDOM;
    if !reader.is_empty() {
        let mut list = Reader::new(reader.u16_prefixed("ServerHello extensions")?);
        while !list.is_empty() {
            let kind = list.u16("extension type")?;
            let data = list.u16_prefixed("extension data")?;
            extensions.push(kind);
            let mut data = Reader::new(data);
            match kind {
                extension::SUPPORTED_VERSIONS => version = data.u16("supported_versions")?,
                extension::KEY_SHARE => key_share_group = Some(data.u16("key_share")?),
                extension::RENEGOTIATION_INFO => secure_renegotiation = true,
                extension::EXTENDED_MASTER_SECRET => extended_master_secret = true,
                _ => {}
            }
        }
    }
    if retry {
        return Ok(Parsed::Retry(HelloRetryRequest {
            version,
            cipher_suite,
            selected_group: key_share_group,
        }));
    }
    let tail = &random[24..32];
    let downgrade_sentinel = tail == b"DOWNGRD\x01" || tail == b"DOWNGRD\x00";
    Ok(Parsed::Hello(ServerHello {
        legacy_version,
        version,
        cipher_suite,
        compression,
        extensions,
        key_share_group,
        secure_renegotiation,
        extended_master_secret,
        downgrade_sentinel,
    }))
}

fn parse_ssl2(bytes: &[u8]) -> Result<FirstFlight, WireError> {
    let not_tls = || WireError::NotTls {
        first_bytes: bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    if bytes.len() < 3 {
        // Too short to judge; printable text is already not TLS.
        if bytes[0] & 0x80 == 0 {
            return Err(not_tls());
        }
        return Err(WireError::Incomplete);
    }
    let (length, header) = if bytes[0] & 0x80 != 0 {
        ((((bytes[0] & 0x7f) as usize) << 8) | bytes[1] as usize, 2)
    } else if bytes[0] & 0x40 == 0 && bytes[3..].first() == Some(&4) {
        // three-byte header (with padding); rare, accepted only with a SERVER-HELLO inside
        ((((bytes[0] & 0x3f) as usize) << 8) | bytes[1] as usize, 3)
    } else {
        return Err(not_tls());
    };
    match bytes.get(header) {
        Some(4) | Some(0) => {}
        Some(_) => return Err(not_tls()),
        None => return Err(WireError::Incomplete),
    }
    if bytes.len() < header + length {
        return Err(WireError::Incomplete);
    }
    let mut reader = Reader::new(&bytes[header..header + length]);
    let message_type = reader.u8("SSL 2.0 message")?;
    if message_type == 0 {
        let code = reader.u16("SSL 2.0 error")?;
        return Ok(FirstFlight::Ssl2Error(code));
    }
    let _session_id_hit = reader.u8("SSL 2.0 SERVER-HELLO")?;
    let _certificate_type = reader.u8("SSL 2.0 SERVER-HELLO")?;
    let version = reader.u16("SSL 2.0 SERVER-HELLO version")?;
    let certificate_length = reader.u16("SSL 2.0 SERVER-HELLO")? as usize;
    let specs_length = reader.u16("SSL 2.0 SERVER-HELLO")? as usize;
    let connection_id_length = reader.u16("SSL 2.0 SERVER-HELLO")? as usize;
    if specs_length % 3 != 0 {
        return Err(malformed("SSL 2.0 cipher specs"));
    }
    reader.take(certificate_length, "SSL 2.0 certificate")?;
    let specs = reader.take(specs_length, "SSL 2.0 cipher specs")?;
    reader.take(connection_id_length, "SSL 2.0 connection id")?;
    let cipher_kinds = specs
        .chunks_exact(3)
        .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
        .collect();
    Ok(FirstFlight::Ssl2(Ssl2ServerHello {
        version,
        cipher_kinds,
        certificate_length,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello record: TLS 1.2, ECDHE_RSA_AES_128_GCM, with renegotiation_info and EMS.
    fn tls12_hello() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0xc0, 0x2f, 0]);
        body.extend_from_slice(&[0, 9, 0xff, 0x01, 0, 1, 0, 0, 23, 0, 0]);
        record(22, &handshake(2, &body))
    }

    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 0, (body.len() >> 8) as u8, body.len() as u8];
        out.extend_from_slice(body);
        out
    }

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 3, 3, (payload.len() >> 8) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_tls12_hello_then_done() {
        let mut bytes = tls12_hello();
        match parse_first_flight(&bytes).unwrap() {
            FirstFlight::Hello {
                hello, complete, ..
            } => {
                assert_eq!(hello.version, 0x0303);
                assert_eq!(hello.cipher_suite, 0xc02f);
                assert!(hello.secure_renegotiation);
                assert!(hello.extended_master_secret);
                assert!(!complete);
            }
            other => panic!("{other:?}"),
        }
        let mut kx = vec![3, 0, 0x1d, 32];
        kx.extend_from_slice(&[1; 32]);
        bytes.extend(record(22, &handshake(12, &kx)));
        bytes.extend(record(22, &handshake(14, &[])));
        match parse_first_flight(&bytes).unwrap() {
            FirstFlight::Hello {
                key_exchange: Some(kx),
                complete: true,
                ..
            } => assert_eq!(
                KeyExchange::parse(&kx, true),
                Some(KeyExchange::NamedCurve(0x1d))
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_prefix_of_a_hello_is_incomplete_never_a_panic() {
        let bytes = tls12_hello();
        for end in 0..bytes.len() {
            assert_eq!(
                parse_first_flight(&bytes[..end]),
                Err(WireError::Incomplete),
                "{end}"
            );
        }
    }

    #[test]
    fn alerts_retry_requests_and_garbage() {
        assert_eq!(
            parse_first_flight(&[21, 3, 3, 0, 2, 2, 40]).unwrap(),
            FirstFlight::Alert(Alert {
                level: 2,
                description: 40
            })
        );
        let mut body = vec![3, 3];
        body.extend_from_slice(&HELLO_RETRY_REQUEST_RANDOM);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x02, 0]);
        body.extend_from_slice(&[0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 0x17]);
        assert_eq!(
            parse_first_flight(&record(22, &handshake(2, &body))).unwrap(),
            FirstFlight::RetryRequest(HelloRetryRequest {
                version: 0x0304,
                cipher_suite: 0x1302,
                selected_group: Some(0x17)
            })
        );
        assert!(matches!(
            parse_first_flight(b"HTTP/1.1 400 Bad Request\r\n"),
            Err(WireError::NotTls { .. })
        ));
        assert!(matches!(
            parse_first_flight(b"SSH-2.0-OpenSSH_9.6\r\n"),
            Err(WireError::NotTls { .. })
        ));
        assert!(matches!(
            parse_first_flight(&[22, 3, 3, 0xff, 0xff]),
            Err(WireError::RecordTooLong { .. })
        ));
    }

    #[test]
    fn a_warning_alert_before_the_hello_is_skipped() {
        let mut bytes = vec![21, 3, 3, 0, 2, 1, 112];
        bytes.extend(tls12_hello());
        assert!(matches!(
            parse_first_flight(&bytes),
            Ok(FirstFlight::Hello { .. })
        ));
        // …but a warning close_notify, or a fatal alert, ends it.
        assert!(matches!(
            parse_first_flight(&[21, 3, 3, 0, 2, 1, 0]),
            Ok(FirstFlight::Alert(_))
        ));
        assert_eq!(
            parse_first_flight(&[21, 3, 3, 0, 2, 1, 112]),
            Err(WireError::Incomplete)
        );
    }

    #[test]
    fn finite_field_prime_bits() {
        let mut params = vec![1, 0, 0xff];
        params.extend_from_slice(&[0; 13]);
        assert_eq!(
            KeyExchange::parse(&params, false),
            Some(KeyExchange::FiniteField { prime_bits: 2048 })
        );
        assert_eq!(
            KeyExchange::parse(&[0, 128, 0x7f], false),
            Some(KeyExchange::FiniteField { prime_bits: 1023 })
        );
        assert_eq!(KeyExchange::parse(&[], false), None);
        assert_eq!(KeyExchange::parse(&[4, 0, 23], true), None);
    }

    #[test]
    fn an_ssl2_server_hello() {
        // header, SERVER-HELLO, hit 0, x509, version 2, cert 3 bytes, 2 specs, conn id 16
        let mut body = vec![4, 0, 1, 0, 2, 0, 3, 0, 6, 0, 16];
        body.extend_from_slice(&[0xaa; 3]);
        body.extend_from_slice(&[1, 0, 0x80, 7, 0, 0xc0]);
        body.extend_from_slice(&[0x55; 16]);
        let mut bytes = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
        bytes.extend_from_slice(&body);
        assert_eq!(
            parse_first_flight(&bytes).unwrap(),
            FirstFlight::Ssl2(Ssl2ServerHello {
                version: 2,
                cipher_kinds: vec![0x010080, 0x0700c0],
                certificate_length: 3
            })
        );
        for end in 1..bytes.len() {
            assert_eq!(
                parse_first_flight(&bytes[..end]),
                Err(WireError::Incomplete)
            );
        }
    }
    /// ServerHellos captured from `openssl s_server` (OpenSSL 3.0) by the `capture_server_hellos`
    /// test of `tests/it/tls_enumerate.rs`.
    fn captured(name: &str) -> FirstFlight {
        let path = format!("{}/testdata/tls-wire/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // Every prefix is incomplete or a valid partial answer, never a panic.
        for end in 0..bytes.len() {
            let _ = parse_first_flight(&bytes[..end]);
        }
        parse_first_flight(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn captured_openssl_answers() {
        let FirstFlight::Hello {
            hello,
            key_exchange: Some(kx),
            complete: true,
        } = captured("openssl3-tls12-ecdhe-rsa.bin")
        else {
            panic!("ecdhe");
        };
        assert_eq!(
            (hello.version, hello.cipher_suite, hello.compression),
            (0x0303, 0xc02f, 0)
        );
        assert!(hello.secure_renegotiation && hello.extended_master_secret);
        // The server also speaks TLS 1.3, which our 1.2 hello did not offer.
        assert!(hello.downgrade_sentinel);
        assert_eq!(
            KeyExchange::parse(&kx, true),
            Some(KeyExchange::NamedCurve(0x17))
        );

        let FirstFlight::Hello {
            hello,
            key_exchange: Some(kx),
            complete: true,
        } = captured("openssl3-tls12-dhe-rsa.bin")
        else {
            panic!("dhe");
        };
        assert_eq!(hello.cipher_suite, 0x009e);
        assert_eq!(
            KeyExchange::parse(&kx, false),
            Some(KeyExchange::FiniteField { prime_bits: 2048 })
        );

        let FirstFlight::Hello { hello, .. } = captured("openssl3-tls10-rsa-cbc.bin") else {
            panic!("tls10");
        };
        assert_eq!((hello.version, hello.cipher_suite), (0x0301, 0x002f));
        // OpenSSL 3 supports TLS 1.3 and says so in a TLS 1.0 ServerHello's random.
        assert!(hello.downgrade_sentinel);

        let FirstFlight::Hello {
            hello, complete, ..
        } = captured("openssl3-tls13-aes256.bin")
        else {
            panic!("tls13");
        };
        assert_eq!((hello.legacy_version, hello.version), (0x0303, 0x0304));
        assert_eq!(hello.cipher_suite, 0x1302);
        assert_eq!(hello.key_share_group, Some(0x1d));
        assert!(complete);

        assert_eq!(
            captured("openssl3-tls13-hrr-secp384r1.bin"),
            FirstFlight::RetryRequest(HelloRetryRequest {
                version: 0x0304,
                cipher_suite: 0x1301,
                selected_group: Some(0x18)
            })
        );
        assert_eq!(
            captured("openssl3-alert-ssl3.bin"),
            FirstFlight::Alert(Alert {
                level: 2,
                description: 40
            })
        );
        assert_eq!(
            captured("openssl3-answer-to-ssl2.bin"),
            FirstFlight::Alert(Alert {
                level: 2,
                description: 70
            })
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate captured answers byte by byte.
        let path = format!(
            "{}/testdata/tls-wire/openssl3-tls12-dhe-rsa.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        let original = std::fs::read(path).unwrap();
        let mut state: u32 = 0x1234_5678;
        for _ in 0..3000 {
            let mut bytes = original.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % bytes.len();
                bytes[at] = (state >> 8) as u8;
            }
            let _ = parse_first_flight(&bytes);
            let _ = KeyExchange::parse(&bytes[9..], state & 1 == 0);
        }
    }
}
