#![no_main]
//! SPF parsing must never panic, and a record it accepts must keep its terms' text.
use libfuzzer_sys::fuzz_target;
use vigie_grade::email::spf::SpfRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(record) = SpfRecord::parse(text) {
            for term in &record.terms {
                assert!(text.contains(&term.text));
            }
            let _ = record.all();
            let _ = record.redirect();
        }
    }
});
