//! `scan tls --starttls`: the agent reaches a TLS server through an IMAP front on loopback
//! (real preamble), and a POP3 front that refuses STLS is an error finding saying so.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vigie_model::{Report, Status};
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::starttls_proxy::{MailProtocol, StarttlsProxy};
use vigie_tests::tls_server::TlsServer;

const BOUND: Duration = Duration::from_secs(90);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn scan(args: &[&str]) -> Report {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .args([
            "scan",
            "tls",
            "--resolver",
            "127.0.0.1:9",
            "--format",
            "json",
        ])
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run).await.unwrap().unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)))
}

#[tokio::test]
async fn scan_tls_speaks_starttls_when_asked() {
    let ca = TestCa::new("Vigie agent STARTTLS CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["mail.lab.test"]));
    let server = TlsServer::start(ip(81), &issued).await.unwrap();
    let imap = StarttlsProxy::start(ip(82), MailProtocol::Imap, server.addr, true)
        .await
        .unwrap();
    let pop3 = StarttlsProxy::start(ip(83), MailProtocol::Pop3, server.addr, false)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let ca_file = ca_file.to_str().unwrap();

    let target = format!("mail.lab.test:{}", imap.addr.port());
    let report = scan(&[
        &target,
        "--connect",
        "127.0.0.82",
        "--ca-file",
        ca_file,
        "--starttls",
        "imap",
    ])
    .await;
    let status = |report: &Report, check: &str| {
        report
            .findings
            .iter()
            .find(|f| f.check.as_str() == check)
            .map(|f| (f.status, f.summary.clone()))
            .unwrap_or_else(|| panic!("no {check}"))
    };
    assert_eq!(status(&report, "tls.connect").0, Status::Pass);
    assert_eq!(status(&report, "tls.cert.untrusted").0, Status::Pass);
    assert_eq!(status(&report, "tls.protocol.tls1_3").0, Status::Pass);
    assert!(
        imap.upgrades() > 10,
        "the enumeration went through the preamble"
    );

    let target = format!("mail.lab.test:{}", pop3.addr.port());
    let report = scan(&[&target, "--connect", "127.0.0.83", "--starttls", "pop3"]).await;
    let (connect, summary) = status(&report, "tls.connect");
    assert_eq!(connect, Status::Error);
    assert!(summary.contains("STARTTLS was not offered"), "{summary}");
    assert!(report.observations.tls[0].enumeration.is_none());
}
