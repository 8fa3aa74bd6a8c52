//! `--profile` and `[tls] profile`: one loopback rustls endpoint (TLS 1.3 with X25519 and
//! ChaCha20-Poly1305, which ITSP.40.062 does not list) graded under two profiles.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vigie_model::{Report, Severity, Status};
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::tls_server::TlsServer;

const BOUND: Duration = Duration::from_secs(60);

async fn agent(args: &[&str]) -> (Option<i32>, Report) {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run).await.unwrap().unwrap();
    let report: Report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: stderr {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), report)
}

fn itsp(report: &Report) -> (Status, Severity) {
    let finding = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "tls.policy.itsp_40_062")
        .expect("a tls.policy.itsp_40_062 finding");
    (finding.status, finding.severity)
}

#[tokio::test]
async fn the_same_endpoint_under_two_profiles_gets_different_verdicts() {
    let ca = TestCa::new("Vigie profile CA");
    let issued = ca.issue(&LeafSpec::valid_for(&["www.lab.test"]));
    let server = TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &issued)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let target = format!("www.lab.test:{}", server.addr.port());
    let scan = |profile: &'static str| {
        let (target, ca_file) = (target.clone(), ca_file.clone());
        async move {
            agent(&[
                "scan",
                "tls",
                &target,
                "--connect",
                "127.0.0.1",
                "--resolver",
                "127.0.0.1:9",
                "--ca-file",
                ca_file.to_str().unwrap(),
                "--format",
                "json",
                "--fail-on",
                "medium",
                "--profile",
                profile,
            ])
            .await
        }
    };

    let (modern_exit, modern) = scan("modern").await;
    let (strict_exit, strict) = scan("itsp-strict").await;
    assert_eq!(modern.profile.as_deref(), Some("modern"));
    assert_eq!(strict.profile.as_deref(), Some("itsp-strict"));
    // The strict ITSP.40.062 view fails under both; only its severity follows the profile.
    assert_eq!(itsp(&modern), (Status::Fail, Severity::Low));
    assert_eq!(itsp(&strict), (Status::Fail, Severity::Medium));
    // So the overall verdict (the --fail-on gate) differs.
    assert_eq!(modern_exit, Some(0), "{:#?}", modern.findings);
    assert_eq!(strict_exit, Some(1));
    let list = |report: &Report| {
        report
            .findings
            .iter()
            .find(|f| f.check.as_str() == "tls.cipher.list")
            .and_then(|f| f.evidence.get("profile").cloned())
    };
    assert_eq!(list(&strict), Some(serde_json::json!("itsp-strict")));

    // `scan all` reads [tls] profile, and --profile overrides it.
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"example-org\"\n[dns]\nresolvers = [\"127.0.0.1:9\"]\n[tls]\ntargets = [\"127.0.0.1:{}\"]\nprofile = \"itsp-strict\"\n",
            server.addr.port()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (_, from_file) = agent(&["scan", "all", "--format", "json", "--config", config]).await;
    assert_eq!(from_file.profile.as_deref(), Some("itsp-strict"));
    assert_eq!(itsp(&from_file).1, Severity::Medium);
    let (_, overridden) = agent(&[
        "scan",
        "all",
        "--format",
        "json",
        "--config",
        config,
        "--profile",
        "modern",
    ])
    .await;
    assert_eq!(overridden.profile.as_deref(), Some("modern"));
    assert_eq!(itsp(&overridden).1, Severity::Low);
}

#[tokio::test]
async fn an_unknown_profile_is_a_usage_error() {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .args(["scan", "tls", "127.0.0.1:9", "--profile", "strict"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("itsp-strict"), "{stderr}");
}
