use chrono::{Duration, TimeZone};

use super::triage::{self, TableId, Value};
use super::*;
use crate::store::{AgentCadence, CertificateRow, OrgDetail, SevereFailure, TriageState};

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
}

fn finding(check: &str, target: &str, status: Status, severity: Severity) -> LatestFinding {
    LatestFinding {
        check: check.to_owned(),
        target: target.to_owned(),
        status,
        severity,
        summary: format!("{check} on {target}"),
        remediation: Some(format!("fix {check}")),
        evidence: serde_json::json!({"port": 443}),
        report_id: "r3".to_owned(),
        observed_at: at(20),
        since: at(20),
    }
}

fn transition(
    check: &str,
    target: &str,
    from: Option<Status>,
    to: Status,
    day: u32,
    report: &str,
) -> OrgTransition {
    OrgTransition {
        target: target.to_owned(),
        check: check.to_owned(),
        from,
        to,
        at: at(day),
        report_id: report.to_owned(),
    }
}

fn state() -> CardState {
    use Status::*;
    CardState {
        detail: OrgDetail {
            id: "acme".to_owned(),
            agents: Vec::new(),
            findings: vec![
                finding("tls.protocol.tls1_0", "a:443", Warn, Severity::Medium),
                finding("tls.cert.expired", "a:443", Fail, Severity::High),
                finding("tls.cipher.rc4", "a:443", Fail, Severity::Critical),
                finding("tls.protocol.sslv3", "b:443", Fail, Severity::High),
                finding("tls.protocol.sslv2", "b:443", Pass, Severity::Critical),
                finding("email.spf.missing", "example.org", Fail, Severity::High),
                finding("not.in.catalogue", "b:443", Fail, Severity::Low),
            ],
            tls_certificates: Vec::new(),
        },
        history: vec![
            // Failing since the 2nd, a warning on the 10th, failing again on the 20th: one
            // open run since the 2nd.
            transition("tls.cipher.rc4", "a:443", None, Fail, 2, "r1"),
            transition("tls.cipher.rc4", "a:443", Some(Fail), Warn, 10, "r2"),
            transition("tls.cipher.rc4", "a:443", Some(Warn), Fail, 20, "r3"),
            // Failing on the 2nd, fixed on the 10th, failing again on the 20th: since the 20th.
            transition("tls.protocol.sslv3", "b:443", None, Fail, 2, "r1"),
            transition("tls.protocol.sslv3", "b:443", Some(Fail), Pass, 10, "r2"),
            transition("tls.protocol.sslv3", "b:443", Some(Pass), Fail, 20, "r3"),
            transition("tls.protocol.sslv2", "b:443", Some(Fail), Pass, 20, "r3"),
        ],
        newest_reports: vec!["r3".to_owned()],
    }
}

#[test]
fn open_findings_are_grouped_by_capability_worst_first_with_their_open_run() {
    let card = assemble(&state(), None, Lang::En, at(25));
    let groups: Vec<(Option<&str>, Vec<&str>)> = card
        .groups
        .iter()
        .map(|g| {
            (
                g.capability.as_deref(),
                g.findings.iter().map(|f| f.check.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                Some("C01"),
                // Fail before warn; critical before high.
                vec![
                    "tls.cipher.rc4",
                    "tls.protocol.sslv3",
                    "tls.protocol.tls1_0"
                ]
            ),
            (Some("C02"), vec!["tls.cert.expired"]),
            (Some("C03"), vec!["email.spf.missing"]),
            (None, vec!["not.in.catalogue"]),
        ],
        "a passing finding is not listed; checks feeding no capability come last"
    );
    let c01 = &card.groups[0].findings;
    assert_eq!(
        c01[0].first_seen,
        at(2),
        "a warn inside a fail run keeps it open"
    );
    assert_eq!(c01[0].open_days, 23);
    assert_eq!(c01[1].first_seen, at(20), "a pass ends a run");
    assert_eq!(c01[1].open_days, 5);
    // Without history, the latest status's start.
    assert_eq!(c01[2].first_seen, at(20));
    assert_eq!(c01[0].remediation.as_deref(), Some("fix tls.cipher.rc4"));
}

#[test]
fn changes_are_those_of_the_agents_newest_reports() {
    let card = assemble(&state(), None, Lang::En, at(25));
    let changes: Vec<(&str, Option<Status>, Status)> = card
        .changes
        .iter()
        .map(|c| (c.check.as_str(), c.from, c.to))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("tls.cipher.rc4", Some(Status::Warn), Status::Fail),
            ("tls.protocol.sslv2", Some(Status::Fail), Status::Pass),
            ("tls.protocol.sslv3", Some(Status::Pass), Status::Fail),
        ]
    );
    let mut none = state();
    none.newest_reports.clear();
    assert!(assemble(&none, None, Lang::En, at(25)).changes.is_empty());
}

