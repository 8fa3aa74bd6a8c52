//! `POST /api/v1/reports`: every refusal answers the right 4xx with a JSON error and leaves
//! the store unchanged; accepted reports are stored once and build the latest state and
//! its history.

use crate::common;

use axum::http::StatusCode;
use chrono::Duration;
use common::*;
use vigie_model::Status;

/// Posts `body` with `token`, expects `expected`/`code`, and checks no table changed.
async fn refused(
    c: &TestCollector,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
    expected: StatusCode,
    code: &str,
) {
    let before = c.rows().await;
    let (status, answer) = c.post_as(token, content_type, body).await;
    assert_error(status, &answer, expected, code);
    assert_eq!(c.rows().await, before, "a refused report changed the store");
}

#[tokio::test]
async fn a_report_for_another_org_than_the_token_is_refused_with_409() {
    let c = TestCollector::new().await;
    let report = fixture_report(OTHER_ORG, t0(), Status::Fail);
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        body_of(&report),
        StatusCode::CONFLICT,
        "org_mismatch",
    )
    .await;
    // And the other way round: another organization's agent token posting for ORG.
    let report = fixture_report(ORG, t0(), Status::Fail);
    refused(
        &c,
        Some(&c.other_agent),
        Some("application/json"),
        body_of(&report),
        StatusCode::CONFLICT,
        "org_mismatch",
    )
    .await;
    assert_eq!(c.rows_of("reports").await, 0);
}

