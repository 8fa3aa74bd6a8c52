#![no_main]
//! DKIM key parsing (base64 and DER) must never panic.
use libfuzzer_sys::fuzz_target;
use vigie_grade::email::dkim::DkimKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DkimKey::parse(text);
    }
});
