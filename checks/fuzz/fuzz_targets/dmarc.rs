#![no_main]
//! DMARC parsing must never panic; an accepted record's pct stays within 0..=100.
use libfuzzer_sys::fuzz_target;
use vigie_grade::email::dmarc::DmarcRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(record) = DmarcRecord::parse(text) {
            assert!(record.effective_pct() <= 100);
            for uri in record.rua.iter().chain(&record.ruf) {
                let _ = uri.mailto_domain();
            }
        }
    }
});
