//! The store's conformance suite: the same test functions run against SQLite (a fresh file)
//! and PostgreSQL (a real server started for each test, one database each), through the
//! HTTP API where a client would go and through `Store` for what only the CLI reaches. A
//! backend that answers differently from the other fails here.
//!
//! Each case is an `async fn(TestCollector)`; `conformance!` makes `sqlite::NAME` and
//! `postgres::NAME` tests of it.

use crate::common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::*;
use uuid::Uuid;
use vigie_collector::store::audit::AuditAction;
use vigie_collector::{Principal, Role, Scope, Store, StoreError, TokenKind};
use vigie_model::{Severity, Status};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::TestCollector::with_backend(super::Backend::Sqlite).await)
                        .await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(
                        super::TestCollector::with_backend(super::Backend::Postgres).await,
                    )
                    .await;
                }
            )*
        }
    };
}

conformance!(
    schema_is_at_the_newest_version_and_migrating_again_does_nothing,
    ingest_is_idempotent_and_a_conflict_changes_nothing,
    current_state_is_the_agents_newest_report,
    transitions_record_status_changes_only,
    orgs_and_org_detail,
    metrics_snapshot_counts_the_current_state,
    matrix_state_now_and_in_the_past,
    tokens_authenticate_revoke_and_rotate,
    viewer_roles_and_web_sessions,
    assessments_are_all_or_nothing,
    audit_log_records_tokens_and_exports_without_tokens,
    prune_keeps_current_reports_and_history,
    regrade_recomputes_verdicts_from_the_stored_observations,
    past_levels_hold_until_the_past_changes,
    a_verdict_that_only_changed_in_its_details_is_written,
    a_retired_verdict_is_not_current_until_reported_again,
    probe_failures_are_counted_by_kind_from_the_latest_verdicts,
);

fn url_of(c: &TestCollector) -> String {
    match &c.postgres {
        Some(server) => server.url("vigie"),
        None => format!("sqlite://{}", c.dir.path().join("vigie.db").display()),
    }
}

async fn schema_is_at_the_newest_version_and_migrating_again_does_nothing(c: TestCollector) {
    let known = Store::known_schema_version();
    assert!(known >= 5, "{known}");
    assert_eq!(c.store().schema_version().await.unwrap(), known);
    let (again, from, to) = Store::open_with(&url_of(&c), true).await.unwrap();
    assert_eq!((from, to), (known, known));
    assert_eq!(again.schema_version().await.unwrap(), known);
    if let Some(server) = &c.postgres {
        // Report bodies are TOAST-compressed with lz4, not the much slower default pglz
        // (migration 0009; Debian's server has lz4).
        let method = server.psql(
            "vigie",
            "SELECT attcompression FROM pg_attribute
             WHERE attrelid = 'reports'::regclass AND attname = 'body'",
        );
        assert_eq!(method.trim(), "l", "reports.body compression: {method:?}");
    }
}