#[test]
fn targets_count_their_open_findings_and_worst_severity() {
    let card = assemble(&state(), None, Lang::En, at(25));
    let targets: Vec<(&str, usize, Option<Severity>)> = card
        .targets
        .iter()
        .map(|t| (t.target.as_str(), t.open, t.worst))
        .collect();
    assert_eq!(
        targets,
        vec![
            ("a:443", 3, Some(Severity::Critical)),
            ("b:443", 2, Some(Severity::High)),
            ("example.org", 1, Some(Severity::High)),
        ]
    );
}

#[test]
fn levels_name_the_checks_and_assets_that_feed_them() {
    use vigie_matrix::grade::{Cell, Value as Level};
    let cells: Vec<Cell> = catalogue()
        .capabilities
        .iter()
        .map(|c| Cell {
            capability: c.id.clone(),
            value: if c.id == "C01" {
                Level::Level(1)
            } else {
                Level::Unknown
            },
            source: None,
            coverage: None,
            observed_at: None,
            stale: false,
            answered_on: None,
            evidence: Vec::new(),
            notes: Vec::new(),
            basis: Vec::new(),
        })
        .collect();
    let column = OrgColumn {
        org: "acme".to_owned(),
        assessed_on: None,
        previous: vec![Level::Unknown; cells.len()],
        trends: vec![Trend::New; cells.len()],
        cells,
    };
    let card = assemble(&state(), Some(&column), Lang::En, at(25));
    let c01 = &card.levels[0];
    assert_eq!((c01.capability.as_str(), c01.level), ("C01", Some(1)));
    let set_by: Vec<(&str, &str, Status)> = c01
        .set_by
        .iter()
        .map(|s| (s.check.as_str(), s.target.as_str(), s.status))
        .collect();
    assert_eq!(
        set_by,
        vec![
            ("tls.cipher.rc4", "a:443", Status::Fail),
            ("tls.protocol.sslv3", "b:443", Status::Fail),
            ("tls.protocol.tls1_0", "a:443", Status::Warn),
            ("tls.protocol.sslv2", "b:443", Status::Pass),
        ]
    );
    assert!(card.levels[1]
        .set_by
        .iter()
        .all(|s| s.check == "tls.cert.expired"));
}

#[test]
fn select_filters_by_check_and_target_over_every_status() {
    let s = state();
    let b = select(&s, None, Some("b:443"), at(25));
    let checks: Vec<&str> = b.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks,
        vec![
            "tls.protocol.sslv3",
            "not.in.catalogue",
            "tls.protocol.sslv2"
        ]
    );
    assert_eq!(b[2].open_days, 0, "a pass is not open");
    let one = select(&s, Some("tls.cipher.rc4"), Some("a:443"), at(25));
    assert_eq!(one.len(), 1);
    assert!(select(&s, Some("tls.cipher.rc4"), Some("b:443"), at(25)).is_empty());
}