#[tokio::test]
async fn a_replayed_report_is_stored_once_and_answered_the_same() {
    let c = TestCollector::new().await;
    let report = fixture_report(ORG, t0(), Status::Fail);
    let (status, first) = c.post(Some(&c.agent), body_of(&report)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["report_id"], report.report_id.to_string());
    assert!(first["received_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let after_first = c.rows().await;

    let (status, again) = c.post(Some(&c.agent), body_of(&report)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first, "a replay gets the same answer");
    // The same report re-serialized differently (pretty, other key order) is the same report.
    let mut value = serde_json::to_value(&report).unwrap();
    let object = value.as_object_mut().unwrap();
    let reordered: serde_json::Map<_, _> = object
        .iter()
        .rev()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let pretty = serde_json::to_vec_pretty(&serde_json::Value::Object(reordered)).unwrap();
    let (status, third) = c.post(Some(&c.agent), pretty).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third, first);
    assert_eq!(c.rows().await, after_first, "replays stored nothing");
    assert_eq!(c.rows_of("reports").await, 1);

    let metrics = c.metrics().await;
    assert!(metrics.contains("vigie_ingest_reports_total{result=\"stored\"} 1\n"));
    assert!(metrics.contains("vigie_ingest_reports_total{result=\"duplicate\"} 2\n"));
}

#[tokio::test]
async fn the_same_report_id_with_another_content_is_refused_with_409() {
    let c = TestCollector::new().await;
    let report = fixture_report(ORG, t0(), Status::Fail);
    let (status, _) = c.post(Some(&c.agent), body_of(&report)).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut changed = report.clone();
    changed.findings[0].summary = "something else".to_owned();
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        body_of(&changed),
        StatusCode::CONFLICT,
        "report_id_conflict",
    )
    .await;
    // The stored state is still the first report's.
    let (_, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    let summaries: Vec<&str> = org["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["summary"].as_str())
        .collect();
    assert!(!summaries.contains(&"something else"), "{summaries:?}");
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_400() {
    let c = TestCollector::new().await;
    let body = body_of(&fixture_report(ORG, t0(), Status::Fail));
    let truncated = body[..body.len() / 2].to_vec();
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        truncated,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        b"{\"schema\": vigie}".to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        Vec::new(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    // A byte that is not UTF-8 inside a string: the body is checked as a whole before
    // parsing, and refused as malformed, not stored.
    let text = String::from_utf8(body.clone()).unwrap();
    let at = text.find("\"summary\":\"").unwrap() + "\"summary\":\"".len();
    let mut not_utf8 = body.clone();
    not_utf8.insert(at, 0xff);
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        not_utf8,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let mut trailing = body.clone();
    trailing.extend_from_slice(b" {}");
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        trailing,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
}

#[tokio::test]
async fn valid_json_that_is_not_a_v1_report_is_refused_with_422() {
    let c = TestCollector::new().await;
    let mut report = fixture_report(ORG, t0(), Status::Fail);
    report.schema = "vigie.report.v2".to_owned();
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        body_of(&report),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;

    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        br#"{"hello": "world"}"#.to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        b"[1, 2, 3]".to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;

    let mut value = serde_json::to_value(fixture_report(ORG, t0(), Status::Fail)).unwrap();
    value["findings"][1]["status"] = "broken".into();
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        serde_json::to_vec(&value).unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;

    // Semantic rules of vigie_model::validate, beyond the shape.
    let mut report = fixture_report(ORG, t0(), Status::Fail);
    report.finished_at = report.started_at - Duration::seconds(1);
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        body_of(&report),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let c = TestCollector::new().await;
    let huge = vec![b' '; 20 * 1024 * 1024];
    // Without Content-Length: refused while reading.
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        huge,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    // With a declared Content-Length: refused before reading.
    let before = c.rows().await;
    let request = axum::http::Request::post("/api/v1/reports")
        .header("authorization", format!("Bearer {}", c.agent))
        .header("content-type", "application/json")
        .header("content-length", (20 * 1024 * 1024).to_string())
        .body(axum::body::Body::from(vec![b' '; 20 * 1024 * 1024]))
        .unwrap();
    let (status, _, body) = c.send(request).await;
    assert_error(
        status,
        &json(&body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_eq!(c.rows().await, before);
    let metrics = c.metrics().await;
    assert!(metrics.contains("vigie_ingest_reports_total{result=\"rejected_too_large\"} 2\n"));
}

#[tokio::test]
async fn a_report_just_under_a_small_limit_passes_and_one_byte_over_does_not() {
    let body = body_of(&fixture_report(ORG, t0(), Status::Fail));
    let c = TestCollector::with_limit(body.len()).await;
    let (status, answer) = c.post(Some(&c.agent), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let c = TestCollector::with_limit(body.len() - 1).await;
    refused(
        &c,
        Some(&c.agent),
        Some("application/json"),
        body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn tokens_are_required_and_must_be_agent_tokens() {
    let c = TestCollector::new().await;
    let body = body_of(&fixture_report(ORG, t0(), Status::Fail));
    refused(
        &c,
        None,
        Some("application/json"),
        body.clone(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    refused(
        &c,
        Some("vga_not-a-real-token"),
        Some("application/json"),
        body.clone(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    refused(
        &c,
        Some(&c.viewer),
        Some("application/json"),
        body.clone(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let metrics = c.metrics().await;
    assert!(metrics.contains("vigie_ingest_reports_total{result=\"rejected_auth\"} 3\n"));
}

#[tokio::test]
async fn a_wrong_content_type_is_refused_with_415() {
    let c = TestCollector::new().await;
    let body = body_of(&fixture_report(ORG, t0(), Status::Fail));
    refused(
        &c,
        Some(&c.agent),
        Some("text/plain"),
        body.clone(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    refused(
        &c,
        Some(&c.agent),
        None,
        body.clone(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let (status, _) = c
        .post_as(
            Some(&c.agent),
            Some("application/json; charset=utf-8"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn latest_state_and_history_follow_the_reports_in_scan_order() {
    let c = TestCollector::new().await;
    let transitions = |check: &'static str| {
        let store = c.store().clone();
        async move { store.transitions(ORG, WWW, check).await.unwrap() }
    };
    let latest = |check: &'static str| {
        let c = &c;
        async move {
            let (status, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
            assert_eq!(status, StatusCode::OK, "{org}");
            org["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["check"] == check && f["target"] == WWW)
                .cloned()
                .unwrap()
        }
    };

    // First report: every key starts its history.
    let r1 = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&r1)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(c.rows_of("latest").await, 6);
    assert_eq!(c.rows_of("transitions").await, 6);
    let history = transitions("tls.protocol.tls1_0").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].0, None);
    assert_eq!(history[0].1, Status::Fail);

    // Same statuses a day later: latest moves on, history does not.
    let t1 = t0() + Duration::days(1);
    let r2 = fixture_report(ORG, t1, Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&r2)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        c.rows_of("transitions").await,
        6,
        "no status changed, no transition"
    );
    let tls1_0 = latest("tls.protocol.tls1_0").await;
    assert_eq!(tls1_0["report_id"], r2.report_id.to_string());
    assert_eq!(
        tls1_0["since"],
        serde_json::to_value(t0()).unwrap(),
        "unchanged since the first report"
    );

    // TLS 1.0 switched off two days later: exactly one transition, fail → pass.
    let t2 = t0() + Duration::days(2);
    let r3 = fixture_report(ORG, t2, Status::Pass);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&r3)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(c.rows_of("transitions").await, 7);
    let history = transitions("tls.protocol.tls1_0").await;
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[1].0, history[1].1),
        (Some(Status::Fail), Status::Pass)
    );
    assert_eq!(history[1].2, t2);
    assert_eq!(history[1].3, r3.report_id.to_string());
    let tls1_0 = latest("tls.protocol.tls1_0").await;
    assert_eq!(tls1_0["status"], "pass");
    assert_eq!(tls1_0["since"], serde_json::to_value(t2).unwrap());

    // A late report from before all of them (an outbox backlog) is stored but changes nothing
    // newer: not the latest state, not the history, not the agent's last report time.
    let mut late = fixture_report(ORG, t0() - Duration::days(1), Status::Fail);
    late.agent.version = "0.0.9".to_owned();
    if let Some(vigie_model::TlsProbeResult::Handshake(h)) =
        late.observations.tls.first_mut().map(|o| &mut o.result)
    {
        h.certificates[0].not_after = www_not_after() - Duration::days(365);
    }
    assert_eq!(
        c.post(Some(&c.agent), body_of(&late)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(c.rows_of("reports").await, 4);
    assert_eq!(c.rows_of("transitions").await, 7);
    let tls1_0 = latest("tls.protocol.tls1_0").await;
    assert_eq!(tls1_0["status"], "pass");
    assert_eq!(tls1_0["report_id"], r3.report_id.to_string());
    let (_, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    assert_eq!(org["agents"][0]["version"], "0.1.0");
    assert_eq!(
        org["agents"][0]["last_report_at"],
        serde_json::to_value(t2).unwrap()
    );
    let www_cert = org["tls_certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == WWW)
        .cloned()
        .unwrap();
    assert_eq!(
        www_cert["not_after"],
        serde_json::to_value(www_not_after()).unwrap()
    );
}
