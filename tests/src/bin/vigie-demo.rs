//! The offline demo behind `scripts/demo`: a collector on SQLite, loopback TLS endpoints with
//! good and bad certificates, and an agent that scans them once and uploads its report.
//! Everything runs on 127.0.0.0/8 and stays up until Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use vigie_tests::harness::{self, Collector};
use vigie_tests::pki::{self, LeafSpec, TestCa};
use vigie_tests::tls_server::TlsServer;

const ORG: &str = "demo-org";

fn main() {
    if let Err(error) = demo() {
        eprintln!("vigie-demo: {error}");
        std::process::exit(1);
    }
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn demo() -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    let dir = std::env::temp_dir().join(format!("vigie-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;

    eprintln!("Starting loopback TLS endpoints with good and bad certificates…");
    let ca = TestCa::new("Vigie Demo CA");
    let stranger = TestCa::new("Some Unknown CA");
    let expired = LeafSpec {
        names: vec!["127.0.0.3".into()],
        not_before: Utc::now() - Days::days(100),
        not_after: Utc::now() - Days::days(3),
    };
    let expiring = LeafSpec {
        names: vec!["127.0.0.7".into()],
        not_before: Utc::now() - Days::days(80),
        not_after: Utc::now() + Days::days(5),
    };
    let servers = runtime.block_on(async {
        let mut servers = Vec::new();
        for (label, last, issued) in [
            (
                "valid certificate",
                2,
                ca.issue(&LeafSpec::valid_for(&["127.0.0.2"])),
            ),
            ("expired certificate", 3, ca.issue(&expired)),
            (
                "certificate for another name",
                4,
                ca.issue(&LeafSpec::valid_for(&["www.elsewhere.test"])),
            ),
            (
                "certificate from an unknown CA",
                5,
                stranger.issue(&LeafSpec::valid_for(&["127.0.0.5"])),
            ),
            (
                "self-signed certificate",
                6,
                pki::self_signed(&LeafSpec::valid_for(&["127.0.0.6"])),
            ),
            ("certificate expiring in 5 days", 7, ca.issue(&expiring)),
        ] {
            let server = TlsServer::start(ip(last), &issued)
                .await
                .map_err(|e| format!("start TLS server on 127.0.0.{last}: {e}"))?;
            eprintln!("  https://{}/  {label}", server.addr);
            servers.push(server);
        }
        Ok::<_, String>(servers)
    })?;

    let preferred = SocketAddr::from((Ipv4Addr::LOCALHOST, 8080));
    let addr = if TcpListener::bind(preferred).is_ok() {
        preferred
    } else {
        SocketAddr::from((Ipv4Addr::LOCALHOST, harness::free_port(Ipv4Addr::LOCALHOST)))
    };
    eprintln!(
        "Starting the collector on http://{addr} (SQLite in {})…",
        dir.display()
    );
    let collector = Collector::start_at(&dir, addr);
    let token = collector.agent_token(ORG);
    let viewer = collector.viewer_token();

    let ca_file = dir.join("demo-ca.pem");
    std::fs::write(&ca_file, ca.cert_pem())
        .map_err(|e| format!("write {}: {e}", ca_file.display()))?;
    let token_file = dir.join("agent-token");
    std::fs::write(&token_file, format!("{token}\n")).map_err(|e| format!("write token: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600));
    }
    let targets: Vec<String> = servers.iter().map(|s| format!("\"{}\"", s.addr)).collect();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"{ORG}\"\n\n[collector]\nurl = \"http://{addr}\"\ntoken_file = \"{}\"\n\n[agent]\nid = \"agent-{ORG}\"\nschedule = \"6h\"\noutbox = \"{}\"\n\n[tls]\ntargets = [{}]\nca_file = \"{}\"\n",
            token_file.display(),
            dir.join("outbox").display(),
            targets.join(", "),
            ca_file.display()
        ),
    )
    .map_err(|e| format!("write {}: {e}", config.display()))?;

    eprintln!(
        "\nThe agent's view (`vigie-agent scan all --config {}`):\n",
        config.display()
    );
    let status = Command::new(harness::binary("vigie-agent"))
        .args(["scan", "all", "--config"])
        .arg(&config)
        .status()
        .map_err(|e| format!("run vigie-agent: {e}"))?;
    eprintln!("(exit status {})", status.code().unwrap_or(-1));

    eprintln!("\nUploading one report (`vigie-agent run --once`)…");
    let output = harness::run(
        Command::new(harness::binary("vigie-agent"))
            .args(["run", "--once", "--config"])
            .arg(&config),
        Duration::from_secs(120),
    );
    if !output.status.success() {
        return Err(format!(
            "agent run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }

    let scraper = collector.scraper_token();
    let (_, metrics) = harness::http_get(&collector.url("/metrics"), Some(&scraper))
        .ok_or("cannot read /metrics")?;
    let count = |status: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("vigie_findings{") && l.contains(&format!("status=\"{status}\""))
            })
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
            .sum()
    };
    println!("\nThe collector now holds the latest state of {ORG}:");
    println!(
        "  pass {}  fail {}  warn {}  error {}",
        count("pass"),
        count("fail"),
        count("warn"),
        count("error")
    );
    println!("\nTry it:");
    println!(
        "  curl -s -H 'Authorization: Bearer {scraper}' http://{addr}/metrics | grep '^vigie_'"
    );
    println!("  curl -s -H 'Authorization: Bearer {viewer}' http://{addr}/api/v1/orgs");
    println!("  curl -s -H 'Authorization: Bearer {viewer}' http://{addr}/api/v1/orgs/{ORG}");
    println!("\nPress Ctrl-C to stop everything.");

    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    drop(collector);
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("Stopped.");
    Ok(())
}
