//! Against the loopback lab's real TLS servers: a scan that passes, the `--ca-file`,
//! `--connect` and `--sni` flags reaching the probe, and an HTTPS collector trusted through
//! `collector.ca_file`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use vigie_agent::{load_config, run_once, Shutdown};
use vigie_model::{Lang, Report, Status};
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::tls_server::TlsServer;

const BOUND: Duration = Duration::from_secs(60);

fn loopback() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

async fn scan(args: &[&str]) -> std::process::Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .args([
            "scan",
            "tls",
            "--resolver",
            "127.0.0.1:9",
            "--timeout",
            "5s",
            "--format",
            "json",
        ])
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(BOUND, run).await.unwrap().unwrap()
}

fn status_of(report: &Report, check: &str) -> Status {
    report
        .findings
        .iter()
        .find(|f| f.check.as_str() == check)
        .unwrap_or_else(|| panic!("no {check} finding"))
        .status
}

#[tokio::test]
async fn scan_tls_enumerates_protocols_and_suites_unless_quick() {
    let ca = TestCa::new("Vigie agent deep CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let server = TlsServer::start(loopback(), &issued).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let target = format!("www.lab.test:{}", server.addr.port());
    let base = [
        target.as_str(),
        "--connect",
        "127.0.0.1",
        "--ca-file",
        ca_file.to_str().unwrap(),
    ];

    let mut args = base.to_vec();
    args.extend(["--fail-on", "high"]);
    let output = scan(&args).await;
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{report:#?}");
    for check in [
        "tls.protocol.sslv2",
        "tls.protocol.sslv3",
        "tls.protocol.tls1_0",
        "tls.protocol.tls1_1",
    ] {
        assert_eq!(status_of(&report, check), Status::Pass, "{check}");
    }
    assert_eq!(status_of(&report, "tls.protocol.tls1_3"), Status::Pass);
    assert_eq!(
        status_of(&report, "tls.cipher.no_forward_secrecy"),
        Status::Pass
    );
    // rustls offers X25519 and ChaCha20, which ITSP.40.062 does not list: the strict view fails.
    assert_eq!(status_of(&report, "tls.policy.itsp_40_062"), Status::Fail);
    let enumeration = report.observations.tls[0]
        .enumeration
        .as_ref()
        .expect("the enumeration in the observation");
    assert!(enumeration
        .protocols
        .iter()
        .any(|p| p.protocol == "TLSv1.3" && p.accepted));

    let mut args = base.to_vec();
    args.push("--quick");
    let output = scan(&args).await;
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report.observations.tls[0].enumeration.is_none());
    assert!(!report
        .findings
        .iter()
        .any(|f| f.check.as_str().starts_with("tls.protocol.")));
}

#[tokio::test]
async fn a_good_endpoint_passes_the_gate_only_with_its_ca() {
    let ca = TestCa::new("Vigie agent test CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let server = TlsServer::start(loopback(), &issued).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let target = format!("www.lab.test:{}", server.addr.port());

    // A name no resolver knows, pinned with --connect: no DNS is needed. --quick: the
    // certificate alone (the deep scan's strict ITSP.40.062 view fails X25519, see below).
    let output = scan(&[
        &target,
        "--connect",
        "127.0.0.1",
        "--ca-file",
        ca_file.to_str().unwrap(),
        "--fail-on",
        "low",
        "--quick",
    ])
    .await;
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{report:#?}");
    assert_eq!(status_of(&report, "tls.connect"), Status::Pass);
    assert_eq!(status_of(&report, "tls.cert.untrusted"), Status::Pass);
    assert_eq!(
        status_of(&report, "tls.cert.hostname_mismatch"),
        Status::Pass
    );

    // Without the CA the chain is untrusted, and a high gate fails.
    let output = scan(&[&target, "--connect", "127.0.0.1", "--fail-on", "high"]).await;
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status_of(&report, "tls.cert.untrusted"), Status::Fail);
    assert_eq!(output.status.code(), Some(1));

    // The address as target and --sni naming the certificate: the SNI is what is checked.
    let by_address = format!("127.0.0.1:{}", server.addr.port());
    let output = scan(&[
        &by_address,
        "--sni",
        "www.lab.test",
        "--ca-file",
        ca_file.to_str().unwrap(),
    ])
    .await;
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.observations.tls[0].server_name, "www.lab.test");
    assert_eq!(
        status_of(&report, "tls.cert.hostname_mismatch"),
        Status::Pass
    );
    drop(server);
}

fn collector_config(dir: &Path, port: u16, ca_file: Option<&Path>) -> vigie_agent::AgentConfig {
    std::fs::write(dir.join("token"), "lab-token\n").unwrap();
    let ca_line = ca_file
        .map(|p| format!("ca_file = \"{}\"\n", p.display()))
        .unwrap_or_default();
    let text = format!(
        r#"org = "example-org"
[collector]
url = "https://127.0.0.1:{port}"
token_file = "token"
timeout = "5s"
{ca_line}
[agent]
outbox = "outbox"
retry_initial = "50ms"
retry_max = "100ms"
once_deadline = "1s"
"#
    );
    std::fs::write(dir.join("agent.toml"), text).unwrap();
    load_config(&dir.join("agent.toml")).unwrap()
}

#[tokio::test]
async fn an_https_collector_is_trusted_through_its_ca_file() {
    let ca = TestCa::new("Vigie collector test CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["127.0.0.1"]));
    // The lab server answers every request with `200 OK`: a collector that accepts.
    let server = TlsServer::start(loopback(), &issued).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("collector-ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();

    let untrusting = tempfile::tempdir().unwrap();
    let config = collector_config(untrusting.path(), server.addr.port(), None);
    let outcome = tokio::time::timeout(BOUND, run_once(&config, Lang::En, &Shutdown::never()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome.delivered, 0,
        "an unknown CA is not trusted: {outcome:?}"
    );
    assert_eq!(outcome.remaining, 1);

    let config = collector_config(dir.path(), server.addr.port(), Some(&ca_file));
    let outcome = tokio::time::timeout(BOUND, run_once(&config, Lang::En, &Shutdown::never()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.delivered, 1, "{outcome:?}");
    assert_eq!(outcome.remaining, 0);
    drop(server);
}
