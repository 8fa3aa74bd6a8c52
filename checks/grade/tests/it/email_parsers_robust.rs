//! The record parsers meet hostile DNS data: no input may make them panic. A bounded,
//! deterministic stand-in for the cargo-fuzz targets in `checks/fuzz/`, run with the
//! normal test suite: real record shapes, cut at every byte and mutated at random.

use vigie_grade::email::dkim::DkimKey;
use vigie_grade::email::dmarc::DmarcRecord;
use vigie_grade::email::mta_sts::{MtaStsPolicy, MtaStsRecord};
use vigie_grade::email::records::{BimiRecord, TlsRptRecord};
use vigie_grade::email::spf::SpfRecord;

const SEEDS: &[&str] = &[
    "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com/24//64 mx include:_spf.example.net exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.com exp=explain.%{d2} -all",
    "v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50; rua=mailto:d@example.com!10m,https://r.example; ruf=mailto:f@example.com; adkim=s; aspf=r; fo=1:d; ri=3600; t=y; psd=n",
    "v=DKIM1; k=rsa; t=y:s; h=sha256; s=email; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDo45KODYRwo/DYMeCEXM+pJxGmb3tgguYxCgfkSO6dozBPpugvBfqDui5ImGbQyk7PftSCsuUwcVOnyvOWUNbCUiStAupXN369+abvpURCSXXGqIdP+opVz0kBfeqoTPIkqzD8oFe/Bp3NlymU96l0bHvkzxg8//ykQ8aZUJgSDwIDAQAB",
    "version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n",
    "v=STSv1; id=20260101T000000;",
    "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example/v1",
    "v=BIMI1; l=https://example.com/l.svg; a=https://example.com/a.pem",
];

/// Every parser on one input; the results are ignored, only panics matter.
fn parse_all(text: &str) {
    let _ = SpfRecord::parse(text);
    if let Ok(record) = DmarcRecord::parse(text) {
        for uri in record.rua.iter().chain(&record.ruf) {
            let _ = uri.mailto_domain();
        }
    }
    let _ = DkimKey::parse(text);
    if let Ok(policy) = MtaStsPolicy::parse(text) {
        let _ = policy.matches_mx("a.example.com");
    }
    let _ = MtaStsRecord::parse(text);
    let _ = TlsRptRecord::parse(text);
    let _ = BimiRecord::parse(text);
}

/// xorshift64: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn truncations_never_panic() {
    for seed in SEEDS {
        for (i, _) in seed.char_indices() {
            parse_all(&seed[..i]);
            parse_all(&seed[i..]);
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    // Characters that matter to the grammars, plus a multi-byte one.
    let alphabet: Vec<char> = "%{}:;=/!,.-+~?_ \t\r\n0123456789aAdDpPlLvVsS@é\u{0}"
        .chars()
        .collect();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..20_000 {
        let seed = SEEDS[rng.below(SEEDS.len())];
        let mut chars: Vec<char> = seed.chars().collect();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 => chars.insert(at, alphabet[rng.below(alphabet.len())]),
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ if at < chars.len() => chars[at] = alphabet[rng.below(alphabet.len())],
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        parse_all(&text);
    }
}
