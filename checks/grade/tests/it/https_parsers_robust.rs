//! The HTTPS parsers take what a hostile server sends: random bytes and mutations of real
//! headers and files give a value or an error, never a panic, in bounded time.

use std::time::{Duration, Instant};

use vigie_grade::https::{banner, hsts, security_txt};

/// xorshift64*: deterministic, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    "max-age=63072000; includeSubDomains; preload",
    "max-age=\"300\"; x=\"a\\\";b\"",
    "Contact: mailto:security@example.ca\nExpires: 2027-01-01T00:00:00Z\n",
    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: a\n- x\n-----BEGIN PGP SIGNATURE-----\n",
    "Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f",
    "Jetty(9.4.z-SNAPSHOT) v1.2 é/ü 7F84",
];

const ALPHABET: &[char] = &[
    ';', '=', '"', '\\', ':', '\n', '\r', ' ', '/', '(', ')', '.', '-', '0', '9', 'v', 'é',
    '\u{feff}',
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..rng.below(8) + 1 {
        let at = if chars.is_empty() {
            0
        } else {
            rng.below(chars.len() + 1)
        };
        match rng.below(3) {
            0 => chars.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ => chars.insert(at, char::from_u32(rng.below(0x800) as u32).unwrap_or('x')),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_inputs_never_panic() {
    let mut rng = Rng(0x5eed_2026_1130_0001);
    let started = Instant::now();
    for round in 0..20_000 {
        let input = mutate(&mut rng, SEEDS[round % SEEDS.len()]);
        let _ = hsts::parse(&input);
        let _ = security_txt::parse(&input);
        let _ = banner::versions(&input);
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn huge_inputs_cost_bounded_work() {
    let started = Instant::now();
    let distinct: String = (0..100_000).map(|i| format!("x{i};")).collect();
    assert!(hsts::parse(&format!("max-age=1;{distinct}")).is_ok());
    assert!(matches!(
        hsts::parse(&format!("max-age=1;{}", "a;".repeat(200_000))),
        Err(hsts::HstsError::Duplicate { .. })
    ));
    let many_lines = "Contact: mailto:a@b.c\n".repeat(100_000);
    let file = security_txt::parse(&many_lines);
    assert_eq!(
        file.contacts.len(),
        2_000,
        "lines past the bound are not read"
    );
    let long_banner = "nginx/1.2 ".repeat(100_000);
    assert!(banner::versions(&long_banner).len() <= 1_024);
    assert!(started.elapsed() < Duration::from_secs(20));
}