async fn ingest_is_idempotent_and_a_conflict_changes_nothing(c: TestCollector) {
    let report = fixture_report(ORG, t0(), Status::Fail);
    let (status, first) = c.post(Some(&c.agent), body_of(&report)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let rows = c.rows().await;
    assert_eq!(c.rows_of("reports").await, 1);
    assert_eq!(c.rows_of("latest").await, report.findings.len() as u64);

    let (status, again) = c.post(Some(&c.agent), body_of(&report)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["received_at"], first["received_at"]);
    assert_eq!(c.rows().await, rows, "a duplicate wrote something");

    let mut other = report.clone();
    other.findings[0].summary = "another body under the same id".to_owned();
    let (status, conflict) = c.post(Some(&c.agent), body_of(&other)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(c.rows().await, rows, "a conflict wrote something");

    // Another organization's token cannot store this organization's report.
    let (status, refused) = c
        .post(
            Some(&c.other_agent),
            body_of(&fixture_report(
                ORG,
                t0() + Duration::hours(1),
                Status::Pass,
            )),
        )
        .await;
    assert!(status.is_client_error(), "{status} {refused}");
    assert_eq!(c.rows().await, rows);
}

async fn current_state_is_the_agents_newest_report(c: TestCollector) {
    let first = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&first)).await.0,
        StatusCode::CREATED
    );
    let mut second = fixture_report(ORG, t0() + Duration::hours(6), Status::Pass);
    second.findings.retain(|f| f.target != MAIL);
    second.observations.tls.retain(|o| o.target != MAIL);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&second)).await.0,
        StatusCode::CREATED
    );
    // A late copy of an older scan changes nothing newer.
    let late = fixture_report(ORG, t0() + Duration::hours(1), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&late)).await.0,
        StatusCode::CREATED
    );
    let detail = c.store().org(ORG).await.unwrap().unwrap();
    assert_eq!(detail.findings.len(), second.findings.len());
    assert!(detail.findings.iter().all(|f| f.target != MAIL));
    let tls1_0 = detail
        .findings
        .iter()
        .find(|f| f.check == "tls.protocol.tls1_0")
        .unwrap();
    assert_eq!(tls1_0.status, Status::Pass);
    assert_eq!(tls1_0.report_id, second.report_id.to_string());
    assert_eq!(tls1_0.observed_at, t0() + Duration::hours(6));
    assert_eq!(tls1_0.since, t0() + Duration::hours(6));
    let connect = detail
        .findings
        .iter()
        .find(|f| f.check == "tls.connect" && f.target == WWW)
        .unwrap();
    assert_eq!(connect.since, t0(), "an unchanged status keeps its since");
    assert_eq!(connect.evidence["address"], "192.0.2.10:443");
    assert_eq!(detail.agents.len(), 1);
    assert_eq!(detail.agents[0].last_report_at, t0() + Duration::hours(6));
    // The matrix reads the same current state (the SQLite store reads it without the view).
    let mut graded: Vec<(String, String, Status, chrono::DateTime<Utc>)> = c
        .store()
        .matrix_state()
        .await
        .unwrap()
        .findings
        .into_iter()
        .filter(|(org, _)| org == ORG)
        .map(|(_, f)| (f.target, f.check.id().to_owned(), f.status, f.observed_at))
        .collect();
    let mut shown: Vec<(String, String, Status, chrono::DateTime<Utc>)> = detail
        .findings
        .iter()
        .filter(|f| vigie_model::Check::from_id(&f.check).is_some())
        .map(|f| (f.target.clone(), f.check.clone(), f.status, f.observed_at))
        .collect();
    graded.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    shown.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert!(!graded.is_empty());
    assert_eq!(graded, shown);
    assert_eq!(
        detail
            .tls_certificates
            .iter()
            .map(|t| t.target.as_str())
            .collect::<Vec<_>>(),
        vec![WWW]
    );
}

