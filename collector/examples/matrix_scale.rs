//! The capability matrix and `/metrics` at sector scale (issue 7's speed targets): a SQLite
//! store seeded with `--orgs` organizations (1,000 by default), each with one agent report
//! of about 200 verdicts across every family (5 TLS endpoints, 2 mail domains, exposed
//! services, 3 hosts, web checks), then:
//!
//! - `GET /metrics` through the router: the first scrape (rendered from the store) and the
//!   next ones (served from the cache), and a scrape after one more report;
//! - the matrix for every organization × 18 capabilities computed, and exported to XLSX.
//!
//! ```text
//! cargo run --release -p vigie-collector --example matrix_scale -- [--orgs N] [--repeat N] [--dir PATH]
//! ```
//!
//! `scripts/bench-matrix` runs it. Timings are wall-clock on the machine that runs it; the
//! page size and the number of series are printed with them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use sha2::Digest as _;
use tower::ServiceExt as _;
use vigie_collector::export::{self, Format};
use vigie_collector::matrix::{self, MatrixRequest, View};
use vigie_collector::store::IncomingReport;
use vigie_collector::{app, AppState, Store};
use vigie_model::{Lang, Report};

struct Options {
    orgs: usize,
    repeat: usize,
    dir: Option<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        orgs: 1000,
        repeat: 5,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--orgs" | "--repeat" | "--dir" => {
                let Some(value) = args.next() else { usage() };
                match flag.as_str() {
                    "--orgs" => options.orgs = value.parse().unwrap_or_else(|_| usage()),
                    "--repeat" => options.repeat = value.parse().unwrap_or_else(|_| usage()),
                    _ => options.dir = Some(PathBuf::from(value)),
                }
            }
            _ => usage(),
        }
    }
    options
}

fn usage() -> ! {
    eprintln!("usage: matrix_scale [--orgs N (1000)] [--repeat N (5)] [--dir PATH]");
    std::process::exit(2)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn finding(check: &str, target: &str, status: &str, severity: &str, evidence: Value) -> Value {
    json!({
        "check": check, "target": target, "status": status, "severity": severity,
        "summary": format!("{check} on {target}: {status}"), "evidence": evidence,
    })
}

/// A status that varies with the organization and the check, so that levels spread over
/// the scale as in a real sector (most checks pass).
fn status(n: usize, salt: usize) -> &'static str {
    match (n * 31 + salt * 17) % 11 {
        0 => "fail",
        1 => "warn",
        _ => "pass",
    }
}

const TLS_CHECKS: [&str; 20] = [
    "tls.connect",
    "tls.protocol.sslv3",
    "tls.protocol.tls1_0",
    "tls.protocol.tls1_1",
    "tls.protocol.tls1_2",
    "tls.protocol.tls1_3",
    "tls.cipher.rc4",
    "tls.cipher.cbc",
    "tls.cipher.no_forward_secrecy",
    "tls.cipher.weak_dh",
    "tls.policy.itsp_40_062",
    "tls.cert.expired",
    "tls.cert.expiring",
    "tls.cert.self_signed",
    "tls.cert.untrusted",
    "tls.cert.hostname_mismatch",
    "tls.cert.weak_key",
    "tls.cert.weak_signature",
    "tls.ocsp_stapling",
    "tls.compression",
];

const WEB_CHECKS: [&str; 6] = [
    "https.redirect",
    "https.hsts",
    "https.hsts.max_age",
    "https.headers",
    "https.security_txt",
    "https.banner",
];

const EMAIL_CHECKS: [&str; 14] = [
    "email.dmarc.missing",
    "email.dmarc.policy",
    "email.dmarc.rua",
    "email.dmarc.pct",
    "email.spf.missing",
    "email.spf.all",
    "email.spf.lookup_limit",
    "email.dkim.missing",
    "email.mta_sts",
    "email.tlsrpt",
    "email.starttls",
    "dns.caa",
    "dns.dnssec",
    "email.parked",
];

const HOST_CHECKS: [&str; 5] = [
    "host.os",
    "host.os.eol",
    "host.updates.security",
    "host.updates.automatic",
    "host.reboot_required",
];

