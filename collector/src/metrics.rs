//! `GET /metrics`: the Prometheus text exposition format 0.0.4, written by hand.
//!
//! Two sources: a snapshot of the store (latest state counted per organization, check,
//! status and severity; built when a scrape finds it out of date, in the background when
//! building is slow, see [`MetricsCache`]) and the collector's own ingest counters (in
//! memory, reset at restart as Prometheus counters may be). Every label value comes from a
//! bounded set (organization ids, targets and check ids an agent reported, closed enums) and
//! is escaped as the format requires. The page holds counts, never a series per finding:
//! a few per agent, at most one per TLS endpoint, mail domain, open port and host
//! (`docs/scaling.md` gives the figures); each finding is in the read API.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
#[cfg(test)]
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_label_into(&mut out, value);
    out
}

/// Appends `value` escaped to `out`.
fn escape_label_into(out: &mut String, value: &str) {
    if !value.contains(['\\', '"', '\n']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
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

/// The longest label value written: a target's bound at ingest (`vigie_model::validate`).
/// Rows stored before that bound existed may hold longer values; their series are left out
/// rather than sent to Prometheus, which would store them.
pub const MAX_LABEL_BYTES: usize = vigie_model::validate::MAX_TARGET;

struct Encoder {
    out: String,
    /// Samples left out for a label value over [`MAX_LABEL_BYTES`].
    skipped: usize,
}

impl Encoder {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        // HELP text escapes backslash and line feed only; ours are constants without either.
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        if labels.iter().any(|(_, val)| val.len() > MAX_LABEL_BYTES) {
            self.skipped += 1;
            return;
        }
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                escape_label_into(&mut self.out, val);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        // Most samples are small integers: written without going through a String.
        if v.fract() == 0.0 && v.abs() < 1e15 {
            let _ = writeln!(self.out, "{}", v as i64);
        } else {
            let _ = writeln!(self.out, "{}", value(v));
        }
    }
}

fn timestamp_seconds(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0
}

fn render_families(e: &mut Encoder, family: &FamilyMetrics) {
    e.header(
        "vigie_tls_protocol_accepted",
        "gauge",
        "Number of each organization's TLS endpoints that accept each protocol version (0 when every endpoint tested refuses it).",
    );
    // Per organization, not per endpoint: six series an endpoint were most of a large
    // sector's page; which endpoint accepts what is in the read API.
    let mut protocols: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for p in &family.protocols {
        *protocols
            .entry((p.org.as_str(), p.protocol.as_str()))
            .or_default() += u64::from(p.accepted);
    }
    for ((org, protocol), accepted) in protocols {
        e.sample(
            "vigie_tls_protocol_accepted",
            &[("org", org), ("protocol", protocol)],
            accepted as f64,
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

    e.header(
        "vigie_probe_failures",
        "gauge",
        "Latest error verdicts whose probe could not reach or speak to its target, per family and kind of failure (refused, timeout, name, tls, protocol, other).",
    );
    for p in &family.failures {
        e.sample(
            "vigie_probe_failures",
            &[
                ("org", &p.org),
                ("family", p.family),
                ("kind", p.kind.as_str()),
            ],
            p.count as f64,
        );
    }
}

/// The whole `/metrics` page.
pub fn render(snapshot: &MetricsSnapshot, ingest: &IngestMetrics) -> String {
    let mut page = render_state(snapshot);
    page.push_str(&render_ingest(ingest));
    page
}

/// The part of the page read from the store: every posture series.
pub fn render_state(snapshot: &MetricsSnapshot) -> String {
    let mut e = Encoder {
        // The page is large (about 90 bytes a series); growing by doubling from empty
        // copies it some twenty times.
        out: String::with_capacity(
            64 * 1024
                + 96 * (2 * snapshot.check_counts.len()
                    + snapshot.agents.len()
                    + snapshot.tls_not_after.len()
                    + snapshot.capability_levels.len()
                    + snapshot.finding_counts.len()
                    + 2 * snapshot.orgs.len()),
        ),
        skipped: 0,
    };

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
        "vigie_check_failing",
        "gauge",
        "Number of each organization's targets whose latest status for each check is fail or error, by severity (other statuses are counted sector-wide in vigie_check_findings).",
    );
    for (org, check, status, severity, count) in &snapshot.check_counts {
        if matches!(status, Status::Fail | Status::Error) {
            e.sample(
                "vigie_check_failing",
                &[
                    ("org", org),
                    ("check", check),
                    ("status", status.as_str()),
                    ("severity", severity.as_str()),
                ],
                *count as f64,
            );
        }
    }

    e.header(
        "vigie_check_findings",
        "gauge",
        "Number of latest findings of the whole sector per check, status and severity.",
    );
    let mut sector: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for (_, check, status, severity, count) in &snapshot.check_counts {
        *sector
            .entry((check.as_str(), status.as_str(), severity.as_str()))
            .or_default() += count;
    }
    for ((check, status, severity), count) in sector {
        e.sample(
            "vigie_check_findings",
            &[("check", check), ("status", status), ("severity", severity)],
            count as f64,
        );
    }

    e.header(
        "vigie_findings",
        "gauge",
        "Number of latest findings per organization, severity and status (combinations with none are left out, except failures of critical and high severity, which read 0).",
    );
    // Failures of the two severities alerts and the sector's top list read are written for
    // every organization, so that a count falling to zero reads 0 rather than vanishing;
    // every other combination only when some finding has it (all of them were 30 series an
    // organization, most of them zeros).
    let counts: HashMap<(&str, Status, Severity), u64> = snapshot
        .finding_counts
        .iter()
        .map(|(org, status, severity, count)| ((org.as_str(), *status, *severity), *count))
        .collect();
    for org in &snapshot.orgs {
        for severity in Severity::ALL {
            for status in Status::ALL {
                let count = counts.get(&(org.as_str(), status, severity)).copied();
                let always = status == Status::Fail
                    && matches!(severity, Severity::Critical | Severity::High);
                let Some(count) = count.or(always.then_some(0)) else {
                    continue;
                };
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
    if e.skipped > 0 {
        tracing::warn!(
            skipped = e.skipped,
            max_bytes = MAX_LABEL_BYTES,
            "series with an over-long label value (stored by an older collector) were left out of /metrics"
        );
    }
    e.out
}

/// The collector's own counters: cheap, and live at every scrape even when the store's part
/// comes from the cache.
pub fn render_ingest(ingest: &IngestMetrics) -> String {
    let mut e = Encoder {
        out: String::new(),
        skipped: 0,
    };
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

/// Renders older than this are redone even if no report arrived: levels change with time
/// alone (answers expire, observations go stale), and another process (`assess import`,
/// `org set`, a second collector on the same database) may have written.
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(60);

/// A render that took at least [`CACHE_SLOW_RENDER`] is reused after new reports for ten
/// times as long as it took, up to this: under a steady flow of reports a large sector's
/// page is rebuilt at most every few seconds (at most a tenth of the time spent rendering),
/// while a small collector, whose render is quick, shows each report at the next scrape.
pub const CACHE_MAX_HOLD: Duration = Duration::from_secs(15);

/// Renders quicker than this are never held: the next scrape after a report renders again.
/// Slower ones are also never waited for once a page exists: the scrape takes the previous
/// page and the new one is built in the background (see [`MetricsCache::get_or_render`]).
pub const CACHE_SLOW_RENDER: Duration = Duration::from_millis(100);

/// A page older than this is not served while a newer one is built: the scrape waits for
/// the build (or fails with it), so a store that stopped answering shows in the scrape.
pub const CACHE_MAX_STALE: Duration = Duration::from_secs(300);

/// The store's part of `/metrics`, rendered once and shared by the scrapes that follow
/// until the data changes (see [`MetricsCache::get_or_render`]).
#[derive(Debug)]
pub struct MetricsCache {
    // A tokio mutex held across a render done for a scrape: scrapes arriving during it
    // wait and take its result instead of starting their own.
    rendered: Arc<tokio::sync::Mutex<Option<Rendered>>>,
    /// Whether a background build is under way (one at a time).
    refreshing: Arc<AtomicBool>,
    slow_render: Duration,
}

impl Default for MetricsCache {
    fn default() -> MetricsCache {
        MetricsCache {
            rendered: Arc::default(),
            refreshing: Arc::default(),
            slow_render: CACHE_SLOW_RENDER,
        }
    }
}

#[derive(Debug, Clone)]
struct Rendered {
    /// The data generation it was rendered from.
    generation: u64,
    at: Instant,
    took: Duration,
    page: axum::body::Bytes,
}

/// Whether a render of `generation` done at `at` in `took` may still be served at `now`
/// for data at `current`; renders quicker than `slow_render` are not held.
fn reusable(rendered: &Rendered, current: u64, now: Instant, slow_render: Duration) -> bool {
    let age = now.saturating_duration_since(rendered.at);
    if age >= CACHE_MAX_AGE {
        return false;
    }
    if rendered.generation == current {
        return true;
    }
    rendered.took >= slow_render && age < rendered.took.saturating_mul(10).min(CACHE_MAX_HOLD)
}

/// Whether a page that is no longer [`reusable`] is served while a new one is built in the
/// background: only a slow render's, and only while it is younger than [`CACHE_MAX_STALE`].
fn served_while_refreshing(rendered: &Rendered, now: Instant, slow_render: Duration) -> bool {
    rendered.took >= slow_render && now.saturating_duration_since(rendered.at) < CACHE_MAX_STALE
}

/// Clears the "build under way" flag when the background build ends, panicked or not.
struct Refreshing(Arc<AtomicBool>);

impl Drop for Refreshing {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl MetricsCache {
    /// The store's part of the page for data generation `generation` (a counter that grows
    /// whenever the data changes, e.g. reports stored): the cached page if it is still
    /// fresh, else what `render` returns, which is then cached. Concurrent callers share
    /// one render.
    ///
    /// A scrape waits for `render` only when the page is quick to build (under
    /// [`CACHE_SLOW_RENDER`]) or there is no recent page: a large sector's page (seconds
    /// of store reads and matrix grading) is rebuilt in the background while scrapes take
    /// the previous snapshot, so a scrape's time does not grow with the sector.
    pub async fn get_or_render<F, Fut, E>(
        &self,
        generation: u64,
        render: F,
    ) -> Result<axum::body::Bytes, E>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<String, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let mut slot = self.rendered.lock().await;
        if let Some(rendered) = slot.as_ref() {
            let now = Instant::now();
            if reusable(rendered, generation, now, self.slow_render) {
                return Ok(rendered.page.clone());
            }
            if served_while_refreshing(rendered, now, self.slow_render) {
                let page = rendered.page.clone();
                drop(slot);
                if !self.refreshing.swap(true, Ordering::SeqCst) {
                    let guard = Refreshing(self.refreshing.clone());
                    let rendered = self.rendered.clone();
                    tokio::spawn(async move {
                        let _guard = guard;
                        let started = Instant::now();
                        match render().await {
                            Ok(page) => {
                                *rendered.lock().await = Some(Rendered {
                                    generation,
                                    at: Instant::now(),
                                    took: started.elapsed(),
                                    page: axum::body::Bytes::from(page),
                                });
                            }
                            Err(error) => tracing::warn!(
                                %error,
                                "building the metrics snapshot failed; scrapes get the previous one until it is too old"
                            ),
                        }
                    });
                }
                return Ok(page);
            }
        }
        let started = Instant::now();
        let page = axum::body::Bytes::from(render().await?);
        *slot = Some(Rendered {
            generation,
            at: Instant::now(),
            took: started.elapsed(),
            page: page.clone(),
        });
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rendered(generation: u64, at: Instant, took: Duration) -> Rendered {
        Rendered {
            generation,
            at,
            took,
            page: axum::body::Bytes::from_static(b"x"),
        }
    }

    #[test]
    fn a_render_is_reused_until_data_changes_and_then_for_ten_times_its_cost() {
        let t = Instant::now();
        let slow_render = CACHE_SLOW_RENDER;
        let fast = rendered(7, t, Duration::from_millis(2));
        // Same data: reused until the maximum age.
        assert!(reusable(&fast, 7, t + Duration::from_secs(59), slow_render));
        assert!(!reusable(&fast, 7, t + CACHE_MAX_AGE, slow_render));
        // New data after a quick render: rendered again at once.
        assert!(!reusable(
            &fast,
            8,
            t + Duration::from_millis(1),
            slow_render
        ));
        // After a 300 ms render, new data waits 3 s.
        let medium = rendered(7, t, Duration::from_millis(300));
        assert!(reusable(
            &medium,
            8,
            t + Duration::from_millis(2900),
            slow_render
        ));
        assert!(!reusable(
            &medium,
            8,
            t + Duration::from_millis(3100),
            slow_render
        ));
        // After a 3 s render, new data waits up to the hold limit.
        let slow = rendered(7, t, Duration::from_secs(3));
        assert!(reusable(&slow, 8, t + Duration::from_secs(14), slow_render));
        assert!(!reusable(&slow, 8, t + CACHE_MAX_HOLD, slow_render));
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_render_and_new_data_renders_again() {
        let cache = Arc::new(MetricsCache {
            slow_render: Duration::from_millis(10),
            ..MetricsCache::default()
        });
        let renders = Arc::new(AtomicU64::new(0));
        let scrape = |generation: u64| {
            let (cache, renders) = (cache.clone(), renders.clone());
            async move {
                cache
                    .get_or_render(generation, move || async move {
                        let n = renders.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        Ok::<_, std::convert::Infallible>(format!("render {n}"))
                    })
                    .await
                    .unwrap()
            }
        };
        let pages = futures_join(vec![
            tokio::spawn(scrape(1)),
            tokio::spawn(scrape(1)),
            tokio::spawn(scrape(1)),
        ])
        .await;
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        assert!(pages.iter().all(|p| &p[..] == b"render 1"));
        assert_eq!(&scrape(1).await[..], b"render 1");
        // A render of at least 30 ms is held at least 300 ms after new data, then redone
        // (polled: a loaded machine makes the render, hence the hold, longer).
        assert_eq!(&scrape(2).await[..], b"render 1");
        let mut page = scrape(2).await;
        for _ in 0..100 {
            if &page[..] == b"render 2" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            page = scrape(2).await;
        }
        assert_eq!(&page[..], b"render 2");
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    async fn futures_join(
        handles: Vec<tokio::task::JoinHandle<axum::body::Bytes>>,
    ) -> Vec<axum::body::Bytes> {
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }

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
    fn over_long_label_values_from_old_rows_are_left_out() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let long = "x".repeat(MAX_LABEL_BYTES + 1);
        let snapshot = MetricsSnapshot {
            orgs: vec!["o".into()],
            agents: vec![("o".into(), long.clone(), at), ("o".into(), "a".into(), at)],
            tls_not_after: vec![("o".into(), long.clone(), at), ("o".into(), "t".into(), at)],
            ..MetricsSnapshot::default()
        };
        let text = render(&snapshot, &IngestMetrics::default());
        assert!(
            !text.contains(&long[..MAX_LABEL_BYTES]),
            "an over-long value was written"
        );
        assert!(text.contains(
            "vigie_tls_cert_not_after_timestamp_seconds{org=\"o\",target=\"t\"} 1767323045\n"
        ));
        assert!(text.contains("agent=\"a\""));
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
    fn checks_are_counted_per_organization_when_failing_and_per_sector_always() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let snapshot = MetricsSnapshot {
            orgs: vec!["o".into(), "p".into()],
            agents: vec![("o".into(), "a\"1".into(), at)],
            check_counts: vec![
                (
                    "o".into(),
                    "tls.connect".into(),
                    Status::Error,
                    Severity::High,
                    2,
                ),
                (
                    "o".into(),
                    "tls.connect".into(),
                    Status::Pass,
                    Severity::Info,
                    5,
                ),
                (
                    "o".into(),
                    "tls.cert.expired".into(),
                    Status::Fail,
                    Severity::Critical,
                    1,
                ),
                (
                    "o".into(),
                    "tls.cipher.list".into(),
                    Status::Info,
                    Severity::Info,
                    7,
                ),
                (
                    "p".into(),
                    "tls.connect".into(),
                    Status::Pass,
                    Severity::Info,
                    3,
                ),
                (
                    "p".into(),
                    "tls.connect".into(),
                    Status::Warn,
                    Severity::Low,
                    1,
                ),
            ],
            finding_counts: vec![
                ("o".into(), Status::Error, Severity::High, 2),
                ("o".into(), Status::Pass, Severity::Info, 5),
            ],
            tls_not_after: vec![],
            capability_levels: vec![("o".into(), "C05".into(), 0)],
            family: FamilyMetrics::default(),
        };
        let text = render(&snapshot, &IngestMetrics::default());
        for line in [
            "vigie_check_failing{org=\"o\",check=\"tls.connect\",status=\"error\",severity=\"high\"} 2\n",
            "vigie_check_failing{org=\"o\",check=\"tls.cert.expired\",status=\"fail\",severity=\"critical\"} 1\n",
            "vigie_check_findings{check=\"tls.connect\",status=\"pass\",severity=\"info\"} 8\n",
            "vigie_check_findings{check=\"tls.connect\",status=\"warn\",severity=\"low\"} 1\n",
            "vigie_check_findings{check=\"tls.cipher.list\",status=\"info\",severity=\"info\"} 7\n",
            "vigie_agent_last_report_timestamp_seconds{org=\"o\",agent=\"a\\\"1\"} 1767323045\n",
            "vigie_findings{org=\"o\",severity=\"high\",status=\"error\"} 2\n",
            "vigie_findings{org=\"o\",severity=\"info\",status=\"pass\"} 5\n",
            "vigie_capability_level{org=\"o\",capability=\"C05\"} 0\n",
            // Critical and high failures read 0 rather than vanish, for every organization.
            "vigie_findings{org=\"o\",severity=\"critical\",status=\"fail\"} 0\n",
            "vigie_findings{org=\"p\",severity=\"high\",status=\"fail\"} 0\n",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
        // Passing and warning checks are not per organization; no series a target.
        assert!(
            !text.contains("vigie_check_failing{org=\"o\",check=\"tls.connect\",status=\"pass\"")
        );
        assert!(!text.contains("vigie_check_failing{org=\"p\""));
        assert!(!text.contains("target=\"t\""));
        // Other empty combinations are left out.
        assert!(!text.contains("vigie_findings{org=\"o\",severity=\"low\",status=\"warn\"}"));
        assert!(!text.contains("vigie_findings{org=\"p\",severity=\"critical\",status=\"error\"}"));
    }

    /// The shape `vigie-loadgen` posts (5 agents an organization, 10 TLS endpoints an agent,
    /// 20 checks an endpoint, four status and severity pairs) at 5,000 agents, plus a
    /// certificate, a host and the capability levels for each: the page stays under 50,000
    /// series and 5 MiB (issue 18; it was 1,067,023 series and 110.8 MiB).
    #[test]
    fn a_sector_of_five_thousand_agents_stays_under_the_series_budget() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let pairs = [
            (Status::Fail, Severity::High),
            (Status::Warn, Severity::Medium),
            (Status::Info, Severity::Info),
            (Status::Pass, Severity::Info),
        ];
        let mut snapshot = MetricsSnapshot::default();
        for o in 0..1000 {
            let org = format!("org-{o:04}");
            snapshot.orgs.push(org.clone());
            for a in 0..5 {
                snapshot
                    .agents
                    .push((org.clone(), format!("agent-{o:04}-{a}"), at));
            }
            for check in vigie_model::Check::ALL.iter().take(20) {
                for (status, severity) in pairs {
                    snapshot.check_counts.push((
                        org.clone(),
                        check.id().to_owned(),
                        status,
                        severity,
                        12,
                    ));
                }
            }
            for (status, severity) in pairs {
                snapshot
                    .finding_counts
                    .push((org.clone(), status, severity, 250));
            }
            for c in 1..=18 {
                snapshot
                    .capability_levels
                    .push((org.clone(), format!("C{c:02}"), 2));
            }
        }
        let text = render(&snapshot, &IngestMetrics::default());
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        assert!(series < 50_000, "{series} series");
        assert!(text.len() < 5 * 1024 * 1024, "{} bytes", text.len());
        // 5 agents + 18 levels + 5 finding counts + 20 failing checks an organization.
        assert_eq!(series / 1000, 48, "{series} series");
    }

    #[test]
    fn family_gauges_are_written_with_their_labels() {
        use crate::family_metrics::{
            DmarcPolicy, ExposedService, HostPosture, ProbeFailures, ProtocolAccepted,
        };
        let snapshot = MetricsSnapshot {
            family: FamilyMetrics {
                protocols: ["w:443", "x:443", "y:443"]
                    .into_iter()
                    .flat_map(|target| {
                        [("tls1_0", target != "y:443"), ("sslv3", false)].map(
                            |(protocol, accepted)| ProtocolAccepted {
                                org: "o".into(),
                                target: target.into(),
                                protocol: protocol.into(),
                                accepted,
                            },
                        )
                    })
                    .collect(),
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
                failures: vec![ProbeFailures {
                    org: "o".into(),
                    family: "tls",
                    kind: vigie_model::FailureKind::Refused,
                    count: 2,
                }],
            },
            ..MetricsSnapshot::default()
        };
        let text = render(&snapshot, &IngestMetrics::default());
        for line in [
            "vigie_tls_protocol_accepted{org=\"o\",protocol=\"tls1_0\"} 2\n",
            "vigie_tls_protocol_accepted{org=\"o\",protocol=\"sslv3\"} 0\n",
            "vigie_email_dmarc_policy{org=\"o\",domain=\"o.test\"} 1\n",
            "vigie_exposed_service{org=\"o\",target=\"10.0.0.1:445\",port=\"445\",service=\"smb\",risk=\"critical\"} 1\n",
            "vigie_host_pending_security_updates{org=\"o\",host=\"h\"} 3\n",
            "vigie_probe_failures{org=\"o\",family=\"tls\",kind=\"refused\"} 2\n",
        ] {
            assert!(text.contains(line), "missing {line}");
        }
        // An unknown end-of-life state is no sample, not a 0.
        assert!(!text.contains("vigie_host_os_eol{"));
    }
}
