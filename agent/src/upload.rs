//! Delivery of spooled reports to the collector: `POST <url>/api/v1/reports`, oldest first,
//! with retries and exponential backoff with full jitter.
//!
//! What each answer does to the report:
//! - 2xx: delivered; the file is removed;
//! - no answer (connection refused, timeout, reset), 5xx, 429: kept; retried after a backoff
//!   delay (at least `Retry-After` when the collector sends one, at most `retry_max`);
//! - 401, 403 (the token), 409 `agent_mismatch` or `org_mismatch` (the token is for another
//!   agent or organization than the config says), 3xx (the URL): kept; this delivery round
//!   stops, since no report can pass until the operator fixes the configuration; the next
//!   round tries again;
//! - any other 4xx: the collector will never take this report; it is moved to `rejected/`
//!   with the collector's `{"error","detail"}` message, and the next report is sent.
//!
//! The token is never logged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::config::CollectorConfig;
use crate::outbox::{Outbox, OutboxError, Pending};
use crate::shutdown::Shutdown;

/// Why the uploader could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The token file could not be read, or is empty.
    #[error("cannot use the agent token file {path}{}: {reason}; put the token printed by `vigie-collector agent add` in it, alone on one line", line.map(|l| format!(" (key `collector.token_file`, line {l} of the config file)")).unwrap_or_default())]
    Token {
        path: PathBuf,
        line: Option<usize>,
        reason: String,
    },
    /// `collector.ca_file` could not be read or holds no certificate.
    #[error("cannot use the collector CA file {path} (key `collector.ca_file`): {reason}")]
    CaFile { path: PathBuf, reason: String },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// The collector's answer to one upload, as the delivery loop acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: stored.
    Accepted,
    /// Not now: no answer, 5xx or 429. `retry_after` when the collector asked for a delay.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Refused because of the agent's configuration (token, URL): keep, stop this round.
    Blocked { status: u16, message: String },
    /// Refused for good: move the report aside.
    Rejected { status: u16, message: String },
}

/// Posts reports to one collector with one token.
pub struct Uploader {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    authorization: HeaderValue,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("endpoint", &self.endpoint.as_str())
            .field("authorization", &"<redacted>")
            .finish()
    }
}

