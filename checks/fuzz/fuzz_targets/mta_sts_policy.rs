#![no_main]
//! MTA-STS policy parsing must never panic.
use libfuzzer_sys::fuzz_target;
use vigie_grade::email::mta_sts::MtaStsPolicy;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(policy) = MtaStsPolicy::parse(text) {
            let _ = policy.matches_mx("mail.example.com");
        }
    }
});
