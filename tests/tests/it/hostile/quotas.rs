//! What one agent can make is bounded: findings and distinct targets per report, stored
//! bytes per organization, bodies in memory at once, and the size and alphabet of every value
//! that becomes a metric label. Over a bound the report is refused whole: nothing is written.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::Utc;
use vigie_tests::scale;

use super::{Backend, Lab};

const ORG: &str = "birch-works";

/// Rows of every table an ingest writes to.
fn written(lab: &Lab) -> Vec<i64> {
    [
        "reports",
        "latest",
        "agents",
        "transitions",
        "tls_certificates",
    ]
    .iter()
    .map(|table| lab.count(&format!("SELECT COUNT(*) FROM {table}")))
    .collect()
}

fn detail(answer: &scale::Answer) -> String {
    answer.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn over_the_findings_and_target_limits_nothing_is_written(backend: Backend) {
    let lab = Lab::start(backend, &["--max-findings", "50", "--max-targets", "2"]);
    let token = lab.agent_token(ORG, "srv01");
    let before = written(&lab);

    // 60 findings over 3 targets (20 checks each): over the findings limit first.
    let id = scale::report_id(2, 1, 1);
    let body = scale::report_json(&id, ORG, "srv01", "t-", 60, Utc::now());
    let answer = lab.post_report(&token, &body);
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.json()["error"], "report_over_limit");
    let text = detail(&answer);
    assert!(
        text.contains("60 findings") && text.contains("50") && text.contains("--max-findings"),
        "{text}"
    );
    assert_eq!(written(&lab), before, "nothing written");

    // 40 findings, but over 3 distinct targets: 2 from the findings, 1 listed only.
    let id = scale::report_id(2, 1, 2);
    let mut report: serde_json::Value =
        serde_json::from_str(&scale::report_json(&id, ORG, "srv01", "t-", 40, Utc::now())).unwrap();
    report["targets"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"kind": "tls", "target": "extra.birch.example:443"}));
    let answer = lab.post_report(&token, &report.to_string());
    assert_eq!(answer.status, 413, "{}", answer.body);
    let text = detail(&answer);
    assert!(
        text.contains("3 distinct targets") && text.contains("--max-targets"),
        "{text}"
    );
    assert_eq!(written(&lab), before, "nothing written");

    // Within both limits: stored.
    let id = scale::report_id(2, 1, 3);
    let body = scale::report_json(&id, ORG, "srv01", "t-", 40, Utc::now());
    assert_eq!(lab.post_report(&token, &body).status, 201);
}

#[test]
fn over_the_findings_and_target_limits_nothing_is_written_sqlite() {
    over_the_findings_and_target_limits_nothing_is_written(Backend::Sqlite);
}

#[test]
fn over_the_findings_and_target_limits_nothing_is_written_postgres() {
    over_the_findings_and_target_limits_nothing_is_written(Backend::Postgres);
}

