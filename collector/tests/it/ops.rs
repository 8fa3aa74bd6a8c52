//! Health, readiness and the `/metrics` page (golden file).

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use vigie_collector::TokenKind;
use vigie_model::Status;

#[tokio::test]
async fn healthz_answers_and_readyz_follows_the_database_file() {
    let c = TestCollector::new().await;
    let (status, body) = c.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = c.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The database file disappears under the running collector (a mistaken cleanup, a
    // volume unmounted): the open connection would go on writing to an unlinked file.
    let path = c.store().path().unwrap().to_owned();
    std::fs::remove_file(&path).unwrap();
    let (status, body) = c.get("/readyz", None).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
    );
    let (status, _) = c.get("/healthz", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not depend on the store"
    );
}

/// The `/metrics` page after a fixed set of reports, against
/// `tests/snapshots/metrics.txt`. Refresh with `VIGIE_BLESS=1 cargo test -p vigie-collector`.
#[tokio::test]
async fn metrics_page_matches_the_snapshot() {
    let c = TestCollector::new().await;
    let r1 = fixture_report(ORG, t0(), Status::Fail);
    let r2 = fixture_report(ORG, t0() + chrono::Duration::hours(6), Status::Pass);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&r1)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        c.post(Some(&c.agent), body_of(&r2)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(c.post(Some(&c.agent), body_of(&r2)).await.0, StatusCode::OK);
    assert_eq!(c.post(None, body_of(&r2)).await.0, StatusCode::UNAUTHORIZED);
    let mut other = fixture_report(OTHER_ORG, t0(), Status::Pass);
    other.findings.truncate(2);
    other.observations.tls.clear();
    assert_eq!(
        c.post(Some(&c.other_agent), body_of(&other)).await.0,
        StatusCode::CREATED
    );

    let text = normalize(&c.metrics().await);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/metrics.txt");
    if std::env::var_os("VIGIE_BLESS").is_some() {
        std::fs::write(path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text == expected,
        "/metrics differs from tests/snapshots/metrics.txt (refresh with VIGIE_BLESS=1 if intended):\n{text}"
    );

    // What a dashboard or an alert queries must be there, with HELP and TYPE.
    for name in [
        "vigie_agent_last_report_timestamp_seconds",
        "vigie_check_failing",
        "vigie_check_findings",
        "vigie_findings",
        "vigie_tls_cert_not_after_timestamp_seconds",
        "vigie_ingest_reports_total",
        "vigie_ingest_duration_seconds",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
    assert!(text.contains(&format!(
        "vigie_tls_cert_not_after_timestamp_seconds{{org=\"{ORG}\",target=\"{WWW}\"}} {}\n",
        www_not_after().timestamp()
    )));
}

/// Durations vary from run to run: keep the histogram's shape and counts, blank the
/// buckets that depend on timing.
fn normalize(text: &str) -> String {
    text.lines()
        .map(|line| {
            let timed = (line.starts_with("vigie_ingest_duration_seconds_bucket")
                && !line.contains("le=\"+Inf\""))
                || line.starts_with("vigie_ingest_duration_seconds_sum");
            match line.rsplit_once(' ') {
                Some((series, _)) if timed => format!("{series} <varies>\n"),
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_sent() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let c = TestCollector::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vigie_collector::serve(
        listener,
        c.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    // Headers only: a collector that buffered before checking would wait for 20 MB forever.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        c.agent,
        20 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the collector answered before the body was sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stops on its shutdown signal")
        .unwrap()
        .unwrap();
}

/// `/metrics` names every organization's exposed services: a scraper or viewer token reads
/// it, nobody else unless the operator said `--metrics-public`.
#[tokio::test]
async fn metrics_need_a_scrape_or_viewer_token_and_are_text() {
    let c = TestCollector::new().await;
    let (status, _) = c
        .post(
            Some(&c.agent),
            body_of(&fixture_report(ORG, t0(), Status::Pass)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let scraper = c
        .store()
        .create_token(TokenKind::Scraper, None, "prometheus")
        .await
        .unwrap();
    assert!(scraper.starts_with("vgs_"), "{scraper}");
    let scrape = |token: Option<String>| {
        let mut request = Request::get("/metrics");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let (status, _, body) = c.send(scrape(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&body).contains(ORG));
    let (status, _, _) = c.send(scrape(Some(c.agent.clone()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agent reads no other org");
    for token in [scraper.clone(), c.viewer.clone()] {
        let (status, content_type, body) = c.send(scrape(Some(token))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(String::from_utf8_lossy(&body).contains(ORG));
    }
    // A scraper token reads nothing else.
    let (status, _) = c.get("/api/v1/orgs", Some(&scraper)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c
        .post(
            Some(&scraper),
            body_of(&fixture_report(ORG, t0(), Status::Pass)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    c.state.set_metrics_public(true);
    let (status, _, _) = c.send(scrape(None)).await;
    assert_eq!(status, StatusCode::OK, "--metrics-public");
}

/// The store's part of `/metrics` is cached: the ingest counters move at every scrape, and a
/// report stored after a scrape shows up once the short hold of a cheap render has passed
/// (bounded wait), never left out until the cache's maximum age.
#[tokio::test]
async fn cached_metrics_follow_new_reports() {
    let c = TestCollector::new().await;
    let first = c.metrics().await;
    assert!(!first.contains(WWW), "{first}");
    assert!(first.contains("vigie_ingest_reports_total{result=\"stored\"} 0\n"));

    let report = fixture_report(ORG, t0(), Status::Fail);
    assert_eq!(
        c.post(Some(&c.agent), body_of(&report)).await.0,
        StatusCode::CREATED
    );
    let started = std::time::Instant::now();
    let mut page = String::new();
    for _ in 0..100 {
        page = c.metrics().await;
        // Counters are live from the first scrape after the report.
        assert!(
            page.contains("vigie_ingest_reports_total{result=\"stored\"} 1\n"),
            "{page}"
        );
        if page.contains(&format!(
            "vigie_check_failing{{org=\"{ORG}\",check=\"tls.protocol.tls1_0\",status=\"fail\",severity=\"medium\"}} 1\n"
        )) || started.elapsed() > std::time::Duration::from_secs(10)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        page.contains(&format!(
            "vigie_check_failing{{org=\"{ORG}\",check=\"tls.protocol.tls1_0\",status=\"fail\",severity=\"medium\"}} 1\n"
        )),
        "the new report never reached /metrics:\n{page}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