async fn transitions_record_status_changes_only(c: TestCollector) {
    for (hours, status) in [
        (0, Status::Pass),
        (6, Status::Fail),
        (12, Status::Fail),
        (18, Status::Pass),
    ] {
        let report = fixture_report(ORG, t0() + Duration::hours(hours), status);
        assert_eq!(
            c.post(Some(&c.agent), body_of(&report)).await.0,
            StatusCode::CREATED
        );
    }
    let history = c
        .store()
        .transitions(ORG, WWW, "tls.protocol.tls1_0")
        .await
        .unwrap();
    let steps: Vec<(Option<Status>, Status, chrono::DateTime<Utc>)> =
        history.iter().map(|t| (t.0, t.1, t.2)).collect();
    assert_eq!(
        steps,
        vec![
            (None, Status::Pass, t0()),
            (Some(Status::Pass), Status::Fail, t0() + Duration::hours(6)),
            (Some(Status::Fail), Status::Pass, t0() + Duration::hours(18)),
        ]
    );
    // A key whose status never changed has its first verdict only.
    assert_eq!(
        c.store()
            .transitions(ORG, WWW, "tls.connect")
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn orgs_and_org_detail(c: TestCollector) {
    let report = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let (status, orgs) = c.get("/api/v1/orgs", Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{orgs}");
    let list = orgs["orgs"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(
        ids,
        vec![OTHER_ORG, ORG],
        "sorted, with the org without reports"
    );
    let maple = &list[1];
    assert_eq!(maple["agents"], 1);
    assert_eq!(maple["findings"]["total"], report.findings.len() as u64);
    assert_eq!(maple["findings"]["by_status"]["fail"], 2);
    assert_eq!(maple["findings"]["by_status"]["error"], 1);
    assert_eq!(
        maple["findings"]["by_status_and_severity"]["fail"]["high"],
        1
    );
    assert_eq!(list[0]["agents"], 0);
    assert_eq!(list[0]["findings"]["total"], 0);

    let (status, detail) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["agents"][0]["id"], format!("{ORG}-srv01"));
    assert_eq!(
        detail["findings"].as_array().unwrap().len(),
        report.findings.len()
    );
    assert_eq!(detail["tls_certificates"][0]["target"], WWW);
    let (status, _) = c.get("/api/v1/orgs/no-such-org", Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn metrics_snapshot_counts_the_current_state(c: TestCollector) {
    let report = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let snapshot = c.store().metrics_snapshot().await.unwrap();
    assert_eq!(snapshot.orgs, vec![OTHER_ORG.to_owned(), ORG.to_owned()]);
    assert_eq!(snapshot.agents.len(), 1);
    let counted: u64 = snapshot.check_counts.iter().map(|c| c.4).sum();
    assert_eq!(counted, report.findings.len() as u64);
    let tls1_0 = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "tls.protocol.tls1_0" && f.target == WWW)
        .unwrap();
    assert!(snapshot.check_counts.contains(&(
        ORG.to_owned(),
        "tls.protocol.tls1_0".to_owned(),
        Status::Fail,
        tls1_0.severity,
        1
    )));
    let total: u64 = snapshot.finding_counts.iter().map(|c| c.3).sum();
    assert_eq!(total, report.findings.len() as u64);
    assert_eq!(
        snapshot.tls_not_after,
        vec![(ORG.to_owned(), WWW.to_owned(), www_not_after())]
    );
    let metrics = c.metrics().await;
    assert!(metrics.contains(&format!(
        "vigie_check_failing{{org=\"{ORG}\",check=\"tls.protocol.tls1_0\",status=\"fail\",severity=\"{}\"}} 1\n",
        tls1_0.severity.as_str()
    )));
}

async fn matrix_state_now_and_in_the_past(c: TestCollector) {
    for (hours, status) in [(0, Status::Pass), (6, Status::Fail)] {
        let report = fixture_report(ORG, t0() + Duration::hours(hours), status);
        assert_eq!(
            c.post(Some(&c.agent), body_of(&report)).await.0,
            StatusCode::CREATED
        );
    }
    let now = c.store().matrix_state().await.unwrap();
    assert_eq!(now.orgs, vec![OTHER_ORG.to_owned(), ORG.to_owned()]);
    let status_of = |state: &vigie_collector::store::MatrixState| {
        state
            .findings
            .iter()
            .find(|(_, f)| f.check.id() == "tls.protocol.tls1_0" && f.target == WWW)
            .map(|(_, f)| (f.status, f.evidence.clone()))
    };
    let (status, evidence) = status_of(&now).unwrap();
    assert_eq!(status, Status::Fail);
    assert_eq!(
        evidence["negotiated_cipher"],
        "TLS_RSA_WITH_AES_128_CBC_SHA"
    );
    let before = c
        .store()
        .matrix_state_at(t0() + Duration::hours(1))
        .await
        .unwrap();
    let (status, evidence) = status_of(&before).unwrap();
    assert_eq!(status, Status::Pass);
    assert_eq!(
        evidence["negotiated_cipher"], "TLS_RSA_WITH_AES_128_CBC_SHA",
        "evidence read back from the stored report"
    );
    let nothing_yet = c
        .store()
        .matrix_state_at(t0() - Duration::hours(1))
        .await
        .unwrap();
    assert!(nothing_yet.findings.is_empty());
}

async fn viewer_roles_and_web_sessions(c: TestCollector) {
    let store = c.store();
    let viewer = |name: &str, scope| {
        Some(Principal::Viewer {
            name: name.to_owned(),
            scope,
        })
    };
    // Each role, and an `org` viewer only of a known organization.
    let committee = store
        .create_viewer(Role::Committee, None, "committee")
        .await
        .unwrap();
    assert_eq!(
        store.authenticate(&committee).await.unwrap(),
        viewer("committee", Scope::Committee)
    );
    let own = store
        .create_viewer(Role::Org, Some(ORG), "it")
        .await
        .unwrap();
    assert_eq!(
        store.authenticate(&own).await.unwrap(),
        viewer("it", Scope::Org(ORG.to_owned()))
    );
    assert!(matches!(
        store.create_viewer(Role::Org, None, "x").await,
        Err(StoreError::TokenOrg)
    ));
    assert!(matches!(
        store.create_viewer(Role::Committee, Some(ORG), "x").await,
        Err(StoreError::TokenOrg)
    ));
    assert!(matches!(
        store
            .create_viewer(Role::Org, Some("nobody-here"), "x")
            .await,
        Err(StoreError::UnknownOrg(_))
    ));
    // The list of organizations, filtered in SQL.
    let all = store.orgs(None).await.unwrap();
    assert!(all.len() >= 2, "{all:?}");
    let mine = store.orgs(Some(ORG)).await.unwrap();
    assert_eq!(
        mine.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        [ORG]
    );

    // Sessions: found while live, gone when expired, closed, or their token revoked.
    let now = Utc::now();
    let hour = std::time::Duration::from_secs(3600);
    let session = store.open_session(&own, now, hour).await.unwrap();
    assert!(!session.contains(&own));
    assert_eq!(
        store.session(&session, now).await.unwrap(),
        viewer("it", Scope::Org(ORG.to_owned()))
    );
    assert_eq!(
        store
            .session(&session, now + Duration::minutes(61))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.session("not-a-session", now).await.unwrap(), None);
    store.close_session(&session).await.unwrap();
    assert_eq!(store.session(&session, now).await.unwrap(), None, "closed");

    let first = store.open_session(&own, now, hour).await.unwrap();
    let second = store.open_session(&own, now, hour).await.unwrap();
    let other = store.open_session(&committee, now, hour).await.unwrap();
    // A rotation keeps the role and organization, and ends the old token's sessions.
    let rotated = store
        .rotate_token(TokenKind::Viewer, None, "it")
        .await
        .unwrap();
    assert_eq!(
        store.authenticate(&rotated).await.unwrap(),
        viewer("it", Scope::Org(ORG.to_owned()))
    );
    for session in [&first, &second] {
        assert_eq!(store.session(session, now).await.unwrap(), None);
    }
    assert!(store.session(&other, now).await.unwrap().is_some());
    let rows = store.row_counts().await.unwrap();
    let sessions = rows.iter().find(|(t, _)| *t == "web_sessions").unwrap().1;
    assert_eq!(sessions, 1, "the revoked token's sessions are deleted");
    // Sessions already expired are deleted by the next login.
    let later = now + Duration::hours(2);
    let fresh = store.open_session(&rotated, later, hour).await.unwrap();
    let rows = store.row_counts().await.unwrap();
    let sessions = rows.iter().find(|(t, _)| *t == "web_sessions").unwrap().1;
    assert_eq!(sessions, 1);
    assert!(store.session(&fresh, later).await.unwrap().is_some());
}

async fn tokens_authenticate_revoke_and_rotate(c: TestCollector) {
    let store = c.store();
    assert_eq!(
        store.authenticate(&c.agent).await.unwrap(),
        Some(Principal::Agent {
            org: ORG.to_owned(),
            name: format!("{ORG}-srv01")
        })
    );
    assert_eq!(
        store.authenticate(&c.viewer).await.unwrap(),
        Some(Principal::Viewer {
            name: "sector-lead".to_owned(),
            scope: Scope::Sector,
        })
    );
    assert_eq!(store.authenticate("vga_not-a-token").await.unwrap(), None);
    assert!(matches!(
        store.create_token(TokenKind::Viewer, Some(ORG), "x").await,
        Err(StoreError::TokenOrg)
    ));
    assert!(matches!(
        store
            .create_token(TokenKind::Agent, Some("Bad Org!"), "x")
            .await,
        Err(StoreError::InvalidOrg(_))
    ));

    let rotated = store
        .rotate_token(TokenKind::Agent, Some(ORG), &format!("{ORG}-srv01"))
        .await
        .unwrap();
    assert_eq!(store.authenticate(&c.agent).await.unwrap(), None);
    assert!(store.authenticate(&rotated).await.unwrap().is_some());
    let (status, _) = c
        .post(
            Some(&c.agent),
            body_of(&fixture_report(ORG, t0(), Status::Pass)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        store
            .revoke_tokens(TokenKind::Viewer, None, "sector-lead")
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.authenticate(&c.viewer).await.unwrap(), None);
    assert!(matches!(
        store
            .revoke_tokens(TokenKind::Viewer, None, "sector-lead")
            .await,
        Err(StoreError::NoSuchToken { .. })
    ));
    // The other organization's agent of the same name is untouched.
    assert!(store.authenticate(&c.other_agent).await.unwrap().is_some());
}

async fn assessments_are_all_or_nothing(c: TestCollector) {
    let answer = |org: &str, question: &str, answer: &str| vigie_matrix::Answer {
        org: org.to_owned(),
        question: question.to_owned(),
        answer: answer.to_owned(),
        respondent_role: "CISO".to_owned(),
        answered_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        evidence: Some("policy-7".to_owned()),
    };
    let refused = c
        .store()
        .import_answers(vec![
            answer(ORG, "mfa.remote", "yes"),
            answer("no-such-org", "mfa.remote", "yes"),
        ])
        .await;
    assert!(matches!(refused, Err(StoreError::UnknownOrg(ref o)) if o == "no-such-org"));
    assert_eq!(c.rows_of("assessments").await, 0);
    let count = c
        .store()
        .import_answers(vec![
            answer(ORG, "mfa.remote", "no"),
            answer(OTHER_ORG, "mfa.remote", "yes"),
        ])
        .await
        .unwrap();
    assert_eq!(count, 2);
    // The same question on the same day replaces the earlier answer.
    c.store()
        .import_answers(vec![answer(ORG, "mfa.remote", "yes")])
        .await
        .unwrap();
    let state = c.store().matrix_state().await.unwrap();
    assert_eq!(state.answers.len(), 2);
    let maple = state.answers.iter().find(|a| a.org == ORG).unwrap();
    assert_eq!(maple.answer, "yes");
    assert_eq!(maple.evidence.as_deref(), Some("policy-7"));
}

async fn audit_log_records_tokens_and_exports_without_tokens(c: TestCollector) {
    let store = c.store();
    store
        .rotate_token(TokenKind::Agent, Some(ORG), &format!("{ORG}-srv01"))
        .await
        .unwrap();
    store
        .audit(
            AuditAction::MatrixExport,
            "viewer:sector-lead",
            "view=org format=csv",
        )
        .await
        .unwrap();
    let entries = store.audit_entries().await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "token.create",
            "token.create",
            "token.create",
            "token.revoke",
            "token.create",
            "matrix.export"
        ]
    );
    assert_eq!(entries[3].detail.as_deref(), Some("rotated"));
    assert_eq!(entries[3].org.as_deref(), Some(ORG));
    assert_eq!(entries[5].actor, "viewer:sector-lead");
    let text = format!("{entries:?}");
    for token in [&c.agent, &c.other_agent, &c.viewer] {
        assert!(!text.contains(token.as_str()), "a token in the audit log");
    }
    assert!(entries[0]
        .fingerprint
        .as_deref()
        .is_some_and(|f| f.len() == 12));
}

async fn prune_keeps_current_reports_and_history(c: TestCollector) {
    // Three scans: the first two are history, the last is the current state.
    let reports: Vec<_> = [(0, Status::Pass), (6, Status::Fail), (12, Status::Fail)]
        .into_iter()
        .map(|(hours, status)| fixture_report(ORG, t0() + Duration::hours(hours), status))
        .collect();
    for report in &reports {
        assert_eq!(
            c.post(Some(&c.agent), body_of(report)).await.0,
            StatusCode::CREATED
        );
    }
    let transitions = c.rows_of("transitions").await;
    let latest_before = c.store().org(ORG).await.unwrap().unwrap();
    // Matrix snapshots of dates before the cutoff go with the reports; later ones stay.
    for at in [t0(), Utc::now() + Duration::days(30)] {
        c.store()
            .save_past_levels(at, "modern/1", "0:0/0:/1", "[]", Utc::now())
            .await
            .unwrap();
    }
    // Received a moment ago: a cutoff in the past prunes nothing.
    assert_eq!(
        c.store()
            .prune(Utc::now() - Duration::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(c.rows_of("reports").await, 3);
    let deleted = c
        .store()
        .prune(Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(deleted, 2, "only the reports nothing current points at");
    assert_eq!(c.rows_of("reports").await, 1);
    assert_eq!(
        c.rows_of("matrix_snapshots").await,
        1,
        "the old snapshot pruned"
    );
    assert_eq!(c.rows_of("transitions").await, transitions, "history kept");
    assert_eq!(
        c.store().org(ORG).await.unwrap().unwrap(),
        latest_before,
        "the current state is unchanged"
    );
    let history = c
        .store()
        .transitions(ORG, WWW, "tls.protocol.tls1_0")
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].3, reports[0].report_id.to_string());
    // A pruned report's id may come back: it is stored again, not refused.
    let (status, _) = c.post(Some(&c.agent), body_of(&reports[0])).await;
    assert_eq!(status, StatusCode::CREATED);
    // The matrix of the past still grades, without the pruned evidence.
    let past = c
        .store()
        .matrix_state_at(t0() + Duration::hours(1))
        .await
        .unwrap();
    assert!(past
        .findings
        .iter()
        .any(|(_, f)| f.check.id() == "tls.protocol.tls1_0" && f.status == Status::Pass));
}

/// A report graded by older rules: its observations say one thing, one of its verdicts
/// another. `regrade` recomputes the verdict with the agent's grading code, records the
/// change as a transition, and leaves the stored report as it was.
async fn regrade_recomputes_verdicts_from_the_stored_observations(c: TestCollector) {
    let mut report = fixture_report(ORG, t0(), Status::Pass);
    report.findings = vigie_grade::grade_observations(
        &report.observations,
        vigie_grade::tls::Profile::Modern,
        report.finished_at,
        vigie_model::Lang::En,
    );
    let key = "tls.cert.expired";
    let graded = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == key && f.target == WWW)
        .map(|f| f.status)
        .unwrap();
    assert_eq!(
        graded,
        Status::Pass,
        "the fixture's certificate is valid at t0"
    );
    // What an older rule said.
    for finding in report
        .findings
        .iter_mut()
        .filter(|f| f.check.as_str() == key && f.target == WWW)
    {
        finding.status = Status::Fail;
    }
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let body_before = c
        .store()
        .report_body(&report.report_id.to_string())
        .await
        .unwrap();
    let at = Utc::now();
    let summary = vigie_collector::regrade::regrade(c.store(), at)
        .await
        .unwrap();
    assert_eq!(
        summary,
        vigie_collector::regrade::RegradeSummary {
            reports: 1,
            changed: 1,
            added: 0,
            skipped: 0
        }
    );
    let detail = c.store().org(ORG).await.unwrap().unwrap();
    let row = detail
        .findings
        .iter()
        .find(|f| f.check == key && f.target == WWW)
        .unwrap();
    assert_eq!(row.status, Status::Pass);
    assert_eq!(row.observed_at, t0(), "the observation did not change");
    let history = c.store().transitions(ORG, WWW, key).await.unwrap();
    let steps: Vec<_> = history.iter().map(|t| (t.0, t.1)).collect();
    assert_eq!(
        steps,
        vec![(None, Status::Fail), (Some(Status::Fail), Status::Pass)]
    );
    assert!(
        (history[1].2 - at).num_milliseconds().abs() < 1,
        "{history:?}"
    );
    assert_eq!(
        c.store()
            .report_body(&report.report_id.to_string())
            .await
            .unwrap(),
        body_before,
        "the report as received is kept"
    );
    // Nothing left to change.
    let again = vigie_collector::regrade::regrade(c.store(), Utc::now())
        .await
        .unwrap();
    assert_eq!((again.changed, again.added), (0, 0));
}

/// A past date's graded levels are kept with the fingerprint of the data up to that date,
/// and read back only while it holds: a report about the past that arrives late, an answer
/// dated before it and a new organization each change it; data after the date does not.
async fn past_levels_hold_until_the_past_changes(c: TestCollector) {
    let store = c.store();
    let at = t0() + Duration::hours(1);
    let report = fixture_report(ORG, t0(), Status::Pass);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let first = store.past_levels(&[at], "modern/1").await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].levels, None, "nothing kept yet");
    store
        .save_past_levels(at, "modern/1", &first[0].inputs, "levels-1", Utc::now())
        .await
        .unwrap();
    let kept = |grading: &'static str| {
        let store = store.clone();
        async move {
            let past = store.past_levels(&[at], grading).await.unwrap();
            (past[0].inputs.clone(), past[0].levels.clone())
        }
    };
    assert_eq!(
        kept("modern/1").await,
        (first[0].inputs.clone(), Some("levels-1".to_owned()))
    );
    assert_eq!(kept("intermediate/1").await.1, None, "another grading");

    // A report after the date leaves the past as it was.
    let later = fixture_report(ORG, t0() + Duration::hours(6), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&later)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(kept("modern/1").await.1, Some("levels-1".to_owned()));

    // Another organization's report about the past, received late.
    let late = fixture_report(OTHER_ORG, t0() + Duration::minutes(30), Status::Pass);
    assert_eq!(
        c.post(Some(&c.other_agent), body_of(&late)).await.0,
        StatusCode::CREATED
    );
    let (inputs, levels) = kept("modern/1").await;
    assert_eq!(levels, None, "a late report changes the past");
    store
        .save_past_levels(at, "modern/1", &inputs, "levels-2", Utc::now())
        .await
        .unwrap();
    assert_eq!(kept("modern/1").await.1, Some("levels-2".to_owned()));

    // An answer dated before the date, then the same answer imported again (replaced).
    let answer = |answer: &str| vigie_matrix::Answer {
        org: ORG.to_owned(),
        question: "mfa.remote".to_owned(),
        answer: answer.to_owned(),
        respondent_role: "CISO".to_owned(),
        answered_on: (t0() - Duration::days(2)).date_naive(),
        evidence: None,
    };
    for given in ["no", "yes"] {
        // imported_at has a nanosecond resolution; make the replacement's later for sure.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store.import_answers(vec![answer(given)]).await.unwrap();
        let (inputs, levels) = kept("modern/1").await;
        assert_eq!(levels, None, "an answer about the past ({given})");
        store
            .save_past_levels(at, "modern/1", &inputs, given, Utc::now())
            .await
            .unwrap();
        assert_eq!(kept("modern/1").await.1.as_deref(), Some(given));
    }
    // An answer dated after it does not.
    store
        .import_answers(vec![vigie_matrix::Answer {
            answered_on: (t0() + Duration::days(2)).date_naive(),
            ..answer("no")
        }])
        .await
        .unwrap();
    assert_eq!(kept("modern/1").await.1.as_deref(), Some("yes"));

    // A new organization.
    store
        .create_token(TokenKind::Agent, Some("rowan-clinic"), "agent")
        .await
        .unwrap();
    assert_eq!(kept("modern/1").await.1, None, "a new organization");

    // Several dates at once: each its own fingerprint.
    let dates = [t0() - Duration::hours(1), at, t0() + Duration::days(1)];
    let past = store.past_levels(&dates, "modern/1").await.unwrap();
    assert_eq!(past.len(), 3);
    assert_ne!(past[0].inputs, past[1].inputs);
    assert_ne!(past[1].inputs, past[2].inputs);
    assert_eq!(
        past[1].inputs,
        kept("modern/1").await.0,
        "the same as asked alone"
    );
}

