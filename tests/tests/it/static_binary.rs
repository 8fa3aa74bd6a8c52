//! The static Linux agent (`x86_64-unknown-linux-musl`, profile `dist`): small, with no
//! dynamic dependency, and finding on the lab's servers exactly what the glibc build finds.
//!
//! Needs the musl target and musl-tools (`scripts/test` installs both). The binary is built
//! here unless VIGIE_TEST_NO_BUILD is set; then build it first with
//! `cargo build --profile dist --target x86_64-unknown-linux-musl -p vigie-agent`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use vigie_model::Report;
use vigie_tests::harness;
use vigie_tests::pki::{self, LeafSpec, TestCa};
use vigie_tests::tls_server::TlsServer;

use crate::packages::run_bounded;

const TARGET: &str = "x86_64-unknown-linux-musl";
/// The promise of the README: one static binary under 15 MB.
const MAX_BYTES: u64 = 15_000_000;

fn static_agent() -> PathBuf {
    let target_dir = harness::bin_dir()
        .parent()
        .expect("the target folder")
        .to_path_buf();
    let path = target_dir.join(TARGET).join("dist").join("vigie-agent");
    if std::env::var_os("VIGIE_TEST_NO_BUILD").is_none() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--locked",
                "--profile",
                "dist",
                "--target",
                TARGET,
            ])
            .args([
                "-p",
                "vigie-agent",
                "--bin",
                "vigie-agent",
                "--manifest-path",
            ])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir)
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "the static build failed: it needs `rustup target add {TARGET}` and Debian's musl-tools"
        );
    }
    assert!(
        path.exists(),
        "{} not found: cargo build --profile dist --target {TARGET} -p vigie-agent",
        path.display()
    );
    path
}

#[test]
fn the_static_agent_is_small_and_has_no_dynamic_dependency() {
    let agent = static_agent();
    let size = std::fs::metadata(&agent).unwrap().len();
    eprintln!("static vigie-agent: {size} bytes");
    assert!(size < MAX_BYTES, "{size} bytes, more than {MAX_BYTES}");
    let ldd = Command::new("ldd").arg(&agent).output().expect("run ldd");
    let said =
        String::from_utf8_lossy(&ldd.stdout).to_string() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd: {said}"
    );
    // And the dynamic build is one, so that the check above can fail.
    let glibc = Command::new("ldd")
        .arg(harness::binary("vigie-agent"))
        .output()
        .expect("run ldd");
    assert!(String::from_utf8_lossy(&glibc.stdout).contains("libc.so"));
    let version = Command::new(&agent).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("vigie-agent "));
}

/// What a scan found, without what differs between two runs (times, ids, durations).
fn findings(report: &Report) -> BTreeSet<(String, String, String)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.check.as_str().to_owned(),
                f.target.clone(),
                format!("{:?}", f.status),
            )
        })
        .collect()
}

#[test]
fn the_static_agent_finds_on_the_lab_what_the_glibc_build_finds() {
    let agent = static_agent();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ip = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 94, last));
    let ca = TestCa::new("Vigie static CA");
    let servers = runtime.block_on(async {
        let expired = LeafSpec {
            names: vec!["127.0.94.2".into()],
            not_before: chrono::Utc::now() - chrono::Duration::days(100),
            not_after: chrono::Utc::now() - chrono::Duration::days(1),
        };
        let issued = [
            ca.issue(&LeafSpec::valid_for(&["127.0.94.1"])),
            ca.issue(&expired),
            ca.issue(&LeafSpec::valid_for(&["elsewhere.test"])),
            pki::self_signed(&LeafSpec::valid_for(&["127.0.94.4"])),
        ];
        let mut servers = Vec::new();
        for (last, issued) in (1..).zip(&issued) {
            servers.push(TlsServer::start(ip(last), issued).await.unwrap());
        }
        servers
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    let targets: Vec<String> = servers.iter().map(|s| format!("\"{}\"", s.addr)).collect();
    let ports: Vec<String> = servers.iter().map(|s| s.addr.port().to_string()).collect();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"static-lab\"\n[scope]\nallow = [\"127.0.94.0/24\"]\n\
             [tls]\ntargets = [{}]\nca_file = \"{}\"\ntimeout = \"3s\"\n\
             [services]\ntargets = [\"127.0.94.1\", \"127.0.94.2\"]\nports = \"{},1-64\"\n\
             [host]\nenabled = false\n",
            targets.join(", "),
            dir.path().join("ca.pem").display(),
            ports.join(","),
        ),
    )
    .unwrap();
    let scan = |binary: &std::path::Path| {
        let mut command = Command::new(binary);
        command
            .args(["scan", "all", "--format", "json", "--config"])
            .arg(&config)
            .env_remove("VIGIE_LANG");
        let (code, stdout, stderr) = run_bounded(&mut command, Duration::from_secs(120));
        let report: Report = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
            panic!(
                "{}: no report ({e}): {}",
                binary.display(),
                String::from_utf8_lossy(&stderr)
            )
        });
        (code, findings(&report))
    };
    let (glibc_code, glibc) = scan(&harness::binary("vigie-agent"));
    let (musl_code, musl) = scan(&agent);
    assert!(glibc.len() > 40, "a representative scan: {glibc:?}");
    for check in [
        "tls.cert.expired",
        "tls.cert.hostname_mismatch",
        "tls.cert.self_signed",
        "service.open",
    ] {
        assert!(
            glibc.iter().any(|(c, _, s)| c == check && s == "Fail")
                || glibc
                    .iter()
                    .any(|(c, _, _)| c == check && check == "service.open"),
            "{check} observed"
        );
    }
    assert_eq!(musl_code, glibc_code);
    assert_eq!(
        musl.symmetric_difference(&glibc).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "the same findings"
    );
    drop(servers);
}
