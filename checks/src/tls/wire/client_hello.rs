//! Our own ClientHello, for any version from SSL 2.0 to TLS 1.3.
//!
//! The hello is never followed by a key exchange: we read the server's first flight and close.
//! So the random and the key shares need not be secret; they are still unpredictable (SHA-256
//! of the clock and a counter) so that no middlebox caches an answer.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::{extension, ProtocolVersion, TLS_EMPTY_RENEGOTIATION_INFO_SCSV};

/// Record content type of a handshake.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake type of a ClientHello.
const CLIENT_HELLO: u8 = 1;

/// Signature schemes offered (TLS 1.2 and 1.3): what common servers sign with.
const SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, 0x0503, 0x0603, // ecdsa_secp256r1_sha256 … secp521r1_sha512
    0x0807, 0x0808, // ed25519, ed448
    0x0804, 0x0805, 0x0806, // rsa_pss_rsae_sha256 …
    0x0809, 0x080a, 0x080b, // rsa_pss_pss_sha256 …
    0x0401, 0x0501, 0x0601, // rsa_pkcs1_sha256 …
    0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202, // sha224 and sha1 (old servers)
];

/// A source of bytes for the client random, session id and key shares.
#[derive(Debug, Default)]
pub struct Randomness {
    counter: AtomicU64,
}

impl Randomness {
    /// `len` bytes, SHA-256 in counter mode over the clock, a counter and the process id.
    pub fn bytes(&self, len: usize) -> Vec<u8> {
        let seed = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(len + 32);
        let mut block: u64 = 0;
        while out.len() < len {
            let mut hasher = Sha256::new();
            hasher.update(nanos.to_le_bytes());
            hasher.update(seed.to_le_bytes());
            hasher.update(block.to_le_bytes());
            hasher.update(std::process::id().to_le_bytes());
            out.extend_from_slice(&hasher.finalize());
            block += 1;
        }
        out.truncate(len);
        out
    }
}

/// What to offer. Build with [`ClientHello::new`] and adjust the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The version asked for: `legacy_version` up to TLS 1.2, `supported_versions` for 1.3.
    pub version: ProtocolVersion,
    /// Cipher suites (two-byte codes), or for SSL 2.0 cipher kinds (three-byte codes).
    pub cipher_suites: Vec<u32>,
    /// Named groups in `supported_groups` (and the candidates for key shares).
    pub groups: Vec<u16>,
    /// Groups for which a key share is sent (TLS 1.3); empty asks the server to choose by a
    /// HelloRetryRequest.
    pub key_shares: Vec<u16>,
    /// Sent in `server_name` when it is a DNS name (never an IP address).
    pub server_name: Option<String>,
    /// Offer DEFLATE compression besides null (to detect CRIME-prone servers).
    pub offer_compression: bool,
    /// Send the extensions (SSL 3.0 hellos go without: some old stacks choke on them).
    pub extensions: bool,
    /// Appended to the suites (e.g. `TLS_FALLBACK_SCSV`).
    pub extra_suites: Vec<u16>,
    /// Advertise the heartbeat extension (RFC 6520), for the Heartbleed probe only.
    pub heartbeat: bool,
}

impl ClientHello {
    pub fn new(version: ProtocolVersion, cipher_suites: Vec<u32>) -> ClientHello {
        ClientHello {
            version,
            cipher_suites,
            groups: vec![0x001d, 0x0017, 0x0018, 0x0019, 0x001e],
            key_shares: vec![0x001d],
            server_name: None,
            offer_compression: false,
            extensions: version >= ProtocolVersion::Tls10,
            extra_suites: Vec::new(),
            heartbeat: false,
        }
    }

    /// The bytes to send: a TLS record, or an SSL 2.0 CLIENT-HELLO.
    pub fn encode(&self, random: &Randomness) -> Vec<u8> {
        match self.version {
            ProtocolVersion::Ssl2 => self.encode_ssl2(random),
            _ => self.encode_tls(random),
        }
    }