/// The findings of the current state, by `(target, check)`.
async fn current(
    c: &TestCollector,
) -> std::collections::BTreeMap<(String, String), vigie_collector::store::LatestFinding> {
    c.store()
        .org(ORG)
        .await
        .unwrap()
        .unwrap()
        .findings
        .into_iter()
        .map(|f| ((f.target.clone(), f.check.clone()), f))
        .collect()
}

// Ingest writes a `latest` row only when something in it changes: a change of severity,
// summary, remediation or evidence alone (the status the same) must still be written, and
// every current row must name the newest report.
async fn a_verdict_that_only_changed_in_its_details_is_written(c: TestCollector) {
    let first = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&first)).await.0,
        StatusCode::CREATED
    );
    let mut second = fixture_report(ORG, t0() + Duration::hours(6), Status::Fail);
    second.findings[0].severity = Severity::Critical;
    second.findings[2].summary = "The certificate expires in 48 days".to_owned();
    second.findings[3].remediation = Some("Refuse the CBC suites".to_owned());
    // Equal as parsed JSON would not do: the text differs, so the evidence changed.
    second.findings[5].evidence = serde_json::json!({"record": "v=DMARC1;  p=none"})
        .as_object()
        .unwrap()
        .clone();
    second.findings[4].evidence = serde_json::json!({"stage": "connect", "port": 587})
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(
        c.post(Some(&c.agent), body_of(&second)).await.0,
        StatusCode::CREATED
    );
    // The same verdicts again: nothing to write, yet all current and from the third report.
    let mut third = second.clone();
    third.report_id = Uuid::from_u128(0x0008_0003);
    third.finished_at = t0() + Duration::hours(12);
    third.started_at = third.finished_at - Duration::seconds(4);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&third)).await.0,
        StatusCode::CREATED
    );

    let now = current(&c).await;
    assert_eq!(now.len(), third.findings.len());
    for finding in &third.findings {
        let row = &now[&(finding.target.clone(), finding.check.as_str().to_owned())];
        assert_eq!(row.status, finding.status, "{}", finding.check.as_str());
        assert_eq!(row.severity, finding.severity, "{}", finding.check.as_str());
        assert_eq!(row.summary, finding.summary);
        assert_eq!(row.remediation, finding.remediation);
        assert_eq!(
            serde_json::to_string(&row.evidence).unwrap(),
            serde_json::to_string(&finding.evidence).unwrap()
        );
        assert_eq!(row.report_id, third.report_id.to_string());
        assert_eq!(row.observed_at, t0() + Duration::hours(12));
        // No status changed after the first report.
        assert_eq!(row.since, t0(), "{}", finding.check.as_str());
    }
    for finding in &third.findings {
        let history = c
            .store()
            .transitions(ORG, &finding.target, finding.check.as_str())
            .await
            .unwrap();
        assert_eq!(history.len(), 1, "{}", finding.check.as_str());
    }
    // The metrics and the matrix read the same current state.
    let snapshot = c.store().metrics_snapshot().await.unwrap();
    assert_eq!(
        snapshot
            .check_counts
            .iter()
            .filter(|k| k.0 == ORG)
            .map(|k| k.4)
            .sum::<u64>(),
        third.findings.len() as u64
    );
}

