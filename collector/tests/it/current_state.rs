//! The current state is what each agent's newest report says: a verdict its newest report no
//! longer carries (a port since closed, an endpoint removed from the config) leaves the read
//! API, the metrics and the matrix, and stays in the history.

use crate::common;

use axum::http::StatusCode;
use chrono::Duration;
use common::*;
use vigie_model::Status;

#[tokio::test]
async fn a_target_missing_from_the_agents_newest_report_leaves_the_current_state() {
    let c = TestCollector::new().await;
    let first = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&first)).await.0,
        StatusCode::CREATED
    );
    // The mail endpoint's failed handshake is counted in the metrics (they name no target
    // but certificates'), its verdicts are in the read API.
    let mail_error =
        format!("vigie_check_failing{{org=\"{ORG}\",check=\"tls.connect\",status=\"error\"");
    let metrics = c.metrics().await;
    assert!(metrics.contains(&mail_error), "{metrics}");
    let (_, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    assert!(org.to_string().contains(MAIL), "{org}");
    assert!(metrics.contains(&format!(
        "vigie_tls_cert_not_after_timestamp_seconds{{org=\"{ORG}\",target=\"{WWW}\"}}"
    )));

    // The next scan no longer covers the mail endpoint.
    let mut second = fixture_report(ORG, t0() + Duration::hours(6), Status::Fail);
    second.targets.retain(|t| t.target != MAIL);
    second.findings.retain(|f| f.target != MAIL);
    second.observations.tls.retain(|o| o.target != MAIL);
    let kept = second.findings.len();
    assert!(
        kept < first.findings.len(),
        "the fixture must lose findings"
    );
    assert_eq!(
        c.post(Some(&c.agent), body_of(&second)).await.0,
        StatusCode::CREATED
    );

    let metrics = c.metrics().await;
    assert!(
        !metrics.contains(&mail_error),
        "a target the newest report dropped is still counted:\n{metrics}"
    );
    assert!(
        metrics.contains(&format!("target=\"{WWW}\"")),
        "the targets still scanned stay"
    );
    let (status, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    let text = org.to_string();
    assert!(!text.contains(MAIL), "{text}");
    let (_, orgs) = c.get("/api/v1/orgs", Some(&c.viewer)).await;
    let maple = orgs["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == ORG)
        .unwrap()
        .clone();
    assert_eq!(maple["findings"]["total"], kept as u64, "{maple}");

    // History keeps what was seen.
    assert!(c.rows_of("transitions").await >= first.findings.len() as u64);

    // A late copy of an older report from the same agent brings nothing back.
    let late = fixture_report(ORG, t0() + Duration::hours(1), Status::Pass);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&late)).await.0,
        StatusCode::CREATED
    );
    assert!(!c.metrics().await.contains(&mail_error));
    let (_, org) = c.get(&format!("/api/v1/orgs/{ORG}"), Some(&c.viewer)).await;
    assert!(!org.to_string().contains(MAIL), "{org}");
}
