#![no_main]
//! Service identification parses bytes from any server on the network: no parser may
//! panic, and what it keeps of a banner stays bounded and free of control characters.
use libfuzzer_sys::fuzz_target;
use vigie_checks::services::identify::{escape_banner, parse_any, BANNER_MAX};

fuzz_target!(|data: &[u8]| {
    for found in parse_any(data) {
        let json = serde_json::to_string(&found);
        assert!(json.is_ok());
    }
    let banner = escape_banner(data, BANNER_MAX);
    assert!(banner.chars().count() <= BANNER_MAX + 1);
    assert!(!banner.chars().any(char::is_control));
});
