#![no_main]
//! What a server sends as its certificates and its stapled OCSP response is hostile input:
//! parsing must give a value or an error, never a panic, and what it reads stays within the
//! bytes given.
use libfuzzer_sys::fuzz_target;
use vigie_checks::tls::certificate::{parse, stapled_sct_log_ids};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse(1, data) {
        assert!(info.subject_alt_names.len() <= data.len());
        assert!(info.ca_issuers.len() <= data.len());
        // Each embedded SCT takes at least its 32-byte log id.
        assert!(info.sct_log_ids.len() * 32 <= data.len());
    }
    assert!(stapled_sct_log_ids(data).len() * 32 <= data.len());
});