fn triage_state() -> TriageState {
    TriageState {
        certificates: vec![
            CertificateRow {
                org: "acme".into(),
                target: "a:443".into(),
                not_after: at(20),
            },
            CertificateRow {
                org: "beta".into(),
                target: "b:443".into(),
                not_after: at(25) + Duration::days(29),
            },
            CertificateRow {
                org: "beta".into(),
                target: "c:443".into(),
                not_after: at(25) + Duration::days(31),
            },
        ],
        failures: vec![
            SevereFailure {
                org: "acme".into(),
                check: "tls.cipher.rc4".into(),
                severity: Severity::Critical,
                targets: 2,
            },
            SevereFailure {
                org: "beta".into(),
                check: "tls.cipher.rc4".into(),
                severity: Severity::Critical,
                targets: 1,
            },
            SevereFailure {
                org: "beta".into(),
                check: "email.spf.missing".into(),
                severity: Severity::High,
                targets: 1,
            },
        ],
        agents: vec![
            // Every 6 h, last 13 h ago: silent.
            AgentCadence {
                org: "acme".into(),
                agent: "a1".into(),
                last_report_at: at(25) - Duration::hours(13),
                previous_report_at: Some(at(25) - Duration::hours(19)),
            },
            // Every 24 h, last 30 h ago: not silent.
            AgentCadence {
                org: "beta".into(),
                agent: "b1".into(),
                last_report_at: at(25) - Duration::hours(30),
                previous_report_at: Some(at(25) - Duration::hours(54)),
            },
            // One report, 11 h ago: the default 6 h schedule, not silent.
            AgentCadence {
                org: "beta".into(),
                agent: "b2".into(),
                last_report_at: at(25) - Duration::hours(11),
                previous_report_at: None,
            },
        ],
    }
}

#[test]
fn triage_lists_expiring_certificates_severe_failures_and_silent_agents() {
    let state = triage_state();
    let certs = triage::certificates(&state, at(25));
    let texts = |t: &triage::Table| -> Vec<Vec<String>> {
        t.rows
            .iter()
            .map(|r| r.iter().map(Value::text).collect())
            .collect()
    };
    assert_eq!(certs.rows.len(), 2, "31 days ahead is outside the horizon");
    assert_eq!(certs.rows[0][3], Value::Number(-5), "expired 5 days ago");
    let failures = triage::failures(&state);
    assert_eq!(
        texts(&failures),
        vec![
            vec!["tls.cipher.rc4", "critical", "2", "3", "acme beta"],
            vec!["email.spf.missing", "high", "1", "1", "beta"],
        ]
    );
    let silent = triage::silent(&state, at(25));
    assert_eq!(
        texts(&silent),
        vec![vec!["acme", "a1", "2026-11-24 23:00", "6", "13"]]
    );
}

#[test]
fn tables_sort_filter_and_write_csv() {
    let state = triage_state();
    let mut failures = triage::failures(&state);
    failures.sort("check", false);
    assert_eq!(failures.rows[0][0], Value::Text("email.spf.missing".into()));
    failures.sort("targets", true);
    assert_eq!(failures.rows[0][3], Value::Number(3));
    failures.sort("no_such_column", false);
    assert_eq!(
        failures.rows[0][3],
        Value::Number(3),
        "an unknown column keeps the order"
    );
    failures.filter("SPF");
    assert_eq!(failures.rows.len(), 1);
    let mut table = triage::Table {
        id: TableId::Certificates,
        rows: vec![vec![
            Value::Text("=cmd|x".into()),
            Value::Text("a,\"b\"".into()),
            Value::Number(-3),
            Value::Number(4),
        ]],
    };
    let headers: Vec<String> = ["o", "t", "n", "d"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        table.csv(&headers),
        "o,t,n,d\r\n'=cmd|x,\"a,\"\"b\"\"\",-3,4\r\n",
        "a formula is defused, a number is kept, quotes are doubled"
    );
    table.filter("nothing matches");
    assert_eq!(table.csv(&headers), "o,t,n,d\r\n");
}
