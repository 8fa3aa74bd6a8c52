#![no_main]
//! The TLS first-flight parser must never panic on hostile bytes, and what it accepts must be
//! consistent with the bytes it was given.
use libfuzzer_sys::fuzz_target;
use vigie_checks::tls::wire::{heartbeat, parse_first_flight, FirstFlight, KeyExchange};

fuzz_target!(|data: &[u8]| {
    if let Ok(flight) = parse_first_flight(data) {
        match flight {
            FirstFlight::Hello { key_exchange: Some(params), .. } => {
                assert!(params.len() <= data.len());
                let _ = KeyExchange::parse(&params, true);
                let _ = KeyExchange::parse(&params, false);
            }
            FirstFlight::Ssl2(hello) => assert!(hello.cipher_kinds.len() * 3 <= data.len()),
            _ => {}
        }
    }
    let _ = KeyExchange::parse(data, true);
    let _ = KeyExchange::parse(data, false);
    // The Heartbleed judge sees at most a record header; any bytes must give a value.
    let header = &data[..data.len().min(heartbeat::RECORD_HEADER)];
    let _ = heartbeat::judge_answer(header, data.len());
});
