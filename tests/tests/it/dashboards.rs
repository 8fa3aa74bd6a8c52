//! The dashboards and alerts against a real Prometheus: a collector seeded with reports of
//! three organizations is scraped every second; every PromQL expression of every dashboard
//! panel and of every alert rule must return data, and the expiring-certificate alert must
//! fire for the one certificate that expires soon.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use serde_json::{json, Value};
use vigie_tests::harness::{self, Collector, Prometheus};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn finding(check: &str, target: &str, status: &str, severity: &str, evidence: Value) -> Value {
    json!({
        "check": check,
        "target": target,
        "status": status,
        "severity": severity,
        "summary": format!("{check} on {target}: {status}"),
        "evidence": evidence,
    })
}

fn tls_observation(target: &str, not_after: DateTime<Utc>) -> Value {
    json!({
        "target": target,
        "server_name": target.split(':').next().unwrap(),
        "address": "127.0.0.1:443",
        "observed_at": rfc3339(Utc::now()),
        "result": {
            "outcome": "handshake",
            "protocol": "TLSv1.3",
            "cipher_suite": "TLS13_AES_128_GCM_SHA256",
            "certificates": [{
                "subject": format!("CN={target}"),
                "issuer": "CN=Fixture CA",
                "serial": "01",
                "not_before": rfc3339(not_after - Span::days(90)),
                "not_after": rfc3339(not_after),
                "subject_alt_names": [target.split(':').next().unwrap()],
                "self_signed": false,
                "key_type": "EC",
                "key_bits": 256,
                "signature_algorithm": "ecdsa-with-SHA256",
                "sha256": "00".repeat(32),
            }],
            "chain": { "trusted": true, "trust_store": "fixture" },
            "hostname_matches": true
        }
    })
}

struct OrgFixture {
    org: &'static str,
    finished_at: DateTime<Utc>,
    cert_days_left: i64,
    dmarc_policy_status: &'static str,
    tls1_0: &'static str,
    tls1_3: &'static str,
    risky_port: Option<(u16, &'static str, &'static str)>,
    security_updates: u64,
    eol: &'static str,
}

fn report(f: &OrgFixture) -> Value {
    let tls = format!("www.{}.test:443", f.org);
    let domain = format!("{}.test", f.org);
    let host = format!("srv.{}.test", f.org);
    let mut findings = vec![
        finding("tls.connect", &tls, "pass", "high", json!({})),
        finding(
            "tls.cert.expiring",
            &tls,
            if f.cert_days_left < 30 {
                "fail"
            } else {
                "pass"
            },
            "high",
            json!({}),
        ),
        finding("tls.protocol.sslv3", &tls, "pass", "high", json!({})),
        finding("tls.protocol.tls1_0", &tls, f.tls1_0, "medium", json!({})),
        finding("tls.protocol.tls1_3", &tls, f.tls1_3, "low", json!({})),
        finding("email.dmarc.missing", &domain, "pass", "high", json!({})),
        finding(
            "email.dmarc.policy",
            &domain,
            f.dmarc_policy_status,
            "high",
            json!({}),
        ),
        finding(
            "host.updates.security",
            &host,
            if f.security_updates > 0 {
                "fail"
            } else {
                "pass"
            },
            "high",
            json!({ "count": f.security_updates }),
        ),
        finding("host.os.eol", &host, f.eol, "critical", json!({})),
        finding(
            "service.open",
            "127.0.0.9:22",
            "info",
            "info",
            json!({ "port": 22, "service": "ssh" }),
        ),
    ];
    if let Some((port, check, severity)) = f.risky_port {
        let target = format!("127.0.0.9:{port}");
        findings.push(finding(
            "service.open",
            &target,
            "info",
            "info",
            json!({ "port": port, "service": "redis" }),
        ));
        findings.push(finding(
            check,
            &target,
            "fail",
            severity,
            json!({ "port": port, "service": "redis" }),
        ));
    }
    json!({
        "schema": "vigie.report.v1",
        // One fixed id per organization (its last letter), so a rerun would be a replay.
        "report_id": format!("00000000-0000-4000-8000-{:012}", f.org.as_bytes()[4]),
        "agent": { "id": format!("agent-{}", f.org), "version": "0.1.0", "hostname": host },
        "org": f.org,
        "started_at": rfc3339(f.finished_at - Span::seconds(5)),
        "finished_at": rfc3339(f.finished_at),
        "targets": [
            { "kind": "tls", "target": tls },
            { "kind": "email", "target": domain },
            { "kind": "host", "target": host },
            { "kind": "services", "target": "127.0.0.9" },
        ],
        "findings": findings,
        "observations": {
            "tls": [tls_observation(&tls, Utc::now() + Span::days(f.cert_days_left))]
        },
        "profile": "modern"
    })
}

