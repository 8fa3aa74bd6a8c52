//! Group commit: reports arriving together are stored in shared transactions, each once and
//! whole, and each answered only after its transaction committed.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Duration;
use common::{body_of, fixture_report, t0, TestCollector, ORG, OTHER_ORG};
use vigie_model::Status;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_sent_at_once_are_each_stored_once_and_acknowledged_after_commit() {
    let collector = Arc::new(TestCollector::new().await);
    // 40 distinct reports of two organizations, each sent three times at once: more than a
    // batch, and duplicates that may land in the same batch as their original.
    let reports: Vec<_> = (0..40)
        .map(|i| {
            let org = if i % 2 == 0 { ORG } else { OTHER_ORG };
            fixture_report(org, t0() + Duration::minutes(i), Status::Fail)
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for report in &reports {
        for _ in 0..3 {
            let collector = Arc::clone(&collector);
            let org = report.org.clone();
            let body = body_of(report);
            tasks.spawn(async move {
                let token = if org == ORG {
                    &collector.agent
                } else {
                    &collector.other_agent
                };
                let (status, answer) = collector.post(Some(token), body).await;
                // Acknowledged means committed: readable at once through the store.
                let id = answer["report_id"].as_str().unwrap_or_default().to_owned();
                (status, id, answer["received_at"].clone())
            });
        }
    }
    let mut answers: BTreeMap<String, Vec<(StatusCode, serde_json::Value)>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (status, id, received_at) = joined.unwrap();
        answers.entry(id).or_default().push((status, received_at));
    }
    assert_eq!(answers.len(), reports.len(), "{answers:?}");
    for report in &reports {
        let got = &answers[&report.report_id.to_string()];
        let created = got
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        let duplicate = got.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        assert_eq!(
            (created, duplicate),
            (1, 2),
            "{}: {got:?}",
            report.report_id
        );
        assert!(
            got.iter().all(|(_, at)| *at == got[0].1),
            "every answer names the first reception"
        );
    }
    assert_eq!(collector.rows_of("reports").await, 40);
    // Every finding of every report was applied: each report's keys are its org's, so the
    // newest report of each org owns all of that org's latest rows.
    let findings_per_report = reports[0].findings.len() as u64;
    assert_eq!(collector.rows_of("latest").await, 2 * findings_per_report);
}
