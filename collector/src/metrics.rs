//! `GET /metrics`: the Prometheus text exposition format 0.0.4, written by hand.
//!
//! Two sources: the store (latest state, read at each scrape) and the collector's own ingest
//! counters (in memory, reset at restart as Prometheus counters may be). Every label value
//! comes from a bounded set (organization ids, targets and check ids an agent reported,
//! closed enums) and is escaped as the format requires.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use vigie_model::{Severity, Status};

use crate::family_metrics::FamilyMetrics;
use crate::store::MetricsSnapshot;

/// The content type of the 0.0.4 text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How an ingest request ended, the `result` label of `vigie_ingest_reports_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestResult {
    /// Stored for the first time.
    Stored,
    /// A replay of a stored report; answered, nothing stored.
    Duplicate,
    /// No, unknown or wrong-kind token (401, 403).
    RejectedAuth,
    /// Malformed, wrongly typed or invalid report (400, 415, 422).
    RejectedInvalid,
    /// Body over the limit (413).
    RejectedTooLarge,
    /// Organization mismatch or report id reused with another body (409).
    RejectedConflict,
    /// The collector failed (5xx).
    Error,
    /// The token sent more than `--rate-limit` allows (429).
    RejectedRateLimited,
}

impl IngestResult {
    const ALL: [IngestResult; 8] = [
        IngestResult::Stored,
        IngestResult::Duplicate,
        IngestResult::RejectedAuth,
        IngestResult::RejectedInvalid,
        IngestResult::RejectedTooLarge,
        IngestResult::RejectedConflict,
        IngestResult::Error,
        IngestResult::RejectedRateLimited,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestResult::Stored => "stored",
            IngestResult::Duplicate => "duplicate",
            IngestResult::RejectedAuth => "rejected_auth",
            IngestResult::RejectedInvalid => "rejected_invalid",
            IngestResult::RejectedTooLarge => "rejected_too_large",
            IngestResult::RejectedConflict => "rejected_conflict",
            IngestResult::Error => "error",
            IngestResult::RejectedRateLimited => "rejected_rate_limited",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the ingest duration histogram, in seconds: from a small report on an idle
/// collector (about a millisecond) to a large one waiting for the disk.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The collector's own ingest metrics.
#[derive(Debug, Default)]
pub struct IngestMetrics {
    results: [AtomicU64; IngestResult::ALL.len()],
    /// Cumulative counts per bucket of [`BUCKETS`], plus the `+Inf` bucket last.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl IngestMetrics {
    /// Counts one ingest request that ended with `result` after `elapsed`.
    pub fn record(&self, result: IngestResult, elapsed: Duration) {
        self.results[result.index()].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS.iter()) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.buckets[BUCKETS.len()].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many requests ended with `result` so far.
    pub fn count(&self, result: IngestResult) -> u64 {
        self.results[result.index()].load(Ordering::Relaxed)
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the format writes it: Go-style `+Inf`/`-Inf`/`NaN`, else the shortest
/// decimal that reads back to the same number.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

struct Encoder {
    out: String,
}

impl Encoder {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        // HELP text escapes backslash and line feed only; ours are constants without either.
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", value(v));
    }
}

fn timestamp_seconds(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0
}

fn render_families(e: &mut Encoder, family: &FamilyMetrics) {
    e.header(
        "vigie_tls_protocol_accepted",
        "gauge",
        "Whether each TLS endpoint accepts each protocol version: 1 accepted, 0 refused.",
    );
    for p in &family.protocols {
        e.sample(
            "vigie_tls_protocol_accepted",
            &[
                ("org", &p.org),
                ("target", &p.target),
                ("protocol", &p.protocol),
            ],
            if p.accepted { 1.0 } else { 0.0 },
        );
    }

    e.header(
        "vigie_email_dmarc_policy",
        "gauge",
        "DMARC policy of each mail domain: 0 none or missing, 1 quarantine, 2 reject.",
    );
    for d in &family.dmarc {
        e.sample(
            "vigie_email_dmarc_policy",
            &[("org", &d.org), ("domain", &d.domain)],
            f64::from(d.level),
        );
    }

    e.header(
        "vigie_exposed_service",
        "gauge",
        "Each open port found by a service scan, with the severity of the worst failing service rule on it as risk (info when none fails).",
    );
    for s in &family.services {
        e.sample(
            "vigie_exposed_service",
            &[
                ("org", &s.org),
                ("target", &s.target),
                ("port", &s.port),
                ("service", &s.service),
                ("risk", s.risk.as_str()),
            ],
            1.0,
        );
    }

    e.header(
        "vigie_host_pending_security_updates",
        "gauge",
        "Security updates pending on each agent host.",
    );
    for h in &family.hosts {
        if let Some(count) = h.pending_security_updates {
            e.sample(
                "vigie_host_pending_security_updates",
                &[("org", &h.org), ("host", &h.host)],
                count as f64,
            );
        }
    }

    e.header(
        "vigie_host_os_eol",
        "gauge",
        "Whether each agent host runs an operating system past its end of security support: 1 yes, 0 no.",
    );
    for h in &family.hosts {
        if let Some(eol) = h.os_eol {
            e.sample(
                "vigie_host_os_eol",
                &[("org", &h.org), ("host", &h.host)],
                if eol { 1.0 } else { 0.0 },
            );
        }
    }
}

/// The whole `/metrics` page.
pub fn render(snapshot: &MetricsSnapshot, ingest: &IngestMetrics) -> String {
    let mut e = Encoder { out: String::new() };

    e.header(
        "vigie_agent_last_report_timestamp_seconds",
        "gauge",
        "When the newest report of each agent finished (Unix time).",
    );
    for (org, agent, at) in &snapshot.agents {
        e.sample(
            "vigie_agent_last_report_timestamp_seconds",
            &[("org", org), ("agent", agent)],
            timestamp_seconds(*at),
        );
    }

    e.header(
        "vigie_capability_level",
        "gauge",
        "Capability matrix level 0-4 of each organization (C01-C18; unknown cells are not exported).",
    );
    for (org, capability, level) in &snapshot.capability_levels {
        e.sample(
            "vigie_capability_level",
            &[("org", org), ("capability", capability)],
            f64::from(*level),
        );
    }

    e.header(
        "vigie_check_status",
        "gauge",
        "Latest status of each check on each target: 0 pass, 1 warn, 2 fail, 3 error (info and skip are not exported).",
    );
    for (org, target, check, status) in &snapshot.checks {
        if let Some(v) = status.metric_value() {
            e.sample(
                "vigie_check_status",
                &[("org", org), ("target", target), ("check", check)],
                f64::from(v),
            );
        }
    }

    e.header(
        "vigie_findings",
        "gauge",
        "Number of latest findings per organization, severity and status.",
    );
    // Every combination for every organization, so that a count falling to zero reads 0
    // rather than vanishing.
    for org in &snapshot.orgs {
        for severity in Severity::ALL {
            for status in Status::ALL {
                let count = snapshot
                    .finding_counts
                    .iter()
                    .find(|(o, st, sev, _)| o == org && *st == status && *sev == severity)
                    .map_or(0, |c| c.3);
                e.sample(
                    "vigie_findings",
                    &[
                        ("org", org),
                        ("severity", severity.as_str()),
                        ("status", status.as_str()),
                    ],
                    count as f64,
                );
            }
        }
    }

    e.header(
        "vigie_tls_cert_not_after_timestamp_seconds",
        "gauge",
        "notAfter of the leaf certificate last seen at each TLS endpoint (Unix time).",
    );
    for (org, target, not_after) in &snapshot.tls_not_after {
        e.sample(
            "vigie_tls_cert_not_after_timestamp_seconds",
            &[("org", org), ("target", target)],
            timestamp_seconds(*not_after),
        );
    }

    render_families(&mut e, &snapshot.family);

    e.header(
        "vigie_ingest_reports_total",
        "counter",
        "Report uploads by outcome since the collector started.",
    );
    for result in IngestResult::ALL {
        e.sample(
            "vigie_ingest_reports_total",
            &[("result", result.as_str())],
            ingest.count(result) as f64,
        );
    }

    e.header(
        "vigie_ingest_duration_seconds",
        "histogram",
        "Time to answer a report upload, from the request's headers to the answer.",
    );
    for (bound, bucket) in BUCKETS.iter().zip(ingest.buckets.iter()) {
        e.sample(
            "vigie_ingest_duration_seconds_bucket",
            &[("le", &value(*bound))],
            bucket.load(Ordering::Relaxed) as f64,
        );
    }
    let total = ingest.buckets[BUCKETS.len()].load(Ordering::Relaxed);
    e.sample(
        "vigie_ingest_duration_seconds_bucket",
        &[("le", "+Inf")],
        total as f64,
    );
    e.sample(
        "vigie_ingest_duration_seconds_sum",
        &[],
        ingest.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
    );
    e.sample("vigie_ingest_duration_seconds_count", &[], total as f64);
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_label("plain-org.ca:443"), "plain-org.ca:443");
    }

    #[test]
    fn values_use_prometheus_spelling() {
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(2.0), "2");
        assert_eq!(value(0.0025), "0.0025");
        assert_eq!(value(1_795_860_004.0), "1795860004");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let ingest = IngestMetrics::default();
        ingest.record(IngestResult::Stored, Duration::from_millis(3));
        ingest.record(IngestResult::RejectedAuth, Duration::from_secs(20));
        let text = render(&MetricsSnapshot::default(), &ingest);
        assert!(text.contains("vigie_ingest_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("vigie_ingest_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("vigie_ingest_duration_seconds_bucket{le=\"10\"} 1\n"));
        assert!(text.contains("vigie_ingest_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("vigie_ingest_duration_seconds_count 2\n"));
        assert!(text.contains("vigie_ingest_reports_total{result=\"stored\"} 1\n"));
        assert!(text.contains("vigie_ingest_reports_total{result=\"rejected_auth\"} 1\n"));
    }

    #[test]
    fn info_and_skip_are_not_check_status_samples() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let snapshot = MetricsSnapshot {
            orgs: vec!["o".into()],
            agents: vec![("o".into(), "a\"1".into(), at)],
            checks: vec![
                ("o".into(), "t".into(), "tls.connect".into(), Status::Error),
                (
                    "o".into(),
                    "t".into(),
                    "tls.cipher.list".into(),
                    Status::Info,
                ),
                (
                    "o".into(),
                    "t".into(),
                    "tls.ocsp_stapling".into(),
                    Status::Skip,
                ),
            ],
            finding_counts: vec![("o".into(), Status::Error, Severity::High, 1)],
            tls_not_after: vec![],
            capability_levels: vec![("o".into(), "C05".into(), 0)],
            family: FamilyMetrics::default(),
        };
        let text = render(&snapshot, &IngestMetrics::default());
        assert!(
            text.contains("vigie_check_status{org=\"o\",target=\"t\",check=\"tls.connect\"} 3\n")
        );
        assert!(!text.contains("tls.cipher.list"));
        assert!(!text.contains("tls.ocsp_stapling"));
        assert!(text.contains(
            "vigie_agent_last_report_timestamp_seconds{org=\"o\",agent=\"a\\\"1\"} 1767323045\n"
        ));
        assert!(text.contains("vigie_findings{org=\"o\",severity=\"high\",status=\"error\"} 1\n"));
        assert!(text.contains("vigie_capability_level{org=\"o\",capability=\"C05\"} 0\n"));
        assert!(
            text.contains("vigie_findings{org=\"o\",severity=\"critical\",status=\"fail\"} 0\n")
        );
    }

    #[test]
    fn family_gauges_are_written_with_their_labels() {
        use crate::family_metrics::{DmarcPolicy, ExposedService, HostPosture, ProtocolAccepted};
        let snapshot = MetricsSnapshot {
            family: FamilyMetrics {
                protocols: vec![ProtocolAccepted {
                    org: "o".into(),
                    target: "w:443".into(),
                    protocol: "tls1_0".into(),
                    accepted: true,
                }],
                dmarc: vec![DmarcPolicy {
                    org: "o".into(),
                    domain: "o.test".into(),
                    level: 1,
                }],
                services: vec![ExposedService {
                    org: "o".into(),
                    target: "10.0.0.1:445".into(),
                    port: "445".into(),
                    service: "smb".into(),
                    risk: Severity::Critical,
                }],
                hosts: vec![HostPosture {
                    org: "o".into(),
                    host: "h".into(),
                    pending_security_updates: Some(3),
                    os_eol: None,
                }],
            },
            ..MetricsSnapshot::default()
        };
        let text = render(&snapshot, &IngestMetrics::default());
        for line in [
            "vigie_tls_protocol_accepted{org=\"o\",target=\"w:443\",protocol=\"tls1_0\"} 1\n",
            "vigie_email_dmarc_policy{org=\"o\",domain=\"o.test\"} 1\n",
            "vigie_exposed_service{org=\"o\",target=\"10.0.0.1:445\",port=\"445\",service=\"smb\",risk=\"critical\"} 1\n",
            "vigie_host_pending_security_updates{org=\"o\",host=\"h\"} 3\n",
        ] {
            assert!(text.contains(line), "missing {line}");
        }
        // An unknown end-of-life state is no sample, not a 0.
        assert!(!text.contains("vigie_host_os_eol{"));
    }
}
