//! The Heartbleed (CVE-2014-0160) probe's bytes: one heartbeat request whose declared payload
//! length exceeds what we send, and the judgement of the answer from its record header alone.
//!
//! A fixed server drops such a request silently (RFC 6520 §4) or with an alert; a vulnerable
//! one echoes `declared` bytes, most of them from its own memory. The header's length is
//! enough to tell: we never need, read or keep the echoed bytes.

use super::ProtocolVersion;

/// Record content type of a heartbeat (RFC 6520).
pub const CONTENT_HEARTBEAT: u8 = 24;
/// Record content type of an alert.
const CONTENT_ALERT: u8 = 21;
/// `heartbeat_request`.
const HEARTBEAT_REQUEST: u8 = 1;
/// The size of a record header: the only bytes of the answer we read.
pub const RECORD_HEADER: usize = 5;
/// The largest record a peer may send (2^14 plus the expansion TLS 1.2 allows).
const MAX_RECORD: usize = 16384 + 2048;
/// How many bytes more than we send the request declares: enough to be unmistakable, small
/// enough that a vulnerable server leaks little.
pub const OVER_DECLARED: u16 = 16;

/// A heartbeat request record carrying `payload` but declaring `payload.len() +
/// OVER_DECLARED` bytes, without padding: a correct server must discard it.
pub fn over_long_request(version: ProtocolVersion, payload: &[u8]) -> Vec<u8> {
    let payload = &payload[..payload.len().min(1024)];
    let declared = payload.len() as u16 + OVER_DECLARED;
    let mut message = vec![HEARTBEAT_REQUEST];
    message.extend_from_slice(&declared.to_be_bytes());
    message.extend_from_slice(payload);
    let mut record = vec![CONTENT_HEARTBEAT];
    record.extend_from_slice(&version.code().to_be_bytes());
    record.extend_from_slice(&(message.len() as u16).to_be_bytes());
    record.extend_from_slice(&message);
    record
}

/// The length the request of [`over_long_request`] declares for `payload_len` bytes sent.
pub fn declared_length(payload_len: usize) -> usize {
    payload_len.min(1024) + usize::from(OVER_DECLARED)
}

/// What the first record header after our heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatAnswer {
    /// A heartbeat response at least as long as the declared payload: the server copied
    /// bytes it was never sent.
    OverRead { record_length: usize },
    /// An alert: the server refused the request.
    Alert,
    /// A handshake or other record (not an answer to the heartbeat): the server ignored it.
    Ignored { content_type: u8 },
}

/// Why the answer cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    #[error("the server sent {got} of the 5 bytes of a record header, then closed")]
    Truncated { got: usize },
    #[error("the server answered with a heartbeat record of {length} bytes, more than TLS allows")]
    AbsurdLength { length: usize },
    #[error("the server answered with a heartbeat response of {length} bytes, shorter than the {declared} bytes requested; it neither echoed nor discarded the request")]
    ShortResponse { length: usize, declared: usize },
    #[error("the server answered with bytes that are not a TLS record (type {content_type})")]
    NotTls { content_type: u8 },
}

/// Judges the record header that followed our over-long request of `payload_len` bytes.
/// `header` is what was read before the server closed or the 5 bytes were there.
pub fn judge_answer(header: &[u8], payload_len: usize) -> Result<HeartbeatAnswer, HeartbeatError> {
    if header.len() < RECORD_HEADER {
        return Err(HeartbeatError::Truncated { got: header.len() });
    }
    let content_type = header[0];
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if header[1] != 3 {
        return Err(HeartbeatError::NotTls { content_type });
    }
    match content_type {
        CONTENT_HEARTBEAT => {
            if length > MAX_RECORD {
                return Err(HeartbeatError::AbsurdLength { length });
            }
            // type (1) + payload_length (2) + the declared payload: more than we sent.
            let declared = declared_length(payload_len);
            if length >= 3 + declared {
                Ok(HeartbeatAnswer::OverRead {
                    record_length: length,
                })
            } else {
                Err(HeartbeatError::ShortResponse { length, declared })
            }
        }
        CONTENT_ALERT => Ok(HeartbeatAnswer::Alert),
        20 | 22 | 23 => Ok(HeartbeatAnswer::Ignored { content_type }),
        _ => Err(HeartbeatError::NotTls { content_type }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_declares_more_than_it_carries() {
        let record = over_long_request(ProtocolVersion::Tls12, b"vigie");
        // header: heartbeat, TLS 1.2, 8 bytes of message
        assert_eq!(&record[..5], &[24, 3, 3, 0, 8]);
        // heartbeat_request, declared 5 + 16 = 21, the 5 bytes, no padding
        assert_eq!(&record[5..8], &[1, 0, 21]);
        assert_eq!(&record[8..], b"vigie");
        assert_eq!(declared_length(5), 21);
    }

    #[test]
    fn a_vulnerable_echo_is_judged_from_its_header() {
        // 3 + 21 + 16 bytes of padding: what OpenSSL 1.0.1f answers.
        let header = [24, 3, 3, 0, 40];
        assert_eq!(
            judge_answer(&header, 5),
            Ok(HeartbeatAnswer::OverRead { record_length: 40 })
        );
        // Exactly the declared length without padding still proves the over-read.
        assert_eq!(
            judge_answer(&[24, 3, 1, 0, 24], 5),
            Ok(HeartbeatAnswer::OverRead { record_length: 24 })
        );
    }

    #[test]
    fn refusals_and_other_records() {
        assert_eq!(
            judge_answer(&[21, 3, 3, 0, 2], 5),
            Ok(HeartbeatAnswer::Alert)
        );
        assert_eq!(
            judge_answer(&[22, 3, 3, 0, 60], 5),
            Ok(HeartbeatAnswer::Ignored { content_type: 22 })
        );
    }

    #[test]
    fn hostile_headers_are_errors() {
        assert_eq!(
            judge_answer(&[24, 3], 5),
            Err(HeartbeatError::Truncated { got: 2 })
        );
        assert_eq!(
            judge_answer(&[], 5),
            Err(HeartbeatError::Truncated { got: 0 })
        );
        assert_eq!(
            judge_answer(&[24, 3, 3, 0xff, 0xff], 5),
            Err(HeartbeatError::AbsurdLength { length: 0xffff })
        );
        assert_eq!(
            judge_answer(&[24, 3, 3, 0, 8], 5),
            Err(HeartbeatError::ShortResponse {
                length: 8,
                declared: 21
            })
        );
        assert!(matches!(
            judge_answer(b"HTTP/", 5),
            Err(HeartbeatError::NotTls { .. })
        ));
    }
}