    fn encode_ssl2(&self, random: &Randomness) -> Vec<u8> {
        let challenge = random.bytes(16);
        // At most 0x7fff bytes fit a two-byte SSL 2.0 header.
        let kinds: Vec<u32> = self.cipher_suites.iter().copied().take(1000).collect();
        let mut body = vec![CLIENT_HELLO];
        body.extend_from_slice(&ProtocolVersion::Ssl2.code().to_be_bytes());
        body.extend_from_slice(&((kinds.len() * 3) as u16).to_be_bytes());
        body.extend_from_slice(&0u16.to_be_bytes()); // session id length
        body.extend_from_slice(&(challenge.len() as u16).to_be_bytes());
        for kind in kinds {
            body.extend_from_slice(&kind.to_be_bytes()[1..]);
        }
        body.extend_from_slice(&challenge);
        let mut out = Vec::with_capacity(body.len() + 2);
        out.extend_from_slice(&((body.len() as u16) | 0x8000).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn encode_tls(&self, random: &Randomness) -> Vec<u8> {
        let tls13 = self.version == ProtocolVersion::Tls13;
        let legacy_version = if tls13 {
            ProtocolVersion::Tls12
        } else {
            self.version
        };
        let mut hello = Vec::with_capacity(512);
        hello.extend_from_slice(&legacy_version.code().to_be_bytes());
        hello.extend_from_slice(&random.bytes(32));
        // TLS 1.3 middlebox compatibility: a 32-byte legacy session id.
        let session_id = if tls13 { random.bytes(32) } else { Vec::new() };
        push_u8_prefixed(&mut hello, &session_id);

        let mut suites: Vec<u8> = Vec::new();
        for code in self.cipher_suites.iter().copied() {
            if let Ok(code) = u16::try_from(code) {
                suites.extend_from_slice(&code.to_be_bytes());
            }
        }
        if !self.extensions {
            suites.extend_from_slice(&TLS_EMPTY_RENEGOTIATION_INFO_SCSV.to_be_bytes());
        }
        for code in &self.extra_suites {
            suites.extend_from_slice(&code.to_be_bytes());
        }
        push_u16_prefixed(&mut hello, &suites);
        let compression: &[u8] = if self.offer_compression && !tls13 {
            &[1, 0]
        } else {
            &[0]
        };
        push_u8_prefixed(&mut hello, compression);

        if self.extensions {
            let extensions = self.extensions_bytes(random);
            push_u16_prefixed(&mut hello, &extensions);
        }

        let mut handshake = vec![CLIENT_HELLO];
        push_u24(&mut handshake, hello.len());
        handshake.extend_from_slice(&hello);

        // Record version: 0x0301 for everything from TLS 1.0 (what browsers send), 0x0300 for
        // SSL 3.0.
        let record_version = if self.version == ProtocolVersion::Ssl3 {
            ProtocolVersion::Ssl3
        } else {
            ProtocolVersion::Tls10
        };
        let mut record = vec![CONTENT_HANDSHAKE];
        record.extend_from_slice(&record_version.code().to_be_bytes());
        push_u16_prefixed(&mut record, &handshake);
        record
    }

    fn extensions_bytes(&self, random: &Randomness) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(name) = self
            .server_name
            .as_deref()
            .filter(|name| name.parse::<std::net::IpAddr>().is_err() && !name.is_empty())
        {
            let mut entry = vec![0u8]; // host_name
            push_u16_prefixed(&mut entry, name.as_bytes());
            let mut list = Vec::new();
            push_u16_prefixed(&mut list, &entry);
            push_extension(&mut out, extension::SERVER_NAME, &list);
        }
        // status_request: OCSP, no responder ids, no request extensions.
        push_extension(&mut out, extension::STATUS_REQUEST, &[1, 0, 0, 0, 0]);
        let mut groups = Vec::new();
        for group in &self.groups {
            groups.extend_from_slice(&group.to_be_bytes());
        }
        let mut list = Vec::new();
        push_u16_prefixed(&mut list, &groups);
        push_extension(&mut out, extension::SUPPORTED_GROUPS, &list);
        push_extension(&mut out, extension::EC_POINT_FORMATS, &[1, 0]);
        if self.version >= ProtocolVersion::Tls12 {
            let mut schemes = Vec::new();
            for scheme in SIGNATURE_SCHEMES {
                schemes.extend_from_slice(&scheme.to_be_bytes());
            }
            let mut list = Vec::new();
            push_u16_prefixed(&mut list, &schemes);
            push_extension(&mut out, extension::SIGNATURE_ALGORITHMS, &list);
        }
        push_extension(&mut out, extension::EXTENDED_MASTER_SECRET, &[]);
        push_extension(&mut out, extension::SESSION_TICKET, &[]);
        if self.version == ProtocolVersion::Tls13 {
            // Only 1.3: the answer then says whether 1.3 itself is accepted.
            push_extension(&mut out, extension::SUPPORTED_VERSIONS, &[2, 0x03, 0x04]);
            push_extension(&mut out, extension::PSK_KEY_EXCHANGE_MODES, &[1, 1]);
            let mut shares = Vec::new();
            for group in &self.key_shares {
                if let Some(key) = key_share(*group, random) {
                    shares.extend_from_slice(&group.to_be_bytes());
                    push_u16_prefixed(&mut shares, &key);
                }
            }
            let mut list = Vec::new();
            push_u16_prefixed(&mut list, &shares);
            push_extension(&mut out, extension::KEY_SHARE, &list);
        }
        push_extension(&mut out, extension::RENEGOTIATION_INFO, &[0]);
        if self.heartbeat {
            // peer_allowed_to_send: a vulnerable server then answers heartbeats.
            push_extension(&mut out, extension::HEARTBEAT, &[1]);
        }
        out
    }
}

/// A public value the server accepts as a key share. We never finish the handshake, so no
/// private key is kept: x25519/x448 take any bytes, the NIST curves get their generator
/// point (a valid point that servers check for), FFDHE groups the value 2.
fn key_share(group: u16, random: &Randomness) -> Option<Vec<u8>> {
    match group {
        0x001d => Some(random.bytes(32)),
        0x001e => Some(random.bytes(56)),
        0x0017 => Some(P256_GENERATOR.to_vec()),
        0x0100..=0x0104 => {
            let len = match group {
                0x0100 => 256,
                0x0101 => 384,
                0x0102 => 512,
                0x0103 => 768,
                _ => 1024,
            };
            let mut value = vec![0u8; len];
            value[len - 1] = 2;
            Some(value)
        }
        _ => None,
    }
}

/// The uncompressed generator point of secp256r1 (SEC 2, §2.4.2).
const P256_GENERATOR: [u8; 65] = [
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

fn push_extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_u16_prefixed(out, body);
}

fn push_u8_prefixed(out: &mut Vec<u8>, body: &[u8]) {
    out.push(body.len().min(0xff) as u8);
    out.extend_from_slice(&body[..body.len().min(0xff)]);
}

fn push_u16_prefixed(out: &mut Vec<u8>, body: &[u8]) {
    let len = body.len().min(0xffff);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&body[..len]);
}