fn an_organization_over_its_storage_budget_is_refused_alone(backend: Backend) {
    // About 6 KB a report of 20 findings (stored compressed on SQLite, about a tenth): the
    // budget holds a few, or a few dozen.
    let lab = Lab::start(backend, &["--org-storage-bytes", "30000"]);
    let token = lab.agent_token(ORG, "srv01");
    let other = lab.agent_token("rowan-farm", "srv01");
    let mut stored = Vec::new();
    let mut refused = None;
    for n in 0..200 {
        let id = scale::report_id(3, 1, n);
        let body = scale::report_json(&id, ORG, "srv01", "t-", 20, Utc::now());
        let answer = lab.post_report(&token, &body);
        match answer.status {
            201 => stored.push(body),
            429 => {
                refused = Some((id, answer));
                break;
            }
            status => panic!("unexpected {status}: {}", answer.body),
        }
    }
    let (id, answer) = refused.expect("the budget was reached within 200 reports");
    assert!(
        stored.len() >= 2,
        "{} stored before the budget",
        stored.len()
    );
    assert_eq!(answer.json()["error"], "storage_budget_exceeded");
    assert!(answer.header("retry-after").is_some(), "Retry-After");
    let text = detail(&answer);
    assert!(
        text.contains("30000") && text.contains("prune") && text.contains("--org-storage-bytes"),
        "{text}"
    );
    assert_eq!(
        lab.count(&format!(
            "SELECT COUNT(*) FROM reports WHERE report_id = '{id}'"
        )),
        0
    );
    assert_eq!(
        lab.count(&format!("SELECT COUNT(*) FROM reports WHERE org = '{ORG}'")),
        stored.len() as i64
    );
    // A report already stored is still acknowledged: the agent may clear its outbox.
    assert_eq!(lab.post_report(&token, &stored[0]).status, 200);
    // Another organization is not affected.
    let id = scale::report_id(3, 2, 1);
    let body = scale::report_json(&id, "rowan-farm", "srv01", "t-", 20, Utc::now());
    assert_eq!(lab.post_report(&other, &body).status, 201);
    // Deleting reports frees the budget: the running total follows every delete.
    lab.execute(&format!(
        "DELETE FROM reports WHERE org = '{ORG}' AND report_id NOT IN (SELECT last_report_id FROM agents WHERE last_report_id IS NOT NULL) AND report_id NOT IN (SELECT report_id FROM latest) AND report_id NOT IN (SELECT report_id FROM tls_certificates)"
    ));
    let left = lab.count(&format!("SELECT COUNT(*) FROM reports WHERE org = '{ORG}'"));
    assert!(left < stored.len() as i64, "some reports were deleted");
    let id = scale::report_id(3, 1, 100);
    let body = scale::report_json(&id, ORG, "srv01", "t-", 20, Utc::now());
    let answer = lab.post_report(&token, &body);
    assert_eq!(answer.status, 201, "{}", answer.body);
}

#[test]
fn an_organization_over_its_storage_budget_is_refused_alone_sqlite() {
    an_organization_over_its_storage_budget_is_refused_alone(Backend::Sqlite);
}

#[test]
fn an_organization_over_its_storage_budget_is_refused_alone_postgres() {
    an_organization_over_its_storage_budget_is_refused_alone(Backend::Postgres);
}

/// A request that declares a large body and sends only its first bytes.
fn stalled_upload(lab: &Lab, token: &str, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(lab.collector.addr).expect("a connection");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"schema\":",
        lab.collector.addr
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Whatever answer arrives within the stream's read timeout.
fn answer_of(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = vec![0u8; 4096];
    match stream.read(&mut buffer) {
        Ok(n) if n > 0 => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
        _ => None,
    }
}

/// The in-flight budget is the collector's, not a store's: SQLite only.
#[test]
fn bodies_over_the_in_flight_budget_are_refused_at_once() {
    // Two 60,000-byte bodies fill the 128 KiB budget.
    let lab = Lab::start(
        Backend::Sqlite,
        &[
            "--max-body-bytes",
            "65536",
            "--max-inflight-body-bytes",
            "131072",
        ],
    );
    let token = lab.agent_token(ORG, "srv01");
    let streams: Vec<TcpStream> = (0..6)
        .map(|_| stalled_upload(&lab, &token, 60_000))
        .collect();
    // Each read in its own thread: the held uploads get no answer within the timeout.
    let readers: Vec<_> = streams
        .iter()
        .map(|stream| {
            let mut stream = stream.try_clone().unwrap();
            std::thread::spawn(move || {
                let started = Instant::now();
                answer_of(&mut stream).map(|answer| (answer, started.elapsed()))
            })
        })
        .collect();
    let answers: Vec<Option<(String, Duration)>> =
        readers.into_iter().map(|r| r.join().unwrap()).collect();
    let refused: Vec<&(String, Duration)> = answers.iter().flatten().collect();
    assert_eq!(refused.len(), 4, "two held, four refused: {answers:?}");
    for (answer, took) in &refused {
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("retry-after:"),
            "{answer}"
        );
        assert!(answer.contains("collector_busy"), "{answer}");
        assert!(answer.contains("--max-inflight-body-bytes"), "{answer}");
        assert!(
            *took < Duration::from_secs(2),
            "refused at once, not after {took:?}"
        );
    }

    // The collector still answers, and a small report still fits in what is left.
    let asked = Instant::now();
    let health = scale::request(lab.collector.addr, "GET", "/healthz", None, None).unwrap();
    assert_eq!(health.status, 200);
    assert!(asked.elapsed() < Duration::from_secs(1));
    let id = scale::report_id(4, 1, 1);
    let small = scale::report_json(&id, ORG, "srv01", "t-", 20, Utc::now());
    assert!(small.len() < 131_072 - 2 * 60_000 - 2048);
    assert_eq!(lab.post_report(&token, &small).status, 201);

    // Once the held uploads end, their share comes back.
    drop(streams);
    let id = scale::report_id(4, 1, 2);
    let large = scale::report_json(&id, ORG, "srv01", "u-", 180, Utc::now());
    assert!(
        large.len() > 40_000 && large.len() < 65_536,
        "{}",
        large.len()
    );
    let mut status = 0;
    for _ in 0..50 {
        status = lab.post_report(&token, &large).status;
        if status != 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 201);
}