/// One agent's report for organization number `n`: about 200 verdicts.
fn report(n: usize, org: &str, finished_at: DateTime<Utc>, version: u32) -> Value {
    let mut findings = Vec::new();
    let mut targets = Vec::new();
    for e in 0..5 {
        let target = format!("w{e}.{org}.example:443");
        targets.push(json!({"kind": "tls", "target": target}));
        for (i, check) in TLS_CHECKS.iter().enumerate() {
            findings.push(finding(
                check,
                &target,
                status(n + e, i),
                "medium",
                json!({}),
            ));
        }
        for (i, check) in WEB_CHECKS.iter().enumerate() {
            findings.push(finding(
                check,
                &target,
                status(n + e, i + 40),
                "low",
                json!({}),
            ));
        }
    }
    for d in 0..2 {
        let domain = format!("d{d}.{org}.example");
        targets.push(json!({"kind": "email", "target": domain}));
        for (i, check) in EMAIL_CHECKS.iter().enumerate() {
            findings.push(finding(
                check,
                &domain,
                status(n + d, i + 60),
                "high",
                json!({}),
            ));
        }
    }
    targets.push(json!({"kind": "services", "target": "192.0.2.10"}));
    for (p, port) in [22u16, 25, 80, 443, 3389, 445, 5432, 6379]
        .iter()
        .enumerate()
    {
        let target = format!("192.0.2.10:{port}");
        let open = !(n + p).is_multiple_of(3);
        findings.push(finding(
            "service.open",
            &target,
            if open { "info" } else { "pass" },
            "info",
            json!({"port": port, "service": "svc"}),
        ));
        if open && (n + p).is_multiple_of(5) {
            findings.push(finding(
                "service.remote_desktop",
                &target,
                "fail",
                "high",
                json!({"port": port, "service": "rdp"}),
            ));
        }
        findings.push(finding(
            "service.outdated",
            &target,
            status(n, p + 80),
            "high",
            json!({"port": port}),
        ));
    }
    for h in 0..3 {
        let host = format!("h{h}.{org}.internal");
        targets.push(json!({"kind": "host", "target": host}));
        for (i, check) in HOST_CHECKS.iter().enumerate() {
            findings.push(finding(
                check,
                &host,
                status(n + h, i + 100),
                "high",
                json!({"count": (n + h + i) % 4}),
            ));
        }
    }
    let digest = sha2::Sha256::digest(format!("{org}/{version}").as_bytes());
    let id = uuid::Uuid::from_slice(&digest[..16]).unwrap_or_default();
    json!({
        "schema": "vigie.report.v1",
        "report_id": id.to_string(),
        "agent": {"id": format!("{org}-srv01"), "version": "0.1.0", "hostname": "srv01"},
        "org": org,
        "started_at": rfc3339(finished_at - chrono::Duration::seconds(30)),
        "finished_at": rfc3339(finished_at),
        "targets": targets,
        "findings": findings,
        "profile": "modern",
    })
}

fn incoming(body: &Value) -> IncomingReport {
    let text = body.to_string();
    let report: Report = serde_json::from_value(body.clone()).unwrap_or_else(|e| {
        eprintln!("the generated report does not parse: {e}");
        std::process::exit(1)
    });
    IncomingReport::new(report, text, Utc::now()).unwrap_or_else(|e| {
        eprintln!("the generated report cannot be stored: {e}");
        std::process::exit(1)
    })
}