fn push_u24(out: &mut Vec<u8>, len: usize) {
    let len = len.min(0xff_ffff) as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls12_hello_is_one_well_formed_record() {
        let mut hello = ClientHello::new(ProtocolVersion::Tls12, vec![0xc02f, 0x009c]);
        hello.server_name = Some("www.example.ca".to_owned());
        let bytes = hello.encode(&Randomness::default());
        assert_eq!(&bytes[..3], &[22, 3, 1]);
        let record_len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        assert_eq!(record_len, bytes.len() - 5);
        assert_eq!(bytes[5], 1);
        let hs_len = u32::from_be_bytes([0, bytes[6], bytes[7], bytes[8]]) as usize;
        assert_eq!(hs_len, record_len - 4);
        assert_eq!(&bytes[9..11], &[3, 3]);
        // session id empty, then two suites
        assert_eq!(bytes[43], 0);
        assert_eq!(&bytes[44..50], &[0, 4, 0xc0, 0x2f, 0x00, 0x9c]);
        assert!(bytes.windows(14).any(|w| w == b"www.example.ca"));
    }

    #[test]
    fn sni_is_never_an_ip_address_and_ssl3_has_no_extensions_but_the_scsv() {
        let mut hello = ClientHello::new(ProtocolVersion::Ssl3, vec![0x000a]);
        hello.server_name = Some("127.0.0.1".to_owned());
        let bytes = hello.encode(&Randomness::default());
        assert_eq!(&bytes[..3], &[22, 3, 0]);
        assert_eq!(&bytes[9..11], &[3, 0]);
        assert_eq!(&bytes[44..50], &[0, 4, 0x00, 0x0a, 0x00, 0xff]);
        // compression, then nothing
        assert_eq!(&bytes[50..], &[1, 0]);
    }

    #[test]
    fn an_ssl2_hello_has_the_two_byte_header_and_three_byte_kinds() {
        let hello = ClientHello::new(ProtocolVersion::Ssl2, vec![0x010080, 0x0700c0]);
        let bytes = hello.encode(&Randomness::default());
        assert_eq!(bytes[0] & 0x80, 0x80);
        let len = (u16::from_be_bytes([bytes[0], bytes[1]]) & 0x7fff) as usize;
        assert_eq!(len, bytes.len() - 2);
        assert_eq!(&bytes[2..5], &[1, 0, 2]);
        assert_eq!(&bytes[5..7], &[0, 6]);
        assert_eq!(&bytes[11..17], &[1, 0, 0x80, 7, 0, 0xc0]);
    }

    #[test]
    fn randomness_differs_between_calls() {
        let random = Randomness::default();
        assert_ne!(random.bytes(32), random.bytes(32));
        assert_eq!(random.bytes(70).len(), 70);
    }
}
