//! Timestamps: an agent's clock (or a hostile agent) must not break what every organization
//! sees, nor freeze its own agent.
//!
//! A report dated `+10000-01-01` was stored (201), and from then on `/metrics`, the matrix
//! (API, CLI, `/ui`) failed for everyone while `/readyz` said ready; one dated 9999-12-31
//! made every later honest report of its agent "late". Now such dates are refused at ingest
//! (422, naming the accepted range), readers skip a row they cannot parse (as an older
//! collector may have stored), a far-future newest time does not freeze the agent, and
//! `/readyz` reads the tables the readers read.

use chrono::{DateTime, Duration, Utc};
use vigie_tests::postgres::PostgresServer;
use vigie_tests::scale::{report_id, report_json, request, CollectorProcess};

use super::{Backend, Lab};

/// A report of `org` by `agent` with 20 findings (over one target named by `prefix`),
/// started 4 s before it finished.
fn report(n: u64, org: &str, agent: &str, prefix: &str, finished_at: DateTime<Utc>) -> String {
    report_json(&report_id(14, n, 1), org, agent, prefix, 20, finished_at)
}

/// The same, started at an honest time: only `finished_at` is absurd.
fn report_finished(n: u64, org: &str, agent: &str, finished_at: DateTime<Utc>) -> String {
    let mut report: serde_json::Value =
        serde_json::from_str(&report(n, org, agent, "b", finished_at)).expect("JSON");
    let started = (Utc::now() - Duration::minutes(5)).to_rfc3339();
    report["started_at"] = serde_json::Value::String(started);
    report.to_string()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a test date")
}

fn post(lab: &Lab, token: &str, body: &str) -> (u16, String) {
    let answer = request(
        lab.collector.addr,
        "POST",
        "/api/v1/reports",
        Some(token),
        Some(body),
    )
    .expect("an answer to the report");
    (answer.status, answer.body)
}

fn get(lab: &Lab, path: &str, bearer: Option<&str>) -> (u16, String) {
    let answer = request(lab.collector.addr, "GET", path, bearer, None).expect("an answer");
    (answer.status, answer.body)
}

/// Runs SQL on the lab's database behind the collector's back, as an older version (or an
/// operator) would have written it.
fn plant(lab: &Lab, sql: &str) {
    match lab.backend {
        Backend::Sqlite => {
            let db = rusqlite::Connection::open(lab.collector.db_path()).expect("open the db");
            db.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy timeout");
            db.execute_batch(sql).expect("planting rows");
        }
        Backend::Postgres => {
            lab.postgres
                .as_ref()
                .expect("a PostgreSQL lab")
                .psql("vigie", sql);
        }
    }
}

fn count(lab: &Lab, sql: &str) -> i64 {
    match lab.backend {
        Backend::Sqlite => {
            let db = rusqlite::Connection::open(lab.collector.db_path()).expect("open the db");
            db.query_row(sql, [], |row| row.get(0)).expect("a count")
        }
        Backend::Postgres => lab
            .postgres
            .as_ref()
            .expect("a PostgreSQL lab")
            .psql("vigie", sql)
            .parse()
            .expect("a count"),
    }
}