fn one_service_finding(id: &str, evidence: serde_json::Value) -> String {
    let mut report: serde_json::Value =
        serde_json::from_str(&scale::report_json(id, ORG, "srv01", "t-", 0, Utc::now())).unwrap();
    report["targets"] = serde_json::json!([{"kind": "services", "target": "127.0.0.5"}]);
    report["findings"] = serde_json::json!([{
        "check": "service.open",
        "target": "127.0.0.5:6379",
        "status": "info",
        "severity": "info",
        "summary": "port open",
        "evidence": evidence,
    }]);
    report.to_string()
}

fn metric_labels_are_bounded(backend: Backend) {
    let lab = Lab::start(backend, &[]);
    let token = lab.agent_token(ORG, "srv01");
    let before = written(&lab);
    for (n, evidence, field) in [
        (
            1,
            serde_json::json!({"port": 70000, "service": "redis"}),
            "port",
        ),
        (
            2,
            serde_json::json!({"port": 6379, "service": "x".repeat(64 * 1024)}),
            "service",
        ),
        (
            3,
            serde_json::json!({"port": 6379, "service": "Redis Server"}),
            "service",
        ),
    ] {
        let id = scale::report_id(5, 1, n);
        let answer = lab.post_report(&token, &one_service_finding(&id, evidence));
        assert_eq!(answer.status, 422, "{}", answer.body);
        let text = detail(&answer);
        assert!(
            text.contains("finding 0 (service.open)") && text.contains(field),
            "{text}"
        );
        assert!(text.len() < 1024, "the value is not sent back whole");
    }
    let long_target = format!("{}.example:443", "a".repeat(300));
    let id = scale::report_id(5, 1, 4);
    let mut report: serde_json::Value =
        serde_json::from_str(&one_service_finding(&id, serde_json::json!({}))).unwrap();
    report["findings"][0]["target"] = serde_json::json!(long_target);
    let answer = lab.post_report(&token, &report.to_string());
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(detail(&answer).contains("target"), "{}", answer.body);
    assert_eq!(written(&lab), before, "nothing written");

    // A valid one, then its row changed as an older collector could have stored it.
    let id = scale::report_id(5, 1, 5);
    let good = one_service_finding(&id, serde_json::json!({"port": 6379, "service": "redis"}));
    assert_eq!(lab.post_report(&token, &good).status, 201);
    let huge = "x".repeat(100_000);
    lab.execute(&format!(
        "UPDATE latest SET evidence = '{{\"port\": 70000, \"service\": \"{huge}\"}}' WHERE org = '{ORG}'"
    ));
    let id = scale::report_id(5, 2, 1);
    let other = lab.agent_token(ORG, "srv02");
    let body = scale::report_json(&id, ORG, "srv02", "t-", 20, Utc::now());
    assert_eq!(lab.post_report(&other, &body).status, 201);
    lab.execute(&format!(
        "UPDATE latest SET target = '{}' WHERE org = '{ORG}' AND agent_id = 'srv02'",
        "y".repeat(10_000)
    ));
    let metrics = lab.scrape();
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    let longest = metrics.body.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1024, "a /metrics line of {longest} bytes");
    assert!(!metrics.body.contains("xxxxxxxx") && !metrics.body.contains("yyyyyyyy"));
    assert!(
        metrics.body.contains("port=\"6379\",service=\"unknown\""),
        "the stored row's own port and no service name"
    );
}

#[test]
fn metric_labels_are_bounded_sqlite() {
    metric_labels_are_bounded(Backend::Sqlite);
}

#[test]
fn metric_labels_are_bounded_postgres() {
    metric_labels_are_bounded(Backend::Postgres);
}
