//! What the committee reads, as golden files: the CSV exports (organization and aggregate
//! views, both languages) and the data dictionary, computed at a fixed instant from a fixed
//! set of reports and answers. Refresh with `VIGIE_BLESS=1 cargo test -p vigie-collector`.

use crate::common;

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};
use common::*;
use vigie_collector::export::{self, Format};
use vigie_collector::matrix::{self, MatrixRequest, View};
use vigie_matrix::TlsProfile;
use vigie_model::{Lang, Status};

fn check_snapshot(name: &str, bytes: &[u8]) {
    let path = format!("{}/tests/snapshots/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("VIGIE_BLESS").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let expected = std::fs::read(&path).unwrap_or_default();
    assert!(
        bytes == expected.as_slice(),
        "{name} differs from tests/snapshots (refresh with VIGIE_BLESS=1 if intended):\n{}",
        String::from_utf8_lossy(bytes)
    );
}

#[tokio::test]
async fn csv_exports_and_dictionary_match_the_snapshots() {
    let c = TestCollector::new().await;
    // Before the quarter TLS 1.0 was accepted; in November it is refused.
    for (at, tls1_0) in [
        (t0() - Duration::days(70), Status::Fail),
        (t0(), Status::Pass),
    ] {
        let report = fixture_report(ORG, at, tls1_0);
        assert_eq!(
            c.post(Some(&c.agent), body_of(&report)).await.0,
            StatusCode::CREATED
        );
    }
    let answered = NaiveDate::from_ymd_opt(2026, 10, 2).unwrap();
    let today = t0().date_naive();
    let answers = [
        ("Q1", "written", None),
        ("Q2", "within_12_months", None),
        ("Q3", "2026-09-15", Some("tabletop-minutes.pdf")),
        ("Q9", "yearly", None),
        ("Q10", "twice_yearly", None),
    ]
    .into_iter()
    .map(|(q, a, e)| {
        vigie_matrix::assess::normalize(ORG, q, a, "executive director", answered, e, today)
            .unwrap()
    })
    .collect();
    c.store().import_answers(answers).await.unwrap();

    for view in [View::Org, View::Aggregate] {
        for lang in [Lang::En, Lang::Fr] {
            let request = MatrixRequest {
                view,
                lang,
                since: Some(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()),
                org: None,
                profile: TlsProfile::Modern,
                now: t0() + Duration::days(1),
                group_by: None,
            };
            let computed = matrix::compute(c.store(), &request).await.unwrap();
            let csv = export::render(&computed, Format::Csv).unwrap();
            check_snapshot(
                &format!("matrix_{}_{}.csv", view.as_str(), lang.as_str()),
                &csv,
            );
        }
    }
    for lang in [Lang::En, Lang::Fr] {
        check_snapshot(
            &format!("matrix_dictionary_{}.csv", lang.as_str()),
            &export::dictionary_csv(lang),
        );
    }
}