impl Uploader {
    /// Reads the token (warning when others may read it) and prepares the HTTP client.
    pub fn new(collector: &CollectorConfig) -> Result<Uploader, UploadError> {
        let token = read_token(&collector.token_file, collector.token_file_line)?;
        let mut builder = reqwest::Client::builder()
            .timeout(collector.timeout)
            .connect_timeout(collector.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigie-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &collector.ca_file {
            let ca_error = |reason: String| UploadError::CaFile {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ca_error(format!("not PEM certificates: {e}")))?;
            if certificates.is_empty() {
                return Err(ca_error(
                    "no -----BEGIN CERTIFICATE----- block found".to_owned(),
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder
            .build()
            .map_err(|e| UploadError::Client(e.to_string()))?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| UploadError::Token {
                path: collector.token_file.clone(),
                line: collector.token_file_line,
                reason: "the token holds characters that cannot go in an HTTP header".to_owned(),
            })?;
        authorization.set_sensitive(true);
        Ok(Uploader {
            client,
            endpoint: reports_endpoint(&collector.url),
            authorization,
        })
    }

    /// Where reports are posted.
    pub fn endpoint(&self) -> &reqwest::Url {
        &self.endpoint
    }

    /// Posts one report body (JSON, as spooled) and classifies the answer.
    pub async fn post(&self, body: Vec<u8>) -> Answer {
        let sent = self
            .client
            .post(self.endpoint.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("vigie-agent/", env!("CARGO_PKG_VERSION")),
            )
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Answer::Retry {
                    reason: describe_transport_error(&error),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        if status.is_success() {
            return Answer::Accepted;
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let message = error_message(response).await;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Answer::Retry {
                reason: format!("HTTP {}: {message}", status.as_u16()),
                retry_after,
            }
        } else if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            || !status.is_client_error()
            || token_mismatch(status, &message)
        {
            Answer::Blocked {
                status: status.as_u16(),
                message,
            }
        } else {
            Answer::Rejected {
                status: status.as_u16(),
                message,
            }
        }
    }
}

/// `<base>/api/v1/reports`, keeping any path prefix of the base URL.
pub fn reports_endpoint(base: &reqwest::Url) -> reqwest::Url {
    let mut url = base.clone();
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{path}/api/v1/reports"));
    url
}

fn read_token(path: &Path, line: Option<usize>) -> Result<String, UploadError> {
    let token_error = |reason: String| UploadError::Token {
        path: path.to_owned(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| token_error(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(token_error("the file is empty".to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode();
            if mode & 0o044 != 0 {
                tracing::warn!(file = %path.display(), mode = format!("{:o}", mode & 0o777), "the agent token file is readable by group or others; run `chmod 600` on it");
            }
        }
    }
    Ok(token.to_owned())
}

fn describe_transport_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The URL is ours (no credentials are allowed in it); the source chain says why.
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The collector's `{"error","detail"}` as one line, else the start of the body.
/// A 409 saying that the token is for another agent or organization than the config's
/// `[agent] id` or `org`: no report can pass until the operator fixes one or the other, so
/// the reports stay in the outbox rather than being moved aside one by one.
fn token_mismatch(status: StatusCode, message: &str) -> bool {
    status == StatusCode::CONFLICT
        && (message.starts_with("agent_mismatch:") || message.starts_with("org_mismatch:"))
}

async fn error_message(response: reqwest::Response) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        error: String,
        #[serde(default)]
        detail: Option<String>,
    }
    let body = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(ApiError {
            error,
            detail: Some(detail),
        }) if !detail.is_empty() => format!("{error}: {detail}"),
        Ok(ApiError { error, .. }) => error,
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.chars().take(200).collect();
            if text.trim().is_empty() {
                "(no body)".to_owned()
            } else {
                text.trim().to_owned()
            }
        }
    }
}

/// Exponential backoff with full jitter: the n-th delay is uniform in
/// `[0, min(max, initial × 2ⁿ)]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The cap of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The next delay, and the ceiling grows for the one after.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Reports the collector acknowledged (removed from the outbox).
    pub delivered: usize,
    /// Reports moved to `rejected/` (refused for good, or corrupt files).
    pub rejected: usize,
    /// Upload attempts made (including failed ones).
    pub attempts: usize,
    /// Reports still pending when the round ended.
    pub remaining: usize,
    /// The collector refused this agent (401, 403, a token for another agent): the round
    /// stopped on that answer, which was logged, not on a timeout.
    pub blocked: bool,
}

/// Sends pending reports, oldest first, until the outbox is empty, `until` passes, shutdown
/// is asked for, or the collector blocks the agent (token or URL). Reports are sent in
/// order: a report waiting for a retry holds back the newer ones.
pub async fn deliver_pending(
    outbox: &Outbox,
    uploader: &Uploader,
    backoff: &mut Backoff,
    until: Instant,
    shutdown: &Shutdown,
) -> Result<DeliveryReport, OutboxError> {
    let mut round = DeliveryReport::default();
    'files: while let Some(path) = outbox.pending()?.into_iter().next() {
        let (report_id, body) = match outbox.read(&path) {
            Pending::Report { report, body, .. } => (report.report_id, body),
            Pending::Corrupt { path, reason } => {
                tracing::error!(file = %path.display(), %reason, "moving an unreadable outbox file aside");
                outbox.reject(&path, &reason)?;
                round.rejected += 1;
                continue;
            }
        };
        loop {
            if shutdown.is_triggered() || Instant::now() >= until {
                break 'files;
            }
            round.attempts += 1;
            let answer = tokio::select! {
                biased;
                _ = shutdown.wait() => break 'files,
                _ = tokio::time::sleep_until(until) => break 'files,
                answer = uploader.post(body.clone()) => answer,
            };
            match answer {
                Answer::Accepted => {
                    outbox.remove(&path)?;
                    tracing::info!(%report_id, endpoint = %uploader.endpoint(), "report delivered");
                    round.delivered += 1;
                    backoff.reset();
                    continue 'files;
                }
                Answer::Rejected { status, message } => {
                    let reason =
                        format!("the collector refused the report with HTTP {status}: {message}");
                    let moved = outbox.reject(&path, &reason)?;
                    tracing::error!(%report_id, status, %message, file = %moved.display(), "the collector refused the report; moved aside, it will not be sent again");
                    round.rejected += 1;
                    continue 'files;
                }
                Answer::Blocked { status, message } => {
                    tracing::error!(%report_id, status, %message, endpoint = %uploader.endpoint(), "the collector refuses this agent; check collector.url and the token in collector.token_file; reports stay in the outbox");
                    round.blocked = true;
                    break 'files;
                }
                Answer::Retry {
                    reason,
                    retry_after,
                } => {
                    let mut delay = backoff.next_delay();
                    if let Some(asked) = retry_after {
                        delay = delay.max(asked.min(backoff.max));
                    }
                    tracing::warn!(%report_id, %reason, retry_in_ms = delay.as_millis() as u64, "collector unavailable; will retry");
                    let wake = (Instant::now() + delay).min(until);
                    tokio::select! {
                        biased;
                        _ = shutdown.wait() => break 'files,
                        _ = tokio::time::sleep_until(wake) => {}
                    }
                }
            }
        }
    }
    round.remaining = outbox.pending()?.len();
    Ok(round)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceilings_double_then_saturate_and_delays_stay_below_them() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut ceilings = Vec::new();
        for _ in 0..40 {
            let ceiling = backoff.ceiling();
            let delay = backoff.next_delay();
            assert!(delay <= ceiling, "{delay:?} > {ceiling:?}");
            ceilings.push(ceiling.as_millis());
        }
        assert_eq!(&ceilings[..6], &[100, 200, 400, 800, 1000, 1000]);
        assert_eq!(ceilings[39], 1000, "no overflow after many attempts");
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn full_jitter_spreads_delays() {
        let mut backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
        let delays: std::collections::HashSet<_> = (0..20).map(|_| backoff.next_delay()).collect();
        assert!(delays.len() > 1, "all 20 delays were equal");
    }

    #[test]
    fn the_endpoint_keeps_a_path_prefix() {
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        assert_eq!(
            reports_endpoint(&url("https://c.example.ca:8443")).as_str(),
            "https://c.example.ca:8443/api/v1/reports"
        );
        assert_eq!(
            reports_endpoint(&url("https://c.example.ca/vigie/")).as_str(),
            "https://c.example.ca/vigie/api/v1/reports"
        );
    }
}