/// A `/ui` session of the viewer `token`, signed in through the form.
fn ui_session(lab: &Lab, token: &str) -> String {
    use std::io::{BufReader, Write};
    let form = format!("token={}&lang=en", vigie_tests::harness::url_encode(token));
    let addr = lab.collector.addr;
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut reader = BufReader::new(stream);
    write!(
        reader.get_mut(),
        "POST /ui/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .expect("send the login form");
    let answer = vigie_tests::scale::read_answer(&mut reader).expect("a login answer");
    assert_eq!(answer.status, 303, "{}", answer.body);
    answer
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

fn ui_page(lab: &Lab, cookie: &str, path: &str) -> (u16, String) {
    use std::io::{BufReader, Write};
    let addr = lab.collector.addr;
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut reader = BufReader::new(stream);
    write!(
        reader.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    )
    .expect("send the request");
    let answer = vigie_tests::scale::read_answer(&mut reader).expect("an answer");
    (answer.status, answer.body)
}

/// Every reader of the store answers, with `org-a`'s data in it: `/metrics`, the matrix
/// (API, `/ui`, CLI export), the organization's page of the read API, and `/readyz`.
fn every_reader_serves_org_a(lab: &Lab, viewer: &str) {
    let (status, metrics) = get(lab, "/metrics", Some(viewer));
    assert_eq!(status, 200, "/metrics: {metrics}");
    assert!(
        metrics.contains("vigie_agent_last_report_timestamp_seconds{org=\"org-a\""),
        "/metrics lacks org-a's agent:\n{metrics}"
    );
    let (status, matrix) = get(
        lab,
        "/api/v1/matrix?view=org&format=json&org=org-a",
        Some(viewer),
    );
    assert_eq!(status, 200, "/api/v1/matrix: {matrix}");
    assert!(matrix.contains("org-a"), "{matrix}");
    let (status, org) = get(lab, "/api/v1/orgs/org-a", Some(viewer));
    assert_eq!(status, 200, "/api/v1/orgs/org-a: {org}");
    // The attacker's own organization is served too, without its unreadable rows.
    let (status, org) = get(lab, "/api/v1/orgs/org-b", Some(viewer));
    assert_eq!(status, 200, "/api/v1/orgs/org-b: {org}");
    let (status, orgs) = get(lab, "/api/v1/orgs", Some(viewer));
    assert_eq!(status, 200, "/api/v1/orgs: {orgs}");
    let cookie = ui_session(lab, viewer);
    for path in [
        "/ui/matrix",
        "/ui/orgs",
        "/ui/orgs/org-a",
        "/ui/orgs/org-a/card",
        "/ui/triage",
    ] {
        let (status, page) = ui_page(lab, &cookie, path);
        assert_eq!(status, 200, "{path}: {page}");
    }
    let output = lab.collector.manage(&[
        "matrix", "export", "--view", "org", "--format", "json", "--out", "-",
    ]);
    assert!(
        output.status.success(),
        "matrix export failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("org-a"));
    let (status, ready) = get(lab, "/readyz", None);
    assert_eq!(status, 200, "/readyz: {ready}");
}

#[test]
fn a_report_from_year_10000_is_refused_and_a_stored_one_breaks_no_reader() {
    for backend in Backend::ALL {
        let mut lab = Lab::start(backend, &[]);
        let honest = lab.agent_token("org-a", "srv-a");
        let attacker = lab.agent_token("org-b", "srv-b");
        let viewer = lab.viewer_token("reader");
        let now = Utc::now();
        let (status, body) = post(
            &lab,
            &honest,
            &report(1, "org-a", "srv-a", "a", now - Duration::minutes(5)),
        );
        assert_eq!(status, 201, "{backend:?}: {body}");

        // Refused, with the range named, and nothing of it stored.
        let far = at("+10000-01-01T00:00:00Z");
        let (status, body) = post(&lab, &attacker, &report_finished(2, "org-b", "srv-b", far));
        assert_eq!(status, 422, "{backend:?}: {body}");
        for part in [
            "invalid_report",
            "finished_at +10000-01-01T00:00:00Z is outside the accepted range 2000-01-01T00:00:00Z to ",
            "check the agent machine's clock",
        ] {
            assert!(body.contains(part), "{backend:?}: {part} not in {body}");
        }
        // The started_at of that report is as absurd; a clock from before 2000 is too.
        let (status, body) = post(
            &lab,
            &attacker,
            &report(3, "org-b", "srv-b", "b", at("1970-01-01T00:00:04Z")),
        );
        assert_eq!(status, 422, "{backend:?}: {body}");
        assert!(body.contains("started_at 1970-01-01T00:00:00Z"), "{body}");
        assert_eq!(
            count(&lab, "SELECT COUNT(*) FROM reports"),
            1,
            "{backend:?}"
        );
        assert_eq!(
            count(&lab, "SELECT COUNT(*) FROM agents WHERE org = 'org-b'"),
            0,
            "{backend:?}"
        );
        every_reader_serves_org_a(&lab, &viewer);

        // An older collector stored such a report: its times are planted in every table a
        // reader parses, then the collector restarts (so no page is served from a cache).
        let (status, body) = post(
            &lab,
            &attacker,
            &report(4, "org-b", "srv-b", "b", now - Duration::minutes(4)),
        );
        assert_eq!(status, 201, "{backend:?}: {body}");
        let bad = "+10000-01-01T00:00:00.000000000Z";
        plant(
            &lab,
            &format!(
                "UPDATE agents SET last_report_at = '{bad}' WHERE org = 'org-b';
                 UPDATE reports SET finished_at = '{bad}' WHERE org = 'org-b';
                 UPDATE latest SET observed_at = '{bad}', since = '{bad}' WHERE org = 'org-b';
                 UPDATE transitions SET at = '{bad}' WHERE org = 'org-b';
                 INSERT INTO tls_certificates (org, target, not_after, observed_at, report_id)
                 SELECT org, 'b.example:443', '{bad}', '{bad}', report_id
                 FROM reports WHERE org = 'org-b';"
            ),
        );
        lab.collector.stop();
        lab.collector.restart();
        every_reader_serves_org_a(&lab, &viewer);
        let log = lab.collector.log();
        for table in ["agents", "latest", "tls_certificates", "transitions"] {
            assert!(
                log.lines().any(|line| line.contains("skipped a stored row")
                    && line.contains(&format!("table=\"{table}\""))),
                "{backend:?}: no warning about {table} in the log:\n{log}"
            );
        }
    }
}

#[test]
fn a_report_dated_9999_is_refused_and_a_stored_one_does_not_freeze_its_agent() {
    for backend in Backend::ALL {
        let lab = Lab::start(backend, &[]);
        let token = lab.agent_token("org-a", "srv-a");
        let viewer = lab.viewer_token("reader");
        let now = Utc::now();
        let (status, body) = post(
            &lab,
            &token,
            &report(1, "org-a", "srv-a", "a", now - Duration::minutes(10)),
        );
        assert_eq!(status, 201, "{backend:?}: {body}");
        let (status, body) = post(
            &lab,
            &token,
            &report_finished(2, "org-a", "srv-a", at("9999-12-31T00:00:00Z")),
        );
        assert_eq!(status, 422, "{backend:?}: {body}");
        assert!(body.contains("finished_at 9999-12-31T00:00:00Z"), "{body}");

        // An older collector took it: the agent's newest time is in the far future.
        plant(
            &lab,
            "UPDATE agents SET last_report_at = '9999-12-31T00:00:00.000000000Z'
             WHERE org = 'org-a'",
        );
        // The next honest report, about another target, becomes the agent's current one.
        let finished = now - Duration::minutes(1);
        let next = report(3, "org-a", "srv-a", "next", finished);
        let (status, body) = post(&lab, &token, &next);
        assert_eq!(status, 201, "{backend:?}: {body}");
        let (status, org) = get(&lab, "/api/v1/orgs/org-a", Some(&viewer));
        assert_eq!(status, 200, "{org}");
        let org: serde_json::Value = serde_json::from_str(&org).expect("JSON");
        let last: DateTime<Utc> = org["agents"][0]["last_report_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("the agent's last report time");
        assert_eq!(last.timestamp(), finished.timestamp(), "{backend:?}: {org}");
        let findings = org["findings"].as_array().expect("findings");
        assert_eq!(findings.len(), 20, "{backend:?}: {org}");
        assert!(
            findings.iter().all(
                |f| f["target"].as_str().is_some_and(|t| t.starts_with("next"))
                    && f["report_id"] == report_id(14, 3, 1)
            ),
            "{backend:?}: the current findings are not the new report's: {org}"
        );
    }
}

#[test]
fn readyz_fails_when_the_store_takes_writes_but_its_tables_cannot_be_read() {
    // SQLite: a table the readers read is gone (renamed away), while the file opens, reads
    // its schema version and takes the write lock as before.
    let lab = Lab::start(Backend::Sqlite, &[]);
    let viewer = lab.viewer_token("reader");
    assert_eq!(get(&lab, "/readyz", None).0, 200);
    plant(&lab, "ALTER TABLE assessments RENAME TO assessments_away");
    let (status, body) = get(&lab, "/readyz", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store_unavailable"), "{body}");
    // What readiness stands for: the matrix cannot be read either.
    assert_ne!(
        get(&lab, "/api/v1/matrix?format=json", Some(&viewer)).0,
        200
    );
    assert_eq!(get(&lab, "/healthz", None).0, 200);
    plant(&lab, "ALTER TABLE assessments_away RENAME TO assessments");
    assert_eq!(get(&lab, "/readyz", None).0, 200);

    // PostgreSQL: the collector connects as a role of its own (not a superuser, who would
    // bypass privileges), and SELECT on one table is revoked from it.
    let server = PostgresServer::start("127.0.75.1");
    server.psql("postgres", "CREATE ROLE collector LOGIN");
    server.psql("postgres", "CREATE DATABASE limited OWNER collector");
    let url = server.url("limited").replacen("vigie@", "collector@", 1);
    let dir = tempfile::tempdir().expect("a scratch folder");
    let collector = CollectorProcess::start_with_url(dir.path(), url, &["--rate-limit", "0"]);
    let readyz = || {
        request(collector.addr, "GET", "/readyz", None, None)
            .expect("an answer")
            .status
    };
    assert_eq!(readyz(), 200);
    server.psql("limited", "REVOKE SELECT ON assessments FROM collector");
    assert_eq!(readyz(), 503);
    server.psql("limited", "GRANT SELECT ON assessments TO collector");
    assert_eq!(readyz(), 200);
    drop(collector);
}