async fn scrape(state: &AppState) -> (Duration, usize, usize) {
    let started = Instant::now();
    let response = app(state.clone())
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .unwrap_or_default(),
        )
        .await
        .unwrap_or_else(|e| match e {});
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let elapsed = started.elapsed();
    let series = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .count();
    (elapsed, body.len(), series)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let options = options();
    let scratch = tempfile::tempdir()?;
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let _ = std::fs::remove_file(&db);
    let store = Store::open(&format!("sqlite://{}", db.display())).await?;
    let now = Utc::now();

    let started = Instant::now();
    let orgs: Vec<String> = (0..options.orgs).map(|n| format!("org-{n:04}")).collect();
    let mut findings = 0;
    let mut first_token = String::new();
    for (n, org) in orgs.iter().enumerate() {
        let token = store
            .create_token(vigie_collector::TokenKind::Agent, Some(org), "srv01")
            .await?;
        if n == 0 {
            first_token = token;
        }
        // Last quarter's report, then today's: the trend and the Trends sheet read the
        // history as of each quarter end.
        let old = report(n + 5, org, now - chrono::Duration::days(100), 0);
        store.ingest(incoming(&old)).await?;
        let body = report(n, org, now - chrono::Duration::minutes(10), 1);
        findings += body["findings"].as_array().map_or(0, Vec::len);
        store.ingest(incoming(&body)).await?;
    }
    println!(
        "seeded {} organizations, {} current verdicts (and a report 100 days old each), in {:.1} s",
        orgs.len(),
        findings,
        started.elapsed().as_secs_f64()
    );

    let state = AppState::new(store.clone(), vigie_collector::DEFAULT_MAX_BODY_BYTES);
    // Measured without a token: what is timed is the page, not the token lookup.
    state.set_metrics_public(true);
    let (first, bytes, series) = scrape(&state).await;
    println!(
        "/metrics first scrape: {} ({:.1} MiB, {series} series)",
        ms(first),
        bytes as f64 / 1048576.0
    );
    let mut cached = Vec::new();
    for _ in 0..options.repeat {
        cached.push(scrape(&state).await.0);
    }
    println!(
        "/metrics cached scrape: median {} of {}",
        ms(median(cached)),
        options.repeat
    );
    // Four scrapes at once share one render.
    let together = Instant::now();
    let scrapes: Vec<_> = (0..4)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { scrape(&state).await })
        })
        .collect();
    for s in scrapes {
        s.await?;
    }
    println!("/metrics 4 concurrent scrapes: {}", ms(together.elapsed()));

    let requests = |view| MatrixRequest {
        view,
        lang: Lang::Fr,
        since: None,
        org: None,
        profile: vigie_matrix::TlsProfile::Modern,
        now,
        group_by: None,
    };
    let mut computes = Vec::new();
    let mut xlsx = Vec::new();
    let mut size = 0;
    let mut matrix_orgs = 0;
    for _ in 0..options.repeat.max(1) + 1 {
        let started = Instant::now();
        let computed = matrix::compute(&store, &requests(View::Org)).await?;
        computes.push(started.elapsed());
        matrix_orgs = computed.orgs.len();
        let started = Instant::now();
        let bytes = export::render(&computed, Format::Xlsx)?;
        xlsx.push(started.elapsed());
        size = bytes.len();
    }
    // The first compute grades the past quarter ends from the history and keeps them; the
    // next ones read them back (they change only when data about the past arrives late).
    let first = computes.first().copied().unwrap_or_default();
    let later = median(computes.iter().skip(1).copied().collect());
    let (c, x) = (later, median(xlsx));
    println!(
        "matrix {matrix_orgs} organizations × 18: first compute {} (grades and keeps the past quarter ends)",
        ms(first)
    );
    println!(
        "matrix {matrix_orgs} organizations × 18: computed in {} (median of the {} next), XLSX written in {} ({:.1} MiB); total {}",
        ms(c),
        computes.len().saturating_sub(1),
        ms(x),
        size as f64 / 1048576.0,
        ms(c + x)
    );
    // Every export of both views, rendering only (the compute is timed above): the median
    // of `repeat` renders after one warm-up (the PDF's font is deflated once per process).
    for view in [View::Org, View::Aggregate] {
        let computed = matrix::compute(&store, &requests(view)).await?;
        for format in [
            Format::Json,
            Format::Csv,
            Format::Xlsx,
            Format::Html,
            Format::Pdf,
        ] {
            let mut times = Vec::new();
            let mut size = 0;
            for _ in 0..options.repeat.max(1) + 1 {
                let started = Instant::now();
                let bytes = export::render(&computed, format)?;
                times.push(started.elapsed());
                size = bytes.len();
            }
            let first = times.remove(0);
            println!(
                "matrix export {} {}: {} (median of {}; first {}) ({:.2} MiB)",
                view.as_str(),
                format.extension(),
                ms(median(times.clone())),
                times.len(),
                ms(first),
                size as f64 / 1048576.0
            );
        }
    }

    // A new report makes the next scrape render again; a second one soon after waits for
    // the hold of that render.
    let post = |version: u32| {
        let state = state.clone();
        let body = report(0, &orgs[0], now, version).to_string();
        let token = first_token.clone();
        async move {
            app(state)
                .oneshot(
                    Request::post("/api/v1/reports")
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .unwrap_or_default(),
                )
                .await
                .unwrap_or_else(|e| match e {})
                .status()
        }
    };
    let status = post(2).await;
    let (after, _, _) = scrape(&state).await;
    println!(
        "/metrics after one more report ({status}): {} (rendered again)",
        ms(after)
    );
    let status = post(3).await;
    let (held, _, _) = scrape(&state).await;
    println!(
        "/metrics after another report ({status}) at once: {} (the last render is reused for ten times its cost, at most {} s)",
        ms(held),
        vigie_collector::metrics::CACHE_MAX_HOLD.as_secs()
    );
    tokio::time::sleep(vigie_collector::metrics::CACHE_MAX_HOLD).await;
    let (after, _, _) = scrape(&state).await;
    println!("/metrics after the hold: {} (rendered again)", ms(after));
    Ok(())
}
