//! The collector on PostgreSQL when the database goes away: ingest answers 503 with
//! `Retry-After` and stores nothing, `/readyz` fails, and once the server is back the same
//! report is stored (exactly once) on the pool's fresh connections, with no restart of the
//! collector.

use std::time::Duration;

use chrono::Utc;
use vigie_tests::postgres::PostgresServer;
use vigie_tests::scale::{self, CollectorProcess};

#[test]
fn postgresql_away_answers_503_and_the_collector_recovers_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut postgres = PostgresServer::start("127.0.74.1");
    let collector = CollectorProcess::start_with_url(
        dir.path(),
        postgres.create_database("vigie"),
        &["--rate-limit", "0"],
    );
    let token = collector.agent_token("org-pg", "srv01");
    // Each report's body is fixed once, so that sending it again is a duplicate.
    let at = Utc::now();
    let post = |id: &str| {
        let body = scale::report_json(id, "org-pg", "srv01", "srv01-", 20, at);
        scale::request(
            collector.addr,
            "POST",
            "/api/v1/reports",
            Some(&token),
            Some(&body),
        )
        .unwrap()
    };
    let first = scale::report_id(1, 0, 0);
    assert_eq!(post(&first).status, 201);

    postgres.stop();
    let second = scale::report_id(1, 0, 1);
    let away = post(&second);
    assert_eq!(away.status, 503, "{}", away.body);
    assert!(away.body.contains("store_unavailable"), "{}", away.body);
    assert_eq!(away.header("retry-after"), Some("5"));
    let ready = scale::request(collector.addr, "GET", "/readyz", None, None).unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);

    postgres.restart();
    // The pool drops the connections the restart closed and opens new ones: bounded retries
    // while the first requests may still meet a dead connection.
    let mut status = 0;
    for _ in 0..20 {
        status = post(&second).status;
        if status == 201 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status, 201, "not stored after the database came back");
    assert_eq!(
        post(&second).status,
        200,
        "stored once: the retry is a duplicate"
    );
    let ready = scale::request(collector.addr, "GET", "/readyz", None, None).unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(postgres.psql("vigie", "SELECT COUNT(*) FROM reports"), "2");
    drop(collector);
}
