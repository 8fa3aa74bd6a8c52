//! The report card and the triage page on the router in process, on both backends: the JSON
//! card, the pages behind a session, the drill-down, sorting, filtering and CSV.

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use vigie_model::Status;

/// Two reports of `ORG`: TLS 1.0 failing, then fixed a day later.
async fn seeded(backend: Backend) -> TestCollector {
    let c = TestCollector::with_backend(backend).await;
    let first = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&first)).await.0,
        StatusCode::CREATED
    );
    let second = fixture_report(ORG, t0() + chrono::Duration::days(1), Status::Pass);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&second)).await.0,
        StatusCode::CREATED
    );
    c
}

/// A session cookie for the viewer token.
async fn login(c: &TestCollector) -> String {
    let request = Request::post("/ui/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={}", c.viewer)))
        .unwrap();
    let response = tower::ServiceExt::oneshot(vigie_collector::api::app(c.state.clone()), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(c: &TestCollector, cookie: Option<&str>, path: &str) -> (StatusCode, String, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let (status, content_type, body) = c.send(request.body(Body::empty()).unwrap()).await;
    (status, content_type, String::from_utf8(body).unwrap())
}

async fn card_json_groups_findings_and_names_changes(backend: Backend) {
    let c = seeded(backend).await;
    let path = format!("/api/v1/orgs/{ORG}/card");
    assert_eq!(c.get(&path, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(c.get(&path, Some(&c.agent)).await.0, StatusCode::FORBIDDEN);
    let (status, card) = c.get(&path, Some(&c.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    let groups: Vec<(String, Vec<String>)> = card["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["capability"].as_str().unwrap_or("none").to_owned(),
                g["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["check"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            ("C02".to_owned(), vec!["tls.cert.expiring".to_owned()]),
            ("C03".to_owned(), vec!["email.dmarc.policy".to_owned()]),
        ],
        "only fail and warn, the fixed TLS 1.0 gone"
    );
    let dmarc = &card["groups"][1]["findings"][0];
    assert_eq!(dmarc["first_seen"], serde_json::to_value(t0()).unwrap());
    assert_eq!(
        dmarc["remediation"].is_string(),
        dmarc.get("remediation").is_some()
    );
    let expected_days = (chrono::Utc::now() - t0()).num_days();
    assert_eq!(dmarc["open_days"], expected_days);
    let changes = card["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["check"], "tls.protocol.tls1_0");
    assert_eq!(changes[0]["from"], "fail");
    assert_eq!(changes[0]["to"], "pass");
    let levels = card["levels"].as_array().unwrap();
    assert_eq!(levels.len(), vigie_matrix::catalogue().capabilities.len());
    let c03 = levels.iter().find(|l| l["capability"] == "C03").unwrap();
    assert_eq!(c03["set_by"][0]["check"], "email.dmarc.policy");
    assert_eq!(c03["set_by"][0]["target"], DOMAIN);
    let (status, body) = c
        .get("/api/v1/orgs/no-such-org/card", Some(&c.viewer))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn card_json_on_sqlite() {
    card_json_groups_findings_and_names_changes(Backend::Sqlite).await;
}

#[tokio::test]
async fn card_json_on_postgres() {
    card_json_groups_findings_and_names_changes(Backend::Postgres).await;
}

#[tokio::test]
async fn card_pages_need_a_session_and_drill_down_to_findings() {
    let c = seeded(Backend::Sqlite).await;
    let org_page = format!("/ui/orgs/{ORG}/card");
    let (status, _, body) = page(&c, None, &org_page).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains("DMARC policy is p=none"));
    let cookie = login(&c).await;
    let (status, content_type, body) = page(&c, Some(&cookie), &org_page).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("text/html"));
    assert!(body.contains("Report card of maple-health"), "{body}");
    assert!(body.contains("DMARC policy is p=none"));
    assert!(body.contains("@media print"));
    assert!(body.contains(&format!(
        "/ui/orgs/{ORG}/findings?check=email.dmarc.policy&amp;target=maple-health.example"
    )));
    let (status, _, fr) = page(&c, Some(&cookie), &format!("{org_page}?lang=fr")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(fr.contains("Bulletin de maple-health"));
    assert!(fr.contains("échec"));

    // The drill-down: one check on one target, every status.
    let drill = format!(
        "/ui/orgs/{ORG}/findings?check=tls.protocol.tls1_0&target=www.maple-health.example%3A443"
    );
    let (status, _, body) = page(&c, Some(&cookie), &drill).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("TLS 1.0 is refused"), "{body}");
    // In the one layout; its language toggle keeps the cell it drills into.
    assert!(body.contains("<nav class=\"site\""), "{body}");
    assert!(
        body.contains(&format!(
            "/ui/orgs/{ORG}/findings?check=tls.protocol.tls1_0&amp;target=www.maple-health.example%3A443&amp;lang=fr"
        )),
        "{body}"
    );
    assert!(!body.contains("DMARC"));
    // One target's page.
    let target = format!("/ui/orgs/{ORG}/targets/www.maple-health.example%3A443");
    let (status, _, body) = page(&c, Some(&cookie), &target).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("The certificate expires in 54 days"));
    assert!(
        !body.contains("Connection refused by"),
        "another target's finding"
    );
    // Unknown organizations.
    for path in [
        "/ui/orgs/nope/card",
        "/ui/orgs/nope/findings",
        "/ui/orgs/nope/targets/x",
    ] {
        assert_eq!(
            page(&c, Some(&cookie), path).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn triage_sorts_filters_and_downloads_csv() {
    let c = seeded(Backend::Sqlite).await;
    assert_eq!(
        page(&c, None, "/ui/triage").await.0,
        StatusCode::UNAUTHORIZED
    );
    let cookie = login(&c).await;
    let (status, _, body) = page(&c, Some(&cookie), "/ui/triage").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for section in ["certificates", "failures", "silent", "ranking"] {
        assert!(
            body.contains(&format!("<section id=\"{section}\">")),
            "{section}"
        );
    }
    // The fixture's DMARC failure is high: listed by check, with its organization.
    assert!(body.contains("<td>email.dmarc.policy</td>"), "{body}");
    // Its agent last reported in November 2026, long past twice its one-day cadence.
    assert!(body.contains(&format!("{ORG}-srv01")));
    let (status, content_type, csv) =
        page(&c, Some(&cookie), "/ui/triage?csv=ranking&ranking_sort=org").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "Organization,Region,Size band,At level 3 or more,Known levels,Share (%)"
    );
    assert!(lines[1].starts_with(&format!("{OTHER_ORG},")), "{csv}");
    assert!(lines[2].starts_with(&format!("{ORG},")), "{csv}");
    let (_, _, csv) = page(
        &c,
        Some(&cookie),
        "/ui/triage?csv=ranking&ranking_sort=org&ranking_order=desc",
    )
    .await;
    assert!(csv.lines().nth(1).unwrap().starts_with(ORG), "{csv}");
    let (_, _, csv) = page(&c, Some(&cookie), "/ui/triage?csv=ranking&ranking_q=birch").await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let (_, _, csv) = page(
        &c,
        Some(&cookie),
        "/ui/triage?csv=failures&failures_q=nothing-matches",
    )
    .await;
    assert_eq!(csv.lines().count(), 1, "{csv}");
    assert_eq!(
        page(&c, Some(&cookie), "/ui/triage?csv=nope").await.0,
        StatusCode::NOT_FOUND
    );
}
