//! End to end: real collector and agent binaries, real TLS servers on loopback with
//! certificates made for the occasion, and what the collector stores and exposes.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use vigie_tests::harness::{self, metric_value, Collector, Process};
use vigie_tests::pki::{self, LeafSpec, TestCa};
use vigie_tests::postgres::PostgresServer;
use vigie_tests::tls_server::TlsServer;

const ORG: &str = "lab-org";

/// The lab: one endpoint per certificate defect, each on its own loopback address.
struct Lab {
    ca: TestCa,
    good: TlsServer,
    expired: TlsServer,
    wrong_name: TlsServer,
    untrusted: TlsServer,
    self_signed: TlsServer,
    good_not_after: chrono::DateTime<Utc>,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn start_lab() -> Lab {
    let ca = TestCa::new("Vigie E2E CA");
    let good_spec = LeafSpec::valid_for(&["127.0.0.2"]);
    let good_not_after = good_spec.not_after;
    let good = TlsServer::start(ip(2), &ca.issue(&good_spec))
        .await
        .unwrap();
    let expired_spec = LeafSpec {
        names: vec!["127.0.0.3".into()],
        not_before: Utc::now() - Days::days(120),
        not_after: Utc::now() - Days::days(2),
    };
    let expired = TlsServer::start(ip(3), &ca.issue(&expired_spec))
        .await
        .unwrap();
    let wrong_name = TlsServer::start(
        ip(4),
        &ca.issue(&LeafSpec::valid_for(&["www.elsewhere.test"])),
    )
    .await
    .unwrap();
    let stranger = TestCa::new("Unknown CA");
    let untrusted = TlsServer::start(ip(5), &stranger.issue(&LeafSpec::valid_for(&["127.0.0.5"])))
        .await
        .unwrap();
    let self_signed = TlsServer::start(
        ip(6),
        &pki::self_signed(&LeafSpec::valid_for(&["127.0.0.6"])),
    )
    .await
    .unwrap();
    Lab {
        ca,
        good,
        expired,
        wrong_name,
        untrusted,
        self_signed,
        good_not_after,
    }
}

impl Lab {
    fn targets(&self) -> Vec<String> {
        [
            &self.good,
            &self.expired,
            &self.wrong_name,
            &self.untrusted,
            &self.self_signed,
        ]
        .iter()
        .map(|s| s.addr.to_string())
        .collect()
    }
}

fn write_agent_config(
    dir: &Path,
    collector: &Collector,
    token: &str,
    lab: &Lab,
    schedule: &str,
) -> std::path::PathBuf {
    std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
    std::fs::write(dir.join("ca.pem"), lab.ca.cert_pem()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("token"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let targets: Vec<String> = lab.targets().iter().map(|t| format!("\"{t}\"")).collect();
    let config = format!(
        r#"org = "{ORG}"

[collector]
url = "http://{addr}"
token_file = "{dir}/token"

[agent]
id = "agent-{ORG}"
schedule = "{schedule}"
outbox = "{dir}/outbox"
retry_initial = "100ms"
retry_max = "500ms"
once_deadline = "30s"

[tls]
targets = [{targets}]
ca_file = "{dir}/ca.pem"
timeout = "3s"
"#,
        addr = collector.addr,
        dir = dir.display(),
        targets = targets.join(", "),
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn outbox_reports(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect()
}

fn stored_report_ids(collector: &Collector) -> Vec<String> {
    let path = collector.database_url.trim_start_matches("sqlite://");
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut statement = db
        .prepare("SELECT report_id FROM reports ORDER BY report_id")
        .unwrap();
    let ids = statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap();
    ids.map(|id| id.unwrap()).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn agent_scans_loopback_tls_and_collector_stores_and_exposes_the_verdicts() {
    full_pipeline(None);
}

/// The same pipeline with the collector on PostgreSQL (a real server started for the test).
#[test]
fn agent_scans_loopback_tls_and_a_collector_on_postgresql_stores_and_exposes_the_verdicts() {
    full_pipeline(Some(PostgresServer::start("127.0.72.1")));
}

/// Agent → collector (over SQLite in a scratch folder, or over `postgres`) → read API and
/// metrics.
fn full_pipeline(postgres: Option<PostgresServer>) {
    let rt = runtime();
    let lab = rt.block_on(start_lab());
    let dir = tempfile::tempdir().unwrap();
    let collector = match &postgres {
        Some(server) => Collector::start_with_url(server.create_database("vigie")),
        None => Collector::start(dir.path()),
    };
    let token = collector.agent_token(ORG);
    let viewer = collector.viewer_token();
    let config = write_agent_config(dir.path(), &collector, &token, &lab, "6h");

    let output = harness::run(
        Command::new(harness::binary("vigie-agent"))
            .args(["run", "--once", "--config"])
            .arg(&config),
        Duration::from_secs(90),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "agent run --once failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        outbox_reports(dir.path()).is_empty(),
        "the delivered report is still in the outbox"
    );
    let stored = match &postgres {
        Some(server) => server.psql("vigie", "SELECT COUNT(*) FROM reports"),
        None => stored_report_ids(&collector).len().to_string(),
    };
    assert_eq!(stored, "1");

    // What the collector exposes to Prometheus.
    let scraper = collector.scraper_token();
    let (status, metrics) = harness::http_get(&collector.url("/metrics"), Some(&scraper)).unwrap();
    assert_eq!(status, 200);
    // Each target's verdicts come from the read API (the metrics carry counts per
    // organization and check, not one series a target).
    let (status, body) = harness::http_get(
        &collector.url(&format!("/api/v1/orgs/{ORG}")),
        Some(&viewer),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
    let check = |target: &TlsServer, check: &str| {
        let target = target.addr.to_string();
        detail["findings"].as_array()?.iter().find_map(|f| {
            (f["check"] == check && f["target"] == target.as_str()).then(|| {
                match f["status"].as_str() {
                    Some("pass") => 0.0,
                    Some("warn") => 1.0,
                    Some("fail") => 2.0,
                    Some("error") => 3.0,
                    other => panic!("{check} on {target}: status {other:?}"),
                }
            })
        })
    };
    // The organization's failing checks are counted in /metrics.
    for (id, severity) in [
        ("tls.cert.expired", "critical"),
        ("tls.cert.hostname_mismatch", "high"),
    ] {
        let targets = metric_value(
            &metrics,
            "vigie_check_failing",
            &[
                ("org", ORG),
                ("check", id),
                ("status", "fail"),
                ("severity", severity),
            ],
        );
        assert!(targets.is_some_and(|n| n >= 1.0), "{id}:\n{metrics}");
    }
    let cert_checks = [
        "tls.connect",
        "tls.cert.untrusted",
        "tls.cert.self_signed",
        "tls.cert.hostname_mismatch",
        "tls.cert.expired",
        "tls.cert.not_yet_valid",
        "tls.cert.expiring",
    ];
    for id in cert_checks {
        assert_eq!(
            check(&lab.good, id),
            Some(0.0),
            "good endpoint, {id}:\n{metrics}"
        );
    }
    assert_eq!(check(&lab.expired, "tls.cert.expired"), Some(2.0));
    assert_eq!(
        check(&lab.expired, "tls.cert.untrusted"),
        Some(0.0),
        "expiry must not mask trust"
    );
    assert_eq!(
        check(&lab.wrong_name, "tls.cert.hostname_mismatch"),
        Some(2.0)
    );
    assert_eq!(check(&lab.wrong_name, "tls.cert.untrusted"), Some(0.0));
    assert_eq!(check(&lab.untrusted, "tls.cert.untrusted"), Some(2.0));
    assert_eq!(
        check(&lab.untrusted, "tls.cert.hostname_mismatch"),
        Some(0.0)
    );
    assert_eq!(check(&lab.self_signed, "tls.cert.self_signed"), Some(2.0));
    let not_after = metric_value(
        &metrics,
        "vigie_tls_cert_not_after_timestamp_seconds",
        &[("org", ORG), ("target", &lab.good.addr.to_string())],
    )
    .expect("certificate expiry metric");
    assert!((not_after - lab.good_not_after.timestamp() as f64).abs() <= 1.0);
    assert!(metric_value(
        &metrics,
        "vigie_agent_last_report_timestamp_seconds",
        &[("org", ORG)]
    )
    .is_some());
    assert_eq!(
        metric_value(
            &metrics,
            "vigie_ingest_reports_total",
            &[("result", "stored")]
        ),
        Some(1.0)
    );
    let failing = metric_value(
        &metrics,
        "vigie_findings",
        &[("org", ORG), ("severity", "critical"), ("status", "fail")],
    );
    assert!(
        failing.is_some_and(|n| n >= 1.0),
        "the expired certificate counts as a critical failure"
    );

    // What the read API shows, and that it needs a viewer token.
    let (status, _) =
        harness::http_get(&collector.url(&format!("/api/v1/orgs/{ORG}")), None).unwrap();
    assert_eq!(status, 401);
    let (status, _) =
        harness::http_get(&collector.url(&format!("/api/v1/orgs/{ORG}")), Some(&token)).unwrap();
    assert_eq!(status, 403, "an agent token must not read");
    let (status, body) = harness::http_get(
        &collector.url(&format!("/api/v1/orgs/{ORG}")),
        Some(&viewer),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let org: serde_json::Value = serde_json::from_str(&body).unwrap();
    let findings = org["findings"].as_array().expect("findings array");
    let expired = findings
        .iter()
        .find(|f| f["check"] == "tls.cert.expired" && f["target"] == lab.expired.addr.to_string())
        .expect("expired finding stored");
    assert_eq!(expired["status"], "fail");
    assert_eq!(expired["severity"], "critical");
}

#[test]
fn report_spooled_while_the_collector_is_down_arrives_exactly_once_when_it_is_back() {
    let rt = runtime();
    let lab = rt.block_on(start_lab());
    let dir = tempfile::tempdir().unwrap();
    let mut collector = Collector::start(dir.path());
    let token = collector.agent_token(ORG);
    // The collector goes away before the agent's first upload.
    assert_eq!(
        collector.stop(),
        Some(0),
        "collector exits cleanly on SIGTERM"
    );
    let config = write_agent_config(dir.path(), &collector, &token, &lab, "1h");

    let mut agent = Process::spawn(
        "vigie-agent",
        Command::new(harness::binary("vigie-agent"))
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info"),
    );
    let spooled = harness::wait_until(Duration::from_secs(60), || {
        !outbox_reports(dir.path()).is_empty()
    });
    assert!(spooled, "the agent never wrote its report to the outbox");
    let pending = outbox_reports(dir.path());
    assert_eq!(pending.len(), 1);
    // Let it fail a few uploads (bounded backoff of 100-500 ms) before the collector returns.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        outbox_reports(dir.path()),
        pending,
        "the report must stay until acknowledged"
    );
    assert!(
        agent.try_exit_code().is_none(),
        "the agent must keep running while the collector is down"
    );

    collector.restart();
    let delivered = harness::wait_until(Duration::from_secs(30), || {
        outbox_reports(dir.path()).is_empty()
    });
    assert!(
        delivered,
        "the spooled report was not delivered after the collector came back"
    );
    let stored = stored_report_ids(&collector);
    assert_eq!(stored.len(), 1, "stored exactly once: {stored:?}");
    assert!(
        pending[0].contains(&stored[0]),
        "the stored report is the spooled one: {pending:?} vs {stored:?}"
    );

    assert_eq!(
        agent.terminate(Duration::from_secs(10)),
        Some(0),
        "the agent stops cleanly on SIGTERM"
    );
    assert_eq!(stored_report_ids(&collector).len(), 1);
}
