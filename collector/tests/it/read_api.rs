//! The read API: viewer tokens only, every organization with its counts, one organization's
//! detail, JSON 404 for an unknown one.

use crate::common;

use axum::http::StatusCode;
use common::*;
use vigie_model::Status;

#[tokio::test]
async fn read_api_needs_a_viewer_token() {
    let c = TestCollector::new().await;
    for path in ["/api/v1/orgs", "/api/v1/orgs/maple-health"] {
        let (status, body) = c.get(path, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
        let (status, body) = c.get(path, Some("vgv_unknown")).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
        let (status, body) = c.get(path, Some(&c.agent)).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, _) = c.get(path, Some(&c.viewer)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn orgs_list_counts_latest_findings_by_status_and_severity() {
    let c = TestCollector::new().await;
    let report = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let (status, body) = c.get("/api/v1/orgs", Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let orgs = body["orgs"].as_array().unwrap();
    let ids: Vec<&str> = orgs.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, [OTHER_ORG, ORG], "every organization, sorted");

    let maple = &orgs[1];
    assert_eq!(maple["agents"], 1);
    assert_eq!(maple["last_report_at"], serde_json::to_value(t0()).unwrap());
    let findings = &maple["findings"];
    assert_eq!(findings["total"], 6);
    assert_eq!(findings["by_status"]["pass"], 1);
    assert_eq!(findings["by_status"]["fail"], 2);
    assert_eq!(findings["by_status"]["warn"], 1);
    assert_eq!(findings["by_status"]["error"], 1);
    assert_eq!(findings["by_status"]["info"], 1);
    assert_eq!(findings["by_status"]["skip"], 0);
    assert_eq!(findings["by_severity"]["high"], 3);
    assert_eq!(findings["by_status_and_severity"]["fail"]["high"], 1);
    assert_eq!(findings["by_status_and_severity"]["fail"]["medium"], 1);

    let birch = &orgs[0];
    assert_eq!(birch["agents"], 0);
    assert!(birch["last_report_at"].is_null());
    assert_eq!(birch["findings"]["total"], 0);
}

#[tokio::test]
async fn org_detail_shows_agents_findings_and_certificates() {
    let c = TestCollector::new().await;
    let report = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let (status, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["id"], ORG);
    assert_eq!(org["agents"][0]["id"], format!("{ORG}-srv01"));
    assert_eq!(org["agents"][0]["hostname"], "srv01.internal");
    let findings = org["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 6);
    let dmarc = findings
        .iter()
        .find(|f| f["check"] == "email.dmarc.policy")
        .unwrap();
    assert_eq!(dmarc["status"], "fail");
    assert_eq!(dmarc["severity"], "high");
    assert_eq!(dmarc["evidence"]["record"], "v=DMARC1; p=none");
    assert_eq!(dmarc["report_id"], report.report_id.to_string());
    // Only the endpoint that completed a handshake has a certificate expiry.
    let certificates = org["tls_certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0]["target"], WWW);
}

#[tokio::test]
async fn unknown_organizations_and_paths_are_json_404() {
    let c = TestCollector::new().await;
    for path in ["/api/v1/orgs/nobody", "/api/v1/orgs/Not%20Valid"] {
        let (status, body) = c.get(path, Some(&c.viewer)).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, body) = c.get("/api/v2/whatever", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}