fn fixtures() -> Vec<OrgFixture> {
    let now = Utc::now();
    vec![
        OrgFixture {
            org: "org-a",
            finished_at: now,
            cert_days_left: 5,
            dmarc_policy_status: "fail",
            tls1_0: "fail",
            tls1_3: "pass",
            risky_port: Some((6379, "service.unauthenticated", "critical")),
            security_updates: 4,
            eol: "fail",
        },
        OrgFixture {
            org: "org-b",
            finished_at: now,
            cert_days_left: 200,
            dmarc_policy_status: "pass",
            tls1_0: "pass",
            tls1_3: "pass",
            risky_port: None,
            security_updates: 0,
            eol: "pass",
        },
        // An agent that went quiet 13 hours ago.
        OrgFixture {
            org: "org-c",
            finished_at: now - Span::hours(13),
            cert_days_left: 60,
            dmarc_policy_status: "warn",
            tls1_0: "pass",
            tls1_3: "warn",
            risky_port: Some((6380, "service.database", "high")),
            security_updates: 1,
            eol: "pass",
        },
    ]
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn non_empty(data: &Value) -> bool {
    match &data["result"] {
        Value::Array(items) => !items.is_empty(),
        // Scalars and strings are data too.
        Value::Null => false,
        _ => true,
    }
}

#[test]
fn every_dashboard_and_alert_query_returns_data_and_the_certificate_alert_fires() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path());
    for fixture in fixtures() {
        let token = collector.agent_token(fixture.org);
        let body = report(&fixture).to_string();
        let (status, answer) =
            harness::http_post_json(&collector.url("/api/v1/reports"), Some(&token), &body)
                .expect("collector answers");
        assert!(
            (200..300).contains(&status),
            "{} refused: {status} {answer}",
            fixture.org
        );
    }

    // The shipped scrape config, as an operator installs it: beside alerts.yml and the token
    // file of `vigie-collector scraper add`; only the target and the intervals differ.
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prometheus_dir).unwrap();
    let shipped = std::fs::read_to_string(repo_root().join("dashboards/prometheus.yml")).unwrap();
    assert!(shipped.contains("\"127.0.0.1:8080\"") && shipped.contains("60s"));
    let config = prometheus_dir.join("prometheus.yml");
    std::fs::write(
        &config,
        shipped
            .replace("\"127.0.0.1:8080\"", &format!("\"{}\"", collector.addr))
            .replace("60s", "1s"),
    )
    .unwrap();
    std::fs::copy(
        repo_root().join("dashboards/alerts.yml"),
        prometheus_dir.join("alerts.yml"),
    )
    .unwrap();
    let scraper = collector.scraper_token();
    std::fs::write(
        prometheus_dir.join("vigie-scrape.token"),
        format!("{scraper}\n"),
    )
    .unwrap();
    let prometheus = Prometheus::start_with_config(&prometheus_dir, &config);
    // Enough scrapes for rate() over the 5-minute windows to have two samples.
    let scraped = harness::wait_until(Duration::from_secs(60), || {
        prometheus
            .query("count_over_time(vigie_findings[5m])")
            .is_ok_and(|d| {
                d["result"].as_array().is_some_and(|r| {
                    r.iter().any(|s| {
                        s["value"][1]
                            .as_str()
                            .and_then(|v| v.parse::<f64>().ok())
                            .is_some_and(|v| v >= 3.0)
                    })
                })
            })
    });
    assert!(
        scraped,
        "prometheus did not scrape the collector three times in 60 s"
    );

    let definitions = vigie_dashboards::definitions().unwrap();
    let mut failures = Vec::new();
    let mut evaluated = 0;
    for dashboard in &definitions.dashboards {
        for panel in &dashboard.panels {
            for query in panel.all_queries() {
                let expr = query.expr.replace("$org", "org-a");
                evaluated += 1;
                match prometheus.query(&expr) {
                    Ok(data) if non_empty(&data) => {}
                    Ok(_) => failures.push(format!("{}: no data: {expr}", dashboard.uid)),
                    Err(e) => failures.push(format!("{}: {e}: {expr}", dashboard.uid)),
                }
            }
        }
    }
    assert!(evaluated >= 20, "only {evaluated} panel queries");

    // Every alert rule loaded, healthy, and its expression has data in the fixtures.
    let rules = prometheus.api("/api/v1/rules").unwrap();
    let mut alert_names = Vec::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["name"].as_str().unwrap().to_owned();
            let query = rule["query"].as_str().unwrap();
            if rule["health"] == "err" {
                failures.push(format!("rule {name}: {}", rule["lastError"]));
            }
            match prometheus.query(query) {
                Ok(data) if non_empty(&data) => {}
                Ok(_) => failures.push(format!("rule {name}: no data: {query}")),
                Err(e) => failures.push(format!("rule {name}: {e}")),
            }
            alert_names.push(name);
        }
    }
    assert_eq!(alert_names.len(), 5, "{alert_names:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The certificate alert fires (no `for`), for org-a's endpoint only.
    let mut firing = Vec::new();
    let fired = harness::wait_until(Duration::from_secs(20), || {
        firing = prometheus
            .api("/api/v1/alerts")
            .map(|d| {
                d["alerts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|a| {
                        a["labels"]["alertname"] == "VigieCertificateExpiringSoon"
                            && a["state"] == "firing"
                    })
                    .map(|a| a["labels"]["target"].as_str().unwrap_or("").to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        !firing.is_empty()
    });
    assert!(fired, "the expiring-certificate alert did not fire");
    assert_eq!(firing, vec!["www.org-a.test:443".to_owned()]);

    // And the silent agent is seen as silent (pending: the rule waits 15 minutes to fire).
    let silent = prometheus
        .query("time() - vigie_agent_last_report_timestamp_seconds > 43200")
        .unwrap();
    let agents: Vec<&str> = silent["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"]["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, vec!["agent-org-c"]);
}

/// A Prometheus without the scrape token gets nothing: its target is down with the
/// collector's 401, and no Vigie series reaches its database.
#[test]
fn a_prometheus_without_the_scrape_token_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path());
    let fixture = &fixtures()[0];
    let token = collector.agent_token(fixture.org);
    let (status, answer) = harness::http_post_json(
        &collector.url("/api/v1/reports"),
        Some(&token),
        &report(fixture).to_string(),
    )
    .expect("collector answers");
    assert!((200..300).contains(&status), "{status} {answer}");

    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prometheus_dir).unwrap();
    // The harness's own config: the same job, no `authorization` block.
    let prometheus = Prometheus::start(&prometheus_dir, collector.addr, &[]);
    let mut last_error = String::new();
    let refused = harness::wait_until(Duration::from_secs(30), || {
        let Ok(targets) = prometheus.api("/api/v1/targets") else {
            return false;
        };
        let Some(target) = targets["activeTargets"].as_array().and_then(|t| t.first()) else {
            return false;
        };
        last_error = target["lastError"].as_str().unwrap_or_default().to_owned();
        target["health"] == "down" && last_error.contains("401")
    });
    assert!(refused, "the target is not down with a 401: {last_error:?}");
    let up = prometheus.query("up{job=\"vigie-collector\"}").unwrap();
    assert_eq!(up["result"][0]["value"][1], "0", "{up}");
    let findings = prometheus.query("vigie_findings").unwrap();
    assert_eq!(findings["result"], json!([]), "{findings}");
}