// A verdict the agent's newest report no longer carries is history: out of every read of the
// current state until a report carries it again. A key another agent of the organization
// took over is that agent's: the first agent's reports without it leave it current.
async fn a_retired_verdict_is_not_current_until_reported_again(c: TestCollector) {
    let first = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&first)).await.0,
        StatusCode::CREATED
    );
    let mut second = fixture_report(ORG, t0() + Duration::hours(6), Status::Fail);
    second
        .findings
        .retain(|f| f.target != MAIL && f.target != DOMAIN);
    second
        .targets
        .retain(|t| t.target != MAIL && t.target != DOMAIN);
    second.observations.tls.retain(|o| o.target != MAIL);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&second)).await.0,
        StatusCode::CREATED
    );

    let now = current(&c).await;
    assert_eq!(now.len(), second.findings.len());
    assert!(
        now.keys().all(|(target, _)| target == WWW),
        "{:?}",
        now.keys()
    );
    let snapshot = c.store().metrics_snapshot().await.unwrap();
    let counted: u64 = snapshot.check_counts.iter().map(|k| k.4).sum();
    assert_eq!(counted, second.findings.len() as u64);
    let counts: u64 = snapshot
        .finding_counts
        .iter()
        .filter(|k| k.0 == ORG)
        .map(|k| k.3)
        .sum();
    assert_eq!(counts, second.findings.len() as u64);
    let matrix = c.store().matrix_state().await.unwrap();
    assert!(matrix.findings.iter().all(|(_, f)| f.target == WWW));

    // Carried again, with the status it had: current, observed now, its since kept.
    let third = fixture_report(ORG, t0() + Duration::hours(12), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&third)).await.0,
        StatusCode::CREATED
    );
    let now = current(&c).await;
    assert_eq!(now.len(), third.findings.len());
    let mail = &now[&(MAIL.to_owned(), "tls.connect".to_owned())];
    assert_eq!(mail.status, Status::Error);
    assert_eq!(mail.report_id, third.report_id.to_string());
    assert_eq!(mail.observed_at, t0() + Duration::hours(12));
    assert_eq!(mail.since, t0());
    assert_eq!(
        c.store()
            .transitions(ORG, MAIL, "tls.connect")
            .await
            .unwrap()
            .len(),
        1
    );

    // A second agent of the organization reports the mail domain, with another verdict.
    let mut other = fixture_report(ORG, t0() + Duration::hours(13), Status::Fail);
    other.report_id = Uuid::from_u128(0x0008_0013);
    other.agent.id = format!("{ORG}-srv02");
    other.findings.retain(|f| f.target == DOMAIN);
    other.findings[0].status = Status::Pass;
    other.findings[0].summary = "DMARC policy is p=reject".to_owned();
    other.targets.retain(|t| t.target == DOMAIN);
    other.observations.tls.clear();
    let srv02 = c
        .store()
        .create_token(TokenKind::Agent, Some(ORG), &format!("{ORG}-srv02"))
        .await
        .unwrap();
    assert_eq!(
        c.post(Some(&srv02), body_of(&other)).await.0,
        StatusCode::CREATED
    );
    // The first agent's next report no longer carries it: it stays the second agent's.
    let mut fourth = fixture_report(ORG, t0() + Duration::hours(14), Status::Fail);
    fourth.findings.retain(|f| f.target != DOMAIN);
    fourth.targets.retain(|t| t.target != DOMAIN);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&fourth)).await.0,
        StatusCode::CREATED
    );
    let now = current(&c).await;
    assert_eq!(now.len(), fourth.findings.len() + 1);
    let dmarc = &now[&(DOMAIN.to_owned(), "email.dmarc.policy".to_owned())];
    assert_eq!(dmarc.status, Status::Pass);
    assert_eq!(dmarc.report_id, other.report_id.to_string());
    assert_eq!(dmarc.observed_at, t0() + Duration::hours(13));
    assert_eq!(dmarc.since, t0() + Duration::hours(13));
    let www = &now[&(WWW.to_owned(), "tls.connect".to_owned())];
    assert_eq!(www.report_id, fourth.report_id.to_string());

    // Retention keeps each agent's newest report, whatever the rows point at.
    assert!(
        c.store()
            .prune(Utc::now() + Duration::days(1))
            .await
            .unwrap()
            > 0
    );
    for report in [&other, &fourth] {
        assert!(c
            .store()
            .report_body(&report.report_id.to_string())
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(current(&c).await.len(), fourth.findings.len() + 1);
}

/// `vigie_probe_failures` counts the latest `error` verdicts by the kind the probe recorded,
/// keeps unknown kinds inside its closed label set, and follows the latest verdicts.
async fn probe_failures_are_counted_by_kind_from_the_latest_verdicts(c: TestCollector) {
    let mut failing = fixture_report(ORG, t0(), Status::Pass);
    for finding in failing.findings.iter_mut() {
        if finding.check.as_str() != "tls.connect" {
            continue;
        }
        let kind = if finding.target == MAIL {
            "refused"
        } else {
            // A newer agent's kind: counted, as `other`.
            finding.status = Status::Error;
            "quantum"
        };
        finding
            .evidence
            .insert("failure".to_owned(), serde_json::json!(kind));
    }
    assert_eq!(
        c.post(Some(&c.agent), body_of(&failing)).await.0,
        StatusCode::CREATED
    );
    let text = c.metrics().await;
    for line in [
        "vigie_probe_failures{org=\"maple-health\",family=\"tls\",kind=\"refused\"} 1\n",
        "vigie_probe_failures{org=\"maple-health\",family=\"tls\",kind=\"other\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("kind=\"quantum\""), "{text}");

    // The next run reaches every endpoint: no failure is left to count.
    let mut fixed = fixture_report(ORG, t0() + chrono::Duration::hours(6), Status::Pass);
    for finding in fixed.findings.iter_mut() {
        if finding.check.as_str() == "tls.connect" {
            finding.status = Status::Pass;
            finding.evidence.clear();
        }
    }
    assert_eq!(
        c.post(Some(&c.agent), body_of(&fixed)).await.0,
        StatusCode::CREATED
    );
    let text = c.metrics().await;
    assert!(
        text.contains("# TYPE vigie_probe_failures gauge\n"),
        "{text}"
    );
    assert!(!text.contains("vigie_probe_failures{"), "{text}");
}
