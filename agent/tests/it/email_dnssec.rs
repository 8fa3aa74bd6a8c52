//! `scan email --dnssec-validate [--trust-anchor FILE]` and `[dns] dnssec_validate`,
//! `trust_anchor`, as a user runs them: the flags are accepted together, a trust anchor file
//! without a DNSKEY record is refused before any query with a message naming it, and
//! `--trust-anchor` alone is a usage error. (The
//! validation itself is tested against NSD and Unbound in vigie-checks.)

use crate::support;

use std::net::Ipv4Addr;
use std::process::{Command, Output};

use support::dns::{DnsResponder, Zone};

fn scan(dns: &DnsResponder, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .args(["scan", "email", "good.test", "--format", "json"])
        .args(["--resolver", &dns.addr().to_string(), "--timeout", "2s"])
        .args(extra)
        .output()
        .unwrap()
}

fn zone() -> Zone {
    Zone::new()
        .txt("good.test", "v=spf1 -all")
        .mx("good.test", 10, "mail.good.test")
        .a("mail.good.test", Ipv4Addr::LOCALHOST)
}

#[test]
fn dnssec_validate_takes_a_trust_anchor_file_and_refuses_an_empty_one() {
    let dns = DnsResponder::start(zone());
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(
        &keys,
        "good.test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ== ; ksk\n",
    )
    .unwrap();
    let output = scan(
        &dns,
        &[
            "--dnssec-validate",
            "--trust-anchor",
            keys.to_str().unwrap(),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["check"] == "dns.dnssec"));
    assert!(dns.queries() > 0);

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "; no key here\n").unwrap();
    let output = scan(
        &dns,
        &[
            "--dnssec-validate",
            "--trust-anchor",
            empty.to_str().unwrap(),
        ],
    );
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(empty.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("DNSKEY"), "{stderr}");
}

#[test]
fn trust_anchor_without_dnssec_validate_is_a_usage_error() {
    let dns = DnsResponder::start(zone());
    let output = scan(&dns, &["--trust-anchor", "/nonexistent"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(dns.queries(), 0, "nothing is asked");
    assert_eq!(dns.queries_for("good.test"), 0);
}

#[test]
fn the_config_file_turns_validation_on_with_its_trust_anchor() {
    let dns = DnsResponder::start(zone());
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "; no key here\n").unwrap();
    let config = dir.path().join("agent.toml");
    let write = |dns_keys: &str| {
        std::fs::write(
            &config,
            format!(
                "org = \"example-org\"\n[dns]\nresolvers = [\"{}\"]\n{dns_keys}\n[email]\ndomains = [\"good.test\"]\n",
                dns.addr()
            ),
        )
        .unwrap();
    };
    let scan_all = || {
        Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
            .env_remove("VIGIE_LANG")
            .env_remove("VIGIE_LOG")
            .env_remove("VIGIE_CONFIG")
            .args(["scan", "all", "--format", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };

    // trust_anchor alone turns validation on: its empty file is refused, naming it.
    write(&format!("trust_anchor = \"{}\"", empty.display()));
    let output = scan_all();
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(empty.to_str().unwrap()), "{stderr}");

    // dnssec_validate with the root's keys: the scan runs.
    write("dnssec_validate = true");
    let output = scan_all();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
