//! Shared by the collector's integration tests: a realistic report fixture built from the
//! model's types, a collector over a fresh SQLite file, and request helpers that drive the
//! router in process (no socket).

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod cli;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use uuid::Uuid;
use vigie_collector::{app, AppState, Store, TokenKind};
use vigie_model::{
    AgentInfo, CertificateInfo, ChainValidation, CheckId, Finding, Observations, Report, Severity,
    Status, Target, TargetKind, TlsHandshake, TlsObservation, TlsProbeResult, SCHEMA_V1,
};

pub const ORG: &str = "maple-health";
pub const OTHER_ORG: &str = "birch-school";
pub const WWW: &str = "www.maple-health.example:443";
pub const MAIL: &str = "mail.maple-health.example:587";
pub const DOMAIN: &str = "maple-health.example";

/// When the fixture's first scan finished.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 4).unwrap()
}

/// The leaf certificate's expiry of `www` in the fixture.
pub fn www_not_after() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 15, 12, 0, 0).unwrap()
}

fn finding(
    check: &str,
    target: &str,
    status: Status,
    severity: Severity,
    summary: &str,
    evidence: Value,
) -> Finding {
    Finding {
        check: CheckId::try_from(check.to_owned()).unwrap(),
        target: target.to_owned(),
        status,
        severity,
        summary: summary.to_owned(),
        remediation: None,
        evidence: evidence.as_object().cloned().unwrap_or_default(),
    }
}

fn certificate(subject: &str, issuer: &str, not_after: DateTime<Utc>) -> CertificateInfo {
    CertificateInfo {
        subject: format!("CN={subject}"),
        issuer: format!("CN={issuer}"),
        serial: "0a1b2c3d".to_owned(),
        not_before: not_after - Duration::days(90),
        not_after,
        subject_alt_names: vec![subject.to_owned()],
        self_signed: false,
        key_type: "EC".to_owned(),
        key_bits: Some(256),
        signature_algorithm: "ecdsa-with-SHA256".to_owned(),
        sha256: "ab".repeat(32),
        ca_issuers: Vec::new(),
        must_staple: false,
        sct_log_ids: Vec::new(),
    }
}

fn observation(target: &str, at: DateTime<Utc>, not_after: DateTime<Utc>) -> TlsObservation {
    let host = target.split(':').next().unwrap_or(target);
    TlsObservation {
        target: target.to_owned(),
        server_name: host.to_owned(),
        address: Some("192.0.2.10:443".to_owned()),
        observed_at: at,
        result: TlsProbeResult::Handshake(TlsHandshake {
            protocol: "TLSv1.3".to_owned(),
            cipher_suite: "TLS13_AES_256_GCM_SHA384".to_owned(),
            certificates: vec![
                certificate(host, "Example Issuing CA R3", not_after),
                certificate(
                    "Example Issuing CA R3",
                    "Example Root",
                    not_after + Duration::days(900),
                ),
            ],
            chain: ChainValidation {
                trusted: true,
                error: None,
                trust_store: "system+mozilla".to_owned(),
                public_root: Some(true),
            },
            hostname_matches: true,
            ocsp_stapled: Some(true),
            key_proof_unverified: None,
            ocsp_sct_log_ids: Vec::new(),
        }),
        enumeration: None,
    }
}

/// A realistic report of `org` whose scan finished at `finished_at`: two TLS endpoints and
/// a mail domain, with passes, a failure, a warning, an info and a check that could not run.
/// Targets are named after the org, so that [`WWW`], [`MAIL`] and [`DOMAIN`] are [`ORG`]'s.
/// `tls1_0` is the status of `tls.protocol.tls1_0` on `www`, the key tests change.
pub fn fixture_report(org: &str, finished_at: DateTime<Utc>, tls1_0: Status) -> Report {
    // Deterministic, so that the metrics snapshot and the tests' expectations are stable.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(
        format!("{org}/{}/{}", finished_at.to_rfc3339(), tls1_0.as_str()).as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let report_id = Uuid::from_bytes(bytes);
    let observed = finished_at - Duration::seconds(2);
    let www = format!("www.{org}.example:443");
    let mail = format!("mail.{org}.example:587");
    let domain = format!("{org}.example");
    let (www, mail, domain) = (www.as_str(), mail.as_str(), domain.as_str());
    Report {
        schema: SCHEMA_V1.to_owned(),
        report_id,
        agent: AgentInfo {
            id: format!("{org}-srv01"),
            version: "0.1.0".to_owned(),
            hostname: "srv01.internal".to_owned(),
        },
        org: org.to_owned(),
        started_at: finished_at - Duration::seconds(4),
        finished_at,
        targets: vec![
            Target {
                kind: TargetKind::Tls,
                target: www.to_owned(),
            },
            Target {
                kind: TargetKind::Tls,
                target: mail.to_owned(),
            },
            Target {
                kind: TargetKind::Email,
                target: domain.to_owned(),
            },
        ],
        findings: vec![
            finding(
                "tls.connect",
                www,
                Status::Pass,
                Severity::High,
                "TLS handshake completed",
                serde_json::json!({"address": "192.0.2.10:443"}),
            ),
            finding(
                "tls.protocol.tls1_0",
                www,
                tls1_0,
                Severity::Medium,
                if tls1_0 == Status::Fail {
                    "TLS 1.0 is accepted"
                } else {
                    "TLS 1.0 is refused"
                },
                serde_json::json!({"negotiated_cipher": "TLS_RSA_WITH_AES_128_CBC_SHA"}),
            ),
            finding(
                "tls.cert.expiring",
                www,
                Status::Warn,
                Severity::Medium,
                "The certificate expires in 54 days",
                serde_json::json!({"not_after": www_not_after().to_rfc3339()}),
            ),
            finding(
                "tls.cipher.list",
                www,
                Status::Info,
                Severity::Info,
                "3 cipher suites accepted",
                serde_json::json!({"TLSv1.3": ["TLS13_AES_256_GCM_SHA384"]}),
            ),
            finding(
                "tls.connect",
                mail,
                Status::Error,
                Severity::High,
                "Connection refused by 192.0.2.11:587",
                serde_json::json!({"stage": "connect"}),
            ),
            finding(
                "email.dmarc.policy",
                domain,
                Status::Fail,
                Severity::High,
                "DMARC policy is p=none",
                serde_json::json!({"record": "v=DMARC1; p=none"}),
            ),
        ],
        observations: Observations {
            tls: vec![
                observation(www, observed, www_not_after()),
                TlsObservation {
                    target: mail.to_owned(),
                    server_name: mail.split(':').next().unwrap_or(mail).to_owned(),
                    address: Some("192.0.2.11:587".to_owned()),
                    observed_at: observed,
                    result: TlsProbeResult::Failed {
                        stage: vigie_model::ProbeStage::Connect,
                        error: "connection refused".to_owned(),
                        kind: None,
                    },
                    enumeration: None,
                },
            ],
            ..Observations::default()
        },
        profile: Some("modern".to_owned()),
    }
}

