//! Retention and regrading through the binary: `vigie-collector prune` and the daily task of
//! `serve` with `[retention] reports_days` delete old raw reports, keep the report the current
//! state points at and keep the history; `vigie-collector regrade` says what it did. (The
//! store's rules themselves are in the conformance suite, on both backends.)

use crate::common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::cli::{collector, database_url, run};
use common::{fixture_report, t0, ORG};
use vigie_collector::store::IncomingReport;
use vigie_collector::{Store, TokenKind};
use vigie_model::Status;

/// A database with three scans of one agent received 30 days ago; returns the transition
/// count.
async fn seed(dir: &Path) -> u64 {
    let store = Store::open(&database_url(dir)).await.unwrap();
    store
        .create_token(TokenKind::Agent, Some(ORG), "srv01")
        .await
        .unwrap();
    for (hours, status) in [(0, Status::Pass), (6, Status::Fail), (12, Status::Pass)] {
        let report = fixture_report(ORG, t0() + chrono::Duration::hours(hours), status);
        let body = serde_json::to_string(&report).unwrap();
        store
            .ingest(
                IncomingReport::new(report, body, Utc::now() - chrono::Duration::days(30)).unwrap(),
            )
            .await
            .unwrap();
    }
    count(&store, "transitions").await
}

async fn count(store: &Store, table: &str) -> u64 {
    store
        .row_counts()
        .await
        .unwrap()
        .into_iter()
        .find(|(t, _)| *t == table)
        .map(|(_, n)| n)
        .unwrap()
}

#[tokio::test]
async fn prune_deletes_old_reports_but_not_the_current_ones_nor_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let transitions = seed(dir.path()).await;
    assert!(transitions >= 3, "{transitions}");

    // Nothing is older than 31 days.
    let output = run(collector().args([
        "prune",
        "--older-than-days",
        "31",
        "--database-url",
        &database_url(dir.path()),
    ]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("deleted 0 reports"), "{stderr}");

    let output = run(collector().args([
        "prune",
        "--older-than-days",
        "7",
        "--database-url",
        &database_url(dir.path()),
    ]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("deleted 2 reports"), "{stderr}");

    let store = Store::open(&database_url(dir.path())).await.unwrap();
    assert_eq!(count(&store, "reports").await, 1);
    assert_eq!(count(&store, "transitions").await, transitions);
    let detail = store.org(ORG).await.unwrap().unwrap();
    assert!(!detail.findings.is_empty(), "the current state is intact");
    assert!(detail
        .findings
        .iter()
        .all(|f| f.observed_at == t0() + chrono::Duration::hours(12)));
}

#[test]
fn prune_without_an_age_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(collector().args(["prune", "--database-url", &database_url(dir.path())]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("reports_days"), "{stderr}");
    let output = run(collector().args([
        "prune",
        "--older-than-days",
        "0",
        "--database-url",
        &database_url(dir.path()),
    ]));
    assert_eq!(output.status.code(), Some(2));
}

/// The server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_with_retention_prunes_at_start() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase_url = \"{}\"\n\n[retention]\nreports_days = 7\n",
            database_url(dir.path())
        ),
    )
    .unwrap();
    let _server = Server(
        collector()
            .args(["serve", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let store = Store::open(&database_url(dir.path())).await.unwrap();
    let mut reports = 3;
    for _ in 0..200 {
        reports = count(&store, "reports").await;
        if reports == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reports, 1, "serve did not prune within 20 s");
}

#[test]
fn a_bad_retention_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "[retention]\nreports_days = 0\n").unwrap();
    let output = run(collector()
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--database-url", &database_url(dir.path())]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retention.reports_days"), "{stderr}");
}

#[tokio::test]
async fn regrade_command_regrades_each_agents_newest_report() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path()).await;
    let output = run(collector().args(["regrade", "--database-url", &database_url(dir.path())]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The fixture's hand-written findings are a few of what its observations grade to: the
    // certificate checks it lacks are added.
    assert!(stderr.contains("regraded 1 reports"), "{stderr}");
    assert!(!stderr.contains(" 0 added"), "{stderr}");
}