/// JSON bytes of a report, as an agent sends them.
pub fn body_of(report: &Report) -> Vec<u8> {
    serde_json::to_vec(report).unwrap()
}

/// A collector over a fresh SQLite file, with an agent token for [`ORG`], one for
/// [`OTHER_ORG`] and a viewer token.
pub struct TestCollector {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub agent: String,
    pub other_agent: String,
    pub viewer: String,
    /// The PostgreSQL server of a [`Backend::Postgres`] collector; declared last, so that it
    /// stops after the store's connections are dropped.
    pub postgres: Option<vigie_tests::postgres::PostgresServer>,
}

/// Which store a [`TestCollector`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on a PostgreSQL server of its own, started for the test.
    Postgres,
}

impl TestCollector {
    pub async fn new() -> TestCollector {
        TestCollector::with_limit(vigie_collector::DEFAULT_MAX_BODY_BYTES).await
    }

    pub async fn with_limit(max_body_bytes: usize) -> TestCollector {
        TestCollector::on(Backend::Sqlite, max_body_bytes).await
    }

    /// A collector on `backend`, with the default body limit.
    pub async fn with_backend(backend: Backend) -> TestCollector {
        TestCollector::on(backend, vigie_collector::DEFAULT_MAX_BODY_BYTES).await
    }

    pub async fn on(backend: Backend, max_body_bytes: usize) -> TestCollector {
        let dir = tempfile::tempdir().unwrap();
        let (url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("vigie.db").display()),
                None,
            ),
            Backend::Postgres => {
                let server = vigie_tests::postgres::PostgresServer::start("127.0.71.1");
                (server.create_database("vigie"), Some(server))
            }
        };
        let store = Store::open(&url).await.unwrap();
        let agent = store
            .create_token(TokenKind::Agent, Some(ORG), &format!("{ORG}-srv01"))
            .await
            .unwrap();
        let other_agent = store
            .create_token(
                TokenKind::Agent,
                Some(OTHER_ORG),
                &format!("{OTHER_ORG}-srv01"),
            )
            .await
            .unwrap();
        let viewer = store
            .create_token(TokenKind::Viewer, None, "sector-lead")
            .await
            .unwrap();
        TestCollector {
            dir,
            state: AppState::new(store, max_body_bytes),
            agent,
            other_agent,
            viewer,
            postgres,
        }
    }

    pub fn store(&self) -> &Store {
        self.state.store()
    }

    /// Rows per table, to prove a refused request changed nothing.
    pub async fn rows(&self) -> Vec<(&'static str, u64)> {
        self.store().row_counts().await.unwrap()
    }

    pub async fn rows_of(&self, table: &str) -> u64 {
        self.rows()
            .await
            .into_iter()
            .find(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .unwrap()
    }

    /// Sends one request to the router; returns the status, the content type and the body.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, body.to_vec())
    }

    /// POSTs a report body with `Content-Type: application/json` and the given token.
    pub async fn post(&self, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        self.post_as(token, Some("application/json"), body).await
    }

    pub async fn post_as(
        &self,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post("/api/v1/reports");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let (status, _, body) = self.send(request.body(Body::from(body)).unwrap()).await;
        (status, json(&body))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, _, body) = self.send(request.body(Body::empty()).unwrap()).await;
        (status, json(&body))
    }

    /// The `/metrics` page, read with the viewer token (viewers may scrape).
    pub async fn metrics(&self) -> String {
        let (status, content_type, body) = self
            .send(
                Request::get("/metrics")
                    .header(header::AUTHORIZATION, format!("Bearer {}", self.viewer))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        String::from_utf8(body).unwrap()
    }
}

/// Parses a JSON body; a non-JSON body becomes a string value, so that assertions show it.
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Asserts the JSON error shape and its stable code.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "an error says why: {body}"
    );
}
